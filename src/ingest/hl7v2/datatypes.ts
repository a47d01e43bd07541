/**
 * HL7 v2 datatypes (v2.5.1 §2.A) to FHIR R4 datatypes, following the HL7 v2-to-FHIR IG's
 * datatype maps (CWE → CodeableConcept, CX → Identifier, XPN → HumanName, XAD → Address,
 * XTN → ContactPoint, XCN → Practitioner, DTM → date/dateTime/instant).
 */
import { patientIdFor, stableId } from '../convert.js';
import type { FhirObject } from '../convert.js';
import { QuarantineCode } from '../types.js';
import { HL7_NULL, component, repetitions } from './model.js';
import type { Hl7Segment } from './model.js';

export type Json = Record<string, unknown>;
export type Rep = ReadonlyArray<ReadonlyArray<string>>;

/** A mapping failure that turns the whole message into one quarantined record. */
export class MapError extends Error {
  constructor(
    readonly code: QuarantineCode,
    message: string,
  ) {
    super(message);
    this.name = 'MapError';
  }
}

/** `obj` without its undefined / empty-string / empty-array / empty-object members. */
export function clean<T extends Json>(obj: T): T {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === '') continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)
      continue;
    out[k] = v;
  }
  return out as T;
}

/** Subcomponents of a component (e.g. CX.4's HD inside a CX). */
export function subs(rep: Rep, comp: number): readonly string[] {
  return (rep[comp - 1] ?? []).map((s) => (s === HL7_NULL ? '' : s));
}

/** Field `n` of `seg` as a segment-level label for messages ("PID-7"). */
export const label = (seg: Hl7Segment | undefined, n: number): string => `${seg?.name ?? '?'}-${n}`;

// ---------------------------------------------------------------------------------------
// Dates: DTM is YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ] (v2.5.1 §2.A.22).

interface Dtm {
  readonly date: string; // YYYY, YYYY-MM or YYYY-MM-DD
  readonly time?: string; // hh:mm:ss(.fff)
  readonly zone?: string; // Z or ±hh:mm
}

const DTM_RE = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2}(?:\.\d{1,4})?)?([+-]\d{4})?$/;

function parseDtm(raw: string, where: string): Dtm | undefined {
  const s = raw.trim();
  if (s === '') return undefined;
  const m = DTM_RE.exec(s);
  const bad = (): MapError =>
    new MapError(
      QuarantineCode.InvalidValue,
      `${where} is ${JSON.stringify(raw)}, expected an HL7 date/time YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]`,
    );
  if (m === null) throw bad();
  const [, y, mo, d, h, mi, sec, tz] = m;
  if (mo !== undefined && (Number(mo) < 1 || Number(mo) > 12)) throw bad();
  if (d !== undefined) {
    const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
    if (Number(d) < 1 || Number(d) > days) throw bad();
  }
  if (h !== undefined && Number(h) > 23) throw bad();
  if (mi !== undefined && Number(mi) > 59) throw bad();
  if (sec !== undefined && Number(sec.slice(0, 2)) > 59) throw bad();
  let zone: string | undefined;
  if (tz !== undefined) {
    const zh = Number(tz.slice(1, 3));
    const zm = Number(tz.slice(3, 5));
    if (zh > 14 || zm > 59) throw bad();
    zone = tz === '+0000' || tz === '-0000' ? 'Z' : `${tz.slice(0, 3)}:${tz.slice(3)}`;
  }
  const date = [y, mo, d].filter((x) => x !== undefined).join('-');
  // A time without a full date (e.g. "2021011" then hours) is not representable: keep the date.
  if (h === undefined || d === undefined) return { date, ...(zone ? { zone } : {}) };
  return {
    date,
    time: `${h}:${mi ?? '00'}:${sec ?? '00'}`,
    ...(zone ? { zone } : {}),
  };
}

/** DTM → FHIR date (the date part, precision kept). */
export function toDate(raw: string, where: string): string | undefined {
  return parseDtm(raw, where)?.date;
}

/**
 * DTM → FHIR dateTime, precision kept. FHIR requires a zone when a time is given: a DTM
 * with a time and no offset is taken as UTC (documented in docs/ingest-hl7v2.md); missing
 * minutes/seconds are written as 00 (FHIR dateTime has no hour-only form).
 */
export function toDateTime(raw: string, where: string): string | undefined {
  const d = parseDtm(raw, where);
  if (d === undefined) return undefined;
  return d.time === undefined ? d.date : `${d.date}T${d.time}${d.zone ?? 'Z'}`;
}

/** DTM → FHIR instant: full date and time; a date alone is midnight UTC. */
export function toInstant(raw: string, where: string): string | undefined {
  const d = parseDtm(raw, where);
  if (d === undefined) return undefined;
  const [y, mo = '01', day = '01'] = d.date.split('-');
  return `${y}-${mo}-${day}T${d.time ?? '00:00:00'}${d.zone ?? 'Z'}`;
}

