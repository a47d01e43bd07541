/**
 * Engines the engine-facing suites run on, from MEDLAKE_TEST_ENGINES (comma-separated);
 * DuckDB always runs. Spark runs on the cluster at MEDLAKE_SPARK_URL (`.ci/run` starts
 * one). An engine that is not asked for is reported as a skipped suite by name; one that
 * is asked for but cannot run fails loudly rather than being skipped in silence.
 */
import { DuckDBEngine } from '../src/engine/duckdb-engine.js';
import type { Engine } from '../src/engine/engine.js';
import { ENGINE_NAMES, type EngineName } from '../src/engine/open-engine.js';

export type { EngineName };
export const KNOWN_ENGINES = ENGINE_NAMES;

function asked(): string[] {
  return (process.env['MEDLAKE_TEST_ENGINES'] ?? 'duckdb')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function testEngines(): EngineName[] {
  const names = asked();
  for (const e of names) {
    if (!(KNOWN_ENGINES as readonly string[]).includes(e)) {
      throw new Error(
        `MEDLAKE_TEST_ENGINES names "${e}", which medlake does not support; known: ${KNOWN_ENGINES.join(', ')}`,
      );
    }
  }
  if (names.includes('spark') && (process.env['MEDLAKE_SPARK_URL'] ?? '') === '') {
    throw new Error(
      'MEDLAKE_TEST_ENGINES includes spark but MEDLAKE_SPARK_URL is not set (start a cluster: medlake cluster start)',
    );
  }
  return [...new Set<EngineName>(['duckdb', ...(names as EngineName[])])];
}

/** Engines not in this run, with the reason, so suites can report them as skipped. */
export function skippedEngines(): { name: EngineName; reason: string }[] {
  const run = new Set<string>(testEngines());
  return KNOWN_ENGINES.filter((e) => !run.has(e)).map((name) => ({
    name,
    reason: `MEDLAKE_TEST_ENGINES does not include ${name} (.ci/run runs it on a local cluster)`,
  }));
}

export async function createEngine(name: EngineName): Promise<Engine> {
  switch (name) {
    case 'duckdb':
      return DuckDBEngine.create();
    case 'spark': {
      const { SparkEngine } = await import('../src/engine/spark/spark-engine.js');
      return SparkEngine.connect(process.env['MEDLAKE_SPARK_URL']!);
    }
  }
}
