/**
 * Running a compiled view on an engine, with rows converted to the JSON shapes the
 * SQL-on-FHIR spec uses: collection columns are arrays (empty when there is no value),
 * other columns null when empty.
 */
import type { Engine, Row, RowStream } from '../engine/engine.js';
import { compileView, type CompiledView, type CompileViewOptions } from './compile.js';

export interface ViewRunOptions extends Omit<CompileViewOptions, 'dialect'> {
  readonly engine: Engine;
}

export interface ViewRun {
  readonly compiled: CompiledView;
  readonly rows: RowStream;
}

export async function streamView(view: unknown, options: ViewRunOptions): Promise<ViewRun> {
  const compiled = compileView(view, { ...options, dialect: options.engine.dialect });
  const rows = await options.engine.stream(compiled.sql);
  return { compiled, rows };
}

export async function runView(
  view: unknown,
  options: ViewRunOptions,
): Promise<{ compiled: CompiledView; rows: Row[] }> {
  const { compiled, rows } = await streamView(view, options);
  const out: Row[] = [];
  for await (const batch of rows) out.push(...batch);
  return { compiled, rows: out };
}
