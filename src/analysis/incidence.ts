/**
 * Incidence (new cases per person-time at risk) and prevalence (share of the living with the
 * condition) of a condition chosen by a value set, stratified by calendar year, month, 5-year
 * age band, sex, race, ethnicity, region (state) and payer. Person-time is cut at calendar
 * years, months and age-band birthdays in the engine, so the counts are exact; only the
 * aggregated strata come back for the statistics. Definitions: docs/analysis-incidence.md.
 */
import { AGE_BANDS } from '../synth/demographics.js';
import type { Dialect } from '../sql/dialect.js';
import type { AnalysisContext } from './context.js';
import { annualPercentChange, directStandardize, poissonRateCI, wilsonCI } from './stats.js';
import type { AnnualPercentChange } from './stats.js';
import {
  STANDARD_POPULATIONS,
  toMedlakeBands,
  US_2000_STANDARD,
  WHO_WORLD_2000_2025,
} from './standard-populations.js';
import { sqlCivilDays } from './sql-days.js';
import { DEFAULT_MIN_CELL, suppressSmallCells } from './suppress.js';
import type { Suppressed } from './suppress.js';
import { valueSetPredicate } from './valuesets.js';
import type { ValueSet } from './valuesets.js';

export const INCIDENCE_DIMENSIONS = [
  'year',
  'month',
  'age',
  'sex',
  'race',
  'ethnicity',
  'region',
  'payer',
] as const;
export type IncidenceDimension = (typeof INCIDENCE_DIMENSIONS)[number];

export const STANDARDS = { who: WHO_WORLD_2000_2025, us2000: US_2000_STANDARD } as const;
export type StandardName = keyof typeof STANDARDS;

/** Value sets of acute, recurring conditions: all episodes count by default. */
export const ACUTE_VALUE_SETS: ReadonlySet<string> = new Set([
  'influenza',
  'pneumonia',
  'urinary-tract-infection',
  'myocardial-infarction',
  'stroke',
  'hip-fracture',
  'covid-19',
]);

export interface ConditionDefinition {
  /** The value set(s) whose codes define the condition (any coding of the Condition). */
  readonly valueSet: ValueSet | readonly ValueSet[];
  /**
   * 'first': a person's first record is the onset and ends their time at risk (chronic).
   * 'all': every new episode is a case; time inside an episode is not at risk (acute).
   * Default: 'all' for ACUTE_VALUE_SETS, otherwise 'first'.
   */
  readonly episodes?: 'first' | 'all';
  /**
   * 'all' only: an episode without abatement that is not `active` is taken to last this
   * many days (onset + gap − 1); an active one without abatement lasts to the end. Default 30.
   */
  readonly episodeGapDays?: number;
}

export interface WindowOptions {
  /** First day of the study window (YYYY-MM-DD); default: the earliest encounter start. */
  readonly start?: string;
  /** Last day of the window (inclusive); default: the latest encounter start. */
  readonly end?: string;
}

export interface IncidenceOptions extends ConditionDefinition, WindowOptions {
  readonly by?: readonly IncidenceDimension[];
  /**
   * Days of observation needed before time counts as at risk (a record of the condition in
   * them makes the person prevalent). Default 0: the lake holds onsets from before the window.
   */
  readonly washoutDays?: number;
  /**
   * 'window' (default): everyone is observed from the window's start (or birth) to its end
   * (or death). 'encounters': from each person's first to last encounter, inside the window.
   */
  readonly observation?: 'window' | 'encounters';
  readonly standardize?: StandardName;
  readonly apc?: boolean;
  /** Default 11; 0 turns suppression off. */
  readonly minCell?: number;
  /** Rates per this many person-years (default 1,000). */
  readonly per?: number;
  readonly level?: number;
}

export type StratumKeys = {
  readonly year?: number;
  readonly month?: number;
  readonly ageBand?: string;
  readonly sex?: string;
  readonly race?: string | null;
  readonly ethnicity?: string | null;
  readonly region?: string | null;
  readonly payer?: string | null;
};

export type IncidenceRow = StratumKeys & {
  readonly cases: number;
  readonly personDays: number;
  readonly personYears: number;
  readonly rate: number;
  readonly lower: number;
  readonly upper: number;
};

export type StandardizedRow = StratumKeys & {
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  readonly crude: number;
  /** Age bands with standard weight but no person-time, left out (weights renormalized). */
  readonly bandsWithoutPersonTime: number;
};

