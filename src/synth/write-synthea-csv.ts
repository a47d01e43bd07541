/**
 * `synthea-csv`: Synthea's CSV export layout (18 files, the headers of ../shared/fixtures/synthea-csv-27), derived from
 * each patient's FHIR resources and the shared resources, so CSV-based tools and research
 * extracts built for Synthea read it. The mapping works on FHIR R4 shapes in general
 * (Synthea's and US Core's), not on how this generator builds them; see
 * docs/synth-formats-bundle-csv.md for the column <- element table.
 *
 * Streaming: patient rows are written as each patient arrives; organizations, providers
 * and payers are written at `close()` with their totals (fixed-size state per shared
 * resource). Columns that no FHIR element gives stay empty; costs come from Claim and
 * ExplanationOfBenefit when present. Fields are quoted per RFC 4180, lines end with LF.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { basename, join } from 'node:path';
import type { FormatWriter, FormatWriterFactory, PatientOutput } from './parts.js';
import type { JsonResource } from './shared-resources.js';

export const SYNTHEA_CSV_FORMAT = 'synthea-csv';

/** Files and headers, as Synthea's CSV exporter writes them. */
export const SYNTHEA_CSV_HEADERS = {
  patients:
    'Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE',
  encounters:
    'Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION',
  conditions: 'START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION',
  observations: 'DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE',
  medications:
    'START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION',
  procedures:
    'START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION',
  immunizations: 'DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST',
  allergies:
    'START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION,TYPE,CATEGORY,REACTION1,DESCRIPTION1,SEVERITY1,REACTION2,DESCRIPTION2,SEVERITY2',
  careplans: 'Id,START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,REASONCODE,REASONDESCRIPTION',
  devices: 'START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION,UDI',
  imaging_studies:
    'Id,DATE,PATIENT,ENCOUNTER,SERIES_UID,BODYSITE_CODE,BODYSITE_DESCRIPTION,MODALITY_CODE,MODALITY_DESCRIPTION,INSTANCE_UID,SOP_CODE,SOP_DESCRIPTION,PROCEDURE_CODE',
  supplies: 'DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,QUANTITY',
  claims:
    'Id,PATIENTID,PROVIDERID,PRIMARYPATIENTINSURANCEID,SECONDARYPATIENTINSURANCEID,DEPARTMENTID,PATIENTDEPARTMENTID,DIAGNOSIS1,DIAGNOSIS2,DIAGNOSIS3,DIAGNOSIS4,DIAGNOSIS5,DIAGNOSIS6,DIAGNOSIS7,DIAGNOSIS8,REFERRINGPROVIDERID,APPOINTMENTID,CURRENTILLNESSDATE,SERVICEDATE,SUPERVISINGPROVIDERID,STATUS1,STATUS2,STATUSP,OUTSTANDING1,OUTSTANDING2,OUTSTANDINGP,LASTBILLEDDATE1,LASTBILLEDDATE2,LASTBILLEDDATEP,HEALTHCARECLAIMTYPEID1,HEALTHCARECLAIMTYPEID2',
  claims_transactions:
    'ID,CLAIMID,CHARGEID,PATIENTID,TYPE,AMOUNT,METHOD,FROMDATE,TODATE,PLACEOFSERVICE,PROCEDURECODE,MODIFIER1,MODIFIER2,DIAGNOSISREF1,DIAGNOSISREF2,DIAGNOSISREF3,DIAGNOSISREF4,UNITS,DEPARTMENTID,NOTES,UNITAMOUNT,TRANSFEROUTID,TRANSFERTYPE,PAYMENTS,ADJUSTMENTS,TRANSFERS,OUTSTANDING,APPOINTMENTID,LINENOTE,PATIENTINSURANCEID,FEESCHEDULEID,PROVIDERID,SUPERVISINGPROVIDERID',
  payers:
    'Id,NAME,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE,AMOUNT_COVERED,AMOUNT_UNCOVERED,REVENUE,COVERED_ENCOUNTERS,UNCOVERED_ENCOUNTERS,COVERED_MEDICATIONS,UNCOVERED_MEDICATIONS,COVERED_PROCEDURES,UNCOVERED_PROCEDURES,COVERED_IMMUNIZATIONS,UNCOVERED_IMMUNIZATIONS,UNIQUE_CUSTOMERS,QOLS_AVG,MEMBER_MONTHS',
  payer_transitions:
    'PATIENT,MEMBERID,START_YEAR,END_YEAR,PAYER,SECONDARY_PAYER,OWNERSHIP,OWNERNAME',
  organizations: 'Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION',
  providers: 'Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,UTILIZATION',
} as const;

export type SyntheaCsvFile = keyof typeof SYNTHEA_CSV_HEADERS;
export const SYNTHEA_CSV_FILES = Object.keys(SYNTHEA_CSV_HEADERS) as SyntheaCsvFile[];

type Json = Record<string, unknown>;
type Field = string | number | undefined;

const SNOMED = 'http://snomed.info/sct';
const FLUSH_CHARS = 1 << 20;

