/**
 * One patient's life inside the window, drawn from the patient's own PRNG: demographics,
 * death, wellness visits and condition events. Hazards are piecewise constant over
 * segments (cut at calendar years, age-band birthdays and, for seasonal conditions,
 * months), so truth.json records exact person-time at risk for every stratum.
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
import { CONDITION_KEYS, CONDITIONS, annualHazard } from './conditions.js';
import type { ConditionKey, ConditionSpec } from './conditions.js';
import {
  DAYS_PER_YEAR,
  ageOn,
  birthdayAt,
  monthOf,
  monthStart,
  yearOf,
  yearStart,
} from './dates.js';
import { Random } from './random.js';
import type { TruthRecorder } from './truth.js';

const STREAM_PATIENT = 0x5041;
const NB = AGE_BANDS.length;

/** The generation window, in days since 1970-01-01, both inclusive. */
export interface SynthWindow {
  readonly startDay: number;
  readonly endDay: number;
}

export interface ConditionEvent {
  readonly key: ConditionKey;
  readonly onset: number;
  /** Last day of an acute episode; null while active at the end of the data. */
  readonly abatement: number | null;
  /** Onset before the window: recorded at the first wellness visit in the window. */
  readonly prevalentAtStart: boolean;
  readonly emergency: boolean;
}

export interface PatientHistory {
  readonly index: number;
  /** The patient's PRNG, to be used further (ids, measurements) in a fixed order. */
  readonly rng: Random;
  readonly id: string;
  readonly sex: Sex;
  readonly birth: number;
  readonly death: number | null;
  readonly place: Place;
  readonly postalCode: string;
  readonly street: string;
  readonly race: RaceChoice;
  readonly hispanic: boolean;
  readonly given: string;
  readonly family: string;
  readonly site: number;
  readonly practitioner: number;
  /** Wellness visit days, ascending. */
  readonly wellness: readonly number[];
  /** Condition events in the window (and chronic onsets before it), by onset. */
  readonly events: readonly ConditionEvent[];
}

export function simulatePatient(
  seed: number,
  index: number,
  window: SynthWindow,
  sites: number,
  practitionersPerSite: number,
  truth: TruthRecorder,
): PatientHistory {
  const rng = new Random(seed, STREAM_PATIENT, index);
  const id = rng.uuid();
  const cell = rng.pickCumulative(AGE_SEX_CUMULATIVE);
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

  const place = PLACES[rng.pickCumulative(PLACE_CUMULATIVE)] as Place;
  const postalCode = `${place.zip3}${String(rng.int(0, 99)).padStart(2, '0')}`;
  const street = `${rng.int(1, 9999)} ${rng.pick(STREET_NAMES)}`;
  const race = RACE_CHOICES[rng.pickCumulative(RACE_CUMULATIVE)] as RaceChoice;
  const hispanic = rng.chance(HISPANIC_SHARE);
  const given = rng.pick(GIVEN_NAMES[sex]);
  const family = rng.pick(FAMILY_NAMES);
  const site = rng.int(0, sites - 1);
  const practitioner = rng.int(0, practitionersPerSite - 1);

  const from = Math.max(window.startDay, birth);
  const death = simulateDeath(rng, birth, from, window.endDay + 1);
  const until = death ?? window.endDay + 1;

  const wellness: number[] = [];
  if (until > from) {
    let d = from + rng.int(0, Math.min(364, until - from - 1));
    while (d < until) {
      wellness.push(d);
      d += 365 + rng.int(-21, 21);
    }
  }

  const events: ConditionEvent[] = [];
  for (const key of CONDITION_KEYS) {
    const spec = CONDITIONS[key];
    if (spec.chronic) {
      // Onsets before the window make the prevalence at its start.
      let onset: number | null = null;
      simulateHazard(rng, spec, sex, sexIndex, birth, birth, from, null, (day) => {
        onset = day;
      });
      if (onset !== null) {
        events.push({ key, onset, abatement: null, prevalentAtStart: true, emergency: false });
        continue;
      }
    }
    simulateHazard(rng, spec, sex, sexIndex, birth, from, until, truth, (day, episode) => {
      const last = day + episode - 1;
      events.push({
        key,
        onset: day,
        abatement: spec.chronic || last > window.endDay || last >= until ? null : last,
        prevalentAtStart: false,
        emergency: !spec.chronic && rng.chance(0.15),
      });
    });
  }
  events.sort((a, b) => a.onset - b.onset);

  const bandAtEnd = ageBandIndex(ageOn(birth, window.endDay));
  truth.addPatient(bandAtEnd, sexIndex, death === null);
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
    place,
    postalCode,
    street,
    race,
    hispanic,
    given,
    family,
    site,
    practitioner,
    wellness,
    events,
  };
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
 * episodes recur, and time inside an episode is not at risk. With `truth`, person-days at
 * risk and cases go to their (year, age band, sex) stratum.
 */
function simulateHazard(
  rng: Random,
  spec: ConditionSpec,
  sex: Sex,
  sexIndex: number,
  birth: number,
  from: number,
  to: number,
  truth: TruthRecorder | null,
  onEvent: (day: number, episodeDays: number) => void,
): void {
  let cursor = from;
  while (cursor < to) {
    const band = ageBandIndex(ageOn(birth, cursor));
    const year = yearOf(cursor);
    const month = monthOf(cursor);
    let cut = to;
    if (band < NB - 1) cut = Math.min(cut, birthdayAt(birth, (band + 1) * 5));
    if (truth !== null) cut = Math.min(cut, yearStart(year + 1));
    if (spec.seasonality !== null) cut = Math.min(cut, monthStart(year, month + 1));
    const rate = annualHazard(spec, band, sex, month);
    const t = Math.floor(rng.exponential(rate) * DAYS_PER_YEAR);
    if (cursor + t < cut) {
      const onset = cursor + t;
      truth?.addRisk(spec.key, year, band, sexIndex, t);
      truth?.addCase(spec.key, year, band, sexIndex);
      const episode = spec.episodeDays === null ? 0 : rng.int(...spec.episodeDays);
      onEvent(onset, episode);
      if (spec.chronic) return;
      cursor = onset + episode;
    } else {
      truth?.addRisk(spec.key, year, band, sexIndex, cut - cursor);
      cursor = cut;
    }
  }
}
