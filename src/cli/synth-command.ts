/**
 * `medlake synth`: writes a synthetic population (FHIR R4 NDJSON + a Bulk Data
 * manifest.json + truth.json), or with `--lake` generates straight into a lake.
 * Thin: parse, call src/synth, render a one-line summary.
 */
import { InvalidArgumentError, Option } from 'commander';
import { resolveLakeDir } from '../lake/lake.js';
import type { LoadSummary } from '../lake/load.js';
import type { Command } from 'commander';
import {
  SYNTH_DEFAULTS,
  SYNTH_REGIONS,
  SynthError,
  synthFormats,
  synthesize,
} from '../synth/index.js';
import type { RegionalExcess, SynthRegion, SynthSummary } from '../synth/index.js';
import { synthesizeIntoLake } from '../synth/write-lake.js';

function positiveInt(name: string, min: number): (v: string) => number {
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

/** e.g. `10000 patients, 1234567 resources (Patient 10000, ...), 423.1 MB in 4.1 s, 2439 patients/s` */
export function synthSummaryLine(s: SynthSummary): string {
  const total = Object.values(s.resources).reduce((a, b) => a + b, 0);
  const byType = Object.entries(s.resources)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  const secs = s.durationMs / 1000;
  const rate = secs > 0 ? Math.round(s.patients / secs) : s.patients;
  return (
    `${s.patients} patients, ${total} resources (${byType}), ` +
    `${(s.bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(1)} s, ${rate} patients/s → ${s.outDir}`
  );
}

export function registerSynthCommand(program: Command): void {
  program
    .command('synth')
    .description('generate a synthetic FHIR R4 population (NDJSON per type) with truth.json')
    .requiredOption('--patients <n>', 'number of patients', positiveInt('--patients', 1))
    .option('--seed <n>', 'random seed', positiveInt('--seed', 0), SYNTH_DEFAULTS.seed)
    .option('--start <date>', 'first day of the simulated window', dateArg, SYNTH_DEFAULTS.start)
    .option(
      '--end <date>',
      'last day of the window (ages follow the census here)',
      dateArg,
      SYNTH_DEFAULTS.end,
    )
    .option('--out <dir>', 'output folder', SYNTH_DEFAULTS.outDir)
    .option(
      '--formats <list>',
      `comma-separated output formats (${synthFormats().join(', ')}); fhir-ndjson is always ` +
        'written to the folder itself, the others to a subfolder each',
      (v: string) =>
        v
          .split(',')
          .map((f) => f.trim())
          .filter((f) => f !== ''),
    )
    .option(
      '--lake <dir>',
      'generate straight into this lake (no files in between); truth.json goes to <dir>/truth.json',
    )
    .addOption(
      new Option('--region <region>', 'population tables').choices(SYNTH_REGIONS).default('us'),
    )
    .option(
      '--regional-excess <region:condition:factor>',
      'plant an excess of one condition in one state or province, e.g. MA:diabetes:2',
      (v: string): RegionalExcess => {
        const m = /^([^:]+):([A-Za-z]+):([0-9.]+)$/.exec(v);
        if (m === null)
          throw new InvalidArgumentError('expected region:condition:factor, e.g. MA:diabetes:2');
        return {
          region: m[1] as string,
          condition: m[2] as RegionalExcess['condition'],
          factor: Number(m[3]),
        };
      },
    )
    .option('--json', 'print the summary as JSON')
    .action(
      async (
        opts: {
          patients: number;
          seed: number;
          start: string;
          end: string;
          out: string;
          region: SynthRegion;
          regionalExcess?: RegionalExcess;
          lake?: string;
          formats?: string[];
          json?: boolean;
        },
        cmd: Command,
      ) => {
        if (opts.lake !== undefined && cmd.getOptionValueSource('out') === 'cli')
          cmd.error('error: give either --out or --lake, not both', { exitCode: 2 });
        const extra = (opts.formats ?? []).filter((f) => f !== 'fhir-ndjson');
        if (opts.lake !== undefined && extra.length > 0)
          cmd.error('error: --formats other than fhir-ndjson need --out, not --lake', {
            exitCode: 2,
          });
        const synthOptions = {
          patients: opts.patients,
          seed: opts.seed,
          start: opts.start,
          end: opts.end,
          region: opts.region,
          ...(opts.regionalExcess === undefined ? {} : { regionalExcess: opts.regionalExcess }),
        };
        let summary: SynthSummary;
        let load: LoadSummary | undefined;
        try {
          if (opts.lake === undefined)
            summary = await synthesize({ ...synthOptions, outDir: opts.out, formats: extra });
          else {
            const r = await synthesizeIntoLake(resolveLakeDir(opts.lake), synthOptions);
            summary = r.synth;
            load = r.load;
          }
        } catch (err) {
          // Bad combinations (start after end, a region not there yet) are usage errors.
          if (err instanceof SynthError)
            cmd.error(`error: ${err.message}`, { exitCode: 2, code: err.code });
          throw err;
        }
        const text =
          opts.json === true
            ? JSON.stringify(load === undefined ? summary : { ...summary, load })
            : synthSummaryLine(summary) +
              (load === undefined
                ? ''
                : ` (load ${load.loadId}: ${load.added} added, ${load.updated} updated, ` +
                  `${load.unchanged} unchanged)`);
        process.stdout.write(text + '\n');
      },
    );
}
