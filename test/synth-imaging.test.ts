/**
 * The `imaging` part and the `dicom` writer: ImagingStudy / radiology DiagnosticReport are
 * valid R4 with resolving references, are ordered only for plausible reasons inside their
 * encounters, truth equals a recount of the output, every DICOM file parses (dicom-parser,
 * and dcmjs as a second reader) with UIDs and counts equal to the ImagingStudy, and the
 * output is byte-identical for the same seed.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import dcmjs from 'dcmjs';
import * as dicomParser from 'dicom-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../src/synth/index.js';
import {
  IMAGING_RATES,
  IMAGING_REASONS,
  MODALITY_INFO,
  STUDIES,
  STUDY_KINDS,
  imagingPart,
} from '../src/synth/imaging.js';
import type { Modality } from '../src/synth/imaging.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, dicomWriter } from '../src/synth/write-dicom.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const PATIENTS = 400;
// Seed 7 has hospital and clinic sites (so both CR and DX chest X-rays occur) and, with 400
// patients, every kind of study, including a hip X-ray.
const SEED = 7;

type Json = Record<string, unknown>;
interface Series {
  uid: string;
  number: number;
  modality: { code: string };
  numberOfInstances: number;
  bodySite: { code: string };
  instance: { uid: string; sopClass: { code: string }; number: number }[];
}

let dirA = '';
let dirB = '';
let all: Json[] = [];
let studies: Json[] = [];
let reports: Json[] = [];
const byRef = new Map<string, Json>();

function readNdjson(dir: string): Json[] {
  const out: Json[] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.ndjson'))
    .sort())
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n'))
      if (line !== '') out.push(JSON.parse(line) as Json);
  return out;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir).sort()) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Hash of every file under dir, by relative path. */
function treeHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of walk(dir)) {
    h.update(path.relative(dir, f));
    h.update(readFileSync(f));
  }
  return h.digest('hex');
}

const studyUid = (s: Json): string =>
  String(
    (s['identifier'] as { system: string; value: string }[]).find(
      (i) => i.system === 'urn:dicom:uid',
    )?.value,
  ).replace(/^urn:oid:/, '');

const run = (outDir: string): ReturnType<typeof synthesize> =>
  synthesize({
    patients: PATIENTS,
    seed: SEED,
    outDir,
    parts: [imagingPart],
    formats: ['dicom'],
    formatWriters: { dicom: dicomWriter },
  });

beforeAll(async () => {
  dirA = makeTempDir('synth-imaging-a');
  dirB = makeTempDir('synth-imaging-b');
  await run(dirA);
  await run(dirB);
  all = readNdjson(dirA);
  for (const r of all) byRef.set(`${String(r['resourceType'])}/${String(r['id'])}`, r);
  studies = all.filter((r) => r['resourceType'] === 'ImagingStudy');
  reports = all.filter(
    (r) =>
      r['resourceType'] === 'DiagnosticReport' &&
      (r['imagingStudy'] as unknown[] | undefined) !== undefined,
  );
});

afterAll(() => {
  removeDir(dirA);
  removeDir(dirB);
  all = [];
});

