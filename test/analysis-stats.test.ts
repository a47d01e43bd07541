/**
 * src/analysis/stats: every statistic against golden values computed by SciPy/statsmodels
 * (scripts/golden/stats_golden.py → test/golden/stats-golden.json), plus properties.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  annualPercentChange,
  associationRule,
  betaI,
  betaIInv,
  chiSquareQuantile,
  clopperPearsonCI,
  cosinorSeasonality,
  directStandardize,
  expectedCount,
  gammaP,
  gammaPInv,
  gammaQ,
  lift,
  mantelHaenszelRateRatio,
  normalQuantile,
  oddsRatio,
  poissonCountCI,
  poissonRateCI,
  relativeRisk,
  smdBinary,
  smdContinuous,
  standardizedRatio,
  summarize,
  wilsonCI,
} from '../src/analysis/stats.js';
import type { RateRatioStratum } from '../src/analysis/stats.js';
import {
  US_2000_STANDARD,
  WHO_WORLD_2000_2025,
  medlakeBandBounds,
  standardWeights,
  toMedlakeBands,
} from '../src/analysis/standard-populations.js';
import { AGE_BANDS } from '../src/synth/demographics.js';
import { synthesize } from '../src/synth/index.js';
import type { SynthSink, Truth } from '../src/synth/index.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** Sections are read through the narrow type each test declares. */
type Golden = Record<string, unknown[] & Record<string, unknown>>;
const golden = JSON.parse(
  readFileSync(path.join(here, 'golden', 'stats-golden.json'), 'utf8'),
) as Golden;

const REL = 1e-6;
/** Relative closeness, with an absolute floor for values at or near zero. */
function close(actual: number, expected: number, rel = REL, abs = 1e-12): void {
  const tol = Math.max(abs, rel * Math.abs(expected));
  if (!(Math.abs(actual - expected) <= tol))
    expect.fail(`expected ${actual} to be within ${tol} of ${expected}`);
}

describe('special functions', () => {
  it('normal quantile matches scipy.stats.norm.ppf', () => {
    for (const g of golden.special.normalQuantile as { p: number; x: number }[])
      close(normalQuantile(g.p), g.x, 1e-9);
  });
  it('regularized incomplete gamma matches scipy.special.gammainc/gammaincc', () => {
    for (const g of golden.special.gammaP as { a: number; x: number; p: number; q: number }[]) {
      close(gammaP(g.a, g.x), g.p, 1e-9);
      close(gammaQ(g.a, g.x), g.q, 1e-9);
      if (g.p > 1e-12 && g.p < 1 - 1e-12) close(gammaPInv(g.a, g.p), g.x, 1e-8);
    }
  });
  it('regularized incomplete beta matches scipy.special.betainc and inverts', () => {
    for (const g of golden.special.betaI as { a: number; b: number; x: number; i: number }[]) {
      close(betaI(g.a, g.b, g.x), g.i, 1e-9);
      close(betaIInv(g.a, g.b, g.i), g.x, 1e-8);
    }
  });
  it('chi-square quantile is the textbook 3.841 for 1 df at 0.95', () => {
    close(chiSquareQuantile(0.95, 1), 3.841458820694124, 1e-10);
  });
});

describe('Poisson and proportion intervals', () => {
  it('exact Poisson count CI matches chi2.ppf (Garwood)', () => {
    for (const g of golden.poissonCount as {
      k: number;
      level: number;
      lower: number;
      upper: number;
    }[]) {
      const ci = poissonCountCI(g.k, g.level);
      close(ci.lower, g.lower);
      close(ci.upper, g.upper);
      expect(ci.estimate).toBe(g.k);
    }
  });
  it('exact Poisson rate CI divides by person-time and scales by `per`', () => {
    for (const g of golden.poissonRate as {
      k: number;
      personTime: number;
      rate: number;
      lower: number;
      upper: number;
    }[]) {
      const ci = poissonRateCI(g.k, g.personTime);
      close(ci.estimate, g.rate);
      close(ci.lower, g.lower);
      close(ci.upper, g.upper);
      const per = poissonRateCI(g.k, g.personTime, 0.95, 100000);
      close(per.upper, g.upper * 100000);
    }
  });
  it('Wilson and Clopper–Pearson match statsmodels proportion_confint', () => {
    for (const g of golden.proportions as {
      x: number;
      n: number;
      level: number;
      wilson: [number, number];
      clopperPearson: [number, number];
    }[]) {
      const w = wilsonCI(g.x, g.n, g.level);
      close(w.lower, g.wilson[0]);
      close(w.upper, g.wilson[1]);
      const cp = clopperPearsonCI(g.x, g.n, g.level);
      close(cp.lower, g.clopperPearson[0]);
      close(cp.upper, g.clopperPearson[1]);
    }
  });
  it('rejects invalid input', () => {
    expect(() => poissonCountCI(-1)).toThrow(RangeError);
    expect(() => poissonCountCI(2.5)).toThrow(RangeError);
    expect(() => poissonRateCI(3, 0)).toThrow(RangeError);
    expect(() => wilsonCI(11, 10)).toThrow(RangeError);
    expect(() => clopperPearsonCI(1, 0)).toThrow(RangeError);
    expect(() => poissonCountCI(3, 1)).toThrow(RangeError);
  });
});

