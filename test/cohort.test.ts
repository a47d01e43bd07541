/**
 * Cohort definitions (src/analysis/cohort.ts, docs/cohorts.md) on a generated population:
 * each example cohort's members and dates equal an independent evaluation in TypeScript
 * over the standard view rows; attrition counts are monotone and equal independent counts;
 * the new-user cohorts' sizes by drug equal truth.json's treatment-effect new users; bad
 * definitions give errors that name the JSON path; the CLI builds and lists through commander.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AnalysisContext } from '../src/analysis/context.js';
import {
  CohortDefinitionError,
  buildCohort,
  cohortAttrition,
  cohortRows,
  compileCohort,
  parseCohortDefinition,
  parseCohortJson,
} from '../src/analysis/cohort.js';
import type { CohortDefinition } from '../src/analysis/cohort.js';
import { libraryValueSets, valueSetContains } from '../src/analysis/valuesets.js';
import type { ValueSet } from '../src/analysis/valuesets.js';
import { registerCohortCommand } from '../src/cli/cohort-command.js';
import { dialectByName } from '../src/sql/dialects/index.js';
import type { Truth } from '../src/synth/index.js';
import { synthesizeIntoLake } from '../src/synth/write-lake.js';
import { REPO_ROOT, makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type R = Record<string, unknown>;
const EXAMPLES = path.join(REPO_ROOT, 'examples/cohorts');
const SCT = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';

let tmp = '';
let lake = '';
let ctx: AnalysisContext;
let truth: Truth;
const sets = libraryValueSets();
const tables = new Map<string, R[]>();

beforeAll(async () => {
  tmp = makeTempDir('cohort');
  lake = path.join(tmp, 'lake');
  await synthesizeIntoLake(lake, { patients: 2000, seed: 21, parts: [] });
  truth = JSON.parse(readFileSync(path.join(lake, 'truth.json'), 'utf8')) as Truth;
  ctx = await AnalysisContext.open(lake, {
    views: ['patient', 'encounter', 'condition', 'observation', 'medication_request', 'procedure'],
  });
  for (const t of ['patient', 'encounter', 'condition', 'observation', 'medication_request'])
    tables.set(t, [...(await ctx.rows(`SELECT * FROM ${t}`))]);
}, 120_000);

afterAll(async () => {
  await ctx.close();
  removeDir(tmp);
});

const example = (file: string): CohortDefinition =>
  parseCohortJson(readFileSync(path.join(EXAMPLES, file), 'utf8'), file);
const rowsOf = (t: string): R[] => tables.get(t) ?? [];
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const day = (v: unknown): string | null => {
  const s = str(v);
  return s === null || s.length < 10 ? null : s.slice(0, 10);
};
const addDays = (d: string, n: number): string =>
  new Date(Date.parse(`${d}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
const minDay = (xs: readonly string[]): string | null =>
  xs.length === 0 ? null : xs.reduce((a, b) => (b < a ? b : a));
const maxDay = (xs: readonly string[]): string | null =>
  xs.length === 0 ? null : xs.reduce((a, b) => (b > a ? b : a));

interface Ev {
  person: string;
  id: string;
  day: string;
}
function group(evs: readonly Ev[]): Map<string, Ev[]> {
  const m = new Map<string, Ev[]>();
  for (const e of evs) m.set(e.person, [...(m.get(e.person) ?? []), e]);
  return m;
}
function conditionEvents(vs: ValueSet): Ev[] {
  const out: Ev[] = [];
  for (const c of rowsOf('condition')) {
    const hit =
      (str(c['code_system']) !== null &&
        valueSetContains(vs, String(c['code_system']), String(c['code']))) ||
      (str(c['snomed_code']) !== null && valueSetContains(vs, SCT, String(c['snomed_code']))) ||
      (str(c['icd10_system']) !== null &&
        valueSetContains(vs, String(c['icd10_system']), String(c['icd10_code'])));
    const d = day(c['onset']) ?? day(c['recorded_date']);
    if (hit && d !== null && str(c['patient_id']) !== null)
      out.push({ person: String(c['patient_id']), id: String(c['id']), day: d });
  }
  return out;
}
/** Condition ids whose code is in the set (for reasonReference). */
function conditionIds(vs: ValueSet): Set<string> {
  return new Set(
    rowsOf('condition')
      .filter(
        (c) =>
          (str(c['code_system']) !== null &&
            valueSetContains(vs, String(c['code_system']), String(c['code']))) ||
          (str(c['snomed_code']) !== null && valueSetContains(vs, SCT, String(c['snomed_code']))),
      )
      .map((c) => String(c['id'])),
  );
}
function medicationEvents(codes: readonly string[], reason?: ValueSet): Ev[] {
  const reasons = reason === undefined ? undefined : conditionIds(reason);
  return rowsOf('medication_request')
    .filter(
      (m) =>
        codes.includes(String(m['rxnorm_code'])) &&
        day(m['authored_on']) !== null &&
        (reasons === undefined || reasons.has(String(m['reason_condition_id']))),
    )
    .map((m) => ({
      person: String(m['patient_id']),
      id: String(m['id']),
      day: day(m['authored_on'])!,
    }));
}

