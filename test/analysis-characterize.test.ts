/**
 * Table 1 (src/analysis/characterize.ts) on a generated population: every count, mean and
 * SD equals an independent recount in TypeScript from the view rows, every SMD equals the
 * formula, small cells are suppressed, and the first-line confounders (age ≥ 65, CKD: see
 * FIRST_LINE in src/synth/medications.ts) are imbalanced between amlodipine and lisinopril
 * new users, as truth.json says they are.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { characterize, cohortSql, DEFAULT_LABS } from '../src/analysis/characterize.js';
import type { CharacterizeResult, CohortInput } from '../src/analysis/characterize.js';
import { AnalysisContext } from '../src/analysis/context.js';
import {
  CODE_SYSTEMS,
  expandValueSet,
  libraryValueSets,
  valueSetContains,
} from '../src/analysis/valuesets.js';
import { registerCharacterizeCommand } from '../src/cli/characterize-command.js';
import type { Row } from '../src/engine/engine.js';
import { SparkDialect } from '../src/sql/dialects/spark.js';
import { synthesizeIntoLake } from '../src/synth/write-lake.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const sets = libraryValueSets();
const AMLODIPINE: CohortInput = {
  label: 'amlodipine',
  kind: 'valueset',
  valueset: 'calcium-channel-blockers',
  first: true,
};
const LISINOPRIL: CohortInput = {
  label: 'lisinopril',
  kind: 'valueset',
  valueset: 'ace-inhibitors',
  first: true,
};

let tmp = '';
let lake = '';
let ctx: AnalysisContext;
let result: CharacterizeResult;
const views: Record<string, readonly Row[]> = {};

beforeAll(async () => {
  tmp = makeTempDir('characterize');
  lake = path.join(tmp, 'lake');
  await synthesizeIntoLake(lake, { patients: 2000, seed: 7 });
  ctx = await AnalysisContext.open(lake);
  // Only the columns (and lab rows) the recount reads, to keep the fetch small.
  const columns: Record<string, string> = {
    patient:
      'id, gender, birth_date, deceased_date, race_display, race_text, ethnicity_display, ethnicity_text',
    condition:
      'patient_id, onset, recorded_date, code_system, code, snomed_code, icd10_system, icd10_code, verification_status',
    medication_request: 'patient_id, authored_on, rxnorm_code, status',
    coverage: 'patient_id, id, period_start, period_end, type_text, type_display, type_code',
    observation: 'patient_id, id, effective, value, loinc_code, status',
    observation_component:
      'patient_id, observation_id, component_index, effective, value, code_system, code',
  };
  const labCodes = DEFAULT_LABS.filter((l) => l.source === 'observation')
    .flatMap((l) => expandValueSet(sets.get(l.valueset)!).map((c) => `'${c.code}'`))
    .join(', ');
  for (const [v, cols] of Object.entries(columns))
    views[v] = await ctx.rows(
      `SELECT ${cols} FROM ${v}` +
        (v === 'observation' ? ` WHERE value IS NOT NULL AND loinc_code IN (${labCodes})` : ''),
    );
  result = await characterize(ctx, { cohort: AMLODIPINE, comparator: LISINOPRIL, minCell: 0 });
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  removeDir(tmp);
});

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const day = (v: unknown): string | null => str(v)?.slice(0, 10) ?? null;
const minusDays = (d: string, n: number): string =>
  new Date(Date.parse(`${d}T00:00:00Z`) - n * 86_400_000).toISOString().slice(0, 10);

function firstRecord(valueset: string): Map<string, string> {
  const vs = sets.get(valueset)!;
  const out = new Map<string, string>();
  for (const m of views['medication_request']!) {
    const d = str(m['authored_on']);
    const code = str(m['rxnorm_code']);
    if (d === null || d.length < 10 || code === null || m['status'] === 'entered-in-error')
      continue;
    if (!valueSetContains(vs, CODE_SYSTEMS.rxnorm, code)) continue;
    const p = String(m['patient_id']);
    const prev = out.get(p);
    if (prev === undefined || d.slice(0, 10) < prev) out.set(p, d.slice(0, 10));
  }
  return out;
}

/** Each person's covariates as the docs define them, computed from the view rows. */
function recount(index: Map<string, string>): Map<string, number | null>[] {
  const byPatient = <T extends Row>(rows: readonly T[], key = 'patient_id') => {
    const m = new Map<string, T[]>();
    for (const r of rows) {
      const k = String(r[key]);
      m.set(k, [...(m.get(k) ?? []), r]);
    }
    return m;
  };
  const patients = new Map(views['patient']!.map((p) => [String(p['id']), p]));
  const conds = byPatient(views['condition']!);
  const meds = byPatient(views['medication_request']!);
  const covs = byPatient(views['coverage']!);
  const obs = byPatient(views['observation']!);
  const comps = byPatient(views['observation_component']!);
  const people: Map<string, number | null>[] = [];
  for (const [pid, idx] of index) {
    const f = new Map<string, number | null>();
    const lb = minusDays(idx, 365);
    const p = patients.get(pid);
    const birth = str(p?.['birth_date']);
    const age =
      birth !== null && birth.length >= 10
        ? Number(idx.slice(0, 4)) -
          Number(birth.slice(0, 4)) -
          (idx.slice(5) < birth.slice(5, 10) ? 1 : 0)
        : null;
    f.set('age', age);
    f.set('age65', age !== null && age >= 65 ? 1 : 0);
    const band =
      age === null
        ? 'unknown'
        : age <= 17
          ? '0-17'
          : age <= 44
            ? '18-44'
            : age <= 64
              ? '45-64'
              : age <= 74
                ? '65-74'
                : '75+';
    f.set(`age_band:${band}`, 1);
    f.set(`sex:${str(p?.['gender']) ?? 'unknown'}`, 1);
    f.set(`race:${str(p?.['race_display']) ?? str(p?.['race_text']) ?? 'Unknown'}`, 1);
    f.set(
      `ethnicity:${str(p?.['ethnicity_display']) ?? str(p?.['ethnicity_text']) ?? 'Unknown'}`,
      1,
    );
    const active = (covs.get(pid) ?? [])
      .filter((c) => {
        const s = day(c['period_start']);
        const e = day(c['period_end']);
        return s !== null && s <= idx && (e === null || e >= idx);
      })
      .sort((a, b) =>
        String(a['period_start']) !== String(b['period_start'])
          ? String(b['period_start']).localeCompare(String(a['period_start']))
          : String(a['id']).localeCompare(String(b['id'])),
      );
    const c0 = active[0];
    const payer =
      c0 === undefined
        ? 'None recorded'
        : (str(c0['type_text']) ?? str(c0['type_display']) ?? str(c0['type_code']) ?? 'Unknown');
    f.set(`payer:${payer}`, 1);
    for (const name of result.rows
      .filter((r) => r.key.startsWith('condition:'))
      .map((r) => r.key.slice(10))) {
      const vs = sets.get(name)!;
      const has = (conds.get(pid) ?? []).some((c) => {
        const d = day(c['onset'] ?? c['recorded_date']);
        if (d === null || d > idx) return false;
        if (
          c['verification_status'] === 'entered-in-error' ||
          c['verification_status'] === 'refuted'
        )
          return false;
        const pairs: [unknown, unknown][] = [
          [c['code_system'], c['code']],
          [CODE_SYSTEMS.snomed, c['snomed_code']],
          [c['icd10_system'], c['icd10_code']],
        ];
        return pairs.some(
          ([s, k]) => s != null && k != null && valueSetContains(vs, String(s), String(k)),
        );
      });
      f.set(`condition:${name}`, has ? 1 : 0);
    }
    for (const name of result.rows
      .filter((r) => r.key.startsWith('drug:'))
      .map((r) => r.key.slice(5))) {
      const vs = sets.get(name)!;
      const has = (meds.get(pid) ?? []).some((m) => {
        const d = day(m['authored_on']);
        return (
          d !== null &&
          d <= idx &&
          d >= lb &&
          m['status'] !== 'entered-in-error' &&
          m['rxnorm_code'] != null &&
          valueSetContains(vs, CODE_SYSTEMS.rxnorm, String(m['rxnorm_code']))
        );
      });
      f.set(`drug:${name}`, has ? 1 : 0);
    }
    for (const lab of DEFAULT_LABS) {
      const vs = sets.get(lab.valueset)!;
      const rows =
        lab.source === 'observation'
          ? (obs.get(pid) ?? [])
              .filter(
                (o) =>
                  o['loinc_code'] != null &&
                  valueSetContains(vs, CODE_SYSTEMS.loinc, String(o['loinc_code'])),
              )
              .filter((o) => !['entered-in-error', 'cancelled'].includes(String(o['status'])))
              .map((o) => ({
                eff: str(o['effective']),
                id: String(o['id']),
                pos: 0,
                val: o['value'],
              }))
          : (comps.get(pid) ?? [])
              .filter(
                (o) =>
                  o['code_system'] != null &&
                  o['code'] != null &&
                  valueSetContains(vs, String(o['code_system']), String(o['code'])),
              )
              .map((o) => ({
                eff: str(o['effective']),
                id: String(o['observation_id']),
                pos: Number(o['component_index']),
                val: o['value'],
              }));
      const inWindow = rows
        .filter((o) => o.val !== null && o.val !== undefined && o.eff !== null)
        .filter((o) => o.eff!.slice(0, 10) <= idx && o.eff!.slice(0, 10) >= lb)
        .sort((a, b) =>
          a.eff! < b.eff!
            ? 1
            : a.eff! > b.eff!
              ? -1
              : a.id < b.id
                ? 1
                : a.id > b.id
                  ? -1
                  : b.pos - a.pos,
        );
      f.set(`lab:${lab.valueset}`, inWindow[0] === undefined ? null : Number(inWindow[0].val));
    }
    people.push(f);
  }
  return people;
}

