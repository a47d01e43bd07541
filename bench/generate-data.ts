/**
 * Fast, deterministic FHIR R4 NDJSON generator for benchmarks and the demo.
 *
 * Writes a Bulk Data style export (one NDJSON file per resource type plus a bulk export
 * `manifest.json`) shaped like Synthea / US Core output. Same seed and arguments give
 * byte-identical files: everything is derived from a seeded sfc32 PRNG and a fixed
 * "now" (2025-01-01T00:00:00Z); there is no Math.random and no Date.now.
 *
 * Speed: every line is built with template literals from pre-serialised JSON fragments
 * (JSON.stringify runs only once, at module load, for the static code tables). Decimal
 * values are written as text with their written precision (`7.20`, `120.0`), which
 * JSON.stringify could not do anyway. Lines are copied (latin1; all output is ASCII) into a
 * per-type 1 MiB Buffer that is handed to the stream when full, awaiting 'drain' on
 * backpressure, so memory stays flat for any size. Copying into Buffers instead of
 * concatenating strings roughly doubled throughput (less GC, no rope flattening).
 *
 * Usage: npx tsx bench/generate-data.ts --resources 100000 --out DIR [--seed 1] [--gzip]
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';
import { civilFromDays, daysFromCivil } from '../src/synth/dates.js';

// ---------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------

export interface GenerateBenchOptions {
  /** Output directory (created if missing). Existing files of the same names are replaced. */
  outDir: string;
  /** Approximate total number of resources; patients = round(resources / 50), at least 1. */
  resources: number;
  /** PRNG seed (a safe integer). Default 1. */
  seed?: number;
  /** Write `.ndjson.gz` instead of `.ndjson`. Default false. */
  gzip?: boolean;
}

export interface GenerateBenchResult {
  /** Absolute paths of the NDJSON data files written (manifest.json not included). */
  files: string[];
  /** Resources written per resource type (all six types are present as keys). */
  counts: Record<string, number>;
  /** Total bytes of the data files on disk (compressed size when gzip is on). */
  bytes: number;
}

export const BENCH_RESOURCE_TYPES = [
  'Patient',
  'Encounter',
  'Condition',
  'Observation',
  'MedicationRequest',
  'Claim',
] as const;

export type BenchResourceType = (typeof BENCH_RESOURCE_TYPES)[number];

/** The fixed clock all generated data is relative to; it is also the manifest's transactionTime. */
export const BENCH_TRANSACTION_TIME = '2025-01-01T00:00:00.000Z';

const NOW = Date.UTC(2025, 0, 1) / 1000; // seconds since epoch; constant, not the wall clock
const DAY = 86400;
const YEAR = 31556952; // mean Gregorian year in seconds
const CHUNK_BYTES = 1 << 20; // hand a type's buffer to its stream at ~1 MiB
const CHUNK_SLACK = 1 << 18; // room for one patient's lines past CHUNK_BYTES
const STREAM_HWM = 1 << 23; // let ~8 MiB queue per stream before we wait for 'drain'

/** Per-patient means: 1 Patient, 8 Encounters, 4 Conditions, 25 Observations, 6 MedicationRequests, 6 Claims. */
const RESOURCES_PER_PATIENT = 50;

// ---------------------------------------------------------------------------------------
// PRNG: sfc32 (small fast counting generator), 128-bit state, seeded from the seed number
// ---------------------------------------------------------------------------------------

class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.a = 0x9e3779b9 ^ lo;
    this.b = 0x243f6a88 ^ hi;
    this.c = 0xb7e15162;
    this.d = 1;
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    this.c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  range(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(arr: readonly T[]): T {
    return arr[Math.floor(this.float() * arr.length)] as T;
  }

  /** Approximately standard normal (sum of three uniforms, rescaled; bounded to ±3). */
  normal(): number {
    return (this.float() + this.float() + this.float() - 1.5) * 2;
  }
}

class Weighted<T> {
  private readonly cum: number[] = [];
  private readonly total: number;
  constructor(
    readonly items: readonly T[],
    weight: (t: T) => number,
  ) {
    let s = 0;
    for (const it of items) {
      s += weight(it);
      this.cum.push(s);
    }
    this.total = s;
  }
  pick(rng: Rng): T {
    const x = rng.float() * this.total;
    const cum = this.cum;
    let i = 0;
    while (i < cum.length - 1 && (cum[i] as number) <= x) i++;
    return this.items[i] as T;
  }
}

// ---------------------------------------------------------------------------------------
// Fast formatting helpers
// ---------------------------------------------------------------------------------------

const P2: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i);
const P3: string[] = Array.from(
  { length: 1000 },
  (_, i) => (i < 10 ? '00' : i < 100 ? '0' : '') + i,
);
const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i < 16 ? '0' : '') + i.toString(16));

function hex8(x: number): string {
  return (
    (HEX[x >>> 24] as string) +
    (HEX[(x >>> 16) & 255] as string) +
    (HEX[(x >>> 8) & 255] as string) +
    (HEX[x & 255] as string)
  );
}
function hex4(x: number): string {
  return (HEX[(x >>> 8) & 255] as string) + (HEX[x & 255] as string);
}

/** RFC 4122 version-4 shaped id from the PRNG (deterministic). */
function uuid(rng: Rng): string {
  const a = rng.u32();
  const b = rng.u32();
  const c = rng.u32();
  const d = rng.u32();
  return `${hex8(a)}-${hex4(b >>> 16)}-${hex4((b & 0x0fff) | 0x4000)}-${hex4(((c >>> 16) & 0x3fff) | 0x8000)}-${hex4(c)}${hex8(d)}`;
}

/** 0 = Sunday. */
function dayOfWeek(days: number): number {
  return ((((days % 7) + 7) % 7) + 4) % 7;
}

function fmtDate(days: number): string {
  const c = civilFromDays(days);
  const y = Math.floor(c / 10000);
  return `${y}-${P2[Math.floor(c / 100) % 100]}-${P2[c % 100]}`;
}

/** Seconds (already shifted to local time) → `YYYY-MM-DDThh:mm:ss`. */
function fmtBase(sec: number): string {
  const days = Math.floor(sec / DAY);
  const s = sec - days * DAY;
  const hh = Math.floor(s / 3600);
  const mm = Math.floor(s / 60) % 60;
  return `${fmtDate(days)}T${P2[hh]}:${P2[mm]}:${P2[s % 60]}`;
}

function fmtInstantUtc(sec: number, ms: number): string {
  return `${fmtBase(sec)}.${P3[ms]}Z`;
}

/** Integer scaled by 10^dec → decimal text with exactly `dec` fraction digits (7.20, 120.0). */
function fmtScaled(n: number, dec: number): string {
  if (dec === 0) return String(n);
  if (dec === 1) return `${Math.floor(n / 10)}.${n % 10}`;
  if (dec === 2) return `${Math.floor(n / 100)}.${P2[n % 100]}`;
  return `${Math.floor(n / 1000)}.${P3[n % 1000]}`;
}

const POW10 = [1, 10, 100, 1000];
function fmtDec(v: number, dec: number): string {
  return fmtScaled(Math.round(v * (POW10[dec] as number)), dec);
}

// --- US time zones with DST (2007+ and 1987–2006 rules; none before 1987) ---

interface Tz {
  std: number; // minutes east of UTC
  dst: boolean;
}

const DST_FIRST_YEAR = 1987;
const DST_LAST_YEAR = 2100;
/** [start, end) of DST per year, in *local standard* seconds. */
const DST_START: number[] = [];
const DST_END: number[] = [];
for (let y = DST_FIRST_YEAR; y <= DST_LAST_YEAR; y++) {
  let start: number;
  let end: number;
  if (y >= 2007) {
    const mar1 = daysFromCivil(y, 3, 1);
    start = mar1 + ((7 - dayOfWeek(mar1)) % 7) + 7; // second Sunday of March
    const nov1 = daysFromCivil(y, 11, 1);
    end = nov1 + ((7 - dayOfWeek(nov1)) % 7); // first Sunday of November
  } else {
    const apr1 = daysFromCivil(y, 4, 1);
    start = apr1 + ((7 - dayOfWeek(apr1)) % 7); // first Sunday of April
    const oct31 = daysFromCivil(y, 10, 31);
    end = oct31 - dayOfWeek(oct31); // last Sunday of October
  }
  DST_START.push(start * DAY + 2 * 3600); // 02:00 standard
  DST_END.push(end * DAY + 1 * 3600); // 02:00 daylight = 01:00 standard
}

