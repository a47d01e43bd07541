/**
 * A randomised, double-blind, placebo-controlled phase 3 trial inside the synthetic
 * population (MEDLAKE-SYN-001): adults 40-80 with type 2 diabetes recorded in the core
 * history are screened on a day inside the enrolment period, a fixed share of the eligible
 * consent and are randomised 1:1 to the study drug MLK-0101 or placebo. Subjects have
 * quarterly trial visits (vital signs, HbA1c, a dispensed supply of the study medication),
 * adverse events at known rates per arm, drop-outs, and a time-to-event primary endpoint
 * (first major adverse cardiovascular event, MACE) drawn here: exponential with a baseline
 * hazard and a true hazard ratio for the study drug, censored at the end of planned
 * follow-up, the end of the window, drop-out and the core's death.
 *
 * Randomisation is simple (a fair coin per subject from the subject's own PRNG), not in
 * blocks: a block would tie a subject's arm to other patients, while every patient must
 * depend only on (seed, index) so that patients can be generated in any order or worker.
 *
 * Every trial resource carries a meta.tag with the study id (TRIAL_TAG), so the SDTM writer
 * (write-sdtm.ts) and analyses can pick them out of a patient's resources.
 */
import {
  BP_PROFILE,
  LABORATORY,
  VITAL_SIGNS,
  bloodPressure,
  loinc,
  quantity,
} from './fhir-values.js';
import type { ConditionKey } from './conditions.js';
import { DAYS_PER_YEAR, ageOn, dayTimeToIso, dayToIso } from './dates.js';
import { PART_STREAMS, partRandom } from './parts.js';
import type { Counters, SynthPart, SynthPartFactory, SynthRun } from './parts.js';
import type { PatientHistory } from './patient-history.js';
import type { Random } from './random.js';
import type { JsonResource, Site } from './shared-resources.js';

export const STUDY_ID = 'MEDLAKE-SYN-001';
export const STUDY_TITLE =
  'A randomised, double-blind, placebo-controlled trial of MLK-0101 on cardiovascular ' +
  'outcomes in adults with type 2 diabetes (synthetic)';

const SNOMED = 'http://snomed.info/sct';
/** MedDRA in FHIR (terminology.hl7.org). */
export const MEDDRA = 'http://terminology.hl7.org/CodeSystem/mdr';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
/** medlake-defined systems of the synthetic trial. */
export const STUDY_SYSTEM = 'https://medlake.org/fhir/synth/research-study';
export const USUBJID_SYSTEM = 'https://medlake.org/fhir/synth/usubjid';
export const TRIAL_VISIT_SYSTEM = 'https://medlake.org/fhir/CodeSystem/trial-visit';
export const ENDPOINT_SYSTEM = 'https://medlake.org/fhir/CodeSystem/trial-endpoint';
export const PRODUCT_SYSTEM = 'https://medlake.org/fhir/CodeSystem/investigational-product';
/** R4 AdverseEvent has no end date: the day the event resolved, as an extension. */
export const AE_END_EXTENSION_URL =
  'https://medlake.org/fhir/StructureDefinition/adverse-event-end';
/** The tag on every resource of the trial. */
export const TRIAL_TAG = { system: STUDY_SYSTEM, code: STUDY_ID, display: 'MEDLAKE-SYN-001 trial' };

/** The two arms, index 0 = study drug, 1 = placebo (ResearchStudy.arm name = ARMCD). */
export const ARMS = [
  {
    armcd: 'MLK10',
    arm: 'MLK-0101 10 mg',
    type: 'Experimental',
    product: { code: 'MLK-0101-10', display: 'MLK-0101 10 mg oral tablet' },
    extrt: 'MLK-0101',
  },
  {
    armcd: 'PBO',
    arm: 'Placebo',
    type: 'Placebo Comparator',
    product: { code: 'PLACEBO', display: 'Placebo oral tablet' },
    extrt: 'PLACEBO',
  },
] as const;

