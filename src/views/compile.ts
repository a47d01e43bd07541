/**
 * ViewDefinition → one SQL statement (SQL-on-FHIR v2 "Processing Algorithm").
 *
 * Shape of the statement:
 *   SELECT <columns> FROM <resource table> AS r WHERE <view where>
 * where each forEach / forEachOrNull / repeat wraps the source in one unnest level
 * (Dialect.sqlUnnestLevel) that adds the element and its ordinal as columns of r.
 * Sibling selects multiply through successive levels. A `unionAll` is expanded into
 * UNION ALL of plain selects (parent × (A ∪ B) = parent × A ∪ parent × B); past 16 parts
 * it becomes a list of row structs built per resource and unnested once.
 */
import { FhirPathSyntaxError, parseFhirPath } from '../fhirpath/parser.js';
import { FhirPathCompileError } from '../fhirpath/errors.js';
import {
  FhirPathCompiler,
  repOfFhirType,
  rootValue,
  sqlTypeOfRep,
  type Rep,
  type RootContext,
  type Scope,
  type Value,
} from '../fhirpath/compile.js';
import type { ModelType } from '../fhirpath/model.js';
import type { Dialect, SqlType } from '../sql/dialect.js';
import {
  ViewValidationError,
  validateView,
  viewConstants,
  type SelectNode,
  type ViewDefinition,
} from './view-definition.js';

export interface CompileViewOptions {
  readonly dialect: Dialect;
  /** Columns present in the lake for a resource type; undefined = assume any column exists. */
  readonly columnsOf?: (resourceType: string) => ReadonlySet<string> | undefined;
  /** Deepest nesting a `repeat` follows before it reports an error. */
  readonly maxRepeatDepth?: number;
  readonly limit?: number;
  /**
   * How unionAll compiles: 'auto' (default) expands it into UNION ALL of plain selects when
   * that takes at most 16 parts, else builds per-resource row lists; 'rows' always builds
   * row lists (kept selectable so both strategies run the conformance suite).
   */
  readonly unionAll?: 'auto' | 'rows';
}

export interface OutputColumn {
  readonly name: string;
  /** FHIR type of the column (declared or inferred). */
  readonly type: string | undefined;
  readonly sqlType: SqlType;
  readonly collection: boolean;
}

export interface CompiledView {
  readonly sql: string;
  readonly resource: string;
  readonly columns: readonly OutputColumn[];
  readonly view: ViewDefinition;
}

interface Ctx {
  readonly focus: Value;
  readonly rowIndex: string;
}

interface ColumnOut {
  readonly name: string;
  readonly sql: string;
  readonly out: OutputColumn;
}

const FHIR_TYPE_OF_REP: Record<Rep, string | undefined> = {
  json: undefined,
  string: 'string',
  boolean: 'boolean',
  integer: 'integer',
  decimal: 'decimal',
  date: 'date',
  dateTime: 'dateTime',
  time: 'time',
};

/** Beyond this many UNION ALL parts, unionAll compiles to per-resource row lists instead. */
const MAX_UNION_PARTS = 16;

export function compileView(input: unknown, options: CompileViewOptions): CompiledView {
  const view = validateView(input);
  return new ViewCompiler(view, options).compile();
}

class ViewCompiler {
  private readonly d: Dialect;
  private readonly root: RootContext;
  private readonly constants: Map<string, Value>;
  private readonly levels: { list: string; name: string; outer: boolean }[] = [];
  private aliasCounter = 0;
  private readonly paths = new WeakMap<object, string>();
  private readonly maxDepth: number;
  private varCounter = 0;

  constructor(
    private readonly view: ViewDefinition,
    private readonly options: CompileViewOptions,
  ) {
    this.d = options.dialect;
    const columns = options.columnsOf?.(view.resource);
    this.root = {
      alias: 'r',
      resourceType: view.resource,
      columns,
      json: this.rootJson(view.resource, columns),
    };
    this.constants = new Map(
      viewConstants(view).map((c) => [c.name, this.constantValue(c.type, c.value)]),
    );
    this.maxDepth = options.maxRepeatDepth ?? 12;
  }

