import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PopulationReportData } from '../src/report/population-data.js';
import {
  escapeHtml,
  renderPopulationReport,
  REPORT_SECTIONS,
} from '../src/report/population-report.js';
import { REPO_ROOT } from './helpers/lake-test-utils.js';

const CHROMIUM = '/usr/bin/chromium';
const MIN_CELL = 11;
const AGE_BANDS = [
  '0-4',
  '5-9',
  '10-14',
  '15-19',
  '20-24',
  '25-29',
  '30-34',
  '35-39',
  '40-44',
  '45-49',
  '50-54',
  '55-59',
  '60-64',
  '65-69',
  '70-74',
  '75-79',
  '80-84',
  '85+',
];
const YEARS = [2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024];

/** A population of ~10,000 with three conditions, shaped like the analyses' output. */
function fixture(conditions = ['diabetes', 'hypertension', 'influenza']): PopulationReportData {
  const baseRate: Record<number, number> = { 0: 7.2, 1: 19.5, 2: 48 };
  const incidenceTrend = conditions.flatMap((condition, ci) =>
    YEARS.map((year, yi) => {
      const personYears = 9500 + yi * 60;
      const rate = (baseRate[ci] ?? 5) * (1 + 0.02 * yi);
      const cases = Math.round((rate * personYears) / 1000);
      // One suppressed year of the first condition (as if it had fewer than 11 cases).
      const hidden = ci === 0 && year === 2017;
      const se = Math.sqrt(cases) * (1000 / personYears);
      return {
        condition,
        year,
        cases: hidden ? null : cases,
        personYears,
        rate: hidden ? null : rate,
        lower: hidden ? null : rate - 1.96 * se,
        upper: hidden ? null : rate + 1.96 * se,
      };
    }),
  );
  const pyramid = AGE_BANDS.flatMap((ageBand, i) =>
    (['male', 'female'] as const).map((sex) => {
      const count = Math.round(700 * Math.exp(-i / 9) * (sex === 'female' ? 1.05 : 1));
      return { ageBand, sex, count: ageBand === '85+' && sex === 'male' ? null : count };
    }),
  );
  const seasonal = conditions.flatMap((condition, ci) =>
    Array.from({ length: 12 }, (_, k) => {
      const month = k + 1;
      const amp = ci === 2 ? 0.8 : 0.05;
      const fitted = 40 * (1 + amp * Math.cos((2 * Math.PI * (month - 1)) / 12));
      const cases = Math.round(fitted * (1 + 0.1 * Math.sin(month * 7)));
      return { condition, month, cases: ci === 2 && month === 7 ? null : cases, fitted };
    }),
  );
  const states = ['CA', 'NY', 'TX', 'FL', 'MA'];
  const regions = conditions.flatMap((condition, ci) =>
    states.map((region, ri) => {
      const expected = 60 + ri * 15;
      const excess = ci === 0 && region === 'CA';
      const observed = Math.round(expected * (excess ? 2.6 : 0.9 + 0.05 * ri));
      const sir = observed / expected;
      const hidden = ci === 1 && region === 'MA';
      return {
        condition,
        region,
        observed: hidden ? null : observed,
        expected,
        sir: hidden ? null : sir,
        lower: hidden ? null : sir * 0.8,
        upper: hidden ? null : sir * 1.22,
        flagged: excess,
      };
    }),
  );
  const all = [...conditions, 'obesity'];
  const cooccurrence = all.flatMap((a, i) =>
    all.slice(i + 1).map((b, j) => {
      const hidden = a === conditions[1] && b === conditions[2];
      const lift = 0.8 + 0.35 * (i + j);
      return {
        a,
        b,
        observed: hidden ? null : Math.round(40 * lift),
        expected: 40,
        lift: hidden ? null : lift,
        oddsRatio: hidden ? null : lift * 1.1,
        lower: hidden ? null : lift * 0.9,
        upper: hidden ? null : lift * 1.3,
      };
    }),
  );
  return {
    title: 'Population report',
    subtitle: 'Lake /data/lake, generated 2026-01-01T00:00:00Z',
    minCell: MIN_CELL,
    incidenceTrend,
    apc: conditions.map((condition) => ({ condition, apc: 2.1, lower: 0.4, upper: 3.8 })),
    pyramid,
    seasonal,
    seasonality: conditions.map((condition, ci) => ({
      condition,
      peakMonth: 1,
      peakToTrough: ci === 2 ? 9 : 1.1,
      pValue: ci === 2 ? 1e-9 : 0.42,
    })),
    regions,
    cooccurrence,
    attrition: [
      { step: 'All patients', remaining: 10123 },
      { step: `Has ${conditions[0]} (value set)`, remaining: 812 },
      { step: 'Age 40 or older at index', remaining: 655 },
      { step: 'Pregnant at index', remaining: null },
    ],
    table1: {
      cohort: `${conditions[0]} cohort`,
      comparator: 'Comparator',
      rows: [
        {
          section: 'Demographics',
          variable: 'Age, mean (SD)',
          cohortValue: '62.1 (11.3)',
          comparatorValue: '48.0 (17.9)',
          smd: 0.94,
        },
        {
          section: 'Demographics',
          variable: 'Female',
          cohortValue: '331 (50.5%)',
          comparatorValue: '4,801 (51.2%)',
          smd: -0.014,
        },
        {
          section: 'Conditions',
          variable: conditions[1] ?? 'hypertension',
          cohortValue: '402 (61.4%)',
          comparatorValue: '2,113 (22.5%)',
          smd: 0.86,
        },
        {
          section: 'Conditions',
          variable: 'Rare condition',
          cohortValue: '<11',
          comparatorValue: '15 (0.2%)',
          smd: null,
        },
      ],
    },
  };
}

