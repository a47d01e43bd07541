/**
 * The synthetic population generator (src/synth): determinism, referential integrity,
 * plausibility against published figures, truth.json against a recount of the NDJSON,
 * and a round trip through the lake.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerSynthCommand } from '../src/cli/synth-command.js';
import { LakeSession, loadIntoLake, runView } from '../src/index.js';
import { SynthError, synthesize } from '../src/synth/index.js';
import type { Truth } from '../src/synth/index.js';
import { PATIENT_VIEW, makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const PATIENTS = 2000;
const START = '2015-01-01';
const END = '2025-12-31';

type Json = Record<string, unknown>;

let tmp = '';
let outA = '';
let truth: Truth;
let byType: Map<string, Json[]>;

function ndjsonFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .sort();
}

function readAll(dir: string): Map<string, Json[]> {
  const m = new Map<string, Json[]>();
  for (const f of ndjsonFiles(dir)) {
    const lines = readFileSync(path.join(dir, f), 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    m.set(
      f.slice(0, -'.ndjson'.length),
      lines.map((l) => JSON.parse(l) as Json),
    );
  }
  return m;
}

function resources(type: string): Json[] {
  return byType.get(type) ?? [];
}

function refId(ref: unknown): string {
  return (ref as { reference: string }).reference.split('/')[1] as string;
}

/** Completed years between two YYYY-MM-DD dates. */
function age(birth: string, on: string): number {
  let a = Number(on.slice(0, 4)) - Number(birth.slice(0, 4));
  if (on.slice(5) < birth.slice(5)) a--;
  return a;
}

function band(a: number): string {
  return a >= 85 ? '85+' : `${Math.floor(a / 5) * 5}-${Math.floor(a / 5) * 5 + 4}`;
}

const CODES: Record<string, string> = {
  '59621000': 'hypertension',
  '44054006': 'diabetes',
  '6142004': 'influenza',
  '55822004': 'hyperlipidemia',
  '195967001': 'asthma',
  '13645005': 'copd',
  '35489007': 'depression',
  '709044004': 'ckd',
  '84114007': 'heartFailure',
  '22298006': 'myocardialInfarction',
  '230690007': 'stroke',
  '233604007': 'pneumonia',
  '68566005': 'uti',
  '5913000': 'hipFracture',
};

function conditionKey(c: Json): string {
  const code = (c['code'] as { coding: { code: string }[] }).coding[0]?.code ?? '';
  return CODES[code] ?? 'unknown';
}

beforeAll(async () => {
  tmp = makeTempDir('synth');
  outA = path.join(tmp, 'a');
  // Two generator threads here; the determinism test compares with one thread.
  await synthesize({
    patients: PATIENTS,
    seed: 7,
    start: START,
    end: END,
    outDir: outA,
    workers: 2,
  });
  truth = JSON.parse(readFileSync(path.join(outA, 'truth.json'), 'utf8')) as Truth;
  byType = readAll(outA);
});

afterAll(() => removeDir(tmp));

describe('synth: determinism', () => {
  it('writes byte-identical files for the same seed (in one thread or in workers) and different ones for another seed', async () => {
    const outB = path.join(tmp, 'b');
    const outC = path.join(tmp, 'c');
    // outA came from two generator threads; outB is made in this thread.
    await synthesize({
      patients: PATIENTS,
      seed: 7,
      start: START,
      end: END,
      outDir: outB,
      workers: 1,
    });
    await synthesize({ patients: PATIENTS, seed: 8, start: START, end: END, outDir: outC });
    const files = [...ndjsonFiles(outA), 'truth.json'];
    expect(ndjsonFiles(outB)).toEqual(ndjsonFiles(outA));
    for (const f of files)
      expect(readFileSync(path.join(outB, f)).equals(readFileSync(path.join(outA, f))), f).toBe(
        true,
      );
    expect(readFileSync(path.join(outC, 'Patient.ndjson'))).not.toEqual(
      readFileSync(path.join(outA, 'Patient.ndjson')),
    );
  });

  it('rejects bad arguments with a typed error', async () => {
    await expect(synthesize({ patients: 0, outDir: path.join(tmp, 'x') })).rejects.toThrow(
      SynthError,
    );
    await expect(
      synthesize({ patients: 1, start: '2020-01-01', end: '2019-01-01', outDir: tmp }),
    ).rejects.toThrow(/must not be after/);
    await expect(
      synthesize({ patients: 1, formats: ['fhir-xml'], outDir: path.join(tmp, 'x') }),
    ).rejects.toThrow(/unknown format "fhir-xml"/);
  });
});

