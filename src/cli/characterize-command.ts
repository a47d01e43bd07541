/**
 * `medlake analyze characterize`: Table 1 of a cohort (and a comparator) as JSON, CSV or a
 * standalone HTML table. Thin: parse, call src/analysis/characterize.ts, render.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { compileCohort, parseCohortJson } from '../analysis/cohort.js';
import type { CohortDefinition } from '../analysis/cohort.js';
import { libraryValueSets } from '../analysis/valuesets.js';
import type { Dialect } from '../sql/dialect.js';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { characterize, formatCell } from '../analysis/characterize.js';
import type { CharacterizeResult, CohortInput } from '../analysis/characterize.js';
import { AnalysisContext } from '../analysis/context.js';
import { DEFAULT_MIN_CELL } from '../analysis/suppress.js';
import { ENGINE_NAMES } from '../engine/open-engine.js';
import { resolveLakeDir } from '../lake/lake.js';
import { ExitCode } from './exit-codes.js';
import { rowsToCsv, writeRowsParquet } from './output.js';

const FORMATS = ['json', 'csv', 'html', 'parquet'] as const;
type Format = (typeof FORMATS)[number];

function nonNegativeInt(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(v);
}

function dateArg(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new InvalidArgumentError('expected YYYY-MM-DD');
  return v;
}

/** A cohort definition (docs/cohorts.md) to compile once the engine's dialect is known. */
interface CohortFile {
  readonly label: string;
  readonly definition: CohortDefinition;
}

/**
 * A cohort file: a cohort definition (docs/cohorts.md: `medlake cohort build` takes the
 * same), or a CohortInput as JSON ({ label, kind: 'valueset' | 'sql' | 'all', ... }).
 */
function readCohort(file: string): CohortInput | CohortFile {
  let text: string;
  let value: unknown;
  try {
    text = readFileSync(file, 'utf8');
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`cannot read cohort ${file}: ${(err as Error).message}`);
  }
  const v = value as Record<string, unknown>;
  if (typeof v === 'object' && v !== null && 'entry' in v)
    return {
      label: basename(file).replace(/\.json$/, ''),
      definition: parseCohortJson(text, file),
    };
  const ok =
    typeof v === 'object' &&
    v !== null &&
    typeof v['label'] === 'string' &&
    ((v['kind'] === 'valueset' && typeof v['valueset'] === 'string') ||
      (v['kind'] === 'sql' && typeof v['sql'] === 'string') ||
      (v['kind'] === 'all' && typeof v['indexDate'] === 'string'));
  if (!ok)
    throw new InvalidArgumentError(
      `${file}: expected a cohort definition (with "entry") or {"label", "kind": "valueset", "valueset"} | {"label", "kind": "sql", "sql"} | {"label", "kind": "all", "indexDate"}`,
    );
  return value as CohortInput;
}

/** A cohort definition as a CohortInput: its compiled SQL, index = cohort start. */
function asInput(c: CohortInput | CohortFile, dialect: Dialect): CohortInput {
  if (!('definition' in c)) return c;
  const compiled = compileCohort(c.definition, { dialect, valueSets: libraryValueSets() });
  return {
    label: c.label,
    kind: 'sql',
    sql: `SELECT person_id, cohort_start AS index_date FROM (${compiled.cohortSql}) AS c`,
  };
}

const TABLE_COLUMNS = [
  'section',
  'key',
  'variable',
  'cohort_value',
  'comparator_value',
  'cohort_n',
  'cohort_percent',
  'cohort_mean',
  'cohort_sd',
  'comparator_n',
  'comparator_percent',
  'comparator_mean',
  'comparator_sd',
  'smd',
  'imbalanced',
] as const;

/** Table 1 as rows (the CSV and Parquet outputs): one per variable, suppressed cells as text. */
export function characterizeRows(r: CharacterizeResult): Record<string, unknown>[] {
  return r.rows.map((row) => {
    const values = [
      row.section,
      row.key,
      row.variable,
      formatCell(row.cohort, row.type, r.minCell),
      row.comparator === null ? '' : formatCell(row.comparator, row.type, r.minCell),
      row.cohort.n,
      row.cohort.percent,
      row.cohort.mean,
      row.cohort.sd,
      row.comparator?.n,
      row.comparator?.percent,
      row.comparator?.mean,
      row.comparator?.sd,
      row.smd,
      row.imbalanced,
    ];
    return Object.fromEntries(TABLE_COLUMNS.map((c, i) => [c, values[i] ?? null]));
  });
}

export function characterizeCsv(r: CharacterizeResult): string {
  const rows = characterizeRows(r);
  return rows.length === 0 ? TABLE_COLUMNS.join(',') + '\n' : rowsToCsv(rows);
}

const esc = (s: string): string =>
  s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');

