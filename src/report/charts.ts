/**
 * Charts of the population report: Vega-Lite specs rendered to static SVG strings in Node
 * (no browser, no canvas: Vega falls back to estimated text widths). Every builder takes
 * already-aggregated rows; a suppressed value (null) is never plotted as a number — the
 * chart draws a "<N" label in its place instead.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Class names given to the marks the tests (and styles) look for in the SVG. */
export const MARK_NAMES = {
  trendLine: 'trend_line',
  trendBand: 'trend_band',
  trendPoint: 'trend_point',
  pyramidBar: 'pyramid_bar',
  seasonalBar: 'seasonal_bar',
  seasonalFit: 'seasonal_fit',
  sirPoint: 'sir_point',
  sirWhisker: 'sir_whisker',
  heatCell: 'heat_cell',
  heatSuppressed: 'heat_suppressed',
  attritionBar: 'attrition_bar',
  suppressedLabel: 'suppressed_label',
} as const;

const MONTHS = [
  'Jan',
  'Feb',
  'Mar',
  'Apr',
  'May',
  'Jun',
  'Jul',
  'Aug',
  'Sep',
  'Oct',
  'Nov',
  'Dec',
] as const;

const MALE_COLOR = '#3b6ea8';
const FEMALE_COLOR = '#c4553a';
const SUPPRESSED_COLOR = '#d9d9d9';

const BASE_CONFIG = {
  font: 'sans-serif',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12 },
} as const;

let chartCounter = 0;

/**
 * Approximate advance widths (in em) of a generic sans-serif face, by character class.
 * Vega measures text with a canvas when one is installed; without it, it guesses 0.8 em
 * per character, which is far too wide and truncates axis labels. This table is closer
 * for the Latin text of the report.
 */
function charWidthEm(ch: string): number {
  if (" .,:;!|'`ijlI".includes(ch)) return 0.28;
  if ('ft()[]{}-/rJ'.includes(ch)) return 0.34;
  if ('mwMW%@'.includes(ch)) return 0.86;
  if (ch >= '0' && ch <= '9') return 0.56;
  if (ch >= 'A' && ch <= 'Z') return 0.68;
  if (ch >= 'a' && ch <= 'z') return 0.53;
  if (ch === '<' || ch === '>' || ch === '+' || ch === '=') return 0.58;
  return 0.62;
}

interface TextItem {
  readonly fontSize?: number;
  readonly fontWeight?: string | number;
  readonly limit?: number;
}

/** Estimated width in pixels of one line of text as Vega would draw it for `item`. */
export function estimateTextWidth(item: TextItem, text: unknown): number {
  const line = text === null || text === undefined ? '' : String(text).trim();
  const size = item.fontSize ?? 11;
  const bold = item.fontWeight === 'bold' || Number(item.fontWeight) >= 600;
  let em = 0;
  for (const ch of line) em += charWidthEm(ch);
  const width = em * size * (bold ? 1.07 : 1);
  return item.limit && item.limit > 0 ? Math.min(width, item.limit) : width;
}

interface VegaTextMetrics {
  width: (item: TextItem, text: unknown) => number;
  estimateWidth: (item: TextItem, text: unknown) => number;
}

/** Uses the table above where Vega would fall back to its own estimate (no canvas). */
function installTextEstimate(): void {
  const metrics = (vega as unknown as { textMetrics?: VegaTextMetrics }).textMetrics;
  if (metrics && metrics.width === metrics.estimateWidth) metrics.width = estimateTextWidth;
}

/**
 * Compiles a Vega-Lite spec and renders it headlessly to an SVG string. Element ids in the
 * SVG (clip paths, gradients) get a per-chart prefix, so several charts can share one HTML
 * document without id clashes.
 */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  installTextEstimate();
  const own = spec.config ?? {};
  const config = { ...BASE_CONFIG, ...own, axis: { ...BASE_CONFIG.axis, ...(own.axis ?? {}) } };
  const vgSpec = compile({ ...spec, config }).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    chartCounter += 1;
    const prefix = `mlc${chartCounter}-`;
    return svg
      .replace(/\sid="([^"]+)"/g, (_m, id: string) => ` id="${prefix}${id}"`)
      .replace(/url\(#([^)]+)\)/g, (_m, id: string) => `url(#${prefix}${id})`)
      .replace(/href="#([^"]+)"/g, (_m, id: string) => `href="#${prefix}${id}"`);
  } finally {
    view.finalize();
  }
}

/** Formats a count for a chart label, or the suppression marker. */
function countLabel(v: number | null, minCell: number): string {
  return v === null ? `<${minCell}` : v.toLocaleString('en-US');
}

// ---------------------------------------------------------------------------------------
// Incidence trend (one condition): CI band (area) + line + points.