/** Adverse event terms: SNOMED CT finding and MedDRA preferred term, rates per 100 PY by arm. */
export const AE_TERMS = {
  nausea: {
    snomed: { code: '422587007', display: 'Nausea (finding)' },
    meddra: { code: '10028813', display: 'Nausea' },
    per100py: [12, 5],
    serious: 0.01,
  },
  diarrhoea: {
    snomed: { code: '62315008', display: 'Diarrhea (finding)' },
    meddra: { code: '10012735', display: 'Diarrhoea' },
    per100py: [8, 4],
    serious: 0.01,
  },
  hypoglycaemia: {
    snomed: { code: '302866003', display: 'Hypoglycemia (disorder)' },
    meddra: { code: '10020993', display: 'Hypoglycaemia' },
    per100py: [6, 2],
    serious: 0.1,
  },
  headache: {
    snomed: { code: '25064002', display: 'Headache (finding)' },
    meddra: { code: '10019211', display: 'Headache' },
    per100py: [6, 6],
    serious: 0,
  },
  dizziness: {
    snomed: { code: '404640003', display: 'Dizziness (finding)' },
    meddra: { code: '10013573', display: 'Dizziness' },
    per100py: [3, 3],
    serious: 0.02,
  },
  nasopharyngitis: {
    snomed: { code: '82272006', display: 'Common cold (disorder)' },
    meddra: { code: '10028810', display: 'Nasopharyngitis' },
    per100py: [10, 10],
    serious: 0,
  },
} as const;
export type AeTerm = keyof typeof AE_TERMS;
export const AE_TERM_KEYS = Object.keys(AE_TERMS) as AeTerm[];

/** Severity shares (mild, moderate, severe) of every adverse event. */
export const AE_SEVERITY = [
  { code: 'mild', display: 'Mild', share: 0.6 },
  { code: 'moderate', display: 'Moderate', share: 0.3 },
  { code: 'severe', display: 'Severe', share: 0.1 },
] as const;

/** MACE components drawn for the primary endpoint (non-fatal), with their shares. */
export const ENDPOINT_EVENTS = [
  {
    snomed: { code: '22298006', display: 'Myocardial infarction (disorder)' },
    text: 'Non-fatal myocardial infarction',
    share: 0.6,
  },
  {
    snomed: { code: '230690007', display: 'Cerebrovascular accident (disorder)' },
    text: 'Non-fatal stroke',
    share: 0.4,
  },
] as const;

/** Fixed design parameters (see docs/synth-trial.md for their reasoning). */
export const TRIAL = {
  minAge: 40,
  maxAge: 80,
  /** Share of eligible screened patients who consent and are randomised. */
  enrolmentFraction: 0.5,
  /** Enrolment runs from the window start for this many years (at most the whole window). */
  enrolmentYears: 2,
  /** Planned follow-up from randomisation. */
  followUpYears: 3,
  visitIntervalDays: 91,
  /** Primary endpoint: MACE hazard per year on placebo, and the true hazard ratio of the drug. */
  baselineHazardPerYear: 0.06,
  hazardRatio: 0.75,
  /** Withdrawal of consent, per year, both arms. */
  dropoutPerYear: 0.08,
  dose: { value: 10, unit: 'mg' },
  /** HbA1c: baseline mean/sd (%), mean fall at full effect by arm, visit noise sd. */
  hba1c: { baseline: 8.2, sd: 0.8, effect: [0.9, 0.2], noise: 0.3 },
} as const;

