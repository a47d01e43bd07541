/**
 * SDTM rows to FHIR R4 resources (mapping table in docs/ingest-sdtm.md). Pure functions of
 * rows; the converter (converter.ts) decides the order and holds the trial-level state.
 * A row that cannot be mapped throws RowError (the converter quarantines it).
 */
import { patientIdFor, stableId } from '../convert.js';
import type { FhirObject } from '../convert.js';
import { QuarantineCode } from '../types.js';
import type { SdtmValue } from './datasets.js';

type Json = Record<string, unknown>;
export type Values = Readonly<Record<string, SdtmValue>>;

export class RowError extends Error {
  constructor(
    readonly code: QuarantineCode,
    message: string,
  ) {
    super(message);
    this.name = 'RowError';
  }
}

const MD = 'https://medlake.dev/fhir';
export const SDTM_EXT = {
  supp: `${MD}/StructureDefinition/sdtm-supp`,
  visit: `${MD}/StructureDefinition/sdtm-visit`,
  age: `${MD}/StructureDefinition/sdtm-age`,
  ts: `${MD}/StructureDefinition/sdtm-ts`,
  armElement: `${MD}/StructureDefinition/sdtm-arm-element`,
  disposition: `${MD}/StructureDefinition/sdtm-disposition`,
  meddra: `${MD}/StructureDefinition/sdtm-meddra`,
  /** R4 AdverseEvent has no end date; the same extension as the synthetic trial's. */
  aeEnd: 'https://medlake.org/fhir/StructureDefinition/adverse-event-end',
} as const;
export const SDTM_SYSTEMS = {
  studyId: `${MD}/sid/cdisc-studyid`,
  usubjid: `${MD}/sid/cdisc-usubjid`,
  record: `${MD}/sid/sdtm-record`,
  visit: `${MD}/CodeSystem/sdtm-visitnum`,
  /** CDISC CT submission values of --TESTCD, one system per domain (cdisc-lbtestcd, ...). */
  testcd: (domain: string): string => `${MD}/CodeSystem/cdisc-${domain.toLowerCase()}testcd`,
  cmdecod: `${MD}/CodeSystem/sdtm-cmdecod`,
} as const;
const MEDDRA = 'http://terminology.hl7.org/CodeSystem/mdr';
const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';
const THO = 'http://terminology.hl7.org/CodeSystem';

// ---- values ----

/** A value as text (numbers as JS writes them), null when missing. */
export function str(v: Values, name: string): string | null {
  const x = v[name];
  if (x === null || x === undefined) return null;
  // Runs of white space become one space: a FHIR code may hold single spaces only (the
  // source tables keep the value exactly as read).
  const s = typeof x === 'number' ? String(x) : x.trim().replace(/\s{2,}|[\t\r\n]/g, ' ');
  return s === '' ? null : s;
}

/** A value as a number (a numeric string is parsed), null when missing or not a number. */
export function num(v: Values, name: string): number | null {
  const x = v[name];
  if (typeof x === 'number') return Number.isFinite(x) ? x : null;
  if (typeof x !== 'string' || !/^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(x))
    return null;
  return Number(x);
}

export function required(v: Values, name: string, why: string): string {
  const s = str(v, name);
  if (s === null) throw new RowError(QuarantineCode.MissingValue, `${name} is empty; ${why}`);
  return s;
}

/** Numeric keys (--SEQ, VISITNUM, IDVARVAL) as canonical text, so 1, "1" and "1.0" agree. */
export function keyText(x: SdtmValue | undefined): string {
  if (x === null || x === undefined) return '';
  const s = String(x).trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(s) ? String(Number(s)) : s;
}

// ---- dates (SDTMIG 3.3 §4.4: ISO 8601 --DTC, partial dates by truncation or "-") ----

/** How a time without a zone is written in FHIR (a dateTime with a time needs a zone). */
export type ZonelessTime = 'utc' | 'date-only';

const DTC_RE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/**
 * An SDTM --DTC as a FHIR dateTime: partial dates are kept (2003, 2003-12); a date with
 * unknown middle parts (2003---15) keeps its known prefix; a time gets missing minutes /
 * seconds as :00 and, without a zone, `Z` ('utc') or is dropped ('date-only'). Intervals
 * and durations are not dates. Throws RowError for a value that is not a date.
 */
export function fhirDateTime(v: Values, name: string, zoneless: ZonelessTime): string | null {
  const raw = str(v, name);
  if (raw === null) return null;
  let s = raw;
  const gap = s.search(/--|-T|T-|:-|-:/);
  if (gap >= 0) s = s.slice(0, gap);
  const m = DTC_RE.exec(s);
  const bad = (): RowError =>
    new RowError(
      QuarantineCode.InvalidValue,
      `${name} ${JSON.stringify(raw)} is not an ISO 8601 date/time (YYYY[-MM[-DD[Thh[:mm[:ss]]]]])`,
    );
  if (m === null) throw bad();
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  if (mo !== undefined && (Number(mo) < 1 || Number(mo) > 12)) throw bad();
  if (d !== undefined) {
    const days = new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate();
    if (Number(d) < 1 || Number(d) > days) throw bad();
  }
  if (Number(h ?? 0) > 23 || Number(mi ?? 0) > 59 || Number(se ?? 0) > 59) throw bad();
  const date = [y, mo, d].filter((x) => x !== undefined).join('-');
  if (h === undefined) return date;
  if (zone === undefined && zoneless === 'date-only') return date;
  return `${date}T${h}:${mi ?? '00'}:${se ?? '00'}${frac ?? ''}${zone ?? 'Z'}`;
}

