/**
 * The `procedures` part: FHIR `Procedure` resources (US Core shape, SNOMED CT codes) driven
 * by the core history and attached to the Encounters the core emitted: cardiac procedures
 * for myocardial infarctions, thrombolysis for strokes, hip fracture surgery, intubation and
 * ventilation in intensive care, ECG, spirometry and PHQ-9 at diagnoses, and screening /
 * medication reconciliation at wellness visits. Every procedure lies inside its encounter,
 * before death and inside the window. Codes, rates and sources: docs/synth-procedures.md.
 */
import { CONDITIONS, CONDITION_KEYS } from './conditions.js';
import type { ConditionKey } from './conditions.js';
import { ageOn, dayToIso, yearOf } from './dates.js';
import { DRUGS } from './medications.js';
import type { ConditionEvent, PatientHistory } from './patient-history.js';
import { PART_STREAMS } from './parts.js';
import type { Counters, PatientOutput, SynthPart, SynthPartFactory, SynthRun } from './parts.js';
import type { Random } from './random.js';
import type { JsonResource } from './shared-resources.js';

const SNOMED = 'http://snomed.info/sct';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
const MINUTES_PER_DAY = 1440;

/** Wellness encounter types the core uses (well child, general examination). */
const WELLNESS_TYPES = new Set(['410620009', '162673000']);

// ---------------------------------------------------------------------------------------
// Index of the core's Encounters and Conditions of one patient (shared with immunizations).
// ---------------------------------------------------------------------------------------

/** What a part needs of an emitted Encounter; times in minutes since 1970-01-01 UTC. */
export interface EncounterInfo {
  readonly id: string;
  /** v3-ActCode class: AMB, EMER or IMP. */
  readonly cls: string;
  /** SNOMED CT encounter type. */
  readonly type: string;
  readonly start: number;
  /** null while in progress at the end of the window. */
  readonly end: number | null;
  readonly day: number;
  /** `Location/...` reference. */
  readonly location: string | null;
  /** `Practitioner/...` reference of the primary performer. */
  readonly practitioner: string | null;
  /** `Encounter/...` reference of the parent stay (ICU sub-encounters). */
  readonly partOf: string | null;
}

export interface PatientIndex {
  /** Encounters by start. */
  readonly encounters: readonly EncounterInfo[];
  readonly byId: ReadonlyMap<string, EncounterInfo>;
  /** Condition id and encounter by `snomedCode|onsetDate`. */
  readonly conditions: ReadonlyMap<string, { id: string; encounter: string | null }>;
  /** The last minute the patient's data may use: death or the window's end. */
  readonly limit: number;
}

const minutesOf = (iso: unknown): number | null =>
  typeof iso === 'string' ? Math.round(Date.parse(iso) / 60_000) : null;

/** A FHIR dateTime (UTC, seconds) of a minute since 1970-01-01. */
export const minuteToIso = (minute: number): string =>
  new Date(minute * 60_000).toISOString().slice(0, 19) + 'Z';

function refOf(v: unknown): string | null {
  if (v !== null && typeof v === 'object') {
    const r = (v as Record<string, unknown>)['reference'];
    if (typeof r === 'string') return r;
  }
  return null;
}

function firstCode(cc: unknown): string {
  const coding = Array.isArray(cc) ? (cc[0] as Record<string, unknown> | undefined) : cc;
  const list = (coding as Record<string, unknown> | undefined)?.['coding'];
  const c = Array.isArray(list) ? (list[0] as Record<string, unknown> | undefined) : undefined;
  return typeof c?.['code'] === 'string' ? c['code'] : '';
}

/** Reads the patient's Encounters and Conditions from the resources emitted so far. */
export function indexPatient(out: PatientOutput, endDay: number): PatientIndex {
  const h = out.history;
  const encounters: EncounterInfo[] = [];
  const conditions = new Map<string, { id: string; encounter: string | null }>();
  for (const r of out.resources) {
    if (r.resourceType === 'Encounter') {
      const period = r['period'] as Record<string, unknown>;
      const start = minutesOf(period['start']) as number;
      const loc = (r['location'] as { location: unknown }[] | undefined)?.[0]?.location;
      const part = (r['participant'] as { individual?: unknown }[] | undefined)?.[0]?.individual;
      encounters.push({
        id: r.id,
        cls: String((r['class'] as Record<string, unknown>)['code']),
        type: firstCode(r['type']),
        start,
        end: minutesOf(period['end']),
        day: Math.floor(start / MINUTES_PER_DAY),
        location: refOf(loc),
        practitioner: refOf(part),
        partOf: refOf(r['partOf']),
      });
    } else if (r.resourceType === 'Condition') {
      const onset = r['onsetDateTime'];
      if (typeof onset === 'string')
        conditions.set(`${firstCode(r['code'])}|${onset}`, {
          id: r.id,
          encounter: refOf(r['encounter']),
        });
    }
  }
  encounters.sort((a, b) => a.start - b.start);
  const windowEnd = (endDay + 1) * MINUTES_PER_DAY - 1;
  const limit =
    h.death === null ? windowEnd : Math.min(windowEnd, h.death * MINUTES_PER_DAY + h.deathMinute);
  return { encounters, byId: new Map(encounters.map((e) => [e.id, e])), conditions, limit };
}