/** Disposition of a subject at the end of the data. */
export const DISPOSITIONS = ['completed', 'withdrawn', 'death', 'ongoing'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

/** Day the enrolment period starts / ends (inclusive), and the planned end of the study. */
export function trialCalendar(run: SynthRun): {
  enrolStart: number;
  enrolEnd: number;
  studyEnd: number;
} {
  const enrolStart = run.window.startDay;
  const enrolEnd = Math.min(
    run.window.endDay,
    enrolStart + Math.round(TRIAL.enrolmentYears * DAYS_PER_YEAR) - 1,
  );
  const studyEnd = enrolEnd + Math.round(TRIAL.followUpYears * DAYS_PER_YEAR);
  return { enrolStart, enrolEnd, studyEnd };
}

/** Ids of the shared resources, from their own PRNG (no patient index can reach it). */
function sharedIds(seed: number): { study: string; products: [string, string] } {
  const rng = partRandom(seed, PART_STREAMS.trial, Number.MAX_SAFE_INTEGER);
  return { study: rng.uuid(), products: [rng.uuid(), rng.uuid()] };
}

const meta = (profile?: string): Record<string, unknown> => ({
  ...(profile === undefined ? {} : { profile: [profile] }),
  tag: [TRIAL_TAG],
});

/** Visit number (1 = baseline / randomisation) and its SDTM VISIT name. */
export function visitName(visitNum: number): string {
  return visitNum === 1 ? 'BASELINE' : `WEEK ${13 * (visitNum - 1)}`;
}

/** The day type 2 diabetes is first recorded in the core's output (null: never). */
function diabetesRecordedDay(h: PatientHistory): number | null {
  const key: ConditionKey = 'diabetes';
  const e = h.events.find((x) => x.key === key);
  if (e === undefined) return null;
  if (!e.prevalentAtStart) return e.onset;
  return h.wellness.length > 0 ? (h.wellness[0] as number) : null;
}

const zeros = (): number[] => [0, 0];

type TrialCounters = {
  screened: number;
  eligible: number;
  randomized: number[];
  events: number[];
  /** Person-days at risk for the primary endpoint (randomisation to event or censoring). */
  riskDays: number[];
  /** Person-days on study (randomisation to end of follow-up), the AE denominator. */
  studyDays: number[];
  disposition: Record<Disposition, number[]>;
  ae: Record<AeTerm, number[]>;
  aeSerious: number[];
  visits: number[];
};

function newCounters(): TrialCounters {
  return {
    screened: 0,
    eligible: 0,
    randomized: zeros(),
    events: zeros(),
    riskDays: zeros(),
    studyDays: zeros(),
    disposition: {
      completed: zeros(),
      withdrawn: zeros(),
      death: zeros(),
      ongoing: zeros(),
    },
    ae: Object.fromEntries(AE_TERM_KEYS.map((k) => [k, zeros()])) as Record<AeTerm, number[]>,
    aeSerious: zeros(),
    visits: zeros(),
  };
}

const inc = (a: number[], arm: number, by = 1): void => {
  a[arm] = (a[arm] ?? 0) + by;
};

export const trialPart: SynthPartFactory = (run: SynthRun): SynthPart => {
  const c = newCounters();
  const cal = trialCalendar(run);
  const ids = sharedIds(run.args.seed);
  const studyRef = { reference: `ResearchStudy/${ids.study}` };
  const lastDataDay = run.window.endDay;

  return {
    name: 'trial',
    stream: PART_STREAMS.trial,
    resourceTypes: [
      'ResearchStudy',
      'Medication',
      'ResearchSubject',
      'Encounter',
      'Observation',
      'MedicationAdministration',
      'AdverseEvent',
    ],

    shared(r: SynthRun): JsonResource[] {
      const sponsor = r.sites[0];
      const study: JsonResource = {
        resourceType: 'ResearchStudy',
        id: ids.study,
        meta: meta(),
        identifier: [{ system: STUDY_SYSTEM, value: STUDY_ID }],
        title: STUDY_TITLE,
        status: cal.studyEnd <= lastDataDay ? 'completed' : 'active',
        primaryPurposeType: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/research-study-prim-purp-type',
              code: 'treatment',
              display: 'Treatment',
            },
          ],
        },
        phase: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/research-study-phase',
              code: 'phase-3',
              display: 'Phase 3',
            },
          ],
        },
        condition: [
          {
            coding: [
              { system: SNOMED, code: '44054006', display: 'Diabetes mellitus type 2 (disorder)' },
            ],
            text: 'Type 2 diabetes mellitus',
          },
        ],
        keyword: [{ text: 'major adverse cardiovascular events' }],
        description:
          `Adults ${TRIAL.minAge}-${TRIAL.maxAge} with type 2 diabetes, randomised 1:1 to ` +
          `MLK-0101 10 mg once daily or placebo; primary endpoint time to first major adverse ` +
          `cardiovascular event; ${TRIAL.followUpYears} years of planned follow-up.`,
        period: { start: dayToIso(cal.enrolStart), end: dayToIso(cal.studyEnd) },
        ...(sponsor === undefined
          ? {}
          : {
              sponsor: {
                reference: `Organization/${sponsor.organizationId}`,
                display: sponsor.organizationName,
              },
            }),
        site: r.sites.map((s) => ({ reference: `Location/${s.locationId}` })),
        arm: ARMS.map((a) => ({
          name: a.armcd,
          type: { text: a.type },
          description: a.arm,
        })),
      };
      const products: JsonResource[] = ARMS.map((a, i) => ({
        resourceType: 'Medication',
        id: ids.products[i] as string,
        meta: meta(),
        code: {
          coding: [{ system: PRODUCT_SYSTEM, code: a.product.code, display: a.product.display }],
          text: a.product.display,
        },
        status: 'active',
        form: {
          coding: [{ system: SNOMED, code: '385055001', display: 'Tablet (basic dose form)' }],
        },
      }));
      return [study, ...products];
    },

    patient(out, rng: Random, r: SynthRun): void {
      const h = out.history;
      const screenDay = rng.int(cal.enrolStart, cal.enrolEnd);
      // Screened: alive and born on the screening day.
      if (h.birth > screenDay || (h.death !== null && h.death <= screenDay)) return;
      c.screened++;
      const age = ageOn(h.birth, screenDay);
      const recorded = diabetesRecordedDay(h);
      if (age < TRIAL.minAge || age > TRIAL.maxAge || recorded === null || recorded >= screenDay)
        return;
      c.eligible++;
      if (!rng.chance(TRIAL.enrolmentFraction)) return;
      const arm = rng.chance(0.5) ? 0 : 1;
      const A = ARMS[arm] as (typeof ARMS)[number];
      inc(c.randomized, arm);

      // End of follow-up (exclusive day) and why.
      const planned = screenDay + Math.round(TRIAL.followUpYears * DAYS_PER_YEAR);
      const dataEnd = lastDataDay + 1;
      const dropout =
        screenDay + Math.max(1, Math.floor(rng.exponential(TRIAL.dropoutPerYear) * DAYS_PER_YEAR));
      const death = h.death ?? Infinity;
      const end = Math.min(planned, dataEnd, dropout, death);
      // Withdrawal or completion on the day after the window is not seen: still ongoing.
      const disposition: Disposition =
        death === end
          ? 'death'
          : dropout === end && dropout < planned && dropout <= lastDataDay
            ? 'withdrawn'
            : planned === end && planned <= lastDataDay
              ? 'completed'
              : 'ongoing';
      inc(c.disposition[disposition], arm);
      inc(c.studyDays, arm, end - screenDay);

      // Primary endpoint: first MACE, exponential with the arm's hazard.
      const hazard = TRIAL.baselineHazardPerYear * (arm === 0 ? TRIAL.hazardRatio : 1);
      const eventDay = screenDay + Math.floor(rng.exponential(hazard) * DAYS_PER_YEAR);
      const eventType = rng.chance(ENDPOINT_EVENTS[0].share) ? 0 : 1;
      const hasEvent = eventDay < end;
      if (hasEvent) inc(c.events, arm);
      inc(c.riskDays, arm, (hasEvent ? eventDay : end) - screenDay);

      const site = r.sites[h.site] as Site;
      const patientRef = { reference: `Patient/${h.id}` };
      const subjid = `${String(h.site + 1).padStart(3, '0')}-${String(h.index + 1).padStart(6, '0')}`;
      const subjectId = rng.uuid();
      const subjectRef = { reference: `ResearchSubject/${subjectId}` };
      const productRef = { reference: `Medication/${ids.products[arm] as string}` };
      out.resources.push({
        resourceType: 'ResearchSubject',
        id: subjectId,
        meta: meta(),
        identifier: [{ system: USUBJID_SYSTEM, value: `${STUDY_ID}-${subjid}` }],
        status:
          disposition === 'ongoing'
            ? 'on-study'
            : disposition === 'withdrawn'
              ? 'withdrawn'
              : 'off-study',
        period:
          disposition === 'ongoing'
            ? { start: dayToIso(screenDay) }
            : { start: dayToIso(screenDay), end: dayToIso(end) },
        study: studyRef,
        individual: patientRef,
        assignedArm: A.armcd,
        actualArm: A.armcd,
      });

      // Quarterly visits from randomisation until the end of follow-up.
      const baseline = Math.max(6.5, rng.normal(TRIAL.hba1c.baseline, TRIAL.hba1c.sd));
      for (let v = 0; screenDay + v * TRIAL.visitIntervalDays < end; v++) {
        const day = screenDay + v * TRIAL.visitIntervalDays;
        const visitNum = v + 1;
        const encounterId = rng.uuid();
        const minute = rng.int(8 * 60, 16 * 60);
        const when = dayTimeToIso(day, minute);
        inc(c.visits, arm);
        out.resources.push({
          resourceType: 'Encounter',
          id: encounterId,
          meta: meta(US_CORE + 'us-core-encounter'),
          status: 'finished',
          class: {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
            code: 'AMB',
            display: 'ambulatory',
          },
          type: [
            {
              coding: [
                {
                  system: TRIAL_VISIT_SYSTEM,
                  code: String(visitNum),
                  display: visitName(visitNum),
                },
              ],
              text: `${STUDY_ID} trial visit ${visitName(visitNum)}`,
            },
          ],
          subject: patientRef,
          period: { start: when, end: dayTimeToIso(day, minute + 45) },
          location: [{ location: { reference: `Location/${site.locationId}` } }],
          serviceProvider: {
            reference: `Organization/${site.organizationId}`,
            display: site.organizationName,
          },
        });
        const observation = (
          profile: string,
          category: unknown,
          code: unknown,
          value: Record<string, unknown>,
        ): void => {
          out.resources.push({
            resourceType: 'Observation',
            id: rng.uuid(),
            meta: meta(profile),
            status: 'final',
            category,
            code,
            subject: patientRef,
            encounter: { reference: `Encounter/${encounterId}` },
            effectiveDateTime: when,
            issued: when,
            ...value,
          });
        };
        const systolic = Math.round(rng.normal(138, 12));
        const diastolic = Math.round(rng.normal(82, 8));
        const bp = bloodPressure(systolic, diastolic);
        observation(BP_PROFILE, VITAL_SIGNS, bp.code, { component: bp.component });
        observation(
          'http://hl7.org/fhir/StructureDefinition/heartrate',
          VITAL_SIGNS,
          loinc('8867-4', 'Heart rate'),
          { valueQuantity: quantity(Math.round(rng.normal(74, 9)), '/min') },
        );
        // HbA1c falls towards the arm's full effect over the first months.
        const effect = (TRIAL.hba1c.effect[arm] as number) * (1 - Math.exp(-v / 1.5));
        const a1c = Math.max(4, baseline - effect + rng.normal(0, TRIAL.hba1c.noise));
        observation(
          US_CORE + 'us-core-observation-lab',
          LABORATORY,
          loinc('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'),
          {
            valueQuantity: quantity(Math.round(a1c * 10) / 10, '%'),
            referenceRange: [{ low: quantity(4, '%'), high: quantity(5.6, '%') }],
          },
        );
        // The supply dispensed at the visit, taken daily until the next visit.
        const nextDay = Math.min(day + TRIAL.visitIntervalDays, end);
        const open = nextDay > lastDataDay;
        out.resources.push({
          resourceType: 'MedicationAdministration',
          id: rng.uuid(),
          meta: meta(),
          status: open
            ? 'in-progress'
            : nextDay === end && (disposition === 'withdrawn' || disposition === 'death')
              ? 'stopped'
              : 'completed',
          medicationReference: { ...productRef, display: A.product.display },
          subject: patientRef,
          context: { reference: `Encounter/${encounterId}` },
          effectivePeriod: open
            ? { start: dayToIso(day) }
            : { start: dayToIso(day), end: dayToIso(nextDay - 1) },
          dosage: {
            text: `${TRIAL.dose.value} ${TRIAL.dose.unit} orally once daily`,
            route: {
              coding: [
                { system: SNOMED, code: '26643006', display: 'Oral route (qualifier value)' },
              ],
              text: 'Oral',
            },
            dose: quantity(TRIAL.dose.value, TRIAL.dose.unit),
          },
        });
      }

      if (hasEvent) {
        const ev = ENDPOINT_EVENTS[eventType] as (typeof ENDPOINT_EVENTS)[number];
        out.resources.push({
          resourceType: 'Observation',
          id: rng.uuid(),
          meta: meta(),
          status: 'final',
          code: {
            coding: [
              {
                system: ENDPOINT_SYSTEM,
                code: 'MACE',
                display: 'Major adverse cardiovascular event',
              },
            ],
            text: 'Primary endpoint: first major adverse cardiovascular event',
          },
          subject: patientRef,
          focus: [subjectRef],
          effectiveDateTime: dayToIso(eventDay),
          valueCodeableConcept: {
            coding: [{ system: SNOMED, ...ev.snomed }],
            text: ev.text,
          },
        });
      }

      // Adverse events: a Poisson process per term over the time on study, by start day.
      const aes: { term: AeTerm; day: number; severity: number; serious: boolean; days: number }[] =
        [];
      for (const term of AE_TERM_KEYS) {
        const rate = (AE_TERMS[term].per100py[arm] as number) / 100;
        let t = screenDay;
        for (;;) {
          t += rng.exponential(rate) * DAYS_PER_YEAR;
          if (!(t < end)) break;
          const u = rng.next();
          const severity = u < AE_SEVERITY[0].share ? 0 : u < 1 - AE_SEVERITY[2].share ? 1 : 2;
          const serious = rng.chance(AE_TERMS[term].serious);
          aes.push({ term, day: Math.floor(t), severity, serious, days: rng.int(1, 14) });
        }
      }
      aes.sort((a, b) => a.day - b.day);
      for (const ae of aes) {
        const spec = AE_TERMS[ae.term];
        const sev = AE_SEVERITY[ae.severity] as (typeof AE_SEVERITY)[number];
        const endDay = ae.day + ae.days;
        const resolved = endDay <= lastDataDay;
        inc(c.ae[ae.term], arm);
        if (ae.serious) inc(c.aeSerious, arm);
        out.resources.push({
          resourceType: 'AdverseEvent',
          id: rng.uuid(),
          meta: meta(),
          ...(resolved
            ? { extension: [{ url: AE_END_EXTENSION_URL, valueDateTime: dayToIso(endDay) }] }
            : {}),
          actuality: 'actual',
          event: {
            coding: [
              { system: SNOMED, ...spec.snomed },
              { system: MEDDRA, ...spec.meddra },
            ],
            text: spec.meddra.display,
          },
          subject: patientRef,
          date: dayToIso(ae.day),
          recordedDate: dayToIso(Math.min(ae.day + 1, lastDataDay)),
          seriousness: {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/adverse-event-seriousness',
                code: ae.serious ? 'serious' : 'non-serious',
                display: ae.serious ? 'Serious' : 'Non-serious',
              },
            ],
          },
          severity: {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/adverse-event-severity',
                code: sev.code,
                display: sev.display,
              },
            ],
          },
          outcome: {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/adverse-event-outcome',
                code: resolved ? 'resolved' : 'ongoing',
                display: resolved ? 'Resolved' : 'Ongoing',
              },
            ],
          },
          suspectEntity: [{ instance: { ...productRef, display: A.product.display } }],
          study: [studyRef],
        });
      }
    },

    parameters(r: SynthRun): unknown {
      const k = trialCalendar(r);
      return {
        studyId: STUDY_ID,
        design:
          'randomised 1:1 (simple randomisation per subject), double-blind, placebo-controlled',
        eligibility:
          `age ${TRIAL.minAge}-${TRIAL.maxAge} on the screening day, type 2 diabetes ` +
          'recorded before it, alive; screening day uniform in the enrolment period',
        enrolmentFraction: TRIAL.enrolmentFraction,
        enrolmentPeriod: { start: dayToIso(k.enrolStart), end: dayToIso(k.enrolEnd) },
        plannedStudyEnd: dayToIso(k.studyEnd),
        followUpYears: TRIAL.followUpYears,
        visitIntervalDays: TRIAL.visitIntervalDays,
        arms: ARMS.map((a) => ({ armcd: a.armcd, arm: a.arm })),
        primaryEndpoint: {
          name: 'time to first major adverse cardiovascular event',
          baselineHazardPerYear: TRIAL.baselineHazardPerYear,
          hazardRatio: TRIAL.hazardRatio,
          censoring: 'planned end of follow-up, end of window, withdrawal, death (core)',
          components: ENDPOINT_EVENTS.map((e) => ({ event: e.text, share: e.share })),
        },
        dropoutPerYear: TRIAL.dropoutPerYear,
        adverseEventsPer100PersonYears: Object.fromEntries(
          AE_TERM_KEYS.map((t) => [
            AE_TERMS[t].meddra.display,
            { [ARMS[0].armcd]: AE_TERMS[t].per100py[0], [ARMS[1].armcd]: AE_TERMS[t].per100py[1] },
          ]),
        ),
        adverseEventSeriousShare: Object.fromEntries(
          AE_TERM_KEYS.map((t) => [AE_TERMS[t].meddra.display, AE_TERMS[t].serious]),
        ),
        adverseEventSeverityShares: Object.fromEntries(AE_SEVERITY.map((s) => [s.code, s.share])),
        hba1c: TRIAL.hba1c,
      };
    },

    counters(): Counters {
      return c;
    },

    realised(counters: Counters): unknown {
      return trialRealised(counters);
    },
  };
};

