/**
 * Co-occurrence of conditions among patients: for each pair of value sets, the patients
 * with X (a), with Y (b), with both (ab, ever or with first onsets within a window of days)
 * and all patients (n), counted in SQL; then observed/expected, lift, the odds ratio with
 * Woolf's interval, and the association rules X → Y and Y → X. Method:
 * docs/analysis-patterns.md.
 */
import type { Dialect } from '../sql/dialect.js';
import { DialectFunction } from '../sql/dialect.js';
import type { AnalysisContext } from './context.js';
import { conditionCasesSql, num, sqlDatePart, text } from './seasonality.js';
import { sqlCivilDays } from './sql-days.js';
import { associationRule, oddsRatio } from './stats.js';
import { DEFAULT_MIN_CELL, suppressSmallCells } from './suppress.js';
import type { Suppressed } from './suppress.js';
import type { ValueSet } from './valuesets.js';

/** Library value sets of chronic and acute conditions used when none are named. */
export const DEFAULT_COOCCURRENCE_CONDITIONS = [
  'hypertension',
  'diabetes-type-2',
  'chronic-kidney-disease',
  'hyperlipidemia',
  'heart-failure',
  'myocardial-infarction',
  'stroke',
  'copd',
  'asthma',
  'depression',
  'obesity',
] as const;

export const COOCCURRENCE_RANKINGS = ['orLower', 'lift'] as const;
export type CooccurrenceRanking = (typeof COOCCURRENCE_RANKINGS)[number];

export interface CooccurrenceOptions {
  /** The conditions (two or more value sets). */
  readonly valueSets: readonly ValueSet[];
  /** Count a pair only when the first onsets are at most this many days apart (default: ever). */
  readonly windowDays?: number;
  /** Rank by the lower limit of the odds ratio (default) or by lift. */
  readonly rankBy?: CooccurrenceRanking;
  /** Pairs with fewer patients with both are not ranked (default: minCell). */
  readonly minSupportCount?: number;
  /** How many pairs `top` holds (default 10). */
  readonly top?: number;
  readonly level?: number;
  readonly minCell?: number;
}

export type PairRow = {
  readonly x: string;
  readonly y: string;
  /** Patients with X, with Y, with both; all patients. */
  readonly a: number;
  readonly b: number;
  readonly ab: number;
  readonly n: number;
  readonly expected: number;
  readonly observedExpected: number;
  readonly lift: number;
  readonly support: number;
  /** Rule X → Y: P(Y | X); rule Y → X: P(X | Y). */
  readonly confidenceXY: number;
  readonly confidenceYX: number;
  readonly oddsRatio: number;
  readonly orLower: number;
  readonly orUpper: number;
  readonly orPValue: number;
};

export interface CooccurrenceResult {
  readonly n: number;
  readonly windowDays: number | null;
  readonly rankBy: CooccurrenceRanking;
  readonly minCell: number;
  /** Patients with each condition (small counts suppressed). */
  readonly conditions: Suppressed<{ condition: string; patients: number }>[];
  /** Every pair (x < y by name); small counts suppressed. */
  readonly pairs: Suppressed<PairRow>[];
  /** The most over-represented pairs with enough support, best first (never suppressed ones). */
  readonly top: Suppressed<PairRow>[];
}

/**
 * Day number (days since 1970-01-01) of a YYYY-MM-DD text, by integer arithmetic only, so
 * that the same SQL runs on every engine (days-from-civil, proleptic Gregorian calendar).
 */
export function sqlDayNumber(dialect: Dialect, day: string): string {
  return sqlCivilDays(
    sqlDatePart(dialect, day, 1, 4),
    sqlDatePart(dialect, day, 6, 2),
    sqlDatePart(dialect, day, 9, 2),
  );
}

