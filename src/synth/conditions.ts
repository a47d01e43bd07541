/**
 * The conditions of this slice, their codes and their incidence: annual rates per 1,000
 * person-years by AGE_BANDS, a multiplier per sex, and for influenza a monthly season.
 * The figures and their sources are in docs/synth.md; truth.json repeats them.
 */
import type { Sex } from './demographics.js';

export const CONDITION_KEYS = ['hypertension', 'diabetes', 'influenza'] as const;
export type ConditionKey = (typeof CONDITION_KEYS)[number];

export interface ConditionSpec {
  readonly key: ConditionKey;
  readonly snomed: { readonly code: string; readonly display: string };
  readonly icd10: { readonly code: string; readonly display: string };
  /** Chronic: one onset, never abates. Acute: recurrent episodes with an abatement. */
  readonly chronic: boolean;
  /** New cases per 1,000 person-years, by AGE_BANDS. */
  readonly per1000: readonly number[];
  readonly sexFactor: Readonly<Record<Sex, number>>;
  /** Rate multipliers by month (January first), mean 1; null = no seasonality. */
  readonly seasonality: readonly number[] | null;
  /** Episode length in days [min, max] (acute only). */
  readonly episodeDays: readonly [number, number] | null;
}

export const CONDITIONS: Readonly<Record<ConditionKey, ConditionSpec>> = {
  hypertension: {
    key: 'hypertension',
    snomed: { code: '59621000', display: 'Essential hypertension (disorder)' },
    icd10: { code: 'I10', display: 'Essential (primary) hypertension' },
    chronic: true,
    // prettier-ignore
    per1000: [0, 0, 0.5, 2, 8, 10, 16, 20, 25, 29, 34, 38, 43, 47, 52, 56, 58, 58],
    sexFactor: { male: 1.1, female: 0.9 },
    seasonality: null,
    episodeDays: null,
  },
  diabetes: {
    key: 'diabetes',
    snomed: { code: '44054006', display: 'Diabetes mellitus type 2 (disorder)' },
    icd10: { code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' },
    chronic: true,
    // prettier-ignore
    per1000: [0, 0, 0.1, 0.2, 2, 2.5, 3, 4, 5, 8, 10, 11, 11, 10, 9, 8, 7, 6],
    sexFactor: { male: 1.15, female: 0.85 },
    seasonality: null,
    episodeDays: null,
  },
  influenza: {
    key: 'influenza',
    snomed: { code: '6142004', display: 'Influenza (disorder)' },
    icd10: {
      code: 'J11.1',
      display:
        'Influenza due to unidentified influenza virus with other respiratory manifestations',
    },
    chronic: false,
    // prettier-ignore
    per1000: [93, 93, 93, 93, 88, 88, 88, 88, 88, 88, 88, 88, 88, 39, 39, 39, 39, 39],
    sexFactor: { male: 1, female: 1 },
    // prettier-ignore
    seasonality: [2.8, 2.6, 1.5, 0.5, 0.15, 0.1, 0.1, 0.1, 0.15, 0.4, 1.0, 2.6],
    episodeDays: [7, 14],
  },
};

/** Annual hazard (events per person-year) for a condition, age band, sex and month. */
export function annualHazard(spec: ConditionSpec, band: number, sex: Sex, month: number): number {
  const base = ((spec.per1000[band] ?? 0) / 1000) * spec.sexFactor[sex];
  return spec.seasonality === null ? base : base * (spec.seasonality[month] ?? 1);
}
