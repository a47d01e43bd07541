/**
 * Drugs (RxNorm clinical drugs), what each condition is prescribed, allergies and the
 * known-rate safety signals the generator plants: one drug–drug interaction pair and
 * drug–allergy conflicts. Codes, rates and sources: docs/synth.md ("Medications").
 */
import type { ConditionKey } from './conditions.js';

export const DRUG_KEYS = [
  'lisinopril',
  'amlodipine',
  'metformin',
  'atorvastatin',
  'albuterol',
  'sertraline',
  'furosemide',
  'spironolactone',
  'aspirin',
  'clopidogrel',
  'amoxicillin',
  'azithromycin',
  'sulfamethoxazoleTrimethoprim',
  'nitrofurantoin',
] as const;
export type DrugKey = (typeof DRUG_KEYS)[number];

export interface DrugSpec {
  readonly rxnorm: string;
  readonly display: string;
  /** dosageInstruction.text and the structured parts. */
  readonly sig: string;
  readonly dose: { readonly value: number; readonly unit: string; readonly code: string };
  readonly perDay: number;
  readonly asNeeded: boolean;
  /** Route: SNOMED CT. */
  readonly route: { readonly code: string; readonly display: string };
  /** Days of an acute course; null = long-term (active until death). */
  readonly courseDays: number | null;
}

const ORAL = { code: '26643006', display: 'Oral route (qualifier value)' };
const INHALED = { code: '447694001', display: 'Respiratory tract route (qualifier value)' };
const TABLET = { value: 1, unit: 'tablet', code: '{tbl}' };
const CAPSULE = { value: 1, unit: 'capsule', code: '{capsule}' };

function drug(
  rxnorm: string,
  display: string,
  sig: string,
  perDay: number,
  courseDays: number | null = null,
  dose = TABLET,
): DrugSpec {
  return { rxnorm, display, sig, dose, perDay, asNeeded: false, route: ORAL, courseDays };
}

export const DRUGS: Readonly<Record<DrugKey, DrugSpec>> = {
  lisinopril: drug('314076', 'lisinopril 10 MG Oral Tablet', '10 mg by mouth once daily', 1),
  amlodipine: drug('197361', 'amlodipine 5 MG Oral Tablet', '5 mg by mouth once daily', 1),
  metformin: drug(
    '860975',
    '24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet',
    '500 mg by mouth once daily with the evening meal',
    1,
  ),
  atorvastatin: drug('617312', 'atorvastatin 10 MG Oral Tablet', '10 mg by mouth once daily', 1),
  albuterol: {
    rxnorm: '745752',
    display: 'albuterol 0.09 MG/ACTUAT Metered Dose Inhaler',
    sig: '2 puffs inhaled every 4–6 hours as needed for wheezing',
    dose: { value: 2, unit: 'puff', code: '{puff}' },
    perDay: 4,
    asNeeded: true,
    route: INHALED,
    courseDays: null,
  },
  sertraline: drug('312938', 'sertraline 50 MG Oral Tablet', '50 mg by mouth once daily', 1),
  furosemide: drug('313988', 'furosemide 40 MG Oral Tablet', '40 mg by mouth once daily', 1),
  spironolactone: drug(
    '313096',
    'spironolactone 25 MG Oral Tablet',
    '25 mg by mouth once daily',
    1,
  ),
  aspirin: drug('243670', 'aspirin 81 MG Oral Tablet', '81 mg by mouth once daily', 1),
  clopidogrel: drug('309362', 'clopidogrel 75 MG Oral Tablet', '75 mg by mouth once daily', 1),
  amoxicillin: drug(
    '308182',
    'amoxicillin 250 MG Oral Capsule',
    '500 mg (2 capsules) by mouth three times daily for 7 days',
    3,
    7,
    { value: 2, unit: 'capsule', code: '{capsule}' },
  ),
  azithromycin: drug(
    '308460',
    'azithromycin 250 MG Oral Tablet',
    '500 mg on day 1, then 250 mg once daily for 4 days',
    1,
    5,
  ),
  sulfamethoxazoleTrimethoprim: drug(
    '198335',
    'sulfamethoxazole 800 MG / trimethoprim 160 MG Oral Tablet',
    '1 tablet by mouth twice daily for 3 days',
    2,
    3,
  ),
  nitrofurantoin: drug(
    '1648755',
    'nitrofurantoin 100 MG Oral Capsule (monohydrate/macrocrystals)',
    '100 mg by mouth twice daily for 5 days',
    2,
    5,
    CAPSULE,
  ),
};

