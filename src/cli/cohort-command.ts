/**
 * `medlake cohort build DEF.json`: validates a cohort definition (docs/cohorts.md), builds the
 * cohort in the lake as the table `cohort_<name>` and prints the attrition table;
 * `medlake cohort list`: the cohorts stored in a lake. Thin: parse, call src/analysis/cohort.
 */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { Command } from 'commander';
import { AnalysisContext } from '../analysis/context.js';
import {
  CohortDefinitionError,
  buildCohort,
  listCohorts,
  parseCohortJson,
} from '../analysis/cohort.js';
import type { CohortBuildResult } from '../analysis/cohort.js';
import { ValueSetError, libraryValueSets, loadValueSets } from '../analysis/valuesets.js';
import { ENGINE_NAMES } from '../engine/open-engine.js';
import type { EngineChoice } from '../engine/open-engine.js';
import { Lake, resolveLakeDir } from '../lake/lake.js';
import { ExitCode } from './exit-codes.js';

interface EngineFlags {
  engine?: string;
  spark?: string;
}

const engineChoice = (opts: EngineFlags): EngineChoice => ({
  ...(opts.engine === undefined ? {} : { engine: opts.engine }),
  ...(opts.spark === undefined ? {} : { sparkUrl: opts.spark }),
});

/** The attrition table as aligned text. */
export function attritionText(r: CohortBuildResult): string {
  const rows = r.attrition.map((a) => [
    String(a.step),
    a.name,
    String(a.persons),
    String(a.events),
  ]);
  const head = ['step', 'rule', 'persons', 'events'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i >= 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    `cohort ${r.name}: ${r.persons} persons, ${r.rows} periods → table ${r.table} (${r.path})`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}

export function registerCohortCommand(program: Command): void {
  const cohort = program.command('cohort').description('build and list cohorts (docs/cohorts.md)');
  const lakeOption = (): Option =>
    new Option('--lake <dir>', 'lake directory (default: $MEDLAKE_LAKE or ./medlake-data)');

  cohort
    .command('build')
    .description('build a cohort from a JSON definition into the lake and print its attrition')
    .argument('<definition>', 'cohort definition (JSON)')
    .addOption(lakeOption())
    .option(
      '--valueset-file <file>',
      'value sets (JSON or CSV) besides the library; repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--json', 'print the result as JSON')
    .addOption(
      new Option(
        '--engine <name>',
        'engine to run on (default: $MEDLAKE_ENGINE or duckdb)',
      ).choices(ENGINE_NAMES),
    )
    .option('--spark <url>', 'Spark Connect URL for --engine spark')
    .action(
      async (
        file: string,
        opts: EngineFlags & { lake?: string; valuesetFile?: string[]; json?: boolean },
        cmd: Command,
      ) => {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          cmd.error(`error: cannot read ${file}: ${(err as Error).message}`, {
            exitCode: ExitCode.Usage,
          });
        }
        let def;
        let sets;
        try {
          def = parseCohortJson(text, file);
          sets = libraryValueSets();
          if (opts.valuesetFile !== undefined)
            for (const [k, v] of loadValueSets(opts.valuesetFile)) sets.set(k, v);
        } catch (err) {
          if (err instanceof CohortDefinitionError || err instanceof ValueSetError)
            cmd.error(`error: ${err.message}`, { exitCode: ExitCode.Usage, code: err.code });
          throw err;
        }
        const ctx = await AnalysisContext.open(resolveLakeDir(opts.lake), engineChoice(opts));
        let result: CohortBuildResult;
        try {
          result = await buildCohort(ctx, def, sets, file);
        } catch (err) {
          if (err instanceof CohortDefinitionError)
            cmd.error(`error: ${err.message}`, {
              exitCode: ExitCode.Usage,
              code: err.code,
            });
          throw err;
        } finally {
          await ctx.close();
        }
        process.stdout.write(
          `${opts.json === true ? JSON.stringify(result) : attritionText(result)}\n`,
        );
      },
    );

  cohort
    .command('list')
    .description('list the cohorts stored in the lake')
    .addOption(lakeOption())
    .option('--json', 'print the list as JSON')
    .action((opts: { lake?: string; json?: boolean }) => {
      const lake = Lake.open(resolveLakeDir(opts.lake));
      const list = listCohorts(lake.manifest.views);
      const text =
        opts.json === true
          ? JSON.stringify(list)
          : list.length === 0
            ? 'no cohorts'
            : list.map((c) => `${c.name}\t${c.rows} periods\t${c.table}\t${c.builtAt}`).join('\n');
      process.stdout.write(`${text}\n`);
    });
}
