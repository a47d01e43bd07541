/**
 * Row → FHIR R4 mappings of the Synthea CSV tables, in the shapes Synthea's own FHIR
 * exporter writes (US Core extensions and identifiers on Patient, v3 ActCode encounter
 * classes, SNOMED CT / LOINC / RxNorm / CVX codes, UCUM units). One function per table;
 * each returns the resources of one row or throws RowError (quarantine). Grouped tables
 * (imaging_studies, claims_transactions) are assembled in converter.ts from parts made here.
 * See docs/ingest-synthea-csv.md for the column → element table.
 */
import { stableId } from '../convert.js';
import type { FhirObject } from '../convert.js';
import { QuarantineCode } from '../types.js';

export type Json = Record<string, unknown>;

export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const CVX = 'http://hl7.org/fhir/sid/cvx';
export const UCUM = 'http://unitsofmeasure.org';
const OMB = 'urn:oid:2.16.840.1.113883.6.238';
const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition';

/** A row that cannot be mapped: quarantined with this code and reason. */
/** A value a mapping needs: an empty column quarantines the row (missing-value). */
function present<T>(col: string, v: T | undefined): T {
  if (v === undefined) throw new RowError(QuarantineCode.MissingValue, `${col} is empty`);
  return v;
}

export class RowError extends Error {
  constructor(
    readonly code: QuarantineCode,
    message: string,
  ) {
    super(message);
  }
}

/** One CSV data row addressed by column name; values are trimmed, '' reads as absent. */
export class Row {
  /**
   * 1 for the first row with its natural key in the file, n for the n-th repeat (set by the
   * converter from a bounded window of recent keys): repeats get their own stable id.
   */
  occurrence = 1;

  constructor(
    private readonly index: ReadonlyMap<string, number>,
    private readonly fields: readonly string[],
  ) {}

  /** The column's value, undefined when empty or absent. */
  get(col: string): string | undefined {
    const i = this.index.get(col);
    const v = i === undefined ? undefined : this.fields[i]?.trim();
    return v === undefined || v === '' ? undefined : v;
  }

  /** A value that must be present. */
  need(col: string): string {
    return present(col, this.get(col));
  }

  /** A FHIR id (the CSV's UUIDs), optional. */
  id(col: string): string | undefined {
    const v = this.get(col);
    if (v !== undefined && !FHIR_ID.test(v))
      throw new RowError(
        QuarantineCode.InvalidValue,
        `${col} ${JSON.stringify(v.slice(0, 80))} is not usable as a FHIR id ([A-Za-z0-9-.]{1,64})`,
      );
    return v;
  }

  /** A FHIR id that must be present. */
  needId(col: string): string {
    return present(col, this.id(col));
  }

  /** A date (YYYY-MM-DD, or the date part of a dateTime), optional. */
  date(col: string): string | undefined {
    const v = this.get(col);
    if (v === undefined) return undefined;
    const d = v.slice(0, 10);
    if (!validDate(d) || (v.length > 10 && this.dateTime(col) === undefined))
      throw new RowError(QuarantineCode.InvalidValue, `${col} ${JSON.stringify(v)} is not a date`);
    return d;
  }

  /**
   * A FHIR dateTime: YYYY, YYYY-MM-DD or an ISO 8601 date and time with a zone (Synthea
   * writes `2023-01-27T16:17:47Z`); optional.
   */
  dateTime(col: string): string | undefined {
    const v = this.get(col);
    if (v === undefined) return undefined;
    if (/^\d{4}$/.test(v)) return v;
    const m = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.exec(
      v,
    );
    if (
      m === null ||
      !validDate(m[1] as string) ||
      (m[2] !== undefined && Number.isNaN(Date.parse(v)))
    )
      throw new RowError(
        QuarantineCode.InvalidValue,
        `${col} ${JSON.stringify(v)} is not a date or date-time (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)`,
      );
    // FHIR dateTime needs seconds when a time is given.
    if (m[2] !== undefined && m[3] === undefined) return v.replace(/(T\d{2}:\d{2})/, '$1:00');
    return v;
  }

