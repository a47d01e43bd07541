import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CODE_SYSTEMS,
  ValueSetError,
  expandValueSet,
  libraryValueSetDir,
  libraryValueSets,
  loadValueSets,
  parseCsv,
  parseValueSetCsv,
  parseValueSetJson,
  resolveSystem,
  validateValueSet,
  valueSetContains,
  valueSetPredicate,
  valueSetRelation,
} from '../src/analysis/valuesets.js';
import type { ValueSet } from '../src/analysis/valuesets.js';
import { DuckDBEngine } from '../src/engine/duckdb-engine.js';
import { synthesize } from '../src/synth/index.js';
import { CONDITIONS } from '../src/synth/conditions.js';
import type { ConditionKey } from '../src/synth/conditions.js';
import type { SynthSink } from '../src/synth/sink.js';
import { FIXTURES_DIR, makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const { snomed: SCT, icd10cm: ICD, loinc: LOINC, rxnorm: RXNORM } = CODE_SYSTEMS;

/** Runs `fn` and returns the ValueSetError it throws (fails the test otherwise). */
function errorOf(fn: () => unknown): ValueSetError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValueSetError) return err;
    throw err;
  }
  throw new Error('expected a ValueSetError');
}

const minimal = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'my-set',
  title: 'My set',
  description: '',
  source: 'test',
  codes: [{ system: SCT, code: '59621000', display: 'Essential hypertension (disorder)' }],
  ...over,
});

describe('shipped library', () => {
  const lib = libraryValueSets();

  it('loads, validates every file, and names match file names', () => {
    const files = readdirSync(libraryValueSetDir()).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(60);
    expect(lib.size).toBe(files.length);
    for (const f of files) {
      const text = readFileSync(path.join(libraryValueSetDir(), f), 'utf8');
      const [vs] = parseValueSetJson(text, f);
      expect(vs!.name).toBe(f.replace(/\.json$/, ''));
      expect(vs!.source.length).toBeGreaterThan(10);
      expect(expandValueSet(vs!).length).toBeGreaterThan(0);
    }
  });

  it('has no duplicate names (loading the directory twice is an error)', () => {
    const err = errorOf(() => loadValueSets([libraryValueSetDir(), libraryValueSetDir()]));
    expect(err.issues.length).toBe(lib.size);
    expect(err.message).toContain('is already defined in');
  });

  it('covers every condition code the generator writes (SNOMED and ICD-10-CM)', () => {
    const setFor: Record<ConditionKey, string> = {
      hypertension: 'hypertension',
      diabetes: 'diabetes-type-2',
      influenza: 'influenza',
      hyperlipidemia: 'hyperlipidemia',
      asthma: 'asthma',
      copd: 'copd',
      depression: 'depression',
      ckd: 'chronic-kidney-disease',
      heartFailure: 'heart-failure',
      myocardialInfarction: 'myocardial-infarction',
      stroke: 'stroke',
      pneumonia: 'pneumonia',
      uti: 'urinary-tract-infection',
      hipFracture: 'hip-fracture',
      lungCancer: 'lung-cancer',
      breastCancer: 'breast-cancer',
      colorectalCancer: 'colorectal-cancer',
    };
    for (const [key, spec] of Object.entries(CONDITIONS)) {
      const vs = lib.get(setFor[key as ConditionKey])!;
      expect(vs, key).toBeDefined();
      expect(valueSetContains(vs, SCT, spec.snomed.code), `${key} SNOMED`).toBe(true);
      expect(valueSetContains(vs, ICD, spec.icd10.code), `${key} ICD-10-CM`).toBe(true);
    }
  });

  it('matches ICD-10-CM subcodes of a root by prefix, and nothing else', () => {
    const dm = lib.get('diabetes-type-2')!;
    expect(valueSetContains(dm, ICD, 'E11.65')).toBe(true);
    expect(valueSetContains(dm, ICD, 'E10.9')).toBe(false);
    expect(valueSetContains(dm, SCT, 'E11.65')).toBe(false);
    expect(valueSetContains(lib.get('hypertension')!, ICD, 'I10')).toBe(true);
    expect(valueSetContains(lib.get('hypertension')!, ICD, 'I11.0')).toBe(false);
  });
});

