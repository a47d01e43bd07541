/**
 * The planted effects in truth.json (docs/synth.md, "Planted effects"): the first-line
 * treatment effect with confounding by indication, 30-day readmissions, the payer disparity
 * in blood-pressure control and the HbA1c test's accuracy. Each is recounted from the FHIR
 * output (a 2,000-patient population written to files) and, where precision needs it,
 * checked against its parameter on a larger population generated without files.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../src/synth/index.js';
import type { SynthSink, Truth } from '../src/synth/index.js';
import { DRUGS, FIRST_LINE, amlodipineProbability } from '../src/synth/medications.js';
import { CONDITIONS, HYPERTENSION_CONTROL } from '../src/synth/conditions.js';
import { AGE_BANDS } from '../src/synth/demographics.js';
import { INCOME_BANDS, INCOME_BAND_SHARES } from '../src/synth/insurance.js';
import { INCOME_BAND_EXTENSION_URL } from '../src/synth/patient-resources.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

let tmp = '';
let small: Truth;
let large: Truth;
const byType = new Map<string, Json[]>();

/** A sink that drops the resources: truth only, for large populations. */
const nullSink = (): SynthSink => ({
  emit() {},
  drain: () => Promise.resolve(),
  close: () => Promise.resolve({ counts: {}, bytes: 0 }),
  destroy() {},
});

beforeAll(async () => {
  tmp = makeTempDir('synth-effects');
  const out = path.join(tmp, 'out');
  await synthesize({ patients: 2000, seed: 21, outDir: out, parts: [] });
  small = JSON.parse(readFileSync(path.join(out, 'truth.json'), 'utf8')) as Truth;
  for (const f of readdirSync(out).filter((x) => x.endsWith('.ndjson')))
    byType.set(
      f.replace('.ndjson', ''),
      readFileSync(path.join(out, f), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Json),
    );
  await synthesize({
    patients: 20000,
    seed: 11,
    outDir: path.join(tmp, 'large'),
    sink: nullSink(),
    parts: [],
  });
  large = JSON.parse(readFileSync(path.join(tmp, 'large', 'truth.json'), 'utf8')) as Truth;
}, 120_000);

afterAll(() => removeDir(tmp));

const of = (t: string): Json[] => byType.get(t) ?? [];
const refId = (r: unknown): string => (r as { reference: string }).reference.split('/')[1] ?? '';
const code = (cc: unknown): string =>
  ((cc as { coding: { code: string }[] }).coding[0] as { code: string }).code;
const day = (iso: string): number => Math.floor(Date.parse(iso.slice(0, 10)) / 86_400_000);

