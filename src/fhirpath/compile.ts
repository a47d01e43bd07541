/**
 * FHIRPath → SQL expression compiler.
 *
 * The lake stores every top-level element of a resource as a JSON column, so a path
 * compiles to JSONPath extraction over those columns. Member steps are accumulated
 * into a single JSONPath (`name.given` → `json_extract_string("name", '$[*].given[*]')`)
 * using the R4 model for cardinality, so simple paths cost one engine call; functions
 * with criteria compile to list lambdas. Empty is SQL NULL for singletons and an empty
 * (or NULL) list for collections.
 *
 * FHIRPath semantics implemented here follow http://hl7.org/fhirpath/N1/ and the
 * subset SQL-on-FHIR v2 requires (https://build.fhir.org/ig/FHIR/sql-on-fhir-v2/).
 */
import type { FhirPathNode } from './ast.js';
import { FhirPathCompileError } from './errors.js';
import {
  childInfo,
  choiceSuffix,
  choiceTypes,
  isPrimitiveType,
  typeFromChoiceSuffix,
  type ModelType,
} from './model.js';
import { DialectFunction, type Dialect, type SqlType } from '../sql/dialect.js';

/** How the items of a compiled value are represented in SQL. */
export type Rep =
  'json' | 'string' | 'boolean' | 'integer' | 'decimal' | 'date' | 'dateTime' | 'time';

export type Value =
  /** The resource row itself. */
  | { readonly k: 'root'; readonly json: string; readonly resourceType: string }
  /** JSON reached by a JSONPath from a JSON base expression. */
  | {
      readonly k: 'path';
      readonly base: string;
      readonly path: string;
      readonly many: boolean;
      readonly type: ModelType | undefined;
    }
  /** A choice element (`value[x]`) not yet narrowed by ofType(): its present typed forms. */
  | {
      readonly k: 'choice';
      readonly forms: ReadonlyArray<{ readonly type: string; readonly value: Value }>;
    }
  /** A materialised SQL value: a scalar (NULL = empty) or a list. */
  | {
      readonly k: 'sql';
      readonly sql: string;
      readonly many: boolean;
      readonly rep: Rep;
      readonly type?: ModelType | undefined;
    }
  /** Each item of a JSON list (bound to lambda variable `x`) mapped through `inner`, flattened. */
  | { readonly k: 'each'; readonly list: string; readonly x: string; readonly inner: Value }
  | { readonly k: 'empty' };

/** Everything the compiler needs to know about the row it compiles against. */
export interface RootContext {
  /** SQL alias of the resource table in the FROM clause. */
  readonly alias: string;
  readonly resourceType: string;
  /** Columns present in the lake for this type; undefined = assume all exist. */
  readonly columns: ReadonlySet<string> | undefined;
  /** SQL of the whole resource as one JSON object, for the rare paths that need it. */
  readonly json: string;
}

export function rootValue(root: RootContext): Value {
  return { k: 'root', json: root.json, resourceType: root.resourceType };
}

export interface Scope {
  readonly root: RootContext;
  /** The focus: what a bare identifier navigates from. */
  readonly focus: Value;
  /** SQL of %rowIndex in this scope. */
  readonly rowIndex: string;
  /** SQL of $index inside a lambda. */
  readonly indexVar?: string;
  readonly constants: ReadonlyMap<string, Value>;
  readonly depth: number;
}

const SQL_TYPE: Record<Rep, SqlType> = {
  json: 'JSON',
  string: 'VARCHAR',
  boolean: 'BOOLEAN',
  integer: 'BIGINT',
  decimal: 'DOUBLE',
  date: 'VARCHAR',
  dateTime: 'VARCHAR',
  time: 'VARCHAR',
};

export function sqlTypeOfRep(rep: Rep): SqlType {
  return SQL_TYPE[rep];
}

/** The SQL representation used for a FHIR primitive type. */
export function repOfFhirType(type: string | undefined): Rep {
  switch (type) {
    case undefined:
      return 'json';
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
    case 'integer64':
      return 'integer';
    case 'decimal':
      return 'decimal';
    case 'date':
      return 'date';
    case 'dateTime':
    case 'instant':
      return 'dateTime';
    case 'time':
      return 'time';
    default:
      return isPrimitiveType(type) ? 'string' : 'json';
  }
}