/** Condition sets for concepts only Synthea records (checked against the Synthea fixtures). */
const SYNTHEA_ONLY = ['anemia', 'covid-19', 'obesity', 'prediabetes'];

describe('generated population (300 patients, core only)', () => {
  let tmp = '';
  const resources: Record<string, unknown>[] = [];
  beforeAll(async () => {
    tmp = makeTempDir('valuesets');
    const sink: SynthSink = {
      emit: (r) => void resources.push(r as unknown as Record<string, unknown>),
      drain: () => Promise.resolve(),
      close: () => Promise.resolve({ counts: {}, bytes: 0 }),
      destroy() {},
    };
    await synthesize({ patients: 300, seed: 5, outDir: tmp, parts: [], sink, workers: 1 });
  }, 60_000);
  afterAll(() => removeDir(tmp));

  interface Coding {
    system: string;
    code: string;
  }
  const codings = (type: string, field: string): Coding[][] =>
    resources
      .filter((r) => r['resourceType'] === type)
      .map((r) => ((r[field] as { coding?: Coding[] } | undefined)?.coding ?? []) as Coding[]);
  const matches = (vs: ValueSet, list: Coding[][]): number =>
    list.filter((cs) => cs.some((c) => valueSetContains(vs, c.system, c.code))).length;

  it('every condition set matches at least one generated Condition (Synthea-only sets none)', () => {
    const lib = libraryValueSets();
    const conditions = codings('Condition', 'code');
    expect(conditions.length).toBeGreaterThan(100);
    // Condition sets: those with SNOMED CT or ICD-10-CM codes. The generator does not model
    // the Synthea-only ones; the fixture tests below find those in Synthea data.
    const conditionSets = [...lib.values()].filter((vs) =>
      expandValueSet(vs).some((c) => c.system === SCT || c.system === ICD),
    );
    expect(conditionSets.length).toBeGreaterThanOrEqual(20);
    for (const vs of conditionSets) {
      const n = matches(vs, conditions);
      if (SYNTHEA_ONLY.includes(vs.name)) expect(n, vs.name).toBe(0);
      else expect(n, vs.name).toBeGreaterThan(0);
    }
    // Every generated Condition falls in some library set.
    const all = [...lib.values()];
    const unmatched = conditions.filter(
      (cs) => !all.some((vs) => cs.some((c) => valueSetContains(vs, c.system, c.code))),
    );
    expect(unmatched).toEqual([]);
  });

  it('lab and drug sets match generated Observations and MedicationRequests', () => {
    const lib = libraryValueSets();
    const obs = codings('Observation', 'code');
    for (const name of ['hba1c', 'glucose', 'creatinine', 'egfr', 'ldl-cholesterol', 'cbc']) {
      expect(matches(lib.get(name)!, obs), name).toBeGreaterThan(0);
    }
    const meds = codings('MedicationRequest', 'medicationCodeableConcept');
    expect(meds.length).toBeGreaterThan(50);
    for (const name of ['ace-inhibitors', 'calcium-channel-blockers', 'statins', 'metformin']) {
      expect(matches(lib.get(name)!, meds), name).toBeGreaterThan(0);
    }
    const drugSets = [...lib.values()].filter((vs) => vs.codes.some((c) => c.system === RXNORM));
    const unmatched = meds.filter(
      (cs) => !drugSets.some((vs) => cs.some((c) => valueSetContains(vs, c.system, c.code))),
    );
    expect(unmatched).toEqual([]);
  });
});

const SYNTHEA_CSV = path.join(FIXTURES_DIR, 'synthea-csv-27');
const SYNTHEA_BULK = path.join(FIXTURES_DIR, 'fhir-bulk-10-patients');

