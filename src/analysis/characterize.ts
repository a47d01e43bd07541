/**
 * Characterization ("Table 1"): baseline characteristics of a cohort, side by side with a
 * comparator, with standardized mean differences (docs/analysis-characterize.md).
 *
 * Everything is counted in the engine over the standard views: one query builds a row per
 * (cohort, person) with the baseline covariates as of the index date and aggregates it;
 * only the aggregates (counts, means, SDs) come back, and TypeScript adds the SMDs,
 * suppresses small cells and formats the cells.
 *
 * A cohort here is a set of (person_id, index_date) rows: the first record of a value set,
 * any SQL relation with those two columns, or everyone alive on a date. The cohort language
 * plugs in through the `sql` kind.
 */
import type { PopulationReportData } from '../report/population-data.js';
import { DialectFunction } from '../sql/dialect.js';
import type { Dialect } from '../sql/dialect.js';
import type { AnalysisContext } from './context.js';
import { smdBinary, smdContinuous } from './stats.js';
import { DEFAULT_MIN_CELL, suppressSmallCells } from './suppress.js';
import { CODE_SYSTEMS, libraryValueSets } from './valuesets.js';
import type { ValueSet } from './valuesets.js';
import { valueSetPredicate } from './valuesets.js';

/** Where the first record of a value set is looked for (inferred from the set's systems). */
export type ValueSetDomain = 'condition' | 'medication' | 'observation' | 'immunization';

/** Who is in a cohort and when they enter it (the index date, `YYYY-MM-DD`). */
export type CohortInput =
  | {
      readonly label: string;
      readonly kind: 'valueset';
      /** Name of a value set; index = the person's first record with a code in it. */
      readonly valueset: string;
      readonly first?: true;
      /** Default: medication for RxNorm sets, observation for LOINC, immunization for CVX, else condition. */
      readonly domain?: ValueSetDomain;
    }
  | {
      readonly label: string;
      readonly kind: 'sql';
      /** A query returning `person_id` and `index_date` (a date or `YYYY-MM-DD…` text). */
      readonly sql: string;
    }
  | {
      readonly label: string;
      readonly kind: 'all';
      /** Everyone born on or before this date and not dead before it; index = this date. */
      readonly indexDate: string;
    };

/** A lab row: the last value in the look-back window, from observation or a component. */
export interface LabSpec {
  readonly label: string;
  readonly valueset: string;
  /** `component` reads observation_component (e.g. systolic BP inside a BP panel). */
  readonly source: 'observation' | 'component';
}

export const DEFAULT_CONDITION_SETS = [
  'hypertension',
  'diabetes-type-2',
  'chronic-kidney-disease',
  'hyperlipidemia',
  'ischemic-heart-disease',
  'myocardial-infarction',
  'heart-failure',
  'stroke',
  'copd',
  'asthma',
  'depression',
  'obesity',
] as const;

export const DEFAULT_DRUG_SETS = [
  'ace-inhibitors',
  'arbs',
  'calcium-channel-blockers',
  'beta-blockers',
  'diuretics',
  'statins',
  'antiplatelets',
  'anticoagulants',
  'metformin',
  'insulins',
  'ssris',
] as const;

export const DEFAULT_LABS: readonly LabSpec[] = [
  { label: 'HbA1c (%)', valueset: 'hba1c', source: 'observation' },
  { label: 'LDL cholesterol (mg/dL)', valueset: 'ldl-cholesterol', source: 'observation' },
  { label: 'eGFR (mL/min/1.73 m²)', valueset: 'egfr', source: 'observation' },
  { label: 'Systolic BP (mm Hg)', valueset: 'systolic-blood-pressure', source: 'component' },
];

/** Age bands at index: [label, lower, upper inclusive or null]. */
export const AGE_BANDS: readonly (readonly [string, number, number | null])[] = [
  ['0-17', 0, 17],
  ['18-44', 18, 44],
  ['45-64', 45, 64],
  ['65-74', 65, 74],
  ['75+', 75, null],
];

/** |SMD| above this is flagged as imbalance (Austin 2009; DOMAIN.md). */
export const SMD_THRESHOLD = 0.1;