/** The first component (TS.1 / DR.1) of field `n` as dateTime. */
export function fieldDateTime(
  seg: Hl7Segment | undefined,
  n: number,
  comp = 1,
): string | undefined {
  return toDateTime(seg?.fields[n]?.[0]?.[comp - 1]?.[0] ?? '', label(seg, n));
}

// ---------------------------------------------------------------------------------------
// Coded values.

/** HL7 table 0396 coding system names → FHIR code system URIs (v2-to-FHIR ConceptMap). */
const SYSTEMS: Readonly<Record<string, string>> = {
  LN: 'http://loinc.org',
  LOINC: 'http://loinc.org',
  SCT: 'http://snomed.info/sct',
  SNM: 'http://snomed.info/sct',
  SNOMED: 'http://snomed.info/sct',
  SNOMEDCT: 'http://snomed.info/sct',
  I10: 'http://hl7.org/fhir/sid/icd-10',
  I10C: 'http://hl7.org/fhir/sid/icd-10-cm',
  'ICD-10-CM': 'http://hl7.org/fhir/sid/icd-10-cm',
  I9: 'http://hl7.org/fhir/sid/icd-9-cm',
  I9C: 'http://hl7.org/fhir/sid/icd-9-cm',
  I9CM: 'http://hl7.org/fhir/sid/icd-9-cm',
  I9M: 'http://hl7.org/fhir/sid/icd-9-cm',
  RXNORM: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  CVX: 'http://hl7.org/fhir/sid/cvx',
  MVX: 'http://hl7.org/fhir/sid/mvx',
  NDC: 'http://hl7.org/fhir/sid/ndc',
  UCUM: 'http://unitsofmeasure.org',
  CDCREC: 'urn:oid:2.16.840.1.113883.6.238',
  C4: 'http://www.ama-assn.org/go/cpt',
  CPT: 'http://www.ama-assn.org/go/cpt',
  DCM: 'http://dicom.nema.org/resources/ontology/DCM',
  NCIT: 'http://ncimeta.nci.nih.gov',
  ISO3166_1: 'urn:iso:std:iso:3166',
  ISO639: 'urn:ietf:bcp:47',
  MDR: 'http://terminology.hl7.org/CodeSystem/mdr',
  CDCPHINVS: 'urn:oid:2.16.840.1.114222.4.5.274',
};

/**
 * A v2 coding system name as a FHIR system uri: table 0396 names, `HL7nnnn` → the v2 table
 * CodeSystem, a uri (has ':') as is; undefined for local or unknown names ('L', '99zzz'),
 * whose codes are then kept without a system.
 */
export function systemUri(name: string): string | undefined {
  const n = name.trim();
  if (n === '') return undefined;
  const known = SYSTEMS[n.toUpperCase()];
  if (known !== undefined) return known;
  const table = /^HL7(\d{3,4})$/i.exec(n);
  if (table) return `http://terminology.hl7.org/CodeSystem/v2-${table[1]!.padStart(4, '0')}`;
  if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(n)) return n;
  return undefined;
}

function coding(code: string, display: string, system: string): Json | undefined {
  if (code.trim() === '') return undefined;
  return clean({ system: systemUri(system), code: code.trim(), display: display.trim() });
}

/**
 * CWE/CE/CNE → CodeableConcept: coding from components 1-3, alternate coding from 4-6,
 * text from component 9 (original text), else the first display.
 */
export function cwe(rep: Rep | undefined): Json | undefined {
  if (rep === undefined) return undefined;
  const c = (n: number): string => component(rep, n);
  const codings = [coding(c(1), c(2), c(3)), coding(c(4), c(5), c(6))].filter(
    (x): x is Json => x !== undefined,
  );
  const text = c(9).trim() || (codings.length === 0 ? c(2).trim() || c(5).trim() : '');
  if (codings.length === 0 && text === '') return undefined;
  return clean({ coding: codings, text });
}

/** Every repetition of field `n` as CodeableConcepts. */
export function cwes(seg: Hl7Segment | undefined, n: number): Json[] {
  return repetitions(seg, n)
    .map((r) => cwe(r))
    .filter((x): x is Json => x !== undefined);
}

/** A code from an HL7-defined table as a Coding in its v2 CodeSystem. */
export function v2Coding(table: string, code: string, display?: string): Json | undefined {
  if (code.trim() === '') return undefined;
  return clean({
    system: `http://terminology.hl7.org/CodeSystem/v2-${table}`,
    code: code.trim(),
    display,
  });
}

// ---------------------------------------------------------------------------------------
// Identifiers, names, addresses, telecom.

