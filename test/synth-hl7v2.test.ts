/**
 * The hl7v2 output format (src/synth/write-hl7v2.ts): the files are parsed back with a small
 * parser of this file's own (segments on CR, fields on |, components on ^, repetitions on
 * ~, subcomponents on &, then unescaped) and checked against the FHIR NDJSON of the same run:
 * message counts per source resource, identifiers, values and units, batch counts, order
 * and determinism; plus hand-made resources for the types the core does not emit yet, and
 * property-based escaping round trips.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../src/synth/index.js';
import { escapeHl7, toDtm } from '../src/synth/hl7v2-encode.js';
import {
  MESSAGES_PER_FILE,
  hl7v2Context,
  hl7v2Messages,
  hl7v2Writer,
} from '../src/synth/write-hl7v2.js';
import type { Hl7v2Context } from '../src/synth/write-hl7v2.js';
import type { JsonResource } from '../src/synth/shared-resources.js';
import type { SynthRun } from '../src/synth/parts.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

// ---- a small HL7 v2 parser, independent of the writer ---------------------------------

/** Undoes \F\ \S\ \T\ \R\ \E\ and \Xhh..\ (hex bytes, UTF-8). */
function unescape(s: string): string {
  return s.replace(/\\(F|S|T|R|E|X[0-9A-Fa-f]*)\\/g, (_, e: string) => {
    if (e === 'F') return '|';
    if (e === 'S') return '^';
    if (e === 'T') return '&';
    if (e === 'R') return '~';
    if (e === 'E') return '\\';
    return Buffer.from(e.slice(1), 'hex').toString('utf8');
  });
}

class Segment {
  constructor(
    readonly name: string,
    /** Raw fields; index n = field n (MSH: 1 = "|", 2 = encoding characters). */
    readonly fields: readonly string[],
  ) {}
  raw(n: number): string {
    return this.fields[n] ?? '';
  }
  /** Field n, repetition r, component c, subcomponent s (1-based), unescaped. */
  get(n: number, c = 1, s = 1, r = 1): string {
    const rep = this.raw(n).split('~')[r - 1] ?? '';
    const comp = rep.split('^')[c - 1] ?? '';
    return unescape(comp.split('&')[s - 1] ?? '');
  }
  reps(n: number): string[] {
    const f = this.raw(n);
    return f === '' ? [] : f.split('~');
  }
}

function parseSegment(text: string): Segment {
  const name = text.slice(0, 3);
  if (name === 'MSH' || name === 'FHS' || name === 'BHS') {
    const rest = text.slice(4).split('|');
    return new Segment(name, [name, '|', ...rest]);
  }
  return new Segment(name, text.split('|'));
}

interface Batch {
  readonly header: Segment[];
  readonly messages: Segment[][];
  readonly trailer: Segment[];
}

function parseBatchFile(text: string): Batch {
  expect(text.endsWith('\r')).toBe(true);
  expect(text.includes('\n')).toBe(false);
  const segments = text.slice(0, -1).split('\r').map(parseSegment);
  const header: Segment[] = [];
  const trailer: Segment[] = [];
  const messages: Segment[][] = [];
  for (const s of segments) {
    if (s.name === 'FHS' || s.name === 'BHS') header.push(s);
    else if (s.name === 'BTS' || s.name === 'FTS') trailer.push(s);
    else if (s.name === 'MSH') messages.push([s]);
    else {
      expect(messages.length, `segment ${s.name} before any MSH`).toBeGreaterThan(0);
      (messages[messages.length - 1] as Segment[]).push(s);
    }
  }
  return { header, messages, trailer };
}

const seg = (m: readonly Segment[], name: string): Segment[] => m.filter((s) => s.name === name);
const one = (m: readonly Segment[], name: string): Segment => {
  const found = seg(m, name);
  expect(found.length, `${name} in ${m[0]?.raw(9)}`).toBe(1);
  return found[0] as Segment;
};
const msgType = (m: readonly Segment[]): string => (m[0] as Segment).raw(9);

/** Segments each message structure may hold (those this writer uses, v2.5.1). */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  'ADT^A01^ADT_A01': ['MSH', 'EVN', 'PID', 'PV1', 'PV2', 'AL1', 'DG1', 'PR1'],
  'ADT^A04^ADT_A01': ['MSH', 'EVN', 'PID', 'PV1', 'PV2', 'AL1', 'DG1', 'PR1'],
  'ADT^A03^ADT_A03': ['MSH', 'EVN', 'PID', 'PV1', 'PV2', 'DG1', 'PR1'],
  'ADT^A31^ADT_A05': ['MSH', 'EVN', 'PID', 'PV1'],
  'ADT^A28^ADT_A05': ['MSH', 'EVN', 'PID', 'PV1'],
  'ORU^R01^ORU_R01': ['MSH', 'PID', 'PV1', 'ORC', 'OBR', 'OBX'],
  'RDE^O11^RDE_O11': ['MSH', 'PID', 'PV1', 'ORC', 'RXE', 'TQ1', 'RXR'],
  'VXU^V04^VXU_V04': ['MSH', 'PID', 'PV1', 'ORC', 'RXA', 'RXR'],
  'ORM^O01^ORM_O01': ['MSH', 'PID', 'PV1', 'ORC', 'OBR'],
  'MDM^T02^MDM_T02': ['MSH', 'EVN', 'PID', 'PV1', 'TXA', 'OBX'],
};

