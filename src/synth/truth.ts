/**
 * Ground truth recorded while generating: the arguments, the parameters used and the
 * realised facts (see docs/synth.md, "truth.json"). Memory is a fixed set of strata
 * counters (years × age bands × sexes), independent of the number of patients.
 */
import { AGE_BANDS, MORTALITY, SEXES, US_CENSUS_2020_MILLIONS } from './demographics.js';
import { CONDITION_KEYS, CONDITIONS, HBA1C_TEST, HYPERTENSION_CONTROL } from './conditions.js';
import { PAYER_KEYS } from './insurance.js';
import { CN_CENSUS_2020_MILLIONS, CN_CONDITION_FACTORS } from './region-cn.js';
import type { PayerKey } from './insurance.js';
import type { ConditionKey } from './conditions.js';
import { DAYS_PER_YEAR } from './dates.js';
import {
  ALLERGIES,
  ALLERGY_KEYS,
  ALLERGY_OVERRIDE_RATE,
  ANTIBIOTIC_FOR,
  DRUG_KEYS,
  DRUGS,
  FIRST_LINE,
  INTERACTION,
  PRESCRIBED_FOR,
} from './medications.js';
import type { AllergyKey, DrugKey } from './medications.js';

export const SYNTH_GENERATOR = 'medlake-synth';
/** Bumped whenever the same arguments would produce different output. */
export const SYNTH_VERSION = '0.3.0';

export const SYNTH_REGIONS = ['us', 'cn'] as const;
export type SynthRegion = (typeof SYNTH_REGIONS)[number];

export interface SynthArguments {
  readonly patients: number;
  readonly seed: number;
  readonly start: string;
  readonly end: string;
  readonly region: SynthRegion;
  /** A planted regional excess: `condition`'s incidence times `factor` in one state/province. */
  readonly regionalExcess?: RegionalExcess;
}

export interface RegionalExcess {
  /** A state code (us, e.g. "MA") or a province name (cn, e.g. "广东省"). */
  readonly region: string;
  readonly condition: ConditionKey;
  readonly factor: number;
}

export interface IncidenceRow {
  readonly year: number;
  readonly ageBand: string;
  readonly sex: string;
  readonly cases: number;
  readonly personDays: number;
  readonly personYears: number;
}

export interface PrevalenceRow {
  readonly ageBand: string;
  readonly alive: number;
  readonly withCondition: number;
}

/** Cases and person-time by which of the condition's risk factors were present. */
export interface RiskFactorRow {
  readonly riskFactors: readonly string[];
  readonly cases: number;
  readonly personDays: number;
  readonly personYears: number;
}

export interface HospitalRow {
  readonly admissions: number;
  readonly icu: number;
  readonly inHospitalDeaths: number;
}

export interface BandCountRow {
  readonly ageBand: string;
  readonly male: number;
  readonly female: number;
}

