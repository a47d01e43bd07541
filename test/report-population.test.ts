/**
 * `medlake report population` end to end: a generated lake with a planted regional excess
 * and the first-line new-user cohorts; the command writes one HTML file whose numbers come
 * from the analyses (checked against truth.json and against the analyses themselves).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli/main.js';
import type { Truth } from '../src/synth/index.js';
import { synthesizeIntoLake } from '../src/synth/write-lake.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

let tmp = '';
let lake = '';
let html = '';
let truth: Truth;
let consoleErrors: string[] = [];

beforeAll(async () => {
  tmp = makeTempDir('report-population');
  lake = path.join(tmp, 'lake');
  await synthesizeIntoLake(lake, {
    patients: 3000,
    seed: 5,
    regionalExcess: { region: 'CA', condition: 'diabetes', factor: 3 },
  });
  truth = JSON.parse(readFileSync(path.join(lake, 'truth.json'), 'utf8')) as Truth;
  const out = path.join(tmp, 'report.html');
  // Vega logs rendering failures on console.error without throwing: they must not happen.
  const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    consoleErrors.push(a.map(String).join(' '));
  });
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    const code = await main([
      'node',
      'medlake',
      'report',
      'population',
      '--lake',
      lake,
      '--out',
      out,
      '--cohort',
      'examples/cohorts/new-users-amlodipine.json',
      '--comparator',
      'examples/cohorts/new-users-lisinopril.json',
    ]);
    expect(code).toBe(0);
  } finally {
    spy.mockRestore();
    write.mockRestore();
  }
  html = readFileSync(out, 'utf8');
}, 120_000);

afterAll(() => {
  removeDir(tmp);
  consoleErrors = [];
});

/** The rows of the table that follows the section's figure, as arrays of cell texts. */
function tableRows(sectionId: string): string[][] {
  const start = html.indexOf(`id="${sectionId}"`);
  expect(start).toBeGreaterThan(0);
  const table = html.slice(start, html.indexOf('</table>', start));
  return [...table.matchAll(/<tr[^>]*>(.*?)<\/tr>/gs)].map((m) =>
    [...(m[1] ?? '').matchAll(/<t[dh][^>]*>(.*?)<\/t[dh]>/gs)].map((c) =>
      (c[1] ?? '').replace(/<[^>]+>/g, ''),
    ),
  );
}

describe('medlake report population', () => {
  it('writes one self-contained HTML file with every section and no rendering error', () => {
    expect(consoleErrors).toEqual([]);
    for (const id of ['incidence', 'pyramid', 'seasonal', 'regions', 'cooccurrence', 'attrition'])
      expect(html).toContain(`id="${id}"`);
    expect(html).toContain('table1');
    expect(html.match(/<svg/g)?.length ?? 0).toBeGreaterThanOrEqual(6);
    // Nothing to fetch: no scripts, stylesheets, images or fonts (url(#id) stays inside).
    expect(html).not.toMatch(/<script|<link|\bsrc\s*=|url\((?!#)/i);
    expect(html).not.toMatch(/\bNaN\b|Infinity/);
  });

  it('flags the planted regional excess (CA diabetes) and no other region', () => {
    const flaggedRows = [...html.matchAll(/<tr class="flagged">(.*?)<\/tr>/gs)].map((m) =>
      (m[1] ?? '').replace(/<[^>]+>/g, '|'),
    );
    expect(flaggedRows.length).toBeGreaterThan(0);
    for (const r of flaggedRows) expect(r).toMatch(/\|CA\|/);
  });

  it('shows the pyramid of the living at the end as truth counts them', () => {
    // The pyramid's data table: age band, male, female (suppressed below 11).
    const rows = tableRows('pyramid').filter((r) => /^\d|85\+/.test(r[0] ?? ''));
    expect(rows.length).toBeGreaterThan(0);
    const alive = new Map(
      truth.realised.patients.aliveByAgeBandAtEnd.map((b) => [b.ageBand, b] as const),
    );
    let checked = 0;
    for (const r of rows) {
      const band = alive.get(r[0] as string);
      if (band === undefined) continue;
      const cells = r.slice(1).map((c) => c.replace(/,/g, ''));
      const numbers = cells.filter((c) => /^\d+$/.test(c)).map(Number);
      for (const n of numbers) expect([band.male, band.female]).toContain(n);
      checked += numbers.length;
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('has Table 1 with the confounders (age ≥ 65, CKD) imbalanced between the new users', () => {
    const t1 = html.slice(html.indexOf('class="table1"'));
    expect(t1).toContain('new-users-amlodipine');
    const imbalanced = [...t1.matchAll(/<tr class="imbalanced"><th scope="row">(.*?)<\/th>/g)].map(
      (m) => m[1] ?? '',
    );
    expect(imbalanced.join(' | ')).toMatch(/65/);
    expect(imbalanced.join(' | ').toLowerCase()).toMatch(/kidney|ckd/);
  });

  it('is where the README says (the example screenshot exists)', () => {
    expect(existsSync('docs/images/report-example.png')).toBe(true);
  });
});

describe('medlake analyze characterize with cohort definition files', () => {
  it('compiles the definitions and shows the confounders imbalanced', async () => {
    const chunks: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((c: unknown) => {
      chunks.push(String(c));
      return true;
    });
    let code: number;
    try {
      code = await main([
        'node',
        'medlake',
        'analyze',
        'characterize',
        '--lake',
        lake,
        '--cohort',
        'examples/cohorts/new-users-amlodipine.json',
        '--comparator',
        'examples/cohorts/new-users-lisinopril.json',
        '--format',
        'json',
      ]);
    } finally {
      write.mockRestore();
    }
    expect(code).toBe(0);
    const r = JSON.parse(chunks.join('')) as {
      cohort: { label: string; n: number };
      rows: { key: string; smd: number | null; imbalanced: boolean }[];
    };
    expect(r.cohort.label).toBe('new-users-amlodipine');
    const users = truth.realised.treatmentEffect.byStratum
      .filter((s) => s.drug === 'amlodipine')
      .reduce((a, s) => a + s.newUsers, 0);
    expect(r.cohort.n).toBe(users);
    const age = r.rows.find((x) => x.key === 'age');
    expect(age?.imbalanced).toBe(true);
  });
});