/** HD (namespace^universal id^type) → the key used for stable ids: namespace, else universal id. */
export function hdKey(hd: readonly string[]): string {
  return (hd[0] ?? '').trim() || (hd[1] ?? '').trim();
}

/** HD → system uri: ISO → urn:oid:, UUID → urn:uuid:, URI/DNS-ish uri as is. */
export function hdSystem(hd: readonly string[]): string | undefined {
  const id = (hd[1] ?? '').trim();
  const type = (hd[2] ?? '').trim().toUpperCase();
  if (id === '') return undefined;
  if (type === 'ISO' && /^[0-2](\.(0|[1-9]\d*))+$/.test(id)) return `urn:oid:${id}`;
  if (type === 'UUID' && /^[0-9a-f-]{36}$/i.test(id)) return `urn:uuid:${id.toLowerCase()}`;
  if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(id)) return id;
  return undefined;
}

/** CX → Identifier (value CX.1, system / assigner from CX.4, type CX.5 in table 0203). */
export function cxIdentifier(rep: Rep): Json | undefined {
  const value = component(rep, 1).trim();
  if (value === '') return undefined;
  const hd = subs(rep, 4);
  const type = component(rep, 5).trim();
  const ns = (hd[0] ?? '').trim();
  return clean({
    type: type === '' ? undefined : { coding: [v2Coding('0203', type)] },
    system: hdSystem(hd),
    value,
    assigner: ns === '' ? undefined : { display: ns },
  });
}

/** EI (entity id^namespace^universal id^type) → Identifier. */
export function eiIdentifier(rep: Rep | undefined, type?: string): Json | undefined {
  if (rep === undefined) return undefined;
  const value = component(rep, 1).trim();
  if (value === '') return undefined;
  const hd = [component(rep, 2), component(rep, 3), component(rep, 4)];
  return clean({
    type: type === undefined ? undefined : { coding: [v2Coding('0203', type)] },
    system: hdSystem(hd),
    value,
    assigner: hd[0]!.trim() === '' ? undefined : { display: hd[0]!.trim() },
  });
}

/** EI → [authority, id] keys for stable ids ('' authority when absent). */
export function eiKey(rep: Rep | undefined): [string, string] | undefined {
  if (rep === undefined) return undefined;
  const value = component(rep, 1).trim();
  if (value === '') return undefined;
  return [component(rep, 2).trim() || component(rep, 3).trim(), value];
}

const NAME_USE: Readonly<Record<string, string>> = {
  L: 'official',
  D: 'usual',
  N: 'nickname',
  M: 'maiden',
  S: 'anonymous',
  A: 'usual',
  BAD: 'old',
  TEMP: 'temp',
};

/** XPN (family^given^further given^suffix^prefix^degree^type) → HumanName. */
export function xpn(rep: Rep): Json | undefined {
  const family = subs(rep, 1)[0]?.trim() ?? '';
  const given = [component(rep, 2), ...component(rep, 3).split(' ')]
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const suffix = [component(rep, 4), component(rep, 6)].map((s) => s.trim()).filter(Boolean);
  const prefix = component(rep, 5).trim();
  if (family === '' && given.length === 0) return undefined;
  return clean({
    use: NAME_USE[component(rep, 7).trim().toUpperCase()],
    family,
    given,
    prefix: prefix === '' ? undefined : [prefix],
    suffix,
  });
}

const ADDRESS_USE: Readonly<Record<string, string>> = {
  H: 'home',
  O: 'work',
  B: 'work',
  C: 'temp',
  BA: 'old',
  BI: 'billing',
};

/** XAD (street^other^city^state^zip^country^type^^county) → Address. */
export function xad(rep: Rep): Json | undefined {
  // SAD: street address & street name & dwelling number, joined as written
  const street = subs(rep, 1)
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .join(' ');
  const line = [street, component(rep, 2)].map((s) => s.trim()).filter((s) => s !== '');
  const a = clean({
    use: ADDRESS_USE[component(rep, 7).trim().toUpperCase()],
    line,
    city: component(rep, 3).trim(),
    district: component(rep, 9).trim(),
    state: component(rep, 4).trim(),
    postalCode: component(rep, 5).trim(),
    country: component(rep, 6).trim(),
  });
  return Object.keys(a).length === 0 || (Object.keys(a).length === 1 && a['use']) ? undefined : a;
}

