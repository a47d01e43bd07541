/**
 * `view materialize`: stores view results as Parquet tables in the lake, named by the
 * view's `name`, so that SQL can query views as tables (the spec's SQLQuery idea).
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LakeSession } from '../lake/session.js';
import { compileView } from './compile.js';
import type { ViewEntry } from '../lake/manifest.js';
import type { EngineChoice } from '../engine/open-engine.js';

export interface MaterializeResult {
  readonly name: string;
  readonly rows: number;
  readonly path: string;
}

const VIEW_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

export class MaterializeError extends Error {
  readonly code = 'VIEW_NAME';
}

export async function materializeViews(
  lakeDir: string,
  views: ReadonlyArray<{ readonly view: unknown; readonly source: string }>,
  engine: EngineChoice = {},
): Promise<MaterializeResult[]> {
  const session = await LakeSession.open(lakeDir, engine);
  const unlock = session.lake.lock();
  const written: string[] = [];
  try {
    session.lake.refresh();
    const base = session.lake.manifest;
    const commit = base.commit + 1;
    const entries: Record<string, ViewEntry> = { ...base.views };
    const results: MaterializeResult[] = [];
    for (const { view, source } of views) {
      const compiled = compileView(view, {
        dialect: session.engine.dialect,
        columnsOf: session.columnsOf,
      });
      const name = compiled.view.name ?? path.basename(source).replace(/\.json$/i, '');
      if (!VIEW_NAME.test(name)) {
        throw new MaterializeError(
          `${source}: view name "${name}" must be letters, digits and _ (set "name" in the view)`,
        );
      }
      const rel = `views/${name}-${String(commit).padStart(6, '0')}.parquet`;
      const abs = session.lake.resolve(rel);
      mkdirSync(path.dirname(abs), { recursive: true });
      written.push(abs);
      const rows = await session.engine.copyToParquet(compiled.sql, abs);
      entries[name] = {
        path: rel,
        rows,
        columns: compiled.columns.map((c) => ({
          name: c.name,
          type: c.type ?? null,
          sqlType: c.sqlType,
          collection: c.collection,
        })),
        source,
        materializedAt: new Date().toISOString(),
        commit: base.commit,
      };
      results.push({ name, rows, path: abs });
    }
    session.lake.commit({ ...base, commit, updatedAt: new Date().toISOString(), views: entries });
    written.length = 0;
    return results;
  } finally {
    // A distributed engine writes a folder of part files.
    for (const f of written) rmSync(f, { force: true, recursive: true });
    unlock();
    await session.close();
  }
}
