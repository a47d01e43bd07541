/**
 * Poisson log-linear regression by iteratively reweighted least squares, and the two models
 * built on it: the annual percent change of a rate and harmonic (cosinor) seasonality.
 * Formulas and references: docs/analysis-statistics.md.
 */
import { chiSquareSurvival, normalTwoSidedP, zForLevel } from './special.js';
import type { Interval } from './intervals.js';

export interface PoissonFit {
  /** Coefficients, in the order of the design columns. */
  readonly coefficients: number[];
  /** Covariance matrix of the coefficients (inverse Fisher information, times the scale). */
  readonly covariance: number[][];
  /** Residual deviance 2Σ[y ln(y/μ) − (y − μ)]. */
  readonly deviance: number;
  /** Pearson χ² Σ(y − μ)²/μ. */
  readonly pearsonChi2: number;
  /** Residual degrees of freedom n − p. */
  readonly dfResidual: number;
  /** Dispersion used for the covariance: 1, or Pearson χ²/(n − p) when overdispersed. */
  readonly scale: number;
  readonly fitted: number[];
  readonly iterations: number;
}

/** Inverse of a small symmetric positive-definite matrix by Gauss–Jordan with pivoting. */
function invert(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++)
      if (Math.abs((a[r] as number[])[c] as number) > Math.abs((a[piv] as number[])[c] as number))
        piv = r;
    const pr = a[piv] as number[];
    if (Math.abs(pr[c] as number) < 1e-300) throw new RangeError('singular design matrix');
    a[piv] = a[c] as number[];
    a[c] = pr;
    const d = pr[c] as number;
    for (let j = 0; j < 2 * n; j++) pr[j] = (pr[j] as number) / d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const row = a[r] as number[];
      const f = row[c] as number;
      if (f === 0) continue;
      for (let j = 0; j < 2 * n; j++) row[j] = (row[j] as number) - f * (pr[j] as number);
    }
  }
  return a.map((row) => row.slice(n));
}

function poissonDeviance(y: readonly number[], mu: readonly number[]): number {
  let d = 0;
  y.forEach((yi, i) => {
    const m = mu[i] as number;
    d += (yi > 0 ? yi * Math.log(yi / m) : 0) - (yi - m);
  });
  return 2 * d;
}

/**
 * Fits log μ_i = offset_i + x_i·β to counts y_i by IRLS (Fisher scoring; canonical link, so
 * Newton–Raphson). With `overdispersion`, the covariance is multiplied by Pearson χ²/(n − p)
 * (quasi-Poisson).
 */
