/**
 * The "per resource in JavaScript" baseline: a SQL-on-FHIR v2 ViewDefinition evaluated
 * resource by resource with fhirpath.js, the way the reference implementation (sof-js)
 * does it: read NDJSON line by line, JSON.parse, run each select node's forEach /
 * columns / nested selects / unionAll with FHIRPath expressions compiled once against
 * the R4 model, and emit one JS object per row.
 *
 * getResourceKey() and getReferenceKey(Type) are supplied through fhirpath.js's
 * userInvocationTable; getReferenceKey returns the id part, as medlake does.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import fhirpath from 'fhirpath';
import type { UserInvocationTable } from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4';

type Json = unknown;
export type JsRow = Record<string, unknown>;

interface ColumnSpec {
  readonly name: string;
  readonly path: string;
  readonly collection?: boolean;
}

interface SelectSpec {
  readonly column?: readonly ColumnSpec[];
  readonly select?: readonly SelectSpec[];
  readonly unionAll?: readonly SelectSpec[];
  readonly forEach?: string;
  readonly forEachOrNull?: string;
}

interface ViewSpec extends SelectSpec {
  readonly resource: string;
  readonly where?: readonly { readonly path: string }[];
}

type Evaluator = (input: Json) => unknown[];

/** Unwraps a fhirpath.js ResourceNode (when one is passed) to its JSON data. */
function data(node: unknown): unknown {
  return fhirpath.util.valData(node) as unknown;
}

function referenceKey(ref: unknown, wanted: string | undefined): string[] {
  if (ref === null || typeof ref !== 'object') return [];
  const reference = (ref as { reference?: unknown }).reference;
  if (typeof reference !== 'string') return [];
  const m = /([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/.exec(reference);
  if (m === null) return [];
  if (wanted !== undefined && m[1] !== wanted) return [];
  return m[2] === undefined || m[2] === '' ? [] : [m[2]];
}

const userInvocationTable: UserInvocationTable = {
  getResourceKey: {
    fn: (inputs: unknown[]) =>
      inputs.flatMap((r) => {
        const id = (data(r) as { id?: unknown } | null)?.id;
        return typeof id === 'string' ? [id] : [];
      }),
    arity: { 0: [] },
  },
  getReferenceKey: {
    fn: (inputs: unknown[], type?: { name?: string }) =>
      inputs.flatMap((r) => referenceKey(data(r), type?.name)),
    arity: { 0: [], 1: ['TypeSpecifier'] },
  },
};

function compilePath(path: string): Evaluator {
  const fn = fhirpath.compile(path, r4model, { userInvocationTable });
  return (input) => fn(input) as unknown[];
}

type NodeFn = (focus: Json) => JsRow[];

/** Compiles a select node (spec "Processing Algorithm", sections on select/forEach/unionAll). */
function compileNode(node: SelectSpec): NodeFn {
  const columns = (node.column ?? []).map((c) => ({
    name: c.name,
    collection: c.collection === true,
    eval: compilePath(c.path),
  }));
  const nested = (node.select ?? []).map(compileNode);
  const unions = (node.unionAll ?? []).map(compileNode);
  const iterPath = node.forEach ?? node.forEachOrNull;
  const iter = iterPath === undefined ? undefined : compilePath(iterPath);
  const orNull = node.forEachOrNull !== undefined;

  const rowsFor = (focus: Json): JsRow[] => {
    const base: JsRow = {};
    for (const c of columns) {
      const v = c.eval(focus);
      if (c.collection) base[c.name] = v;
      else if (v.length === 0) base[c.name] = null;
      else if (v.length === 1) base[c.name] = v[0];
      else throw new Error(`column ${c.name}: ${v.length} values where one was expected`);
    }
    let rows: JsRow[] = [base];
    for (const sub of nested) rows = cross(rows, sub(focus));
    if (unions.length > 0) {
      const u: JsRow[] = [];
      for (const b of unions) for (const r of b(focus)) u.push(r);
      rows = cross(rows, u);
    }
    return rows;
  };

  return (focus) => {
    if (iter === undefined) return rowsFor(focus);
    const items = iter(focus);
    // forEachOrNull with nothing to iterate: one row evaluated on an empty focus (as sof-js).
    if (items.length === 0) return orNull ? rowsFor({}) : [];
    const out: JsRow[] = [];
    for (const item of items) for (const r of rowsFor(item)) out.push(r);
    return out;
  };
}

function cross(left: JsRow[], right: JsRow[]): JsRow[] {
  if (right.length === 1) return left.map((l) => ({ ...l, ...right[0] }));
  const out: JsRow[] = [];
  for (const l of left) for (const r of right) out.push({ ...l, ...r });
  return out;
}

export interface JsViewEvaluator {
  readonly resource: string;
  /** Rows of one resource (already JSON.parse'd). */
  readonly rows: (resource: Json) => JsRow[];
}

export function compileViewForJs(viewJson: unknown): JsViewEvaluator {
  const view = viewJson as ViewSpec;
  const where = (view.where ?? []).map((w) => compilePath(w.path));
  const root = compileNode({ select: view.select ?? [] });
  return {
    resource: view.resource,
    rows: (resource) => {
      for (const w of where) {
        const v = w(resource);
        if (!(v.length === 1 && v[0] === true)) return [];
      }
      return root(resource);
    },
  };
}

export interface JsRunResult {
  readonly resources: number;
  readonly rows: number;
  readonly ms: number;
  /** The rows, when `keepRows` was set (for verification). */
  readonly kept?: JsRow[];
}

/** Reads up to `cap` resources of an NDJSON file and evaluates the view on each. */
export async function runViewInJs(
  evaluator: JsViewEvaluator,
  ndjsonFile: string,
  cap: number,
  keepRows = false,
): Promise<JsRunResult> {
  const t0 = performance.now();
  const lines = createInterface({
    input: createReadStream(ndjsonFile, { encoding: 'utf8', highWaterMark: 1 << 20 }),
    crlfDelay: Infinity,
  });
  let resources = 0;
  let rows = 0;
  const kept: JsRow[] = [];
  for await (const line of lines) {
    if (line.length === 0) continue;
    if (resources >= cap) break;
    const resource = JSON.parse(line) as Json;
    resources++;
    const out = evaluator.rows(resource);
    rows += out.length;
    if (keepRows) for (const r of out) kept.push(r);
  }
  lines.close();
  const ms = performance.now() - t0;
  return keepRows ? { resources, rows, ms, kept } : { resources, rows, ms };
}
