/**
 * The conditions, their codes and their incidence: annual rates per 1,000 person-years by
 * AGE_BANDS (optionally a separate female table), a multiplier per sex, for influenza a
 * monthly season, multipliers for risk factors present, and how each is cared for
 * (emergency, inpatient, ICU, length of stay, case fatality). The figures and their sources
 * are in docs/synth.md; truth.json repeats them.
 */
import type { Sex } from './demographics.js';

/** Simulation order: a risk factor always comes before the conditions it raises. */
export const CONDITION_KEYS = [
  'hypertension',
  'diabetes',
  'influenza',
  'hyperlipidemia',
  'asthma',
  'copd',
  'depression',
  'ckd',
  'heartFailure',
  'myocardialInfarction',
  'stroke',
  'pneumonia',
  'uti',
  'hipFracture',
  'lungCancer',
  'breastCancer',
  'colorectalCancer',
] as const;
export type ConditionKey = (typeof CONDITION_KEYS)[number];

export interface CareSpec {
  /** Share of episodes seen in the emergency department (not admitted). */
  readonly emergency: number;
  /** Share admitted as inpatients (class IMP); these take precedence over `emergency`. */
  readonly inpatient: number;
  /** Share of admissions with an intensive-care stay (a sub-encounter, partOf the stay). */
  readonly icu: number;
  /** Nights in hospital [min, max]. */
  readonly stayDays: readonly [number, number];
  /** In-hospital case fatality by age at onset: [< 65, 65–79, 80+]; null = none modelled. */
  readonly caseFatality: readonly [number, number, number] | null;
  /**
   * Chance that a stay discharged alive is followed by an unplanned readmission for the
   * same condition within 30 days (day 1–30 after discharge, uniform); 0 = none.
   */
  readonly readmission30: number;
}

export interface ConditionSpec {
  readonly key: ConditionKey;
  readonly snomed: { readonly code: string; readonly display: string };
  readonly icd10: { readonly code: string; readonly display: string };
  /** Chronic: one onset, never abates. Acute: recurrent episodes with an abatement. */
  readonly chronic: boolean;
  /** New cases per 1,000 person-years, by AGE_BANDS (males, and females unless below). */
  readonly per1000: readonly number[];
  /** A separate female table, when the age pattern differs by sex (UTI). */
  readonly per1000Female: readonly number[] | null;
  readonly sexFactor: Readonly<Record<Sex, number>>;
  /** Rate multipliers by month (January first), mean 1; null = no seasonality. */
  readonly seasonality: readonly number[] | null;
  /** Episode length in days [min, max] (acute only). */
  readonly episodeDays: readonly [number, number] | null;
  /** Rate multipliers while a (chronic) risk factor is present; they multiply. */
  readonly riskFactors: Readonly<Partial<Record<ConditionKey, number>>>;
  readonly care: CareSpec;
  /**
   * Annual death hazard from the condition after its onset (chronic only; 0 = none): the
   * patient dies of it at onset + an exponential time, unless something else comes first.
   */
  readonly excessMortality: number;
}

const OUTPATIENT: CareSpec = {
  emergency: 0,
  inpatient: 0,
  icu: 0,
  stayDays: [0, 0],
  caseFatality: null,
  readmission30: 0,
};

type Optional = 'per1000Female' | 'seasonality' | 'riskFactors' | 'care' | 'excessMortality';
type Spec = Omit<ConditionSpec, Optional> & Partial<Pick<ConditionSpec, Optional>>;

function spec(s: Spec): ConditionSpec {
  return {
    ...s,
    per1000Female: s.per1000Female ?? null,
    seasonality: s.seasonality ?? null,
    riskFactors: s.riskFactors ?? {},
    care: s.care ?? OUTPATIENT,
    excessMortality: s.excessMortality ?? 0,
  };
}

const CHRONIC = { chronic: true, episodeDays: null } as const;

/**
 * Cancers: incidence per 1,000 person-years by age band, approximated from SEER age-specific
 * rates (2015–2019, per 100,000: lung about 30 at 50–54, 180 at 65–69, 340 at 80–84;
 * female breast about 120 at 40–44, 300 at 60–64, 450 at 75–79; colorectal about 55 at 50–54,
 * 120 at 65–69, 290 at 85+), and an excess death hazard from 5-year relative survival
 * (SEER: lung about 25%, colorectal 65%, female breast 91%; hazard = −ln(survival) / 5).
 */
