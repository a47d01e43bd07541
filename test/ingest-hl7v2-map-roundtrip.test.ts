/**
 * Round trip: the generator writes a known FHIR population and the HL7 v2 messages a hospital
 * would have sent for it (docs/synth-formats-hl7v2.md); reading those messages back must give
 * the same facts. Resources are linked by the FHIR ids the generator carries (PID-3, PV1-19,
 * DG1-20, OBR-3, ORC-2/3, TXA-12); the lake's newest-wins (meta.lastUpdated) is applied.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileContext } from '../src/ingest/convert.js';
import type { FhirObject } from '../src/ingest/convert.js';
import { hl7v2Converter } from '../src/ingest/hl7v2/converter.js';
import { synthesize } from '../src/synth/index.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

let tmp = '';
/** The generator's FHIR, by type. */
const gen = new Map<string, Json[]>();
/** What the HL7 v2 read gives after newest-wins, by type. */
const got = new Map<string, FhirObject[]>();
let quarantined: string[] = [];
let versions = 0;

const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const of = (m: Map<string, Json[]> | Map<string, FhirObject[]>, t: string): Json[] =>
  (m.get(t) ?? []) as Json[];
/** Identifier values of a resource. */
const idValues = (r: Json): string[] => arr(r['identifier']).map((i) => String(i['value']));
const codeOf = (cc: unknown): string =>
  String(arr((cc as Json | undefined)?.['coding'])[0]?.['code']);

beforeAll(async () => {
  tmp = makeTempDir('hl7v2-map-rt');
  await synthesize({ patients: 60, seed: 11, outDir: tmp, formats: ['hl7v2'] });
  for (const f of readdirSync(tmp).filter((x) => x.endsWith('.ndjson'))) {
    gen.set(
      f.replace('.ndjson', ''),
      readFileSync(path.join(tmp, f), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Json),
    );
  }
  const dir = path.join(tmp, 'hl7v2');
  const files = readdirSync(dir)
    .sort()
    .map((f) => path.join(dir, f));
  const latest = new Map<string, FhirObject>();
  for await (const r of hl7v2Converter.read(files, fileContext(createHash('sha256')))) {
    if (r.kind === 'quarantine') {
      quarantined.push(r.reason);
      continue;
    }
    versions++;
    const key = `${r.resource.resourceType}/${r.resource.id}`;
    const prev = latest.get(key);
    const t = (x: FhirObject): number =>
      Date.parse(String((x['meta'] as Json | undefined)?.['lastUpdated']));
    if (prev === undefined || t(r.resource) >= t(prev)) latest.set(key, r.resource);
  }
  for (const r of latest.values()) {
    const list = got.get(r.resourceType) ?? [];
    list.push(r);
    got.set(r.resourceType, list);
  }
}, 120_000);

afterAll(() => {
  removeDir(tmp);
  quarantined = [];
});

