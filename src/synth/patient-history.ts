/**
 * One patient's life inside the window, drawn from the patient's own PRNG: demographics,
 * death, wellness visits, condition events with their care (emergency, inpatient, ICU),
 * allergies and prescriptions. Hazards are piecewise constant over segments (cut at
 * calendar years, age-band birthdays, risk-factor onsets and, for seasonal conditions,
 * months), so truth.json records exact person-time at risk for every stratum.
 *
 * Deaths: a background (Gompertz) death, or earlier an in-hospital death from a fatal
 * event (myocardial infarction, stroke). Everything is first drawn up to the background
 * death, then cut at the final death: events, visits and person-time after it are dropped
 * (the fatal event depends only on the history before it, so the cut is a stopping time
 * and the rates stay unbiased).
 */
import {
  AGE_BANDS,
  AGE_SEX_CUMULATIVE,
  FAMILY_NAMES,
  GIVEN_NAMES,
  HISPANIC_SHARE,
  OLDEST_AGE,
  PLACE_CUMULATIVE,
  PLACES,
  RACE_CHOICES,
  RACE_CUMULATIVE,
  SEXES,
  STREET_NAMES,
  ageBandIndex,
  mortalityHazard,
} from './demographics.js';
import type { Place, RaceChoice, Sex } from './demographics.js';
import { CONDITION_KEYS, CONDITIONS, annualHazard, caseFatality } from './conditions.js';
import type { ConditionKey, ConditionSpec } from './conditions.js';
import { DAYS_PER_YEAR, ageOn, birthdayAt, civilFromDays, daysFromCivil } from './dates.js';
import {
  ALLERGIES,
  ALLERGY_KEYS,
  ALLERGY_OVERRIDE_RATE,
  ANTIBIOTIC_FOR,
  DRUGS,
  FIRST_LINE,
  INTERACTION,
  PRESCRIBED_FOR,
  amlodipineProbability,
} from './medications.js';
import type { AllergyKey, DrugKey } from './medications.js';
import { patientInsurance } from './insurance.js';
import type { Insurance } from './insurance.js';
import { PART_STREAMS } from './parts.js';
import { CN_AGE_SEX_CUMULATIVE, CN_CONDITION_FACTORS, drawCnPerson } from './region-cn.js';
import type { CnPerson } from './region-cn.js';
import { Random } from './random.js';
import type { RegionalExcess, SynthRegion, TruthRecorder } from './truth.js';

const STREAM_PATIENT = 0x5041;
const NB = AGE_BANDS.length;

/** The generation window, in days since 1970-01-01, both inclusive. */
export interface SynthWindow {
  readonly startDay: number;
  readonly endDay: number;
}

export interface InpatientStay {
  /** Nights; discharge on onset + nights (or death, whichever is first). */
  readonly nights: number;
  /** Days in intensive care from admission (a sub-encounter); 0 = none. */
  readonly icuDays: number;
}

export const MED_STATUS = { active: 'active', stopped: 'stopped', completed: 'completed' } as const;
export type MedStatus = (typeof MED_STATUS)[keyof typeof MED_STATUS];

export interface MedOrder {
  readonly drug: DrugKey;
  readonly status: MedStatus;
  /** The recorded allergy this prescription conflicts with, if any. */
  readonly conflict: AllergyKey | null;
}

/** An unplanned readmission for the same condition after an inpatient stay. */
export interface Readmission extends InpatientStay {
  readonly day: number;
}

/** Hypertension's first-line drug (see FIRST_LINE in medications.ts). */
export interface FirstLine {
  readonly drug: (typeof FIRST_LINE.drugs)[number];
  /** The day hypertension was recorded and the drug started. */
  readonly start: number;
  /** Bits: 1 = age >= 65, 2 = diabetes, 4 = CKD, at the start. */
  readonly stratum: number;
}

