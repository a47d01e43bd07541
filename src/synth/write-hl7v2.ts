/**
 * The `hl7v2` output format: HL7 v2.5.1 messages a hospital's interfaces would have sent for
 * each patient's care, derived from the patient's FHIR resources so that an HL7 v2 ingest
 * (following the HL7 v2-to-FHIR mappings) gives back the same facts. Per patient, in
 * clinical-time order: ADT^A04 (outpatient, emergency) or ADT^A01 + ADT^A03 (inpatient) per
 * Encounter with DG1 for its Conditions and AL1 for its allergies; ORU^R01 per
 * DiagnosticReport and per Observation outside any report; RDE^O11 per MedicationRequest;
 * VXU^V04 per Immunization; MDM^T02 per DocumentReference; ORM^O01 per ServiceRequest;
 * ADT^A31 when a patient dies. Files hl7v2/messages-0001.hl7, ... hold up to 10,000
 * messages each in one batch (FHS/BHS ... BTS/FTS). Mapping: docs/synth-formats-hl7v2.md.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { basename, join } from 'node:path';
import { finished } from 'node:stream/promises';
import {
  arr,
  codingSystemName,
  codingToCwe,
  fieldsAt,
  headerSegment,
  isObject,
  objects,
  segment,
  str,
  toCwe,
  toDt,
  toDtm,
  toXad,
  toXpn,
  toXtn,
} from './hl7v2-encode.js';
import type { Hl7Component, Hl7Field, Hl7Value, Json } from './hl7v2-encode.js';
import type { FormatWriter, FormatWriterFactory, PatientOutput, SynthRun } from './parts.js';
import type { JsonResource } from './shared-resources.js';

export const HL7V2_FORMAT = 'hl7v2';
export const HL7V2_VERSION = '2.5.1';
export const SENDING_APPLICATION = 'MEDLAKE_SYNTH';
/** Assigning authority of the FHIR resource ids carried in v2 identifiers. */
export const ASSIGNING_AUTHORITY = 'MEDLAKE_SYNTH';
/** Assigning authority of OBR-3 for an Observation sent without a DiagnosticReport. */
export const OBSERVATION_AUTHORITY = 'MEDLAKE_SYNTH_OBS';
export const MESSAGES_PER_FILE = 10_000;

const NPI_SYSTEM = 'http://hl7.org/fhir/sid/us-npi';
const NPI_AUTHORITY = ['NPI', '2.16.840.1.113883.4.6', 'ISO'];
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';

/** Run-level lookups from the shared resources (sites: at most 50, so bounded). */
export interface Hl7v2Context {
  readonly organizations: ReadonlyMap<string, { name: string; id: string }>;
  readonly locations: ReadonlyMap<string, string>;
  readonly practitioners: ReadonlyMap<string, Hl7Component[]>;
  /** MSH-7 of a message whose resource has no time (never for the core's resources). */
  readonly fallbackTime: string;
}

/** Indexes the shared Organizations, Locations and Practitioners. */
export function hl7v2Context(shared: readonly JsonResource[], fallbackTime: string): Hl7v2Context {
  const organizations = new Map<string, { name: string; id: string }>();
  const locations = new Map<string, string>();
  const practitioners = new Map<string, Hl7Component[]>();
  for (const r of shared) {
    if (r.resourceType === 'Organization')
      organizations.set(r.id, { name: str(r['name']), id: r.id });
    else if (r.resourceType === 'Location') locations.set(r.id, str(r['name']));
    else if (r.resourceType === 'Practitioner') practitioners.set(r.id, practitionerXcn(r));
  }
  return { organizations, locations, practitioners, fallbackTime };
}

/** A Practitioner as XCN: NPI (or its id) ^ family ^ given ^ middle ^ suffix ^ prefix. */
function practitionerXcn(p: Json): Hl7Component[] {
  const name = objects(p['name'])[0] ?? {};
  const given = arr(name['given']).map(str);
  const npi = objects(p['identifier']).find((i) => i['system'] === NPI_SYSTEM);
  const [id, authority, type] =
    npi !== undefined
      ? [str(npi['value']), NPI_AUTHORITY, 'NPI']
      : [str(p['id']), [ASSIGNING_AUTHORITY], 'PRN'];
  return [
    id,
    str(name['family']),
    given[0] ?? '',
    given.slice(1).join(' '),
    arr(name['suffix']).map(str).join(' '),
    arr(name['prefix']).map(str).join(' '),
    '',
    '',
    authority,
    'L',
    '',
    '',
    type,
  ];
}

const refId = (ref: unknown, type: string): string | undefined => {
  if (!isObject(ref)) return undefined;
  const s = str(ref['reference']);
  return s.startsWith(type + '/') ? s.slice(type.length + 1) : undefined;
};

/** XCN of a Reference(Practitioner): the shared Practitioner, else just its display. */
function referenceXcn(ctx: Hl7v2Context, ref: unknown): Hl7Component[] | undefined {
  if (!isObject(ref)) return undefined;
  const id = refId(ref, 'Practitioner');
  const known = id === undefined ? undefined : ctx.practitioners.get(id);
  if (known !== undefined) return known;
  const display = str(ref['display']);
  if (id === undefined && display === '') return undefined;
  return [id ?? '', display, '', '', '', '', '', '', id === undefined ? '' : [ASSIGNING_AUTHORITY]];
}

/** An organization as XON: name ^^^^^^^^^ organization identifier (XON-10). */
function organizationXon(ctx: Hl7v2Context, ref: unknown): Hl7Component[] | undefined {
  const id = refId(ref, 'Organization');
  if (id === undefined) return undefined;
  const name = ctx.organizations.get(id)?.name ?? (isObject(ref) ? str(ref['display']) : '');
  return [name, '', '', '', '', '', '', '', '', id];
}

/** A number in v2 NM form (plain decimal, never exponent notation). */
export function formatNumber(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  return n.toFixed(20).replace(/\.?0+$/, '');
}

const numText = (v: unknown): string => (typeof v === 'number' ? formatNumber(v) : '');

/** A Quantity's units as CWE: UCUM code ^ unit text ^ system. */
function unitsCwe(q: Json): Hl7Component[] | undefined {
  const code = str(q['code']);
  const unit = str(q['unit']);
  if (code === '' && unit === '') return undefined;
  return [code, unit, code === '' ? '' : codingSystemName(q['system'])];
}