export interface IncidenceResult {
  readonly window: { readonly start: string; readonly end: string };
  readonly definition: {
    readonly valueSets: readonly string[];
    readonly episodes: 'first' | 'all';
    readonly episodeGapDays: number;
    readonly washoutDays: number;
    readonly observation: 'window' | 'encounters';
    readonly per: number;
    readonly minCell: number;
  };
  readonly by: readonly IncidenceDimension[];
  readonly rows: readonly Suppressed<IncidenceRow>[];
  readonly total: IncidenceRow;
  readonly standardized?: {
    readonly standard: string;
    readonly rows: readonly Suppressed<StandardizedRow & { cases: number }>[];
  };
  readonly apc?: AnnualPercentChange;
}

export const DAYS_PER_YEAR = 365.25;
/** A day number far beyond any date (open interval ends). */
const FAR = 100_000_000;

// ---------------------------------------------------------------------------------------
// Day numbers in SQL from ISO text (sql-days.ts), so no engine-specific date functions.

/**
 * y, m, d integer columns of an ISO date/dateTime text (a partial date takes its first
 * day: `2019` → 2019-01-01, `2019-05` → 2019-05-01; documented).
 */
function ymdColumns(dialect: Dialect, text: string, prefix: string): string {
  const part = (from: number, len: number, min: number): string =>
    `CASE WHEN LENGTH(${text}) >= ${from + len - 1} THEN ${dialect.sqlCast(`SUBSTRING(${text}, ${from}, ${len})`, 'BIGINT')} ELSE ${min} END`;
  return [
    `${dialect.sqlCast(`SUBSTRING(${text}, 1, 4)`, 'BIGINT')} AS ${prefix}_y`,
    `${part(6, 2, 1)} AS ${prefix}_m`,
    `${part(9, 2, 1)} AS ${prefix}_d`,
  ].join(', ');
}

function dayOf(prefix: string): string {
  return `CASE WHEN ${prefix}_y IS NULL THEN NULL ELSE ${sqlCivilDays(`${prefix}_y`, `${prefix}_m`, '1')} + ${prefix}_d - 1 END`;
}

