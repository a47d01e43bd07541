/**
 * Cohort definitions (docs/cohorts.md): a JSON language for "who, from when to when" in the
 * spirit of OHDSI Circe/ATLAS, validated with errors that name the JSON path, compiled to SQL
 * over the standard views (AnalysisContext) through the Dialect, one CTE per rule, so that the
 * attrition table (persons and events left after each rule) comes from the same query text
 * as the cohort itself. `buildCohort` stores the cohort (person_id, cohort_start, cohort_end)
 * in the lake as a materialised table `cohort_<name>` (the `views` of the manifest).
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Row } from '../engine/engine.js';
import type { ViewEntry } from '../lake/manifest.js';
import { DialectFunction } from '../sql/dialect.js';
import type { Dialect } from '../sql/dialect.js';
import type { AnalysisContext } from './context.js';
import { CODE_SYSTEMS, systemSchema, valueSetPredicate } from './valuesets.js';
import type { ValueSet } from './valuesets.js';

// ---------------------------------------------------------------------------------------
// Schema

const days = z.number().int('days must be a whole number');
const count = z.number().int('must be a whole number').min(0, 'must not be negative');

const codingSchema = z.strictObject({
  system: systemSchema,
  code: z.string().min(1, 'code must not be empty'),
});

/** Codes to match: a named value set (library or --valueset-file) or inline codes. */
const codesFields = {
  valueSet: z.string().min(1).optional(),
  codes: z.array(codingSchema).min(1, 'give at least one code').optional(),
};

const valueRule = z.union([
  z.strictObject({ op: z.enum(['>=', '<=', '>', '<', '=']), value: z.number() }),
  z.strictObject({ op: z.literal('between'), low: z.number(), high: z.number() }),
]);

const conditionCriterion = z.strictObject({ kind: z.literal('condition'), ...codesFields });
const observationCriterion = z.strictObject({
  kind: z.literal('observation'),
  ...codesFields,
  /** A rule on the numeric value (valueQuantity.value); observations without one fail it. */
  value: valueRule.optional(),
});
/** The reason (indication): a Condition referenced by reasonReference whose code is in the set. */
const reasonSchema = z
  .strictObject(codesFields)
  .refine((r) => (r.valueSet === undefined) !== (r.codes === undefined), {
    message: 'give valueSet or codes (one of them)',
    path: ['valueSet'],
  });
const medicationCriterion = z.strictObject({
  kind: z.literal('medication'),
  ...codesFields,
  reason: reasonSchema.optional(),
});
const procedureCriterion = z.strictObject({
  kind: z.literal('procedure'),
  ...codesFields,
  reason: reasonSchema.optional(),
});
const encounterCriterion = z.strictObject({
  kind: z.literal('encounter'),
  /** Encounter.class codes (AMB, EMER, IMP, ...); any when absent. */
  class: z.array(z.string().min(1)).min(1).optional(),
  ...codesFields,
  reason: reasonSchema.optional(),
});

export const criterionSchema = z
  .discriminatedUnion('kind', [
    conditionCriterion,
    observationCriterion,
    medicationCriterion,
    procedureCriterion,
    encounterCriterion,
  ])
  .superRefine((c, ctx) => {
    const hasSet = c.valueSet !== undefined;
    const hasCodes = c.codes !== undefined;
    if (hasSet && hasCodes)
      ctx.addIssue({
        code: 'custom',
        path: ['codes'],
        message: 'give valueSet or codes, not both',
      });
    if (!hasSet && !hasCodes && c.kind !== 'encounter')
      ctx.addIssue({ code: 'custom', path: ['valueSet'], message: 'give valueSet or codes' });
  });
export type Criterion = z.infer<typeof criterionSchema>;

/** Days relative to the index date, both ends included; an absent end is unbounded. */
const windowSchema = z
  .strictObject({ start: days.optional(), end: days.optional() })
  .refine((w) => w.start === undefined || w.end === undefined || w.start <= w.end, {
    message: 'window start must not be after its end',
    path: ['end'],
  });

const occurrenceRule = z
  .strictObject({
    type: z.literal('occurrence'),
    name: z.string().optional(),
    criterion: criterionSchema,
    window: windowSchema,
    atLeast: count.optional(),
    atMost: count.optional(),
  })
  .refine((r) => r.atLeast === undefined || r.atMost === undefined || r.atLeast <= r.atMost, {
    message: 'atLeast must not exceed atMost',
    path: ['atMost'],
  });
