/**
 * Direct and indirect age standardization. Formulas and references:
 * docs/analysis-statistics.md.
 */
import type { Interval } from './intervals.js';
import { poissonCountCI } from './intervals.js';
import { gammaPInv, zForLevel } from './special.js';

/** One stratum (age band) of the study population. */
export interface RateStratum {
  readonly cases: number;
  readonly personTime: number;
}

export interface DirectStandardizedRate extends Interval {
  /** Crude rate Σk / ΣT (times `per`). */
  readonly crude: number;
  /** Variance of the standardized rate, Σ w_i² k_i / T_i² (times `per`²). */
  readonly variance: number;
  /** Standard error, √variance. */
  readonly se: number;
}

/**
 * Directly standardized rate Σ w_i k_i/T_i with normalized standard weights w_i, and its
 * confidence interval by the gamma method of Fay & Feuer (1997), the method of R
 * epitools::ageadjust.direct: with y the rate, v its variance and w_M = max_i w_i/T_i,
 * lower = G⁻¹(α/2; y²/v, scale v/y), upper = G⁻¹(1−α/2; (y+w_M)²/(v+w_M²), scale (v+w_M²)/(y+w_M)).
 * Strata with zero standard weight are ignored; a stratum with weight but no person-time
 * is an error (its rate is undefined).
 */
export function directStandardize(
  strata: readonly RateStratum[],
  standardWeights: readonly number[],
  options: { level?: number; per?: number } = {},
): DirectStandardizedRate {
  const level = options.level ?? 0.95;
  const per = options.per ?? 1;
  if (strata.length !== standardWeights.length)
    throw new RangeError(
      `strata (${strata.length}) and standard weights (${standardWeights.length}) differ in length`,
    );
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  const totalW = standardWeights.reduce((s, w) => {
    if (!(w >= 0)) throw new RangeError(`standard weights must be >= 0, got ${w}`);
    return s + w;
  }, 0);
  if (!(totalW > 0)) throw new RangeError('standard weights sum to zero');
  let y = 0;
  let v = 0;
  let wM = 0;
  let k = 0;
  let t = 0;
  strata.forEach((s, i) => {
    if (!(s.cases >= 0)) throw new RangeError(`cases must be >= 0, got ${s.cases}`);
    if (!(s.personTime >= 0)) throw new RangeError(`personTime must be >= 0, got ${s.personTime}`);
    k += s.cases;
    t += s.personTime;
    const w = (standardWeights[i] as number) / totalW;
    if (w === 0) return;
    if (!(s.personTime > 0))
      throw new RangeError(`stratum ${i} has a standard weight but no person-time`);
    y += (w * s.cases) / s.personTime;
    v += (w * w * s.cases) / (s.personTime * s.personTime);
    wM = Math.max(wM, w / s.personTime);
  });
  const alpha = 1 - level;
  const lower = v > 0 ? gammaPInv((y * y) / v, alpha / 2) * (v / y) : 0;
  const v2 = v + wM * wM;
  const y2 = y + wM;
  const upper = gammaPInv((y2 * y2) / v2, 1 - alpha / 2) * (v2 / y2);
  return {
    estimate: y * per,
    lower: lower * per,
    upper: upper * per,
    level,
    crude: t > 0 ? (k / t) * per : NaN,
    variance: v * per * per,
    se: Math.sqrt(v) * per,
  };
}

/** Expected count Σ T_i · λ_i from the study person-time and reference rates by stratum. */
export function expectedCount(
  personTime: readonly number[],
  referenceRates: readonly number[],
): number {
  if (personTime.length !== referenceRates.length)
    throw new RangeError('personTime and referenceRates differ in length');
  return personTime.reduce((s, t, i) => s + t * (referenceRates[i] as number), 0);
}

export interface StandardizedRatio extends Interval {
  readonly observed: number;
  readonly expected: number;
  /** The whole interval lies above 1 (an excess at this level). */
  readonly aboveOne: boolean;
  /** The whole interval lies below 1 (a deficit at this level). */
  readonly belowOne: boolean;
  readonly method: 'exact' | 'byar';
}

/**
 * Standardized incidence (or mortality) ratio O/E. The interval treats E as fixed and O as
 * Poisson: exact Garwood limits of O divided by E, or Byar's approximation
 * (Breslow & Day 1987): lower = O(1 − 1/(9O) − z/(3√O))³/E,
 * upper = (O+1)(1 − 1/(9(O+1)) + z/(3√(O+1)))³/E.
 */
export function standardizedRatio(
  observed: number,
  expected: number,
  options: { level?: number; method?: 'exact' | 'byar' } = {},
): StandardizedRatio {
  const level = options.level ?? 0.95;
  const method = options.method ?? 'exact';
  if (!(expected > 0)) throw new RangeError(`expected must be > 0, got ${expected}`);
  const exact = poissonCountCI(observed, level);
  let lower = exact.lower / expected;
  let upper = exact.upper / expected;
  if (method === 'byar') {
    const z = zForLevel(level);
    const o = observed;
    lower =
      o === 0
        ? 0
        : (o * Math.pow(Math.max(0, 1 - 1 / (9 * o) - z / (3 * Math.sqrt(o))), 3)) / expected;
    const o1 = o + 1;
    upper = (o1 * Math.pow(1 - 1 / (9 * o1) + z / (3 * Math.sqrt(o1)), 3)) / expected;
  }
  return {
    estimate: observed / expected,
    lower,
    upper,
    level,
    observed,
    expected,
    aboveOne: lower > 1,
    belowOne: upper < 1,
    method,
  };
}
