/**
 * Laboratory values driven by disease state (docs/synth.md, "Labs"): LOINC codes, UCUM
 * units, and draws from the patient's PRNG. eGFR follows the race-free CKD-EPI 2021
 * creatinine equation (Inker LA et al., NEJM 2021;385:1737–49); a target eGFR is drawn
 * and the creatinine that gives it is reported, then eGFR is recomputed from the rounded
 * creatinine so that the two always agree.
 */
import type { Random } from './random.js';

export interface LabCode {
  readonly loinc: string;
  readonly display: string;
  /** UCUM. */
  readonly unit: string;
}

export const LABS = {
  glucose: { loinc: '2339-0', display: 'Glucose [Mass/volume] in Blood', unit: 'mg/dL' },
  creatinine: {
    loinc: '2160-0',
    display: 'Creatinine [Mass/volume] in Serum or Plasma',
    unit: 'mg/dL',
  },
  egfr: {
    loinc: '62238-1',
    display:
      'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)',
    unit: 'mL/min/{1.73_m2}',
  },
  ldl: {
    loinc: '18262-6',
    display: 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay',
    unit: 'mg/dL',
  },
  hemoglobin: { loinc: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', unit: 'g/dL' },
  wbc: {
    loinc: '6690-2',
    display: 'Leukocytes [#/volume] in Blood by Automated count',
    unit: '10*3/uL',
  },
  platelets: {
    loinc: '777-3',
    display: 'Platelets [#/volume] in Blood by Automated count',
    unit: '10*3/uL',
  },
  troponin: {
    loinc: '89579-7',
    display: 'Troponin I.cardiac [Mass/volume] in Serum or Plasma by High sensitivity method',
    unit: 'ng/L',
  },
} as const satisfies Record<string, LabCode>;
export type LabKey = keyof typeof LABS;

/** DiagnosticReport codes, one report per panel and visit. */
export const PANELS = {
  metabolic: { loinc: '51990-0', display: 'Basic metabolic panel - Blood' },
  lipid: { loinc: '57698-3', display: 'Lipid panel with direct LDL - Serum or Plasma' },
  cbc: { loinc: '58410-2', display: 'CBC panel - Blood by Automated count' },
  cardiac: { loinc: '89579-7', display: LABS.troponin.display },
} as const;
export type PanelKey = keyof typeof PANELS;

const round = (x: number, digits: number): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/** CKD-EPI 2021 (race-free), mL/min/1.73 m², for serum creatinine in mg/dL. */
export function egfrFromCreatinine(scr: number, age: number, female: boolean): number {
  const k = female ? 0.7 : 0.9;
  const a = female ? -0.241 : -0.302;
  const r = scr / k;
  return 142 * Math.min(r, 1) ** a * Math.max(r, 1) ** -1.2 * 0.9938 ** age * (female ? 1.012 : 1);
}

/** The creatinine that gives `egfr` (inverse of egfrFromCreatinine). */
function creatinineForEgfr(egfr: number, age: number, female: boolean): number {
  const k = female ? 0.7 : 0.9;
  const a = female ? -0.241 : -0.302;
  const base = 142 * 0.9938 ** age * (female ? 1.012 : 1);
  const q = egfr / base;
  return q <= 1 ? k * q ** (-1 / 1.2) : k * q ** (1 / a);
}

/** Creatinine and eGFR for an adult: eGFR 45 ± 12 (8–59) with CKD, else falls with age. */
export function kidneyLabs(
  rng: Random,
  age: number,
  female: boolean,
  ckd: boolean,
): { creatinine: number; egfr: number } {
  const target = ckd
    ? clamp(rng.normal(45, 12), 8, 59)
    : clamp(rng.normal(108 - 0.8 * Math.max(0, age - 30), 12), 62, 140);
  const creatinine = Math.max(0.3, round(creatinineForEgfr(target, age, female), 2));
  return { creatinine, egfr: Math.round(egfrFromCreatinine(creatinine, age, female)) };
}

export function glucose(rng: Random, diabetic: boolean): number {
  return Math.round(diabetic ? Math.max(70, rng.normal(155, 40)) : rng.normal(92, 9));
}

/** LDL: 160 ± 30 mg/dL with hyperlipidemia (treatment effect not modelled), else 105 ± 25. */
export function ldl(rng: Random, hyperlipidemia: boolean): number {
  return Math.round(Math.max(30, hyperlipidemia ? rng.normal(160, 30) : rng.normal(105, 25)));
}

/** CBC: hemoglobin lower with CKD (anaemia of CKD), WBC higher with an infection. */
export function cbc(
  rng: Random,
  female: boolean,
  ckd: boolean,
  infection: boolean,
): { hemoglobin: number; wbc: number; platelets: number } {
  const hb = (female ? 13.5 : 15) - (ckd ? 1.5 : 0);
  return {
    hemoglobin: round(clamp(rng.normal(hb, 1.1), 6, 20), 1),
    wbc: round(clamp(infection ? rng.normal(14, 3.5) : rng.normal(7, 1.8), 1.5, 40), 1),
    platelets: Math.round(clamp(rng.normal(250, 55), 40, 700)),
  };
}

/**
 * High-sensitivity troponin I: log-normal, median 1,500 ng/L at a myocardial infarction
 * (always above 100), else median 5 ng/L (99th percentile of healthy people about 26).
 */
export function troponin(rng: Random, infarction: boolean): number {
  return infarction
    ? Math.round(Math.max(100, Math.exp(rng.normal(Math.log(1500), 0.9))))
    : Math.max(1, Math.round(Math.exp(rng.normal(Math.log(5), 0.6))));
}