describe('synth: integrity', () => {
  it('resolves every reference inside the output and never repeats an id', () => {
    const ids = new Set<string>();
    for (const [type, rs] of byType)
      for (const r of rs) {
        const key = `${type}/${r['id'] as string}`;
        expect(ids.has(key), key).toBe(false);
        ids.add(key);
      }
    let refs = 0;
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'reference' && typeof x === 'string') {
            refs++;
            expect(ids.has(x), x).toBe(true);
          } else walk(x);
        }
      }
    };
    for (const rs of byType.values()) rs.forEach(walk);
    expect(refs).toBeGreaterThan(PATIENTS * 10);
  });

  it('has no event before birth, after death, or outside the window', () => {
    const patients = new Map(resources('Patient').map((p) => [p['id'] as string, p]));
    const check = (patientRef: unknown, ...dates: (string | undefined)[]): void => {
      const p = patients.get(refId(patientRef)) as Json;
      const birth = p['birthDate'] as string;
      const death = (p['deceasedDateTime'] as string | undefined)?.slice(0, 10) ?? '9999';
      for (const d of dates) {
        if (d === undefined) continue;
        const day = d.slice(0, 10);
        expect(day >= birth && day <= death, `${day} vs ${birth}..${death}`).toBe(true);
      }
    };
    for (const e of resources('Encounter')) {
      const period = e['period'] as { start: string; end: string };
      expect(period.start.slice(0, 10) >= START && period.start.slice(0, 10) <= END).toBe(true);
      check(e['subject'], period.start, period.end);
    }
    for (const c of resources('Condition')) {
      expect((c['recordedDate'] as string) >= START).toBe(true);
      check(
        c['subject'],
        c['onsetDateTime'] as string,
        c['abatementDateTime'] as string | undefined,
        c['recordedDate'] as string,
      );
    }
    for (const o of resources('Observation')) check(o['subject'], o['effectiveDateTime'] as string);
    for (const r of resources('DiagnosticReport'))
      check(r['subject'], r['effectiveDateTime'] as string);
    for (const m of resources('MedicationRequest')) check(m['subject'], m['authoredOn'] as string);
    for (const a of resources('AllergyIntolerance'))
      check(a['patient'], a['recordedDate'] as string);
    for (const p of patients.values()) {
      const d = p['deceasedDateTime'] as string | undefined;
      if (d !== undefined) expect(d.slice(0, 10) >= START && d.slice(0, 10) <= END).toBe(true);
    }
  });

  it('counts in truth.json equal the resources written', () => {
    for (const [type, n] of Object.entries(truth.resources))
      expect(resources(type).length, type).toBe(n);
    expect([...byType.keys()].sort()).toEqual(Object.keys(truth.resources).sort());
    expect(truth.realised.patients.total).toBe(PATIENTS);
    const deceased = resources('Patient').filter((p) => p['deceasedDateTime'] !== undefined);
    expect(truth.realised.patients.deceased).toBe(deceased.length);
    expect(truth.arguments).toEqual({
      patients: PATIENTS,
      seed: 7,
      start: START,
      end: END,
      region: 'us',
    });
    expect(JSON.stringify(truth)).not.toMatch(/generatedAt/);
  });
});