const CANCERS: Readonly<Record<'lungCancer' | 'breastCancer' | 'colorectalCancer', ConditionSpec>> =
  {
    lungCancer: spec({
      key: 'lungCancer',
      snomed: { code: '254637007', display: 'Non-small cell lung cancer (disorder)' },
      icd10: {
        code: 'C34.90',
        display: 'Malignant neoplasm of unspecified part of unspecified bronchus or lung',
      },
      ...CHRONIC,
      // prettier-ignore
      per1000: [0, 0, 0, 0, 0, 0.003, 0.005, 0.01, 0.05, 0.12, 0.3, 0.6, 1.1, 1.8, 2.6, 3.2, 3.4, 3.0],
      sexFactor: { male: 1.15, female: 0.9 },
      excessMortality: 0.277,
    }),
    breastCancer: spec({
      key: 'breastCancer',
      snomed: { code: '254837009', display: 'Malignant neoplasm of breast (disorder)' },
      icd10: {
        code: 'C50.919',
        display: 'Malignant neoplasm of unspecified site of unspecified female breast',
      },
      ...CHRONIC,
      // prettier-ignore
      per1000: [0, 0, 0, 0, 0.015, 0.08, 0.25, 0.5, 1.2, 1.9, 2.1, 2.4, 3.0, 3.9, 4.4, 4.5, 4.1, 3.6],
      sexFactor: { male: 0.01, female: 1 },
      excessMortality: 0.019,
    }),
    colorectalCancer: spec({
      key: 'colorectalCancer',
      snomed: { code: '363406005', display: 'Malignant neoplasm of colon (disorder)' },
      icd10: { code: 'C18.9', display: 'Malignant neoplasm of colon, unspecified' },
      ...CHRONIC,
      // prettier-ignore
      per1000: [0, 0, 0, 0, 0.015, 0.03, 0.06, 0.1, 0.18, 0.32, 0.55, 0.75, 0.95, 1.2, 1.55, 2.0, 2.5, 2.9],
      sexFactor: { male: 1.2, female: 0.85 },
      excessMortality: 0.086,
    }),
  };