/** What is prescribed at diagnosis. Long-term drugs already active are not repeated. */
export const PRESCRIBED_FOR: Readonly<Partial<Record<ConditionKey, readonly DrugKey[]>>> = {
  diabetes: ['metformin'],
  hyperlipidemia: ['atorvastatin'],
  asthma: ['albuterol'],
  copd: ['albuterol'],
  depression: ['sertraline'],
  heartFailure: ['lisinopril', 'furosemide'],
  myocardialInfarction: ['aspirin', 'clopidogrel', 'atorvastatin'],
  stroke: ['aspirin', 'atorvastatin'],
};
/**
 * The planted treatment effect, with confounding by indication. Hypertension's first-line
 * drug is lisinopril or amlodipine, chosen when hypertension is recorded, with
 * logit P(amlodipine) = intercept + age65 [age >= 65 then] + ckd [CKD recorded by then]
 * + diabetes [type 2 diabetes by then]: older patients and CKD get amlodipine more often,
 * diabetes lisinopril. Age, CKD and diabetes all raise the stroke rate, so a naive
 * comparison of stroke rates by drug is biased; conditional on these three, the stroke
 * hazard on amlodipine is `hazardRatio` times that on lisinopril (from the day it starts,
 * for life: intention to treat), which a propensity-score analysis should recover.
 */
export const FIRST_LINE = {
  condition: 'hypertension',
  drugs: ['lisinopril', 'amlodipine'],
  outcome: 'stroke',
  hazardRatio: 0.75,
  propensity: { intercept: -1.0, age65: 1.6, ckd: 1.2, diabetes: -0.8 },
} as const;

/** P(amlodipine) for the first-line choice (see FIRST_LINE). */
export function amlodipineProbability(age65: boolean, ckd: boolean, diabetes: boolean): number {
  const p = FIRST_LINE.propensity;
  const z = p.intercept + (age65 ? p.age65 : 0) + (ckd ? p.ckd : 0) + (diabetes ? p.diabetes : 0);
  return 1 / (1 + Math.exp(-z));
}

/**
 * The planted drug–drug interaction: an ACE inhibitor with a potassium-sparing diuretic
 * (hyperkalaemia). Spironolactone is added in heart failure at this rate; with lisinopril
 * (always given in heart failure) each such patient is one exposure.
 */
export const INTERACTION = {
  drugs: ['lisinopril', 'spironolactone'] as const,
  risk: 'hyperkalaemia',
  spironolactoneShareInHeartFailure: 0.35,
} as const;

export const ALLERGY_KEYS = ['penicillin', 'sulfonamide'] as const;
export type AllergyKey = (typeof ALLERGY_KEYS)[number];

export interface AllergySpec {
  /** Share of patients with the allergy (drawn once, from birth). */
  readonly share: number;
  /** Substance: RxNorm ingredient. */
  readonly rxnorm: string;
  readonly display: string;
  readonly reaction: { readonly code: string; readonly display: string };
  /** The drug that conflicts and the alternative a prescriber who checks chooses. */
  readonly conflicting: DrugKey;
  readonly alternative: DrugKey;
}

export const ALLERGIES: Readonly<Record<AllergyKey, AllergySpec>> = {
  penicillin: {
    share: 0.1,
    rxnorm: '7980',
    display: 'penicillin G',
    reaction: { code: '247472004', display: 'Wheal (finding)' },
    conflicting: 'amoxicillin',
    alternative: 'azithromycin',
  },
  sulfonamide: {
    share: 0.03,
    rxnorm: '10180',
    display: 'sulfamethoxazole',
    reaction: { code: '271807003', display: 'Eruption of skin (disorder)' },
    conflicting: 'sulfamethoxazoleTrimethoprim',
    alternative: 'nitrofurantoin',
  },
};

/** Acute antibiotics: the usual choice, replaced by the alternative if an allergy is known. */
export const ANTIBIOTIC_FOR: Readonly<Partial<Record<ConditionKey, AllergyKey>>> = {
  pneumonia: 'penicillin',
  uti: 'sulfonamide',
};

/**
 * When the allergy is on record, the prescriber still orders the conflicting drug at this
 * rate (override or missed alert); before it is recorded, always.
 */
export const ALLERGY_OVERRIDE_RATE = 0.1;
