/**
 * The `procedures` and `immunizations` synth parts: valid R4, references resolve, every
 * resource lies inside its encounter, before death and inside the window, truth.json equals
 * what is recounted from the output, output is deterministic and leaves the core unchanged.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../src/synth/index.js';
import { CONDITIONS, CONDITION_KEYS } from '../src/synth/conditions.js';
import { ageOn, daysFromCivil, parseDay } from '../src/synth/dates.js';
import { IMMUNIZATION_RATES, VACCINES, immunizationsPart } from '../src/synth/immunizations.js';
import { PROCEDURE_CODES, proceduresPart } from '../src/synth/procedures.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

const PATIENTS = 600;
const SEED = 11;
const START = '2015-01-01';
const END = '2025-12-31';

let tmp = '';
let tmpCore = '';
let tmpAgain = '';
let byType = new Map<string, Json[]>();
let truth: Json = {};

function readAll(dir: string): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ndjson'))) {
    const rows = readFileSync(path.join(dir, file), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Json);
    out.set(file.replace(/\.ndjson$/, ''), rows);
  }
  return out;
}

const ref = (v: unknown): string => String((v as Json)['reference']);
const firstCode = (cc: unknown): string =>
  String(((cc as Json)['coding'] as Json[])[0]?.['code'] ?? '');
const ms = (iso: unknown): number => Date.parse(String(iso));

beforeAll(async () => {
  tmp = makeTempDir('synth-procedures');
  tmpCore = makeTempDir('synth-procedures-core');
  tmpAgain = makeTempDir('synth-procedures-again');
  const parts = [proceduresPart, immunizationsPart];
  const common = { patients: PATIENTS, seed: SEED, start: START, end: END };
  await synthesize({ ...common, outDir: tmp, parts });
  await synthesize({ ...common, outDir: tmpAgain, parts });
  await synthesize({ ...common, outDir: tmpCore, parts: [] });
  byType = readAll(tmp);
  truth = JSON.parse(readFileSync(path.join(tmp, 'truth.json'), 'utf8')) as Json;
}, 60_000);

afterAll(() => {
  removeDir(tmp);
  removeDir(tmpCore);
  removeDir(tmpAgain);
});

const rows = (type: string): Json[] => byType.get(type) ?? [];
const partTruth = (name: string): Json =>
  ((truth['parts'] as Json)[name] as Json)['realised'] as Json;

describe('procedures and immunizations parts', () => {
  it('emits a reasonable number of each', () => {
    expect(rows('Procedure').length).toBeGreaterThan(PATIENTS);
    expect(rows('Immunization').length).toBeGreaterThan(PATIENTS);
    const codes = new Set(rows('Procedure').map((p) => firstCode(p['code'])));
    for (const k of ['ecg', 'depressionScreening', 'medicationReconciliation', 'colonoscopy'])
      expect(codes).toContain(PROCEDURE_CODES[k as keyof typeof PROCEDURE_CODES].code);
    const cvx = new Set(rows('Immunization').map((p) => firstCode(p['vaccineCode'])));
    for (const k of ['influenza', 'tdap', 'pcv13', 'zosterRecombinant', 'covid19Pfizer'])
      expect(cvx).toContain(VACCINES[k as keyof typeof VACCINES].code);
  });

  it('every Procedure and Immunization is valid R4', () => {
    const validator = new FhirR4Validator();
    const all = [...rows('Procedure'), ...rows('Immunization')];
    const errors = all.flatMap((r) => validator.validate(r));
    expect(errors.length, formatErrors(errors, 20)).toBe(0);
    // The validator does reject a broken one.
    const bad = { ...(rows('Procedure')[0] as Json), status: 'done' };
    expect(validator.validate(bad).length).toBeGreaterThan(0);
  });

  it('references resolve and resources lie inside encounter, life and window', () => {
    const ids = new Set<string>();
    for (const [type, list] of byType) for (const r of list) ids.add(`${type}/${String(r['id'])}`);
    const enc = new Map(rows('Encounter').map((e) => [`Encounter/${String(e['id'])}`, e]));
    const patients = new Map(rows('Patient').map((p) => [`Patient/${String(p['id'])}`, p]));
    const windowStart = ms(`${START}T00:00:00Z`);
    const windowEnd = ms(`${END}T23:59:59Z`);
    const problems: string[] = [];
    const check = (r: Json, patientRef: string, from: number, to: number): void => {
      const where = `${String(r['resourceType'])}/${String(r['id'])}`;
      const refs = [
        patientRef,
        ref(r['encounter']),
        ...(r['location'] === undefined ? [] : [ref(r['location'])]),
        ...((r['performer'] as Json[] | undefined) ?? []).map((p) => ref(p['actor'])),
        ...((r['reasonReference'] as Json[] | undefined) ?? []).map(ref),
      ];
      for (const x of refs) if (!ids.has(x)) problems.push(`${where}: unresolved ${x}`);
      const e = enc.get(ref(r['encounter'])) as Json;
      const p = patients.get(patientRef) as Json;
      if (ref(e['subject']) !== patientRef) problems.push(`${where}: encounter of another patient`);
      const period = e['period'] as Json;
      if (from < ms(period['start'])) problems.push(`${where}: before its encounter`);
      if (period['end'] !== undefined && to > ms(period['end']))
        problems.push(`${where}: after its encounter`);
      if (from > to) problems.push(`${where}: ends before it starts`);
      if (from < ms(`${String(p['birthDate'])}T00:00:00Z`)) problems.push(`${where}: before birth`);
      if (p['deceasedDateTime'] !== undefined && to > ms(p['deceasedDateTime']))
        problems.push(`${where}: after death`);
      if (from < windowStart || to > windowEnd) problems.push(`${where}: outside the window`);
    };
    for (const r of rows('Procedure')) {
      const pp = r['performedPeriod'] as Json;
      check(r, ref(r['subject']), ms(pp['start']), ms(pp['end']));
    }
    for (const r of rows('Immunization'))
      check(r, ref(r['patient']), ms(r['occurrenceDateTime']), ms(r['occurrenceDateTime']));
    expect(problems.slice(0, 20), `${problems.length} problems`).toEqual([]);
  });

  it('procedure truth equals the output recounted by code, year and reason', () => {
    const t = partTruth('procedures');
    const codeKey = new Map<string, string>(
      Object.entries(PROCEDURE_CODES).map(([k, v]) => [v.code, k]),
    );
    const condKey = new Map(CONDITION_KEYS.map((k) => [CONDITIONS[k].snomed.code, k as string]));
    const conditions = new Map(rows('Condition').map((c) => [`Condition/${String(c['id'])}`, c]));
    const byYear: Record<string, Record<string, number>> = {};
    const byReason: Record<string, Record<string, number>> = {};
    for (const r of rows('Procedure')) {
      const key = codeKey.get(firstCode(r['code'])) as string;
      const year = String((r['performedPeriod'] as Json)['start']).slice(0, 4);
      const y = (byYear[year] ??= {});
      y[key] = (y[key] ?? 0) + 1;
      const reasons = (r['reasonReference'] as Json[] | undefined) ?? [];
      const reason =
        reasons.length === 0
          ? 'none'
          : (condKey.get(firstCode(conditions.get(ref(reasons[0]))?.['code'])) as string);
      const row = (byReason[reason] ??= {});
      row[key] = (row[key] ?? 0) + 1;
    }
    const truthYear = t['byYear'] as Record<string, Record<string, number>>;
    for (const [year, row] of Object.entries(truthYear))
      for (const [k, n] of Object.entries(row))
        expect(byYear[year]?.[k] ?? 0, `${year} ${k}`).toBe(n);
    expect(t['byReason']).toEqual(byReason);
    expect(t['total']).toBe(rows('Procedure').length);
    // Procedures for acute events point to that condition's Condition.
    expect(byReason['myocardialInfarction']?.['ecg'] ?? 0).toBeGreaterThan(0);
    expect(byReason['none']?.['pci']).toBeUndefined();
  });

  it('realised shares are near the parameters where the sample is large', () => {
    const shares = partTruth('procedures')['shares'] as Record<string, number | null>;
    expect(shares['wellnessDepressionScreening']).toBeGreaterThan(0.25);
    expect(shares['wellnessDepressionScreening']).toBeLessThan(0.45);
    expect(shares['depressionPhq9']).toBeGreaterThan(0.7);
  });

  it('immunization truth equals the output recounted by vaccine and year', () => {
    const t = partTruth('immunizations');
    const vaccineKey = new Map<string, string>(
      Object.entries(VACCINES).map(([k, v]) => [v.code, k]),
    );
    const counted: Record<string, Record<string, number>> = {};
    for (const r of rows('Immunization')) {
      const year = String(r['occurrenceDateTime']).slice(0, 4);
      const k = vaccineKey.get(firstCode(r['vaccineCode'])) as string;
      const row = (counted[year] ??= {});
      row[k] = (row[k] ?? 0) + 1;
    }
    const truthYear = t['dosesByYear'] as Record<string, Record<string, number>>;
    for (const [year, row] of Object.entries(truthYear))
      for (const [k, n] of Object.entries(row))
        expect(counted[year]?.[k] ?? 0, `${year} ${k}`).toBe(n);
    expect(t['total']).toBe(rows('Immunization').length);
    // COVID-19 only in its period; zoster only from 2018.
    for (const r of rows('Immunization')) {
      const d = String(r['occurrenceDateTime']).slice(0, 10);
      if (firstCode(r['vaccineCode']) === VACCINES.covid19Pfizer.code)
        expect(d >= '2020-12-14' && d <= '2022-08-31', d).toBe(true);
      if (firstCode(r['vaccineCode']) === VACCINES.zosterRecombinant.code)
        expect(d >= '2018-01-01', d).toBe(true);
    }
  });

  it('influenza coverage truth equals persons alive and vaccinated recounted per season', () => {
    const S = IMMUNIZATION_RATES.influenzaSeason;
    const band = (age: number): string =>
      age < 18 ? '6mo-17' : age < 50 ? '18-49' : age < 65 ? '50-64' : '65+';
    const flu = new Map<string, string[]>();
    for (const r of rows('Immunization'))
      if (firstCode(r['vaccineCode']) === VACCINES.influenza.code) {
        const p = ref(r['patient']);
        flu.set(p, [...(flu.get(p) ?? []), String(r['occurrenceDateTime']).slice(0, 10)]);
      }
    const startDay = parseDay(START);
    const endDay = parseDay(END);
    const alive = new Map<string, number>();
    const vaccinated = new Map<string, number>();
    for (const p of rows('Patient')) {
      const birth = parseDay(String(p['birthDate']));
      const death =
        p['deceasedDateTime'] === undefined
          ? null
          : parseDay(String(p['deceasedDateTime']).slice(0, 10));
      const doses = (flu.get(`Patient/${String(p['id'])}`) ?? []).map(parseDay);
      let used = 0;
      for (let y = 2014; y <= 2025; y++) {
        const from = Math.max(daysFromCivil(y, S.startMonth, 1), startDay, birth + S.minAgeDays);
        const to = Math.min(
          daysFromCivil(y + 1, S.endMonth + 1, 1) - 1,
          death === null ? endDay : Math.min(endDay, death - 1),
        );
        if (from > to) continue;
        const key = `${y}-${String((y + 1) % 100).padStart(2, '0')} ${band(ageOn(birth, from))}`;
        alive.set(key, (alive.get(key) ?? 0) + 1);
        const n = doses.filter((d) => d >= from && d <= to).length;
        expect(n).toBeLessThanOrEqual(1);
        used += n;
        if (n === 1) vaccinated.set(key, (vaccinated.get(key) ?? 0) + 1);
      }
      expect(used).toBe(doses.length);
    }
    const rowsTruth = partTruth('immunizations')['influenzaCoverage'] as {
      season: string;
      band: string;
      alive: number;
      vaccinated: number;
    }[];
    expect(rowsTruth.length).toBe(alive.size);
    for (const r of rowsTruth) {
      expect(r.alive, `${r.season} ${r.band}`).toBe(alive.get(`${r.season} ${r.band}`));
      expect(r.vaccinated).toBe(vaccinated.get(`${r.season} ${r.band}`) ?? 0);
    }
    // Coverage seen in the EHR: below survey uptake (shots elsewhere are not seen), not far.
    const old = rowsTruth.filter((r) => r.band === '65+');
    const cov = old.reduce((a, r) => a + r.vaccinated, 0) / old.reduce((a, r) => a + r.alive, 0);
    expect(cov).toBeGreaterThan(0.3);
    expect(cov).toBeLessThan(IMMUNIZATION_RATES.influenzaUptake[3]);
  });

  it('is deterministic and leaves the core output unchanged', () => {
    for (const f of ['Procedure.ndjson', 'Immunization.ndjson', 'truth.json'])
      expect(readFileSync(path.join(tmpAgain, f), 'utf8')).toBe(
        readFileSync(path.join(tmp, f), 'utf8'),
      );
    for (const f of [
      'Patient.ndjson',
      'Encounter.ndjson',
      'Condition.ndjson',
      'Observation.ndjson',
    ])
      expect(readFileSync(path.join(tmpCore, f), 'utf8')).toBe(
        readFileSync(path.join(tmp, f), 'utf8'),
      );
  });
});
