/**
 * PID → Patient (v2-to-FHIR "PID[Patient]") and ADT messages (v2.5.1 ch. 3) → Encounter,
 * Location, Practitioner, Condition (DG1), AllergyIntolerance (AL1), Procedure (PR1), and the
 * A40 merge (MRG) as Patient.link.
 */
import { stableId } from '../convert.js';
import type { FhirObject } from '../convert.js';
import { QuarantineCode } from '../types.js';
import { component, repetitions, segment, segments, value } from './model.js';
import type { Hl7Segment } from './model.js';
import {
  MapError,
  clean,
  cwe,
  cxIdentifier,
  each,
  fieldDateTime,
  hdKey,
  practitioner,
  subs,
  toDate,
  toDateTime,
  v2Coding,
  xad,
  xpn,
  xtn,
} from './datatypes.js';
import type { Json, Rep } from './datatypes.js';
import type { MapContext } from './map.js';
import { patientIdOfCx } from './datatypes.js';

const GENDER: Readonly<Record<string, string>> = {
  M: 'male',
  F: 'female',
  O: 'other',
  A: 'other',
  N: 'unknown',
  U: 'unknown',
};

/** OMB race categories (CDC Race & Ethnicity code set) allowed in US Core ombCategory. */
const OMB_RACE = new Set(['1002-5', '2028-9', '2054-5', '2076-8', '2106-3', 'UNK', 'ASKU']);
const OMB_ETHNICITY = new Set(['2135-2', '2186-5']);
/** HL7 table 0189 ethnic group → CDC code. */
const ETHNIC_0189: Readonly<Record<string, string>> = { H: '2135-2', N: '2186-5' };
const CDCREC = 'urn:oid:2.16.840.1.113883.6.238';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';

/** PID-10 / PID-22 → US Core race / ethnicity extension (OMB codes as ombCategory). */
function usCoreExt(kind: 'race' | 'ethnicity', reps: ReadonlyArray<Rep>): Json | undefined {
  const omb = kind === 'race' ? OMB_RACE : OMB_ETHNICITY;
  const parts: Json[] = [];
  const texts: string[] = [];
  for (const r of reps) {
    let code = component(r, 1).trim();
    const display = component(r, 2).trim();
    if (kind === 'ethnicity' && ETHNIC_0189[code] !== undefined) code = ETHNIC_0189[code]!;
    if (display !== '') texts.push(display);
    if (!/^\d{4}-\d$|^UNK$|^ASKU$/.test(code)) continue;
    parts.push({
      url: omb.has(code) ? 'ombCategory' : 'detailed',
      valueCoding: clean({ system: CDCREC, code, display }),
    });
  }
  if (parts.length === 0) return undefined;
  const text = texts.join(', ') || (parts[0]!['valueCoding'] as Json)['code'];
  return {
    url: `${US_CORE}us-core-${kind}`,
    extension: [...parts, { url: 'text', valueString: text }],
  };
}

const MARITAL = new Set(['A', 'D', 'I', 'L', 'M', 'P', 'S', 'T', 'U', 'W', 'C']);

/** PID → Patient (id from the chosen PID-3; PID-3 all as identifiers). */
export function mapPatient(ctx: MapContext, pid: Hl7Segment): FhirObject {
  const gender = value(pid, 8).trim().toUpperCase();
  const marital = repetitions(pid, 16)[0];
  const maritalCode = marital === undefined ? '' : component(marital, 1).trim().toUpperCase();
  const deathTime = fieldDateTime(pid, 29);
  const deathFlag = value(pid, 30).trim().toUpperCase();
  const lang = repetitions(pid, 15)[0];
  const langCc = cwe(lang);
  const p = clean({
    resourceType: 'Patient',
    id: ctx.patientId,
    extension: [
      usCoreExt('race', repetitions(pid, 10)),
      usCoreExt('ethnicity', repetitions(pid, 22)),
    ].filter((x) => x !== undefined),
    identifier: each(pid, 3, cxIdentifier),
    active: true,
    name: each(pid, 5, xpn),
    telecom: [...each(pid, 13, (r) => xtn(r, 'home')), ...each(pid, 14, (r) => xtn(r, 'work'))],
    gender: GENDER[gender],
    birthDate: toDate(value(pid, 7), 'PID-7 (date of birth)'),
    deceasedDateTime: deathTime,
    deceasedBoolean:
      deathTime === undefined && (deathFlag === 'Y' || deathFlag === 'N')
        ? deathFlag === 'Y'
        : undefined,
    address: each(pid, 11, xad),
    maritalStatus:
      marital === undefined || maritalCode === ''
        ? undefined
        : MARITAL.has(maritalCode)
          ? {
              coding: [
                clean({
                  system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus',
                  code: maritalCode,
                  display: component(marital, 2).trim(),
                }),
              ],
            }
          : cwe(marital),
    communication: langCc === undefined ? undefined : [{ language: langCc }],
  }) as FhirObject;
  return ctx.out.add(p);
}

