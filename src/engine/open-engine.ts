/**
 * Choosing the engine a command runs on: `--engine`/`--spark`, else the environment
 * (MEDLAKE_ENGINE, MEDLAKE_SPARK_URL), else embedded DuckDB.
 */
import { DuckDBEngine } from './duckdb-engine.js';
import type { Engine } from './engine.js';

export const ENGINE_NAMES = ['duckdb', 'spark'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface EngineChoice {
  /** Default: $MEDLAKE_ENGINE, else duckdb. */
  readonly engine?: string;
  /** Spark Connect URL (sc://host:port); default $MEDLAKE_SPARK_URL. */
  readonly sparkUrl?: string;
  /** DuckDB memory limit (e.g. '1GB'). */
  readonly memoryLimit?: string;
  readonly threads?: number;
}

export class EngineChoiceError extends Error {
  readonly code = 'ENGINE_CHOICE';
  constructor(message: string) {
    super(message);
    this.name = 'EngineChoiceError';
  }
}

/** The engine name and Spark URL a choice resolves to, or an error saying what is missing. */
export function resolveEngine(choice: EngineChoice = {}): {
  engine: EngineName;
  sparkUrl?: string;
} {
  const name = (choice.engine ?? process.env['MEDLAKE_ENGINE'] ?? 'duckdb').trim().toLowerCase();
  if (!(ENGINE_NAMES as readonly string[]).includes(name)) {
    throw new EngineChoiceError(`Unknown engine "${name}"; known: ${ENGINE_NAMES.join(', ')}`);
  }
  if (name === 'duckdb') return { engine: 'duckdb' };
  const url = choice.sparkUrl ?? process.env['MEDLAKE_SPARK_URL'];
  if (url === undefined || url.trim() === '') {
    throw new EngineChoiceError(
      'The Spark engine needs a Spark Connect URL: --spark sc://host:15002 or MEDLAKE_SPARK_URL (a local cluster: `medlake cluster start`)',
    );
  }
  return { engine: 'spark', sparkUrl: url.trim() };
}

export async function openEngine(choice: EngineChoice = {}): Promise<Engine> {
  const { engine, sparkUrl } = resolveEngine(choice);
  if (engine === 'spark') {
    // Loaded on demand: the embedded path never loads gRPC and Arrow.
    const { SparkEngine } = await import('./spark/spark-engine.js');
    return SparkEngine.connect(sparkUrl!);
  }
  return DuckDBEngine.create({
    ...(choice.memoryLimit === undefined ? {} : { memoryLimit: choice.memoryLimit }),
    ...(choice.threads === undefined ? {} : { threads: choice.threads }),
  });
}