/** Observation period per person as the docs define it. */
function observation(): Map<
  string,
  { start: string | null; end: string | null; birth: string | null; gender: string | null }
> {
  const enc = new Map<string, { first: string[]; last: string[] }>();
  for (const e of rowsOf('encounter')) {
    const p = str(e['patient_id']);
    const s = day(e['period_start']);
    if (p === null || s === null) continue;
    const x = enc.get(p) ?? { first: [], last: [] };
    x.first.push(s);
    x.last.push(day(e['period_end']) ?? s);
    enc.set(p, x);
  }
  const out = new Map<
    string,
    { start: string | null; end: string | null; birth: string | null; gender: string | null }
  >();
  for (const p of rowsOf('patient')) {
    const id = String(p['id']);
    const x = enc.get(id);
    out.set(id, {
      start: x === undefined ? null : minDay(x.first),
      end: day(p['deceased_date']) ?? (x === undefined ? null : maxDay(x.last)),
      birth: day(p['birth_date']),
      gender: str(p['gender']),
    });
  }
  return out;
}
const ageAt = (birth: string, at: string): number => {
  const y = Number(at.slice(0, 4)) - Number(birth.slice(0, 4));
  return at.slice(5) < birth.slice(5) ? y - 1 : y;
};

interface Period {
  person_id: string;
  cohort_start: string;
  cohort_end: string;
}
const key = (p: Period): string => `${p.person_id}|${p.cohort_start}|${p.cohort_end}`;
const sorted = (ps: readonly Period[]): string[] => ps.map(key).sort();

async function run(def: CohortDefinition) {
  const compiled = compileCohort(def, { dialect: ctx.dialect, valueSets: sets });
  return {
    rows: await cohortRows(ctx, compiled),
    attrition: await cohortAttrition(ctx, compiled),
  };
}

function expectMonotone(attrition: readonly { persons: number; events: number }[]): void {
  for (let i = 1; i < attrition.length - 1; i++) {
    expect(attrition[i]!.persons).toBeLessThanOrEqual(attrition[i - 1]!.persons);
    expect(attrition[i]!.events).toBeLessThanOrEqual(attrition[i - 1]!.events);
  }
}

/** Independent evaluation of the two new-user examples. */
function newUsers(drug: string[], other: string[]) {
  const obs = observation();
  const htn = group(conditionEvents(sets.get('hypertension')!));
  const forHtn = sets.get('hypertension')!;
  const otherByPerson = group(medicationEvents(other, forHtn));
  const first = new Map<string, string>();
  for (const e of medicationEvents(drug, forHtn)) {
    const f = first.get(e.person);
    if (f === undefined || e.day < f) first.set(e.person, e.day);
  }
  const step1 = [...first].filter(([p, d]) => (htn.get(p) ?? []).some((e) => e.day <= d));
  const step2 = step1.filter(([p, d]) => !(otherByPerson.get(p) ?? []).some((e) => e.day <= d));
  const periods: Period[] = step2.map(([p, d]) => {
    const end = obs.get(p)?.end ?? null;
    return { person_id: p, cohort_start: d, cohort_end: end !== null && end >= d ? end : d };
  });
  return { counts: [first.size, step1.length, step2.length], periods };
}

