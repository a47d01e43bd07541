/**
 * Seasonality, geography and co-occurrence on generated populations (src/synth), whose
 * true parameters are known: influenza peaks in winter, hypertension/UTI have no season,
 * a planted regional excess of diabetes in CA, CKD risk raised by hypertension and diabetes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AnalysisContext } from '../src/analysis/context.js';
import { analyzeCooccurrence } from '../src/analysis/cooccurrence.js';
import { adjustPValues, analyzeGeography, poissonTwoSidedP } from '../src/analysis/geography.js';
import { analyzeSeasonality, conditionInValueSets } from '../src/analysis/seasonality.js';
import { libraryValueSets } from '../src/analysis/valuesets.js';
import type { ValueSet } from '../src/analysis/valuesets.js';
import { registerPatternsCommands } from '../src/cli/analyze-patterns-command.js';
import { DuckDBEngine } from '../src/engine/duckdb-engine.js';
import { synthesizeIntoLake } from '../src/synth/write-lake.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const lib = libraryValueSets();
const vs = (name: string): ValueSet => {
  const v = lib.get(name);
  if (v === undefined) throw new Error(`no value set ${name}`);
  return v;
};

let tmp: string;
let plain: AnalysisContext;
let excess: AnalysisContext;
const VIEWS = ['patient', 'condition', 'encounter'];

beforeAll(async () => {
  tmp = makeTempDir('patterns');
  await synthesizeIntoLake(path.join(tmp, 'plain'), { patients: 4000, seed: 7, parts: [] });
  await synthesizeIntoLake(path.join(tmp, 'excess'), {
    patients: 4000,
    seed: 7,
    parts: [],
    regionalExcess: { region: 'CA', condition: 'diabetes', factor: 3 },
  });
  plain = await AnalysisContext.open(path.join(tmp, 'plain'), { views: VIEWS });
  excess = await AnalysisContext.open(path.join(tmp, 'excess'), { views: VIEWS });
}, 60_000);

afterAll(async () => {
  await plain?.close();
  await excess?.close();
  removeDir(tmp);
});

describe('seasonality', () => {
  it('finds the winter peak of influenza and calls it seasonal', async () => {
    const r = await analyzeSeasonality(plain, { valueSet: vs('influenza') });
    expect(r.fit).not.toBeNull();
    expect([12, 1, 2]).toContain(r.fit!.peakMonth);
    expect(r.fit!.seasonal).toBe(true);
    expect(r.fit!.pValue).toBeLessThan(0.05);
    expect(r.fit!.amplitude.lower).toBeGreaterThan(0.5);
    expect(r.monthly.length % 12).toBe(0);
    // The profile sums to the total and January outnumbers July.
    const total = r.profile.reduce((s, p) => s + (p.cases ?? 0), 0);
    expect(total).toBe(r.totalCases);
    expect(r.profile[0]!.cases!).toBeGreaterThan(3 * (r.profile[6]!.cases ?? 0));
  });

  it('does not call hypertension or UTI seasonal', async () => {
    const htn = await analyzeSeasonality(plain, {
      valueSet: vs('hypertension'),
      firstPerPatient: true,
    });
    const uti = await analyzeSeasonality(plain, { valueSet: vs('urinary-tract-infection') });
    for (const r of [htn, uti]) {
      expect(r.totalCases).toBeGreaterThan(300);
      expect(r.fit!.seasonal).toBe(false);
      expect(r.fit!.pValue).toBeGreaterThan(0.05);
    }
  });

  it('suppresses monthly counts below min-cell', async () => {
    const r = await analyzeSeasonality(plain, { valueSet: vs('influenza'), minCell: 11 });
    const small = r.monthly.filter((m) => m.suppressed);
    expect(small.length).toBeGreaterThan(0);
    for (const m of small) expect(m.cases).toBeNull();
    for (const m of r.monthly.filter((x) => !x.suppressed))
      expect(m.cases === 0 || m.cases! >= 11).toBe(true);
  });
});

describe('geography', () => {
  it('flags the state with a planted excess, and only it', async () => {
    const r = await analyzeGeography(excess, { valueSet: vs('diabetes-type-2') });
    expect(r.flagged).toEqual(['CA']);
    const ca = r.regions.find((x) => x.region === 'CA')!;
    expect(ca.sirLower!).toBeGreaterThan(1);
    // Indirect standardisation: expected sums to observed over all regions.
    const unsuppressed = await analyzeGeography(excess, {
      valueSet: vs('diabetes-type-2'),
      minCell: 0,
    });
    const o = unsuppressed.regions.reduce((s, x) => s + x.observed!, 0);
    const e = unsuppressed.regions.reduce((s, x) => s + x.expected!, 0);
    expect(e).toBeCloseTo(o, 6);
    expect(o).toBe(unsuppressed.totalCases);
  });

  it('flags no region without a planted excess (same seed), by state or zip3', async () => {
    for (const by of ['state', 'zip3'] as const) {
      const r = await analyzeGeography(plain, { valueSet: vs('diabetes-type-2'), by });
      expect(r.flagged, by).toEqual([]);
      expect(r.regions.length).toBeGreaterThan(10);
    }
  });

  it('suppresses small regions', async () => {
    const r = await analyzeGeography(plain, { valueSet: vs('lung-cancer'), minCell: 11 });
    const small = r.regions.filter((x) => x.suppressed);
    expect(small.length).toBeGreaterThan(0);
    for (const x of small) expect([x.observed, x.sir, x.expected]).toEqual([null, null, null]);
  });

  it('adjusts p-values and computes exact Poisson p-values', () => {
    expect(adjustPValues([0.01, 0.04, 0.03], 'bonferroni')).toEqual([0.03, 0.12, 0.09]);
    const bh = adjustPValues([0.01, 0.04, 0.03], 'bh');
    expect(bh[0]).toBeCloseTo(0.03, 12);
    expect(bh[1]).toBeCloseTo(0.04, 12);
    expect(bh[2]).toBeCloseTo(0.04, 12);
    // P(X >= 10 | mu = 4) = 0.008132; two-sided doubles it.
    expect(poissonTwoSidedP(10, 4)).toBeCloseTo(2 * 0.0081322, 5);
    expect(poissonTwoSidedP(4, 4)).toBe(1);
  });
});

describe('co-occurrence', () => {
  const sets = ['hypertension', 'diabetes-type-2', 'chronic-kidney-disease', 'asthma'].map(vs);

  it('finds hypertension-CKD and diabetes-CKD over-represented', async () => {
    const r = await analyzeCooccurrence(plain, { valueSets: sets });
    const pair = (x: string, y: string) => r.pairs.find((p) => p.x === x && p.y === y)!;
    for (const p of [
      pair('chronic-kidney-disease', 'hypertension'),
      pair('chronic-kidney-disease', 'diabetes-type-2'),
    ]) {
      expect(p.orLower!).toBeGreaterThan(1);
      expect(p.lift!).toBeGreaterThan(1);
      expect(p.confidenceXY!).toBeCloseTo(p.ab! / p.a!, 12);
    }
    const top = r.top.map((p) => `${p.x}|${p.y}`);
    expect(top).toContain('chronic-kidney-disease|hypertension');
    expect(top).toContain('chronic-kidney-disease|diabetes-type-2');
  });

  it('counts a, b, ab as a direct recount from the condition view', async () => {
    const r = await analyzeCooccurrence(plain, { valueSets: sets, minCell: 0 });
    const byPatient = new Map<string, Set<string>>();
    for (const s of sets) {
      const rows = await plain.rows(
        `SELECT DISTINCT c.patient_id AS p FROM condition c WHERE c.onset IS NOT NULL AND ${conditionInValueSets(plain.dialect, s, 'c')}`,
      );
      for (const row of rows) {
        const p = String(row['p']);
        if (!byPatient.has(p)) byPatient.set(p, new Set());
        byPatient.get(p)!.add(s.name);
      }
    }
    const has = (name: string) => [...byPatient.values()].filter((x) => x.has(name)).length;
    for (const p of r.pairs) {
      expect(p.a).toBe(has(String(p.x)));
      expect(p.b).toBe(has(String(p.y)));
      expect(p.ab).toBe(
        [...byPatient.values()].filter((x) => x.has(String(p.x)) && x.has(String(p.y))).length,
      );
      expect(p.n).toBe(4000);
    }
  });

  it('counts fewer pairs within a window and suppresses small ones', async () => {
    const three = sets.slice(0, 3);
    const ever = await analyzeCooccurrence(plain, { valueSets: three, minCell: 0 });
    const near = await analyzeCooccurrence(plain, { valueSets: three, minCell: 0, windowDays: 30 });
    for (const [i, p] of near.pairs.entries())
      expect(p.ab!).toBeLessThanOrEqual(ever.pairs[i]!.ab!);
    const sup = await analyzeCooccurrence(plain, { valueSets: three, windowDays: 30, minCell: 11 });
    for (const [i, p] of sup.pairs.entries()) {
      const raw = near.pairs[i]!;
      const small = [raw.a, raw.b, raw.ab].some((c) => c! > 0 && c! < 11);
      expect(p.suppressed).toBe(small);
      if (small) expect([p.ab, p.oddsRatio, p.lift]).toEqual([null, null, null]);
    }
  });
});

describe('medlake analyze (commander, in-process)', () => {
  const program = (): Command => {
    const p = new Command().exitOverride();
    registerPatternsCommands(p);
    return p;
  };

  it('runs seasonality, geography and cooccurrence', async () => {
    const lake = path.join(tmp, 'excess');
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      written.push(String(s));
      return true;
    });
    const out = path.join(tmp, 'geo.csv');
    try {
      await program().parseAsync(
        ['analyze', 'seasonality', '--lake', lake, '--condition', 'influenza'],
        { from: 'user' },
      );
      await program().parseAsync(
        [
          'analyze',
          'geography',
          '--lake',
          lake,
          '--condition',
          'diabetes-type-2',
          '--by-region',
          'state',
          '--format',
          'csv',
          '--out',
          out,
        ],
        { from: 'user' },
      );
      await program().parseAsync(
        [
          'analyze',
          'cooccurrence',
          '--lake',
          lake,
          '--top',
          '2',
          '--condition',
          'hypertension,diabetes-type-2,chronic-kidney-disease',
        ],
        {
          from: 'user',
        },
      );
    } finally {
      spy.mockRestore();
    }
    const season = JSON.parse(written[0]!) as { fit: { seasonal: boolean } };
    expect(season.fit.seasonal).toBe(true);
    const csv = readFileSync(out, 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/^region,persons,observed,expected,/);
    expect(csv[1]).toMatch(/^CA,/);
    const co = JSON.parse(written[1]!) as { top: unknown[] };
    expect(co.top).toHaveLength(2);
    // The same table as Parquet: same rows, numbers typed.
    const pq = path.join(tmp, 'geo.parquet');
    await program().parseAsync(
      [
        'analyze',
        'geography',
        '--lake',
        lake,
        '--condition',
        'diabetes-type-2',
        '--by-region',
        'state',
        '--format',
        'parquet',
        '--out',
        pq,
      ],
      { from: 'user' },
    );
    const engine = await DuckDBEngine.create({});
    try {
      const r = await engine.query(
        `SELECT count(*) AS n, typeof(any_value(observed)) AS t FROM read_parquet('${pq}')`,
      );
      expect(Number(r.rows[0]!['n'])).toBe(csv.length - 1);
      expect(String(r.rows[0]!['t'])).toMatch(/INT/);
    } finally {
      await engine.close();
    }
  });

  it('rejects an unknown condition with a usage error', async () => {
    const err = await program()
      .parseAsync(['analyze', 'geography', '--lake', tmp, '--condition', 'nope'], { from: 'user' })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((err as { exitCode: number }).exitCode).toBe(2);
  });
});