const TEMPORAL: ReadonlySet<Rep> = new Set(['date', 'dateTime', 'time']);
const NUMERIC: ReadonlySet<Rep> = new Set(['integer', 'decimal']);

export class FhirPathCompiler {
  private lambdaCounter: number;

  /**
   * `firstVar` numbers the lambda variables, so that expressions compiled into one
   * statement never reuse a name; `lastVar` tells the next expression where to start.
   */
  constructor(
    readonly dialect: Dialect,
    private readonly expression: string,
    firstVar = 0,
  ) {
    this.lambdaCounter = firstVar;
  }

  get lastVar(): number {
    return this.lambdaCounter;
  }

  fail(message: string): never {
    throw new FhirPathCompileError(message, this.expression);
  }

  compile(node: FhirPathNode, scope: Scope): Value {
    switch (node.kind) {
      case 'empty':
        return { k: 'empty' };
      case 'literal':
        return this.literal(node);
      case 'identifier':
        return this.member(scope.focus, node.name, scope);
      case 'member':
        return this.member(this.compile(node.target, scope), node.name, scope);
      case 'this':
        return scope.focus;
      case 'index-var':
        if (scope.indexVar === undefined)
          this.fail('$index is only defined inside a function argument');
        return { k: 'sql', sql: scope.indexVar, many: false, rep: 'integer' };
      case 'total':
        return this.fail('$total is only defined inside aggregate()');
      case 'variable':
        return this.variable(node.name, scope);
      case 'index': {
        const target = this.compile(node.target, scope);
        const index = this.scalar(this.compile(node.index, scope), 'integer');
        const list = this.list(target);
        return {
          ...list,
          k: 'sql',
          many: false,
          sql: this.dialect.sqlListElement(list.sql, index),
        };
      }
      case 'unary': {
        const v = this.compile(node.operand, scope);
        const rep = this.repOf(v);
        const sql = this.scalar(v, NUMERIC.has(rep) ? rep : 'decimal');
        return node.op === '-'
          ? { k: 'sql', sql: `(-${sql})`, many: false, rep: NUMERIC.has(rep) ? rep : 'decimal' }
          : v;
      }
      case 'binary':
        return this.binary(node.op, node.left, node.right, scope);
      case 'typeop': {
        const v = this.compile(node.operand, scope);
        return node.op === 'as' ? this.ofType(v, node.typeName) : this.isType(v, node.typeName);
      }
      case 'invoke':
        return this.invoke(node, scope);
    }
  }

  // ---------------------------------------------------------------- values

  private literal(node: Extract<FhirPathNode, { kind: 'literal' }>): Value {
    const d = this.dialect;
    switch (node.type) {
      case 'string':
        return { k: 'sql', sql: d.quoteString(node.value), many: false, rep: 'string' };
      case 'boolean':
        return {
          k: 'sql',
          sql: node.value === 'true' ? 'TRUE' : 'FALSE',
          many: false,
          rep: 'boolean',
        };
      case 'integer':
      case 'long':
        return { k: 'sql', sql: d.sqlCast(node.value, 'BIGINT'), many: false, rep: 'integer' };
      case 'decimal':
        return { k: 'sql', sql: d.sqlCast(node.value, 'DOUBLE'), many: false, rep: 'decimal' };
      case 'date':
        return { k: 'sql', sql: d.quoteString(node.value), many: false, rep: 'date' };
      case 'dateTime':
        return {
          k: 'sql',
          sql: d.quoteString(node.value.replace(/T$/, '')),
          many: false,
          rep: 'dateTime',
        };
      case 'time':
        return { k: 'sql', sql: d.quoteString(node.value), many: false, rep: 'time' };
      case 'quantity':
        return this.fail(
          `Quantity literals (${node.value} '${node.unit ?? ''}') are not supported in views`,
        );
    }
  }

