/**
 * The `dicom` converter: DICOM files (headers only) → FHIR R4 ImagingStudy + Patient.
 * A group is the DICOM files of one folder tree; their instances are gathered into one
 * ImagingStudy per StudyInstanceUID, emitted when the whole group is read. See
 * docs/ingest-dicom.md for the mapping, the quarantine reasons and the limits.
 */
import { quarantined } from '../convert.js';
import type {
  ConvertContext,
  ConvertedRecord,
  ConvertedSource,
  FhirObject,
  FormatConverter,
} from '../convert.js';
import { QuarantineCode } from '../types.js';
import { StudyBuilder, patientResource } from './map.js';
import { looksLikeDicom, readHeader } from './parse.js';

/** A UID usable as a FHIR `id` (ImagingStudy.series.uid, .instance.uid are ids). */
const UID = /^[A-Za-z0-9\-.]{1,64}$/;

export interface DicomConverterOptions {
  /**
   * Timezone offset (±HHMM) assumed for DICOM dates/times of files without Timezone Offset
   * From UTC (0008,0201). Default none: such studies keep only the date (FHIR dateTimes
   * with a time need a zone).
   */
  readonly assumeTimezoneOffset?: string;
}

/** A DICOM converter with options; `dicomConverter` is the default one. */
export function createDicomConverter(options: DicomConverterOptions = {}): FormatConverter {
  return {
    format: 'dicom',
    sniff(_name: string, head: Buffer): boolean {
      try {
        return looksLikeDicom(head);
      } catch {
        return false;
      }
    },
    read(files: readonly string[], ctx: ConvertContext): AsyncIterable<ConvertedRecord> {
      return readGroup(files, ctx, options);
    },
  };
}

export const dicomConverter: FormatConverter = createDicomConverter();

interface PatientEntry {
  readonly resource: FhirObject;
  readonly source: ConvertedSource;
}

async function* readGroup(
  files: readonly string[],
  ctx: ConvertContext,
  options: DicomConverterOptions,
): AsyncIterable<ConvertedRecord> {
  const studies = new Map<string, { builder: StudyBuilder; source: ConvertedSource }>();
  const patients = new Map<string, PatientEntry>();
  for (const file of files) {
    const pos = { file, line: 1 };
    const res = await readHeader(file, ctx);
    if (res.kind === 'dicomdir') continue; // its referenced files are in the group anyway
    if (res.kind === 'bad') {
      yield quarantined(res.code, `${file}: ${res.reason}`, pos, '');
      continue;
    }
    const h = res.header;
    const missing = (
      [
        ['StudyInstanceUID (0020,000D)', h.studyUid],
        ['SeriesInstanceUID (0020,000E)', h.seriesUid],
        ['SOPInstanceUID (0008,0018)', h.sopInstanceUid],
        ['SOPClassUID (0008,0016)', h.sopClassUid],
        ['Modality (0008,0060)', h.modality],
      ] as const
    )
      .filter(([, v]) => v === undefined)
      .map(([n]) => n);
    const text = JSON.stringify(h);
    if (missing.length > 0) {
      yield quarantined(
        QuarantineCode.MissingValue,
        `${file}: DICOM instance without ${missing.join(', ')}, needed for ImagingStudy (R4 series.uid, instance.uid/sopClass, series.modality are required)` +
          (h.pixelData ? '.' : '; the data set ends without Pixel Data: the file may be cut.'),
        pos,
        text,
      );
      continue;
    }
    const studyUid = h.studyUid!;
    const seriesUid = h.seriesUid!;
    const sopUid = h.sopInstanceUid!;
    const bad = (
      [
        ['StudyInstanceUID', studyUid],
        ['SeriesInstanceUID', seriesUid],
        ['SOPInstanceUID', sopUid],
      ] as const
    ).find(([, v]) => !UID.test(v));
    if (bad !== undefined) {
      yield quarantined(
        QuarantineCode.InvalidValue,
        `${file}: ${bad[0]} ${JSON.stringify(bad[1])} is not a UID (PS3.5 §9: digits and dots, at most 64 characters).`,
        pos,
        text,
      );
      continue;
    }
    const source: ConvertedSource = { file, line: 1, record: sopUid };
    let study = studies.get(studyUid);
    if (study === undefined) {
      study = {
        builder: new StudyBuilder(h, studyUid, options.assumeTimezoneOffset),
        source,
      };
      studies.set(studyUid, study);
    }
    // A second file of the same SOP instance adds nothing (one instance per SOP UID).
    study.builder.add(h, seriesUid, sopUid, h.sopClassUid!, h.modality!);
    const pid = study.builder.patientId;
    if (!patients.has(pid)) patients.set(pid, { resource: patientResource(h, pid), source });
  }
  for (const p of patients.values()) yield { kind: 'fhir', resource: p.resource, source: p.source };
  for (const s of studies.values())
    yield { kind: 'fhir', resource: s.builder.build(), source: s.source };
}