export interface CharacterizeOptions {
  readonly cohort: CohortInput;
  readonly comparator?: CohortInput;
  /** Condition value sets (any record on or before index). */
  readonly conditions?: readonly string[];
  /** Drug value sets (any order in the look-back window, index day included). */
  readonly drugs?: readonly string[];
  readonly labs?: readonly LabSpec[];
  /** Value sets by name (default: the library). */
  readonly valueSets?: ReadonlyMap<string, ValueSet>;
  /** Days before index that drugs and labs are looked for (default 365). */
  readonly lookbackDays?: number;
  readonly minCell?: number;
}

export interface CharacteristicCell {
  /** People with the characteristic (binary) or with a value (continuous); null if suppressed. */
  readonly n: number | null;
  /** Cohort size; null when the cohort itself is below the min-cell threshold. */
  readonly denominator: number | null;
  readonly percent: number | null;
  readonly mean: number | null;
  readonly sd: number | null;
  readonly suppressed: boolean;
}

export const SECTIONS = [
  'Demographics',
  'Payer at index',
  'Conditions',
  'Drugs (prior year)',
  'Labs (last value, prior year)',
] as const;
export type Table1Section = (typeof SECTIONS)[number];

export interface CharacteristicRow {
  readonly section: Table1Section;
  /** Stable key, e.g. `age`, `age_band:65-74`, `sex:female`, `condition:hypertension`. */
  readonly key: string;
  readonly variable: string;
  readonly type: 'count' | 'binary' | 'continuous';
  readonly cohort: CharacteristicCell;
  readonly comparator: CharacteristicCell | null;
  /** Cohort minus comparator; null without a comparator or when a cell is suppressed. */
  readonly smd: number | null;
  /** |SMD| > 0.1. */
  readonly imbalanced: boolean;
}

export interface CharacterizeResult {
  readonly cohort: { readonly label: string; readonly n: number };
  readonly comparator: { readonly label: string; readonly n: number } | null;
  readonly minCell: number;
  readonly lookbackDays: number;
  readonly rows: readonly CharacteristicRow[];
  /** The same rows as the population report takes them (formatted cells). */
  readonly table1: NonNullable<PopulationReportData['table1']>;
  /** The SQL that ran (per-person covariates, aggregates, categorical counts). */
  readonly sql: { readonly aggregates: string; readonly categories: string };
}

export class CharacterizeError extends Error {
  readonly code = 'CHARACTERIZE';
}

function inferDomain(vs: ValueSet): ValueSetDomain {
  const systems = new Set(
    [...vs.codes, ...(vs.includeDescendants ?? []), ...(vs.descendants ?? [])].map((c) => c.system),
  );
  if (systems.has(CODE_SYSTEMS.rxnorm)) return 'medication';
  if (systems.has(CODE_SYSTEMS.loinc)) return 'observation';
  if (systems.has(CODE_SYSTEMS.cvx)) return 'immunization';
  return 'condition';
}

/** SQL helpers that keep the text portable (substring, casts through the Dialect). */
class Sql {
  constructor(readonly d: Dialect) {}
  id(name: string): string {
    return this.d.quoteIdent(name);
  }
  str(value: string): string {
    return this.d.quoteString(value);
  }
  /** The first `len` characters of a date/dateTime text. */
  sub(expr: string, from: number, len: number): string {
    return this.d.sqlFunction(DialectFunction.Substring, [
      this.d.sqlCast(expr, 'VARCHAR'),
      String(from),
      String(len),
    ]);
  }
  day(expr: string): string {
    return this.sub(expr, 1, 10);
  }
  int(expr: string): string {
    return this.d.sqlTryCast(expr, 'BIGINT');
  }
  len(expr: string): string {
    return this.d.sqlFunction(DialectFunction.Length, [expr]);
  }
  /** `YYYY-MM-DD` text `days` before a `YYYY-MM-DD` text (ANSI interval arithmetic). */
  daysBefore(dayText: string, days: number): string {
    return this.day(`(${this.d.sqlTryCast(dayText, 'DATE')} - INTERVAL '${days}' DAY)`);
  }
  /** Whole years from a full birth date to a day; null for partial birth dates. */
  age(birth: string, day: string): string {
    return (
      `CASE WHEN ${this.len(birth)} >= 10 THEN ` +
      `${this.int(this.sub(day, 1, 4))} - ${this.int(this.sub(birth, 1, 4))} - ` +
      `CASE WHEN ${this.sub(day, 6, 5)} < ${this.sub(birth, 6, 5)} THEN 1 ELSE 0 END END`
    );
  }
}