export interface ConditionEvent {
  readonly key: ConditionKey;
  readonly onset: number;
  /** Last day of an acute episode; null while active at the end of the data. */
  readonly abatement: number | null;
  /** Onset before the window: recorded at the first wellness visit in the window. */
  readonly prevalentAtStart: boolean;
  readonly emergency: boolean;
  readonly inpatient: InpatientStay | null;
  /** The patient died of this event, in hospital. */
  readonly fatal: boolean;
  /** Readmitted within 30 days of discharge (inpatient stays only). */
  readonly readmission: Readmission | null;
  /** Prescribed when the condition is recorded. */
  readonly medications: readonly MedOrder[];
}

export interface UsPerson {
  readonly region: 'us';
  readonly place: Place;
  readonly postalCode: string;
  readonly street: string;
  readonly race: RaceChoice;
  readonly hispanic: boolean;
  readonly given: string;
  readonly family: string;
}

export interface PatientHistory {
  readonly index: number;
  /** The patient's PRNG, to be used further (ids, measurements) in a fixed order. */
  readonly rng: Random;
  readonly id: string;
  readonly sex: Sex;
  readonly birth: number;
  readonly death: number | null;
  /** Minute of the day of death (UTC). */
  readonly deathMinute: number;
  /** Name, address and race/ethnicity: drawn from the region's tables. */
  readonly person: UsPerson | { readonly region: 'cn'; readonly cn: CnPerson };
  readonly site: number;
  readonly practitioner: number;
  /** Wellness visit days, ascending. */
  readonly wellness: readonly number[];
  /** Condition events in the window (and chronic onsets before it), by onset. */
  readonly events: readonly ConditionEvent[];
  /** Allergies recorded (AllergyIntolerance) at the first wellness visit. */
  readonly allergies: readonly AllergyKey[];
  /** Hypertension's first-line drug, if hypertension is recorded. */
  readonly firstLine: FirstLine | null;
  /** Income and payers over the window (insurance.ts; its own PRNG stream). */
  readonly insurance: Insurance;
  /** Last day of the window (encounters running past it are still in progress). */
  readonly endDay: number;
}

interface Draft {
  key: ConditionKey;
  onset: number;
  last: number;
  prevalentAtStart: boolean;
  emergency: boolean;
  inpatient: InpatientStay | null;
  deathDay: number | null;
  readmission: Readmission | null;
}

/** A risk factor of a condition: its onset (Infinity if none) and rate multiplier. */
interface RiskStep {
  readonly onset: number;
  readonly factor: number;
  /** Not a risk factor of truth's `byRiskFactors` (no mask bit): the treatment effect. */
  readonly unmasked?: boolean;
}

/**
 * Person-time and cases go to this log first, as (kind, condition, year, band, from, to,
 * risk mask) with kind 0 = at risk over [from, to), 1 = case on day `from`; they are cut
 * at the final death and then added to the truth. Reused across patients.
 */
const LOG: number[] = [];

