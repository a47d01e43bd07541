/**
 * The DICOM converter (src/ingest/dicom): on the shared pydicom fixtures its studies,
 * series and instances equal an independent reading with dcmjs; bad files are quarantined
 * with a reason; a synthetic population's DICOM output converts back to the generator's
 * ImagingStudies; random and damaged bytes never throw; every resource is valid FHIR R4 and
 * the imaging_instance view runs on a lake of the converted resources.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import dcmjs from 'dcmjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileContext, toParsedResource, withProvenance } from '../src/ingest/convert.js';
import type { ConvertContext, ConvertedRecord, FhirObject } from '../src/ingest/convert.js';
import { createDicomConverter, dicomConverter } from '../src/ingest/dicom/converter.js';
import {
  EXT_BASE,
  StudyBuilder,
  fhirDateTime,
  humanName,
  patientKey,
  patientResource,
} from '../src/ingest/dicom/map.js';
import { loadIntoLake } from '../src/lake/load.js';
import { LakeSession } from '../src/lake/session.js';
import { synthesize } from '../src/synth/index.js';
import { runView } from '../src/views/run.js';
import { validateView } from '../src/views/view-definition.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { FIXTURES_DIR, REPO_ROOT, makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const SAMPLES = path.join(FIXTURES_DIR, 'dicom-samples');

function walk(d: string): string[] {
  return readdirSync(d)
    .flatMap((e) => {
      const p = path.join(d, e);
      return statSync(p).isDirectory() ? walk(p) : [p];
    })
    .sort();
}

async function convert(files: readonly string[], ctx?: ConvertContext): Promise<ConvertedRecord[]> {
  const out: ConvertedRecord[] = [];
  for await (const r of dicomConverter.read(files, ctx ?? fileContext(createHash('sha256'))))
    out.push(r);
  return out;
}

function resources(recs: readonly ConvertedRecord[], type: string): FhirObject[] {
  return recs.flatMap((r) =>
    r.kind === 'fhir' && r.resource.resourceType === type ? [r.resource] : [],
  );
}

interface Inst {
  uid: string;
  sopClass: { code: string };
  number?: number;
  extension?: { url: string; valueDecimal?: number; valueString?: string }[];
}
interface Series {
  uid: string;
  number?: number;
  modality: { code: string };
  numberOfInstances: number;
  bodySite?: { code?: string };
  extension?: { url: string; valueDecimal?: number; valueString?: string }[];
  instance: Inst[];
}
type Study = FhirObject & {
  series: Series[];
  numberOfSeries: number;
  numberOfInstances: number;
  identifier: { system?: string; value: string }[];
  subject: { reference: string; identifier?: { value: string } };
  started?: string;
};

const studyUid = (s: Study): string =>
  s.identifier.find((i) => i.system === 'urn:dicom:uid')!.value.replace('urn:oid:', '');

/** dcmjs's reader up to Pixel Data (its options are missing from src/types/dcmjs.d.ts). */
type DcmjsDict = Parameters<typeof dcmjs.data.DicomMetaDictionary.naturalizeDataset>[0];
function readDcmjs(b: Buffer): { meta: Record<string, { Value?: unknown[] }>; dict: DcmjsDict } {
  const read = dcmjs.data.DicomMessage.readFile as unknown as (
    buf: ArrayBuffer,
    options: object,
  ) => { meta: Record<string, { Value?: unknown[] }>; dict: DcmjsDict };
  return read(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer, {
    untilTag: '7FE00010',
    includeUntilTagValue: false,
    ignoreErrors: true,
  });
}

/** An in-memory ConvertContext (fast-check runs). */
function memoryContext(files: Map<string, Buffer>): ConvertContext {
  return {
    async *chunks(f) {
      yield files.get(f)!;
    },
    head: (f, n) => Promise.resolve(files.get(f)!.subarray(0, n)),
    size: (f) => Promise.resolve(files.get(f)!.length),
  };
}

let validator: FhirR4Validator;
let tmp = '';
beforeAll(() => {
  validator = new FhirR4Validator();
  tmp = makeTempDir('ingest-dicom');
});
afterAll(() => removeDir(tmp));