  compile(): CompiledView {
    this.view.select.forEach((s, i) => this.indexPaths(s, `$.select[${i}]`));
    const variants = this.expandUnions(this.view.select);
    const d = this.d;
    // unionAll distributes over the rest of the select tree: parent × (A ∪ B) is
    // (parent × A) ∪ (parent × B). Each variant compiles to plain joins, and the variants
    // are concatenated with UNION ALL, which is what one would write by hand.
    const parts =
      variants.length <= MAX_UNION_PARTS && this.options.unionAll !== 'rows'
        ? variants.map((v) => this.compileSelect(v))
        : [this.compileSelect(this.view.select)];
    const columns = parts[0]!.columns;
    let sql = parts.map((p) => p.sql).join('\nUNION ALL\n');
    if (this.options.limit !== undefined) {
      const limit = d.sqlLimit(this.options.limit);
      sql = parts.length === 1 ? `${sql}\n${limit}` : `SELECT * FROM (\n${sql}\n) AS v\n${limit}`;
    }
    return { sql, resource: this.view.resource, columns, view: this.view };
  }

  /** One SELECT for a select list (without unionAll after expansion, or with the row-list fallback). */
  private compileSelect(selects: readonly SelectNode[]): { sql: string; columns: OutputColumn[] } {
    this.levels.length = 0;
    const ctx: Ctx = { focus: rootValue(this.root), rowIndex: '0' };
    const cols: ColumnOut[] = [];
    for (const s of selects) this.walk(s, ctx, cols);
    const where = (this.view.where ?? []).map((w, i) =>
      this.whereClause(w.path, `$.where[${i}].path`, ctx),
    );
    const d = this.d;
    let source = d.sqlResourceTable(this.view.resource);
    for (const l of this.levels) {
      source = `(${d.sqlUnnestLevel(source, this.root.alias, l.list, d.quoteIdent(l.name), d.quoteIdent(`${l.name}#`), l.outer)})`;
    }
    const lines = [
      `SELECT ${cols.map((c) => `${c.sql} AS ${d.quoteIdent(c.name)}`).join(', ')}`,
      `FROM ${source} AS ${this.root.alias}`,
    ];
    if (where.length > 0) lines.push(`WHERE ${where.join(' AND ')}`);
    return { sql: lines.join('\n'), columns: cols.map((c) => c.out) };
  }

  /**
   * Every way of picking one branch of each unionAll: lists of select nodes without
   * unionAll, where the picked branch becomes the last nested select of its node (so the
   * column order — columns, selects, unionAll — is unchanged).
   */
  private expandUnions(nodes: readonly SelectNode[]): SelectNode[][] {
    let acc: SelectNode[][] = [[]];
    for (const node of nodes) {
      const options = this.nodeVariants(node);
      const next: SelectNode[][] = [];
      for (const prefix of acc) for (const o of options) next.push([...prefix, o]);
      acc = next;
      if (acc.length > MAX_UNION_PARTS) return acc;
    }
    return acc;
  }

  private nodeVariants(node: SelectNode): SelectNode[] {
    const children = this.expandUnions(node.select ?? []);
    const branches: (SelectNode | undefined)[] =
      node.unionAll === undefined
        ? [undefined]
        : node.unionAll.flatMap((b) => this.nodeVariants(b));
    const out: SelectNode[] = [];
    for (const c of children) {
      for (const b of branches) {
        const copy: SelectNode = {
          ...node,
          select: b === undefined ? c : [...c, b],
          unionAll: undefined,
        };
        this.paths.set(copy, this.paths.get(node) ?? '$');
        out.push(copy);
      }
      if (out.length > MAX_UNION_PARTS) return out;
    }
    return out;
  }

  /** The whole resource as JSON, rebuilt from its element columns. */
  private rootJson(resourceType: string, columns: ReadonlySet<string> | undefined): string {
    const d = this.d;
    const pairs: [string, string][] = [['resourceType', d.sqlToJson(d.quoteString(resourceType))]];
    if (columns === undefined) return d.sqlRowAsJson('r');
    for (const c of columns) {
      pairs.push([c, c === 'id' ? d.sqlToJson(`r.${d.quoteIdent(c)}`) : `r.${d.quoteIdent(c)}`]);
    }
    return d.sqlJsonObject(pairs);
  }