/** A FHIR date (no time), e.g. for birthDate. */
export function fhirDate(v: Values, name: string): string | null {
  const dt = fhirDateTime(v, name, 'date-only');
  return dt === null ? null : dt.slice(0, 10);
}

const period = (start: string | null, end: string | null): Json | undefined =>
  start === null && end === null
    ? undefined
    : { ...(start === null ? {} : { start }), ...(end === null ? {} : { end }) };

// ---- terminology ----

/** SDTM units (as commonly written) to UCUM, only where the meaning is exact. */
const UCUM_UNITS: Readonly<Record<string, string>> = {
  '%': '%',
  mmHg: 'mm[Hg]',
  'beats/min': '/min',
  'breaths/min': '/min',
  bpm: '/min',
  C: 'Cel',
  F: '[degF]',
  kg: 'kg',
  g: 'g',
  mg: 'mg',
  ug: 'ug',
  mL: 'mL',
  L: 'L',
  cm: 'cm',
  m: 'm',
  mm: 'mm',
  'kg/m2': 'kg/m2',
  'mg/dL': 'mg/dL',
  'g/dL': 'g/dL',
  'g/L': 'g/L',
  'mg/L': 'mg/L',
  'mmol/L': 'mmol/L',
  'umol/L': 'umol/L',
  'mmol/mol': 'mmol/mol',
  'ng/mL': 'ng/mL',
  'pg/mL': 'pg/mL',
  'U/L': 'U/L',
  'IU/L': '[IU]/L',
  'mEq/L': 'meq/L',
  '10^9/L': '10*9/L',
  '10^12/L': '10*12/L',
  fL: 'fL',
  pg: 'pg',
  s: 's',
  sec: 's',
  min: 'min',
  h: 'h',
};

/** A Quantity with the SDTM unit as `unit` and its UCUM code when exact. */
export function quantity(value: number, unit: string | null): Json {
  const code = unit === null ? undefined : UCUM_UNITS[unit];
  return {
    value,
    ...(unit === null ? {} : { unit }),
    ...(code === undefined ? {} : { system: UCUM, code }),
  };
}

/** CDISC route (C66729) to SNOMED CT route of administration. */
const ROUTES: Readonly<Record<string, [string, string]>> = {
  ORAL: ['26643006', 'Oral route'],
  INTRAVENOUS: ['47625008', 'Intravenous route'],
  SUBCUTANEOUS: ['34206005', 'Subcutaneous route'],
  INTRAMUSCULAR: ['78421000', 'Intramuscular route'],
  TOPICAL: ['6064005', 'Topical route'],
  TRANSDERMAL: ['45890007', 'Transdermal route'],
  INHALATION: ['447694001', 'Respiratory tract route'],
  NASAL: ['46713006', 'Nasal route'],
  RECTAL: ['37161004', 'Rectal route'],
  SUBLINGUAL: ['37839007', 'Sublingual route'],
};
function route(text: string | null): Json | undefined {
  if (text === null) return undefined;
  const r = ROUTES[text.toUpperCase()];
  return r === undefined
    ? { text }
    : { coding: [{ system: SNOMED, code: r[0], display: r[1] }], text };
}

/** CDISC VSTESTCD to LOINC (CDISC VS/LOINC mapping) when the row has no VSLOINC. */
const VS_LOINC: Readonly<Record<string, [string, string]>> = {
  SYSBP: ['8480-6', 'Systolic blood pressure'],
  DIABP: ['8462-4', 'Diastolic blood pressure'],
  PULSE: ['8867-4', 'Heart rate'],
  HR: ['8867-4', 'Heart rate'],
  RESP: ['9279-1', 'Respiratory rate'],
  TEMP: ['8310-5', 'Body temperature'],
  HEIGHT: ['8302-2', 'Body height'],
  WEIGHT: ['29463-7', 'Body weight'],
  BMI: ['39156-5', 'Body mass index (BMI) [Ratio]'],
  OXYSAT: ['2708-6', 'Oxygen saturation in Arterial blood'],
};

/** CDISC Race (C74457) to the OMB category of the US Core race extension. */
const RACE_OMB: Readonly<Record<string, [string, string]>> = {
  'AMERICAN INDIAN OR ALASKA NATIVE': ['1002-5', 'American Indian or Alaska Native'],
  ASIAN: ['2028-9', 'Asian'],
  'BLACK OR AFRICAN AMERICAN': ['2054-5', 'Black or African American'],
  'NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER': [
    '2076-8',
    'Native Hawaiian or Other Pacific Islander',
  ],
  WHITE: ['2106-3', 'White'],
};
/** CDISC Ethnic Group (C66790) to the OMB ethnicity category. */
const ETHNIC_OMB: Readonly<Record<string, [string, string]>> = {
  'HISPANIC OR LATINO': ['2135-2', 'Hispanic or Latino'],
  'NOT HISPANIC OR LATINO': ['2186-5', 'Not Hispanic or Latino'],
};
const OMB = 'urn:oid:2.16.840.1.113883.6.238';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition';

/** US Core race / ethnicity: ombCategory only where the CDISC term maps exactly; text always. */
function usCoreCategory(
  url: string,
  term: string | null,
  table: typeof RACE_OMB,
): Json | undefined {
  if (term === null) return undefined;
  const omb = table[term.toUpperCase()];
  return {
    url: `${US_CORE}/${url}`,
    extension: [
      ...(omb === undefined
        ? []
        : [{ url: 'ombCategory', valueCoding: { system: OMB, code: omb[0], display: omb[1] } }]),
      { url: 'text', valueString: term },
    ],
  };
}

