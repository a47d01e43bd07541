/**
 * FHIR R4 resources for one simulated patient, in the shapes Synthea and US Core use:
 * Patient, wellness, diagnosis, emergency and inpatient Encounters (with ICU
 * sub-encounters), Conditions, AllergyIntolerances, MedicationRequests, vital-sign and lab
 * Observations and lab DiagnosticReports. Objects are built with a fixed key order, so
 * JSON.stringify is deterministic.
 */
import { HISPANIC, NOT_HISPANIC } from './demographics.js';
import type { OmbCode } from './demographics.js';
import { CONDITIONS, HBA1C_TEST, HYPERTENSION_CONTROL } from './conditions.js';
import type { ConditionKey } from './conditions.js';
import type { AllergyKey } from './medications.js';
import { ageOn, dayTimeToIso, dayToIso } from './dates.js';
import { LABS, PANELS, cbc, glucose, kidneyLabs, ldl, troponin } from './labs.js';
import type { LabKey, PanelKey } from './labs.js';
import { ALLERGIES, DRUGS } from './medications.js';
import type { ConditionEvent, MedOrder, PatientHistory } from './patient-history.js';
import type { JsonResource, Site } from './shared-resources.js';
import { payerOn } from './insurance.js';
import {
  BP_PROFILE,
  LABORATORY,
  UCUM,
  VITAL_SIGNS,
  bloodPressure,
  loinc,
  quantity,
} from './fhir-values.js';
import { cnAddress, cnEthnicityExtension, cnPatientNames } from './region-cn.js';
import type { TruthRecorder } from './truth.js';