/** HL7 table 0004 patient class for a FHIR Encounter.class (v3 ActCode). */
const PATIENT_CLASS: Readonly<Record<string, string>> = {
  AMB: 'O',
  EMER: 'E',
  IMP: 'I',
  ACUTE: 'I',
  NONAC: 'I',
  OBSENC: 'O',
  PRENC: 'P',
  SS: 'O',
  VR: 'O',
  HH: 'O',
  FLD: 'O',
};
const INPATIENT = new Set(['I']);

/** FHIR discharge-disposition codes and HL7 table 0112 (discharge disposition). */
const DISCHARGE_DISPOSITION: Readonly<Record<string, [string, string]>> = {
  home: ['01', 'Discharged to home or self care'],
  exp: ['20', 'Expired'],
  'other-hcf': ['05', 'Discharged/transferred to another type of institution'],
  snf: ['03', 'Discharged/transferred to skilled nursing facility'],
  aadvice: ['07', 'Left against medical advice'],
  hosp: ['51', 'Discharged/transferred to hospice'],
};
/** FHIR admit-source codes and HL7 table 0023 (admit source, values as in UB-04). */
const ADMIT_SOURCE: Readonly<Record<string, [string, string]>> = {
  emd: ['7', 'Emergency room'],
  gp: ['1', 'Physician referral'],
  'hosp-trans': ['4', 'Transfer from a hospital'],
  nursing: ['5', 'Transfer from a skilled nursing facility'],
  born: ['N', 'Newborn'],
};

/** FHIR order status (MedicationRequest, ServiceRequest) -> HL7 table 0038 (ORC-5). */
const ORDER_STATUS: Readonly<Record<string, string>> = {
  active: 'IP',
  'on-hold': 'HD',
  cancelled: 'CA',
  revoked: 'CA',
  completed: 'CM',
  'entered-in-error': 'ER',
  stopped: 'DC',
  draft: 'SC',
};
/** FHIR Observation / DiagnosticReport status -> HL7 tables 0085 (OBX-11), 0123 (OBR-25). */
const RESULT_STATUS: Readonly<Record<string, string>> = {
  registered: 'I',
  partial: 'P',
  preliminary: 'P',
  final: 'F',
  amended: 'C',
  corrected: 'C',
  appended: 'C',
  cancelled: 'X',
  'entered-in-error': 'W',
};

type Segments = string[];

interface Message {
  /** Sort key: epoch ms of the clinical time. */
  readonly at: number;
  /** Tie-break among messages of the same time. */
  readonly rank: number;
  readonly text: string;
}

/** Ranks of same-time messages: registration first, discharge and death last. */
const RANK = { A28: 0, register: 1, ORM: 2, ORU: 3, RDE: 4, VXU: 5, MDM: 6, A03: 7, A31: 8 };

const epoch = (iso: string): number => {
  const t = Date.parse(iso.length <= 10 ? iso.padEnd(10, '-01').slice(0, 10) : iso);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
};

/**
 * The HL7 v2 messages for one patient's resources (the Patient first), in the order a
 * feed would send them. Each message is its segments, each ending with CR.
 */
