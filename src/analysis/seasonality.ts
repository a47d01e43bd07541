/**
 * Seasonality of a condition: monthly counts of new cases (SQL over the `condition` view),
 * a pooled month-of-year profile, and a cosinor (harmonic Poisson) fit with days-in-month
 * exposure and a linear trend: peak month, amplitude with its interval, a likelihood-ratio
 * test against "no season". Method and caveats: docs/analysis-patterns.md.
 */
import type { Row } from '../engine/engine.js';
import type { Dialect } from '../sql/dialect.js';
import { DialectFunction } from '../sql/dialect.js';
import type { AnalysisContext } from './context.js';
import { cosinorSeasonality } from './stats.js';
import type { Interval } from './stats.js';
import { DEFAULT_MIN_CELL, suppressSmallCells } from './suppress.js';
import type { Suppressed } from './suppress.js';
import { CODE_SYSTEMS, valueSetPredicate } from './valuesets.js';
import type { ValueSet } from './valuesets.js';

/**
 * True when a row of the `condition` view has a code in the sets: its first coding, its
 * SNOMED CT coding or its ICD-10 coding (the view keeps the three in separate columns).
 */
export function conditionInValueSets(
  dialect: Dialect,
  sets: ValueSet | readonly ValueSet[],
  alias: string,
): string {
  const col = (c: string): string => `${alias}.${dialect.quoteIdent(c)}`;
  return `(${[
    valueSetPredicate(dialect, sets, col('code_system'), col('code')),
    valueSetPredicate(dialect, sets, dialect.quoteString(CODE_SYSTEMS.snomed), col('snomed_code')),
    valueSetPredicate(dialect, sets, col('icd10_system'), col('icd10_code')),
  ].join(' OR ')})`;
}

/** The first `n` characters of a text expression (dates are FHIR text: YYYY-MM-DD...). */
export function sqlPrefix(dialect: Dialect, expr: string, n: number): string {
  return dialect.sqlFunction(DialectFunction.Substring, [expr, '1', String(n)]);
}

/** An integer part of a YYYY-MM-DD text (from 1-based `start`, `len` characters). */
export function sqlDatePart(dialect: Dialect, expr: string, start: number, len: number): string {
  return dialect.sqlCast(
    dialect.sqlFunction(DialectFunction.Substring, [expr, String(start), String(len)]),
    'BIGINT',
  );
}

/** A number from a query row (engines may return BIGINT as bigint). */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return 0;
}