function expectValid(recs: readonly ConvertedRecord[]): void {
  const errors = recs.flatMap((r) => (r.kind === 'fhir' ? validator.validate(r.resource) : []));
  expect(errors, formatErrors(errors)).toEqual([]);
  const patients = new Set(resources(recs, 'Patient').map((p) => `Patient/${p.id}`));
  for (const s of resources(recs, 'ImagingStudy') as Study[])
    expect(patients.has(s.subject.reference)).toBe(true);
  for (const r of recs)
    if (r.kind === 'fhir') expect(toParsedResource(r, 'dicom').kind).toBe('resource');
}

describe('sniff', () => {
  it('recognises Part 10, bare data sets (LE/BE, implicit/explicit), not text', () => {
    const part10 = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]);
    expect(dicomConverter.sniff('x', part10)).toBe(true);
    const explicitLe = Buffer.from([8, 0, 5, 0, 0x43, 0x53, 2, 0, 0x41, 0x20]);
    expect(dicomConverter.sniff('x', explicitLe)).toBe(true);
    const implicitLe = Buffer.from([8, 0, 5, 0, 10, 0, 0, 0, 0x41, 0x20]);
    expect(dicomConverter.sniff('x', implicitLe)).toBe(true);
    const explicitBe = Buffer.from([0, 8, 0, 5, 0x43, 0x53, 0, 2, 0x41, 0x20]);
    expect(dicomConverter.sniff('x', explicitBe)).toBe(true);
    for (const t of ['MSH|^~\\&|', 'STUDYID,USUBJID', '{"resourceType":"Patient"}', ''])
      expect(dicomConverter.sniff('x.dcm', Buffer.from(t))).toBe(false);
  });
});

