/**
 * Synthea CSV ingest (issue 4): the converter of src/ingest/synthea-csv on the Synthea
 * export fixture (every row becomes its resources or is quarantined; counts recounted here
 * from the CSV with csv-parse/sync; references resolve; every resource is valid FHIR R4),
 * a round trip through the generator's synthea-csv writer against its FHIR truth, and
 * malformed input (hand-made cases and fast-check properties: never throws, every record
 * a resource or a quarantine).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileContext, toParsedResource } from '../src/ingest/convert.js';
import type {
  ConvertContext,
  ConvertedRecord,
  ConvertedResource,
  FhirObject,
} from '../src/ingest/convert.js';
import type { QuarantinedRecord } from '../src/ingest/types.js';
import { CLAIM_WINDOW, syntheaCsvConverter } from '../src/ingest/synthea-csv/converter.js';
import { SYNTHEA_TABLES, tableOfHeader } from '../src/ingest/synthea-csv/tables.js';
import { synthesize } from '../src/synth/index.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { FIXTURES_DIR, makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const FIXTURE = path.join(FIXTURES_DIR, 'synthea-csv-27');
const haveFixture = existsSync(FIXTURE);

type Json = Record<string, unknown>;
type CsvRow = Record<string, string>;

const ctx = (): ConvertContext => fileContext(createHash('sha256'));

async function readAll(
  files: readonly string[],
  c: ConvertContext = ctx(),
): Promise<ConvertedRecord[]> {
  const out: ConvertedRecord[] = [];
  for await (const r of syntheaCsvConverter.read(files, c)) out.push(r);
  return out;
}

function csvFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** A table's rows as an independent reader sees them. */
function rowsOf(dir: string, table: string): CsvRow[] {
  const file = path.join(dir, `${table}.csv`);
  if (!existsSync(file)) return [];
  return parse(readFileSync(file), {
    columns: true,
    bom: true,
    skip_empty_lines: true,
  }) as CsvRow[];
}

const resources = (recs: readonly ConvertedRecord[]): ConvertedResource[] =>
  recs.filter((r): r is ConvertedResource => r.kind === 'fhir');
const quarantines = (recs: readonly ConvertedRecord[]): QuarantinedRecord[] =>
  recs.filter((r): r is QuarantinedRecord => r.kind === 'quarantine');
const ofType = (recs: readonly ConvertedRecord[], type: string): FhirObject[] =>
  resources(recs)
    .map((r) => r.resource)
    .filter((r) => r.resourceType === type);

/** Every `reference` string inside a resource. */
function references(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) references(x, out);
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === 'reference' && typeof x === 'string') out.push(x);
      else references(x, out);
    }
  return out;
}

const distinct = (xs: readonly string[]): number => new Set(xs).size;

