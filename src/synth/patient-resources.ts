/**
 * FHIR R4 resources for one simulated patient, in the shapes Synthea and US Core use:
 * Patient, wellness and diagnosis Encounters, Conditions, vital-sign and lab Observations.
 * Objects are built with a fixed key order, so JSON.stringify is deterministic.
 */
import { HISPANIC, NOT_HISPANIC } from './demographics.js';
import type { OmbCode } from './demographics.js';
import { CONDITIONS } from './conditions.js';
import type { ConditionKey } from './conditions.js';
import { ageOn, dayTimeToIso, dayToIso } from './dates.js';
import type { ConditionEvent, PatientHistory } from './patient-history.js';
import type { JsonResource, Site } from './shared-resources.js';

const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const OMB_SYSTEM = 'urn:oid:2.16.840.1.113883.6.238';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';

const AMB = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  code: 'AMB',
  display: 'ambulatory',
};
const EMER = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  code: 'EMER',
  display: 'emergency',
};
const ENCOUNTER_TYPES = {
  wellChild: { code: '410620009', display: 'Well child visit (procedure)' },
  checkUp: { code: '162673000', display: 'General examination of patient (procedure)' },
  problem: { code: '185347001', display: 'Encounter for problem (procedure)' },
  emergency: { code: '50849002', display: 'Emergency room admission (procedure)' },
} as const;

const VITAL_SIGNS = category('vital-signs', 'Vital Signs');
const LABORATORY = category('laboratory', 'Laboratory');

function category(code: string, display: string): unknown[] {
  return [
    {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/observation-category',
          code,
          display,
        },
      ],
    },
  ];
}

function loinc(code: string, display: string): unknown {
  return { coding: [{ system: LOINC, code, display }], text: display };
}

function quantity(value: number, unit: string): unknown {
  return { value, unit, system: UCUM, code: unit };
}