const OFFSET_STR = new Map<number, string>();
function offsetString(min: number): string {
  let s = OFFSET_STR.get(min);
  if (s === undefined) {
    const a = Math.abs(min);
    s = `${min < 0 ? '-' : '+'}${P2[Math.floor(a / 60)]}:${P2[a % 60]}`;
    OFFSET_STR.set(min, s);
  }
  return s;
}

function offsetMinutes(tz: Tz, utc: number): number {
  if (!tz.dst) return tz.std;
  const localStd = utc + tz.std * 60;
  // An approximate year is enough: DST boundaries are months away from New Year.
  const yi = Math.floor(localStd / YEAR) + 1970 - DST_FIRST_YEAR;
  if (yi < 0 || yi >= DST_START.length) return tz.std;
  return localStd >= (DST_START[yi] as number) && localStd < (DST_END[yi] as number)
    ? tz.std + 60
    : tz.std;
}

// ---------------------------------------------------------------------------------------
// Static vocabularies (serialised once)
// ---------------------------------------------------------------------------------------

const SCT = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const UCUM = 'http://unitsofmeasure.org';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
const SYNTHEA = 'https://github.com/synthetichealth/synthea';

const j = (v: unknown): string => JSON.stringify(v);
function cc(system: string, code: string, display: string, text: string = display): string {
  return j({ coding: [{ system, code, display }], text });
}
function coding(system: string, code: string, display: string): string {
  return j({ system, code, display });
}

// prettier-ignore
const MALE_GIVEN = [
  'James', 'John', 'Robert', 'Michael', 'William', 'David', 'Richard', 'Joseph', 'Thomas',
  'Charles', 'Christopher', 'Daniel', 'Matthew', 'Anthony', 'Mark', 'Donald', 'Steven', 'Paul',
  'Andrew', 'Joshua', 'Kenneth', 'Kevin', 'Brian', 'George', 'Timothy', 'Ronald', 'Edward',
  'Jason', 'Jeffrey', 'Ryan', 'Jacob', 'Gary', 'Nicholas', 'Eric', 'Jonathan', 'Stephen',
  'Larry', 'Justin', 'Scott', 'Brandon', 'Benjamin', 'Samuel', 'Gregory', 'Alexander', 'Frank',
  'Patrick', 'Raymond', 'Jack', 'Dennis', 'Jerry', 'Carlos', 'Luis', 'Jose', 'Juan', 'Miguel',
  'Wei', 'Hiroshi', 'Ahmed', 'Omar', 'Raj',
];
// prettier-ignore
const FEMALE_GIVEN = [
  'Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah',
  'Karen', 'Lisa', 'Nancy', 'Betty', 'Margaret', 'Sandra', 'Ashley', 'Kimberly', 'Emily',
  'Donna', 'Michelle', 'Carol', 'Amanda', 'Dorothy', 'Melissa', 'Deborah', 'Stephanie',
  'Rebecca', 'Sharon', 'Laura', 'Cynthia', 'Kathleen', 'Amy', 'Angela', 'Shirley', 'Anna',
  'Brenda', 'Pamela', 'Emma', 'Nicole', 'Helen', 'Samantha', 'Katherine', 'Christine', 'Debra',
  'Rachel', 'Carolyn', 'Janet', 'Catherine', 'Maria', 'Heather', 'Sofia', 'Isabella', 'Camila',
  'Lucia', 'Mei', 'Yuki', 'Fatima', 'Aisha', 'Priya', 'Olivia',
];
// prettier-ignore
const FAMILY = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez',
  'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor',
  'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez',
  'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott',
  'Torres', 'Nguyen', 'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera',
  'Campbell', 'Mitchell', 'Carter', 'Roberts', 'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz',
  'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes', 'Stewart', 'Morris', 'Morales', 'Murphy',
  'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan', 'Cooper', 'Peterson', 'Bailey', 'Reed',
  'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson', 'Watson', 'Brooks', 'Chavez',
  'Wood', 'James', 'Bennett', 'Gray', 'Mendoza', 'Ruiz', 'Hughes', 'Price', 'Alvarez',
  'Castillo', 'Sanders', 'Patel', 'Myers', 'Long', 'Ross', 'Foster', 'Jimenez', 'Chen', 'Wang',
  'Tanaka', 'Singh', 'Khan', "O'Brien",
];
// prettier-ignore
const STREETS = [
  'Main St', 'Oak Ave', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Washington Blvd', 'Park Rd',
  'Lake View Dr', 'Hill St', 'River Rd', 'Pine St', 'Sunset Blvd', 'Highland Ave', 'Church St',
  'Mill Rd', 'School St', 'Spring St', 'Center St', 'Broadway', 'Franklin St',
];

const EASTERN: Tz = { std: -300, dst: true };
const CENTRAL: Tz = { std: -360, dst: true };
const MOUNTAIN: Tz = { std: -420, dst: true };
const ARIZONA: Tz = { std: -420, dst: false };
const PACIFIC: Tz = { std: -480, dst: true };
const HAWAII: Tz = { std: -600, dst: false };

interface City {
  city: string;
  state: string;
  zip3: string;
  tz: Tz;
  area: string; // phone area code
}
// prettier-ignore
const CITIES: City[] = [
  { city: 'Boston', state: 'MA', zip3: '021', tz: EASTERN, area: '617' },
  { city: 'Worcester', state: 'MA', zip3: '016', tz: EASTERN, area: '508' },
  { city: 'Springfield', state: 'MA', zip3: '011', tz: EASTERN, area: '413' },
  { city: 'New York', state: 'NY', zip3: '100', tz: EASTERN, area: '212' },
  { city: 'Buffalo', state: 'NY', zip3: '142', tz: EASTERN, area: '716' },
  { city: 'Philadelphia', state: 'PA', zip3: '191', tz: EASTERN, area: '215' },
  { city: 'Pittsburgh', state: 'PA', zip3: '152', tz: EASTERN, area: '412' },
  { city: 'Atlanta', state: 'GA', zip3: '303', tz: EASTERN, area: '404' },
  { city: 'Miami', state: 'FL', zip3: '331', tz: EASTERN, area: '305' },
  { city: 'Chicago', state: 'IL', zip3: '606', tz: CENTRAL, area: '312' },
  { city: 'Houston', state: 'TX', zip3: '770', tz: CENTRAL, area: '713' },
  { city: 'Dallas', state: 'TX', zip3: '752', tz: CENTRAL, area: '214' },
  { city: 'Austin', state: 'TX', zip3: '787', tz: CENTRAL, area: '512' },
  { city: 'Minneapolis', state: 'MN', zip3: '554', tz: CENTRAL, area: '612' },
  { city: 'Denver', state: 'CO', zip3: '802', tz: MOUNTAIN, area: '303' },
  { city: 'Salt Lake City', state: 'UT', zip3: '841', tz: MOUNTAIN, area: '801' },
  { city: 'Phoenix', state: 'AZ', zip3: '850', tz: ARIZONA, area: '602' },
  { city: 'Los Angeles', state: 'CA', zip3: '900', tz: PACIFIC, area: '213' },
  { city: 'San Diego', state: 'CA', zip3: '921', tz: PACIFIC, area: '619' },
  { city: 'San Francisco', state: 'CA', zip3: '941', tz: PACIFIC, area: '415' },
  { city: 'Seattle', state: 'WA', zip3: '981', tz: PACIFIC, area: '206' },
  { city: 'Portland', state: 'OR', zip3: '972', tz: PACIFIC, area: '503' },
  { city: 'Honolulu', state: 'HI', zip3: '968', tz: HAWAII, area: '808' },
];