function lookup(sets: ReadonlyMap<string, ValueSet>, name: string): ValueSet {
  const vs = sets.get(name);
  if (vs === undefined) throw new CharacterizeError(`no value set named ${JSON.stringify(name)}`);
  return vs;
}

/** The cohort as SQL returning person_id and index_date. */
export function cohortSql(
  dialect: Dialect,
  input: CohortInput,
  sets: ReadonlyMap<string, ValueSet> = libraryValueSets(),
): string {
  const s = new Sql(dialect);
  if (input.kind === 'sql') return input.sql;
  if (input.kind === 'all') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(input.indexDate))
      throw new CharacterizeError(`index date must be YYYY-MM-DD, got ${input.indexDate}`);
    const date = s.str(input.indexDate);
    return (
      `SELECT id AS person_id, ${date} AS index_date FROM patient ` +
      `WHERE ${s.len('birth_date')} >= 10 AND ${s.day('birth_date')} <= ${date} ` +
      `AND (deceased_date IS NULL OR ${s.day('deceased_date')} >= ${date})`
    );
  }
  const vs = lookup(sets, input.valueset);
  const domain = input.domain ?? inferDomain(vs);
  const [table, date, pred, valid] = ((): [string, string, string, string] => {
    switch (domain) {
      case 'medication':
        return [
          'medication_request',
          'authored_on',
          valueSetPredicate(dialect, vs, s.str(CODE_SYSTEMS.rxnorm), 'rxnorm_code'),
          `(status IS NULL OR status <> 'entered-in-error')`,
        ];
      case 'observation':
        return [
          'observation',
          'effective',
          valueSetPredicate(dialect, vs, s.str(CODE_SYSTEMS.loinc), 'loinc_code'),
          `(status IS NULL OR status NOT IN ('entered-in-error', 'cancelled'))`,
        ];
      case 'immunization':
        return [
          'immunization',
          'occurrence',
          valueSetPredicate(dialect, vs, s.str(CODE_SYSTEMS.cvx), 'cvx_code'),
          `(status IS NULL OR status <> 'entered-in-error')`,
        ];
      case 'condition':
        return [
          'condition',
          'COALESCE(onset, recorded_date)',
          conditionPredicate(dialect, vs),
          `(verification_status IS NULL OR verification_status NOT IN ('entered-in-error', 'refuted'))`,
        ];
    }
  })();
  return (
    `SELECT patient_id AS person_id, MIN(${s.day(date)}) AS index_date FROM ${table} ` +
    `WHERE patient_id IS NOT NULL AND ${s.len(date)} >= 10 AND ${valid} AND ${pred} ` +
    `GROUP BY patient_id`
  );
}

/** A condition matches on its first coding, or on its SNOMED CT or ICD-10-CM coding. */
function conditionPredicate(dialect: Dialect, vs: ValueSet, alias = ''): string {
  const q = (c: string) => `${alias}${c}`;
  return (
    `(${valueSetPredicate(dialect, vs, q('code_system'), q('code'))}` +
    ` OR ${valueSetPredicate(dialect, vs, dialect.quoteString(CODE_SYSTEMS.snomed), q('snomed_code'))}` +
    ` OR ${valueSetPredicate(dialect, vs, q('icd10_system'), q('icd10_code'))})`
  );
}

interface Plan {
  readonly conditions: readonly ValueSet[];
  readonly drugs: readonly ValueSet[];
  readonly labs: readonly (LabSpec & { readonly set: ValueSet })[];
}