describe('sniff', () => {
  it.skipIf(!haveFixture)('recognises every fixture file by its header, whatever its name', () => {
    for (const file of csvFiles(FIXTURE)) {
      const head = readFileSync(file).subarray(0, 4096);
      const table = path.basename(file, '.csv');
      expect(tableOfHeader(head.toString('utf8').split(/\r?\n/)[0]?.split(',') ?? [])).toBe(table);
      expect(syntheaCsvConverter.sniff(file, head)).toBe(true);
      expect(syntheaCsvConverter.sniff('export-renamed.CSV', head)).toBe(true);
      expect(syntheaCsvConverter.sniff(`${table}.ndjson`, head)).toBe(false);
    }
  });

  it('rejects other CSV, empty and binary heads, and never throws', () => {
    expect(syntheaCsvConverter.sniff('a.csv', Buffer.from('id,name,value\n1,2,3\n'))).toBe(false);
    expect(syntheaCsvConverter.sniff('a.csv', Buffer.alloc(0))).toBe(false);
    expect(syntheaCsvConverter.sniff('patients.csv', Buffer.from([0, 1, 2, 255, 254]))).toBe(false);
    expect(
      syntheaCsvConverter.sniff(
        'x.csv',
        Buffer.from('\ufeffDATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,QUANTITY\r\n'),
      ),
    ).toBe(true);
    fc.assert(
      fc.property(fc.string(), fc.uint8Array({ maxLength: 600 }), (name, bytes) => {
        expect(typeof syntheaCsvConverter.sniff(name, Buffer.from(bytes))).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });

  it('tells all 18 tables apart', () => {
    expect(SYNTHEA_TABLES).toHaveLength(18);
  });
});

describe.skipIf(!haveFixture)('Synthea CSV fixture (fixtures/synthea-csv-27)', () => {
  let recs: ConvertedRecord[] = [];
  const table = (t: string): CsvRow[] => rowsOf(FIXTURE, t);
  const fromFile = (t: string): ConvertedRecord[] =>
    recs.filter((r) => path.basename(r.source.file) === `${t}.csv`);

  beforeAll(async () => {
    recs = await readAll(csvFiles(FIXTURE));
  });
  afterAll(() => {
    recs = [];
  });

  it('quarantines nothing in a clean export', () => {
    expect(quarantines(recs).map((q) => q.reason)).toEqual([]);
  });

  it('turns every row of every table into its resources (recounted from the CSV)', () => {
    const oneToOne: [string, string][] = [
      ['patients', 'Patient'],
      ['encounters', 'Encounter'],
      ['conditions', 'Condition'],
      ['observations', 'Observation'],
      ['medications', 'MedicationRequest'],
      ['procedures', 'Procedure'],
      ['immunizations', 'Immunization'],
      ['allergies', 'AllergyIntolerance'],
      ['careplans', 'CarePlan'],
      ['devices', 'Device'],
      ['supplies', 'SupplyDelivery'],
      ['claims', 'Claim'],
      ['organizations', 'Organization'],
      ['payers', 'Organization'],
      ['providers', 'Practitioner'],
      ['providers', 'PractitionerRole'],
    ];
    for (const [t, type] of oneToOne) {
      const rows = table(t);
      expect(rows.length, t).toBeGreaterThan(0);
      expect(ofType(fromFile(t), type), `${t} → ${type}`).toHaveLength(rows.length);
    }
    // Every row's resources have distinct ids (repeated natural keys are numbered).
    for (const type of ['Condition', 'Observation', 'MedicationRequest', 'Procedure', 'Coverage']) {
      const ids = ofType(recs, type).map((r) => r.id);
      expect(distinct(ids), type).toBe(ids.length);
    }
    const pt = table('payer_transitions');
    expect(ofType(recs, 'Coverage')).toHaveLength(
      pt.length + pt.filter((r) => r['SECONDARY_PAYER'] !== '').length,
    );
    const img = table('imaging_studies');
    const studies = ofType(recs, 'ImagingStudy');
    expect(studies).toHaveLength(distinct(img.map((r) => r['Id'] as string)));
    expect(studies.reduce((n, s) => n + (s['numberOfInstances'] as number), 0)).toBe(img.length);
    const tx = table('claims_transactions');
    const eobs = ofType(recs, 'ExplanationOfBenefit');
    expect(eobs).toHaveLength(distinct(tx.map((r) => r['CLAIMID'] as string)));
    expect(eobs.reduce((n, e) => n + ((e['item'] as unknown[] | undefined)?.length ?? 0), 0)).toBe(
      tx.filter((r) => r['TYPE'] === 'CHARGE').length,
    );
    // Payments: the EOBs' payment amounts sum to the PAYMENT rows'.
    const paid = tx
      .filter((r) => r['TYPE'] === 'PAYMENT')
      .reduce((s, r) => s + Number(r['PAYMENTS'] || 0), 0);
    const eobPaid = eobs.reduce(
      (s, e) => s + ((e['payment'] as { amount: { value: number } }).amount.value ?? 0),
      0,
    );
    expect(eobPaid).toBeCloseTo(paid, 2);
  });

  it('keeps the CSV ids and key values', () => {
    const pats = new Map(ofType(recs, 'Patient').map((p) => [p.id, p]));
    for (const row of table('patients')) {
      const p = pats.get(row['Id'] as string) as Json;
      expect(p, row['Id']).toBeDefined();
      expect(p['birthDate']).toBe(row['BIRTHDATE']);
      expect(p['gender']).toBe(row['GENDER'] === 'M' ? 'male' : 'female');
      const ssn = (p['identifier'] as Json[]).find(
        (i) => i['system'] === 'http://hl7.org/fhir/sid/us-ssn',
      );
      expect(ssn?.['value']).toBe(row['SSN']);
    }
    const encs = new Map(ofType(recs, 'Encounter').map((e) => [e.id, e]));
    for (const row of table('encounters')) {
      const e = encs.get(row['Id'] as string) as Json;
      expect((e['period'] as Json)['start']).toBe(row['START']);
      expect(e['subject']).toEqual({ reference: `Patient/${row['PATIENT']}` });
    }
    const obsValues = ofType(recs, 'Observation').map((o) => {
      const q = o['valueQuantity'] as Json | undefined;
      return q === undefined
        ? String(o['valueString'])
        : `${String(q['value'])} ${String(q['code'])}`;
    });
    const expected = table('observations').map((r) =>
      r['TYPE'] === 'numeric' ? `${Number(r['VALUE'])} ${r['UNITS']}` : String(r['VALUE']),
    );
    expect(obsValues.sort()).toEqual(expected.sort());
  });

  it('resolves every reference between the emitted resources', () => {
    const ids = new Set(resources(recs).map((r) => `${r.resource.resourceType}/${r.resource.id}`));
    const missing = new Map<string, number>();
    for (const r of resources(recs))
      for (const ref of references(r.resource))
        if (!ids.has(ref)) {
          const key = `${r.resource.resourceType} → ${ref.split('/')[0] ?? ''}`;
          missing.set(key, (missing.get(key) ?? 0) + 1);
        }
    expect(Object.fromEntries(missing)).toEqual({});
  });

  it('emits valid FHIR R4 only', () => {
    const validator = new FhirR4Validator();
    const errors = resources(recs).flatMap((r) => validator.validate(r.resource));
    expect(errors, formatErrors(errors)).toHaveLength(0);
  });

  it('records file, line and record name, and every id is a FHIR id', () => {
    const lines = new Map<string, string[]>();
    for (const r of resources(recs)) {
      const file = r.source.file;
      if (!lines.has(file)) lines.set(file, readFileSync(file, 'utf8').split('\n'));
      const text = (lines.get(file) as string[])[r.source.line - 1] ?? '';
      // The line holds the row: its Id or the first natural-key column (PATIENT / CLAIMID).
      const key = (r.source.record ?? '').split('|')[0] as string;
      expect(text.includes(key), `${path.basename(file)}:${r.source.line} ${key}`).toBe(true);
      const parsed = toParsedResource(r, 'synthea-csv');
      expect(parsed.kind).toBe('resource');
    }
  });

  it('gives the same ids on a second read (re-loads replace)', async () => {
    const again = await readAll(csvFiles(FIXTURE));
    expect(resources(again).map((r) => r.resource.id)).toEqual(
      resources(recs).map((r) => r.resource.id),
    );
  });
});

describe('round trip through the generator (synth --formats synthea-csv)', () => {
  let tmp = '';
  let truth: Json[] = [];
  let recs: ConvertedRecord[] = [];
  const truthOf = (type: string): Json[] => truth.filter((r) => r['resourceType'] === type);

  beforeAll(async () => {
    tmp = makeTempDir('ingest-synthea-csv');
    await synthesize({ patients: 25, seed: 7, outDir: tmp, formats: ['synthea-csv'], workers: 1 });
    for (const f of readdirSync(tmp).filter((x) => x.endsWith('.ndjson')))
      for (const line of readFileSync(path.join(tmp, f), 'utf8').split('\n'))
        if (line !== '') truth.push(JSON.parse(line) as Json);
    recs = await readAll(csvFiles(path.join(tmp, 'synthea-csv')));
  }, 60_000);
  afterAll(() => {
    removeDir(tmp);
    truth = [];
    recs = [];
  });

  it('reads back every row without quarantine', () => {
    expect(quarantines(recs).map((q) => q.reason)).toEqual([]);
    for (const type of [
      'Patient',
      'Encounter',
      'Condition',
      'Procedure',
      'Immunization',
      'MedicationRequest',
      'ImagingStudy',
      'Claim',
      'AllergyIntolerance',
    ])
      expect(ofType(recs, type), type).toHaveLength(truthOf(type).length);
  });

  it('patients: birth date, sex, race', () => {
    const got = new Map(ofType(recs, 'Patient').map((p) => [p.id, p]));
    const omb = (p: Json, url: string): string[] =>
      ((p['extension'] as Json[] | undefined) ?? [])
        .filter((e) => e['url'] === url)
        .flatMap((e) => (e['extension'] as Json[]).filter((x) => x['url'] === 'ombCategory'))
        .map((x) => (x['valueCoding'] as Json)['code'] as string);
    const RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
    for (const p of truthOf('Patient')) {
      const g = got.get(p['id'] as string) as Json;
      expect(g['birthDate']).toBe(p['birthDate']);
      expect(g['gender']).toBe(p['gender']);
      const races = omb(p, RACE);
      // Synthea's CSV has one RACE: several OMB races (or none) come back as "other".
      if (races.length === 1) expect(omb(g, RACE)).toEqual(races);
    }
  });

  it('encounters: class and period', () => {
    const got = new Map(ofType(recs, 'Encounter').map((e) => [e.id, e]));
    const ACT: Record<string, string> = {
      AMB: 'AMB',
      SS: 'AMB',
      EMER: 'EMER',
      IMP: 'IMP',
      ACUTE: 'IMP',
      NONAC: 'IMP',
      HH: 'HH',
      VR: 'VR',
    };
    for (const e of truthOf('Encounter')) {
      const g = got.get(e['id'] as string) as Json;
      expect((g['class'] as Json)['code']).toBe(ACT[(e['class'] as Json)['code'] as string]);
      const p = e['period'] as Json;
      const gp = g['period'] as Json;
      expect(Date.parse(gp['start'] as string)).toBe(Date.parse(p['start'] as string));
      expect(Date.parse(gp['end'] as string)).toBe(Date.parse(p['end'] as string));
    }
  });

  it('conditions: code and onset per patient', () => {
    const key = (c: Json): string =>
      `${String((c['subject'] as Json)['reference'])} ${String(((c['code'] as Json)['coding'] as Json[]).find((x) => x['system'] === 'http://snomed.info/sct')?.['code'])} ${String(c['onsetDateTime']).slice(0, 10)}`;
    expect(ofType(recs, 'Condition').map(key).sort()).toEqual(truthOf('Condition').map(key).sort());
  });

  it('observations: one per value (components included), values and units', () => {
    const expected: string[] = [];
    for (const o of truthOf('Observation')) {
      const holders = [o, ...((o['component'] as Json[] | undefined) ?? [])];
      for (const h of holders) {
        const code = ((h['code'] as Json)['coding'] as Json[])[0]?.['code'];
        const q = h['valueQuantity'] as Json | undefined;
        const cc = h['valueCodeableConcept'] as Json | undefined;
        if (q !== undefined)
          expected.push(`${String(code)} ${String(q['value'])} ${String(q['code'] ?? q['unit'])}`);
        else if (cc !== undefined) {
          const c = (cc['coding'] as Json[] | undefined)?.[0];
          expected.push(`${String(code)} ${String(c?.['display'] ?? c?.['code'])}`);
        } else if (typeof h['valueString'] === 'string')
          expected.push(`${String(code)} ${h['valueString']}`);
      }
    }
    const got = ofType(recs, 'Observation').map((o) => {
      const code = ((o['code'] as Json)['coding'] as Json[])[0]?.['code'];
      const q = o['valueQuantity'] as Json | undefined;
      return q !== undefined
        ? `${String(code)} ${String(q['value'])} ${String(q['code'])}`
        : `${String(code)} ${String(o['valueString'])}`;
    });
    expect(got.sort()).toEqual(expected.sort());
  });

  it('is valid FHIR R4 with resolving references', () => {
    const validator = new FhirR4Validator();
    const errors = resources(recs).flatMap((r) => validator.validate(r.resource));
    expect(errors, formatErrors(errors)).toHaveLength(0);
    const ids = new Set(resources(recs).map((r) => `${r.resource.resourceType}/${r.resource.id}`));
    const dangling = resources(recs).flatMap((r) =>
      references(r.resource).filter((x) => !ids.has(x)),
    );
    expect(dangling).toEqual([]);
  });
});

describe('malformed input', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = makeTempDir('ingest-synthea-csv-bad');
  });
  afterAll(() => removeDir(tmp));

  const write = (dir: string, name: string, text: string): string => {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const OBS = 'DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE';
  const P = '3edac2e3-d223-6fae-d515-daf96ef6bc76';

  it('quarantines bad rows with file, line and reason, and keeps the good ones', async () => {
    const file = write(
      path.join(tmp, 'a'),
      'obs.csv',
      [
        OBS,
        `2023-10-10T04:17:47Z,${P},,vital-signs,8302-2,Body Height,127.9,cm,numeric`,
        `2023-10-10T04:17:47Z,${P},,vital-signs,8302-2,Body Height,127.9,cm`, // ragged
        `2023-13-40,${P},,vital-signs,8302-2,Body Height,1,cm,numeric`, // bad date
        `2023-10-10,,,vital-signs,8302-2,Body Height,1,cm,numeric`, // no PATIENT
        `2023-10-10,${P},,vital-signs,8302-2,Body Height,tall,cm,numeric`, // bad number
        `2023-10-10,${P},,survey,72166-2,Tobacco smoking status,"Never ""smoked""",,text`,
        '',
      ].join('\n'),
    );
    const recs = await readAll([file]);
    const q = quarantines(recs);
    expect(q.map((x) => [x.source.line, x.code])).toEqual([
      [3, 'malformed'],
      [4, 'invalid-value'],
      [5, 'missing-value'],
      [6, 'invalid-value'],
    ]);
    expect(q[0]?.reason).toMatch(/obs\.csv line 3: 8 fields, the observations header has 9/);
    expect(q[3]?.reason).toMatch(/VALUE "tall" is not a number/);
    const obs = ofType(recs, 'Observation');
    expect(obs.map((o) => o['valueString'] ?? (o['valueQuantity'] as Json)['value'])).toEqual([
      127.9,
      'Never "smoked"',
    ]);
    expect(resources(recs).map((r) => r.source.line)).toEqual([2, 7]);
  });

  it('quarantines an unparseable quote, a foreign header, and goes on with the next file', async () => {
    const dir = path.join(tmp, 'b');
    const a = write(dir, 'a.csv', `${OBS}\n2023-10-10,${P},,x,1-1,d,"1"2,,text\n`);
    const b = write(dir, 'b.csv', 'id,name\n1,2\n');
    const c = write(dir, 'c.csv', `${OBS}\r\n2023-10-10,${P},,x,1-1,"multi\r\nline",1,,text\r\n`);
    const recs = await readAll([a, b, c]);
    const q = quarantines(recs);
    // A bad closing quote leaves the parser inside a field: a.csv's rest is one or more
    // malformed records; b.csv's foreign header skips that file; c.csv reads.
    expect(new Set(q.map((x) => `${path.basename(x.source.file)} ${x.code}`))).toEqual(
      new Set(['a.csv malformed', 'b.csv unsupported']),
    );
    expect(q[0]?.reason).toMatch(/a\.csv line 2: not RFC 4180 CSV/);
    expect(resources(recs)).toHaveLength(1);
    expect(resources(recs)[0]?.source.line).toBe(2);
  });

  it('never throws on random bytes after a valid header; every output is a resource or a quarantine', async () => {
    const dir = path.join(tmp, 'fuzz');
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          OBS,
          'Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE',
          'ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,FROMDATE,TODATE,PROCEDURECODE,PAYMENTS',
        ),
        fc.string({
          unit: fc.constantFrom('a', '1', ',', '"', '\n', '\r', '-', ':', 'T', 'Z', ' ', '.', 'é'),
          maxLength: 300,
        }),
        async (header, body) => {
          const file = write(dir, `f${n++}.csv`, `${header}\n${body}`);
          const recs = await readAll([file]);
          for (const r of recs) {
            expect(['fhir', 'quarantine']).toContain(r.kind);
            expect(r.source.line).toBeGreaterThanOrEqual(0);
            if (r.kind === 'fhir') expect(toParsedResource(r, 'synthea-csv').kind).toBe('resource');
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('maps or quarantines every well-shaped row of random values, one record per row, at its line', async () => {
    const dir = path.join(tmp, 'rows');
    let n = 0;
    const value = fc.oneof(
      fc.constantFrom(
        '',
        P,
        '2023-01-27T16:17:47Z',
        '2023-01-27',
        '12.5',
        'NaN',
        'x',
        'M',
        'numeric',
        'text',
      ),
      fc.constantFrom('two\nlines', 'crlf\r\ninside', 'a "quote"', 'comma, here'),
      fc.string({ maxLength: 12 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(value, { minLength: 9, maxLength: 9 }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom('\n', '\r\n'),
        async (rows, eol) => {
          const lines = rows.map((r) =>
            r.map((v) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(','),
          );
          const file = write(dir, `r${n++}.csv`, [OBS, ...lines].join(eol) + eol);
          const recs = await readAll([file]);
          // Fields are quoted per RFC 4180: one CSV record per row, so one record out per
          // row, at the line where the row starts (rows with line breaks take several).
          const starts: number[] = [];
          let line = 2;
          for (const l of lines) {
            starts.push(line);
            line += (l.match(/\r\n|\r|\n/g)?.length ?? 0) + 1;
          }
          expect(recs.map((r) => r.source.line)).toEqual(starts);
          for (const r of resources(recs)) expect(r.resource.resourceType).toBe('Observation');
        },
      ),
      { numRuns: 100 },
    );
  });

  it('throws IngestSourceError only for a file it cannot read', async () => {
    await expect(readAll([path.join(tmp, 'no-such-dir', 'patients.csv')])).rejects.toMatchObject({
      name: 'IngestSourceError',
      code: 'SOURCE_UNREADABLE',
    });
  });

  it('closes a claim whose transactions lie far apart into two EOBs, losing no line', async () => {
    const head = 'ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,FROMDATE,TODATE,PROCEDURECODE,PAYMENTS';
    const rows: string[] = [head];
    const tx = (i: number, claim: string, type: string): string =>
      `t${i},${claim},${i},${P},${type},${type === 'CHARGE' ? '10.00' : ''},2023-01-27T16:17:47Z,2023-01-27T16:32:47Z,185345009,${type === 'PAYMENT' ? '4.00' : ''}`;
    rows.push(tx(0, 'far', 'CHARGE'));
    for (let i = 1; i <= CLAIM_WINDOW + 5; i++) rows.push(tx(i, `c${i}`, 'CHARGE'));
    rows.push(tx(CLAIM_WINDOW + 6, 'far', 'PAYMENT'));
    const file = write(path.join(tmp, 'far'), 'claims_transactions.csv', rows.join('\n') + '\n');
    const recs = await readAll([file]);
    const far = ofType(recs, 'ExplanationOfBenefit').filter(
      (e) => (e['claim'] as Json)['reference'] === 'Claim/far',
    );
    expect(far).toHaveLength(2);
    expect(new Set(far.map((e) => e.id)).size).toBe(2);
    expect(ofType(recs, 'ExplanationOfBenefit')).toHaveLength(CLAIM_WINDOW + 5 + 2);
    expect(far.map((e) => ((e['payment'] as Json)['amount'] as Json)['value']).sort()).toEqual([
      0, 4,
    ]);
  });
});
