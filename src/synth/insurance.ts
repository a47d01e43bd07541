/**
 * Household income and health-insurance coverage of a synthetic patient: pure and
 * deterministic, drawn only from the patient's insurance stream (`PART_STREAMS.insurance`),
 * so the core and any part asking for the same patient get the same answer.
 *
 * Model (sources and assumptions in docs/synth-claims.md):
 * - an income band per patient (household income, fixed over the window), shares after
 *   the Census CPS ASEC household income distribution; an income in USD within the band;
 * - under 65 the payer (Medicaid, private, uninsured = self-pay) is drawn from a table by
 *   age group (children under 19, adults 19–64) and income band; at random times (a
 *   Poisson process, `PAYER_REDRAW_PER_YEAR`) and on the 19th birthday it is drawn again
 *   from the table (drawing the same payer means no change), so the shares stay those of
 *   the table at every date;
 * - from the 65th birthday (to the day) Medicare, to the end.
 */
import { DAYS_PER_YEAR, ageOn, birthdayAt } from './dates.js';
import { PART_STREAMS, partRandom } from './parts.js';
import type { SynthWindow } from './patient-history.js';
import { cumulative } from './random.js';
import type { Random } from './random.js';

/** US household income bands (USD a year). */
export const INCOME_BANDS = ['<25k', '25-50k', '50-75k', '75-100k', '100-150k', '>=150k'] as const;
export type IncomeBand = (typeof INCOME_BANDS)[number];

/**
 * Share of households by band, percent: Census, Income in the United States: 2022
 * (P60-279, CPS ASEC 2023), rounded: under $25k 17.8, $25–50k 19.0, $50–75k 16.3,
 * $75–100k 12.4, $100–150k 15.8, $150k and over 18.7.
 */
export const INCOME_BAND_SHARES: Readonly<Record<IncomeBand, number>> = {
  '<25k': 17.8,
  '25-50k': 19.0,
  '50-75k': 16.3,
  '75-100k': 12.4,
  '100-150k': 15.8,
  '>=150k': 18.7,
};

/** Lower and upper bound of each band in USD (the top band: lower bound + exponential). */
export const INCOME_BAND_BOUNDS: Readonly<Record<IncomeBand, readonly [number, number]>> = {
  '<25k': [5_000, 25_000],
  '25-50k': [25_000, 50_000],
  '50-75k': [50_000, 75_000],
  '75-100k': [75_000, 100_000],
  '100-150k': [100_000, 150_000],
  '>=150k': [150_000, Infinity],
};

/** Mean income above $150k in the top band (assumption: exponential tail, mean $250k). */
export const TOP_BAND_EXCESS_MEAN = 100_000;

export const PAYER_KEYS = ['medicare', 'medicaid', 'private', 'self-pay'] as const;
export type PayerKey = (typeof PAYER_KEYS)[number];

/** Payers drawn under 65 (Medicare is by age only in this model). */
export const UNDER_65_PAYERS = ['medicaid', 'private', 'self-pay'] as const;
export type Under65Payer = (typeof UNDER_65_PAYERS)[number];

export const AGE_GROUPS = ['child', 'adult'] as const;
export type AgeGroup = (typeof AGE_GROUPS)[number];

/** Children are under this age (Medicaid/CHIP eligibility runs to the 19th birthday). */
export const CHILD_UNTIL_AGE = 19;
/** Medicare from this birthday. */
export const MEDICARE_AGE = 65;

/**
 * Probability of each under-65 payer by age group and income band (medicaid, private,
 * self-pay), calibrated assumptions: they average (weighted by the band shares) to about
 * 37% Medicaid/CHIP and 4% uninsured for children and 15% Medicaid and 10% uninsured for
 * adults 19–64, close to Census P60-281 / KFF figures for 2022, with Medicaid and
 * uninsurance concentrated at low income.
 */
export const UNDER_65_PAYER_SHARES: Readonly<
  Record<AgeGroup, Readonly<Record<IncomeBand, Readonly<Record<Under65Payer, number>>>>>
> = {
  child: {
    '<25k': { medicaid: 0.8, private: 0.12, 'self-pay': 0.08 },
    '25-50k': { medicaid: 0.62, private: 0.32, 'self-pay': 0.06 },
    '50-75k': { medicaid: 0.38, private: 0.57, 'self-pay': 0.05 },
    '75-100k': { medicaid: 0.2, private: 0.76, 'self-pay': 0.04 },
    '100-150k': { medicaid: 0.1, private: 0.88, 'self-pay': 0.02 },
    '>=150k': { medicaid: 0.04, private: 0.95, 'self-pay': 0.01 },
  },
  adult: {
    '<25k': { medicaid: 0.42, private: 0.38, 'self-pay': 0.2 },
    '25-50k': { medicaid: 0.22, private: 0.62, 'self-pay': 0.16 },
    '50-75k': { medicaid: 0.1, private: 0.8, 'self-pay': 0.1 },
    '75-100k': { medicaid: 0.05, private: 0.89, 'self-pay': 0.06 },
    '100-150k': { medicaid: 0.03, private: 0.94, 'self-pay': 0.03 },
    '>=150k': { medicaid: 0.015, private: 0.965, 'self-pay': 0.02 },
  },
};

