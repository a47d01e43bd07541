import type { Dialect } from '../dialect.js';
import { DuckDBDialect } from './duckdb.js';
import { SparkDialect } from './spark.js';

/** Dialects by name. */
const DIALECTS: Record<string, () => Dialect> = {
  duckdb: () => new DuckDBDialect(),
  spark: () => new SparkDialect(),
};

export const DIALECT_NAMES: readonly string[] = Object.keys(DIALECTS);

export function dialectByName(name: string): Dialect {
  const make = DIALECTS[name];
  if (make === undefined)
    throw new Error(`Unknown SQL dialect "${name}"; known: ${DIALECT_NAMES.join(', ')}`);
  return make();
}
