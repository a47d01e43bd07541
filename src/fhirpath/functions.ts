/**
 * FHIRPath function library compiled to SQL (FHIRPath N1 §5, SQL-on-FHIR v2
 * "Required additional functions"). Each function works on the compiled focus and
 * returns a compiled value; no rows are evaluated in TypeScript.
 */
import type { FhirPathNode } from './ast.js';
import type { FhirPathCompiler, Rep, Scope, Value } from './compile.js';
import { sqlTypeOfRep } from './compile.js';
import { DialectFunction } from '../sql/dialect.js';

type Fn = (c: FhirPathCompiler, focus: Value, args: readonly FhirPathNode[], scope: Scope) => Value;

const bool = (sql: string): Value => ({ k: 'sql', sql, many: false, rep: 'boolean' });
const str = (sql: string): Value => ({ k: 'sql', sql, many: false, rep: 'string' });
const int = (sql: string): Value => ({ k: 'sql', sql, many: false, rep: 'integer' });

function arity(
  c: FhirPathCompiler,
  name: string,
  args: readonly FhirPathNode[],
  min: number,
  max: number,
): void {
  if (args.length < min || args.length > max) {
    c.fail(
      `${name}() takes ${min === max ? min : `${min} to ${max}`} argument(s), got ${args.length}`,
    );
  }
}

function count(c: FhirPathCompiler, v: Value): string {
  if (v.k === 'empty') return '0';
  if (!c.isMany(v)) return `CASE WHEN ${c.scalar(v)} IS NULL THEN 0 ELSE 1 END`;
  return c.dialect.sqlListLength(c.list(v).sql);
}

/** Lambda parameters: the index only when the body uses $index (it costs the engine work). */
function params(x: string, i: string, body: string): string[] {
  return new RegExp(`\\b${i}\\b`).test(body) ? [x, i] : [x];
}

/** where(criteria) as a list filter; also used by exists(criteria) and extension(url). */
function where(c: FhirPathCompiler, focus: Value, criteria: FhirPathNode, scope: Scope): Value {
  const d = c.dialect;
  const { list, x, i, inner } = c.lambdaScope(focus, scope);
  const cond = c.bool(c.compile(criteria, inner));
  const sql = d.sqlListFilter(
    list.sql,
    d.sqlLambda(params(x, i, cond), `coalesce(${cond}, FALSE)`),
  );
  return { k: 'sql', sql, many: true, rep: list.rep, type: list.type };
}

function select(c: FhirPathCompiler, focus: Value, projection: FhirPathNode, scope: Scope): Value {
  const d = c.dialect;
  const { list, x, i, inner } = c.lambdaScope(focus, scope);
  const body = c.compile(projection, inner);
  const bodyList = c.list(body);
  const sql = d.sqlListFlatten(
    d.sqlListTransform(list.sql, d.sqlLambda(params(x, i, bodyList.sql), bodyList.sql)),
  );
  return { k: 'sql', sql, many: true, rep: bodyList.rep, type: bodyList.type };
}

function allItems(c: FhirPathCompiler, focus: Value, criteria: FhirPathNode, scope: Scope): Value {
  const d = c.dialect;
  const { list, x, i, inner } = c.lambdaScope(focus, scope);
  const cond = c.bool(c.compile(criteria, inner));
  const failing = d.sqlListFilter(
    list.sql,
    d.sqlLambda(params(x, i, cond), `NOT coalesce(${cond}, FALSE)`),
  );
  return bool(`(${d.sqlListLength(failing)} = 0)`);
}

function stringFn(c: FhirPathCompiler, focus: Value): string {
  return c.scalar(focus, 'string');
}

function argString(c: FhirPathCompiler, arg: FhirPathNode | undefined, scope: Scope): string {
  if (arg === undefined) return c.fail('missing argument');
  return c.scalar(c.compile(arg, scope), 'string');
}

function argInt(c: FhirPathCompiler, arg: FhirPathNode | undefined, scope: Scope): string {
  if (arg === undefined) return c.fail('missing argument');
  return c.scalar(c.compile(arg, scope), 'integer');
}

function boolAggregate(
  c: FhirPathCompiler,
  focus: Value,
  mode: 'allTrue' | 'anyTrue' | 'allFalse' | 'anyFalse',
): Value {
  const d = c.dialect;
  const l = c.list(focus, 'boolean').sql;
  const x = c.freshVar();
  const pred =
    mode === 'allTrue' || mode === 'anyFalse'
      ? `NOT coalesce(${x}, FALSE)`
      : `coalesce(${x}, FALSE)`;
  const matches = d.sqlListLength(d.sqlListFilter(l, d.sqlLambda([x], pred)));
  return bool(mode.startsWith('all') ? `(${matches} = 0)` : `(${matches} > 0)`);
}