/** CDISC Trial Phase (C66737) to R4 research-study-phase. */
function phase(tsval: string | null): Json | undefined {
  if (tsval === null) return undefined;
  const t = tsval
    .toUpperCase()
    .replace(/ TRIAL$/, '')
    .replace(/^PHASE /, '');
  const table: Readonly<Record<string, string>> = {
    '0': 'early-phase-1',
    I: 'phase-1',
    IA: 'phase-1',
    IB: 'phase-1',
    'I/II': 'phase-1-phase-2',
    II: 'phase-2',
    IIA: 'phase-2',
    IIB: 'phase-2',
    'II/III': 'phase-2-phase-3',
    III: 'phase-3',
    IIIA: 'phase-3',
    IIIB: 'phase-3',
    IV: 'phase-4',
    'NOT APPLICABLE': 'n-a',
  };
  const code = table[t];
  return code === undefined
    ? { text: tsval }
    : { coding: [{ system: `${THO}/research-study-phase`, code }], text: tsval };
}

/** CDISC Trial Intent Type (TINDTP, C66736) to R4 research-study-prim-purp-type. */
const PURPOSE: Readonly<Record<string, string>> = {
  TREATMENT: 'treatment',
  PREVENTION: 'prevention',
  DIAGNOSIS: 'diagnostic',
  SCREENING: 'screening',
  'HEALTH SERVICES RESEARCH': 'health-services-research',
  'BASIC SCIENCE': 'basic-science',
  'SUPPORTIVE CARE': 'supportive-care',
};

const AE_SEVERITY: Readonly<Record<string, string>> = {
  MILD: 'mild',
  MODERATE: 'moderate',
  SEVERE: 'severe',
};
const AE_OUTCOME: Readonly<Record<string, [string, string]>> = {
  'RECOVERED/RESOLVED': ['resolved', 'Resolved'],
  'RECOVERING/RESOLVING': ['recovering', 'Recovering'],
  'NOT RECOVERED/NOT RESOLVED': ['ongoing', 'Ongoing'],
  'RECOVERED/RESOLVED WITH SEQUELAE': ['resolvedWithSequelae', 'Resolved with Sequelae'],
  FATAL: ['fatal', 'Fatal'],
  UNKNOWN: ['unknown', 'Unknown'],
};
/** CDISC causality terms to the WHO-UMC assessment codes of R4 adverse-event-causality-assess. */
const AE_CAUSALITY: Readonly<Record<string, [string, string]>> = {
  RELATED: ['Certain', 'Certain'],
  'PROBABLY RELATED': ['Probably-Likely', 'Probably/Likely'],
  'POSSIBLY RELATED': ['Possible', 'Possible'],
  'UNLIKELY RELATED': ['Unlikely', 'Unlikely'],
};
const NRIND: Readonly<Record<string, [string, string]>> = {
  NORMAL: ['N', 'Normal'],
  HIGH: ['H', 'High'],
  LOW: ['L', 'Low'],
  ABNORMAL: ['A', 'Abnormal'],
};

// ---- shared pieces ----

const ref = (type: string, id: string): Json => ({ reference: `${type}/${id}` });
export const studyIdOf = (studyid: string): string => stableId('study', studyid);
export const subjectIdOf = (studyid: string, usubjid: string): string =>
  stableId('rsubj', studyid, usubjid);
export const visitIdOf = (studyid: string, usubjid: string, visitnum: string): string =>
  stableId('sv', studyid, usubjid, 'SV', visitnum);

/** A complex extension from (name, value) pairs; null values are left out. */
function complex(
  url: string,
  parts: readonly [string, unknown, 'String' | 'Decimal' | 'Integer' | 'DateTime' | 'Coding'][],
): Json {
  return {
    url,
    extension: parts
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([name, value, type]) => ({ url: name, [`value${type}`]: value })),
  };
}

export interface SuppQualifier {
  readonly qnam: string;
  readonly qlabel: string | null;
  readonly qval: string;
  readonly qorig: string | null;
}

export function suppExtensions(qs: readonly SuppQualifier[]): Json[] {
  return qs.map((q) =>
    complex(SDTM_EXT.supp, [
      ['QNAM', q.qnam, 'String'],
      ['QLABEL', q.qlabel, 'String'],
      ['QVAL', q.qval, 'String'],
      ['QORIG', q.qorig, 'String'],
    ]),
  );
}

function visitExtension(v: Values): Json[] {
  const visitnum = num(v, 'VISITNUM');
  const visit = str(v, 'VISIT');
  if (visitnum === null && visit === null) return [];
  return [
    complex(SDTM_EXT.visit, [
      ['VISITNUM', visitnum, 'Decimal'],
      ['VISIT', visit, 'String'],
    ]),
  ];
}

const withExtensions = (r: Json, ext: readonly Json[]): Json =>
  ext.length === 0
    ? r
    : { ...r, extension: [...((r['extension'] as Json[] | undefined) ?? []), ...ext] };

/** Keys every subject-level row needs. */
export function subjectKeys(v: Values): { studyid: string; usubjid: string } {
  return {
    studyid: required(v, 'STUDYID', 'the study identifier names the ResearchStudy and the subject'),
    usubjid: required(v, 'USUBJID', 'the unique subject identifier names the Patient'),
  };
}

