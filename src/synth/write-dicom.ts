/**
 * The `dicom` format: one small DICOM Part 10 file per ImagingStudy instance, written by
 * hand (128-byte preamble, "DICM", File Meta Information, data set in Explicit VR Little
 * Endian). Study, series and SOP instance UIDs, numbers and counts are those of the
 * ImagingStudy; patient attributes come from the Patient; technical attributes (kVp, slice
 * thickness, CTDIvol, ...) are derived deterministically from the UIDs. Pixel data is a
 * 16x16 MONOCHROME2 16-bit pattern, so files stay about 1.5 KB.
 *
 * Layout: <dir>/<PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BODY_PART_BY_SNOMED } from './imaging.js';
import type { FormatWriter, FormatWriterFactory, PatientOutput } from './parts.js';
import type { JsonResource } from './shared-resources.js';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** This writer's Implementation Class UID (a fixed 2.25 UUID-derived UID). */
export const IMPLEMENTATION_CLASS_UID = '2.25.181337164380463981286930858935374961413';
export const IMPLEMENTATION_VERSION = 'MEDLAKE_SYNTH_1';
const ROWS = 16;
const COLUMNS = 16;

/** Fictional equipment per modality (these are synthetic images). */
export const EQUIPMENT: Readonly<Record<string, { manufacturer: string; model: string }>> = {
  CR: { manufacturer: 'Medlake Synthetic Imaging', model: 'SYN-CR 100' },
  DX: { manufacturer: 'Medlake Synthetic Imaging', model: 'SYN-DR 300' },
  CT: { manufacturer: 'Medlake Synthetic Imaging', model: 'SYN-CT 64' },
  MR: { manufacturer: 'Medlake Synthetic Imaging', model: 'SYN-MR 1.5T' },
  US: { manufacturer: 'Medlake Synthetic Imaging', model: 'SYN-US 5' },
  MG: { manufacturer: 'Medlake Synthetic Imaging', model: 'SYN-MG 2D' },
};

/** VRs with a 2-byte reserved field and a 4-byte length in explicit VR. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT']);

interface Element {
  readonly tag: number;
  readonly vr: string;
  readonly value: Buffer;
}

/** A string value padded to even length (UI with NUL, others with a space). */
function str(tag: number, vr: string, value: string): Element {
  let b = Buffer.from(value, vr === 'PN' || vr === 'LO' || vr === 'SH' ? 'utf8' : 'latin1');
  if (b.length % 2 === 1) b = Buffer.concat([b, Buffer.from([vr === 'UI' ? 0 : 0x20])]);
  return { tag, vr, value: b };
}

function us(tag: number, value: number): Element {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return { tag, vr: 'US', value: b };
}

function fd(tag: number, value: number): Element {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(value);
  return { tag, vr: 'FD', value: b };
}

/** A DS value: at most 16 characters. */
function ds(tag: number, ...values: number[]): Element {
  return str(tag, 'DS', values.map((v) => String(Math.round(v * 1000) / 1000)).join('\\'));
}

function encode(elements: readonly Element[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of [...elements].sort((a, b) => a.tag - b.tag)) {
    const long = LONG_VRS.has(e.vr);
    const head = Buffer.alloc(long ? 12 : 8);
    head.writeUInt16LE(e.tag >>> 16, 0);
    head.writeUInt16LE(e.tag & 0xffff, 2);
    head.write(e.vr, 4, 'latin1');
    if (long) head.writeUInt32LE(e.value.length, 8);
    else head.writeUInt16LE(e.value.length, 6);
    parts.push(head, e.value);
  }
  return Buffer.concat(parts);
}

/** FNV-1a hash of a string: deterministic technical values from UIDs. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A value in [lo, hi] picked by the hash of `key`, rounded to `step`. */
function pickIn(key: string, lo: number, hi: number, step: number): number {
  const steps = Math.round((hi - lo) / step);
  return Math.round((lo + (hash(key) % (steps + 1)) * step) * 1000) / 1000;
}

/** DICOM DA / TM from a FHIR dateTime in UTC (YYYY-MM-DDThh:mm:ssZ). */
function dicomDate(dt: string): string {
  return dt.slice(0, 10).replace(/-/g, '');
}
function dicomTime(dt: string): string {
  return dt.slice(11, 19).replace(/:/g, '');
}

/** PN from FHIR HumanName parts: Family^Given^^Prefix. */
function personName(family: string, given: string, prefix = ''): string {
  return prefix === '' ? `${family}^${given}` : `${family}^${given}^^${prefix}`;
}

/** A deterministic 16x16 pattern: a bright disc on a gradient, shifted per instance. */
function pixels(instanceNumber: number, seed: number): Buffer {
  const b = Buffer.alloc(ROWS * COLUMNS * 2);
  for (let y = 0; y < ROWS; y++)
    for (let x = 0; x < COLUMNS; x++) {
      const dx = x - 7.5;
      const dy = y - 7.5 - ((instanceNumber % 5) - 2) * 0.5;
      const inside = dx * dx + dy * dy < 36;
      const v = (inside ? 2000 : 200) + ((x * 37 + y * 11 + seed) % 256) + instanceNumber * 3;
      b.writeUInt16LE(Math.min(4095, v), (y * COLUMNS + x) * 2);
    }
  return b;
}