function checkWellFormed(m: readonly Segment[]): void {
  const msh = m[0] as Segment;
  expect(msh.name).toBe('MSH');
  expect(msh.raw(2)).toBe('^~\\&');
  expect(msh.get(3)).toBe('MEDLAKE_SYNTH');
  expect(msh.raw(7)).toMatch(/^\d{14}\+0000$/);
  expect(msh.raw(11)).toBe('P');
  expect(msh.raw(12)).toBe('2.5.1');
  const allowed = ALLOWED[msh.raw(9)];
  expect(allowed, `MSH-9 ${msh.raw(9)}`).toBeDefined();
  for (const s of m) {
    expect(s.name).toMatch(/^[A-Z][A-Z0-9]{2}$/);
    expect(allowed).toContain(s.name);
  }
  expect(m.filter((s) => s.name === 'MSH')).toHaveLength(1);
  expect(m[m[0]?.name === 'MSH' && m[1]?.name === 'EVN' ? 2 : 1]?.name).toBe('PID');
  // Set ids of repeating segments count from 1.
  for (const name of ['OBX', 'DG1', 'AL1', 'PR1'])
    seg(m, name).forEach((s, i) => expect(s.raw(1)).toBe(String(i + 1)));
}

// ---- a generated population ------------------------------------------------------------

const PATIENTS = 100;
const SEED = 11;
let tmp = '';
let tmp2 = '';
let files: string[] = [];
let batches: Batch[] = [];
let messages: Segment[][] = [];
const fhir = new Map<string, Json[]>();
const byId = new Map<string, Json>();

const ofType = (t: string): Json[] => fhir.get(t) ?? [];
const ref = (r: unknown, type: string): string | undefined => {
  const s = (r as { reference?: string } | undefined)?.reference;
  return s?.startsWith(type + '/') ? s.slice(type.length + 1) : undefined;
};

beforeAll(async () => {
  tmp = makeTempDir('synth-hl7v2');
  tmp2 = makeTempDir('synth-hl7v2-again');
  const options = {
    patients: PATIENTS,
    seed: SEED,
    formats: ['hl7v2'],
    formatWriters: { hl7v2: hl7v2Writer },
  };
  const summary = await synthesize({ ...options, outDir: tmp });
  await synthesize({ ...options, outDir: tmp2 });
  files = summary.formats['hl7v2']?.files ?? [];
  batches = files.map((f) => parseBatchFile(readFileSync(path.join(tmp, f), 'utf8')));
  messages = batches.flatMap((b) => b.messages);
  for (const file of readdirSync(tmp).filter((f) => f.endsWith('.ndjson')))
    for (const line of readFileSync(path.join(tmp, file), 'utf8').split('\n')) {
      if (line === '') continue;
      const r = JSON.parse(line) as Json;
      const type = r['resourceType'] as string;
      fhir.set(type, [...(fhir.get(type) ?? []), r]);
      byId.set(`${type}/${r['id'] as string}`, r);
    }
}, 60_000);

afterAll(() => {
  removeDir(tmp);
  removeDir(tmp2);
});