// ---------------------------------------------------------------------------------------

/** PV1-2 patient class (table 0004) → v3 ActCode encounter class. */
const CLASS: Readonly<Record<string, [string, string]>> = {
  E: ['EMER', 'emergency'],
  I: ['IMP', 'inpatient encounter'],
  O: ['AMB', 'ambulatory'],
  P: ['PRENC', 'pre-admission'],
  R: ['IMP', 'inpatient encounter'],
  B: ['AMB', 'ambulatory'],
};

/** Encounter.status by ADT event (v2.5.1 ch. 3 trigger events). */
function statusFor(event: string, pv1: Hl7Segment): string {
  switch (event) {
    case 'A03':
      return 'finished';
    case 'A05':
      return 'planned';
    case 'A11':
      return 'cancelled';
    case 'A04':
    case 'A08':
      return value(pv1, 45) !== '' ? 'finished' : 'in-progress';
    default:
      return 'in-progress';
  }
}

/** PL (point of care^room^bed^facility^status^type^building^floor^description^id) → Location. */
function location(rep: Rep | undefined, ctx: MapContext): Json | undefined {
  if (rep === undefined) return undefined;
  const parts = rep.map((c) => c.join('&').trim());
  if (parts.every((p) => p === '')) return undefined;
  const id = stableId('loc', ...parts);
  const pl = (n: number): string => component(rep, n).trim();
  const name =
    pl(9) ||
    [pl(4), pl(7), pl(8), pl(1), pl(2), pl(3)].filter((s) => s !== '').join(' ') ||
    parts.join(' ');
  const physical = pl(3) !== '' ? 'bd' : pl(2) !== '' ? 'ro' : pl(1) !== '' ? 'wa' : undefined;
  const locId = subs(rep, 10)[0]?.trim() ?? '';
  ctx.out.add(
    clean({
      resourceType: 'Location',
      id,
      identifier: locId === '' ? undefined : [{ value: locId }],
      status: 'active',
      name,
      mode: 'instance',
      physicalType:
        physical === undefined
          ? undefined
          : {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/location-physical-type',
                  code: physical,
                },
              ],
            },
    }) as FhirObject,
  );
  return { reference: `Location/${id}`, display: name };
}

/** The Encounter id: PV1-19 visit number + its authority, else patient + admit time. */
export function encounterIdOf(pv1: Hl7Segment | undefined, patientId: string): string | undefined {
  const vn = repetitions(pv1, 19)[0];
  if (vn !== undefined && component(vn, 1).trim() !== '')
    return stableId('enc', hdKey(subs(vn, 4)), component(vn, 1).trim());
  const admit = value(pv1, 44).trim();
  if (admit !== '') return stableId('enc', 'patient-admit', patientId, admit);
  return undefined;
}

/** encounterIdOf, else (last resort, documented) from MSH-10: one Encounter per message. */
function encounterIdOrMsh10(ctx: MapContext, pv1: Hl7Segment): string | undefined {
  const id = encounterIdOf(pv1, ctx.patientId);
  if (id !== undefined) return id;
  return ctx.msg.controlId === '' ? undefined : stableId('enc', 'msh10', ctx.msg.controlId);
}