/** The per-person covariate table (grp 1 = cohort, 2 = comparator) as a WITH chain. */
function personSql(dialect: Dialect, cohorts: readonly string[], plan: Plan, lookback: number) {
  const s = new Sql(dialect);
  const ctes: string[] = [];
  cohorts.forEach((sql, i) => ctes.push(`c${i + 1} AS (${sql})`));
  ctes.push(
    'base AS (' +
      cohorts
        .map(
          (_, i) =>
            `SELECT ${i + 1} AS grp, person_id, MIN(${s.day('index_date')}) AS idx ` +
            `FROM c${i + 1} WHERE person_id IS NOT NULL AND index_date IS NOT NULL GROUP BY person_id`,
        )
        .join(' UNION ALL ') +
      ')',
  );
  ctes.push(`bw AS (SELECT grp, person_id, idx, ${s.daysBefore('idx', lookback)} AS lb FROM base)`);
  ctes.push(
    `demo AS (SELECT b.grp, b.person_id, ${s.age('p.birth_date', 'b.idx')} AS age, ` +
      `COALESCE(p.gender, 'unknown') AS sex, COALESCE(p.race_display, p.race_text, 'Unknown') AS race, ` +
      `COALESCE(p.ethnicity_display, p.ethnicity_text, 'Unknown') AS ethnicity ` +
      `FROM bw b LEFT JOIN patient p ON p.id = b.person_id)`,
  );
  ctes.push(
    `pay AS (SELECT grp, person_id, payer FROM (SELECT b.grp, b.person_id, ` +
      `COALESCE(v.type_text, v.type_display, v.type_code, 'Unknown') AS payer, ` +
      `ROW_NUMBER() OVER (PARTITION BY b.grp, b.person_id ORDER BY v.period_start DESC, v.id) AS rn ` +
      `FROM bw b JOIN coverage v ON v.patient_id = b.person_id ` +
      `AND ${s.day('v.period_start')} <= b.idx ` +
      `AND (v.period_end IS NULL OR ${s.day('v.period_end')} >= b.idx)) t WHERE rn = 1)`,
  );
  const flags = (prefix: string, preds: readonly string[]) =>
    preds.map((p, i) => `MAX(CASE WHEN ${p} THEN 1 ELSE 0 END) AS ${prefix}${i}`).join(', ');
  if (plan.conditions.length > 0) {
    const on = s.day('COALESCE(x.onset, x.recorded_date)');
    ctes.push(
      `cond AS (SELECT b.grp, b.person_id, ${flags(
        'f',
        plan.conditions.map((vs) => conditionPredicate(dialect, vs, 'x.')),
      )} FROM bw b JOIN condition x ON x.patient_id = b.person_id ` +
        `WHERE ${on} <= b.idx AND (x.verification_status IS NULL OR ` +
        `x.verification_status NOT IN ('entered-in-error', 'refuted')) GROUP BY b.grp, b.person_id)`,
    );
  }
  if (plan.drugs.length > 0) {
    const at = s.day('m.authored_on');
    ctes.push(
      `drug AS (SELECT b.grp, b.person_id, ${flags(
        'd',
        plan.drugs.map((vs) =>
          valueSetPredicate(dialect, vs, s.str(CODE_SYSTEMS.rxnorm), 'm.rxnorm_code'),
        ),
      )} FROM bw b JOIN medication_request m ON m.patient_id = b.person_id ` +
        `WHERE ${at} <= b.idx AND ${at} >= b.lb AND ` +
        `(m.status IS NULL OR m.status <> 'entered-in-error') GROUP BY b.grp, b.person_id)`,
    );
  }
  if (plan.labs.length > 0) {
    const which = (src: 'observation' | 'component', system: string, code: string) => {
      const arms = plan.labs
        .map((l, i) => ({ l, i }))
        .filter(({ l }) => l.source === src)
        .map(({ l, i }) => `WHEN ${valueSetPredicate(dialect, l.set, system, code)} THEN ${i}`);
      return arms.length === 0 ? 'NULL' : `CASE ${arms.join(' ')} END`;
    };
    const ok = `(status IS NULL OR status NOT IN ('entered-in-error', 'cancelled'))`;
    const dbl = (e: string) => dialect.sqlTryCast(e, 'DOUBLE');
    ctes.push(
      `meas AS (SELECT patient_id, id, 0 AS pos, effective, ${dbl('value')} AS val, ` +
        `${which('observation', s.str(CODE_SYSTEMS.loinc), 'loinc_code')} AS lab ` +
        `FROM observation WHERE value IS NOT NULL AND ${ok} ` +
        `UNION ALL SELECT patient_id, observation_id AS id, component_index AS pos, effective, ` +
        `${dbl('value')} AS val, ${which('component', 'code_system', 'code')} AS lab ` +
        `FROM observation_component WHERE value IS NOT NULL)`,
    );
    const at = s.day('o.effective');
    ctes.push(
      `lastlab AS (SELECT grp, person_id, lab, val FROM (SELECT b.grp, b.person_id, o.lab, o.val, ` +
        `ROW_NUMBER() OVER (PARTITION BY b.grp, b.person_id, o.lab ` +
        `ORDER BY o.effective DESC, o.id DESC, o.pos DESC) AS rn ` +
        `FROM bw b JOIN meas o ON o.patient_id = b.person_id ` +
        `WHERE o.lab IS NOT NULL AND o.val IS NOT NULL AND ${at} <= b.idx AND ${at} >= b.lb) t ` +
        `WHERE rn = 1)`,
    );
    ctes.push(
      `labw AS (SELECT grp, person_id, ` +
        plan.labs.map((_, i) => `MAX(CASE WHEN lab = ${i} THEN val END) AS l${i}`).join(', ') +
        ` FROM lastlab GROUP BY grp, person_id)`,
    );
  }
  const ageBand = `CASE ${AGE_BANDS.map(
    ([label, lo, hi]) =>
      `WHEN d.age >= ${lo}${hi === null ? '' : ` AND d.age <= ${hi}`} THEN ${s.str(label)}`,
  ).join(' ')} ELSE 'unknown' END`;
  const cols = [
    'd.grp',
    'd.person_id',
    'd.age',
    `${ageBand} AS age_band`,
    'CASE WHEN d.age >= 65 THEN 1 ELSE 0 END AS age65',
    'd.sex',
    'd.race',
    'd.ethnicity',
    `COALESCE(y.payer, 'None recorded') AS payer`,
    ...plan.conditions.map((_, i) => `COALESCE(cond.f${i}, 0) AS f${i}`),
    ...plan.drugs.map((_, i) => `COALESCE(drug.d${i}, 0) AS d${i}`),
    ...plan.labs.map((_, i) => `labw.l${i} AS l${i}`),
  ];
  const joins = [
    'LEFT JOIN pay y ON y.grp = d.grp AND y.person_id = d.person_id',
    ...(plan.conditions.length > 0
      ? ['LEFT JOIN cond ON cond.grp = d.grp AND cond.person_id = d.person_id']
      : []),
    ...(plan.drugs.length > 0
      ? ['LEFT JOIN drug ON drug.grp = d.grp AND drug.person_id = d.person_id']
      : []),
    ...(plan.labs.length > 0
      ? ['LEFT JOIN labw ON labw.grp = d.grp AND labw.person_id = d.person_id']
      : []),
  ];
  ctes.push(`pp AS (SELECT ${cols.join(', ')} FROM demo d ${joins.join(' ')})`);
  return `WITH ${ctes.join(',\n')}\n`;
}

