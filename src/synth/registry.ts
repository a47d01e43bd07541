/**
 * The parts and output formats `medlake synth` runs by default. Parts run in this order
 * (claims last: they bill what the others produced).
 */
import { claimsPart } from './claims.js';
import { imagingPart } from './imaging.js';
import { immunizationsPart } from './immunizations.js';
import type { FormatWriterFactory, SynthPartFactory } from './parts.js';
import { proceduresPart } from './procedures.js';
import { trialPart } from './trial.js';
import { fhirBundleWriter } from './write-bundle.js';
import { dicomWriter } from './write-dicom.js';
import { hl7v2Writer } from './write-hl7v2.js';
import { sdtmWriter } from './write-sdtm.js';
import { syntheaCsvWriter } from './write-synthea-csv.js';

export const SYNTH_PARTS: readonly SynthPartFactory[] = [
  proceduresPart,
  immunizationsPart,
  imagingPart,
  trialPart,
  claimsPart,
];

export const SYNTH_FORMAT_WRITERS: Readonly<Record<string, FormatWriterFactory>> = {
  'fhir-bundle': fhirBundleWriter,
  hl7v2: hl7v2Writer,
  dicom: dicomWriter,
  sdtm: sdtmWriter,
  'synthea-csv': syntheaCsvWriter,
};
