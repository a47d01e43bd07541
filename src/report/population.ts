/**
 * `medlake report population`: runs the population-health analyses on a lake and renders
 * them as one self-contained HTML file (population-report.ts). Every count comes from the
 * engine through the analyses in src/analysis; small cells are suppressed there.
 */
import type { AnalysisContext } from '../analysis/context.js';
import { characterize } from '../analysis/characterize.js';
import type { CohortInput } from '../analysis/characterize.js';
import { cohortAttrition, compileCohort } from '../analysis/cohort.js';
import type { CohortDefinition } from '../analysis/cohort.js';
import { DEFAULT_COOCCURRENCE_CONDITIONS, analyzeCooccurrence } from '../analysis/cooccurrence.js';
import { analyzeGeography } from '../analysis/geography.js';
import { incidence } from '../analysis/incidence.js';
import { analyzeSeasonality } from '../analysis/seasonality.js';
import { DEFAULT_MIN_CELL, suppressSmallCells } from '../analysis/suppress.js';
import type { ValueSet } from '../analysis/valuesets.js';
import { AGE_BANDS } from '../synth/demographics.js';
import type { PopulationReportData } from './population-data.js';

export interface PopulationReportOptions {
  /** Value sets (by name) whose incidence trends are shown. */
  readonly trendConditions?: readonly string[];
  /** The condition of the seasonal profile (default influenza). */
  readonly seasonalCondition?: string;
  /** The condition of the regional comparison (default diabetes-type-2). */
  readonly regionCondition?: string;
  /** Conditions of the co-occurrence heatmap. */
  readonly cooccurrenceConditions?: readonly string[];
  /** A cohort for the attrition chart and Table 1, and a comparator for Table 1. */
  readonly cohort?: { readonly label: string; readonly definition: CohortDefinition };
  readonly comparator?: { readonly label: string; readonly definition: CohortDefinition };
  /** Study window (YYYY-MM-DD); default: the lake's encounters. */
  readonly start?: string;
  readonly end?: string;
  readonly minCell?: number;
  readonly title?: string;
  readonly subtitle?: string;
}

export const DEFAULT_TREND_CONDITIONS = [
  'hypertension',
  'diabetes-type-2',
  'chronic-kidney-disease',
  'influenza',
] as const;

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0));
/**
 * A nullable number as a plain, finite JS number (engines may return BIGINT as bigint; a
 * ratio over zero, NaN or Infinity, has nothing to draw and becomes null).
 */
const opt = (v: unknown): number | null => {
  if (v === null || v === undefined) return null;
  const n = num(v);
  return Number.isFinite(n) ? n : null;
};