  /** A dateTime that must be present. */
  needDateTime(col: string): string {
    return present(col, this.dateTime(col));
  }

  /** A decimal number, optional ('NaN' as Synthea writes for an undefined mean reads absent). */
  num(col: string): number | undefined {
    const v = this.get(col);
    if (v === undefined || v === 'NaN') return undefined;
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v))
      throw new RowError(
        QuarantineCode.InvalidValue,
        `${col} ${JSON.stringify(v)} is not a number`,
      );
    return Number(v);
  }
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

function validDate(d: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d);
  if (m === null) return false;
  const t = new Date(`${d}T00:00:00Z`);
  return !Number.isNaN(t.getTime()) && t.toISOString().slice(0, 10) === d;
}

/** Drops undefined values and empty arrays/objects so resources carry no empty elements. */
export function clean<T>(v: T): T {
  if (Array.isArray(v)) {
    const out = v.map(clean).filter((x) => x !== undefined);
    return out as T;
  }
  if (v !== null && typeof v === 'object') {
    const out: Json = {};
    for (const [k, x] of Object.entries(v as Json)) {
      const c = clean(x);
      if (c === undefined) continue;
      if (Array.isArray(c) && c.length === 0) continue;
      if (c !== null && typeof c === 'object' && !Array.isArray(c) && Object.keys(c).length === 0)
        continue;
      out[k] = c;
    }
    return out as T;
  }
  return v;
}

export function resource(resourceType: string, id: string, body: Json): FhirObject {
  return clean({ resourceType, id, ...body });
}

export const ref = (type: string, id: string | undefined): Json | undefined =>
  id === undefined ? undefined : { reference: `${type}/${id}` };

/** A CodeableConcept of one coding (text = display), undefined without a code. */
export function concept(
  system: string | undefined,
  code: string | undefined,
  display?: string,
): Json | undefined {
  if (code === undefined) return display === undefined ? undefined : { text: display };
  return { coding: [{ system, code, display }], text: display };
}

// ---------------------------------------------------------------------------------------
// patients

/** Synthea RACE → OMB race category (US Core race extension, ombCategory). */
const RACES: Record<string, [string, string]> = {
  white: ['2106-3', 'White'],
  black: ['2054-5', 'Black or African American'],
  asian: ['2028-9', 'Asian'],
  native: ['1002-5', 'American Indian or Alaska Native'],
  hawaiian: ['2076-8', 'Native Hawaiian or Other Pacific Islander'],
};
const ETHNICITIES: Record<string, [string, string]> = {
  hispanic: ['2135-2', 'Hispanic or Latino'],
  nonhispanic: ['2186-5', 'Not Hispanic or Latino'],
};
/** v3 MaritalStatus displays (the codes Synthea writes). */
const MARITAL: Record<string, string> = {
  A: 'Annulled',
  D: 'Divorced',
  I: 'Interlocutory',
  L: 'Legally Separated',
  M: 'Married',
  P: 'Polygamous',
  S: 'Never Married',
  T: 'Domestic partner',
  U: 'unmarried',
  W: 'Widowed',
};

export function gender(row: Row, col: string): 'male' | 'female' | undefined {
  const g = row.get(col);
  if (g === undefined) return undefined;
  const l = g.toLowerCase();
  if (l === 'm' || l === 'male') return 'male';
  if (l === 'f' || l === 'female') return 'female';
  throw new RowError(QuarantineCode.InvalidValue, `${col} ${JSON.stringify(g)} is not M or F`);
}