export function hl7v2Messages(resources: readonly JsonResource[], ctx: Hl7v2Context): string[] {
  const patient = resources.find((r) => r.resourceType === 'Patient');
  if (patient === undefined) return [];
  const byType = new Map<string, JsonResource[]>();
  const byId = new Map<string, JsonResource>();
  for (const r of resources) {
    const list = byType.get(r.resourceType);
    if (list === undefined) byType.set(r.resourceType, [r]);
    else list.push(r);
    byId.set(`${r.resourceType}/${r.id}`, r);
  }
  const ofType = (t: string): JsonResource[] => byType.get(t) ?? [];
  const encounterOf = (r: Json): JsonResource | undefined => {
    const id = refId(r['encounter'] ?? r['context'], 'Encounter');
    return id === undefined ? undefined : byId.get(`Encounter/${id}`);
  };
  const deathIso = str(patient['deceasedDateTime']);
  // A death without a time is sent (A31) at the fallback time, and shown from then on.
  const deathAt =
    deathIso !== ''
      ? epoch(deathIso)
      : patient['deceasedBoolean'] === true
        ? epoch(ctx.fallbackTime)
        : Number.POSITIVE_INFINITY;
  const messages: Message[] = [];

  /** Adds one message: MSH, then PID (with death once it has happened), then `body`. */
  const add = (
    time: string,
    rank: number,
    type: [string, string, string],
    controlId: string,
    facility: { name: string; id: string } | undefined,
    body: (pid: string) => Segments,
    enc?: Json,
  ): void => {
    const at = epoch(time);
    // A visit's results and orders are not sent before its registration, even where the
    // clinical time is earlier (MSH-7 keeps the clinical time).
    const period = enc?.['period'];
    const after = isObject(period) ? epoch(str(period['start'])) : Number.NEGATIVE_INFINITY;
    const sortAt = Number.isFinite(after) ? Math.max(at, after) : at;
    const msh = headerSegment('MSH', [
      SENDING_APPLICATION,
      facility === undefined ? undefined : [facility.name, facility.id, 'UUID'],
      'MEDLAKE',
      undefined,
      toDtm(time),
      undefined,
      type,
      controlId,
      'P',
      HL7V2_VERSION,
      undefined,
      undefined,
      'NE',
      'NE',
      undefined,
      'UNICODE UTF-8',
    ]);
    const pid = pidSegment(patient, at >= deathAt);
    messages.push({ at: sortAt, rank, text: msh + body(pid).join('') });
  };

  const facilityOf = (
    enc: Json | undefined,
    orgRef?: unknown,
  ): { name: string; id: string } | undefined => {
    const id = refId(orgRef, 'Organization') ?? refId(enc?.['serviceProvider'], 'Organization');
    return id === undefined ? undefined : (ctx.organizations.get(id) ?? { name: '', id });
  };
  const timeOr = (t: string, enc: Json | undefined): string => {
    const period = enc?.['period'];
    return t || (isObject(period) ? str(period['start']) : '') || ctx.fallbackTime;
  };
  const pv1Of = (enc: Json | undefined): string =>
    enc === undefined ? segment('PV1', ['1', 'N']) : pv1Segment(enc, ctx, false);

  // Conditions and allergies travel in their encounter's ADT message.
  const conditionsOf = new Map<string, JsonResource[]>();
  for (const c of ofType('Condition')) {
    const e = refId(c['encounter'], 'Encounter');
    if (e !== undefined) conditionsOf.set(e, [...(conditionsOf.get(e) ?? []), c]);
  }
  const allergiesOf = new Map<string, JsonResource[]>();
  for (const a of ofType('AllergyIntolerance')) {
    const e = refId(a['encounter'], 'Encounter');
    if (e !== undefined) allergiesOf.set(e, [...(allergiesOf.get(e) ?? []), a]);
  }
  const proceduresOf = new Map<string, JsonResource[]>();
  for (const p of ofType('Procedure')) {
    const e = refId(p['encounter'], 'Encounter');
    if (e !== undefined) proceduresOf.set(e, [...(proceduresOf.get(e) ?? []), p]);
  }
  const conditionCode = (ref: unknown): Hl7Component[] | undefined => {
    const id = refId(ref, 'Condition');
    const c = id === undefined ? undefined : byId.get(`Condition/${id}`);
    return c === undefined ? undefined : toCwe(c['code']);
  };

  for (const enc of ofType('Encounter')) {
    const period = isObject(enc['period']) ? enc['period'] : {};
    const start = timeOr(str(period['start']), undefined);
    const end = str(period['end']);
    const cls = PATIENT_CLASS[str(isObject(enc['class']) ? enc['class']['code'] : '')] ?? 'U';
    const inpatient = INPATIENT.has(cls);
    const event = inpatient ? 'A01' : 'A04';
    const facility = facilityOf(enc);
    const dg1 = (conditionsOf.get(enc.id) ?? []).map((c, i) => dg1Segment(c, i + 1, ctx));
    const al1 = (allergiesOf.get(enc.id) ?? []).map((a, i) => al1Segment(a, i + 1));
    // Procedures are coded at discharge (A03) for stays, at registration otherwise.
    const discharged = inpatient && end !== '';
    const pr1 = (proceduresOf.get(enc.id) ?? []).map((p, i) =>
      pr1Segment(p, i + 1, ctx, conditionCode),
    );
    add(start, RANK.register, ['ADT', event, 'ADT_A01'], `${enc.id}-${event}`, facility, (pid) => [
      segment('EVN', [event, toDtm(start), undefined, undefined, undefined, toDtm(start)]),
      pid,
      pv1Segment(enc, ctx, !inpatient),
      ...pv2Segment(enc),
      ...al1,
      ...dg1,
      ...(discharged ? [] : pr1),
    ]);
    if (discharged)
      add(end, RANK.A03, ['ADT', 'A03', 'ADT_A03'], `${enc.id}-A03`, facility, (pid) => [
        segment('EVN', ['A03', toDtm(end), undefined, undefined, undefined, toDtm(end)]),
        pid,
        pv1Segment(enc, ctx, true),
        ...pv2Segment(enc),
        ...pr1,
      ]);
  }

  // Lab reports with their Observations; Observations outside any report on their own.
  const reported = new Set<string>();
  for (const dr of ofType('DiagnosticReport'))
    for (const ref of objects(dr['result'])) {
      const id = refId(ref, 'Observation');
      if (id !== undefined) reported.add(id);
    }
  for (const dr of ofType('DiagnosticReport')) {
    const enc = encounterOf(dr);
    const time = timeOr(str(dr['issued']) || effectiveStart(dr), enc);
    const observations = objects(dr['result'])
      .map((ref) => byId.get(`Observation/${refId(ref, 'Observation') ?? ''}`))
      .filter((o): o is JsonResource => o !== undefined);
    const performer = objects(dr['performer']).find((p) => refId(p, 'Organization') !== undefined);
    add(
      time,
      RANK.ORU,
      ['ORU', 'R01', 'ORU_R01'],
      `${dr.id}-R01`,
      facilityOf(enc, performer),
      (pid) => [
        pid,
        ...(enc === undefined ? [] : [pv1Of(enc)]),
        ...oruOrder(dr, [dr.id, ASSIGNING_AUTHORITY], observations, ctx, performer),
      ],
      enc,
    );
  }
  for (const obs of ofType('Observation')) {
    if (reported.has(obs.id)) continue;
    const enc = encounterOf(obs);
    const time = timeOr(str(obs['issued']) || effectiveStart(obs), enc);
    const performer = objects(obs['performer']).find((p) => refId(p, 'Organization') !== undefined);
    add(
      time,
      RANK.ORU,
      ['ORU', 'R01', 'ORU_R01'],
      `${obs.id}-R01`,
      facilityOf(enc, performer),
      (pid) => [
        pid,
        ...(enc === undefined ? [] : [pv1Of(enc)]),
        ...oruOrder(obs, [obs.id, OBSERVATION_AUTHORITY], [obs], ctx, performer),
      ],
      enc,
    );
  }

  for (const mr of ofType('MedicationRequest')) {
    const enc = encounterOf(mr);
    const time = timeOr(str(mr['authoredOn']), enc);
    const indications = [
      ...objects(mr['reasonCode']).map(toCwe),
      ...objects(mr['reasonReference']).map(conditionCode),
    ].filter((c): c is Hl7Component[] => c !== undefined);
    add(
      time,
      RANK.RDE,
      ['RDE', 'O11', 'RDE_O11'],
      `${mr.id}-O11`,
      facilityOf(enc),
      (pid) => [pid, pv1Of(enc), ...rdeOrder(mr, ctx, indications)],
      enc,
    );
  }

  for (const imm of ofType('Immunization')) {
    const enc = encounterOf(imm);
    const time = timeOr(str(imm['occurrenceDateTime']) || str(imm['recorded']), enc);
    add(
      time,
      RANK.VXU,
      ['VXU', 'V04', 'VXU_V04'],
      `${imm.id}-V04`,
      facilityOf(enc),
      (pid) => [pid, ...(enc === undefined ? [] : [pv1Of(enc)]), ...vxuOrder(imm, ctx)],
      enc,
    );
  }

  for (const sr of ofType('ServiceRequest')) {
    const enc = encounterOf(sr);
    const time = timeOr(str(sr['authoredOn']) || str(sr['occurrenceDateTime']), enc);
    add(
      time,
      RANK.ORM,
      ['ORM', 'O01', 'ORM_O01'],
      `${sr.id}-O01`,
      facilityOf(enc),
      (pid) => [pid, ...(enc === undefined ? [] : [pv1Of(enc)]), ...ormOrder(sr, ctx)],
      enc,
    );
  }

  for (const doc of ofType('DocumentReference')) {
    const context = isObject(doc['context']) ? doc['context'] : {};
    const encId = objects(context['encounter'])
      .map((r) => refId(r, 'Encounter'))
      .find((x) => x !== undefined);
    const enc = encId === undefined ? undefined : byId.get(`Encounter/${encId}`);
    const time = timeOr(str(doc['date']), enc);
    add(
      time,
      RANK.MDM,
      ['MDM', 'T02', 'MDM_T02'],
      `${doc.id}-T02`,
      facilityOf(enc),
      (pid) => [segment('EVN', ['T02', toDtm(time)]), pid, pv1Of(enc), ...mdmBody(doc, ctx, time)],
      enc,
    );
  }

  // The registration system records a death as a person update; one without a time is
  // sent at the end of the window.
  if (deathIso !== '' || patient['deceasedBoolean'] === true) {
    const time = deathIso || ctx.fallbackTime;
    add(time, RANK.A31, ['ADT', 'A31', 'ADT_A05'], `${patient.id}-A31`, undefined, (pid) => [
      segment('EVN', ['A31', toDtm(time), undefined, undefined, undefined, toDtm(time)]),
      pid,
      segment('PV1', ['1', 'N']),
    ]);
  }
  // A patient with nothing else still reaches the receiver: a person registration.
  if (messages.length === 0) {
    const time = ctx.fallbackTime;
    add(time, RANK.A28, ['ADT', 'A28', 'ADT_A05'], `${patient.id}-A28`, undefined, (pid) => [
      segment('EVN', ['A28', toDtm(time)]),
      pid,
      segment('PV1', ['1', 'N']),
    ]);
  }
  // Stable sort: by time, then rank; same time and rank keep resource order.
  return messages
    .map((m, i) => ({ m, i }))
    .sort((a, b) => a.m.at - b.m.at || a.m.rank - b.m.rank || a.i - b.i)
    .map(({ m }) => m.text);
}