export function simulatePatient(
  seed: number,
  index: number,
  window: SynthWindow,
  sites: number,
  practitionersPerSite: number,
  truth: TruthRecorder,
  region: SynthRegion = 'us',
  regionalExcess?: RegionalExcess,
): PatientHistory {
  const rng = new Random(seed, STREAM_PATIENT, index);
  const id = rng.uuid();
  const cell = rng.pickCumulative(region === 'cn' ? CN_AGE_SEX_CUMULATIVE : AGE_SEX_CUMULATIVE);
  const sexIndex = cell % 2;
  const sex = SEXES[sexIndex] as Sex;
  const band = cell >> 1;
  // The open band 85+: ages thin out roughly as the life table does (mean about 91).
  const ageAtEnd =
    band === NB - 1
      ? Math.min(OLDEST_AGE, 85 + Math.floor(rng.exponential(1 / 6)))
      : band * 5 + rng.int(0, 4);
  const earliest = birthdayAt(window.endDay, -(ageAtEnd + 1)) + 1;
  const latest = birthdayAt(window.endDay, -ageAtEnd);
  const birth = rng.int(earliest, latest);

  const person: PatientHistory['person'] =
    region === 'cn' ? { region, cn: drawCnPerson(rng, sex) } : drawUsPerson(rng, sex);
  const regionFactors: Partial<Record<ConditionKey, number>> = {
    ...(region === 'cn' ? CN_CONDITION_FACTORS : {}),
  };
  // The planted regional excess multiplies the region factor for patients living there.
  const home = person.region === 'us' ? person.place.state : person.cn.place.province;
  if (regionalExcess !== undefined && home === regionalExcess.region)
    regionFactors[regionalExcess.condition] =
      (regionFactors[regionalExcess.condition] ?? 1) * regionalExcess.factor;
  const site = rng.int(0, sites - 1);
  const practitioner = rng.int(0, practitionersPerSite - 1);
  const allergic = ALLERGY_KEYS.filter((k) => rng.chance(ALLERGIES[k].share));

  const from = Math.max(window.startDay, birth);
  const backgroundDeath = simulateDeath(rng, birth, from, window.endDay + 1);
  let until = backgroundDeath ?? window.endDay + 1;
  const deathMinute = rng.int(0, 1439);

  const visits: number[] = [];
  if (until > from) {
    let d = from + rng.int(0, Math.min(364, until - from - 1));
    while (d < until) {
      visits.push(d);
      d += 365 + rng.int(-21, 21);
    }
  }

  // The first-line choice draws from its own stream, so it leaves the patient's PRNG alone.
  const firstLineDraw = new Random(seed, PART_STREAMS.treatment, index).next();
  let firstLine: FirstLine | null = null;

  LOG.length = 0;
  // The day each age band begins (a 5-year birthday), for the hazard segments.
  const bandStarts: number[] = [];
  for (let b = 0; b < NB; b++) bandStarts.push(birthdayAt(birth, b * 5));
  const drafts: Draft[] = [];
  const chronicOnset = new Map<ConditionKey, number>();
  for (let k = 0; k < CONDITION_KEYS.length; k++) {
    const key = CONDITION_KEYS[k] as ConditionKey;
    const spec = CONDITIONS[key];
    const risks: RiskStep[] = Object.entries(spec.riskFactors).map(([rf, factor]) => ({
      onset: chronicOnset.get(rf as ConditionKey) ?? Infinity,
      factor: factor,
    }));
    // The region's rate multiplier, for life (not a risk factor of truth's byRiskFactors).
    const regionFactor = regionFactors[key];
    if (regionFactor !== undefined)
      risks.push({ onset: -Infinity, factor: regionFactor, unmasked: true });
    if (key === FIRST_LINE.outcome) {
      // Every chronic onset is known by now (hypertension, diabetes and CKD come first).
      firstLine = chooseFirstLine(chronicOnset, from, visits, birth, firstLineDraw);
      if (firstLine?.drug === 'amlodipine')
        risks.push({ onset: firstLine.start, factor: FIRST_LINE.hazardRatio, unmasked: true });
    }
    if (spec.chronic) {
      // Onsets before the window make the prevalence at its start.
      let onset: number | null = null;
      simulateHazard(rng, spec, sex, bandStarts, birth, from, null, k, risks, (day) => {
        onset = day;
      });
      if (onset !== null) {
        chronicOnset.set(key, onset);
        drafts.push({
          key,
          onset,
          last: Infinity,
          prevalentAtStart: true,
          emergency: false,
          inpatient: null,
          // Memoryless: the excess hazard runs from the window's start.
          deathDay: diesOf(rng, spec, from),
          readmission: null,
        });
        continue;
      }
    }
    simulateHazard(rng, spec, sex, bandStarts, from, until, LOG, k, risks, (day, episode) => {
      if (spec.chronic) chronicOnset.set(key, day);
      const care = spec.care;
      let emergency = false;
      let inpatient: InpatientStay | null = null;
      let deathDay: number | null = null;
      let readmission: Readmission | null = null;
      if (!spec.chronic) {
        if (care.inpatient > 0 && rng.chance(care.inpatient)) {
          const nights = rng.int(...care.stayDays);
          const icuDays = rng.chance(care.icu) ? rng.int(1, Math.max(1, nights - 1)) : 0;
          inpatient = { nights, icuDays };
          if (rng.chance(caseFatality(spec, ageOn(birth, day))))
            deathDay = day + rng.int(1, nights);
          else if (care.readmission30 > 0 && rng.chance(care.readmission30))
            readmission = {
              day: day + nights + rng.int(1, 30),
              nights: rng.int(...care.stayDays),
              icuDays: 0,
            };
        } else emergency = care.emergency > 0 && rng.chance(care.emergency);
      } else deathDay = diesOf(rng, spec, day + 1);
      drafts.push({
        key,
        onset: day,
        last: spec.chronic ? Infinity : day + episode - 1,
        prevalentAtStart: false,
        emergency,
        inpatient,
        deathDay,
        readmission,
      });
    });
  }

  // The first fatal event, if before the background death, is the death.
  let death = backgroundDeath;
  let fatalDraft: Draft | null = null;
  for (const d of drafts)
    if (
      d.deathDay !== null &&
      d.deathDay < until &&
      (fatalDraft === null || d.deathDay < (fatalDraft.deathDay as number))
    )
      fatalDraft = d;
  if (fatalDraft !== null) {
    death = fatalDraft.deathDay as number;
    until = death;
  }
  const wellness = visits.filter((d) => d < until);
  const kept = drafts.filter((d) => d.onset < until).sort((a, b) => a.onset - b.onset);

  // Prescriptions, in the order conditions are recorded: new conditions on their onset day
  // (before a wellness visit of the same day), conditions prevalent at the start at the
  // first wellness visit (none without one: they are not recorded).
  const firstVisit = wellness.length > 0 ? (wellness[0] as number) : Infinity;
  const allergies = wellness.length > 0 ? allergic : [];
  const recordOrder = [
    ...kept.filter((d) => !d.prevalentAtStart && d.onset <= firstVisit),
    ...(wellness.length > 0 ? kept.filter((d) => d.prevalentAtStart) : []),
    ...kept.filter((d) => !d.prevalentAtStart && d.onset > firstVisit),
  ];
  const longTerm = new Set<DrugKey>();
  // A new user only if the first-line drug is ordered for hypertension (lisinopril may be
  // running already, for heart failure).
  let firstLineOrdered = false;
  const meds = new Map<Draft, MedOrder[]>();
  for (const d of recordOrder) {
    const day = d.prevalentAtStart ? firstVisit : d.onset;
    const orders: MedOrder[] = [];
    const wanted: DrugKey[] = [...(PRESCRIBED_FOR[d.key] ?? [])];
    if (d.key === FIRST_LINE.condition && firstLine !== null) wanted.push(firstLine.drug);
    if (d.key === 'heartFailure' && rng.chance(INTERACTION.spironolactoneShareInHeartFailure))
      wanted.push('spironolactone');
    for (const drug of wanted) {
      if (longTerm.has(drug)) continue;
      if (d.key === FIRST_LINE.condition && drug === firstLine?.drug) firstLineOrdered = true;
      longTerm.add(drug);
      orders.push({ drug, status: death === null ? 'active' : 'stopped', conflict: null });
      truth.addPrescription(drug);
    }
    const allergy = ANTIBIOTIC_FOR[d.key];
    if (allergy !== undefined) {
      const a = ALLERGIES[allergy];
      const has = allergies.includes(allergy);
      const known = has && firstVisit < day;
      const drug =
        has && known && !rng.chance(ALLERGY_OVERRIDE_RATE) ? a.alternative : a.conflicting;
      const course = DRUGS[drug].courseDays ?? 0;
      const conflict = has && drug === a.conflicting ? allergy : null;
      orders.push({
        drug,
        status: death !== null && death < day + course ? 'stopped' : 'completed',
        conflict,
      });
      truth.addPrescription(drug);
      if (conflict !== null) truth.addAllergyConflict(conflict, known);
    }
    meds.set(d, orders);
  }
  if (longTerm.has(INTERACTION.drugs[0]) && longTerm.has(INTERACTION.drugs[1]))
    truth.addInteractionExposure();
  for (const a of allergies) truth.addAllergy(a);

  const events: ConditionEvent[] = kept.map((d) => ({
    key: d.key,
    onset: d.onset,
    abatement: d.last > window.endDay || d.last >= until ? null : d.last,
    prevalentAtStart: d.prevalentAtStart,
    emergency: d.emergency,
    inpatient: d.inpatient,
    fatal: d === fatalDraft,
    readmission: d.readmission !== null && d.readmission.day < until ? d.readmission : null,
    medications: meds.get(d) ?? [],
  }));
  // Recorded only if alive on that day (a new onset is; one from before the window needs a
  // wellness visit, the start, before death).
  const chosen = firstLine as FirstLine | null;
  const recordedFirstLine =
    chosen !== null && chosen.start < until && firstLineOrdered ? chosen : null;

  // Person-time and cases up to the final death.
  for (let i = 0; i < LOG.length; i += 7) {
    const key = CONDITION_KEYS[LOG[i + 1] as number] as ConditionKey;
    const year = LOG[i + 2] as number;
    const b = LOG[i + 3] as number;
    const a = LOG[i + 4] as number;
    const mask = LOG[i + 6] as number;
    if (LOG[i] === 0) {
      const days = Math.min(LOG[i + 5] as number, until) - a;
      if (days > 0) truth.addRisk(key, year, b, sexIndex, days, mask);
    } else if (a < until) truth.addCase(key, year, b, sexIndex, mask);
  }
  for (const e of events)
    if (e.inpatient !== null) {
      truth.addAdmission(e.key, e.inpatient.icuDays > 0, e.fatal);
      const discharge = e.onset + e.inpatient.nights;
      // Index stays with a full 30 days of follow-up in the window, discharged alive.
      if (!e.fatal && discharge + 30 <= window.endDay && (death === null || death > discharge))
        truth.addIndexStay(e.key, e.readmission !== null && e.readmission.day <= discharge + 30);
      if (e.readmission !== null) truth.addAdmission(e.key, false, false);
    }
  if (recordedFirstLine !== null && recordedFirstLine.start < window.endDay) {
    const f = recordedFirstLine;
    const stop = Math.min(until, window.endDay + 1);
    const next = events.find((e) => e.key === FIRST_LINE.outcome && e.onset > f.start);
    const end = next !== undefined && next.onset < stop ? next.onset : stop;
    truth.addFirstLine(f.drug, f.stratum, end - (f.start + 1), end < stop);
  }

  const bandAtEnd = ageBandIndex(ageOn(birth, window.endDay));
  truth.addPatient(bandAtEnd, sexIndex, death === null, fatalDraft?.key ?? null);
  if (death === null)
    for (const key of CONDITION_KEYS)
      if (CONDITIONS[key].chronic && events.some((e) => e.key === key))
        truth.addPrevalent(key, bandAtEnd);

  return {
    index,
    rng,
    id,
    sex,
    birth,
    death,
    deathMinute,
    person,
    site,
    practitioner,
    wellness,
    events,
    allergies,
    firstLine: recordedFirstLine,
    insurance: patientInsurance(seed, index, birth, death, window),
    endDay: window.endDay,
  };
}

