/**
 * The population report as ONE self-contained HTML document: inline CSS, charts as inline
 * SVG (Vega-Lite rendered in Node), no scripts, fonts, images or any other resource to
 * fetch; a Content-Security-Policy forbids the browser to load anything. Every string from
 * the data is HTML-escaped. Suppressed values (null) read "<minCell>" and are never drawn
 * as zero. Each chart is a <figure> with a <figcaption> and its data as a table in <details>.
 */
import {
  attritionSpec,
  cooccurrenceSpec,
  incidenceTrendSpec,
  monthName,
  orderAgeBands,
  pyramidSpec,
  renderVegaLiteSvg,
  seasonalSpec,
  sirSpec,
} from './charts.js';
import type { PopulationReportData } from './population-data.js';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Section ids of the report, in order. */
export const REPORT_SECTIONS = [
  { id: 'incidence', title: 'Incidence trend' },
  { id: 'pyramid', title: 'Age-sex pyramid' },
  { id: 'seasonal', title: 'Seasonal profile' },
  { id: 'regions', title: 'Incidence by region' },
  { id: 'cooccurrence', title: 'Co-occurrence' },
  { id: 'attrition', title: 'Cohort attrition' },
  { id: 'table1', title: 'Table 1' },
] as const;

const e = escapeHtml;

function suppressedText(minCell: number): string {
  return e(`<${minCell}`);
}

function fmtCount(v: number | null, minCell: number): string {
  return v === null ? suppressedText(minCell) : e(v.toLocaleString('en-US'));
}

function fmtNum(v: number | null, digits: number, minCell: number): string {
  if (v === null) return suppressedText(minCell);
  if (!Number.isFinite(v)) return e(String(v));
  return e(
    v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }),
  );
}

function fmtCi(
  lower: number | null,
  upper: number | null,
  digits: number,
  minCell: number,
): string {
  if (lower === null || upper === null) return suppressedText(minCell);
  return `${fmtNum(lower, digits, minCell)}&ndash;${fmtNum(upper, digits, minCell)}`;
}

function fmtP(p: number): string {
  if (!Number.isFinite(p)) return e(String(p));
  return p < 0.001 ? '&lt;0.001' : e(p.toFixed(3));
}