function effectiveStart(r: Json): string {
  const p = r['effectivePeriod'];
  return (
    str(r['effectiveDateTime']) ||
    str(r['effectiveInstant']) ||
    (isObject(p) ? str(p['start']) : '')
  );
}

/** OMB race and ethnicity categories (and detailed codes) from the US Core extensions. */
function ombCodes(patient: Json, name: string): Hl7Value[] {
  const ext = objects(patient['extension']).find((e) => e['url'] === US_CORE + name);
  if (ext === undefined) return [];
  return objects(ext['extension'])
    .filter((e) => e['url'] === 'ombCategory' || e['url'] === 'detailed')
    .map((e) => codingToCwe(e['valueCoding']))
    .filter((c): c is Hl7Component[] => c !== undefined);
}

const SEX: Readonly<Record<string, string>> = { male: 'M', female: 'F', other: 'O', unknown: 'U' };

function pidSegment(p: Json, dead: boolean): string {
  const ids: Hl7Value[] = [[p['id'] as string, '', '', [ASSIGNING_AUTHORITY], 'MR']];
  for (const i of objects(p['identifier'])) {
    const system = str(i['system']);
    ids.push([str(i['value']), '', '', ['', system, system === '' ? '' : 'URI'], 'PI']);
  }
  const death = str(p['deceasedDateTime']);
  const marital = toCwe(p['maritalStatus']);
  const language = objects(p['communication']).map((c) => toCwe(c['language']))[0];
  return segment(
    'PID',
    fieldsAt({
      1: '1',
      3: { rep: ids },
      5: { rep: objects(p['name']).map(toXpn) },
      7: toDt(p['birthDate']),
      8: SEX[str(p['gender'])],
      10: { rep: ombCodes(p, 'us-core-race') },
      11: { rep: objects(p['address']).map(toXad) },
      13: {
        rep: objects(p['telecom'])
          .map(toXtn)
          .filter((x) => x !== undefined),
      },
      15: language,
      16: marital,
      22: { rep: ombCodes(p, 'us-core-ethnicity') },
      29: dead ? toDtm(death) : undefined,
      30: dead ? 'Y' : undefined,
    }),
  );
}

/** Participant role codes (v3 ParticipationType) and their PV1 fields. */
const PARTICIPANT_FIELD: Readonly<Record<string, number>> = {
  ATND: 7,
  PPRF: 7,
  REF: 8,
  CON: 9,
  ADM: 17,
};

