/**
 * The query commands on every test engine, over one lake: `view run` gives the same rows
 * as on DuckDB, `view materialize` writes a table both engines read, `sql` errors carry
 * the SQL position. Spark runs when MEDLAKE_TEST_ENGINES includes it (see engines.ts).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBenchData } from '../bench/generate-data.js';
import { loadIntoLake } from '../src/index.js';
import { synthesize } from '../src/synth/index.js';
import {
  makeTempDir,
  removeDir,
  REPO_ROOT,
  runCli,
  type CliResult,
} from './helpers/lake-test-utils.js';
import { skippedEngines, testEngines } from './engines.js';

const VIEWS_DIR = path.join(REPO_ROOT, 'examples/views');
const VIEWS = readdirSync(VIEWS_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

let tmp = '';
let lake = '';
let data = '';
/** Rows of every example view on DuckDB, the reference. */
const reference = new Map<string, unknown[]>();

function engineArgs(engine: string): string[] {
  return engine === 'spark'
    ? ['--engine', 'spark', '--spark', process.env['MEDLAKE_SPARK_URL']!]
    : ['--engine', engine];
}

function ndjson(r: CliResult): unknown[] {
  if (r.code !== 0) throw new Error(`exit ${String(r.code)}: ${r.stderr.slice(0, 2000)}`);
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);
}

/** `medlake view run VIEW --format ndjson` over a lake, rows parsed. */
async function viewRun(view: string, lakeDir: string, ...extra: string[]): Promise<unknown[]> {
  return ndjson(
    await runCli([
      'view',
      'run',
      path.join(VIEWS_DIR, view),
      '--lake',
      lakeDir,
      '--format',
      'ndjson',
      ...extra,
    ]),
  );
}

/** Row order is not part of a view's result. */
function sorted(rows: unknown[]): string[] {
  return rows.map((r) => JSON.stringify(r, Object.keys(r as object).sort())).sort();
}

beforeAll(async () => {
  tmp = makeTempDir('engine-cli');
  lake = path.join(tmp, 'lake');
  data = path.join(tmp, 'data');
  await generateBenchData({ outDir: data, resources: 400, seed: 11 });
  await loadIntoLake(lake, [data]);
  for (const v of VIEWS) {
    reference.set(v, await viewRun(v, lake));
  }
}, 120_000);

afterAll(() => removeDir(tmp));

let sdtmLakeDir: Promise<string> | undefined;
/** A lake with the generator's SDTM datasets loaded (made once, on first use). */
function sdtmLakeOnce(): Promise<string> {
  sdtmLakeDir ??= (async () => {
    const out = path.join(tmp, 'sdtm-out');
    await synthesize({ patients: 1500, seed: 5, outDir: out, formats: ['sdtm'] });
    const dir = path.join(tmp, 'sdtm-lake');
    await loadIntoLake(dir, [path.join(out, 'sdtm')]);
    return dir;
  })();
  return sdtmLakeDir;
}

describe.each(testEngines())('query commands on %s', (engine) => {
  it.each(VIEWS)(
    'view run %s gives the rows DuckDB gives',
    async (v) => {
      const rows = await viewRun(v, lake, ...engineArgs(engine));
      expect(rows.length).toBeGreaterThan(0);
      expect(sorted(rows)).toEqual(sorted(reference.get(v)!));
    },
    120_000,
  );

  it('materialises a view that the other engine reads from the same lake', async () => {
    const view = JSON.parse(readFileSync(path.join(VIEWS_DIR, 'patient.json'), 'utf8')) as {
      name?: string;
    };
    const name = `patient_${engine}`;
    const file = path.join(tmp, `${name}.json`);
    writeFileSync(file, JSON.stringify({ ...view, name }));
    const m = await runCli(['view', 'materialize', file, '--lake', lake, ...engineArgs(engine)]);
    expect(m.code, m.stderr).toBe(0);
    const expected = reference.get('patient.json')!.length;
    expect(m.stdout).toContain(`${name}: ${expected} rows`);
    for (const other of ['duckdb', engine]) {
      const q = await runCli([
        'sql',
        `SELECT count(*) AS n FROM ${name}`,
        '--lake',
        lake,
        '--format',
        'ndjson',
        ...engineArgs(other),
      ]);
      expect(ndjson(q)).toEqual([{ n: expected }]);
    }
  }, 180_000);

  it('ingests with this engine into a lake the example views read the same', async () => {
    const own = path.join(tmp, `lake-${engine}`);
    const r = await runCli(['ingest', data, '--lake', own, '--json', ...engineArgs(engine)]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { added: number; quarantined: number };
    expect(summary.quarantined).toBe(0);
    for (const v of ['patient.json', 'observation.json']) {
      const rows = await viewRun(v, own);
      expect(sorted(rows)).toEqual(sorted(reference.get(v)!));
    }
  }, 180_000);

  it('queries source tables (SDTM datasets) as DuckDB does', async () => {
    const sdtmLake = await sdtmLakeOnce();
    const sql = 'SELECT ARM, count(*) AS n, sum(AGE) AS age FROM sdtm_dm GROUP BY ARM ORDER BY ARM';
    const rows = ndjson(
      await runCli(['sql', sql, '--lake', sdtmLake, '--format', 'ndjson', ...engineArgs(engine)]),
    );
    const ref = ndjson(
      await runCli(['sql', sql, '--lake', sdtmLake, '--format', 'ndjson', '--engine', 'duckdb']),
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows).toEqual(ref);
  }, 180_000);

  it('reports a SQL error with its position', async () => {
    const r = await runCli([
      'sql',
      'SELECT nosuchcolumn FROM patient_duckdb_missing',
      '--lake',
      lake,
      ...engineArgs(engine),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/patient_duckdb_missing/);
    if (engine === 'spark') expect(r.stderr).toMatch(/position \d+/);
  }, 60_000);
});

for (const { name, reason } of skippedEngines()) {
  describe.skip(`query commands on ${name} (skipped: ${reason})`, () => {
    it('runs view run, view materialize and sql', () => {});
  });
}