/** geolocation extension (http://hl7.org/fhir/StructureDefinition/geolocation) from LAT/LON. */
function geolocation(row: Row): Json | undefined {
  const lat = row.num('LAT');
  const lon = row.num('LON');
  if (lat === undefined || lon === undefined) return undefined;
  return {
    url: 'http://hl7.org/fhir/StructureDefinition/geolocation',
    extension: [
      { url: 'latitude', valueDecimal: lat },
      { url: 'longitude', valueDecimal: lon },
    ],
  };
}

export function address(row: Row, state = 'STATE', withCountry = true): Json | undefined {
  const a = clean({
    extension: [geolocation(row)],
    line: [row.get('ADDRESS')],
    city: row.get('CITY'),
    district: row.get('COUNTY'),
    state: row.get(state),
    postalCode: row.get('ZIP'),
  });
  if (Object.keys(a).length === 0) return undefined;
  return withCountry ? { ...a, country: 'US' } : a;
}

/** BIRTHPLACE "City  State  Country" (Synthea) or "City, State, Country" → Address. */
function birthPlace(v: string | undefined): Json | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(/\s*,\s*|\s{2,}/).filter((p) => p !== '');
  return parts.length === 3 ? { city: parts[0], state: parts[1], country: parts[2] } : { text: v };
}

export function patient(row: Row): FhirObject {
  const id = row.needId('Id');
  const race = row.get('RACE')?.toLowerCase();
  const eth = row.get('ETHNICITY')?.toLowerCase();
  const omb = race === undefined ? undefined : RACES[race];
  const ethOmb = eth === undefined ? undefined : ETHNICITIES[eth];
  const g = gender(row, 'GENDER');
  const marital = row.get('MARITAL');
  const first = row.get('FIRST');
  const maiden = row.get('MAIDEN');
  const ident = (
    code: string,
    display: string,
    system: string,
    value: string | undefined,
  ): Json | undefined =>
    value === undefined
      ? undefined
      : { type: { coding: [{ system: V2_0203, code, display }], text: display }, system, value };
  return resource('Patient', id, {
    extension: [
      race === undefined
        ? undefined
        : {
            url: `${US_CORE}/us-core-race`,
            extension: [
              omb === undefined
                ? undefined
                : {
                    url: 'ombCategory',
                    valueCoding: { system: OMB, code: omb[0], display: omb[1] },
                  },
              omb === undefined && race === 'other'
                ? {
                    url: 'detailed',
                    valueCoding: { system: OMB, code: '2131-1', display: 'Other Race' },
                  }
                : undefined,
              { url: 'text', valueString: omb?.[1] ?? row.get('RACE') },
            ],
          },
      eth === undefined
        ? undefined
        : {
            url: `${US_CORE}/us-core-ethnicity`,
            extension: [
              ethOmb === undefined
                ? undefined
                : {
                    url: 'ombCategory',
                    valueCoding: { system: OMB, code: ethOmb[0], display: ethOmb[1] },
                  },
              { url: 'text', valueString: ethOmb?.[1] ?? row.get('ETHNICITY') },
            ],
          },
      g === undefined
        ? undefined
        : { url: `${US_CORE}/us-core-birthsex`, valueCode: g === 'male' ? 'M' : 'F' },
      (() => {
        const bp = birthPlace(row.get('BIRTHPLACE'));
        return bp === undefined
          ? undefined
          : { url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: bp };
      })(),
    ],
    identifier: [
      { system: 'https://github.com/synthetichealth/synthea', value: id },
      ident('MR', 'Medical Record Number', 'http://hospital.smarthealthit.org', id),
      ident('SS', 'Social Security Number', 'http://hl7.org/fhir/sid/us-ssn', row.get('SSN')),
      ident(
        'DL',
        "Driver's license number",
        'urn:oid:2.16.840.1.113883.4.3.25',
        row.get('DRIVERS'),
      ),
      ident('PPN', 'Passport Number', 'http://hl7.org/fhir/sid/passport-USA', row.get('PASSPORT')),
    ],
    name: [
      {
        use: 'official',
        family: row.get('LAST'),
        given: [first],
        prefix: [row.get('PREFIX')],
        suffix: [row.get('SUFFIX')],
      },
      maiden === undefined ? undefined : { use: 'maiden', family: maiden, given: [first] },
    ],
    gender: g ?? 'unknown',
    birthDate: row.date('BIRTHDATE'),
    deceasedDateTime: row.dateTime('DEATHDATE'),
    address: [address(row)],
    maritalStatus:
      marital === undefined
        ? undefined
        : {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus',
                code: marital,
                display: MARITAL[marital],
              },
            ],
            text: MARITAL[marital] ?? marital,
          },
  });
}