function encounter(ctx: MapContext, pv1: Hl7Segment, event: string): FhirObject | undefined {
  const id = encounterIdOrMsh10(ctx, pv1);
  if (id === undefined)
    throw new MapError(
      QuarantineCode.MissingValue,
      'PV1 has neither a visit number (PV1-19) nor an admit time (PV1-44), and MSH-10 is empty; the Encounter cannot get a stable id',
    );
  const pv2 = segment(ctx.msg, 'PV2');
  const cls = value(pv1, 2).trim().toUpperCase();
  const known = CLASS[cls];
  const status = statusFor(event, pv1);
  const start = fieldDateTime(pv1, 44);
  const end = fieldDateTime(pv1, 45);
  const participants: Json[] = [];
  for (const [n, code, display] of [
    [7, 'ATND', 'attender'],
    [8, 'REF', 'referrer'],
    [9, 'CON', 'consultant'],
    [17, 'ADM', 'admitter'],
  ] as const) {
    for (const r of repetitions(pv1, n)) {
      const ref = practitioner(r, ctx.out);
      if (ref === undefined) continue;
      participants.push({
        type: [
          {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
                code,
                display,
              },
            ],
          },
        ],
        individual: ref,
      });
    }
  }
  const locations: Json[] = [];
  const cur = location(repetitions(pv1, 3)[0], ctx);
  if (cur !== undefined)
    locations.push(
      clean({
        location: cur,
        status: status === 'finished' ? 'completed' : status === 'planned' ? 'planned' : 'active',
        period:
          event === 'A02' || event === 'A12'
            ? clean({
                start: toDateTime(
                  value(segment(ctx.msg, 'EVN'), 6) || value(segment(ctx.msg, 'EVN'), 2),
                  'EVN-6',
                ),
              })
            : undefined,
      }),
    );
  const prior = event === 'A02' ? location(repetitions(pv1, 6)[0], ctx) : undefined;
  if (prior !== undefined) locations.push({ location: prior, status: 'completed' });
  const vn = repetitions(pv1, 19)[0];
  const parent = repetitions(pv1, 50)[0];
  const parentId =
    parent !== undefined && component(parent, 1).trim() !== ''
      ? stableId('enc', hdKey(subs(parent, 4)), component(parent, 1).trim())
      : undefined;
  const admitSource = value(pv1, 14).trim();
  const discharge = value(pv1, 36).trim();
  const readmit = value(pv1, 13).trim();
  const types = [
    value(pv1, 18).trim() === '' ? undefined : { coding: [v2Coding('0018', value(pv1, 18))] },
    value(pv1, 4).trim() === '' ? undefined : { coding: [v2Coding('0007', value(pv1, 4))] },
  ].filter((x) => x !== undefined);
  const visitText = value(pv2, 12).trim();
  if (visitText !== '' && types[0] !== undefined) (types[0] as Json)['text'] = visitText;
  const reason = cwe(repetitions(pv2, 3)[0]);
  const enc = clean({
    resourceType: 'Encounter',
    id,
    identifier: vn === undefined ? [] : [cxIdentifier(vn)].filter((x) => x !== undefined),
    status,
    class: known
      ? {
          system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
          code: known[0],
          display: known[1],
        }
      : cls !== ''
        ? { system: 'http://terminology.hl7.org/CodeSystem/v2-0004', code: cls }
        : {
            system: 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor',
            code: 'UNK',
            display: 'unknown',
          },
    type: types,
    subject: ctx.patientRef,
    participant: participants,
    period: clean({ start, end }),
    reasonCode: reason === undefined ? [] : [reason],
    hospitalization: clean({
      admitSource: admitSource === '' ? undefined : { coding: [v2Coding('0023', admitSource)] },
      reAdmission: readmit === '' ? undefined : { coding: [v2Coding('0092', readmit)] },
      dischargeDisposition:
        discharge === '' ? undefined : { coding: [v2Coding('0112', discharge)] },
    }),
    location: locations,
    partOf:
      parentId === undefined || parentId === id
        ? undefined
        : { reference: `Encounter/${parentId}` },
  }) as FhirObject;
  return ctx.out.add(enc);
}