describe.skipIf(!existsSync(SYNTHEA_CSV) || !existsSync(SYNTHEA_BULK))(
  'Synthea fixtures (shared/fixtures; skipped without /work/shared)',
  () => {
    /** Synthea condition codes in the fixtures and the set each must fall in. */
    const expected: Record<string, string> = {
      '59621000': 'hypertension',
      '44054006': 'diabetes-type-2',
      '90781000119102': 'diabetes-type-2',
      '157141000119108': 'diabetes-type-2',
      '15777000': 'prediabetes',
      '55822004': 'hyperlipidemia',
      '431855005': 'chronic-kidney-disease',
      '431856006': 'chronic-kidney-disease',
      '433144002': 'chronic-kidney-disease',
      '431857002': 'chronic-kidney-disease',
      '46177005': 'chronic-kidney-disease',
      '233678006': 'asthma',
      '185086009': 'copd',
      '22298006': 'myocardial-infarction',
      '414545008': 'ischemic-heart-disease',
      '53741008': 'ischemic-heart-disease',
      '301011002': 'urinary-tract-infection',
      '197927001': 'urinary-tract-infection',
      '840539006': 'covid-19',
      '254637007': 'lung-cancer',
      '424132000': 'lung-cancer',
      '254837009': 'breast-cancer',
      '162864005': 'obesity',
      '408512008': 'obesity',
      '271737000': 'anemia',
    };

    const csvConditions = (): Set<string> =>
      new Set(
        parseCsv(readFileSync(path.join(SYNTHEA_CSV, 'conditions.csv'), 'utf8'))
          .slice(1)
          .map((r) => r.fields[4]!),
      );
    const bulkConditions = (): Set<string> => {
      const out = new Set<string>();
      for (const line of readFileSync(path.join(SYNTHEA_BULK, 'Condition.000.ndjson'), 'utf8')
        .split('\n')
        .filter((l) => l !== '')) {
        const r = JSON.parse(line) as { code: { coding: { system: string; code: string }[] } };
        for (const c of r.code.coding) if (c.system === SCT) out.add(c.code);
      }
      return out;
    };

    it('finds each disease condition of the fixtures in its set', () => {
      const lib = libraryValueSets();
      const present = new Set([...csvConditions(), ...bulkConditions()]);
      const inFixtures = Object.keys(expected).filter((c) => present.has(c));
      expect(inFixtures.length).toBe(Object.keys(expected).length);
      for (const code of inFixtures) {
        expect(valueSetContains(lib.get(expected[code]!)!, SCT, code), code).toBe(true);
      }
      // Findings such as "Stress" or "Full-time employment" are in no set.
      expect([...lib.values()].some((vs) => valueSetContains(vs, SCT, '73595000'))).toBe(false);
    });

    it('finds the fixtures\u2019 labs and drugs in the lab and drug sets', () => {
      const lib = libraryValueSets();
      const obs = parseCsv(readFileSync(path.join(SYNTHEA_CSV, 'observations.csv'), 'utf8'));
      const head = obs[0]!.fields;
      const codes = new Set(obs.slice(1).map((r) => r.fields[head.indexOf('CODE')]!));
      for (const [name, code] of [
        ['hba1c', '4548-4'],
        ['glucose', '2339-0'],
        ['creatinine', '38483-4'],
        ['egfr', '33914-3'],
        ['ldl-cholesterol', '18262-6'],
      ] as const) {
        expect(codes.has(code), code).toBe(true);
        expect(valueSetContains(lib.get(name)!, LOINC, code), name).toBe(true);
      }
      const meds = parseCsv(readFileSync(path.join(SYNTHEA_CSV, 'medications.csv'), 'utf8'));
      const mh = meds[0]!.fields;
      const medCodes = new Set(meds.slice(1).map((r) => r.fields[mh.indexOf('CODE')]!));
      for (const [name, code] of [
        ['ace-inhibitors', '314076'],
        ['thiazide-diuretics', '310798'],
        ['statins', '314231'],
        ['calcium-channel-blockers', '197361'],
        ['saba-inhalers', '2123111'],
      ] as const) {
        expect(medCodes.has(code), code).toBe(true);
        expect(valueSetContains(lib.get(name)!, RXNORM, code), name).toBe(true);
      }
    });
  },
);

