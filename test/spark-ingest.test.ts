/**
 * `ingest --engine spark` (src/lake/spark-load.ts) against the embedded load: the same
 * NDJSON gives the same counts, the same rows in every column (read back by DuckDB), the
 * same quarantine, and loads of either engine merge with lakes written by the other.
 * Runs on the Spark Connect server at MEDLAKE_SPARK_URL.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SparkEngine } from '../src/engine/spark/spark-engine.js';
import { IngestSourceError } from '../src/ingest/types.js';
import { Lake } from '../src/lake/lake.js';
import { loadIntoLake, type LoadSummary } from '../src/lake/load.js';
import { loadIntoLakeOnSpark } from '../src/lake/spark-load.js';
import { makeTempDir, queryLake, removeDir } from './helpers/lake-test-utils.js';

const url = process.env['MEDLAKE_SPARK_URL'] ?? '';

/** A small deterministic generator, so runs compare exactly. */
function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

function patient(i: number, version: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    resourceType: 'Patient',
    id: `p${i}`,
    meta: {
      versionId: version,
      lastUpdated: `2024-01-${String((i % 28) + 1).padStart(2, '0')}T10:00:00.5Z`,
    },
    gender: i % 2 === 0 ? 'female' : 'male',
    birthDate: `19${50 + (i % 50)}-0${(i % 9) + 1}-1${i % 10}`,
    name: [{ family: `M@u00fcller${i}`, given: ['Ana', `X${i}`] }],
    ...extra,
  }).replace('@u00fc', '\\u00fc'); // an escape as written in the source
}

/** Values as written: decimals with trailing zeros, exponents, escapes. */
function observation(i: number, r: () => number, patients: number): string {
  const value = (r() * 200).toFixed(2);
  return `{"resourceType":"Observation","id":"o${i}","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}],"text":"Body \\"height\\""},"subject":{"reference":"Patient/p${i % patients}"},"valueQuantity":{"value":${value.endsWith('0') ? value : `${value}0`},"unit":"cm"},"referenceRange":[{"low":{"value":1.50},"high":{"value":2e2}}]}`;
}

function deep(levels: number): string {
  let v = '"leaf"';
  for (let i = 0; i < levels; i++) v = `{"url":"u${i}","extension":[${v}]}`;
  return v;
}

interface Inputs {
  readonly first: string[];
  readonly second: string[];
}