// ---- trial design and subjects ----

export interface StudyRows {
  readonly studyid: string;
  readonly ts: readonly Values[];
  readonly ta: readonly Values[];
  readonly te: readonly Values[];
}

/** TS / TA / TE → ResearchStudy (status completed when TS has SENDTC, the study end). */
export function mapStudy(s: StudyRows, zoneless: ZonelessTime): FhirObject {
  const param = (cd: string): Values | undefined => s.ts.find((r) => str(r, 'TSPARMCD') === cd);
  const val = (cd: string): string | null => {
    const r = param(cd);
    return r === undefined ? null : str(r, 'TSVAL');
  };
  const date = (cd: string): string | null => {
    const r = param(cd);
    if (r === undefined) return null;
    try {
      return fhirDateTime(r, 'TSVAL', zoneless);
    } catch {
      return null; // a free-text value: kept in the sdtm-ts extension only
    }
  };
  const te = new Map(s.te.map((r) => [str(r, 'ETCD') ?? '', r]));
  const arms = new Map<string, { name: string; description: string | null; elements: Json[] }>();
  const taSorted = [...s.ta].sort((a, b) => (num(a, 'TAETORD') ?? 0) - (num(b, 'TAETORD') ?? 0));
  for (const r of taSorted) {
    const armcd = str(r, 'ARMCD');
    if (armcd === null) continue;
    const arm = arms.get(armcd) ?? { name: armcd, description: str(r, 'ARM'), elements: [] };
    arms.set(armcd, arm);
    const etcd = str(r, 'ETCD');
    const el = etcd === null ? undefined : te.get(etcd);
    arm.elements.push(
      complex(SDTM_EXT.armElement, [
        ['TAETORD', num(r, 'TAETORD'), 'Decimal'],
        ['ETCD', etcd, 'String'],
        ['ELEMENT', str(r, 'ELEMENT') ?? (el === undefined ? null : str(el, 'ELEMENT')), 'String'],
        ['EPOCH', str(r, 'EPOCH'), 'String'],
        ['TESTRL', el === undefined ? null : str(el, 'TESTRL'), 'String'],
        ['TEENRL', el === undefined ? null : str(el, 'TEENRL'), 'String'],
      ]),
    );
  }
  const end = date('SENDTC');
  const purpose = PURPOSE[(val('TINDTP') ?? '').toUpperCase()];
  const keywords = ['STYPE', 'TTYPE'].map(val).filter((x): x is string => x !== null);
  const tsExt = s.ts.map((r) =>
    complex(SDTM_EXT.ts, [
      ['TSPARMCD', str(r, 'TSPARMCD'), 'String'],
      ['TSPARM', str(r, 'TSPARM'), 'String'],
      ['TSVAL', str(r, 'TSVAL'), 'String'],
    ]),
  );
  const p = period(date('SSTDTC'), end);
  const title = val('TITLE');
  const indication = val('INDIC');
  const sponsor = val('SPONSOR');
  return {
    resourceType: 'ResearchStudy',
    id: studyIdOf(s.studyid),
    ...(tsExt.length === 0 ? {} : { extension: tsExt }),
    identifier: [{ system: SDTM_SYSTEMS.studyId, value: s.studyid }],
    ...(title === null ? {} : { title }),
    status: end === null ? 'active' : 'completed',
    ...(purpose === undefined
      ? {}
      : {
          primaryPurposeType: {
            coding: [{ system: `${THO}/research-study-prim-purp-type`, code: purpose }],
          },
        }),
    ...(phase(val('TPHASE')) === undefined ? {} : { phase: phase(val('TPHASE')) }),
    ...(indication === null ? {} : { condition: [{ text: indication }] }),
    ...(keywords.length === 0 ? {} : { keyword: keywords.map((text) => ({ text })) }),
    ...(p === undefined ? {} : { period: p }),
    ...(sponsor === null ? {} : { sponsor: { display: sponsor } }),
    ...(arms.size === 0
      ? {}
      : {
          arm: [...arms.values()].map((a) => ({
            ...(a.elements.length === 0 ? {} : { extension: a.elements }),
            name: a.name,
            ...(a.description === null ? {} : { description: a.description }),
          })),
        }),
  };
}

const AGE_UNITS: Readonly<Record<string, [string, string]>> = {
  YEARS: ['a', 'years'],
  MONTHS: ['mo', 'months'],
  WEEKS: ['wk', 'weeks'],
  DAYS: ['d', 'days'],
  HOURS: ['h', 'hours'],
};

/** DM → Patient (no meta.lastUpdated: an EHR Patient with one wins in the lake). */
export function mapPatient(v: Values, zoneless: ZonelessTime): FhirObject {
  const { studyid, usubjid } = subjectKeys(v);
  const sex = (str(v, 'SEX') ?? '').toUpperCase();
  const gender = { M: 'male', F: 'female', U: 'unknown', UNDIFFERENTIATED: 'other' }[sex];
  const birthDate = fhirDate(v, 'BRTHDTC');
  const age = num(v, 'AGE');
  const ageUnit = AGE_UNITS[(str(v, 'AGEU') ?? 'YEARS').toUpperCase()];
  const death = fhirDateTime(v, 'DTHDTC', zoneless);
  const country = str(v, 'COUNTRY');
  const ext = [
    usCoreCategory('us-core-race', str(v, 'RACE'), RACE_OMB),
    usCoreCategory('us-core-ethnicity', str(v, 'ETHNIC'), ETHNIC_OMB),
    age === null || ageUnit === undefined
      ? undefined
      : {
          url: SDTM_EXT.age,
          valueAge: { value: age, unit: ageUnit[1], system: UCUM, code: ageUnit[0] },
        },
  ].filter((x): x is Json => x !== undefined);
  return {
    resourceType: 'Patient',
    id: patientIdFor(studyid, usubjid),
    ...(ext.length === 0 ? {} : { extension: ext }),
    identifier: [{ system: SDTM_SYSTEMS.usubjid, value: usubjid }],
    ...(gender === undefined ? {} : { gender }),
    ...(birthDate === null ? {} : { birthDate }),
    ...(death !== null
      ? { deceasedDateTime: death }
      : (str(v, 'DTHFL') ?? '').toUpperCase() === 'Y'
        ? { deceasedBoolean: true }
        : {}),
    ...(country === null ? {} : { address: [{ country }] }),
  };
}