describe('hl7v2 output of a generated population', () => {
  it('writes batch files whose BTS counts match their messages', () => {
    expect(files).toEqual(['hl7v2/messages-0001.hl7']);
    for (const b of batches) {
      expect(b.header.map((s) => s.name)).toEqual(['FHS', 'BHS']);
      expect(b.trailer.map((s) => s.name)).toEqual(['BTS', 'FTS']);
      expect(Number(b.trailer[0]?.raw(1))).toBe(b.messages.length);
      expect(b.trailer[1]?.raw(1)).toBe('1');
      expect(b.header[0]?.raw(2)).toBe('^~\\&');
    }
    expect(messages.length).toBeGreaterThan(PATIENTS);
  });

  it('every message is well-formed with a unique, provenance-bearing MSH-10', () => {
    const ids = new Set<string>();
    for (const m of messages) {
      checkWellFormed(m);
      const control = (m[0] as Segment).get(10);
      expect(ids.has(control)).toBe(false);
      ids.add(control);
      // MSH-10 = source resource id + event; the resource exists in the FHIR output.
      const [, id, event] = /^(.+)-([A-Z]\d\d)$/.exec(control) ?? [];
      const source = {
        A01: 'Encounter',
        A03: 'Encounter',
        A04: 'Encounter',
        A28: 'Patient',
        A31: 'Patient',
        R01: 'DiagnosticReport',
        O11: 'MedicationRequest',
        V04: 'Immunization',
        T02: 'DocumentReference',
        O01: 'ServiceRequest',
      }[event ?? ''];
      expect(source, control).toBeDefined();
      const found =
        byId.has(`${source}/${id}`) || (event === 'R01' && byId.has(`Observation/${id}`));
      expect(found, control).toBe(true);
    }
  });

  it('message counts equal the FHIR resources they come from', () => {
    const count = (type: string): number => messages.filter((m) => msgType(m) === type).length;
    const encounters = ofType('Encounter');
    const inpatient = encounters.filter((e) => (e['class'] as Json)['code'] === 'IMP');
    const finished = inpatient.filter((e) => (e['period'] as Json)['end'] !== undefined);
    expect(count('ADT^A04^ADT_A01') + count('ADT^A01^ADT_A01')).toBe(encounters.length);
    expect(count('ADT^A01^ADT_A01')).toBe(inpatient.length);
    expect(count('ADT^A03^ADT_A03')).toBe(finished.length);
    const reported = new Set(
      ofType('DiagnosticReport').flatMap((d) =>
        ((d['result'] as Json[] | undefined) ?? []).map((r) => ref(r, 'Observation')),
      ),
    );
    const lone = ofType('Observation').filter((o) => !reported.has(o['id'] as string));
    expect(count('ORU^R01^ORU_R01')).toBe(ofType('DiagnosticReport').length + lone.length);
    expect(count('RDE^O11^RDE_O11')).toBe(ofType('MedicationRequest').length);
    // Types the default parts may add (none of them: zero messages).
    expect(count('VXU^V04^VXU_V04')).toBe(ofType('Immunization').length);
    expect(count('MDM^T02^MDM_T02')).toBe(ofType('DocumentReference').length);
    expect(count('ORM^O01^ORM_O01')).toBe(ofType('ServiceRequest').length);
    // Procedures with an encounter travel as PR1, each once.
    const pr1 = messages.flatMap((m) => seg(m, 'PR1').map((s) => s.get(19)));
    expect(pr1.sort()).toEqual(
      ofType('Procedure')
        .filter((p) => p['encounter'] !== undefined)
        .map((p) => p['id'] as string)
        .sort(),
    );
    const dead = ofType('Patient').filter((p) => p['deceasedDateTime'] !== undefined);
    expect(count('ADT^A31^ADT_A05')).toBe(dead.length);
    expect(dead.length).toBeGreaterThan(0);
    expect(inpatient.length).toBeGreaterThan(0);
  });

  it('keeps each patient contiguous, in NDJSON patient order, with PID-3 = Patient id', () => {
    const order: string[] = [];
    for (const m of messages) {
      const pid = one(m, 'PID');
      expect(pid.get(3, 4)).toBe('MEDLAKE_SYNTH');
      expect(pid.get(3, 5)).toBe('MR');
      const id = pid.get(3);
      if (order[order.length - 1] !== id) order.push(id);
    }
    expect(order).toEqual(ofType('Patient').map((p) => p['id']));
    for (const m of messages) {
      const pid = one(m, 'PID');
      const p = byId.get(`Patient/${pid.get(3)}`) as Json;
      const name = (p['name'] as Json[])[0] as Json;
      expect(pid.get(5, 1)).toBe(name['family']);
      expect(pid.get(5, 2)).toBe((name['given'] as string[])[0]);
      expect(pid.get(7)).toBe((p['birthDate'] as string).replace(/-/g, ''));
      expect(pid.get(8)).toBe(p['gender'] === 'female' ? 'F' : 'M');
      // Death shows from the time of death on, and only then.
      const death = p['deceasedDateTime'] as string | undefined;
      const msh7 = (m[0] as Segment).raw(7);
      const after = death !== undefined && msh7 >= (toDtm(death) as string);
      expect(pid.get(30)).toBe(after ? 'Y' : '');
      if (after) expect(pid.get(29)).toBe(toDtm(death));
    }
  });

  it('ADT PV1 carries the Encounter: visit number, class, period, attending NPI, diagnoses', () => {
    const dg1Ids: string[] = [];
    for (const m of messages.filter((x) => msgType(x).startsWith('ADT^A0'))) {
      const pv1 = one(m, 'PV1');
      const enc = byId.get(`Encounter/${pv1.get(19)}`) as Json;
      expect(enc, pv1.get(19)).toBeDefined();
      expect(pv1.get(19, 4)).toBe('MEDLAKE_SYNTH');
      const cls = (enc['class'] as Json)['code'];
      expect(pv1.get(2)).toBe({ AMB: 'O', EMER: 'E', IMP: 'I' }[cls as string]);
      const period = enc['period'] as Json;
      expect(pv1.get(44)).toBe(toDtm(period['start']));
      if (msgType(m) === 'ADT^A03^ADT_A03') expect(pv1.get(45)).toBe(toDtm(period['end']));
      // Trial visits (the trial part) name no practitioner: PV1-7 stays empty.
      const participant = (enc['participant'] as Json[] | undefined)?.[0];
      if (participant === undefined) expect(pv1.get(7, 1)).toBe('');
      else {
        const practitioner = byId.get(
          `Practitioner/${ref(participant['individual'], 'Practitioner')}`,
        ) as Json;
        expect(pv1.get(7, 1)).toBe((practitioner['identifier'] as Json[])[0]?.['value']);
        expect(pv1.get(7, 13)).toBe('NPI');
      }
      expect(pv1.get(3, 10)).toBe(ref((enc['location'] as Json[])[0]?.['location'], 'Location'));
      for (const dg1 of seg(m, 'DG1')) {
        const c = byId.get(`Condition/${dg1.get(20)}`) as Json;
        expect(ref(c['encounter'], 'Encounter')).toBe(enc['id']);
        const codings = (c['code'] as Json)['coding'] as Json[];
        expect(dg1.get(3, 1)).toBe(codings[0]?.['code']);
        expect(dg1.get(3, 3)).toBe('SCT');
        expect(dg1.get(3, 4)).toBe(codings[1]?.['code']);
        expect(dg1.get(3, 6)).toBe('I10C');
        dg1Ids.push(dg1.get(20));
      }
      const reason = (enc['reasonCode'] as Json[] | undefined)?.[0];
      const pv2 = seg(m, 'PV2')[0];
      if (reason !== undefined)
        expect(pv2?.get(3)).toBe(((reason['coding'] as Json[])[0] as Json)['code']);
    }
    // Every Condition travels exactly once (all core Conditions have an encounter).
    expect(dg1Ids.sort()).toEqual(
      ofType('Condition')
        .map((c) => c['id'] as string)
        .sort(),
    );
  });

  it('OBX values, units, codes and times equal the Observations', () => {
    let checked = 0;
    for (const m of messages.filter((x) => msgType(x) === 'ORU^R01^ORU_R01')) {
      const obr = one(m, 'OBR');
      const isReport = obr.get(3, 2) === 'MEDLAKE_SYNTH';
      const report = isReport ? (byId.get(`DiagnosticReport/${obr.get(3)}`) as Json) : undefined;
      if (isReport) {
        expect(report).toBeDefined();
        const code = ((report?.['code'] as Json)['coding'] as Json[])[0] as Json;
        expect(obr.get(4)).toBe(code['code']);
        expect(obr.get(4, 3)).toBe('LN');
        expect(obr.get(7)).toBe(toDtm(report?.['effectiveDateTime']));
        // Lab panels go as LAB, imaging reports (the imaging part) as RAD.
        const categories = JSON.stringify(report?.['category'] ?? []);
        expect(obr.get(24)).toBe(categories.includes('LP29684-5') ? 'RAD' : 'LAB');
        expect(obr.get(25)).toBe('F');
      } else {
        expect(obr.get(3, 2)).toBe('MEDLAKE_SYNTH_OBS');
      }
      const obxs = seg(m, 'OBX');
      const obsIds = [...new Set(obxs.map((o) => o.get(4)))];
      if (report !== undefined)
        expect(obsIds).toEqual(
          ((report['result'] as Json[] | undefined) ?? []).map((r) => ref(r, 'Observation')),
        );
      else expect(obsIds).toEqual([obr.get(3)]);
      for (const obx of obxs) {
        const o = byId.get(`Observation/${obx.get(4)}`) as Json;
        const items = (o['component'] as Json[] | undefined) ?? [o];
        const item = items.find(
          (i) => ((i['code'] as Json)['coding'] as Json[])[0]?.['code'] === obx.get(3),
        ) as Json;
        expect(item, obx.get(3)).toBeDefined();
        const q = item['valueQuantity'] as Json;
        expect(obx.get(2)).toBe('NM');
        expect(Number(obx.get(5))).toBe(q['value']);
        expect(obx.get(6, 1)).toBe(q['code']);
        expect(obx.get(6, 3)).toBe('UCUM');
        expect(obx.get(3, 3)).toBe('LN');
        expect(obx.get(11)).toBe('F');
        expect(obx.get(14)).toBe(toDtm(o['effectiveDateTime']));
        checked++;
      }
      // Blood pressure: one OBX per component, systolic then diastolic.
      if (obr.get(4) === '85354-9') expect(obxs.map((x) => x.get(3))).toEqual(['8480-6', '8462-4']);
    }
    expect(checked).toBeGreaterThan(500);
  });

  it('RDE carries the MedicationRequest: RxNorm, dose, frequency, route, indication', () => {
    for (const m of messages.filter((x) => msgType(x) === 'RDE^O11^RDE_O11')) {
      const orc = one(m, 'ORC');
      const mr = byId.get(`MedicationRequest/${orc.get(2)}`) as Json;
      expect(mr).toBeDefined();
      const rxe = one(m, 'RXE');
      const coding = ((mr['medicationCodeableConcept'] as Json)['coding'] as Json[])[0] as Json;
      expect(rxe.get(2)).toBe(coding['code']);
      expect(rxe.get(2, 3)).toBe('RXNORM');
      const dosage = (mr['dosageInstruction'] as Json[])[0] as Json;
      const dose = ((dosage['doseAndRate'] as Json[])[0] as Json)['doseQuantity'] as Json;
      expect(Number(rxe.get(3))).toBe(dose['value']);
      expect(rxe.get(5)).toBe(dose['code']);
      expect(rxe.get(7, 2)).toBe(dosage['text']);
      const condition = byId.get(
        `Condition/${ref((mr['reasonReference'] as Json[])[0], 'Condition')}`,
      ) as Json;
      expect(rxe.get(27)).toBe(((condition['code'] as Json)['coding'] as Json[])[0]?.['code']);
      const repeat = (dosage['timing'] as Json)['repeat'] as Json;
      const tq1 = one(m, 'TQ1');
      expect(tq1.get(3)).toBe({ 1: 'QD', 2: 'BID', 3: 'TID', 4: 'QID' }[repeat['frequency'] as 1]);
      expect(tq1.get(9)).toBe(dosage['asNeededBoolean'] === true ? 'PRN' : '');
      const route = ((dosage['route'] as Json)['coding'] as Json[])[0] as Json;
      expect(one(m, 'RXR').get(1)).toBe(route['code']);
      expect(orc.get(5)).toBe(
        { active: 'IP', stopped: 'DC', completed: 'CM' }[mr['status'] as 'active'],
      );
    }
  });

  it('is byte-identical for the same seed', () => {
    for (const f of files)
      expect(readFileSync(path.join(tmp2, f)).equals(readFileSync(path.join(tmp, f)))).toBe(true);
  });
});