export interface Truth {
  readonly generator: string;
  readonly version: string;
  readonly arguments: SynthArguments;
  readonly parameters: Record<string, unknown>;
  readonly realised: {
    readonly patients: {
      readonly total: number;
      readonly aliveAtEnd: number;
      readonly deceased: number;
      readonly byAgeBandAtEnd: readonly BandCountRow[];
      readonly aliveByAgeBandAtEnd: readonly BandCountRow[];
      /** Deaths by cause: a fatal event (condition key) or `other` (background hazard). */
      readonly deathsByCause: Record<string, number>;
    };
    readonly conditions: Record<
      string,
      {
        readonly newCases: number;
        readonly incidence: readonly IncidenceRow[];
        readonly prevalenceAtEnd: readonly PrevalenceRow[] | null;
        /** Only for conditions with risk factors. */
        readonly byRiskFactors?: readonly RiskFactorRow[];
        /** Only for conditions that can be admitted. */
        readonly hospital?: HospitalRow;
      }
    >;
    readonly medications: {
      readonly prescriptions: Record<string, number>;
      /** Patients with an AllergyIntolerance, by allergy. */
      readonly allergies: Record<string, number>;
      readonly drugInteractions: readonly {
        readonly drugs: readonly string[];
        readonly rxnorm: readonly string[];
        /** Patients prescribed both drugs (both long-term: they overlap until death). */
        readonly exposures: number;
      }[];
      readonly allergyConflicts: readonly {
        readonly allergy: string;
        readonly drug: string;
        readonly rxnorm: string;
        /** Prescriptions of the drug to patients with the allergy (an AllergyIntolerance). */
        readonly exposures: number;
        /** Of these, prescribed after the allergy's recordedDate (the allergy was known). */
        readonly afterRecorded: number;
      }[];
    };
    /** 30-day readmissions after inpatient stays, by condition (docs/synth.md). */
    readonly readmissions: Record<
      string,
      { readonly indexStays: number; readonly readmitted30: number; readonly rate: number | null }
    >;
    /** The planted first-line treatment effect (FIRST_LINE; docs/synth.md). */
    readonly treatmentEffect: TreatmentEffectTruth;
    /** The planted payer disparity in blood-pressure control (HYPERTENSION_CONTROL). */
    readonly hypertensionControl: {
      readonly byPayer: Record<
        string,
        {
          readonly designedRate: number;
          readonly visits: number;
          readonly controlledVisits: number;
          /** Patients whose last wellness visit in the window had hypertension, by payer then. */
          readonly patientsAtLastVisit: number;
          readonly controlledAtLastVisit: number;
          readonly rateAtLastVisit: number | null;
        }
      >;
    };
    /** HbA1c >= 6.5% as a test for type 2 diabetes, over all HbA1c results (HBA1C_TEST). */
    readonly diagnosticTest: {
      readonly test: string;
      readonly condition: string;
      readonly cutOff: number;
      readonly expectedSensitivity: number;
      readonly expectedSpecificity: number;
      readonly truePositive: number;
      readonly falseNegative: number;
      readonly falsePositive: number;
      readonly trueNegative: number;
      readonly sensitivity: number | null;
      readonly specificity: number | null;
    };
  };
  readonly resources: Record<string, number>;
  /** Each part's parameters and realised truth (see parts.ts and docs/synth.md). */
  readonly parts?: Record<string, { readonly parameters: unknown; readonly realised: unknown }>;
}

export interface TreatmentEffectRow {
  readonly drug: string;
  readonly age65: boolean;
  readonly diabetes: boolean;
  readonly ckd: boolean;
  readonly newUsers: number;
  readonly strokes: number;
  readonly personDays: number;
}

export interface TreatmentEffectTruth {
  readonly exposure: string;
  readonly comparator: string;
  readonly outcome: string;
  /** The true conditional hazard ratio (a parameter). */
  readonly trueHazardRatio: number;
  readonly byStratum: readonly TreatmentEffectRow[];
  /** Stroke rate ratio, amlodipine vs lisinopril, ignoring the confounders (biased). */
  readonly crudeRateRatio: number | null;
  /** Mantel–Haenszel rate ratio over the 8 strata of the confounders, with a 95% CI. */
  readonly adjustedRateRatio: {
    readonly estimate: number;
    readonly ci95: readonly [number, number];
  } | null;
}

const NB = AGE_BANDS.length;
const NS = SEXES.length;

const FIXED_FIELDS = new Set(['args', 'firstYear', 'years']);

/** a + b for counters: numbers, number arrays (typed or not), Maps of those. */
function addValue(a: unknown, b: unknown, name: string): unknown {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a instanceof Float64Array && b instanceof Float64Array) {
    for (let i = 0; i < a.length; i++) (a[i] as number) += b[i] as number;
    return a;
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.map((x, i) => addValue(x, b[i], name));
  if (a instanceof Map && b instanceof Map) {
    for (const [k, v] of b as Map<unknown, unknown>)
      a.set(k, a.has(k) ? addValue(a.get(k), v, name) : v);
    return a;
  }
  throw new Error(`truth counters ${name}: cannot add ${typeof a} and ${typeof b}`);
}

