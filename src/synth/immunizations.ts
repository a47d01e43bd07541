/**
 * The `immunizations` part: FHIR `Immunization` resources (US Core shape, CVX codes) given
 * at the ambulatory Encounters the core emitted: seasonal influenza in autumn/winter with
 * age-specific uptake, Td/Tdap every 10 years for adults, pneumococcal (PCV13 then PPSV23)
 * from 65, recombinant zoster from 50 (from 2018) and COVID-19 (Pfizer 30 mcg) in 2021–22.
 * Vaccines given elsewhere (pharmacies, mass sites) are, as in a real EHR, not seen.
 * Codes, uptake and sources: docs/synth-procedures.md.
 */
import { ageOn, daysFromCivil, parseDay, yearOf } from './dates.js';
import type { PatientHistory } from './patient-history.js';
import { PART_STREAMS } from './parts.js';
import type { Counters, PatientOutput, SynthPart, SynthPartFactory, SynthRun } from './parts.js';
import { indexPatient, minuteToIso, wellnessEncounter } from './procedures.js';
import type { EncounterInfo } from './procedures.js';
import type { Random } from './random.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
const MINUTES_PER_DAY = 1440;

export const VACCINES = {
  influenza: { code: '140', display: 'Influenza, seasonal, injectable, preservative free' },
  tdap: { code: '115', display: 'Tdap' },
  td: { code: '113', display: 'Td (adult), 5 Lf tetanus toxoid, preservative free, adsorbed' },
  pcv13: { code: '133', display: 'Pneumococcal conjugate PCV 13' },
  ppsv23: { code: '33', display: 'pneumococcal polysaccharide vaccine, 23 valent' },
  zosterRecombinant: { code: '187', display: 'zoster vaccine recombinant' },
  covid19Pfizer: {
    code: '208',
    display:
      'SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose',
  },
} as const;
export type VaccineKey = keyof typeof VACCINES;
export const VACCINE_KEYS = Object.keys(VACCINES) as VaccineKey[];

/** Influenza age bands (CDC FluVaxView groups) by age at the start of the season. */
export const FLU_BANDS = ['6mo-17', '18-49', '50-64', '65+'] as const;
const fluBand = (age: number): number => (age < 18 ? 0 : age < 50 ? 1 : age < 65 ? 2 : 3);

export const IMMUNIZATION_RATES = {
  /**
   * Share of persons who seek a flu vaccine in a season, by FLU_BANDS: CDC FluVaxView,
   * 2019–20 season (children 6 months–17 years 63.7%; adults 18–49 38.4%, 50–64 50.6%,
   * 65+ 69.8%). They get it at their first ambulatory encounter in the season, if any.
   */
  influenzaUptake: [0.637, 0.384, 0.506, 0.698],
  /** Season: 1 August to 31 March; from 6 months of age. */
  influenzaSeason: { startMonth: 8, endMonth: 3, minAgeDays: 183 },
  tetanus: {
    minAge: 19,
    intervalDays: 3652,
    /** At the first adult visit: a dose in the last 10 years (else overdue). */
    upToDateBefore: 0.6,
    /** Had the one adult Tdap before the window (later doses are Td). */
    tdapBefore: 0.3,
    /** Chance per wellness visit while due. */
    perDueVisit: 0.5,
  },
  pneumococcal: {
    minAge: 65,
    /** At the first visit aged 66+: vaccinated before the window. */
    vaccinatedBefore: 0.6,
    pcv13PerVisit: 0.5,
    /** PPSV23 at a visit at least a year after PCV13. */
    ppsv23PerVisit: 0.7,
    ppsv23AfterDays: 365,
  },
  zoster: { minAge: 50, from: '2018-01-01', firstDosePerVisit: 0.12, secondDose: 0.85 },
  covid19: {
    from: '2020-12-14',
    until: '2022-08-31',
    /** Ages: 16+ until 2021-05-09, 12+ after (Pfizer 30 mcg emergency use authorisations). */
    minAge: 16,
    minAgeFrom12: '2021-05-10',
    uptake: 0.5,
    secondDose: 0.9,
    secondAfterDays: 21,
  },
} as const;

interface ImmunizationCounters {
  /** Doses by vaccine key, then calendar year (index from the window's first year). */
  doses: Record<string, number[]>;
  /** Influenza: persons alive in the season and vaccinated, [season * bands + band]. */
  fluAlive: number[];
  fluVaccinated: number[];
}