// ---- hand-made resources -----------------------------------------------------------------

const ORG = 'b1b1b1b1-0000-4000-8000-000000000001';
const LOC = 'b1b1b1b1-0000-4000-8000-000000000002';
const DOC = 'b1b1b1b1-0000-4000-8000-000000000003';
const PAT = 'c2c2c2c2-0000-4000-8000-000000000001';
const ENC = 'c2c2c2c2-0000-4000-8000-000000000002';
const ICU = 'c2c2c2c2-0000-4000-8000-000000000003';

const SHARED: JsonResource[] = [
  { resourceType: 'Organization', id: ORG, name: 'Test | General ^ Hospital' },
  { resourceType: 'Location', id: LOC, status: 'active', name: 'Ward & Co' },
  {
    resourceType: 'Practitioner',
    id: DOC,
    identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }],
    name: [{ family: 'House', given: ['Gregory'], prefix: ['Dr.'] }],
  },
];

const ctx = (): Hl7v2Context => hl7v2Context(SHARED, '2025-12-31T23:59:59Z');

function patient(extra: Json = {}): JsonResource {
  return {
    resourceType: 'Patient',
    id: PAT,
    name: [{ use: 'official', family: "O'Brien", given: ['Ann'] }],
    gender: 'female',
    birthDate: '1950-03-04',
    ...extra,
  };
}