  private compiler(expr: string): FhirPathCompiler {
    // Keep lambda variables unique across all expressions of the statement.
    return new FhirPathCompiler(this.d, expr, this.varCounter);
  }

  private done(c: FhirPathCompiler): void {
    this.varCounter = c.lastVar + 1;
  }

  private scope(ctx: Ctx): Scope {
    return {
      root: this.root,
      focus: ctx.focus,
      rowIndex: ctx.rowIndex,
      constants: this.constants,
      depth: 0,
    };
  }

  /** Compiles a FHIRPath; problems are reported at the JSON path of the expression in the view. */
  private evaluate(expr: string, ctx: Ctx, at: string): { c: FhirPathCompiler; v: Value } {
    const c = this.compiler(expr);
    try {
      const v = c.compile(parseFhirPath(expr), this.scope(ctx));
      return { c, v };
    } catch (err) {
      if (err instanceof FhirPathCompileError || err instanceof FhirPathSyntaxError) {
        throw new ViewValidationError([{ path: at, message: err.message }]);
      }
      throw err;
    } finally {
      this.done(c);
    }
  }

  /** JSON path of a select node or column in the view, for error messages. */
  private at(node: object, suffix: string): string {
    return `${this.paths.get(node) ?? '$'}${suffix}`;
  }

  private indexPaths(node: SelectNode, at: string): void {
    this.paths.set(node, at);
    (node.column ?? []).forEach((c, i) => this.paths.set(c, `${at}.column[${i}]`));
    (node.select ?? []).forEach((s, i) => this.indexPaths(s, `${at}.select[${i}]`));
    (node.unionAll ?? []).forEach((s, i) => this.indexPaths(s, `${at}.unionAll[${i}]`));
  }

  private whereClause(expr: string, at: string, ctx: Ctx): string {
    const { c, v } = this.evaluate(expr, ctx, at);
    const rep = c.repOf(v);
    if (rep !== 'boolean' && rep !== 'json') {
      throw new ViewValidationError([
        { path: at, message: `where path "${expr}" must give a boolean, but gives ${rep}` },
      ]);
    }
    return `coalesce(${c.bool(v)}, FALSE)`;
  }

  // ------------------------------------------------ joins (outside unionAll)

  private walk(node: SelectNode, ctx: Ctx, cols: ColumnOut[]): void {
    const inner = this.iterate(node, ctx);
    for (const col of node.column ?? []) cols.push(this.column(col, inner));
    for (const s of node.select ?? []) this.walk(s, inner, cols);
    if (node.unionAll !== undefined) {
      const branches = node.unionAll.map((b) => this.rows(b, inner));
      const name = this.alias();
      const list = this.d.sqlListConcat(branches.map((b) => b.sql));
      this.levels.push({ list, name, outer: false });
      const row = `${this.root.alias}.${this.d.quoteIdent(name)}`;
      for (const out of branches[0]!.columns) {
        cols.push({ name: out.name, sql: this.d.sqlStructField(row, out.name), out });
      }
    }
  }

  /** Adds the join for forEach / forEachOrNull / repeat and returns the inner context. */
  private iterate(node: SelectNode, ctx: Ctx): Ctx {
    const d = this.d;
    let list: { sql: string; type: ModelType | undefined } | undefined;
    let outer = false;
    if (node.forEach !== undefined || node.forEachOrNull !== undefined) {
      const expr = (node.forEach ?? node.forEachOrNull)!;
      outer = node.forEach === undefined;
      const { c, v } = this.evaluate(
        expr,
        ctx,
        this.at(node, outer ? '.forEachOrNull' : '.forEach'),
      );
      const l = c.list(v, 'json');
      list = { sql: l.sql, type: l.type };
    } else if (node.repeat !== undefined) {
      list = this.repeatList(node.repeat, ctx, this.at(node, '.repeat'));
    }
    if (list === undefined) return ctx;
    const name = this.alias();
    this.levels.push({ list: list.sql, name, outer });
    const focus: Value = {
      k: 'path',
      base: `${this.root.alias}.${d.quoteIdent(name)}`,
      path: '$',
      many: false,
      type: list.type,
    };
    const rowIndex = `(${this.root.alias}.${d.quoteIdent(`${name}#`)} - 1)`;
    return { focus, rowIndex };
  }