/** PV1; `discharge` adds the discharge disposition and date (A03, and finished visits in A04). */
function pv1Segment(enc: Json, ctx: Hl7v2Context, discharge: boolean): string {
  const cls = PATIENT_CLASS[str(isObject(enc['class']) ? enc['class']['code'] : '')] ?? 'U';
  const period = isObject(enc['period']) ? enc['period'] : {};
  const hosp = isObject(enc['hospitalization']) ? enc['hospitalization'] : {};
  const participants: Record<number, Hl7Value[]> = {};
  for (const p of objects(enc['participant'])) {
    const role = objects(p['type'])
      .flatMap((t) => objects(t['coding']))
      .map((c) => str(c['code']))[0];
    const field = PARTICIPANT_FIELD[role ?? 'ATND'] ?? 7;
    const xcn = referenceXcn(ctx, p['individual']);
    if (xcn !== undefined) (participants[field] ??= []).push(xcn);
  }
  const locId = objects(enc['location'])
    .map((l) => refId(l['location'], 'Location'))
    .find((x) => x !== undefined);
  const facility = ctx.organizations.get(refId(enc['serviceProvider'], 'Organization') ?? '');
  const location: Hl7Value | undefined =
    locId === undefined
      ? undefined
      : ['', '', '', facility?.name ?? '', '', '', '', '', ctx.locations.get(locId) ?? '', locId];
  const admitSource = objects(
    isObject(hosp['admitSource']) ? hosp['admitSource']['coding'] : [],
  )[0];
  const disposition = objects(
    isObject(hosp['dischargeDisposition']) ? hosp['dischargeDisposition']['coding'] : [],
  )[0];
  const mapped = (
    table: Readonly<Record<string, [string, string]>>,
    c: Json | undefined,
    hl7: string,
  ): Hl7Value | undefined => {
    if (c === undefined) return undefined;
    const m = table[str(c['code'])];
    return m === undefined ? codingToCwe(c) : [m[0], m[1], hl7];
  };
  const type = objects(enc['type'])[0];
  const typeCode = objects(type?.['coding'])[0];
  const partOf = refId(enc['partOf'], 'Encounter');
  const end = str(period['end']);
  return segment(
    'PV1',
    fieldsAt({
      1: '1',
      2: cls,
      3: location,
      7: { rep: participants[7] ?? [] },
      8: { rep: participants[8] ?? [] },
      9: { rep: participants[9] ?? [] },
      14: mapped(ADMIT_SOURCE, admitSource, 'HL70023'),
      17: { rep: participants[17] ?? [] },
      18: str(typeCode?.['code']) || undefined,
      19: [enc.id as string, '', '', [ASSIGNING_AUTHORITY], 'VN'],
      36:
        discharge && end !== '' ? mapped(DISCHARGE_DISPOSITION, disposition, 'HL70112') : undefined,
      44: toDtm(period['start']),
      45: discharge ? toDtm(end) : undefined,
      50: partOf === undefined ? undefined : [partOf, '', '', [ASSIGNING_AUTHORITY], 'VN'],
    }),
  );
}

/** PV2: admit reason (PV2-3) from Encounter.reasonCode, visit description (PV2-12) from type. */
function pv2Segment(enc: Json): string[] {
  const reason = toCwe(objects(enc['reasonCode'])[0]);
  const type = objects(enc['type'])[0];
  const description = str(type?.['text']) || str(objects(type?.['coding'])[0]?.['display']);
  if (reason === undefined && description === '') return [];
  return [segment('PV2', fieldsAt({ 3: reason, 12: description || undefined }))];
}

function dg1Segment(c: Json, setId: number, ctx: Hl7v2Context): string {
  const verification = objects(
    isObject(c['verificationStatus']) ? c['verificationStatus']['coding'] : [],
  )[0];
  const onset =
    str(c['onsetDateTime']) || (isObject(c['onsetPeriod']) ? str(c['onsetPeriod']['start']) : '');
  return segment(
    'DG1',
    fieldsAt({
      1: String(setId),
      3: toCwe(c['code']),
      5: toDtm(onset),
      6: str(verification?.['code']) === 'confirmed' ? 'F' : 'W',
      16: referenceXcn(ctx, c['recorder'] ?? c['asserter']),
      19: toDtm(c['recordedDate']),
      20: [c['id'] as string, ASSIGNING_AUTHORITY],
      21: 'A',
    }),
  );
}

/** PR1 from a Procedure: code, time, minutes, practitioner, associated diagnosis, id. */
function pr1Segment(
  p: Json,
  setId: number,
  ctx: Hl7v2Context,
  conditionCode: (ref: unknown) => Hl7Component[] | undefined,
): string {
  const period = isObject(p['performedPeriod']) ? p['performedPeriod'] : {};
  const start = str(p['performedDateTime']) || str(period['start']);
  const end = str(period['end']);
  const minutes =
    start !== '' && end !== '' ? Math.round((epoch(end) - epoch(start)) / 60_000) : undefined;
  const practitioner = objects(p['performer'])
    .map((x) => referenceXcn(ctx, x['actor']))
    .find((x) => x !== undefined);
  const diagnosis =
    objects(p['reasonReference'])
      .map(conditionCode)
      .find((x) => x !== undefined) ?? toCwe(objects(p['reasonCode'])[0]);
  return segment(
    'PR1',
    fieldsAt({
      1: String(setId),
      3: toCwe(p['code']),
      5: toDtm(start),
      7: minutes === undefined || !Number.isFinite(minutes) ? undefined : String(minutes),
      12: practitioner,
      15: diagnosis,
      19: [p['id'] as string, ASSIGNING_AUTHORITY],
      20: 'A',
    }),
  );
}

const ALLERGEN_TYPE: Readonly<Record<string, string>> = {
  medication: 'DA',
  food: 'FA',
  environment: 'EA',
  biologic: 'MA',
};
const SEVERITY: Readonly<Record<string, string>> = { severe: 'SV', moderate: 'MO', mild: 'MI' };

function al1Segment(a: Json, setId: number): string {
  const category = arr(a['category']).map(str)[0] ?? '';
  const reactions = objects(a['reaction']);
  const severity = reactions.map((r) => SEVERITY[str(r['severity'])]).find((s) => s !== undefined);
  const manifestations = reactions.flatMap((r) =>
    objects(r['manifestation']).map(
      (m) => str(m['text']) || str(objects(m['coding'])[0]?.['display']),
    ),
  );
  const type = ALLERGEN_TYPE[category];
  return segment(
    'AL1',
    fieldsAt({
      1: String(setId),
      2: type === undefined ? undefined : [type, '', 'HL70127'],
      3: toCwe(a['code']),
      4: severity === undefined ? undefined : [severity, '', 'HL70128'],
      5: { rep: manifestations.filter((m) => m !== '') },
      6: toDt(a['recordedDate'] ?? a['onsetDateTime']),
    }),
  );
}