export function poissonRegression(
  design: readonly (readonly number[])[],
  y: readonly number[],
  options: { offset?: readonly number[]; overdispersion?: boolean } = {},
): PoissonFit {
  const n = y.length;
  if (design.length !== n) throw new RangeError('design and y differ in length');
  const p = (design[0] ?? []).length;
  if (p === 0 || n < p) throw new RangeError(`need at least ${p} observations, got ${n}`);
  const offset = options.offset ?? new Array<number>(n).fill(0);
  y.forEach((v) => {
    if (!(v >= 0)) throw new RangeError(`counts must be >= 0, got ${v}`);
  });
  if (y.every((v) => v === 0)) throw new RangeError('all counts are zero');
  // Start from μ = y + 0.5, as a linear fit of the working response.
  let mu = y.map((v) => v + 0.5);
  let eta = mu.map((m) => Math.log(m));
  let beta = new Array<number>(p).fill(0);
  let dev = Infinity;
  let info: number[][] = [];
  let iter = 0;
  for (iter = 1; iter <= 100; iter++) {
    const xtwx = Array.from({ length: p }, () => new Array<number>(p).fill(0));
    const xtwz = new Array<number>(p).fill(0);
    for (let i = 0; i < n; i++) {
      const m = mu[i] as number;
      const z = (eta[i] as number) - (offset[i] as number) + ((y[i] as number) - m) / m;
      const x = design[i] as readonly number[];
      for (let a = 0; a < p; a++) {
        const xa = (x[a] as number) * m;
        xtwz[a] = (xtwz[a] as number) + xa * z;
        const row = xtwx[a] as number[];
        for (let b = 0; b < p; b++) row[b] = (row[b] as number) + xa * (x[b] as number);
      }
    }
    info = invert(xtwx);
    beta = info.map((row) => row.reduce((s, v, j) => s + v * (xtwz[j] as number), 0));
    eta = design.map(
      (x, i) => (offset[i] as number) + x.reduce((s, v, j) => s + v * (beta[j] as number), 0),
    );
    mu = eta.map((e) => Math.exp(e));
    const newDev = poissonDeviance(y, mu);
    const done = Math.abs(newDev - dev) <= 1e-13 * (Math.abs(newDev) + 0.1);
    dev = newDev;
    if (done) break;
  }
  // Covariance at the final μ.
  const xtwx = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let i = 0; i < n; i++) {
    const x = design[i] as readonly number[];
    const m = mu[i] as number;
    for (let a = 0; a < p; a++) {
      const row = xtwx[a] as number[];
      for (let b = 0; b < p; b++)
        row[b] = (row[b] as number) + (x[a] as number) * m * (x[b] as number);
    }
  }
  info = invert(xtwx);
  const pearsonChi2 = y.reduce(
    (s, v, i) => s + (v - (mu[i] as number)) ** 2 / (mu[i] as number),
    0,
  );
  const dfResidual = n - p;
  const scale = options.overdispersion && dfResidual > 0 ? pearsonChi2 / dfResidual : 1;
  return {
    coefficients: beta,
    covariance: info.map((row) => row.map((v) => v * scale)),
    deviance: dev,
    pearsonChi2,
    dfResidual,
    scale,
    fitted: mu,
    iterations: iter,
  };
}

/** A rate observed over one period (e.g. a calendar year). */
export interface PeriodRate {
  readonly period: number;
  readonly cases: number;
  readonly personTime: number;
}

export interface AnnualPercentChange extends Interval {
  /** Slope b of log rate on period. */
  readonly slope: number;
  readonly slopeSe: number;
  /** Two-sided Wald p-value for b = 0. */
  readonly pValue: number;
  readonly scale: number;
}

/**
 * Annual percent change from the Poisson regression log E[k_t] = log T_t + a + b·t
 * (period centred for conditioning; b unchanged): APC = 100(eᵇ − 1), interval
 * 100(exp(b ± z·SE(b)) − 1). `overdispersion` scales SE(b) by √(Pearson χ²/(n − 2)).
 */
export function annualPercentChange(
  rates: readonly PeriodRate[],
  options: { level?: number; overdispersion?: boolean } = {},
): AnnualPercentChange {
  const level = options.level ?? 0.95;
  if (rates.length < 2) throw new RangeError('need at least two periods');
  rates.forEach((r) => {
    if (!(r.personTime > 0)) throw new RangeError(`personTime must be > 0, got ${r.personTime}`);
  });
  const mean = rates.reduce((s, r) => s + r.period, 0) / rates.length;
  const fit = poissonRegression(
    rates.map((r) => [1, r.period - mean]),
    rates.map((r) => r.cases),
    { offset: rates.map((r) => Math.log(r.personTime)), overdispersion: options.overdispersion },
  );
  const b = fit.coefficients[1] as number;
  const se = Math.sqrt((fit.covariance[1] as number[])[1] as number);
  const z = zForLevel(level);
  return {
    estimate: 100 * Math.expm1(b),
    lower: 100 * Math.expm1(b - z * se),
    upper: 100 * Math.expm1(b + z * se),
    level,
    slope: b,
    slopeSe: se,
    pValue: normalTwoSidedP(b / se),
    scale: fit.scale,
  };
}

/** A monthly count. `month` is 1–12 (January = 1) or a running index (13 = next January). */
export interface MonthlyCount {
  readonly month: number;
  readonly count: number;
  /** Exposure (person-time or days in month) for an offset; omitted means 1. */
  readonly exposure?: number;
}

