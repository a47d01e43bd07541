/**
 * The lake, in-process: loads (counts, idempotence, newest wins, quarantine, fidelity,
 * derived ids, atomicity of a failed load) and materialised views.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBenchData } from '../bench/generate-data.js';
import type { GenerateBenchResult } from '../bench/generate-data.js';
import {
  IngestSourceError,
  Lake,
  LakeSession,
  loadIntoLake,
  materializeViews,
  runView,
} from '../src/index.js';
import type { LoadSummary } from '../src/index.js';
import {
  BULK_DIR,
  EXAMPLES_DIR,
  PATIENT_VIEW,
  listFiles,
  makeTempDir,
  queryLake,
  removeDir,
  writeNdjson,
} from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Type → sorted counts; drops zero entries so two maps compare by what they hold. */
function sortedCounts(m: ReadonlyMap<string, ReadonlySet<string>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [t, ids] of [...m.entries()].sort(([a], [b]) => a.localeCompare(b)))
    if (ids.size > 0) out[t] = ids.size;
  return out;
}

function sortRecord(r: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}

/** What the lake should hold after one load of `root`, per type, computed independently. */
function expectedFromExamples(root: string): {
  counts: Record<string, number>;
  withoutId: number;
  records: number;
} {
  const ids = new Map<string, Set<string>>();
  let withoutId = 0;
  let records = 0;
  const add = (resource: Json, fullUrl?: unknown): void => {
    const type = resource['resourceType'];
    if (typeof type !== 'string') throw new Error('example without resourceType');
    records++;
    let id: string;
    if (typeof resource['id'] === 'string') {
      id = resource['id'];
    } else {
      withoutId++;
      // Same rule as the reader: a urn:uuid / urn:oid fullUrl gives the id, else the content.
      const tail =
        typeof fullUrl === 'string' && /^urn:(uuid|oid):/.test(fullUrl)
          ? fullUrl.slice(fullUrl.indexOf(':', 4) + 1)
          : undefined;
      id = tail !== undefined && FHIR_ID.test(tail) ? tail : `derived:${JSON.stringify(resource)}`;
    }
    let set = ids.get(type);
    if (set === undefined) ids.set(type, (set = new Set()));
    set.add(id);
  };
  for (const name of readdirSync(root).sort()) {
    if (!name.endsWith('.json')) continue;
    const doc: unknown = JSON.parse(readFileSync(path.join(root, name), 'utf8'));
    if (!isObject(doc)) throw new Error(`${name} is not an object`);
    if (doc['resourceType'] !== 'Bundle') {
      add(doc);
      continue;
    }
    // Document and message Bundles are artefacts: stored themselves AND expanded.
    // Other Bundle types are envelopes: only their entries are stored.
    if (doc['type'] === 'document' || doc['type'] === 'message') add(doc);
    const entries = Array.isArray(doc['entry']) ? (doc['entry'] as unknown[]) : [];
    for (const e of entries) {
      // Entries without a resource (DELETE / GET requests) yield nothing; a Bundle inside
      // an entry is stored as a Bundle, not expanded further.
      if (isObject(e) && isObject(e['resource'])) add(e['resource'], e['fullUrl']);
    }
  }
  return { counts: sortedCounts(ids), withoutId, records };
}

async function genders(lake: string, id: string): Promise<Array<string | null>> {
  const rows = await queryLake(
    lake,
    `SELECT "gender"->>'$' AS g FROM fhir."Patient" WHERE id = '${id}' ORDER BY g`,
  );
  return rows.map((r) => (r['g'] === null ? null : String(r['g'])));
}

function summaryAddsUp(s: LoadSummary): void {
  expect(s.added + s.updated + s.unchanged + s.superseded).toBe(s.read);
}

let tmp = '';
beforeAll(() => {
  tmp = makeTempDir('lake');
});
afterAll(() => removeDir(tmp));

let caseNo = 0;
/** A fresh folder per test, with a lake path inside it (not yet created). */
function fresh(): { dir: string; lake: string } {
  const dir = path.join(tmp, `case-${++caseNo}`);
  mkdirSync(dir, { recursive: true });
  return { dir, lake: path.join(dir, 'lake') };
}