/** A standalone HTML page with the table; imbalanced rows (|SMD| > 0.1) are marked. */
export function characterizeHtml(r: CharacterizeResult): string {
  const t = r.table1;
  const hasComparator = r.comparator !== null;
  let section = '';
  const body: string[] = [];
  for (const [i, row] of t.rows.entries()) {
    if (row.section !== section) {
      section = row.section;
      body.push(
        `<tr class="section"><th colspan="${hasComparator ? 4 : 2}">${esc(section)}</th></tr>`,
      );
    }
    const flag = r.rows[i]?.imbalanced === true;
    body.push(
      `<tr${flag ? ' class="imbalanced"' : ''}><td>${esc(row.variable)}</td><td>${esc(row.cohortValue)}</td>` +
        (hasComparator
          ? `<td>${esc(row.comparatorValue)}</td><td>${row.smd === null ? '' : row.smd.toFixed(3)}</td>`
          : '') +
        '</tr>',
    );
  }
  const title = hasComparator ? `${t.cohort} vs ${t.comparator}` : t.cohort;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Table 1: ${esc(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}
td,th{padding:.25em .75em;border-bottom:1px solid #ddd;text-align:left}
td+td{text-align:right;font-variant-numeric:tabular-nums}tr.section th{background:#f3f3f3}
tr.imbalanced td{background:#fff4d6}</style></head><body>
<h1>Table 1: ${esc(title)}</h1>
<p>Baseline at the index date; drugs and labs in the prior ${r.lookbackDays} days. Counts below ${r.minCell} are shown as &lt;${r.minCell}.${hasComparator ? ' Highlighted rows: |SMD| &gt; 0.1.' : ''}</p>
<table><thead><tr><th>Characteristic</th><th>${esc(t.cohort)}</th>${hasComparator ? `<th>${esc(t.comparator)}</th><th>SMD</th>` : ''}</tr></thead>
<tbody>
${body.join('\n')}
</tbody></table></body></html>
`;
}

interface Opts {
  lake?: string;
  engine?: string;
  spark?: string;
  cohort?: string;
  cohortValueset?: string;
  comparator?: string;
  comparatorValueset?: string;
  index?: string;
  conditions?: string[];
  drugs?: string[];
  lookback: number;
  minCell: number;
  format: Format;
  out?: string;
}

const list = (v: string): string[] =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** Finds or creates the shared `analyze` command, then adds `characterize` under it. */
export function registerCharacterizeCommand(program: Command): void {
  const analyze =
    program.commands.find((c) => c.name() === 'analyze') ??
    program.command('analyze').description('population-health analyses over a lake');
  analyze
    .command('characterize')
    .description('Table 1: baseline characteristics of a cohort vs a comparator, with SMDs')
    .option('--lake <dir>', 'lake directory (default: $MEDLAKE_LAKE or ./medlake-data)')
    .addOption(new Option('--engine <name>', 'engine to run on').choices(ENGINE_NAMES))
    .option('--spark <url>', 'Spark Connect URL for --engine spark')
    .option(
      '--cohort <file>',
      'cohort definition (docs/cohorts.md), or JSON {label, kind: valueset|sql|all, ...}',
    )
    .option('--cohort-valueset <name>', 'cohort = first record of this value set')
    .option('--comparator <file>', 'comparator definition (JSON, as --cohort)')
    .option('--comparator-valueset <name>', 'comparator = first record of this value set')
    .option(
      '--index <date>',
      'without --cohort/--cohort-valueset: everyone alive on this date (YYYY-MM-DD)',
      dateArg,
    )
    .option('--conditions <names>', 'condition value sets (comma-separated)', list)
    .option('--drugs <names>', 'drug value sets (comma-separated)', list)
    .option('--lookback <days>', 'days before index for drugs and labs', nonNegativeInt, 365)
    .option('--min-cell <n>', 'suppress counts below n', nonNegativeInt, DEFAULT_MIN_CELL)
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('json'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts: Opts, cmd: Command) => {
      const pick = (
        file: string | undefined,
        vs: string | undefined,
      ): CohortInput | CohortFile | undefined => {
        if (file !== undefined && vs !== undefined)
          cmd.error('error: give a cohort file or a value set, not both', {
            exitCode: ExitCode.Usage,
          });
        if (file !== undefined) {
          try {
            return readCohort(file);
          } catch (err) {
            cmd.error(`error: ${(err as Error).message}`, { exitCode: ExitCode.Usage });
          }
        }
        return vs === undefined
          ? undefined
          : { label: vs, kind: 'valueset', valueset: vs, first: true };
      };
      const cohort =
        pick(opts.cohort, opts.cohortValueset) ??
        (opts.index === undefined
          ? undefined
          : ({ label: `alive on ${opts.index}`, kind: 'all', indexDate: opts.index } as const));
      if (cohort === undefined)
        cmd.error('error: give --cohort FILE, --cohort-valueset NAME or --index DATE', {
          exitCode: ExitCode.Usage,
        });
      const comparator = pick(opts.comparator, opts.comparatorValueset);
      const ctx = await AnalysisContext.open(resolveLakeDir(opts.lake), {
        ...(opts.engine === undefined
          ? {}
          : { engine: opts.engine as (typeof ENGINE_NAMES)[number] }),
        ...(opts.spark === undefined ? {} : { sparkUrl: opts.spark }),
      });
      let result: CharacterizeResult;
      try {
        result = await characterize(ctx, {
          cohort: asInput(cohort, ctx.dialect),
          ...(comparator === undefined ? {} : { comparator: asInput(comparator, ctx.dialect) }),
          ...(opts.conditions === undefined ? {} : { conditions: opts.conditions }),
          ...(opts.drugs === undefined ? {} : { drugs: opts.drugs }),
          lookbackDays: opts.lookback,
          minCell: opts.minCell,
        });
      } finally {
        await ctx.close();
      }
      if (opts.format === 'parquet') {
        if (opts.out === undefined)
          return cmd.error('error: --format parquet needs --out FILE', {
            exitCode: ExitCode.Usage,
          });
        await writeRowsParquet(characterizeRows(result), opts.out);
        return;
      }
      const text =
        opts.format === 'csv'
          ? characterizeCsv(result)
          : opts.format === 'html'
            ? characterizeHtml(result)
            : JSON.stringify(result, null, 2) + '\n';
      if (opts.out === undefined) process.stdout.write(text);
      else writeFileSync(opts.out, text);
    });
}