  private variable(name: string, scope: Scope): Value {
    if (name === 'rowIndex') return { k: 'sql', sql: scope.rowIndex, many: false, rep: 'integer' };
    if (name === 'resource' || name === 'rootResource') return rootValue(scope.root);
    const c = scope.constants.get(name);
    if (c === undefined)
      this.fail(`Unknown variable %${name}: declare it in the view's constant list`);
    return c;
  }

  /** Navigates to a child element. */
  member(target: Value, name: string, scope: Scope): Value {
    const d = this.dialect;
    switch (target.k) {
      case 'empty':
        return target;
      case 'root': {
        const rt = scope.root.resourceType;
        if (name === rt) return target; // `Patient.name` — a type name qualifies the root.
        if (name === 'id') {
          return this.rootColumn('id', scope) === null
            ? { k: 'empty' }
            : {
                k: 'sql',
                sql: `${scope.root.alias}.${d.quoteIdent('id')}`,
                many: false,
                rep: 'string',
              };
        }
        const ctx: ModelType = { type: rt };
        const options = choiceTypes(ctx, name);
        if (options !== undefined) return this.choice(target, name, options, scope);
        const info = childInfo(ctx, name);
        const col = this.rootColumn(name, scope);
        if (col === null) return { k: 'empty' };
        if (info === undefined)
          return this.dynamic({ k: 'path', base: col, path: '$', many: false, type: undefined });
        return {
          k: 'path',
          base: col,
          path: info.repeating ? '$[*]' : '$',
          many: info.repeating,
          type: info.type,
        };
      }
      case 'choice':
        // Navigating below an un-narrowed choice: the children of whichever form is present.
        return this.member(this.materializeChoice(target), name, scope);
      case 'path': {
        const ctx = target.type;
        if (ctx !== undefined && ctx.path === undefined && isPrimitiveType(ctx.type)) {
          // Primitives have no children other than id/extension (reached via `_x`, rare in views).
          return { k: 'empty' };
        }
        if (ctx !== undefined) {
          const options = choiceTypes(ctx, name);
          if (options !== undefined) return this.choice(target, name, options, scope);
        }
        const info = ctx === undefined ? undefined : childInfo(ctx, name);
        const step = `${target.path}.${jsonKey(name)}`;
        if (info === undefined) {
          const v: Value = {
            k: 'path',
            base: target.base,
            path: step,
            many: target.many,
            type: undefined,
          };
          return this.dynamic(v);
        }
        return {
          k: 'path',
          base: target.base,
          path: info.repeating ? `${step}[*]` : step,
          many: target.many || info.repeating,
          type: info.type,
        };
      }
      case 'sql': {
        if (target.rep !== 'json') return { k: 'empty' };
        const lambdaVar = this.freshVar();
        if (!target.many) {
          return this.member(
            { k: 'path', base: target.sql, path: '$', many: false, type: target.type },
            name,
            scope,
          );
        }
        // Navigate inside each element; materialised (flattened) only when needed, so
        // further steps and ofType() stay inside one lambda.
        const inner = this.member(
          { k: 'path', base: lambdaVar, path: '$', many: false, type: target.type },
          name,
          scope,
        );
        if (inner.k === 'empty') return inner;
        return { k: 'each', list: target.sql, x: lambdaVar, inner };
      }
      case 'each': {
        const inner = this.member(target.inner, name, scope);
        return inner.k === 'empty' ? inner : { ...target, inner };
      }
    }
  }

  private choice(parent: Value, name: string, options: readonly string[], scope: Scope): Value {
    const forms = options
      .map((o) => ({ type: o, value: this.member(parent, name + choiceSuffix(o), scope) }))
      .filter((f) => f.value.k !== 'empty')
      .map((f) => ({
        type: f.type,
        value:
          f.value.k === 'path' && f.value.type === undefined
            ? { ...f.value, type: { type: typeFromChoiceSuffix(f.type) } }
            : f.value,
      }));
    if (forms.length === 0) return { k: 'empty' };
    return { k: 'choice', forms };
  }