/** The Condition resource of a (new, not prevalent) condition event and its encounter. */
export function eventRecord(
  index: PatientIndex,
  e: ConditionEvent,
): { conditionId: string; encounter: EncounterInfo } | null {
  const c = index.conditions.get(`${CONDITIONS[e.key].snomed.code}|${dayToIso(e.onset)}`);
  if (c === undefined || c.encounter === null) return null;
  const encounter = index.byId.get(c.encounter.slice('Encounter/'.length));
  return encounter === undefined ? null : { conditionId: c.id, encounter };
}

/** The wellness encounter on `day`, if the core emitted one. */
export function wellnessEncounter(index: PatientIndex, day: number): EncounterInfo | null {
  return index.encounters.find((e) => e.day === day && WELLNESS_TYPES.has(e.type)) ?? null;
}

// ---------------------------------------------------------------------------------------
// Codes and rates.
// ---------------------------------------------------------------------------------------

export const PROCEDURE_CODES = {
  ecg: { code: '29303009', display: 'Electrocardiographic procedure' },
  coronaryAngiography: { code: '33367005', display: 'Angiography of coronary artery (procedure)' },
  pci: { code: '415070008', display: 'Percutaneous coronary intervention (procedure)' },
  cabg: { code: '232717009', display: 'Coronary artery bypass graft' },
  thrombolysis: { code: '426347000', display: 'Thrombolytic therapy' },
  hemiarthroplasty: { code: '386649003', display: 'Partial hip replacement by prosthesis' },
  internalFixation: {
    code: '265132005',
    display:
      'Primary open reduction and internal fixation of proximal femoral fracture with screw/nail and plate device',
  },
  totalHipReplacement: { code: '52734007', display: 'Total replacement of hip' },
  intubation: { code: '112798008', display: 'Insertion of endotracheal tube (procedure)' },
  ventilation: { code: '40617009', display: 'Artificial respiration' },
  spirometry: { code: '127783003', display: 'Spirometry (procedure)' },
  phq9: {
    code: '715252007',
    display: 'Depression screening using Patient Health Questionnaire Nine Item score (procedure)',
  },
  depressionScreening: { code: '171207006', display: 'Depression screening (procedure)' },
  medicationReconciliation: {
    code: '430193006',
    display: 'Medication Reconciliation (procedure)',
  },
  colonoscopy: { code: '73761001', display: 'Colonoscopy' },
} as const;
export type ProcedureKey = keyof typeof PROCEDURE_CODES;
export const PROCEDURE_KEYS = Object.keys(PROCEDURE_CODES) as ProcedureKey[];

/** Probabilities (assumptions shaped after the sources in docs/synth-procedures.md). */
export const PROCEDURE_RATES = {
  myocardialInfarction: {
    ecg: 1,
    angiography: 0.7,
    pciGivenAngiography: 0.65,
    cabgGivenAngiography: 0.08,
  },
  stroke: { ecg: 0.9, thrombolysis: 0.1 },
  hipFracture: { surgery: 0.95, hemiarthroplasty: 0.4, internalFixation: 0.5, totalHip: 0.1 },
  heartFailure: { ecg: 0.9 },
  /** Share of ICU stays intubated and ventilated. */
  icuVentilation: { pneumonia: 0.4, other: 0.2 },
  spirometry: { copd: 0.35, asthma: 0.5, minAge: 5 },
  phq9AtDepressionDiagnosis: 0.9,
  wellness: {
    /** Per wellness visit, ages 12+. */
    depressionScreening: 0.4,
    /** Per wellness visit of a patient with a long-term prescription. */
    medicationReconciliation: 0.85,
    colonoscopyAges: [50, 75],
    /** Due (no colonoscopy in 10 years): chance per wellness visit. */
    colonoscopyPerDueVisit: 0.2,
    /** At the first eligible visit (age 51+): a colonoscopy before the window. */
    colonoscopyBefore: 0.5,
  },
} as const;

