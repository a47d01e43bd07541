/**
 * Value sets as data: named lists of (system, code) that cohorts and measures select on
 * (docs/value-sets.md). Sets come from the shipped library (`valuesets/*.json`) or from the
 * user's JSON and CSV files; they are validated with errors that name the file and the JSON
 * path or CSV line, and rendered as SQL through the Dialect so the engine does the matching.
 *
 * There is no terminology server: "and its descendants" is written out in the set itself
 * (`descendants`), except for ICD-10-CM, whose hierarchy is in the code (E11 is the parent
 * of E11.9), so a root there also matches every code that starts with it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DialectFunction } from '../sql/dialect.js';
import type { Dialect } from '../sql/dialect.js';

/** Canonical FHIR system URIs of the terminologies the library uses. */
export const CODE_SYSTEMS = {
  snomed: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  cvx: 'http://hl7.org/fhir/sid/cvx',
} as const;
export type CodeSystem = (typeof CODE_SYSTEMS)[keyof typeof CODE_SYSTEMS];

/** Short names accepted for `system` (case and `-`/`_`/space ignored), besides the URIs. */
const SYSTEM_ALIASES: Readonly<Record<string, CodeSystem>> = {
  snomed: CODE_SYSTEMS.snomed,
  snomedct: CODE_SYSTEMS.snomed,
  sct: CODE_SYSTEMS.snomed,
  loinc: CODE_SYSTEMS.loinc,
  rxnorm: CODE_SYSTEMS.rxnorm,
  icd10cm: CODE_SYSTEMS.icd10cm,
  icd10: CODE_SYSTEMS.icd10cm,
  cvx: CODE_SYSTEMS.cvx,
};

/** The canonical URI for a system name or URI; unknown URIs are kept; undefined for unknown names. */
export function resolveSystem(system: string): string | undefined {
  const s = system.trim();
  const name = s.toLowerCase().replace(/[-_\s]/g, '');
  if (Object.hasOwn(SYSTEM_ALIASES, name)) return SYSTEM_ALIASES[name];
  return /^[a-z][a-z0-9+.-]*:\S+$/i.test(s) ? s : undefined;
}