describe('synth: truth against a recount of the NDJSON', () => {
  it('new cases by year × age band × sex equal the incidence strata in truth.json', () => {
    const births = new Map(resources('Patient').map((p) => [p['id'] as string, p]));
    for (const key of Object.values(CODES)) {
      const recount = new Map<string, number>();
      for (const c of resources('Condition')) {
        if (conditionKey(c) !== key) continue;
        const onset = c['onsetDateTime'] as string;
        if (onset < START) continue; // prevalent at the start: not a new case in the window
        const p = births.get(refId(c['subject'])) as Json;
        const k = `${onset.slice(0, 4)}|${band(age(p['birthDate'] as string, onset))}|${p['gender'] as string}`;
        recount.set(k, (recount.get(k) ?? 0) + 1);
      }
      const fromTruth = new Map<string, number>();
      for (const r of truth.realised.conditions[key]!.incidence)
        if (r.cases > 0) fromTruth.set(`${r.year}|${r.ageBand}|${r.sex}`, r.cases);
      expect(Object.fromEntries([...recount].sort()), key).toEqual(
        Object.fromEntries([...fromTruth].sort()),
      );
      expect(truth.realised.conditions[key]!.newCases, key).toBe(
        [...recount.values()].reduce((a, b) => a + b, 0),
      );
    }
  });

  it('realised incidence is close to the parameters (hypertension, adults 40–64)', () => {
    const params = truth.parameters['conditions'] as Record<
      string,
      { per1000PersonYearsByAgeBand: number[]; sexFactor: Record<string, number> }
    >;
    const p = params['hypertension']!;
    let cases = 0;
    let expected = 0;
    for (const r of truth.realised.conditions['hypertension']!.incidence) {
      const b = Math.floor(Number(r.ageBand.split(/[-+]/)[0]) / 5);
      if (b < 8 || b > 12) continue;
      cases += r.cases;
      expected +=
        ((p.per1000PersonYearsByAgeBand[b] as number) / 1000) *
        (p.sexFactor[r.sex] as number) *
        r.personYears;
    }
    // Poisson: within 4 standard deviations of the expected count.
    expect(Math.abs(cases - expected)).toBeLessThan(4 * Math.sqrt(expected));
  });

  it('influenza peaks in December–February', () => {
    const months = new Array<number>(12).fill(0);
    for (const c of resources('Condition'))
      if (conditionKey(c) === 'influenza')
        months[Number((c['onsetDateTime'] as string).slice(5, 7)) - 1]!++;
    const total = months.reduce((a, b) => a + b, 0);
    const winter = months[11]! + months[0]! + months[1]!;
    expect(total).toBeGreaterThan(500);
    expect(winter / total).toBeGreaterThan(0.5);
    for (const summer of [5, 6, 7]) expect(months[summer]!).toBeLessThan(months[0]! / 5);
  });

  it('hypertension prevalence at 60+ is within the published range (NCHS Data Briefs 289, 364)', () => {
    // Adults 60+: 63.1% (≥140/90, NHANES 2015–16) to 74.5% (≥130/80, NHANES 2017–18).
    const patients = resources('Patient').filter(
      (p) => p['deceasedDateTime'] === undefined && age(p['birthDate'] as string, END) >= 60,
    );
    const hypertensive = new Set(
      resources('Condition')
        .filter((c) => conditionKey(c) === 'hypertension')
        .map((c) => refId(c['subject'])),
    );
    const n = patients.filter((p) => hypertensive.has(p['id'] as string)).length;
    const share = n / patients.length;
    expect(share).toBeGreaterThan(0.55);
    expect(share).toBeLessThan(0.85);
    // truth.json says the same.
    const rows = truth.realised.conditions['hypertension']!.prevalenceAtEnd!.filter(
      (r) => Number(r.ageBand.slice(0, 2)) >= 60,
    );
    expect(rows.reduce((a, r) => a + r.withCondition, 0)).toBe(n);
    expect(rows.reduce((a, r) => a + r.alive, 0)).toBe(patients.length);
  });

  it('HbA1c ≥6.5% against diabetes: the 2 × 2 table equals truth, near the designed accuracy', () => {
    const diabetic = new Map<string, string>();
    for (const c of resources('Condition'))
      if (conditionKey(c) === 'diabetes')
        diabetic.set(refId(c['subject']), c['onsetDateTime'] as string);
    let dHigh = 0;
    let dAll = 0;
    let nLow = 0;
    let nAll = 0;
    for (const o of resources('Observation')) {
      const code = (o['code'] as { coding: { code: string }[] }).coding[0]!.code;
      if (code !== '4548-4') continue;
      // The drug trial's visit labs (meta.tag research-study) are not part of the test.
      if (JSON.stringify(o['meta'] ?? {}).includes('research-study')) continue;
      const v = (o['valueQuantity'] as { value: number }).value;
      const onset = diabetic.get(refId(o['subject']));
      if (onset !== undefined && onset <= (o['effectiveDateTime'] as string).slice(0, 10)) {
        dAll++;
        if (v >= 6.5) dHigh++;
      } else {
        nAll++;
        if (v < 6.5) nLow++;
      }
    }
    expect(dAll).toBeGreaterThan(50);
    const t = truth.realised.diagnosticTest;
    expect([dHigh, dAll - dHigh, nAll - nLow, nLow]).toEqual([
      t.truePositive,
      t.falseNegative,
      t.falsePositive,
      t.trueNegative,
    ]);
    // Designed: sensitivity 0.88, specificity 0.98 (normal model, conditions.ts HBA1C_TEST).
    expect(t.expectedSensitivity).toBeCloseTo(0.8825, 3);
    expect(t.expectedSpecificity).toBeCloseTo(0.9826, 3);
    expect(Math.abs(dHigh / dAll - t.expectedSensitivity)).toBeLessThan(0.06);
    expect(Math.abs(nLow / nAll - t.expectedSpecificity)).toBeLessThan(0.02);
  });
});

