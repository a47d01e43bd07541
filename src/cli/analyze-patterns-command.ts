/**
 * `medlake analyze seasonality|geography|cooccurrence`: disease patterns over a lake's
 * standard views. Thin: parse, call src/analysis/{seasonality,geography,cooccurrence}.ts,
 * render as JSON (the whole result) or CSV (its main table).
 */
import { ANALYSIS_FORMATS, emitAnalysis, type AnalysisFormat } from './output.js';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import { AnalysisContext } from '../analysis/context.js';
import {
  COOCCURRENCE_RANKINGS,
  DEFAULT_COOCCURRENCE_CONDITIONS,
  analyzeCooccurrence,
} from '../analysis/cooccurrence.js';
import type { CooccurrenceRanking } from '../analysis/cooccurrence.js';
import { P_ADJUSTMENTS, REGION_KINDS, analyzeGeography } from '../analysis/geography.js';
import type { PAdjustment, RegionKind } from '../analysis/geography.js';
import { analyzeSeasonality } from '../analysis/seasonality.js';
import { DEFAULT_MIN_CELL } from '../analysis/suppress.js';
import { libraryValueSets, loadValueSets } from '../analysis/valuesets.js';
import type { ValueSet } from '../analysis/valuesets.js';
import { ENGINE_NAMES } from '../engine/open-engine.js';
import { resolveLakeDir } from '../lake/lake.js';
import { ExitCode } from './exit-codes.js';

interface CommonFlags {
  lake?: string;
  engine?: string;
  spark?: string;
  condition: string[];
  valuesetFile: string[];
  minCell: number;
  format: AnalysisFormat;
  out?: string;
}

function intArg(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
    return n;
  };
}

const collect = (v: string, prev: string[] = []): string[] => [
  ...prev,
  ...v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== ''),
];

function common(cmd: Command): Command {
  return cmd
    .option('--lake <dir>', 'the lake (default: $MEDLAKE_LAKE or ./lake)')
    .addOption(
      new Option('--engine <name>', 'engine (default: $MEDLAKE_ENGINE or duckdb)').choices(
        ENGINE_NAMES,
      ),
    )
    .option('--spark <url>', 'Spark Connect URL for --engine spark')
    .option('--condition <names>', 'value set name(s), comma-separated or repeated', collect, [])
    .option(
      '--valueset-file <file>',
      'value sets from a JSON or CSV file (repeatable)',
      collect,
      [],
    )
    .option(
      '--min-cell <n>',
      'suppress counts below n (0 = off)',
      intArg('--min-cell', 0),
      DEFAULT_MIN_CELL,
    )
    .addOption(
      new Option('--format <format>', 'output format').choices(ANALYSIS_FORMATS).default('json'),
    )
    .option('--out <file>', 'write to this file instead of stdout');
}

/** The value sets named by --condition, from --valueset-file files or the library. */
function resolveSets(cmd: Command, opts: CommonFlags, fallback: readonly string[]): ValueSet[] {
  let fromFiles: Map<string, ValueSet>;
  try {
    fromFiles = opts.valuesetFile.length > 0 ? loadValueSets(opts.valuesetFile) : new Map();
  } catch (err) {
    return cmd.error(`error: ${(err as Error).message}`, { exitCode: ExitCode.Usage });
  }
  const library = libraryValueSets();
  const names =
    opts.condition.length > 0
      ? opts.condition
      : fromFiles.size > 0
        ? [...fromFiles.keys()]
        : [...fallback];
  if (names.length === 0)
    return cmd.error('error: name a condition: --condition NAME or --valueset-file FILE', {
      exitCode: ExitCode.Usage,
    });
  return names.map((n) => {
    const vs = fromFiles.get(n) ?? library.get(n);
    if (vs === undefined)
      return cmd.error(
        `error: no value set named ${JSON.stringify(n)} (library: ${[...library.keys()].join(', ')})`,
        { exitCode: ExitCode.Usage },
      );
    return vs;
  });
}

async function withContext<T>(
  opts: CommonFlags,
  views: readonly string[],
  run: (ctx: AnalysisContext) => Promise<T>,
): Promise<T> {
  const ctx = await AnalysisContext.open(resolveLakeDir(opts.lake), {
    views,
    ...(opts.engine === undefined ? {} : { engine: opts.engine }),
    ...(opts.spark === undefined ? {} : { sparkUrl: opts.spark }),
  });
  try {
    return await run(ctx);
  } finally {
    await ctx.close();
  }
}

/**
 * Runs one analysis and writes its result (CSV: `table` of it); a RangeError (a bad
 * argument the analysis found) is a usage error.
 */