const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
const SNOMED = 'http://snomed.info/sct';
const OMB_SYSTEM = 'urn:oid:2.16.840.1.113883.6.238';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10-cm';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

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
const IMP = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  code: 'IMP',
  display: 'inpatient encounter',
};
const ENCOUNTER_TYPES = {
  wellChild: { code: '410620009', display: 'Well child visit (procedure)' },
  checkUp: { code: '162673000', display: 'General examination of patient (procedure)' },
  problem: { code: '185347001', display: 'Encounter for problem (procedure)' },
  emergency: { code: '50849002', display: 'Emergency room admission (procedure)' },
  urgentCare: { code: '702927004', display: 'Urgent care clinic (environment)' },
  inpatient: { code: '32485007', display: 'Hospital admission (procedure)' },
  icu: { code: '305351004', display: 'Admission to intensive care unit (procedure)' },
} as const;
/** Share of a condition's office visits (not emergency) that are at urgent care instead. */
export const URGENT_CARE_SHARE: Readonly<Partial<Record<ConditionKey, number>>> = {
  influenza: 0.3,
  uti: 0.25,
  pneumonia: 0.15,
};
/** medlake extension on Patient: the household income band (insurance.ts). */
export const INCOME_BAND_EXTENSION_URL = 'https://medlake.org/fhir/StructureDefinition/income-band';
const DISCHARGE = 'http://terminology.hl7.org/CodeSystem/discharge-disposition';
const ADMIT_SOURCE = 'http://terminology.hl7.org/CodeSystem/admit-source';
const LAB_REPORT_CATEGORY = [
  {
    coding: [
      {
        system: 'http://terminology.hl7.org/CodeSystem/v2-0074',
        code: 'LAB',
        display: 'Laboratory',
      },
    ],
  },
];
const MED_CATEGORY = {
  long: [
    {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category',
          code: 'community',
          display: 'Community',
        },
      ],
    },
  ],
  acute: [
    {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category',
          code: 'outpatient',
          display: 'Outpatient',
        },
      ],
    },
  ],
};

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
  truth: TruthRecorder | null = null,
): void {
  const { rng } = h;
  const site = sites[h.site] as Site;
  const patientRef = { reference: `Patient/${h.id}` };
  const practitionerRef = {
    reference: `Practitioner/${site.practitionerIds[h.practitioner] as string}`,
  };
  const female = h.sex === 'female';
  const p = h.person;
  const income = { url: INCOME_BAND_EXTENSION_URL, valueString: h.insurance.incomeBand };
  const demographics: Record<string, unknown> =
    p.region === 'us'
      ? {
          meta: { profile: [US_CORE + 'us-core-patient'] },
          extension: [
            ombExtension('us-core-race', p.race.categories, p.race.text),
            ombExtension(
              'us-core-ethnicity',
              [p.hispanic ? HISPANIC : NOT_HISPANIC],
              (p.hispanic ? HISPANIC : NOT_HISPANIC).display,
            ),
            income,
          ],
        }
      : { extension: [cnEthnicityExtension(p.cn.ethnic), income] };
  emit({
    resourceType: 'Patient',
    id: h.id,
    ...demographics,
    identifier: [
      { system: 'https://medlake.org/fhir/synth/patient-index', value: String(h.index) },
    ],
    name:
      p.region === 'us'
        ? [{ use: 'official', family: p.family, given: [p.given] }]
        : cnPatientNames(p.cn),
    gender: h.sex,
    birthDate: dayToIso(h.birth),
    ...(h.death === null ? {} : { deceasedDateTime: dayTimeToIso(h.death, h.deathMinute) }),
    address: [
      p.region === 'us'
        ? {
            line: [p.street],
            city: p.place.city,
            state: p.place.state,
            postalCode: p.postalCode,
            country: 'US',
          }
        : cnAddress(p.cn),
    ],
  });

  const participantOf = (at: Site): unknown[] => [
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
        reference: `Practitioner/${at.practitionerIds[h.practitioner] as string}`,
        display: at.practitionerNames[h.practitioner],
      },
    },
  ];
  const participant = participantOf(site);
  // Admissions go to the patient's own site if it is a hospital, else to a hospital site
  // (sites are named "... General Hospital n" or "... Community Clinic n"); none: own site.
  const hospitals = sites.filter((s) => s.hospital);
  const hospital = site.hospital
    ? site
    : (hospitals[h.index % Math.max(1, hospitals.length)] ?? site);
  const reasonOf = (reason: ConditionKey | null): Record<string, unknown> =>
    reason === null
      ? {}
      : {
          reasonCode: [
            {
              coding: [{ system: SNOMED, ...CONDITIONS[reason].snomed }],
              text: CONDITIONS[reason].snomed.display,
            },
          ],
        };
  const encounterResource = (
    id: string,
    cls: unknown,
    type: { code: string; display: string },
    start: string,
    end: string | null,
    reason: ConditionKey | null,
    extra: Record<string, unknown>,
    at: Site = site,
  ): void => {
    emit({
      resourceType: 'Encounter',
      id,
      meta: { profile: [US_CORE + 'us-core-encounter'] },
      status: end === null ? 'in-progress' : 'finished',
      class: cls,
      type: [{ coding: [{ system: SNOMED, ...type }], text: type.display }],
      subject: patientRef,
      participant: at === site ? participant : participantOf(at),
      period: end === null ? { start } : { start, end },
      ...reasonOf(reason),
      ...extra,
      location: [{ location: { reference: `Location/${at.locationId}` } }],
      serviceProvider: {
        reference: `Organization/${at.organizationId}`,
        display: at.organizationName,
      },
    });
  };

  /** An ambulatory or emergency visit; returns its id and start minute. */
  const encounter = (
    day: number,
    type: { code: string; display: string },
    emergency: boolean,
    reason: ConditionKey | null,
  ): [string, number] => {
    const id = rng.uuid();
    // Office hours 08:00–17:00; visits last 15–60 minutes (emergencies 2–6 hours).
    const startMinute = rng.int(8 * 60, 17 * 60);
    const length = emergency ? rng.int(120, 360) : rng.int(15, 60);
    encounterResource(
      id,
      emergency ? EMER : AMB,
      type,
      dayTimeToIso(day, startMinute),
      dayTimeToIso(day, startMinute + length),
      reason,
      {},
    );
    return [id, startMinute];
  };

  /**
   * An inpatient stay (class IMP, admitted from the emergency department), with an ICU
   * sub-encounter (partOf) for some; it ends at discharge or at death, and is still
   * in progress if discharge falls after the window.
   */
  const admission = (
    key: ConditionKey,
    onset: number,
    nights: number,
    icuDays: number,
    readmission: boolean,
  ): [string, number] => {
    const id = rng.uuid();
    const startMinute = rng.int(0, 1439);
    const dischargeMinute = rng.int(10 * 60, 14 * 60);
    const discharge = onset + nights;
    const dies = h.death !== null && h.death <= discharge;
    const endOf = (day: number, minute: number): string | null =>
      dies && h.death !== null && h.death <= day
        ? dayTimeToIso(h.death, Math.max(h.deathMinute, h.death === onset ? startMinute : 0))
        : day > h.endDay
          ? null
          : dayTimeToIso(day, minute);
    const end = endOf(discharge, dischargeMinute);
    encounterResource(
      id,
      IMP,
      ENCOUNTER_TYPES.inpatient,
      dayTimeToIso(onset, startMinute),
      end,
      key,
      {
        hospitalization: {
          ...(readmission
            ? {
                reAdmission: {
                  coding: [
                    {
                      system: 'http://terminology.hl7.org/CodeSystem/v2-0092',
                      code: 'R',
                      display: 'Re-admission',
                    },
                  ],
                },
              }
            : {}),
          admitSource: {
            coding: [
              { system: ADMIT_SOURCE, code: 'emd', display: 'From accident/emergency department' },
            ],
          },
          ...(end === null
            ? {}
            : {
                dischargeDisposition: {
                  coding: dies
                    ? [{ system: DISCHARGE, code: 'exp', display: 'Expired' }]
                    : [{ system: DISCHARGE, code: 'home', display: 'Home' }],
                },
              }),
        },
      },
      hospital,
    );
    if (icuDays > 0) {
      encounterResource(
        rng.uuid(),
        IMP,
        ENCOUNTER_TYPES.icu,
        dayTimeToIso(onset, startMinute),
        endOf(onset + icuDays, startMinute),
        key,
        { partOf: { reference: `Encounter/${id}` } },
        hospital,
      );
    }
    return [id, startMinute];
  };

  const condition = (e: ConditionEvent, encounterId: string, recordedDay: number): string => {
    const spec = CONDITIONS[e.key];
    const id = rng.uuid();
    emit({
      resourceType: 'Condition',
      id,
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
      recorder: practitionerRef,
    });
    return id;
  };

  const medicationRequest = (
    m: MedOrder,
    conditionId: string,
    encounterId: string,
    authored: string,
  ): void => {
    const d = DRUGS[m.drug];
    emit({
      resourceType: 'MedicationRequest',
      id: rng.uuid(),
      meta: { profile: [US_CORE + 'us-core-medicationrequest'] },
      status: m.status,
      intent: 'order',
      category: d.courseDays === null ? MED_CATEGORY.long : MED_CATEGORY.acute,
      medicationCodeableConcept: {
        coding: [{ system: RXNORM, code: d.rxnorm, display: d.display }],
        text: d.display,
      },
      subject: patientRef,
      encounter: { reference: `Encounter/${encounterId}` },
      authoredOn: authored,
      requester: practitionerRef,
      reasonReference: [{ reference: `Condition/${conditionId}` }],
      dosageInstruction: [
        {
          sequence: 1,
          text: d.sig,
          timing: {
            repeat: {
              ...(d.courseDays === null ? {} : { boundsDuration: quantity(d.courseDays, 'd') }),
              frequency: d.perDay,
              period: 1,
              periodUnit: 'd',
            },
          },
          asNeededBoolean: d.asNeeded,
          route: { coding: [{ system: SNOMED, ...d.route }], text: d.route.display },
          doseAndRate: [
            {
              doseQuantity: {
                value: d.dose.value,
                unit: d.dose.unit,
                system: UCUM,
                code: d.dose.code,
              },
            },
          ],
        },
      ],
    });
  };

  /** The condition, then its prescriptions, authored at the recording encounter. */
  const record = (e: ConditionEvent, encounterId: string, day: number, minute: number): void => {
    const conditionId = condition(e, encounterId, day);
    const authored = dayTimeToIso(day, minute);
    for (const m of e.medications) medicationRequest(m, conditionId, encounterId, authored);
  };

  const observation = (
    encounterId: string,
    when: string,
    profile: string,
    cat: unknown[],
    code: unknown,
    value: Record<string, unknown>,
  ): string => {
    const id = rng.uuid();
    emit({
      resourceType: 'Observation',
      id,
      meta: { profile: [profile] },
      status: 'final',
      category: cat,
      code,
      subject: patientRef,
      encounter: { reference: `Encounter/${encounterId}` },
      effectiveDateTime: when,
      issued: when,
      ...value,
    });
    return id;
  };

  /** One lab panel: its Observations and the DiagnosticReport that lists them. */
  const panel = (
    encounterId: string,
    when: string,
    panelKey: PanelKey,
    values: readonly (readonly [LabKey, number])[],
    at: Site = site,
  ): void => {
    const ids = values.map(([k, v]) => {
      const lab = LABS[k];
      return observation(
        encounterId,
        when,
        US_CORE + 'us-core-observation-lab',
        LABORATORY,
        loinc(lab.loinc, lab.display),
        {
          valueQuantity: quantity(v, lab.unit),
        },
      );
    });
    const p = PANELS[panelKey];
    emit({
      resourceType: 'DiagnosticReport',
      id: rng.uuid(),
      meta: { profile: [US_CORE + 'us-core-diagnosticreport-lab'] },
      status: 'final',
      category: LAB_REPORT_CATEGORY,
      code: loinc(p.loinc, p.display),
      subject: patientRef,
      encounter: { reference: `Encounter/${encounterId}` },
      effectiveDateTime: when,
      issued: when,
      performer: [{ reference: `Organization/${at.organizationId}` }],
      result: ids.map((id) => ({ reference: `Observation/${id}` })),
    });
  };

  // First onset of each condition (chronic ones have one), for `hasBy`.
  const firstOnset = new Map<ConditionKey, number>();
  for (const e of h.events) if (!firstOnset.has(e.key)) firstOnset.set(e.key, e.onset);
  const hasBy = (key: ConditionKey, day: number): boolean =>
    (firstOnset.get(key) ?? Infinity) <= day;

  const metabolic = (
    encounterId: string,
    when: string,
    day: number,
    age: number,
    at: Site = site,
  ): void => {
    const k = kidneyLabs(rng, age, female, hasBy('ckd', day));
    panel(
      encounterId,
      when,
      'metabolic',
      [
        ['glucose', glucose(rng, hasBy('diabetes', day))],
        ['creatinine', k.creatinine],
        ['egfr', k.egfr],
      ],
      at,
    );
  };
  const bloodCount = (
    encounterId: string,
    when: string,
    day: number,
    infection: boolean,
    at: Site = site,
  ): void => {
    const c = cbc(rng, female, hasBy('ckd', day), infection);
    panel(
      encounterId,
      when,
      'cbc',
      [
        ['hemoglobin', c.hemoglobin],
        ['wbc', c.wbc],
        ['platelets', c.platelets],
      ],
      at,
    );
  };

  // Events and visits merge by day; on the same day the diagnosis encounter comes first.
  let next = 0;
  const events = h.events.filter((e) => !e.prevalentAtStart);
  const prevalent = h.events.filter((e) => e.prevalentAtStart);
  const flushEventsUntil = (day: number): void => {
    while (next < events.length && (events[next] as ConditionEvent).onset <= day) {
      const e = events[next++] as ConditionEvent;
      if (e.inpatient !== null) {
        const [id, minute] = admission(
          e.key,
          e.onset,
          e.inpatient.nights,
          e.inpatient.icuDays,
          false,
        );
        record(e, id, e.onset, minute);
        // Admission labs, half an hour after arrival.
        const when = dayTimeToIso(e.onset, Math.min(minute + 30, 1439));
        const mi = e.key === 'myocardialInfarction';
        panel(id, when, 'cardiac', [['troponin', troponin(rng, mi)]], hospital);
        bloodCount(id, when, e.onset, e.key === 'pneumonia', hospital);
        const age = ageOn(h.birth, e.onset);
        if (age >= 18) metabolic(id, when, e.onset, age, hospital);
        const r = e.readmission;
        if (r !== null) {
          const [rid, rminute] = admission(e.key, r.day, r.nights, r.icuDays, true);
          const rwhen = dayTimeToIso(r.day, Math.min(rminute + 30, 1439));
          bloodCount(rid, rwhen, r.day, e.key === 'pneumonia', hospital);
        }
        continue;
      }
      const urgent = !e.emergency && rng.chance(URGENT_CARE_SHARE[e.key] ?? 0);
      const [id, minute] = encounter(
        e.onset,
        e.emergency
          ? ENCOUNTER_TYPES.emergency
          : urgent
            ? ENCOUNTER_TYPES.urgentCare
            : ENCOUNTER_TYPES.problem,
        e.emergency,
        e.key,
      );
      record(e, id, e.onset, minute);
    }
  };

  h.wellness.forEach((day, visit) => {
    flushEventsUntil(day);
    const age = ageOn(h.birth, day);
    const [encounterId, minute] = encounter(
      day,
      age < 18 ? ENCOUNTER_TYPES.wellChild : ENCOUNTER_TYPES.checkUp,
      false,
      null,
    );
    if (visit === 0) {
      for (const a of h.allergies) allergyIntolerance(a, encounterId, dayTimeToIso(day, minute));
      for (const e of prevalent) record(e, encounterId, day, minute);
    }
    // Measured ten minutes into the visit (visits last 15–60 minutes).
    const when = dayTimeToIso(day, minute + 10);
    const vital = (
      profile: string,
      cat: unknown[],
      code: unknown,
      value: Record<string, unknown>,
    ): void => {
      observation(encounterId, when, profile, cat, code, value);
    };
    if (age >= 3) {
      let systolic: number;
      let diastolic: number;
      if (hasBy('hypertension', day)) {
        // The payer disparity (HYPERTENSION_CONTROL): controlled or not, by payer.
        const c = HYPERTENSION_CONTROL;
        const payer = payerOn(h.insurance, day);
        const controlled = rng.chance(c.byPayer[payer]);
        const bp = controlled ? c.controlled : c.uncontrolled;
        systolic = Math.round(rng.normal(bp.systolic[0], bp.systolic[1]));
        diastolic = Math.round(rng.normal(bp.diastolic[0], bp.diastolic[1]));
        if (controlled) {
          systolic = Math.min(systolic, c.threshold.systolic - 1);
          diastolic = Math.min(diastolic, c.threshold.diastolic - 1);
        } else systolic = Math.max(systolic, c.threshold.systolic);
        truth?.addBloodPressure(payer, controlled, visit === h.wellness.length - 1);
      } else {
        systolic = Math.round(rng.normal(112 + 0.3 * Math.max(0, age - 20), 10));
        diastolic = Math.round(rng.normal(72, 7));
      }
      const bp = bloodPressure(systolic, diastolic);
      vital(BP_PROFILE, VITAL_SIGNS, bp.code, { component: bp.component });
    }
    if (age >= 2) {
      const bmi = age < 18 ? rng.normal(15 + age * 0.45, 2.5) : rng.normal(29, 5.5);
      vital(
        US_CORE + 'us-core-bmi',
        VITAL_SIGNS,
        loinc('39156-5', 'Body mass index (BMI) [Ratio]'),
        { valueQuantity: quantity(round1(Math.max(12, bmi)), 'kg/m2') },
      );
    }
    const heartRate = Math.round(rng.normal(age < 12 ? 95 : 74, 10));
    vital(
      'http://hl7.org/fhir/StructureDefinition/heartrate',
      VITAL_SIGNS,
      loinc('8867-4', 'Heart rate'),
      { valueQuantity: quantity(heartRate, '/min') },
    );
    const diabetic = hasBy('diabetes', day);
    if (diabetic || (age >= 18 && rng.chance(HBA1C_TEST.screeningShare))) {
      const d = diabetic ? HBA1C_TEST.diabetic : HBA1C_TEST.nonDiabetic;
      const a1c = rng.normal(d.mean, d.sd);
      truth?.addHba1c(diabetic, round1(Math.max(4, a1c)) >= HBA1C_TEST.cutOff);
      vital(
        US_CORE + 'us-core-observation-lab',
        LABORATORY,
        loinc('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'),
        { valueQuantity: quantity(round1(Math.max(4, a1c)), '%') },
      );
    }
    if (age < 18) return;
    // Adults: panels for the chronic conditions they have, and some screening.
    if (
      diabetic ||
      hasBy('hypertension', day) ||
      hasBy('ckd', day) ||
      hasBy('heartFailure', day) ||
      rng.chance(LAB_SCREENING.metabolic)
    )
      metabolic(encounterId, when, day, age);
    if (hasBy('hyperlipidemia', day) || (age >= 20 && rng.chance(LAB_SCREENING.lipid)))
      panel(encounterId, when, 'lipid', [['ldl', ldl(rng, hasBy('hyperlipidemia', day))]]);
    if (rng.chance(LAB_SCREENING.cbc)) bloodCount(encounterId, when, day, false);
  });
  flushEventsUntil(Infinity);

  function allergyIntolerance(a: AllergyKey, encounterId: string, recorded: string): void {
    const spec = ALLERGIES[a];
    emit({
      resourceType: 'AllergyIntolerance',
      id: rng.uuid(),
      meta: { profile: [US_CORE + 'us-core-allergyintolerance'] },
      clinicalStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
            code: 'active',
          },
        ],
      },
      verificationStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification',
            code: 'confirmed',
          },
        ],
      },
      type: 'allergy',
      category: ['medication'],
      criticality: 'low',
      code: {
        coding: [{ system: RXNORM, code: spec.rxnorm, display: spec.display }],
        text: spec.display,
      },
      patient: patientRef,
      encounter: { reference: `Encounter/${encounterId}` },
      recordedDate: recorded,
      recorder: practitionerRef,
      reaction: [
        {
          manifestation: [
            { coding: [{ system: SNOMED, ...spec.reaction }], text: spec.reaction.display },
          ],
        },
      ],
    });
  }
}

/** Shares of adult wellness visits with a screening panel when no condition calls for it. */
export const LAB_SCREENING = { metabolic: 0.1, lipid: 0.1, cbc: 0.05 } as const;