const subject = { reference: `Patient/${PAT}` };
const encounterRef = { reference: `Encounter/${ENC}` };

function encounter(id: string, extra: Json = {}): JsonResource {
  return {
    resourceType: 'Encounter',
    id,
    status: 'finished',
    class: {
      system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
      code: 'IMP',
      display: 'inpatient encounter',
    },
    subject,
    participant: [{ individual: { reference: `Practitioner/${DOC}` } }],
    period: { start: '2020-05-01T10:00:00Z', end: '2020-05-04T12:00:00Z' },
    location: [{ location: { reference: `Location/${LOC}` } }],
    serviceProvider: { reference: `Organization/${ORG}` },
    ...extra,
  };
}

const parseMessages = (list: readonly string[]): Segment[][] =>
  list.map((text) => {
    expect(text.endsWith('\r')).toBe(true);
    return text.slice(0, -1).split('\r').map(parseSegment);
  });

const HAND_MADE: JsonResource[] = [
  patient({ deceasedDateTime: '2020-05-04T12:00:00Z' }),
  encounter(ENC),
  encounter(ICU, {
    period: { start: '2020-05-01T10:00:00Z', end: '2020-05-02T10:00:00Z' },
    partOf: encounterRef,
  }),
  {
    resourceType: 'Immunization',
    id: 'imm-1',
    status: 'completed',
    vaccineCode: {
      coding: [
        {
          system: 'http://hl7.org/fhir/sid/cvx',
          code: '140',
          display: 'Influenza, seasonal, injectable, preservative free',
        },
      ],
    },
    patient: subject,
    encounter: encounterRef,
    occurrenceDateTime: '2020-05-02T09:00:00Z',
    primarySource: true,
    location: { reference: `Location/${LOC}` },
    lotNumber: 'LOT^1',
    doseQuantity: { value: 0.5, unit: 'mL', system: 'http://unitsofmeasure.org', code: 'mL' },
  },
  {
    resourceType: 'Procedure',
    id: 'proc-1',
    status: 'completed',
    code: {
      coding: [{ system: 'http://snomed.info/sct', code: '40701008', display: 'Echocardiography' }],
    },
    subject,
    encounter: encounterRef,
    performedPeriod: { start: '2020-05-02T14:00:00Z', end: '2020-05-02T14:45:00Z' },
    performer: [{ actor: { reference: `Practitioner/${DOC}` } }],
  },
  {
    resourceType: 'DocumentReference',
    id: 'doc-1',
    status: 'current',
    docStatus: 'final',
    type: {
      coding: [{ system: 'http://loinc.org', code: '18842-5', display: 'Discharge summary' }],
    },
    subject,
    date: '2020-05-04T11:00:00Z',
    author: [{ reference: `Practitioner/${DOC}` }],
    content: [
      {
        attachment: {
          contentType: 'text/plain',
          data: Buffer.from('Discharged | stable ^ home\r\nFollow up.', 'utf8').toString('base64'),
        },
      },
    ],
    context: { encounter: [encounterRef] },
  },
  {
    resourceType: 'ServiceRequest',
    id: 'sr-1',
    status: 'active',
    intent: 'order',
    code: {
      coding: [{ system: 'http://loinc.org', code: '24323-8', display: 'Comprehensive metabolic' }],
    },
    subject,
    encounter: encounterRef,
    authoredOn: '2020-05-01T10:30:00Z',
    requester: { reference: `Practitioner/${DOC}` },
  },
  {
    resourceType: 'Observation',
    id: 'obs-range',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }] },
    subject,
    encounter: encounterRef,
    effectiveDateTime: '2020-05-01T11:00:00Z',
    valueQuantity: {
      value: 182,
      unit: 'mg/dL',
      system: 'http://unitsofmeasure.org',
      code: 'mg/dL',
    },
    referenceRange: [{ low: { value: 70 }, high: { value: 99 } }],
  },
  {
    resourceType: 'Observation',
    id: 'obs-interp',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }] },
    subject,
    encounter: encounterRef,
    effectiveDateTime: '2020-05-01T11:00:00Z',
    valueQuantity: { value: 9.1, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
    interpretation: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
            code: 'L',
          },
        ],
      },
    ],
  },
  {
    resourceType: 'Observation',
    id: 'obs-coded',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '72166-2', display: 'Tobacco status' }] },
    subject,
    effectiveDateTime: '2020-05-01T11:00:00Z',
    valueCodeableConcept: {
      coding: [{ system: 'http://snomed.info/sct', code: '8517006', display: 'Ex-smoker' }],
    },
  },
  {
    resourceType: 'Observation',
    id: 'obs-text',
    status: 'preliminary',
    code: { coding: [{ system: 'http://loinc.org', code: '8251-1', display: 'Service comment' }] },
    subject,
    effectiveDateTime: '2020-05-01T11:00:00Z',
    valueString: 'a|b^c~d\\e&f',
  },
];