/** DG1 → Condition (encounter-diagnosis) and Encounter.diagnosis entry. */
function conditions(ctx: MapContext, encId: string | undefined): Json[] {
  const diagnoses: Json[] = [];
  for (const dg1 of segments(ctx.msg, 'DG1')) {
    const code =
      cwe(repetitions(dg1, 3)[0]) ??
      (value(dg1, 4).trim() === '' ? undefined : { text: value(dg1, 4).trim() });
    if (code === undefined) continue;
    const idRep = repetitions(dg1, 20)[0];
    const codeKey = JSON.stringify(code);
    const id =
      idRep !== undefined && component(idRep, 1).trim() !== ''
        ? stableId('cond', component(idRep, 2).trim(), component(idRep, 1).trim())
        : stableId('cond', ctx.patientId, encId ?? '', codeKey);
    const dgType = value(dg1, 6).trim().toUpperCase();
    ctx.out.add(
      clean({
        resourceType: 'Condition',
        id,
        identifier:
          idRep === undefined || component(idRep, 1).trim() === ''
            ? []
            : [clean({ value: component(idRep, 1).trim() })],
        verificationStatus: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
              code: dgType === 'F' ? 'confirmed' : dgType === 'W' ? 'provisional' : 'unconfirmed',
            },
          ],
        },
        category: [
          {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/condition-category',
                code: 'encounter-diagnosis',
              },
            ],
          },
        ],
        code,
        subject: ctx.patientRef,
        encounter: encId === undefined ? undefined : { reference: `Encounter/${encId}` },
        onsetDateTime: fieldDateTime(dg1, 5),
        recordedDate: fieldDateTime(dg1, 19),
        recorder: practitioner(repetitions(dg1, 16)[0], ctx.out),
      }) as FhirObject,
    );
    const rank = Number(value(dg1, 15));
    diagnoses.push(
      clean({
        condition: { reference: `Condition/${id}` },
        rank: Number.isInteger(rank) && rank > 0 ? rank : undefined,
      }),
    );
  }
  return diagnoses;
}

const ALLERGY_CATEGORY: Readonly<Record<string, string>> = {
  DA: 'medication',
  FA: 'food',
  EA: 'environment',
  MA: 'medication',
  AA: 'biologic',
  PA: 'environment',
};
const SEVERITY: Readonly<Record<string, string>> = { SV: 'severe', MO: 'moderate', MI: 'mild' };

/** AL1 → AllergyIntolerance (id from patient + allergen). */
function allergies(ctx: MapContext): void {
  for (const al1 of segments(ctx.msg, 'AL1')) {
    const code = cwe(repetitions(al1, 3)[0]);
    if (code === undefined) continue;
    const cat = ALLERGY_CATEGORY[value(al1, 2).trim().toUpperCase()];
    const sev = SEVERITY[value(al1, 4).trim().toUpperCase()];
    const reactions = repetitions(al1, 5)
      .map((r) => component(r, 1).trim())
      .filter((s) => s !== '');
    ctx.out.add(
      clean({
        resourceType: 'AllergyIntolerance',
        id: stableId('alg', ctx.patientId, JSON.stringify(code)),
        clinicalStatus: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
              code: 'active',
            },
          ],
        },
        category: cat === undefined ? [] : [cat],
        code,
        patient: ctx.patientRef,
        recordedDate: toDateTime(value(al1, 6), 'AL1-6'),
        reaction:
          reactions.length === 0
            ? []
            : [
                clean({
                  manifestation: reactions.map((t) => ({ text: t })),
                  severity: sev,
                }),
              ],
      }) as FhirObject,
    );
  }
}