describe('cohort examples against an independent evaluation', () => {
  const AML = ['197361', '308136'];
  const LIS = ['314076'];

  it('new users of amlodipine and of lisinopril: members, dates, attrition, truth', async () => {
    const te = truth.realised.treatmentEffect.byStratum;
    for (const [file, drug, other, name] of [
      ['new-users-amlodipine.json', AML, LIS, 'amlodipine'],
      ['new-users-lisinopril.json', LIS, AML, 'lisinopril'],
    ] as const) {
      const got = await run(example(file));
      const want = newUsers([...drug], [...other]);
      expect(sorted(got.rows)).toEqual(sorted(want.periods));
      expect(got.attrition.map((a) => a.persons)).toEqual([...want.counts, want.periods.length]);
      expectMonotone(got.attrition);
      const truthUsers = te.filter((r) => r.drug === name).reduce((a, r) => a + r.newUsers, 0);
      expect(truthUsers).toBeGreaterThan(20);
      expect(got.rows.length, name).toBe(truthUsers);
    }
  });

  it('incident type 2 diabetes with a 365-day washout: members, dates, attrition', async () => {
    const got = await run(example('incident-type-2-diabetes.json'));
    const obs = observation();
    const first = new Map<string, string>();
    for (const e of conditionEvents(sets.get('diabetes-type-2')!)) {
      const f = first.get(e.person);
      if (f === undefined || e.day < f) first.set(e.person, e.day);
    }
    const s1 = [...first].filter(([p, d]) => {
      const o = obs.get(p);
      return o?.start != null && o.end !== null && o.start <= addDays(d, -365) && o.end >= d;
    });
    const s2 = s1.filter(([p, d]) => {
      const b = obs.get(p)?.birth ?? null;
      return b !== null && ageAt(b, d) >= 18;
    });
    const want = s2.map(([p, d]) => {
      const end = obs.get(p)!.end!;
      const fixed = addDays(d, 365);
      return { person_id: p, cohort_start: d, cohort_end: end < fixed ? end : fixed };
    });
    expect(want.length).toBeGreaterThan(10);
    expect(want.length).toBeLessThan(first.size);
    expect(sorted(got.rows)).toEqual(sorted(want));
    expect(got.attrition.map((a) => a.persons)).toEqual([
      first.size,
      s1.length,
      s2.length,
      want.length,
    ]);
    expectMonotone(got.attrition);
  });

  it('adults with HbA1c >= 6.5 (all events, 365-day periods, eras 30 days apart)', async () => {
    const got = await run(example('adults-hba1c-6-5.json'));
    const obs = observation();
    const t2d = group(conditionEvents(sets.get('diabetes-type-2')!));
    const hba1c = sets.get('hba1c')!;
    const entry = new Set<string>();
    for (const o of rowsOf('observation')) {
      const coded =
        (str(o['code_system']) !== null &&
          valueSetContains(hba1c, String(o['code_system']), String(o['code']))) ||
        (str(o['loinc_code']) !== null && valueSetContains(hba1c, LOINC, String(o['loinc_code'])));
      const d = day(o['effective']) ?? day(o['issued']);
      if (coded && d !== null && typeof o['value'] === 'number' && o['value'] >= 6.5)
        entry.add(`${String(o['patient_id'])}|${d}`);
    }
    const s0 = [...entry].map((k) => k.split('|') as [string, string]);
    const s1 = s0.filter(([p, d]) => {
      const b = obs.get(p)?.birth ?? null;
      return b !== null && ageAt(b, d) >= 18;
    });
    const s2 = s1.filter(([p, d]) => !(t2d.get(p) ?? []).some((e) => e.day < d));
    // 365-day periods capped at the end of observation, merged when <= 30 days apart.
    const byPerson = new Map<string, [string, string][]>();
    for (const [p, d] of s2) {
      const end = obs.get(p)?.end ?? null;
      const fixed = addDays(d, 365);
      const e = end !== null && end >= d && end < fixed ? end : fixed;
      byPerson.set(p, [...(byPerson.get(p) ?? []), [d, e]]);
    }
    const want: Period[] = [];
    for (const [p, list] of byPerson) {
      list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1));
      let cur: [string, string] | null = null;
      for (const [s, e] of list) {
        if (cur !== null && s <= addDays(cur[1], 30)) cur[1] = e > cur[1] ? e : cur[1];
        else {
          if (cur !== null) want.push({ person_id: p, cohort_start: cur[0], cohort_end: cur[1] });
          cur = [s, e];
        }
      }
      if (cur !== null) want.push({ person_id: p, cohort_start: cur[0], cohort_end: cur[1] });
    }
    expect(s2.length).toBeGreaterThan(10);
    expect(want.length).toBeLessThan(s2.length); // some periods were merged
    expect(sorted(got.rows)).toEqual(sorted(want));
    expect(got.attrition.map((a) => a.events)).toEqual([
      s0.length,
      s1.length,
      s2.length,
      want.length,
    ]);
    expectMonotone(got.attrition);
  });

  it('exit at an event, censoring, sex and at-least-N rules', async () => {
    const def = parseCohortDefinition({
      name: 'htn_to_stroke',
      entry: { criterion: { kind: 'condition', valueSet: 'hypertension' } },
      inclusion: [
        { type: 'sex', values: ['female'] },
        {
          type: 'occurrence',
          criterion: { kind: 'encounter', class: ['AMB'] },
          window: { start: -730, end: 0 },
          atLeast: 2,
        },
      ],
      exit: { type: 'event', criterion: { kind: 'condition', valueSet: 'stroke' } },
      censoring: [{ kind: 'medication', codes: [{ system: 'RXNORM', code: '197361' }] }],
    });
    const got = await run(def);
    const obs = observation();
    const first = new Map<string, string>();
    for (const e of conditionEvents(sets.get('hypertension')!)) {
      const f = first.get(e.person);
      if (f === undefined || e.day < f) first.set(e.person, e.day);
    }
    const amb = new Map<string, Set<string>>();
    for (const e of rowsOf('encounter'))
      if (e['class'] === 'AMB' && day(e['period_start']) !== null) {
        const p = String(e['patient_id']);
        amb.set(p, (amb.get(p) ?? new Set()).add(`${String(e['id'])}|${day(e['period_start'])}`));
      }
    const stroke = group(conditionEvents(sets.get('stroke')!));
    const aml = group(medicationEvents(['197361']));
    const want: Period[] = [];
    let females = 0;
    for (const [p, d] of first) {
      if (obs.get(p)?.gender !== 'female') continue;
      females++;
      const n = [...(amb.get(p) ?? [])].filter((k) => {
        const x = k.split('|')[1]!;
        return x >= addDays(d, -730) && x <= d;
      }).length;
      if (n < 2) continue;
      const o = obs.get(p)!.end;
      let end = minDay((stroke.get(p) ?? []).filter((e) => e.day > d).map((e) => e.day));
      end ??= o !== null && o >= d ? o : d;
      const c = minDay((aml.get(p) ?? []).filter((e) => e.day >= d).map((e) => e.day));
      if (c !== null && c < end) end = c;
      want.push({ person_id: p, cohort_start: d, cohort_end: end });
    }
    expect(want.length).toBeGreaterThan(10);
    expect(
      want.some((w) => (stroke.get(w.person_id) ?? []).some((e) => e.day === w.cohort_end)),
    ).toBe(true);
    expect(sorted(got.rows)).toEqual(sorted(want));
    expect(got.attrition.map((a) => a.persons)).toEqual([
      first.size,
      females,
      want.length,
      want.length,
    ]);
  });
  it('observationEnd dataEnd: persons alive are followed to the last day of data', async () => {
    const def = { ...example('new-users-lisinopril.json'), observationEnd: 'dataEnd' as const };
    const got = await run(def);
    const dataEnd = maxDay(
      rowsOf('encounter').flatMap((e) => {
        const s = day(e['period_start']);
        return s === null ? [] : [day(e['period_end']) ?? s];
      }),
    )!;
    const obs = observation();
    const want = newUsers(['314076'], ['197361', '308136']).periods.map((p) => {
      const death = day(rowsOf('patient').find((x) => x['id'] === p.person_id)?.['deceased_date']);
      const end = death ?? dataEnd;
      return { ...p, cohort_end: end >= p.cohort_start ? end : p.cohort_start };
    });
    expect(obs.size).toBeGreaterThan(0);
    expect(want.filter((w) => w.cohort_end === dataEnd).length).toBeGreaterThan(10);
    expect(sorted(got.rows)).toEqual(sorted(want));
  });
});