const MILESTONES = new Set(['INFORMED CONSENT OBTAINED', 'RANDOMIZED', 'ELIGIBILITY CRITERIA MET']);

/** The last disposition event of DS rows (DSCAT DISPOSITION EVENT, or a non-milestone term). */
function lastDisposition(ds: readonly Values[]): string | null {
  const events = ds.filter((r) => {
    const cat = (str(r, 'DSCAT') ?? '').toUpperCase();
    return (
      cat === 'DISPOSITION EVENT' ||
      (cat === '' && !MILESTONES.has((str(r, 'DSDECOD') ?? '').toUpperCase()))
    );
  });
  events.sort(
    (a, b) =>
      (str(a, 'DSSTDTC') ?? '').localeCompare(str(b, 'DSSTDTC') ?? '') ||
      (num(a, 'DSSEQ') ?? 0) - (num(b, 'DSSEQ') ?? 0),
  );
  const last = events[events.length - 1];
  return last === undefined
    ? null
    : ((str(last, 'DSDECOD') ?? str(last, 'DSTERM'))?.toUpperCase() ?? null);
}

/** R4 ResearchSubject.status from DS and the arm (mapping table in the docs). */
export function subjectStatus(dm: Values, ds: readonly Values[]): string {
  const disposition = lastDisposition(ds);
  if (disposition !== null) {
    if (disposition === 'COMPLETED' || disposition === 'DEATH') return 'off-study';
    if (disposition === 'SCREEN FAILURE') return 'ineligible';
    return 'withdrawn';
  }
  const armcd = (str(dm, 'ARMCD') ?? '').toUpperCase();
  if (armcd === 'SCRNFAIL') return 'ineligible';
  if (armcd === 'NOTASSGN') return 'not-registered';
  return str(dm, 'RFSTDTC') === null ? 'candidate' : 'on-study';
}

/** DM (+ DS, SUPPDM) → ResearchSubject. */
export function mapResearchSubject(
  dm: Values,
  ds: readonly Values[],
  supp: readonly SuppQualifier[],
  zoneless: ZonelessTime,
): FhirObject {
  const { studyid, usubjid } = subjectKeys(dm);
  const p = period(fhirDateTime(dm, 'RFSTDTC', zoneless), fhirDateTime(dm, 'RFENDTC', zoneless));
  const armcd = str(dm, 'ARMCD');
  const actarmcd = str(dm, 'ACTARMCD');
  const dsExt = ds.map((r) => {
    let when: string | null = null;
    try {
      when = fhirDateTime(r, 'DSSTDTC', zoneless);
    } catch {
      when = null; // DS rows are checked when read; a bad date leaves only the text
    }
    return complex(SDTM_EXT.disposition, [
      ['DSSEQ', num(r, 'DSSEQ'), 'Decimal'],
      ['DSTERM', str(r, 'DSTERM'), 'String'],
      ['DSDECOD', str(r, 'DSDECOD'), 'String'],
      ['DSCAT', str(r, 'DSCAT'), 'String'],
      ['DSSTDTC', when, 'DateTime'],
    ]);
  });
  const ext = [...dsExt, ...suppExtensions(supp)];
  return {
    resourceType: 'ResearchSubject',
    id: subjectIdOf(studyid, usubjid),
    ...(ext.length === 0 ? {} : { extension: ext }),
    identifier: [{ system: SDTM_SYSTEMS.usubjid, value: usubjid }],
    status: subjectStatus(dm, ds),
    ...(p === undefined ? {} : { period: p }),
    study: ref('ResearchStudy', studyIdOf(studyid)),
    individual: ref('Patient', patientIdFor(studyid, usubjid)),
    ...(armcd === null ? {} : { assignedArm: armcd }),
    ...(actarmcd === null ? {} : { actualArm: actarmcd }),
  };
}

// ---- events, interventions, findings ----

/** What every record of a subject-level domain carries. */
export interface RowContext {
  readonly domain: string;
  readonly studyid: string;
  readonly usubjid: string;
  readonly seq: string;
  readonly supp: readonly SuppQualifier[];
  /** The SV Encounter of the row's visit when SV had it, else null. */
  readonly encounter: string | null;
  readonly zoneless: ZonelessTime;
}

const recordId = (c: RowContext): string =>
  stableId(c.domain.toLowerCase(), c.studyid, c.usubjid, c.domain, c.seq);
const recordIdentifier = (c: RowContext): Json[] => [
  { system: SDTM_SYSTEMS.record, value: `${c.studyid}/${c.usubjid}/${c.domain}/${c.seq}` },
];
const subject = (c: RowContext): Json => ref('Patient', patientIdFor(c.studyid, c.usubjid));