function ombExtension(url: string, codes: readonly OmbCode[], text: string): unknown {
  return {
    url: US_CORE + url,
    extension: [
      ...codes.map((c) => ({
        url: 'ombCategory',
        valueCoding: { system: OMB_SYSTEM, code: c.code, display: c.display },
      })),
      { url: 'text', valueString: text },
    ],
  };
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Emits every resource of the patient, the Patient first, in a fixed order. */
export function patientResources(
  h: PatientHistory,
  sites: readonly Site[],
  emit: (r: JsonResource) => void,
): void {
  const { rng } = h;
  const site = sites[h.site] as Site;
  const patientRef = { reference: `Patient/${h.id}` };
  const ethnicity = h.hispanic ? HISPANIC : NOT_HISPANIC;
  emit({
    resourceType: 'Patient',
    id: h.id,
    meta: { profile: [US_CORE + 'us-core-patient'] },
    extension: [
      ombExtension('us-core-race', h.race.categories, h.race.text),
      ombExtension('us-core-ethnicity', [ethnicity], ethnicity.display),
    ],
    identifier: [
      { system: 'https://medlake.org/fhir/synth/patient-index', value: String(h.index) },
    ],
    name: [{ use: 'official', family: h.family, given: [h.given] }],
    gender: h.sex,
    birthDate: dayToIso(h.birth),
    ...(h.death === null ? {} : { deceasedDateTime: dayTimeToIso(h.death, rng.int(0, 1439)) }),
    address: [
      {
        line: [h.street],
        city: h.place.city,
        state: h.place.state,
        postalCode: h.postalCode,
        country: 'US',
      },
    ],
  });

  const encounter = (
    day: number,
    type: { code: string; display: string },
    emergency: boolean,
    reason: ConditionKey | null,
  ): string => {
    const id = rng.uuid();
    // Office hours 08:00–17:00; visits last 15–60 minutes (emergencies 2–6 hours).
    const startMinute = rng.int(8 * 60, 17 * 60);
    const length = emergency ? rng.int(120, 360) : rng.int(15, 60);
    const practitioner = h.practitioner;
    emit({
      resourceType: 'Encounter',
      id,
      meta: { profile: [US_CORE + 'us-core-encounter'] },
      status: 'finished',
      class: emergency ? EMER : AMB,
      type: [{ coding: [{ system: SNOMED, ...type }], text: type.display }],
      subject: patientRef,
      participant: [
        {
          type: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
                  code: 'PPRF',
                  display: 'primary performer',
                },
              ],
            },
          ],
          individual: {
            reference: `Practitioner/${site.practitionerIds[practitioner] as string}`,
            display: site.practitionerNames[practitioner],
          },
        },
      ],
      period: {
        start: dayTimeToIso(day, startMinute),
        end: dayTimeToIso(day, startMinute + length),
      },
      ...(reason === null
        ? {}
        : {
            reasonCode: [
              {
                coding: [{ system: SNOMED, ...CONDITIONS[reason].snomed }],
                text: CONDITIONS[reason].snomed.display,
              },
            ],
          }),
      location: [{ location: { reference: `Location/${site.locationId}` } }],
      serviceProvider: {
        reference: `Organization/${site.organizationId}`,
        display: site.organizationName,
      },
    });
    return id;
  };

  const condition = (e: ConditionEvent, encounterId: string, recordedDay: number): void => {
    const spec = CONDITIONS[e.key];
    emit({
      resourceType: 'Condition',
      id: rng.uuid(),
      meta: { profile: [US_CORE + 'us-core-condition-encounter-diagnosis'] },
      clinicalStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
            code: e.abatement === null ? 'active' : 'resolved',
          },
        ],
      },
      verificationStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
            code: 'confirmed',
          },
        ],
      },
      category: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/condition-category',
              code: 'encounter-diagnosis',
              display: 'Encounter Diagnosis',
            },
          ],
        },
      ],
      code: {
        coding: [
          { system: SNOMED, ...spec.snomed },
          { system: ICD10, ...spec.icd10 },
        ],
        text: spec.snomed.display,
      },
      subject: patientRef,
      encounter: { reference: `Encounter/${encounterId}` },
      onsetDateTime: dayToIso(e.onset),
      ...(e.abatement === null ? {} : { abatementDateTime: dayToIso(e.abatement) }),
      recordedDate: dayToIso(recordedDay),
      recorder: { reference: `Practitioner/${site.practitionerIds[h.practitioner] as string}` },
    });
  };

  const hasBy = (key: ConditionKey, day: number): boolean =>
    h.events.some((e) => e.key === key && e.onset <= day);

  // Events and visits merge by day; on the same day the diagnosis encounter comes first.
  let next = 0;
  const events = h.events.filter((e) => !e.prevalentAtStart);
  const prevalent = h.events.filter((e) => e.prevalentAtStart);
  const flushEventsUntil = (day: number): void => {
    while (next < events.length && (events[next] as ConditionEvent).onset <= day) {
      const e = events[next++] as ConditionEvent;
      const emergency = e.emergency;
      const id = encounter(
        e.onset,
        emergency ? ENCOUNTER_TYPES.emergency : ENCOUNTER_TYPES.problem,
        emergency,
        e.key,
      );
      condition(e, id, e.onset);
    }
  };

  h.wellness.forEach((day, visit) => {
    flushEventsUntil(day);
    const age = ageOn(h.birth, day);
    const encounterId = encounter(
      day,
      age < 18 ? ENCOUNTER_TYPES.wellChild : ENCOUNTER_TYPES.checkUp,
      false,
      null,
    );
    if (visit === 0) for (const e of prevalent) condition(e, encounterId, day);
    const when = dayTimeToIso(day, 8 * 60);
    const base = {
      subject: patientRef,
      encounter: { reference: `Encounter/${encounterId}` },
      effectiveDateTime: when,
      issued: when,
    };
    const observation = (
      profile: string,
      cat: unknown[],
      code: unknown,
      value: Record<string, unknown>,
    ): void => {
      emit({
        resourceType: 'Observation',
        id: rng.uuid(),
        meta: { profile: [profile] },
        status: 'final',
        category: cat,
        code,
        ...base,
        ...value,
      });
    };
    if (age >= 3) {
      const hypertensive = hasBy('hypertension', day);
      const systolic = Math.round(
        rng.normal(hypertensive ? 145 : 112 + 0.3 * Math.max(0, age - 20), 10),
      );
      const diastolic = Math.round(rng.normal(hypertensive ? 92 : 72, 7));
      observation(
        'http://hl7.org/fhir/StructureDefinition/bp',
        VITAL_SIGNS,
        loinc('85354-9', 'Blood pressure panel with all children optional'),
        {
          component: [
            {
              code: loinc('8480-6', 'Systolic blood pressure'),
              valueQuantity: quantity(systolic, 'mm[Hg]'),
            },
            {
              code: loinc('8462-4', 'Diastolic blood pressure'),
              valueQuantity: quantity(diastolic, 'mm[Hg]'),
            },
          ],
        },
      );
    }
    if (age >= 2) {
      const bmi = age < 18 ? rng.normal(15 + age * 0.45, 2.5) : rng.normal(29, 5.5);
      observation(
        US_CORE + 'us-core-bmi',
        VITAL_SIGNS,
        loinc('39156-5', 'Body mass index (BMI) [Ratio]'),
        { valueQuantity: quantity(round1(Math.max(12, bmi)), 'kg/m2') },
      );
    }
    const heartRate = Math.round(rng.normal(age < 12 ? 95 : 74, 10));
    observation(
      'http://hl7.org/fhir/StructureDefinition/heartrate',
      VITAL_SIGNS,
      loinc('8867-4', 'Heart rate'),
      { valueQuantity: quantity(heartRate, '/min') },
    );
    const diabetic = hasBy('diabetes', day);
    if (diabetic || (age >= 18 && rng.chance(0.2))) {
      const a1c = diabetic ? rng.normal(7.4, 0.8) : rng.normal(5.3, 0.25);
      observation(
        US_CORE + 'us-core-observation-lab',
        LABORATORY,
        loinc('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'),
        { valueQuantity: quantity(round1(Math.max(4, a1c)), '%') },
      );
    }
  });
  flushEventsUntil(Infinity);
}
