/**
 * The `medlake` command line, run as child processes from source: exit codes, JSON
 * summaries, output formats, view errors, compile-only SQL, validate, materialize + sql.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBenchData } from '../bench/generate-data.js';
import type { GenerateBenchResult } from '../bench/generate-data.js';
import { DuckDBEngine } from '../src/index.js';
import {
  PATIENT_VIEW,
  makeTempDir,
  removeDir,
  runCli,
  writeNdjson,
} from './helpers/lake-test-utils.js';
import type { CliResult } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

let tmp = '';
let lake = '';
let dataDir = '';
let gen: GenerateBenchResult;
/** Patient id → all name.given values, flattened, as in the source. */
const givenById = new Map<string, string[]>();
let patientColumns: string[] = [];

function parseJson(text: string): unknown {
  return JSON.parse(text) as unknown;
}

function ndjsonRows(stdout: string): Json[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => parseJson(l) as Json);
}

function describeRun(r: CliResult): string {
  return `exit ${String(r.code)}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`;
}

beforeAll(async () => {
  tmp = makeTempDir('cli');
  lake = path.join(tmp, 'lake');
  dataDir = path.join(tmp, 'data');
  gen = await generateBenchData({ outDir: dataDir, resources: 600, seed: 3 });
  for (const line of readFileSync(path.join(dataDir, 'Patient.ndjson'), 'utf8').split('\n')) {
    if (line === '') continue;
    const p = parseJson(line) as { id: string; name?: Array<{ given?: string[] }> };
    givenById.set(
      p.id,
      (p.name ?? []).flatMap((n) => n.given ?? []),
    );
  }
  const view = parseJson(readFileSync(PATIENT_VIEW, 'utf8')) as {
    select: Array<{ column: Array<{ name: string }> }>;
  };
  patientColumns = view.select.flatMap((s) => s.column.map((c) => c.name));
});
afterAll(() => removeDir(tmp));

const patients = (): number => gen.counts['Patient']!;

describe('medlake ingest', () => {
  it('exits 0 with an "ok" JSON summary when nothing is quarantined', async () => {
    const r = await runCli(['ingest', dataDir, '--lake', lake, '--json']);
    expect(r.code, describeRun(r)).toBe(0);
    const s = parseJson(r.stdout) as Json;
    const total = Object.values(gen.counts).reduce((a, b) => a + b, 0);
    expect(s['status']).toBe('ok');
    expect(s['read']).toBe(total);
    expect(s['added']).toBe(total);
    expect(s['quarantined']).toBe(0);
    expect(s['loadId']).toBe(1);
  });

  it('exits 3 ("partial") with the quarantine count when records were quarantined', async () => {
    const file = writeNdjson(path.join(tmp, 'partial.ndjson'), [
      { resourceType: 'Organization', id: 'cli-org', name: 'Good' },
      '{"resourceType": "Patient", "id": ',
      { resourceType: 'NotAType', id: 'x' },
    ]);
    const r = await runCli(['ingest', file, '--lake', lake, '--json']);
    expect(r.code, describeRun(r)).toBe(3);
    const s = parseJson(r.stdout) as Json;
    expect(s['status']).toBe('partial');
    expect(s['read']).toBe(1);
    expect(s['quarantined']).toBe(2);
    expect(typeof s['quarantineFile']).toBe('string');
    expect(existsSync(path.join(lake, String(s['quarantineFile'])))).toBe(true);
  });

  it('fails on an unreadable path with a clear message and leaves the lake as it was', async () => {
    const manifestBefore = readFileSync(path.join(lake, 'manifest.json'), 'utf8');
    const missing = path.join(tmp, 'no-such-folder');
    const r = await runCli(['ingest', dataDir, missing, '--lake', lake, '--json']);
    expect([1, 2], describeRun(r)).toContain(r.code);
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toMatch(/does not exist/);
    expect(r.stdout).toBe('');
    expect(readFileSync(path.join(lake, 'manifest.json'), 'utf8')).toBe(manifestBefore);
  });
});

describe('medlake lake info', () => {
  it('--json gives resources (type → count) and quarantined', async () => {
    const r = await runCli(['lake', 'info', '--lake', lake, '--json']);
    expect(r.code, describeRun(r)).toBe(0);
    const info = parseJson(r.stdout) as Json;
    const expected: Record<string, number> = { Organization: 1 };
    for (const [t, n] of Object.entries(gen.counts)) if (n > 0) expected[t] = n;
    expect(info['resources']).toEqual(expected);
    expect(info['quarantined']).toBe(2);
    expect(info['commit']).toBe(2);
  });
});

