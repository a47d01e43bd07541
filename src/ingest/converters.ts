/**
 * The converters of non-FHIR source formats, in sniffing order (the first whose sniff
 * claims a file reads it). See convert.ts for the contract.
 */
import type { FormatConverter } from './convert.js';
import { syntheaCsvConverter } from './synthea-csv/converter.js';

export const CONVERTERS: readonly FormatConverter[] = [syntheaCsvConverter];