describe.skipIf(!existsSync(SAMPLES))(
  'shared DICOM fixtures (../shared/fixtures/dicom-samples)',
  () => {
    let files: string[] = [];
    let recs: ConvertedRecord[] = [];
    beforeAll(async () => {
      files = walk(SAMPLES).filter((f) =>
        dicomConverter.sniff(f, readFileSync(f).subarray(0, 4096)),
      );
      recs = await convert(files);
    }, 30_000);

    it('sniffs every file but the READMEs', () => {
      const rest = walk(SAMPLES).filter((f) => !files.includes(f));
      expect(rest.map((f) => path.basename(f)).sort()).toEqual([
        'README',
        'README.txt',
        'README.txt',
      ]);
    });

    it('equals an independent dcmjs reading: studies, series, instances, modality, patient', () => {
      // dcmjs reads Part 10 files; the two bare data sets are listed by hand (README.txt:
      // no_meta.dcm is CT_small.dcm without meta, so it adds no instance; rtstruct.dcm is
      // one RTSTRUCT instance).
      const want = new Map<string, Map<string, { modality: string; sops: Set<string> }>>();
      const patientOf = new Map<string, string>();
      for (const f of files) {
        const base = path.basename(f);
        if (base === 'no_meta.dcm' || base === 'rtstruct.dcm' || base === 'MR_truncated.dcm')
          continue;
        const b = readFileSync(f);
        const m = readDcmjs(b);
        const d = dcmjs.data.DicomMetaDictionary.naturalizeDataset(m.dict) as Record<
          string,
          string
        >;
        if (d['StudyInstanceUID'] === undefined) continue; // DICOMDIR
        const st = want.get(d['StudyInstanceUID']) ?? new Map();
        want.set(d['StudyInstanceUID'], st);
        const se = st.get(d['SeriesInstanceUID']) ?? { modality: d['Modality'], sops: new Set() };
        st.set(d['SeriesInstanceUID'], se);
        se.sops.add(d['SOPInstanceUID']);
        if (!patientOf.has(d['StudyInstanceUID']))
          patientOf.set(d['StudyInstanceUID'], d['PatientID'] ?? '');
      }
      const studies = resources(recs, 'ImagingStudy') as Study[];
      const rt = studies.filter((s) => s.series.some((x) => x.modality.code === 'RTSTRUCT'));
      expect(rt).toHaveLength(1);
      const got = studies.filter((s) => s !== rt[0]);
      expect(got.map(studyUid).sort()).toEqual([...want.keys()].sort());
      for (const s of got) {
        const w = want.get(studyUid(s))!;
        expect(s.series.map((x) => x.uid).sort()).toEqual([...w.keys()].sort());
        expect(s.numberOfSeries).toBe(w.size);
        let n = 0;
        for (const se of s.series) {
          const ws = w.get(se.uid)!;
          expect(se.modality.code).toBe(ws.modality);
          expect(se.instance.map((i) => i.uid).sort()).toEqual([...ws.sops].sort());
          expect(se.numberOfInstances).toBe(ws.sops.size);
          n += ws.sops.size;
        }
        expect(s.numberOfInstances).toBe(n);
        expect(s.subject.identifier?.value ?? '').toBe(patientOf.get(studyUid(s)));
      }
    });

    it('reads each Part 10 file alone in its transfer syntax (as dcmjs reads the meta)', async () => {
      const seen = new Set<string>();
      for (const f of files) {
        const b = readFileSync(f);
        if (b.toString('latin1', 128, 132) !== 'DICM' || f.endsWith('MR_truncated.dcm')) continue;
        const m = readDcmjs(b);
        const d = dcmjs.data.DicomMetaDictionary.naturalizeDataset(m.dict) as Record<
          string,
          string
        >;
        const out = await convert([f]);
        if (d['StudyInstanceUID'] === undefined) {
          expect(out, f).toEqual([]); // DICOMDIR: skipped
          continue;
        }
        const s = resources(out, 'ImagingStudy') as Study[];
        expect(s, f).toHaveLength(1);
        const inst = s[0]!.series[0]!.instance[0]!;
        expect(inst.uid).toBe(d['SOPInstanceUID']);
        const ts = inst.extension?.find((e) => e.url === `${EXT_BASE}transfer-syntax-uid`);
        const want = String(m.meta['00020010']?.Value?.[0]).replace(/\0/g, '');
        expect(ts?.valueString, f).toBe(want);
        seen.add(want);
      }
      for (const uid of [
        '1.2.840.10008.1.2', // implicit LE
        '1.2.840.10008.1.2.1', // explicit LE
        '1.2.840.10008.1.2.1.99', // deflated
        '1.2.840.10008.1.2.2', // explicit BE
        '1.2.840.10008.1.2.4.50', // JPEG baseline
        '1.2.840.10008.1.2.4.80', // JPEG-LS
        '1.2.840.10008.1.2.4.90', // JPEG 2000 lossless
        '1.2.840.10008.1.2.5', // RLE
      ])
        expect(seen, uid).toContain(uid);
    }, 20_000);

    it('maps key attributes of CT_small.dcm as dcmjs reads them', () => {
      const f = files.find((x) => x.endsWith('pydicom/CT_small.dcm'))!;
      const b = readFileSync(f);
      const d = dcmjs.data.DicomMetaDictionary.naturalizeDataset(
        dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))
          .dict,
      ) as Record<string, unknown>;
      const s = (resources(recs, 'ImagingStudy') as Study[]).find(
        (x) => studyUid(x) === d['StudyInstanceUID'],
      )!;
      const ext = (name: string): unknown =>
        s.series[0]!.extension?.find((e) => e.url === `${EXT_BASE}${name}`);
      expect(ext('manufacturer')).toMatchObject({ valueString: d['Manufacturer'] });
      expect(ext('kvp')).toMatchObject({ valueDecimal: Number(d['KVP']) });
      expect(ext('slice-thickness')).toMatchObject({ valueDecimal: Number(d['SliceThickness']) });
      const date = String(d['StudyDate']);
      expect(s.started?.slice(0, 10)).toBe(
        `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}`,
      );
      // TimezoneOffsetFromUTC -0500 is in the file.
      expect(s.started).toMatch(/-05:00$/);
    });

    it('quarantines only MR_truncated.dcm, with a reason; skips the DICOMDIRs silently', () => {
      const q = recs.filter((r) => r.kind === 'quarantine');
      expect(q.map((r) => path.basename(r.source.file))).toEqual(['MR_truncated.dcm']);
      expect(q[0]).toMatchObject({ code: 'truncated' });
      expect(q[0]!.kind === 'quarantine' && q[0]!.reason).toMatch(/Pixel Data.*8192 bytes/);
    });

    it('emits valid FHIR R4 whose subjects resolve', () => expectValid(recs), 20_000);

    it('quarantines non-DICOM, empty and cut files with their reason', async () => {
      const dir = path.join(tmp, 'bad');
      mkdirSync(dir, { recursive: true });
      const ct = readFileSync(path.join(SAMPLES, 'pydicom/CT_small.dcm'));
      const bad = {
        'text.dcm': Buffer.from('hello, not DICOM at all'),
        'empty.dcm': Buffer.alloc(0),
        'cut-header.dcm': ct.subarray(0, 405),
        // Ends right after an element: well-formed, but without the UIDs an instance needs.
        'cut-at-element.dcm': ct.subarray(0, 400),
        'cut-pixels.dcm': ct.subarray(0, ct.length - 1000),
      };
      for (const [n, b] of Object.entries(bad)) writeFileSync(path.join(dir, n), b);
      const out = await convert(Object.keys(bad).map((n) => path.join(dir, n)));
      const codes = Object.fromEntries(
        out.map((r) => [path.basename(r.source.file), r.kind === 'quarantine' ? r.code : 'ok']),
      );
      expect(codes).toEqual({
        'text.dcm': 'malformed',
        'empty.dcm': 'malformed',
        'cut-header.dcm': 'truncated',
        'cut-at-element.dcm': 'missing-value',
        'cut-pixels.dcm': 'truncated',
      });
      for (const r of out) if (r.kind === 'quarantine') expect(r.reason).toContain(r.source.file);
    });

    it('never throws on random bytes, truncations or bit flips of a valid file', async () => {
      const ct = readFileSync(path.join(SAMPLES, 'pydicom/MR_small_implicit.dcm')).subarray(
        0,
        4000,
      );
      const damaged = fc.oneof(
        fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
        fc.integer({ min: 0, max: ct.length }).map((n) => ct.subarray(0, n)),
        fc
          .array(
            fc.tuple(fc.integer({ min: 0, max: ct.length - 1 }), fc.integer({ min: 0, max: 7 })),
            {
              minLength: 1,
              maxLength: 8,
            },
          )
          .map((flips) => {
            const b = Buffer.from(ct);
            for (const [i, bit] of flips) b[i]! ^= 1 << bit;
            return b;
          }),
      );
      await fc.assert(
        fc.asyncProperty(damaged, async (b) => {
          const ctx = memoryContext(new Map([['f.dcm', b]]));
          const out = await convert(['f.dcm'], ctx);
          for (const r of out) {
            expect(['fhir', 'quarantine']).toContain(r.kind);
            if (r.kind === 'fhir') expect(toParsedResource(r, 'dicom').kind).toBe('resource');
          }
        }),
        { numRuns: 300 },
      );
    }, 20_000);

    it('the imaging_instance view runs on a lake of the converted resources', async () => {
      const view = JSON.parse(
        readFileSync(path.join(REPO_ROOT, 'views/standard/imaging_instance.json'), 'utf8'),
      ) as unknown;
      expect(() => validateView(view)).not.toThrow();
      const nd = path.join(tmp, 'nd');
      mkdirSync(nd, { recursive: true });
      const lines = (type: string): string =>
        recs
          .flatMap((r) =>
            r.kind === 'fhir' && r.resource.resourceType === type
              ? [JSON.stringify(withProvenance(r.resource, 'dicom', r.source))]
              : [],
          )
          .join('\n') + '\n';
      writeFileSync(path.join(nd, 'ImagingStudy.ndjson'), lines('ImagingStudy'));
      writeFileSync(path.join(nd, 'Patient.ndjson'), lines('Patient'));
      const lake = path.join(tmp, 'lake');
      await loadIntoLake(lake, [nd]);
      const session = await LakeSession.open(lake);
      try {
        const r = await runView(view, { engine: session.engine, columnsOf: session.columnsOf });
        const studies = resources(recs, 'ImagingStudy') as Study[];
        expect(r.rows.length).toBe(studies.reduce((n, s) => n + s.numberOfInstances, 0));
        const ct = r.rows.filter(
          (x) => x['manufacturer'] === 'GE MEDICAL SYSTEMS' && x['modality'] === 'CT',
        );
        expect(ct.length).toBeGreaterThan(0);
        expect(ct.map((x) => Number(x['kvp']))).toContain(120);
        expect(new Set(r.rows.map((x) => x['transfer_syntax'])).size).toBeGreaterThan(5);
        expect(r.rows.every((x) => typeof x['patient_id'] === 'string')).toBe(true);
      } finally {
        await session.close();
      }
    }, 30_000);
  },
);