export class TruthRecorder {
  private readonly years: number;
  private readonly byBand = new Float64Array(NB * NS);
  private readonly aliveByBand = new Float64Array(NB * NS);
  private deceased = 0;
  private readonly deathsByCause = new Map<string, number>();
  private readonly cases = new Map<ConditionKey, Float64Array>();
  private readonly days = new Map<ConditionKey, Float64Array>();
  private readonly prevalent = new Map<ConditionKey, Float64Array>();
  private readonly riskCases = new Map<ConditionKey, Float64Array>();
  private readonly riskDays = new Map<ConditionKey, Float64Array>();
  private readonly hospital = new Map<ConditionKey, [number, number, number]>();
  private readonly prescriptions = new Map<DrugKey, number>();
  private readonly allergies = new Map<AllergyKey, number>();
  private readonly conflicts = new Map<AllergyKey, [number, number]>();
  private interactionExposures = 0;
  /** Per condition: [index stays with 30 days of follow-up, of them readmitted in 30 days]. */
  private readonly readmissions = new Map<ConditionKey, [number, number]>();
  /** First-line drug (0 lisinopril, 1 amlodipine) x stratum: new users, strokes, days. */
  private readonly firstLineUsers = new Float64Array(16);
  private readonly firstLineEvents = new Float64Array(16);
  private readonly firstLineDays = new Float64Array(16);
  /** By payer: [visits, controlled, patients at last visit, controlled at last visit]. */
  private readonly bp = new Map<PayerKey, [number, number, number, number]>();
  /** [TP, FN, FP, TN] of HbA1c >= 6.5% for diabetes. */
  private readonly hba1c = [0, 0, 0, 0];

  constructor(
    private readonly args: SynthArguments,
    private readonly firstYear: number,
    lastYear: number,
  ) {
    this.years = lastYear - firstYear + 1;
    for (const k of CONDITION_KEYS) {
      this.cases.set(k, new Float64Array(this.years * NB * NS));
      this.days.set(k, new Float64Array(this.years * NB * NS));
      this.prevalent.set(k, new Float64Array(NB));
      const nRisk = Object.keys(CONDITIONS[k].riskFactors).length;
      this.riskCases.set(k, new Float64Array(1 << nRisk));
      this.riskDays.set(k, new Float64Array(1 << nRisk));
      if (CONDITIONS[k].care.inpatient > 0) this.hospital.set(k, [0, 0, 0]);
    }
    for (const d of DRUG_KEYS) this.prescriptions.set(d, 0);
    for (const a of ALLERGY_KEYS) {
      this.allergies.set(a, 0);
      this.conflicts.set(a, [0, 0]);
    }
  }

