/**
 * Source tables (see TableRow in ingest/convert.ts): rows a converter keeps in the lake as
 * they were in the source, e.g. SDTM datasets. Staged as NDJSON per (table, partition),
 * then written to Parquet under data/tables/<table>/ at the merge, where a load's
 * partition replaces the same partition of earlier loads.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { TableRow } from '../ingest/convert.js';

export type TableColumnType = 'VARCHAR' | 'DOUBLE';

export interface StagedTable {
  readonly table: string;
  readonly partition: string;
  readonly files: string[];
  readonly rows: number;
  /** Columns in order of first appearance; DOUBLE when every value seen was a number. */
  readonly columns: [string, TableColumnType][];
}

const TABLE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

export function partitionKey(partition: string): string {
  return createHash('sha256').update(partition).digest('hex').slice(0, 16);
}

export class TableStager {
  readonly #dir: string;
  readonly #worker: number;
  readonly #open = new Map<
    string,
    {
      table: string;
      partition: string;
      file: string;
      out: WriteStream;
      rows: number;
      cols: Map<string, { num: boolean; str: boolean }>;
    }
  >();

  constructor(dir: string, worker: number) {
    this.#dir = dir;
    this.#worker = worker;
  }

  async add(row: TableRow): Promise<void> {
    if (!TABLE_NAME.test(row.table)) throw new Error(`bad source table name ${row.table}`);
    const key = `${row.table}\x1f${row.partition}`;
    let t = this.#open.get(key);
    if (t === undefined) {
      const file = path.join(
        this.#dir,
        `table-${row.table}-${partitionKey(row.partition)}-w${this.#worker}.ndjson`,
      );
      const out = createWriteStream(file);
      out.on('error', () => undefined); // reported by the write below
      t = { table: row.table, partition: row.partition, file, out, rows: 0, cols: new Map() };
      this.#open.set(key, t);
    }
    for (const [k, v] of Object.entries(row.values)) {
      let c = t.cols.get(k);
      if (c === undefined) t.cols.set(k, (c = { num: false, str: false }));
      if (typeof v === 'number') c.num = true;
      else if (typeof v === 'string') c.str = true;
    }
    t.rows++;
    if (t.out.errored !== null) throw t.out.errored;
    if (!t.out.write(JSON.stringify(row.values) + '\n'))
      await new Promise<void>((res) => t.out.once('drain', () => res()));
  }

  async close(): Promise<StagedTable[]> {
    const out: StagedTable[] = [];
    for (const t of this.#open.values()) {
      await new Promise<void>((res, rej) => t.out.end((e?: Error | null) => (e ? rej(e) : res())));
      out.push({
        table: t.table,
        partition: t.partition,
        files: [t.file],
        rows: t.rows,
        columns: [...t.cols].map(([n, c]) => [n, c.str || !c.num ? 'VARCHAR' : 'DOUBLE']),
      });
    }
    return out;
  }
}