const REASON_KEYS = [...CONDITION_KEYS, 'none'] as const;
type ReasonKey = (typeof REASON_KEYS)[number];
/** Diagnosis episodes counted as denominators of the per-episode shares. */
const EPISODE_KEYS = [
  'myocardialInfarction',
  'stroke',
  'hipFracture',
  'heartFailure',
  'copd',
  'asthma',
  'depression',
] as const satisfies readonly ConditionKey[];

interface ProcedureCounters {
  /** Procedures by code key, then by calendar year (index from the window's first year). */
  byCodeYear: Record<string, number[]>;
  /** Procedures by reason (condition key or none), then code key. */
  byReason: Record<string, Record<string, number>>;
  /** Diagnosis episodes found in the output (denominators), ICU stays, wellness visits. */
  episodes: Record<string, number>;
}

function zeroCounters(years: number): ProcedureCounters {
  const byCodeYear: Record<string, number[]> = {};
  for (const k of PROCEDURE_KEYS) byCodeYear[k] = new Array<number>(years).fill(0);
  const byReason: Record<string, Record<string, number>> = {};
  for (const r of REASON_KEYS) {
    byReason[r] = {};
    for (const k of PROCEDURE_KEYS) (byReason[r] as Record<string, number>)[k] = 0;
  }
  const episodes: Record<string, number> = { icuStays: 0, wellnessVisits: 0 };
  for (const k of EPISODE_KEYS) episodes[k] = 0;
  return { byCodeYear, byReason, episodes };
}

// ---------------------------------------------------------------------------------------
// The part.
// ---------------------------------------------------------------------------------------