/**
 * Rate (per person-year) at which an under-65 payer is drawn again from the table
 * (assumption). Drawing the same payer is no change, so the rate of actual changes is
 * 0.2 × (1 − share of the current payer): about 0.03 a year for a privately insured
 * high-income adult, 0.16 for an uninsured low-income one.
 */
export const PAYER_REDRAW_PER_YEAR = 0.2;

export interface CoveragePeriod {
  readonly payer: PayerKey;
  /** Days since 1970-01-01, inclusive. */
  readonly start: number;
  /** Days since 1970-01-01, inclusive; at most the death day or the window's end. */
  readonly end: number;
}

export interface Insurance {
  readonly incomeBand: IncomeBand;
  /** USD a year (household), rounded to 100. */
  readonly income: number;
  /** Cover [max(birth, startDay), min(death, endDay)] without gaps, in order; adjacent differ. */
  readonly periods: readonly CoveragePeriod[];
}

const BAND_CUMULATIVE = cumulative(INCOME_BANDS.map((b) => INCOME_BAND_SHARES[b]));
const PAYER_CUMULATIVE: Readonly<Record<AgeGroup, Readonly<Record<IncomeBand, number[]>>>> = {
  child: bandTables('child'),
  adult: bandTables('adult'),
};

function bandTables(group: AgeGroup): Record<IncomeBand, number[]> {
  const out = {} as Record<IncomeBand, number[]>;
  for (const b of INCOME_BANDS)
    out[b] = cumulative(UNDER_65_PAYERS.map((p) => UNDER_65_PAYER_SHARES[group][b][p]));
  return out;
}

function drawUnder65(rng: Random, group: AgeGroup, band: IncomeBand): Under65Payer {
  return UNDER_65_PAYERS[rng.pickCumulative(PAYER_CUMULATIVE[group][band])] as Under65Payer;
}

/** The patient's income and coverage periods over their life inside the window. */
export function patientInsurance(
  seed: number,
  index: number,
  birth: number,
  death: number | null,
  window: SynthWindow,
): Insurance {
  const rng = partRandom(seed, PART_STREAMS.insurance, index);
  const incomeBand = INCOME_BANDS[rng.pickCumulative(BAND_CUMULATIVE)] as IncomeBand;
  const [lo, hi] = INCOME_BAND_BOUNDS[incomeBand];
  const raw =
    hi === Infinity
      ? lo + rng.exponential(1 / TOP_BAND_EXCESS_MEAN)
      : lo + rng.next() * (hi - lo - 100);
  const income = Math.round(raw / 100) * 100;

  const from = Math.max(birth, window.startDay);
  const to = Math.min(death ?? window.endDay, window.endDay);
  const periods: CoveragePeriod[] = [];
  if (from > to) return { incomeBand, income, periods };

  const adultDay = birthdayAt(birth, CHILD_UNTIL_AGE);
  const medicareDay = birthdayAt(birth, MEDICARE_AGE);
  const push = (payer: PayerKey, start: number, end: number): void => {
    const last = periods[periods.length - 1];
    if (last !== undefined && last.payer === payer) periods[periods.length - 1] = { ...last, end };
    else periods.push({ payer, start, end });
  };
  const group = (day: number): AgeGroup =>
    ageOn(birth, day) < CHILD_UNTIL_AGE ? 'child' : 'adult';

  let day = from;
  let payer: PayerKey = day >= medicareDay ? 'medicare' : drawUnder65(rng, group(day), incomeBand);
  while (payer !== 'medicare') {
    const natural = day < adultDay ? adultDay : medicareDay;
    const redraw =
      day + Math.max(1, Math.ceil(rng.exponential(PAYER_REDRAW_PER_YEAR) * DAYS_PER_YEAR));
    const next = Math.min(natural, redraw);
    if (next > to) break;
    push(payer, day, next - 1);
    day = next;
    payer = next >= medicareDay ? 'medicare' : drawUnder65(rng, group(day), incomeBand);
  }
  push(payer, day, to);
  return { incomeBand, income, periods };
}

/** The payer in force on `day` (clamped to the first / last period; self-pay if none). */
export function payerOn(ins: Insurance, day: number): PayerKey {
  return periodOn(ins, day)?.payer ?? 'self-pay';
}

/** The coverage period in force on `day` (clamped to the first / last); undefined if none. */
export function periodOn(ins: Insurance, day: number): CoveragePeriod | undefined {
  const ps = ins.periods;
  let lo = 0;
  let hi = ps.length - 1;
  if (hi < 0) return undefined;
  // First period whose end is on or after `day`.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ps[mid] as CoveragePeriod).end >= day) hi = mid;
    else lo = mid + 1;
  }
  return ps[lo];
}

/** The expected share of each under-65 payer for an age group, averaged over the bands. */
export function expectedUnder65Shares(group: AgeGroup): Record<Under65Payer, number> {
  const total = INCOME_BANDS.reduce((s, b) => s + INCOME_BAND_SHARES[b], 0);
  const out: Record<Under65Payer, number> = { medicaid: 0, private: 0, 'self-pay': 0 };
  for (const b of INCOME_BANDS)
    for (const p of UNDER_65_PAYERS)
      out[p] += (INCOME_BAND_SHARES[b] / total) * UNDER_65_PAYER_SHARES[group][b][p];
  return out;
}