// ---------------------------------------------------------------------------------------
// encounters

/** Synthea ENCOUNTERCLASS → v3 ActCode (as Synthea's FHIR exporter maps its EncounterType). */
const ACT_CODES: Record<string, [string, string]> = {
  wellness: ['AMB', 'ambulatory'],
  ambulatory: ['AMB', 'ambulatory'],
  outpatient: ['AMB', 'ambulatory'],
  urgentcare: ['AMB', 'ambulatory'],
  emergency: ['EMER', 'emergency'],
  inpatient: ['IMP', 'inpatient encounter'],
  snf: ['IMP', 'inpatient encounter'],
  hospice: ['HH', 'home health'],
  home: ['HH', 'home health'],
  virtual: ['VR', 'virtual'],
  telemedicine: ['VR', 'virtual'],
};

const reason = (row: Row): Json[] =>
  [concept(SNOMED, row.get('REASONCODE'), row.get('REASONDESCRIPTION'))].filter(
    (x): x is Json => x !== undefined,
  );

/** START ≤ STOP, else invalid-value (a period that ends before it starts is invalid FHIR). */
function period(row: Row, start: string, stop: string): Json | undefined {
  const s = row.dateTime(start);
  const e = row.dateTime(stop);
  if (s !== undefined && e !== undefined && Date.parse(e) < Date.parse(s))
    throw new RowError(QuarantineCode.InvalidValue, `${stop} ${e} is before ${start} ${s}`);
  return s === undefined && e === undefined ? undefined : { start: s, end: e };
}

export function encounter(row: Row): FhirObject {
  const cls = row.need('ENCOUNTERCLASS');
  const act = ACT_CODES[cls.toLowerCase()];
  if (act === undefined)
    throw new RowError(
      QuarantineCode.InvalidValue,
      `ENCOUNTERCLASS ${JSON.stringify(cls)} is not one of ${Object.keys(ACT_CODES).join(', ')}`,
    );
  const provider = row.id('PROVIDER');
  return resource('Encounter', row.needId('Id'), {
    status: 'finished',
    class: {
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
      code: act[0],
      display: act[1],
    },
    type: [concept(SNOMED, row.get('CODE'), row.get('DESCRIPTION'))],
    subject: ref('Patient', row.needId('PATIENT')),
    participant: [
      provider === undefined
        ? undefined
        : {
            type: [
              {
                coding: [
                  {
                    system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
                    code: 'PPRF',
                    display: 'primary performer',
                  },
                ],
                text: 'primary performer',
              },
            ],
            individual: ref('Practitioner', provider),
          },
    ],
    period: period(row, 'START', 'STOP'),
    reasonCode: reason(row),
    serviceProvider: ref('Organization', row.id('ORGANIZATION')),
  });
}

// ---------------------------------------------------------------------------------------
// clinical tables without an Id: stable ids from the row's natural key

/** The natural key of a row (values of `cols`), for stableId and provenance. */
export function naturalKey(row: Row, cols: readonly string[]): string[] {
  const key = cols.map((c) => row.get(c) ?? '');
  return row.occurrence > 1 ? [...key, `#${row.occurrence}`] : key;
}