  /**
   * `repeat`: every element reachable by repeatedly following the paths, depth first
   * (parent before its children). Unrolled to `maxRepeatDepth` levels; deeper data is
   * an error rather than a silent truncation.
   */
  private repeatList(
    paths: readonly string[],
    ctx: Ctx,
    at: string,
  ): { sql: string; type: ModelType | undefined } {
    const d = this.d;
    const children = (focus: Value): { sql: string; type: ModelType | undefined } => {
      const parts = paths.map((p, i) => {
        const { c, v } = this.evaluate(p, { focus, rowIndex: ctx.rowIndex }, `${at}[${i}]`);
        return c.list(v, 'json');
      });
      const types = new Set(parts.map((p) => p.type?.path ?? p.type?.type));
      return {
        sql: d.sqlListConcat(parts.map((p) => p.sql)),
        type: types.size === 1 ? parts[0]!.type : undefined,
      };
    };
    const level = (focus: Value, depth: number): { sql: string; type: ModelType | undefined } => {
      const kids = children(focus);
      if (depth === 0) {
        const msg = `repeat is nested deeper than ${this.maxDepth} levels; raise it with --max-repeat-depth (maxRepeatDepth in the library)`;
        return {
          sql: `CASE WHEN ${d.sqlListLength(kids.sql)} > 0 THEN ${d.sqlListValue([d.sqlRaiseError(msg, 'JSON')])} ELSE ${d.sqlEmptyList('JSON')} END`,
          type: kids.type,
        };
      }
      const x = `rep${++this.varCounter}`;
      const below = level(
        { k: 'path', base: x, path: '$', many: false, type: kids.type },
        depth - 1,
      );
      const body = d.sqlListConcat([d.sqlListValue([x]), below.sql]);
      return {
        sql: d.sqlListFlatten(d.sqlListTransform(kids.sql, d.sqlLambda([x], body))),
        type: kids.type,
      };
    };
    return level(ctx.focus, this.maxDepth);
  }

  private alias(): string {
    this.aliasCounter += 1;
    // `@` cannot start an element column, so these never collide with the resource's.
    return `@u${this.aliasCounter}`;
  }

  private column(col: NonNullable<SelectNode['column']>[number], ctx: Ctx): ColumnOut {
    const { c, v } = this.evaluate(col.path, ctx, this.at(col, '.path'));
    const declared = col.type;
    const rep = declared !== undefined ? repOfFhirType(declared) : c.repOf(v);
    const collection = col.collection === true;
    const sql = collection
      ? `coalesce(${c.list(v, rep).sql}, ${this.d.sqlEmptyList(sqlTypeOfRep(rep))})`
      : c.scalar(v, rep);
    const out: OutputColumn = {
      name: col.name,
      type: declared ?? this.inferredType(v, rep),
      sqlType: sqlTypeOfRep(rep),
      collection,
    };
    return { name: col.name, sql: collection ? sql : this.castOut(sql, rep), out };
  }

  private inferredType(v: Value, rep: Rep): string | undefined {
    if (v.k === 'path' && v.type !== undefined && v.type.path === undefined) return v.type.type;
    return FHIR_TYPE_OF_REP[rep];
  }

  private castOut(sql: string, rep: Rep): string {
    return rep === 'json' ? sql : this.d.sqlCast(sql, sqlTypeOfRep(rep));
  }

  // ---------------------------------------------- row lists (inside unionAll)