describe('hl7v2 messages from hand-made resources', () => {
  it('the hand-made resources are valid FHIR R4', () => {
    const validator = new FhirR4Validator();
    const errors = HAND_MADE.flatMap((r) => validator.validate(r as Json));
    expect(errors, formatErrors(errors)).toEqual([]);
  });

  const parsed = (): Segment[][] => parseMessages(hl7v2Messages(HAND_MADE, ctx()));
  const byType = (type: string): Segment[][] => parsed().filter((m) => msgType(m) === type);

  it('every message is well-formed and sorted by clinical time', () => {
    const ms = parsed();
    for (const m of ms) checkWellFormed(m);
    const times = ms.map((m) => (m[0] as Segment).raw(7));
    expect([...times].sort()).toEqual(times);
    expect(ms.map(msgType)).toEqual([
      'ADT^A01^ADT_A01',
      'ADT^A01^ADT_A01',
      'ORM^O01^ORM_O01',
      'ORU^R01^ORU_R01',
      'ORU^R01^ORU_R01',
      'ORU^R01^ORU_R01',
      'ORU^R01^ORU_R01',
      'VXU^V04^VXU_V04',
      'ADT^A03^ADT_A03',
      'MDM^T02^MDM_T02',
      'ADT^A03^ADT_A03',
      'ADT^A31^ADT_A05',
    ]);
  });

  it('escapes delimiters in MSH-4 and keeps the ICU stay as its own visit with PV1-50', () => {
    const [adt, icu] = byType('ADT^A01^ADT_A01') as [Segment[], Segment[]];
    expect((adt[0] as Segment).raw(4)).toBe('Test \\F\\ General \\S\\ Hospital^' + ORG + '^UUID');
    expect((adt[0] as Segment).get(4)).toBe('Test | General ^ Hospital');
    expect(one(adt, 'PV1').get(3, 9)).toBe('Ward & Co');
    expect(one(icu, 'PV1').get(19)).toBe(ICU);
    expect(one(icu, 'PV1').get(50)).toBe(ENC);
    expect(one(adt, 'PV1').get(7, 2)).toBe('House');
    expect(one(adt, 'PV1').get(7, 9, 2)).toBe('2.16.840.1.113883.4.6');
  });

  it('PR1: the procedures of a stay travel in its A03, with time, minutes and id', () => {
    const [a01] = byType('ADT^A01^ADT_A01') as [Segment[]];
    expect(seg(a01, 'PR1')).toEqual([]);
    const a03 = byType('ADT^A03^ADT_A03').find((m) => one(m, 'PV1').get(19) === ENC) as Segment[];
    const pr1 = one(a03, 'PR1');
    expect([pr1.get(3), pr1.get(3, 3), pr1.get(5), pr1.get(7), pr1.get(12), pr1.get(19)]).toEqual([
      '40701008',
      'SCT',
      '20200502140000+0000',
      '45',
      '1234567893',
      'proc-1',
    ]);
  });

  it('VXU: RXA with CVX, dose, lot number and completion status', () => {
    const [m] = byType('VXU^V04^VXU_V04') as [Segment[]];
    const rxa = one(m, 'RXA');
    expect(rxa.get(3)).toBe('20200502090000+0000');
    expect([rxa.get(5), rxa.get(5, 3)]).toEqual(['140', 'CVX']);
    expect([rxa.get(6), rxa.get(7)]).toEqual(['0.5', 'mL']);
    expect(rxa.get(15)).toBe('LOT^1');
    expect([rxa.get(20), rxa.get(21)]).toEqual(['CP', 'A']);
    expect(one(m, 'ORC').get(3)).toBe('imm-1');
    expect(rxa.get(11, 4, 2)).toBe(LOC);
  });

  it('MDM: TXA with the document id and type, OBX with the content (base64 round trip)', () => {
    const [m] = byType('MDM^T02^MDM_T02') as [Segment[]];
    const txa = one(m, 'TXA');
    expect([txa.get(2), txa.get(12), txa.get(17), txa.get(19)]).toEqual([
      'DS',
      'doc-1',
      'AU',
      'AV',
    ]);
    expect(txa.get(9, 1)).toBe('1234567893');
    const obx = one(m, 'OBX');
    expect([obx.get(2), obx.get(3), obx.get(5, 2), obx.get(5, 4)]).toEqual([
      'ED',
      '18842-5',
      'TEXT',
      'Base64',
    ]);
    expect(Buffer.from(obx.get(5, 5), 'base64').toString('utf8')).toBe(
      'Discharged | stable ^ home\r\nFollow up.',
    );
  });

  it('ORM: ORC/OBR with the ServiceRequest id, code and requester', () => {
    const [m] = byType('ORM^O01^ORM_O01') as [Segment[]];
    expect(one(m, 'ORC').get(1)).toBe('NW');
    expect(one(m, 'ORC').get(2)).toBe('sr-1');
    expect(one(m, 'OBR').get(4)).toBe('24323-8');
    expect(one(m, 'OBR').get(16)).toBe('1234567893');
  });

  it('ORU: reference range, abnormal flags, coded and text values', () => {
    const obx = byType('ORU^R01^ORU_R01').map((m) => one(m, 'OBX'));
    const byId = new Map(obx.map((o) => [o.get(4), o]));
    const range = byId.get('obs-range') as Segment;
    expect([range.get(7), range.get(8)]).toEqual(['70-99', 'H']);
    const interp = byId.get('obs-interp') as Segment;
    expect([interp.get(5), interp.get(8)]).toEqual(['9.1', 'L']);
    const coded = byId.get('obs-coded') as Segment;
    expect([coded.get(2), coded.get(5), coded.get(5, 2), coded.get(5, 3)]).toEqual([
      'CWE',
      '8517006',
      'Ex-smoker',
      'SCT',
    ]);
    const text = byId.get('obs-text') as Segment;
    expect([text.get(2), text.get(5), text.get(11)]).toEqual(['ST', 'a|b^c~d\\e&f', 'P']);
    expect(text.raw(5)).toBe('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f');
  });

  it('death: PID-29/30 from the time of death on, and an A31', () => {
    const ms = parsed();
    const withDeath = ms.filter((m) => one(m, 'PID').get(30) === 'Y').map(msgType);
    expect(withDeath).toEqual(['ADT^A03^ADT_A03', 'ADT^A31^ADT_A05']);
    const a31 = ms.find((m) => msgType(m) === 'ADT^A31^ADT_A05') as Segment[];
    expect(one(a31, 'PID').get(29)).toBe('20200504120000+0000');
  });

  it('a patient with nothing else gets an A28 person registration', () => {
    const ms = parseMessages(hl7v2Messages([patient()], ctx()));
    expect(ms.map(msgType)).toEqual(['ADT^A28^ADT_A05']);
    expect(one(ms[0] as Segment[], 'PID').get(3)).toBe(PAT);
  });
});