/** Three files (one gzipped, one in another folder) for load 1, one file for load 2. */
function makeInputs(dir: string): Inputs {
  const r = rng(7);
  const a: string[] = [];
  for (let i = 0; i < 60; i++) a.push(patient(i, '1'));
  for (let i = 0; i < 150; i++) a.push(observation(i, r, 60));
  a.push(
    patient(5, '2', { gender: 'other' }), // newer duplicate: wins
    patient(6, '0', { gender: 'other' }), // older duplicate: superseded
    patient(7, '1'), // the same again
    '',
    '   ',
    'not json at all',
    '[1,2]',
    '"a string"',
    '{}',
    '{"id":"x1"}',
    '{"resourceType":"Patinet","id":"p9"}',
    '{"resourceType":"patient","id":"p10"}',
    '{"resourceType":"Patient","id":"bad id!"}',
    '{"resourceType":"Patient","id":123}',
    '{"resourceType":"Patient","id":"p1x","@oops":1}',
    '{"resourceType":"Patient","id":"t1","gender":"male"} trailing',
    "{'resourceType':'Patient','id':'sq'}",
    '{"resourceType":"Patient","id":"tabstr","gender":"ma\tle"}',
    '{"resourceType":"Observation","status":"final","code":{"text":"no id"}}',
    '{"resourceType":"Patient","id":"dup-keys","gender":"male","gender":"female"}',
    '{"resourceType":"Patient","id":"esc","g\\u0065nder":"male","birthDate":"2000"}',
    '{"resourceType":"Patient",\t"id":"tab-ws" ,\t"gender" : "female"\t}',
    '{ "resourceType" : "Patient" , "id" : "spaced" , "name" : [ { "family" : "S" } ] , "multipleBirthInteger" : 2 }',
    `{"resourceType":"Observation","id":"deep","status":"final","code":{"text":"d"},"extension":[${deep(30)}]}`,
    '{"resourceType":"Patient","id":"vnum","meta":{"versionId":3,"lastUpdated":"2024-02-01T00:00:00Z"}}',
    '{"resourceType":"Patient","id":"lu24","meta":{"versionId":"1","lastUpdated":"2020-01-01T24:00:00Z"}}',
    '{"resourceType":"Patient","id":"ludate","meta":{"lastUpdated":"2020-01-01"}}',
    '{"resourceType":"Patient","id":"lubad","meta":{"lastUpdated":"yesterday"}}',
    '{"resourceType":"Patient","id":"metaarr","meta":[{"versionId":"9"}]}',
    '{"resourceType":"Patient","id":"metadup","meta":{"versionId":"1","versionId":"4"}}',
    '{"resourceType":"Bundle","id":"b1","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"in-bundle"}}]}',
    '{"resourceType":"Patient","id":"uni","name":[{"text":"Zoë \\ud83d\\ude00 ✓"}]}',
  );
  const fileA = path.join(dir, 'in', 'a.ndjson');
  // A BOM at the start, a CRLF line and an invalid UTF-8 line.
  const body = Buffer.concat([
    Buffer.from('\ufeff' + a.join('\n') + '\n', 'utf8'),
    Buffer.from(patient(200, '1') + '\r\n', 'utf8'),
    Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d, 0x0a]),
  ]);
  writeFile(fileA, body);

  const b: string[] = [];
  for (let i = 0; i < 80; i++) {
    b.push(
      JSON.stringify({
        resourceType: 'Encounter',
        id: `e${i}`,
        status: 'finished',
        class: { code: 'AMB' },
        subject: { reference: `Patient/p${i % 60}` },
        period: { start: '2020-01-01T10:00:00+01:00' },
      }),
    );
  }
  for (let i = 0; i < 60; i++) {
    b.push(
      `{"resourceType":"Condition","id":"c${i}","meta":{"versionId":"${(i % 3) + 1}"},"code":{"text":"C${i}"},"subject":{"reference":"Patient/p${i}"},"onsetAge":{"value":${i}.0,"unit":"a"}}`,
    );
  }
  b.push('{"resourceType":"Condition","id":"c1","meta":{"versionId":"9"},"code":{"text":"C1 v9"}}');
  const fileB = path.join(dir, 'in', 'b.ndjson.gz');
  writeFile(fileB, gzipSync(b.join('\n') + '\n'));

  const c: string[] = [];
  for (let i = 150; i < 260; i++) c.push(observation(i, r, 60));
  // Same ids as in a.ndjson: later in load order, same version → the later one wins.
  for (let i = 0; i < 10; i++) c.push(observation(i, r, 60));
  const fileC = path.join(dir, 'in', 'sub dir', 'c,1.ndjson');
  writeFile(fileC, c.join('\n'));

  const d: string[] = [];
  for (let i = 0; i < 10; i++) d.push(patient(i, '2', { active: true })); // updated
  for (let i = 10; i < 15; i++) d.push(patient(i, '1').replace('10:00:00.5Z', '11:00:00Z')); // unchanged
  d.push(patient(16, '0', { active: false })); // older than the lake's: superseded
  for (let i = 100; i < 110; i++) d.push(patient(i, '1')); // added
  for (let i = 0; i < 20; i++)
    d.push(observation(i + 1000, r, 60).replace(`"o${i + 1000}"`, `"o${i}"`)); // no meta: newer load wins
  d.push('{"resourceType":"Observation","status":"final","code":{"text":"no id"}}'); // same derived id
  d.push('{"resourceType":"Patient","id":"new-tab",\t"gender":"male"}');
  d.push('broken');
  const fileD = path.join(dir, 'in2', 'd.ndjson');
  writeFile(fileD, d.join('\n') + '\n');
  return { first: [path.join(dir, 'in')], second: [fileD] };
}

function writeFile(file: string, data: string | Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
}