/** ORC + OBR + OBXs for a DiagnosticReport (or a lone Observation standing for its report). */
function oruOrder(
  r: Json,
  filler: [string, string],
  observations: readonly Json[],
  ctx: Hl7v2Context,
  performer: unknown,
): Segments {
  const placer = objects(r['basedOn'])
    .map((b) => refId(b, 'ServiceRequest'))
    .find((x) => x !== undefined);
  const placerEi = placer === undefined ? undefined : [placer, ASSIGNING_AUTHORITY];
  const section = objects(r['category'])
    .flatMap((c) => objects(c['coding']))
    .find((c) => str(c['system']).endsWith('/v2-0074'));
  const period = isObject(r['effectivePeriod']) ? r['effectivePeriod'] : {};
  const interpreter = objects(r['resultsInterpreter'] ?? r['performer'])
    .map((p) => referenceXcn(ctx, p))
    .find((x) => x !== undefined);
  const segments: Segments = [
    segment('ORC', fieldsAt({ 1: 'RE', 2: placerEi, 3: filler })),
    segment(
      'OBR',
      fieldsAt({
        1: '1',
        2: placerEi,
        3: filler,
        4: toCwe(r['code']),
        7: toDtm(effectiveStart(r)),
        8: toDtm(period['end']),
        16: interpreter,
        22: toDtm(r['issued']),
        24: str(section?.['code']) || undefined,
        25: RESULT_STATUS[str(r['status'])] ?? 'F',
      }),
    ),
  ];
  let setId = 0;
  const org = organizationXon(ctx, performer);
  for (const o of observations)
    for (const obx of obxFields(o, ctx, org))
      segments.push(segment('OBX', [String(++setId), ...obx.slice(1)]));
  return segments;
}

/** OBX fields (index 0 unused) for an Observation: its value, then each component. */
function obxFields(o: Json, ctx: Hl7v2Context, org: Hl7Component[] | undefined): Hl7Field[][] {
  const status = RESULT_STATUS[str(o['status'])] ?? 'F';
  const time = toDtm(effectiveStart(o));
  const observer = objects(o['performer'])
    .map((p) => referenceXcn(ctx, p))
    .find((x) => x !== undefined);
  const one = (item: Json, code: unknown): Hl7Field[] => {
    const [type, value, units] = obxValue(item);
    const range = objects(item['referenceRange'])[0];
    return fieldsAt({
      1: '',
      2: type,
      3: toCwe(code),
      4: o['id'] as string,
      5: value,
      6: units,
      7: range === undefined ? undefined : rangeText(range),
      8: abnormalFlag(item, range),
      11: value === undefined && item['dataAbsentReason'] !== undefined ? 'X' : status,
      14: time,
      16: observer,
      23: org,
    });
  };
  const out: Hl7Field[][] = [];
  const components = objects(o['component']);
  if (obxValue(o)[0] !== undefined || components.length === 0) out.push(one(o, o['code']));
  for (const c of components) out.push(one(c, c['code']));
  return out;
}

/** OBX-2 value type, OBX-5 value and OBX-6 units of a value[x]. */
function obxValue(item: Json): [string | undefined, Hl7Field, Hl7Value | undefined] {
  const q = item['valueQuantity'];
  if (isObject(q)) {
    const comparator = str(q['comparator']);
    const units = unitsCwe(q);
    return comparator === ''
      ? ['NM', numText(q['value']), units]
      : ['SN', [comparator, numText(q['value'])], units];
  }
  if (isObject(item['valueCodeableConcept']))
    return ['CWE', toCwe(item['valueCodeableConcept']), undefined];
  if (typeof item['valueString'] === 'string') {
    const s = item['valueString'];
    return [s.length > 199 ? 'TX' : 'ST', s, undefined];
  }
  if (typeof item['valueBoolean'] === 'boolean')
    return [
      'CWE',
      item['valueBoolean'] ? ['Y', 'Yes', 'HL70136'] : ['N', 'No', 'HL70136'],
      undefined,
    ];
  if (typeof item['valueInteger'] === 'number')
    return ['NM', numText(item['valueInteger']), undefined];
  if (typeof item['valueDateTime'] === 'string')
    return ['DTM', toDtm(item['valueDateTime']), undefined];
  if (typeof item['valueTime'] === 'string')
    return ['TM', item['valueTime'].replace(/:/g, ''), undefined];
  const period = item['valuePeriod'];
  if (isObject(period))
    return ['DR', [toDtm(period['start']) ?? '', toDtm(period['end']) ?? ''], undefined];
  const range = item['valueRange'];
  if (isObject(range)) {
    const low = isObject(range['low']) ? range['low'] : {};
    const high = isObject(range['high']) ? range['high'] : {};
    return [
      'SN',
      ['', numText(low['value']), '-', numText(high['value'])],
      unitsCwe(low) ?? unitsCwe(high),
    ];
  }
  const ratio = item['valueRatio'];
  if (isObject(ratio)) {
    const n = isObject(ratio['numerator']) ? ratio['numerator'] : {};
    const d = isObject(ratio['denominator']) ? ratio['denominator'] : {};
    return ['SN', ['', numText(n['value']), ':', numText(d['value'])], unitsCwe(n)];
  }
  return [undefined, undefined, undefined];
}

/** OBX-7: "low-high", ">low" or "<high" (v2's forms), else the range's text. */
function rangeText(range: Json): string | undefined {
  const low = isObject(range['low']) ? numText(range['low']['value']) : '';
  const high = isObject(range['high']) ? numText(range['high']['value']) : '';
  if (low !== '' && high !== '') return `${low}-${high}`;
  if (low !== '') return `>${low}`;
  if (high !== '') return `<${high}`;
  return str(range['text']) || undefined;
}

/** OBX-8 from Observation.interpretation (v3 codes = table 0078), else from the range. */
function abnormalFlag(item: Json, range: Json | undefined): Hl7Field {
  const codes = objects(item['interpretation'])
    .flatMap((i) => objects(i['coding']))
    .map((c) => str(c['code']))
    .filter((c) => c !== '');
  if (codes.length > 0) return { rep: codes };
  const q = item['valueQuantity'];
  if (range === undefined || !isObject(q) || typeof q['value'] !== 'number') return undefined;
  const v = q['value'];
  const low = isObject(range['low']) ? range['low']['value'] : undefined;
  const high = isObject(range['high']) ? range['high']['value'] : undefined;
  if (typeof low !== 'number' && typeof high !== 'number') return undefined;
  if (typeof low === 'number' && v < low) return 'L';
  if (typeof high === 'number' && v > high) return 'H';
  return 'N';
}

/** Repeat pattern codes (HL7 table 0335) for n times a day. */
const TIMES_A_DAY: Readonly<Record<number, string>> = { 1: 'QD', 2: 'BID', 3: 'TID', 4: 'QID' };