export const NATURAL_KEYS = {
  conditions: ['PATIENT', 'ENCOUNTER', 'START', 'CODE'],
  observations: ['PATIENT', 'ENCOUNTER', 'DATE', 'CODE'],
  medications: ['PATIENT', 'ENCOUNTER', 'START', 'CODE'],
  procedures: ['PATIENT', 'ENCOUNTER', 'START', 'CODE'],
  immunizations: ['PATIENT', 'ENCOUNTER', 'DATE', 'CODE'],
  allergies: ['PATIENT', 'ENCOUNTER', 'START', 'CODE'],
  devices: ['PATIENT', 'UDI', 'START', 'CODE'],
  supplies: ['PATIENT', 'ENCOUNTER', 'DATE', 'CODE'],
  payer_transitions: ['PATIENT', 'START_YEAR', 'PAYER'],
} as const;

const subjectAndEncounter = (row: Row): Json => ({
  subject: ref('Patient', row.needId('PATIENT')),
  encounter: ref('Encounter', row.id('ENCOUNTER')),
});

export function condition(row: Row): FhirObject {
  const stop = row.dateTime('STOP');
  const system = systemUri(row.get('SYSTEM')) ?? SNOMED;
  return resource('Condition', stableId('cond', ...naturalKey(row, NATURAL_KEYS.conditions)), {
    clinicalStatus: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/condition-clinical',
          code: stop === undefined ? 'active' : 'resolved',
        },
      ],
    },
    verificationStatus: {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' },
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
    code: concept(system, row.need('CODE'), row.get('DESCRIPTION')),
    ...subjectAndEncounter(row),
    onsetDateTime: row.dateTime('START'),
    abatementDateTime: stop,
    recordedDate: row.dateTime('START'),
  });
}

export function observation(row: Row): FhirObject {
  const date = row.dateTime('DATE');
  const type = row.get('TYPE')?.toLowerCase();
  const raw = row.get('VALUE');
  const units = row.get('UNITS');
  let value: Json = {};
  if (raw !== undefined) {
    if (type === 'numeric') {
      const n = row.num('VALUE') as number;
      value = {
        valueQuantity: {
          value: n,
          unit: units,
          system: units === undefined ? undefined : UCUM,
          code: units,
        },
      };
    } else {
      value = { valueString: raw };
    }
  }
  const cat = row.get('CATEGORY');
  return resource('Observation', stableId('obs', ...naturalKey(row, NATURAL_KEYS.observations)), {
    status: 'final',
    category: [
      cat === undefined
        ? undefined
        : {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: cat },
            ],
          },
    ],
    code: concept(LOINC, row.need('CODE'), row.get('DESCRIPTION')),
    ...subjectAndEncounter(row),
    effectiveDateTime: date,
    // instant needs a time and zone: only a full date-time is also the issue time.
    issued: date !== undefined && date.length > 10 ? date : undefined,
    ...value,
  });
}

export function medicationRequest(row: Row): FhirObject {
  const stop = row.dateTime('STOP');
  const dispenses = row.num('DISPENSES');
  if (dispenses !== undefined && (!Number.isInteger(dispenses) || dispenses < 0))
    throw new RowError(QuarantineCode.InvalidValue, `DISPENSES ${dispenses} is not a count`);
  return resource(
    'MedicationRequest',
    stableId('medrx', ...naturalKey(row, NATURAL_KEYS.medications)),
    {
      status: stop === undefined ? 'active' : 'stopped',
      intent: 'order',
      medicationCodeableConcept: concept(RXNORM, row.need('CODE'), row.get('DESCRIPTION')),
      ...subjectAndEncounter(row),
      authoredOn: row.dateTime('START'),
      reasonCode: reason(row),
      dosageInstruction: [
        stop === undefined
          ? undefined
          : { timing: { repeat: { boundsPeriod: period(row, 'START', 'STOP') } } },
      ],
      dispenseRequest:
        dispenses === undefined || dispenses < 1
          ? undefined
          : { numberOfRepeatsAllowed: dispenses - 1 },
    },
  );
}