/** Every row of every type, all columns, as DuckDB reads the lake. */
async function lakeRows(lakeDir: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  const types = Object.keys(Lake.open(lakeDir).manifest.types).sort();
  for (const t of types) {
    const rows = await queryLake(lakeDir, `SELECT * FROM fhir."${t}" ORDER BY id`);
    out[t] = rows.map((row) => {
      // Columns in name order; JSON text compared as parsed values and as written.
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(row).sort()) {
        const v = row[k];
        sorted[k] = v;
        if (!k.startsWith('@') && k !== 'id' && typeof v === 'string')
          sorted[`${k} (parsed)`] = JSON.parse(v) as unknown;
      }
      return sorted;
    });
  }
  return out;
}

function quarantine(lakeDir: string, summary: LoadSummary): unknown[] {
  if (summary.quarantineFile === null) return [];
  return readFileSync(path.join(lakeDir, summary.quarantineFile), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { file: string; line: number })
    .sort((x, y) => (x.file === y.file ? x.line - y.line : x.file < y.file ? -1 : 1));
}

/** What must agree between two loads (durations and paths aside). */
function comparable(s: LoadSummary): unknown {
  return {
    loadId: s.loadId,
    sources: s.sources,
    bytes: s.bytes,
    resources: s.resources,
    read: s.read,
    added: s.added,
    updated: s.updated,
    unchanged: s.unchanged,
    superseded: s.superseded,
    quarantined: s.quarantined,
    derivedIds: s.derivedIds,
  };
}

function loadRecord(lakeDir: string, id: number): unknown {
  const l = Lake.open(lakeDir).manifest.loads.find((x) => x.id === id)!;
  return {
    sources: l.sources,
    counts: l.counts,
    quarantined: l.quarantined,
    derivedIds: l.derivedIds,
  };
}

