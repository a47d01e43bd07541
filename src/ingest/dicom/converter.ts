/**
 * The `dicom` converter: DICOM files (headers only) → FHIR R4 ImagingStudy + Patient.
 * A group is the DICOM files of one folder tree, in path order; their instances are gathered
 * into one ImagingStudy per StudyInstanceUID, emitted at the end of the group, or earlier
 * when the open studies hold more than `maxOpenInstances` instances: then the least recently
 * touched studies whose folder the reading has left are emitted. Files under one folder are
 * contiguous in path order, so such a study rarely has files still to come; when it does (its
 * series in sibling folders), it is reopened from the recently written ones and written again,
 * complete, and the lake keeps the last version. Memory thus stays bounded (about twice
 * `maxOpenInstances` instances) for any tree laid out by patient, study or series folders.
 * See docs/ingest-dicom.md for the mapping, the quarantine reasons and the limits.
 */
import path from 'node:path';
import { quarantined } from '../convert.js';
import type {
  ConvertContext,
  ConvertedRecord,
  ConvertedSource,
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
  /**
   * Instances the open studies may hold before the least recently touched studies whose
   * folder has been left are emitted (default 100,000: about 120 MB).
   */
  readonly maxOpenInstances?: number;
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

/** The deepest folder holding both `a` and `b` (folders, absolute). */
function commonFolder(a: string, b: string): string {
  if (a === b) return a;
  const x = a.split(path.sep);
  const y = b.split(path.sep);
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return x.slice(0, i).join(path.sep) || path.sep;
}

function isUnder(dir: string, folder: string): boolean {
  return dir === folder || dir.startsWith(folder.endsWith(path.sep) ? folder : folder + path.sep);
}

async function* readGroup(
  files: readonly string[],
  ctx: ConvertContext,
  options: DicomConverterOptions,
): AsyncIterable<ConvertedRecord> {
  const cap = options.maxOpenInstances ?? 100_000;
  type Study = { builder: StudyBuilder; source: ConvertedSource; folder: string; files: number };
  /** Open studies, least recently touched first (a touch moves a study to the end). */
  const studies = new Map<string, Study>();
  let open = 0;
  /**
   * Studies written early, kept (up to `cap` instances) so that a study whose files go on in
   * a sibling folder (series folders) is reopened and written again, complete: the lake keeps
   * the last version written.
   */
  const written = new Map<string, Study>();
  let kept = 0;
  /** Studies written early and no longer kept, with their folder (named if one recurs). */
  const dropped = new Map<string, string>();
  const patients = new Set<string>();
  for (const file of files) {
    const pos = { file, line: 1 };
    const dir = path.dirname(file);
    if (open > cap) {
      for (const [uid, s] of studies) {
        if (open <= cap / 2) break;
        if (isUnder(dir, s.folder)) continue;
        yield { kind: 'fhir', resource: s.builder.build(), source: s.source };
        studies.delete(uid);
        open -= s.files;
        written.set(uid, s);
        kept += s.files;
      }
      for (const [uid, s] of written) {
        // The study written last stays reopenable whatever its size.
        if (kept <= cap || written.size === 1) break;
        written.delete(uid);
        kept -= s.files;
        dropped.set(uid, s.folder);
      }
    }
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
    const gone = dropped.get(studyUid);
    if (gone !== undefined) {
      yield quarantined(
        QuarantineCode.InvalidValue,
        `${file}: instance of study ${studyUid}, which was already written from the files under ` +
          `${gone} (more than maxOpenInstances instances of other studies lie between them in ` +
          'path order). Load this file together with those (e.g. move it next to them).',
        pos,
        text,
      );
      continue;
    }
    let study = studies.get(studyUid);
    const reopened = study === undefined ? written.get(studyUid) : undefined;
    if (reopened !== undefined) {
      written.delete(studyUid);
      kept -= reopened.files;
      open += reopened.files;
      study = reopened;
    }
    if (study === undefined) {
      study = {
        builder: new StudyBuilder(h, studyUid, options.assumeTimezoneOffset),
        source,
        folder: dir,
        files: 0,
      };
    } else {
      study.folder = commonFolder(study.folder, dir);
      studies.delete(studyUid);
    }
    studies.set(studyUid, study);
    study.files++;
    open++;
    // A second file of the same SOP instance adds nothing (one instance per SOP UID).
    study.builder.add(h, seriesUid, sopUid, h.sopClassUid!, h.modality!);
    const pid = study.builder.patientId;
    if (!patients.has(pid)) {
      patients.add(pid);
      yield { kind: 'fhir', resource: patientResource(h, pid), source };
    }
  }
  for (const s of studies.values())
    yield { kind: 'fhir', resource: s.builder.build(), source: s.source };
}