/**
 * Hypertension's first-line drug, chosen on the day it is recorded: its onset in the window,
 * or the first wellness visit for hypertension from before the window (none without a
 * visit). `u` is a uniform draw from the treatment stream.
 */
function chooseFirstLine(
  chronicOnset: ReadonlyMap<ConditionKey, number>,
  from: number,
  visits: readonly number[],
  birth: number,
  u: number,
): FirstLine | null {
  const onset = chronicOnset.get('hypertension');
  if (onset === undefined) return null;
  const start = onset >= from ? onset : visits[0];
  if (start === undefined) return null;
  const age65 = ageOn(birth, start) >= 65;
  const diabetes = (chronicOnset.get('diabetes') ?? Infinity) <= start;
  const ckd = (chronicOnset.get('ckd') ?? Infinity) <= start;
  const drug = u < amlodipineProbability(age65, ckd, diabetes) ? 'amlodipine' : 'lisinopril';
  return { drug, start, stratum: (age65 ? 1 : 0) | (diabetes ? 2 : 0) | (ckd ? 4 : 0) };
}

/** Day of death from a condition's excess hazard counted from `from`, or null if it has none. */
function diesOf(rng: Random, spec: ConditionSpec, from: number): number | null {
  if (spec.excessMortality <= 0) return null;
  return from + Math.floor(rng.exponential(spec.excessMortality) * DAYS_PER_YEAR);
}

