/**
 * Ground truth recorded while generating: the arguments, the parameters used and the
 * realised facts (see docs/synth.md, "truth.json"). Memory is a fixed set of strata
 * counters (years × age bands × sexes), independent of the number of patients.
 */
import { AGE_BANDS, MORTALITY, SEXES, US_CENSUS_2020_MILLIONS } from './demographics.js';
import { CONDITION_KEYS, CONDITIONS } from './conditions.js';
import type { ConditionKey } from './conditions.js';
import { DAYS_PER_YEAR } from './dates.js';
import {
  ALLERGIES,
  ALLERGY_KEYS,
  ALLERGY_OVERRIDE_RATE,
  ANTIBIOTIC_FOR,
  DRUG_KEYS,
  DRUGS,
  INTERACTION,
  LISINOPRIL_SHARE_IN_HYPERTENSION,
  PRESCRIBED_FOR,
} from './medications.js';
import type { AllergyKey, DrugKey } from './medications.js';

export const SYNTH_GENERATOR = 'medlake-synth';
/** Bumped whenever the same arguments would produce different output. */
export const SYNTH_VERSION = '0.2.0';

export const SYNTH_REGIONS = ['us', 'cn'] as const;
export type SynthRegion = (typeof SYNTH_REGIONS)[number];

export interface SynthArguments {
  readonly patients: number;
  readonly seed: number;
  readonly start: string;
  readonly end: string;
  readonly region: SynthRegion;
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
  };
  readonly resources: Record<string, number>;
  /** Each part's parameters and realised truth (see parts.ts and docs/synth.md). */
  readonly parts?: Record<string, { readonly parameters: unknown; readonly realised: unknown }>;
}

const NB = AGE_BANDS.length;
const NS = SEXES.length;

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
      parameters: synthParameters(),
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
      },
      resources,
    };
  }
}

/** The model parameters, as written to truth.json. */
export function synthParameters(): Record<string, unknown> {
  return {
    ageBands: AGE_BANDS,
    population: {
      source: 'US Census 2020 DHC, table P12 (millions, rounded)',
      ageAt: 'end',
      millions: {
        male: US_CENSUS_2020_MILLIONS.map((c) => c[0]),
        female: US_CENSUS_2020_MILLIONS.map((c) => c[1]),
      },
    },
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
      lisinoprilShareInHypertension: LISINOPRIL_SHARE_IN_HYPERTENSION,
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