/** PR1 → Procedure. */
function procedures(ctx: MapContext, encId: string | undefined): void {
  for (const pr1 of segments(ctx.msg, 'PR1')) {
    const code =
      cwe(repetitions(pr1, 3)[0]) ??
      (value(pr1, 4).trim() === '' ? undefined : { text: value(pr1, 4).trim() });
    if (code === undefined) continue;
    const idRep = repetitions(pr1, 19)[0];
    const start = fieldDateTime(pr1, 5);
    const id =
      idRep !== undefined && component(idRep, 1).trim() !== ''
        ? stableId('proc', component(idRep, 2).trim(), component(idRep, 1).trim())
        : stableId('proc', ctx.patientId, encId ?? '', JSON.stringify(code), start ?? '');
    const minutes = Number(value(pr1, 7));
    let end: string | undefined;
    if (start !== undefined && start.includes('T') && Number.isFinite(minutes) && minutes > 0) {
      end = new Date(Date.parse(start) + minutes * 60000).toISOString().replace('.000Z', 'Z');
    }
    const performers = [...repetitions(pr1, 11), ...repetitions(pr1, 12), ...repetitions(pr1, 8)]
      .map((r) => practitioner(r, ctx.out))
      .filter((x) => x !== undefined)
      .map((actor) => ({ actor }));
    const reason = cwe(repetitions(pr1, 15)[0]);
    ctx.out.add(
      clean({
        resourceType: 'Procedure',
        id,
        identifier:
          idRep === undefined || component(idRep, 1).trim() === ''
            ? []
            : [{ value: component(idRep, 1).trim() }],
        status: 'completed',
        code,
        subject: ctx.patientRef,
        encounter: encId === undefined ? undefined : { reference: `Encounter/${encId}` },
        performedDateTime: end === undefined ? start : undefined,
        performedPeriod: end === undefined ? undefined : { start, end },
        performer: performers,
        reasonCode: reason === undefined ? [] : [reason],
      }) as FhirObject,
    );
  }
}

/** ADT: Patient (already mapped), Encounter from PV1, DG1/AL1/PR1, A40 merge. Primary: Patient. */
export function mapAdt(ctx: MapContext): FhirObject | undefined {
  const { event } = ctx.msg;
  if (event === 'A40') return merge(ctx);
  const pv1 = segment(ctx.msg, 'PV1');
  const hasVisit =
    pv1 !== undefined &&
    value(pv1, 2).trim().toUpperCase() !== 'N' &&
    (value(pv1, 19) !== '' || value(pv1, 44) !== '' || value(pv1, 3) !== '');
  let encId: string | undefined;
  if (event !== 'A28' && event !== 'A31' && hasVisit) {
    const enc = encounter(ctx, pv1, event);
    encId = enc?.id;
    const diagnoses = conditions(ctx, encId);
    if (enc !== undefined && diagnoses.length > 0) {
      (enc as Record<string, unknown>)['diagnosis'] = diagnoses;
    }
  } else {
    conditions(ctx, undefined);
  }
  allergies(ctx);
  procedures(ctx, encId);
  return undefined;
}

/** A40 merge: MRG-1 prior identifiers → inactive Patient replaced-by the PID patient. */
function merge(ctx: MapContext): FhirObject | undefined {
  const mrg = segment(ctx.msg, 'MRG');
  const prior = repetitions(mrg, 1).filter((r) => component(r, 1).trim() !== '');
  if (prior.length === 0)
    throw new MapError(
      QuarantineCode.MissingValue,
      'ADT^A40 without MRG-1 (prior patient identifier list): nothing to merge',
    );
  const survivor = ctx.out
    .all()
    .find((r) => r.resourceType === 'Patient' && r.id === ctx.patientId) as
    Record<string, unknown> | undefined;
  const links: Json[] = [];
  for (const cx of prior) {
    const oldId = patientIdOfCx(cx);
    if (oldId === ctx.patientId) continue;
    ctx.out.add({
      resourceType: 'Patient',
      id: oldId,
      identifier: [cxIdentifier(cx)].filter((x) => x !== undefined),
      active: false,
      link: [{ other: { reference: `Patient/${ctx.patientId}` }, type: 'replaced-by' }],
    });
    links.push({ other: { reference: `Patient/${oldId}` }, type: 'replaces' });
  }
  if (survivor !== undefined && links.length > 0) survivor['link'] = links;
  return undefined;
}