const OMB = 'urn:oid:2.16.840.1.113883.6.238';
function ombExtension(kind: 'race' | 'ethnicity', code: string, display: string): string {
  return j({
    url: `${US_CORE}us-core-${kind}`,
    extension: [
      { url: 'ombCategory', valueCoding: { system: OMB, code, display } },
      { url: 'text', valueString: display },
    ],
  });
}
const RACES = new Weighted(
  [
    { ext: ombExtension('race', '2106-3', 'White'), w: 70 },
    { ext: ombExtension('race', '2054-5', 'Black or African American'), w: 14 },
    { ext: ombExtension('race', '2028-9', 'Asian'), w: 7 },
    { ext: ombExtension('race', '1002-5', 'American Indian or Alaska Native'), w: 1.5 },
    { ext: ombExtension('race', '2076-8', 'Native Hawaiian or Other Pacific Islander'), w: 0.5 },
  ],
  (r) => r.w,
);
const HISPANIC = ombExtension('ethnicity', '2135-2', 'Hispanic or Latino');
const NOT_HISPANIC = ombExtension('ethnicity', '2186-5', 'Not Hispanic or Latino');

const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
const MRN_TYPE = cc(V2_0203, 'MR', 'Medical Record Number');
const SSN_TYPE = cc(V2_0203, 'SS', 'Social Security Number');
const DL_TYPE = cc(V2_0203, 'DL', "Driver's License");

const MARITAL_SYS = 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus';
const MARITAL = {
  M: cc(MARITAL_SYS, 'M', 'Married'),
  S: cc(MARITAL_SYS, 'S', 'Never Married'),
  D: cc(MARITAL_SYS, 'D', 'Divorced'),
  W: cc(MARITAL_SYS, 'W', 'Widowed'),
};
const LANG_EN = cc('urn:ietf:bcp:47', 'en-US', 'English (United States)');
const LANG_ES = cc('urn:ietf:bcp:47', 'es', 'Spanish');
const LANG_ZH = cc('urn:ietf:bcp:47', 'zh', 'Chinese');

const PAYERS_UNDER_65 = new Weighted(
  [
    { name: 'Blue Cross Blue Shield', w: 25 },
    { name: 'UnitedHealthcare', w: 20 },
    { name: 'Aetna', w: 15 },
    { name: 'Cigna Health', w: 12 },
    { name: 'Humana', w: 6 },
    { name: 'Medicaid', w: 15 },
    { name: 'NO_INSURANCE', w: 7 },
  ],
  (p) => p.w,
);

// --- Encounters ---

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const CLASS_AMB = coding(ACT_CODE, 'AMB', 'ambulatory');
const CLASS_EMER = coding(ACT_CODE, 'EMER', 'emergency');
const CLASS_IMP = coding(ACT_CODE, 'IMP', 'inpatient encounter');
const PPRF = cc(
  'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  'PPRF',
  'primary performer',
);

interface EncDef {
  code: string;
  display: string;
  cls: string;
  w: number;
  minDur: number; // seconds
  maxDur: number;
  business: boolean; // starts during office hours
  reason: boolean; // may carry reasonCode
  institutional: boolean; // claim type
  costLo: number; // cents
  costHi: number;
  typeJson: string; // [CodeableConcept] content
  productJson: string; // CodeableConcept for claim items
}
function encDef(
  code: string,
  display: string,
  cls: string,
  w: number,
  minDur: number,
  maxDur: number,
  business: boolean,
  reason: boolean,
  institutional: boolean,
  costLo: number,
  costHi: number,
): EncDef {
  const c = cc(SCT, code, display);
  return {
    code,
    display,
    cls,
    w,
    minDur,
    maxDur,
    business,
    reason,
    institutional,
    costLo,
    costHi,
    typeJson: c,
    productJson: c,
  };
}
const MIN = 60;
const HOUR = 3600;
// prettier-ignore
const ENCOUNTERS = new Weighted(
  [
    encDef('185349003', 'Encounter for check up (procedure)', CLASS_AMB, 30, 15 * MIN, 45 * MIN, true, false, false, 9000, 25000),
    encDef('162673000', 'General examination of patient (procedure)', CLASS_AMB, 10, 15 * MIN, 40 * MIN, true, false, false, 8000, 20000),
    encDef('185345009', 'Encounter for symptom (procedure)', CLASS_AMB, 20, 15 * MIN, 40 * MIN, true, true, false, 7000, 18000),
    encDef('390906007', 'Follow-up encounter (procedure)', CLASS_AMB, 15, 15 * MIN, 30 * MIN, true, true, false, 6000, 15000),
    encDef('698314001', 'Consultation for treatment (procedure)', CLASS_AMB, 8, 20 * MIN, 60 * MIN, true, true, false, 12000, 40000),
    encDef('439740005', 'Postoperative follow-up visit (procedure)', CLASS_AMB, 3, 15 * MIN, 30 * MIN, true, true, false, 6000, 15000),
    encDef('50849002', 'Emergency room admission (procedure)', CLASS_EMER, 8, 1 * HOUR, 8 * HOUR, false, true, true, 80000, 400000),
    encDef('183452005', 'Emergency hospital admission (procedure)', CLASS_IMP, 3, 1 * DAY, 7 * DAY, false, true, true, 500000, 3000000),
    encDef('32485007', 'Hospital admission (procedure)', CLASS_IMP, 3, 1 * DAY, 5 * DAY, false, true, true, 400000, 2500000),
  ],
  (e) => e.w,
);

// prettier-ignore
const SERVICES: string[] = [
  ['430193006', 'Medication Reconciliation (procedure)'],
  ['710824005', 'Assessment of health and social care needs (procedure)'],
  ['171207006', 'Depression screening (procedure)'],
  ['428211000124100', 'Assessment of substance use (procedure)'],
  ['386516004', 'Anticipatory guidance (procedure)'],
  ['866148006', 'Screening for domestic abuse (procedure)'],
  ['76601001', 'Intramuscular injection (procedure)'],
  ['117015009', 'Throat culture (procedure)'],
  ['399208008', 'Plain X-ray of chest (procedure)'],
  ['73761001', 'Colonoscopy (procedure)'],
  ['23426006', 'Measurement of respiratory function (procedure)'],
  ['268556000', 'Urine screening for glucose (procedure)'],
  ['127783003', 'Spirometry (procedure)'],
  ['33879002', 'Administration of vaccine to produce active immunity (procedure)'],
].map(([code, display]) => cc(SCT, code as string, display as string));

// --- Conditions (~32 common ones) ---