const noOccurrenceRule = z.strictObject({
  type: z.literal('noOccurrence'),
  name: z.string().optional(),
  criterion: criterionSchema,
  window: windowSchema,
});
const ageRule = z
  .strictObject({
    type: z.literal('age'),
    name: z.string().optional(),
    min: count.optional(),
    max: count.optional(),
  })
  .refine((r) => r.min !== undefined || r.max !== undefined, {
    message: 'give min, max or both',
    path: ['min'],
  })
  .refine((r) => r.min === undefined || r.max === undefined || r.min <= r.max, {
    message: 'min must not exceed max',
    path: ['max'],
  });
const sexRule = z.strictObject({
  type: z.literal('sex'),
  name: z.string().optional(),
  values: z.array(z.enum(['male', 'female', 'other', 'unknown'])).min(1),
});

export const inclusionRuleSchema = z.discriminatedUnion('type', [
  occurrenceRule,
  noOccurrenceRule,
  ageRule,
  sexRule,
]);
export type InclusionRule = z.infer<typeof inclusionRuleSchema>;

const exitSchema = z.discriminatedUnion('type', [
  /** cohort_end = index + days, not after the end of observation. */
  z.strictObject({ type: z.literal('fixed'), days: count }),
  z.strictObject({ type: z.literal('endOfObservation') }),
  /** cohort_end = first matching event after the index date; end of observation without one. */
  z.strictObject({ type: z.literal('event'), criterion: criterionSchema }),
]);

const NAME = /^[a-z][a-z0-9_]*$/;

export const cohortDefinitionSchema = z.strictObject({
  name: z
    .string()
    .regex(NAME, 'name must be lower-case letters, digits and "_", starting with a letter'),
  title: z.string().optional(),
  description: z.string().optional(),
  entry: z.strictObject({
    criterion: criterionSchema,
    /** `first`: each person's earliest entry event only; `all`: every event (one per day). */
    occurrence: z.enum(['first', 'all']).default('first'),
    /** Days of observation required before / after the index date. */
    priorObservationDays: count.optional(),
    postObservationDays: count.optional(),
  }),
  /** How the end of observation is found for persons still alive: last encounter or data end. */
  observationEnd: z.enum(['lastEncounter', 'dataEnd']).default('lastEncounter'),
  inclusion: z.array(inclusionRuleSchema).default([]),
  exit: exitSchema.default({ type: 'endOfObservation' }),
  censoring: z.array(criterionSchema).default([]),
  /** Merge a person's periods that overlap or are at most this many days apart. */
  collapseGapDays: count.optional(),
});
export type CohortDefinition = z.infer<typeof cohortDefinitionSchema>;

export interface CohortIssue {
  /** JSON path such as `$.inclusion[1].window.start`. */
  readonly path: string;
  readonly message: string;
}

export class CohortDefinitionError extends Error {
  readonly code = 'COHORT_INVALID';
  constructor(
    readonly issues: readonly CohortIssue[],
    readonly file = '<input>',
  ) {
    super(issues.map((i) => `${file}: ${i.path}: ${i.message}`).join('\n'));
    this.name = 'CohortDefinitionError';
  }
}

function jsonPath(p: ReadonlyArray<PropertyKey>): string {
  let out = '$';
  for (const k of p) out += typeof k === 'number' ? `[${k}]` : `.${String(k)}`;
  return out;
}

/** Validates a parsed definition; throws CohortDefinitionError naming each bad JSON path. */
export function parseCohortDefinition(input: unknown, file = '<input>'): CohortDefinition {
  const r = cohortDefinitionSchema.safeParse(input);
  if (!r.success)
    throw new CohortDefinitionError(
      r.error.issues.map((i) => ({ path: jsonPath(i.path), message: i.message })),
      file,
    );
  return r.data;
}

/** Parses JSON text and validates it. */
export function parseCohortJson(text: string, file = '<input>'): CohortDefinition {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CohortDefinitionError([{ path: '$', message: (err as Error).message }], file);
  }
  return parseCohortDefinition(json, file);
}

// ---------------------------------------------------------------------------------------
// Compiler