/** XTN (number^use^equipment^email^...^unformatted 12) → ContactPoint. */
export function xtn(rep: Rep, defaultUse: 'home' | 'work'): Json | undefined {
  const useCode = component(rep, 2).trim().toUpperCase();
  const equip = component(rep, 3).trim().toUpperCase();
  const email = component(rep, 4).trim();
  // XTN.12 unformatted number, else XTN.1 (deprecated), else country/area/local/extension
  const phone =
    component(rep, 12).trim() ||
    component(rep, 1).trim() ||
    [component(rep, 5), component(rep, 6), component(rep, 7)]
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .join(' ') + (component(rep, 8).trim() === '' ? '' : ` ext. ${component(rep, 8).trim()}`);
  const isEmail = equip === 'INTERNET' || useCode === 'NET' || (email !== '' && phone === '');
  const value = isEmail ? email || component(rep, 1).trim() : phone;
  if (value === '') return undefined;
  const system = isEmail
    ? 'email'
    : equip === 'FX'
      ? 'fax'
      : equip === 'BP'
        ? 'pager'
        : equip === 'X.400'
          ? 'other'
          : 'phone';
  const use =
    equip === 'CP' || useCode === 'ORN'
      ? 'mobile'
      : useCode === 'WPN'
        ? 'work'
        : useCode === 'PRN'
          ? 'home'
          : defaultUse;
  return { system, value, use };
}

/** Every repetition of a field through `f`, dropping empties. */
export function each<T>(seg: Hl7Segment | undefined, n: number, f: (r: Rep) => T | undefined): T[] {
  return repetitions(seg, n)
    .map((r) => f(r))
    .filter((x): x is T => x !== undefined);
}

// ---------------------------------------------------------------------------------------
// Practitioners (XCN) and the resources a message collects.

/** Resources collected while mapping one message, deduplicated by type/id. */
export class Emitted {
  private readonly byKey = new Map<string, FhirObject>();

  add(r: FhirObject): FhirObject {
    const key = `${r.resourceType}/${r.id}`;
    if (!this.byKey.has(key)) this.byKey.set(key, r);
    return r;
  }

  all(): FhirObject[] {
    return [...this.byKey.values()];
  }
}

/**
 * XCN → a Practitioner (id from XCN.1 + assigning authority XCN.9, else from the name) and a
 * Reference to it; undefined when the XCN has neither id nor name.
 */
export function practitioner(rep: Rep | undefined, out: Emitted): Json | undefined {
  if (rep === undefined) return undefined;
  const idValue = component(rep, 1).trim();
  const hd = subs(rep, 9);
  const family = subs(rep, 2)[0]?.trim() ?? '';
  const given = [component(rep, 3), component(rep, 4)].map((s) => s.trim()).filter(Boolean);
  if (idValue === '' && family === '' && given.length === 0) return undefined;
  const id =
    idValue !== ''
      ? stableId('prac', hdKey(hd), idValue)
      : stableId('prac', '', 'name', family, ...given);
  const name = clean({
    family,
    given,
    prefix: component(rep, 6).trim() === '' ? undefined : [component(rep, 6).trim()],
    suffix: [component(rep, 5), component(rep, 7)].map((s) => s.trim()).filter(Boolean),
  });
  const type = component(rep, 13).trim();
  out.add(
    clean({
      resourceType: 'Practitioner',
      id,
      identifier:
        idValue === ''
          ? undefined
          : [
              clean({
                type: type === '' ? undefined : { coding: [v2Coding('0203', type)] },
                system:
                  hdSystem(hd) ??
                  (hdKey(hd).toUpperCase() === 'NPI'
                    ? 'http://hl7.org/fhir/sid/us-npi'
                    : undefined),
                value: idValue,
                assigner: hdKey(hd) === '' ? undefined : { display: hdKey(hd) },
              }),
            ],
      name: Object.keys(name).length === 0 ? undefined : [name],
    }) as FhirObject,
  );
  const display = [...given, family].filter(Boolean).join(' ');
  return clean({ reference: `Practitioner/${id}`, display });
}

/** A free-text or XON organization name → Organization resource reference (stable id). */
export function organization(name: string, idValue: string, out: Emitted): Json | undefined {
  const n = name.trim();
  const key = idValue.trim();
  if (n === '' && key === '') return undefined;
  const id = stableId('org', key !== '' ? key : `name:${n.toLowerCase()}`);
  out.add(
    clean({
      resourceType: 'Organization',
      id,
      identifier: key === '' ? undefined : [{ value: key }],
      name: n,
    }) as FhirObject,
  );
  return clean({ reference: `Organization/${id}`, display: n });
}

/** The PID-3 repetition naming the patient: first with type MR, else the first with a value. */
export function patientCx(pid: Hl7Segment | undefined): Rep | undefined {
  const reps = repetitions(pid, 3).filter((r) => component(r, 1).trim() !== '');
  return reps.find((r) => component(r, 5).trim().toUpperCase() === 'MR') ?? reps[0];
}

/** patientIdFor a CX: authority CX.4 (namespace, else universal id), value CX.1. */
export function patientIdOfCx(cx: Rep): string {
  return patientIdFor(hdKey(subs(cx, 4)), component(cx, 1));
}
