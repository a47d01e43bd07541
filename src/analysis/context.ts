/**
 * Where every population-health analysis runs: a lake session (DuckDB embedded, or Spark)
 * with the standard views (views/standard/*.json) registered as tables under their names
 * (`patient`, `condition`, `encounter`, ...). Analyses are SQL over these tables, built
 * through the session's Dialect, so counting happens in the engine; only aggregated rows
 * come back for the statistics (src/analysis/stats.ts).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Row } from '../engine/engine.js';
import { LakeSession } from '../lake/session.js';
import type { SessionOptions } from '../lake/session.js';
import type { Dialect } from '../sql/dialect.js';
import { compileView } from '../views/compile.js';

/** views/standard, found from src/analysis (tsx) or dist/src/analysis (built). */
export function standardViewsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'views', 'standard');
    try {
      if (statSync(candidate).isDirectory()) return candidate;
    } catch {
      // not here; try the parent
    }
    dir = resolve(dir, '..');
  }
  throw new Error('the standard views (views/standard/) were not found');
}

/** The standard ViewDefinitions by name (the file name without .json). */
export function standardViews(): Map<string, unknown> {
  const dir = standardViewsDir();
  const out = new Map<string, unknown>();
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.json'))
    .sort())
    out.set(f.slice(0, -'.json'.length), JSON.parse(readFileSync(join(dir, f), 'utf8')));
  return out;
}

export interface AnalysisOptions extends SessionOptions {
  /** Standard views to register (default: all). */
  readonly views?: readonly string[];
}

export class AnalysisContext {
  private constructor(
    readonly session: LakeSession,
    readonly views: readonly string[],
  ) {}

  /** Opens the lake and registers the standard views as session views. */
  static async open(lakeDir: string, options: AnalysisOptions = {}): Promise<AnalysisContext> {
    const session = await LakeSession.open(lakeDir, options);
    try {
      const all = standardViews();
      const names = options.views ?? [...all.keys()];
      for (const name of names) {
        const view = all.get(name);
        if (view === undefined) throw new Error(`no standard view named ${JSON.stringify(name)}`);
        const compiled = compileView(view, {
          dialect: session.engine.dialect,
          columnsOf: session.columnsOf,
        });
        await session.engine.exec(session.engine.dialect.sqlCreateView(name, compiled.sql));
      }
      return new AnalysisContext(session, names);
    } catch (err) {
      await session.close();
      throw err;
    }
  }

  get dialect(): Dialect {
    return this.session.engine.dialect;
  }

  /** Runs a query and returns all rows (analyses return aggregated, small results). */
  async rows(sql: string): Promise<readonly Row[]> {
    return (await this.session.sql(sql)).rows;
  }

  async close(): Promise<void> {
    await this.session.close();
  }
}
