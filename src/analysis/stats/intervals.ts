/**
 * Confidence intervals for a Poisson count or rate and for a binomial proportion.
 * Formulas and references: docs/analysis-statistics.md.
 */
import { betaIInv, gammaPInv, zForLevel } from './special.js';

/** A point estimate with a two-sided confidence interval at `level`. */
export interface Interval {
  readonly estimate: number;
  readonly lower: number;
  readonly upper: number;
  readonly level: number;
}

function checkLevel(level: number): void {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
}

function checkCount(name: string, k: number): void {
  if (!(Number.isInteger(k) && k >= 0))
    throw new RangeError(`${name} must be a non-negative integer, got ${k}`);
}

/**
 * Exact (Garwood 1936) interval for a Poisson count k:
 * lower = χ²(α/2; 2k)/2 = G⁻¹(α/2; k), upper = χ²(1−α/2; 2k+2)/2 = G⁻¹(1−α/2; k+1),
 * with G⁻¹(p; a) the quantile of Gamma(a, 1); lower = 0 when k = 0.
 */
export function poissonCountCI(k: number, level = 0.95): Interval {
  checkCount('k', k);
  checkLevel(level);
  const alpha = 1 - level;
  return {
    estimate: k,
    lower: k === 0 ? 0 : gammaPInv(k, alpha / 2),
    upper: gammaPInv(k + 1, 1 - alpha / 2),
    level,
  };
}

/**
 * Exact interval for a Poisson rate k / T: the count's Garwood limits divided by the
 * person-time T (> 0). `per` scales all three numbers (e.g. 100000 for "per 100,000").
 */
export function poissonRateCI(k: number, personTime: number, level = 0.95, per = 1): Interval {
  if (!(personTime > 0)) throw new RangeError(`personTime must be > 0, got ${personTime}`);
  const c = poissonCountCI(k, level);
  const f = per / personTime;
  return { estimate: k * f, lower: c.lower * f, upper: c.upper * f, level };
}

function checkBinomial(x: number, n: number): void {
  checkCount('x', x);
  if (!(Number.isInteger(n) && n > 0))
    throw new RangeError(`n must be a positive integer, got ${n}`);
  if (x > n) throw new RangeError(`x (${x}) must not exceed n (${n})`);
}

/**
 * Wilson (1927) score interval for a proportion x/n:
 * (p̂ + z²/2n ± z·√(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n).
 */
export function wilsonCI(x: number, n: number, level = 0.95): Interval {
  checkBinomial(x, n);
  const z = zForLevel(level);
  const p = x / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return {
    estimate: p,
    lower: x === 0 ? 0 : Math.max(0, centre - half),
    upper: x === n ? 1 : Math.min(1, centre + half),
    level,
  };
}

/**
 * Clopper–Pearson (1934) exact interval for x/n from beta quantiles:
 * lower = B⁻¹(α/2; x, n−x+1) (0 if x = 0), upper = B⁻¹(1−α/2; x+1, n−x) (1 if x = n).
 */
export function clopperPearsonCI(x: number, n: number, level = 0.95): Interval {
  checkBinomial(x, n);
  checkLevel(level);
  const alpha = 1 - level;
  return {
    estimate: x / n,
    lower: x === 0 ? 0 : betaIInv(x, n - x + 1, alpha / 2),
    upper: x === n ? 1 : betaIInv(x + 1, n - x, 1 - alpha / 2),
    level,
  };
}