describe('medlake view run', () => {
  it('--format ndjson: one object per line with exactly the view columns', async () => {
    const r = await runCli(['view', 'run', PATIENT_VIEW, '--lake', lake, '--format', 'ndjson']);
    expect(r.code, describeRun(r)).toBe(0);
    const rows = ndjsonRows(r.stdout);
    expect(rows).toHaveLength(patients());
    for (const row of rows) expect(Object.keys(row)).toEqual(patientColumns);
    expect(new Set(rows.map((row) => row['id']))).toEqual(new Set(givenById.keys()));
    for (const row of rows) expect(['male', 'female', 'other', 'unknown']).toContain(row['gender']);
  });

  it('--format csv: a header row, then one row per patient', async () => {
    const r = await runCli(['view', 'run', PATIENT_VIEW, '--lake', lake, '--format', 'csv']);
    expect(r.code, describeRun(r)).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    expect(lines[0]).toBe(patientColumns.join(','));
    expect(lines).toHaveLength(patients() + 1);
  });

  it('--format json: a JSON array', async () => {
    const r = await runCli(['view', 'run', PATIENT_VIEW, '--lake', lake, '--format', 'json']);
    expect(r.code, describeRun(r)).toBe(0);
    const rows = parseJson(r.stdout);
    expect(Array.isArray(rows)).toBe(true);
    expect(rows as unknown[]).toHaveLength(patients());
    expect(Object.keys((rows as Json[])[0]!)).toEqual(patientColumns);
  });

  it('--format parquet --out: a file DuckDB reads with the same row count', async () => {
    const out = path.join(tmp, 'patients.parquet');
    const r = await runCli([
      'view',
      'run',
      PATIENT_VIEW,
      '--lake',
      lake,
      '--format',
      'parquet',
      '--out',
      out,
    ]);
    expect(r.code, describeRun(r)).toBe(0);
    expect(existsSync(out)).toBe(true);
    const engine = await DuckDBEngine.create({});
    try {
      const q = engine.dialect.quoteString(out);
      const n = await engine.query(`SELECT count(*) AS n FROM read_parquet(${q})`);
      expect(Number(n.rows[0]!['n'])).toBe(patients());
      const cols = await engine.query(`DESCRIBE SELECT * FROM read_parquet(${q})`);
      expect(cols.rows.map((c) => c['column_name'])).toEqual(patientColumns);
    } finally {
      await engine.close();
    }
  });

  it('--limit 2 gives 2 rows', async () => {
    const r = await runCli([
      'view',
      'run',
      PATIENT_VIEW,
      '--lake',
      lake,
      '--format',
      'ndjson',
      '--limit',
      '2',
    ]);
    expect(r.code, describeRun(r)).toBe(0);
    expect(ndjsonRows(r.stdout)).toHaveLength(2);
  });

  it('collection columns are arrays ([] when empty); other columns are null when empty', async () => {
    const view = path.join(tmp, 'given.json');
    writeFileSync(
      view,
      JSON.stringify({
        resourceType: 'ViewDefinition',
        resource: 'Patient',
        status: 'active',
        select: [
          {
            column: [
              { name: 'id', path: 'getResourceKey()' },
              { name: 'given', path: 'name.given', collection: true },
              { name: 'nick', path: "name.where(use = 'nickname').given", collection: true },
              { name: 'nick_first', path: "name.where(use = 'nickname').given.first()" },
              { name: 'family', path: 'name.family.first()' },
            ],
          },
        ],
      }),
    );
    const r = await runCli(['view', 'run', view, '--lake', lake, '--format', 'ndjson']);
    expect(r.code, describeRun(r)).toBe(0);
    const rows = ndjsonRows(r.stdout);
    expect(rows).toHaveLength(patients());
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(['id', 'given', 'nick', 'nick_first', 'family']);
      expect(row['given']).toEqual(givenById.get(String(row['id'])));
      expect(row['nick']).toEqual([]);
      expect(row['nick_first']).toBeNull();
      expect(typeof row['family']).toBe('string');
    }
  });
});