/** Decimal places written in a number's text; precision drives the boundary functions. */
function decimalBoundary(c: FhirPathCompiler, focus: Value, high: boolean): Value {
  const text = c.scalar(focus, 'string');
  const value = c.dialect.sqlTryCast(text, 'DOUBLE');
  const places = `CASE WHEN position('.' IN ${text}) = 0 THEN 0 ELSE length(${text}) - position('.' IN ${text}) END`;
  const half = `(0.5 / power(10, ${places}))`;
  return { k: 'sql', sql: `(${value} ${high ? '+' : '-'} ${half})`, many: false, rep: 'decimal' };
}

/**
 * Boundaries of partial dates and times (FHIRPath 2.0 lowBoundary/highBoundary): the
 * earliest / latest instant the value can denote, at millisecond precision; an absent
 * time zone widens the range to +14:00 / -12:00.
 */
function temporalBoundary(c: FhirPathCompiler, focus: Value, rep: Rep, high: boolean): Value {
  const d = c.dialect;
  const t = c.scalar(focus, rep);
  if (rep === 'time') {
    const frac = high ? '.999' : '.000';
    return {
      k: 'sql',
      sql: `CASE length(${t}) WHEN 2 THEN ${t} || ${high ? "':59:59.999'" : "':00:00.000'"} WHEN 5 THEN ${t} || ${high ? "':59.999'" : "':00.000'"} WHEN 8 THEN ${t} || '${frac}' ELSE ${t} END`,
      many: false,
      rep: 'time',
    };
  }
  const year = `substr(${t}, 1, 4)`;
  const lastDay = (ym: string): string => d.sqlLastDayOfMonthText(ym);
  const dateOnly = high
    ? `CASE length(${t}) WHEN 4 THEN ${year} || '-12-31' WHEN 7 THEN ${t} || '-' || ${lastDay(t)} ELSE substr(${t}, 1, 10) END`
    : `CASE length(${t}) WHEN 4 THEN ${year} || '-01-01' WHEN 7 THEN ${t} || '-01' ELSE substr(${t}, 1, 10) END`;
  if (rep === 'date')
    return {
      k: 'sql',
      sql: `CASE WHEN ${t} IS NULL THEN NULL ELSE ${dateOnly} END`,
      many: false,
      rep: 'date',
    };
  const zone = high ? "'-12:00'" : "'+14:00'";
  const timeFill = high ? "'T23:59:59.999'" : "'T00:00:00.000'";
  // A dateTime with a time part: fill missing seconds/milliseconds, keep its zone.
  const tz = `regexp_extract(${t}, '(Z|[+-][0-9]{2}:[0-9]{2})$', 1)`;
  const local = `regexp_replace(${t}, '(Z|[+-][0-9]{2}:[0-9]{2})$', '')`;
  const fillTime = (l: string): string =>
    `CASE length(${l}) WHEN 16 THEN ${l} || ${high ? "':59.999'" : "':00.000'"} WHEN 19 THEN ${l} || ${high ? "'.999'" : "'.000'"} ELSE rpad(${l}, 23, '${high ? '9' : '0'}') END`;
  const withTime = `${fillTime(local)} || CASE WHEN ${tz} = '' THEN ${zone} ELSE ${tz} END`;
  return {
    k: 'sql',
    sql: `CASE WHEN ${t} IS NULL THEN NULL WHEN length(${t}) <= 10 THEN ${dateOnly} || ${timeFill} || ${zone} ELSE ${withTime} END`,
    many: false,
    rep: 'dateTime',
  };
}

function boundary(c: FhirPathCompiler, focus: Value, high: boolean): Value {
  const rep = c.repOf(focus);
  if (rep === 'decimal' || rep === 'integer') return decimalBoundary(c, focus, high);
  if (rep === 'date' || rep === 'dateTime' || rep === 'time')
    return temporalBoundary(c, focus, rep, high);
  return { k: 'empty' };
}

/** `Type/id`, `http://base/Type/id` and `.../_history/n` all give the key `id`. */
const REFERENCE_PATTERN = '([A-Za-z]+)/([A-Za-z0-9\\-\\.]{1,64})(/_history/[^/]+)?$';