export interface Seasonality {
  /** Cosine and sine coefficients of log μ. */
  readonly cosCoef: number;
  readonly sinCoef: number;
  /** Amplitude A = √(β_c² + β_s²) on the log scale, with a delta-method interval. */
  readonly amplitude: Interval;
  /** Peak-to-mean rate ratio e^A and peak-to-trough ratio e^{2A}. */
  readonly peakToMean: number;
  readonly peakToTrough: number;
  /** Peak on the month scale, in [1, 13): 1 = January, 2 = February, 12.5 = mid Dec–Jan. */
  readonly peakPosition: number;
  /** Calendar month (1–12) nearest to the peak. */
  readonly peakMonth: number;
  /** Likelihood-ratio statistic vs the model without the harmonic (2 df) and its p-value. */
  readonly lrStatistic: number;
  readonly pValue: number;
  readonly trendCoef: number | null;
}

/**
 * Harmonic (cosinor) Poisson regression with one sine–cosine pair of period 12 months:
 * log μ_m = log E_m + a + β_c cos(2π(m−1)/12) + β_s sin(2π(m−1)/12) [+ γ·(m − m̄)],
 * amplitude A = √(β_c² + β_s²), peak phase θ = atan2(β_s, β_c), peak at 1 + 12θ/2π.
 * Var(A) ≈ (β_c² V_cc + 2β_cβ_s V_cs + β_s² V_ss)/A² (delta method; interval truncated at
 * 0). Test of no seasonality: deviance difference against the model without the pair,
 * referred to χ² with 2 df.
 */
export function cosinorSeasonality(
  data: readonly MonthlyCount[],
  options: { level?: number; trend?: boolean } = {},
): Seasonality {
  const level = options.level ?? 0.95;
  const trend = options.trend ?? false;
  if (data.length < (trend ? 5 : 4)) throw new RangeError('too few months for a cosinor fit');
  const mean = data.reduce((s, d) => s + d.month, 0) / data.length;
  const offset = data.map((d) => {
    const e = d.exposure ?? 1;
    if (!(e > 0)) throw new RangeError(`exposure must be > 0, got ${e}`);
    return Math.log(e);
  });
  const y = data.map((d) => d.count);
  const angle = (m: number): number => (2 * Math.PI * (m - 1)) / 12;
  const full = poissonRegression(
    data.map((d) => {
      const row = [1, Math.cos(angle(d.month)), Math.sin(angle(d.month))];
      if (trend) row.push(d.month - mean);
      return row;
    }),
    y,
    { offset },
  );
  const reduced = poissonRegression(
    data.map((d) => (trend ? [1, d.month - mean] : [1])),
    y,
    { offset },
  );
  const bc = full.coefficients[1] as number;
  const bs = full.coefficients[2] as number;
  const cov = full.covariance;
  const A = Math.hypot(bc, bs);
  const varA =
    A > 0
      ? (bc * bc * ((cov[1] as number[])[1] as number) +
          2 * bc * bs * ((cov[1] as number[])[2] as number) +
          bs * bs * ((cov[2] as number[])[2] as number)) /
        (A * A)
      : NaN;
  const z = zForLevel(level);
  const se = Math.sqrt(varA);
  let theta = Math.atan2(bs, bc);
  if (theta < 0) theta += 2 * Math.PI;
  const peakPosition = 1 + (12 * theta) / (2 * Math.PI);
  const lr = Math.max(0, reduced.deviance - full.deviance);
  return {
    cosCoef: bc,
    sinCoef: bs,
    amplitude: { estimate: A, lower: Math.max(0, A - z * se), upper: A + z * se, level },
    peakToMean: Math.exp(A),
    peakToTrough: Math.exp(2 * A),
    peakPosition,
    peakMonth: ((Math.round(peakPosition) - 1) % 12) + 1,
    lrStatistic: lr,
    pValue: chiSquareSurvival(lr, 2),
    trendCoef: trend ? (full.coefficients[3] as number) : null,
  };
}