/** One CSV field per RFC 4180: quoted when it holds a comma, quote, CR or LF. */
export function csvField(v: Field): string {
  const s = v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// ---- Reading FHIR elements, tolerant of missing or oddly typed values ----

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
function first(v: unknown): Json | undefined {
  return obj(arr(v)[0]);
}

/** The id a Reference points to (`Type/id`, `urn:uuid:id`, or an absolute URL's last segment). */
export function refId(ref: unknown): string | undefined {
  const r = str(obj(ref)?.['reference']);
  if (r === undefined) return undefined;
  if (r.startsWith('urn:uuid:')) return r.slice(9);
  const slash = r.lastIndexOf('/');
  return slash < 0 ? r : r.slice(slash + 1);
}
/** The id of a Reference to an Organization (payers); undefined for other targets. */
function orgId(ref: unknown): string | undefined {
  return refType(ref) === 'Organization' ? refId(ref) : undefined;
}
function refType(ref: unknown): string | undefined {
  const r = str(obj(ref)?.['reference']);
  const parts = r?.split('/');
  return parts !== undefined && parts.length >= 2 ? parts[parts.length - 2] : undefined;
}

interface Code {
  readonly system?: string;
  readonly code?: string;
  readonly display?: string;
}

/** A CodeableConcept's coding of `system` if there is one, else its first coding; text fills display. */
function coding(cc: unknown, system?: string): Code {
  const c = obj(cc);
  const codings = arr(c?.['coding']).map(obj);
  const pick = codings.find((x) => system !== undefined && x?.['system'] === system) ?? codings[0];
  return {
    system: str(pick?.['system']),
    code: str(pick?.['code']),
    display: str(pick?.['display']) ?? str(c?.['text']),
  };
}
function codingOf(c: unknown): Code {
  const o = obj(c);
  return { system: str(o?.['system']), code: str(o?.['code']), display: str(o?.['display']) };
}

/** A dateTime as Synthea writes it (UTC, seconds, `Z`); a date gets midnight. */
export function csvDateTime(v: unknown): string | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return `${s}T00:00:00Z`;
  const t = Date.parse(s);
  return Number.isNaN(t) ? s : new Date(t).toISOString().slice(0, 19) + 'Z';
}
/** The date part of a date or dateTime, as written. */
function csvDate(v: unknown): string | undefined {
  return str(v)?.slice(0, 10);
}
function money(v: number | undefined): string | undefined {
  return v === undefined ? undefined : v.toFixed(2);
}

/** Synthea's names for the code systems it writes in allergies.SYSTEM. */
function systemName(system: string | undefined): string | undefined {
  if (system === SNOMED) return 'SNOMED-CT';
  if (system === 'http://www.nlm.nih.gov/research/umls/rxnorm') return 'RxNorm';
  if (system === 'http://loinc.org') return 'LOINC';
  return system;
}

/** OMB race codes to Synthea's race values. */
const RACES: Record<string, string> = {
  '2106-3': 'white',
  '2054-5': 'black',
  '2028-9': 'asian',
  '1002-5': 'native',
  '2076-8': 'hawaiian',
};
const ETHNICITIES: Record<string, string> = { '2135-2': 'hispanic', '2186-5': 'nonhispanic' };

/** The ombCategory codes of a US Core race/ethnicity extension; undefined without it. */
function ombCodes(patient: Json, url: string): string[] | undefined {
  const ext = arr(patient['extension'])
    .map(obj)
    .find((e) => e?.['url'] === url);
  if (ext === undefined) return undefined;
  return arr(ext?.['extension'])
    .map(obj)
    .filter((e) => e?.['url'] === 'ombCategory')
    .map((e) => str(obj(e?.['valueCoding'])?.['code']) ?? '');
}

function geolocation(address: Json | undefined): [number | undefined, number | undefined] {
  const geo = arr(address?.['extension'])
    .map(obj)
    .find((e) => e?.['url'] === 'http://hl7.org/fhir/StructureDefinition/geolocation');
  const part = (k: string): number | undefined =>
    num(
      arr(geo?.['extension'])
        .map(obj)
        .find((e) => e?.['url'] === k)?.['valueDecimal'],
    );
  return [part('latitude'), part('longitude')];
}

function phone(r: Json): string | undefined {
  const t = arr(r['telecom'])
    .map(obj)
    .find((x) => x?.['system'] === 'phone');
  return str(t?.['value']);
}

function addressFields(a: Json | undefined): Field[] {
  const [lat, lon] = geolocation(a);
  return [
    arr(a?.['line']).map(String).join(' ') || undefined,
    str(a?.['city']),
    str(a?.['state']),
    str(a?.['postalCode']),
    lat,
    lon,
  ];
}

/** Synthea's ENCOUNTERCLASS from Encounter.class (v3 ActCode) and the wellness visit types. */
const WELLNESS_TYPES = new Set(['410620009', '162673000']);
const CLASSES: Record<string, string> = {
  AMB: 'ambulatory',
  EMER: 'emergency',
  IMP: 'inpatient',
  ACUTE: 'inpatient',
  NONAC: 'inpatient',
  SS: 'outpatient',
  HH: 'home',
  VR: 'virtual',
};
function encounterClass(enc: Json): string | undefined {
  const c = codingOf(enc['class']);
  if (c.code === 'AMB' && WELLNESS_TYPES.has(coding(first(enc['type']), SNOMED).code ?? ''))
    return 'wellness';
  return c.code === undefined ? undefined : (CLASSES[c.code] ?? c.code.toLowerCase());
}