describe('hl7v2 escaping', () => {
  it('escapes each delimiter', () => {
    expect(escapeHl7('|^~\\&')).toBe('\\F\\\\S\\\\R\\\\E\\\\T\\');
    expect(escapeHl7('a\r\nb')).toBe('a\\X0D\\\\X0A\\b');
  });

  it('names and string values with any characters round-trip (property)', () => {
    const text = fc.string({ unit: 'binary', maxLength: 40 });
    const awkward = fc
      .array(fc.constantFrom('|', '^', '~', '\\', '&', '\r', '\n', 'a', 'é', '\\F\\', ' '), {
        maxLength: 12,
      })
      .map((a) => a.join(''));
    const value = fc.oneof(text, awkward);
    fc.assert(
      fc.property(value, value, value, (family, given, comment) => {
        const resources: JsonResource[] = [
          patient({ name: [{ family, given: [given] }] }),
          {
            resourceType: 'Observation',
            id: 'o1',
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '8251-1' }] },
            subject,
            effectiveDateTime: '2020-01-01T00:00:00Z',
            valueString: comment,
          },
        ];
        const [m] = parseMessages(hl7v2Messages(resources, ctx())) as [Segment[]];
        expect(m.every((s) => /^[A-Z][A-Z0-9]{2}$/.test(s.name))).toBe(true);
        const pid = one(m, 'PID');
        expect(pid.get(5, 1)).toBe(family);
        expect(pid.get(5, 2)).toBe(given);
        expect(one(m, 'OBX').get(5)).toBe(comment);
      }),
      { numRuns: 200 },
    );
  });

  it('dates become DTM with the offset', () => {
    expect(toDtm('2020-05-01T10:00:00Z')).toBe('20200501100000+0000');
    expect(toDtm('2020-05-01T10:00:00.25-05:00')).toBe('20200501100000.25-0500');
    expect(toDtm('2020-05-01')).toBe('20200501');
    expect(toDtm('2020-05')).toBe('202005');
    expect(toDtm('nonsense')).toBeUndefined();
  });
});

