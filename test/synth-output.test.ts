/**
 * Where `medlake synth` puts its population: `--out` (NDJSON + Bulk Data manifest.json +
 * truth.json, which `medlake ingest OUT` loads with nothing quarantined) and `--lake`
 * (straight into a lake), which must hold the same resources as `--out` + ingest.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverSources } from '../src/ingest/fhir-json-reader.js';
import { makeTempDir, queryLake, removeDir, runCli } from './helpers/lake-test-utils.js';
import type { CliResult } from './helpers/lake-test-utils.js';

const ARGS = ['--patients', '300', '--seed', '7'];
let tmp: string;
let out: string;
let viaFiles: string;
let direct: string;
let ingest: CliResult;
let synthLake: CliResult;
/** Resource types the generator wrote, from its summary. */
let types: string[];

function ok(r: CliResult): void {
  expect(r.stderr, r.stderr).not.toMatch(/error/i);
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  tmp = makeTempDir('medlake-synth-output-');
  out = path.join(tmp, 'out');
  viaFiles = path.join(tmp, 'lake-files');
  direct = path.join(tmp, 'lake-direct');
  const [synthOut, lakeRun] = await Promise.all([
    // Other formats go to subfolders, which ingesting the export folder must not read.
    runCli(['synth', ...ARGS, '--out', out, '--formats', 'fhir-bundle,synthea-csv', '--json']),
    runCli(['synth', ...ARGS, '--lake', direct, '--json']),
  ]);
  ok(synthOut);
  types = Object.keys((JSON.parse(synthOut.stdout) as { resources: object }).resources);
  synthLake = lakeRun;
  ingest = await runCli(['ingest', out, '--lake', viaFiles, '--json']);
}, 60_000);

afterAll(() => removeDir(tmp));

const countsSql = (): string =>
  types.map((t) => `SELECT '${t}' AS resourceType, count(*) AS n FROM ${t}`).join(' UNION ALL ') +
  ' ORDER BY resourceType';

describe('medlake synth --out', () => {
  it('writes a Bulk Data manifest listing exactly the NDJSON files', async () => {
    const manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      transactionTime: string;
      output: { type: string; url: string; count: number }[];
    };
    expect(manifest.transactionTime).toBe('2025-12-31T23:59:59Z');
    const truth = JSON.parse(readFileSync(path.join(out, 'truth.json'), 'utf8')) as {
      resources: Record<string, number>;
    };
    for (const o of manifest.output) {
      expect(o.url).toBe(`${o.type}.ndjson`);
      const lines = readFileSync(path.join(out, o.url), 'utf8').split('\n').length - 1;
      expect(lines).toBe(o.count);
      expect(truth.resources[o.type]).toBe(o.count);
    }
    // Discovery of the folder follows the manifest; truth.json is not read as FHIR, nor the
    // fhir-bundle subfolder (the same resources again).
    expect(existsSync(path.join(out, 'fhir-bundle'))).toBe(true);
    const found = (await discoverSources([out])).map((f) => path.basename(f.path)).sort();
    expect(found).toEqual(manifest.output.map((o) => o.url).sort());
  });

  it('`medlake ingest OUT` loads every resource and quarantines nothing', () => {
    ok(ingest);
    const s = JSON.parse(ingest.stdout) as {
      quarantined: number;
      read: number;
      added: number;
      status: string;
    };
    expect(s.status).toBe('ok');
    expect(s.quarantined).toBe(0);
    expect(s.added).toBe(s.read);
  });
});

describe('medlake synth --lake', () => {
  it('commits one load and writes truth.json beside the lake manifest', () => {
    ok(synthLake);
    const s = JSON.parse(synthLake.stdout) as {
      resources: Record<string, number>;
      truthFile: string;
      load: { loadId: number; quarantined: number; added: number; sources: number };
    };
    expect(s.load.loadId).toBe(1);
    expect(s.load.quarantined).toBe(0);
    expect(s.load.sources).toBe(1);
    expect(s.load.added).toBe(Object.values(s.resources).reduce((a, b) => a + b, 0));
    expect(s.truthFile).toBe(path.join(direct, 'truth.json'));
    // Same seed, same truth, whichever way the resources went.
    expect(readFileSync(s.truthFile, 'utf8')).toBe(
      readFileSync(path.join(out, 'truth.json'), 'utf8'),
    );
    expect(existsSync(path.join(direct, 'data'))).toBe(true);
  });

  it('holds the same resources as --out + ingest', async () => {
    const [a, b] = await Promise.all([
      queryLake(direct, countsSql()),
      queryLake(viaFiles, countsSql()),
    ]);
    expect(a).toEqual(b);
    expect(a).toHaveLength(types.length);
    expect(a.find((r) => r['resourceType'] === 'Patient')?.['n']).toBe(300);
    // Content hashes cover every element's JSON text: equal hashes, equal resources.
    for (const type of types) {
      const sql = `SELECT count(*) AS n, count(DISTINCT "@hash") AS h,
        md5(string_agg(id || ':' || "@hash", ',' ORDER BY id)) AS digest FROM ${type}`;
      const [x, y] = await Promise.all([queryLake(direct, sql), queryLake(viaFiles, sql)]);
      expect(x, type).toEqual(y);
    }
    // And a sample of rows, element by element.
    const sample = `SELECT id, gender, birthDate, CAST(name AS VARCHAR) AS name,
      CAST(address AS VARCHAR) AS address FROM Patient ORDER BY id LIMIT 20`;
    const [p, q] = await Promise.all([queryLake(direct, sample), queryLake(viaFiles, sample)]);
    expect(p).toHaveLength(20);
    expect(p).toEqual(q);
    const obs = `SELECT id, CAST(code AS VARCHAR) AS code, CAST(subject AS VARCHAR) AS subject
      FROM Observation ORDER BY id LIMIT 50`;
    expect(await queryLake(direct, obs)).toEqual(await queryLake(viaFiles, obs));
  });

  it('refuses --out together with --lake', async () => {
    const r = await runCli(['synth', ...ARGS, '--out', out, '--lake', direct]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/either --out or --lake/);
  });
});
