/**
 * Runs the official SQL-on-FHIR v2 conformance suite (../shared/sql-on-fhir-tests) on an
 * engine and produces results in the official test-report format. Test resources are
 * loaded into tables with the lake's layout, read losslessly so decimals keep their
 * written precision.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine } from '../../src/engine/duckdb-engine.js';
import type { Engine } from '../../src/engine/engine.js';
import { createEngine, type EngineName } from '../engines.js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { StagingWriter } from '../../src/lake/layout.js';
import {
  parseLossless,
  splitTopLevel,
  stringifyLossless,
  type LosslessValue,
} from '../../src/ingest/raw-json.js';
import type { ParsedResource } from '../../src/ingest/types.js';
import { runView } from '../../src/views/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SUITE_DIR = path.resolve(here, '../../../shared/sql-on-fhir-tests');
export const suiteAvailable = existsSync(SUITE_DIR);

export interface SuiteCase {
  readonly title: string;
  readonly view: unknown;
  readonly expect?: unknown[];
  readonly expectError?: boolean;
  readonly expectColumns?: string[];
  readonly tags?: string[];
}

export interface SuiteFile {
  readonly file: string;
  readonly title: string;
  readonly resources: ParsedResource[];
  readonly tests: SuiteCase[];
}

export interface CaseResult {
  readonly passed: boolean;
  readonly reason?: string;
}

function toResource(value: LosslessValue, i: number, file: string): ParsedResource {
  const text = stringifyLossless(value);
  const fields = splitTopLevel(text).filter(([k]) => k !== 'resourceType');
  const obj = JSON.parse(text) as { resourceType: string; id?: string };
  return {
    kind: 'resource',
    resourceType: obj.resourceType,
    id: obj.id ?? `generated-${i}`,
    idDerived: obj.id === undefined,
    versionId: null,
    lastUpdated: null,
    fields,
    source: { file, line: 1, entry: i },
  };
}

export function loadSuite(): SuiteFile[] {
  return readdirSync(SUITE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(path.join(SUITE_DIR, file), 'utf8');
      const raw = parseLossless(text) as Map<string, LosslessValue>;
      const parsed = JSON.parse(text) as { title: string; tests: SuiteCase[] };
      const resources = ((raw.get('resources') as LosslessValue[] | undefined) ?? []).map((r, i) =>
        toResource(r, i, file),
      );
      return { file, title: parsed.title, resources, tests: parsed.tests };
    });
}

/** Resources given as JSON text (an array), read losslessly like the suite's files. */
export function resourcesFromJson(text: string, file = 'inline.json'): ParsedResource[] {
  return (parseLossless(text) as LosslessValue[]).map((r, i) => toResource(r, i, file));
}

/**
 * Loads a file's resources into a fresh engine, one table per resource type. DuckDB
 * creates tables from the staged rows; other engines read the same rows as Parquet files
 * written by DuckDB, as they read a lake.
 */
export async function engineFor(
  suite: SuiteFile,
  engineName: EngineName = 'duckdb',
): Promise<{
  engine: Engine;
  columnsOf: (t: string) => ReadonlySet<string> | undefined;
  close: () => Promise<void>;
}> {
  const engine = await createEngine(engineName);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'medlake-sof-'));
  const writers = new Map<string, StagingWriter>();
  let seq = 0;
  for (const r of suite.resources) {
    let w = writers.get(r.resourceType);
    if (w === undefined) {
      w = new StagingWriter(dir, r.resourceType);
      writers.set(r.resourceType, w);
    }
    await w.add({ resource: r, load: 1, seq: seq++ });
  }
  const writer = engineName === 'duckdb' ? engine : await DuckDBEngine.create();
  const d = engine.dialect;
  for (const sql of d.sqlSessionSetup()) await engine.exec(sql);
  for (const [type, w] of writers) {
    await w.close();
    const q = (x: string): string => writer.dialect.quoteString(x);
    const rows = `SELECT ${w.selectLakeColumns()} FROM ${w.stagedRows(q)}`;
    if (engine === writer) {
      await engine.exec(`CREATE TABLE ${d.sqlResourceTable(type)} AS ${rows}`);
    } else {
      const file = path.join(dir, `${type}.parquet`);
      await writer.copyToParquet(rows, file);
      await engine.exec(
        d.sqlCreateView(d.sqlResourceTable(type), `SELECT * FROM ${d.sqlParquetScan([file])}`),
      );
    }
  }
  if (writer !== engine) await writer.close();
  const columnsOf = (t: string): ReadonlySet<string> => {
    const w = writers.get(t);
    return new Set(['id', ...(w?.elementColumns ?? [])]);
  };
  const close = async (): Promise<void> => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { engine, columnsOf, close };
}

export async function runCase(
  engine: Engine,
  columnsOf: (t: string) => ReadonlySet<string> | undefined,
  test: SuiteCase,
  unionAll: 'auto' | 'rows' = 'auto',
): Promise<CaseResult> {
  let rows: Record<string, unknown>[];
  let columns: string[];
  try {
    const result = await runView(test.view, { engine, columnsOf, unionAll });
    rows = result.rows;
    columns = result.compiled.columns.map((c) => c.name);
  } catch (err) {
    if (test.expectError === true) return { passed: true };
    return { passed: false, reason: `error: ${(err as Error).message}` };
  }
  if (test.expectError === true)
    return { passed: false, reason: `expected an error, got ${rows.length} rows` };
  if (
    test.expectColumns !== undefined &&
    JSON.stringify(columns) !== JSON.stringify(test.expectColumns)
  ) {
    return {
      passed: false,
      reason: `columns ${JSON.stringify(columns)} != expected ${JSON.stringify(test.expectColumns)}`,
    };
  }
  const expected = (test.expect ?? []) as Record<string, unknown>[];
  const problem = compareRows(rows, expected);
  return problem === null ? { passed: true } : { passed: false, reason: problem };
}

/** Row order is not significant; every expected column must match, nulls included. */
export function compareRows(
  actual: Record<string, unknown>[],
  expected: Record<string, unknown>[],
): string | null {
  if (actual.length !== expected.length) {
    return `expected ${expected.length} rows, got ${actual.length}: ${JSON.stringify(actual).slice(0, 600)}`;
  }
  const remaining = actual.map((r) => canonical(r));
  for (const e of expected) {
    const key = canonical(e);
    const i = remaining.findIndex((r) => equalValues(r, key));
    if (i < 0)
      return `expected row ${JSON.stringify(e)} not found in ${JSON.stringify(actual).slice(0, 600)}`;
    remaining.splice(i, 1);
  }
  return null;
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v === undefined ? null : v;
}

function equalValues(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number')
    return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => equalValues(x, b[i]));
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return (
      ka.length === kb.length &&
      ka.every((k) =>
        equalValues((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
      )
    );
  }
  return a === b;
}

export type Report = Record<string, { tests: { name: string; result: CaseResult }[] }>;

export async function runSuite(
  onCase?: (file: string, test: SuiteCase, r: CaseResult) => void,
  engineName: EngineName = 'duckdb',
): Promise<Report> {
  const report: Report = {};
  for (const suite of loadSuite()) {
    const { engine, columnsOf, close } = await engineFor(suite, engineName);
    const tests: { name: string; result: CaseResult }[] = [];
    for (const t of suite.tests) {
      const result = await runCase(engine, columnsOf, t);
      onCase?.(suite.file, t, result);
      tests.push({ name: t.title, result });
    }
    report[suite.file] = { tests };
    await close();
  }
  return report;
}