export function procedure(row: Row): FhirObject {
  const p = period(row, 'START', 'STOP');
  return resource('Procedure', stableId('proc', ...naturalKey(row, NATURAL_KEYS.procedures)), {
    status: 'completed',
    code: concept(systemUri(row.get('SYSTEM')) ?? SNOMED, row.need('CODE'), row.get('DESCRIPTION')),
    ...subjectAndEncounter(row),
    ...(p?.['end'] === undefined ? { performedDateTime: p?.['start'] } : { performedPeriod: p }),
    reasonCode: reason(row),
  });
}

export function immunization(row: Row): FhirObject {
  return resource('Immunization', stableId('imm', ...naturalKey(row, NATURAL_KEYS.immunizations)), {
    status: 'completed',
    vaccineCode: concept(CVX, row.need('CODE'), row.get('DESCRIPTION')),
    patient: ref('Patient', row.needId('PATIENT')),
    encounter: ref('Encounter', row.id('ENCOUNTER')),
    occurrenceDateTime: row.needDateTime('DATE'),
    primarySource: true,
  });
}

/** allergies.SYSTEM / conditions.SYSTEM names → code system URIs. */
export function systemUri(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const n = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (n === 'snomedct' || n === 'snomed') return SNOMED;
  if (n === 'rxnorm') return RXNORM;
  if (n === 'loinc') return LOINC;
  if (n === 'cvx') return CVX;
  if (/^(https?|urn):/.test(name)) return name;
  return undefined;
}

const ALLERGY_TYPES = new Set(['allergy', 'intolerance']);
const ALLERGY_CATEGORIES = new Set(['food', 'medication', 'environment', 'biologic']);
const SEVERITIES = new Set(['mild', 'moderate', 'severe']);