/** A MedDRA coding from a term and its code variable (code required). */
function meddra(v: Values, term: string, code: string): Json | null {
  const c = str(v, code);
  if (c === null) return null;
  const display = str(v, term);
  return { system: MEDDRA, code: c, ...(display === null ? {} : { display }) };
}

/** AE → AdverseEvent. */
export function mapAdverseEvent(v: Values, c: RowContext, armLabel: string | null): FhirObject {
  const term = str(v, 'AETERM') ?? str(v, 'AEDECOD');
  if (term === null)
    throw new RowError(
      QuarantineCode.MissingValue,
      'AETERM and AEDECOD are empty; the event needs a term',
    );
  const pt = meddra(v, 'AEDECOD', 'AEPTCD');
  const hierarchy = complex(SDTM_EXT.meddra, [
    ['LLT', meddra(v, 'AELLT', 'AELLTCD'), 'Coding'],
    ['HLT', meddra(v, 'AEHLT', 'AEHLTCD'), 'Coding'],
    ['HLGT', meddra(v, 'AEHLGT', 'AEHLGTCD'), 'Coding'],
    ['SOC', meddra(v, 'AESOC', 'AESOCCD'), 'Coding'],
    ['BODSYS', meddra(v, 'AEBODSYS', 'AEBDSYCD'), 'Coding'],
  ]);
  const start = fhirDateTime(v, 'AESTDTC', c.zoneless);
  const end = fhirDateTime(v, 'AEENDTC', c.zoneless);
  const recorded = fhirDateTime(v, 'AEDTC', c.zoneless);
  const sev = AE_SEVERITY[(str(v, 'AESEV') ?? '').toUpperCase()];
  const ser = (str(v, 'AESER') ?? '').toUpperCase();
  const out = AE_OUTCOME[(str(v, 'AEOUT') ?? '').toUpperCase()];
  const rel = str(v, 'AEREL');
  const relCode = rel === null ? undefined : AE_CAUSALITY[rel.toUpperCase()];
  const ext = [
    ...((hierarchy['extension'] as Json[]).length === 0 ? [] : [hierarchy]),
    ...(end === null ? [] : [{ url: SDTM_EXT.aeEnd, valueDateTime: end }]),
    ...suppExtensions(c.supp),
  ];
  return {
    resourceType: 'AdverseEvent',
    id: recordId(c),
    ...(ext.length === 0 ? {} : { extension: ext }),
    identifier: recordIdentifier(c)[0],
    actuality: 'actual',
    event: { ...(pt === null ? {} : { coding: [pt] }), text: term },
    subject: subject(c),
    ...(c.encounter === null ? {} : { encounter: ref('Encounter', c.encounter) }),
    ...(start === null ? {} : { date: start }),
    ...(recorded === null ? {} : { recordedDate: recorded }),
    ...(ser === 'Y' || ser === 'N'
      ? {
          seriousness: {
            coding: [
              {
                system: `${THO}/adverse-event-seriousness`,
                code: ser === 'Y' ? 'serious' : 'non-serious',
                display: ser === 'Y' ? 'Serious' : 'Non-serious',
              },
            ],
          },
        }
      : {}),
    ...(sev === undefined
      ? {}
      : {
          severity: {
            coding: [{ system: `${THO}/adverse-event-severity`, code: sev }],
            text: str(v, 'AESEV'),
          },
        }),
    ...(out === undefined
      ? {}
      : {
          outcome: {
            coding: [{ system: `${THO}/adverse-event-outcome`, code: out[0], display: out[1] }],
          },
        }),
    ...(rel === null
      ? {}
      : {
          suspectEntity: [
            {
              instance: {
                display: armLabel === null ? 'Study treatment' : `Study treatment (${armLabel})`,
              },
              causality: [
                {
                  assessment: {
                    ...(relCode === undefined
                      ? {}
                      : {
                          coding: [
                            {
                              system: `${THO}/adverse-event-causality-assess`,
                              code: relCode[0],
                              display: relCode[1],
                            },
                          ],
                        }),
                    text: rel,
                  },
                },
              ],
            },
          ],
        }),
    study: [ref('ResearchStudy', studyIdOf(c.studyid))],
  };
}

/** EX → MedicationAdministration (a dosage only with EXDOSE: R4 mad-1 needs a dose). */
export function mapExposure(v: Values, c: RowContext): FhirObject {
  const trt = required(v, 'EXTRT', 'the treatment names the medication');
  const start = fhirDateTime(v, 'EXSTDTC', c.zoneless);
  const end = fhirDateTime(v, 'EXENDTC', c.zoneless);
  if (start === null)
    throw new RowError(
      QuarantineCode.MissingValue,
      'EXSTDTC is empty; an administration needs its start (effective[x])',
    );
  const dose = num(v, 'EXDOSE');
  const r = route(str(v, 'EXROUTE'));
  const frq = str(v, 'EXDOSFRQ');
  return {
    resourceType: 'MedicationAdministration',
    id: recordId(c),
    ...withExtensions({}, [...visitExtension(v), ...suppExtensions(c.supp)]),
    identifier: recordIdentifier(c),
    status: end === null ? 'in-progress' : 'completed',
    medicationCodeableConcept: { text: trt },
    subject: subject(c),
    ...(c.encounter === null ? {} : { context: ref('Encounter', c.encounter) }),
    ...(end === null ? { effectiveDateTime: start } : { effectivePeriod: { start, end } }),
    ...(dose === null
      ? {}
      : {
          dosage: {
            ...(frq === null ? {} : { text: frq }),
            ...(r === undefined ? {} : { route: r }),
            dose: quantity(dose, str(v, 'EXDOSU')),
          },
        }),
  };
}