describe('imaging part: FHIR', () => {
  it('emits studies of every modality and one report per study', () => {
    expect(studies.length).toBeGreaterThan(100);
    expect(reports).toHaveLength(studies.length);
    const modalities = new Set(studies.map((s) => (s['modality'] as { code: string }[])[0]?.code));
    for (const m of Object.keys(MODALITY_INFO)) expect(modalities, m).toContain(m);
    const procedures = new Set(
      studies.map(
        (s) => (s['procedureCode'] as { coding: { code: string }[] }[])[0]?.coding[0]?.code,
      ),
    );
    for (const k of STUDY_KINDS) expect(procedures, k).toContain(STUDIES[k].procedure.code);
  });

  it('ImagingStudy and DiagnosticReport are valid R4 and their references resolve', () => {
    const validator = new FhirR4Validator();
    const errors = [...studies, ...reports].flatMap((r) => validator.validate(r));
    expect(formatErrors(errors, 20)).toBe('');
    const dangling: string[] = [];
    const refs = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(refs);
      else if (v !== null && typeof v === 'object')
        for (const [k, x] of Object.entries(v as Json))
          if (k === 'reference' && typeof x === 'string') {
            if (!byRef.has(x)) dangling.push(x);
          } else refs(x);
    };
    [...studies, ...reports].forEach(refs);
    expect(dangling).toEqual([]);
    // A broken study is caught (so the check above can fail).
    const bad = { ...structuredClone(studies[0] as Json), status: 'done', numberOfSeries: 'x' };
    expect(validator.validate(bad).length).toBeGreaterThan(0);
  });

  it('counts, UIDs and SOP classes are consistent inside each study', () => {
    const uids = new Set<string>();
    for (const s of studies) {
      const series = s['series'] as Series[];
      expect(s['numberOfSeries']).toBe(series.length);
      expect(s['numberOfInstances']).toBe(series.reduce((n, x) => n + x.numberOfInstances, 0));
      const all = [studyUid(s), ...series.map((x) => x.uid)];
      for (const x of series) {
        expect(x.instance).toHaveLength(x.numberOfInstances);
        const m = MODALITY_INFO[x.modality.code as Modality];
        for (const i of x.instance) {
          expect(i.sopClass.code).toBe(`urn:oid:${m.sopClass}`);
          all.push(i.uid);
        }
      }
      for (const u of all) {
        expect(u).toMatch(/^2\.25\.(0|[1-9]\d*)$/);
        expect(u.length).toBeLessThanOrEqual(64);
        expect(uids.has(u), u).toBe(false);
        uids.add(u);
      }
    }
  });

  it('studies are ordered for plausible reasons, inside their encounters', () => {
    const plausible: Record<string, string[]> = {
      '399208008': ['pneumonia', 'influenza', 'heartFailure', 'copd', 'myocardialInfarction'].map(
        snomedOf,
      ),
      '303653007': [snomedOf('stroke')],
      '816077007': [snomedOf('stroke')],
      '783628002': [snomedOf('hipFracture')],
      '306005': [snomedOf('ckd')],
    };
    for (const s of studies) {
      const proc = (s['procedureCode'] as { coding: { code: string }[] }[])[0]?.coding[0]
        ?.code as string;
      const enc = byRef.get((s['encounter'] as { reference: string }).reference) as Json;
      const reason = (s['reasonCode'] as { coding?: { code: string }[] }[])[0]?.coding?.[0]?.code;
      const patient = byRef.get((s['subject'] as { reference: string }).reference) as Json;
      expect((enc['subject'] as { reference: string }).reference).toBe(
        `Patient/${String(patient['id'])}`,
      );
      if (proc === '24623002') {
        // Screening mammography: women 50-74 at a wellness (check-up) visit.
        expect(patient['gender']).toBe('female');
        const age = ageAt(String(patient['birthDate']), String(s['started']));
        expect(age).toBeGreaterThanOrEqual(50);
        expect(age).toBeLessThanOrEqual(74);
        expect(enc['reasonCode']).toBeUndefined();
      } else {
        expect(plausible[proc], proc).toContain(reason);
        const encReason = (enc['reasonCode'] as { coding: { code: string }[] }[])[0]?.coding[0]
          ?.code;
        expect(encReason).toBe(reason);
      }
      const period = enc['period'] as { start: string; end?: string };
      const t = Date.parse(String(s['started']));
      expect(t).toBeGreaterThanOrEqual(Date.parse(period.start));
      if (period.end !== undefined) expect(t).toBeLessThanOrEqual(Date.parse(period.end));
      expect(s['location']).toEqual((enc['location'] as { location: unknown }[])[0]?.location);
    }
  });

  it('reports carry a narrative consistent with the study', () => {
    for (const r of reports) {
      const s = byRef.get((r['imagingStudy'] as { reference: string }[])[0]?.reference ?? '');
      expect(s).toBeDefined();
      const study = s as Json;
      expect(r['effectiveDateTime']).toBe(study['started']);
      // Nothing after the window (default end 2025-12-31) or after the patient's death.
      const patient = byRef.get((study['subject'] as { reference: string }).reference) as Json;
      const limit = Math.min(
        Date.parse('2026-01-01T00:00:00Z'),
        patient['deceasedDateTime'] === undefined
          ? Infinity
          : Date.parse(String(patient['deceasedDateTime'])),
      );
      expect(Date.parse(String(r['issued']))).toBeLessThanOrEqual(limit);
      expect(Date.parse(String(r['issued']))).toBeGreaterThanOrEqual(
        Date.parse(String(study['started'])),
      );
      expect(r['encounter']).toEqual(study['encounter']);
      const form = (r['presentedForm'] as { contentType: string; data: string }[])[0];
      expect(form?.contentType).toBe('text/plain');
      const text = Buffer.from(form?.data ?? '', 'base64').toString('utf8');
      expect(text).toMatch(/FINDINGS: .+\nIMPRESSION: .+\n$/);
      expect(text).toContain(`IMPRESSION: ${String(r['conclusion'])}`);
      const proc = (study['procedureCode'] as { coding: { code: string }[] }[])[0]?.coding[0]?.code;
      if (proc === '783628002') expect(text).toMatch(/femoral neck fracture/);
      if (proc === '24623002') expect(text).toMatch(/BI-RADS [12]/);
      const reason = (study['reasonCode'] as { coding?: { code: string }[] }[])[0]?.coding?.[0]
        ?.code;
      if (reason === snomedOf('pneumonia')) expect(text).toMatch(/consistent with pneumonia/);
    }
  });

  it('truth counters equal a recount of the output', () => {
    const truth = JSON.parse(readFileSync(path.join(dirA, 'truth.json'), 'utf8')) as {
      parts: { imaging: { realised: Json } };
    };
    const t = truth.parts.imaging.realised as {
      studies: number;
      series: number;
      instances: number;
      reports: number;
      byModality: Record<string, number>;
      byReason: Record<string, { eligible: number; studies: number }>;
    };
    const series = studies.flatMap((s) => s['series'] as Series[]);
    expect(t.studies).toBe(studies.length);
    expect(t.reports).toBe(reports.length);
    expect(t.series).toBe(series.length);
    expect(t.instances).toBe(series.reduce((n, x) => n + x.instance.length, 0));
    const byModality: Record<string, number> = {};
    for (const s of studies) {
      const m = (s['modality'] as { code: string }[])[0]?.code as string;
      byModality[m] = (byModality[m] ?? 0) + 1;
    }
    for (const m of Object.keys(MODALITY_INFO)) expect(t.byModality[m], m).toBe(byModality[m]);
    const byReason: Record<string, number> = {};
    for (const s of studies) {
      const code = (s['reasonCode'] as { coding?: { code: string }[] }[])[0]?.coding?.[0]?.code;
      const key =
        code === undefined
          ? 'screening'
          : (IMAGING_REASONS.find((k) => k !== 'screening' && snomedOf(k) === code) as string);
      byReason[key] = (byReason[key] ?? 0) + 1;
    }
    for (const k of IMAGING_REASONS) {
      expect(t.byReason[k]?.studies ?? 0, k).toBe(byReason[k] ?? 0);
      // New condition events in the output bound the eligible count from above.
      if (k !== 'screening') {
        const onsets = all.filter(
          (r) =>
            r['resourceType'] === 'Condition' &&
            (r['code'] as { coding: { code: string }[] }).coding[0]?.code === snomedOf(k) &&
            r['recordedDate'] === r['onsetDateTime'],
        ).length;
        expect(t.byReason[k]?.eligible ?? 0, k).toBe(onsets);
      }
    }
    // Realised rates near the parameters (loose bounds: few events in 400 patients).
    const rate = (k: string): number =>
      (t.byReason[k]?.studies ?? 0) / Math.max(1, t.byReason[k]?.eligible ?? 0);
    expect(rate('pneumonia')).toBeGreaterThan(IMAGING_RATES.pneumonia.chestXray - 0.15);
    // Biennial screening taken up with p: a share p / (1 + p) of eligible visits, about 0.43.
    const p = IMAGING_RATES.screening.mammographyIfNoneLastVisit;
    expect(Math.abs(rate('screening') - p / (1 + p))).toBeLessThan(0.08);
  });
});