describe.skipIf(!existsSync(EXAMPLES_DIR))('fhir-r4-examples (707 official examples)', () => {
  it('loads every example with nothing quarantined and per-type counts as counted here', async () => {
    const { lake } = fresh();
    const expected = expectedFromExamples(EXAMPLES_DIR);
    expect(readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json'))).toHaveLength(707);

    const summary = await loadIntoLake(lake, [EXAMPLES_DIR]);
    expect(summary.sources).toBe(707);
    expect(summary.quarantined).toBe(0);
    expect(summary.quarantineFile).toBeNull();
    expect(summary.read).toBe(expected.records);
    expect(summary.derivedIds).toBe(expected.withoutId);
    summaryAddsUp(summary);

    const info = Lake.open(lake).info();
    expect(info.quarantined).toBe(0);
    expect(sortRecord(info.resources)).toEqual(expected.counts);
    expect(info.totalResources).toBe(Object.values(expected.counts).reduce((a, b) => a + b, 0));

    // The stored rows agree with the manifest: one row per type/id, no duplicates.
    const rows = await queryLake(
      lake,
      `SELECT count(*) AS n, count(DISTINCT id) AS d FROM "Observation"`,
    );
    expect(Number(rows[0]!['n'])).toBe(expected.counts['Observation']);
    expect(Number(rows[0]!['d'])).toBe(expected.counts['Observation']);
  });
});

describe.skipIf(!existsSync(BULK_DIR))('fhir-bulk-10-patients (Bulk Data export)', () => {
  it('holds, per type, as many resources as each *.000.ndjson file has lines', async () => {
    const { lake } = fresh();
    const expected: Record<string, number> = {};
    const files = readdirSync(BULK_DIR).filter((f) => f.endsWith('.000.ndjson'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const lines = readFileSync(path.join(BULK_DIR, f), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      expected[f.slice(0, -'.000.ndjson'.length)] = lines.length;
    }

    const summary = await loadIntoLake(lake, [BULK_DIR]);
    summaryAddsUp(summary);
    const info = Lake.open(lake).info();
    expect(sortRecord(info.resources)).toEqual(sortRecord(expected));
    // log.ndjson is the export client's event log, not FHIR: skipped in a folder.
    expect(summary.sources).toBe(files.length);
    expect(info.quarantined).toBe(0);

    const patients = await queryLake(lake, `SELECT count(DISTINCT id) AS n FROM fhir."Patient"`);
    expect(Number(patients[0]!['n'])).toBe(expected['Patient']);
  });
});

describe('loading the same data twice', () => {
  let gen: GenerateBenchResult;
  let dataDir = '';
  let lake = '';
  beforeAll(async () => {
    const c = fresh();
    dataDir = path.join(c.dir, 'data');
    lake = c.lake;
    gen = await generateBenchData({ outDir: dataDir, resources: 2000, seed: 11 });
  });

  it('changes nothing: 0 added, 0 updated, same counts, same data files', async () => {
    const total = Object.values(gen.counts).reduce((a, b) => a + b, 0);
    const first = await loadIntoLake(lake, [dataDir]);
    expect(first.read).toBe(total);
    expect(first.added).toBe(total);
    summaryAddsUp(first);
    const before = Lake.open(lake);
    const infoBefore = before.info();
    expect(infoBefore.resources).toEqual(
      Object.fromEntries(Object.entries(gen.counts).filter(([, n]) => n > 0)),
    );
    const filesBefore = Object.values(before.manifest.types)
      .flatMap((t) => t.files.map((f) => `${f.path}:${f.rows}:${f.bytes}`))
      .sort();
    const onDiskBefore = listFiles(path.join(lake, 'data'));

    const second = await loadIntoLake(lake, [dataDir]);
    expect(second.read).toBe(total);
    expect(second.added).toBe(0);
    expect(second.updated).toBe(0);
    expect(second.superseded).toBe(0);
    expect(second.unchanged).toBe(total);
    summaryAddsUp(second);

    const after = Lake.open(lake);
    expect(after.info().resources).toEqual(infoBefore.resources);
    const filesAfter = Object.values(after.manifest.types)
      .flatMap((t) => t.files.map((f) => `${f.path}:${f.rows}:${f.bytes}`))
      .sort();
    expect(filesAfter).toEqual(filesBefore);
    expect(listFiles(path.join(lake, 'data'))).toEqual(onDiskBefore);
  });
});

describe('newest wins', () => {
  it('follows meta.versionId across loads; an older version loaded later does not win', async () => {
    const { dir, lake } = fresh();
    const v1 = writeNdjson(path.join(dir, 'v1.ndjson'), [
      { resourceType: 'Patient', id: 'p1', meta: { versionId: '1' }, gender: 'male' },
    ]);
    const v2 = writeNdjson(path.join(dir, 'v2.ndjson'), [
      { resourceType: 'Patient', id: 'p1', meta: { versionId: '2' }, gender: 'female' },
    ]);
    const v1again = writeNdjson(path.join(dir, 'v1-again.ndjson'), [
      { resourceType: 'Patient', id: 'p1', meta: { versionId: '1' }, gender: 'other' },
    ]);

    const s1 = await loadIntoLake(lake, [v1]);
    expect(s1.added).toBe(1);
    expect(await genders(lake, 'p1')).toEqual(['male']);

    const s2 = await loadIntoLake(lake, [v2]);
    expect(s2.updated).toBe(1);
    expect(s2.added).toBe(0);
    expect(await genders(lake, 'p1')).toEqual(['female']);

    const s3 = await loadIntoLake(lake, [v1again]);
    expect(s3.updated).toBe(0);
    expect(s3.added).toBe(0);
    expect(s3.superseded).toBe(1);
    summaryAddsUp(s3);
    expect(await genders(lake, 'p1')).toEqual(['female']);
    expect(Lake.open(lake).info().resources).toEqual({ Patient: 1 });
  });

  it('compares versionIds as numbers (10 is newer than 9)', async () => {
    const { dir, lake } = fresh();
    const v10 = writeNdjson(path.join(dir, 'v10.ndjson'), [
      { resourceType: 'Patient', id: 'p10', meta: { versionId: '10' }, gender: 'female' },
    ]);
    const v9 = writeNdjson(path.join(dir, 'v9.ndjson'), [
      { resourceType: 'Patient', id: 'p10', meta: { versionId: '9' }, gender: 'male' },
    ]);
    await loadIntoLake(lake, [v10]);
    await loadIntoLake(lake, [v9]);
    expect(await genders(lake, 'p10')).toEqual(['female']);
  });

  it('follows meta.lastUpdated when there is no versionId', async () => {
    const { dir, lake } = fresh();
    const newer = writeNdjson(path.join(dir, 'newer.ndjson'), [
      {
        resourceType: 'Patient',
        id: 'lu',
        meta: { lastUpdated: '2024-05-01T00:00:00Z' },
        gender: 'female',
      },
    ]);
    const older = writeNdjson(path.join(dir, 'older.ndjson'), [
      {
        resourceType: 'Patient',
        id: 'lu',
        meta: { lastUpdated: '2020-05-01T00:00:00Z' },
        gender: 'male',
      },
    ]);
    await loadIntoLake(lake, [newer]);
    const s = await loadIntoLake(lake, [older]);
    expect(s.superseded).toBe(1);
    expect(await genders(lake, 'lu')).toEqual(['female']);
  });

  it('without meta, the later load wins', async () => {
    const { dir, lake } = fresh();
    const a = writeNdjson(path.join(dir, 'a.ndjson'), [
      { resourceType: 'Patient', id: 'p2', gender: 'male' },
    ]);
    const b = writeNdjson(path.join(dir, 'b.ndjson'), [
      { resourceType: 'Patient', id: 'p2', gender: 'female' },
    ]);
    await loadIntoLake(lake, [a]);
    expect(await genders(lake, 'p2')).toEqual(['male']);
    const s = await loadIntoLake(lake, [b]);
    expect(s.updated).toBe(1);
    expect(await genders(lake, 'p2')).toEqual(['female']);
    // And back again: load order, not content, decides.
    await loadIntoLake(lake, [a]);
    expect(await genders(lake, 'p2')).toEqual(['male']);
  });

  it('within one file, the later line wins when versions are equal (or absent)', async () => {
    const { dir, lake } = fresh();
    const f = writeNdjson(path.join(dir, 'dups.ndjson'), [
      { resourceType: 'Patient', id: 'p3', meta: { versionId: '1' }, gender: 'male' },
      { resourceType: 'Patient', id: 'p4', gender: 'male' },
      { resourceType: 'Patient', id: 'p3', meta: { versionId: '1' }, gender: 'female' },
      { resourceType: 'Patient', id: 'p4', gender: 'female' },
    ]);
    const s = await loadIntoLake(lake, [f]);
    expect(s.read).toBe(4);
    expect(s.added).toBe(2);
    expect(s.superseded).toBe(2);
    expect(await genders(lake, 'p3')).toEqual(['female']);
    expect(await genders(lake, 'p4')).toEqual(['female']);
  });

  it('a version in the lake and none in the new load never gives two rows for one id', async () => {
    // One side with meta, the other without: whatever wins, the id must stay unique.
    const { dir, lake } = fresh();
    const versioned = writeNdjson(path.join(dir, 'versioned.ndjson'), [
      { resourceType: 'Patient', id: 'pv', meta: { versionId: '2' }, gender: 'male' },
      {
        resourceType: 'Patient',
        id: 'pl',
        meta: { lastUpdated: '2020-01-01T00:00:00Z' },
        gender: 'male',
      },
    ]);
    const bare = writeNdjson(path.join(dir, 'bare.ndjson'), [
      { resourceType: 'Patient', id: 'pv', gender: 'female' },
      { resourceType: 'Patient', id: 'pl', gender: 'female' },
    ]);
    await loadIntoLake(lake, [versioned]);
    const s = await loadIntoLake(lake, [bare]);
    summaryAddsUp(s);
    const rows = await queryLake(
      lake,
      `SELECT id, count(*) AS n FROM fhir."Patient" GROUP BY id ORDER BY id`,
    );
    expect(rows.map((r) => [r['id'], Number(r['n'])])).toEqual([
      ['pl', 1],
      ['pv', 1],
    ]);
    expect(Lake.open(lake).info().resources).toEqual({ Patient: 2 });
    expect(s.added).toBe(0);
  });
});

describe('fidelity at rest', () => {
  it('keeps decimals exactly as written (1.00 stays 1.00)', async () => {
    const { dir, lake } = fresh();
    const f = writeNdjson(path.join(dir, 'obs.ndjson'), [
      '{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.00,"unit":"mg"}}',
      '{"resourceType":"Observation","id":"o2","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"}}',
      '{"resourceType":"Observation","id":"o3","status":"final","code":{"text":"x"},"valueQuantity":{"value":3.14159265358979323846264,"unit":"1"}}',
    ]);
    await loadIntoLake(lake, [f]);
    const rows = await queryLake(
      lake,
      `SELECT id, CAST("valueQuantity" AS VARCHAR) AS v FROM "Observation" ORDER BY id`,
    );
    expect(rows.map((r) => r['id'])).toEqual(['o1', 'o2', 'o3']);
    const text = rows.map((r) => String(r['v']));
    expect(text[0]).toMatch(/"value"\s*:\s*1\.00[,}\s]/);
    expect(text[1]).toMatch(/"value"\s*:\s*1\.50[,}\s]/);
    expect(text[2]).toContain('3.14159265358979323846264');
  });

  it('keeps extensions, primitive extensions, contained resources and unknown elements', async () => {
    const { dir, lake } = fresh();
    const resource = {
      resourceType: 'Patient',
      id: 'full1',
      extension: [
        { url: 'http://example.org/fhir/StructureDefinition/eye-colour', valueString: 'green' },
      ],
      birthDate: '1970-03-04',
      _birthDate: {
        extension: [
          {
            url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime',
            valueDateTime: '1970-03-04T10:15:00+01:00',
          },
        ],
      },
      contained: [{ resourceType: 'Organization', id: 'org1', name: 'Contained Org' }],
      managingOrganization: { reference: '#org1' },
      notAFhirElement: { nested: [true, 'x', { deep: null }] },
    };
    const f = writeNdjson(path.join(dir, 'full.ndjson'), [resource]);
    await loadIntoLake(lake, [f]);

    const cols = Lake.open(lake).columnsOf('Patient');
    for (const c of ['extension', '_birthDate', 'contained', 'notAFhirElement', 'birthDate'])
      expect(cols.has(c), c).toBe(true);

    const rows = await queryLake(
      lake,
      `SELECT CAST("extension" AS VARCHAR) AS e, CAST("_birthDate" AS VARCHAR) AS b,
              CAST("contained" AS VARCHAR) AS c, CAST("notAFhirElement" AS VARCHAR) AS u,
              CAST("managingOrganization" AS VARCHAR) AS m
         FROM fhir."Patient" WHERE id = 'full1'`,
    );
    expect(rows).toHaveLength(1);
    const r = rows[0]!;
    expect(JSON.parse(String(r['e']))).toEqual(resource.extension);
    expect(JSON.parse(String(r['b']))).toEqual(resource._birthDate);
    expect(JSON.parse(String(r['c']))).toEqual(resource.contained);
    expect(JSON.parse(String(r['u']))).toEqual(resource.notAFhirElement);
    expect(JSON.parse(String(r['m']))).toEqual(resource.managingOrganization);
    // A contained resource is part of its container, not a resource of its own.
    expect(Lake.open(lake).info().resources).toEqual({ Patient: 1 });
  });
});

describe('quarantine', () => {
  it('loads the good lines and records each bad one with file, line, code and reason', async () => {
    const { dir, lake } = fresh();
    const file = writeNdjson(path.join(dir, 'mixed.ndjson'), [
      { resourceType: 'Patient', id: 'good1', gender: 'male' }, // 1
      '{"resourceType": "Patient", "id": "broken"', // 2 not JSON
      '[{"resourceType":"Patient","id":"inarray"}]', // 3 JSON array
      '', // 4 blank: skipped, still counts as a line
      { id: 'notype', gender: 'male' }, // 5 no resourceType
      { resourceType: 'Foo', id: 'foo1' }, // 6 unknown type
      { resourceType: 'Patient', id: 'bad id!' }, // 7 bad id
      { resourceType: 'Patient', id: 'good2', gender: 'female' }, // 8
    ]);
    const summary = await loadIntoLake(lake, [file]);
    expect(summary.read).toBe(2);
    expect(summary.quarantined).toBe(5);
    expect(summary.quarantineFile).not.toBeNull();

    const info = Lake.open(lake).info();
    expect(info.resources).toEqual({ Patient: 2 });
    expect(info.quarantined).toBe(5);
    const rows = await queryLake(lake, `SELECT id FROM fhir."Patient" ORDER BY id`);
    expect(rows.map((r) => r['id'])).toEqual(['good1', 'good2']);

    const qPath = path.join(lake, summary.quarantineFile!);
    expect(existsSync(qPath)).toBe(true);
    const lines = readFileSync(qPath, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    expect(lines).toHaveLength(5);
    const recs = lines.map((l) => JSON.parse(l) as Json);
    expect(recs.map((r) => [r['line'], r['code']])).toEqual([
      [2, 'not-json'],
      [3, 'not-object'],
      [5, 'no-resource-type'],
      [6, 'unknown-resource-type'],
      [7, 'bad-id'],
    ]);
    for (const r of recs) {
      expect(r['file']).toBe(file);
      expect(typeof r['reason']).toBe('string');
      expect(String(r['reason']).length).toBeGreaterThan(10);
    }
    expect(String(recs[3]!['reason'])).toContain('Foo');

    // The manifest's load record says the same.
    const load = Lake.open(lake).manifest.loads.at(-1)!;
    expect(load.quarantined).toBe(5);
    expect(load.quarantineFile).toBe(summary.quarantineFile);
  });
});

describe('a load that cannot read its input', () => {
  it('is an error and changes nothing (manifest and files as before)', async () => {
    const { dir, lake } = fresh();
    const good = writeNdjson(path.join(dir, 'good.ndjson'), [
      { resourceType: 'Patient', id: 'a', gender: 'male' },
    ]);
    await loadIntoLake(lake, [good]);
    const manifestBefore = readFileSync(path.join(lake, 'manifest.json'), 'utf8');
    const filesBefore = listFiles(lake);

    const missing = path.join(dir, 'does-not-exist.ndjson');
    const other = writeNdjson(path.join(dir, 'other.ndjson'), [
      { resourceType: 'Patient', id: 'b', gender: 'female' },
    ]);
    const err = await loadIntoLake(lake, [other, missing]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestSourceError);
    expect((err as IngestSourceError).code).toBe('SOURCE_UNREADABLE');
    expect((err as Error).message).toContain(missing);

    expect(readFileSync(path.join(lake, 'manifest.json'), 'utf8')).toBe(manifestBefore);
    expect(listFiles(lake)).toEqual(filesBefore);
    expect(Lake.open(lake).info().resources).toEqual({ Patient: 1 });

    // Into a lake that does not exist yet: the lake is not even created.
    const newLake = path.join(dir, 'never-created');
    await expect(loadIntoLake(newLake, [missing])).rejects.toBeInstanceOf(IngestSourceError);
    expect(existsSync(newLake)).toBe(false);
  });
});

describe('resources without an id', () => {
  it('get a deterministic id; loading them again does not duplicate them', async () => {
    const { dir, lake } = fresh();
    const noId = { resourceType: 'Patient', gender: 'unknown', birthDate: '1999-09-09' };
    const f1 = writeNdjson(path.join(dir, 'first.ndjson'), [
      noId,
      { resourceType: 'Patient', id: 'has-id', gender: 'male' },
    ]);
    const s1 = await loadIntoLake(lake, [f1]);
    expect(s1.derivedIds).toBe(1);
    expect(s1.added).toBe(2);
    const ids1 = (await queryLake(lake, `SELECT id FROM fhir."Patient" ORDER BY id`)).map((r) =>
      String(r['id']),
    );
    expect(ids1).toHaveLength(2);
    const derived = ids1.find((i) => i !== 'has-id')!;
    expect(derived).toMatch(FHIR_ID);
    // The row under the derived id is the resource that had none.
    const idEl = await queryLake(
      lake,
      `SELECT "birthDate"->>'$' AS b FROM fhir."Patient" WHERE id = '${derived}'`,
    );
    expect(idEl.map((r) => r['b'])).toEqual(['1999-09-09']);

    // The same content from another file: same id, nothing new.
    const f2 = writeNdjson(path.join(dir, 'second.ndjson'), [noId]);
    const s2 = await loadIntoLake(lake, [f2]);
    expect(s2.derivedIds).toBe(1);
    expect(s2.added).toBe(0);
    expect(s2.unchanged).toBe(1);
    const ids2 = (await queryLake(lake, `SELECT id FROM fhir."Patient" ORDER BY id`)).map((r) =>
      String(r['id']),
    );
    expect(ids2).toEqual(ids1);
    expect(Lake.open(lake).manifest.loads.map((l) => l.derivedIds)).toEqual([1, 1]);
  });
});

describe('materialised views', () => {
  let lake = '';
  let patients = 0;
  let view: unknown;
  beforeAll(async () => {
    const c = fresh();
    lake = c.lake;
    const gen = await generateBenchData({
      outDir: path.join(c.dir, 'data'),
      resources: 1000,
      seed: 5,
    });
    await loadIntoLake(lake, [path.join(c.dir, 'data')]);
    patients = gen.counts['Patient']!;
    view = JSON.parse(readFileSync(PATIENT_VIEW, 'utf8'));
  });

  it('stores the patient view as a table that SQL can count', async () => {
    expect(patients).toBeGreaterThan(0);
    const results = await materializeViews(lake, [{ view, source: PATIENT_VIEW }]);
    expect(results).toHaveLength(1);
    expect(results[0]!.name).toBe('patient');
    expect(results[0]!.rows).toBe(patients);
    expect(existsSync(results[0]!.path)).toBe(true);
    expect(Lake.open(lake).info().views['patient']?.rows).toBe(patients);

    const rows = await queryLake(lake, 'SELECT count(*) AS n FROM patient');
    expect(Number(rows[0]!['n'])).toBe(patients);
    const cols = await queryLake(lake, 'SELECT * FROM patient LIMIT 1');
    expect(Object.keys(cols[0]!)).toContain('birth_date');
  });

  it('leaves the resource tables intact: views over Patient still run after materialising "patient"', async () => {
    // DuckDB identifiers are case-insensitive: resource tables live in schema fhir so a view
    // named "patient" cannot shadow fhir."Patient".
    if (Lake.open(lake).info().views['patient'] === undefined)
      await materializeViews(lake, [{ view, source: PATIENT_VIEW }]);
    const session = await LakeSession.open(lake);
    try {
      const raw = await session.sql(
        `SELECT count(*) AS n FROM fhir."Patient" WHERE "birthDate" IS NOT NULL`,
      );
      expect(Number(raw.rows[0]!['n'])).toBe(patients);
      const run = await runView(view, { engine: session.engine, columnsOf: session.columnsOf });
      expect(run.rows).toHaveLength(patients);
    } finally {
      await session.close();
    }
  });
});