export const immunizationsPart: SynthPartFactory = (run: SynthRun): SynthPart => {
  const firstYear = yearOf(run.window.startDay);
  const lastYear = yearOf(run.window.endDay);
  const years = lastYear - firstYear + 1;
  // Seasons starting in August of firstYear - 1 .. lastYear.
  const firstSeason = firstYear - 1;
  const seasons = lastYear - firstSeason + 1;
  const nb = FLU_BANDS.length;
  const c: ImmunizationCounters = {
    doses: Object.fromEntries(VACCINE_KEYS.map((k) => [k, new Array<number>(years).fill(0)])),
    fluAlive: new Array<number>(seasons * nb).fill(0),
    fluVaccinated: new Array<number>(seasons * nb).fill(0),
  };
  const R = IMMUNIZATION_RATES;
  const zosterFrom = parseDay(R.zoster.from);
  const covidFrom = parseDay(R.covid19.from);
  const covidUntil = parseDay(R.covid19.until);
  const covid12From = parseDay(R.covid19.minAgeFrom12);

  return {
    name: 'immunizations',
    stream: PART_STREAMS.immunizations,
    resourceTypes: ['Immunization'],
    patient(out: PatientOutput, rng: Random): void {
      const h: PatientHistory = out.history;
      const index = indexPatient(out, run.window.endDay);
      // Vaccines are given at ambulatory encounters (wellness and problem visits).
      const ambulatory = index.encounters.filter((e) => e.cls === 'AMB' && e.partOf === null);

      const give = (key: VaccineKey, enc: EncounterInfo): void => {
        const end = Math.min(enc.end ?? Infinity, index.limit);
        const at = Math.min(enc.start + rng.int(5, 12), end);
        const v = VACCINES[key];
        const lot = `${String.fromCharCode(65 + rng.int(0, 25))}${String.fromCharCode(65 + rng.int(0, 25))}${rng.int(1000, 9999)}`;
        out.resources.push({
          resourceType: 'Immunization',
          id: rng.uuid(),
          meta: { profile: [US_CORE + 'us-core-immunization'] },
          status: 'completed',
          vaccineCode: {
            coding: [{ system: CVX, code: v.code, display: v.display }],
            text: v.display,
          },
          patient: { reference: `Patient/${h.id}` },
          encounter: { reference: `Encounter/${enc.id}` },
          occurrenceDateTime: minuteToIso(at),
          primarySource: true,
          ...(enc.location === null ? {} : { location: { reference: enc.location } }),
          lotNumber: lot,
          ...(enc.practitioner === null
            ? {}
            : {
                performer: [
                  {
                    function: {
                      coding: [
                        {
                          system: 'http://terminology.hl7.org/CodeSystem/v2-0443',
                          code: 'AP',
                          display: 'Administering Provider',
                        },
                      ],
                    },
                    actor: { reference: enc.practitioner },
                  },
                ],
              }),
        });
        const y = yearOf(Math.floor(at / MINUTES_PER_DAY)) - firstYear;
        const row = c.doses[key] as number[];
        row[y] = (row[y] ?? 0) + 1;
      };
      const usable = (e: EncounterInfo): boolean => e.start < index.limit;

      // Influenza, season by season.
      const lastAlive =
        h.death === null ? run.window.endDay : Math.min(run.window.endDay, h.death - 1);
      for (let s = 0; s < seasons; s++) {
        const y = firstSeason + s;
        const from = Math.max(
          daysFromCivil(y, R.influenzaSeason.startMonth, 1),
          run.window.startDay,
          h.birth + R.influenzaSeason.minAgeDays,
        );
        const to = Math.min(daysFromCivil(y + 1, R.influenzaSeason.endMonth + 1, 1) - 1, lastAlive);
        if (from > to) continue;
        const band = fluBand(ageOn(h.birth, from));
        const cell = s * nb + band;
        c.fluAlive[cell] = (c.fluAlive[cell] ?? 0) + 1;
        if (!rng.chance(R.influenzaUptake[band] as number)) continue;
        const enc = ambulatory.find((e) => e.day >= from && e.day <= to && usable(e));
        if (enc === undefined) continue;
        give('influenza', enc);
        c.fluVaccinated[cell] = (c.fluVaccinated[cell] ?? 0) + 1;
      }

      // Adult schedule at wellness visits.
      const T = R.tetanus;
      const P = R.pneumococcal;
      const Z = R.zoster;
      let tetanusLast: number | null = null;
      let hadTdap = false;
      let pneumo: 'unknown' | 'none' | 'pcv13' | 'done' = 'unknown';
      let pcvDay = 0;
      let zoster: 0 | 1 | 2 = 0;
      for (const day of h.wellness) {
        const enc = wellnessEncounter(index, day);
        if (enc === null || !usable(enc)) continue;
        const age = ageOn(h.birth, day);
        if (age >= T.minAge) {
          if (tetanusLast === null) {
            tetanusLast = rng.chance(T.upToDateBefore)
              ? day - rng.int(0, T.intervalDays - 1)
              : day - T.intervalDays - rng.int(0, 3650);
            hadTdap = rng.chance(T.tdapBefore);
          }
          if (day - tetanusLast >= T.intervalDays && rng.chance(T.perDueVisit)) {
            give(hadTdap ? 'td' : 'tdap', enc);
            hadTdap = true;
            tetanusLast = day;
          }
        }
        if (age >= P.minAge) {
          if (pneumo === 'unknown')
            pneumo = age > P.minAge && rng.chance(P.vaccinatedBefore) ? 'done' : 'none';
          if (pneumo === 'none' && rng.chance(P.pcv13PerVisit)) {
            give('pcv13', enc);
            pneumo = 'pcv13';
            pcvDay = day;
          } else if (
            pneumo === 'pcv13' &&
            day - pcvDay >= P.ppsv23AfterDays &&
            rng.chance(P.ppsv23PerVisit)
          ) {
            give('ppsv23', enc);
            pneumo = 'done';
          }
        }
        if (age >= Z.minAge && day >= zosterFrom) {
          if (zoster === 0 && rng.chance(Z.firstDosePerVisit)) {
            give('zosterRecombinant', enc);
            zoster = 1;
          } else if (zoster === 1) {
            // The second dose (due 2–6 months later) at the next wellness visit, late as is
            // common; the series is not restarted.
            if (rng.chance(Z.secondDose)) give('zosterRecombinant', enc);
            zoster = 2;
          }
        }
      }

      // COVID-19 primary series at ambulatory encounters.
      const C = R.covid19;
      if (
        run.window.endDay >= covidFrom &&
        run.window.startDay <= covidUntil &&
        rng.chance(C.uptake)
      ) {
        const eligible = (e: EncounterInfo): boolean =>
          usable(e) &&
          e.day >= covidFrom &&
          e.day <= covidUntil &&
          ageOn(h.birth, e.day) >= (e.day >= covid12From ? 12 : C.minAge);
        const first = ambulatory.find(eligible);
        if (first !== undefined) {
          give('covid19Pfizer', first);
          const wantsSecond = rng.chance(C.secondDose);
          const second = ambulatory.find(
            (e) => eligible(e) && e.day >= first.day + C.secondAfterDays,
          );
          if (wantsSecond && second !== undefined) give('covid19Pfizer', second);
        }
      }
    },
    parameters(): unknown {
      return { codes: VACCINES, system: CVX, fluBands: FLU_BANDS, rates: IMMUNIZATION_RATES };
    },
    counters(): Counters {
      return c as unknown as Counters;
    },
    realised(counters: Counters): unknown {
      const k = counters as unknown as ImmunizationCounters;
      const dosesByYear: Record<string, Record<string, number>> = {};
      for (let y = 0; y < years; y++) {
        const row: Record<string, number> = {};
        for (const v of VACCINE_KEYS) row[v] = k.doses[v]?.[y] ?? 0;
        dosesByYear[String(firstYear + y)] = row;
      }
      const influenzaCoverage: {
        season: string;
        band: string;
        alive: number;
        vaccinated: number;
        coverage: number | null;
      }[] = [];
      for (let s = 0; s < seasons; s++)
        for (let b = 0; b < nb; b++) {
          const alive = k.fluAlive[s * nb + b] ?? 0;
          const vaccinated = k.fluVaccinated[s * nb + b] ?? 0;
          if (alive === 0) continue;
          const y = firstSeason + s;
          influenzaCoverage.push({
            season: `${y}-${String((y + 1) % 100).padStart(2, '0')}`,
            band: FLU_BANDS[b] as string,
            alive,
            vaccinated,
            coverage: vaccinated / alive,
          });
        }
      return {
        total: VACCINE_KEYS.reduce((a, v) => a + (k.doses[v] ?? []).reduce((x, y) => x + y, 0), 0),
        dosesByYear,
        influenzaCoverage,
      };
    },
  };
};