describe('dicom writer', () => {
  it('writes one parseable Part 10 file per instance, UIDs and counts equal to FHIR', () => {
    const root = path.join(dirA, 'dicom');
    const files = walk(root);
    const expected = new Map<string, { study: Json; series: Series; number: number }>();
    for (const s of studies)
      for (const x of s['series'] as Series[])
        for (const i of x.instance) expected.set(i.uid, { study: s, series: x, number: i.number });
    expect(files).toHaveLength(expected.size);
    const seenStudies = new Set<string>();
    const seenSeries = new Set<string>();
    for (const f of files) {
      const bytes = readFileSync(f);
      expect(bytes.subarray(128, 132).toString('latin1')).toBe('DICM');
      const d = dicomParser.parseDicom(new Uint8Array(bytes));
      const sop = d.string('x00080018') as string;
      const e = expected.get(sop);
      expect(e, sop).toBeDefined();
      if (e === undefined) continue;
      const { study, series, number } = e;
      const patientId = (study['subject'] as { reference: string }).reference.slice(8);
      expect(path.relative(root, f)).toBe(
        path.join(patientId, studyUid(study), series.uid, `${sop}.dcm`),
      );
      expect(d.string('x00020010')).toBe(EXPLICIT_VR_LITTLE_ENDIAN);
      expect(d.string('x00020003')).toBe(sop);
      expect(d.string('x00020002')).toBe(d.string('x00080016'));
      expect(`urn:oid:${String(d.string('x00080016'))}`).toBe(
        series.instance.find((i) => i.uid === sop)?.sopClass.code,
      );
      expect(d.string('x0020000d')).toBe(studyUid(study));
      expect(d.string('x0020000e')).toBe(series.uid);
      expect(d.intString('x00200011')).toBe(series.number);
      expect(d.intString('x00200013')).toBe(number);
      expect(d.string('x00080060')).toBe(series.modality.code);
      expect(d.string('x00100020')).toBe(patientId);
      const patient = byRef.get(`Patient/${patientId}`) as Json;
      expect(d.string('x00100030')).toBe(String(patient['birthDate']).replace(/-/g, ''));
      expect(d.string('x00100040')).toBe(patient['gender'] === 'male' ? 'M' : 'F');
      const name = (patient['name'] as { family: string; given: string[] }[])[0];
      expect(d.string('x00100010')).toBe(`${String(name?.family)}^${String(name?.given[0])}`);
      const acsn = (study['identifier'] as { type?: unknown; value: string }[]).find(
        (i) => i.type !== undefined,
      )?.value;
      expect(d.string('x00080050')).toBe(acsn);
      expect(d.string('x00080020')).toBe(String(study['started']).slice(0, 10).replace(/-/g, ''));
      expect(d.string('x00080090')).toMatch(/^[^^]+\^[^^]+\^\^Dr\.$/);
      expect(d.string('x00180015')).toBeTruthy();
      expect(d.uint16('x00280010')).toBe(16);
      expect(d.uint16('x00280011')).toBe(16);
      expect(d.elements['x7fe00010']?.length).toBe(16 * 16 * 2);
      const m = series.modality.code;
      if (m === 'CR' || m === 'DX' || m === 'CT' || m === 'MG')
        expect(d.floatString('x00180060')).toBeGreaterThan(0);
      if (m === 'CT' || m === 'MR') {
        expect(d.floatString('x00180050')).toBeGreaterThan(0);
        expect(d.floatString('x00280030')).toBeGreaterThan(0);
      }
      if (m === 'CT') expect(d.double('x00189345')).toBeGreaterThan(0);
      seenStudies.add(studyUid(study));
      seenSeries.add(series.uid);
    }
    expect(seenStudies.size).toBe(studies.length);
    expect(seenSeries.size).toBe(
      studies.reduce((n, s) => n + (s['series'] as unknown[]).length, 0),
    );
  });

  it('dcmjs reads the same UIDs (an independent reader)', () => {
    const root = path.join(dirA, 'dicom');
    const perModality = new Map<string, string>();
    for (const f of walk(root)) {
      const d = dicomParser.parseDicom(new Uint8Array(readFileSync(f)));
      const m = d.string('x00080060') as string;
      if (!perModality.has(m)) perModality.set(m, f);
    }
    expect([...perModality.keys()].sort()).toEqual(Object.keys(MODALITY_INFO).sort());
    for (const f of perModality.values()) {
      const b = readFileSync(f);
      const msg = dcmjs.data.DicomMessage.readFile(
        b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength),
      );
      const n = dcmjs.data.DicomMetaDictionary.naturalizeDataset(msg.dict);
      const p = dicomParser.parseDicom(new Uint8Array(b));
      expect(n['StudyInstanceUID']).toBe(p.string('x0020000d'));
      expect(n['SeriesInstanceUID']).toBe(p.string('x0020000e'));
      expect(n['SOPInstanceUID']).toBe(p.string('x00080018'));
      expect(n['PatientID']).toBe(p.string('x00100020'));
      expect(n['Rows']).toBe(16);
      expect(msg.meta['00020010']?.Value?.[0]).toBe(EXPLICIT_VR_LITTLE_ENDIAN);
    }
  });

  it('is deterministic: the same seed gives the same bytes', () => {
    expect(treeHash(path.join(dirA, 'dicom'))).toBe(treeHash(path.join(dirB, 'dicom')));
    for (const f of ['ImagingStudy.ndjson', 'DiagnosticReport.ndjson', 'truth.json'])
      expect(readFileSync(path.join(dirA, f)).equals(readFileSync(path.join(dirB, f))), f).toBe(
        true,
      );
  });
});

function snomedOf(key: string): string {
  const codes: Record<string, string> = {
    pneumonia: '233604007',
    influenza: '6142004',
    heartFailure: '84114007',
    copd: '13645005',
    myocardialInfarction: '22298006',
    stroke: '230690007',
    hipFracture: '5913000',
    ckd: '709044004',
  };
  return codes[key] as string;
}

function ageAt(birthDate: string, when: string): number {
  const b = new Date(`${birthDate}T00:00:00Z`);
  const d = new Date(when);
  let age = d.getUTCFullYear() - b.getUTCFullYear();
  if (
    d.getUTCMonth() < b.getUTCMonth() ||
    (d.getUTCMonth() === b.getUTCMonth() && d.getUTCDate() < b.getUTCDate())
  )
    age--;
  return age;
}