describe('SQL through the dialect, run on DuckDB', () => {
  let engine: DuckDBEngine;
  beforeAll(async () => {
    engine = await DuckDBEngine.create();
    await engine.exec(
      `CREATE TABLE cond AS SELECT * FROM (VALUES
        ('p1', '${SCT}', '59621000'),
        ('p2', '${ICD}', 'E11.65'),
        ('p3', '${ICD}', 'E10.9'),
        ('p4', '${SCT}', '44054006'),
        ('p5', '${SCT}', '90781000119102'),
        ('p6', '${LOINC}', '59621000'),
        ('p7', '${SCT}', '73595000')) AS t(patient, system, code)`,
    );
  });
  afterAll(async () => engine.close());

  it('a predicate selects exactly the rows in the sets', async () => {
    const lib = libraryValueSets();
    const dm = lib.get('diabetes-type-2')!;
    const where = valueSetPredicate(engine.dialect, dm, 'system', 'code');
    const dmRows = await engine.query(`SELECT patient FROM cond WHERE ${where} ORDER BY patient`);
    expect(dmRows.rows.map((r) => r['patient'])).toEqual(['p2', 'p4', 'p5']);
    const both = valueSetPredicate(
      engine.dialect,
      [dm, lib.get('hypertension')!],
      'system',
      'code',
    );
    const bothRows = await engine.query(`SELECT patient FROM cond WHERE ${both} ORDER BY patient`);
    expect(bothRows.rows.map((r) => r['patient'])).toEqual(['p1', 'p2', 'p4', 'p5']);
  });

  it('a relation of codes joins like the predicate; quotes in displays are escaped', async () => {
    const lib = libraryValueSets();
    const odd = validateValueSet(
      minimal({
        name: 'odd',
        codes: [{ system: 'SNOMED', code: '73595000', display: 'it\'s "stress"; DROP TABLE cond' }],
      }),
    );
    const sets = [lib.get('diabetes-type-2')!, lib.get('hypertension')!, odd];
    const rel = valueSetRelation(engine.dialect, sets);
    const res = await engine.query(
      `SELECT DISTINCT v.valueset, c.patient FROM cond c JOIN (${rel}) v
         ON c.system = v.system
        AND (c.code = v.code OR (v.prefix AND starts_with(c.code, v.code)))
       ORDER BY 1, 2`,
    );
    expect(res.rows.map((r) => `${String(r['valueset'])}:${String(r['patient'])}`)).toEqual([
      'diabetes-type-2:p2',
      'diabetes-type-2:p4',
      'diabetes-type-2:p5',
      'hypertension:p1',
      'odd:p7',
    ]);
    const displays = await engine.query(`SELECT display FROM (${rel}) WHERE valueset = 'odd'`);
    expect(displays.rows[0]!['display']).toBe('it\'s "stress"; DROP TABLE cond');
    const count = await engine.query(`SELECT count(*) AS n FROM (${rel})`);
    expect(Number(count.rows[0]!['n'])).toBe(
      sets.reduce((n, s) => n + expandValueSet(s).length, 0),
    );
  });

  it('empty input gives FALSE and an empty relation', async () => {
    expect(valueSetPredicate(engine.dialect, [], 'system', 'code')).toBe('FALSE');
    const res = await engine.query(valueSetRelation(engine.dialect, []));
    expect(res.rows).toEqual([]);
    expect(res.columns.map((c) => c.name)).toEqual([
      'valueset',
      'system',
      'code',
      'display',
      'prefix',
    ]);
  });
});