export const proceduresPart: SynthPartFactory = (run: SynthRun): SynthPart => {
  const firstYear = yearOf(run.window.startDay);
  const years = yearOf(run.window.endDay) - firstYear + 1;
  const c = zeroCounters(years);

  return {
    name: 'procedures',
    stream: PART_STREAMS.procedures,
    resourceTypes: ['Procedure'],
    patient(out: PatientOutput, rng: Random): void {
      const h: PatientHistory = out.history;
      const index = indexPatient(out, run.window.endDay);
      const patientRef = { reference: `Patient/${h.id}` };

      /**
       * Emits one procedure from `start` for `minutes`, cut at the encounter's end, death and
       * the window's end; nothing if it would start after them. Returns its end minute.
       */
      const emit = (
        key: ProcedureKey,
        enc: EncounterInfo,
        start: number,
        minutes: number,
        reason: { key: ConditionKey; conditionId: string } | null,
      ): number | null => {
        const limit = Math.min(enc.end ?? Infinity, index.limit);
        const from = Math.max(start, enc.start);
        if (from >= limit) return null;
        const to = Math.min(from + Math.max(1, minutes), limit);
        const code = PROCEDURE_CODES[key];
        out.resources.push({
          resourceType: 'Procedure',
          id: rng.uuid(),
          meta: { profile: [US_CORE + 'us-core-procedure'] },
          status: 'completed',
          code: {
            coding: [{ system: SNOMED, code: code.code, display: code.display }],
            text: code.display,
          },
          subject: patientRef,
          encounter: { reference: `Encounter/${enc.id}` },
          performedPeriod: { start: minuteToIso(from), end: minuteToIso(to) },
          ...(enc.practitioner === null
            ? {}
            : { performer: [{ actor: { reference: enc.practitioner } }] }),
          ...(enc.location === null ? {} : { location: { reference: enc.location } }),
          ...(reason === null
            ? {}
            : { reasonReference: [{ reference: `Condition/${reason.conditionId}` }] }),
        } satisfies JsonResource);
        const y = yearOf(Math.floor(from / MINUTES_PER_DAY)) - firstYear;
        (c.byCodeYear[key] as number[])[y] = ((c.byCodeYear[key] as number[])[y] ?? 0) + 1;
        const rk: ReasonKey = reason === null ? 'none' : reason.key;
        const row = c.byReason[rk] as Record<string, number>;
        row[key] = (row[key] ?? 0) + 1;
        return to;
      };

      // Diagnosis and admission procedures, in onset order.
      for (const e of h.events) {
        if (e.prevalentAtStart) continue;
        const rec = eventRecord(index, e);
        if (rec === null) continue;
        const enc = rec.encounter;
        const reason = { key: e.key, conditionId: rec.conditionId };
        if ((EPISODE_KEYS as readonly string[]).includes(e.key))
          c.episodes[e.key] = (c.episodes[e.key] ?? 0) + 1;
        const t0 = enc.start;
        const age = ageOn(h.birth, e.onset);
        switch (e.key) {
          case 'myocardialInfarction': {
            const r = PROCEDURE_RATES.myocardialInfarction;
            if (rng.chance(r.ecg)) emit('ecg', enc, t0 + rng.int(5, 15), rng.int(5, 10), reason);
            if (enc.cls === 'IMP' && rng.chance(r.angiography)) {
              const end = emit(
                'coronaryAngiography',
                enc,
                t0 + rng.int(30, 180),
                rng.int(30, 60),
                reason,
              );
              const u = rng.next();
              if (end !== null && u < r.pciGivenAngiography)
                emit('pci', enc, end, rng.int(30, 90), reason);
              else if (end !== null && u < r.pciGivenAngiography + r.cabgGivenAngiography) {
                const day = Math.floor(t0 / MINUTES_PER_DAY) + rng.int(1, 3);
                emit(
                  'cabg',
                  enc,
                  day * MINUTES_PER_DAY + rng.int(7 * 60, 10 * 60),
                  rng.int(180, 300),
                  reason,
                );
              }
            }
            break;
          }
          case 'stroke': {
            const r = PROCEDURE_RATES.stroke;
            if (rng.chance(r.ecg)) emit('ecg', enc, t0 + rng.int(10, 30), rng.int(5, 10), reason);
            if (enc.cls === 'IMP' && rng.chance(r.thrombolysis))
              emit('thrombolysis', enc, t0 + rng.int(30, 90), 60, reason);
            break;
          }
          case 'hipFracture': {
            const r = PROCEDURE_RATES.hipFracture;
            if (enc.cls === 'IMP' && rng.chance(r.surgery)) {
              const u = rng.next();
              const key: ProcedureKey =
                u < r.hemiarthroplasty
                  ? 'hemiarthroplasty'
                  : u < r.hemiarthroplasty + r.internalFixation
                    ? 'internalFixation'
                    : 'totalHipReplacement';
              emit(key, enc, t0 + rng.int(6 * 60, 36 * 60), rng.int(60, 150), reason);
            }
            break;
          }
          case 'heartFailure':
            if (rng.chance(PROCEDURE_RATES.heartFailure.ecg))
              emit('ecg', enc, t0 + rng.int(5, 10), rng.int(5, 10), reason);
            break;
          case 'copd':
          case 'asthma':
            if (
              age >= PROCEDURE_RATES.spirometry.minAge &&
              rng.chance(PROCEDURE_RATES.spirometry[e.key])
            )
              emit('spirometry', enc, t0 + rng.int(5, 10), rng.int(15, 30), reason);
            break;
          case 'depression':
            if (rng.chance(PROCEDURE_RATES.phq9AtDepressionDiagnosis))
              emit('phq9', enc, t0 + rng.int(2, 10), rng.int(5, 10), reason);
            break;
          default:
            break;
        }
        // Intensive care: intubation, then ventilation for part of the ICU stay.
        if (enc.cls === 'IMP' && e.inpatient !== null && e.inpatient.icuDays > 0) {
          const icu = index.encounters.find((x) => x.partOf === `Encounter/${enc.id}`);
          if (icu !== undefined) {
            c.episodes['icuStays'] = (c.episodes['icuStays'] ?? 0) + 1;
            const share =
              e.key === 'pneumonia'
                ? PROCEDURE_RATES.icuVentilation.pneumonia
                : PROCEDURE_RATES.icuVentilation.other;
            if (rng.chance(share)) {
              const end = emit(
                'intubation',
                icu,
                icu.start + rng.int(15, 120),
                rng.int(10, 20),
                reason,
              );
              if (end !== null)
                emit(
                  'ventilation',
                  icu,
                  end,
                  rng.int(1, e.inpatient.icuDays) * MINUTES_PER_DAY - rng.int(60, 600),
                  reason,
                );
            }
          }
        }
      }

      // Wellness visits: screening and medication reconciliation.
      const w = PROCEDURE_RATES.wellness;
      const firstVisit = h.wellness[0] ?? Infinity;
      let lastColonoscopy: number | null = null;
      let colonoscopyInit = false;
      for (const day of h.wellness) {
        const enc = wellnessEncounter(index, day);
        if (enc === null) continue;
        c.episodes['wellnessVisits'] = (c.episodes['wellnessVisits'] ?? 0) + 1;
        const age = ageOn(h.birth, day);
        const longTerm = h.events.some(
          (e) =>
            (e.prevalentAtStart ? firstVisit : e.onset) <= day &&
            e.medications.some((m) => DRUGS[m.drug].courseDays === null),
        );
        let t = enc.start + rng.int(5, 10);
        if (longTerm && rng.chance(w.medicationReconciliation))
          t = emit('medicationReconciliation', enc, t, rng.int(5, 15), null) ?? t;
        if (age >= 12 && rng.chance(w.depressionScreening))
          t = emit('depressionScreening', enc, t, rng.int(5, 10), null) ?? t;
        if (age >= w.colonoscopyAges[0] && age <= w.colonoscopyAges[1]) {
          if (!colonoscopyInit) {
            colonoscopyInit = true;
            // A colonoscopy before the window, as likely as one inside it would be.
            if (age > w.colonoscopyAges[0] && rng.chance(w.colonoscopyBefore))
              lastColonoscopy = day - rng.int(1, Math.min(9, age - w.colonoscopyAges[0]) * 365);
          }
          const due = lastColonoscopy === null || day - lastColonoscopy >= 3652;
          if (due && rng.chance(w.colonoscopyPerDueVisit)) {
            if (emit('colonoscopy', enc, t, rng.int(20, 45), null) !== null) lastColonoscopy = day;
          }
        }
      }
    },
    parameters(): unknown {
      return { codes: PROCEDURE_CODES, rates: PROCEDURE_RATES, system: SNOMED };
    },
    counters(): Counters {
      return c as unknown as Counters;
    },
    realised(counters: Counters): unknown {
      const k = counters as unknown as ProcedureCounters;
      const total = (key: string): number => (k.byCodeYear[key] ?? []).reduce((a, b) => a + b, 0);
      const byYear: Record<string, Record<string, number>> = {};
      for (let y = 0; y < years; y++) {
        const row: Record<string, number> = {};
        for (const key of PROCEDURE_KEYS) row[key] = k.byCodeYear[key]?.[y] ?? 0;
        byYear[String(firstYear + y)] = row;
      }
      const byReason: Record<string, Record<string, number>> = {};
      for (const r of REASON_KEYS) {
        const row: Record<string, number> = {};
        for (const key of PROCEDURE_KEYS) {
          const n = k.byReason[r]?.[key] ?? 0;
          if (n > 0) row[key] = n;
        }
        if (Object.keys(row).length > 0) byReason[r] = row;
      }
      const share = (n: number, d: number): number | null => (d > 0 ? n / d : null);
      const ep = (key: string): number => k.episodes[key] ?? 0;
      const reasonCount = (r: string, key: string): number => k.byReason[r]?.[key] ?? 0;
      return {
        total: PROCEDURE_KEYS.reduce((a, key) => a + total(key), 0),
        byCode: Object.fromEntries(
          PROCEDURE_KEYS.map((key) => [
            key,
            { code: PROCEDURE_CODES[key].code, count: total(key) },
          ]),
        ),
        byYear,
        byReason,
        episodes: { ...k.episodes },
        /** Realised shares of episodes (compare with parameters.rates). */
        shares: {
          myocardialInfarctionAngiography: share(
            reasonCount('myocardialInfarction', 'coronaryAngiography'),
            ep('myocardialInfarction'),
          ),
          myocardialInfarctionPci: share(
            reasonCount('myocardialInfarction', 'pci'),
            ep('myocardialInfarction'),
          ),
          strokeThrombolysis: share(reasonCount('stroke', 'thrombolysis'), ep('stroke')),
          hipFractureSurgery: share(
            reasonCount('hipFracture', 'hemiarthroplasty') +
              reasonCount('hipFracture', 'internalFixation') +
              reasonCount('hipFracture', 'totalHipReplacement'),
            ep('hipFracture'),
          ),
          icuIntubation: share(total('intubation'), ep('icuStays')),
          copdSpirometry: share(reasonCount('copd', 'spirometry'), ep('copd')),
          depressionPhq9: share(reasonCount('depression', 'phq9'), ep('depression')),
          wellnessDepressionScreening: share(total('depressionScreening'), ep('wellnessVisits')),
        },
      };
    },
  };
};