  /**
   * The counters (every field but the arguments and year range), as structured-clone-safe
   * values (numbers, arrays, Float64Arrays, Maps of those), for a generator worker to send.
   */
  exportCounters(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this)) if (!FIXED_FIELDS.has(k)) out[k] = v;
    return out;
  }

  /** Adds counters exported by another recorder of the same arguments. */
  mergeCounters(other: Record<string, unknown>): void {
    const self = this as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(other)) {
      if (FIXED_FIELDS.has(k)) continue;
      self[k] = addValue(self[k], v, k);
    }
  }

  private cell(year: number, band: number, sex: number): number {
    return ((year - this.firstYear) * NB + band) * NS + sex;
  }

  /** `cause`: the condition of a fatal event, or null (background death, or alive). */
  addPatient(
    bandAtEnd: number,
    sex: number,
    aliveAtEnd: boolean,
    cause: ConditionKey | null,
  ): void {
    (this.byBand[bandAtEnd * NS + sex] as number)++;
    if (aliveAtEnd) (this.aliveByBand[bandAtEnd * NS + sex] as number)++;
    else {
      this.deceased++;
      const c = cause ?? 'other';
      this.deathsByCause.set(c, (this.deathsByCause.get(c) ?? 0) + 1);
    }
  }

  /** `mask`: bit i set when the condition's i-th risk factor is present. */
  addRisk(
    key: ConditionKey,
    year: number,
    band: number,
    sex: number,
    days: number,
    mask: number,
  ): void {
    (this.days.get(key) as Float64Array)[this.cell(year, band, sex)] += days;
    (this.riskDays.get(key) as Float64Array)[mask] += days;
  }

  addCase(key: ConditionKey, year: number, band: number, sex: number, mask: number): void {
    (this.cases.get(key) as Float64Array)[this.cell(year, band, sex)]++;
    (this.riskCases.get(key) as Float64Array)[mask]++;
  }

  addAdmission(key: ConditionKey, icu: boolean, died: boolean): void {
    const h = this.hospital.get(key);
    if (h === undefined) return;
    h[0]++;
    if (icu) h[1]++;
    if (died) h[2]++;
  }

  /** An inpatient stay discharged alive with 30 days of follow-up in the window. */
  addIndexStay(key: ConditionKey, readmitted30: boolean): void {
    const r = this.readmissions.get(key) ?? [0, 0];
    r[0]++;
    if (readmitted30) r[1]++;
    this.readmissions.set(key, r);
  }

  /**
   * A new user of a first-line drug: follow-up days from the day after the start to the
   * first stroke after it (`event`), death or the end of the window.
   */
  addFirstLine(
    drug: (typeof FIRST_LINE.drugs)[number],
    stratum: number,
    days: number,
    event: boolean,
  ): void {
    const i = (drug === 'amlodipine' ? 8 : 0) + stratum;
    (this.firstLineUsers[i] as number)++;
    if (event) (this.firstLineEvents[i] as number)++;
    this.firstLineDays[i] += days;
  }

  addBloodPressure(payer: PayerKey, controlled: boolean, lastVisit: boolean): void {
    const c = this.bp.get(payer) ?? [0, 0, 0, 0];
    c[0]++;
    if (controlled) c[1]++;
    if (lastVisit) {
      c[2]++;
      if (controlled) c[3]++;
    }
    this.bp.set(payer, c);
  }

  addHba1c(diabetic: boolean, positive: boolean): void {
    (this.hba1c[(diabetic ? 0 : 2) + (positive ? 0 : 1)] as number)++;
  }

  addPrescription(drug: DrugKey): void {
    this.prescriptions.set(drug, (this.prescriptions.get(drug) ?? 0) + 1);
  }

  addAllergy(allergy: AllergyKey): void {
    this.allergies.set(allergy, (this.allergies.get(allergy) ?? 0) + 1);
  }

  addAllergyConflict(allergy: AllergyKey, afterRecorded: boolean): void {
    const c = this.conflicts.get(allergy) as [number, number];
    c[0]++;
    if (afterRecorded) c[1]++;
  }

  addInteractionExposure(): void {
    this.interactionExposures++;
  }

  /** A person alive at the end who has the (chronic) condition. */
  addPrevalent(key: ConditionKey, bandAtEnd: number): void {
    (this.prevalent.get(key) as Float64Array)[bandAtEnd]++;
  }

  toJSON(resources: Record<string, number>): Truth {
    const bandRows = (a: Float64Array): BandCountRow[] =>
      AGE_BANDS.map((ageBand, b) => ({
        ageBand,
        male: a[b * NS] as number,
        female: a[b * NS + 1] as number,
      }));
    const conditions: Truth['realised']['conditions'] = {};
    for (const key of CONDITION_KEYS) {
      const cases = this.cases.get(key) as Float64Array;
      const days = this.days.get(key) as Float64Array;
      const incidence: IncidenceRow[] = [];
      let newCases = 0;
      for (let y = 0; y < this.years; y++)
        for (let b = 0; b < NB; b++)
          for (let s = 0; s < NS; s++) {
            const i = (y * NB + b) * NS + s;
            const d = days[i] as number;
            const c = cases[i] as number;
            if (d === 0 && c === 0) continue;
            newCases += c;
            incidence.push({
              year: this.firstYear + y,
              ageBand: AGE_BANDS[b] as string,
              sex: SEXES[s] as string,
              cases: c,
              personDays: d,
              personYears: Math.round((d / DAYS_PER_YEAR) * 1e4) / 1e4,
            });
          }
      const prev = this.prevalent.get(key) as Float64Array;
      const riskKeys = Object.keys(CONDITIONS[key].riskFactors);
      const rc = this.riskCases.get(key) as Float64Array;
      const rd = this.riskDays.get(key) as Float64Array;
      const hospital = this.hospital.get(key);
      conditions[key] = {
        newCases,
        incidence,
        prevalenceAtEnd: CONDITIONS[key].chronic
          ? AGE_BANDS.map((ageBand, b) => ({
              ageBand,
              alive:
                (this.aliveByBand[b * NS] as number) + (this.aliveByBand[b * NS + 1] as number),
              withCondition: prev[b] as number,
            }))
          : null,
        ...(riskKeys.length === 0
          ? {}
          : {
              byRiskFactors: Array.from(rc, (cases, mask) => ({
                riskFactors: riskKeys.filter((_, i) => (mask & (1 << i)) !== 0),
                cases,
                personDays: rd[mask] as number,
                personYears: Math.round(((rd[mask] as number) / DAYS_PER_YEAR) * 1e4) / 1e4,
              })),
            }),
        ...(hospital === undefined
          ? {}
          : {
              hospital: {
                admissions: hospital[0],
                icu: hospital[1],
                inHospitalDeaths: hospital[2],
              },
            }),
      };
    }
    const [drugA, drugB] = INTERACTION.drugs;
    const total = this.args.patients;
    return {
      generator: SYNTH_GENERATOR,
      version: SYNTH_VERSION,
      arguments: this.args,
      parameters: synthParameters(this.args.region),
      realised: {
        patients: {
          total,
          aliveAtEnd: total - this.deceased,
          deceased: this.deceased,
          byAgeBandAtEnd: bandRows(this.byBand),
          aliveByAgeBandAtEnd: bandRows(this.aliveByBand),
          deathsByCause: Object.fromEntries(
            ['other', ...CONDITION_KEYS]
              .filter((c) => this.deathsByCause.has(c))
              .map((c) => [c, this.deathsByCause.get(c) as number]),
          ),
        },
        conditions,
        medications: {
          prescriptions: Object.fromEntries(
            DRUG_KEYS.map((d) => [d, this.prescriptions.get(d) as number]),
          ),
          allergies: Object.fromEntries(
            ALLERGY_KEYS.map((a) => [a, this.allergies.get(a) as number]),
          ),
          drugInteractions: [
            {
              drugs: [drugA, drugB],
              rxnorm: [DRUGS[drugA].rxnorm, DRUGS[drugB].rxnorm],
              exposures: this.interactionExposures,
            },
          ],
          allergyConflicts: ALLERGY_KEYS.map((a) => {
            const c = this.conflicts.get(a) as [number, number];
            const drug = ALLERGIES[a].conflicting;
            return {
              allergy: a,
              drug,
              rxnorm: DRUGS[drug].rxnorm,
              exposures: c[0],
              afterRecorded: c[1],
            };
          }),
        },
        readmissions: Object.fromEntries(
          CONDITION_KEYS.filter((k) => CONDITIONS[k].care.readmission30 > 0).map((k) => {
            const [n, r] = this.readmissions.get(k) ?? [0, 0];
            return [k, { indexStays: n, readmitted30: r, rate: n > 0 ? r / n : null }];
          }),
        ),
        treatmentEffect: this.treatmentEffect(),
        hypertensionControl: {
          byPayer: Object.fromEntries(
            PAYER_KEYS.map((p) => {
              const [v, c, n, nc] = this.bp.get(p) ?? [0, 0, 0, 0];
              return [
                p,
                {
                  designedRate: HYPERTENSION_CONTROL.byPayer[p],
                  visits: v,
                  controlledVisits: c,
                  patientsAtLastVisit: n,
                  controlledAtLastVisit: nc,
                  rateAtLastVisit: n > 0 ? nc / n : null,
                },
              ];
            }),
          ),
        },
        diagnosticTest: this.diagnosticTest(),
      },
      resources,
    };
  }

  private diagnosticTest(): Truth['realised']['diagnosticTest'] {
    const [tp, fn, fp, tn] = this.hba1c as [number, number, number, number];
    const t = HBA1C_TEST;
    const cut = t.cutOff - 0.05; // values are rounded to 0.1
    return {
      test: 'HbA1c (LOINC 4548-4) >= 6.5%',
      condition: 'diabetes',
      cutOff: t.cutOff,
      expectedSensitivity: 1 - normalCdf((cut - t.diabetic.mean) / t.diabetic.sd),
      expectedSpecificity: normalCdf((cut - t.nonDiabetic.mean) / t.nonDiabetic.sd),
      truePositive: tp,
      falseNegative: fn,
      falsePositive: fp,
      trueNegative: tn,
      sensitivity: tp + fn > 0 ? tp / (tp + fn) : null,
      specificity: fp + tn > 0 ? tn / (fp + tn) : null,
    };
  }

  private treatmentEffect(): TreatmentEffectTruth {
    const rows: TreatmentEffectRow[] = [];
    for (let d = 0; d < 2; d++)
      for (let s = 0; s < 8; s++)
        rows.push({
          drug: FIRST_LINE.drugs[d] as string,
          age65: (s & 1) !== 0,
          diabetes: (s & 2) !== 0,
          ckd: (s & 4) !== 0,
          newUsers: this.firstLineUsers[d * 8 + s] as number,
          strokes: this.firstLineEvents[d * 8 + s] as number,
          personDays: this.firstLineDays[d * 8 + s] as number,
        });
    const sum = (a: Float64Array, d: number): number =>
      a.slice(d * 8, d * 8 + 8).reduce((x, y) => x + y, 0);
    const e0 = sum(this.firstLineEvents, 0);
    const e1 = sum(this.firstLineEvents, 1);
    const t0 = sum(this.firstLineDays, 0);
    const t1 = sum(this.firstLineDays, 1);
    const crude = e0 > 0 && t1 > 0 ? e1 / t1 / (e0 / t0) : null;
    // Mantel–Haenszel rate ratio; variance of its log from Greenland & Robins (1985).
    let num = 0;
    let den = 0;
    let v = 0;
    for (let s = 0; s < 8; s++) {
      const a = this.firstLineEvents[8 + s] as number;
      const b = this.firstLineEvents[s] as number;
      const T1 = this.firstLineDays[8 + s] as number;
      const T0 = this.firstLineDays[s] as number;
      const T = T0 + T1;
      if (T0 === 0 || T1 === 0) continue;
      num += (a * T0) / T;
      den += (b * T1) / T;
      v += (T1 * T0 * (a + b)) / (T * T);
    }
    const adjusted =
      num > 0 && den > 0
        ? (() => {
            const est = num / den;
            const se = Math.sqrt(v / (num * den));
            return {
              estimate: est,
              ci95: [est * Math.exp(-1.959964 * se), est * Math.exp(1.959964 * se)] as const,
            };
          })()
        : null;
    return {
      exposure: FIRST_LINE.drugs[1],
      comparator: FIRST_LINE.drugs[0],
      outcome: FIRST_LINE.outcome,
      trueHazardRatio: FIRST_LINE.hazardRatio,
      byStratum: rows,
      crudeRateRatio: crude,
      adjustedRateRatio: adjusted,
    };
  }
}

