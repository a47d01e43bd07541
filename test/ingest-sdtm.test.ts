/**
 * The CDISC SDTM converter (src/ingest/sdtm): round trip of the generator's SDTM output
 * (XPT and CSV) against the FHIR it was derived from, counts per domain recounted from the
 * CSV text, XPT = CSV, FHIR R4 validity and reference resolution, SUPPQUAL / SV / CM / MH on
 * a hand-written study, and malformed input (truncated, bad header, bad floats, ragged rows,
 * bad dates; fast-check: never throws, every row becomes a resource or a quarantine).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../src/synth/index.js';
import { trialPart } from '../src/synth/trial.js';
import { sdtmWriter } from '../src/synth/write-sdtm.js';
import { encodeIbmFloat, xptHeader, xptObservation, xptTrailer } from '../src/synth/xpt.js';
import type { XptDataset } from '../src/synth/xpt.js';
import { fileContext, toParsedResource } from '../src/ingest/convert.js';
import type { ConvertContext, ConvertedRecord, FhirObject } from '../src/ingest/convert.js';
import type { QuarantinedRecord } from '../src/ingest/types.js';
import {
  createSdtmConverter,
  sdtmConverter,
  sdtmDatasets,
  sdtmRows,
} from '../src/ingest/sdtm/converter.js';
import { readIbmFloat } from '../src/ingest/sdtm/xpt-read.js';
import { fhirDateTime } from '../src/ingest/sdtm/map.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

const PATIENTS = 1500;
const SEED = 7;

let tmp = '';
let sdtmDir = '';
let generated: Json[] = [];
let fromXpt: ConvertedRecord[] = [];
let fromCsv: ConvertedRecord[] = [];
let validator: FhirR4Validator;

const ctx = (): ConvertContext => fileContext(createHash('sha256'));
const filesOf = (dir: string, ext: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .map((f) => path.join(dir, f))
    .sort();

async function collect(
  files: readonly string[],
  c: ConvertContext = ctx(),
): Promise<ConvertedRecord[]> {
  const out: ConvertedRecord[] = [];
  for await (const r of sdtmConverter.read(files, c)) out.push(r);
  return out;
}
const resources = (rs: readonly ConvertedRecord[], type?: string): FhirObject[] =>
  rs.flatMap((r) =>
    r.kind === 'fhir' && (type === undefined || r.resource.resourceType === type)
      ? [r.resource]
      : [],
  );
const problems = (rs: readonly ConvertedRecord[]): QuarantinedRecord[] =>
  rs.filter((r): r is QuarantinedRecord => r.kind === 'quarantine');
const ofType = (rs: readonly Json[], type: string): Json[] =>
  rs.filter((r) => r['resourceType'] === type);
const refId = (ref: unknown): string =>
  String((ref as Json | undefined)?.['reference'] ?? '').replace(/^.*\//, '');
const codings = (cc: unknown): Json[] =>
  ((cc as Json | undefined)?.['coding'] as Json[] | undefined) ?? [];
const code = (cc: unknown, system: string): string | undefined =>
  codings(cc).find((c) => c['system'] === system)?.['code'] as string | undefined;

/** The CSV rows of a generated dataset, read independently of the converter. */
function csvRows(name: string): Record<string, string>[] {
  return parseCsv(readFileSync(path.join(sdtmDir, `${name}.csv`)), { columns: true }) as Record<
    string,
    string
  >[];
}

beforeAll(async () => {
  tmp = makeTempDir('ingest-sdtm');
  await synthesize({
    patients: PATIENTS,
    seed: SEED,
    outDir: tmp,
    parts: [trialPart],
    formats: ['sdtm'],
    formatWriters: { sdtm: sdtmWriter },
  });
  sdtmDir = path.join(tmp, 'sdtm');
  for (const f of readdirSync(tmp).filter((x) => x.endsWith('.ndjson')))
    for (const line of readFileSync(path.join(tmp, f), 'utf8').split('\n'))
      if (line !== '' && (f === 'Patient.ndjson' || line.includes('"MEDLAKE-SYN-001"')))
        generated.push(JSON.parse(line) as Json);
  fromXpt = await collect(filesOf(sdtmDir, '.xpt'));
  fromCsv = await collect(filesOf(sdtmDir, '.csv'));
  validator = new FhirR4Validator();
}, 60_000);

afterAll(() => {
  removeDir(tmp);
  generated = [];
  fromXpt = [];
  fromCsv = [];
});