function referenceKey(
  c: FhirPathCompiler,
  focus: Value,
  args: readonly FhirPathNode[],
  scope: Scope,
): Value {
  const d = c.dialect;
  const typeArg = args[0];
  const wanted =
    typeArg === undefined
      ? undefined
      : typeArg.kind === 'identifier'
        ? typeArg.name
        : c.fail('getReferenceKey() takes a resource type name');
  const pattern = d.quoteString(REFERENCE_PATTERN);
  const one = (ref: string): string => {
    const id = `nullif(regexp_extract(${ref}, ${pattern}, 2), '')`;
    const slow =
      wanted === undefined
        ? id
        : `CASE WHEN regexp_extract(${ref}, ${pattern}, 1) = ${d.quoteString(wanted)} THEN ${id} END`;
    if (wanted === undefined) return slow;
    // Relative `Type/id` (what exports hold) is read without a regular expression.
    const prefix = d.quoteString(`${wanted}/`);
    const rest = `substr(${ref}, ${wanted.length + 2})`;
    const startsWith = d.sqlFunction(DialectFunction.StartsWith, [ref, prefix]);
    const slash = d.sqlFunction(DialectFunction.Position, [rest, "'/'"]);
    return `CASE WHEN ${startsWith} AND ${slash} = 0 AND length(${rest}) > 0 THEN ${rest} ELSE ${slow} END`;
  };
  const refs = c.member(focus, 'reference', scope);
  if (refs.k === 'empty') return refs;
  if (!c.isMany(refs)) return str(one(c.scalar(refs, 'string')));
  const x = c.freshVar();
  const l = d.sqlListTransform(c.list(refs, 'string').sql, d.sqlLambda([x], one(x)));
  const y = c.freshVar();
  return {
    k: 'sql',
    sql: d.sqlListFilter(l, d.sqlLambda([y], `${y} IS NOT NULL`)),
    many: true,
    rep: 'string',
  };
}

function convertsTo(c: FhirPathCompiler, focus: Value, rep: Rep): Value {
  const s = c.scalar(focus, 'string');
  const d = c.dialect;
  if (rep === 'string') return bool(`(${s} IS NOT NULL)`);
  if (rep === 'boolean')
    return bool(
      `CASE WHEN ${s} IS NULL THEN NULL ELSE lower(${s}) IN ('true','false','t','f','yes','no','y','n','1','0','1.0','0.0') END`,
    );
  return bool(
    `CASE WHEN ${s} IS NULL THEN NULL ELSE ${d.sqlTryCast(s, sqlTypeOfRep(rep))} IS NOT NULL END`,
  );
}

