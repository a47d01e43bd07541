/**
 * `medlake analyze incidence` and `medlake analyze prevalence`: thin shells over
 * src/analysis/incidence.ts. Rows go out as json (the whole result), csv or parquet (the
 * strata rows).
 */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { AnalysisContext } from '../analysis/context.js';
import {
  INCIDENCE_DIMENSIONS,
  PREVALENCE_DIMENSIONS,
  STANDARDS,
  incidence,
  prevalence,
} from '../analysis/incidence.js';
import type {
  IncidenceDimension,
  PrevalenceDimension,
  StandardName,
} from '../analysis/incidence.js';
import { libraryValueSets, loadValueSets } from '../analysis/valuesets.js';
import type { ValueSet } from '../analysis/valuesets.js';
import { resolveLakeDir } from '../lake/lake.js';
import { ExitCode } from './exit-codes.js';
import { emitAnalysis } from './output.js';

const FORMATS = ['json', 'csv', 'parquet'] as const;
type Format = (typeof FORMATS)[number];

function intArg(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer of at least ${min}`);
    return n;
  };
}

function dateArg(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)))
    throw new InvalidArgumentError('expected a date YYYY-MM-DD, e.g. 2015-01-01');
  return v;
}

function listArg<T extends string>(allowed: readonly T[]): (v: string) => T[] {
  return (v) => {
    const out = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const s of out)
      if (!allowed.includes(s as T))
        throw new InvalidArgumentError(`unknown stratum ${s} (one of ${allowed.join(', ')})`);
    return out as T[];
  };
}

function formatArg(v: string): Format {
  if (!FORMATS.includes(v as Format))
    throw new InvalidArgumentError(`format must be one of ${FORMATS.join(', ')}`);
  return v as Format;
}

interface CommonOptions {
  lake?: string;
  engine?: string;
  condition?: string;
  valuesetFile?: string[];
  codes?: string;
  allEpisodes?: boolean;
  firstOnly?: boolean;
  episodeGap?: number;
  minCell: number;
  format: Format;
  out?: string;
}

/** The value set: --codes system|code,..., or --condition NAME from the files or the library. */
function conditionValueSet(o: CommonOptions): ValueSet {
  if (o.codes !== undefined) {
    const codes = o.codes.split(',').map((c) => {
      const i = c.lastIndexOf('|');
      if (i <= 0) throw new InvalidArgumentError(`--codes expects system|code, got ${c}`);
      return { system: c.slice(0, i), code: c.slice(i + 1) };
    });
    return { name: o.condition ?? 'codes', title: o.condition ?? 'codes', codes } as ValueSet;
  }
  if (o.condition === undefined) throw new InvalidArgumentError('give --condition or --codes');
  const sets =
    o.valuesetFile !== undefined && o.valuesetFile.length > 0
      ? loadValueSets(o.valuesetFile)
      : libraryValueSets();
  const vs = sets.get(o.condition) ?? libraryValueSets().get(o.condition);
  if (vs === undefined)
    throw new InvalidArgumentError(
      `no value set named ${o.condition} (library: ${[...libraryValueSets().keys()].join(', ')})`,
    );
  return vs;
}

function common(cmd: Command): Command {
  return cmd
    .option('--lake <dir>', 'lake directory')
    .option('--engine <name>', 'engine: duckdb (default) or spark')
    .option('--condition <name>', 'value set name (library or --valueset-file)')
    .option('--valueset-file <file...>', 'value set files (JSON or CSV)')
    .option('--codes <list>', 'explicit codes instead of a value set: system|code,...')
    .option('--all-episodes', 'count every episode (acute conditions)')
    .option('--first-only', 'count only the first record per person (chronic conditions)')
    .option(
      '--episode-gap <days>',
      'episode length when no abatement is recorded',
      intArg('--episode-gap', 1),
    )
    .option(
      '--min-cell <n>',
      'suppress cells with counts 1..n-1 (0 = off)',
      intArg('--min-cell', 0),
      11,
    )
    .option('--format <f>', 'json | csv | parquet', formatArg, 'json')
    .option('--out <file>', 'output file (default stdout)');
}

function episodesOf(o: CommonOptions): 'first' | 'all' | undefined {
  if (o.allEpisodes === true && o.firstOnly === true)
    throw new InvalidArgumentError('--all-episodes and --first-only exclude each other');
  return o.allEpisodes === true ? 'all' : o.firstOnly === true ? 'first' : undefined;
}

async function run(o: CommonOptions, body: (ctx: AnalysisContext) => Promise<void>): Promise<void> {
  const engine = o.engine === undefined ? {} : ({ engine: o.engine } as Record<string, unknown>);
  const ctx = await AnalysisContext.open(resolveLakeDir(o.lake), {
    ...engine,
    views: ['patient', 'condition', 'encounter', 'coverage'],
  });
  try {
    await body(ctx);
  } finally {
    await ctx.close();
  }
}

function fail(err: unknown): void {
  process.stderr.write(`medlake analyze: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode =
    err instanceof InvalidArgumentError || err instanceof RangeError
      ? ExitCode.Usage
      : ExitCode.Error;
}