interface Coding {
  system?: string;
  code?: string;
  display?: string;
}
interface StudyInstance {
  uid: string;
  sopClass: Coding;
  number: number;
}
interface StudySeries {
  uid: string;
  number: number;
  modality: Coding;
  description?: string;
  numberOfInstances: number;
  bodySite?: Coding;
  started?: string;
  instance: StudyInstance[];
}

/** One DICOM Part 10 file for an instance of an ImagingStudy. */
export function dicomFile(
  study: JsonResource,
  series: StudySeries,
  instance: StudyInstance,
  patient: JsonResource,
  referrer: string,
  institution: string,
): Buffer {
  const sopClass = String(instance.sopClass.code).replace(/^urn:oid:/, '');
  const studyUid = String(
    (study['identifier'] as { system?: string; value: string }[])
      .find((i) => i.system === 'urn:dicom:uid')
      ?.value.replace(/^urn:oid:/, ''),
  );
  const accession =
    (study['identifier'] as { type?: unknown; value: string }[]).find((i) => i.type !== undefined)
      ?.value ?? '';
  const modality = String(series.modality.code);
  const started = String(series.started ?? study['started']);
  const name = (patient['name'] as { family: string; given: string[] }[])[0];
  const gender = String(patient['gender']);
  const equipment = EQUIPMENT[modality] ?? {
    manufacturer: 'Medlake Synthetic Imaging',
    model: 'SYN',
  };
  const seed = hash(instance.uid) & 0xff;
  const crossSectional = modality === 'CT' || modality === 'MR';
  const description = String(
    (study['procedureCode'] as { text?: string }[] | undefined)?.[0]?.text ?? '',
  );
  const ds0: Element[] = [
    str(0x00080005, 'CS', 'ISO_IR 192'),
    str(0x00080008, 'CS', modality === 'CT' ? 'ORIGINAL\\PRIMARY\\AXIAL' : 'ORIGINAL\\PRIMARY'),
    str(0x00080016, 'UI', sopClass),
    str(0x00080018, 'UI', instance.uid),
    str(0x00080020, 'DA', dicomDate(String(study['started']))),
    str(0x00080021, 'DA', dicomDate(started)),
    str(0x00080030, 'TM', dicomTime(String(study['started']))),
    str(0x00080031, 'TM', dicomTime(started)),
    str(0x00080050, 'SH', accession),
    str(0x00080060, 'CS', modality),
    str(0x00080070, 'LO', equipment.manufacturer),
    str(0x00080080, 'LO', institution.slice(0, 64)),
    str(0x00080090, 'PN', referrer),
    str(0x00081030, 'LO', description.slice(0, 64)),
    str(0x0008103e, 'LO', (series.description ?? '').slice(0, 64)),
    str(0x00081090, 'LO', equipment.model),
    str(0x00100010, 'PN', name === undefined ? '' : personName(name.family, name.given[0] ?? '')),
    str(0x00100020, 'LO', patient.id),
    // The assigning authority of the HL7 v2 writer's PID-3, so both formats name one patient.
    str(0x00100021, 'LO', 'MEDLAKE_SYNTH'),
    str(0x00100030, 'DA', String(patient['birthDate'] ?? '').replace(/-/g, '')),
    str(0x00100040, 'CS', gender === 'male' ? 'M' : gender === 'female' ? 'F' : 'O'),
    str(0x00180015, 'CS', BODY_PART_BY_SNOMED[String(series.bodySite?.code)] ?? ''),
    str(0x0020000d, 'UI', studyUid),
    str(0x0020000e, 'UI', series.uid),
    str(0x00200010, 'SH', accession.slice(-8)),
    str(0x00200011, 'IS', String(series.number)),
    str(0x00200013, 'IS', String(instance.number)),
    us(0x00280002, 1),
    str(0x00280004, 'CS', 'MONOCHROME2'),
    us(0x00280010, ROWS),
    us(0x00280011, COLUMNS),
    us(0x00280100, 16),
    us(0x00280101, 12),
    us(0x00280102, 11),
    us(0x00280103, 0),
    { tag: 0x7fe00010, vr: 'OW', value: pixels(instance.number, seed) },
  ];
  // Technical attributes analyses query: kVp for X-ray and CT, slice geometry for CT/MR.
  // Spacing and positions are those of a full-size acquisition (512 / 256 matrix); the
  // stored pixels are a 16x16 thumbnail of it.
  const bodyPart = BODY_PART_BY_SNOMED[String(series.bodySite?.code)] ?? '';
  if (modality === 'CR' || modality === 'DX')
    ds0.push(
      ds(
        0x00180060,
        bodyPart === 'CHEST' ? pickIn(series.uid, 100, 125, 5) : pickIn(series.uid, 70, 85, 5),
      ),
    );
  if (modality === 'MG') ds0.push(ds(0x00180060, pickIn(series.uid, 26, 32, 1)));
  if (crossSectional) {
    const thickness =
      modality === 'CT'
        ? /bone|2\.5/i.test(series.description ?? '')
          ? 2.5
          : 5
        : pickIn(series.uid, 4, 6, 1);
    const spacing = modality === 'CT' ? 0.488 : 0.9375;
    const half = (modality === 'CT' ? 512 : 256) * spacing * 0.5;
    const step = (instance.number - 1) * thickness;
    const sagittal = /^sag/i.test(series.description ?? '');
    ds0.push(
      ds(0x00180050, thickness),
      sagittal ? ds(0x00200032, step - 60, -half, half) : ds(0x00200032, -half, -half, step - 60),
      sagittal ? ds(0x00200037, 0, 1, 0, 0, 0, -1) : ds(0x00200037, 1, 0, 0, 0, 1, 0),
      ds(0x00201041, step - 60),
      ds(0x00280030, spacing, spacing),
    );
  }
  if (modality === 'CT')
    ds0.push(
      ds(0x00180060, 120),
      fd(0x00189345, pickIn(studyUid, 40, 65, 0.1)),
      ds(0x00281050, 40),
      ds(0x00281051, 80),
      ds(0x00281052, -1024),
      ds(0x00281053, 1),
    );
  const body = encode(ds0);
  const metaRest = encode([
    { tag: 0x00020001, vr: 'OB', value: Buffer.from([0, 1]) },
    str(0x00020002, 'UI', sopClass),
    str(0x00020003, 'UI', instance.uid),
    str(0x00020010, 'UI', EXPLICIT_VR_LITTLE_ENDIAN),
    str(0x00020012, 'UI', IMPLEMENTATION_CLASS_UID),
    str(0x00020013, 'SH', IMPLEMENTATION_VERSION),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaRest.length);
  const meta = encode([{ tag: 0x00020000, vr: 'UL', value: groupLength }]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), meta, metaRest, body]);
}