describe('cohort definition errors name the JSON path', () => {
  const base = (): Record<string, unknown> => ({
    name: 'x',
    entry: { criterion: { kind: 'condition', valueSet: 'hypertension' } },
  });
  const issuesOf = (input: unknown): string => {
    try {
      const def = parseCohortDefinition(input, 'def.json');
      compileCohort(def, { dialect: ctx.dialect, valueSets: sets });
    } catch (err) {
      expect(err).toBeInstanceOf(CohortDefinitionError);
      return (err as Error).message;
    }
    throw new Error('no error');
  };

  it('reports each problem at its path', () => {
    expect(issuesOf({ ...base(), name: 'Bad Name' })).toMatch(/def\.json: \$\.name: name must be/);
    expect(
      issuesOf({ ...base(), entry: { criterion: { kind: 'lab', valueSet: 'hba1c' } } }),
    ).toMatch(/\$\.entry\.criterion\.kind/);
    expect(
      issuesOf({
        ...base(),
        inclusion: [
          { type: 'age', min: 18 },
          {
            type: 'occurrence',
            criterion: { kind: 'condition', valueSet: 'copd' },
            window: { start: 10, end: -10 },
          },
        ],
      }),
    ).toMatch(/\$\.inclusion\[1\]\.window\.end: window start must not be after its end/);
    expect(
      issuesOf({
        ...base(),
        entry: {
          criterion: { kind: 'observation', valueSet: 'hba1c', value: { op: 'between', low: 1 } },
        },
      }),
    ).toMatch(/\$\.entry\.criterion\.value/);
    expect(issuesOf({ ...base(), entry: { criterion: { kind: 'medication' } } })).toMatch(
      /\$\.entry\.criterion\.valueSet: give valueSet or codes/,
    );
    expect(
      issuesOf({
        ...base(),
        censoring: [{ kind: 'condition', valueSet: 'no-such-set' }],
      }),
    ).toMatch(/\$\.censoring\[0\]\.valueSet: no value set named "no-such-set"/);
    expect(issuesOf({ ...base(), extra: 1 })).toMatch(/\$: .*extra/);
    expect(() => parseCohortJson('{ nope', 'def.json')).toThrow(/def\.json: \$: /);
  });

  it('compiles every example for Spark as well (backquoted identifiers, no DuckDB casts)', () => {
    const spark = dialectByName('spark');
    for (const f of readdirSync(EXAMPLES).filter((x) => x.endsWith('.json'))) {
      const c = compileCohort(example(f), { dialect: spark, valueSets: sets });
      expect(c.cohortSql, f).toContain('`patient`');
      expect(c.cohortSql, f).not.toMatch(/::|"patient"/);
      expect(c.steps.length, f).toBeGreaterThanOrEqual(2);
    }
  });
});

