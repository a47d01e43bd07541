/**
 * Measures of association: odds ratio, relative risk, lift and association-rule metrics,
 * standardized mean differences and the Mantel–Haenszel rate ratio. Formulas and
 * references: docs/analysis-statistics.md.
 */
import type { Interval } from './intervals.js';
import { normalTwoSidedP, zForLevel } from './special.js';

/**
 * A 2×2 table: exposed with outcome (a), exposed without (b), unexposed with (c),
 * unexposed without (d).
 */
export interface Table2x2 {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
}

/** When to add 0.5 to every cell (Haldane–Anscombe): only if a cell is 0, always, never. */
export type ZeroCorrection = 'ifZero' | 'always' | 'never';

export interface RatioEstimate extends Interval {
  /** Standard error of the log ratio. */
  readonly seLog: number;
  readonly pValue: number;
  /** 0.5 was added to every cell. */
  readonly corrected: boolean;
}

function cells(t: Table2x2, correction: ZeroCorrection): [number, number, number, number, boolean] {
  const v = [t.a, t.b, t.c, t.d];
  v.forEach((x) => {
    if (!(x >= 0)) throw new RangeError(`cell counts must be >= 0, got ${x}`);
  });
  const add = correction === 'always' || (correction === 'ifZero' && v.some((x) => x === 0));
  const [a, b, c, d] = v.map((x) => (add ? x + 0.5 : x)) as [number, number, number, number];
  return [a, b, c, d, add];
}

function ratio(est: number, seLog: number, level: number, corrected: boolean): RatioEstimate {
  const z = zForLevel(level);
  const l = Math.log(est);
  return {
    estimate: est,
    lower: Math.exp(l - z * seLog),
    upper: Math.exp(l + z * seLog),
    level,
    seLog,
    pValue: normalTwoSidedP(l / seLog),
    corrected,
  };
}

/**
 * Odds ratio ad/(bc) with Woolf's logit interval exp(ln OR ± z√(1/a + 1/b + 1/c + 1/d)),
 * after the Haldane–Anscombe correction (+0.5 to every cell) when a cell is zero.
 */
export function oddsRatio(
  t: Table2x2,
  options: { level?: number; zeroCorrection?: ZeroCorrection } = {},
): RatioEstimate {
  const [a, b, c, d, corrected] = cells(t, options.zeroCorrection ?? 'ifZero');
  if (a * d === 0 || b * c === 0)
    throw new RangeError('odds ratio undefined: a zero cell without correction');
  return ratio(
    (a * d) / (b * c),
    Math.sqrt(1 / a + 1 / b + 1 / c + 1 / d),
    options.level ?? 0.95,
    corrected,
  );
}

/**
 * Relative risk [a/(a+b)] / [c/(c+d)] with the log interval
 * exp(ln RR ± z√(1/a − 1/(a+b) + 1/c − 1/(c+d))), with the same zero correction.
 */
export function relativeRisk(
  t: Table2x2,
  options: { level?: number; zeroCorrection?: ZeroCorrection } = {},
): RatioEstimate {
  const [a, b, c, d, corrected] = cells(t, options.zeroCorrection ?? 'ifZero');
  if (a === 0 || c === 0)
    throw new RangeError('relative risk undefined: a zero cell without correction');
  const rr = a / (a + b) / (c / (c + d));
  const se = Math.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d));
  return ratio(rr, se, options.level ?? 0.95, corrected);
}

/** Observed / expected ratio (no interval; see standardizedRatio for one). */
export function observedExpectedRatio(observed: number, expected: number): number {
  if (!(expected > 0)) throw new RangeError(`expected must be > 0, got ${expected}`);
  return observed / expected;
}

export interface AssociationRule {
  /** P(A ∧ B) = n_AB / n. */
  readonly support: number;
  /** P(B | A) = n_AB / n_A. */
  readonly confidence: number;
  /** P(A ∧ B) / (P(A)P(B)) = n·n_AB / (n_A·n_B). */
  readonly lift: number;
  /** P(A ∧ B) − P(A)P(B). */
  readonly leverage: number;
}