export const CONDITIONS: Readonly<Record<ConditionKey, ConditionSpec>> = {
  hypertension: spec({
    key: 'hypertension',
    snomed: { code: '59621000', display: 'Essential hypertension (disorder)' },
    icd10: { code: 'I10', display: 'Essential (primary) hypertension' },
    ...CHRONIC,
    // prettier-ignore
    per1000: [0, 0, 0.5, 2, 8, 10, 16, 20, 25, 29, 34, 38, 43, 47, 52, 56, 58, 58],
    sexFactor: { male: 1.1, female: 0.9 },
  }),
  diabetes: spec({
    key: 'diabetes',
    snomed: { code: '44054006', display: 'Diabetes mellitus type 2 (disorder)' },
    icd10: { code: 'E11.9', display: 'Type 2 diabetes mellitus without complications' },
    ...CHRONIC,
    // prettier-ignore
    per1000: [0, 0, 0.1, 0.2, 2, 2.5, 3, 4, 5, 8, 10, 11, 11, 10, 9, 8, 7, 6],
    sexFactor: { male: 1.15, female: 0.85 },
  }),
  influenza: spec({
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
    care: { ...OUTPATIENT, emergency: 0.15 },
  }),
  hyperlipidemia: spec({
    key: 'hyperlipidemia',
    snomed: { code: '55822004', display: 'Hyperlipidemia (disorder)' },
    icd10: { code: 'E78.5', display: 'Hyperlipidemia, unspecified' },
    ...CHRONIC,
    // prettier-ignore
    per1000: [0, 0, 0.5, 1.5, 4, 6, 9, 12, 15, 19, 23, 25, 25, 22, 18, 14, 12, 10],
    sexFactor: { male: 1.1, female: 0.9 },
  }),
  asthma: spec({
    key: 'asthma',
    snomed: { code: '195967001', display: 'Asthma (disorder)' },
    icd10: { code: 'J45.909', display: 'Unspecified asthma, uncomplicated' },
    ...CHRONIC,
    // prettier-ignore
    per1000: [12, 6, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5],
    sexFactor: { male: 0.95, female: 1.05 },
  }),
  copd: spec({
    key: 'copd',
    snomed: { code: '13645005', display: 'Chronic obstructive lung disease (disorder)' },
    icd10: { code: 'J44.9', display: 'Chronic obstructive pulmonary disease, unspecified' },
    ...CHRONIC,
    // prettier-ignore
    per1000: [0, 0, 0, 0, 0, 0, 0.2, 0.7, 1.5, 3, 4.5, 5, 5, 4.5, 4, 4, 4, 4],
    sexFactor: { male: 0.95, female: 1.05 },
  }),
  depression: spec({
    key: 'depression',
    snomed: { code: '35489007', display: 'Depressive disorder (disorder)' },
    icd10: { code: 'F32.9', display: 'Major depressive disorder, single episode, unspecified' },
    ...CHRONIC,
    // prettier-ignore
    per1000: [0, 0, 2, 8, 8, 6, 5, 5, 4, 4, 3, 3, 2.5, 2, 2, 2, 2, 2],
    sexFactor: { male: 0.7, female: 1.3 },
  }),
  ckd: spec({
    key: 'ckd',
    snomed: { code: '709044004', display: 'Chronic kidney disease (disorder)' },
    icd10: { code: 'N18.9', display: 'Chronic kidney disease, unspecified' },
    ...CHRONIC,
    // prettier-ignore
    per1000: [0, 0, 0, 0.5, 1, 1.2, 1.5, 1.8, 2.2, 3, 4, 5, 6, 8, 11, 14, 16, 18],
    sexFactor: { male: 0.9, female: 1.1 },
    riskFactors: { hypertension: 2, diabetes: 3 },
  }),
  heartFailure: spec({
    key: 'heartFailure',
    snomed: { code: '84114007', display: 'Heart failure (disorder)' },
    icd10: { code: 'I50.9', display: 'Heart failure, unspecified' },
    ...CHRONIC,
    // prettier-ignore
    per1000: [0, 0, 0, 0, 0, 0, 0.05, 0.15, 0.3, 0.5, 0.8, 1.2, 1.6, 2.2, 3, 3.8, 4.5, 5.5],
    sexFactor: { male: 1.2, female: 0.8 },
    riskFactors: { hypertension: 2, diabetes: 2 },
  }),
  myocardialInfarction: spec({
    key: 'myocardialInfarction',
    snomed: { code: '22298006', display: 'Myocardial infarction (disorder)' },
    icd10: { code: 'I21.9', display: 'Acute myocardial infarction, unspecified' },
    chronic: false,
    // prettier-ignore
    per1000: [0, 0, 0, 0, 0, 0.1, 0.2, 0.4, 0.7, 1.2, 1.8, 2.6, 3.5, 4.5, 5.5, 7, 9, 11],
    sexFactor: { male: 1.4, female: 0.6 },
    episodeDays: [28, 28],
    riskFactors: { hypertension: 1.8, diabetes: 2 },
    care: {
      emergency: 0,
      inpatient: 1,
      icu: 0.5,
      stayDays: [3, 6],
      caseFatality: [0.05, 0.1, 0.18],
      readmission30: 0.16,
    },
  }),
  stroke: spec({
    key: 'stroke',
    snomed: { code: '230690007', display: 'Cerebrovascular accident (disorder)' },
    icd10: { code: 'I63.9', display: 'Cerebral infarction, unspecified' },
    chronic: false,
    // prettier-ignore
    per1000: [0, 0, 0, 0, 0.1, 0.1, 0.2, 0.2, 0.4, 0.8, 1.2, 1.8, 2.6, 4, 5.5, 8, 11, 14],
    sexFactor: { male: 1.1, female: 0.9 },
    episodeDays: [28, 28],
    riskFactors: { hypertension: 2, diabetes: 2 },
    care: {
      emergency: 0,
      inpatient: 1,
      icu: 0.3,
      stayDays: [3, 7],
      caseFatality: [0.07, 0.11, 0.2],
      readmission30: 0.12,
    },
  }),
  pneumonia: spec({
    key: 'pneumonia',
    snomed: { code: '233604007', display: 'Pneumonia (disorder)' },
    icd10: { code: 'J18.9', display: 'Pneumonia, unspecified organism' },
    chronic: false,
    // prettier-ignore
    per1000: [16, 5, 3, 2, 3, 3, 3, 3, 3, 3, 6, 6, 6, 13, 13, 13, 30, 30],
    sexFactor: { male: 1.1, female: 0.9 },
    episodeDays: [14, 28],
    care: {
      emergency: 0.2,
      inpatient: 0.3,
      icu: 0.15,
      stayDays: [3, 6],
      caseFatality: null,
      readmission30: 0.16,
    },
  }),
  uti: spec({
    key: 'uti',
    snomed: { code: '68566005', display: 'Urinary tract infectious disease (disorder)' },
    icd10: { code: 'N39.0', display: 'Urinary tract infection, site not specified' },
    chronic: false,
    // prettier-ignore
    per1000: [3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 8, 8, 8, 20, 20, 20, 35, 35],
    // prettier-ignore
    per1000Female: [10, 10, 10, 70, 70, 50, 50, 50, 50, 50, 50, 50, 50, 80, 80, 80, 110, 110],
    sexFactor: { male: 1, female: 1 },
    episodeDays: [5, 10],
    care: { ...OUTPATIENT, emergency: 0.05 },
  }),
  hipFracture: spec({
    key: 'hipFracture',
    snomed: { code: '5913000', display: 'Fracture of neck of femur (disorder)' },
    icd10: {
      code: 'S72.009A',
      display:
        'Fracture of unspecified part of neck of unspecified femur, initial encounter for closed fracture',
    },
    chronic: false,
    // prettier-ignore
    per1000: [0.02, 0.02, 0.02, 0.02, 0.03, 0.03, 0.04, 0.05, 0.08, 0.12, 0.2, 0.4, 0.8, 1.5, 3, 6, 12, 25],
    sexFactor: { male: 0.55, female: 1 },
    episodeDays: [56, 112],
    care: {
      emergency: 0,
      inpatient: 1,
      icu: 0.05,
      stayDays: [4, 7],
      caseFatality: null,
      readmission30: 0.11,
    },
  }),
  ...CANCERS,
};