describe('medlake cohort (commander, in-process)', () => {
  it('builds into the lake, prints the attrition table and lists the cohort', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      written.push(String(s));
      return true;
    });
    const program = (): Command => {
      const p = new Command().exitOverride();
      registerCohortCommand(p);
      return p;
    };
    try {
      const def = path.join(EXAMPLES, 'new-users-lisinopril.json');
      await program().parseAsync(['cohort', 'build', def, '--lake', lake], { from: 'user' });
      await program().parseAsync(['cohort', 'build', def, '--lake', lake, '--json'], {
        from: 'user',
      });
      await program().parseAsync(['cohort', 'list', '--lake', lake, '--json'], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    expect(written[0]).toMatch(/^cohort new_users_lisinopril: \d+ persons/);
    expect(written[0]).toMatch(/no amlodipine for hypertension on or before the index date/);
    const json = JSON.parse(written[1]!) as { table: string; rows: number; persons: number };
    expect(json.table).toBe('cohort_new_users_lisinopril');
    const users = truth.realised.treatmentEffect.byStratum
      .filter((r) => r.drug === 'lisinopril')
      .reduce((a, r) => a + r.newUsers, 0);
    expect(json.persons).toBe(users);
    const list = JSON.parse(written[2]!) as { name: string; rows: number }[];
    expect(list).toEqual([
      expect.objectContaining({ name: 'new_users_lisinopril', rows: json.rows }),
    ]);
    // The stored table is queryable in a new session.
    const again = await AnalysisContext.open(lake, { views: ['patient'] });
    try {
      const r = await again.rows(
        'SELECT COUNT(*) AS n, MIN(cohort_end >= cohort_start) AS ok FROM cohort_new_users_lisinopril',
      );
      expect(Number(r[0]!['n'])).toBe(json.rows);
      expect(r[0]!['ok']).toBe(true);
    } finally {
      await again.close();
    }
  });

  it('buildCohort rejects an unknown value set with a usage error through the CLI', async () => {
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        name: 'bad',
        entry: { criterion: { kind: 'condition', valueSet: 'nope' } },
      }),
    );
    const p = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    registerCohortCommand(p);
    const err = await p.parseAsync(['cohort', 'build', bad, '--lake', lake], { from: 'user' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as { exitCode?: number } | null)?.exitCode).toBe(2);
    expect(String((err as Error).message)).toMatch(
      /bad\.json: \$\.entry\.criterion\.valueSet: no value set/,
    );
    expect(buildCohort).toBeTypeOf('function');
  });
});