function serialUuid(...parts: string[]): string {
  const h = createHash('sha1').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Totals of a shared organization / practitioner / payer, summed over patients. */
interface OrgTotals {
  utilization: number;
  revenue: number;
}
interface PayerTotals {
  covered: number;
  uncovered: number;
  coveredEncounters: number;
  uncoveredEncounters: number;
  coveredMedications: number;
  uncoveredMedications: number;
  customers: number;
  memberMonths: number;
}

/** The patient's claims, linked to what they bill, with paid amounts from the EOBs. */
interface Billing {
  readonly byEncounter: Map<string, Json>;
  readonly byPrescription: Map<string, Json>;
  readonly eobByClaim: Map<string, Json>;
}

class SyntheaCsvWriter implements FormatWriter {
  readonly format = SYNTHEA_CSV_FORMAT;
  private readonly streams = new Map<SyntheaCsvFile, WriteStream>();
  private readonly pending = new Map<SyntheaCsvFile, string[]>();
  private pendingChars = 0;
  private bytes = 0;
  /** Shared resources by `Type/id` (fixed: sites and parts' shared resources). */
  private readonly sharedById = new Map<string, Json>();
  private readonly orgTotals = new Map<string, OrgTotals>();
  private readonly providerTotals = new Map<string, OrgTotals>();
  /** The organization a practitioner first worked for (from encounters), by practitioner id. */
  private readonly providerOrg = new Map<string, string>();
  private readonly payerTotals = new Map<string, PayerTotals>();

  constructor(private readonly dir: string) {
    for (const f of SYNTHEA_CSV_FILES) this.pending.set(f, [SYNTHEA_CSV_HEADERS[f] + '\n']);
  }

  private row(file: SyntheaCsvFile, fields: readonly Field[]): void {
    const line = fields.map(csvField).join(',') + '\n';
    (this.pending.get(file) as string[]).push(line);
    this.pendingChars += line.length;
  }

  private stream(file: SyntheaCsvFile): WriteStream {
    let s = this.streams.get(file);
    if (s === undefined) {
      s = createWriteStream(join(this.dir, `${file}.csv`));
      this.streams.set(file, s);
    }
    return s;
  }

  /** Hands the buffered lines to the file streams, waiting on backpressure. */
  private async flush(): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const f of SYNTHEA_CSV_FILES) {
      const lines = this.pending.get(f) as string[];
      if (lines.length === 0) continue;
      const text = lines.join('');
      this.pending.set(f, []);
      this.bytes += Buffer.byteLength(text);
      const s = this.stream(f);
      if (!s.write(text)) waits.push(once(s, 'drain'));
    }
    this.pendingChars = 0;
    await Promise.all(waits);
  }

  private payer(id: string): PayerTotals {
    let t = this.payerTotals.get(id);
    if (t === undefined) {
      t = {
        covered: 0,
        uncovered: 0,
        coveredEncounters: 0,
        uncoveredEncounters: 0,
        coveredMedications: 0,
        uncoveredMedications: 0,
        customers: 0,
        memberMonths: 0,
      };
      this.payerTotals.set(id, t);
    }
    return t;
  }

  shared(resources: readonly JsonResource[]): void {
    for (const r of resources) {
      this.sharedById.set(`${r.resourceType}/${r.id}`, r);
      if (r.resourceType === 'Organization')
        this.orgTotals.set(r.id, { utilization: 0, revenue: 0 });
      if (r.resourceType === 'Practitioner')
        this.providerTotals.set(r.id, { utilization: 0, revenue: 0 });
      if (r.resourceType === 'PractitionerRole') {
        const p = refId(r['practitioner']);
        const o = refId(r['organization']);
        if (p !== undefined && o !== undefined && !this.providerOrg.has(p))
          this.providerOrg.set(p, o);
      }
    }
  }

  async patient(out: PatientOutput): Promise<void> {
    const rs = out.resources as readonly Json[];
    const local = new Map<string, Json>();
    for (const r of rs) local.set(`${String(r['resourceType'])}/${String(r['id'])}`, r);
    const resolve = (ref: unknown): Json | undefined => {
      const t = refType(ref);
      const id = refId(ref);
      if (t === undefined || id === undefined) return undefined;
      return local.get(`${t}/${id}`) ?? this.sharedById.get(`${t}/${id}`);
    };
    const billing = this.billing(rs);
    const claimPayer = (claim: Json | undefined): string | undefined => {
      if (claim === undefined) return undefined;
      const coverage = resolve(obj(first(claim['insurance']))?.['coverage']);
      const eob = billing.eobByClaim.get(String(claim['id']));
      return (
        orgId(first(coverage?.['payor'])) ??
        (eob === undefined ? undefined : orgId(eob['insurer'])) ??
        orgId(claim['insurer'])
      );
    };
    const claimTotal = (claim: Json | undefined): number | undefined =>
      claim === undefined ? undefined : claimTotalOf(claim);
    const claimPaid = (claim: Json | undefined): number | undefined => {
      const eob = claim === undefined ? undefined : billing.eobByClaim.get(String(claim['id']));
      return eob === undefined ? undefined : eobPaid(eob);
    };
    /**
     * The claim line billing `r`: the line linked to it through `Claim.procedure` or
     * `Claim.supportingInfo` (procedureSequence / informationSequence), else the line whose
     * `productOrService` has `code`.
     */
    const lineOf = (
      claim: Json | undefined,
      r: Json,
      code: string | undefined,
    ): Json | undefined => {
      if (claim === undefined) return undefined;
      const id = String(r['id']);
      const seqs = (list: string, key: string): number[] =>
        arr(claim[list])
          .map(obj)
          .filter((x) => refId(x?.[key]) === id)
          .map((x) => num(x?.['sequence']))
          .filter((n): n is number => n !== undefined);
      const proc = seqs('procedure', 'procedureReference');
      const info = seqs('supportingInfo', 'valueReference');
      const items = arr(claim['item']).map(obj);
      const linked = (i: Json | undefined, key: string, to: number[]): boolean =>
        to.length > 0 && arr(i?.[key]).some((n) => to.includes(num(n) ?? NaN));
      return (
        items.find((i) => linked(i, 'procedureSequence', proc)) ??
        items.find((i) => linked(i, 'informationSequence', info)) ??
        (code === undefined
          ? undefined
          : items.find((i) =>
              arr(obj(i?.['productOrService'])?.['coding']).some((c) => obj(c)?.['code'] === code),
            ))
      );
    };
    const lineCost = (
      claim: Json | undefined,
      r: Json,
      code: string | undefined,
    ): number | undefined => itemNet(lineOf(claim, r, code));
    /** What the payer paid for a claim line: the `benefit` adjudication of the EOB's same line. */
    const linePaid = (claim: Json | undefined, line: Json | undefined): number | undefined => {
      const eob = claim === undefined ? undefined : billing.eobByClaim.get(String(claim['id']));
      if (eob === undefined || line === undefined) return undefined;
      const same = arr(eob['item'])
        .map(obj)
        .find((i) => i?.['sequence'] === line['sequence']);
      const benefit = arr(same?.['adjudication'])
        .map(obj)
        .find((a) => coding(a?.['category']).code === 'benefit');
      return num(obj(benefit?.['amount'])?.['value']);
    };
    const reason = (r: Json): Code => {
      const rc = first(r['reasonCode']);
      if (rc !== undefined) return coding(rc, SNOMED);
      const cond = resolve(first(r['reasonReference']));
      return cond === undefined ? {} : coding(cond['code'], SNOMED);
    };

    let patientId: string | undefined;
    let patientName: string | undefined;
    const patientPayers = new Set<string>();
    for (const r of rs) {
      const type = r['resourceType'];
      const pid = (ref: unknown): string | undefined => refId(ref) ?? patientId;
      switch (type) {
        case 'Patient':
          patientId = String(r['id']);
          patientName = this.patientRow(r, rs, billing);
          break;
        case 'Encounter': {
          const claim = billing.byEncounter.get(String(r['id']));
          const org = refId(r['serviceProvider']);
          const provider = arr(r['participant'])
            .map((p) => obj(p)?.['individual'])
            .find((i) => refType(i) === 'Practitioner');
          const providerId = refId(provider);
          const total = claimTotal(claim) ?? 0;
          const orgT = org === undefined ? undefined : this.orgTotals.get(org);
          if (orgT !== undefined) {
            orgT.utilization++;
            orgT.revenue += total;
          }
          const provT = providerId === undefined ? undefined : this.providerTotals.get(providerId);
          if (provT !== undefined) {
            provT.utilization++;
            if (org !== undefined && providerId !== undefined && !this.providerOrg.has(providerId))
              this.providerOrg.set(providerId, org);
          }
          const type0 = coding(first(r['type']), SNOMED);
          const why = reason(r);
          const period = obj(r['period']);
          this.row('encounters', [
            str(r['id']),
            csvDateTime(period?.['start']),
            csvDateTime(period?.['end']),
            pid(r['subject']),
            org,
            providerId,
            claimPayer(claim),
            encounterClass(r),
            type0.code,
            type0.display,
            money(lineCost(claim, r, type0.code)),
            money(claimTotal(claim)),
            money(claimPaid(claim)),
            why.code,
            why.display,
          ]);
          break;
        }
        case 'Condition': {
          const c = coding(r['code'], SNOMED);
          this.row('conditions', [
            csvDate(r['onsetDateTime'] ?? obj(r['onsetPeriod'])?.['start'] ?? r['recordedDate']),
            csvDate(r['abatementDateTime'] ?? obj(r['abatementPeriod'])?.['end']),
            pid(r['subject']),
            refId(r['encounter']),
            c.code,
            c.display,
          ]);
          break;
        }
        case 'Observation':
          this.observationRows(r, pid(r['subject']));
          break;
        case 'MedicationRequest': {
          const med = r['medicationCodeableConcept'] ?? resolve(r['medicationReference'])?.['code'];
          const c = coding(med, 'http://www.nlm.nih.gov/research/umls/rxnorm');
          // A pharmacy claim for the prescription (Synthea), else its line on the encounter's claim.
          const rxClaim = billing.byPrescription.get(String(r['id']));
          const encId = refId(r['encounter']);
          const claim =
            rxClaim ?? (encId === undefined ? undefined : billing.byEncounter.get(encId));
          const line = rxClaim === undefined ? lineOf(claim, r, c.code) : undefined;
          const why = reason(r);
          const repeats = num(obj(r['dispenseRequest'])?.['numberOfRepeatsAllowed']);
          const dispenses = repeats === undefined ? undefined : repeats + 1;
          const total = rxClaim !== undefined ? claimTotal(rxClaim) : itemNet(line);
          const base =
            total !== undefined && dispenses !== undefined && dispenses > 0
              ? total / dispenses
              : rxClaim !== undefined
                ? lineCost(rxClaim, r, c.code)
                : itemNet(line);
          this.row('medications', [
            csvDateTime(r['authoredOn']),
            medicationStop(r),
            pid(r['subject']),
            rxClaim !== undefined || line !== undefined ? claimPayer(claim) : undefined,
            encId,
            c.code,
            c.display,
            money(base),
            money(rxClaim !== undefined ? claimPaid(rxClaim) : linePaid(claim, line)),
            dispenses,
            money(total),
            why.code,
            why.display,
          ]);
          break;
        }
        case 'Procedure': {
          const c = coding(r['code'], SNOMED);
          const period = obj(r['performedPeriod']);
          const why = reason(r);
          const encId = refId(r['encounter']);
          this.row('procedures', [
            csvDateTime(period?.['start'] ?? r['performedDateTime']),
            csvDateTime(period?.['end']),
            pid(r['subject']),
            encId,
            c.code,
            c.display,
            money(
              lineCost(encId === undefined ? undefined : billing.byEncounter.get(encId), r, c.code),
            ),
            why.code,
            why.display,
          ]);
          break;
        }
        case 'Immunization': {
          const c = coding(r['vaccineCode']);
          const encId = refId(r['encounter']);
          this.row('immunizations', [
            csvDateTime(r['occurrenceDateTime']),
            pid(r['patient']),
            encId,
            c.code,
            c.display,
            money(
              lineCost(encId === undefined ? undefined : billing.byEncounter.get(encId), r, c.code),
            ),
          ]);
          break;
        }
        case 'AllergyIntolerance': {
          const c = coding(r['code']);
          const status = coding(r['clinicalStatus']).code;
          const reactions = arr(r['reaction']).map(obj);
          const reactionFields = (i: number): Field[] => {
            const re = reactions[i];
            if (re === undefined) return [undefined, undefined, undefined];
            const m = coding(first(re['manifestation']), SNOMED);
            return [m.code, m.display, str(re['severity'])?.toUpperCase()];
          };
          this.row('allergies', [
            csvDate(r['onsetDateTime'] ?? r['recordedDate']),
            status === 'inactive' || status === 'resolved'
              ? csvDate(r['lastOccurrence'])
              : undefined,
            pid(r['patient']),
            refId(r['encounter']),
            c.code,
            systemName(c.system),
            c.display,
            str(r['type']),
            str(arr(r['category'])[0]),
            ...reactionFields(0),
            ...reactionFields(1),
          ]);
          break;
        }
        case 'CarePlan': {
          // Synthea puts the care plan's own SNOMED code among the categories.
          const cat = arr(r['category']).find((cc) =>
            arr(obj(cc)?.['coding']).some((x) => obj(x)?.['system'] === SNOMED),
          );
          const c = coding(cat, SNOMED);
          const cond = resolve(first(r['addresses']));
          const why = cond === undefined ? {} : coding(cond['code'], SNOMED);
          const period = obj(r['period']);
          this.row('careplans', [
            str(r['id']),
            csvDate(period?.['start']),
            csvDate(period?.['end']),
            pid(r['subject']),
            refId(r['encounter']),
            c.code,
            c.display,
            why.code,
            why.display,
          ]);
          break;
        }
        case 'Device': {
          // Start and encounter of the procedure that placed the device, when there is one.
          const placed = rs.find(
            (p) =>
              p['resourceType'] === 'Procedure' &&
              arr(p['focalDevice']).some(
                (fd) => refId(obj(fd)?.['manipulated']) === String(r['id']),
              ),
          );
          const c = coding(r['type'], SNOMED);
          this.row('devices', [
            placed === undefined
              ? undefined
              : csvDateTime(
                  obj(placed['performedPeriod'])?.['start'] ?? placed['performedDateTime'],
                ),
            undefined,
            pid(r['patient']),
            placed === undefined ? undefined : refId(placed['encounter']),
            c.code,
            c.display,
            str(first(r['udiCarrier'])?.['carrierHRF']),
          ]);
          break;
        }
        case 'ImagingStudy': {
          const procedure = coding(first(r['procedureCode']), SNOMED).code;
          for (const s of arr(r['series']).map(obj)) {
            const body = codingOf(s?.['bodySite']);
            const modality = codingOf(s?.['modality']);
            for (const inst of arr(s?.['instance']).map(obj)) {
              const sop = codingOf(inst?.['sopClass']);
              this.row('imaging_studies', [
                str(r['id']),
                csvDateTime(r['started']),
                pid(r['subject']),
                refId(r['encounter']),
                str(s?.['uid']),
                body.code,
                body.display,
                modality.code,
                modality.display,
                str(inst?.['uid']),
                sop.code?.replace(/^urn:oid:/, ''),
                sop.display,
                procedure,
              ]);
            }
          }
          break;
        }
        case 'SupplyDelivery': {
          const item = obj(r['suppliedItem']);
          const c = coding(item?.['itemCodeableConcept'], SNOMED);
          this.row('supplies', [
            csvDate(r['occurrenceDateTime'] ?? obj(r['occurrencePeriod'])?.['start']),
            pid(r['patient']),
            undefined,
            c.code,
            c.display,
            num(obj(item?.['quantity'])?.['value']),
          ]);
          break;
        }
        case 'Claim':
          this.claimRows(r, pid(r['patient']), billing, resolve, claimPayer(r));
          break;
        case 'Coverage': {
          const payer = orgId(first(r['payor']));
          const period = obj(r['period']);
          if (payer !== undefined) {
            const t = this.payer(payer);
            if (!patientPayers.has(payer)) {
              patientPayers.add(payer);
              t.customers++;
            }
            t.memberMonths += months(period?.['start'], period?.['end']);
          }
          const rel = coding(r['relationship']).code;
          this.row('payer_transitions', [
            pid(r['beneficiary']),
            str(r['subscriberId']) ?? str(first(r['identifier'])?.['value']),
            csvDateTime(period?.['start']),
            csvDateTime(period?.['end']),
            payer,
            undefined,
            rel === undefined ? undefined : (OWNERSHIP[rel] ?? rel),
            str(obj(r['subscriber'])?.['display']) ?? (rel === 'self' ? patientName : undefined),
          ]);
          break;
        }
        default:
          break;
      }
    }
    // Payer totals from the claims (each claim counted once, by what it bills).
    for (const claim of rs.filter((r) => r['resourceType'] === 'Claim')) {
      const payer = claimPayer(claim);
      const paid = claimPaid(claim);
      if (payer === undefined || paid === undefined) continue;
      const t = this.payer(payer);
      const total = claimTotal(claim) ?? 0;
      t.covered += paid;
      t.uncovered += Math.max(0, total - paid);
      const medication = claim['prescription'] !== undefined;
      if (medication) {
        if (paid > 0) t.coveredMedications++;
        else t.uncoveredMedications++;
      } else if (paid > 0) t.coveredEncounters++;
      else t.uncoveredEncounters++;
    }
    if (this.pendingChars >= FLUSH_CHARS) await this.flush();
  }

  /** Links each Claim to the encounter or prescription it bills, and each EOB to its Claim. */
  private billing(rs: readonly Json[]): Billing {
    const b: Billing = { byEncounter: new Map(), byPrescription: new Map(), eobByClaim: new Map() };
    for (const r of rs) {
      if (r['resourceType'] === 'Claim') {
        const rx = refId(r['prescription']);
        if (rx !== undefined) {
          b.byPrescription.set(rx, r);
          continue;
        }
        for (const it of arr(r['item']).map(obj))
          for (const e of arr(it?.['encounter'])) {
            const id = refId(e);
            if (id !== undefined && !b.byEncounter.has(id)) b.byEncounter.set(id, r);
          }
      } else if (r['resourceType'] === 'ExplanationOfBenefit') {
        const c = refId(r['claim']);
        if (c !== undefined) b.eobByClaim.set(c, r);
      }
    }
    return b;
  }

  /** Writes the patient row; returns "Given Family" for payer_transitions.OWNERNAME. */
  private patientRow(p: Json, rs: readonly Json[], billing: Billing): string {
    const names = arr(p['name']).map(obj);
    const name = names.find((n) => n?.['use'] === 'official') ?? names[0];
    const maiden = names.find((n) => n?.['use'] === 'maiden');
    const identifier = (test: (i: Json) => boolean): string | undefined =>
      str(
        arr(p['identifier'])
          .map(obj)
          .find((i) => i !== undefined && test(i))?.['value'],
      );
    const byType = (code: string) => (i: Json) => coding(i['type']).code === code;
    const race = ombCodes(p, 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race');
    const eth = ombCodes(p, 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity');
    const birthPlace = obj(
      arr(p['extension'])
        .map(obj)
        .find((e) => e?.['url'] === 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace')?.[
        'valueAddress'
      ],
    );
    const address = first(p['address']);
    const [lat, lon] = geolocation(address);
    // Lifetime costs: what payers paid, and the rest of the billed totals.
    let coverage = 0;
    let expenses = 0;
    let billed = false;
    for (const claim of rs.filter((r) => r['resourceType'] === 'Claim')) {
      const eob = billing.eobByClaim.get(String(claim['id']));
      const total = claimTotalOf(claim);
      const paid = eob === undefined ? 0 : eobPaid(eob);
      billed = true;
      coverage += paid;
      expenses += Math.max(0, total - paid);
    }
    const given = str(arr(name?.['given'])[0]);
    const family = str(name?.['family']);
    const gender = str(p['gender']);
    this.row('patients', [
      str(p['id']),
      str(p['birthDate']),
      csvDate(p['deceasedDateTime']),
      identifier((i) => i['system'] === 'http://hl7.org/fhir/sid/us-ssn'),
      identifier(byType('DL')),
      identifier(byType('PPN')),
      str(arr(name?.['prefix'])[0]),
      given,
      family,
      str(arr(name?.['suffix'])[0]),
      str(maiden?.['family']),
      coding(p['maritalStatus']).code,
      race === undefined
        ? undefined
        : race.length === 1
          ? (RACES[race[0] as string] ?? 'other')
          : 'other',
      eth === undefined || eth.length === 0 ? undefined : ETHNICITIES[eth[0] as string],
      gender === 'male' ? 'M' : gender === 'female' ? 'F' : gender,
      birthPlace === undefined
        ? undefined
        : [birthPlace['city'], birthPlace['state'], birthPlace['country']]
            .filter((x) => typeof x === 'string')
            .join(', '),
      arr(address?.['line']).map(String).join(' ') || undefined,
      str(address?.['city']),
      str(address?.['state']),
      str(address?.['district']),
      str(address?.['postalCode']),
      lat,
      lon,
      billed ? money(expenses) : undefined,
      billed ? money(coverage) : undefined,
    ]);
    return [given, family].filter((x) => x !== undefined).join(' ');
  }

  /** One row per Observation value: components each get their own row (BP: 8480-6, 8462-4). */
  private observationRows(r: Json, patient: string | undefined): void {
    const cat = coding(first(r['category'])).code;
    const when = csvDateTime(
      r['effectiveDateTime'] ?? obj(r['effectivePeriod'])?.['start'] ?? r['issued'],
    );
    const encounter = refId(r['encounter']);
    const emit = (code: unknown, holder: Json): void => {
      const v = observationValue(holder);
      if (v === undefined) return;
      const c = coding(code, 'http://loinc.org');
      this.row('observations', [when, patient, encounter, cat, c.code, c.display, ...v]);
    };
    emit(r['code'], r);
    for (const comp of arr(r['component']).map(obj))
      if (comp !== undefined) emit(comp['code'], comp);
  }

  private claimRows(
    claim: Json,
    patient: string | undefined,
    billing: Billing,
    resolve: (ref: unknown) => Json | undefined,
    payer: string | undefined,
  ): void {
    const id = String(claim['id']);
    const items = arr(claim['item']).map(obj);
    // A pharmacy claim bills a prescription: its encounter and prescriber stand in.
    const rx = resolve(claim['prescription']);
    const encounterId =
      items.map((i) => refId(first(i?.['encounter']))).find((e) => e !== undefined) ??
      refId(rx?.['encounter']);
    const encounter =
      encounterId === undefined ? undefined : resolve({ reference: `Encounter/${encounterId}` });
    const practitioner =
      [obj(first(claim['careTeam']))?.['provider'], claim['provider'], rx?.['requester']].find(
        (ref) => refType(ref) === 'Practitioner',
      ) ??
      arr(encounter?.['participant'])
        .map((p) => obj(p)?.['individual'])
        .find((i) => refType(i) === 'Practitioner');
    const provider = refId(practitioner);
    const diagnoses = arr(claim['diagnosis'])
      .map(obj)
      .sort((a, b) => (num(a?.['sequence']) ?? 0) - (num(b?.['sequence']) ?? 0))
      .map((d) => {
        const cc = d?.['diagnosisCodeableConcept'] ?? resolve(d?.['diagnosisReference'])?.['code'];
        return coding(cc, SNOMED).code;
      });
    const period = obj(claim['billablePeriod']);
    const start = csvDateTime(period?.['start'] ?? claim['created']);
    const end = csvDateTime(period?.['end'] ?? period?.['start'] ?? claim['created']);
    const eob = billing.eobByClaim.get(id);
    const closed = eob !== undefined && eob['outcome'] === 'complete' ? 'CLOSED' : undefined;
    const claimType = coding(claim['type']).code;
    this.row('claims', [
      id,
      patient,
      provider,
      payer,
      undefined,
      undefined,
      undefined,
      ...Array.from({ length: 8 }, (_, i) => diagnoses[i]),
      undefined,
      encounterId,
      start,
      start,
      provider,
      closed,
      undefined,
      closed,
      undefined,
      undefined,
      undefined,
      end,
      undefined,
      end,
      claimType === 'professional' ? 1 : claimType === 'institutional' ? 2 : undefined,
      undefined,
    ]);
    const place =
      refId(claim['facility']) ?? refId(encounter?.['serviceProvider']) ?? refId(claim['provider']);
    const tx = (
      chargeId: Field,
      type: string,
      amount: number | undefined,
      item: Json | undefined,
      payments: number | undefined,
    ): Field[] => {
      const c = coding(item?.['productOrService']);
      const diag = arr(item?.['diagnosisSequence']).map((x) => num(x));
      const sp = obj(item?.['servicedPeriod']);
      return [
        serialUuid(id, type, String(chargeId ?? '')),
        id,
        chargeId,
        patient,
        type,
        money(amount),
        undefined,
        csvDateTime(sp?.['start'] ?? item?.['servicedDate']) ?? start,
        csvDateTime(sp?.['end'] ?? item?.['servicedDate']) ?? end,
        place,
        c.code,
        undefined,
        undefined,
        diag[0],
        diag[1],
        diag[2],
        diag[3],
        item === undefined ? undefined : (num(obj(item['quantity'])?.['value']) ?? 1),
        undefined,
        c.display,
        money(num(obj(item?.['unitPrice'])?.['value'])),
        undefined,
        undefined,
        money(payments),
        undefined,
        undefined,
        undefined,
        encounterId,
        undefined,
        payer,
        undefined,
        provider,
        provider,
      ];
    };
    for (const it of items)
      if (it !== undefined)
        this.row(
          'claims_transactions',
          tx(num(it['sequence']), 'CHARGE', itemNet(it), it, undefined),
        );
    if (eob !== undefined) {
      const paid = eobPaid(eob);
      this.row('claims_transactions', tx(undefined, 'PAYMENT', undefined, undefined, paid));
    }
  }

  /** Organizations, providers and payers with their totals, then closes every file. */
  async close(): Promise<{ files: string[]; bytes: number }> {
    const payers = new Set<string>(this.payerTotals.keys());
    for (const [key, r] of this.sharedById)
      if (key.startsWith('Organization/') && arr(r['type']).some((t) => coding(t).code === 'pay'))
        payers.add(String(r['id']));
    for (const [key, r] of this.sharedById) {
      const id = String(r['id']);
      if (key.startsWith('Organization/') && !payers.has(id)) {
        const t = this.orgTotals.get(id);
        const [line, city, state, zip, lat, lon] = addressFields(first(r['address']));
        this.row('organizations', [
          id,
          str(r['name']),
          line,
          city,
          state,
          zip,
          lat,
          lon,
          phone(r),
          money(t?.revenue ?? 0),
          t?.utilization ?? 0,
        ]);
      } else if (key.startsWith('Practitioner/')) {
        const name = first(r['name']);
        const org = this.providerOrg.get(id);
        const orgRes = org === undefined ? undefined : this.sharedById.get(`Organization/${org}`);
        const role = [...this.sharedById.values()].find(
          (x) => x['resourceType'] === 'PractitionerRole' && refId(x['practitioner']) === id,
        );
        const gender = str(r['gender']);
        this.row('providers', [
          id,
          org,
          [str(arr(name?.['given'])[0]), str(name?.['family'])]
            .filter((x) => x !== undefined)
            .join(' '),
          gender === 'male' ? 'M' : gender === 'female' ? 'F' : gender,
          coding(first(role?.['specialty'])).display?.toUpperCase(),
          ...addressFields(first(r['address']) ?? first(orgRes?.['address'])),
          this.providerTotals.get(id)?.utilization ?? 0,
        ]);
      }
    }
    for (const id of [...payers].sort()) {
      const r = this.sharedById.get(`Organization/${id}`);
      const t = this.payer(id);
      const a = first(r?.['address']);
      this.row('payers', [
        id,
        str(r?.['name']),
        arr(a?.['line']).map(String).join(' ') || undefined,
        str(a?.['city']),
        str(a?.['state']),
        str(a?.['postalCode']),
        r === undefined ? undefined : phone(r),
        money(t.covered),
        money(t.uncovered),
        undefined,
        t.coveredEncounters,
        t.uncoveredEncounters,
        t.coveredMedications,
        t.uncoveredMedications,
        undefined,
        undefined,
        undefined,
        undefined,
        t.customers,
        undefined,
        t.memberMonths,
      ]);
    }
    await this.flush();
    for (const s of this.streams.values()) s.end();
    await Promise.all([...this.streams.values()].map((s) => finished(s)));
    const sub = basename(this.dir);
    return { files: SYNTHEA_CSV_FILES.map((f) => `${sub}/${f}.csv`), bytes: this.bytes };
  }

  destroy(): void {
    for (const s of this.streams.values()) s.destroy();
  }
}

const OWNERSHIP: Record<string, string> = { self: 'Self', spouse: 'Spouse', child: 'Guardian' };

function itemNet(it: Json | undefined): number | undefined {
  const net = num(obj(it?.['net'])?.['value']);
  if (net !== undefined) return net;
  const unit = num(obj(it?.['unitPrice'])?.['value']);
  return unit === undefined ? undefined : unit * (num(obj(it?.['quantity'])?.['value']) ?? 1);
}

/** `Claim.total`, else the sum of its lines. */
function claimTotalOf(claim: Json): number {
  const t = num(obj(claim['total'])?.['value']);
  if (t !== undefined) return t;
  let sum = 0;
  for (const it of arr(claim['item']).map(obj)) sum += itemNet(it) ?? 0;
  return sum;
}

/** What the payer paid: EOB.payment.amount, else the `benefit` total. */
function eobPaid(eob: Json): number {
  const p = num(obj(obj(eob['payment'])?.['amount'])?.['value']);
  if (p !== undefined) return p;
  const benefit = arr(eob['total'])
    .map(obj)
    .find((t) => coding(t?.['category']).code === 'benefit');
  return num(obj(benefit?.['amount'])?.['value']) ?? 0;
}

/** VALUE, UNITS, TYPE of an Observation (or component) value; undefined without a value. */
function observationValue(h: Json): [Field, Field, string] | undefined {
  const q = obj(h['valueQuantity']);
  if (q !== undefined) return [num(q['value']), str(q['code']) ?? str(q['unit']), 'numeric'];
  const cc = h['valueCodeableConcept'];
  if (cc !== undefined) return [coding(cc).display ?? coding(cc).code, undefined, 'text'];
  for (const k of ['valueString', 'valueDateTime', 'valueTime'])
    if (typeof h[k] === 'string') return [h[k] as string, undefined, 'text'];
  if (typeof h['valueBoolean'] === 'boolean') return [String(h['valueBoolean']), undefined, 'text'];
  if (typeof h['valueInteger'] === 'number')
    return [h['valueInteger'] as number, undefined, 'numeric'];
  return undefined;
}

/** When a prescription ended: an explicit end, else start + course length if it is over. */
function medicationStop(r: Json): string | undefined {
  const dosage = first(r['dosageInstruction']);
  const repeat = obj(obj(dosage?.['timing'])?.['repeat']);
  const explicit =
    obj(repeat?.['boundsPeriod'])?.['end'] ??
    obj(obj(r['dispenseRequest'])?.['validityPeriod'])?.['end'];
  if (explicit !== undefined) return csvDateTime(explicit);
  if (r['status'] === 'active') return undefined;
  const d = obj(repeat?.['boundsDuration']);
  const start = str(r['authoredOn']);
  const days = { d: 1, wk: 7, mo: 30, a: 365 }[str(d?.['code']) ?? ''];
  const n = num(d?.['value']);
  if (start === undefined || days === undefined || n === undefined) return undefined;
  const t = Date.parse(start.length === 10 ? `${start}T00:00:00Z` : start);
  return Number.isNaN(t)
    ? undefined
    : csvDateTime(new Date(t + n * days * 86_400_000).toISOString());
}

/** Whole months between two dates (for payers.MEMBER_MONTHS); 0 when either is missing. */
function months(start: unknown, end: unknown): number {
  const a = Date.parse(str(start) ?? '');
  const b = Date.parse(str(end) ?? '');
  if (Number.isNaN(a) || Number.isNaN(b) || b < a) return 0;
  return Math.round((b - a) / (30.4375 * 86_400_000));
}

export const syntheaCsvWriter: FormatWriterFactory = (dir) => new SyntheaCsvWriter(dir);