describe('hl7v2 files', () => {
  it('rolls over at 10,000 messages, keeping a patient in one file, with right BTS counts', async () => {
    const dir = makeTempDir('synth-hl7v2-roll');
    try {
      const run = {
        args: { patients: 3, seed: 1, start: '2020-01-01', end: '2020-12-31', region: 'us' },
        window: { startDay: 0, endDay: 0 },
        sites: [],
      } as unknown as SynthRun;
      const writer = hl7v2Writer(path.join(dir, 'hl7v2'), run);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(path.join(dir, 'hl7v2'));
      writer.shared(SHARED);
      const per = 3400;
      for (let p = 0; p < 3; p++) {
        const pid = `p${p}`;
        const resources: JsonResource[] = [{ resourceType: 'Patient', id: pid }];
        for (let i = 0; i < per; i++)
          resources.push({
            resourceType: 'Observation',
            id: `${pid}-o${i}`,
            status: 'final',
            code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
            subject: { reference: `Patient/${pid}` },
            effectiveDateTime: '2020-01-01T00:00:00Z',
            valueQuantity: {
              value: i,
              unit: '/min',
              system: 'http://unitsofmeasure.org',
              code: '/min',
            },
          });
        await writer.patient({ history: undefined as never, resources });
      }
      const out = await writer.close();
      expect(out.files).toEqual(['hl7v2/messages-0001.hl7', 'hl7v2/messages-0002.hl7']);
      const counts = out.files.map((f) => {
        const b = parseBatchFile(readFileSync(path.join(dir, f), 'utf8'));
        expect(Number(b.trailer[0]?.raw(1))).toBe(b.messages.length);
        return b.messages.length;
      });
      expect(counts).toEqual([2 * per, per]);
      expect(Math.max(...counts)).toBeLessThanOrEqual(MESSAGES_PER_FILE);
    } finally {
      removeDir(dir);
    }
  });
});