/**
 * Metrics of the rule A → B from counts: n transactions (patients), n_A with A, n_B with
 * B, n_AB with both (Agrawal et al. 1993; Brin et al. 1997 for lift).
 */
export function associationRule(counts: {
  n: number;
  nA: number;
  nB: number;
  nAB: number;
}): AssociationRule {
  const { n, nA, nB, nAB } = counts;
  if (!(n > 0)) throw new RangeError(`n must be > 0, got ${n}`);
  if (!(nAB >= 0 && nAB <= nA && nAB <= nB && nA <= n && nB <= n))
    throw new RangeError('need 0 <= nAB <= nA, nB <= n');
  const pA = nA / n;
  const pB = nB / n;
  const pAB = nAB / n;
  return {
    support: pAB,
    confidence: nA > 0 ? nAB / nA : NaN,
    lift: nA > 0 && nB > 0 ? pAB / (pA * pB) : NaN,
    leverage: pAB - pA * pB,
  };
}

/** Lift P(A ∧ B) / (P(A)P(B)) from counts. */
export function lift(n: number, nA: number, nB: number, nAB: number): number {
  return associationRule({ n, nA, nB, nAB }).lift;
}

/** Summary of a continuous variable in one group. */
export interface GroupSummary {
  readonly mean: number;
  readonly sd: number;
}

/**
 * Standardized mean difference for a continuous variable (Austin 2009):
 * (m₁ − m₂) / √((s₁² + s₂²)/2). Returns 0 when both SDs are 0 and the means equal.
 */
export function smdContinuous(g1: GroupSummary, g2: GroupSummary): number {
  const diff = g1.mean - g2.mean;
  const s = Math.sqrt((g1.sd * g1.sd + g2.sd * g2.sd) / 2);
  if (s === 0) return diff === 0 ? 0 : Math.sign(diff) * Infinity;
  return diff / s;
}

/**
 * Standardized mean difference for a binary variable (Austin 2009):
 * (p₁ − p₂) / √((p₁(1−p₁) + p₂(1−p₂))/2).
 */
export function smdBinary(p1: number, p2: number): number {
  if (!(p1 >= 0 && p1 <= 1 && p2 >= 0 && p2 <= 1))
    throw new RangeError('proportions must be in [0, 1]');
  const diff = p1 - p2;
  const s = Math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2);
  if (s === 0) return diff === 0 ? 0 : Math.sign(diff) * Infinity;
  return diff / s;
}

/** Mean and sample SD (n − 1 denominator) of a sample. */
export function summarize(values: readonly number[]): GroupSummary {
  const n = values.length;
  if (n < 2) throw new RangeError('need at least two values');
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const ss = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { mean, sd: Math.sqrt(ss / (n - 1)) };
}

/** One stratum for a rate ratio: cases and person-time, exposed (1) and unexposed (0). */
export interface RateRatioStratum {
  readonly cases1: number;
  readonly personTime1: number;
  readonly cases0: number;
  readonly personTime0: number;
}

/**
 * Mantel–Haenszel rate ratio Σ(a_i T0_i/T_i) / Σ(b_i T1_i/T_i) with the Greenland &
 * Robins (1985) variance of its log, Σ(T1_i T0_i (a_i + b_i)/T_i²) / (R·S), R and S the
 * numerator and denominator sums. Strata lacking person-time in either group are skipped.
 * Returns null when R or S is zero (ratio undefined).
 */
export function mantelHaenszelRateRatio(
  strata: readonly RateRatioStratum[],
  options: { level?: number } = {},
): (RatioEstimate & { strataUsed: number }) | null {
  let r = 0;
  let s = 0;
  let v = 0;
  let used = 0;
  for (const st of strata) {
    const t1 = st.personTime1;
    const t0 = st.personTime0;
    if (!(t1 > 0 && t0 > 0)) continue;
    const t = t1 + t0;
    r += (st.cases1 * t0) / t;
    s += (st.cases0 * t1) / t;
    v += (t1 * t0 * (st.cases1 + st.cases0)) / (t * t);
    used++;
  }
  if (!(r > 0 && s > 0)) return null;
  return {
    ...ratio(r / s, Math.sqrt(v / (r * s)), options.level ?? 0.95, false),
    strataUsed: used,
  };
}