describe('properties', () => {
  const level = fc.constantFrom(0.8, 0.9, 0.95, 0.99);
  it('Poisson CI contains the count and widens with the level', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), level, (k, lv) => {
        const ci = poissonCountCI(k, lv);
        const wider = poissonCountCI(k, 0.999);
        return ci.lower <= k && k <= ci.upper && wider.lower <= ci.lower && wider.upper >= ci.upper;
      }),
    );
  });
  it('Poisson limits increase with the count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5000 }), level, (k, lv) => {
        const a = poissonCountCI(k, lv);
        const b = poissonCountCI(k + 1, lv);
        return b.lower > a.lower && b.upper > a.upper;
      }),
    );
  });
  it('Wilson and Clopper–Pearson lie in [0, 1], contain p̂ and grow with x', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 2000 })
          .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }))),
        level,
        ([n, x], lv) => {
          for (const f of [wilsonCI, clopperPearsonCI]) {
            const ci = f(x, n, lv);
            if (!(ci.lower >= 0 && ci.upper <= 1 && ci.lower <= x / n && x / n <= ci.upper))
              return false;
            if (x < n) {
              const next = f(x + 1, n, lv);
              if (!(next.lower > ci.lower && next.upper >= ci.upper)) return false;
            }
          }
          return true;
        },
      ),
    );
  });
  it('direct standardized rate lies within its CI and equals the crude rate under uniform rates', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            cases: fc.integer({ min: 0, max: 300 }),
            personTime: fc.integer({ min: 1, max: 100000 }),
          }),
          { minLength: 18, maxLength: 18 },
        ),
        (strata) => {
          const r = directStandardize(strata, toMedlakeBands(US_2000_STANDARD));
          return r.lower <= r.estimate && r.estimate <= r.upper;
        },
      ),
    );
    const uniform = Array.from({ length: 18 }, (_, i) => ({
      cases: 2 * (i + 1),
      personTime: 1000 * (i + 1),
    }));
    close(directStandardize(uniform, standardWeights(WHO_WORLD_2000_2025)).estimate, 0.002);
  });
  it('odds ratio and relative risk CIs contain the estimate', () => {
    const cell = fc.integer({ min: 0, max: 500 });
    fc.assert(
      fc.property(cell, cell, cell, cell, (a, b, c, d) => {
        const t = { a, b, c, d };
        const or = oddsRatio(t);
        const rr = relativeRisk(t);
        return (
          or.lower <= or.estimate &&
          or.estimate <= or.upper &&
          rr.lower <= rr.estimate &&
          rr.estimate <= rr.upper
        );
      }),
    );
  });
});

