/** Writing query rows as CSV, NDJSON, JSON or Parquet, streaming where the format allows. */
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Engine, Row, RowStream } from '../engine/engine.js';

export const OUTPUT_FORMATS = ['csv', 'ndjson', 'json', 'parquet'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export class OutputError extends Error {
  readonly code = 'OUTPUT';
}

function csvCell(v: unknown): string {
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
