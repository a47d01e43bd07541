/** Writing query rows as CSV, NDJSON, JSON or Parquet, streaming where the format allows. */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { DuckDBEngine } from '../engine/duckdb-engine.js';
import type { Engine, Row, RowStream } from '../engine/engine.js';

export const OUTPUT_FORMATS = ['csv', 'ndjson', 'json', 'parquet'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export class OutputError extends Error {
  readonly code = 'OUTPUT';
}

export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((res) => out.once('drain', () => res()));
}

/**
 * Writes rows to `outFile` (or stdout). Parquet needs the SQL, which the engine copies
 * straight to the file. Returns the number of rows written.
 */
export async function writeRows(options: {
  readonly format: OutputFormat;
  readonly outFile: string | undefined;
  readonly columns: readonly string[];
  readonly rows: () => Promise<RowStream>;
  readonly engine: Engine;
  readonly sql: string;
  readonly stdout?: Writable;
}): Promise<number> {
  const { format, outFile } = options;
  if (format === 'parquet') {
    if (outFile === undefined) throw new OutputError('--format parquet needs --out FILE');
    return options.engine.copyToParquet(options.sql, outFile);
  }
  const out: Writable =
    outFile === undefined ? (options.stdout ?? process.stdout) : createWriteStream(outFile);
  let n = 0;
  const stream = await options.rows();
  const cols = options.columns;
  const line = (row: Row): string => {
    const o: Record<string, unknown> = {};
    for (const c of cols) o[c] = row[c] ?? null;
    return JSON.stringify(o);
  };
  if (format === 'csv') await write(out, cols.map(csvCell).join(',') + '\n');
  if (format === 'json') await write(out, '[');
  for await (const batch of stream) {
    let chunk = '';
    for (const row of batch) {
      if (format === 'csv') chunk += cols.map((c) => csvCell(row[c])).join(',') + '\n';
      else if (format === 'ndjson') chunk += line(row) + '\n';
      else chunk += (n === 0 ? '\n' : ',\n') + line(row);
      n++;
    }
    await write(out, chunk);
  }
  if (format === 'json') await write(out, n === 0 ? ']\n' : '\n]\n');
  if (outFile !== undefined) {
    await new Promise<void>((res, rej) =>
      out.end((err?: Error | null) => (err ? rej(err) : res())),
    );
  }
  return n;
}

/** Rows (of one shape) as CSV text with a header; columns in the first row's key order. */
export function rowsToCsv(rows: readonly Record<string, unknown>[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (cols.length === 0) return '';
  return (
    [
      cols.map(csvCell).join(','),
      ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(',')),
    ].join('\n') + '\n'
  );
}

/**
 * Writes small result rows (an analysis' aggregated table) to a Parquet file through an
 * in-memory DuckDB, whatever engine computed them: numbers stay numbers (integer columns
 * INTEGER/BIGINT, others DOUBLE),
 * booleans BOOLEAN, objects JSON text. Returns the number of rows written.
 */
export async function writeRowsParquet(
  rows: readonly Record<string, unknown>[],
  outFile: string,
): Promise<number> {
  const engine = await DuckDBEngine.create({});
  try {
    const d = engine.dialect;
    const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const lit = (v: unknown): string =>
      v === null || v === undefined
        ? 'NULL'
        : typeof v === 'number'
          ? Number.isFinite(v)
            ? Number.isInteger(v)
              ? String(v)
              : `${v}::DOUBLE`
            : 'NULL'
          : typeof v === 'bigint'
            ? String(v)
            : typeof v === 'boolean'
              ? v
                ? 'TRUE'
                : 'FALSE'
              : d.quoteString(typeof v === 'object' ? JSON.stringify(v) : String(v));
    const sql =
      rows.length === 0 || cols.length === 0
        ? `SELECT 1 AS ${d.quoteIdent('empty')} WHERE FALSE`
        : `SELECT * FROM (VALUES ${rows.map((r) => `(${cols.map((c) => lit(r[c])).join(', ')})`).join(', ')}) AS t(${cols.map((c) => d.quoteIdent(c)).join(', ')})`;
    return await engine.copyToParquet(sql, outFile);
  } finally {
    await engine.close();
  }
}

/** Output formats of the analysis commands. */
export const ANALYSIS_FORMATS = ['json', 'csv', 'parquet'] as const;
export type AnalysisFormat = (typeof ANALYSIS_FORMATS)[number];

/**
 * Writes an analysis result: `json` the whole result (statistics, metadata), `csv` and
 * `parquet` its table of rows. To `out`, or stdout (not for parquet).
 */
export async function emitAnalysis(
  format: AnalysisFormat,
  out: string | undefined,
  result: unknown,
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  if (format === 'parquet') {
    if (out === undefined) throw new OutputError('--format parquet needs --out FILE');
    await writeRowsParquet(rows, out);
    return;
  }
  const text =
    format === 'csv'
      ? rowsToCsv(rows)
      : JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2) +
        '\n';
  if (out === undefined) process.stdout.write(text);
  else await writeFile(out, text);
}
