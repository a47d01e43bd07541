/**
 * The parts and output formats `medlake synth` runs by default. Parts run in this order
 * (claims last: they bill what the others produced).
 */
import { immunizationsPart } from './immunizations.js';
import type { FormatWriterFactory, SynthPartFactory } from './parts.js';
import { proceduresPart } from './procedures.js';

export const SYNTH_PARTS: readonly SynthPartFactory[] = [proceduresPart, immunizationsPart];

export const SYNTH_FORMAT_WRITERS: Readonly<Record<string, FormatWriterFactory>> = {};