/** TQ1-3 repeat pattern from Timing.repeat (frequency per period periodUnit). */
function repeatPattern(repeat: Json): string | undefined {
  const f = repeat['frequency'];
  const period = repeat['period'];
  const unit = str(repeat['periodUnit']);
  if (typeof f !== 'number' || typeof period !== 'number') return undefined;
  if (unit === 'd' && period === 1 && TIMES_A_DAY[f] !== undefined) return TIMES_A_DAY[f];
  const hours = { h: 1, d: 24, wk: 168 }[unit];
  if (hours !== undefined && f === 1) return `Q${formatNumber(period * hours)}H`;
  if (hours !== undefined && Number.isInteger((period * hours) / f))
    return `Q${(period * hours) / f}H`;
  return undefined;
}

function rdeOrder(mr: Json, ctx: Hl7v2Context, indications: readonly Hl7Value[]): Segments {
  const dosage = objects(mr['dosageInstruction'])[0] ?? {};
  const dose = objects(dosage['doseAndRate'])
    .map((d) => d['doseQuantity'])
    .find(isObject);
  const timing = isObject(dosage['timing']) ? dosage['timing'] : {};
  const repeat = isObject(timing['repeat']) ? timing['repeat'] : {};
  const bounds = isObject(repeat['boundsDuration']) ? repeat['boundsDuration'] : undefined;
  const placer = [mr['id'] as string, ASSIGNING_AUTHORITY];
  const requester = referenceXcn(ctx, mr['requester']);
  const authored = toDtm(mr['authoredOn']);
  const medication =
    toCwe(mr['medicationCodeableConcept']) ??
    (isObject(mr['medicationReference'])
      ? ['', str(mr['medicationReference']['display'])]
      : undefined);
  const sig = str(dosage['text']);
  const route = toCwe(dosage['route']);
  const site = toCwe(dosage['site']);
  const duration: Hl7Value | undefined =
    bounds === undefined
      ? undefined
      : [numText(bounds['value']), [str(bounds['code']), str(bounds['unit']), 'UCUM']];
  return [
    segment(
      'ORC',
      fieldsAt({
        1: 'NW',
        2: placer,
        5: ORDER_STATUS[str(mr['status'])],
        9: authored,
        12: requester,
      }),
    ),
    segment(
      'RXE',
      fieldsAt({
        2: medication,
        3: dose === undefined ? undefined : numText(dose['value']),
        5: dose === undefined ? undefined : unitsCwe(dose),
        7: sig === '' ? undefined : ['', sig],
        27: { rep: indications },
      }),
    ),
    segment(
      'TQ1',
      fieldsAt({
        1: '1',
        3: repeatPattern(repeat),
        6: duration,
        7: authored,
        9: dosage['asNeededBoolean'] === true ? 'PRN' : undefined,
      }),
    ),
    ...(route === undefined && site === undefined ? [] : [segment('RXR', [route, site])]),
  ];
}

/** VXU order: ORC + RXA (+ RXR) from an Immunization (CDC immunization guide shapes). */
function vxuOrder(imm: Json, ctx: Hl7v2Context): Segments {
  const filler = [imm['id'] as string, ASSIGNING_AUTHORITY];
  const dose = isObject(imm['doseQuantity']) ? imm['doseQuantity'] : undefined;
  const status = str(imm['status']);
  const performer = objects(imm['performer'])
    .map((p) => referenceXcn(ctx, p['actor']))
    .find((x) => x !== undefined);
  const locId = refId(imm['location'], 'Location');
  const manufacturer = isObject(imm['manufacturer']) ? str(imm['manufacturer']['display']) : '';
  const route = toCwe(imm['route']);
  const site = toCwe(imm['site']);
  const primary = imm['primarySource'];
  return [
    segment('ORC', fieldsAt({ 1: 'RE', 3: filler })),
    segment(
      'RXA',
      fieldsAt({
        1: '0',
        2: '1',
        3: toDtm(imm['occurrenceDateTime']),
        5: toCwe(imm['vaccineCode']),
        6: dose === undefined ? '999' : numText(dose['value']),
        7: dose === undefined ? undefined : unitsCwe(dose),
        9:
          primary === false
            ? ['01', 'Historical information - source unspecified', 'NIP001']
            : ['00', 'New immunization record', 'NIP001'],
        10: performer,
        11:
          locId === undefined
            ? undefined
            : ['', '', '', [ctx.locations.get(locId) ?? '', locId, 'UUID']],
        15: str(imm['lotNumber']) || undefined,
        16: toDtm(imm['expirationDate']),
        17: manufacturer === '' ? undefined : ['', manufacturer],
        18: toCwe(objects([imm['statusReason']])[0]),
        20: status === 'completed' ? 'CP' : status === 'not-done' ? 'RE' : undefined,
        21: status === 'entered-in-error' ? 'D' : 'A',
      }),
    ),
    ...(route === undefined && site === undefined ? [] : [segment('RXR', [route, site])]),
  ];
}

/** ORM order: ORC + OBR from a ServiceRequest. */
function ormOrder(sr: Json, ctx: Hl7v2Context): Segments {
  const placer = [sr['id'] as string, ASSIGNING_AUTHORITY];
  const requester = referenceXcn(ctx, sr['requester']);
  const occurrence =
    str(sr['occurrenceDateTime']) ||
    (isObject(sr['occurrencePeriod']) ? str(sr['occurrencePeriod']['start']) : '');
  const reasons = objects(sr['reasonCode'])
    .map(toCwe)
    .filter((c): c is Hl7Component[] => c !== undefined);
  const priority = { stat: 'S', asap: 'A', urgent: 'A', routine: 'R' }[str(sr['priority'])];
  return [
    segment(
      'ORC',
      fieldsAt({
        1: 'NW',
        2: placer,
        5: ORDER_STATUS[str(sr['status'])],
        9: toDtm(sr['authoredOn']),
        12: requester,
      }),
    ),
    segment(
      'OBR',
      fieldsAt({
        1: '1',
        2: placer,
        4: toCwe(sr['code']),
        5: priority,
        6: toDtm(occurrence),
        16: requester,
        31: { rep: reasons },
      }),
    ),
  ];
}