describe('synth: into the lake', () => {
  it('loads with nothing quarantined and the example patient view runs', async () => {
    const lake = path.join(tmp, 'lake');
    const summary = await loadIntoLake(
      lake,
      ndjsonFiles(outA).map((f) => path.join(outA, f)),
    );
    expect(summary.quarantined).toBe(0);
    expect(summary.read).toBe(Object.values(truth.resources).reduce((a, b) => a + b, 0));
    const session = await LakeSession.open(lake);
    try {
      const view: unknown = JSON.parse(readFileSync(PATIENT_VIEW, 'utf8'));
      const { rows } = await runView(view, {
        engine: session.engine,
        columnsOf: session.columnsOf,
      });
      expect(rows).toHaveLength(PATIENTS);
      const races = new Set(rows.map((r) => r['race']));
      expect(races.has('White')).toBe(true);
      expect(rows.filter((r) => r['deceased'] === true)).toHaveLength(
        truth.realised.patients.deceased,
      );
      expect(rows.every((r) => /^\d{5}$/.test(String(r['postal_code'])))).toBe(true);
    } finally {
      await session.close();
    }
  });
});

describe('synth: command', () => {
  const program = (): Command => {
    const p = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    registerSynthCommand(p);
    return p;
  };

  it('runs through commander in-process and prints a summary', async () => {
    const out = path.join(tmp, 'cli');
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      written.push(String(s));
      return true;
    });
    try {
      await program().parseAsync(
        ['synth', '--patients', '50', '--seed', '3', '--out', out, '--json'],
        { from: 'user' },
      );
      await program().parseAsync(['synth', '--patients', '20', '--out', out], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    const json = JSON.parse(written[0]!) as { patients: number; resources: Record<string, number> };
    expect(json.patients).toBe(50);
    expect(json.resources['Patient']).toBe(50);
    expect(written[1]).toMatch(/^20 patients, \d+ resources \(Organization \d+, .*patients\/s/);
  });

  it('exits with a usage error for bad arguments', async () => {
    for (const args of [
      ['synth'],
      ['synth', '--patients', 'ten'],
      ['synth', '--patients', '5', '--region', 'eu'],
      ['synth', '--patients', '5', '--formats', 'fhir-xml', '--out', path.join(tmp, 'fx')],
      ['synth', '--patients', '5', '--formats', 'hl7v2', '--lake', path.join(tmp, 'fl')],
      ['synth', '--patients', '5', '--start', '2020-01-01', '--end', '2019-01-01'],
    ]) {
      const err = await program()
        .parseAsync(args, { from: 'user' })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err, args.join(' ')).toBeInstanceOf(CommanderError);
      expect((err as CommanderError).exitCode).not.toBe(0);
    }
  });
});