export function allergy(row: Row): FhirObject {
  const stop = row.dateTime('STOP');
  const type = row.get('TYPE')?.toLowerCase();
  const cat = row.get('CATEGORY')?.toLowerCase();
  const reaction = (n: number): Json | undefined => {
    const code = row.get(`REACTION${n}`);
    if (code === undefined) return undefined;
    const sev = row.get(`SEVERITY${n}`)?.toLowerCase();
    if (sev !== undefined && !SEVERITIES.has(sev))
      throw new RowError(
        QuarantineCode.InvalidValue,
        `SEVERITY${n} ${JSON.stringify(sev)} is not MILD, MODERATE or SEVERE`,
      );
    return { manifestation: [concept(SNOMED, code, row.get(`DESCRIPTION${n}`))], severity: sev };
  };
  const system = row.get('SYSTEM');
  return resource(
    'AllergyIntolerance',
    stableId('allergy', ...naturalKey(row, NATURAL_KEYS.allergies)),
    {
      clinicalStatus: {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
            code: stop === undefined ? 'active' : 'resolved',
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
      type: type !== undefined && ALLERGY_TYPES.has(type) ? type : undefined,
      category: [cat !== undefined && ALLERGY_CATEGORIES.has(cat) ? cat : undefined],
      code: concept(
        system === undefined ? SNOMED : systemUri(system),
        row.need('CODE'),
        row.get('DESCRIPTION'),
      ),
      patient: ref('Patient', row.needId('PATIENT')),
      encounter: ref('Encounter', row.id('ENCOUNTER')),
      recordedDate: row.dateTime('START'),
      lastOccurrence: stop,
      reaction: [reaction(1), reaction(2)],
    },
  );
}

export function carePlan(row: Row): FhirObject {
  const stop = row.dateTime('STOP');
  return resource('CarePlan', row.needId('Id'), {
    status: stop === undefined ? 'active' : 'completed',
    intent: 'order',
    category: [
      {
        coding: [
          {
            system: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category',
            code: 'assess-plan',
          },
        ],
      },
      concept(SNOMED, row.get('CODE'), row.get('DESCRIPTION')),
    ],
    ...subjectAndEncounter(row),
    period: period(row, 'START', 'STOP'),
  });
}

/**
 * GS1 application identifiers of a human-readable UDI: (01) device identifier, (11)
 * manufacture date, (17) expiration date, (10) lot, (21) serial (GS1 General Specifications
 * 3.2; FHIR Device.udiCarrier.carrierHRF).
 */
function gs1(udi: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of udi.matchAll(/\((\d{2,4})\)([^(]*)/g)) out.set(m[1] as string, m[2] as string);
  return out;
}
/** A GS1 YYMMDD date → FHIR date; century by GS1 General Specifications 7.12; day 00 read as 01. */
function gs1Date(v: string | undefined): string | undefined {
  if (v === undefined || !/^\d{6}$/.test(v)) return undefined;
  const yy = Number(v.slice(0, 2));
  const now = new Date().getUTCFullYear();
  const diff = yy - (now % 100);
  const century = Math.floor(now / 100) + (diff >= 51 ? -1 : diff <= -50 ? 1 : 0);
  const day = v.slice(4, 6) === '00' ? '01' : v.slice(4, 6);
  const d = `${century * 100 + yy}-${v.slice(2, 4)}-${day}`;
  return validDate(d) ? d : undefined;
}

export function device(row: Row): FhirObject {
  const udi = row.get('UDI');
  const ai = udi === undefined ? new Map<string, string>() : gs1(udi);
  row.dateTime('START'); // no Device element takes it; validated so a bad date quarantines
  return resource('Device', stableId('dev', ...naturalKey(row, NATURAL_KEYS.devices)), {
    udiCarrier: [
      udi === undefined ? undefined : { deviceIdentifier: ai.get('01'), carrierHRF: udi },
    ],
    status: row.get('STOP') === undefined ? 'active' : 'inactive',
    manufactureDate: gs1Date(ai.get('11')),
    expirationDate: gs1Date(ai.get('17')),
    lotNumber: ai.get('10'),
    serialNumber: ai.get('21'),
    deviceName: [
      row.get('DESCRIPTION') === undefined
        ? undefined
        : { name: row.get('DESCRIPTION'), type: 'user-friendly-name' },
    ],
    type: concept(SNOMED, row.need('CODE'), row.get('DESCRIPTION')),
    patient: ref('Patient', row.needId('PATIENT')),
  });
}

export function supplyDelivery(row: Row): FhirObject {
  const q = row.num('QUANTITY');
  return resource('SupplyDelivery', stableId('supply', ...naturalKey(row, NATURAL_KEYS.supplies)), {
    status: 'completed',
    patient: ref('Patient', row.needId('PATIENT')),
    type: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/supply-item-type',
          code: 'device',
          display: 'Device',
        },
      ],
    },
    suppliedItem: {
      quantity: q === undefined ? undefined : { value: q },
      itemCodeableConcept: concept(SNOMED, row.need('CODE'), row.get('DESCRIPTION')),
    },
    occurrenceDateTime: row.dateTime('DATE'),
  });
}

// ---------------------------------------------------------------------------------------
// organizations, providers, payers, payer_transitions

const phone = (v: string | undefined): Json[] =>
  v === undefined ? [] : [{ system: 'phone', value: v }];

export function organization(row: Row): FhirObject {
  return resource('Organization', row.needId('Id'), {
    identifier: [{ system: 'https://github.com/synthetichealth/synthea', value: row.get('Id') }],
    active: true,
    type: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/organization-type',
            code: 'prov',
            display: 'Healthcare Provider',
          },
        ],
        text: 'Healthcare Provider',
      },
    ],
    name: row.get('NAME'),
    telecom: phone(row.get('PHONE')),
    address: [address(row)],
  });
}