  /** All rows a select node yields for one parent element, as a list of structs. */
  private rows(node: SelectNode, ctx: Ctx): { sql: string; columns: OutputColumn[] } {
    const d = this.d;
    const iter = node.forEach ?? node.forEachOrNull;
    if (iter === undefined && node.repeat === undefined) return this.bodyRows(node, ctx);
    let list: { sql: string; type: ModelType | undefined };
    if (iter !== undefined) {
      const suffix = node.forEach !== undefined ? '.forEach' : '.forEachOrNull';
      const { c, v } = this.evaluate(iter, ctx, this.at(node, suffix));
      const l = c.list(v, 'json');
      list = { sql: l.sql, type: l.type };
    } else {
      list = this.repeatList(node.repeat!, ctx, this.at(node, '.repeat'));
    }
    const x = `e${++this.varCounter}`;
    const i = `i${++this.varCounter}`;
    const body = this.bodyRows(node, {
      focus: { k: 'path', base: x, path: '$', many: false, type: list.type },
      rowIndex: d.sqlLambdaIndex0(i),
    });
    const each = d.sqlListFlatten(d.sqlListTransform(list.sql, d.sqlLambda([x, i], body.sql)));
    if (node.forEachOrNull === undefined) return { sql: each, columns: body.columns };
    const empty = this.bodyRows(node, { focus: { k: 'empty' }, rowIndex: '0' });
    return {
      sql: `CASE WHEN ${d.sqlListLength(list.sql)} = 0 THEN ${empty.sql} ELSE ${each} END`,
      columns: body.columns,
    };
  }

  private bodyRows(node: SelectNode, ctx: Ctx): { sql: string; columns: OutputColumn[] } {
    const d = this.d;
    const parts: { sql: string; columns: OutputColumn[] }[] = [];
    const own = (node.column ?? []).map((col) => this.column(col, ctx));
    if (own.length > 0) {
      parts.push({
        sql: d.sqlListValue([d.sqlStruct(own.map((c) => [c.name, c.sql]))]),
        columns: own.map((c) => c.out),
      });
    }
    for (const s of node.select ?? []) parts.push(this.rows(s, ctx));
    if (node.unionAll !== undefined) {
      const branches = node.unionAll.map((b) => this.rows(b, ctx));
      parts.push({
        sql: d.sqlListConcat(branches.map((b) => b.sql)),
        columns: branches[0]!.columns,
      });
    }
    if (parts.length === 0)
      return { sql: d.sqlListValue([d.sqlStruct([['_', 'NULL']])]), columns: [] };
    return parts.reduce((acc, next) => this.cartesian(acc, next));
  }

  private cartesian(
    a: { sql: string; columns: OutputColumn[] },
    b: { sql: string; columns: OutputColumn[] },
  ): { sql: string; columns: OutputColumn[] } {
    const d = this.d;
    if (a.columns.length === 0) return b;
    if (b.columns.length === 0) return a;
    const x = `l${++this.varCounter}`;
    const y = `r${++this.varCounter}`;
    const fields: [string, string][] = [
      ...a.columns.map((c): [string, string] => [c.name, d.sqlStructField(x, c.name)]),
      ...b.columns.map((c): [string, string] => [c.name, d.sqlStructField(y, c.name)]),
    ];
    const sql = d.sqlListFlatten(
      d.sqlListTransform(
        a.sql,
        d.sqlLambda([x], d.sqlListTransform(b.sql, d.sqlLambda([y], d.sqlStruct(fields)))),
      ),
    );
    return { sql, columns: [...a.columns, ...b.columns] };
  }

  // ------------------------------------------------------------ constants

  private constantValue(type: string, value: string | number | boolean): Value {
    const d = this.d;
    const rep = repOfFhirType(type.charAt(0).toLowerCase() + type.slice(1));
    switch (rep) {
      case 'boolean':
        return {
          k: 'sql',
          sql: value === true || value === 'true' ? 'TRUE' : 'FALSE',
          many: false,
          rep,
        };
      case 'integer':
        return { k: 'sql', sql: d.sqlCast(String(Number(value)), 'BIGINT'), many: false, rep };
      case 'decimal':
        return { k: 'sql', sql: d.sqlCast(String(Number(value)), 'DOUBLE'), many: false, rep };
      default:
        return {
          k: 'sql',
          sql: d.quoteString(String(value)),
          many: false,
          rep: rep === 'json' ? 'string' : rep,
        };
    }
  }
}