describe('direct standardization (Fay–Feuer)', () => {
  it('matches the published gamma-method formula evaluated with scipy', () => {
    for (const g of golden.direct as {
      standard: string;
      level: number;
      cases: number[];
      personTime: number[];
      rate: number;
      variance: number;
      lower: number;
      upper: number;
      crude: number;
    }[]) {
      const pop = g.standard === 'us-2000' ? US_2000_STANDARD : WHO_WORLD_2000_2025;
      const strata = g.cases.map((k, i) => ({ cases: k, personTime: g.personTime[i] as number }));
      const r = directStandardize(strata, toMedlakeBands(pop), { level: g.level });
      close(r.estimate, g.rate);
      close(r.variance, g.variance);
      close(r.lower, g.lower);
      close(r.upper, g.upper);
      close(r.crude, g.crude);
      const per = directStandardize(strata, toMedlakeBands(pop), {
        level: g.level,
        per: 100000,
      });
      close(per.upper, g.upper * 100000);
    }
  });
  it('all-zero counts give rate 0, lower 0 and a positive upper limit', () => {
    const r = directStandardize(
      Array.from({ length: 18 }, () => ({ cases: 0, personTime: 1000 })),
      toMedlakeBands(US_2000_STANDARD),
    );
    expect(r.estimate).toBe(0);
    expect(r.lower).toBe(0);
    expect(r.upper).toBeGreaterThan(0);
    // Upper limit with one band: the exact Poisson limit for 0 events, 3.689/T.
    const one = directStandardize([{ cases: 0, personTime: 1000 }], [1]);
    close(one.upper, poissonCountCI(0).upper / 1000);
  });
  it('with a single stratum equals the exact Poisson rate interval', () => {
    const r = directStandardize([{ cases: 7, personTime: 2000 }], [1]);
    const p = poissonRateCI(7, 2000);
    close(r.lower, p.lower, 1e-9);
    close(r.upper, p.upper, 1e-9);
  });
  it('rejects mismatched lengths and missing person-time', () => {
    expect(() => directStandardize([{ cases: 1, personTime: 1 }], [1, 2])).toThrow(RangeError);
    expect(() => directStandardize([{ cases: 1, personTime: 0 }], [1])).toThrow(/person-time/);
    // A stratum with no weight may have no person-time.
    expect(
      directStandardize(
        [
          { cases: 1, personTime: 10 },
          { cases: 0, personTime: 0 },
        ],
        [1, 0],
      ).estimate,
    ).toBeCloseTo(0.1, 12);
  });
});

describe('standard populations', () => {
  it('US 2000 sums to one million and maps onto the 18 medlake bands', () => {
    expect(US_2000_STANDARD.groups.reduce((s, g) => s + g.weight, 0)).toBe(1_000_000);
    const bands = toMedlakeBands(US_2000_STANDARD);
    expect(bands).toHaveLength(AGE_BANDS.length);
    expect(bands[0]).toBe(13818 + 55317);
    expect(bands[17]).toBe(15508);
    expect(bands.reduce((s, x) => s + x, 0)).toBe(1_000_000);
  });
  it('WHO 2000–2025 collapses 85-89 … 100+ into 85+', () => {
    const bands = toMedlakeBands(WHO_WORLD_2000_2025);
    expect(bands[0]).toBe(8860);
    expect(bands[17]).toBe(440 + 150 + 40 + 5);
    expect(bands.reduce((s, x) => s + x, 0)).toBe(100035);
    const w = standardWeights(WHO_WORLD_2000_2025);
    close(
      w.reduce((s, x) => s + x, 0),
      1,
      1e-12,
    );
  });
  it('band bounds follow AGE_BANDS and straddling groups are rejected', () => {
    const b = medlakeBandBounds();
    expect(b[0]).toEqual({ lower: 0, upper: 4 });
    expect(b[17]).toEqual({ lower: 85, upper: null });
    expect(() =>
      toMedlakeBands({
        ...US_2000_STANDARD,
        groups: [{ lower: 3, upper: 7, weight: 1 }],
      }),
    ).toThrow(/straddles/);
  });
});

describe('standardized incidence ratio', () => {
  it('exact and Byar limits match the golden values', () => {
    for (const g of golden.sir as {
      observed: number;
      expected: number;
      ratio: number;
      exact: [number, number];
      byar: [number, number];
    }[]) {
      const e = standardizedRatio(g.observed, g.expected);
      close(e.estimate, g.ratio);
      close(e.lower, g.exact[0]);
      close(e.upper, g.exact[1]);
      expect(e.aboveOne).toBe(g.exact[0] > 1);
      expect(e.belowOne).toBe(g.exact[1] < 1);
      const b = standardizedRatio(g.observed, g.expected, { method: 'byar' });
      close(b.lower, g.byar[0]);
      close(b.upper, g.byar[1]);
    }
  });
  it('flags an excess only when the interval lies above 1', () => {
    expect(standardizedRatio(25, 12).aboveOne).toBe(true);
    expect(standardizedRatio(7, 3.2).aboveOne).toBe(false);
    expect(standardizedRatio(5, 20).belowOne).toBe(true);
    expect(expectedCount([1000, 2000], [0.001, 0.004])).toBeCloseTo(9, 12);
  });
});