/** Bit of each condition in risk-factor masks (truth.json `byRiskFactors`). */
export function conditionBit(key: ConditionKey): number {
  return 1 << CONDITION_KEYS.indexOf(key);
}

/** Annual hazard (events per person-year) for a condition, age band, sex and month. */
export function annualHazard(spec: ConditionSpec, band: number, sex: Sex, month: number): number {
  const table = sex === 'female' && spec.per1000Female !== null ? spec.per1000Female : spec.per1000;
  const base = ((table[band] ?? 0) / 1000) * spec.sexFactor[sex];
  return spec.seasonality === null ? base : base * (spec.seasonality[month] ?? 1);
}

/** Case fatality for an onset at `age`, or 0. */
export function caseFatality(spec: ConditionSpec, age: number): number {
  const f = spec.care.caseFatality;
  if (f === null) return 0;
  return age < 65 ? f[0] : age < 80 ? f[1] : f[2];
}

/**
 * The planted disparity: at each wellness visit a patient with hypertension has it under
 * control (blood pressure below 140/90) with a chance that depends on the payer in force
 * that day. Controlled readings are drawn below 140/90, uncontrolled ones at 140 systolic
 * or above, so the reading shows the state exactly.
 */
export const HYPERTENSION_CONTROL = {
  byPayer: { private: 0.6, medicare: 0.55, medicaid: 0.4, 'self-pay': 0.3 },
  controlled: { systolic: [128, 6], diastolic: [80, 5] },
  uncontrolled: { systolic: [150, 8], diastolic: [92, 7] },
  threshold: { systolic: 140, diastolic: 90 },
} as const;

/**
 * HbA1c (LOINC 4548-4) as a diagnostic test for type 2 diabetes at the 6.5% cut-off
 * (values are rounded to 0.1, so positive means a drawn value of 6.45 or more): normal
 * with these means and SDs, with and without diabetes. Sensitivity and specificity follow
 * from the normal distribution; truth.json gives them and the realised 2 x 2 counts.
 */
export const HBA1C_TEST = {
  cutOff: 6.5,
  diabetic: { mean: 7.4, sd: 0.8 },
  nonDiabetic: { mean: 5.5, sd: 0.45 },
  /** Adults without diabetes tested at a wellness visit. */
  screeningShare: 0.2,
} as const;