export function payer(row: Row): FhirObject {
  return resource('Organization', row.needId('Id'), {
    identifier: [{ system: 'https://github.com/synthetichealth/synthea', value: row.get('Id') }],
    active: true,
    type: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/organization-type',
            code: 'pay',
            display: 'Payer',
          },
        ],
        text: 'Payer',
      },
    ],
    name: row.get('NAME'),
    telecom: phone(row.get('PHONE')),
    address: [address(row, 'STATE_HEADQUARTERED')],
  });
}

/** providers: a Practitioner and the PractitionerRole linking it to its organization. */
export function provider(row: Row): FhirObject[] {
  const id = row.needId('Id');
  const name = row.get('NAME');
  const cut = name === undefined ? -1 : name.lastIndexOf(' ');
  const spec = row.get('SPECIALITY');
  const org = row.id('ORGANIZATION');
  return [
    resource('Practitioner', id, {
      identifier: [{ system: 'https://github.com/synthetichealth/synthea', value: id }],
      active: true,
      name: [
        name === undefined
          ? undefined
          : cut < 0
            ? { text: name, family: name }
            : { text: name, given: [name.slice(0, cut)], family: name.slice(cut + 1) },
      ],
      gender: gender(row, 'GENDER'),
      address: [address(row)],
    }),
    resource('PractitionerRole', stableId('prrole', id), {
      active: true,
      practitioner: ref('Practitioner', id),
      organization: ref('Organization', org),
      specialty: [spec === undefined ? undefined : { text: spec }],
    }),
  ];
}

/** payer_transitions.OWNERSHIP → subscriber-relationship (the beneficiary's relation to the owner). */
const RELATIONSHIP: Record<string, [string, string]> = {
  self: ['self', 'Self'],
  spouse: ['spouse', 'Spouse'],
  guardian: ['child', 'Child'],
};

/** payer_transitions: one Coverage for PAYER and, when present, one (order 2) for SECONDARY_PAYER. */
export function coverages(row: Row): FhirObject[] {
  const patientId = row.needId('PATIENT');
  // No PAYER: a period without insurance, a self-pay Coverage (payor = the patient).
  const payerId = row.id('PAYER');
  const second = row.id('SECONDARY_PAYER');
  const own = row.get('OWNERSHIP');
  const rel = own === undefined ? undefined : RELATIONSHIP[own.toLowerCase()];
  const s = row.dateTime('START_YEAR');
  const e = row.dateTime('END_YEAR');
  if (s !== undefined && e !== undefined && e.slice(0, 4) < s.slice(0, 4))
    throw new RowError(QuarantineCode.InvalidValue, `END_YEAR ${e} is before START_YEAR ${s}`);
  const key = naturalKey(row, NATURAL_KEYS.payer_transitions);
  const make = (id: string, payerRef: string | undefined, order: number): FhirObject =>
    resource('Coverage', id, {
      status: 'active',
      type:
        payerRef === undefined
          ? {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/coverage-selfpay',
                  code: 'pay',
                  display: 'Pay',
                },
              ],
              text: 'Self-pay',
            }
          : undefined,
      subscriber:
        rel?.[0] === 'self'
          ? ref('Patient', patientId)
          : row.get('OWNERNAME') === undefined
            ? undefined
            : { display: row.get('OWNERNAME') },
      subscriberId: row.get('MEMBERID'),
      beneficiary: ref('Patient', patientId),
      relationship:
        rel === undefined
          ? undefined
          : {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship',
                  code: rel[0],
                  display: rel[1],
                },
              ],
            },
      period: { start: s, end: e },
      payor: [payerRef === undefined ? ref('Patient', patientId) : ref('Organization', payerRef)],
      order,
    });
  const out = [make(stableId('cov', ...key), payerId, 1)];
  if (second !== undefined) out.push(make(stableId('cov', ...key, 'secondary', second), second, 2));
  return out;
}
