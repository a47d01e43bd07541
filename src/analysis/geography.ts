/**
 * Geography of a condition: crude rates and standardized incidence ratios (SIR) by region
 * (Patient state, or the first three digits of the postal code). Expected counts come from
 * indirect standardisation to the whole population's age × sex specific rates, computed in
 * SQL; SIRs get exact Poisson intervals and two-sided exact p-values, adjusted for the
 * number of regions (Benjamini–Hochberg by default). Method: docs/analysis-patterns.md.
 */
import { DialectFunction } from '../sql/dialect.js';
import type { AnalysisContext } from './context.js';
import { conditionCasesSql, num, sqlDatePart, sqlPrefix, text } from './seasonality.js';
import { gammaP, gammaQ, poissonRateCI, standardizedRatio } from './stats.js';
import { DEFAULT_MIN_CELL, suppressSmallCells } from './suppress.js';
import type { Suppressed } from './suppress.js';
import type { ValueSet } from './valuesets.js';

export const REGION_KINDS = ['state', 'zip3'] as const;
export type RegionKind = (typeof REGION_KINDS)[number];

export const P_ADJUSTMENTS = ['bh', 'bonferroni', 'holm', 'none'] as const;
export type PAdjustment = (typeof P_ADJUSTMENTS)[number];

export interface GeographyOptions {
  readonly valueSet: ValueSet | readonly ValueSet[];
  /** Region of a patient: `state` (default) or `zip3`. */
  readonly by?: RegionKind;
  /** Cases with a first onset in [from, to] (YYYY-MM-DD); default: any date (ever recorded). */
  readonly from?: string;
  readonly to?: string;
  /** Age is taken at this year (default: the year of `to`, else of the latest onset). */
  readonly referenceYear?: number;
  /** Width of the age bands in years (default 10; the last band is open). */
  readonly ageBandYears?: number;
  /** Age of the open last band (default 80). */
  readonly ageTop?: number;
  readonly adjust?: PAdjustment;
  /** Family-wise / false-discovery level of the flag (default 0.05). */
  readonly alpha?: number;
  /** Confidence level of the intervals (default 0.95). */
  readonly level?: number;
  readonly minCell?: number;
}

export type RegionRow = {
  readonly region: string;
  /** Persons at risk. */
  readonly persons: number;
  readonly observed: number;
  readonly expected: number;
  /** Crude cases per 1,000 persons, with an exact Poisson interval. */
  readonly ratePer1000: number;
  readonly rateLower: number;
  readonly rateUpper: number;
  readonly sir: number;
  readonly sirLower: number;
  readonly sirUpper: number;
  /** Two-sided exact Poisson p-value of O against E, and after adjustment. */
  readonly pValue: number;
  readonly pAdjusted: number;
  /** The (unadjusted) interval lies above 1. */
  readonly ciAboveOne: boolean;
  /** Excess: sir > 1 and pAdjusted < alpha. */
  readonly flagged: boolean;
};

export interface GeographyResult {
  readonly condition: string;
  readonly by: RegionKind;
  readonly referenceYear: number;
  readonly adjust: PAdjustment;
  readonly alpha: number;
  readonly minCell: number;
  readonly totalPersons: number;
  readonly totalCases: number;
  /** Regions, largest SIR first; small counts suppressed. */
  readonly regions: Suppressed<RegionRow>[];
  /** Names of the flagged regions. */
  readonly flagged: readonly string[];
}

/** Two-sided exact Poisson p-value of observing `o` when `e` is expected (doubling rule). */
export function poissonTwoSidedP(o: number, e: number): number {
  const upper = o <= 0 ? 1 : gammaP(o, e); // P(X >= o)
  const lower = gammaQ(o + 1, e); // P(X <= o)
  return Math.min(1, 2 * Math.min(upper, lower));
}