interface CondDef {
  code: string;
  w: number;
  acute: boolean;
  json: string;
}
function condDef(code: string, display: string, w: number, acute: boolean): CondDef {
  return { code, w, acute, json: cc(SCT, code, display) };
}
const DIABETES = '44054006';
const HYPERTENSION = '59621000';
// prettier-ignore
const CONDITIONS = new Weighted(
  [
    condDef(HYPERTENSION, 'Essential hypertension (disorder)', 12, false),
    condDef('55822004', 'Hyperlipidemia (disorder)', 9, false),
    condDef(DIABETES, 'Diabetes mellitus type 2 (disorder)', 6, false),
    condDef('15777000', 'Prediabetes (finding)', 6, false),
    condDef('162864005', 'Body mass index 30+ - obesity (finding)', 7, false),
    condDef('195967001', 'Asthma (disorder)', 3, false),
    condDef('13645005', 'Chronic obstructive lung disease (disorder)', 2, false),
    condDef('53741008', 'Coronary arteriosclerosis (disorder)', 2, false),
    condDef('49436004', 'Atrial fibrillation (disorder)', 1.5, false),
    condDef('84114007', 'Heart failure (disorder)', 1, false),
    condDef('433144002', 'Chronic kidney disease stage 3 (disorder)', 1.5, false),
    condDef('69896004', 'Rheumatoid arthritis (disorder)', 1, false),
    condDef('239873007', 'Osteoarthritis of knee (disorder)', 3, false),
    condDef('35489007', 'Depressive disorder (disorder)', 3, false),
    condDef('197480006', 'Anxiety disorder (disorder)', 3, false),
    condDef('40055000', 'Chronic sinusitis (disorder)', 2, false),
    condDef('271737000', 'Anemia (disorder)', 2, false),
    condDef('230690007', 'Cerebrovascular accident (disorder)', 0.5, false),
    condDef('26929004', "Alzheimer's disease (disorder)", 0.5, false),
    condDef('40930008', 'Hypothyroidism (disorder)', 2, false),
    condDef('444814009', 'Viral sinusitis (disorder)', 10, true),
    condDef('10509002', 'Acute bronchitis (disorder)', 6, true),
    condDef('195662009', 'Acute viral pharyngitis (disorder)', 6, true),
    condDef('43878008', 'Streptococcal sore throat (disorder)', 2, true),
    condDef('65363002', 'Otitis media (disorder)', 3, true),
    condDef('68566005', 'Urinary tract infectious disease (disorder)', 3, true),
    condDef('840539006', 'Disease caused by severe acute respiratory syndrome coronavirus 2 (disorder)', 4, true),
    condDef('233604007', 'Pneumonia (disorder)', 1.5, true),
    condDef('62106007', 'Concussion with no loss of consciousness (disorder)', 1, true),
    condDef('283371005', 'Laceration of forearm (disorder)', 1, true),
    condDef('44465007', 'Sprain of ankle (disorder)', 2, true),
    condDef('70704007', 'Sprain of wrist (disorder)', 1, true),
  ],
  (c) => c.w,
);
const COND_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const ACTIVE = j({ coding: [{ system: COND_CLINICAL, code: 'active' }] });
const RESOLVED = j({ coding: [{ system: COND_CLINICAL, code: 'resolved' }] });
const CONFIRMED = j({
  coding: [
    { system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' },
  ],
});
const ENC_DX = cc(
  'http://terminology.hl7.org/CodeSystem/condition-category',
  'encounter-diagnosis',
  'Encounter Diagnosis',
);

// --- Observations ---

const OBS_CAT = 'http://terminology.hl7.org/CodeSystem/observation-category';
const CAT_VITAL = cc(OBS_CAT, 'vital-signs', 'Vital signs');
const CAT_LAB = cc(OBS_CAT, 'laboratory', 'Laboratory');
const CAT_SOCIAL = cc(OBS_CAT, 'social-history', 'Social History');

type ValueKind =
  'generic' | 'height' | 'weight' | 'bmi' | 'a1c' | 'glucose' | 'bp' | 'smoking' | 'pain';

interface ObsDef {
  w: number;
  kind: ValueKind;
  /** `"status":"final","category":[..],"code":{..}` */
  head: string;
  /** `"meta"` profile array content */
  profile: string;
  unit: string;
  ucum: string;
  mean: number;
  sd: number;
  min: number;
  max: number;
  dec: number;
}
function obsDef(
  w: number,
  kind: ValueKind,
  category: string,
  profiles: string[],
  codings: [string, string][],
  text: string,
  unit: string,
  ucum: string,
  mean: number,
  sd: number,
  min: number,
  max: number,
  dec: number,
): ObsDef {
  const code = j({
    coding: codings.map(([c, display]) => ({ system: LOINC, code: c, display })),
    text,
  });
  return {
    w,
    kind,
    head: `"status":"final","category":[${category}],"code":${code}`,
    profile: profiles.map((p) => j(p)).join(','),
    unit,
    ucum,
    mean,
    sd,
    min,
    max,
    dec,
  };
}
const VS = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const LAB = `${US_CORE}us-core-observation-lab`;
// prettier-ignore
const OBSERVATIONS = new Weighted(
  [
    obsDef(8, 'height', CAT_VITAL, [`${US_CORE}us-core-body-height`, VS], [['8302-2', 'Body Height']], 'Body Height', 'cm', 'cm', 0, 0, 40, 220, 1),
    obsDef(8, 'weight', CAT_VITAL, [`${US_CORE}us-core-body-weight`, VS], [['29463-7', 'Body Weight'], ['3141-9', 'Body weight Measured']], 'Body Weight', 'kg', 'kg', 0, 0, 2, 250, 1),
    obsDef(7, 'bmi', CAT_VITAL, [`${US_CORE}us-core-bmi`, VS], [['39156-5', 'Body mass index (BMI) [Ratio]']], 'Body mass index (BMI) [Ratio]', 'kg/m2', 'kg/m2', 0, 0, 10, 70, 2),
    obsDef(10, 'bp', CAT_VITAL, [`${US_CORE}us-core-blood-pressure`, VS], [['85354-9', 'Blood pressure panel with all children optional']], 'Blood pressure panel with all children optional', 'mmHg', 'mm[Hg]', 0, 0, 0, 0, 1),
    obsDef(9, 'generic', CAT_VITAL, [`${US_CORE}us-core-heart-rate`, VS], [['8867-4', 'Heart rate']], 'Heart rate', '/min', '/min', 76, 11, 40, 180, 1),
    obsDef(8, 'generic', CAT_VITAL, [`${US_CORE}us-core-respiratory-rate`, VS], [['9279-1', 'Respiratory rate']], 'Respiratory rate', '/min', '/min', 15, 2, 8, 40, 1),
    obsDef(4, 'generic', CAT_VITAL, [`${US_CORE}us-core-body-temperature`, VS], [['8310-5', 'Body temperature']], 'Body temperature', 'C', 'Cel', 36.8, 0.35, 35, 41.5, 2),
    obsDef(4, 'generic', CAT_VITAL, [`${US_CORE}us-core-pulse-oximetry`, VS], [['2708-6', 'Oxygen saturation in Arterial blood'], ['59408-5', 'Oxygen saturation in Arterial blood by Pulse oximetry']], 'Oxygen saturation in Arterial blood', '%', '%', 97.5, 1.2, 85, 100, 1),
    obsDef(4, 'pain', CAT_VITAL, [VS], [['72514-3', 'Pain severity - 0-10 verbal numeric rating [Score] - Reported']], 'Pain severity - 0-10 verbal numeric rating [Score] - Reported', '{score}', '{score}', 0, 0, 0, 10, 0),
    obsDef(5, 'glucose', CAT_LAB, [LAB], [['2339-0', 'Glucose [Mass/volume] in Blood']], 'Glucose', 'mg/dL', 'mg/dL', 0, 0, 40, 450, 1),
    obsDef(4, 'a1c', CAT_LAB, [LAB], [['4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood']], 'Hemoglobin A1c', '%', '%', 0, 0, 4, 14, 2),
    obsDef(3, 'generic', CAT_LAB, [LAB], [['2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma']], 'Total Cholesterol', 'mg/dL', 'mg/dL', 190, 30, 100, 350, 1),
    obsDef(3, 'generic', CAT_LAB, [LAB], [['2085-9', 'Cholesterol in HDL [Mass/volume] in Serum or Plasma']], 'HDL Cholesterol', 'mg/dL', 'mg/dL', 55, 12, 20, 110, 1),
    obsDef(3, 'generic', CAT_LAB, [LAB], [['18262-6', 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay']], 'LDL Cholesterol', 'mg/dL', 'mg/dL', 110, 28, 30, 250, 1),
    obsDef(3, 'generic', CAT_LAB, [LAB], [['2571-8', 'Triglycerides']], 'Triglycerides', 'mg/dL', 'mg/dL', 140, 40, 40, 500, 1),
    obsDef(3, 'generic', CAT_LAB, [LAB], [['2160-0', 'Creatinine [Mass/volume] in Serum or Plasma']], 'Creatinine', 'mg/dL', 'mg/dL', 0.95, 0.2, 0.4, 4, 2),
    obsDef(3, 'generic', CAT_LAB, [LAB], [['2951-2', 'Sodium [Moles/volume] in Serum or Plasma']], 'Sodium', 'mmol/L', 'mmol/L', 140, 2.5, 125, 155, 1),
    obsDef(3, 'generic', CAT_LAB, [LAB], [['2823-3', 'Potassium [Moles/volume] in Serum or Plasma']], 'Potassium', 'mmol/L', 'mmol/L', 4.2, 0.35, 2.8, 6.5, 2),
    obsDef(3, 'generic', CAT_LAB, [LAB], [['718-7', 'Hemoglobin [Mass/volume] in Blood']], 'Hemoglobin', 'g/dL', 'g/dL', 14, 1.4, 7, 19, 1),
    obsDef(2, 'generic', CAT_LAB, [LAB], [['33914-3', 'Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (MDRD)']], 'eGFR', 'mL/min/{1.73_m2}', 'mL/min/{1.73_m2}', 85, 15, 10, 130, 1),
    obsDef(4, 'smoking', CAT_SOCIAL, [`${US_CORE}us-core-smokingstatus`], [['72166-2', 'Tobacco smoking status']], 'Tobacco smoking status', '', '', 0, 0, 0, 0, 0),
  ],
  (o) => o.w,
);
const BP_SYS = cc(LOINC, '8480-6', 'Systolic blood pressure');
const BP_DIA = cc(LOINC, '8462-4', 'Diastolic blood pressure');
const SMOKING = new Weighted(
  [
    { json: cc(SCT, '266919005', 'Never smoked tobacco (finding)'), w: 60 },
    { json: cc(SCT, '8517006', 'Ex-smoker (finding)'), w: 25 },
    { json: cc(SCT, '449868002', 'Smokes tobacco daily (finding)'), w: 15 },
  ],
  (s) => s.w,
);

// --- Medications ---

interface Dosage {
  text: string;
  frequency: number;
  period: string;
  periodUnit: string;
  asNeeded: boolean;
  dose: string;
}
interface MedDef {
  w: number;
  chronic: boolean;
  json: string;
  form: string; // dose unit JSON fragment (without value)
  dosages: Dosage[];
  costLo: number;
  costHi: number;
}
const DRUG_FORM = 'http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm';
const TAB = `"unit":"tablet","system":"${DRUG_FORM}","code":"TAB"`;
const CAP = `"unit":"capsule","system":"${DRUG_FORM}","code":"CAP"`;
const PUFF = `"unit":"actuation","system":"${UCUM}","code":"{actuat}"`;
function dose(
  text: string,
  frequency: number,
  period: string,
  periodUnit: string,
  asNeeded: boolean,
  doseValue: string,
): Dosage {
  return { text, frequency, period, periodUnit, asNeeded, dose: doseValue };
}
const DAILY = dose('Take 1 tablet by mouth once daily', 1, '1', 'd', false, '1.0');
const BID = dose('Take 1 tablet by mouth twice daily', 2, '1', 'd', false, '1.0');
const TID = dose('Take 1 tablet by mouth three times daily', 3, '1', 'd', false, '1.0');
const PRN6 = dose(
  'Take 1 tablet by mouth every 6 hours as needed for pain',
  1,
  '6',
  'h',
  true,
  '1.0',
);
const PRN4 = dose('Take 2 tablets by mouth every 4 hours as needed', 1, '4', 'h', true, '2.0');
function med(
  code: string,
  display: string,
  w: number,
  chronic: boolean,
  form: string,
  dosages: Dosage[],
  costLo: number,
  costHi: number,
): MedDef {
  return { w, chronic, json: cc(RXNORM, code, display), form, dosages, costLo, costHi };
}
// prettier-ignore
const MEDICATIONS = new Weighted(
  [
    med('314076', 'lisinopril 10 MG Oral Tablet', 10, true, TAB, [DAILY], 500, 3000),
    med('197361', 'amlodipine 5 MG Oral Tablet', 7, true, TAB, [DAILY], 500, 3000),
    med('310798', 'Hydrochlorothiazide 25 MG Oral Tablet', 5, true, TAB, [DAILY], 400, 2500),
    med('860975', '24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet', 7, true, TAB, [DAILY, BID], 800, 4000),
    med('617314', 'atorvastatin 10 MG Oral Tablet', 7, true, TAB, [DAILY], 700, 5000),
    med('312961', 'simvastatin 20 MG Oral Tablet', 4, true, TAB, [DAILY], 500, 3000),
    med('966222', 'Levothyroxine Sodium 0.075 MG Oral Tablet', 4, true, TAB, [DAILY], 800, 3500),
    med('745679', '200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler', 4, true, PUFF, [dose('Inhale 2 puffs every 4 hours as needed for wheezing', 1, '4', 'h', true, '2.0')], 2500, 9000),
    med('310965', 'Ibuprofen 200 MG Oral Tablet', 8, false, TAB, [PRN6, TID], 300, 1500),
    med('313782', 'Acetaminophen 325 MG Oral Tablet', 8, false, TAB, [PRN4, PRN6], 300, 1500),
    med('849574', 'Naproxen sodium 220 MG Oral Tablet', 4, false, TAB, [BID, PRN6], 300, 1500),
    med('308182', 'Amoxicillin 250 MG Oral Capsule', 6, false, CAP, [dose('Take 1 capsule by mouth three times daily for 10 days', 3, '1', 'd', false, '1.0')], 700, 2500),
    med('834061', 'Penicillin V Potassium 250 MG Oral Tablet', 3, false, TAB, [dose('Take 1 tablet by mouth four times daily for 10 days', 4, '1', 'd', false, '1.0')], 700, 2500),
    med('1049221', 'Acetaminophen 325 MG / oxyCODONE Hydrochloride 5 MG Oral Tablet', 2, false, TAB, [PRN6], 1200, 5000),
    med('312617', 'predniSONE 5 MG Oral Tablet', 2, false, TAB, [DAILY], 400, 2000),
  ],
  (m) => m.w,
);
const DOSE_ORDERED = cc(
  'http://terminology.hl7.org/CodeSystem/dose-rate-type',
  'ordered',
  'Ordered',
);

// --- Claims ---

const CLAIM_TYPE_SYS = 'http://terminology.hl7.org/CodeSystem/claim-type';
const CLAIM_PROFESSIONAL = j({ coding: [{ system: CLAIM_TYPE_SYS, code: 'professional' }] });
const CLAIM_INSTITUTIONAL = j({ coding: [{ system: CLAIM_TYPE_SYS, code: 'institutional' }] });
const PRIORITY_NORMAL = j({
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: 'normal' }],
});

function moneyCents(cents: number): string {
  return fmtScaled(cents, 2);
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

class TypeWriter {
  count = 0;
  readonly done: Promise<void>;
  private failure: unknown = undefined;
  private buf: Buffer = Buffer.allocUnsafeSlow(CHUNK_BYTES + CHUNK_SLACK);
  private off = 0;

  constructor(
    readonly type: BenchResourceType,
    readonly fileName: string,
    readonly path: string,
    private readonly sink: Writable,
    readonly file: WriteStream,
    done: Promise<void>,
  ) {
    this.done = done.catch((err: unknown) => {
      this.failure = err;
      throw err;
    });
    // Avoid an unhandled rejection while nobody awaits `done`; errors resurface in flush/close.
    this.done.catch(() => undefined);
  }

  /** Appends one line (all generated text is ASCII, so latin1 bytes = UTF-8 bytes). */
  add(line: string): void {
    if (this.off + line.length > this.buf.length) {
      // Only reached if a single patient overflows the slack: grow, keeping what we have.
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.off + line.length));
      this.buf.copy(bigger, 0, 0, this.off);
      this.buf = bigger;
    }
    this.off += this.buf.write(line, this.off, 'latin1');
  }

  get full(): boolean {
    return this.off >= CHUNK_BYTES;
  }

  /** Hands the buffered bytes to the stream; waits for 'drain' when the stream is full. */
  async flush(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.off === 0) return;
    const chunk = this.buf.subarray(0, this.off);
    this.buf = Buffer.allocUnsafeSlow(CHUNK_BYTES + CHUNK_SLACK);
    this.off = 0;
    if (!this.sink.write(chunk)) {
      if (this.sink.errored) throw this.sink.errored;
      await once(this.sink, 'drain');
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.sink.end();
    await this.done;
  }

  destroy(): void {
    this.sink.destroy();
    this.file.destroy();
  }
}

function openWriter(outDir: string, type: BenchResourceType, gzip: boolean): TypeWriter {
  const fileName = `${type}.ndjson${gzip ? '.gz' : ''}`;
  const path = join(outDir, fileName);
  const file = createWriteStream(path, { highWaterMark: STREAM_HWM });
  if (!gzip) return new TypeWriter(type, fileName, path, file, file, finished(file));
  // Node passes stream options through to the zlib Transform; @types/node omits them.
  const gzOptions: ZlibOptions & { highWaterMark: number } = {
    highWaterMark: STREAM_HWM,
    chunkSize: 1 << 16,
  };
  const gz = createGzip(gzOptions);
  return new TypeWriter(type, fileName, path, gz, file, pipeline(gz, file));
}

// ---------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------

interface Practitioner {
  ref: string; // Reference JSON (logical, by NPI identifier)
}
interface Organization {
  ref: string;
  practitioners: Practitioner[];
}

const MAX_ENC = 16;
const ORGS_PER_CITY = 3;

class Generator {
  private readonly rng: Rng;
  private readonly orgs: Organization[] = [];
  private mrn = 100000;

  // Per-patient encounter scratch (reused; no per-patient allocation of these arrays).
  private readonly encId: string[] = new Array<string>(MAX_ENC).fill('');
  private readonly encStart: number[] = new Array<number>(MAX_ENC).fill(0);
  private readonly encEnd: number[] = new Array<number>(MAX_ENC).fill(0);
  private readonly encStartStr: string[] = new Array<string>(MAX_ENC).fill('');
  private readonly encStartBase: string[] = new Array<string>(MAX_ENC).fill('');
  private readonly encStartOff: string[] = new Array<string>(MAX_ENC).fill('');
  private readonly encEndStr: string[] = new Array<string>(MAX_ENC).fill('');
  private readonly encUpdated: string[] = new Array<string>(MAX_ENC).fill('');
  private readonly encDef: EncDef[] = [];
  private readonly encReason: number[] = new Array<number>(MAX_ENC).fill(-1);
  private readonly encPrac: Practitioner[] = [];

  constructor(
    seed: number,
    private readonly out: Record<BenchResourceType, TypeWriter>,
  ) {
    this.rng = new Rng(seed);
    const rng = this.rng;
    let npi = 9999900000 + rng.int(50000);
    const kinds = ['General Hospital', 'Medical Center', 'Family Practice', 'Health Clinic'];
    // Three providers per city; patients are seen by one in their home city.
    for (let i = 0; i < CITIES.length * ORGS_PER_CITY; i++) {
      const city = CITIES[Math.floor(i / ORGS_PER_CITY)] as City;
      const name =
        i % ORGS_PER_CITY === 0
          ? `${rng.pick(FAMILY)} ${rng.pick(kinds)}`
          : `${city.city} ${rng.pick(kinds)}`;
      const org: Organization = {
        ref: j({ identifier: { system: SYNTHEA, value: uuid(rng) }, display: name }),
        practitioners: [],
      };
      for (let k = 0; k < 6; k++) {
        const given = rng.chance(0.5) ? rng.pick(MALE_GIVEN) : rng.pick(FEMALE_GIVEN);
        npi += 1 + rng.int(7);
        org.practitioners.push({
          ref: j({
            identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: String(npi) },
            display: `Dr. ${given} ${rng.pick(FAMILY)}`,
          }),
        });
      }
      this.orgs.push(org);
    }
  }

  /** Generates one patient and all of their resources into the per-type buffers. */
  patient(): void {
    const rng = this.rng;
    const out = this.out;

    // --- demographics ---
    const id = uuid(rng);
    const male = rng.chance(0.49);
    const birthDays =
      daysFromCivil(1930, 1, 1) + rng.int(daysFromCivil(2021, 1, 1) - daysFromCivil(1930, 1, 1));
    const birthSec = birthDays * DAY;
    const age = Math.floor((NOW - birthSec) / YEAR);
    const cityIdx = rng.int(CITIES.length);
    const city = CITIES[cityIdx] as City;
    const tz = city.tz;
    const hispanic = rng.chance(0.18);
    const race = RACES.pick(rng).ext;
    const given1 = male ? rng.pick(MALE_GIVEN) : rng.pick(FEMALE_GIVEN);
    const given2 = male ? rng.pick(MALE_GIVEN) : rng.pick(FEMALE_GIVEN);
    const family = rng.pick(FAMILY);
    let marital: string;
    let prefix = '';
    if (age < 18) {
      marital = MARITAL.S;
    } else {
      const r = rng.float();
      marital = r < 0.5 ? MARITAL.M : r < 0.75 ? MARITAL.S : r < 0.9 ? MARITAL.D : MARITAL.W;
      prefix = male ? 'Mr.' : marital === MARITAL.M || marital === MARITAL.W ? 'Mrs.' : 'Ms.';
    }
    const display = prefix ? `${prefix} ${given1} ${family}` : `${given1} ${family}`;
    const patRef = `{"reference":"Patient/${id}","display":"${display}"}`;
    const org = this.orgs[cityIdx * ORGS_PER_CITY + rng.int(ORGS_PER_CITY)] as Organization;
    const gp = rng.pick(org.practitioners);
    const payer =
      age >= 65
        ? rng.chance(0.9)
          ? 'Medicare'
          : 'Blue Cross Blue Shield'
        : PAYERS_UNDER_65.pick(rng).name;

    // Care window: the last 10 years of life (or since birth), ending at death or now.
    let windowEnd = NOW;
    let deceased = '';
    const windowStart0 = Math.max(birthSec, NOW - 10 * YEAR);
    if (rng.chance(0.05)) {
      const lo = Math.max(birthSec + 30 * DAY, windowStart0 + 30 * DAY);
      windowEnd = lo + rng.int(Math.max(1, NOW - lo));
      const off = offsetMinutes(tz, windowEnd);
      deceased = `"deceasedDateTime":"${fmtBase(windowEnd + off * 60)}${offsetString(off)}",`;
    }
    const windowStart = windowStart0;

    // --- per-patient counts (means 8 / 4 / 25 / 6 / 6 → 50 resources with the Patient) ---
    const nEnc = rng.range(4, 12);
    const nCond = rng.range(0, 8);
    const nObs = rng.range(15, 35);
    const nMed = rng.range(2, 10);
    const nClaim = rng.range(3, 9);

    // Condition picks first, so patient-level physiology can depend on them.
    const condDefs: CondDef[] = [];
    let diabetic = false;
    let hypertensive = false;
    for (let i = 0; i < nCond; i++) {
      const c = CONDITIONS.pick(rng);
      condDefs.push(c);
      if (c.code === DIABETES) diabetic = true;
      else if (c.code === HYPERTENSION) hypertensive = true;
    }

    // --- encounters (sorted start times inside the window) ---
    const starts = this.encStart;
    const span = Math.max(DAY, windowEnd - windowStart - 8 * DAY);
    for (let e = 0; e < nEnc; e++) starts[e] = windowStart + rng.int(span);
    sortPrefix(starts, nEnc);
    for (let e = 0; e < nEnc; e++) {
      const def = ENCOUNTERS.pick(rng);
      let start = starts[e] as number;
      if (def.business) {
        // Move to office hours (08:00–17:00 local standard time) on the same day.
        const local = start + tz.std * 60;
        start = Math.floor(local / DAY) * DAY + 8 * HOUR + rng.int(9 * HOUR) - tz.std * 60;
      }
      const end = start + def.minDur + rng.int(def.maxDur - def.minDur);
      const so = offsetMinutes(tz, start);
      const eo = offsetMinutes(tz, end);
      const base = fmtBase(start + so * 60);
      const soff = offsetString(so);
      this.encId[e] = uuid(rng);
      this.encStart[e] = start;
      this.encEnd[e] = end;
      this.encStartBase[e] = base;
      this.encStartOff[e] = soff;
      this.encStartStr[e] = base + soff;
      this.encEndStr[e] = fmtBase(end + eo * 60) + offsetString(eo);
      this.encUpdated[e] = fmtInstantUtc(end, rng.int(1000));
      this.encDef[e] = def;
      this.encReason[e] = -1;
      this.encPrac[e] = rng.chance(0.7) ? gp : rng.pick(org.practitioners);
    }
    const condEnc: number[] = [];
    for (let i = 0; i < nCond; i++) {
      const e = rng.int(nEnc);
      condEnc.push(e);
      if (this.encReason[e] === -1 && (this.encDef[e] as EncDef).reason) this.encReason[e] = i;
    }
    const lastUpdated = this.encUpdated[nEnc - 1] as string;

    // --- Patient ---
    const mrn = ++this.mrn;
    const ssn = `999-${P2[10 + rng.int(90)]}-${P2[rng.int(100)]}${P2[rng.int(100)]}`;
    const phone = `${city.area}-555-${P2[rng.int(100)]}${P2[rng.int(100)]}`;
    const zip = `${city.zip3}${P2[rng.int(100)]}`;
    const lang = hispanic && rng.chance(0.4) ? LANG_ES : rng.chance(0.02) ? LANG_ZH : LANG_EN;
    const ptPrefix = prefix ? `,"prefix":["${prefix}"]` : '';
    const adult = age >= 16;
    const license = adult
      ? `,{"type":${DL_TYPE},"system":"urn:oid:2.16.840.1.113883.4.3.25","value":"S999${P2[rng.int(100)]}${P2[rng.int(100)]}${rng.int(10)}"}`
      : '';
    const pw = out.Patient;
    pw.add(
      `{"resourceType":"Patient","id":"${id}","meta":{"lastUpdated":"${lastUpdated}","profile":["${US_CORE}us-core-patient"]},"extension":[${race},${hispanic ? HISPANIC : NOT_HISPANIC},{"url":"${US_CORE}us-core-birthsex","valueCode":"${male ? 'M' : 'F'}"},{"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName","valueString":"${rng.pick(FEMALE_GIVEN)} ${rng.pick(FAMILY)}"}],"identifier":[{"system":"${SYNTHEA}","value":"${id}"},{"type":${MRN_TYPE},"system":"http://hospital.smarthealthit.org","value":"MRN${mrn}"},{"type":${SSN_TYPE},"system":"http://hl7.org/fhir/sid/us-ssn","value":"${ssn}"}${license}],"name":[{"use":"official","family":"${family}","given":["${given1}","${given2}"]${ptPrefix}}],"telecom":[{"system":"phone","value":"${phone}","use":"home"}],"gender":"${male ? 'male' : 'female'}","birthDate":"${fmtDate(birthDays)}",${deceased}"address":[{"line":["${1 + rng.int(9999)} ${rng.pick(STREETS)}"],"city":"${city.city}","state":"${city.state}","postalCode":"${zip}","country":"US"}],"maritalStatus":${marital},"multipleBirthBoolean":false,"communication":[{"language":${lang}}]}\n`,
    );
    pw.count++;

    // --- Encounters ---
    const ew = out.Encounter;
    for (let e = 0; e < nEnc; e++) {
      const def = this.encDef[e] as EncDef;
      const r = this.encReason[e] as number;
      const reason = r >= 0 ? `"reasonCode":[${(condDefs[r] as CondDef).json}],` : '';
      const s = this.encStartStr[e] as string;
      const en = this.encEndStr[e] as string;
      const eid = this.encId[e] as string;
      ew.add(
        `{"resourceType":"Encounter","id":"${eid}","meta":{"lastUpdated":"${this.encUpdated[e]}","profile":["${US_CORE}us-core-encounter"]},"identifier":[{"use":"official","system":"${SYNTHEA}","value":"${eid}"}],"status":"finished","class":${def.cls},"type":[${def.typeJson}],"subject":${patRef},"participant":[{"type":[${PPRF}],"period":{"start":"${s}","end":"${en}"},"individual":${(this.encPrac[e] as Practitioner).ref}}],"period":{"start":"${s}","end":"${en}"},${reason}"serviceProvider":${org.ref}}\n`,
      );
    }
    ew.count += nEnc;

    // --- Conditions ---
    const cw = out.Condition;
    for (let i = 0; i < nCond; i++) {
      const c = condDefs[i] as CondDef;
      const e = condEnc[i] as number;
      const onset = this.encStart[e] as number;
      let status = ACTIVE;
      let abatement = '';
      if (c.acute || rng.chance(0.05)) {
        const ab = onset + (c.acute ? 7 * DAY + rng.int(30 * DAY) : 90 * DAY + rng.int(700 * DAY));
        if (ab < windowEnd) {
          const off = offsetMinutes(tz, ab);
          abatement = `"abatementDateTime":"${fmtBase(ab + off * 60)}${offsetString(off)}",`;
          status = RESOLVED;
        }
      }
      const s = this.encStartStr[e] as string;
      cw.add(
        `{"resourceType":"Condition","id":"${uuid(rng)}","meta":{"lastUpdated":"${this.encUpdated[e]}","profile":["${US_CORE}us-core-condition-encounter-diagnosis"]},"clinicalStatus":${status},"verificationStatus":${CONFIRMED},"category":[${ENC_DX}],"code":${c.json},"subject":{"reference":"Patient/${id}"},"encounter":{"reference":"Encounter/${this.encId[e]}"},"onsetDateTime":"${s}",${abatement}"recordedDate":"${s}"}\n`,
      );
    }
    cw.count += nCond;

    // --- Observations ---
    const ow = out.Observation;
    const adultHeight = male ? 176 + rng.normal() * 7 : 163 + rng.normal() * 6.5;
    const adultBmi = 21 + rng.float() * 12 + (diabetic ? 4 : 0);
    const sysBase = (hypertensive ? 138 : 118) + rng.normal() * 8;
    const diaBase = (hypertensive ? 88 : 76) + rng.normal() * 5;
    const a1cBase = diabetic ? 6.8 + rng.float() * 2.5 : 4.9 + rng.float() * 0.9;
    const smoking = SMOKING.pick(rng).json;
    for (let i = 0; i < nObs; i++) {
      const def = OBSERVATIONS.pick(rng);
      const e = rng.int(nEnc);
      const ageAt = (this.encStart[e] as number) - birthSec;
      const growth = Math.min(1, Math.max(0, ageAt / (18 * YEAR)));
      let value: string;
      switch (def.kind) {
        case 'height':
          value = this.qty(def, adultHeight * (0.3 + 0.7 * growth) + rng.normal() * 0.3);
          break;
        case 'weight': {
          const h = (adultHeight * (0.3 + 0.7 * growth)) / 100;
          value = this.qty(
            def,
            Math.max(2.5, (adultBmi - 4 * (1 - growth)) * h * h + rng.normal()),
          );
          break;
        }
        case 'bmi':
          value = this.qty(def, adultBmi - 4 * (1 - growth) + rng.normal() * 0.4);
          break;
        case 'a1c':
          // A1c is reported to one decimal place but written with two (7.20): written precision.
          value = `"valueQuantity":{"value":${fmtScaled(Math.round((a1cBase + rng.normal() * 0.3) * 10) * 10, 2)},"unit":"%","system":"${UCUM}","code":"%"}`;
          break;
        case 'glucose':
          value = this.qty(def, (diabetic ? 150 : 92) + rng.normal() * (diabetic ? 35 : 10));
          break;
        case 'bp': {
          const sys = Math.round(sysBase + rng.normal() * 7);
          const dia = Math.round(Math.min(diaBase + rng.normal() * 5, sys - 20));
          value = `"component":[{"code":${BP_SYS},"valueQuantity":{"value":${sys}.0,"unit":"mmHg","system":"${UCUM}","code":"mm[Hg]"}},{"code":${BP_DIA},"valueQuantity":{"value":${dia}.0,"unit":"mmHg","system":"${UCUM}","code":"mm[Hg]"}}]`;
          break;
        }
        case 'smoking':
          value = `"valueCodeableConcept":${smoking}`;
          break;
        case 'pain':
          value = `"valueQuantity":{"value":${rng.chance(0.6) ? rng.int(3) : rng.int(11)},"unit":"{score}","system":"${UCUM}","code":"{score}"}`;
          break;
        default:
          value = this.qty(def, def.mean + rng.normal() * def.sd);
      }
      ow.add(
        `{"resourceType":"Observation","id":"${uuid(rng)}","meta":{"lastUpdated":"${this.encUpdated[e]}","profile":[${def.profile}]},${def.head},"subject":{"reference":"Patient/${id}"},"encounter":{"reference":"Encounter/${this.encId[e]}"},"effectiveDateTime":"${this.encStartStr[e]}","issued":"${this.encStartBase[e]}.${P3[rng.int(1000)]}${this.encStartOff[e]}",${value}}\n`,
      );
    }
    ow.count += nObs;

    // --- MedicationRequests ---
    const mw = out.MedicationRequest;
    for (let i = 0; i < nMed; i++) {
      const m = MEDICATIONS.pick(rng);
      const e = rng.int(nEnc);
      const d = m.dosages.length === 1 ? (m.dosages[0] as Dosage) : rng.pick(m.dosages);
      const authored = this.encStart[e] as number;
      const status =
        windowEnd < NOW
          ? 'stopped'
          : m.chronic && NOW - authored < YEAR
            ? 'active'
            : rng.chance(0.1)
              ? 'stopped'
              : 'completed';
      mw.add(
        `{"resourceType":"MedicationRequest","id":"${uuid(rng)}","meta":{"lastUpdated":"${this.encUpdated[e]}","profile":["${US_CORE}us-core-medicationrequest"]},"status":"${status}","intent":"order","medicationCodeableConcept":${m.json},"subject":${patRef},"encounter":{"reference":"Encounter/${this.encId[e]}"},"authoredOn":"${this.encStartStr[e]}","requester":${(this.encPrac[e] as Practitioner).ref},"dosageInstruction":[{"sequence":1,"text":"${d.text}","timing":{"repeat":{"frequency":${d.frequency},"period":${d.period},"periodUnit":"${d.periodUnit}"}},"asNeededBoolean":${d.asNeeded},"doseAndRate":[{"type":${DOSE_ORDERED},"doseQuantity":{"value":${d.dose},${m.form}}}]}]}\n`,
      );
    }
    mw.count += nMed;

    // --- Claims ---
    const clw = out.Claim;
    for (let i = 0; i < nClaim; i++) {
      const e = rng.int(nEnc);
      const def = this.encDef[e] as EncDef;
      const nItems = rng.range(1, 5);
      let total = 0;
      let items = '';
      for (let k = 1; k <= nItems; k++) {
        let product: string;
        let cents: number;
        if (k === 1) {
          product = def.productJson;
          cents = rng.range(def.costLo, def.costHi);
        } else if (rng.chance(0.3)) {
          const m = MEDICATIONS.pick(rng);
          product = m.json;
          cents = rng.range(m.costLo, m.costHi);
        } else {
          product = rng.pick(SERVICES);
          cents = rng.range(2000, 60000);
        }
        // Round some charges to whole dollars so trailing-zero decimals (e.g. 150.00) occur.
        if (rng.chance(0.2)) cents = Math.round(cents / 100) * 100;
        total += cents;
        items += `${k > 1 ? ',' : ''}{"sequence":${k},"productOrService":${product},"encounter":[{"reference":"Encounter/${this.encId[e]}"}],"net":{"value":${moneyCents(cents)},"currency":"USD"}}`;
      }
      const s = this.encStartStr[e] as string;
      const en = this.encEndStr[e] as string;
      clw.add(
        `{"resourceType":"Claim","id":"${uuid(rng)}","meta":{"lastUpdated":"${this.encUpdated[e]}"},"status":"active","type":${def.institutional ? CLAIM_INSTITUTIONAL : CLAIM_PROFESSIONAL},"use":"claim","patient":${patRef},"billablePeriod":{"start":"${s}","end":"${en}"},"created":"${en}","provider":${org.ref},"priority":${PRIORITY_NORMAL},"insurance":[{"sequence":1,"focal":true,"coverage":{"display":"${payer}"}}],"item":[${items}],"total":{"value":${moneyCents(total)},"currency":"USD"}}\n`,
      );
    }
    clw.count += nClaim;
  }

  private qty(def: ObsDef, v: number): string {
    const x = v < def.min ? def.min : v > def.max ? def.max : v;
    return `"valueQuantity":{"value":${fmtDec(x, def.dec)},"unit":"${def.unit}","system":"${UCUM}","code":"${def.ucum}"}`;
  }
}