export interface CompiledCohort {
  readonly definition: CohortDefinition;
  /** `WITH ...` CTEs shared by the two queries below. */
  readonly with: string;
  /** person_id (VARCHAR), cohort_start, cohort_end (DATE), one row per cohort period. */
  readonly cohortSql: string;
  /** step (BIGINT, 0-based), persons, events: what remains after each step, in order. */
  readonly attritionSql: string;
  /** Names of the steps, by step number. */
  readonly steps: readonly string[];
}

export interface CompileCohortOptions {
  readonly dialect: Dialect;
  /** Value sets by name (library plus the user's files). */
  readonly valueSets: ReadonlyMap<string, ValueSet>;
}

interface Ctx {
  readonly d: Dialect;
  readonly sets: ReadonlyMap<string, ValueSet>;
  readonly issues: CohortIssue[];
}

/** A table column's text as a DATE (the first 10 characters: the local calendar day). */
function dateOf(d: Dialect, expr: string): string {
  return d.sqlTryCast(d.sqlFunction(DialectFunction.Substring, [expr, '1', '10']), 'DATE');
}

/** `date + n` days (plain date-integer arithmetic, which DuckDB and Spark both have). */
function plusDays(date: string, n: number): string {
  if (n === 0) return date;
  return n > 0 ? `(${date} + ${n})` : `(${date} - ${-n})`;
}

function codesOf(
  c: { valueSet?: string | undefined; codes?: ValueSet['codes'] | undefined },
  at: string,
  cx: Ctx,
): ValueSet | undefined {
  if (c.codes !== undefined)
    return { name: 'inline', title: 'inline', description: '', source: 'inline', codes: c.codes };
  if (c.valueSet === undefined) return undefined;
  const vs = cx.sets.get(c.valueSet);
  if (vs === undefined)
    cx.issues.push({
      path: `${at}.valueSet`,
      message: `no value set named "${c.valueSet}" (library or --valueset-file)`,
    });
  return vs;
}

/**
 * Events of a criterion: person_id, event_id, event_date (DATE), from the standard views.
 * Codes are matched on the first coding and on the terminology-specific columns.
 */
function eventsSql(c: Criterion, at: string, cx: Ctx): string {
  const d = cx.d;
  const q = (s: string): string => d.quoteString(s);
  const col = (name: string): string => `t.${d.quoteIdent(name)}`;
  const vs = codesOf(c, at, cx);
  const pred = (pairs: ReadonlyArray<readonly [string, string]>): string =>
    vs === undefined
      ? 'TRUE'
      : `(${pairs.map(([s, code]) => valueSetPredicate(d, vs, s, code)).join(' OR ')})`;
  let table: string;
  let date: string;
  const where: string[] = [];
  switch (c.kind) {
    case 'condition':
      table = 'condition';
      date = `COALESCE(${dateOf(d, col('onset'))}, ${dateOf(d, col('recorded_date'))})`;
      where.push(
        pred([
          [col('code_system'), col('code')],
          [q(CODE_SYSTEMS.snomed), col('snomed_code')],
          [col('icd10_system'), col('icd10_code')],
        ]),
      );
      break;
    case 'observation': {
      table = 'observation';
      date = `COALESCE(${dateOf(d, col('effective'))}, ${dateOf(d, col('issued'))})`;
      where.push(
        pred([
          [col('code_system'), col('code')],
          [q(CODE_SYSTEMS.loinc), col('loinc_code')],
        ]),
      );
      const v = c.value;
      const value = d.sqlTryCast(col('value'), 'DOUBLE');
      if (v !== undefined) {
        if (v.op === 'between') where.push(`${value} BETWEEN ${v.low} AND ${v.high}`);
        else where.push(`${value} ${v.op} ${v.value}`);
      }
      break;
    }
    case 'medication':
      table = 'medication_request';
      date = dateOf(d, col('authored_on'));
      where.push(pred([[q(CODE_SYSTEMS.rxnorm), col('rxnorm_code')]]));
      break;
    case 'procedure':
      table = 'procedure';
      date = `COALESCE(${dateOf(d, col('performed'))}, ${dateOf(d, col('performed_start'))})`;
      where.push(
        pred([
          [col('code_system'), col('code')],
          [q(CODE_SYSTEMS.snomed), col('snomed_code')],
        ]),
      );
      break;
    case 'encounter':
      table = 'encounter';
      date = dateOf(d, col('period_start'));
      if (c.class !== undefined) where.push(`${col('class')} IN (${c.class.map(q).join(', ')})`);
      if (vs !== undefined) where.push(pred([[col('type_system'), col('type_code')]]));
      break;
  }
  if ('reason' in c && c.reason !== undefined) {
    const rs = codesOf(c.reason, `${at}.reason`, cx);
    if (rs !== undefined) {
      const rc = (name: string): string => `rc.${d.quoteIdent(name)}`;
      const conditionCodes = [
        valueSetPredicate(d, rs, rc('code_system'), rc('code')),
        valueSetPredicate(d, rs, q(CODE_SYSTEMS.snomed), rc('snomed_code')),
        valueSetPredicate(d, rs, rc('icd10_system'), rc('icd10_code')),
      ].join(' OR ');
      where.push(
        `${col('reason_condition_id')} IN (SELECT rc.${d.quoteIdent('id')} FROM ${d.quoteIdent('condition')} AS rc WHERE ${conditionCodes})`,
      );
    }
  }
  return (
    `SELECT ${col('patient_id')} AS person_id, ${col('id')} AS event_id, ${date} AS event_date ` +
    `FROM ${d.quoteIdent(table)} AS t WHERE ${col('patient_id')} IS NOT NULL AND ${date} IS NOT NULL` +
    where.map((w) => ` AND ${w}`).join('')
  );
}