function summary(values: readonly number[]) {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { n, mean, sd };
}

describe('characterize (Table 1)', () => {
  it('every count, mean and SD equals a recount from the view rows', () => {
    const groups = [
      recount(firstRecord('calcium-channel-blockers')),
      recount(firstRecord('ace-inhibitors')),
    ];
    expect(groups[0]!.length).toBeGreaterThan(100);
    expect(groups[1]!.length).toBeGreaterThan(100);
    expect(result.cohort.n).toBe(groups[0]!.length);
    expect(result.comparator?.n).toBe(groups[1]!.length);
    let checked = 0;
    for (const row of result.rows) {
      const cells = [row.cohort, row.comparator!];
      groups.forEach((people, g) => {
        const c = cells[g]!;
        expect(c.denominator).toBe(people.length);
        if (row.key === 'n') return expect(c.n).toBe(people.length);
        const key = row.key.startsWith('lab_measured:') ? `lab:${row.key.slice(13)}` : row.key;
        const values = people.map((f) => f.get(key) ?? null);
        if (row.type === 'continuous') {
          const s = summary(values.filter((v): v is number => v !== null));
          expect(c.n, row.key).toBe(s.n);
          expect(c.mean!, row.key).toBeCloseTo(s.mean, 9);
          expect(c.sd!, row.key).toBeCloseTo(s.sd, 9);
        } else if (row.key.startsWith('lab_measured:')) {
          expect(c.n, row.key).toBe(values.filter((v) => v !== null).length);
        } else {
          expect(c.n, row.key).toBe(values.filter((v) => v === 1).length);
        }
        checked++;
      });
    }
    // Every category a person falls in has a row.
    for (const people of groups)
      for (const f of people)
        for (const k of f.keys())
          if (!k.startsWith('lab:'))
            expect(
              result.rows.some((r) => r.key === k || k === 'age'),
              k,
            ).toBe(true);
    expect(checked).toBeGreaterThan(80);
  });

  it('SMDs equal the formula and |SMD| > 0.1 is flagged', () => {
    let n = 0;
    for (const row of result.rows) {
      if (row.type === 'count') continue;
      const a = row.cohort;
      const b = row.comparator!;
      let expected: number;
      if (row.type === 'binary') {
        const p1 = a.n! / a.denominator!;
        const p2 = b.n! / b.denominator!;
        const s = Math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2);
        expected = s === 0 ? 0 : (p1 - p2) / s;
      } else expected = (a.mean! - b.mean!) / Math.sqrt((a.sd! ** 2 + b.sd! ** 2) / 2);
      expect(row.smd!, row.key).toBeCloseTo(expected, 12);
      expect(row.imbalanced).toBe(Math.abs(expected) > 0.1);
      n++;
    }
    expect(n).toBeGreaterThan(40);
  });

  it('shows the confounding by indication that truth.json records (age ≥ 65, CKD)', () => {
    const truth = JSON.parse(readFileSync(path.join(lake, 'truth.json'), 'utf8')) as {
      realised: {
        treatmentEffect: {
          byStratum: { drug: string; age65: boolean; ckd: boolean; newUsers: number }[];
        };
      };
    };
    const rows = truth.realised.treatmentEffect.byStratum;
    const share = (drug: string, k: 'age65' | 'ckd') => {
      const users = rows.filter((r) => r.drug === drug);
      const all = users.reduce((s, r) => s + r.newUsers, 0);
      return users.filter((r) => r[k]).reduce((s, r) => s + r.newUsers, 0) / all;
    };
    for (const [k, key] of [
      ['age65', 'age65'],
      ['ckd', 'condition:chronic-kidney-disease'],
    ] as const) {
      const p1 = share('amlodipine', k);
      const p2 = share('lisinopril', k);
      const trueSmd = (p1 - p2) / Math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2);
      expect(trueSmd, k).toBeGreaterThan(0.1);
      const row = result.rows.find((r) => r.key === key)!;
      expect(row.smd!, k).toBeGreaterThan(0.1);
      expect(row.imbalanced).toBe(true);
    }
    // Sex plays no part in the choice.
    expect(Math.abs(result.rows.find((r) => r.key === 'sex:female')!.smd!)).toBeLessThan(0.1);
  });

  it('suppresses small cells and fills the report shape', async () => {
    const r = await characterize(ctx, {
      cohort: AMLODIPINE,
      comparator: LISINOPRIL,
      minCell: 11,
    });
    let suppressed = 0;
    r.rows.forEach((row, i) => {
      const raw = result.rows[i]!;
      expect(row.key).toBe(raw.key);
      [
        [row.cohort, raw.cohort],
        [row.comparator!, raw.comparator!],
      ].forEach(([c, full]) => {
        const small = full!.n! > 0 && full!.n! < 11;
        expect(c!.suppressed).toBe(small);
        if (small) {
          suppressed++;
          expect(c!.n).toBeNull();
          expect(row.smd).toBeNull();
        } else expect(c!.n).toBe(full!.n);
      });
      const t = r.table1.rows[i]!;
      expect(t.variable).toBe(row.variable);
      if (row.cohort.suppressed) expect(t.cohortValue).toBe('<11');
    });
    expect(suppressed).toBeGreaterThan(0);
    const age = r.table1.rows.find((t) => t.variable === 'Age at index, mean (SD)')!;
    expect(age.cohortValue).toMatch(/^\d+\.\d \(\d+\.\d\)$/);
    const ckd = r.table1.rows.find((t) => t.variable === 'Chronic kidney disease')!;
    expect(ckd.cohortValue).toMatch(/^\d[\d,]* \(\d+\.\d%\)$/);
  });

  it('takes SQL and everyone-on-a-date cohorts; a tiny cohort is suppressed whole', async () => {
    const r = await characterize(ctx, {
      cohort: { label: 'everyone', kind: 'all', indexDate: '2020-01-01' },
      comparator: {
        label: 'two people',
        kind: 'sql',
        sql: "SELECT id AS person_id, '2020-01-01' AS index_date FROM patient ORDER BY id LIMIT 2",
      },
      conditions: ['hypertension'],
      drugs: [],
      labs: [],
    });
    const born = views['patient']!.filter((p) => {
      const b = day(p['birth_date']);
      const d = day(p['deceased_date']);
      return (
        b !== null && b.length === 10 && b <= '2020-01-01' && (d === null || d >= '2020-01-01')
      );
    });
    expect(r.cohort.n).toBe(born.length);
    expect(r.comparator?.n).toBe(2);
    for (const row of r.rows) {
      expect(row.comparator?.suppressed).toBe(true);
      expect(row.comparator?.denominator).toBeNull();
    }
  });

  it('builds the cohort SQL for Spark too (compile only)', () => {
    const sql = cohortSql(new SparkDialect(), AMLODIPINE, sets);
    expect(sql).toContain('AS STRING');
    expect(sql).not.toContain('"');
  });

  it('runs through commander in-process and writes json and html', async () => {
    const program = new Command().exitOverride();
    registerCharacterizeCommand(program);
    const json = path.join(tmp, 't1.json');
    const html = path.join(tmp, 't1.html');
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      for (const [format, out] of [
        ['json', json],
        ['html', html],
      ])
        await program.parseAsync(
          [
            'analyze',
            'characterize',
            '--lake',
            lake,
            '--cohort-valueset',
            'calcium-channel-blockers',
            '--comparator-valueset',
            'ace-inhibitors',
            '--format',
            format!,
            '--out',
            out!,
          ],
          { from: 'user' },
        );
    } finally {
      spy.mockRestore();
    }
    expect(existsSync(json)).toBe(true);
    const parsed = JSON.parse(readFileSync(json, 'utf8')) as CharacterizeResult;
    expect(parsed.cohort.n).toBe(result.cohort.n);
    expect(parsed.minCell).toBe(11);
    expect(parsed.table1.rows.length).toBe(result.rows.length);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<table>');
    expect(page).toContain('Chronic kidney disease');
    expect(page).toMatch(/class="imbalanced"/);
  });
});