/** Wald 95% interval of a rate ratio from event counts. */
function rateRatio(
  e1: number,
  t1: number,
  e0: number,
  t0: number,
): { estimate: number | null; ci95: [number, number] | null } {
  if (e1 === 0 || e0 === 0 || t1 === 0 || t0 === 0) return { estimate: null, ci95: null };
  const rr = e1 / t1 / (e0 / t0);
  const se = Math.sqrt(1 / e1 + 1 / e0);
  return { estimate: rr, ci95: [rr * Math.exp(-1.96 * se), rr * Math.exp(1.96 * se)] };
}

const num = (x: Counters | undefined): number => (typeof x === 'number' ? x : 0);
const pair = (x: Counters | undefined): [number, number] =>
  Array.isArray(x) ? [num(x[0] as Counters), num(x[1] as Counters)] : [0, 0];
const field = (x: Counters | undefined, k: string): Counters | undefined =>
  x !== undefined && typeof x === 'object' && !Array.isArray(x)
    ? (x as Record<string, Counters>)[k]
    : undefined;

/** truth.json `realised` of the trial, from (summed) counters. */
export function trialRealised(counters: Counters): unknown {
  const randomized = pair(field(counters, 'randomized'));
  const events = pair(field(counters, 'events'));
  const riskDays = pair(field(counters, 'riskDays'));
  const studyDays = pair(field(counters, 'studyDays'));
  const py = riskDays.map((d) => d / DAYS_PER_YEAR);
  const studyPy = studyDays.map((d) => d / DAYS_PER_YEAR);
  const disp = field(counters, 'disposition');
  const ae = field(counters, 'ae');
  const arms = ARMS.map((a, i) => ({
    armcd: a.armcd,
    randomized: randomized[i] ?? 0,
    events: events[i] ?? 0,
    censored: (randomized[i] ?? 0) - (events[i] ?? 0),
    personYearsAtRisk: py[i] ?? 0,
    eventsPer100PersonYears: (py[i] ?? 0) > 0 ? ((events[i] ?? 0) / (py[i] ?? 1)) * 100 : null,
    personYearsOnStudy: studyPy[i] ?? 0,
    disposition: Object.fromEntries(DISPOSITIONS.map((d) => [d, pair(field(disp, d))[i] ?? 0])),
    visits: pair(field(counters, 'visits'))[i] ?? 0,
    seriousAdverseEvents: pair(field(counters, 'aeSerious'))[i] ?? 0,
  }));
  return {
    screened: num(field(counters, 'screened')),
    eligible: num(field(counters, 'eligible')),
    arms,
    primaryEndpoint: {
      crudeRateRatio: rateRatio(events[0], py[0] ?? 0, events[1], py[1] ?? 0),
    },
    adverseEvents: AE_TERM_KEYS.map((t) => {
      const n = pair(field(ae, t));
      return {
        term: AE_TERMS[t].meddra.display,
        meddra: AE_TERMS[t].meddra.code,
        counts: { [ARMS[0].armcd]: n[0], [ARMS[1].armcd]: n[1] },
        per100PersonYears: {
          [ARMS[0].armcd]: (studyPy[0] ?? 0) > 0 ? (n[0] / (studyPy[0] ?? 1)) * 100 : null,
          [ARMS[1].armcd]: (studyPy[1] ?? 0) > 0 ? (n[1] / (studyPy[1] ?? 1)) * 100 : null,
        },
        rateRatio: rateRatio(n[0], studyPy[0] ?? 0, n[1], studyPy[1] ?? 0),
      };
    }),
  };
}
