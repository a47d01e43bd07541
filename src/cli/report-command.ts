/**
 * `medlake report population --lake DIR --out report.html`: the population-health report
 * as one self-contained HTML file (src/report). Thin: parse, run, write.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { AnalysisContext } from '../analysis/context.js';
import { CohortDefinitionError, parseCohortJson } from '../analysis/cohort.js';
import type { CohortDefinition } from '../analysis/cohort.js';
import { libraryValueSets, loadValueSets } from '../analysis/valuesets.js';
import { resolveLakeDir } from '../lake/lake.js';
import { populationReportData } from '../report/population.js';
import { renderPopulationReport } from '../report/population-report.js';

interface ReportOptions {
  lake?: string;
  out: string;
  engine?: string;
  spark?: string;
  cohort?: string;
  comparator?: string;
  valuesetFile?: string[];
  conditions?: string;
  seasonal?: string;
  region?: string;
  start?: string;
  end?: string;
  minCell: number;
  title?: string;
}

function intArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function dateArg(v: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`)))
    throw new InvalidArgumentError('expected a date YYYY-MM-DD');
  return v;
}

function cohortFile(file: string): { label: string; definition: CohortDefinition } {
  const definition = parseCohortJson(readFileSync(file, 'utf8'), file);
  return { label: basename(file).replace(/\.json$/, ''), definition };
}

export function registerReportCommand(program: Command): void {
  const report =
    program.commands.find((c) => c.name() === 'report') ??
    program.command('report').description('reports people can look at (self-contained HTML)');
  report
    .command('population')
    .description(
      'incidence trends, age-sex pyramid, seasonality, regions, co-occurrence and (with ' +
        '--cohort) attrition and Table 1, as one HTML file that opens without a network',
    )
    .requiredOption('--out <file>', 'HTML file to write')
    .option('--lake <dir>', 'lake folder')
    .option('--engine <name>', 'engine: duckdb (default) or spark')
    .option('--spark <url>', 'Spark Connect URL (with --engine spark)')
    .option('--cohort <file>', 'cohort definition (JSON) for attrition and Table 1')
    .option('--comparator <file>', 'comparator cohort definition for Table 1')
    .option(
      '--valueset-file <file>',
      'extra value sets (JSON or CSV); repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--conditions <names>', 'value sets of the incidence trends, comma-separated')
    .option('--seasonal <name>', 'value set of the seasonal profile', 'influenza')
    .option('--region <name>', 'value set of the regional comparison', 'diabetes-type-2')
    .option('--start <date>', 'first day of the study window', dateArg)
    .option('--end <date>', 'last day of the study window', dateArg)
    .option('--min-cell <n>', 'suppress counts below this (0 = off)', intArg, 11)
    .option('--title <text>', 'report title')
    .action(async (o: ReportOptions, cmd: Command) => {
      const valueSets = libraryValueSets();
      for (const [k, v] of loadValueSets(o.valuesetFile ?? [])) valueSets.set(k, v);
      let cohort: ReturnType<typeof cohortFile> | undefined;
      let comparator: ReturnType<typeof cohortFile> | undefined;
      try {
        if (o.cohort !== undefined) cohort = cohortFile(o.cohort);
        if (o.comparator !== undefined) comparator = cohortFile(o.comparator);
      } catch (err) {
        if (err instanceof CohortDefinitionError)
          cmd.error(`error: ${err.message}`, { exitCode: 2, code: err.code });
        throw err;
      }
      if (comparator !== undefined && cohort === undefined)
        cmd.error('error: --comparator needs --cohort', { exitCode: 2 });
      const lakeDir = resolveLakeDir(o.lake);
      const ctx = await AnalysisContext.open(lakeDir, {
        ...(o.engine === undefined ? {} : { engine: o.engine }),
        ...(o.spark === undefined ? {} : { sparkUrl: o.spark }),
      });
      try {
        const data = await populationReportData(ctx, valueSets, {
          ...(o.conditions === undefined
            ? {}
            : { trendConditions: o.conditions.split(',').map((s) => s.trim()) }),
          ...(o.seasonal === undefined ? {} : { seasonalCondition: o.seasonal }),
          ...(o.region === undefined ? {} : { regionCondition: o.region }),
          ...(cohort === undefined ? {} : { cohort }),
          ...(comparator === undefined ? {} : { comparator }),
          ...(o.start === undefined ? {} : { start: o.start }),
          ...(o.end === undefined ? {} : { end: o.end }),
          minCell: o.minCell,
          ...(o.title === undefined ? {} : { title: o.title }),
          subtitle: `lake ${lakeDir}; counts below ${o.minCell} suppressed`,
        });
        writeFileSync(o.out, await renderPopulationReport(data));
        process.stdout.write(`report written to ${o.out}\n`);
      } finally {
        await ctx.close();
      }
    });
}