describe('SDTM round trip of the generator output', () => {
  it('XPT and CSV of the same data give the same resources and the same quarantine', () => {
    const key = (rs: ConvertedRecord[]): string[] =>
      rs.map((r) => (r.kind === 'fhir' ? JSON.stringify(r.resource) : `${r.code}`)).sort();
    expect(resources(fromXpt).length).toBeGreaterThan(100);
    expect(key(fromXpt)).toEqual(key(fromCsv));
  });

  it('a folder with both XPT and CSV reads each dataset once (the XPT)', async () => {
    const both = await collect(filesOf(sdtmDir, ''));
    expect(both).toEqual(fromXpt);
  });

  it('counts per domain are preserved (recounted from the CSV text)', () => {
    const dm = csvRows('dm');
    expect(dm.length).toBeGreaterThan(10);
    expect(resources(fromXpt, 'Patient')).toHaveLength(dm.length);
    expect(resources(fromXpt, 'ResearchSubject')).toHaveLength(dm.length);
    expect(resources(fromXpt, 'ResearchStudy')).toHaveLength(
      new Set(dm.map((r) => r['STUDYID'])).size,
    );
    expect(resources(fromXpt, 'AdverseEvent')).toHaveLength(csvRows('ae').length);
    expect(resources(fromXpt, 'MedicationAdministration')).toHaveLength(csvRows('ex').length);
    const obs = resources(fromXpt, 'Observation');
    const cat = (o: FhirObject): string | undefined =>
      codings((o['category'] as Json[])[0])[0]?.['code'] as string;
    expect(obs.filter((o) => cat(o) === 'laboratory')).toHaveLength(csvRows('lb').length);
    expect(obs.filter((o) => cat(o) === 'vital-signs')).toHaveLength(csvRows('vs').length);
    // Nothing is quarantined: CE has no FHIR mapping, but its rows stay in the source tables.
    expect(problems(fromXpt)).toEqual([]);
    // Ids are unique.
    const ids = resources(fromXpt).map((r) => `${r.resourceType}/${r.id}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('subjects, arms, periods, status and demographics match the generator FHIR', () => {
    const gen = new Map<string, { subject: Json; patient: Json }>();
    const patients = new Map(ofType(generated, 'Patient').map((p) => [p['id'], p]));
    for (const s of ofType(generated, 'ResearchSubject')) {
      const usubjid = String((s['identifier'] as Json[])[0]?.['value']);
      gen.set(usubjid, { subject: s, patient: patients.get(refId(s['individual'])) as Json });
    }
    const subjects = resources(fromXpt, 'ResearchSubject');
    const ours = new Map(resources(fromXpt, 'Patient').map((p) => [p.id, p]));
    expect(new Set(subjects.map((s) => (s['identifier'] as Json[])[0]?.['value']))).toEqual(
      new Set(gen.keys()),
    );
    for (const s of subjects) {
      const usubjid = String((s['identifier'] as Json[])[0]?.['value']);
      const g = gen.get(usubjid) as { subject: Json; patient: Json };
      expect(s['assignedArm'], usubjid).toBe(g.subject['assignedArm']);
      expect(s['actualArm'], usubjid).toBe(g.subject['actualArm']);
      expect(s['period'], usubjid).toEqual(g.subject['period']);
      expect(s['status'], usubjid).toBe(g.subject['status']);
      const p = ours.get(refId(s['individual'])) as FhirObject;
      expect(p, usubjid).toBeDefined();
      expect(p['gender']).toBe(g.patient['gender']);
      expect(p['birthDate']).toBe(g.patient['birthDate']);
      expect(p['deceasedDateTime'] === undefined).toBe(g.patient['deceasedDateTime'] === undefined);
    }
    const study = resources(fromXpt, 'ResearchStudy')[0] as FhirObject;
    const genStudy = ofType(generated, 'ResearchStudy')[0] as Json;
    expect(study['title']).toBe(genStudy['title']);
    expect(code(study['phase'], 'http://terminology.hl7.org/CodeSystem/research-study-phase')).toBe(
      'phase-3',
    );
    expect((study['arm'] as Json[]).map((a) => [a['name'], a['description']])).toEqual(
      (genStudy['arm'] as Json[]).map((a) => [a['name'], a['description']]),
    );
  });

  it('AE terms, severity, seriousness, outcome and dates match the generator FHIR', () => {
    const MDR = 'http://terminology.hl7.org/CodeSystem/mdr';
    const usubjidByPatient = new Map<string, string>();
    for (const s of ofType(generated, 'ResearchSubject'))
      usubjidByPatient.set(
        refId(s['individual']),
        String((s['identifier'] as Json[])[0]?.['value']),
      );
    const ourUsubjid = new Map<string, string>();
    for (const s of resources(fromXpt, 'ResearchSubject'))
      ourUsubjid.set(refId(s['individual']), String((s['identifier'] as Json[])[0]?.['value']));
    const sig = (ae: Json, usubjid: string | undefined): string =>
      JSON.stringify([
        usubjid,
        code(ae['event'], MDR),
        codings(ae['event']).find((c) => c['system'] === MDR)?.['display'],
        code(ae['severity'], 'http://terminology.hl7.org/CodeSystem/adverse-event-severity'),
        code(ae['seriousness'], 'http://terminology.hl7.org/CodeSystem/adverse-event-seriousness'),
        code(ae['outcome'], 'http://terminology.hl7.org/CodeSystem/adverse-event-outcome'),
        ae['date'],
        (ae['extension'] as Json[] | undefined)?.find((e) =>
          String(e['url']).endsWith('adverse-event-end'),
        )?.['valueDateTime'],
      ]);
    const want = ofType(generated, 'AdverseEvent')
      .map((a) => sig(a, usubjidByPatient.get(refId(a['subject']))))
      .sort();
    const got = resources(fromXpt, 'AdverseEvent')
      .map((a) => sig(a, ourUsubjid.get(refId(a['subject']))))
      .sort();
    expect(want.length).toBeGreaterThan(5);
    expect(got).toEqual(want);
  });

  it('LB and VS values, units, ranges and times match the generator FHIR', () => {
    const LOINC = 'http://loinc.org';
    const want: string[] = [];
    for (const o of ofType(generated, 'Observation')) {
      const parts = o['component'] === undefined ? [o] : (o['component'] as Json[]);
      for (const p of parts) {
        const loinc = code(p['code'], LOINC);
        if (!['4548-4', '8480-6', '8462-4', '8867-4'].includes(loinc ?? '')) continue;
        const q = p['valueQuantity'] as Json;
        const range = (o['referenceRange'] as Json[] | undefined)?.[0];
        want.push(
          JSON.stringify([
            loinc,
            q['value'],
            q['code'],
            o['effectiveDateTime'],
            (range?.['low'] as Json | undefined)?.['value'],
            (range?.['high'] as Json | undefined)?.['value'],
          ]),
        );
      }
    }
    const got = resources(fromXpt, 'Observation').map((o) => {
      const q = o['valueQuantity'] as Json;
      const range = (o['referenceRange'] as Json[] | undefined)?.[0];
      return JSON.stringify([
        code(o['code'], LOINC),
        q['value'],
        q['code'],
        o['effectiveDateTime'],
        (range?.['low'] as Json | undefined)?.['value'],
        (range?.['high'] as Json | undefined)?.['value'],
      ]);
    });
    expect(want.length).toBeGreaterThan(50);
    expect(got.sort()).toEqual(want.sort());
  });

  it('every resource is valid FHIR R4, references resolve, provenance is added', () => {
    const all = resources(fromXpt);
    const errors = all.flatMap((r) => validator.validate(r));
    expect(errors, formatErrors(errors, 10)).toEqual([]);
    const ids = new Set(all.map((r) => `${r.resourceType}/${r.id}`));
    const dangling: string[] = [];
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x !== null && typeof x === 'object')
        for (const [k, v] of Object.entries(x as Json))
          if (k === 'reference' && typeof v === 'string') {
            if (!ids.has(v)) dangling.push(v);
          } else walk(v);
    };
    all.forEach(walk);
    expect(dangling).toEqual([]);
    for (const r of fromXpt)
      if (r.kind === 'fhir') {
        const p = toParsedResource(r, 'sdtm');
        expect(p.kind).toBe('resource');
        expect(r.source.record).toMatch(/\/(DM|TS|AE|EX|LB|VS)(\/\d+)?$/);
      }
    const ae = fromXpt.find((r) => r.kind === 'fhir' && r.resource.resourceType === 'AdverseEvent');
    expect(ae?.kind === 'fhir' && ae.source.line).toBe(1);
  });

  it('sdtmRows yields every row with its columns; XPT rows equal CSV rows', async () => {
    for (const name of ['dm', 'ae', 'lb', 'ts']) {
      const datasets: string[][] = [];
      const x: Json[] = [];
      for await (const r of sdtmRows([path.join(sdtmDir, `${name}.xpt`)], ctx(), {
        onDataset: (d) => datasets.push(d.columns.map((c) => `${c.name}:${c.type}`)),
      }))
        x.push(r.values);
      const c: Json[] = [];
      for await (const r of sdtmRows([path.join(sdtmDir, `${name}.csv`)], ctx())) c.push(r.values);
      const text = csvRows(name);
      expect(x).toHaveLength(text.length);
      expect(c).toEqual(x);
      expect(Object.keys(x[0] ?? {})).toEqual(Object.keys(text[0] ?? {}));
      // Types of the XPT NAMESTRs equal those CSV columns get from their SDTM names.
      const csvInfo = (await sdtmDatasets([path.join(sdtmDir, `${name}.csv`)], ctx()))[0];
      expect(csvInfo?.columns.map((col) => `${col.name}:${col.type}`)).toEqual(datasets[0]);
      const xptInfo = (await sdtmDatasets([path.join(sdtmDir, `${name}.xpt`)], ctx()))[0];
      expect(xptInfo?.columns.map((col) => `${col.name}:${col.type}`)).toEqual(datasets[0]);
      expect(xptInfo?.columns[0]?.label).toBe('Study Identifier');
    }
    // A folder with both: each dataset once (the XPT).
    let n = 0;
    for await (const r of sdtmRows(filesOf(sdtmDir, ''), ctx())) if (r.domain === 'DM') n++;
    expect(n).toBe(csvRows('dm').length);
  });

  it('sniffs XPT and SDTM CSV only', () => {
    const xpt = readFileSync(path.join(sdtmDir, 'dm.xpt')).subarray(0, 4096);
    const csv = readFileSync(path.join(sdtmDir, 'ae.csv')).subarray(0, 4096);
    expect(sdtmConverter.sniff('dm.xpt', xpt)).toBe(true);
    expect(sdtmConverter.sniff('ae.csv', csv)).toBe(true);
    expect(
      sdtmConverter.sniff('ae.csv', Buffer.from('\uFEFF"STUDYID","RDOMAIN","USUBJID"\n')),
    ).toBe(true);
    expect(sdtmConverter.sniff('dm.xpt', Buffer.from('HEADER RECORD'))).toBe(false);
    expect(sdtmConverter.sniff('x.csv', Buffer.from('Id,BIRTHDATE,DOMAIN\n'))).toBe(false);
    expect(sdtmConverter.sniff('ae.txt', csv)).toBe(false);
  });
});

// ---- a hand-written study: SUPPQUAL, SV, CM, MH, NRIND, partial dates ----

function writeCsv(dir: string, name: string, rows: readonly (readonly string[])[]): void {
  writeFileSync(
    path.join(dir, `${name}.csv`),
    rows
      .map((r) => r.map((v) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(','))
      .join('\n') + '\n',
  );
}

describe('SUPPQUAL, SV, CM, MH and quarantine on a hand-written study', () => {
  let dir = '';
  let out: ConvertedRecord[] = [];
  beforeAll(async () => {
    dir = makeTempDir('ingest-sdtm-hand');
    writeCsv(dir, 'ts', [
      ['STUDYID', 'DOMAIN', 'TSSEQ', 'TSPARMCD', 'TSPARM', 'TSVAL'],
      ['S1', 'TS', '1', 'TITLE', 'Trial Title', 'A study'],
      ['S1', 'TS', '2', 'TPHASE', 'Trial Phase', 'PHASE II/III TRIAL'],
      ['S1', 'TS', '3', 'TINDTP', 'Trial Intent Type', 'TREATMENT'],
    ]);
    writeCsv(dir, 'dm', [
      [
        'STUDYID',
        'DOMAIN',
        'USUBJID',
        'RFSTDTC',
        'RFENDTC',
        'AGE',
        'AGEU',
        'SEX',
        'RACE',
        'ETHNIC',
        'ARMCD',
        'ARM',
        'COUNTRY',
      ],
      [
        'S1',
        'DM',
        'S1-001',
        '2020-01-05',
        '',
        '61',
        'YEARS',
        'M',
        'ASIAN',
        'NOT HISPANIC OR LATINO',
        'A',
        'Drug A',
        'JPN',
      ],
      [
        'S1',
        'DM',
        'S1-002',
        '2020-02',
        '',
        '',
        '',
        'F',
        'MULTIPLE',
        '',
        'SCRNFAIL',
        'Screen Failure',
        'USA',
      ],
    ]);
    writeCsv(dir, 'ds', [
      ['STUDYID', 'DOMAIN', 'USUBJID', 'DSSEQ', 'DSTERM', 'DSDECOD', 'DSCAT', 'DSSTDTC'],
      [
        'S1',
        'DS',
        'S1-001',
        '1',
        'ADVERSE EVENT',
        'ADVERSE EVENT',
        'DISPOSITION EVENT',
        '2020-06-01',
      ],
      ['S1', 'DS', 'S1-009', '1', 'COMPLETED', 'COMPLETED', 'DISPOSITION EVENT', '2020-06-01'],
    ]);
    writeCsv(dir, 'suppae', [
      ['STUDYID', 'RDOMAIN', 'USUBJID', 'IDVAR', 'IDVARVAL', 'QNAM', 'QLABEL', 'QVAL', 'QORIG'],
      ['S1', 'AE', 'S1-001', 'AESEQ', '1', 'AETRTEM', 'Treatment Emergent Flag', 'Y', 'DERIVED'],
      ['S1', 'AE', 'S1-001', 'AESEQ', '7', 'AETRTEM', 'Treatment Emergent Flag', 'N', 'DERIVED'],
    ]);
    writeCsv(dir, 'suppdm', [
      ['STUDYID', 'RDOMAIN', 'USUBJID', 'IDVAR', 'IDVARVAL', 'QNAM', 'QLABEL', 'QVAL'],
      ['S1', 'DM', 'S1-001', '', '', 'RANDNO', 'Randomization Number', '1042'],
    ]);
    writeCsv(dir, 'sv', [
      ['STUDYID', 'DOMAIN', 'USUBJID', 'VISITNUM', 'VISIT', 'SVSTDTC', 'SVENDTC'],
      ['S1', 'SV', 'S1-001', '1', 'SCREENING', '2020-01-02T09:30', '2020-01-02'],
      ['S1', 'SV', 'S1-001', '2', 'WEEK 2', '2020-01-19', ''],
    ]);
    writeCsv(dir, 'ae', [
      [
        'STUDYID',
        'DOMAIN',
        'USUBJID',
        'AESEQ',
        'AETERM',
        'AEDECOD',
        'AEPTCD',
        'AESOC',
        'AESOCCD',
        'AESEV',
        'AESER',
        'AEREL',
        'AEOUT',
        'AESTDTC',
        'AEENDTC',
      ],
      [
        'S1',
        'AE',
        'S1-001',
        '1',
        'headache',
        'Headache',
        '10019211',
        'Nervous system disorders',
        '10029205',
        'MILD',
        'N',
        'POSSIBLY RELATED',
        'RECOVERED/RESOLVED',
        '2020-01-10T08',
        '2020-01-11',
      ],
      [
        'S1',
        'AE',
        'S1-001',
        '2',
        'nausea',
        'Nausea',
        '10028813',
        '',
        '',
        'SEVERE',
        'Y',
        'NOT RELATED',
        'NOT RECOVERED/NOT RESOLVED',
        '2020-13-01',
        '',
      ],
      ['S1', 'AE', 'S1-001', '3', 'rash'],
    ]);
    writeCsv(dir, 'cm', [
      [
        'STUDYID',
        'DOMAIN',
        'USUBJID',
        'CMSEQ',
        'CMTRT',
        'CMDECOD',
        'CMINDC',
        'CMDOSE',
        'CMDOSU',
        'CMROUTE',
        'CMSTDTC',
        'CMENDTC',
        'CMENRF',
      ],
      [
        'S1',
        'CM',
        'S1-001',
        '1',
        'Tylenol',
        'PARACETAMOL',
        'Headache',
        '500',
        'mg',
        'ORAL',
        '2020-01-10',
        '2020-01-12',
        '',
      ],
      [
        'S1',
        'CM',
        'S1-001',
        '2',
        'Metformin',
        'METFORMIN',
        'T2DM',
        'x',
        'mg',
        'ORAL',
        '2015',
        '',
        'ONGOING',
      ],
    ]);
    writeCsv(dir, 'mh', [
      [
        'STUDYID',
        'DOMAIN',
        'USUBJID',
        'MHSEQ',
        'MHTERM',
        'MHDECOD',
        'MHPTCD',
        'MHSTDTC',
        'MHENDTC',
        'MHENRTPT',
      ],
      [
        'S1',
        'MH',
        'S1-001',
        '1',
        'type 2 diabetes',
        'Type 2 diabetes mellitus',
        '10067585',
        '2012---15',
        '',
        'ONGOING',
      ],
    ]);
    writeCsv(dir, 'lb', [
      [
        'STUDYID',
        'DOMAIN',
        'USUBJID',
        'LBSEQ',
        'LBTESTCD',
        'LBTEST',
        'LBORRES',
        'LBORRESU',
        'LBSTRESC',
        'LBSTRESN',
        'LBSTRESU',
        'LBSTNRLO',
        'LBSTNRHI',
        'LBNRIND',
        'LBSTAT',
        'VISITNUM',
        'LBDTC',
      ],
      [
        'S1',
        'LB',
        'S1-001',
        '1',
        'GLUC',
        'Glucose',
        '130',
        'mg/dL',
        '7.2',
        '7.2',
        'mmol/L',
        '3.9',
        '5.5',
        'HIGH',
        '',
        '2',
        '2020-01-19T10:00:00+09:00',
      ],
      [
        'S1',
        'LB',
        'S1-001',
        '2',
        'ALT',
        'Alanine Aminotransferase',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        '',
        'NOT DONE',
        '9',
        '2020-01-19',
      ],
      [
        'S1',
        'LB',
        'S1-001',
        '3',
        'UA',
        'Urinalysis',
        'NEGATIVE',
        '',
        'NEGATIVE',
        '',
        '',
        '',
        '',
        'NORMAL',
        '',
        '',
        '2020-01-19',
      ],
    ]);
    mkdirSync(path.join(dir, 'sub'), { recursive: true });
    out = await collect(filesOf(dir, '.csv'));
  });
  afterAll(() => removeDir(dir));

  it('maps every dataset, attaches SUPP qualifiers and links visits', () => {
    const types = resources(out).map((r) => r.resourceType);
    expect(types.filter((t) => t === 'Patient')).toHaveLength(2);
    expect(types.filter((t) => t === 'Encounter')).toHaveLength(2);
    const ae = resources(out, 'AdverseEvent');
    expect(ae).toHaveLength(1);
    const supp = (ae[0]?.['extension'] as Json[]).filter((e) =>
      String(e['url']).endsWith('sdtm-supp'),
    );
    expect(supp).toHaveLength(1);
    expect(supp[0]?.['extension']).toContainEqual({ url: 'QVAL', valueString: 'Y' });
    expect(ae[0]?.['date']).toBe('2020-01-10T08:00:00Z');
    const subj = resources(out, 'ResearchSubject');
    expect(subj.map((s) => s['status']).sort()).toEqual(['ineligible', 'withdrawn']);
    const s1 = subj.find((s) => s['status'] === 'withdrawn') as FhirObject;
    expect(JSON.stringify(s1['extension'])).toContain('RANDNO');
    const lb = resources(out, 'Observation');
    expect(lb).toHaveLength(3);
    const gluc = lb.find(
      (o) => code(o['code'], 'https://medlake.dev/fhir/CodeSystem/cdisc-lbtestcd') === 'GLUC',
    ) as FhirObject;
    expect(gluc['encounter']).toBeDefined();
    expect(gluc['valueQuantity']).toEqual({
      value: 7.2,
      unit: 'mmol/L',
      system: 'http://unitsofmeasure.org',
      code: 'mmol/L',
    });
    expect(
      code(
        (gluc['interpretation'] as Json[])[0],
        'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
      ),
    ).toBe('H');
    expect(gluc['effectiveDateTime']).toBe('2020-01-19T10:00:00+09:00');
    const alt = lb.find((o) => o['status'] === 'cancelled') as FhirObject;
    expect(alt['encounter']).toBeUndefined(); // visit 9 is not in SV
    expect(resources(out, 'Condition')[0]?.['onsetDateTime']).toBe('2012');
    expect(resources(out, 'MedicationStatement')).toHaveLength(1);
    const study = resources(out, 'ResearchStudy')[0] as FhirObject;
    expect(code(study['phase'], 'http://terminology.hl7.org/CodeSystem/research-study-phase')).toBe(
      'phase-2-phase-3',
    );
  });

  it('quarantines bad rows with file, line, variable and what was found', () => {
    const q = problems(out).map(
      (r) => `${r.code} ${path.basename(r.source.file)}:${r.source.line} ${r.reason}`,
    );
    const has = (re: RegExp): void =>
      expect(
        q.some((x) => re.test(x)),
        `${String(re)} in\n${q.join('\n')}`,
      ).toBe(true);
    has(/^invalid-value ae.csv:3 .*AESTDTC "2020-13-01" is not an ISO 8601/);
    has(/^malformed ae.csv:4 .*5 fields, expected 15 as in the header/);
    has(/^invalid-value cm.csv:3 .*CMDOSE is numeric in SDTM, found "x"/);
    has(/^missing-value ds.csv:3 .*no DM row for USUBJID S1-009/);
    has(/^missing-value suppae.csv:3 .*AETRTEM names AE record S1-001 AESEQ=7/);
    expect(q).toHaveLength(5);
  });

  it('all resources are valid R4 and references resolve', () => {
    const all = resources(out);
    const errors = all.flatMap((r) => validator.validate(r));
    expect(errors, formatErrors(errors, 10)).toEqual([]);
    const ids = new Set(all.map((r) => `${r.resourceType}/${r.id}`));
    const refs = JSON.stringify(all).match(/"reference":"[^"]+"/g) ?? [];
    for (const r of refs) expect(ids.has(r.slice(13, -1)), r).toBe(true);
  });

  it('files not named by domain are routed by their DOMAIN column', async () => {
    const d = path.join(dir, 'sub');
    writeCsv(d, 'study_subjects', [
      ['STUDYID', 'DOMAIN', 'USUBJID', 'SEX', 'ARMCD'],
      ['S2', 'DM', 'S2-1', 'F', 'A'],
    ]);
    writeCsv(d, 'study_events', [
      ['STUDYID', 'DOMAIN', 'USUBJID', 'AESEQ', 'AETERM', 'AESTDTC'],
      ['S2', 'AE', 'S2-1', '1', 'cough', '2021-05'],
    ]);
    const got = await collect(filesOf(d, '.csv'));
    expect(problems(got)).toEqual([]);
    expect(
      resources(got)
        .map((r) => r.resourceType)
        .sort(),
    ).toEqual(['AdverseEvent', 'Patient', 'ResearchStudy', 'ResearchSubject']);
    const all = resources(got);
    expect(all.flatMap((r) => validator.validate(r))).toEqual([]);
  });

  it('date-only mode drops times without a zone, keeps zoned ones', () => {
    const v = {
      A: '2020-01-10T08:30',
      B: '2020-01-10T08:30+01:00',
      C: '2020-01--T08',
      D: '2020-02-30',
    };
    expect(fhirDateTime(v, 'A', 'date-only')).toBe('2020-01-10');
    expect(fhirDateTime(v, 'A', 'utc')).toBe('2020-01-10T08:30:00Z');
    expect(fhirDateTime(v, 'B', 'date-only')).toBe('2020-01-10T08:30:00+01:00');
    expect(fhirDateTime(v, 'C', 'utc')).toBe('2020-01');
    expect(() => fhirDateTime(v, 'D', 'utc')).toThrow(/not an ISO 8601/);
    expect(createSdtmConverter({ zonelessTime: 'date-only' }).format).toBe('sdtm');
  });
});

// ---- malformed XPT and CSV ----

/** A ConvertContext over in-memory files that hands out chunks of the given sizes. */
function memoryContext(
  files: ReadonlyMap<string, Buffer>,
  chunk: (i: number) => number = () => 1 << 20,
): ConvertContext {
  const get = (f: string): Buffer => {
    const b = files.get(f);
    if (b === undefined) throw new Error(`no file ${f}`);
    return b;
  };
  return {
    async *chunks(file) {
      const b = get(file);
      let i = 0;
      for (let o = 0; o < b.length; i++) {
        const n = Math.max(1, chunk(i));
        yield b.subarray(o, o + n);
        o += n;
      }
      await Promise.resolve();
    },
    head: (file, max) => Promise.resolve(get(file).subarray(0, max)),
    size: (file) => Promise.resolve(get(file).length),
  };
}

const LB_DS: XptDataset = {
  name: 'LB',
  label: 'Laboratory Test Results',
  variables: [
    { name: 'STUDYID', label: 'Study Identifier', type: 'Char', length: 8 },
    { name: 'DOMAIN', label: 'Domain Abbreviation', type: 'Char', length: 2 },
    { name: 'USUBJID', label: 'Unique Subject Identifier', type: 'Char', length: 12 },
    { name: 'LBSEQ', label: 'Sequence Number', type: 'Num', length: 8 },
    { name: 'LBTESTCD', label: 'Lab Test Short Name', type: 'Char', length: 8 },
    { name: 'LBSTRESN', label: 'Numeric Result', type: 'Num', length: 8 },
    { name: 'LBSTRESU', label: 'Standard Units', type: 'Char', length: 8 },
    { name: 'LBDTC', label: 'Date/Time of Collection', type: 'Char', length: 19 },
  ],
};
const lbRow = (i: number): Record<string, string | number | null> => ({
  STUDYID: 'S1',
  DOMAIN: 'LB',
  USUBJID: `S1-${String(i % 7).padStart(3, '0')}`,
  LBSEQ: i + 1,
  LBTESTCD: 'GLUC',
  LBSTRESN: i % 5 === 0 ? null : 3 + i / 8,
  LBSTRESU: 'mmol/L',
  LBDTC: '2020-03-01',
});
function lbXpt(n: number): Buffer {
  const rows = Array.from({ length: n }, (_, i) => xptObservation(LB_DS, lbRow(i)));
  const data = Buffer.concat(rows);
  return Buffer.concat([xptHeader(LB_DS, '2025-01-01'), data, xptTrailer(data.length)]);
}
const OBS_LEN = 8 + 2 + 12 + 8 + 8 + 8 + 8 + 19;
const HEADER_LEN = xptHeader(LB_DS, '2025-01-01').length;

async function readMem(
  files: ReadonlyMap<string, Buffer>,
  chunk?: (i: number) => number,
): Promise<ConvertedRecord[]> {
  const out: ConvertedRecord[] = [];
  for await (const r of sdtmConverter.read([...files.keys()].sort(), memoryContext(files, chunk)))
    out.push(r);
  return out;
}

describe('malformed SDTM input is quarantined, never thrown', () => {
  it('reads an XPT whatever the chunk boundaries', async () => {
    const whole = await readMem(new Map([['/x/lb.xpt', lbXpt(40)]]));
    expect(resources(whole, 'Observation')).toHaveLength(40);
    expect(problems(whole)).toEqual([]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }),
        async (sizes) => {
          const got = await readMem(
            new Map([['/x/lb.xpt', lbXpt(40)]]),
            (i) => sizes[i % sizes.length] ?? 1,
          );
          expect(got).toEqual(whole);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a truncated XPT keeps the complete observations and reports the cut', async () => {
    const full = lbXpt(10);
    const cut = HEADER_LEN + OBS_LEN * 6 + 20;
    const got = await readMem(new Map([['/x/lb.xpt', full.subarray(0, cut)]]));
    expect(resources(got)).toHaveLength(6);
    expect(problems(got).map((q) => `${q.code} ${q.source.line}`)).toEqual(['truncated 6']);
    expect(problems(got)[0]?.reason).toMatch(/ends inside observation 7 of LB \(20 of 73 bytes\)/);
    const head = await readMem(new Map([['/x/lb.xpt', full.subarray(0, 500)]]));
    expect(problems(head).map((q) => q.code)).toEqual(['truncated']);
  });

  it('a bad header is malformed; a bad float skips its observation only', async () => {
    const bad = Buffer.from(lbXpt(3));
    bad.write('HEADER RECORD*******LIBRARX', 0, 'latin1');
    const got = await readMem(new Map([['/x/lb.xpt', bad]]));
    expect(problems(got).map((q) => q.code)).toEqual(['malformed']);
    expect(problems(got)[0]?.reason).toMatch(/not a SAS transport v5 file/);

    const floats = Buffer.from(lbXpt(5));
    // LBSTRESN of observation 2: an unnormalised fraction.
    const at = HEADER_LEN + OBS_LEN + 8 + 2 + 12 + 8 + 8;
    Buffer.from([0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]).copy(floats, at);
    const got2 = await readMem(new Map([['/x/lb.xpt', floats]]));
    expect(resources(got2)).toHaveLength(4);
    expect(problems(got2).map((q) => `${q.code} ${q.source.line}`)).toEqual(['invalid-value 2']);
    expect(problems(got2)[0]?.reason).toMatch(
      /LBSTRESN holds bytes 4100000000000001, not a normalised IBM float/,
    );
  });

  it('fuzzed XPT bytes never throw; each observation is a resource or a quarantine', async () => {
    const base = lbXpt(12);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 12,
        }),
        fc.nat({ max: base.length }),
        async (edits, cut) => {
          const b = Buffer.from(base.subarray(0, Math.max(cut, 1)));
          for (const [o, v] of edits) if (o < b.length) b[o] = v;
          const got = await readMem(new Map([['/x/lb.xpt', b]]));
          for (const r of got) {
            if (r.kind === 'fhir') expect(validator.validate(r.resource)).toEqual([]);
            else expect(r.reason.length).toBeGreaterThan(10);
          }
          // Every observation that was read is accounted for (fatal problems end the file).
          expect(resources(got).length).toBeLessThanOrEqual(12);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('fuzzed CSV never throws; every data line is a resource or a quarantine', async () => {
    const field = fc.oneof(
      fc.constantFrom(
        'S1',
        'LB',
        'GLUC',
        '2020-01-01',
        '2020-02-31',
        '5.5',
        'x',
        '',
        'mmol/L',
        '"a,b"',
        '"',
        '1',
      ),
      fc.string({ maxLength: 6 }).map((s) => s.replace(/[\r\n"]/g, '')),
    );
    const line = fc.oneof(
      fc
        .tuple(
          fc.nat({ max: 9 }),
          fc.constantFrom('5.5', '', 'x', '-1e3'),
          fc.constantFrom('2020-01-01', '2020-1-1', '', '2021-02-29T10'),
        )
        .map(([s, v, d]) => `S1,LB,S1-00${s},${s + 1},GLUC,${v},mmol/L,${d}`),
      fc.array(field, { minLength: 1, maxLength: 10 }).map((f) => f.join(',')),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 15 }), async (lines) => {
        const text =
          ['STUDYID,DOMAIN,USUBJID,LBSEQ,LBTESTCD,LBSTRESN,LBSTRESU,LBDTC', ...lines].join('\n') +
          '\n';
        const got = await readMem(new Map([['/x/lb.csv', Buffer.from(text)]]));
        for (const r of got)
          if (r.kind === 'fhir') expect(validator.validate(r.resource)).toEqual([]);
        // Without quote characters each line is one record: resources + quarantines = lines.
        if (!text.includes('"')) expect(got.length).toBe(lines.filter((l) => l !== '').length);
      }),
      { numRuns: 150 },
    );
  });

  it('reads IBM floats as the generator writes them, missing values as null', () => {
    const b = new Uint8Array(8);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e70, max: 1e70 }),
          fc.integer(),
          fc.constantFrom(0.1, -118.625, 1e-60),
        ),
        (x) => {
          encodeIbmFloat(x, b, 0);
          const back = readIbmFloat(b, 0, 8);
          if (Math.abs(x) < Math.pow(16, -65)) expect(back).toBe(0);
          else expect(back).toBe(x);
        },
      ),
      { numRuns: 2000 },
    );
    for (const m of ['.', '_', 'A', 'Z']) {
      const mv = new Uint8Array(8);
      mv[0] = m.charCodeAt(0);
      expect(readIbmFloat(mv, 0, 8)).toBeNull();
    }
    expect(readIbmFloat(Uint8Array.from([0x41, 0x10, 0, 0]), 0, 4)).toBe(1); // a 4-byte short numeric
  });
});