describe('synth: first-line treatment effect (confounding by indication)', () => {
  it('new users and strokes by drug recounted from the FHIR output equal truth', () => {
    const hypertension = new Map<string, string>(); // Condition id -> patient
    for (const c of of('Condition'))
      if (code(c['code']) === CONDITIONS.hypertension.snomed.code)
        hypertension.set(c['id'] as string, refId(c['subject']));
    // The first-line order: lisinopril or amlodipine given for the hypertension Condition.
    const drugs = new Map<string, string>(FIRST_LINE.drugs.map((d) => [DRUGS[d].rxnorm, d]));
    const start = new Map<string, { drug: string; day: number }>();
    for (const m of of('MedicationRequest')) {
      const drug = drugs.get(code(m['medicationCodeableConcept']));
      const reason = (m['reasonReference'] as unknown[] | undefined)?.[0];
      if (drug === undefined || reason === undefined) continue;
      const patient = hypertension.get(refId(reason));
      if (patient !== undefined) start.set(patient, { drug, day: day(m['authoredOn'] as string) });
    }
    const strokes = new Map<string, number[]>();
    for (const c of of('Condition'))
      if (code(c['code']) === CONDITIONS.stroke.snomed.code) {
        const p = refId(c['subject']);
        strokes.set(p, [...(strokes.get(p) ?? []), day(c['onsetDateTime'] as string)]);
      }
    const users: Record<string, number> = { lisinopril: 0, amlodipine: 0 };
    const events: Record<string, number> = { lisinopril: 0, amlodipine: 0 };
    const endDay = day(small.arguments.end);
    for (const [p, s] of start) {
      if (s.day >= endDay) continue;
      users[s.drug] = (users[s.drug] ?? 0) + 1;
      if ((strokes.get(p) ?? []).some((d) => d > s.day)) events[s.drug] = (events[s.drug] ?? 0) + 1;
    }
    const t = small.realised.treatmentEffect;
    for (const d of FIRST_LINE.drugs) {
      const rows = t.byStratum.filter((r) => r.drug === d);
      expect(users[d]).toBe(rows.reduce((a, r) => a + r.newUsers, 0));
      expect(events[d]).toBe(rows.reduce((a, r) => a + r.strokes, 0));
    }
    expect(users['amlodipine']).toBeGreaterThan(50);
  });

  it('amlodipine is chosen more by the older and CKD patients, as the propensity model says', () => {
    const t = large.realised.treatmentEffect;
    for (let s = 0; s < 8; s++) {
      const rows = t.byStratum.filter(
        (r) =>
          r.age65 === ((s & 1) !== 0) &&
          r.diabetes === ((s & 2) !== 0) &&
          r.ckd === ((s & 4) !== 0),
      );
      const n = rows.reduce((a, r) => a + r.newUsers, 0);
      if (n < 200) continue;
      const share = (rows.find((r) => r.drug === 'amlodipine')?.newUsers ?? 0) / n;
      const p = amlodipineProbability((s & 1) !== 0, (s & 4) !== 0, (s & 2) !== 0);
      expect(Math.abs(share - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('the naive rate ratio is biased; the confounder-adjusted one covers the true hazard ratio', () => {
    const t = large.realised.treatmentEffect;
    expect(t.trueHazardRatio).toBe(0.75);
    const adj = t.adjustedRateRatio;
    expect(adj).not.toBeNull();
    expect(adj!.ci95[0]).toBeLessThan(0.75);
    expect(adj!.ci95[1]).toBeGreaterThan(0.75);
    // Confounding by indication: the crude ratio lies above the adjusted CI (even above 1).
    expect(t.crudeRateRatio!).toBeGreaterThan(adj!.ci95[1]);
  });
});

describe('synth: 30-day readmissions', () => {
  it('readmission encounters in the output match truth and the designed rates', () => {
    const enc = of('Encounter');
    const readmits = enc.filter(
      (e) => (e['hospitalization'] as Json | undefined)?.['reAdmission'] !== undefined,
    );
    expect(readmits.length).toBeGreaterThan(10);
    // Every readmission follows a discharge of the same patient within 30 days.
    const discharges = new Map<string, number[]>();
    for (const e of enc) {
      const h = e['hospitalization'] as Json | undefined;
      const end = (e['period'] as { end?: string }).end;
      if (
        h !== undefined &&
        h['reAdmission'] === undefined &&
        end !== undefined &&
        e['partOf'] === undefined
      ) {
        const p = refId(e['subject']);
        discharges.set(p, [...(discharges.get(p) ?? []), day(end)]);
      }
    }
    for (const r of readmits) {
      const start = day((r['period'] as { start: string }).start);
      const prior = (discharges.get(refId(r['subject'])) ?? []).filter((d) => d < start);
      expect(prior.length).toBeGreaterThan(0);
      expect(start - Math.max(...prior)).toBeLessThanOrEqual(30);
    }
    // Truth's admissions count the readmissions too.
    const admissions = Object.values(small.realised.conditions).reduce(
      (a, c) => a + (c.hospital?.admissions ?? 0),
      0,
    );
    const inpatient = enc.filter(
      (e) => (e['class'] as { code: string }).code === 'IMP' && e['partOf'] === undefined,
    );
    expect(inpatient.length).toBe(admissions);
    // On the large population the rates are near the parameters (minus deaths before them).
    for (const [k, r] of Object.entries(large.realised.readmissions)) {
      const p = CONDITIONS[k as keyof typeof CONDITIONS].care.readmission30;
      expect(r.indexStays).toBeGreaterThan(80);
      expect(Math.abs((r.rate as number) - p)).toBeLessThan(
        4 * Math.sqrt((p * (1 - p)) / r.indexStays),
      );
    }
  });
});

describe('synth: payer disparity in blood-pressure control', () => {
  it('controlled readings in the output equal truth; rates follow the designed gap', () => {
    const hypertensiveSince = new Map<string, number>();
    for (const c of of('Condition'))
      if (code(c['code']) === CONDITIONS.hypertension.snomed.code)
        hypertensiveSince.set(refId(c['subject']), day(c['onsetDateTime'] as string));
    let visits = 0;
    let controlled = 0;
    for (const o of of('Observation')) {
      if (code(o['code']) !== '85354-9') continue;
      const since = hypertensiveSince.get(refId(o['subject']));
      if (since === undefined || since > day(o['effectiveDateTime'] as string)) continue;
      const [sys, dia] = (o['component'] as { valueQuantity: { value: number } }[]).map(
        (c) => c.valueQuantity.value,
      ) as [number, number];
      visits++;
      if (sys < 140 && dia < 90) controlled++;
    }
    const byPayer = Object.values(small.realised.hypertensionControl.byPayer);
    expect(visits).toBe(byPayer.reduce((a, p) => a + p.visits, 0));
    expect(controlled).toBe(byPayer.reduce((a, p) => a + p.controlledVisits, 0));
    const big = large.realised.hypertensionControl.byPayer;
    for (const [payer, p] of Object.entries(big)) {
      const designed =
        HYPERTENSION_CONTROL.byPayer[payer as keyof typeof HYPERTENSION_CONTROL.byPayer];
      expect(p.designedRate).toBe(designed);
      const rate = p.controlledVisits / p.visits;
      expect(Math.abs(rate - designed)).toBeLessThan(
        4 * Math.sqrt((designed * (1 - designed)) / p.visits),
      );
    }
    // The gap an analysis should find: Medicaid and self-pay below private.
    expect(big['private']!.rateAtLastVisit!).toBeGreaterThan(
      big['medicaid']!.rateAtLastVisit! + 0.1,
    );
  });
});

describe('synth: cancers', () => {
  it('new cancer cases match the SEER-shaped rates over the person-time at risk; deaths follow', () => {
    for (const key of ['lungCancer', 'breastCancer', 'colorectalCancer'] as const) {
      const spec = CONDITIONS[key];
      const rows = large.realised.conditions[key]!.incidence;
      let observed = 0;
      let expected = 0;
      for (const r of rows) {
        const band = AGE_BANDS.indexOf(r.ageBand as (typeof AGE_BANDS)[number]);
        observed += r.cases;
        expected +=
          (r.personYears * (spec.per1000[band] ?? 0) * spec.sexFactor[r.sex as 'male' | 'female']) /
          1000;
      }
      expect(expected, key).toBeGreaterThan(20);
      expect(Math.abs(observed - expected), key).toBeLessThan(4 * Math.sqrt(expected));
    }
    const breast = large.realised.conditions['breastCancer']!.incidence;
    const bySex = (s: string): number =>
      breast.filter((r) => r.sex === s).reduce((a, r) => a + r.cases, 0);
    expect(bySex('female')).toBeGreaterThan(20 * Math.max(1, bySex('male')));
    // Lung cancer is the deadliest of the three (5-year survival about 25%).
    const deaths = large.realised.patients.deathsByCause;
    expect(deaths['lungCancer'] ?? 0).toBeGreaterThan(deaths['breastCancer'] ?? 0);
    expect(deaths['lungCancer'] ?? 0).toBeGreaterThan(10);
  });
});

describe('synth: urgent care and income', () => {
  it('some acute office visits are at urgent care; every patient carries an income band', () => {
    const urgent = of('Encounter').filter((e) => JSON.stringify(e['type']).includes('"702927004"'));
    expect(urgent.length).toBeGreaterThan(20);
    for (const e of urgent) {
      expect((e['class'] as { code: string }).code).toBe('AMB');
      const reason = code((e['reasonCode'] as unknown[])[0]);
      expect([
        CONDITIONS.influenza.snomed.code,
        CONDITIONS.uti.snomed.code,
        CONDITIONS.pneumonia.snomed.code,
      ]).toContain(reason);
    }
    const bands = new Map<string, number>();
    for (const p of of('Patient')) {
      const ext = (p['extension'] as Json[]).find((x) => x['url'] === INCOME_BAND_EXTENSION_URL);
      const band = String(ext?.['valueString']);
      expect(INCOME_BANDS as readonly string[]).toContain(band);
      bands.set(band, (bands.get(band) ?? 0) + 1);
    }
    // Shares near the parameters (2,000 patients).
    const total = INCOME_BANDS.reduce((a, b) => a + INCOME_BAND_SHARES[b], 0);
    for (const b of INCOME_BANDS) {
      const share = (bands.get(b) ?? 0) / 2000;
      expect(Math.abs(share - INCOME_BAND_SHARES[b] / total)).toBeLessThan(0.04);
    }
  });
});

describe('synth: planted regional excess', () => {
  it('multiplies one condition in one state, and truth records it', async () => {
    const dir = path.join(tmp, 'excess');
    const excess = { region: 'CA', condition: 'diabetes' as const, factor: 3 };
    await synthesize({ patients: 4000, seed: 9, outDir: dir, parts: [], regionalExcess: excess });
    const t = JSON.parse(readFileSync(path.join(dir, 'truth.json'), 'utf8')) as Truth;
    expect(t.arguments.regionalExcess).toEqual(excess);
    const lines = (f: string): Json[] =>
      readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Json);
    const state = new Map<string, string>();
    for (const p of lines('Patient.ndjson'))
      state.set(p['id'] as string, String(((p['address'] as Json[])[0] as Json)['state']));
    const newCases = new Map<string, number>();
    for (const c of lines('Condition.ndjson'))
      if (
        code(c['code']) === CONDITIONS.diabetes.snomed.code &&
        String(c['onsetDateTime']) >= t.arguments.start
      ) {
        const s = state.get(refId(c['subject'])) === 'CA' ? 'CA' : 'other';
        newCases.set(s, (newCases.get(s) ?? 0) + 1);
      }
    const people = (s: string): number =>
      [...state.values()].filter((x) => (s === 'CA' ? x === 'CA' : x !== 'CA')).length;
    const ratio =
      (newCases.get('CA') ?? 0) / people('CA') / ((newCases.get('other') ?? 0) / people('other'));
    expect(people('CA')).toBeGreaterThan(200);
    expect(ratio).toBeGreaterThan(2);
  });
});