/** A text from a query row, or null. */
export function text(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

function parseMonth(name: string, v: string): { year: number; month: number } {
  const m = MONTH.exec(v);
  if (m === null) throw new RangeError(`${name} must be a month YYYY-MM, got ${JSON.stringify(v)}`);
  return { year: Number(m[1]), month: Number(m[2]) };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

export interface SeasonalityOptions {
  /** The condition: one value set, or several taken as one. */
  readonly valueSet: ValueSet | readonly ValueSet[];
  /** First month (YYYY-MM); default: the first month of any encounter, else of any case. */
  readonly from?: string;
  /** Last month (YYYY-MM), inclusive; default: the last month of any encounter or case. */
  readonly to?: string;
  /** Count only each patient's first onset (chronic conditions); default false. */
  readonly firstPerPatient?: boolean;
  /** Fit a linear trend beside the harmonic (default true). */
  readonly trend?: boolean;
  /** Significance level of the "seasonal" verdict (default 0.05). */
  readonly alpha?: number;
  /** Confidence level of the amplitude interval (default 0.95). */
  readonly level?: number;
  readonly minCell?: number;
}

export type MonthCases = {
  readonly year: number;
  readonly month: number;
  readonly cases: number;
};

export type MonthProfile = {
  readonly month: number;
  /** Cases in this calendar month over all years of the window. */
  readonly cases: number;
  /** Share of all cases (0–1). */
  readonly share: number;
  /** Cases per day of the month, relative to the mean over months (1 = average). */
  readonly relativeRate: number;
};

export interface SeasonalityFit {
  readonly peakMonth: number;
  /** Peak position on the month scale, in [1, 13). */
  readonly peakPosition: number;
  /** Amplitude of log rate, with its interval. */
  readonly amplitude: Interval;
  readonly peakToTrough: number;
  readonly lrStatistic: number;
  readonly pValue: number;
  readonly alpha: number;
  /** pValue < alpha. */
  readonly seasonal: boolean;
  readonly trend: boolean;
}

export interface SeasonalityResult {
  readonly condition: string;
  readonly from: string;
  readonly to: string;
  readonly totalCases: number;
  readonly minCell: number;
  /** One row per month of the window (zero-filled); small counts suppressed. */
  readonly monthly: Suppressed<MonthCases>[];
  /** Month-of-year profile pooled over the years; small counts suppressed. */
  readonly profile: Suppressed<MonthProfile>[];
  /** Null when there are too few months or no cases. */
  readonly fit: SeasonalityFit | null;
}

function label(sets: ValueSet | readonly ValueSet[]): string {
  const list = Array.isArray(sets) ? (sets as readonly ValueSet[]) : [sets as ValueSet];
  return list.map((s) => s.name).join('+');
}

/** The SQL of the new cases (patient_id, day) of a condition, one row per case. */
export function conditionCasesSql(
  dialect: Dialect,
  sets: ValueSet | readonly ValueSet[],
  firstPerPatient: boolean,
): string {
  const q = (s: string): string => dialect.quoteIdent(s);
  const day = sqlPrefix(dialect, `c.${q('onset')}`, 10);
  const distinct = `SELECT DISTINCT c.${q('patient_id')} AS ${q('patient_id')}, ${day} AS ${q('day')} FROM ${q('condition')} c WHERE c.${q('onset')} IS NOT NULL AND c.${q('patient_id')} IS NOT NULL AND ${conditionInValueSets(dialect, sets, 'c')}`;
  if (!firstPerPatient) return distinct;
  return `SELECT d.${q('patient_id')} AS ${q('patient_id')}, MIN(d.${q('day')}) AS ${q('day')} FROM (${distinct}) d GROUP BY d.${q('patient_id')}`;
}

/** Monthly counts, profile and cosinor fit of new cases of a condition. */
export async function analyzeSeasonality(
  ctx: AnalysisContext,
  options: SeasonalityOptions,
): Promise<SeasonalityResult> {
  const d = ctx.dialect;
  const q = (s: string): string => d.quoteIdent(s);
  const minCell = options.minCell ?? DEFAULT_MIN_CELL;
  const alpha = options.alpha ?? 0.05;
  const cases = conditionCasesSql(d, options.valueSet, options.firstPerPatient ?? false);
  const byMonth = await ctx.rows(
    `SELECT m.${q('y')} AS ${q('y')}, m.${q('m')} AS ${q('m')}, COUNT(*) AS ${q('n')} FROM (SELECT ${sqlDatePart(d, `x.${q('day')}`, 1, 4)} AS ${q('y')}, ${sqlDatePart(d, `x.${q('day')}`, 6, 2)} AS ${q('m')} FROM (${cases}) x) m GROUP BY m.${q('y')}, m.${q('m')}`,
  );
  const counts = new Map<number, number>();
  for (const r of byMonth) counts.set(num(r['y']) * 12 + num(r['m']) - 1, num(r['n']));

  let from = options.from === undefined ? undefined : parseMonth('from', options.from);
  let to = options.to === undefined ? undefined : parseMonth('to', options.to);
  if (from === undefined || to === undefined) {
    const start = sqlPrefix(d, `e.${q('period_start')}`, 7);
    const [span] = (await ctx.rows(
      `SELECT MIN(${start}) AS ${q('lo')}, MAX(${start}) AS ${q('hi')} FROM ${q('encounter')} e WHERE e.${q('period_start')} IS NOT NULL`,
    )) as Row[];
    const keys = [...counts.keys()];
    const caseLo = keys.length > 0 ? Math.min(...keys) : undefined;
    const caseHi = keys.length > 0 ? Math.max(...keys) : undefined;
    const enc = (v: unknown): number | undefined => {
      const t = text(v);
      if (t === null || !MONTH.test(t)) return undefined;
      const p = parseMonth('encounter month', t);
      return p.year * 12 + p.month - 1;
    };
    const encLo = enc(span?.['lo']);
    const encHi = enc(span?.['hi']);
    const lo = encLo ?? caseLo;
    const hiCandidates = [encHi, caseHi].filter((x): x is number => x !== undefined);
    const hi = hiCandidates.length > 0 ? Math.max(...hiCandidates) : undefined;
    const toMonth = (k: number) => ({ year: Math.floor(k / 12), month: (k % 12) + 1 });
    if (from === undefined && lo !== undefined) from = toMonth(lo);
    if (to === undefined && hi !== undefined) to = toMonth(hi);
  }
  const condition = label(options.valueSet);
  if (from === undefined || to === undefined) {
    return {
      condition,
      from: '',
      to: '',
      totalCases: 0,
      minCell,
      monthly: [],
      profile: [],
      fit: null,
    };
  }
  const k0 = from.year * 12 + from.month - 1;
  const k1 = to.year * 12 + to.month - 1;
  if (k1 < k0) throw new RangeError('to must not be before from');

  const series: (MonthCases & { days: number })[] = [];
  for (let k = k0; k <= k1; k++) {
    const year = Math.floor(k / 12);
    const month = (k % 12) + 1;
    series.push({ year, month, cases: counts.get(k) ?? 0, days: daysInMonth(year, month) });
  }
  const totalCases = series.reduce((s, r) => s + r.cases, 0);

  const pooled = Array.from({ length: 12 }, () => ({ cases: 0, days: 0 }));
  for (const r of series) {
    const p = pooled[r.month - 1]!;
    p.cases += r.cases;
    p.days += r.days;
  }
  const meanRate =
    totalCases /
    Math.max(
      1,
      pooled.reduce((s, p) => s + p.days, 0),
    );
  const profileRows: MonthProfile[] = pooled.map((p, i) => ({
    month: i + 1,
    cases: p.cases,
    share: totalCases > 0 ? p.cases / totalCases : 0,
    relativeRate: p.days > 0 && meanRate > 0 ? p.cases / p.days / meanRate : 0,
  }));

  let fit: SeasonalityFit | null = null;
  const trend = (options.trend ?? true) && series.length >= 24;
  if (totalCases > 0 && series.length >= 12) {
    const s = cosinorSeasonality(
      series.map((r, i) => ({ month: i + from.month, count: r.cases, exposure: r.days })),
      { trend, ...(options.level === undefined ? {} : { level: options.level }) },
    );
    fit = {
      peakMonth: s.peakMonth,
      peakPosition: s.peakPosition,
      amplitude: s.amplitude,
      peakToTrough: s.peakToTrough,
      lrStatistic: s.lrStatistic,
      pValue: s.pValue,
      alpha,
      seasonal: s.pValue < alpha,
      trend,
    };
  }
  return {
    condition,
    from: `${from.year}-${pad2(from.month)}`,
    to: `${to.year}-${pad2(to.month)}`,
    totalCases,
    minCell,
    monthly: suppressSmallCells(
      series.map(({ year, month, cases: c }) => ({ year, month, cases: c })),
      { minCell, counts: ['cases'] },
    ),
    profile: suppressSmallCells(profileRows, {
      minCell,
      counts: ['cases'],
      derived: ['share', 'relativeRate'],
    }),
    fit,
  };
}