function windowPredicate(w: { start?: number; end?: number }, ev: string, idx: string): string {
  const parts: string[] = [];
  if (w.start !== undefined) parts.push(`${ev} >= ${plusDays(idx, w.start)}`);
  if (w.end !== undefined) parts.push(`${ev} <= ${plusDays(idx, w.end)}`);
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

function ruleName(r: InclusionRule, i: number): string {
  if (r.name !== undefined) return r.name;
  const win = (w: { start?: number; end?: number }): string =>
    `days ${w.start ?? '-inf'}..${w.end ?? '+inf'}`;
  const what = (c: Criterion): string =>
    `${c.kind} ${c.valueSet ?? (c.codes !== undefined ? 'codes' : c.kind === 'encounter' ? (c.class ?? []).join('/') : '')}`.trim();
  switch (r.type) {
    case 'occurrence':
      return `rule ${i + 1}: at least ${r.atLeast ?? 1}${r.atMost !== undefined ? ` and at most ${r.atMost}` : ''} ${what(r.criterion)} (${win(r.window)})`;
    case 'noOccurrence':
      return `rule ${i + 1}: no ${what(r.criterion)} (${win(r.window)})`;
    case 'age':
      return `rule ${i + 1}: age ${r.min ?? 0}..${r.max ?? '+inf'} at index`;
    case 'sex':
      return `rule ${i + 1}: sex ${r.values.join('/')}`;
  }
}

/** Age in whole years at `at` for a birth DATE (both DATE expressions). */
function ageSql(birth: string, at: string): string {
  const y = (x: string): string => `EXTRACT(YEAR FROM ${x})`;
  const md = (x: string): string => `(EXTRACT(MONTH FROM ${x}) * 100 + EXTRACT(DAY FROM ${x}))`;
  return `(${y(at)} - ${y(birth)} - CASE WHEN ${md(at)} < ${md(birth)} THEN 1 ELSE 0 END)`;
}

/** Compiles a validated definition; unknown value sets are reported with their JSON path. */
export function compileCohort(
  def: CohortDefinition,
  options: CompileCohortOptions,
): CompiledCohort {
  const d = options.dialect;
  const cx: Ctx = { d, sets: options.valueSets, issues: [] };
  const ctes: [string, string][] = [];
  const steps: string[] = [];
  const stepTables: string[] = [];
  const id = (s: string): string => d.quoteIdent(s);
  const obsEnd = def.observationEnd;

  // Observation period per person: first encounter .. death, or last encounter / data end.
  const encStart = dateOf(d, 'e.period_start');
  const encLast = `COALESCE(${dateOf(d, 'e.period_end')}, ${encStart})`;
  ctes.push([
    'enc_span',
    `SELECT e.patient_id AS person_id, MIN(${encStart}) AS first_day, MAX(${encLast}) AS enc_last FROM ${id('encounter')} AS e WHERE e.patient_id IS NOT NULL GROUP BY e.patient_id`,
  ]);
  ctes.push(['data_end', `SELECT MAX(enc_last) AS end_day FROM enc_span`]);
  const death = dateOf(d, 'p.deceased_date');
  ctes.push([
    'obs',
    `SELECT p.id AS person_id, s.first_day AS obs_start, ` +
      `COALESCE(${death}, ${obsEnd === 'dataEnd' ? '(SELECT end_day FROM data_end)' : 's.enc_last'}) AS obs_end, ` +
      `${dateOf(d, 'p.birth_date')} AS birth_day, p.gender AS gender ` +
      `FROM ${id('patient')} AS p LEFT JOIN enc_span AS s ON s.person_id = p.id`,
  ]);

  // Entry events (one per person and day).
  ctes.push(['entry_events', eventsSql(def.entry.criterion, '$.entry.criterion', cx)]);
  const entryDays = `SELECT DISTINCT person_id, event_date AS index_date FROM entry_events`;
  const entry =
    def.entry.occurrence === 'first'
      ? `SELECT person_id, MIN(event_date) AS index_date FROM entry_events GROUP BY person_id`
      : entryDays;
  ctes.push([
    'step_0',
    `SELECT x.person_id, x.index_date, o.obs_start, o.obs_end, o.birth_day, o.gender FROM (${entry}) AS x LEFT JOIN obs AS o ON o.person_id = x.person_id`,
  ]);
  steps.push(
    def.entry.occurrence === 'first' ? 'entry: first event per person' : 'entry: all events',
  );
  stepTables.push('step_0');
  const carry = 'p.person_id, p.index_date, p.obs_start, p.obs_end, p.birth_day, p.gender';
  const next = (name: string, sql: string): void => {
    const t = `step_${stepTables.length}`;
    ctes.push([t, sql]);
    steps.push(name);
    stepTables.push(t);
  };
  const prev = (): string => stepTables[stepTables.length - 1]!;

  const prior = def.entry.priorObservationDays;
  const post = def.entry.postObservationDays;
  if (prior !== undefined || post !== undefined) {
    const conds = [
      'p.obs_start IS NOT NULL',
      'p.obs_end IS NOT NULL',
      `p.obs_start <= ${plusDays('p.index_date', -(prior ?? 0))}`,
      `p.obs_end >= ${plusDays('p.index_date', post ?? 0)}`,
    ];
    next(
      `observation: ${prior ?? 0} days before and ${post ?? 0} days after index`,
      `SELECT ${carry} FROM ${prev()} AS p WHERE ${conds.join(' AND ')}`,
    );
  }

  def.inclusion.forEach((r, i) => {
    const at = `$.inclusion[${i}]`;
    const name = ruleName(r, i);
    switch (r.type) {
      case 'occurrence':
      case 'noOccurrence': {
        const ev = `ev_${i}`;
        ctes.push([ev, eventsSql(r.criterion, `${at}.criterion`, cx)]);
        const n = 'COUNT(DISTINCT e.event_id)';
        const having =
          r.type === 'noOccurrence'
            ? `${n} = 0`
            : [
                `${n} >= ${r.atLeast ?? 1}`,
                ...(r.atMost !== undefined ? [`${n} <= ${r.atMost}`] : []),
              ].join(' AND ');
        next(
          name,
          `SELECT ${carry} FROM ${prev()} AS p LEFT JOIN ${ev} AS e ON e.person_id = p.person_id AND ${windowPredicate(r.window, 'e.event_date', 'p.index_date')} GROUP BY ${carry} HAVING ${having}`,
        );
        break;
      }
      case 'age': {
        const age = ageSql('p.birth_day', 'p.index_date');
        const conds = ['p.birth_day IS NOT NULL'];
        if (r.min !== undefined) conds.push(`${age} >= ${r.min}`);
        if (r.max !== undefined) conds.push(`${age} <= ${r.max}`);
        next(name, `SELECT ${carry} FROM ${prev()} AS p WHERE ${conds.join(' AND ')}`);
        break;
      }
      case 'sex':
        next(
          name,
          `SELECT ${carry} FROM ${prev()} AS p WHERE p.gender IN (${r.values.map((v) => d.quoteString(v)).join(', ')})`,
        );
        break;
    }
  });
  const qualified = prev();

  // Exit: the end date of each qualifying event.
  const obsCap = `CASE WHEN p.obs_end IS NOT NULL AND p.obs_end >= p.index_date THEN p.obs_end ELSE p.index_date END`;
  let endSql: string;
  const exit = def.exit;
  if (exit.type === 'fixed') {
    const fixed = plusDays('p.index_date', exit.days);
    endSql = `SELECT p.person_id, p.index_date, CASE WHEN p.obs_end IS NOT NULL AND p.obs_end >= p.index_date AND p.obs_end < ${fixed} THEN p.obs_end ELSE ${fixed} END AS end_date FROM ${qualified} AS p`;
  } else if (exit.type === 'endOfObservation') {
    endSql = `SELECT p.person_id, p.index_date, ${obsCap} AS end_date FROM ${qualified} AS p`;
  } else {
    ctes.push(['exit_events', eventsSql(exit.criterion, '$.exit.criterion', cx)]);
    endSql = `SELECT p.person_id, p.index_date, COALESCE(MIN(e.event_date), ${obsCap}) AS end_date FROM ${qualified} AS p LEFT JOIN exit_events AS e ON e.person_id = p.person_id AND e.event_date > p.index_date GROUP BY p.person_id, p.index_date, p.obs_end`;
  }
  ctes.push(['exit_dates', endSql]);
  let periods = 'exit_dates';
  if (def.censoring.length > 0) {
    const unions = def.censoring.map((c, i) => {
      const t = `censor_${i}`;
      ctes.push([t, eventsSql(c, `$.censoring[${i}]`, cx)]);
      return `SELECT person_id, event_date FROM ${t}`;
    });
    ctes.push(['censor_events', unions.join(' UNION ALL ')]);
    ctes.push([
      'censored',
      `SELECT x.person_id, x.index_date, CASE WHEN MIN(c.event_date) IS NOT NULL AND MIN(c.event_date) < x.end_date THEN MIN(c.event_date) ELSE x.end_date END AS end_date FROM exit_dates AS x LEFT JOIN censor_events AS c ON c.person_id = x.person_id AND c.event_date >= x.index_date GROUP BY x.person_id, x.index_date, x.end_date`,
    ]);
    periods = 'censored';
  }

  const gap = def.collapseGapDays;
  if (gap !== undefined) {
    const order = 'PARTITION BY person_id ORDER BY index_date, end_date';
    ctes.push([
      'era_prev',
      `SELECT person_id, index_date, end_date, MAX(end_date) OVER (${order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM ${periods}`,
    ]);
    ctes.push([
      'era_groups',
      `SELECT person_id, index_date, end_date, SUM(CASE WHEN prev_end IS NOT NULL AND index_date <= ${plusDays('prev_end', gap)} THEN 0 ELSE 1 END) OVER (${order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS era FROM era_prev`,
    ]);
    ctes.push([
      'cohort',
      `SELECT person_id, MIN(index_date) AS cohort_start, MAX(end_date) AS cohort_end FROM era_groups GROUP BY person_id, era`,
    ]);
  } else {
    ctes.push([
      'cohort',
      `SELECT DISTINCT person_id, index_date AS cohort_start, end_date AS cohort_end FROM ${periods}`,
    ]);
  }

  if (cx.issues.length > 0) throw new CohortDefinitionError(cx.issues);

  const withSql = `WITH ${ctes.map(([n, s]) => `${n} AS (${s})`).join(',\n')}`;
  const attrition = stepTables.map(
    (t, i) =>
      `SELECT ${i} AS step, COUNT(DISTINCT person_id) AS persons, COUNT(*) AS events FROM ${t}`,
  );
  attrition.push(
    `SELECT ${stepTables.length} AS step, COUNT(DISTINCT person_id) AS persons, COUNT(*) AS events FROM cohort`,
  );
  steps.push(gap !== undefined ? `cohort (eras, gap ${gap} days)` : 'cohort');
  return {
    definition: def,
    with: withSql,
    cohortSql: `${withSql}\nSELECT ${d.sqlCast('person_id', 'VARCHAR')} AS person_id, cohort_start, cohort_end FROM cohort`,
    attritionSql: `${withSql}\nSELECT step, persons, events FROM (${attrition.join(' UNION ALL ')}) AS a ORDER BY step`,
    steps,
  };
}

// ---------------------------------------------------------------------------------------
// Build

export interface AttritionRow {
  readonly step: number;
  readonly name: string;
  readonly persons: number;
  readonly events: number;
}

export interface CohortBuildResult {
  readonly name: string;
  /** Table name in the lake (`cohort_<name>`), queryable with `medlake sql`. */
  readonly table: string;
  /** Lake-relative path of the Parquet file. */
  readonly path: string;
  readonly rows: number;
  readonly persons: number;
  readonly attrition: readonly AttritionRow[];
}

/** Cohort tables are materialised views named with this prefix. */
export const COHORT_TABLE_PREFIX = 'cohort_';

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0));