/** Name, address, race and ethnicity from the US tables (in this order: output depends on it). */
function drawUsPerson(rng: Random, sex: Sex): UsPerson {
  const place = PLACES[rng.pickCumulative(PLACE_CUMULATIVE)] as Place;
  const postalCode = `${place.zip3}${String(rng.int(0, 99)).padStart(2, '0')}`;
  const street = `${rng.int(1, 9999)} ${rng.pick(STREET_NAMES)}`;
  const race = RACE_CHOICES[rng.pickCumulative(RACE_CUMULATIVE)] as RaceChoice;
  const hispanic = rng.chance(HISPANIC_SHARE);
  const given = rng.pick(GIVEN_NAMES[sex]);
  const family = rng.pick(FAMILY_NAMES);
  return { region: 'us', place, postalCode, street, race, hispanic, given, family };
}

/** Day of death in [from, to), or null: Gompertz hazard, constant within a year of age. */
function simulateDeath(rng: Random, birth: number, from: number, to: number): number | null {
  let cursor = from;
  while (cursor < to) {
    const age = ageOn(birth, cursor);
    const cut = Math.min(to, birthdayAt(birth, age + 1));
    const t = Math.floor(rng.exponential(mortalityHazard(age)) * DAYS_PER_YEAR);
    if (cursor + t < cut) return cursor + t;
    cursor = cut;
  }
  return null;
}

