/**
 * Special functions behind the interval estimators: log-gamma, the regularized incomplete
 * gamma and beta functions and their inverses, and the standard normal distribution.
 * Written for double precision (relative error around 1e-13 or better in the ranges used by
 * epidemiological counts); every inverse is a safeguarded Newton iteration inside a bracket,
 * so it cannot diverge. See docs/analysis-statistics.md for formulas and references.
 */

const EPS = 1e-15;
const TINY = 1e-300;
const MAX_ITER = 10_000;

/** Lanczos approximation (g = 7, 9 terms), Godfrey's coefficients. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
  -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
  1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function lnGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`lnGamma: x must be > 0, got ${x}`);
  if (x < 0.5) {
    // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
    return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  }
  const z = x - 1;
  let s = LANCZOS[0] as number;
  for (let i = 1; i < LANCZOS.length; i++) s += (LANCZOS[i] as number) / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** ln of the gamma-density kernel x^a e^−x / Γ(a), shared by the series and fraction. */
function lnGammaPrefactor(a: number, x: number): number {
  return a * Math.log(x) - x - lnGamma(a);
}

/** P(a, x) by its power series; converges fast for x < a + 1. */
function gammaPSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITER; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(lnGammaPrefactor(a, x));
}

/** Q(a, x) by its continued fraction (modified Lentz); converges fast for x ≥ a + 1. */
function gammaQFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(lnGammaPrefactor(a, x)) * h;
}

/** Regularized lower incomplete gamma P(a, x) = γ(a, x) / Γ(a). */
export function gammaP(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`gammaP: a must be > 0, got ${a}`);
  if (x <= 0) return 0;
  if (x === Infinity) return 1;
  return x < a + 1 ? gammaPSeries(a, x) : 1 - gammaQFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), accurate in the upper tail. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0)) throw new RangeError(`gammaQ: a must be > 0, got ${a}`);
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQFraction(a, x);
}

/**
 * Safeguarded Newton root finder for a monotone increasing f on (lo, hi): Newton steps,
 * falling back to bisection whenever a step leaves the current bracket.
 */
function solveIncreasing(
  f: (x: number) => number,
  df: (x: number) => number,
  x0: number,
  lo: number,
  hi: number,
): number {
  let x = Math.min(Math.max(x0, lo), hi);
  for (let i = 0; i < 500; i++) {
    const fx = f(x);
    if (fx === 0) return x;
    if (fx > 0) hi = x;
    else lo = x;
    const d = df(x);
    let next = d > 0 && Number.isFinite(d) ? x - fx / d : NaN;
    if (!(next > lo && next < hi))
      next = Number.isFinite(hi) ? 0.5 * (lo + hi) : Math.max(2 * x, 1);
    if (Math.abs(next - x) <= 1e-15 * Math.max(Math.abs(next), 1e-300)) return next;
    x = next;
  }
  return x;
}

/**
 * Inverse of the regularized lower incomplete gamma: the x with P(a, x) = p. Equivalently
 * the p-quantile of a Gamma(shape a, scale 1) distribution.
 */
export function gammaPInv(a: number, p: number): number {
  if (!(a > 0)) throw new RangeError(`gammaPInv: a must be > 0, got ${a}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`gammaPInv: p must be in [0, 1], got ${p}`);
  if (p === 0) return 0;
  if (p === 1) return Infinity;
  const lnGa = lnGamma(a);
  const density = (x: number): number => Math.exp((a - 1) * Math.log(x) - x - lnGa);
  // Starting value: Wilson–Hilferty for a ≥ 1, the small-x power law otherwise.
  let x0: number;
  if (a >= 1) {
    const z = normalQuantile(p);
    const c = 1 / (9 * a);
    x0 = a * Math.pow(Math.max(1 - c + z * Math.sqrt(c), 0.01), 3);
  } else {
    x0 = Math.exp((Math.log(p) + lnGamma(a + 1)) / a);
  }
  // The quantile underflows double precision (tiny shape, tiny p): report 0.
  if (a < 1 && x0 === 0) return 0;
  if (!(x0 > 0) || !Number.isFinite(x0)) x0 = a;
  // Work on whichever tail keeps full relative precision.
  if (p <= 0.5) return solveIncreasing((x) => gammaP(a, x) - p, density, x0, 0, Infinity);
  const q = 1 - p;
  return solveIncreasing((x) => q - gammaQ(a, x), density, x0, 0, Infinity);
}

/** Quantile of the chi-square distribution with df degrees of freedom. */
export function chiSquareQuantile(p: number, df: number): number {
  return 2 * gammaPInv(df / 2, p);
}

/** Upper tail P(X > x) of the chi-square distribution with df degrees of freedom. */
export function chiSquareSurvival(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/** Continued fraction for the incomplete beta (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < MAX_ITER; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

function lnBeta(a: number, b: number): number {
  return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
}

/** Regularized incomplete beta I_x(a, b). */
export function betaI(a: number, b: number, x: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`betaI: a, b must be > 0, got ${a}, ${b}`);
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - lnBeta(a, b));
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(a, b, x)) / a;
  return 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** Inverse of I_x(a, b) in x: the p-quantile of a Beta(a, b) distribution. */
export function betaIInv(a: number, b: number, p: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`betaIInv: a, b must be > 0, got ${a}, ${b}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`betaIInv: p must be in [0, 1], got ${p}`);
  if (p === 0) return 0;
  if (p === 1) return 1;
  const lnB = lnBeta(a, b);
  const density = (x: number): number =>
    Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - lnB);
  const mean = a / (a + b);
  if (p <= 0.5) return solveIncreasing((x) => betaI(a, b, x) - p, density, mean, 0, 1);
  // Upper tail through the mirror identity I_x(a, b) = 1 − I_{1−x}(b, a).
  const q = 1 - p;
  return solveIncreasing((x) => q - betaI(b, a, 1 - x), density, mean, 0, 1);
}

/** Complementary error function, via erfc(x) = Q(1/2, x²) for x ≥ 0. */
export function erfc(x: number): number {
  if (x === 0) return 1;
  return x > 0 ? gammaQ(0.5, x * x) : 2 - gammaQ(0.5, x * x);
}

/** Standard normal distribution function Φ(x). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Two-sided p-value of a standard normal statistic z: 2(1 − Φ(|z|)). */
export function normalTwoSidedP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

/**
 * Standard normal quantile Φ⁻¹(p): a rational starting approximation (Acklam's form)
 * refined by two Halley steps on Φ computed from erfc.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const a = [
    -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2,
    -3.066479806614716e1, 2.506628277459239,
  ] as const;
  const b = [
    -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1,
    -1.328068155288572e1,
  ] as const;
  const c = [
    -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734,
    4.374664141464968, 2.938163982698783,
  ] as const;
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const plow = 0.02425;
  let x: number;
  if (p < plow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - plow) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log1p(-p));
    x =
      -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  for (let i = 0; i < 2; i++) {
    // Residual on the tail with full relative precision.
    const e = p < 0.5 ? normalCdf(x) - p : 1 - p - normalCdf(-x);
    const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
    x = x - u / (1 + (x * u) / 2);
  }
  return x;
}

/** z such that a two-sided interval at the given level has coverage `level`. */
export function zForLevel(level: number): number {
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  return normalQuantile(1 - (1 - level) / 2);
}
