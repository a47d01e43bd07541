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
  const rows = viewRows(compiled, await options.engine.stream(compiled.sql));
  return { compiled, rows };
}

/**
 * Rows of a compiled view as JSON values: columns of a complex FHIR type (JSON) become
 * objects even where the engine hands them over as text.
 */
export function viewRows(compiled: CompiledView, stream: RowStream): RowStream {
  const json = compiled.columns.filter((c) => c.sqlType === 'JSON').map((c) => c);
  if (json.length === 0) return stream;
  const parse = (v: unknown): unknown => (typeof v === 'string' ? (JSON.parse(v) as unknown) : v);
  return {
    columns: stream.columns,
    async *[Symbol.asyncIterator]() {
      for await (const batch of stream) {
        for (const row of batch) {
          for (const c of json) {
            const v = row[c.name];
            row[c.name] = c.collection && Array.isArray(v) ? v.map(parse) : parse(v);
          }
        }
        yield batch;
      }
    },
  };
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