/**
 * Draws events of `spec` in [from, to). Chronic conditions stop at the first onset; acute
 * episodes recur, and time inside an episode is not at risk. The rate is multiplied by each
 * risk factor present. With `log`, person-days at risk and cases are logged with their
 * (year, age band, risk mask) stratum.
 */
function simulateHazard(
  rng: Random,
  spec: ConditionSpec,
  sex: Sex,
  bandStarts: readonly number[],
  from: number,
  to: number,
  log: number[] | null,
  keyIndex: number,
  risks: readonly RiskStep[],
  onEvent: (day: number, episodeDays: number) => void,
): void {
  let cursor = from;
  while (cursor < to) {
    let band = 0;
    while (band < NB - 1 && (bandStarts[band + 1] as number) <= cursor) band++;
    const monthIndex = civilMonth(cursor);
    const year = Math.floor(monthIndex / 12);
    const month = monthIndex - year * 12;
    let cut = to;
    if (band < NB - 1) cut = Math.min(cut, bandStarts[band + 1] as number);
    if (log !== null) cut = Math.min(cut, firstOfMonth(year + 1, 0));
    if (spec.seasonality !== null) cut = Math.min(cut, firstOfMonth(year, month + 1));
    let factor = 1;
    let mask = 0;
    for (let i = 0; i < risks.length; i++) {
      const r = risks[i] as RiskStep;
      if (r.onset <= cursor) {
        factor *= r.factor;
        if (r.unmasked !== true) mask |= 1 << i;
      } else if (r.onset < cut) cut = r.onset;
    }
    const rate = annualHazard(spec, band, sex, month) * factor;
    const t = Math.floor(rng.exponential(rate) * DAYS_PER_YEAR);
    if (cursor + t < cut) {
      const onset = cursor + t;
      log?.push(
        0,
        keyIndex,
        year,
        band,
        cursor,
        onset,
        mask,
        1,
        keyIndex,
        year,
        band,
        onset,
        0,
        mask,
      );
      const episode = spec.episodeDays === null ? 0 : rng.int(...spec.episodeDays);
      onEvent(onset, episode);
      if (spec.chronic) return;
      cursor = onset + episode;
    } else {
      log?.push(0, keyIndex, year, band, cursor, cut, mask);
      cursor = cut;
    }
  }
}

/** year * 12 + month (0-based) of a day since 1970-01-01. */
function civilMonth(day: number): number {
  const c = civilFromDays(day);
  return Math.floor(c / 10000) * 12 + (Math.floor(c / 100) % 100) - 1;
}

/** Day of the first of `month` (0-based, may be 12) in `year`. */
function firstOfMonth(year: number, month: number): number {
  return daysFromCivil(year + Math.floor(month / 12), (month % 12) + 1, 1);
}
