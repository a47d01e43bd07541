/**
 * Engines the engine-facing suites run on, from MEDLAKE_TEST_ENGINES (comma-separated);
 * DuckDB always runs. An engine named there that medlake does not have yet fails loudly
 * rather than being skipped in silence.
 */
import { DuckDBEngine } from '../src/engine/duckdb-engine.js';

export const KNOWN_ENGINES = ['duckdb'] as const;
export type EngineName = (typeof KNOWN_ENGINES)[number];

export function testEngines(): EngineName[] {
  const asked = (process.env['MEDLAKE_TEST_ENGINES'] ?? 'duckdb')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const e of asked) {
    if (!(KNOWN_ENGINES as readonly string[]).includes(e)) {
      throw new Error(
        `MEDLAKE_TEST_ENGINES names "${e}", which medlake does not support; known: ${KNOWN_ENGINES.join(', ')}`,
      );
    }
  }
  return [...new Set<EngineName>(['duckdb', ...(asked as EngineName[])])];
}

export async function createEngine(name: EngineName): Promise<DuckDBEngine> {
  switch (name) {
    case 'duckdb':
      return DuckDBEngine.create();
  }
}