describe('user files and errors', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = makeTempDir('valuesets-user');
  });
  afterAll(() => removeDir(tmp));

  it('loads CSV with aliases, quotes, CRLF and a BOM; many sets per file', () => {
    const file = path.join(tmp, 'sets.csv');
    writeFileSync(
      file,
      '\uFEFFvalueset,system,code,display\r\n' +
        'my-htn,SNOMED-CT,59621000,"Essential hypertension, ""primary"""\r\n' +
        'my-htn,ICD10CM,I10,\r\n' +
        'my-labs,loinc,4548-4,HbA1c\r\n' +
        'my-htn,http://snomed.info/sct,38341003,"multi\r\nline"\r\n' +
        'my-vax,CVX,140,flu\r\n' +
        'my-rx,RxNorm,314076,lisinopril\r\n',
    );
    const sets = loadValueSets([file]);
    expect([...sets.keys()]).toEqual(['my-htn', 'my-labs', 'my-vax', 'my-rx']);
    const htn = sets.get('my-htn')!;
    expect(htn.codes).toEqual([
      { system: SCT, code: '59621000', display: 'Essential hypertension, "primary"' },
      { system: ICD, code: 'I10' },
      { system: SCT, code: '38341003', display: 'multi\r\nline' },
    ]);
    expect(htn.source).toBe('sets.csv');
    expect(sets.get('my-rx')!.codes[0]!.system).toBe(RXNORM);
    expect(sets.get('my-vax')!.codes[0]!.system).toBe(CODE_SYSTEMS.cvx);
  });

  it('loads a directory of JSON and CSV', () => {
    const dir = path.join(tmp, 'dir');
    writeFileSync(path.join(tmp, 'ignored.txt'), 'x');
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, 'a.json'),
      JSON.stringify([minimal({ name: 'a' }), minimal({ name: 'b' })]),
    );
    writeFileSync(path.join(dir, 'c.csv'), 'code,display,system,valueset\n15777000,,SNOMED,c\n');
    writeFileSync(path.join(dir, 'notes.md'), 'not a value set');
    expect([...loadValueSets([dir]).keys()].sort()).toEqual(['a', 'b', 'c']);
  });

  it('resolves system aliases', () => {
    expect(resolveSystem('SNOMED')).toBe(SCT);
    expect(resolveSystem('snomed-ct')).toBe(SCT);
    expect(resolveSystem('SNOMED CT')).toBe(SCT);
    expect(resolveSystem('ICD-10-CM')).toBe(ICD);
    expect(resolveSystem('urn:oid:2.16.840.1.113883.6.96')).toBe('urn:oid:2.16.840.1.113883.6.96');
    expect(resolveSystem('snomedx')).toBeUndefined();
    expect(resolveSystem('constructor')).toBeUndefined();
  });

  it('bad JSON files name the file and the JSON path', () => {
    const file = path.join(tmp, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify(
        minimal({
          name: 'Bad Name',
          codes: [
            { system: 'SNOMED', code: '59621000' },
            { system: 'LOINC', code: '4548' },
            { system: 'nope', code: '1' },
            { system: 'SNOMED', code: '59621000' },
          ],
          extra: 1,
        }),
      ),
    );
    const err = errorOf(() => loadValueSets([file]));
    const at = err.issues.map((i) => `${i.path}`);
    expect(err.issues.every((i) => i.file === file)).toBe(true);
    expect(at).toContain('$.name');
    expect(at).toContain('$.codes[2].system');
    expect(at).toContain('$');
    expect(err.message).toContain('unknown system "nope"');
    expect(err.message).toContain('"extra"');
    // Format and duplicate checks run once the shape is right.
    const err2 = errorOf(() =>
      validateValueSet(
        minimal({
          codes: [
            { system: 'SNOMED', code: '59621000' },
            { system: 'LOINC', code: '4548' },
            { system: 'ICD10CM', code: 'e11.9' },
            { system: 'SNOMED', code: '59621000' },
          ],
        }),
        'x.json',
      ),
    );
    expect(err2.issues.map((i) => i.path)).toEqual([
      '$.codes[1].code',
      '$.codes[2].code',
      '$.codes[3]',
    ]);
    expect(err2.message).toContain('x.json: $.codes[1].code: "4548" is not a LOINC code');
    expect(err2.message).toContain('already listed at $.codes[0]');
  });

  it('descendants must have roots; ICD-10-CM descendants must sit under one', () => {
    const err = errorOf(() =>
      validateValueSet(
        minimal({
          includeDescendants: [{ system: 'ICD10CM', code: 'E11' }],
          descendants: [{ system: 'ICD10CM', code: 'E10.9' }],
        }),
      ),
    );
    expect(err.issues[0]!.path).toBe('$.descendants[0].code');
    const err2 = errorOf(() =>
      validateValueSet(minimal({ descendants: [{ system: 'SNOMED', code: '15777000' }] })),
    );
    expect(err2.issues[0]!.path).toBe('$.descendants');
    const err3 = errorOf(() => validateValueSet(minimal({ codes: [] })));
    expect(err3.message).toContain('at least one code');
  });

  it('arrays report the element index; invalid JSON says so', () => {
    const err = errorOf(() =>
      parseValueSetJson(JSON.stringify([minimal(), minimal({ name: 'x', source: '' })]), 'f.json'),
    );
    expect(err.issues.map((i) => i.path)).toEqual(['$[1].source']);
    const err2 = errorOf(() => parseValueSetJson('{"name": ', 'g.json'));
    expect(err2.message).toMatch(/^g\.json: \$: not valid JSON/);
  });

  it('bad CSV names the line and column', () => {
    const e1 = errorOf(() =>
      parseValueSetCsv('valueset,system,code,display\na,SNOMED,59621000,x\na,SNOMD,1,y\n', 'u.csv'),
    );
    expect(e1.issues.map((i) => i.path)).toEqual(['line 3, column system']);
    const e2 = errorOf(() => parseValueSetCsv('valueset,system,code\na,SNOMED,1\n', 'u.csv'));
    expect(e2.message).toContain('missing column(s) display');
    const e3 = errorOf(() => parseValueSetCsv('valueset,system,code,display,colour\n', 'u.csv'));
    expect(e3.message).toContain('unknown column "colour"');
    const e4 = errorOf(() =>
      parseValueSetCsv('valueset,system,code,display\na,SNOMED,"59621000,x\n', 'u.csv'),
    );
    expect(e4.issues[0]!.path).toBe('line 2');
    expect(e4.message).toContain('not closed');
    const e5 = errorOf(() => parseValueSetCsv('valueset,system,code,display\na,SNOMED\n', 'u.csv'));
    expect(e5.message).toContain('u.csv: line 2: expected 4 fields');
    const e6 = errorOf(() =>
      parseValueSetCsv(
        'valueset,system,code,display\n\n\nb,LOINC,4548-4,x\nb,LOINC,12,x\n',
        'u.csv',
      ),
    );
    expect(e6.issues.map((i) => i.path)).toEqual(['line 5, column code']);
    const e7 = errorOf(() => parseValueSetCsv('', 'u.csv'));
    expect(e7.message).toContain('empty');
    const e8 = errorOf(() => loadValueSets([path.join(tmp, 'missing.csv')]));
    expect(e8.message).toContain('no such file');
  });
});

