/**
 * The population-health analyses on every engine of the run (MEDLAKE_TEST_ENGINES): each
 * analysis over one generated lake gives the same result on the engine as on embedded
 * DuckDB (numbers to 1e-9 relative), so the SQL built through the Dialect is portable.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { characterize } from '../src/analysis/characterize.js';
import { compileCohort, cohortAttrition, parseCohortJson } from '../src/analysis/cohort.js';
import { AnalysisContext } from '../src/analysis/context.js';
import { analyzeCooccurrence } from '../src/analysis/cooccurrence.js';
import { analyzeGeography } from '../src/analysis/geography.js';
import { incidence, prevalence } from '../src/analysis/incidence.js';
import { analyzeSeasonality } from '../src/analysis/seasonality.js';
import { libraryValueSets } from '../src/analysis/valuesets.js';
import type { ValueSet } from '../src/analysis/valuesets.js';
import type { EngineName } from '../src/engine/open-engine.js';
import { synthesizeIntoLake } from '../src/synth/write-lake.js';
import { readFileSync } from 'node:fs';
import { skippedEngines, testEngines } from './engines.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

let tmp = '';
let lake = '';
const sets = libraryValueSets();
const set = (n: string): ValueSet => sets.get(n) as ValueSet;

beforeAll(async () => {
  tmp = makeTempDir('engine-analysis');
  lake = path.join(tmp, 'lake');
  await synthesizeIntoLake(lake, {
    patients: 1500,
    seed: 13,
    regionalExcess: { region: 'CA', condition: 'diabetes', factor: 3 },
  });
}, 120_000);

afterAll(() => removeDir(tmp));

/** Every analysis, as plain JSON (SQL text left out: it differs by dialect). */
async function runAll(engine: EngineName): Promise<Record<string, unknown>> {
  const ctx = await AnalysisContext.open(lake, {
    engine,
    ...(engine === 'spark' ? { sparkUrl: process.env['MEDLAKE_SPARK_URL'] as string } : {}),
  });
  try {
    const cohortDef = (f: string): string => {
      const def = parseCohortJson(readFileSync(f, 'utf8'), f);
      const c = compileCohort(def, { dialect: ctx.dialect, valueSets: sets });
      return `SELECT person_id, cohort_start AS index_date FROM (${c.cohortSql}) AS c`;
    };
    const amlo = 'examples/cohorts/new-users-amlodipine.json';
    const def = parseCohortJson(readFileSync(amlo, 'utf8'), amlo);
    const out: Record<string, unknown> = {
      incidence: await incidence(ctx, {
        valueSet: set('hypertension'),
        by: ['year', 'age', 'sex'],
        standardize: 'who',
        apc: true,
      }),
      influenzaByMonth: await incidence(ctx, { valueSet: set('influenza'), by: ['month'] }),
      prevalence: await prevalence(ctx, {
        valueSet: set('diabetes-type-2'),
        at: '2025-12-31',
        by: ['age', 'sex'],
      }),
      seasonality: await analyzeSeasonality(ctx, { valueSet: set('influenza') }),
      geography: await analyzeGeography(ctx, { valueSet: set('diabetes-type-2') }),
      cooccurrence: await analyzeCooccurrence(ctx, {
        valueSets: ['hypertension', 'diabetes-type-2', 'chronic-kidney-disease'].map(set),
      }),
      attrition: await cohortAttrition(
        ctx,
        compileCohort(def, { dialect: ctx.dialect, valueSets: sets }),
      ),
      characterize: await characterize(ctx, {
        cohort: { label: 'amlodipine', kind: 'sql', sql: cohortDef(amlo) },
        comparator: {
          label: 'lisinopril',
          kind: 'sql',
          sql: cohortDef('examples/cohorts/new-users-lisinopril.json'),
        },
      }),
    };
    return JSON.parse(
      JSON.stringify(out, (k, v: unknown) =>
        k === 'sql' ? undefined : typeof v === 'bigint' ? Number(v) : v,
      ),
    ) as Record<string, unknown>;
  } finally {
    await ctx.close();
  }
}

/** Deep equality with numbers equal to 1e-9 relative. */
function expectSame(a: unknown, b: unknown, where: string): void {
  if (typeof a === 'number' && typeof b === 'number') {
    const scale = Math.max(1, Math.abs(a), Math.abs(b));
    expect(Math.abs(a - b) / scale, where).toBeLessThan(1e-9);
  } else if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, where).toBe(b.length);
    a.forEach((x, i) => expectSame(x, b[i], `${where}[${i}]`));
  } else if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    expect(ka, where).toEqual(Object.keys(b).sort());
    for (const k of ka)
      expectSame(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${where}.${k}`,
      );
  } else expect(a, where).toEqual(b);
}

let reference: Record<string, unknown> | undefined;

describe.each(testEngines())('population-health analyses on %s', (engine) => {
  it('run and agree with embedded DuckDB', async () => {
    reference ??= await runAll('duckdb');
    const result = engine === 'duckdb' ? reference : await runAll(engine);
    // Sanity: the planted regional excess is found, on every engine.
    expect((result['geography'] as { flagged: string[] }).flagged).toEqual(['CA']);
    expect((result['seasonality'] as { fit: { seasonal: boolean } }).fit.seasonal).toBe(true);
    expectSame(result, reference, engine);
  }, 600_000);
});

for (const { name, reason } of skippedEngines()) {
  describe.skip(`population-health analyses on ${name} (skipped: ${reason})`, () => {
    it('run and agree with embedded DuckDB', () => {});
  });
}