describe('generator HL7 v2 → FHIR round trip (60 patients)', () => {
  it('maps every message (nothing quarantined)', () => {
    expect(quarantined).toEqual([]);
    expect(versions).toBeGreaterThan(of(got, 'Encounter').length);
  });

  it('Patients: one per generator Patient, same birthDate and gender', () => {
    const pats = of(got, 'Patient');
    expect(pats).toHaveLength(of(gen, 'Patient').length);
    const byGenId = new Map(pats.map((p) => [idValues(p)[0], p]));
    for (const g of of(gen, 'Patient')) {
      const p = byGenId.get(String(g['id']));
      expect(p, String(g['id'])).toBeDefined();
      expect(p!['birthDate']).toBe(g['birthDate']);
      expect(p!['gender']).toBe(g['gender']);
      expect(p!['deceasedDateTime'] === undefined).toBe(g['deceasedDateTime'] === undefined);
    }
  });

  it('Encounters: count, class, period and final status (A01 → A03 newest wins)', () => {
    const encs = of(got, 'Encounter');
    expect(encs).toHaveLength(of(gen, 'Encounter').length);
    const byGenId = new Map(encs.map((e) => [idValues(e)[0], e]));
    const expectClass = (c: string): string =>
      ({ AMB: 'AMB', EMER: 'EMER', IMP: 'IMP', ACUTE: 'IMP', NONAC: 'IMP', PRENC: 'PRENC' })[c] ??
      'AMB';
    for (const g of of(gen, 'Encounter')) {
      const e = byGenId.get(String(g['id']))!;
      expect(e, String(g['id'])).toBeDefined();
      expect((e['class'] as Json)['code']).toBe(expectClass(String((g['class'] as Json)['code'])));
      const gp = g['period'] as Json;
      const ep = e['period'] as Json;
      expect(Date.parse(String(ep['start']))).toBe(Date.parse(String(gp['start'])));
      if (gp['end'] !== undefined) {
        expect(Date.parse(String(ep['end']))).toBe(Date.parse(String(gp['end'])));
        expect(e['status']).toBe('finished');
      }
    }
  });

  it('Conditions from DG1: every Condition with an encounter, same code', () => {
    const conds = of(got, 'Condition');
    const carried = of(gen, 'Condition').filter((c) => c['encounter'] !== undefined);
    expect(conds).toHaveLength(carried.length);
    const byGenId = new Map(conds.map((c) => [idValues(c)[0], c]));
    for (const g of carried)
      expect(codeOf(byGenId.get(String(g['id']))?.['code'])).toBe(codeOf(g['code']));
  });

  it('DiagnosticReports: one per report, plus one per Observation sent alone (its OBR)', () => {
    const genReports = of(gen, 'DiagnosticReport');
    const inReports = new Set(
      genReports.flatMap((d) => arr(d['result']).map((r) => String(r['reference']).split('/')[1])),
    );
    const lone = of(gen, 'Observation').filter((o) => !inReports.has(String(o['id'])));
    expect(of(got, 'DiagnosticReport')).toHaveLength(genReports.length + lone.length);
  });

  it('Observations: count, code, value and unit (components for panels)', () => {
    const obs = new Map(of(got, 'Observation').map((o) => [String(o['id']), o]));
    expect(obs.size).toBe(of(gen, 'Observation').length);
    const genObs = new Map(of(gen, 'Observation').map((o) => [String(o['id']), o]));
    // Link: my report (identifier = OBR-3 = generator report or lone Observation id) → results by code.
    let compared = 0;
    for (const dr of of(got, 'DiagnosticReport')) {
      const key = idValues(dr)[0]!;
      const gReport = of(gen, 'DiagnosticReport').find((d) => d['id'] === key);
      const gResults = gReport
        ? arr(gReport['result']).map((r) => genObs.get(String(r['reference']).split('/')[1]!)!)
        : [genObs.get(key)!];
      const mine = arr(dr['result']).map((r) => obs.get(String(r['reference']).split('/')[1]!)!);
      expect(mine.length, key).toBe(gResults.length);
      for (const g of gResults) {
        const m = mine.find((x) => codeOf(x['code']) === codeOf(g['code']));
        expect(m, `${key} ${codeOf(g['code'])}`).toBeDefined();
        const gq = g['valueQuantity'] as Json | undefined;
        if (gq !== undefined) {
          expect((m!['valueQuantity'] as Json)['value']).toBe(gq['value']);
          expect((m!['valueQuantity'] as Json)['code']).toBe(gq['code']);
        }
        if (g['valueCodeableConcept'] !== undefined)
          expect(codeOf(m!['valueCodeableConcept'])).toBe(codeOf(g['valueCodeableConcept']));
        if (typeof g['valueString'] === 'string') expect(m!['valueString']).toBe(g['valueString']);
        const gc = arr(g['component']);
        expect(arr(m!['component']).map((c) => codeOf(c['code']))).toEqual(
          gc.map((c) => codeOf(c['code'])),
        );
        expect(
          arr(m!['component']).map((c) => (c['valueQuantity'] as Json | undefined)?.['value']),
        ).toEqual(gc.map((c) => (c['valueQuantity'] as Json | undefined)?.['value']));
        compared++;
      }
    }
    expect(compared).toBe(genObs.size);
  });

  it('MedicationRequests, Immunizations, ServiceRequests, DocumentReferences: counts and codes', () => {
    const check = (type: string, code: (r: Json) => unknown): void => {
      const mine = of(got, type);
      expect(mine, type).toHaveLength(of(gen, type).length);
      const byGenId = new Map(
        mine.map((r) => [
          type === 'DocumentReference'
            ? String((r['masterIdentifier'] as Json)['value'])
            : idValues(r)[0],
          r,
        ]),
      );
      for (const g of of(gen, type)) {
        const m = byGenId.get(String(g['id']));
        expect(m, `${type} ${String(g['id'])}`).toBeDefined();
        expect(code(m!)).toBe(code(g));
      }
    };
    check('MedicationRequest', (r) => codeOf(r['medicationCodeableConcept']));
    check('Immunization', (r) => codeOf(r['vaccineCode']));
    check('ServiceRequest', (r) => codeOf(r['code']));
    check('DocumentReference', (r) => arr(r['content']).length);
  });

  it('every resource is valid FHIR R4 and every reference to a mapped type resolves', () => {
    const v = new FhirR4Validator();
    const ids = new Set([...got.values()].flat().map((r) => `${r.resourceType}/${r.id}`));
    const refs: string[] = [];
    const walk = (x: unknown): void => {
      if (Array.isArray(x)) x.forEach(walk);
      else if (x !== null && typeof x === 'object')
        for (const [k, y] of Object.entries(x as Json)) {
          if (k === 'reference' && typeof y === 'string') refs.push(y);
          else walk(y);
        }
    };
    const errors: string[] = [];
    for (const r of [...got.values()].flat()) {
      const e = formatErrors(v.validate(r));
      if (e !== '') errors.push(e);
      walk(r);
    }
    expect(errors.slice(0, 5)).toEqual([]);
    const dangling = refs.filter((r) => !ids.has(r));
    expect(dangling.slice(0, 5)).toEqual([]);
  });
});