/** Pairwise co-occurrence of the given conditions. */
export async function analyzeCooccurrence(
  ctx: AnalysisContext,
  options: CooccurrenceOptions,
): Promise<CooccurrenceResult> {
  const d = ctx.dialect;
  const q = (s: string): string => d.quoteIdent(s);
  const minCell = options.minCell ?? DEFAULT_MIN_CELL;
  const rankBy = options.rankBy ?? 'orLower';
  const minSupport = options.minSupportCount ?? Math.max(1, minCell);
  const windowDays = options.windowDays ?? null;
  if (windowDays !== null && !(Number.isInteger(windowDays) && windowDays >= 0))
    throw new RangeError(`windowDays must be a non-negative integer, got ${windowDays}`);
  const sets = options.valueSets;
  if (new Set(sets.map((s) => s.name)).size !== sets.length)
    throw new RangeError('value sets must have distinct names');
  if (sets.length < 2) throw new RangeError('co-occurrence needs two or more value sets');

  // One row per (patient, condition) with the first onset day.
  const flags = sets
    .map(
      (vs) =>
        `SELECT ${d.quoteString(vs.name)} AS ${q('vs')}, f.${q('patient_id')} AS ${q('patient_id')}, ${sqlDayNumber(d, `f.${q('day')}`)} AS ${q('dn')} FROM (${conditionCasesSql(d, vs, true)}) f`,
    )
    .join('\nUNION ALL\n');
  const near =
    windowDays === null
      ? ''
      : ` AND ${d.sqlFunction(DialectFunction.Abs, [`f1.${q('dn')} - f2.${q('dn')}`])} <= ${windowDays}`;
  const [nRow] = await ctx.rows(`SELECT COUNT(*) AS ${q('n')} FROM ${q('patient')}`);
  const n = num(nRow?.['n']);
  const singles = await ctx.rows(
    `WITH flags AS (${flags}) SELECT ${q('vs')}, COUNT(*) AS ${q('k')} FROM flags GROUP BY ${q('vs')}`,
  );
  const pairRows = await ctx.rows(
    `WITH flags AS (${flags})
SELECT f1.${q('vs')} AS ${q('x')}, f2.${q('vs')} AS ${q('y')}, COUNT(*) AS ${q('k')}
FROM flags f1 JOIN flags f2 ON f1.${q('patient_id')} = f2.${q('patient_id')} AND f1.${q('vs')} < f2.${q('vs')}${near}
GROUP BY f1.${q('vs')}, f2.${q('vs')}`,
  );
  const count = new Map<string, number>();
  for (const r of singles) count.set(text(r['vs']) ?? '', num(r['k']));
  const both = new Map<string, number>();
  for (const r of pairRows) both.set(`${text(r['x'])}\u0000${text(r['y'])}`, num(r['k']));

  const names = sets.map((s) => s.name).sort();
  const pairs: PairRow[] = [];
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++) {
      const x = names[i]!;
      const y = names[j]!;
      const a = count.get(x) ?? 0;
      const b = count.get(y) ?? 0;
      const ab = both.get(`${x}\u0000${y}`) ?? 0;
      if (n === 0) continue;
      const rule = associationRule({ n, nA: a, nB: b, nAB: ab });
      const expected = (a * b) / n;
      let or = { estimate: NaN, lower: NaN, upper: NaN, pValue: NaN };
      if (a > 0 && b > 0 && a < n && b < n)
        or = oddsRatio(
          { a: ab, b: a - ab, c: b - ab, d: n - a - b + ab },
          options.level === undefined ? {} : { level: options.level },
        );
      pairs.push({
        x,
        y,
        a,
        b,
        ab,
        n,
        expected,
        observedExpected: expected > 0 ? ab / expected : NaN,
        lift: rule.lift,
        support: rule.support,
        confidenceXY: rule.confidence,
        confidenceYX: b > 0 ? ab / b : NaN,
        oddsRatio: or.estimate,
        orLower: or.lower,
        orUpper: or.upper,
        orPValue: or.pValue,
      });
    }
  const derived = [
    'expected',
    'observedExpected',
    'lift',
    'support',
    'confidenceXY',
    'confidenceYX',
    'oddsRatio',
    'orLower',
    'orUpper',
    'orPValue',
  ] as const;
  const suppressed = suppressSmallCells(pairs, {
    minCell,
    counts: ['a', 'b', 'ab'],
    derived: [...derived],
  });
  const key = (r: PairRow): number => (rankBy === 'lift' ? r.lift : r.orLower);
  const top = suppressed
    .map((r, i) => ({ r, p: pairs[i]! }))
    .filter(({ r, p }) => !r.suppressed && p.ab >= minSupport && Number.isFinite(key(p)))
    .filter(({ p }) => (rankBy === 'lift' ? p.lift > 1 : p.orLower > 1))
    .sort((u, v) => key(v.p) - key(u.p))
    .slice(0, options.top ?? 10)
    .map(({ r }) => r);
  return {
    n,
    windowDays,
    rankBy,
    minCell,
    conditions: suppressSmallCells(
      names.map((c) => ({ condition: c, patients: count.get(c) ?? 0 })),
      { minCell, counts: ['patients'] },
    ),
    pairs: suppressed,
    top,
  };
}