describe('view errors', () => {
  const writeView = (name: string, view: unknown): string => {
    const f = path.join(tmp, name);
    writeFileSync(f, JSON.stringify(view));
    return f;
  };

  // Each bad view exits nonzero, names the JSON path of the problem on stderr, prints nothing.
  const BAD_VIEWS: ReadonlyArray<readonly [string, object, readonly string[]]> = [
    [
      'a view without "resource"',
      { select: [{ column: [{ name: 'id', path: 'id' }] }] },
      ['$.resource'],
    ],
    [
      'a FHIRPath syntax error',
      { resource: 'Patient', select: [{ column: [{ name: 'id', path: "name.where(use = 'x'" }] }] },
      ['$.select[0].column[0].path'],
    ],
    [
      'an unknown FHIRPath function',
      {
        resource: 'Patient',
        select: [
          {
            column: [
              { name: 'id', path: 'id' },
              { name: 'x', path: 'name.noSuchFunction()' },
            ],
          },
        ],
      },
      ['noSuchFunction', '$.select[0].column[1].path'],
    ],
  ];

  it.each(BAD_VIEWS.map(([name, view, messages], i) => [name, view, messages, i] as const))(
    '%s: exits nonzero, names the JSON path on stderr, prints nothing',
    async (_name, view, messages, i) => {
      const f = writeView(`bad-${i}.json`, {
        resourceType: 'ViewDefinition',
        status: 'active',
        ...view,
      });
      const r = await runCli(['view', 'run', f, '--lake', lake, '--format', 'ndjson']);
      expect(r.code, describeRun(r)).not.toBe(0);
      for (const m of messages) expect(r.stderr).toContain(m);
      expect(r.stdout).toBe('');
    },
  );
});

describe('medlake view sql (no database)', () => {
  const noLake = (): string => path.join(tmp, 'no-lake-here');

  it('prints the SQL without a lake', async () => {
    const r = await runCli(['view', 'sql', PATIENT_VIEW], {
      env: { MEDLAKE_LAKE: noLake() },
      cwd: tmp,
    });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toMatch(/^SELECT /);
    expect(r.stdout).toContain('FROM fhir."Patient"');
    expect(r.stdout).toContain('"birth_date"');
    expect(existsSync(noLake())).toBe(false);
    expect(existsSync(path.join(tmp, 'medlake-data'))).toBe(false);
  });

  it('--dialect duckdb prints the same SQL', async () => {
    const plain = await runCli(['view', 'sql', PATIENT_VIEW], { env: { MEDLAKE_LAKE: noLake() } });
    const r = await runCli(['view', 'sql', PATIENT_VIEW, '--dialect', 'duckdb'], {
      env: { MEDLAKE_LAKE: noLake() },
    });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toBe(plain.stdout);
  });

  it('an unknown dialect exits nonzero and says so', async () => {
    const r = await runCli(['view', 'sql', PATIENT_VIEW, '--dialect', 'nosuchdialect']);
    expect(r.code, describeRun(r)).not.toBe(0);
    expect(r.stderr).toContain('nosuchdialect');
    expect(r.stdout).toBe('');
  });
});

describe('medlake view validate', () => {
  it('exits nonzero when any view is bad and names the bad file on stderr', async () => {
    const bad = path.join(tmp, 'invalid-view.json');
    writeFileSync(bad, JSON.stringify({ resourceType: 'ViewDefinition', status: 'active' }));
    const r = await runCli(['view', 'validate', PATIENT_VIEW, bad]);
    expect(r.code, describeRun(r)).not.toBe(0);
    expect(r.stderr).toContain(bad);
    expect(r.stderr).not.toContain(PATIENT_VIEW);
    expect(r.stdout).toContain(`${PATIENT_VIEW}: ok`);
    expect(r.stdout).not.toContain(bad);
  });

  it('exits 0 when every view is good', async () => {
    const r = await runCli(['view', 'validate', PATIENT_VIEW]);
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('medlake view materialize + sql', () => {
  it('materialises the patient view and sql counts its rows', async () => {
    const m = await runCli(['view', 'materialize', PATIENT_VIEW, '--lake', lake]);
    expect(m.code, describeRun(m)).toBe(0);
    expect(m.stdout).toContain(`patient: ${patients()} rows`);

    const r = await runCli([
      'sql',
      'SELECT count(*) AS n FROM patient',
      '--lake',
      lake,
      '--format',
      'json',
    ]);
    expect(r.code, describeRun(r)).toBe(0);
    const rows = parseJson(r.stdout) as Json[];
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]!['n'])).toBe(patients());
  });

  it('after materialising, the patient view still runs over the Patient resources', async () => {
    const r = await runCli(['view', 'run', PATIENT_VIEW, '--lake', lake, '--format', 'ndjson']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(ndjsonRows(r.stdout)).toHaveLength(patients());
  });
});
