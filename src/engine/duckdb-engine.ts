import {
  DuckDBInstance,
  JSDuckDBValueConverter,
  type DuckDBConnection,
  type DuckDBResult,
} from '@duckdb/node-api';
import { DuckDBDialect } from '../sql/dialects/duckdb.js';
import {
  EngineError,
  type Engine,
  type QueryResult,
  type ResultColumn,
  type Row,
  type RowStream,
} from './engine.js';

export { EngineError };

export interface DuckDBEngineOptions {
  /** Database file; default in-memory. The lake itself is Parquet, so in-memory is the norm. */
  readonly path?: string;
  /** DuckDB memory_limit, e.g. '1GB'; DuckDB spills to `tempDirectory` beyond it. */
  readonly memoryLimit?: string;
  readonly threads?: number;
  readonly tempDirectory?: string;
  /** false lets DuckDB stream large writes without buffering to keep row order. */
  readonly preserveInsertionOrder?: boolean;
}

/** The embedded engine: DuckDB in this process. */
export class DuckDBEngine implements Engine {
  readonly dialect = new DuckDBDialect();

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    private readonly ordered: boolean,
  ) {}

  static async create(options: DuckDBEngineOptions = {}): Promise<DuckDBEngine> {
    const config: Record<string, string> = {};
    if (options.memoryLimit !== undefined) config['memory_limit'] = options.memoryLimit;
    if (options.threads !== undefined) config['threads'] = String(options.threads);
    if (options.tempDirectory !== undefined) config['temp_directory'] = options.tempDirectory;
    if (options.preserveInsertionOrder !== undefined) {
      config['preserve_insertion_order'] = String(options.preserveInsertionOrder);
    }
    const instance = await DuckDBInstance.create(options.path ?? ':memory:', config);
    const connection = await instance.connect();
    return new DuckDBEngine(instance, connection, options.preserveInsertionOrder !== false);
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.connection.run(sql);
    } catch (err) {
      throw new EngineError((err as Error).message, sql);
    }
  }

  async execAll(statements: readonly string[]): Promise<void> {
    // One connection runs one statement at a time.
    for (const sql of statements) await this.exec(sql);
  }

  async query(sql: string): Promise<QueryResult> {
    const stream = await this.stream(sql);
    const rows: Row[] = [];
    for await (const batch of stream) rows.push(...batch);
    return { columns: stream.columns, rows };
  }

  async stream(sql: string): Promise<RowStream> {
    let result: DuckDBResult;
    try {
      result = await this.connection.stream(sql);
    } catch (err) {
      throw new EngineError((err as Error).message, sql);
    }
    const columns: ResultColumn[] = result.columnNames().map((name, i) => ({
      name,
      type: result.columnType(i).toString(),
    }));
    const names = result.deduplicatedColumnNames();
    const converters = columns.map((c) => converterFor(c.type));
    return {
      columns,
      async *[Symbol.asyncIterator]() {
        for (;;) {
          let chunk;
          try {
            chunk = await result.fetchChunk();
          } catch (err) {
            throw new EngineError((err as Error).message, sql);
          }
          if (chunk === null || chunk.rowCount === 0) return;
          const raw = chunk.convertRows(JSDuckDBValueConverter) as unknown[][];
          yield raw.map((r) => {
            const row: Row = {};
            for (let i = 0; i < names.length; i++) row[names[i]!] = converters[i]!(r[i]);
            return row;
          });
        }
      },
    };
  }

  async copyToParquet(sql: string, file: string): Promise<number> {
    // Row groups bounded in bytes keep memory low for wide rows (DuckDB allows it only
    // when row order need not be kept); RETURN_STATS gives one row per file written.
    const groups = this.ordered ? '' : ", ROW_GROUP_SIZE_BYTES '8MB'";
    const r = await this.query(
      `COPY (${sql}) TO ${this.dialect.quoteString(file)} (FORMAT parquet, COMPRESSION zstd${groups}, RETURN_STATS)`,
    );
    return r.rows.reduce((a, row) => a + Number(row['count'] ?? 0), 0);
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

type Converter = (v: unknown) => unknown;

/** JS value conversion per engine type: BIGINT → number, JSON text → parsed, lists element-wise. */
function converterFor(type: string): Converter {
  if (type.endsWith('[]')) {
    const inner = converterFor(type.slice(0, -2));
    return (v) => (Array.isArray(v) ? v.map(inner) : v);
  }
  if (type === 'JSON') return (v) => (typeof v === 'string' ? JSON.parse(v) : v);
  return plain;
}

function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object' && !(v instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}
