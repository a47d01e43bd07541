/**
 * Ground truth recorded while generating: the arguments, the parameters used and the
 * realised facts (see docs/synth.md, "truth.json"). Memory is a fixed set of strata
 * counters (years × age bands × sexes), independent of the number of patients.
 */
import { AGE_BANDS, MORTALITY, SEXES, US_CENSUS_2020_MILLIONS } from './demographics.js';
import { CONDITION_KEYS, CONDITIONS } from './conditions.js';
import type { ConditionKey } from './conditions.js';
import { DAYS_PER_YEAR } from './dates.js';

export const SYNTH_GENERATOR = 'medlake-synth';
/** Bumped whenever the same arguments would produce different output. */
export const SYNTH_VERSION = '0.1.0';

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
    };
    readonly conditions: Record<
      string,
      {
        readonly newCases: number;
        readonly incidence: readonly IncidenceRow[];
        readonly prevalenceAtEnd: readonly PrevalenceRow[] | null;
      }
    >;
  };
  readonly resources: Record<string, number>;
}

const NB = AGE_BANDS.length;
const NS = SEXES.length;

export class TruthRecorder {
  private readonly years: number;
  private readonly byBand = new Float64Array(NB * NS);
  private readonly aliveByBand = new Float64Array(NB * NS);
  private deceased = 0;
  private readonly cases = new Map<ConditionKey, Float64Array>();
  private readonly days = new Map<ConditionKey, Float64Array>();
  private readonly prevalent = new Map<ConditionKey, Float64Array>();

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
    }
  }

  private cell(year: number, band: number, sex: number): number {
    return ((year - this.firstYear) * NB + band) * NS + sex;
  }

  addPatient(bandAtEnd: number, sex: number, aliveAtEnd: boolean): void {
    (this.byBand[bandAtEnd * NS + sex] as number)++;
    if (aliveAtEnd) (this.aliveByBand[bandAtEnd * NS + sex] as number)++;
    else this.deceased++;
  }

  addRisk(key: ConditionKey, year: number, band: number, sex: number, days: number): void {
    (this.days.get(key) as Float64Array)[this.cell(year, band, sex)] += days;
  }

  addCase(key: ConditionKey, year: number, band: number, sex: number): void {
    (this.cases.get(key) as Float64Array)[this.cell(year, band, sex)]++;
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
      };
    }
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
        },
        conditions,
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
            seasonalityByMonth: c.seasonality,
            episodeDays: c.episodeDays,
          },
        ];
      }),
    ),
  };
}