  /** Without ofType(), a choice element is whichever of its typed forms is present. */
  materializeChoice(v: Extract<Value, { k: 'choice' }>): Value {
    const d = this.dialect;
    const present = v.forms.map((f) => f.value);
    if (present.length === 1) return present[0]!;
    if (present.some((f) => this.isMany(f))) {
      return {
        k: 'sql',
        sql: d.sqlListConcat(present.map((f) => this.list(f, 'json').sql)),
        many: true,
        rep: 'json',
      };
    }
    return {
      k: 'sql',
      sql: `coalesce(${present.map((f) => this.scalar(f, 'json')).join(', ')})`,
      many: false,
      rep: 'json',
    };
  }

  /** Element of unknown shape: a JSON array is unwrapped at run time. */
  private dynamic(v: Extract<Value, { k: 'path' }>): Value {
    const d = this.dialect;
    const list = this.list(v, 'json').sql;
    const x = this.freshVar();
    const unwrapped = d.sqlListFlatten(
      d.sqlListTransform(
        list,
        d.sqlLambda(
          [x],
          `CASE WHEN ${d.sqlJsonType(x)} = 'ARRAY' THEN ${d.sqlJsonArrayToList(x)} ELSE ${d.sqlListValue([x])} END`,
        ),
      ),
    );
    return { k: 'sql', sql: unwrapped, many: true, rep: 'json', type: undefined };
  }

  private rootColumn(name: string, scope: Scope): string | null {
    const cols = scope.root.columns;
    if (cols !== undefined && !cols.has(name)) return null;
    return `${scope.root.alias}.${this.dialect.quoteIdent(name)}`;
  }

  freshVar(): string {
    this.lambdaCounter += 1;
    return `x${this.lambdaCounter}`;
  }

  isMany(v: Value): boolean {
    switch (v.k) {
      case 'root':
      case 'empty':
        return false;
      case 'path':
      case 'sql':
        return v.many;
      case 'choice':
        return v.forms.some((f) => this.isMany(f.value));
      case 'each':
        return true;
    }
  }

  /** The representation a value naturally has. */
  repOf(v: Value): Rep {
    switch (v.k) {
      case 'sql':
        return v.rep;
      case 'path':
        return v.type === undefined || v.type.path !== undefined
          ? 'json'
          : repOfFhirType(v.type.type);
      case 'each':
        return this.repOf(v.inner);
      default:
        return 'json';
    }
  }

  modelType(v: Value): ModelType | undefined {
    if (v.k === 'each') return this.modelType(v.inner);
    return v.k === 'path' || v.k === 'sql' ? v.type : undefined;
  }

  /** Materialises a value as a SQL list with items in `rep` (default: its natural rep). */
  list(v: Value, rep?: Rep): { sql: string; rep: Rep; type: ModelType | undefined } {
    const d = this.dialect;
    const want = rep ?? this.repOf(v);
    switch (v.k) {
      case 'empty':
        return { sql: d.sqlEmptyList(SQL_TYPE[want]), rep: want, type: undefined };
      case 'root':
        return this.list(this.rootAsPath(v), rep);
      case 'choice':
        return this.list(this.materializeChoice(v), rep);
      case 'each': {
        const lambda = (body: string): string => d.sqlLambda([v.x], body);
        if (!this.isMany(v.inner)) {
          // One value per item at most: map, then drop the empty ones.
          const y = this.freshVar();
          const mapped = d.sqlListTransform(v.list, lambda(this.scalar(v.inner, want)));
          return {
            sql: d.sqlListFilter(mapped, d.sqlLambda([y], `${y} IS NOT NULL`)),
            rep: want,
            type: this.modelType(v.inner),
          };
        }
        const inner = this.list(v.inner, want);
        return {
          sql: d.sqlListFlatten(d.sqlListTransform(v.list, lambda(inner.sql))),
          rep: want,
          type: inner.type,
        };
      }
      case 'path': {
        if (!v.many) {
          const s = this.scalar(v, want);
          return { sql: this.wrapScalar(s, want), rep: want, type: v.type };
        }
        if (want === 'json')
          return { sql: d.sqlJsonExtractList(v.base, v.path), rep: want, type: v.type };
        if (want === 'string' || TEMPORAL.has(want)) {
          return { sql: d.sqlJsonExtractStringList(v.base, v.path), rep: want, type: v.type };
        }
        const x = this.freshVar();
        const sql = d.sqlListTransform(
          d.sqlJsonExtractList(v.base, v.path),
          d.sqlLambda([x], d.sqlJsonCast(x, SQL_TYPE[want])),
        );
        return { sql, rep: want, type: v.type };
      }
      case 'sql': {
        if (!v.many)
          return {
            sql: this.wrapScalar(this.convert(v.sql, v.rep, want), want),
            rep: want,
            type: v.type,
          };
        if (v.rep === want) return { sql: v.sql, rep: want, type: v.type };
        const x = this.freshVar();
        return {
          sql: d.sqlListTransform(v.sql, d.sqlLambda([x], this.convert(x, v.rep, want))),
          rep: want,
          type: v.type,
        };
      }
    }
  }