if (url === '') {
  describe.skip('spark ingest (skipped: MEDLAKE_SPARK_URL not set)', () => {
    it('needs a Spark Connect server', () => undefined);
  });
} else {
  describe('spark ingest', () => {
    let dir = '';
    let engine: SparkEngine;
    let inputs: Inputs;
    const lake = (name: string): string => path.join(dir, name);
    const onSpark = (lakeDir: string, paths: readonly string[]): Promise<LoadSummary> =>
      loadIntoLakeOnSpark(lakeDir, paths, { engine });

    beforeAll(async () => {
      dir = makeTempDir('spark-ingest');
      inputs = makeInputs(dir);
      engine = await SparkEngine.connect(url);
      // Small splits, so that files are read in several parts and line numbers must be
      // pieced together across splits.
      await engine.exec('SET spark.sql.files.maxPartitionBytes=16384');
      await engine.exec('SET spark.sql.files.openCostInBytes=0');
      await engine.exec('SET spark.sql.shuffle.partitions=4');
    });
    afterAll(async () => {
      await engine?.close();
      removeDir(dir);
    });

    it('loads like the embedded engine: counts, rows, quarantine', async () => {
      const embedded = await loadIntoLake(lake('e1'), inputs.first);
      const spark = await onSpark(lake('s1'), inputs.first);
      expect(comparable(spark)).toEqual(comparable(embedded));
      expect(spark.quarantined).toBeGreaterThan(10);
      const codes = (quarantine(lake('s1'), spark) as { code: string }[]).map((r) => r.code);
      expect(new Set(codes)).toEqual(
        new Set([
          'not-json',
          'not-object',
          'no-resource-type',
          'unknown-resource-type',
          'bad-id',
          'bad-element',
        ]),
      );
      // a.ndjson was read in several splits (16 KB each), so lines were numbered across them.
      expect(statSync(path.join(dir, 'in', 'a.ndjson')).size).toBeGreaterThan(3 * 16384);
      expect(spark.derivedIds).toBe(1);
      expect(loadRecord(lake('s1'), 1)).toEqual(loadRecord(lake('e1'), 1));
      expect(quarantine(lake('s1'), spark)).toEqual(quarantine(lake('e1'), embedded));
      const rows = await lakeRows(lake('s1'));
      expect(rows).toEqual(await lakeRows(lake('e1')));
      expect(Object.keys(rows)).toEqual([
        'Bundle',
        'Condition',
        'Encounter',
        'Observation',
        'Patient',
      ]);
      // Spark wrote folders of part files; the manifest names the parts.
      const m = Lake.open(lake('s1')).manifest;
      expect(
        m.types['Observation']!.files.every((f) =>
          /^data\/Observation\/p-000001\/part-/.test(f.path),
        ),
      ).toBe(true);
      expect(m.types['Patient']!.columns).toEqual(
        Lake.open(lake('e1')).manifest.types['Patient']!.columns,
      );
    });

    it('merges with lakes the other engine wrote, both ways', async () => {
      // Reference: both loads embedded.
      await loadIntoLake(lake('ref'), inputs.first);
      const ref = await loadIntoLake(lake('ref'), inputs.second);
      expect(ref.updated).toBeGreaterThan(0);
      expect(ref.unchanged).toBeGreaterThan(0);
      expect(ref.superseded).toBeGreaterThan(0);
      const refRows = await lakeRows(lake('ref'));

      // Spark then DuckDB, DuckDB then Spark, Spark then Spark.
      await onSpark(lake('sd'), inputs.first);
      const sd = await loadIntoLake(lake('sd'), inputs.second);
      await loadIntoLake(lake('ds'), inputs.first);
      const ds = await onSpark(lake('ds'), inputs.second);
      await onSpark(lake('ss'), inputs.first);
      const ss = await onSpark(lake('ss'), inputs.second);
      for (const [name, s] of [
        ['sd', sd],
        ['ds', ds],
        ['ss', ss],
      ] as const) {
        expect(comparable(s), name).toEqual(comparable(ref));
        expect(quarantine(lake(name), s), name).toEqual(quarantine(lake('ref'), ref));
        expect(await lakeRows(lake(name)), name).toEqual(refRows);
      }

      // Loading the same files again changes no data and writes no file.
      const before = Lake.open(lake('ss')).manifest.types;
      const again = await onSpark(lake('ss'), inputs.second);
      expect(again.added + again.updated).toBe(0);
      expect(again.unchanged).toBe(ss.added + ss.updated + ss.unchanged);
      expect(Lake.open(lake('ss')).manifest.types).toEqual(before);
      const dAgain = await loadIntoLake(lake('ref'), inputs.second);
      expect(comparable(again)).toEqual({ ...(comparable(dAgain) as object), loadId: 3 });
    }, 120_000);

    it('loads an empty file as the embedded engine does', async () => {
      const empty = path.join(dir, 'empty', 'Patient.ndjson');
      writeFile(empty, '');
      const spark = await onSpark(lake('empty-s'), [empty]);
      const embedded = await loadIntoLake(lake('empty-e'), [empty]);
      expect(comparable(spark)).toEqual(comparable(embedded));
      expect(loadRecord(lake('empty-s'), 1)).toEqual(loadRecord(lake('empty-e'), 1));
    });

    it('refuses names Spark would skip', async () => {
      const hidden = path.join(dir, 'hidden', '_Patient.ndjson');
      writeFile(hidden, '{"resourceType":"Patient","id":"h"}\n');
      const err = await onSpark(lake('hidden'), [hidden]).catch((e: unknown) => e);
      expect((err as IngestSourceError).code).toBe('SOURCE_UNSUPPORTED');
      expect((err as Error).message).toContain('Rename it');
    });

    it('reports a .gz that is not gzip as the embedded engine does, and commits nothing', async () => {
      const bad = path.join(dir, 'badgz', 'Patient.ndjson.gz');
      writeFile(bad, '{"resourceType":"Patient","id":"g"}\n');
      const before = readFileSync(path.join(lake('s1'), 'manifest.json'), 'utf8');
      const err = await onSpark(lake('s1'), [bad]).catch((e: unknown) => e);
      expect((err as IngestSourceError).code).toBe('SOURCE_CORRUPT');
      expect((err as IngestSourceError).path).toBe(bad);
      expect(readFileSync(path.join(lake('s1'), 'manifest.json'), 'utf8')).toBe(before);
    });

    it('asks for the embedded engine for JSON documents', async () => {
      const doc = path.join(dir, 'doc', 'bundle.json');
      writeFile(doc, JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [] }));
      const err = await onSpark(lake('doc'), [doc]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IngestSourceError);
      expect((err as IngestSourceError).code).toBe('SOURCE_UNSUPPORTED');
      expect((err as Error).message).toContain('--engine duckdb');
    });
  });
}