/** The `analyze` command group (created if absent), for several analyses to share. */
export function analyzeGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'analyze') ??
    program.command('analyze').description('population-health analyses over a lake')
  );
}

export function registerAnalyzeIncidenceCommand(program: Command): void {
  const analyze = analyzeGroup(program);
  common(
    analyze
      .command('incidence')
      .description('incidence rates per 1,000 person-years with exact Poisson CIs'),
  )
    .option(
      '--by <list>',
      `strata: ${INCIDENCE_DIMENSIONS.join(',')}`,
      listArg(INCIDENCE_DIMENSIONS),
      ['year', 'age', 'sex'],
    )
    .option(
      '--washout <days>',
      'days of observation before time counts at risk',
      intArg('--washout', 0),
      0,
    )
    .option('--observation <kind>', 'window (default) | encounters')
    .option('--start <date>', 'first day of the window', dateArg)
    .option('--end <date>', 'last day of the window', dateArg)
    .option(
      '--standardize <std>',
      `direct age standardization: ${Object.keys(STANDARDS).join(' | ')}`,
    )
    .option('--apc', 'annual percent change over the years')
    .action(
      async (
        o: CommonOptions & {
          by: IncidenceDimension[];
          washout: number;
          observation?: string;
          start?: string;
          end?: string;
          standardize?: string;
          apc?: boolean;
        },
      ) => {
        try {
          if (o.standardize !== undefined && !(o.standardize in STANDARDS))
            throw new InvalidArgumentError(
              `--standardize must be one of ${Object.keys(STANDARDS).join(', ')}`,
            );
          if (
            o.observation !== undefined &&
            o.observation !== 'window' &&
            o.observation !== 'encounters'
          )
            throw new InvalidArgumentError('--observation must be window or encounters');
          const valueSet = conditionValueSet(o);
          const episodes = episodesOf(o);
          await run(o, async (ctx) => {
            const res = await incidence(ctx, {
              valueSet,
              ...(episodes === undefined ? {} : { episodes }),
              ...(o.episodeGap === undefined ? {} : { episodeGapDays: o.episodeGap }),
              by: o.by,
              washoutDays: o.washout,
              ...(o.observation === undefined
                ? {}
                : { observation: o.observation as 'window' | 'encounters' }),
              ...(o.start === undefined ? {} : { start: o.start }),
              ...(o.end === undefined ? {} : { end: o.end }),
              ...(o.standardize === undefined
                ? {}
                : { standardize: o.standardize as StandardName }),
              apc: o.apc === true,
              minCell: o.minCell,
            });
            await emitAnalysis(
              o.format,
              o.out,
              res,
              res.rows as unknown as Record<string, unknown>[],
            );
          });
        } catch (err) {
          fail(err);
        }
      },
    );

  common(
    analyze
      .command('prevalence')
      .description('point (--at) or period (--year) prevalence with Wilson CIs'),
  )
    .option(
      '--by <list>',
      `strata: ${PREVALENCE_DIMENSIONS.join(',')}`,
      listArg(PREVALENCE_DIMENSIONS),
      ['age', 'sex'],
    )
    .option('--at <date>', 'point prevalence on this day', dateArg)
    .option('--year <y>', 'period prevalence over this calendar year', intArg('--year', 1))
    .option('--active-only', 'count only records active on the day / in the year')
    .action(
      async (
        o: CommonOptions & {
          by: PrevalenceDimension[];
          at?: string;
          year?: number;
          activeOnly?: boolean;
        },
      ) => {
        try {
          if ((o.at === undefined) === (o.year === undefined))
            throw new InvalidArgumentError('give exactly one of --at DATE or --year Y');
          const valueSet = conditionValueSet(o);
          const episodes = episodesOf(o);
          await run(o, async (ctx) => {
            const res = await prevalence(ctx, {
              valueSet,
              ...(episodes === undefined ? {} : { episodes }),
              ...(o.episodeGap === undefined ? {} : { episodeGapDays: o.episodeGap }),
              by: o.by,
              ...(o.at === undefined ? {} : { at: o.at }),
              ...(o.year === undefined ? {} : { year: o.year }),
              ...(o.activeOnly === true ? { activeOnly: true } : {}),
              minCell: o.minCell,
            });
            await emitAnalysis(
              o.format,
              o.out,
              res,
              res.rows as unknown as Record<string, unknown>[],
            );
          });
        } catch (err) {
          fail(err);
        }
      },
    );
}