describe('CSV parser properties', () => {
  const fieldArb = fc.string({
    unit: fc.constantFrom('a', 'Z', '1', ' ', ',', '"', '\r', '\n', '\uFEFF', 'é', '-'),
    maxLength: 8,
  });
  const quote = (f: string): string =>
    /[",\r\n]/.test(f) || f === '' || f.startsWith('\uFEFF') ? `"${f.replaceAll('"', '""')}"` : f;

  it('round-trips any fields with quotes, commas, CR/LF/CRLF and a BOM', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fieldArb, { minLength: 1, maxLength: 5 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.boolean(),
        fc.boolean(),
        (rows, eol, bom, trailing) => {
          const text =
            (bom ? '\uFEFF' : '') +
            rows.map((r) => r.map(quote).join(',')).join(eol) +
            (trailing ? eol : '');
          expect(parseCsv(text).map((r) => r.fields)).toEqual(rows);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports the line each record starts on', () => {
    const recs = parseCsv('a\r\n"x\r\ny",b\n\nc');
    expect(recs.map((r) => r.line)).toEqual([1, 2, 5]);
  });

  it('never crashes on malformed input: values or a ValueSetError with a place', () => {
    const textArb = fc.oneof(
      fc.string({ unit: fc.constantFrom('v', 'a', '1', ',', '"', '\r', '\n', '\uFEFF', 'S', '-') }),
      fc
        .array(fc.array(fieldArb, { maxLength: 5 }), { maxLength: 5 })
        .map((rows) =>
          ['valueset,system,code,display', ...rows.map((r) => r.join(','))].join('\n'),
        ),
    );
    fc.assert(
      fc.property(textArb, (text) => {
        try {
          const sets = parseValueSetCsv(text, 'p.csv');
          for (const vs of sets) expect(validateValueSet(vs)).toEqual(vs);
        } catch (err) {
          expect(err).toBeInstanceOf(ValueSetError);
          const e = err as ValueSetError;
          expect(e.issues.length).toBeGreaterThan(0);
          for (const i of e.issues) {
            expect(i.file).toBe('p.csv');
            expect(i.path).toMatch(/^line \d+/);
            expect(i.message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('never crashes on arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseValueSetJson(JSON.stringify(value) ?? 'null', 'j.json');
        } catch (err) {
          expect(err).toBeInstanceOf(ValueSetError);
          for (const i of (err as ValueSetError).issues) expect(i.path).toMatch(/^\$/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
