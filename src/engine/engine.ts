import type { Dialect } from '../sql/dialect.js';

/** Raised for SQL the engine rejects or cannot run; carries the SQL for the user. */
export class EngineError extends Error {
  readonly code = 'ENGINE_ERROR';
  constructor(
    message: string,
    readonly sql: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** A column of a query result as the engine reports it. */
export interface ResultColumn {
  readonly name: string;
  /** Engine type name, e.g. `VARCHAR`, `BIGINT`, `JSON[]`. */
  readonly type: string;
}

/** Rows as plain JS values: numbers, strings, booleans, arrays, objects (JSON parsed), null. */
export type Row = Record<string, unknown>;

export interface QueryResult {
  readonly columns: readonly ResultColumn[];
  readonly rows: readonly Row[];
}

/** A query whose rows arrive in batches, so results larger than memory can be written out. */
export interface RowStream {
  readonly columns: readonly ResultColumn[];
  [Symbol.asyncIterator](): AsyncIterator<readonly Row[]>;
}

/**
 * A SQL engine medlake runs on. Implementations: DuckDB (embedded); Spark (cluster)
 * comes with the distributed-engine work. All SQL they receive comes from their dialect.
 */
export interface Engine {
  readonly dialect: Dialect;
  /** Runs a statement that returns no rows. */
  exec(sql: string): Promise<void>;
  /** Runs independent statements (order among them is not kept); all must succeed. */
  execAll(statements: readonly string[]): Promise<void>;
  /** Runs a query and returns all rows (for small results). */
  query(sql: string): Promise<QueryResult>;
  /** Runs a query and streams its rows in batches. */
  stream(sql: string): Promise<RowStream>;
  /** Writes the rows of a query to a Parquet file (zstd) and returns how many were written. */
  copyToParquet(sql: string, file: string): Promise<number>;
  close(): Promise<void>;
}