/** LOINC document types and HL7 table 0270 (TXA-2). */
const DOCUMENT_TYPE: Readonly<Record<string, string>> = {
  '34117-2': 'HP',
  '11506-3': 'PR',
  '18842-5': 'DS',
  '11488-4': 'CN',
  '28570-0': 'PN',
  '11504-8': 'OP',
  '18748-4': 'DI',
  '34111-5': 'ED',
};
/** Media types and HL7 table 0191 (ED-2 type of data). */
const dataType = (mime: string): string =>
  mime.startsWith('text/')
    ? 'TEXT'
    : mime.startsWith('image/')
      ? 'IM'
      : mime.startsWith('audio/')
        ? 'AU'
        : 'AP';

function mdmBody(doc: Json, ctx: Hl7v2Context, time: string): Segments {
  const typeCoding = objects(isObject(doc['type']) ? doc['type']['coding'] : [])[0];
  const typeCode = str(typeCoding?.['code']);
  const docStatus = { preliminary: 'IP', final: 'AU', amended: 'AU', 'entered-in-error': 'DO' }[
    str(doc['docStatus'])
  ];
  const availability = { current: 'AV', superseded: 'OB', 'entered-in-error': 'CA' }[
    str(doc['status'])
  ];
  const author = objects(doc['author'])
    .map((a) => referenceXcn(ctx, a))
    .find((x) => x !== undefined);
  const typeCwe = toCwe(doc['type']);
  const obx: Segments = [];
  const mimes: string[] = [];
  for (const content of objects(doc['content'])) {
    const a = isObject(content['attachment']) ? content['attachment'] : {};
    const mime = str(a['contentType']) || 'application/octet-stream';
    const sub = mime.split('/')[1] ?? '';
    mimes.push(mime);
    const setId = String(obx.length + 1);
    if (typeof a['data'] === 'string')
      obx.push(
        segment(
          'OBX',
          fieldsAt({
            1: setId,
            2: 'ED',
            3: typeCwe,
            5: ['', dataType(mime), sub.toUpperCase(), 'Base64', a['data']],
            11: 'F',
          }),
        ),
      );
    else if (typeof a['url'] === 'string')
      obx.push(
        segment(
          'OBX',
          fieldsAt({
            1: setId,
            2: 'RP',
            3: typeCwe,
            5: [a['url'], '', dataType(mime), sub.toUpperCase()],
            11: 'F',
          }),
        ),
      );
  }
  return [
    segment(
      'TXA',
      fieldsAt({
        1: '1',
        2: DOCUMENT_TYPE[typeCode] ?? (typeCode || 'CN'),
        3: mimes.every((m) => m.startsWith('text/')) ? 'TX' : 'AP',
        4: toDtm(time),
        6: toDtm(doc['date']),
        9: author,
        12: [doc['id'] as string, ASSIGNING_AUTHORITY],
        17: docStatus ?? 'AU',
        19: availability,
      }),
    ),
    ...obx,
  ];
}

/** Batch header time and control ids are fixed by the arguments, not the clock. */
function batchInfo(run: SynthRun): { time: string; id: string } {
  return {
    time: toDtm(`${run.args.end}T23:59:59Z`) as string,
    id: `MEDLAKE-SYNTH-${run.args.seed}`,
  };
}

class Hl7v2Writer implements FormatWriter {
  readonly format = HL7V2_FORMAT;
  private ctx: Hl7v2Context;
  private stream: WriteStream | undefined;
  private fileMessages = 0;
  private readonly files: string[] = [];
  private bytes = 0;
  private readonly batch: { time: string; id: string };

  constructor(
    private readonly dir: string,
    run: SynthRun,
  ) {
    this.batch = batchInfo(run);
    this.ctx = hl7v2Context([], `${run.args.end}T23:59:59Z`);
  }

  shared(resources: readonly JsonResource[]): void {
    this.ctx = hl7v2Context(resources, this.ctx.fallbackTime);
  }

  async patient(out: PatientOutput): Promise<void> {
    const messages = hl7v2Messages(out.resources, this.ctx);
    // A patient's messages stay in one file unless they alone exceed a file.
    if (this.stream !== undefined && this.fileMessages + messages.length > MESSAGES_PER_FILE)
      await this.closeFile();
    let chunk = '';
    for (const m of messages) {
      if (this.stream === undefined || this.fileMessages === MESSAGES_PER_FILE) {
        await this.write(chunk);
        chunk = '';
        if (this.stream !== undefined) await this.closeFile();
        await this.openFile();
      }
      chunk += m;
      this.fileMessages++;
    }
    await this.write(chunk);
  }

  private async write(text: string): Promise<void> {
    if (text === '' || this.stream === undefined) return;
    const buf = Buffer.from(text, 'utf8');
    this.bytes += buf.length;
    if (!this.stream.write(buf)) await once(this.stream, 'drain');
  }

  private async openFile(): Promise<void> {
    const n = this.files.length + 1;
    const name = `messages-${String(n).padStart(4, '0')}.hl7`;
    this.files.push(`${basename(this.dir)}/${name}`);
    this.stream = createWriteStream(join(this.dir, name));
    this.fileMessages = 0;
    const control = `${this.batch.id}-${String(n).padStart(4, '0')}`;
    const header = [SENDING_APPLICATION, undefined, 'MEDLAKE', undefined, this.batch.time];
    await this.write(
      headerSegment('FHS', [...header, undefined, name, undefined, control]) +
        headerSegment('BHS', [...header, undefined, name, undefined, control]),
    );
  }

  private async closeFile(): Promise<void> {
    const s = this.stream;
    if (s === undefined) return;
    await this.write(segment('BTS', [String(this.fileMessages)]) + segment('FTS', ['1']));
    s.end();
    await finished(s);
    this.stream = undefined;
  }

  async close(): Promise<{ files: string[]; bytes: number }> {
    if (this.files.length === 0) await this.openFile();
    await this.closeFile();
    return { files: [...this.files], bytes: this.bytes };
  }

  destroy(): void {
    this.stream?.destroy();
  }
}

/** `medlake synth --formats hl7v2`. */
export const hl7v2Writer: FormatWriterFactory = (dir, run) => new Hl7v2Writer(dir, run);