/** Runs the analyses and collects the report's data. */
export async function populationReportData(
  ctx: AnalysisContext,
  valueSets: ReadonlyMap<string, ValueSet>,
  options: PopulationReportOptions = {},
): Promise<PopulationReportData> {
  const minCell = options.minCell ?? DEFAULT_MIN_CELL;
  const set = (name: string): ValueSet => {
    const vs = valueSets.get(name);
    if (vs === undefined) throw new Error(`no value set named ${JSON.stringify(name)}`);
    return vs;
  };
  const window = {
    ...(options.start === undefined ? {} : { start: options.start }),
    ...(options.end === undefined ? {} : { end: options.end }),
  };

  const incidenceTrend: PopulationReportData['incidenceTrend'][number][] = [];
  const apc: PopulationReportData['apc'][number][] = [];
  let windowEnd = options.end;
  for (const name of options.trendConditions ?? DEFAULT_TREND_CONDITIONS) {
    const r = await incidence(ctx, {
      valueSet: set(name),
      by: ['year'],
      apc: true,
      minCell,
      ...window,
    });
    windowEnd ??= r.window.end;
    for (const row of r.rows)
      incidenceTrend.push({
        condition: name,
        year: num(row.year),
        cases: opt(row.cases),
        personYears: num(row.personYears),
        rate: opt(row.rate),
        lower: opt(row.lower),
        upper: opt(row.upper),
      });
    if (r.apc !== undefined)
      apc.push({ condition: name, apc: r.apc.estimate, lower: r.apc.lower, upper: r.apc.upper });
  }

  const seasonalName = options.seasonalCondition ?? 'influenza';
  const season = await analyzeSeasonality(ctx, { valueSet: set(seasonalName), minCell });
  const fit = season.fit;
  // The fitted cosinor curve, scaled so that its 12 months add up to the cases.
  const shape = (m: number): number =>
    fit === null
      ? 1
      : Math.exp(fit.amplitude.estimate * Math.cos((2 * Math.PI * (m - fit.peakPosition)) / 12));
  let shapeSum = 0;
  for (let m = 1; m <= 12; m++) shapeSum += shape(m);
  const total = season.profile.reduce((a, p) => a + (opt(p.cases) ?? 0), 0);
  const seasonal = season.profile.map((p) => ({
    condition: seasonalName,
    month: num(p.month),
    cases: opt(p.cases),
    fitted: fit === null ? null : (total * shape(num(p.month))) / shapeSum,
  }));
  const seasonality =
    fit === null
      ? []
      : [
          {
            condition: seasonalName,
            peakMonth: fit.peakMonth,
            peakToTrough: fit.peakToTrough,
            pValue: fit.pValue,
          },
        ];

  const regionName = options.regionCondition ?? 'diabetes-type-2';
  const geo = await analyzeGeography(ctx, { valueSet: set(regionName), minCell });
  const regions = geo.regions.map((r) => ({
    condition: regionName,
    region: String(r.region),
    observed: opt(r.observed),
    expected: num(r.expected),
    sir: opt(r.sir),
    lower: opt(r.sirLower),
    upper: opt(r.sirUpper),
    flagged: r.flagged === true,
  }));

  const pairNames = (options.cooccurrenceConditions ?? DEFAULT_COOCCURRENCE_CONDITIONS).filter(
    (n) => valueSets.has(n),
  );
  const co = await analyzeCooccurrence(ctx, { valueSets: pairNames.map(set), minCell });
  const cooccurrence = co.pairs.map((p) => ({
    a: String(p.x),
    b: String(p.y),
    observed: opt(p.ab),
    expected: num(p.expected),
    lift: opt(p.lift),
    oddsRatio: opt(p.oddsRatio),
    lower: opt(p.orLower),
    upper: opt(p.orUpper),
  }));

  const pyramid = await agePyramid(ctx, windowEnd ?? '9999-12-31', minCell);

  let attrition: PopulationReportData['attrition'];
  let table1: PopulationReportData['table1'];
  if (options.cohort !== undefined) {
    const compiled = compileCohort(options.cohort.definition, {
      dialect: ctx.dialect,
      valueSets,
    });
    attrition = suppressSmallCells(
      (await cohortAttrition(ctx, compiled)).map((a) => ({ step: a.name, remaining: a.persons })),
      { minCell, counts: ['remaining'] },
    ).map((a) => ({ step: String(a.step), remaining: opt(a.remaining) }));
    const asInput = (label: string, def: CohortDefinition): CohortInput => {
      const c = compileCohort(def, { dialect: ctx.dialect, valueSets });
      return {
        label,
        kind: 'sql',
        sql: `SELECT person_id, cohort_start AS index_date FROM (${c.cohortSql}) AS c`,
      };
    };
    const t = await characterize(ctx, {
      cohort: asInput(options.cohort.label, options.cohort.definition),
      ...(options.comparator === undefined
        ? {}
        : { comparator: asInput(options.comparator.label, options.comparator.definition) }),
      valueSets,
      minCell,
    });
    table1 = t.table1;
  }

  return {
    title: options.title ?? 'Population health report',
    subtitle: options.subtitle ?? '',
    minCell,
    incidenceTrend,
    apc,
    pyramid,
    seasonal,
    seasonality,
    regions,
    cooccurrence,
    ...(attrition === undefined ? {} : { attrition }),
    ...(table1 === undefined ? {} : { table1 }),
  };
}

/** People alive on `at` by 5-year age band and sex, counted in the engine. */
async function agePyramid(
  ctx: AnalysisContext,
  at: string,
  minCell: number,
): Promise<PopulationReportData['pyramid'][number][]> {
  const d = ctx.dialect;
  const int = (expr: string): string => d.sqlCast(expr, 'BIGINT');
  const [y, m, dd] = at.split('-').map(Number) as [number, number, number];
  const b = 'birth_date';
  const age =
    `${y} - ${int(`SUBSTRING(${b}, 1, 4)`)} - CASE WHEN ` +
    `${int(`SUBSTRING(${b}, 6, 2)`)} * 100 + ${int(`SUBSTRING(${b}, 9, 2)`)} > ${m * 100 + dd} ` +
    'THEN 1 ELSE 0 END';
  const sql =
    `SELECT gender, band, COUNT(*) AS n FROM (SELECT gender, ` +
    `CASE WHEN (${age}) >= 85 THEN 17 ELSE FLOOR((${age}) / 5) END AS band ` +
    `FROM patient WHERE LENGTH(${b}) >= 10 AND ${b} <= ${d.quoteString(at)} ` +
    `AND (deceased_date IS NULL OR SUBSTRING(deceased_date, 1, 10) > ${d.quoteString(at)}) ` +
    `AND gender IN ('male', 'female')) AS p GROUP BY gender, band`;
  const counts = new Map<string, number>();
  for (const r of await ctx.rows(sql))
    counts.set(`${String(r['gender'])}|${num(r['band'])}`, num(r['n']));
  const rows = AGE_BANDS.flatMap((ageBand, i) =>
    (['male', 'female'] as const).map((sex) => ({
      ageBand: ageBand as string,
      sex,
      count: counts.get(`${sex}|${i}`) ?? 0,
    })),
  );
  return suppressSmallCells(rows, { minCell, counts: ['count'] }).map((r) => ({
    ageBand: String(r.ageBand),
    sex: r.sex as 'male' | 'female',
    count: opt(r.count),
  }));
}