/** CM → MedicationStatement. */
export function mapConMed(v: Values, c: RowContext): FhirObject {
  const trt = required(v, 'CMTRT', 'the reported name names the medication');
  const decod = str(v, 'CMDECOD');
  const start = fhirDateTime(v, 'CMSTDTC', c.zoneless);
  const end = fhirDateTime(v, 'CMENDTC', c.zoneless);
  const ongoing = ['ONGOING', 'AFTER'].includes(
    (str(v, 'CMENRF') ?? str(v, 'CMENRTPT') ?? '').toUpperCase(),
  );
  const dose = num(v, 'CMDOSE');
  const r = route(str(v, 'CMROUTE'));
  const frq = str(v, 'CMDOSFRQ');
  const indication = str(v, 'CMINDC');
  const asserted = fhirDateTime(v, 'CMDTC', c.zoneless);
  const p = period(start, end);
  const dosage = {
    ...(frq === null ? {} : { text: frq }),
    ...(r === undefined ? {} : { route: r }),
    ...(dose === null ? {} : { doseAndRate: [{ doseQuantity: quantity(dose, str(v, 'CMDOSU')) }] }),
  };
  return {
    resourceType: 'MedicationStatement',
    id: recordId(c),
    ...withExtensions({}, suppExtensions(c.supp)),
    identifier: recordIdentifier(c),
    status: ongoing ? 'active' : end !== null ? 'completed' : 'unknown',
    medicationCodeableConcept: {
      ...(decod === null
        ? {}
        : { coding: [{ system: SDTM_SYSTEMS.cmdecod, code: decod, display: decod }] }),
      text: trt,
    },
    subject: subject(c),
    ...(c.encounter === null ? {} : { context: ref('Encounter', c.encounter) }),
    ...(p === undefined ? {} : { effectivePeriod: p }),
    ...(asserted === null ? {} : { dateAsserted: asserted }),
    ...(indication === null ? {} : { reasonCode: [{ text: indication }] }),
    ...(Object.keys(dosage).length === 0 ? {} : { dosage: [dosage] }),
  };
}

/** MH → Condition (category problem-list-item). */
export function mapMedicalHistory(v: Values, c: RowContext): FhirObject {
  const term = str(v, 'MHTERM') ?? str(v, 'MHDECOD');
  if (term === null)
    throw new RowError(
      QuarantineCode.MissingValue,
      'MHTERM and MHDECOD are empty; the condition needs a term',
    );
  const pt = meddra(v, 'MHDECOD', 'MHPTCD');
  const start = fhirDateTime(v, 'MHSTDTC', c.zoneless);
  const end = fhirDateTime(v, 'MHENDTC', c.zoneless);
  const recorded = fhirDateTime(v, 'MHDTC', c.zoneless);
  const ongoing = ['ONGOING', 'AFTER', 'DURING/AFTER'].includes(
    (str(v, 'MHENRF') ?? str(v, 'MHENRTPT') ?? '').toUpperCase(),
  );
  const refuted = (str(v, 'MHOCCUR') ?? '').toUpperCase() === 'N';
  const clinical = refuted ? null : end !== null ? 'resolved' : ongoing ? 'active' : null;
  const cat = str(v, 'MHCAT');
  return {
    resourceType: 'Condition',
    id: recordId(c),
    ...withExtensions({}, suppExtensions(c.supp)),
    identifier: recordIdentifier(c),
    ...(clinical === null
      ? {}
      : { clinicalStatus: { coding: [{ system: `${THO}/condition-clinical`, code: clinical }] } }),
    ...(refuted
      ? {
          verificationStatus: {
            coding: [{ system: `${THO}/condition-ver-status`, code: 'refuted' }],
          },
        }
      : {}),
    category: [
      {
        coding: [
          {
            system: `${THO}/condition-category`,
            code: 'problem-list-item',
            display: 'Problem List Item',
          },
        ],
      },
      ...(cat === null ? [] : [{ text: cat }]),
    ],
    code: { ...(pt === null ? {} : { coding: [pt] }), text: term },
    subject: subject(c),
    ...(c.encounter === null ? {} : { encounter: ref('Encounter', c.encounter) }),
    ...(start === null ? {} : { onsetDateTime: start }),
    ...(end === null ? {} : { abatementDateTime: end }),
    ...(recorded === null ? {} : { recordedDate: recorded }),
  };
}

/** SV → Encounter (one per subject visit; class AMB, or VR for a remote contact). */
export function mapVisit(
  v: Values,
  studyid: string,
  usubjid: string,
  zoneless: ZonelessTime,
  supp: readonly SuppQualifier[],
): FhirObject {
  const visitnum = keyText(v['VISITNUM']);
  if (visitnum === '')
    throw new RowError(QuarantineCode.MissingValue, 'VISITNUM is empty; it names the visit');
  const visit = str(v, 'VISIT');
  const p = period(fhirDateTime(v, 'SVSTDTC', zoneless), fhirDateTime(v, 'SVENDTC', zoneless));
  const mode = (str(v, 'SVCONTMD') ?? '').toUpperCase();
  const remote = mode !== '' && mode !== 'IN PERSON';
  return {
    resourceType: 'Encounter',
    id: visitIdOf(studyid, usubjid, visitnum),
    ...withExtensions({}, suppExtensions(supp)),
    identifier: [{ system: SDTM_SYSTEMS.record, value: `${studyid}/${usubjid}/SV/${visitnum}` }],
    status: p === undefined ? 'unknown' : 'finished',
    class: {
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
      code: remote ? 'VR' : 'AMB',
      display: remote ? 'virtual' : 'ambulatory',
    },
    type: [
      {
        coding: [
          {
            system: SDTM_SYSTEMS.visit,
            code: visitnum,
            ...(visit === null ? {} : { display: visit }),
          },
        ],
        ...(visit === null ? {} : { text: visit }),
      },
    ],
    subject: ref('Patient', patientIdFor(studyid, usubjid)),
    ...(p === undefined ? {} : { period: p }),
  };
}