function aggregatesSql(withChain: string, plan: Plan): string {
  const stats = (c: string) =>
    `COUNT(${c}) AS ${c}_n, AVG(${c}) AS ${c}_mean, STDDEV_SAMP(${c}) AS ${c}_sd`;
  const cols = [
    'grp',
    'COUNT(*) AS n',
    stats('age'),
    'SUM(age65) AS age65',
    ...plan.conditions.map((_, i) => `SUM(f${i}) AS f${i}`),
    ...plan.drugs.map((_, i) => `SUM(d${i}) AS d${i}`),
    ...plan.labs.map((_, i) => stats(`l${i}`)),
  ];
  return `${withChain}SELECT ${cols.join(', ')} FROM pp GROUP BY grp ORDER BY grp`;
}

const CATEGORICAL = ['age_band', 'sex', 'race', 'ethnicity', 'payer'] as const;

function categoriesSql(withChain: string): string {
  return (
    withChain +
    CATEGORICAL.map(
      (c) =>
        `SELECT grp, '${c}' AS variable, ${c} AS level, COUNT(*) AS n FROM pp GROUP BY grp, ${c}`,
    ).join(' UNION ALL ') +
    ' ORDER BY grp, variable, level'
  );
}

const num = (v: unknown): number | null => {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'bigint' ? Number(v) : Number(v);
  return Number.isFinite(n) ? n : null;
};

interface RawCell {
  readonly n: number;
  readonly mean: number | null;
  readonly sd: number | null;
}