async function runAndEmit<T>(
  cmd: Command,
  opts: CommonFlags,
  views: readonly string[],
  run: (ctx: AnalysisContext) => Promise<T>,
  table: (result: T) => readonly Record<string, unknown>[],
): Promise<void> {
  let result: T;
  try {
    result = await withContext(opts, views, run);
  } catch (err) {
    if (err instanceof RangeError) cmd.error(`error: ${err.message}`, { exitCode: ExitCode.Usage });
    throw err;
  }
  await emitAnalysis(opts.format, opts.out, result, table(result));
}

/** Adds `analyze seasonality|geography|cooccurrence` (creating `analyze` if needed). */
export function registerPatternsCommands(program: Command): void {
  const analyze =
    program.commands.find((c) => c.name() === 'analyze') ??
    program.command('analyze').description('population-health analyses over a lake');

  common(
    analyze
      .command('seasonality')
      .description('monthly new cases of a condition, its seasonal profile and a cosinor test'),
  )
    .option('--from <yyyy-mm>', 'first month (default: first month of care in the lake)')
    .option('--to <yyyy-mm>', 'last month (default: last month of care or cases)')
    .option('--first-only', "count only each patient's first onset (chronic conditions)")
    .option('--no-trend', 'fit no linear trend beside the harmonic')
    .action(
      async (
        opts: CommonFlags & { from?: string; to?: string; firstOnly?: boolean; trend: boolean },
        cmd: Command,
      ) => {
        const sets = resolveSets(cmd, opts, []);
        await runAndEmit(
          cmd,
          opts,
          ['patient', 'condition', 'encounter'],
          (ctx) =>
            analyzeSeasonality(ctx, {
              valueSet: sets,
              firstPerPatient: opts.firstOnly === true,
              trend: opts.trend,
              minCell: opts.minCell,
              ...(opts.from === undefined ? {} : { from: opts.from }),
              ...(opts.to === undefined ? {} : { to: opts.to }),
            }),
          (r) => r.monthly,
        );
      },
    );

  common(
    analyze
      .command('geography')
      .description('rates and standardized incidence ratios by region, with flagged excesses'),
  )
    .addOption(new Option('--by-region <kind>', 'region').choices(REGION_KINDS).default('state'))
    .option('--from <yyyy-mm-dd>', 'count first onsets on or after this day')
    .option('--to <yyyy-mm-dd>', 'count first onsets on or before this day')
    .addOption(
      new Option('--adjust <method>', 'multiple-testing adjustment')
        .choices(P_ADJUSTMENTS)
        .default('bh'),
    )
    .action(
      async (
        opts: CommonFlags & {
          byRegion: RegionKind;
          from?: string;
          to?: string;
          adjust: PAdjustment;
        },
        cmd: Command,
      ) => {
        const sets = resolveSets(cmd, opts, []);
        await runAndEmit(
          cmd,
          opts,
          ['patient', 'condition'],
          (ctx) =>
            analyzeGeography(ctx, {
              valueSet: sets,
              by: opts.byRegion,
              adjust: opts.adjust,
              minCell: opts.minCell,
              ...(opts.from === undefined ? {} : { from: opts.from }),
              ...(opts.to === undefined ? {} : { to: opts.to }),
            }),
          (r) => r.regions,
        );
      },
    );

  common(
    analyze
      .command('cooccurrence')
      .description('pairs of conditions among patients: O/E, lift, odds ratio, association rules'),
  )
    .option(
      '--window <days>',
      'count a pair only if first onsets are this close',
      intArg('--window', 0),
    )
    .addOption(
      new Option('--rank-by <key>', 'ranking of the top pairs')
        .choices(COOCCURRENCE_RANKINGS)
        .default('orLower'),
    )
    .option(
      '--min-support <n>',
      'patients with both needed to be ranked (default: --min-cell)',
      intArg('--min-support', 1),
    )
    .option('--top <n>', 'how many top pairs', intArg('--top', 1), 10)
    .action(
      async (
        opts: CommonFlags & {
          window?: number;
          rankBy: CooccurrenceRanking;
          minSupport?: number;
          top: number;
        },
        cmd: Command,
      ) => {
        const sets = resolveSets(cmd, opts, DEFAULT_COOCCURRENCE_CONDITIONS);
        await runAndEmit(
          cmd,
          opts,
          ['patient', 'condition'],
          (ctx) =>
            analyzeCooccurrence(ctx, {
              valueSets: sets,
              rankBy: opts.rankBy,
              top: opts.top,
              minCell: opts.minCell,
              ...(opts.window === undefined ? {} : { windowDays: opts.window }),
              ...(opts.minSupport === undefined ? {} : { minSupportCount: opts.minSupport }),
            }),
          (r) => r.top,
        );
      },
    );
}