  private wrapScalar(sql: string, rep: Rep): string {
    const d = this.dialect;
    return `CASE WHEN ${sql} IS NULL THEN ${d.sqlEmptyList(SQL_TYPE[rep])} ELSE ${d.sqlListValue([sql])} END`;
  }

  /**
   * Materialises a value as a single SQL value in `rep`. A collection of more than one
   * item is an error, as FHIRPath requires for singleton evaluation.
   */
  scalar(v: Value, rep?: Rep): string {
    const d = this.dialect;
    const want = rep ?? this.repOf(v);
    switch (v.k) {
      case 'empty':
        return d.sqlCast('NULL', SQL_TYPE[want]);
      case 'root':
        return this.scalar(this.rootAsPath(v), rep);
      case 'choice':
        return this.scalar(this.materializeChoice(v), rep);
      case 'each':
        return this.single(this.list(v, want).sql, want);
      case 'path': {
        if (v.many) return this.single(this.list(v, want).sql, want);
        if (want === 'json') return v.path === '$' ? v.base : d.sqlJsonExtract(v.base, v.path);
        if (want === 'string' || TEMPORAL.has(want)) return d.sqlJsonExtractString(v.base, v.path);
        return d.sqlJsonCast(
          v.path === '$' ? v.base : d.sqlJsonExtract(v.base, v.path),
          SQL_TYPE[want],
        );
      }
      case 'sql': {
        if (v.many) return this.single(this.list(v, want).sql, want);
        return this.convert(v.sql, v.rep, want);
      }
    }
  }

  private rootAsPath(v: Extract<Value, { k: 'root' }>): Value {
    return { k: 'path', base: v.json, path: '$', many: false, type: { type: v.resourceType } };
  }

  /** First item of a list, or an error when it has more than one. */
  single(listSql: string, rep: Rep): string {
    const d = this.dialect;
    const first = d.sqlListElement(listSql, '0');
    if (!d.supportsRaiseError) return first;
    return `CASE WHEN ${d.sqlListLength(listSql)} > 1 THEN ${d.sqlRaiseError(
      `FHIRPath: expected a single value but "${this.expression}" gave several`,
      SQL_TYPE[rep],
    )} ELSE ${first} END`;
  }

  /** Converts a scalar SQL value between representations. */
  convert(sql: string, from: Rep, to: Rep): string {
    const d = this.dialect;
    if (from === to) return sql;
    if (from === 'json') {
      if (to === 'string' || TEMPORAL.has(to)) return d.sqlJsonCast(sql, 'VARCHAR');
      return d.sqlJsonCast(sql, SQL_TYPE[to]);
    }
    if (to === 'json') {
      return d.sqlToJson(sql);
    }
    if (to === 'string' || TEMPORAL.has(to)) {
      if (from === 'boolean')
        return `CASE WHEN ${sql} THEN 'true' WHEN NOT ${sql} THEN 'false' END`;
      return d.sqlCast(sql, 'VARCHAR');
    }
    return d.sqlTryCast(sql, SQL_TYPE[to]);
  }

  // ------------------------------------------------------------- operators