/** p-values adjusted for multiple testing (Bonferroni, Holm, or Benjamini–Hochberg). */
export function adjustPValues(p: readonly number[], method: PAdjustment): number[] {
  const m = p.length;
  if (method === 'none' || m === 0) return [...p];
  if (method === 'bonferroni') return p.map((x) => Math.min(1, x * m));
  const order = p.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(m).fill(1);
  if (method === 'holm') {
    let run = 0;
    order.forEach(([x, i], k) => {
      run = Math.max(run, Math.min(1, (m - k) * x));
      out[i] = run;
    });
    return out;
  }
  let run = 1;
  for (let k = m - 1; k >= 0; k--) {
    const [x, i] = order[k]!;
    run = Math.min(run, (x * m) / (k + 1));
    out[i] = Math.min(1, run);
  }
  return out;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Rates and SIRs by region, with the flagged regions. */
export async function analyzeGeography(
  ctx: AnalysisContext,
  options: GeographyOptions,
): Promise<GeographyResult> {
  const d = ctx.dialect;
  const q = (s: string): string => d.quoteIdent(s);
  const s = (v: string): string => d.quoteString(v);
  const by = options.by ?? 'state';
  const adjust = options.adjust ?? 'bh';
  const alpha = options.alpha ?? 0.05;
  const level = options.level ?? 0.95;
  const minCell = options.minCell ?? DEFAULT_MIN_CELL;
  const width = options.ageBandYears ?? 10;
  const top = options.ageTop ?? 80;
  for (const [name, v] of [
    ['from', options.from],
    ['to', options.to],
  ] as const)
    if (v !== undefined && !DATE.test(v))
      throw new RangeError(`${name} must be a date YYYY-MM-DD, got ${JSON.stringify(v)}`);
  if (!(Number.isInteger(width) && width > 0)) throw new RangeError('ageBandYears must be > 0');

  const cases = conditionCasesSql(d, options.valueSet, true);
  let refYear = options.referenceYear;
  if (refYear === undefined && options.to !== undefined) refYear = Number(options.to.slice(0, 4));
  if (refYear === undefined) {
    const [r] = await ctx.rows(
      `SELECT MAX(${sqlPrefix(d, `c.${q('onset')}`, 4)}) AS ${q('y')} FROM ${q('condition')} c`,
    );
    const t = text(r?.['y']);
    refYear = t === null ? new Date().getUTCFullYear() : Number(t);
  }

  const region =
    by === 'state'
      ? `NULLIF(TRIM(p.${q('state')}), ${s('')})`
      : `NULLIF(${sqlPrefix(d, `TRIM(p.${q('postal_code')})`, 3)}, ${s('')})`;
  const age = `(${refYear} - ${sqlDatePart(d, `p.${q('birth_date')}`, 1, 4)})`;
  const band = `CASE WHEN ${age} >= ${top} THEN ${top} WHEN ${age} < 0 THEN 0 ELSE ${d.sqlFunction(DialectFunction.Floor, [`${age} / ${width}.0`])} * ${width} END`;
  const sex = `CASE WHEN p.${q('gender')} IN (${s('male')}, ${s('female')}) THEN p.${q('gender')} ELSE ${s('other')} END`;
  const day = `c.${q('day')}`;
  const inWindow = [
    `${day} IS NOT NULL`,
    ...(options.from === undefined ? [] : [`${day} >= ${s(options.from)}`]),
    ...(options.to === undefined ? [] : [`${day} <= ${s(options.to)}`]),
  ].join(' AND ');
  // At risk: not a case before the window, alive at its start, born before its end.
  const atRisk = [
    `p.${q('birth_date')} IS NOT NULL`,
    ...(options.from === undefined
      ? []
      : [
          `(${day} IS NULL OR ${day} >= ${s(options.from)})`,
          `(p.${q('deceased_date')} IS NULL OR ${sqlPrefix(d, `p.${q('deceased_date')}`, 10)} >= ${s(options.from)})`,
        ]),
    ...(options.to === undefined ? [] : [`p.${q('birth_date')} <= ${s(options.to)}`]),
  ].join(' AND ');
  const sql = `WITH cases AS (${cases}),
strata AS (
  SELECT ${region} AS ${q('region')}, ${band} AS ${q('band')}, ${sex} AS ${q('sex')},
         COUNT(*) AS ${q('persons')},
         SUM(CASE WHEN ${inWindow} THEN 1 ELSE 0 END) AS ${q('cases')}
  FROM ${q('patient')} p LEFT JOIN cases c ON c.${q('patient_id')} = p.${q('id')}
  WHERE ${atRisk}
  GROUP BY ${region}, ${band}, ${sex}
),
ref AS (
  SELECT ${q('band')}, ${q('sex')},
         ${d.sqlCast(`SUM(${q('cases')})`, 'DOUBLE')} / SUM(${q('persons')}) AS ${q('rate')}
  FROM strata GROUP BY ${q('band')}, ${q('sex')}
)
SELECT st.${q('region')} AS ${q('region')}, SUM(st.${q('persons')}) AS ${q('persons')},
       SUM(st.${q('cases')}) AS ${q('observed')},
       SUM(st.${q('persons')} * r.${q('rate')}) AS ${q('expected')}
FROM strata st JOIN ref r ON r.${q('band')} = st.${q('band')} AND r.${q('sex')} = st.${q('sex')}
GROUP BY st.${q('region')}`;
  const rows = await ctx.rows(sql);
  const totalPersons = rows.reduce((a, r) => a + num(r['persons']), 0);
  const totalCases = rows.reduce((a, r) => a + num(r['observed']), 0);
  const regional = rows
    .filter((r) => text(r['region']) !== null && num(r['expected']) > 0)
    .map((r) => ({
      region: text(r['region']) as string,
      persons: num(r['persons']),
      observed: num(r['observed']),
      expected: num(r['expected']),
    }));
  const pValues = regional.map((r) => poissonTwoSidedP(r.observed, r.expected));
  const adjusted = adjustPValues(pValues, adjust);
  const out: RegionRow[] = regional.map((r, i) => {
    const sir = standardizedRatio(r.observed, r.expected, { level });
    const rate = poissonRateCI(r.observed, r.persons, level, 1000);
    const pAdjusted = adjusted[i]!;
    return {
      ...r,
      ratePer1000: rate.estimate,
      rateLower: rate.lower,
      rateUpper: rate.upper,
      sir: sir.estimate,
      sirLower: sir.lower,
      sirUpper: sir.upper,
      pValue: pValues[i]!,
      pAdjusted,
      ciAboveOne: sir.aboveOne,
      flagged: sir.estimate > 1 && pAdjusted < alpha,
    };
  });
  out.sort((a, b) => b.sir - a.sir || a.region.localeCompare(b.region));
  const list = Array.isArray(options.valueSet)
    ? (options.valueSet as readonly ValueSet[])
    : [options.valueSet as ValueSet];
  return {
    condition: list.map((v) => v.name).join('+'),
    by,
    referenceYear: refYear,
    adjust,
    alpha,
    minCell,
    totalPersons,
    totalCases,
    regions: suppressSmallCells(out, {
      minCell,
      counts: ['persons', 'observed'],
      derived: [
        'expected',
        'ratePer1000',
        'rateLower',
        'rateUpper',
        'sir',
        'sirLower',
        'sirUpper',
        'pValue',
        'pAdjusted',
      ],
    }),
    flagged: out.filter((r) => r.flagged).map((r) => r.region),
  };
}