/** LB / VS (and other findings with --TESTCD) → Observation. */
export function mapFinding(v: Values, c: RowContext): FhirObject {
  const d = c.domain;
  const testcd = required(v, `${d}TESTCD`, 'the test code names the Observation');
  const test = str(v, `${d}TEST`);
  const loincCode = str(v, `${d}LOINC`);
  const vsLoinc = d === 'VS' ? VS_LOINC[testcd.toUpperCase()] : undefined;
  const codings: Json[] = [];
  if (loincCode !== null) codings.push({ system: LOINC, code: loincCode });
  else if (vsLoinc !== undefined)
    codings.push({ system: LOINC, code: vsLoinc[0], display: vsLoinc[1] });
  codings.push({
    system: SDTM_SYSTEMS.testcd(d),
    code: testcd,
    ...(test === null ? {} : { display: test }),
  });
  const notDone = (str(v, `${d}STAT`) ?? '').toUpperCase() === 'NOT DONE';
  const stresn = num(v, `${d}STRESN`);
  const stresc = str(v, `${d}STRESC`);
  const orres = str(v, `${d}ORRES`);
  const orresNum = num(v, `${d}ORRES`);
  const stresu = str(v, `${d}STRESU`);
  const orresu = str(v, `${d}ORRESU`);
  let value: Json = {};
  if (!notDone) {
    if (stresn !== null) value = { valueQuantity: quantity(stresn, stresu) };
    else if (stresc !== null) value = { valueString: stresc };
    else if (orresNum !== null) value = { valueQuantity: quantity(orresNum, orresu) };
    else if (orres !== null) value = { valueString: orres };
  }
  // Reference range: standard units (--STNRLO/HI) first, else original (--ORNRLO/HI).
  let range: Json | null = null;
  const stlo = num(v, `${d}STNRLO`);
  const sthi = num(v, `${d}STNRHI`);
  if (stlo !== null || sthi !== null)
    range = {
      ...(stlo === null ? {} : { low: quantity(stlo, stresu) }),
      ...(sthi === null ? {} : { high: quantity(sthi, stresu) }),
    };
  else {
    const lo = num(v, `${d}ORNRLO`);
    const hi = num(v, `${d}ORNRHI`);
    const loText = str(v, `${d}ORNRLO`);
    const hiText = str(v, `${d}ORNRHI`);
    if (lo !== null || hi !== null)
      range = {
        ...(lo === null ? {} : { low: quantity(lo, orresu) }),
        ...(hi === null ? {} : { high: quantity(hi, orresu) }),
      };
    else if (loText !== null || hiText !== null)
      range = { text: `${loText ?? ''} - ${hiText ?? ''}`.trim() };
  }
  const nrind = str(v, `${d}NRIND`);
  const interp = nrind === null ? undefined : NRIND[nrind.toUpperCase()];
  const when = fhirDateTime(v, `${d}DTC`, c.zoneless);
  const cat = str(v, `${d}CAT`);
  const category = d === 'VS' ? 'vital-signs' : d === 'LB' ? 'laboratory' : 'exam';
  const bodySite = str(v, `${d}LOC`);
  const hasValue = Object.keys(value).length > 0;
  return {
    resourceType: 'Observation',
    id: recordId(c),
    ...withExtensions({}, [...visitExtension(v), ...suppExtensions(c.supp)]),
    identifier: recordIdentifier(c),
    status: notDone ? 'cancelled' : 'final',
    category: [
      { coding: [{ system: `${THO}/observation-category`, code: category }] },
      ...(cat === null ? [] : [{ text: cat }]),
    ],
    code: { coding: codings, text: test ?? testcd },
    subject: subject(c),
    ...(c.encounter === null ? {} : { encounter: ref('Encounter', c.encounter) }),
    ...(when === null ? {} : { effectiveDateTime: when }),
    ...value,
    ...(hasValue
      ? {}
      : {
          dataAbsentReason: {
            coding: [
              {
                system: `${THO}/data-absent-reason`,
                code: notDone ? 'not-performed' : 'unknown',
              },
            ],
            ...(notDone && str(v, `${d}REASND`) !== null ? { text: str(v, `${d}REASND`) } : {}),
          },
        }),
    ...(nrind === null
      ? {}
      : {
          interpretation: [
            {
              ...(interp === undefined
                ? {}
                : {
                    coding: [
                      {
                        system: `${THO}/v3-ObservationInterpretation`,
                        code: interp[0],
                        display: interp[1],
                      },
                    ],
                  }),
              text: nrind,
            },
          ],
        }),
    ...(bodySite === null ? {} : { bodySite: { text: bodySite } }),
    ...(range === null ? {} : { referenceRange: [range] }),
  };
}