  private binary(op: string, leftNode: FhirPathNode, rightNode: FhirPathNode, scope: Scope): Value {
    const d = this.dialect;
    const left = this.compile(leftNode, scope);
    const right = this.compile(rightNode, scope);
    switch (op) {
      case 'and':
      case 'or':
      case 'xor':
      case 'implies': {
        const a = this.bool(left);
        const b = this.bool(right);
        const sql =
          op === 'and'
            ? `(${a} AND ${b})`
            : op === 'or'
              ? `(${a} OR ${b})`
              : op === 'xor'
                ? `(${a} <> ${b})`
                : `((NOT ${a}) OR ${b})`;
        return { k: 'sql', sql, many: false, rep: 'boolean' };
      }
      case '=':
      case '!=':
      case '~':
      case '!~': {
        const eq = this.equality(left, right, op === '~' || op === '!~');
        return {
          k: 'sql',
          sql: op.startsWith('!') ? `(NOT ${eq})` : eq,
          many: false,
          rep: 'boolean',
        };
      }
      case '<':
      case '>':
      case '<=':
      case '>=': {
        const rep = this.commonRep(left, right);
        const a = this.scalar(left, rep);
        const b = this.scalar(right, rep);
        if (TEMPORAL.has(rep)) {
          // Values of different precision are not comparable: the result is empty.
          return {
            k: 'sql',
            sql: `CASE WHEN length(${a}) = length(${b}) THEN ${a} ${op} ${b} END`,
            many: false,
            rep: 'boolean',
          };
        }
        return { k: 'sql', sql: `(${a} ${op} ${b})`, many: false, rep: 'boolean' };
      }
      case '+':
      case '-':
      case '*':
      case '/':
      case 'div':
      case 'mod': {
        const lr = this.repOf(left);
        const rr = this.repOf(right);
        if (op === '+' && (lr === 'string' || rr === 'string')) {
          return {
            k: 'sql',
            sql: `(${this.scalar(left, 'string')} || ${this.scalar(right, 'string')})`,
            many: false,
            rep: 'string',
          };
        }
        const rep: Rep =
          op === '/' ? 'decimal' : lr === 'integer' && rr === 'integer' ? 'integer' : 'decimal';
        const a = this.scalar(left, lr === 'integer' && op !== '/' ? 'integer' : 'decimal');
        const b = this.scalar(right, rr === 'integer' && op !== '/' ? 'integer' : 'decimal');
        let sql: string;
        if (op === '/') sql = `CASE WHEN ${b} = 0 THEN NULL ELSE ${a} / ${b} END`;
        else if (op === 'div')
          sql = `CASE WHEN ${b} = 0 THEN NULL ELSE ${d.sqlCast(d.sqlFunction(DialectFunction.Truncate, [`${a} / ${b}`]), 'BIGINT')} END`;
        else if (op === 'mod') sql = `CASE WHEN ${b} = 0 THEN NULL ELSE (${a} % ${b}) END`;
        else sql = `(${a} ${op} ${b})`;
        return { k: 'sql', sql, many: false, rep: op === 'div' ? 'integer' : rep };
      }
      case '&':
        return {
          k: 'sql',
          sql: `(coalesce(${this.scalar(left, 'string')}, '') || coalesce(${this.scalar(right, 'string')}, ''))`,
          many: false,
          rep: 'string',
        };
      case '|': {
        const rep = this.commonRep(left, right);
        const a = this.list(left, rep);
        const b = this.list(right, rep);
        return {
          k: 'sql',
          sql: d.sqlListDistinct(d.sqlListConcat([a.sql, b.sql])),
          many: true,
          rep,
          type: a.type,
        };
      }
      case 'in':
      case 'contains': {
        const [item, coll] = op === 'in' ? [left, right] : [right, left];
        const rep = this.commonRep(item, coll);
        const x = this.scalar(item, rep);
        const l = this.list(coll, rep).sql;
        return {
          k: 'sql',
          sql: `CASE WHEN ${x} IS NULL THEN NULL ELSE ${d.sqlListContains(l, x)} END`,
          many: false,
          rep: 'boolean',
        };
      }
      default:
        return this.fail(`Operator ${op} is not supported`);
    }
  }