/** The model parameters, as written to truth.json. */
export function synthParameters(region: SynthRegion = 'us'): Record<string, unknown> {
  const census = region === 'cn' ? CN_CENSUS_2020_MILLIONS : US_CENSUS_2020_MILLIONS;
  return {
    ageBands: AGE_BANDS,
    population: {
      source:
        region === 'cn'
          ? 'China 7th National Population Census 2020, 31 provinces (millions; see docs/synth.md)'
          : 'US Census 2020 DHC, table P12 (millions, rounded)',
      ageAt: 'end',
      millions: {
        male: census.map((c) => c[0]),
        female: census.map((c) => c[1]),
      },
    },
    ...(region === 'cn'
      ? {
          regionConditionFactors: {
            note: 'multipliers on the incidence tables below, for life (region cn)',
            factors: CN_CONDITION_FACTORS,
          },
        }
      : {}),
    mortality: {
      model: 'gompertz',
      annualHazard: 'hazardAt80 * exp(gompertzSlope * (age - 80))',
      hazardAt80: MORTALITY.hazardAt80,
      gompertzSlope: MORTALITY.gompertzSlope,
    },
    conditions: Object.fromEntries(
      CONDITION_KEYS.map((k) => {
        const c = CONDITIONS[k];
        return [
          k,
          {
            snomed: c.snomed,
            icd10: c.icd10,
            chronic: c.chronic,
            per1000PersonYearsByAgeBand: c.per1000,
            sexFactor: c.sexFactor,
            per1000PersonYearsByAgeBandFemale: c.per1000Female,
            seasonalityByMonth: c.seasonality,
            episodeDays: c.episodeDays,
            riskFactorMultipliers: c.riskFactors,
            care: c.care,
          },
        ];
      }),
    ),
    medications: {
      drugs: Object.fromEntries(
        DRUG_KEYS.map((d) => [
          d,
          { rxnorm: DRUGS[d].rxnorm, display: DRUGS[d].display, sig: DRUGS[d].sig },
        ]),
      ),
      prescribedFor: { ...PRESCRIBED_FOR, hypertension: ['lisinopril', 'amlodipine'] },
      firstLineInHypertension: FIRST_LINE,
      antibioticFor: Object.fromEntries(
        Object.entries(ANTIBIOTIC_FOR).map(([k, a]) => [
          k,
          { usual: ALLERGIES[a].conflicting, ifAllergic: ALLERGIES[a].alternative },
        ]),
      ),
      interaction: INTERACTION,
      allergies: Object.fromEntries(
        ALLERGY_KEYS.map((a) => [
          a,
          {
            share: ALLERGIES[a].share,
            rxnorm: ALLERGIES[a].rxnorm,
            conflicting: ALLERGIES[a].conflicting,
          },
        ]),
      ),
      allergyOverrideRate: ALLERGY_OVERRIDE_RATE,
    },
  };
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