function cell(
  raw: RawCell,
  denominator: number,
  minCell: number,
  type: 'binary' | 'continuous',
): CharacteristicCell {
  if (denominator > 0 && denominator < minCell)
    return { n: null, denominator: null, percent: null, mean: null, sd: null, suppressed: true };
  const [out] = suppressSmallCells(
    [
      {
        n: raw.n,
        percent: denominator > 0 ? (100 * raw.n) / denominator : null,
        mean: type === 'continuous' ? raw.mean : null,
        sd: type === 'continuous' ? raw.sd : null,
      },
    ],
    { minCell, counts: ['n'], derived: ['percent', 'mean', 'sd'] },
  );
  return { ...out!, denominator } as CharacteristicCell;
}

function smdOf(
  type: 'count' | 'binary' | 'continuous',
  a: CharacteristicCell,
  b: CharacteristicCell | null,
): number | null {
  if (b === null || type === 'count' || a.suppressed || b.suppressed) return null;
  if (!a.denominator || !b.denominator) return null;
  if (type === 'binary') {
    if (a.n === null || b.n === null) return null;
    return smdBinary(a.n / a.denominator, b.n / b.denominator);
  }
  if (a.mean === null || b.mean === null || a.sd === null || b.sd === null) return null;
  return smdContinuous({ mean: a.mean, sd: a.sd }, { mean: b.mean, sd: b.sd });
}

const fmtInt = (n: number): string => n.toLocaleString('en-US');

/** A formatted cell: "1,234 (45.6%)", "62.1 (11.3)", "<11" when suppressed, "—" when empty. */
export function formatCell(
  c: CharacteristicCell,
  type: 'count' | 'binary' | 'continuous',
  minCell: number,
): string {
  if (c.suppressed) return `<${minCell}`;
  if (type === 'count') return c.n === null ? '—' : fmtInt(c.n);
  if (type === 'binary')
    return c.n === null || c.percent === null ? '—' : `${fmtInt(c.n)} (${c.percent.toFixed(1)}%)`;
  if (c.mean === null) return '—';
  return `${c.mean.toFixed(1)} (${c.sd === null ? '—' : c.sd.toFixed(1)})`;
}