  /** The representation two operands are compared in. */
  commonRep(a: Value, b: Value): Rep {
    const ra = this.repOf(a);
    const rb = this.repOf(b);
    if (ra === rb) return ra;
    if (ra === 'json') return rb;
    if (rb === 'json') return ra;
    if (NUMERIC.has(ra) && NUMERIC.has(rb)) return 'decimal';
    if (TEMPORAL.has(ra) && TEMPORAL.has(rb)) return 'dateTime';
    return 'string';
  }

  private equality(left: Value, right: Value, equivalent: boolean): string {
    const d = this.dialect;
    let rep = this.commonRep(left, right);
    if (rep === 'json') rep = 'string'; // compare JSON values by their text
    const many = this.isMany(left) || this.isMany(right);
    const norm = (s: string): string => (equivalent && rep === 'string' ? `lower(trim(${s}))` : s);
    const toText = (v: Value): Value =>
      this.repOf(v) === 'json' && !(v.k === 'path' && v.type && isPrimitiveType(v.type.type))
        ? { k: 'sql', sql: this.jsonText(v), many: this.isMany(v), rep: 'string' }
        : v;
    const l = rep === 'string' ? toText(left) : left;
    const r = rep === 'string' ? toText(right) : right;
    if (!many) {
      const a = norm(this.scalar(l, rep));
      const b = norm(this.scalar(r, rep));
      if (equivalent) return `coalesce(${a} = ${b}, ${a} IS NULL AND ${b} IS NULL)`;
      if (TEMPORAL.has(rep)) return `CASE WHEN length(${a}) = length(${b}) THEN ${a} = ${b} END`;
      return `(${a} = ${b})`;
    }
    const a = this.list(l, rep).sql;
    const b = this.list(r, rep).sql;
    if (equivalent) return `(${d.sqlListSort(a)} = ${d.sqlListSort(b)})`;
    return `CASE WHEN ${d.sqlListLength(a)} = 0 OR ${d.sqlListLength(b)} = 0 THEN NULL ELSE (${a} = ${b}) END`;
  }

  /** JSON values as comparable text: strings unquoted, other values as JSON text. */
  private jsonText(v: Value): string {
    const d = this.dialect;
    if (this.isMany(v)) {
      const x = this.freshVar();
      return d.sqlListTransform(this.list(v, 'json').sql, d.sqlLambda([x], this.jsonScalarText(x)));
    }
    return this.jsonScalarText(this.scalar(v, 'json'));
  }

  private jsonScalarText(json: string): string {
    const d = this.dialect;
    return `CASE WHEN ${d.sqlJsonType(json)} = 'VARCHAR' THEN ${d.sqlJsonCast(json, 'VARCHAR')} ELSE ${d.sqlJsonToText(json)} END`;
  }

  /** Singleton evaluation to a boolean (FHIRPath §4.5). */
  bool(v: Value): string {
    const rep = this.repOf(v);
    if (rep === 'boolean') return this.scalar(v, 'boolean');
    if (v.k === 'empty') return 'CAST(NULL AS BOOLEAN)';
    if (rep === 'json' && v.k === 'path' && v.type === undefined) {
      // Unknown type: a JSON boolean is itself, anything else present is true.
      const s = this.scalar(v, 'json');
      return `CASE WHEN ${s} IS NULL THEN NULL WHEN ${this.dialect.sqlJsonType(s)} = 'BOOLEAN' THEN ${this.dialect.sqlJsonCast(s, 'BOOLEAN')} ELSE TRUE END`;
    }
    const s = this.scalar(v);
    return `CASE WHEN ${s} IS NULL THEN NULL ELSE TRUE END`;
  }

  // ------------------------------------------------------------- types

  ofType(v: Value, typeName: string): Value {
    const name = typeName.replace(/^(FHIR|System)\./, '');
    if (v.k === 'choice') {
      const form = v.forms.find((f) => f.type.toLowerCase() === name.toLowerCase());
      return form === undefined ? { k: 'empty' } : form.value;
    }
    if (v.k === 'each') {
      const inner = this.ofType(v.inner, typeName);
      return inner.k === 'empty' ? inner : { ...v, inner };
    }
    const t = this.modelType(v);
    if (t !== undefined) {
      const actual = t.path !== undefined ? 'BackboneElement' : t.type;
      return actual.toLowerCase() === name.toLowerCase() || sameSystemType(actual, name)
        ? v
        : { k: 'empty' };
    }
    if (v.k === 'sql' && v.rep !== 'json') {
      return repMatchesType(v.rep, name) ? v : { k: 'empty' };
    }
    return v;
  }