describe('annual percent change (Poisson regression)', () => {
  it('matches statsmodels GLM Poisson with log person-time offset', () => {
    for (const g of golden.apc as {
      overdispersion: boolean;
      periods: number[];
      cases: number[];
      personTime: number[];
      slope: number;
      slopeSe: number;
      apc: number;
      lower: number;
      upper: number;
      pValue: number;
    }[]) {
      const r = annualPercentChange(
        g.periods.map((p, i) => ({
          period: p,
          cases: g.cases[i] as number,
          personTime: g.personTime[i] as number,
        })),
        { overdispersion: g.overdispersion },
      );
      close(r.slope, g.slope);
      close(r.slopeSe, g.slopeSe);
      close(r.estimate, g.apc);
      close(r.lower, g.lower);
      close(r.upper, g.upper);
      close(r.pValue, g.pValue, 1e-5);
    }
  });
  it('recovers an exact 3% yearly growth', () => {
    const rates = Array.from({ length: 8 }, (_, i) => ({
      period: 2015 + i,
      cases: 1000 * 1.03 ** i,
      personTime: 1e6,
    }));
    close(annualPercentChange(rates).estimate, 3, 1e-9);
  });
});

describe('cosinor seasonality', () => {
  it('matches statsmodels GLM Poisson with a harmonic pair', () => {
    for (const g of golden.cosinor as {
      name: string;
      months: number[];
      counts: number[];
      exposure: number[] | null;
      trend: boolean;
      cosCoef: number;
      sinCoef: number;
      amplitude: number;
      amplitudeLower: number;
      amplitudeUpper: number;
      peakPosition: number;
      peakMonth: number;
      lrStatistic: number;
      pValue: number;
      trendCoef: number | null;
    }[]) {
      const r = cosinorSeasonality(
        g.months.map((m, i) => ({
          month: m,
          count: g.counts[i] as number,
          ...(g.exposure ? { exposure: g.exposure[i] as number } : {}),
        })),
        { trend: g.trend },
      );
      close(r.cosCoef, g.cosCoef);
      close(r.sinCoef, g.sinCoef);
      close(r.amplitude.estimate, g.amplitude);
      close(r.amplitude.lower, g.amplitudeLower);
      close(r.amplitude.upper, g.amplitudeUpper);
      close(r.peakPosition, g.peakPosition);
      expect(r.peakMonth).toBe(g.peakMonth);
      close(r.lrStatistic, g.lrStatistic);
      close(r.pValue, g.pValue, 1e-5, 1e-15);
      if (g.trendCoef === null) expect(r.trendCoef).toBeNull();
      else close(r.trendCoef ?? NaN, g.trendCoef);
    }
  });
  it('places a noiseless July peak in month 7', () => {
    const data = Array.from({ length: 24 }, (_, i) => ({
      month: i + 1,
      count: 100 * Math.exp(0.5 * Math.cos((2 * Math.PI * (i - 6)) / 12)),
    }));
    const r = cosinorSeasonality(data);
    close(r.peakPosition, 7, 1e-9);
    expect(r.peakMonth).toBe(7);
    close(r.amplitude.estimate, 0.5, 1e-9);
    close(r.peakToTrough, Math.exp(1), 1e-9);
  });
});

describe('2×2 measures, rules, SMD', () => {
  it('odds ratio and relative risk match statsmodels Table2x2 (Haldane +0.5 on zero tables)', () => {
    for (const g of golden.twoByTwo as {
      a: number;
      b: number;
      c: number;
      d: number;
      oddsRatio: number;
      orCi: [number, number];
      orSeLog: number;
      orP: number;
      riskRatio: number;
      rrCi: [number, number];
      rrSeLog: number;
      rrP: number;
    }[]) {
      const t = { a: g.a, b: g.b, c: g.c, d: g.d };
      const or = oddsRatio(t);
      close(or.estimate, g.oddsRatio);
      close(or.lower, g.orCi[0]);
      close(or.upper, g.orCi[1]);
      close(or.seLog, g.orSeLog);
      close(or.pValue, g.orP, 1e-5);
      expect(or.corrected).toBe([g.a, g.b, g.c, g.d].includes(0));
      const rr = relativeRisk(t);
      close(rr.estimate, g.riskRatio);
      close(rr.lower, g.rrCi[0]);
      close(rr.upper, g.rrCi[1]);
      close(rr.seLog, g.rrSeLog);
      close(rr.pValue, g.rrP, 1e-5);
    }
  });
  it('refuses an undefined ratio without correction', () => {
    expect(() => oddsRatio({ a: 0, b: 5, c: 3, d: 4 }, { zeroCorrection: 'never' })).toThrow();
    expect(oddsRatio({ a: 1, b: 1, c: 1, d: 1 }, { zeroCorrection: 'always' }).corrected).toBe(
      true,
    );
  });
  it('association-rule metrics', () => {
    for (const g of golden.rules as {
      n: number;
      nA: number;
      nB: number;
      nAB: number;
      support: number;
      confidence: number;
      lift: number;
      leverage: number;
    }[]) {
      const r = associationRule(g);
      close(r.support, g.support);
      close(r.confidence, g.confidence);
      close(r.lift, g.lift);
      close(r.leverage, g.leverage);
      close(lift(g.n, g.nA, g.nB, g.nAB), g.lift);
    }
  });
  it('standardized mean differences', () => {
    const c = golden.smd.continuous as {
      x1: number[];
      x2: number[];
      mean1: number;
      sd1: number;
      smd: number;
    };
    const s1 = summarize(c.x1);
    close(s1.mean, c.mean1, 1e-12);
    close(s1.sd, c.sd1, 1e-12);
    close(smdContinuous(s1, summarize(c.x2)), c.smd);
    for (const b of golden.smd.binary as { p1: number; p2: number; smd: number }[])
      close(smdBinary(b.p1, b.p2), b.smd);
    expect(smdContinuous({ mean: 1, sd: 0 }, { mean: 1, sd: 0 })).toBe(0);
  });
});