/** The attrition table of a compiled cohort (persons and events after each step). */
export async function cohortAttrition(
  ctx: AnalysisContext,
  compiled: CompiledCohort,
): Promise<AttritionRow[]> {
  const rows: readonly Row[] = await ctx.rows(compiled.attritionSql);
  return rows.map((r) => {
    const step = num(r['step']);
    return {
      step,
      name: compiled.steps[step] ?? `step ${step}`,
      persons: num(r['persons']),
      events: num(r['events']),
    };
  });
}

/** Cohort rows (person_id, cohort_start, cohort_end as YYYY-MM-DD), for small cohorts and tests. */
export async function cohortRows(
  ctx: AnalysisContext,
  compiled: CompiledCohort,
): Promise<{ person_id: string; cohort_start: string; cohort_end: string }[]> {
  const text = (v: unknown): string =>
    v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10);
  const rows = await ctx.rows(compiled.cohortSql);
  return rows.map((r) => ({
    person_id: String(r['person_id']),
    cohort_start: text(r['cohort_start']),
    cohort_end: text(r['cohort_end']),
  }));
}

/**
 * Builds the cohort and stores it in the lake as the materialised table `cohort_<name>`
 * (Parquet under the lake's `views/` folder, recorded in the manifest like `view
 * materialize`), then computes the attrition table from the same CTEs.
 */