/** Day number of an ISO date (TypeScript side). */
export function isoToDay(iso: string): number {
  const t = Date.parse(`${iso.slice(0, 10)}T00:00:00Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(iso.slice(0, 10)) || Number.isNaN(t))
    throw new RangeError(`expected a date YYYY-MM-DD, got ${JSON.stringify(iso)}`);
  return Math.floor(t / 86_400_000);
}

export function dayToIso(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

function values(
  rows: readonly (readonly (number | string)[])[],
  columns: readonly string[],
): string {
  const body = rows.map((r) => `(${r.join(', ')})`).join(', ');
  return `SELECT * FROM (VALUES ${body}) AS t(${columns.join(', ')})`;
}

/** Calendar cells (years, or months) of the window: [ys, ye) day ranges. */
function calendarCells(start: number, end: number, months: boolean): string {
  const y0 = new Date(start * 86_400_000).getUTCFullYear();
  const y1 = new Date(end * 86_400_000).getUTCFullYear();
  const rows: number[][] = [];
  for (let y = y0; y <= y1; y++) {
    if (!months)
      rows.push([y, 0, Date.UTC(y, 0, 1) / 86_400_000, Date.UTC(y + 1, 0, 1) / 86_400_000]);
    else
      for (let m = 0; m < 12; m++)
        rows.push([y, m + 1, Date.UTC(y, m, 1) / 86_400_000, Date.UTC(y, m + 1, 1) / 86_400_000]);
  }
  return values(rows, ['cal_year', 'cal_month', 'ys', 'ye']);
}

function bandTable(): string {
  return values(
    AGE_BANDS.map((_, k) => [k, k * 5, k === AGE_BANDS.length - 1 ? 1 : 0]),
    ['band', 'lo', 'open_band'],
  );
}

// ---------------------------------------------------------------------------------------

interface Resolved {
  readonly sets: readonly ValueSet[];
  readonly episodes: 'first' | 'all';
  readonly gap: number;
  readonly startDay: number;
  readonly endDay: number;
}

async function resolve(
  ctx: AnalysisContext,
  o: ConditionDefinition & WindowOptions,
): Promise<Resolved> {
  const sets = Array.isArray(o.valueSet)
    ? (o.valueSet as readonly ValueSet[])
    : [o.valueSet as ValueSet];
  if (sets.length === 0) throw new RangeError('no value set given for the condition');
  const episodes =
    o.episodes ?? (sets.every((s) => ACUTE_VALUE_SETS.has(s.name)) ? 'all' : 'first');
  const gap = o.episodeGapDays ?? 30;
  if (!(Number.isInteger(gap) && gap >= 1)) throw new RangeError('episodeGapDays must be >= 1');
  let start = o.start;
  let end = o.end;
  if (start === undefined || end === undefined) {
    const r = await ctx.rows(
      `SELECT MIN(SUBSTRING(period_start, 1, 10)) AS lo, MAX(SUBSTRING(period_start, 1, 10)) AS hi FROM encounter WHERE LENGTH(period_start) >= 10`,
    );
    const row = r[0];
    start ??= typeof row?.['lo'] === 'string' ? row['lo'] : undefined;
    end ??= typeof row?.['hi'] === 'string' ? row['hi'] : undefined;
    if (start === undefined || end === undefined)
      throw new RangeError('no encounters to define the window: give start and end');
  }
  const startDay = isoToDay(start);
  const endDay = isoToDay(end);
  if (endDay < startDay) throw new RangeError(`end ${end} is before start ${start}`);
  return { sets, episodes, gap, startDay, endDay };
}

/** CTEs: persons (pid, birth_day, death_day, sex, race, ethnicity, region) and episodes. */
function baseCtes(dialect: Dialect, r: Resolved): string[] {
  const pred = [
    valueSetPredicate(dialect, r.sets, 'code_system', 'code'),
    valueSetPredicate(dialect, r.sets, "'http://snomed.info/sct'", 'snomed_code'),
    valueSetPredicate(dialect, r.sets, 'icd10_system', 'icd10_code'),
  ].join(' OR ');
  const persons0 = `persons0 AS (SELECT id AS pid, gender, race_display, ethnicity_display, cn_ethnicity_display, state, ${ymdColumns(dialect, 'birth_date', 'b')}, ${ymdColumns(dialect, 'deceased_date', 'x')} FROM patient WHERE LENGTH(birth_date) >= 4)`;
  const persons = `persons AS (SELECT pid, ${dayOf('b')} AS birth_day, b_y, b_m, b_d, ${dayOf('x')} AS death_day, CASE WHEN gender IN ('male', 'female') THEN gender ELSE 'other/unknown' END AS sex, COALESCE(race_display, cn_ethnicity_display) AS race, ethnicity_display AS ethnicity, state AS region FROM persons0)`;
  const cond0 = `cond0 AS (SELECT patient_id AS pid, clinical_status, ${ymdColumns(dialect, 'onset', 'o')}, ${ymdColumns(dialect, 'abatement', 'a')} FROM condition WHERE onset IS NOT NULL AND LENGTH(onset) >= 4 AND (verification_status IS NULL OR verification_status NOT IN ('entered-in-error', 'refuted')) AND (${pred}))`;
  const endExpr =
    r.episodes === 'first'
      ? `${FAR}`
      : `CASE WHEN abate_day IS NOT NULL AND abate_day >= onset_day THEN abate_day WHEN clinical_status IN ('active', 'recurrence', 'relapse') THEN ${FAR} ELSE onset_day + ${r.gap - 1} END`;
  const cond = `cond AS (SELECT pid, clinical_status, ${dayOf('o')} AS onset_day, ${dayOf('a')} AS abate_day FROM cond0)`;
  const eps0 = `eps0 AS (SELECT pid, onset_day, ${endExpr} AS ep_end FROM cond)`;
  const eps = `eps AS (SELECT pid, onset_day, ep_end, MAX(ep_end) OVER (PARTITION BY pid ORDER BY onset_day, ep_end ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end FROM eps0)`;
  return [persons0, persons, cond0, cond, eps0, eps];
}

function dimColumn(d: IncidenceDimension): string | null {
  switch (d) {
    case 'year':
      return 'cal_year';
    case 'month':
      return 'cal_month';
    case 'age':
      return 'band';
    case 'sex':
      return 'sex';
    case 'race':
      return 'race';
    case 'ethnicity':
      return 'ethnicity';
    case 'region':
      return 'region';
    case 'payer':
      return 'payer';
  }
}

/** Person-band table: [band_start, band_end) per person (5-year birthdays; 29 Feb → 1 Mar). */
const PERSON_BANDS =
  `pband AS (SELECT p.pid, bt.band, ${sqlCivilDays('p.b_y + bt.lo', 'p.b_m', '1')} + p.b_d - 1 AS band_start, ` +
  `CASE WHEN bt.open_band = 1 THEN ${FAR} ELSE ${sqlCivilDays('p.b_y + bt.lo + 5', 'p.b_m', '1')} + p.b_d - 1 END AS band_end FROM persons p CROSS JOIN bands bt)`;

/** The SQL of the incidence grid: cases and person-days by the stratum columns. */
export function incidenceSql(
  dialect: Dialect,
  r: Resolved,
  o: {
    by: readonly IncidenceDimension[];
    washoutDays: number;
    observation: 'window' | 'encounters';
  },
): string {
  const months = o.by.includes('month');
  const payer = o.by.includes('payer');
  const ctes = baseCtes(dialect, r);
  ctes.push(`cal AS (${calendarCells(r.startDay, r.endDay, months)})`);
  ctes.push(`bands AS (${bandTable()})`);
  ctes.push(PERSON_BANDS);
  // Observation: the window, or each person's encounters inside it.
  if (o.observation === 'encounters') {
    ctes.push(
      `enc0 AS (SELECT patient_id AS pid, ${ymdColumns(dialect, 'period_start', 'e')} FROM encounter WHERE LENGTH(period_start) >= 10)`,
      `obs AS (SELECT pid, MIN(${dayOf('e')}) AS obs_start, MAX(${dayOf('e')}) AS obs_end FROM enc0 GROUP BY pid)`,
    );
  } else {
    ctes.push(
      `obs AS (SELECT pid, ${r.startDay} AS obs_start, ${r.endDay} AS obs_end FROM persons)`,
    );
  }
  // Entry after the washout; exit at death or the end of observation (inclusive).
  ctes.push(
    `cohort AS (SELECT p.pid, p.sex, p.race, p.ethnicity, p.region, ` +
      `GREATEST(p.birth_day, GREATEST(ob.obs_start, ${r.startDay}) + ${o.washoutDays}) AS entry, ` +
      `LEAST(COALESCE(p.death_day, ${FAR}), LEAST(ob.obs_end, ${r.endDay}) + 1) AS exit_day ` +
      `FROM persons p JOIN obs ob ON ob.pid = p.pid WHERE p.birth_day IS NOT NULL)`,
  );
  // At-risk gaps on each person's time line: before each new episode (a case at its onset),
  // after the last one; people without a record are at risk throughout.
  const gaps =
    r.episodes === 'first'
      ? `SELECT pid, -${FAR} AS g_from, MIN(onset_day) AS g_to, 1 AS is_case FROM eps GROUP BY pid`
      : `SELECT pid, COALESCE(prev_end + 1, -${FAR}) AS g_from, onset_day AS g_to, 1 AS is_case FROM eps WHERE prev_end IS NULL OR onset_day > prev_end ` +
        `UNION ALL SELECT pid, MAX(ep_end) + 1 AS g_from, ${FAR} AS g_to, 0 AS is_case FROM eps GROUP BY pid`;
  ctes.push(
    `gaps AS (${gaps} UNION ALL SELECT c.pid, -${FAR} AS g_from, ${FAR} AS g_to, 0 AS is_case FROM cohort c LEFT JOIN (SELECT DISTINCT pid FROM eps) e ON e.pid = c.pid WHERE e.pid IS NULL)`,
  );
  ctes.push(
    `clipped AS (SELECT c.pid, c.sex, c.race, c.ethnicity, c.region, GREATEST(g.g_from, c.entry) AS a, LEAST(g.g_to, c.exit_day) AS b, ` +
      `CASE WHEN g.is_case = 1 AND g.g_to >= c.entry AND g.g_to < c.exit_day AND g.g_to >= g.g_from THEN g.g_to ELSE NULL END AS case_day ` +
      `FROM cohort c JOIN gaps g ON g.pid = c.pid)`,
    `spans AS (SELECT pid, sex, race, ethnicity, region, a, b, case_day, CASE WHEN case_day IS NULL THEN b ELSE GREATEST(b, case_day + 1) END AS cover_to FROM clipped WHERE b > a OR case_day IS NOT NULL)`,
  );
  let source = 'spans';
  if (payer) {
    // Coverage periods and the gaps between them partition each person's time line.
    ctes.push(
      `cov0 AS (SELECT patient_id AS pid, COALESCE(type_display, type_text, type_code, payer_display) AS payer_name, ${ymdColumns(dialect, 'period_start', 'cs')}, ${ymdColumns(dialect, 'period_end', 'ce')} FROM coverage)`,
      `cov AS (SELECT pid, payer_name, CASE WHEN cs_y IS NULL THEN -${FAR} ELSE ${dayOf('cs')} END AS c_from, CASE WHEN ce_y IS NULL THEN ${FAR} ELSE ${dayOf('ce')} + 1 END AS c_to FROM cov0)`,
      `cov_seq AS (SELECT pid, c_from, c_to, MAX(c_to) OVER (PARTITION BY pid ORDER BY c_from, c_to ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_to FROM cov)`,
      `cov_all AS (SELECT pid, payer_name, c_from, c_to FROM cov ` +
        `UNION ALL SELECT pid, 'uncovered' AS payer_name, COALESCE(prev_to, -${FAR}) AS c_from, c_from AS c_to FROM cov_seq WHERE prev_to IS NULL OR c_from > prev_to ` +
        `UNION ALL SELECT pid, 'uncovered' AS payer_name, MAX(c_to) AS c_from, ${FAR} AS c_to FROM cov GROUP BY pid ` +
        `UNION ALL SELECT s.pid, 'uncovered' AS payer_name, -${FAR} AS c_from, ${FAR} AS c_to FROM (SELECT DISTINCT pid FROM spans) s LEFT JOIN (SELECT DISTINCT pid FROM cov) k ON k.pid = s.pid WHERE k.pid IS NULL)`,
      `spans_p AS (SELECT s.pid, s.sex, s.race, s.ethnicity, s.region, v.payer_name AS payer, GREATEST(s.a, v.c_from) AS a, LEAST(s.b, v.c_to) AS b, ` +
        `CASE WHEN s.case_day >= v.c_from AND s.case_day < v.c_to THEN s.case_day ELSE NULL END AS case_day, ` +
        `LEAST(s.cover_to, v.c_to) AS cover_to FROM spans s JOIN cov_all v ON v.pid = s.pid AND v.c_from < s.cover_to AND v.c_to > s.a)`,
    );
    source = 'spans_p';
  }
  const groupCols = ['cal_year', ...(months ? ['cal_month'] : []), 'band', 'sex'];
  for (const d of ['race', 'ethnicity', 'region', 'payer'] as const)
    if (o.by.includes(d)) groupCols.push(d);
  const sel = groupCols.map((c) =>
    ['cal_year', 'cal_month'].includes(c) ? `cl.${c}` : c === 'band' ? 'pb.band' : `s.${c}`,
  );
  const lo = 'GREATEST(s.a, cl.ys, pb.band_start)';
  const hi = 'LEAST(s.b, cl.ye, pb.band_end)';
  const q = (c: string): string => dialect.quoteIdent(c);
  return (
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT ${sel.map((c, i) => `${c} AS ${q(groupCols[i] as string)}`).join(', ')}, ` +
    `SUM(CASE WHEN ${hi} > ${lo} THEN ${hi} - ${lo} ELSE 0 END) AS ${q('person_days')}, ` +
    `SUM(CASE WHEN s.case_day >= cl.ys AND s.case_day < cl.ye AND s.case_day >= pb.band_start AND s.case_day < pb.band_end THEN 1 ELSE 0 END) AS ${q('cases')} ` +
    `FROM ${source} s JOIN cal cl ON cl.ys < s.cover_to AND cl.ye > s.a ` +
    `JOIN pband pb ON pb.pid = s.pid AND pb.band_start < s.cover_to AND pb.band_end > s.a ` +
    `GROUP BY ${sel.join(', ')}`
  );
}

interface GridRow {
  readonly keys: StratumKeys;
  readonly cases: number;
  readonly personDays: number;
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v !== '') return Number(v);
  return 0;
}

function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function keysOf(row: Record<string, unknown>, by: readonly IncidenceDimension[]): StratumKeys {
  const k: Record<string, unknown> = {};
  for (const d of by) {
    if (d === 'year') k['year'] = num(row['cal_year']);
    else if (d === 'month') k['month'] = num(row['cal_month']);
    else if (d === 'age') k['ageBand'] = AGE_BANDS[num(row['band'])];
    else k[d] = str(row[dimColumn(d) as string]);
  }
  return k as StratumKeys;
}

function keyString(k: StratumKeys): string {
  return JSON.stringify(k);
}

function aggregate(grid: readonly GridRow[], keyFn: (r: GridRow) => StratumKeys): GridRow[] {
  const m = new Map<string, { keys: StratumKeys; cases: number; personDays: number }>();
  for (const g of grid) {
    const keys = keyFn(g);
    const s = keyString(keys);
    const e = m.get(s) ?? { keys, cases: 0, personDays: 0 };
    e.cases += g.cases;
    e.personDays += g.personDays;
    m.set(s, e);
  }
  return [...m.values()];
}

function rateRow(g: GridRow, per: number, level: number): IncidenceRow {
  const py = g.personDays / DAYS_PER_YEAR;
  const ci =
    py > 0 ? poissonRateCI(g.cases, py, level, per) : { estimate: NaN, lower: NaN, upper: NaN };
  return {
    ...g.keys,
    cases: g.cases,
    personDays: g.personDays,
    personYears: py,
    rate: ci.estimate,
    lower: ci.lower,
    upper: ci.upper,
  };
}

const ORDER: readonly (keyof StratumKeys)[] = [
  'year',
  'month',
  'ageBand',
  'sex',
  'race',
  'ethnicity',
  'region',
  'payer',
];

function compareKeys(a: StratumKeys, b: StratumKeys): number {
  for (const k of ORDER) {
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (x === undefined || x === null) return -1;
    if (y === undefined || y === null) return 1;
    if (k === 'ageBand') return AGE_BANDS.indexOf(x as never) - AGE_BANDS.indexOf(y as never);
    return typeof x === 'number' && typeof y === 'number' ? x - y : String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

function parseBy(by: readonly IncidenceDimension[]): IncidenceDimension[] {
  const out: IncidenceDimension[] = [];
  for (const d of by) {
    if (!INCIDENCE_DIMENSIONS.includes(d))
      throw new RangeError(
        `unknown stratum ${JSON.stringify(d)} (one of ${INCIDENCE_DIMENSIONS.join(', ')})`,
      );
    if (!out.includes(d)) out.push(d);
  }
  return out;
}

/**
 * Incidence rates by stratum with exact Poisson CIs (per `per` person-years), optional
 * direct age standardization and annual percent change; small cells suppressed.
 */
export async function incidence(
  ctx: AnalysisContext,
  options: IncidenceOptions,
): Promise<IncidenceResult> {
  const by = parseBy(options.by ?? ['year', 'age', 'sex']);
  const r = await resolve(ctx, options);
  const washoutDays = options.washoutDays ?? 0;
  if (!(Number.isInteger(washoutDays) && washoutDays >= 0))
    throw new RangeError('washoutDays must be a non-negative integer');
  const observation = options.observation ?? 'window';
  const per = options.per ?? 1000;
  const level = options.level ?? 0.95;
  const minCell = options.minCell ?? DEFAULT_MIN_CELL;
  const gridBy = parseBy(['year', 'age', 'sex', ...by]);
  const sql = incidenceSql(ctx.dialect, r, { by: gridBy, washoutDays, observation });
  const grid: GridRow[] = (await ctx.rows(sql)).map((row) => ({
    keys: keysOf(row, gridBy),
    cases: num(row['cases']),
    personDays: num(row['person_days']),
  }));
  const pick =
    (dims: readonly IncidenceDimension[]) =>
    (g: GridRow): StratumKeys => {
      const out: Record<string, unknown> = {};
      for (const d of dims) {
        const k = d === 'age' ? 'ageBand' : d;
        out[k] = (g.keys as Record<string, unknown>)[k];
      }
      return out as StratumKeys;
    };
  const rows = aggregate(grid, pick(by))
    .filter((g) => g.personDays > 0 || g.cases > 0)
    .map((g) => rateRow(g, per, level))
    .sort((a, b) => compareKeys(a, b));
  const totalGrid = aggregate(grid, () => ({}))[0] ?? { keys: {}, cases: 0, personDays: 0 };
  const result: {
    -readonly [K in keyof IncidenceResult]: IncidenceResult[K];
  } = {
    window: { start: dayToIso(r.startDay), end: dayToIso(r.endDay) },
    definition: {
      valueSets: r.sets.map((s) => s.name),
      episodes: r.episodes,
      episodeGapDays: r.gap,
      washoutDays,
      observation,
      per,
      minCell,
    },
    by,
    rows: suppressSmallCells(rows, {
      minCell,
      counts: ['cases'],
      derived: ['rate', 'lower', 'upper'],
    }),
    total: rateRow(totalGrid, per, level),
  };
  if (options.standardize !== undefined) {
    const pop = STANDARDS[options.standardize] ?? STANDARD_POPULATIONS[options.standardize];
    if (pop === undefined) throw new RangeError(`unknown standard ${options.standardize}`);
    const weights = toMedlakeBands(pop);
    const groupDims = by.filter((d) => d !== 'age');
    const groups = new Map<string, { keys: StratumKeys; bands: GridRow[] }>();
    for (const g of aggregate(grid, pick([...groupDims, 'age']))) {
      const keys = pick(groupDims)(g);
      const s = keyString(keys);
      const e = groups.get(s) ?? { keys, bands: [] };
      e.bands.push(g);
      groups.set(s, e);
    }
    const stdRows: (StandardizedRow & { cases: number })[] = [];
    for (const { keys, bands } of groups.values()) {
      const strata = AGE_BANDS.map((band) => {
        const b = bands.find((x) => x.keys.ageBand === band);
        return { cases: b?.cases ?? 0, personTime: (b?.personDays ?? 0) / DAYS_PER_YEAR };
      });
      const w = weights.map((x, i) =>
        (strata[i] as { personTime: number }).personTime > 0 ? x : 0,
      );
      const missing = weights.filter((x, i) => x > 0 && w[i] === 0).length;
      if (!w.some((x) => x > 0)) continue;
      const d = directStandardize(strata, w, { level, per });
      stdRows.push({
        ...keys,
        cases: strata.reduce((s, x) => s + x.cases, 0),
        estimate: d.estimate,
        lower: d.lower,
        upper: d.upper,
        crude: d.crude,
        bandsWithoutPersonTime: missing,
      });
    }
    stdRows.sort((a, b) => compareKeys(a, b));
    result.standardized = {
      standard: pop.id,
      rows: suppressSmallCells(stdRows, {
        minCell,
        counts: ['cases'],
        derived: ['estimate', 'lower', 'upper', 'crude'],
      }),
    };
  }
  if (options.apc === true) {
    const years = aggregate(grid, pick(['year']))
      .filter((g) => g.personDays > 0)
      .map((g) => ({
        period: g.keys.year as number,
        cases: g.cases,
        personTime: g.personDays / DAYS_PER_YEAR,
      }))
      .sort((a, b) => a.period - b.period);
    if (years.length >= 2) result.apc = annualPercentChange(years, { level });
  }
  return result;
}

// ---------------------------------------------------------------------------------------
// Prevalence

export const PREVALENCE_DIMENSIONS = ['age', 'sex', 'race', 'ethnicity', 'region'] as const;
export type PrevalenceDimension = (typeof PREVALENCE_DIMENSIONS)[number];

export interface PrevalenceOptions extends ConditionDefinition {
  /** Point prevalence on this day (YYYY-MM-DD). */
  readonly at?: string;
  /** Period prevalence over this calendar year. */
  readonly year?: number;
  readonly by?: readonly PrevalenceDimension[];
  /**
   * Count only records active on the day / in the year (abatement after it, or active);
   * default: true for 'all' episodes (acute), false for 'first' (ever diagnosed, chronic).
   */
  readonly activeOnly?: boolean;
  readonly minCell?: number;
  readonly level?: number;
}

export type PrevalenceRow = StratumKeys & {
  readonly population: number;
  readonly cases: number;
  readonly prevalence: number;
  readonly lower: number;
  readonly upper: number;
};

export interface PrevalenceResult {
  readonly kind: 'point' | 'period';
  /** The point, or the period's first and last day; ages are on `ageOn`. */
  readonly from: string;
  readonly to: string;
  readonly ageOn: string;
  readonly definition: {
    readonly valueSets: readonly string[];
    readonly episodes: 'first' | 'all';
    readonly activeOnly: boolean;
    readonly minCell: number;
  };
  readonly by: readonly PrevalenceDimension[];
  readonly rows: readonly Suppressed<PrevalenceRow>[];
  readonly total: PrevalenceRow;
}

/**
 * Point prevalence on `at` (alive that day: born on or before it, not dead by it; with a
 * record whose onset is on or before it) or period prevalence over `year` (alive on some day
 * of it; onset on or before its last day), with Wilson CIs; ages on the day / the year's last day.
 */
export async function prevalence(
  ctx: AnalysisContext,
  options: PrevalenceOptions,
): Promise<PrevalenceResult> {
  if ((options.at === undefined) === (options.year === undefined))
    throw new RangeError('give exactly one of at (a date) or year');
  const from =
    options.at !== undefined
      ? isoToDay(options.at)
      : Date.UTC(options.year as number, 0, 1) / 86_400_000;
  const to =
    options.at !== undefined ? from : Date.UTC(options.year as number, 11, 31) / 86_400_000;
  if (!Number.isInteger(from)) throw new RangeError(`bad year ${options.year}`);
  const by: PrevalenceDimension[] = [...new Set(options.by ?? (['age', 'sex'] as const))];
  for (const d of by)
    if (!PREVALENCE_DIMENSIONS.includes(d))
      throw new RangeError(
        `unknown stratum ${JSON.stringify(d)} (one of ${PREVALENCE_DIMENSIONS.join(', ')})`,
      );
  const r = await resolve(ctx, { ...options, start: dayToIso(from), end: dayToIso(to) });
  const activeOnly = options.activeOnly ?? r.episodes === 'all';
  const minCell = options.minCell ?? DEFAULT_MIN_CELL;
  const level = options.level ?? 0.95;
  const ctes = baseCtes(ctx.dialect, r);
  ctes.push(`bands AS (${bandTable()})`, PERSON_BANDS);
  const active = activeOnly ? ` AND ep_end >= ${from}` : '';
  ctes.push(
    `hit AS (SELECT DISTINCT pid FROM eps WHERE onset_day <= ${to}${active})`,
    `alive AS (SELECT p.pid, p.sex, p.race, p.ethnicity, p.region, pb.band FROM persons p JOIN pband pb ON pb.pid = p.pid AND pb.band_start <= ${to} AND pb.band_end > ${to} ` +
      `WHERE p.birth_day <= ${to} AND (p.death_day IS NULL OR p.death_day ${options.at !== undefined ? '>' : '>='} ${from}))`,
  );
  const cols = by.map((d) => (d === 'age' ? 'a.band' : `a.${d}`));
  const q = (c: string): string => ctx.dialect.quoteIdent(c);
  const sql =
    `WITH ${ctes.join(',\n')}\n` +
    `SELECT ${[...cols.map((c, i) => `${c} AS ${q(by[i] === 'age' ? 'band' : (by[i] as string))}`), `COUNT(*) AS ${q('population')}`, `SUM(CASE WHEN h.pid IS NULL THEN 0 ELSE 1 END) AS ${q('cases')}`].join(', ')} ` +
    `FROM alive a LEFT JOIN hit h ON h.pid = a.pid` +
    (cols.length > 0 ? ` GROUP BY ${cols.join(', ')}` : '');
  const grid = (await ctx.rows(sql)).map((row) => ({
    keys: keysOf(row, by),
    population: num(row['population']),
    cases: num(row['cases']),
  }));
  const toRow = (g: { keys: StratumKeys; population: number; cases: number }): PrevalenceRow => {
    const ci =
      g.population > 0
        ? wilsonCI(g.cases, g.population, level)
        : { estimate: NaN, lower: NaN, upper: NaN };
    return {
      ...g.keys,
      population: g.population,
      cases: g.cases,
      prevalence: ci.estimate,
      lower: ci.lower,
      upper: ci.upper,
    };
  };
  const rows = grid.map(toRow).sort((a, b) => compareKeys(a, b));
  const total = toRow({
    keys: {},
    population: grid.reduce((s, g) => s + g.population, 0),
    cases: grid.reduce((s, g) => s + g.cases, 0),
  });
  return {
    kind: options.at !== undefined ? 'point' : 'period',
    from: dayToIso(from),
    to: dayToIso(to),
    ageOn: dayToIso(to),
    definition: { valueSets: r.sets.map((s) => s.name), episodes: r.episodes, activeOnly, minCell },
    by,
    rows: suppressSmallCells(rows, {
      minCell,
      counts: ['cases', 'population'],
      derived: ['prevalence', 'lower', 'upper'],
    }),
    total,
  };
}