/** Every src/href and CSS url() must point inside the document (or be a data: URI). */
function externalReferences(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(
    /\b(?:src|href|xlink:href|srcset|action)\s*=\s*["']?([^"'\s>]*)/gi,
  )) {
    const target = m[1] ?? '';
    if (!target.startsWith('#') && !target.startsWith('data:')) found.push(m[0]);
  }
  for (const m of html.matchAll(/url\(\s*["']?([^)"']*)/gi)) {
    const target = m[1] ?? '';
    if (!target.startsWith('#') && !target.startsWith('data:')) found.push(m[0]);
  }
  for (const m of html.matchAll(/@import|<script|<link\b|<iframe|<object|<embed/gi))
    found.push(m[0]);
  return found;
}

describe('population report HTML', () => {
  let html = '';
  beforeAll(async () => {
    html = await renderPopulationReport(fixture());
  }, 20_000);

  it('is one self-contained document with every section', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(externalReferences(html)).toEqual([]);
    for (const s of REPORT_SECTIONS) {
      expect(html).toContain(`<section id="${s.id}">`);
      expect(html).toContain(`<a href="#${s.id}">`);
    }
    // Six charts: trend, pyramid, seasonal, SIR, heatmap, attrition; each fully labelled.
    const figures = html.match(/<figure[\s\S]*?<\/figure>/g) ?? [];
    expect(figures).toHaveLength(6);
    for (const f of figures) {
      expect(f).toMatch(/<figcaption>[^<]+/);
      expect(f).toMatch(/<details><summary>Data table<\/summary><table>/);
      expect(f).toContain('<svg');
    }
    // 3 trend + 1 pyramid + 3 seasonal + 3 SIR + 1 heatmap + 1 attrition.
    expect(html.match(/<svg /g)).toHaveLength(12);
  });

  it('shows suppressed values as <minCell and never draws them', () => {
    const lt = escapeHtml(`<${MIN_CELL}`);
    // Incidence 2017 of diabetes: the data table row says <11 for cases, rate and CI.
    expect(html).toMatch(
      new RegExp(`<td>diabetes</td><td class="num">2017</td><td class="num">${lt}</td>`),
    );
    // Pyramid 85+ male, seasonal July, SIR MA, heatmap pair, attrition last step.
    expect(html).toMatch(new RegExp(`<td>85\\+</td><td class="num">${lt}</td>`));
    expect(html).toMatch(new RegExp(`<td>influenza</td><td>Jul</td><td class="num">${lt}</td>`));
    expect(html).toMatch(new RegExp(`<td>MA</td><td class="num">${lt}</td>`));
    expect(html).toMatch(
      new RegExp(`<td>hypertension</td><td>influenza</td><td class="num">${lt}</td>`),
    );
    expect(html).toMatch(new RegExp(`Pregnant at index</td><td class="num">${lt}</td>`));
    // In the SVGs: labels instead of marks.
    expect(html.match(/<text[^>]*>&lt;11<\/text>/g)?.length ?? 0).toBeGreaterThanOrEqual(7);
    // No suppressed value drawn: the heatmap's suppressed pair exists only as grey cells.
    const heat = /<figure class="chart" data-chart="cooccurrence">[\s\S]*?<\/figure>/.exec(
      html,
    )?.[0];
    expect(heat).toBeDefined();
    expect(heat).toMatch(/class="mark-rect role-mark heat_suppressed_marks"/);
    // Flagged row highlighted, Table 1 imbalance highlighted (|SMD| 0.94 and 0.86, not -0.01).
    expect(html.match(/<tr class="flagged">/g)?.length).toBe(2); // visible table + data table
    expect(html.match(/<tr class="imbalanced">/g)?.length).toBe(2);
  });

  it('escapes every string from the data', async () => {
    const evil = `<script>alert("x")</script> & 'quoted'`;
    const data = fixture([evil, 'asthma', 'copd']);
    const out = await renderPopulationReport({
      ...data,
      title: `Report <b>"bold"</b>`,
      subtitle: `</title><script>bad()</script>`,
    });
    expect(out).not.toContain('<script');
    expect(out).not.toContain('<b>');
    // Every occurrence of the payload is inert text: its "<" arrives escaped (Vega's SVG
    // text content keeps the quotes, which is harmless outside attributes).
    expect(out.match(/alert\(/g)?.length).toBeGreaterThan(5);
    expect(out.match(/&lt;script&gt;alert\(/g)?.length).toBe(out.match(/alert\(/g)?.length);
    expect(out).toContain(
      '<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;</td>',
    );
    expect(out).toContain(
      '<h3>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;</h3>',
    );
    // No attribute value is broken open by a quote from the data.
    expect(out).not.toMatch(/="[^"]*alert\("/);
    expect(out).toContain(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quoted&#39;',
    );
    expect(out).toContain('<title>Report &lt;b&gt;&quot;bold&quot;&lt;/b&gt;</title>');
    expect(externalReferences(out)).toEqual([]);
  });

  it('renders without attrition and Table 1', async () => {
    const out = await renderPopulationReport({
      ...fixture(),
      attrition: undefined,
      table1: undefined,
    });
    expect(out).toContain('No cohort was given');
    expect(out).toContain('No cohort comparison was given');
    expect(out.match(/<figure/g)).toHaveLength(5);
  });
});

// Without /usr/bin/chromium the browser test reports itself skipped by name, unless
// MEDLAKE_REQUIRE_BROWSER=1 (CI installs Debian's chromium and sets it): then it fails.
const requireBrowser = process.env.MEDLAKE_REQUIRE_BROWSER === '1';
const skipBrowser =
  process.env.MEDLAKE_SKIP_BROWSER === '1' || (!requireBrowser && !existsSync(CHROMIUM));
describe.skipIf(skipBrowser)(
  skipBrowser
    ? `population report in headless Chromium (skipped: ${existsSync(CHROMIUM) ? 'MEDLAKE_SKIP_BROWSER=1' : `${CHROMIUM} not installed`})`
    : 'population report in headless Chromium',
  () => {
    let dir = '';
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('opens offline, draws every chart, and logs no error', async () => {
      if (!existsSync(CHROMIUM)) {
        throw new Error(
          `${CHROMIUM} not found: install Debian's chromium package (bash scripts/install-chromium.sh)`,
        );
      }
      const { chromium } = await import('playwright-core');
      const data = fixture();
      const html = await renderPopulationReport(data);
      dir = mkdtempSync(path.join(os.tmpdir(), 'medlake-report-'));
      const file = path.join(dir, 'report.html');
      writeFileSync(file, html);
      const fileUrl = pathToFileURL(file).href;

      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
        const attempted: string[] = [];
        const errors: string[] = [];
        await page.route('**/*', async (route) => {
          const url = route.request().url();
          if (url === fileUrl) return route.continue();
          attempted.push(url);
          return route.abort();
        });
        page.on('request', (r) => {
          if (r.url() !== fileUrl && !attempted.includes(r.url())) attempted.push(r.url());
        });
        page.on('console', (m) => {
          if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
        });
        page.on('pageerror', (err) => errors.push(err.message));
        await page.goto(fileUrl, { waitUntil: 'load' });

        const sizes = await page.$$eval('svg', (svgs) =>
          svgs.map((s) => {
            const r = s.getBoundingClientRect();
            return { w: r.width, h: r.height };
          }),
        );
        expect(sizes).toHaveLength(12);
        for (const s of sizes) {
          expect(s.w).toBeGreaterThan(50);
          expect(s.h).toBeGreaterThan(50);
        }

        const count = (sel: string): Promise<number> => page.locator(sel).count();
        // Pyramid: one bar per band and sex, except the suppressed 85+ male (a "<11" label).
        expect(await count('[data-chart=pyramid] g.pyramid_bar_marks > path')).toBe(
          AGE_BANDS.length * 2 - 1,
        );
        expect(await count('[data-chart=pyramid] g.suppressed_label_male_marks > text')).toBe(1);
        // Trend: points for every shown year (3 conditions x 10 years, one suppressed); the
        // suppressed year splits diabetes' line in two.
        expect(await count('[data-chart=incidence] g.trend_point_marks > path')).toBe(29);
        expect(await count('[data-chart=incidence] g.trend_line_marks > path')).toBe(4);
        // Seasonal: 12 months x 3 conditions, July of influenza suppressed; one curve each.
        expect(await count('[data-chart=seasonal] g.seasonal_bar_marks > path')).toBe(35);
        expect(await count('[data-chart=seasonal] g.seasonal_fit_marks > path')).toBe(3);
        // SIR: 5 regions x 3 conditions, one suppressed.
        expect(await count('[data-chart=regions] g.sir_point_marks > path')).toBe(14);
        expect(await count('[data-chart=regions] g.sir_whisker_marks > line')).toBe(14);
        // Heatmap: 4 conditions, 6 pairs, both triangles; one pair suppressed.
        expect(await count('[data-chart=cooccurrence] g.heat_cell_marks > path')).toBe(10);
        expect(await count('[data-chart=cooccurrence] g.heat_suppressed_marks > path')).toBe(2);
        // Attrition: 4 steps, the last suppressed.
        expect(await count('[data-chart=attrition] g.attrition_bar_marks > path')).toBe(3);
        // Every bar really has a size in the browser's layout.
        const barBoxes = await page.$$eval('g.pyramid_bar_marks > path', (ps) =>
          ps.map((p) => (p as unknown as { getBBox(): { width: number } }).getBBox().width),
        );
        expect(Math.min(...barBoxes)).toBeGreaterThan(0);

        expect(errors).toEqual([]);
        expect(attempted).toEqual([]);

        if (process.env.MEDLAKE_UPDATE_SCREENSHOT === '1') {
          const out = path.join(REPO_ROOT, 'docs', 'images', 'report-example.png');
          mkdirSync(path.dirname(out), { recursive: true });
          await page.screenshot({ path: out, fullPage: false });
        }
      } finally {
        await browser.close();
      }
    }, 30_000);
  },
);