describe('Mantel–Haenszel rate ratio', () => {
  it('matches the Greenland–Robins formula and skips strata without person-time', () => {
    const g = golden.mantelHaenszel as unknown as {
      strata: RateRatioStratum[];
      estimate: number;
      seLog: number;
      lower: number;
      upper: number;
    };
    const r = mantelHaenszelRateRatio(g.strata);
    expect(r).not.toBeNull();
    close(r?.estimate ?? NaN, g.estimate);
    close(r?.seLog ?? NaN, g.seLog);
    close(r?.lower ?? NaN, g.lower);
    close(r?.upper ?? NaN, g.upper);
    expect(r?.strataUsed).toBe(4);
  });
  it('equals the crude rate ratio with one stratum and is null without events', () => {
    const r = mantelHaenszelRateRatio([
      { cases1: 20, personTime1: 1000, cases0: 10, personTime0: 1000 },
    ]);
    close(r?.estimate ?? NaN, 2, 1e-12);
    // With one stratum the Greenland–Robins variance reduces to 1/a + 1/b.
    close(r?.seLog ?? NaN, Math.sqrt(1 / 20 + 1 / 10), 1e-12);
    expect(
      mantelHaenszelRateRatio([{ cases1: 0, personTime1: 10, cases0: 3, personTime0: 10 }]),
    ).toBeNull();
  });
});

describe('Mantel–Haenszel rate ratio vs the synthetic truth', () => {
  it('reproduces truth.json treatmentEffect.adjustedRateRatio from its strata', async () => {
    const tmp = makeTempDir('analysis-stats');
    try {
      const nullSink: SynthSink = {
        emit() {},
        drain: () => Promise.resolve(),
        close: () => Promise.resolve({ counts: {}, bytes: 0 }),
        destroy() {},
      };
      await synthesize({ patients: 3000, seed: 5, outDir: tmp, sink: nullSink, parts: [] });
      const truth = JSON.parse(readFileSync(path.join(tmp, 'truth.json'), 'utf8')) as Truth;
      const te = truth.realised.treatmentEffect;
      const key = (r: { age65: boolean; diabetes: boolean; ckd: boolean }): string =>
        `${r.age65}/${r.diabetes}/${r.ckd}`;
      const comparator = new Map(
        te.byStratum.filter((r) => r.drug === te.comparator).map((r) => [key(r), r]),
      );
      const strata = te.byStratum
        .filter((r) => r.drug === te.exposure)
        .map((r) => {
          const c = comparator.get(key(r));
          return {
            cases1: r.strokes,
            personTime1: r.personDays,
            cases0: c?.strokes ?? 0,
            personTime0: c?.personDays ?? 0,
          };
        });
      const mh = mantelHaenszelRateRatio(strata);
      const expected = te.adjustedRateRatio;
      expect(expected).not.toBeNull();
      expect(mh).not.toBeNull();
      close(mh?.estimate ?? NaN, expected?.estimate ?? NaN, 1e-12);
      close(mh?.lower ?? NaN, expected?.ci95[0] ?? NaN, 1e-6);
      close(mh?.upper ?? NaN, expected?.ci95[1] ?? NaN, 1e-6);
    } finally {
      removeDir(tmp);
    }
  }, 60_000);
});