export interface TrendPoint {
  readonly year: number;
  readonly rate: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
}

export function incidenceTrendSpec(points: readonly TrendPoint[], minCell: number): TopLevelSpec {
  // A suppressed year breaks the line and the band: each run of shown years is a segment.
  let segment = 0;
  const shown: {
    year: number;
    rate: number | null;
    lower: number | null;
    upper: number | null;
    segment: number;
  }[] = [];
  for (const p of points) {
    if (p.rate === null) {
      segment += 1;
      continue;
    }
    shown.push({ year: p.year, rate: p.rate, lower: p.lower, upper: p.upper, segment });
  }
  const banded = shown.filter((p) => p.lower !== null && p.upper !== null);
  const suppressed = points
    .filter((p) => p.rate === null)
    .map((p) => ({ year: p.year, label: `<${minCell}` }));
  const years = points.map((p) => p.year);
  const x = {
    field: 'year',
    type: 'quantitative' as const,
    title: 'Year',
    scale: {
      domain: [Math.min(...years), Math.max(...years)],
      nice: false,
      zero: false,
      padding: 6,
    },
    axis: { format: 'd', tickMinStep: 1 },
  };
  return {
    width: 240,
    height: 180,
    layer: [
      {
        data: { values: banded },
        name: MARK_NAMES.trendBand,
        mark: { type: 'area', opacity: 0.25, color: MALE_COLOR },
        encoding: {
          x,
          y: { field: 'lower', type: 'quantitative', title: 'Per 1,000 person-years' },
          y2: { field: 'upper' },
          detail: { field: 'segment', type: 'nominal' },
        },
      },
      {
        data: { values: shown },
        name: MARK_NAMES.trendLine,
        mark: { type: 'line', color: MALE_COLOR },
        encoding: {
          x,
          y: { field: 'rate', type: 'quantitative', title: 'Per 1,000 person-years' },
          detail: { field: 'segment', type: 'nominal' },
        },
      },
      {
        data: { values: shown },
        name: MARK_NAMES.trendPoint,
        mark: { type: 'point', color: MALE_COLOR, filled: true, size: 30, opacity: 1 },
        encoding: {
          x,
          y: { field: 'rate', type: 'quantitative', title: 'Per 1,000 person-years' },
        },
      },
      {
        data: { values: suppressed },
        name: MARK_NAMES.suppressedLabel,
        mark: { type: 'text', color: '#777', fontSize: 10, baseline: 'bottom', dy: -2 },
        encoding: { x, y: { datum: 0, type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Age-sex pyramid: male bars to the left (negative), female to the right.

export interface PyramidRow {
  readonly ageBand: string;
  readonly sex: 'male' | 'female';
  readonly count: number | null;
}

/** Age bands in ascending order: by their leading number when every band has one. */
export function orderAgeBands(bands: readonly string[]): string[] {
  const unique = [...new Set(bands)];
  const start = (b: string): number | null => {
    const m = /^\s*(\d+)/.exec(b);
    return m ? Number(m[1]) : null;
  };
  if (unique.every((b) => start(b) !== null)) {
    return unique.sort((a, b) => (start(a) ?? 0) - (start(b) ?? 0));
  }
  return unique;
}

export function pyramidSpec(rows: readonly PyramidRow[], minCell: number): TopLevelSpec {
  const bands = orderAgeBands(rows.map((r) => r.ageBand));
  const bars = rows
    .filter((r) => r.count !== null)
    .map((r) => ({
      ageBand: r.ageBand,
      sex: r.sex,
      value: r.sex === 'male' ? -(r.count ?? 0) : (r.count ?? 0),
    }));
  const suppressed = rows
    .filter((r) => r.count === null)
    .map((r) => ({ ageBand: r.ageBand, sex: r.sex, label: `<${minCell}` }));
  const max = Math.max(1, ...bars.map((b) => Math.abs(b.value)));
  const y = {
    field: 'ageBand',
    type: 'ordinal',
    sort: [...bands].reverse(),
    scale: { domain: [...bands].reverse() },
    title: 'Age band',
  } as const;
  const xScale = { domain: [-max, max], nice: true };
  return {
    width: 460,
    height: Math.max(160, bands.length * 18),
    layer: [
      {
        data: { values: bars },
        name: MARK_NAMES.pyramidBar,
        mark: { type: 'bar' },
        encoding: {
          y,
          x: {
            field: 'value',
            type: 'quantitative',
            title: 'People (male left, female right)',
            scale: xScale,
            axis: { labelExpr: 'format(abs(datum.value), ",")' },
          },
          color: {
            field: 'sex',
            type: 'nominal',
            title: 'Sex',
            scale: { domain: ['male', 'female'], range: [MALE_COLOR, FEMALE_COLOR] },
          },
        },
      },
      ...(['male', 'female'] as const).map((sex) => ({
        data: { values: suppressed.filter((r) => r.sex === sex) },
        name: `${MARK_NAMES.suppressedLabel}_${sex}`,
        mark: {
          type: 'text' as const,
          color: '#555',
          fontSize: 10,
          align: sex === 'male' ? ('right' as const) : ('left' as const),
          dx: sex === 'male' ? -3 : 3,
        },
        encoding: {
          y,
          x: { datum: 0, type: 'quantitative' as const, scale: xScale },
          text: { field: 'label' },
        },
      })),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Seasonal profile (one condition): bars of cases by calendar month + fitted curve.

export interface SeasonalPoint {
  readonly month: number;
  readonly cases: number | null;
  readonly fitted: number | null;
}

export function monthName(month: number): string {
  return MONTHS[(((month - 1) % 12) + 12) % 12] ?? String(month);
}

export function seasonalSpec(points: readonly SeasonalPoint[], minCell: number): TopLevelSpec {
  const x = {
    field: 'monthName',
    type: 'ordinal' as const,
    sort: [...MONTHS],
    scale: { domain: [...MONTHS] },
    title: 'Month',
    axis: { labelAngle: 0, labelFontSize: 9, grid: false },
  };
  const bars = points
    .filter((p) => p.cases !== null)
    .map((p) => ({ monthName: monthName(p.month), cases: p.cases }));
  const fit = points
    .filter((p) => p.fitted !== null)
    .map((p) => ({ monthName: monthName(p.month), fitted: p.fitted }));
  const suppressed = points
    .filter((p) => p.cases === null)
    .map((p) => ({ monthName: monthName(p.month), label: `<${minCell}` }));
  return {
    width: 240,
    height: 160,
    layer: [
      {
        data: { values: bars },
        name: MARK_NAMES.seasonalBar,
        mark: { type: 'bar', color: '#8fb3d9' },
        encoding: { x, y: { field: 'cases', type: 'quantitative', title: 'New cases' } },
      },
      {
        data: { values: fit },
        name: MARK_NAMES.seasonalFit,
        mark: { type: 'line', color: FEMALE_COLOR, strokeWidth: 2 },
        encoding: { x, y: { field: 'fitted', type: 'quantitative' } },
      },
      {
        data: { values: suppressed },
        name: MARK_NAMES.suppressedLabel,
        mark: { type: 'text', color: '#555', fontSize: 9, baseline: 'bottom', dy: -2 },
        encoding: { x, y: { datum: 0, type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Standardized incidence ratio by region (one condition): dot and whisker, reference at 1.

export interface SirRow {
  readonly region: string;
  readonly sir: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly flagged: boolean;
}

export function sirSpec(rows: readonly SirRow[], minCell: number): TopLevelSpec {
  const regions = rows.map((r) => r.region);
  const y = {
    field: 'region',
    type: 'nominal',
    sort: regions,
    scale: { domain: regions },
    title: 'Region',
  } as const;
  const shown = rows
    .filter((r) => r.sir !== null)
    .map((r) => ({
      region: r.region,
      sir: r.sir,
      lower: r.lower,
      upper: r.upper,
      status: r.flagged ? 'flagged' : 'not flagged',
    }));
  const whiskers = shown.filter((r) => r.lower !== null && r.upper !== null);
  const suppressed = rows
    .filter((r) => r.sir === null)
    .map((r) => ({ region: r.region, label: `<${minCell}` }));
  const color = {
    field: 'status',
    type: 'nominal',
    title: 'Excess (CI above 1)',
    scale: { domain: ['not flagged', 'flagged'], range: ['#555555', '#c0392b'] },
  } as const;
  return {
    width: 240,
    height: Math.max(60, regions.length * 20),
    layer: [
      {
        data: { values: [{ one: 1 }] },
        mark: { type: 'rule', color: '#999', strokeDash: [4, 3] },
        encoding: { x: { field: 'one', type: 'quantitative' } },
      },
      {
        data: { values: whiskers },
        name: MARK_NAMES.sirWhisker,
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: {
          y,
          x: { field: 'lower', type: 'quantitative', title: 'SIR (95% CI)' },
          x2: { field: 'upper' },
          color,
        },
      },
      {
        data: { values: shown },
        name: MARK_NAMES.sirPoint,
        mark: { type: 'point', filled: true, size: 50 },
        encoding: {
          y,
          x: { field: 'sir', type: 'quantitative', title: 'SIR (95% CI)' },
          color,
        },
      },
      {
        data: { values: suppressed },
        name: MARK_NAMES.suppressedLabel,
        mark: { type: 'text', color: '#555', fontSize: 10, align: 'left', dx: 4 },
        encoding: { y, x: { datum: 1, type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Co-occurrence heatmap: lift per condition pair, both triangles; suppressed cells grey.

export interface CooccurrenceCell {
  readonly a: string;
  readonly b: string;
  readonly lift: number | null;
  readonly observed: number | null;
}

export function cooccurrenceSpec(
  cells: readonly CooccurrenceCell[],
  minCell: number,
): TopLevelSpec {
  const conditions = [...new Set(cells.flatMap((c) => [c.a, c.b]))].sort();
  const lifts = cells.flatMap((c) => (c.lift === null || c.observed === null ? [] : [c.lift]));
  const spread = Math.max(0.5, ...lifts.map((l) => Math.abs(l - 1)));
  const both = cells.flatMap((c) => {
    const suppressed = c.lift === null || c.observed === null;
    const label = suppressed ? `<${minCell}` : (c.lift ?? 0).toFixed(2);
    // Dark cells (far from 1) get white text.
    const far = !suppressed && Math.abs((c.lift ?? 1) - 1) > 0.6 * spread;
    const row = {
      lift: suppressed ? null : c.lift,
      label,
      suppressed,
      ink: far ? 'white' : '#222',
    };
    return c.a === c.b
      ? [{ a: c.a, b: c.b, ...row }]
      : [
          { a: c.a, b: c.b, ...row },
          { a: c.b, b: c.a, ...row },
        ];
  });
  const shown = both.filter((c) => !c.suppressed);
  const hidden = both.filter((c) => c.suppressed);
  const axis = { labelAngle: -40, labelLimit: 140 } as const;
  const x = {
    field: 'b',
    type: 'nominal',
    sort: conditions,
    scale: { domain: conditions },
    title: null,
    axis,
  } as const;
  const y = {
    field: 'a',
    type: 'nominal',
    sort: conditions,
    scale: { domain: conditions },
    title: null,
    axis: { labelLimit: 140 },
  } as const;
  const side = Math.max(120, conditions.length * 44);
  return {
    width: side,
    height: side,
    config: { axis: { grid: false } },
    layer: [
      {
        data: { values: shown },
        name: MARK_NAMES.heatCell,
        mark: { type: 'rect' },
        encoding: {
          x,
          y,
          color: {
            field: 'lift',
            type: 'quantitative',
            title: 'Lift',
            scale: {
              scheme: 'blueorange',
              domain: [Math.max(0, 1 - spread), 1 + spread],
              domainMid: 1,
            },
          },
        },
      },
      // Layers without data are left out (Vega fails on an empty text layer's encoding).
      ...(hidden.length === 0
        ? []
        : [
            {
              data: { values: hidden },
              name: MARK_NAMES.heatSuppressed,
              mark: { type: 'rect' as const, color: SUPPRESSED_COLOR },
              encoding: { x, y },
            },
          ]),
      ...(['#222', 'white'] as const)
        .filter((ink) => both.some((c) => c.ink === ink))
        .map((ink) => ({
          data: { values: both.filter((c) => c.ink === ink) },
          mark: { type: 'text' as const, fontSize: 10, color: ink },
          encoding: { x, y, text: { field: 'label' } },
        })),
    ],
  };
}

// ---------------------------------------------------------------------------------------
// Cohort attrition: people remaining after each rule.

export interface AttritionStep {
  readonly step: string;
  readonly remaining: number | null;
}

export function attritionSpec(steps: readonly AttritionStep[], minCell: number): TopLevelSpec {
  // Steps are labelled by position so that two rules with one text stay apart.
  const keyed = steps.map((s, i) => ({
    key: `${i + 1}. ${s.step}`,
    remaining: s.remaining,
    // A suppressed step keeps its label, placed at the axis; it has no bar.
    pos: s.remaining ?? 0,
    label: countLabel(s.remaining, minCell),
  }));
  const keys = keyed.map((k) => k.key);
  const y = {
    field: 'key',
    type: 'nominal',
    sort: keys,
    scale: { domain: keys },
    title: null,
    axis: { labelLimit: 220 },
  } as const;
  const shown = keyed.filter((k) => k.remaining !== null);
  return {
    width: 360,
    height: Math.max(60, keys.length * 26),
    layer: [
      {
        data: { values: shown },
        name: MARK_NAMES.attritionBar,
        mark: { type: 'bar', color: MALE_COLOR },
        encoding: { y, x: { field: 'remaining', type: 'quantitative', title: 'People remaining' } },
      },
      {
        data: { values: keyed },
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10, color: '#222' },
        encoding: {
          y,
          x: { field: 'pos', type: 'quantitative' },
          text: { field: 'label' },
        },
      },
    ],
  };
}