const FUNCTIONS: Record<string, Fn> = {
  // --- existence (§5.1)
  empty: (c, f, a) => {
    arity(c, 'empty', a, 0, 0);
    if (!c.isMany(f) && f.k !== 'empty') return bool(`(${c.scalar(f)} IS NULL)`);
    return bool(`(${count(c, f)} = 0)`);
  },
  exists: (c, f, a, s) => {
    arity(c, 'exists', a, 0, 1);
    const v = a[0] === undefined ? f : where(c, f, a[0], s);
    if (!c.isMany(v) && v.k !== 'empty') return bool(`(${c.scalar(v)} IS NOT NULL)`);
    return bool(`(${count(c, v)} > 0)`);
  },
  all: (c, f, a, s) => (arity(c, 'all', a, 1, 1), allItems(c, f, a[0]!, s)),
  allTrue: (c, f) => boolAggregate(c, f, 'allTrue'),
  anyTrue: (c, f) => boolAggregate(c, f, 'anyTrue'),
  allFalse: (c, f) => boolAggregate(c, f, 'allFalse'),
  anyFalse: (c, f) => boolAggregate(c, f, 'anyFalse'),
  count: (c, f, a) => (arity(c, 'count', a, 0, 0), int(count(c, f))),
  distinct: (c, f) => {
    const l = c.list(f);
    return {
      k: 'sql',
      sql: c.dialect.sqlListDistinct(l.sql),
      many: true,
      rep: l.rep,
      type: l.type,
    };
  },
  isDistinct: (c, f) => {
    const l = c.list(f).sql;
    const d = c.dialect;
    return bool(`(${d.sqlListLength(d.sqlListDistinct(l))} = ${d.sqlListLength(l)})`);
  },
  hasValue: (c, f) => bool(`(${count(c, f)} = 1)`),

  // --- filtering and projection (§5.2)
  where: (c, f, a, s) => (arity(c, 'where', a, 1, 1), where(c, f, a[0]!, s)),
  select: (c, f, a, s) => (arity(c, 'select', a, 1, 1), select(c, f, a[0]!, s)),
  extension: (c, f, a, s) => {
    arity(c, 'extension', a, 1, 1);
    const url = argString(c, a[0], s);
    const exts = c.member(f, 'extension', s);
    if (exts.k === 'empty') return exts;
    const d = c.dialect;
    const l = c.list(exts, 'json');
    const x = c.freshVar();
    const sql = d.sqlListFilter(
      l.sql,
      d.sqlLambda([x], `(${d.sqlJsonExtractString(x, '$.url')} = ${url})`),
    );
    return { k: 'sql', sql, many: true, rep: 'json', type: { type: 'Extension' } };
  },

  // --- subsetting (§5.3)
  first: (c, f) => {
    if (!c.isMany(f)) return f;
    const l = c.list(f);
    const slow = c.dialect.sqlListElement(l.sql, '0');
    if (f.k === 'path' && f.path.includes('[*]')) {
      // The first item of the first element of each array is usually the answer; the list
      // is built only for rows where that item is absent.
      const fast = c.scalar({ ...f, path: f.path.replaceAll('[*]', '[0]'), many: false }, l.rep);
      return { k: 'sql', sql: `coalesce(${fast}, ${slow})`, many: false, rep: l.rep, type: l.type };
    }
    return { k: 'sql', sql: slow, many: false, rep: l.rep, type: l.type };
  },
  last: (c, f) => {
    if (!c.isMany(f)) return f;
    const l = c.list(f);
    const d = c.dialect;
    return {
      k: 'sql',
      sql: d.sqlListElement(l.sql, `${d.sqlListLength(l.sql)} - 1`),
      many: false,
      rep: l.rep,
      type: l.type,
    };
  },
  single: (c, f) => {
    if (!c.isMany(f)) return f;
    const l = c.list(f);
    return { k: 'sql', sql: c.single(l.sql, l.rep), many: false, rep: l.rep, type: l.type };
  },
  tail: (c, f) => {
    const l = c.list(f);
    return {
      k: 'sql',
      sql: c.dialect.sqlListSlice(l.sql, '1', null),
      many: true,
      rep: l.rep,
      type: l.type,
    };
  },
  skip: (c, f, a, s) => {
    const l = c.list(f);
    return {
      k: 'sql',
      sql: c.dialect.sqlListSlice(l.sql, `greatest(${argInt(c, a[0], s)}, 0)`, null),
      many: true,
      rep: l.rep,
      type: l.type,
    };
  },
  take: (c, f, a, s) => {
    const l = c.list(f);
    return {
      k: 'sql',
      sql: c.dialect.sqlListSlice(l.sql, '0', `greatest(${argInt(c, a[0], s)}, 0)`),
      many: true,
      rep: l.rep,
      type: l.type,
    };
  },

  // --- combining (§5.4)
  union: (c, f, a, s) => {
    const other = c.compile(a[0] ?? c.fail('union() needs an argument'), s);
    const rep = c.commonRep(f, other);
    const d = c.dialect;
    return {
      k: 'sql',
      sql: d.sqlListDistinct(d.sqlListConcat([c.list(f, rep).sql, c.list(other, rep).sql])),
      many: true,
      rep,
    };
  },
  combine: (c, f, a, s) => {
    const other = c.compile(a[0] ?? c.fail('combine() needs an argument'), s);
    const rep = c.commonRep(f, other);
    return {
      k: 'sql',
      sql: c.dialect.sqlListConcat([c.list(f, rep).sql, c.list(other, rep).sql]),
      many: true,
      rep,
    };
  },

  // --- boolean logic (§6.5)
  not: (c, f) => bool(`(NOT ${c.bool(f)})`),
  iif: (c, f, a, s) => {
    arity(c, 'iif', a, 2, 3);
    const inner: Scope = { ...s, focus: f };
    const cond = c.bool(c.compile(a[0]!, inner));
    const then = c.compile(a[1]!, inner);
    const otherwise: Value = a[2] === undefined ? { k: 'empty' } : c.compile(a[2], inner);
    const rep = otherwise.k === 'empty' ? c.repOf(then) : c.commonRep(then, otherwise);
    const many = c.isMany(then) || c.isMany(otherwise);
    if (many) {
      return {
        k: 'sql',
        sql: `CASE WHEN ${cond} THEN ${c.list(then, rep).sql} ELSE ${c.list(otherwise, rep).sql} END`,
        many: true,
        rep,
      };
    }
    return {
      k: 'sql',
      sql: `CASE WHEN ${cond} THEN ${c.scalar(then, rep)} ELSE ${c.scalar(otherwise, rep)} END`,
      many: false,
      rep,
    };
  },

  // --- conversion (§5.5)
  toString: (c: FhirPathCompiler, f: Value) => str(c.scalar(f, 'string')),
  toInteger: (c, f) => int(c.dialect.sqlTryCast(c.scalar(f, 'string'), 'BIGINT')),
  toDecimal: (c, f) => ({
    k: 'sql',
    sql: c.dialect.sqlTryCast(c.scalar(f, 'string'), 'DOUBLE'),
    many: false,
    rep: 'decimal',
  }),
  toBoolean: (c, f) => {
    const s = c.scalar(f, 'string');
    return bool(
      `CASE WHEN lower(${s}) IN ('true','t','yes','y','1','1.0') THEN TRUE WHEN lower(${s}) IN ('false','f','no','n','0','0.0') THEN FALSE END`,
    );
  },
  toDate: (c, f) => ({
    k: 'sql',
    sql: `substr(${c.scalar(f, 'string')}, 1, 10)`,
    many: false,
    rep: 'date',
  }),
  toDateTime: (c, f) => ({ k: 'sql', sql: c.scalar(f, 'string'), many: false, rep: 'dateTime' }),
  toTime: (c, f) => ({ k: 'sql', sql: c.scalar(f, 'string'), many: false, rep: 'time' }),
  convertsToString: (c, f) => convertsTo(c, f, 'string'),
  convertsToInteger: (c, f) => convertsTo(c, f, 'integer'),
  convertsToDecimal: (c, f) => convertsTo(c, f, 'decimal'),
  convertsToBoolean: (c, f) => convertsTo(c, f, 'boolean'),

  // --- strings (§5.6)
  length: (c, f) => int(c.dialect.sqlFunction(DialectFunction.Length, [stringFn(c, f)])),
  upper: (c, f) => str(c.dialect.sqlFunction(DialectFunction.Upper, [stringFn(c, f)])),
  lower: (c, f) => str(c.dialect.sqlFunction(DialectFunction.Lower, [stringFn(c, f)])),
  trim: (c, f) => str(c.dialect.sqlFunction(DialectFunction.Trim, [stringFn(c, f)])),
  startsWith: (c, f, a, s) =>
    bool(
      c.dialect.sqlFunction(DialectFunction.StartsWith, [stringFn(c, f), argString(c, a[0], s)]),
    ),
  endsWith: (c, f, a, s) =>
    bool(c.dialect.sqlFunction(DialectFunction.EndsWith, [stringFn(c, f), argString(c, a[0], s)])),
  contains: (c, f, a, s) =>
    bool(c.dialect.sqlFunction(DialectFunction.Contains, [stringFn(c, f), argString(c, a[0], s)])),
  indexOf: (c, f, a, s) =>
    int(
      `(${c.dialect.sqlFunction(DialectFunction.Position, [stringFn(c, f), argString(c, a[0], s)])} - 1)`,
    ),
  substring: (c, f, a, s) => {
    arity(c, 'substring', a, 1, 2);
    const text = stringFn(c, f);
    const start = argInt(c, a[0], s);
    const args = [text, `(${start}) + 1`];
    if (a[1] !== undefined) args.push(argInt(c, a[1], s));
    const sub = c.dialect.sqlFunction(DialectFunction.Substring, args);
    return str(`CASE WHEN ${start} < 0 OR ${start} >= length(${text}) THEN NULL ELSE ${sub} END`);
  },
  replace: (c, f, a, s) =>
    str(
      c.dialect.sqlFunction(DialectFunction.Replace, [
        stringFn(c, f),
        argString(c, a[0], s),
        argString(c, a[1], s),
      ]),
    ),
  matches: (c, f, a, s) =>
    bool(
      c.dialect.sqlFunction(DialectFunction.RegexpMatches, [stringFn(c, f), argString(c, a[0], s)]),
    ),
  replaceMatches: (c, f, a, s) =>
    str(
      c.dialect.sqlRegexpReplaceAll(stringFn(c, f), argString(c, a[0], s), argString(c, a[1], s)),
    ),
  split: (c, f, a, s) => ({
    k: 'sql',
    sql: c.dialect.sqlFunction(DialectFunction.Split, [stringFn(c, f), argString(c, a[0], s)]),
    many: true,
    rep: 'string',
  }),
  join: (c, f, a, s) => {
    arity(c, 'join', a, 0, 1);
    const sep = a[0] === undefined ? "''" : argString(c, a[0], s);
    const l = c.list(f, 'string').sql;
    return str(
      `CASE WHEN ${c.dialect.sqlListLength(l)} = 0 THEN NULL ELSE ${c.dialect.sqlListJoin(l, sep)} END`,
    );
  },

  // --- math (§5.7)
  abs: (c, f) => ({ k: 'sql', sql: `abs(${c.scalar(f)})`, many: false, rep: c.repOf(f) }),
  ceiling: (c, f) => int(c.dialect.sqlCast(`ceiling(${c.scalar(f, 'decimal')})`, 'BIGINT')),
  floor: (c, f) => int(c.dialect.sqlCast(`floor(${c.scalar(f, 'decimal')})`, 'BIGINT')),
  truncate: (c, f) =>
    int(
      c.dialect.sqlCast(
        c.dialect.sqlFunction(DialectFunction.Truncate, [c.scalar(f, 'decimal')]),
        'BIGINT',
      ),
    ),
  round: (c, f, a, s) => ({
    k: 'sql',
    sql: `round(${c.scalar(f, 'decimal')}, ${a[0] === undefined ? '0' : argInt(c, a[0], s)})`,
    many: false,
    rep: 'decimal',
  }),
  sqrt: (c, f) => ({
    k: 'sql',
    sql: `CASE WHEN ${c.scalar(f, 'decimal')} < 0 THEN NULL ELSE sqrt(${c.scalar(f, 'decimal')}) END`,
    many: false,
    rep: 'decimal',
  }),
  ln: (c, f) => ({ k: 'sql', sql: `ln(${c.scalar(f, 'decimal')})`, many: false, rep: 'decimal' }),
  exp: (c, f) => ({ k: 'sql', sql: `exp(${c.scalar(f, 'decimal')})`, many: false, rep: 'decimal' }),
  power: (c, f, a, s) => ({
    k: 'sql',
    sql: `power(${c.scalar(f, 'decimal')}, ${c.scalar(c.compile(a[0]!, s), 'decimal')})`,
    many: false,
    rep: 'decimal',
  }),

  // --- aggregates (FHIRPath 2.0 sum/min/max/avg)
  sum: (c, f) => ({
    k: 'sql',
    sql: c.dialect.sqlListAggregate(
      c.list(f, c.repOf(f) === 'integer' ? 'integer' : 'decimal').sql,
      'sum',
    ),
    many: false,
    rep: c.repOf(f) === 'integer' ? 'integer' : 'decimal',
  }),
  min: (c, f) => ({
    k: 'sql',
    sql: c.dialect.sqlListAggregate(c.list(f).sql, 'min'),
    many: false,
    rep: c.repOf(f),
  }),
  max: (c, f) => ({
    k: 'sql',
    sql: c.dialect.sqlListAggregate(c.list(f).sql, 'max'),
    many: false,
    rep: c.repOf(f),
  }),
  avg: (c, f) => ({
    k: 'sql',
    sql: c.dialect.sqlListAggregate(c.list(f, 'decimal').sql, 'avg'),
    many: false,
    rep: 'decimal',
  }),

  // --- SQL-on-FHIR required functions
  // Keys are ids: getReferenceKey() of a reference gives the id of its target.
  getResourceKey: (c, f, _a, s) => c.member(f, 'id', s),
  getReferenceKey: (c, f, a, s) => referenceKey(c, f, a, s),
  lowBoundary: (c, f) => boundary(c, f, false),
  highBoundary: (c, f) => boundary(c, f, true),

  // --- utility
  trace: (_c, f) => f,
  today: (c) => ({ k: 'sql', sql: c.dialect.sqlTodayText(), many: false, rep: 'date' }),
  now: (c) => ({
    k: 'sql',
    sql: c.dialect.sqlNowText(),
    many: false,
    rep: 'dateTime',
  }),
};

export function invokeFunction(
  c: FhirPathCompiler,
  name: string,
  focus: Value,
  args: readonly FhirPathNode[],
  scope: Scope,
): Value {
  const fn = FUNCTIONS[name];
  if (fn === undefined) return c.fail(`Function ${name}() is not supported`);
  return fn(c, focus, args, scope);
}

export const SUPPORTED_FUNCTIONS: readonly string[] = Object.keys(FUNCTIONS).sort();