/** Insertion sort of the first n entries (n ≤ 16). */
function sortPrefix(a: number[], n: number): void {
  for (let i = 1; i < n; i++) {
    const v = a[i] as number;
    let k = i - 1;
    while (k >= 0 && (a[k] as number) > v) {
      a[k + 1] = a[k] as number;
      k--;
    }
    a[k + 1] = v;
  }
}

// ---------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------

export async function generateBenchData(opts: GenerateBenchOptions): Promise<GenerateBenchResult> {
  const { resources } = opts;
  const seed = opts.seed ?? 1;
  const gzip = opts.gzip ?? false;
  if (!Number.isSafeInteger(resources) || resources < 1) {
    throw new RangeError(`resources must be a positive integer, got ${resources}`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  const outDir = resolve(opts.outDir);
  await mkdir(outDir, { recursive: true });

  const patients = Math.max(1, Math.round(resources / RESOURCES_PER_PATIENT));
  const writers = {} as Record<BenchResourceType, TypeWriter>;
  for (const t of BENCH_RESOURCE_TYPES) writers[t] = openWriter(outDir, t, gzip);
  const all = BENCH_RESOURCE_TYPES.map((t) => writers[t]);

  try {
    const gen = new Generator(seed, writers);
    for (let p = 0; p < patients; p++) {
      gen.patient();
      for (const w of all) if (w.full) await w.flush();
    }
    await Promise.all(all.map((w) => w.close()));
  } catch (err) {
    for (const w of all) w.destroy();
    throw err;
  }

  const counts: Record<string, number> = {};
  const files: string[] = [];
  const output: { type: string; url: string; count: number }[] = [];
  let bytes = 0;
  for (const w of all) {
    counts[w.type] = w.count;
    if (w.count === 0) {
      // Bulk Data: no file for a type without resources.
      await rm(w.path, { force: true });
      continue;
    }
    files.push(w.path);
    output.push({ type: w.type, url: w.fileName, count: w.count });
    bytes += w.file.bytesWritten;
  }
  const manifest = {
    transactionTime: BENCH_TRANSACTION_TIME,
    request: `https://medlake.example.org/fhir/$export?_type=${BENCH_RESOURCE_TYPES.join(',')}`,
    requiresAccessToken: false,
    output,
    error: [],
  };
  await writeFile(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { files, counts, bytes };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resources: { type: 'string', short: 'n', default: '100000' },
      out: { type: 'string', short: 'o' },
      seed: { type: 'string', short: 's', default: '1' },
      gzip: { type: 'boolean', short: 'z', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const usage = 'usage: npx tsx bench/generate-data.ts --resources N --out DIR [--seed S] [--gzip]';
  if (values.help) {
    console.log(usage);
    return;
  }
  if (values.out === undefined) throw new Error(`--out is required\n${usage}`);
  const resources = Number(values.resources.replace(/_/g, ''));
  const seed = Number(values.seed);
  const t0 = process.hrtime.bigint();
  const res = await generateBenchData({ outDir: values.out, resources, seed, gzip: values.gzip });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const total = Object.values(res.counts).reduce((a, b) => a + b, 0);
  const mb = res.bytes / 1e6;
  console.log(
    JSON.stringify(
      {
        outDir: resolve(values.out),
        counts: res.counts,
        resources: total,
        bytes: res.bytes,
        ...(values.gzip ? { note: 'bytes and MB/s are gzip-compressed sizes' } : {}),
        seconds: Number(secs.toFixed(3)),
        mbPerSec: Number((mb / secs).toFixed(1)),
        resourcesPerSec: Math.round(total / secs),
        bytesPerResource: Math.round(res.bytes / total),
      },
      null,
      2,
    ),
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