  private isType(v: Value, typeName: string): Value {
    const narrowed = this.ofType(v, typeName);
    if (narrowed.k === 'empty') return { k: 'sql', sql: 'FALSE', many: false, rep: 'boolean' };
    const s = this.isMany(narrowed)
      ? `${this.dialect.sqlListLength(this.list(narrowed).sql)} > 0`
      : `${this.scalar(narrowed)} IS NOT NULL`;
    return { k: 'sql', sql: `(${s})`, many: false, rep: 'boolean' };
  }

  // ------------------------------------------------------------- functions

  private invoke(node: Extract<FhirPathNode, { kind: 'invoke' }>, scope: Scope): Value {
    // Functions whose argument is a type name, read back from the syntax tree.
    if (node.name === 'ofType' || node.name === 'as' || node.name === 'is') {
      const target = node.target === null ? scope.focus : this.compile(node.target, scope);
      const arg = node.args[0];
      if (arg === undefined) this.fail(`${node.name}() needs a type name`);
      const typeName = typeNameOf(arg) ?? this.fail(`${node.name}() needs a type name`);
      return node.name === 'is' ? this.isType(target, typeName) : this.ofType(target, typeName);
    }
    const target = node.target === null ? scope.focus : this.compile(node.target, scope);
    return invokeFunction(this, node.name, target, node.args, scope);
  }

  /** Applies `body` to each item of `v` (as a lambda), with $this and $index bound. */
  lambdaScope(
    v: Value,
    scope: Scope,
  ): {
    list: { sql: string; rep: Rep; type: ModelType | undefined };
    x: string;
    i: string;
    inner: Scope;
  } {
    const list = this.list(v);
    const x = this.freshVar();
    const i = this.freshVar();
    const item: Value =
      list.rep === 'json'
        ? { k: 'path', base: x, path: '$', many: false, type: list.type }
        : { k: 'sql', sql: x, many: false, rep: list.rep, type: list.type };
    const inner: Scope = {
      ...scope,
      focus: item,
      indexVar: this.dialect.sqlLambdaIndex0(i),
      depth: scope.depth + 1,
    };
    return { list, x, i, inner };
  }
}

function jsonKey(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '\\"')}"`;
}

function typeNameOf(node: FhirPathNode): string | undefined {
  if (node.kind === 'identifier') return node.name;
  if (node.kind === 'member') {
    const t = typeNameOf(node.target);
    return t === undefined ? undefined : `${t}.${node.name}`;
  }
  if (node.kind === 'literal' && node.type === 'string') return node.value;
  return undefined;
}

function sameSystemType(fhirType: string, name: string): boolean {
  const map: Record<string, string> = {
    string: 'String',
    boolean: 'Boolean',
    integer: 'Integer',
    decimal: 'Decimal',
    date: 'Date',
    dateTime: 'DateTime',
    time: 'Time',
  };
  return map[fhirType] === name;
}

function repMatchesType(rep: Rep, name: string): boolean {
  const n = name.toLowerCase();
  switch (rep) {
    case 'string':
      return [
        'string',
        'code',
        'id',
        'uri',
        'url',
        'canonical',
        'oid',
        'uuid',
        'markdown',
      ].includes(n);
    case 'boolean':
      return n === 'boolean';
    case 'integer':
      return ['integer', 'positiveint', 'unsignedint'].includes(n);
    case 'decimal':
      return n === 'decimal';
    case 'date':
      return n === 'date';
    case 'dateTime':
      return n === 'datetime' || n === 'instant';
    case 'time':
      return n === 'time';
    case 'json':
      return true;
  }
}

// The function library lives in its own file; imported last to avoid a cycle at load.
import { invokeFunction } from './functions.js';