describe('synthetic population round trip (synthesize formats: dicom)', () => {
  let out = '';
  let recs: ConvertedRecord[] = [];
  beforeAll(async () => {
    out = path.join(tmp, 'synth');
    await synthesize({ patients: 40, seed: 7, outDir: out, formats: ['dicom'] });
    const dicomDir = path.join(out, 'dicom');
    const files = existsSync(dicomDir) ? walk(dicomDir) : [];
    // Each file twice: the same instance read twice is one instance.
    recs = await convert([...files, ...files.slice(0, 5)].sort());
  }, 60_000);

  it('gives back the generator’s ImagingStudies: UIDs, counts, modalities, numbers, body sites', () => {
    const truth = readFileSync(path.join(out, 'ImagingStudy.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Study);
    expect(truth.length).toBeGreaterThan(3);
    const got = new Map((resources(recs, 'ImagingStudy') as Study[]).map((s) => [studyUid(s), s]));
    expect([...got.keys()].sort()).toEqual(truth.map(studyUid).sort());
    expect(recs.filter((r) => r.kind === 'quarantine')).toEqual([]);
    for (const t of truth) {
      const g = got.get(studyUid(t))!;
      expect(g.numberOfSeries).toBe(t.numberOfSeries);
      expect(g.numberOfInstances).toBe(t.numberOfInstances);
      expect(g.started?.slice(0, 10)).toBe(t.started?.slice(0, 10));
      // The synthetic PatientID is the FHIR Patient id.
      expect(g.subject.identifier?.value).toBe(t.subject.reference.replace('Patient/', ''));
      const acc = t.identifier.find((i) => i.system !== 'urn:dicom:uid')?.value;
      expect(g.identifier.find((i) => i.system !== 'urn:dicom:uid')?.value).toBe(acc);
      const ts = [...t.series].sort((a, b) => a.uid.localeCompare(b.uid));
      const gs = [...g.series].sort((a, b) => a.uid.localeCompare(b.uid));
      expect(gs.map((s) => s.uid)).toEqual(ts.map((s) => s.uid));
      ts.forEach((s, i) => {
        const x = gs[i]!;
        expect(x.modality.code).toBe(s.modality.code);
        expect(x.number).toBe(s.number);
        expect(x.bodySite?.code).toBe(s.bodySite?.code);
        expect(x.instance.map((j) => [j.uid, j.sopClass.code, j.number]).sort()).toEqual(
          s.instance.map((j) => [j.uid, j.sopClass.code, j.number]).sort(),
        );
      });
    }
  });

  it('one Patient per patient, valid FHIR R4', () => {
    const pats = resources(recs, 'Patient');
    expect(new Set(pats.map((p) => p.id)).size).toBe(pats.length);
    for (const p of pats) expect(p['meta']).toBeUndefined();
    expectValid(recs);
  }, 20_000);

  it('bounded memory: with few open instances allowed, studies leave early and come out the same', async () => {
    const files = walk(path.join(out, 'dicom')).sort();
    const got: ConvertedRecord[] = [];
    for await (const r of createDicomConverter({ maxOpenInstances: 20 }).read(
      files,
      fileContext(createHash('sha256')),
    ))
      got.push(r);
    expect(got.filter((r) => r.kind === 'quarantine')).toEqual([]);
    // A study written early and reopened is written again; the lake keeps the last version.
    const last = (rs: readonly ConvertedRecord[]): string[] => {
      const m = new Map<string, string>();
      for (const x of resources(rs, 'ImagingStudy') as Study[])
        m.set(studyUid(x), JSON.stringify(x));
      return [...m.values()].sort();
    };
    expect(last(got)).toEqual(last(recs));
    // Studies were written while files were still being read: one before the last Patient.
    const firstStudy = got.findIndex(
      (r) => r.kind === 'fhir' && r.resource.resourceType === 'ImagingStudy',
    );
    const lastPatient = got.findLastIndex(
      (r) => r.kind === 'fhir' && r.resource.resourceType === 'Patient',
    );
    expect(firstStudy).toBeLessThan(lastPatient);
  }, 30_000);

  it('a study whose files come back after it was written early is quarantined with the reason, not lost silently', async () => {
    const files = walk(path.join(out, 'dicom')).sort();
    const studyOf = (f: string): string => path.basename(path.dirname(path.dirname(f)));
    // Copy one study's first file far away (a folder sorting after everything else).
    const first = files[0]!;
    const late = path.join(out, 'dicom', 'zzz-late', path.basename(first));
    mkdirSync(path.dirname(late), { recursive: true });
    writeFileSync(late, readFileSync(first));
    try {
      const all = [...files, late].sort();
      const got: ConvertedRecord[] = [];
      for await (const r of createDicomConverter({ maxOpenInstances: 20 }).read(
        all,
        fileContext(createHash('sha256')),
      ))
        got.push(r);
      const q = got.filter((r) => r.kind === 'quarantine');
      expect(q).toHaveLength(1);
      expect(q[0]!.source.file).toBe(late);
      expect(q[0]!.reason).toContain(studyOf(first));
      expect(q[0]!.reason).toMatch(/already written/);
    } finally {
      removeDir(path.dirname(late));
    }
  }, 30_000);
});

describe('value mapping', () => {
  it('DA/TM/offset → FHIR date or dateTime (a time only with a zone)', () => {
    expect(fhirDateTime('20040119', '072730', '-0500')).toBe('2004-01-19T07:27:30-05:00');
    expect(fhirDateTime('20040119', '0727', '+0100')).toBe('2004-01-19T07:27:00+01:00');
    expect(fhirDateTime('20040119', '072730.123', undefined)).toBe('2004-01-19');
    expect(fhirDateTime('20040119', '072730.123', undefined, '+0000')).toBe(
      '2004-01-19T07:27:30.123+00:00',
    );
    expect(fhirDateTime('2004.01.19', '07:27:30', '+0000')).toBe('2004-01-19T07:27:30+00:00');
    expect(fhirDateTime('20040231', '0727', '+0000')).toBeUndefined();
    expect(fhirDateTime('2004', undefined, undefined)).toBeUndefined();
  });

  it('PN → HumanName (first non-empty component group)', () => {
    expect(humanName('Doe^Jane^Q^Dr^III')).toEqual({
      text: 'Dr Jane Q Doe III',
      family: 'Doe',
      given: ['Jane', 'Q'],
      prefix: ['Dr'],
      suffix: ['III'],
    });
    expect(humanName('=Yamada^Tarou')).toMatchObject({ family: 'Yamada', given: ['Tarou'] });
    expect(humanName('^^^')).toBeUndefined();
  });

  it('a study without PatientID gets a patient id derived from its StudyInstanceUID', () => {
    const h = { transferSyntax: '1.2.840.10008.1.2.1', pixelData: true };
    const b = new StudyBuilder(h, '1.2.3');
    expect(b.patientId).toBe(patientKey(h, '1.2.3'));
    expect(b.patientId).not.toBe(patientKey(h, '1.2.4'));
    expect(b.add(h, '1.2.3.1', '1.2.3.1.1', '1.2.840.10008.5.1.4.1.1.2', 'CT')).toBe(true);
    expect(b.add(h, '1.2.3.1', '1.2.3.1.1', '1.2.840.10008.5.1.4.1.1.2', 'CT')).toBe(false);
    const s = b.build();
    expect(s['numberOfInstances']).toBe(1);
    expect(validator.validate(s)).toEqual([]);
    expect(validator.validate(patientResource(h, b.patientId))).toEqual([]);
  });
});