/** Baseline characteristics of a cohort (and a comparator) as of each person's index date. */
export async function characterize(
  ctx: AnalysisContext,
  options: CharacterizeOptions,
): Promise<CharacterizeResult> {
  const sets = options.valueSets ?? libraryValueSets();
  const minCell = options.minCell ?? DEFAULT_MIN_CELL;
  const lookback = options.lookbackDays ?? 365;
  if (!Number.isInteger(lookback) || lookback < 0)
    throw new CharacterizeError('lookbackDays must be a non-negative integer');
  const plan: Plan = {
    conditions: (options.conditions ?? DEFAULT_CONDITION_SETS).map((n) => lookup(sets, n)),
    drugs: (options.drugs ?? DEFAULT_DRUG_SETS).map((n) => lookup(sets, n)),
    labs: (options.labs ?? DEFAULT_LABS).map((l) => ({ ...l, set: lookup(sets, l.valueset) })),
  };
  const inputs =
    options.comparator === undefined ? [options.cohort] : [options.cohort, options.comparator];
  const chain = personSql(
    ctx.dialect,
    inputs.map((c) => cohortSql(ctx.dialect, c, sets)),
    plan,
    lookback,
  );
  const aggregates = aggregatesSql(chain, plan);
  const categories = categoriesSql(chain);
  const agg = await ctx.rows(aggregates);
  const cat = await ctx.rows(categories);

  const groups = inputs.map((_, i) => agg.find((r) => num(r['grp']) === i + 1));
  const sizes = groups.map((r) => (r === undefined ? 0 : (num(r['n']) ?? 0)));
  const get = (g: number, col: string): number | null => {
    const r = groups[g];
    return r === undefined ? null : num(r[col]);
  };
  const rows: CharacteristicRow[] = [];
  const hasComparator = inputs.length === 2;
  const add = (
    section: Table1Section,
    key: string,
    variable: string,
    type: 'count' | 'binary' | 'continuous',
    raw: (g: number) => RawCell,
  ): void => {
    const cells = inputs.map((_, g) =>
      cell(raw(g), sizes[g]!, minCell, type === 'continuous' ? 'continuous' : 'binary'),
    );
    const a = cells[0]!;
    const b = hasComparator ? cells[1]! : null;
    const smd = smdOf(type, a, b);
    rows.push({
      section,
      key,
      variable,
      type,
      cohort: a,
      comparator: b,
      smd,
      imbalanced: smd !== null && Math.abs(smd) > SMD_THRESHOLD,
    });
  };
  const count = (col: string) => (g: number) => ({ n: get(g, col) ?? 0, mean: null, sd: null });
  const cont = (col: string) => (g: number) => ({
    n: get(g, `${col}_n`) ?? 0,
    mean: get(g, `${col}_mean`),
    sd: get(g, `${col}_sd`),
  });
  /** Levels found in either group; `always` are listed even when absent, in their order. */
  const levels = (variable: string, order: readonly string[] = [], always = false): string[] => {
    const found = new Set(
      cat.filter((r) => r['variable'] === variable).map((r) => String(r['level'])),
    );
    const fixed = order.filter((l) => found.has(l) || (always && l !== 'unknown'));
    const rest = [...found].filter((l) => !fixed.includes(l)).sort();
    return [...fixed, ...rest];
  };
  const catCount = (variable: string, level: string) => (g: number) => ({
    n:
      num(
        cat.find(
          (r) =>
            num(r['grp']) === g + 1 && r['variable'] === variable && String(r['level']) === level,
        )?.['n'],
      ) ?? 0,
    mean: null,
    sd: null,
  });

  add('Demographics', 'n', 'Patients, n', 'count', (g) => ({ n: sizes[g]!, mean: null, sd: null }));
  add('Demographics', 'age', 'Age at index, mean (SD)', 'continuous', cont('age'));
  for (const level of levels('age_band', [...AGE_BANDS.map((b) => b[0]), 'unknown'], true))
    add('Demographics', `age_band:${level}`, `Age ${level}`, 'binary', catCount('age_band', level));
  add('Demographics', 'age65', 'Age ≥ 65', 'binary', count('age65'));
  for (const level of levels('sex', ['female', 'male', 'other', 'unknown']))
    add('Demographics', `sex:${level}`, `Sex: ${level}`, 'binary', catCount('sex', level));
  for (const level of levels('race'))
    add('Demographics', `race:${level}`, `Race: ${level}`, 'binary', catCount('race', level));
  for (const level of levels('ethnicity'))
    add(
      'Demographics',
      `ethnicity:${level}`,
      `Ethnicity: ${level}`,
      'binary',
      catCount('ethnicity', level),
    );
  for (const level of levels('payer'))
    add('Payer at index', `payer:${level}`, level, 'binary', catCount('payer', level));
  plan.conditions.forEach((vs, i) =>
    add('Conditions', `condition:${vs.name}`, vs.title, 'binary', count(`f${i}`)),
  );
  plan.drugs.forEach((vs, i) =>
    add('Drugs (prior year)', `drug:${vs.name}`, vs.title, 'binary', count(`d${i}`)),
  );
  plan.labs.forEach((l, i) => {
    add(
      'Labs (last value, prior year)',
      `lab:${l.valueset}`,
      `${l.label}, mean (SD)`,
      'continuous',
      cont(`l${i}`),
    );
    add(
      'Labs (last value, prior year)',
      `lab_measured:${l.valueset}`,
      `${l.label} measured`,
      'binary',
      (g) => ({
        n: get(g, `l${i}_n`) ?? 0,
        mean: null,
        sd: null,
      }),
    );
  });

  const label = (c: CohortInput) => c.label;
  return {
    cohort: { label: label(options.cohort), n: sizes[0]! },
    comparator:
      options.comparator === undefined ? null : { label: label(options.comparator), n: sizes[1]! },
    minCell,
    lookbackDays: lookback,
    rows,
    table1: {
      cohort: options.cohort.label,
      comparator: options.comparator?.label ?? '',
      rows: rows.map((r) => ({
        section: r.section,
        variable: r.variable,
        cohortValue: formatCell(r.cohort, r.type, minCell),
        comparatorValue: r.comparator === null ? '' : formatCell(r.comparator, r.type, minCell),
        smd: r.smd,
      })),
    },
    sql: { aggregates, categories },
  };
}