/** Code formats of the known systems, checked so that typos are caught on load. */
const CODE_FORMATS: Readonly<Record<CodeSystem, { re: RegExp; what: string }>> = {
  [CODE_SYSTEMS.snomed]: { re: /^[1-9]\d{5,17}$/, what: 'a SNOMED CT id (6-18 digits)' },
  [CODE_SYSTEMS.loinc]: { re: /^(L[PA])?\d{1,7}-\d$/, what: 'a LOINC code such as 4548-4' },
  [CODE_SYSTEMS.rxnorm]: { re: /^\d{1,9}$/, what: 'an RxNorm RXCUI (digits)' },
  [CODE_SYSTEMS.icd10cm]: {
    re: /^[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?$/,
    what: 'an ICD-10-CM code such as E11.9 (with the dot)',
  },
  [CODE_SYSTEMS.cvx]: { re: /^\d{1,3}$/, what: 'a CVX code (1-3 digits)' },
};

/** A code system: a URI or a known alias (SNOMED, LOINC, ...), resolved to its URI. */
export const systemSchema = z.string().transform((s, ctx) => {
  const uri = resolveSystem(s);
  if (uri === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown system "${s}": use a URI or one of SNOMED, LOINC, RXNORM, ICD10CM, CVX`,
    });
    return z.NEVER;
  }
  return uri;
});

const codeSchema = z
  .string()
  .min(1, 'code must not be empty')
  .refine((c) => c.trim() === c, 'code has leading or trailing spaces');

const codingSchema = z.strictObject({
  system: systemSchema,
  code: codeSchema,
  display: z.string().optional(),
});

const rootSchema = z.strictObject({ system: systemSchema, code: codeSchema });

const NAME = /^[a-z][a-z0-9-]*$/;

export const valueSetSchema = z.strictObject({
  name: z
    .string()
    .regex(NAME, 'name must be lower-case letters, digits and "-", starting with a letter'),
  title: z.string().min(1),
  description: z.string(),
  /** Where the codes come from (citation or URL). */
  source: z.string().min(1, 'source must say where the codes come from'),
  codes: z.array(codingSchema),
  /** Codes whose descendants are meant too (the code itself is matched as well). */
  includeDescendants: z.array(rootSchema).optional(),
  /** The descendants of `includeDescendants`, written out (no terminology server). */
  descendants: z.array(codingSchema).optional(),
});

export type ValueSet = z.infer<typeof valueSetSchema>;
export type ValueSetCode = ValueSet['codes'][number];

export interface ValueSetIssue {
  /** The file, or `<input>` for values that did not come from a file. */
  readonly file: string;
  /** JSON path (`$.codes[2].code`) or CSV position (`line 4, column code`). */
  readonly path: string;
  readonly message: string;
}

/** Problems in value set input, each with the file and the place in it. */
export class ValueSetError extends Error {
  readonly code = 'VALUESET_INVALID';
  constructor(readonly issues: readonly ValueSetIssue[]) {
    super(issues.map((i) => `${i.file}: ${i.path}: ${i.message}`).join('\n'));
    this.name = 'ValueSetError';
  }
}

function jsonPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

const key = (c: { system: string; code: string }): string => `${c.system}|${c.code}`;

/** Checks beyond the schema: code formats per system, duplicates, descendants under a root. */
function checkValueSet(vs: ValueSet, at: string): { path: string; message: string }[] {
  const issues: { path: string; message: string }[] = [];
  const checkFormat = (c: { system: string; code: string }, p: string): void => {
    if (!Object.hasOwn(CODE_FORMATS, c.system)) return;
    const f = CODE_FORMATS[c.system as CodeSystem];
    if (!f.re.test(c.code)) {
      issues.push({ path: `${p}.code`, message: `"${c.code}" is not ${f.what}` });
    }
  };
  const seen = new Map<string, string>();
  const checkList = (list: ReadonlyArray<{ system: string; code: string }>, field: string) =>
    list.forEach((c, i) => {
      const p = `${at}.${field}[${i}]`;
      checkFormat(c, p);
      const k = key(c);
      const first = seen.get(k);
      if (first !== undefined) {
        issues.push({ path: p, message: `${c.system} ${c.code} is already listed at ${first}` });
      } else seen.set(k, p);
    });
  checkList(vs.codes, 'codes');
  checkList(vs.descendants ?? [], 'descendants');
  (vs.includeDescendants ?? []).forEach((r, i) => checkFormat(r, `${at}.includeDescendants[${i}]`));
  if (vs.descendants !== undefined && vs.descendants.length > 0) {
    const roots = vs.includeDescendants ?? [];
    if (roots.length === 0) {
      issues.push({
        path: `${at}.descendants`,
        message: 'descendants without includeDescendants: list their roots, or move them to codes',
      });
    }
    vs.descendants.forEach((d, i) => {
      // ICD-10-CM descendants must sit under one of the ICD-10-CM roots.
      if (d.system !== CODE_SYSTEMS.icd10cm) return;
      const under = roots.some((r) => r.system === d.system && d.code.startsWith(r.code));
      if (!under) {
        issues.push({
          path: `${at}.descendants[${i}].code`,
          message: `ICD-10-CM ${d.code} is not under any ICD-10-CM code in includeDescendants`,
        });
      }
    });
  }
  if (vs.codes.length === 0 && (vs.includeDescendants ?? []).length === 0) {
    issues.push({ path: `${at}.codes`, message: 'a value set needs at least one code' });
  }
  return issues;
}

/** Validates one parsed value set; throws ValueSetError naming `file` and the JSON path. */
export function validateValueSet(input: unknown, file = '<input>', at = '$'): ValueSet {
  const parsed = valueSetSchema.safeParse(input);
  if (!parsed.success) {
    throw new ValueSetError(
      parsed.error.issues.map((i) => ({ file, path: jsonPath(at, i.path), message: i.message })),
    );
  }
  const issues = checkValueSet(parsed.data, at);
  if (issues.length > 0) throw new ValueSetError(issues.map((i) => ({ file, ...i })));
  return parsed.data;
}

/** Value sets from JSON text: one set, or an array of sets. */
export function parseValueSetJson(text: string, file = '<input>'): ValueSet[] {
  let value: unknown;
  try {
    value = JSON.parse(stripBom(text));
  } catch (err) {
    throw new ValueSetError([
      { file, path: '$', message: `not valid JSON: ${(err as Error).message}` },
    ]);
  }
  if (!Array.isArray(value)) return [validateValueSet(value, file)];
  const out: ValueSet[] = [];
  const issues: ValueSetIssue[] = [];
  value.forEach((v, i) => {
    try {
      out.push(validateValueSet(v, file, `$[${i}]`));
    } catch (err) {
      if (!(err instanceof ValueSetError)) throw err;
      issues.push(...err.issues);
    }
  });
  if (issues.length > 0) throw new ValueSetError(issues);
  return out;
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A CSV record with the 1-based line it starts on. */
export interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

/** A CSV syntax problem at a line (1-based). */
export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'CsvSyntaxError';
  }
}

/**
 * Parses CSV (RFC 4180): fields separated by commas, records by CRLF, LF or CR; fields in
 * double quotes may hold commas, line breaks and `""` for a quote. A leading BOM is
 * dropped; empty lines are skipped.
 */
export function parseCsv(text: string): CsvRecord[] {
  const s = stripBom(text);
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let quotedField = false;
  const endRecord = (): void => {
    fields.push(field);
    if (!(fields.length === 1 && fields[0] === '' && !quotedField)) {
      records.push({ line: recordLine, fields });
    }
    fields = [];
    field = '';
    quotedField = false;
  };
  while (i < s.length) {
    const ch = s[i]!;
    if (ch === '"' && field === '' && !quotedField) {
      const startLine = line;
      i++;
      for (;;) {
        if (i >= s.length) {
          throw new CsvSyntaxError(startLine, 'a quoted field is not closed (missing ")');
        }
        const c = s[i]!;
        if (c === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\n' || (c === '\r' && s[i + 1] !== '\n')) line++;
        field += c;
        i++;
      }
      quotedField = true;
      const next = s[i];
      if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
        throw new CsvSyntaxError(line, `unexpected ${JSON.stringify(next)} after a closing quote`);
      }
      continue;
    }
    if (ch === ',') {
      fields.push(field);
      field = '';
      quotedField = false;
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && s[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (ch === '"') {
      throw new CsvSyntaxError(line, 'a quote inside an unquoted field (quote the whole field)');
    }
    field += ch;
    i++;
  }
  if (field !== '' || fields.length > 0 || quotedField) endRecord();
  return records;
}

const CSV_REQUIRED = ['valueset', 'system', 'code', 'display'] as const;
const CSV_OPTIONAL = ['title', 'description', 'source'] as const;

/**
 * Value sets from CSV text with the columns valueset, system, code, display (any order;
 * optional title, description, source: the first non-empty value per set is used). One
 * file may hold many sets; rows of a set need not be adjacent.
 */
export function parseValueSetCsv(text: string, file = '<input>'): ValueSet[] {
  let records: CsvRecord[];
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvSyntaxError) {
      throw new ValueSetError([{ file, path: `line ${err.line}`, message: err.message }]);
    }
    throw err;
  }
  const header = records[0];
  if (header === undefined) {
    throw new ValueSetError([{ file, path: 'line 1', message: 'the file is empty' }]);
  }
  const names = header.fields.map((h) => h.trim().toLowerCase());
  const issues: ValueSetIssue[] = [];
  const col = new Map<string, number>();
  names.forEach((n, i) => {
    if (!([...CSV_REQUIRED, ...CSV_OPTIONAL] as string[]).includes(n)) {
      issues.push({
        file,
        path: `line ${header.line}`,
        message: `unknown column "${header.fields[i]}": expected ${CSV_REQUIRED.join(', ')} (optional ${CSV_OPTIONAL.join(', ')})`,
      });
    } else if (col.has(n)) {
      issues.push({ file, path: `line ${header.line}`, message: `column "${n}" appears twice` });
    } else col.set(n, i);
  });
  const missing = CSV_REQUIRED.filter((n) => !col.has(n));
  if (missing.length > 0) {
    issues.push({
      file,
      path: `line ${header.line}`,
      message: `missing column(s) ${missing.join(', ')}: the header must name valueset, system, code, display`,
    });
  }
  if (issues.length > 0) throw new ValueSetError(issues);

  const get = (r: CsvRecord, name: string): string => {
    const i = col.get(name);
    return i === undefined ? '' : (r.fields[i] ?? '').trim();
  };
  interface Draft {
    name: string;
    line: number;
    title: string;
    description: string;
    source: string;
    codes: { system: string; code: string; display?: string }[];
    lines: number[];
  }
  const drafts = new Map<string, Draft>();
  for (const r of records.slice(1)) {
    if (r.fields.length !== names.length) {
      issues.push({
        file,
        path: `line ${r.line}`,
        message: `expected ${names.length} fields as in the header, found ${r.fields.length}`,
      });
      continue;
    }
    const name = get(r, 'valueset');
    if (name === '') {
      issues.push({ file, path: `line ${r.line}, column valueset`, message: 'valueset is empty' });
      continue;
    }
    let d = drafts.get(name);
    if (d === undefined) {
      d = { name, line: r.line, title: '', description: '', source: '', codes: [], lines: [] };
      drafts.set(name, d);
    }
    if (d.title === '') d.title = get(r, 'title');
    if (d.description === '') d.description = get(r, 'description');
    if (d.source === '') d.source = get(r, 'source');
    const system = get(r, 'system');
    const display = get(r, 'display');
    d.codes.push({ system, code: get(r, 'code'), ...(display === '' ? {} : { display }) });
    d.lines.push(r.line);
  }
  const out: ValueSet[] = [];
  for (const d of drafts.values()) {
    const input = {
      name: d.name,
      title: d.title === '' ? d.name : d.title,
      description: d.description,
      source: d.source === '' ? basename(file) : d.source,
      codes: d.codes,
    };
    try {
      out.push(validateValueSet(input, file));
    } catch (err) {
      if (!(err instanceof ValueSetError)) throw err;
      // Point at CSV lines and columns rather than at the JSON the rows were turned into.
      for (const i of err.issues) {
        const m = /^\$\.codes\[(\d+)\](?:\.(\w+))?/.exec(i.path);
        const line = m === null ? d.line : (d.lines[Number(m[1])] ?? d.line);
        const column = m === null ? 'valueset' : (m[2] ?? 'code');
        issues.push({ file, path: `line ${line}, column ${column}`, message: i.message });
      }
    }
  }
  if (issues.length > 0) throw new ValueSetError(issues);
  return out;
}

function filesOf(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ValueSetError([{ file: path, path: '-', message: 'no such file or directory' }]);
  }
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => ['.json', '.csv'].includes(extname(f).toLowerCase()))
    .sort()
    .map((f) => join(path, f));
}

/**
 * Loads value sets from JSON and CSV files, or directories of them (`*.json`, `*.csv`).
 * Every problem of every file is reported together; a name defined twice is an error.
 */
export function loadValueSets(paths: readonly string[]): Map<string, ValueSet> {
  const out = new Map<string, ValueSet>();
  const where = new Map<string, string>();
  const issues: ValueSetIssue[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = filesOf(p);
    } catch (err) {
      if (!(err instanceof ValueSetError)) throw err;
      issues.push(...err.issues);
      continue;
    }
    for (const file of files) {
      try {
        const text = readFileSync(file, 'utf8');
        const sets =
          extname(file).toLowerCase() === '.csv'
            ? parseValueSetCsv(text, file)
            : parseValueSetJson(text, file);
        for (const vs of sets) {
          const first = where.get(vs.name);
          if (first !== undefined) {
            issues.push({
              file,
              path: '$.name',
              message: `value set "${vs.name}" is already defined in ${first}`,
            });
            continue;
          }
          where.set(vs.name, file);
          out.set(vs.name, vs);
        }
      } catch (err) {
        if (err instanceof ValueSetError) issues.push(...err.issues);
        else issues.push({ file, path: '-', message: (err as Error).message });
      }
    }
  }
  if (issues.length > 0) throw new ValueSetError(issues);
  return out;
}

/** The shipped library's directory (`valuesets/` at the package root). */
export function libraryValueSetDir(): string {
  // From src/analysis (tsx) or dist/src/analysis (built): the first parent holding valuesets/.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'valuesets');
    try {
      if (statSync(candidate).isDirectory()) return candidate;
    } catch {
      // not here; try the parent
    }
    dir = resolve(dir, '..');
  }
  throw new Error('the shipped value set library (valuesets/) was not found');
}

let library: Map<string, ValueSet> | undefined;

/** The shipped value sets by name (loaded once). */
export function libraryValueSets(): Map<string, ValueSet> {
  library ??= loadValueSets([libraryValueSetDir()]);
  return new Map(library);
}

/** Every (system, code) the set lists: codes, descendant roots and written-out descendants. */
export function expandValueSet(vs: ValueSet): ValueSetCode[] {
  const out = new Map<string, ValueSetCode>();
  for (const c of [...vs.codes, ...(vs.includeDescendants ?? []), ...(vs.descendants ?? [])]) {
    if (!out.has(key(c))) out.set(key(c), c);
  }
  return [...out.values()];
}

/** ICD-10-CM roots of `includeDescendants`: they also match every code starting with them. */
function prefixRoots(vs: ValueSet): string[] {
  return (vs.includeDescendants ?? [])
    .filter((r) => r.system === CODE_SYSTEMS.icd10cm)
    .map((r) => r.code);
}

/** Whether a (system, code) is in the set, as `valueSetPredicate` decides it in SQL. */
export function valueSetContains(vs: ValueSet, system: string, code: string): boolean {
  if (expandValueSet(vs).some((c) => c.system === system && c.code === code)) return true;
  return system === CODE_SYSTEMS.icd10cm && prefixRoots(vs).some((p) => code.startsWith(p));
}

/**
 * A boolean SQL expression: true when (`systemExpr`, `codeExpr`) is in any of the sets.
 * Written as `system = ... AND code IN (...)` per system (no row-value IN, which not every
 * engine has); ICD-10-CM roots of `includeDescendants` add a prefix test.
 */
export function valueSetPredicate(
  dialect: Dialect,
  sets: ValueSet | readonly ValueSet[],
  systemExpr: string,
  codeExpr: string,
): string {
  const list = Array.isArray(sets) ? (sets as readonly ValueSet[]) : [sets as ValueSet];
  const bySystem = new Map<string, { codes: Set<string>; prefixes: Set<string> }>();
  const entry = (system: string) => {
    let e = bySystem.get(system);
    if (e === undefined) {
      e = { codes: new Set(), prefixes: new Set() };
      bySystem.set(system, e);
    }
    return e;
  };
  for (const vs of list) {
    for (const c of expandValueSet(vs)) entry(c.system).codes.add(c.code);
    for (const p of prefixRoots(vs)) entry(CODE_SYSTEMS.icd10cm).prefixes.add(p);
  }
  if (bySystem.size === 0) return 'FALSE';
  const q = (s: string): string => dialect.quoteString(s);
  const parts = [...bySystem.entries()].map(([system, e]) => {
    const tests: string[] = [];
    if (e.codes.size > 0) tests.push(`${codeExpr} IN (${[...e.codes].map(q).join(', ')})`);
    for (const p of e.prefixes) {
      tests.push(dialect.sqlFunction(DialectFunction.StartsWith, [codeExpr, q(p)]));
    }
    const any = tests.length === 1 ? tests[0]! : `(${tests.join(' OR ')})`;
    return `(${systemExpr} = ${q(system)} AND ${any})`;
  });
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

/**
 * A query with one row per code of the sets: `valueset`, `system`, `code`, `display`
 * (VARCHAR) and `prefix` (BOOLEAN: true for an ICD-10-CM root whose descendants are meant,
 * i.e. it matches codes that start with it). Join on it as
 * `r.system = v.system AND (r.code = v.code OR (v.prefix AND starts_with(r.code, v.code)))`.
 */
export function valueSetRelation(dialect: Dialect, sets: ValueSet | readonly ValueSet[]): string {
  const list = Array.isArray(sets) ? (sets as readonly ValueSet[]) : [sets as ValueSet];
  const q = (s: string): string => dialect.quoteString(s);
  const columns = ['valueset', 'system', 'code', 'display', 'prefix'];
  const rows: string[] = [];
  for (const vs of list) {
    const prefixes = new Set(prefixRoots(vs));
    for (const c of expandValueSet(vs)) {
      const isPrefix = c.system === CODE_SYSTEMS.icd10cm && prefixes.has(c.code);
      const display = c.display !== undefined ? q(c.display) : 'NULL';
      rows.push(
        `(${q(vs.name)}, ${q(c.system)}, ${q(c.code)}, ${dialect.sqlCast(display, 'VARCHAR')}, ${isPrefix ? 'TRUE' : 'FALSE'})`,
      );
    }
  }
  const cols = columns.map((c) => dialect.quoteIdent(c)).join(', ');
  if (rows.length === 0) {
    const nul = dialect.sqlCast('NULL', 'VARCHAR');
    return `SELECT ${nul} AS ${dialect.quoteIdent('valueset')}, ${nul} AS ${dialect.quoteIdent('system')}, ${nul} AS ${dialect.quoteIdent('code')}, ${nul} AS ${dialect.quoteIdent('display')}, ${dialect.sqlCast('NULL', 'BOOLEAN')} AS ${dialect.quoteIdent('prefix')} WHERE FALSE`;
  }
  return `SELECT * FROM (VALUES ${rows.join(', ')}) AS vs(${cols})`;
}