export const dicomWriter: FormatWriterFactory = (dir: string): FormatWriter => {
  const rel = basename(dir);
  const referrers = new Map<string, string>();
  const institutions = new Map<string, string>();
  let files = 0;
  let bytes = 0;
  let stopped = false;
  return {
    format: 'dicom',
    shared(resources: readonly JsonResource[]): void {
      // Only the shared sites (fixed size): practitioner names and organisation names.
      for (const r of resources) {
        if (r.resourceType === 'Practitioner') {
          const n = (r['name'] as { family: string; given: string[]; prefix?: string[] }[])[0];
          if (n !== undefined)
            referrers.set(
              `Practitioner/${r.id}`,
              personName(n.family, n.given[0] ?? '', n.prefix?.[0] ?? ''),
            );
        } else if (r.resourceType === 'Organization')
          institutions.set(`Organization/${r.id}`, String(r['name']));
      }
    },
    async patient(out: PatientOutput): Promise<void> {
      const patient = out.resources.find((r) => r.resourceType === 'Patient');
      if (patient === undefined || stopped) return;
      // The patient's files are written in parallel (small files: latency-bound).
      const writes: Promise<void>[] = [];
      for (const study of out.resources) {
        if (study.resourceType !== 'ImagingStudy') continue;
        const studyUid = String(
          (study['identifier'] as { system?: string; value: string }[])
            .find((i) => i.system === 'urn:dicom:uid')
            ?.value.replace(/^urn:oid:/, ''),
        );
        const referrer =
          referrers.get(String((study['referrer'] as { reference?: string })?.reference)) ?? '';
        const assigner = (study['identifier'] as { assigner?: { reference: string } }[]).find(
          (i) => i.assigner !== undefined,
        )?.assigner?.reference;
        const institution = institutions.get(String(assigner)) ?? '';
        for (const series of study['series'] as StudySeries[]) {
          const seriesDir = join(dir, patient.id, studyUid, series.uid);
          await mkdir(seriesDir, { recursive: true });
          for (const instance of series.instance) {
            const file = dicomFile(study, series, instance, patient, referrer, institution);
            const w = writeFile(join(seriesDir, `${instance.uid}.dcm`), file);
            // Handled now (Promise.all below rethrows), so no unhandled rejection meanwhile.
            w.catch(() => undefined);
            writes.push(w);
            files++;
            bytes += file.length;
          }
        }
      }
      await Promise.all(writes);
    },
    close(): Promise<{ files: string[]; bytes: number }> {
      // One folder per patient with files: listing every file would grow with the output.
      return Promise.resolve({ files: files === 0 ? [] : [`${rel}/`], bytes });
    },
    destroy(): void {
      stopped = true;
    },
  };
};