export async function buildCohort(
  ctx: AnalysisContext,
  def: CohortDefinition,
  valueSets: ReadonlyMap<string, ValueSet>,
  source = '<input>',
): Promise<CohortBuildResult> {
  let compiled: CompiledCohort;
  try {
    compiled = compileCohort(def, { dialect: ctx.dialect, valueSets });
  } catch (err) {
    if (err instanceof CohortDefinitionError) throw new CohortDefinitionError(err.issues, source);
    throw err;
  }
  const session = ctx.session;
  const table = `${COHORT_TABLE_PREFIX}${def.name}`;
  const unlock = session.lake.lock();
  let written: string | undefined;
  let rel: string;
  let rows: number;
  try {
    session.lake.refresh();
    const base = session.lake.manifest;
    const commit = base.commit + 1;
    rel = `views/${table}-${String(commit).padStart(6, '0')}.parquet`;
    const abs = session.lake.resolve(rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    written = abs;
    rows = await session.engine.copyToParquet(compiled.cohortSql, abs);
    const entry: ViewEntry = {
      path: rel,
      rows,
      columns: [
        { name: 'person_id', type: 'string', sqlType: 'VARCHAR', collection: false },
        { name: 'cohort_start', type: 'date', sqlType: 'DATE', collection: false },
        { name: 'cohort_end', type: 'date', sqlType: 'DATE', collection: false },
      ],
      source: `cohort:${source}`,
      materializedAt: new Date().toISOString(),
      commit: base.commit,
    };
    session.lake.commit({
      ...base,
      commit,
      updatedAt: new Date().toISOString(),
      views: { ...base.views, [table]: entry },
    });
    written = undefined;
  } finally {
    if (written !== undefined) rmSync(written, { force: true, recursive: true });
    unlock();
  }
  const attrition = await cohortAttrition(ctx, compiled);
  const last = attrition[attrition.length - 1];
  return {
    name: def.name,
    table,
    path: rel,
    rows,
    persons: last?.persons ?? 0,
    attrition,
  };
}

/** Cohorts stored in a lake manifest (materialised tables named `cohort_*`). */
export function listCohorts(
  views: Readonly<Record<string, ViewEntry>>,
): { name: string; table: string; rows: number; path: string; builtAt: string; source: string }[] {
  return Object.entries(views)
    .filter(([n, v]) => n.startsWith(COHORT_TABLE_PREFIX) && v.source.startsWith('cohort:'))
    .map(([n, v]) => ({
      name: n.slice(COHORT_TABLE_PREFIX.length),
      table: n,
      rows: v.rows,
      path: v.path,
      builtAt: v.materializedAt,
      source: v.source.slice('cohort:'.length),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}
