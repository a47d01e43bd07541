/**
 * The `medlake` command line: a thin shell over the library (parse arguments, call,
 * render). Exit codes are part of the contract and documented in docs/cli.md.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ExitCode } from './exit-codes.js';
import { OUTPUT_FORMATS, OutputError, writeRows, type OutputFormat } from './output.js';
import { Progress } from './progress.js';
import { resolveLakeDir, Lake } from '../lake/lake.js';
import { loadIntoLake, type LoadProgress, type LoadSummary } from '../lake/load.js';
import { loadIntoLakeOnSpark } from '../lake/spark-load.js';
import { LakeSession } from '../lake/session.js';
import { compileView } from '../views/compile.js';
import { viewRows } from '../views/run.js';
import { validateView } from '../views/view-definition.js';
import { materializeViews } from '../views/materialize.js';
import { dialectByName, DIALECT_NAMES } from '../sql/dialects/index.js';
import { IngestSourceError } from '../ingest/types.js';
import { registerClusterCommand } from './cluster-command.js';
import { registerSynthCommand } from './synth-command.js';
import { registerAnalyzeIncidenceCommand } from './analyze-incidence-command.js';
import { registerPatternsCommands } from './analyze-patterns-command.js';
import { registerCohortCommand } from './cohort-command.js';
import { registerCharacterizeCommand } from './characterize-command.js';
import { registerListenCommand } from './listen-command.js';
import { registerReportCommand } from './report-command.js';
import {
  ENGINE_NAMES,
  EngineChoiceError,
  openEngine,
  resolveEngine,
  type EngineChoice,
} from '../engine/open-engine.js';

class UsageError extends Error {}

interface EngineFlags {
  engine?: string;
  spark?: string;
}

function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(
      `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function summaryLine(s: LoadSummary): string {
  const secs = s.durationMs / 1000;
  const parts = [
    `load ${s.loadId}: ${s.read} resources read from ${s.sources} file(s) (${formatBytes(s.bytes)}) in ${secs.toFixed(1)} s`,
    `${s.added} added, ${s.updated} updated, ${s.unchanged} unchanged, ${s.superseded} superseded`,
  ];
  if (s.derivedIds > 0) parts.push(`${s.derivedIds} without id kept under a content-derived id`);
  if (s.quarantined > 0) parts.push(`${s.quarantined} quarantined (see ${s.quarantineFile})`);
  return parts.join('; ');
}

export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = ExitCode.Ok;
  const stdout = process.stdout;
  const program = new Command();
  program
    .name('medlake')
    .description(
      'FHIR R4 lake, SQL-on-FHIR v2 views and analytics on DuckDB (embedded) or Apache Spark',
    )
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const lakeOption = (): Option =>
    new Option('--lake <dir>', 'lake directory (default: $MEDLAKE_LAKE or ./medlake-data)');
  const engineOption = (): Option =>
    new Option('--engine <name>', 'engine to run on (default: $MEDLAKE_ENGINE or duckdb)').choices(
      ENGINE_NAMES,
    );
  const sparkOption = (): Option =>
    new Option(
      '--spark <url>',
      'Spark Connect URL for --engine spark (default: $MEDLAKE_SPARK_URL)',
    );
  const engineChoice = (opts: EngineFlags): EngineChoice => ({
    ...(opts.engine === undefined ? {} : { engine: opts.engine }),
    ...(opts.spark === undefined ? {} : { sparkUrl: opts.spark }),
  });

  program
    .command('ingest')
    .description(
      'load FHIR R4 JSON (NDJSON, .ndjson.gz, Bundles, resources, folders, Bulk Data manifests) into the lake',
    )
    .argument('<paths...>', 'files or folders')
    .addOption(lakeOption())
    .option('--json', 'print a machine-readable summary')
    .option(
      '--memory-limit <size>',
      'DuckDB memory for the merge; it spills to disk beyond it',
      '256MB',
    )
    .addOption(engineOption())
    .addOption(sparkOption())
    .action(
      async (
        paths: string[],
        opts: EngineFlags & { lake?: string; json?: boolean; memoryLimit: string },
      ) => {
        const dir = resolveLakeDir(opts.lake);
        const progress =
          opts.json !== true && process.stderr.isTTY ? new Progress(process.stderr) : undefined;
        const onProgress =
          progress === undefined ? {} : { onProgress: (p: LoadProgress) => progress.update(p) };
        let summary: LoadSummary;
        if (resolveEngine(engineChoice(opts)).engine === 'spark') {
          // Bulk NDJSON parsed and merged on the cluster, into the same lake layout.
          const engine = await openEngine(engineChoice(opts));
          try {
            summary = await loadIntoLakeOnSpark(dir, paths, { engine, ...onProgress });
          } finally {
            await engine.close();
          }
        } else {
          summary = await loadIntoLake(dir, paths, {
            memoryLimit: opts.memoryLimit,
            ...onProgress,
          });
        }
        progress?.done();
        if (opts.json === true)
          stdout.write(
            JSON.stringify(
              { status: summary.quarantined > 0 ? 'partial' : 'ok', ...summary },
              null,
              2,
            ) + '\n',
          );
        else stdout.write(summaryLine(summary) + '\n');
        exitCode = summary.quarantined > 0 ? ExitCode.Partial : ExitCode.Ok;
      },
    );

  const lake = program.command('lake').description('inspect the lake');
  lake
    .command('info')
    .description('resource counts per type, loads, quarantine and views')
    .addOption(lakeOption())
    .option('--json', 'print JSON')
    .action((opts: { lake?: string; json?: boolean }) => {
      const info = Lake.open(resolveLakeDir(opts.lake)).info();
      if (opts.json === true) {
        stdout.write(JSON.stringify(info, null, 2) + '\n');
        return;
      }
      const lines = [`lake ${info.dir} (commit ${info.commit}, ${formatBytes(info.bytes)})`];
      lines.push(`resources: ${info.totalResources}`);
      const width = Math.max(0, ...Object.keys(info.resources).map((k) => k.length));
      for (const [t, n] of Object.entries(info.resources)) lines.push(`  ${t.padEnd(width)}  ${n}`);
      lines.push(`loads: ${info.loads.length}`);
      for (const l of info.loads.slice(-10)) {
        const read = Object.values(l.counts).reduce((a, c) => a + c.read, 0);
        lines.push(
          `  #${l.id} ${l.committedAt}: ${read} read from ${l.sources.length} file(s), ${l.quarantined} quarantined`,
        );
      }
      lines.push(`quarantined: ${info.quarantined}`);
      const views = Object.entries(info.views);
      if (views.length > 0) {
        lines.push(`views: ${views.length}`);
        for (const [n, v] of views) lines.push(`  ${n}  ${v.rows} rows`);
      }
      const tables = Object.entries(info.tables);
      if (tables.length > 0) {
        lines.push(`source tables: ${tables.length}`);
        for (const [n, rows] of tables) lines.push(`  ${n}  ${rows} rows`);
      }
      stdout.write(lines.join('\n') + '\n');
    });

  const view = program.command('view').description('SQL-on-FHIR v2 ViewDefinitions');
  view
    .command('run')
    .description('run a ViewDefinition over the lake')
    .argument('<view>', 'ViewDefinition JSON file')
    .addOption(lakeOption())
    .addOption(
      new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('csv'),
    )
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--limit <n>', 'at most n rows', (v) => parsePositiveInt(v, '--limit'))
    .addOption(engineOption())
    .addOption(sparkOption())
    .option('--max-repeat-depth <n>', 'deepest nesting a repeat follows (default 12)', (v) =>
      parsePositiveInt(v, '--max-repeat-depth'),
    )
    .action(
      async (
        file: string,
        opts: EngineFlags & {
          lake?: string;
          format: OutputFormat;
          out?: string;
          limit?: number;
          maxRepeatDepth?: number;
        },
      ) => {
        const definition = readJsonFile(file);
        const session = await LakeSession.open(resolveLakeDir(opts.lake), engineChoice(opts));
        try {
          const compiled = compileView(definition, {
            dialect: session.engine.dialect,
            columnsOf: session.columnsOf,
            ...(opts.limit === undefined ? {} : { limit: opts.limit }),
            ...(opts.maxRepeatDepth === undefined ? {} : { maxRepeatDepth: opts.maxRepeatDepth }),
          });
          await writeRows({
            format: opts.format,
            outFile: opts.out,
            columns: compiled.columns.map((c) => c.name),
            rows: async () => viewRows(compiled, await session.stream(compiled.sql)),
            engine: session.engine,
            sql: compiled.sql,
          });
        } finally {
          await session.close();
        }
      },
    );
  view
    .command('sql')
    .description('print the SQL a ViewDefinition compiles to (no database needed)')
    .argument('<view>', 'ViewDefinition JSON file')
    .addOption(
      new Option('--dialect <name>', 'SQL dialect').choices(DIALECT_NAMES).default('duckdb'),
    )
    .action((file: string, opts: { dialect: string }) => {
      const compiled = compileView(readJsonFile(file), { dialect: dialectByName(opts.dialect) });
      stdout.write(compiled.sql + ';\n');
    });
  view
    .command('validate')
    .description('check ViewDefinitions; errors name the JSON path')
    .argument('<views...>', 'ViewDefinition JSON files')
    .action((files: string[]) => {
      let bad = 0;
      let unreadable = 0;
      for (const f of files) {
        try {
          let json: unknown;
          try {
            json = readJsonFile(f);
          } catch (err) {
            unreadable++;
            throw err;
          }
          const v = validateView(json);
          compileView(v, { dialect: dialectByName('duckdb') });
          stdout.write(`${f}: ok\n`);
        } catch (err) {
          bad++;
          process.stderr.write(`${f}:\n  ${(err as Error).message.split('\n').join('\n  ')}\n`);
        }
      }
      if (unreadable > 0) exitCode = ExitCode.Usage;
      else if (bad > 0) exitCode = ExitCode.Error;
    });
  view
    .command('materialize')
    .description(
      'store view results as Parquet tables in the lake, queryable by view name with "medlake sql"',
    )
    .argument('<views...>', 'ViewDefinition JSON files')
    .addOption(lakeOption())
    .addOption(engineOption())
    .addOption(sparkOption())
    .action(async (files: string[], opts: EngineFlags & { lake?: string }) => {
      const views = files.map((f) => ({ view: readJsonFile(f), source: f }));
      const results = await materializeViews(resolveLakeDir(opts.lake), views, engineChoice(opts));
      for (const r of results) stdout.write(`${r.name}: ${r.rows} rows\n`);
    });

  program
    .command('sql')
    .description('run SQL over the lake: resource types and materialised views are tables')
    .argument('<query>', 'SQL query')
    .addOption(lakeOption())
    .addOption(
      new Option('--format <format>', 'output format').choices(OUTPUT_FORMATS).default('csv'),
    )
    .option('--out <file>', 'write to a file instead of stdout')
    .addOption(engineOption())
    .addOption(sparkOption())
    .action(
      async (
        query: string,
        opts: EngineFlags & { lake?: string; format: OutputFormat; out?: string },
      ) => {
        const session = await LakeSession.open(resolveLakeDir(opts.lake), engineChoice(opts));
        try {
          const first = await session.stream(query);
          let used = false;
          await writeRows({
            format: opts.format,
            outFile: opts.out,
            columns: first.columns.map((c) => c.name),
            rows: async () => {
              if (!used) {
                used = true;
                return first;
              }
              return session.stream(query);
            },
            engine: session.engine,
            sql: query,
          });
        } finally {
          await session.close();
        }
      },
    );

  registerSynthCommand(program);
  registerClusterCommand(program);
  registerCohortCommand(program);
  // Both reuse the one `analyze` command group.
  registerAnalyzeIncidenceCommand(program);
  registerPatternsCommands(program);
  registerCharacterizeCommand(program);
  registerReportCommand(program);
  registerListenCommand(program);

  try {
    await program.parseAsync(argv as string[]);
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    }
    process.stderr.write(`medlake: ${(err as Error).message}\n`);
    return err instanceof UsageError ||
      err instanceof IngestSourceError ||
      err instanceof OutputError ||
      err instanceof EngineChoiceError
      ? ExitCode.Usage
      : ExitCode.Error;
  }
  return exitCode;
}

function packageVersion(): string {
  const pkg = new URL('../../../package.json', import.meta.url);
  const dev = new URL('../../package.json', import.meta.url);
  for (const u of [pkg, dev]) {
    try {
      return (JSON.parse(readFileSync(u, 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout (built: dist/src/cli; sources: src/cli)
    }
  }
  return 'unknown';
}

function parsePositiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}