function groupBy<T>(rows: readonly T[], key: (r: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}

interface Column<T> {
  readonly head: string;
  readonly cell: (row: T) => string;
  readonly numeric?: boolean;
}

/** An HTML table; cells are already-escaped HTML. */
function table<T>(
  columns: readonly Column<T>[],
  rows: readonly T[],
  options: { caption?: string; rowClass?: (row: T) => string | null } = {},
): string {
  const head = columns
    .map((c) => `<th scope="col"${c.numeric ? ' class="num"' : ''}>${e(c.head)}</th>`)
    .join('');
  const body = rows
    .map((r) => {
      const cls = options.rowClass?.(r);
      const cells = columns
        .map((c) => `<td${c.numeric ? ' class="num"' : ''}>${c.cell(r)}</td>`)
        .join('');
      return `<tr${cls ? ` class="${e(cls)}"` : ''}>${cells}</tr>`;
    })
    .join('\n');
  const caption = options.caption ? `<caption>${e(options.caption)}</caption>` : '';
  return `<table>${caption}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

interface Panel {
  readonly heading: string | null;
  readonly svg: string;
}

function figure(
  chart: string,
  panels: readonly Panel[],
  caption: string,
  dataTable: string,
): string {
  const inner = panels
    .map(
      (p) =>
        `<div class="panel">${p.heading === null ? '' : `<h3>${e(p.heading)}</h3>`}${p.svg}</div>`,
    )
    .join('\n');
  return `<figure class="chart" data-chart="${e(chart)}">
<div class="panels">
${inner}
</div>
<figcaption>${caption}</figcaption>
<details><summary>Data table</summary>${dataTable}</details>
</figure>`;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${e(id)}">\n<h2>${e(title)}</h2>\n${body}\n</section>`;
}

const empty = '<p class="empty">No data.</p>';

async function incidenceSection(d: PopulationReportData): Promise<string> {
  const m = d.minCell;
  const byCondition = groupBy(d.incidenceTrend, (r) => r.condition);
  if (byCondition.size === 0) return empty;
  const panels: Panel[] = [];
  for (const [condition, rows] of byCondition) {
    const sorted = [...rows].sort((a, b) => a.year - b.year);
    panels.push({
      heading: condition,
      svg: await renderVegaLiteSvg(incidenceTrendSpec(sorted, m)),
    });
  }
  const data = table(
    [
      { head: 'Condition', cell: (r) => e(r.condition) },
      { head: 'Year', cell: (r) => e(String(r.year)), numeric: true },
      { head: 'Cases', cell: (r) => fmtCount(r.cases, m), numeric: true },
      { head: 'Person-years', cell: (r) => fmtNum(r.personYears, 1, m), numeric: true },
      { head: 'Rate per 1,000 PY', cell: (r) => fmtNum(r.rate, 2, m), numeric: true },
      { head: '95% CI', cell: (r) => fmtCi(r.lower, r.upper, 2, m), numeric: true },
    ],
    d.incidenceTrend,
  );
  const apc =
    d.apc.length === 0
      ? ''
      : table(
          [
            { head: 'Condition', cell: (r) => e(r.condition) },
            { head: 'Annual percent change', cell: (r) => fmtNum(r.apc, 1, m), numeric: true },
            { head: '95% CI', cell: (r) => fmtCi(r.lower, r.upper, 1, m), numeric: true },
          ],
          d.apc,
          { caption: 'Annual percent change of incidence (log-linear trend)' },
        );
  return `${figure(
    'incidence',
    panels,
    `New cases per 1,000 person-years by calendar year, one panel per condition; the band is the 95% confidence interval. Years with fewer than ${e(String(m))} cases are suppressed (labelled ${suppressedText(m)}, not drawn).`,
    data,
  )}\n${apc}`;
}

async function pyramidSection(d: PopulationReportData): Promise<string> {
  const m = d.minCell;
  if (d.pyramid.length === 0) return empty;
  const bands = orderAgeBands(d.pyramid.map((r) => r.ageBand));
  const svg = await renderVegaLiteSvg(pyramidSpec(d.pyramid, m));
  const find = (band: string, sex: 'male' | 'female'): string => {
    const row = d.pyramid.find((r) => r.ageBand === band && r.sex === sex);
    return row ? fmtCount(row.count, m) : '&ndash;';
  };
  const data = table(
    [
      { head: 'Age band', cell: (b: string) => e(b) },
      { head: 'Male', cell: (b: string) => find(b, 'male'), numeric: true },
      { head: 'Female', cell: (b: string) => find(b, 'female'), numeric: true },
    ],
    [...bands].reverse(),
  );
  return figure(
    'pyramid',
    [{ heading: null, svg }],
    `People alive at the end of the period by age band; men to the left, women to the right. Cells below ${e(String(m))} are suppressed (${suppressedText(m)}).`,
    data,
  );
}

async function seasonalSection(d: PopulationReportData): Promise<string> {
  const m = d.minCell;
  const byCondition = groupBy(d.seasonal, (r) => r.condition);
  if (byCondition.size === 0) return empty;
  const panels: Panel[] = [];
  for (const [condition, rows] of byCondition) {
    const sorted = [...rows].sort((a, b) => a.month - b.month);
    panels.push({ heading: condition, svg: await renderVegaLiteSvg(seasonalSpec(sorted, m)) });
  }
  const data = table(
    [
      { head: 'Condition', cell: (r) => e(r.condition) },
      { head: 'Month', cell: (r) => e(monthName(r.month)) },
      { head: 'New cases', cell: (r) => fmtCount(r.cases, m), numeric: true },
      { head: 'Fitted', cell: (r) => fmtNum(r.fitted, 1, m), numeric: true },
    ],
    d.seasonal,
  );
  const summary =
    d.seasonality.length === 0
      ? ''
      : table(
          [
            { head: 'Condition', cell: (r) => e(r.condition) },
            { head: 'Peak month', cell: (r) => e(monthName(r.peakMonth)) },
            {
              head: 'Peak-to-trough ratio',
              cell: (r) => fmtNum(r.peakToTrough, 2, m),
              numeric: true,
            },
            { head: 'p (no seasonality)', cell: (r) => fmtP(r.pValue), numeric: true },
          ],
          d.seasonality,
          { caption: 'Seasonality (cosinor fit)' },
        );
  return `${figure(
    'seasonal',
    panels,
    'New cases by calendar month, all years together (bars), with the fitted seasonal curve (line), one panel per condition.',
    data,
  )}\n${summary}`;
}

async function regionsSection(d: PopulationReportData): Promise<string> {
  const m = d.minCell;
  const byCondition = groupBy(d.regions, (r) => r.condition);
  if (byCondition.size === 0) return empty;
  const panels: Panel[] = [];
  for (const [condition, rows] of byCondition) {
    panels.push({ heading: condition, svg: await renderVegaLiteSvg(sirSpec(rows, m)) });
  }
  const rateTable = table(
    [
      { head: 'Condition', cell: (r) => e(r.condition) },
      { head: 'Region', cell: (r) => e(r.region) },
      { head: 'Observed', cell: (r) => fmtCount(r.observed, m), numeric: true },
      { head: 'Expected', cell: (r) => fmtNum(r.expected, 1, m), numeric: true },
      { head: 'SIR', cell: (r) => fmtNum(r.sir, 2, m), numeric: true },
      { head: '95% CI', cell: (r) => fmtCi(r.lower, r.upper, 2, m), numeric: true },
      { head: 'Flag', cell: (r) => (r.flagged ? 'excess' : '') },
    ],
    d.regions,
    {
      caption:
        'Observed vs expected new cases by region (indirect standardization); highlighted rows have a 95% CI above 1',
      rowClass: (r) => (r.flagged ? 'flagged' : null),
    },
  );
  const flagged = d.regions.filter((r) => r.flagged).length;
  return `${rateTable}\n${figure(
    'regions',
    panels,
    `Standardized incidence ratio (observed / expected) with 95% CI per region, one panel per condition; the dashed line is 1 (as expected). ${flagged} region-condition pair${flagged === 1 ? '' : 's'} flagged (red).`,
    rateTable,
  )}`;
}

async function cooccurrenceSection(d: PopulationReportData): Promise<string> {
  const m = d.minCell;
  if (d.cooccurrence.length === 0) return empty;
  const svg = await renderVegaLiteSvg(cooccurrenceSpec(d.cooccurrence, m));
  const data = table(
    [
      { head: 'Condition A', cell: (r) => e(r.a) },
      { head: 'Condition B', cell: (r) => e(r.b) },
      { head: 'Observed', cell: (r) => fmtCount(r.observed, m), numeric: true },
      { head: 'Expected', cell: (r) => fmtNum(r.expected, 1, m), numeric: true },
      { head: 'Lift', cell: (r) => fmtNum(r.lift, 2, m), numeric: true },
      { head: 'Odds ratio', cell: (r) => fmtNum(r.oddsRatio, 2, m), numeric: true },
      { head: '95% CI', cell: (r) => fmtCi(r.lower, r.upper, 2, m), numeric: true },
    ],
    d.cooccurrence,
  );
  return figure(
    'cooccurrence',
    [{ heading: null, svg }],
    `Lift of each pair of conditions: people with both divided by the number expected if they were independent (1 = as expected; orange above, blue below). Grey cells are suppressed (fewer than ${e(String(m))} people with both, ${suppressedText(m)}).`,
    data,
  );
}

async function attritionSection(d: PopulationReportData): Promise<string> {
  const m = d.minCell;
  if (!d.attrition || d.attrition.length === 0) {
    return '<p class="empty">No cohort was given for this report.</p>';
  }
  const svg = await renderVegaLiteSvg(attritionSpec(d.attrition, m));
  const data = table(
    [
      { head: 'Step', cell: (r: { step: string; i: number }) => e(`${r.i + 1}. ${r.step}`) },
      {
        head: 'Remaining',
        cell: (r: { i: number }) => fmtCount(d.attrition?.[r.i]?.remaining ?? null, m),
        numeric: true,
      },
    ],
    d.attrition.map((s, i) => ({ step: s.step, i })),
  );
  return figure(
    'attrition',
    [{ heading: null, svg }],
    'People remaining in the cohort after each inclusion or exclusion rule, in order.',
    data,
  );
}

function table1Section(d: PopulationReportData): string {
  const t = d.table1;
  if (!t || t.rows.length === 0) {
    return '<p class="empty">No cohort comparison was given for this report.</p>';
  }
  const rows: string[] = [];
  let current: string | null = null;
  for (const r of t.rows) {
    if (r.section !== current) {
      current = r.section;
      rows.push(`<tr class="section"><th colspan="4" scope="rowgroup">${e(r.section)}</th></tr>`);
    }
    const imbalanced = r.smd !== null && Math.abs(r.smd) > 0.1;
    // An infinite SMD (a share of 0% against 100%: no variance within either group) is
    // shown as ∞, still highlighted.
    const smd =
      r.smd === null
        ? '&ndash;'
        : Number.isFinite(r.smd)
          ? e(r.smd.toFixed(2))
          : r.smd > 0
            ? '&infin;'
            : '&minus;&infin;';
    rows.push(
      `<tr${imbalanced ? ' class="imbalanced"' : ''}><th scope="row">${e(r.variable)}</th><td class="num">${e(r.cohortValue)}</td><td class="num">${e(r.comparatorValue)}</td><td class="num smd">${smd}</td></tr>`,
    );
  }
  return `<table class="table1"><caption>Baseline characteristics; standardized mean differences with |SMD| &gt; 0.1 are highlighted</caption>
<thead><tr><th scope="col">Characteristic</th><th scope="col" class="num">${e(t.cohort)}</th><th scope="col" class="num">${e(t.comparator)}</th><th scope="col" class="num">SMD</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>`;
}

const CSS = `
:root { color-scheme: light; --ink: #222; --muted: #666; --line: #ddd; --flag: #fde2dd; --warn: #fff1c2; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 1rem 1.5rem 3rem; line-height: 1.4; }
header { border-bottom: 2px solid var(--ink); margin-bottom: 1rem; }
h1 { margin: 0.2rem 0; font-size: 1.6rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; font-size: 1.25rem; }
h3 { font-size: 0.95rem; margin: 0 0 0.3rem; }
.subtitle, .note { color: var(--muted); margin: 0.2rem 0 0.6rem; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.4rem 1rem; }
nav a { color: #2b5a8a; }
figure { margin: 1rem 0; }
.panels { display: flex; flex-wrap: wrap; gap: 1rem 1.5rem; }
.panel svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.9rem; margin-top: 0.4rem; max-width: 75ch; }
details { margin-top: 0.4rem; font-size: 0.85rem; }
summary { cursor: pointer; color: #2b5a8a; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.85rem; }
caption { text-align: left; color: var(--muted); padding-bottom: 0.3rem; }
th, td { border-bottom: 1px solid var(--line); padding: 0.2rem 0.6rem; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid #999; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td { background: var(--flag); font-weight: 600; }
tr.imbalanced td.smd { background: var(--warn); font-weight: 600; }
tr.section th { background: #f4f4f4; }
.empty { color: var(--muted); font-style: italic; }
@media print { nav, details summary { display: none; } section { break-inside: avoid-page; } }
`;

/**
 * Renders the population report. The result is a complete HTML document that opens
 * without any network access.
 */
export async function renderPopulationReport(data: PopulationReportData): Promise<string> {
  const bodies: Record<(typeof REPORT_SECTIONS)[number]['id'], string> = {
    incidence: await incidenceSection(data),
    pyramid: await pyramidSection(data),
    seasonal: await seasonalSection(data),
    regions: await regionsSection(data),
    cooccurrence: await cooccurrenceSection(data),
    attrition: await attritionSection(data),
    table1: table1Section(data),
  };
  const nav = REPORT_SECTIONS.map((s) => `<li><a href="#${s.id}">${e(s.title)}</a></li>`).join('');
  const sections = REPORT_SECTIONS.map((s) => section(s.id, s.title, bodies[s.id])).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${e(data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${e(data.title)}</h1>
<p class="subtitle">${e(data.subtitle)}</p>
<p class="note">Counts below ${e(String(data.minCell))} and everything computed from them are suppressed and shown as ${suppressedText(data.minCell)}; they are never drawn as zero. Each chart has its numbers in a data table below it.</p>
</header>
<nav aria-label="Sections"><ul>${nav}</ul></nav>
<main>
${sections}
</main>
</body>
</html>
`;
}
