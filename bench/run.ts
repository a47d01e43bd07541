/**
 * `npm run bench`: medlake's benchmark (never a timed unit test).
 *
 *   1. generates Bulk Data NDJSON at each size (reused when size, seed and generator match);
 *   2. ingests it with the real CLI in a child process: wall time, MB/s, resources/s, peak RSS;
 *   3. times six views as (a) medlake's compiled SQL, (b) a hand-written DuckDB query
 *      returning the same rows (checked first), (c) fhirpath.js per resource in JavaScript;
 *   4. shows column projection (bytes of the Parquet columns a view scans vs all of them);
 *   5. writes bench/out/results-<date>.json, prints Markdown tables and rewrites the
 *      generated section of docs/benchmarks.md.
 *
 * Usage: npm run bench [-- --quick | --large | --sizes 100000,1000000 | --runs 5 | --analyze | --no-doc]
 * See `npm run bench -- --help`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LakeSession, compileView, type LoadSummary } from '../src/index.js';
import { compileViewForJs, runViewInJs, type JsRow } from './fhirpath-eval.js';
import { generateBenchData } from './generate-data.js';
import { BENCH_VIEWS, type BenchView } from './hand-written.js';
import { renderTables, sizeLabel, updateDoc } from './report.js';
import type {
  BenchResults,
  ColumnCost,
  DataSet,
  IngestResult,
  IngestRun,
  JsResult,
  MachineInfo,
  ProjectionResult,
  Target,
  ViewResult,
  ViewTiming,
} from './results.js';
import { dirBytes, median } from './common.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'bench', 'out');
const DOC = join(ROOT, 'docs', 'benchmarks.md');

const TARGET_RATIO_HAND = 1.5;
const TARGET_SPEEDUP_JS = 50;
const TARGET_INGEST_MBS = 100;
const TARGET_RSS_GROWTH = 1.5;

// ---------------------------------------------------------------------------------------
// Arguments
// ---------------------------------------------------------------------------------------

const USAGE = `usage: npm run bench -- [options]

  --sizes LIST      resource counts, comma separated (100000, 100k, 1M); default 100k,1M
  --large           also run ~5M resources
  --quick           100k only, 3 runs, 1 ingest run, no doc update (for development)
  --runs N          timed runs per view query (default 7; median reported)
  --ingest-runs N   ingest runs per size (default 3; 1 above 1M)
  --js-runs N       timed fhirpath.js runs per view (default 3)
  --js-cap N        fhirpath.js reads at most N resources of a type (default 200000)
  --skip-js         do not run fhirpath.js
  --analyze         per-column cost of every view at the analysis size (default: only
                    views above the 1.5x target)
  --seed N          generator seed (default 1)
  --no-doc          do not rewrite docs/benchmarks.md
  --doc             rewrite docs/benchmarks.md even with --quick`;

interface Options {
  readonly sizes: readonly number[];
  readonly runs: number;
  readonly ingestRuns: number | undefined;
  readonly jsRuns: number;
  readonly jsCap: number;
  readonly skipJs: boolean;
  readonly analyzeAll: boolean;
  readonly seed: number;
  readonly quick: boolean;
  readonly writeDoc: boolean;
}

function parseCount(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim().replace(/_/g, ''));
  const n = m === null ? NaN : Number(m[1]) * (m[2] === '' ? 1 : /k/i.test(m[2]!) ? 1e3 : 1e6);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${what}: not a positive count: ${text}`);
  return n;
}

function parseOptions(argv: readonly string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv as string[],
    options: {
      sizes: { type: 'string' },
      large: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      runs: { type: 'string' },
      'ingest-runs': { type: 'string' },
      'js-runs': { type: 'string' },
      'js-cap': { type: 'string', default: '200000' },
      'skip-js': { type: 'boolean', default: false },
      analyze: { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      'no-doc': { type: 'boolean', default: false },
      doc: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const quick = values.quick;
  let sizes =
    values.sizes !== undefined
      ? values.sizes.split(',').map((s) => parseCount(s, '--sizes'))
      : quick
        ? [100_000]
        : [100_000, 1_000_000];
  if (values.large) sizes.push(5_000_000);
  sizes = [...new Set(sizes)].sort((a, b) => a - b);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed: not an integer: ${values.seed}`);
  return {
    sizes,
    runs: values.runs !== undefined ? parseCount(values.runs, '--runs') : quick ? 3 : 7,
    ingestRuns:
      values['ingest-runs'] !== undefined
        ? parseCount(values['ingest-runs'], '--ingest-runs')
        : quick
          ? 1
          : undefined,
    jsRuns: values['js-runs'] !== undefined ? parseCount(values['js-runs'], '--js-runs') : 3,
    jsCap: parseCount(values['js-cap'], '--js-cap'),
    skipJs: values['skip-js'],
    analyzeAll: values.analyze,
    seed,
    quick,
    writeDoc: !values['no-doc'] && (!quick || values.doc),
  };
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

const started = Date.now();
function log(msg: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(7);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

function newestMtime(dir: string, ext: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function quoteSql(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

// ---------------------------------------------------------------------------------------
// 1. Data
// ---------------------------------------------------------------------------------------

interface DataMarker {
  resources: number;
  seed: number;
  generator: string;
  counts: Record<string, number>;
  bytes: number;
  files: { name: string; bytes: number }[];
}

async function ensureData(size: number, seed: number): Promise<DataSet> {
  const dir = join(OUT, 'data', `r${size}-s${seed}`);
  // Beside the folder, not in it: the CLI ingests every file of the folder.
  const markerFile = `${dir}.json`;
  const generator = createHash('sha256')
    .update(readFileSync(join(ROOT, 'bench', 'generate-data.ts')))
    .digest('hex')
    .slice(0, 16);
  if (existsSync(markerFile)) {
    const m = JSON.parse(readFileSync(markerFile, 'utf8')) as DataMarker;
    const intact = m.files.every(
      (f) => existsSync(join(dir, f.name)) && statSync(join(dir, f.name)).size === f.bytes,
    );
    if (m.resources === size && m.seed === seed && m.generator === generator && intact) {
      const total = Object.values(m.counts).reduce((a, b) => a + b, 0);
      log(`data ${sizeLabel(size)}: reusing ${relative(ROOT, dir)} (${total} resources)`);
      return {
        requested: size,
        seed,
        dir,
        resources: total,
        counts: m.counts,
        bytes: m.bytes,
        reused: true,
      };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(markerFile, { force: true });
  log(`data ${sizeLabel(size)}: generating into ${relative(ROOT, dir)}`);
  const t0 = performance.now();
  const res = await generateBenchData({ outDir: dir, resources: size, seed });
  const total = Object.values(res.counts).reduce((a, b) => a + b, 0);
  log(
    `data ${sizeLabel(size)}: ${total} resources, ${(res.bytes / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const marker: DataMarker = {
    resources: size,
    seed,
    generator,
    counts: res.counts,
    bytes: res.bytes,
    files: res.files.map((f) => ({ name: relative(dir, f), bytes: statSync(f).size })),
  };
  writeFileSync(markerFile, JSON.stringify(marker, null, 2) + '\n');
  return {
    requested: size,
    seed,
    dir,
    resources: total,
    counts: res.counts,
    bytes: res.bytes,
    reused: false,
  };
}

// ---------------------------------------------------------------------------------------
// 2. Ingest in a child process
// ---------------------------------------------------------------------------------------

interface CliCommand {
  readonly args: readonly string[];
  readonly label: string;
}

/** The built CLI when dist is at least as new as src, else the sources through tsx. */
function cliCommand(): CliCommand {
  const built = join(ROOT, 'dist', 'src', 'cli', 'entry.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(ROOT, 'src'), '.ts')) {
    return { args: [built], label: 'node dist/src/cli/entry.js' };
  }
  return {
    args: ['--import', 'tsx', join(ROOT, 'src', 'cli', 'entry.ts')],
    label: 'node --import tsx src/cli/entry.ts (dist/ missing or older than src/)',
  };
}

interface ChildResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
  readonly peakRssKiB: number;
  readonly cpuMs: number | null;
  readonly rssMethod: string;
}

const GNU_TIME = '/usr/bin/time';

/** Runs node with `args`; peak RSS from GNU time -v, else by polling /proc/<pid>/status. */
function runNodeChild(args: readonly string[]): Promise<ChildResult> {
  const useTime = existsSync(GNU_TIME);
  const timeFile = join(OUT, `.time-${process.pid}.txt`);
  const [cmd, cmdArgs] = useTime
    ? [GNU_TIME, ['-v', '-o', timeFile, process.execPath, ...args]]
    : [process.execPath, [...args]];
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, cmdArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let polledKiB = 0;
    const poll = useTime
      ? undefined
      : setInterval(() => {
          try {
            const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
            const m = /VmHWM:\s+(\d+)\s+kB/.exec(status);
            if (m !== null) polledKiB = Math.max(polledKiB, Number(m[1]));
          } catch {
            // The child has exited between two polls.
          }
        }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      if (poll !== undefined) clearInterval(poll);
      let peakRssKiB = polledKiB;
      let cpuMs: number | null = null;
      if (useTime) {
        const text = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
        rmSync(timeFile, { force: true });
        const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
        peakRssKiB = m === null ? 0 : Number(m[1]);
        const user = /User time \(seconds\): ([\d.]+)/.exec(text);
        const sys = /System time \(seconds\): ([\d.]+)/.exec(text);
        if (user !== null && sys !== null) cpuMs = (Number(user[1]) + Number(sys[1])) * 1000;
      }
      resolvePromise({
        code,
        stdout,
        stderr,
        wallMs,
        peakRssKiB,
        cpuMs,
        rssMethod: useTime
          ? '/usr/bin/time -v (Maximum resident set size)'
          : '/proc/<pid>/status VmHWM, polled every 20 ms',
      });
    });
  });
}

async function ingest(data: DataSet, runs: number, cli: CliCommand): Promise<IngestResult> {
  const lake = lakeDir(data);
  const results: IngestRun[] = [];
  let rssMethod = '';
  for (let i = 0; i < runs; i++) {
    rmSync(lake, { recursive: true, force: true });
    log(`ingest ${sizeLabel(data.requested)}: run ${i + 1}/${runs} …`);
    const r = await runNodeChild([...cli.args, 'ingest', data.dir, '--lake', lake, '--json']);
    if (r.code !== 0) {
      throw new Error(`ingest failed (exit ${r.code}):\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
    }
    const summary = JSON.parse(r.stdout) as LoadSummary & { phases?: Record<string, number> };
    if (summary.read !== data.resources || summary.quarantined !== 0) {
      throw new Error(
        `ingest read ${summary.read} resources (expected ${data.resources}), quarantined ${summary.quarantined}`,
      );
    }
    rssMethod = r.rssMethod;
    const run: IngestRun = {
      wallMs: r.wallMs,
      cpuMs: r.cpuMs,
      loadMs: summary.durationMs,
      ...(summary.phases === undefined ? {} : { phases: summary.phases }),
      peakRssMiB: r.peakRssKiB / 1024,
    };
    results.push(run);
    log(
      `ingest ${sizeLabel(data.requested)}: ${(run.wallMs / 1000).toFixed(2)} s wall, ${run.cpuMs === null ? '' : `${(run.cpuMs / 1000).toFixed(2)} s CPU, `}${(data.bytes / 1e6 / (run.wallMs / 1000)).toFixed(1)} MB/s, peak RSS ${run.peakRssMiB.toFixed(0)} MiB`,
    );
  }
  const wall = median(results.map((r) => r.wallMs));
  const cpu = results.map((r) => r.cpuMs).filter((c): c is number => c !== null);
  return {
    size: data.requested,
    resources: data.resources,
    bytes: data.bytes,
    command: cli.label,
    runs: results,
    medianWallMs: wall,
    medianCpuMs: cpu.length === results.length ? median(cpu) : null,
    mbPerSec: data.bytes / 1e6 / (wall / 1000),
    resourcesPerSec: data.resources / (wall / 1000),
    peakRssMiB: Math.max(...results.map((r) => r.peakRssMiB)),
    rssMethod,
    lakeBytes: dirBytes(join(lake, 'data')),
  };
}

function lakeDir(data: DataSet): string {
  return join(OUT, 'lakes', `r${data.requested}-s${data.seed}`);
}

// ---------------------------------------------------------------------------------------
// 3. Views: (a) compiled vs (b) hand-written, same materialisation
// ---------------------------------------------------------------------------------------

const RESULT_TABLE = 'bench_result';

/**
 * One timed execution: `CREATE TEMP TABLE ... AS <query>`. Every output column is
 * computed and stored inside DuckDB (nothing can be pruned, nothing is converted to JS),
 * for (a) and (b) alike; the table is dropped after the clock stops.
 */
async function timeQuery(session: LakeSession, sql: string): Promise<number> {
  return (await timeQueryCpu(session, sql)).wallMs;
}

interface QueryTime {
  readonly wallMs: number;
  readonly cpuMs: number;
}

async function timeQueryCpu(
  session: LakeSession,
  sql: string,
  sink: 'table' | 'hash' = 'table',
): Promise<QueryTime> {
  const stmt =
    sink === 'table'
      ? `CREATE TEMP TABLE ${RESULT_TABLE} AS ${sql}`
      : `SELECT count(*) AS n, bit_xor(hash(COLUMNS(*))) FROM (${sql}) AS q`;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  if (sink === 'table') await session.engine.exec(stmt);
  else await session.engine.query(stmt);
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (sink === 'table') await session.engine.exec(`DROP TABLE ${RESULT_TABLE}`);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}

function timing(times: readonly QueryTime[], rows: number): ViewTiming {
  const runsMs = times.map((t) => t.wallMs);
  const cpuRunsMs = times.map((t) => t.cpuMs);
  const m = median(runsMs);
  return {
    runsMs,
    medianMs: m,
    rowsPerSec: rows / (m / 1000),
    cpuRunsMs,
    medianCpuMs: median(cpuRunsMs),
  };
}

async function scalar(session: LakeSession, sql: string): Promise<number> {
  const r = await session.engine.query(sql);
  return Number(Object.values(r.rows[0] ?? {})[0]);
}

/** The columns each READ_PARQUET scan of a query projects, from EXPLAIN (FORMAT JSON). */
async function scanColumns(session: LakeSession, sql: string): Promise<string[]> {
  const r = await session.engine.query(`EXPLAIN (FORMAT JSON) ${sql}`);
  const out = new Set<string>();
  const walk = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    const o = node as { name?: unknown; extra_info?: unknown; children?: unknown };
    const info = o.extra_info as { Function?: unknown; Projections?: unknown } | undefined;
    if (o.name === 'READ_PARQUET' || info?.Function === 'READ_PARQUET') {
      const p = info?.Projections;
      const list = Array.isArray(p) ? p : typeof p === 'string' ? p.split('\n') : [];
      for (const c of list) if (typeof c === 'string' && c.trim() !== '') out.add(c.trim());
    }
    walk(o.children);
  };
  for (const row of r.rows) {
    for (const v of Object.values(row)) {
      if (typeof v !== 'string' || !v.trim().startsWith('[')) continue;
      walk(JSON.parse(v));
    }
  }
  return [...out].sort();
}

interface Verified {
  readonly rows: number;
  readonly columns: readonly string[];
  readonly allNullColumns: string[];
}

/** Runs both queries once (the warm-up) and fails unless they return the same rows. */
async function verifySameRows(
  session: LakeSession,
  view: string,
  compiledSql: string,
  handSql: string,
): Promise<Verified> {
  const e = session.engine;
  await e.exec(`CREATE OR REPLACE TEMP TABLE bench_a AS ${compiledSql}`);
  await e.exec(`CREATE OR REPLACE TEMP TABLE bench_b AS ${handSql}`);
  const schema = async (t: string): Promise<string[]> =>
    (await e.query(`DESCRIBE ${t}`)).rows.map(
      (r) => `${String(r['column_name'])} ${String(r['column_type'])}`,
    );
  const sa = await schema('bench_a');
  const sb = await schema('bench_b');
  const na = await scalar(session, 'SELECT count(*) FROM bench_a');
  const nb = await scalar(session, 'SELECT count(*) FROM bench_b');
  const onlyA = await scalar(
    session,
    'SELECT count(*) FROM (SELECT * FROM bench_a EXCEPT ALL SELECT * FROM bench_b)',
  );
  const onlyB = await scalar(
    session,
    'SELECT count(*) FROM (SELECT * FROM bench_b EXCEPT ALL SELECT * FROM bench_a)',
  );
  if (sa.join(',') !== sb.join(',') || na !== nb || onlyA !== 0 || onlyB !== 0) {
    const sample = async (a: string, b: string): Promise<string> =>
      JSON.stringify(
        (await e.query(`SELECT * FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b}) LIMIT 3`))
          .rows,
      );
    throw new Error(
      [
        `view ${view}: the hand-written query does not return the same rows as medlake's compiled SQL`,
        `  schema (a): ${sa.join(', ')}`,
        `  schema (b): ${sb.join(', ')}`,
        `  rows (a) ${na}, (b) ${nb}; only in (a): ${onlyA}, only in (b): ${onlyB}`,
        `  sample only in (a): ${await sample('bench_a', 'bench_b')}`,
        `  sample only in (b): ${await sample('bench_b', 'bench_a')}`,
        `  compiled SQL:\n${compiledSql}`,
        `  hand SQL:\n${handSql}`,
      ].join('\n'),
    );
  }
  const columns = sa.map((s) => s.slice(0, s.lastIndexOf(' ')));
  const counts = await e.query(
    `SELECT ${columns.map((c, i) => `count("${c.replace(/"/g, '""')}") AS c${i}`).join(', ')} FROM bench_a`,
  );
  const allNull = na === 0 ? [] : columns.filter((_, i) => Number(counts.rows[0]?.[`c${i}`]) === 0);
  await e.exec('DROP TABLE bench_a');
  await e.exec('DROP TABLE bench_b');
  return { rows: na, columns, allNullColumns: allNull };
}

function readView(v: BenchView): unknown {
  return JSON.parse(readFileSync(join(ROOT, v.file), 'utf8'));
}

async function benchViews(session: LakeSession, size: number, runs: number): Promise<ViewResult[]> {
  const out: ViewResult[] = [];
  for (const v of BENCH_VIEWS) {
    const compiled = compileView(readView(v), {
      dialect: session.engine.dialect,
      columnsOf: session.columnsOf,
    });
    const cols = session.columnsOf(v.resource);
    const handSql = v.hand((c) => cols.has(c), session.engine.dialect.sqlResourceTable(v.resource));
    const check = await verifySameRows(session, v.name, compiled.sql, handSql);
    if (check.allNullColumns.length > 0) {
      log(`  warning: ${v.name}: columns NULL in every row: ${check.allNullColumns.join(', ')}`);
    }
    const a: QueryTime[] = [];
    const b: QueryTime[] = [];
    const ah: QueryTime[] = [];
    const bh: QueryTime[] = [];
    await timeQueryCpu(session, compiled.sql, 'hash'); // warm-up of the diagnostic form
    await timeQueryCpu(session, handSql, 'hash');
    // Alternate the order so that drift on a shared machine hits (a) and (b) alike.
    for (let i = 0; i < runs; i++) {
      if (i % 2 === 0) {
        a.push(await timeQueryCpu(session, compiled.sql));
        b.push(await timeQueryCpu(session, handSql));
        ah.push(await timeQueryCpu(session, compiled.sql, 'hash'));
        bh.push(await timeQueryCpu(session, handSql, 'hash'));
      } else {
        b.push(await timeQueryCpu(session, handSql));
        a.push(await timeQueryCpu(session, compiled.sql));
        bh.push(await timeQueryCpu(session, handSql, 'hash'));
        ah.push(await timeQueryCpu(session, compiled.sql, 'hash'));
      }
    }
    const ta = timing(a, check.rows);
    const tb = timing(b, check.rows);
    const tah = timing(ah, check.rows);
    const tbh = timing(bh, check.rows);
    const ratio = ta.medianMs / tb.medianMs;
    const cpuRatio = ta.medianCpuMs / tb.medianCpuMs;
    log(
      `views ${sizeLabel(size)}: ${v.name.padEnd(24)} ${String(check.rows).padStart(9)} rows  (a) ${ta.medianMs.toFixed(1).padStart(8)} ms  (b) ${tb.medianMs.toFixed(1).padStart(8)} ms  (a)/(b) ${ratio.toFixed(2)} (CPU ${cpuRatio.toFixed(2)}; compute-only ${(tah.medianMs / tbh.medianMs).toFixed(2)})`,
    );
    out.push({
      size,
      view: v.name,
      label: v.label,
      resource: v.resource,
      rows: check.rows,
      compiled: ta,
      hand: tb,
      ratio,
      cpuRatio,
      computeOnly: { compiled: tah, hand: tbh, ratio: tah.medianMs / tbh.medianMs },
      verified: { rowsEqual: true, schemaEqual: true },
      allNullColumns: check.allNullColumns,
      compiledSql: compiled.sql,
      handSql,
      compiledScanColumns: await scanColumns(session, compiled.sql),
      handScanColumns: await scanColumns(session, handSql),
    });
  }
  return out;
}

// --- Where the time goes: per-column cost of the compiled SQL ---------------------------

interface ColumnJson {
  name: string;
  path: string;
  [k: string]: unknown;
}
interface SelectJson {
  column?: ColumnJson[];
  select?: SelectJson[];
  unionAll?: SelectJson[];
  forEach?: string;
  forEachOrNull?: string;
  [k: string]: unknown;
}

/** Column names a view cannot lose without changing its rows or shape. */
function keyColumns(view: SelectJson): Set<string> {
  const keep = new Set<string>();
  const first = view.select?.[0]?.column?.[0]?.name;
  if (first !== undefined) keep.add(first);
  const walk = (n: SelectJson): void => {
    const c = n.column?.[0]?.name;
    if ((n.forEach !== undefined || n.forEachOrNull !== undefined) && c !== undefined) keep.add(c);
    const u = n.unionAll?.[0]?.column?.[0]?.name;
    if (u !== undefined) keep.add(u);
    for (const s of [...(n.select ?? []), ...(n.unionAll ?? [])]) walk(s);
  };
  walk(view);
  return keep;
}

function allColumnNames(n: SelectJson, out: string[] = []): string[] {
  for (const c of n.column ?? []) if (!out.includes(c.name)) out.push(c.name);
  for (const s of [...(n.select ?? []), ...(n.unionAll ?? [])]) allColumnNames(s, out);
  return out;
}

function reduceView(view: SelectJson, keep: ReadonlySet<string>): SelectJson {
  const copy = structuredClone(view);
  const walk = (n: SelectJson): void => {
    if (n.column !== undefined) {
      n.column = n.column.filter((c) => keep.has(c.name));
      if (n.column.length === 0) delete n.column;
    }
    for (const s of [...(n.select ?? []), ...(n.unionAll ?? [])]) walk(s);
  };
  walk(copy);
  return copy;
}

async function columnCosts(
  session: LakeSession,
  v: BenchView,
  runs: number,
): Promise<ColumnCost[]> {
  const view = readView(v) as SelectJson;
  const keys = keyColumns(view);
  const compile = (keep: ReadonlySet<string>): string =>
    compileView(reduceView(view, keep), {
      dialect: session.engine.dialect,
      columnsOf: session.columnsOf,
    }).sql;
  // CPU time (all threads): the cost of the expressions, whatever the parallelism.
  const timeMedian = async (sql: string): Promise<number> => {
    await timeQuery(session, sql); // warm-up
    const t: number[] = [];
    for (let i = 0; i < Math.max(runs, 7); i++) t.push((await timeQueryCpu(session, sql)).cpuMs);
    return median(t);
  };
  const base = await timeMedian(compile(keys));
  const out: ColumnCost[] = [{ column: `(key columns: ${[...keys].join(', ')})`, extraMs: base }];
  for (const c of allColumnNames(view)) {
    if (keys.has(c)) continue;
    let sql: string;
    try {
      sql = compile(new Set([...keys, c]));
    } catch (err) {
      log(`  cannot isolate column ${c}: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    out.push({ column: c, extraMs: (await timeMedian(sql)) - base });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// (c) fhirpath.js per resource
// ---------------------------------------------------------------------------------------

function ndjsonFile(data: DataSet, resource: string): string {
  const manifest = JSON.parse(readFileSync(join(data.dir, 'manifest.json'), 'utf8')) as {
    output: { type: string; url: string }[];
  };
  const entry = manifest.output.find((o) => o.type === resource);
  if (entry === undefined) throw new Error(`no ${resource} file in ${data.dir}`);
  return join(data.dir, entry.url);
}

function normaliseRow(row: Record<string, unknown>, columns: readonly string[]): string {
  return JSON.stringify(columns.map((c) => (row[c] === undefined ? null : row[c])));
}

async function compareWithCompiled(
  session: LakeSession,
  sql: string,
  columns: readonly string[],
  jsRows: readonly JsRow[],
): Promise<{ match: boolean; sample?: string }> {
  const a = (await session.engine.query(sql)).rows.map((r) => normaliseRow(r, columns)).sort();
  const c = jsRows.map((r) => normaliseRow(r, columns)).sort();
  if (a.length !== c.length) {
    return { match: false, sample: `row counts differ: (a) ${a.length}, (c) ${c.length}` };
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== c[i]) return { match: false, sample: `(a) ${a[i]} vs (c) ${c[i]}` };
  }
  return { match: true };
}

async function benchJs(
  session: LakeSession,
  data: DataSet,
  views: readonly ViewResult[],
  opts: Options,
): Promise<JsResult[]> {
  const out: JsResult[] = [];
  for (const v of BENCH_VIEWS) {
    const file = ndjsonFile(data, v.resource);
    const viewJson = readView(v);
    const evaluator = compileViewForJs(viewJson);
    const compiled = compileView(viewJson, {
      dialect: session.engine.dialect,
      columnsOf: session.columnsOf,
    });
    const columns = compiled.columns.map((c) => c.name);
    // Warm-up run, which also keeps the rows to compare with (a) when the whole file is read.
    const first = await runViewInJs(evaluator, file, opts.jsCap, true);
    const complete = first.resources === (data.counts[v.resource] ?? -1);
    const check = complete
      ? await compareWithCompiled(session, compiled.sql, columns, first.kept ?? [])
      : undefined;
    const runsMs: number[] = [];
    for (let i = 0; i < opts.jsRuns; i++) {
      runsMs.push((await runViewInJs(evaluator, file, opts.jsCap)).ms);
    }
    const parseOnly = await runViewInJs({ resource: v.resource, rows: () => [] }, file, opts.jsCap);
    const med = median(runsMs);
    const rowsPerSec = first.rows / (med / 1000);
    const a = views.find((x) => x.view === v.name && x.size === data.requested);
    const compiledRowsPerSec = a?.compiled.rowsPerSec ?? NaN;
    const handRowsPerSec = a?.hand.rowsPerSec ?? NaN;
    const speedup = compiledRowsPerSec / rowsPerSec;
    log(
      `js ${sizeLabel(data.requested)}: ${v.name.padEnd(24)} ${String(first.rows).padStart(9)} rows  (c) ${med.toFixed(0).padStart(7)} ms  ${Math.round(rowsPerSec)} rows/s  (a)/(c) speed-up ${speedup.toFixed(1)}x${check === undefined ? '' : check.match ? '  rows equal (a)' : `  ROWS DIFFER: ${check.sample ?? ''}`}`,
    );
    out.push({
      size: data.requested,
      view: v.name,
      resources: first.resources,
      rows: first.rows,
      runsMs,
      medianMs: med,
      rowsPerSec,
      parseOnlyMs: parseOnly.ms,
      compiledRowsPerSec,
      handRowsPerSec,
      speedup,
      rowsMatch: check === undefined ? null : check.match,
      ...(check?.sample === undefined ? {} : { mismatchSample: check.sample }),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// 4. Column projection
// ---------------------------------------------------------------------------------------

/** A view that needs three elements of Observation (plus the id). */
const THREE_FIELD_VIEW = {
  resourceType: 'ViewDefinition',
  name: 'observation_three_fields',
  status: 'active',
  resource: 'Observation',
  select: [
    {
      column: [
        { name: 'id', path: 'getResourceKey()' },
        { name: 'patient_id', path: 'subject.getReferenceKey(Patient)' },
        { name: 'effective', path: 'effective.ofType(dateTime)' },
        { name: 'value', path: 'value.ofType(Quantity).value' },
      ],
    },
  ],
};

async function projection(
  session: LakeSession,
  size: number,
  name: string,
  viewJson: unknown,
  runs: number,
): Promise<ProjectionResult> {
  const compiled = compileView(viewJson, {
    dialect: session.engine.dialect,
    columnsOf: session.columnsOf,
  });
  const resource = compiled.resource;
  const files = (session.lake.manifest.types[resource]?.files ?? []).map((f) =>
    session.lake.resolve(f.path),
  );
  const meta = await session.engine.query(
    `SELECT path_in_schema AS col, sum(total_compressed_size) AS bytes FROM parquet_metadata([${files.map(quoteSql).join(', ')}]) GROUP BY 1`,
  );
  const bytesOf = new Map(meta.rows.map((r) => [String(r['col']), Number(r['bytes'])]));
  const scan = await scanColumns(session, compiled.sql);
  const scanBytes = scan.reduce((a, c) => a + (bytesOf.get(c) ?? 0), 0);
  const allColumnBytes = [...bytesOf.values()].reduce((a, b) => a + b, 0);
  const fileBytes = files.reduce((a, f) => a + statSync(f).size, 0);
  const d = session.engine.dialect;
  const starSql = `SELECT * FROM ${d.sqlResourceTable(resource)}`;
  const rawSql = `SELECT ${scan.map((c) => d.quoteIdent(c)).join(', ')} FROM ${d.sqlResourceTable(resource)}`;
  await timeQuery(session, compiled.sql);
  await timeQuery(session, starSql);
  await timeQuery(session, rawSql);
  const tv: number[] = [];
  const ts: number[] = [];
  const tr: number[] = [];
  for (let i = 0; i < runs; i++) {
    tv.push(await timeQuery(session, compiled.sql));
    ts.push(await timeQuery(session, starSql));
    tr.push(await timeQuery(session, rawSql));
  }
  const rows = await scalar(session, `SELECT count(*) FROM ${d.sqlResourceTable(resource)}`);
  const r: ProjectionResult = {
    size,
    view: name,
    resource,
    scanColumns: scan,
    scanBytes,
    allColumnBytes,
    fileBytes,
    columnCount: bytesOf.size,
    viewMs: median(tv),
    selectStarMs: median(ts),
    scanColumnsRawMs: median(tr),
    rows,
  };
  log(
    `projection ${sizeLabel(size)}: ${name} scans ${scan.join(', ')}: ${(scanBytes / 1048576).toFixed(1)} of ${(allColumnBytes / 1048576).toFixed(1)} MiB of column data (${((100 * scanBytes) / allColumnBytes).toFixed(1)} %); ${r.viewMs.toFixed(1)} ms; the same columns unparsed ${r.scanColumnsRawMs.toFixed(1)} ms vs SELECT * ${r.selectStarMs.toFixed(1)} ms`,
  );
  return r;
}

// ---------------------------------------------------------------------------------------
// Machine, targets, method
// ---------------------------------------------------------------------------------------

async function machineInfo(session: LakeSession): Promise<MachineInfo> {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  let osName = `${os.type()} ${os.release()}`;
  if (existsSync('/etc/os-release')) {
    const m = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m !== null) osName = m[1]!;
  }
  const v = await session.engine.query(`SELECT version() AS v, current_setting('threads') AS t`);
  return {
    cpus: os.availableParallelism(),
    cpuModel: model.trim(),
    memoryGiB: os.totalmem() / 1024 ** 3,
    os: osName,
    kernel: os.release(),
    node: process.version,
    duckdb: String(v.rows[0]?.['v']),
    duckdbThreads: Number(v.rows[0]?.['t']),
    loadAverage: os.loadavg(),
    loadAverageEnd: [],
  };
}

function targets(
  ingest: readonly IngestResult[],
  views: readonly ViewResult[],
  js: readonly JsResult[],
): Target[] {
  const out: Target[] = [];
  const slowIngest = ingest.filter((i) => i.mbPerSec < TARGET_INGEST_MBS);
  out.push({
    name: 'ingest throughput',
    criterion: `≥ ${TARGET_INGEST_MBS} MB/s of NDJSON (wall time of the CLI process) at every size`,
    met: slowIngest.length === 0,
    detail: ingest.map((i) => `${sizeLabel(i.size)}: ${i.mbPerSec.toFixed(1)} MB/s`).join('; '),
  });
  if (ingest.length >= 2) {
    const lo = ingest[0]!;
    const hi = ingest[ingest.length - 1]!;
    const growth = hi.peakRssMiB / lo.peakRssMiB;
    out.push({
      name: 'ingest memory flat',
      criterion: `peak RSS at the largest size ≤ ${TARGET_RSS_GROWTH}× the smallest (data grows ${(hi.size / lo.size).toFixed(0)}×)`,
      met: growth <= TARGET_RSS_GROWTH,
      detail: `${ingest.map((i) => `${sizeLabel(i.size)}: ${i.peakRssMiB.toFixed(0)} MiB`).join('; ')} (${growth.toFixed(2)}×)`,
    });
  } else {
    out.push({
      name: 'ingest memory flat',
      criterion: `peak RSS at the largest size ≤ ${TARGET_RSS_GROWTH}× the smallest`,
      met: null,
      detail: `one size only: ${ingest.map((i) => `${i.peakRssMiB.toFixed(0)} MiB`).join('')}`,
    });
  }
  const over = views.filter((v) => v.ratio > TARGET_RATIO_HAND);
  out.push({
    name: '(a) vs hand-written floor (b)',
    criterion: `time(a)/time(b) ≤ ${TARGET_RATIO_HAND} for every view and size`,
    met: views.length > 0 && over.length === 0,
    detail:
      over.length === 0
        ? `worst ${Math.max(...views.map((v) => v.ratio)).toFixed(2)}`
        : `above: ${over.map((v) => `${v.view}@${sizeLabel(v.size)} ${v.ratio.toFixed(2)}`).join(', ')}`,
  });
  if (js.length > 0) {
    const slow = js.filter((j) => j.speedup < TARGET_SPEEDUP_JS);
    out.push({
      name: '(a) vs fhirpath.js (c)',
      criterion: `(a) rows/s ≥ ${TARGET_SPEEDUP_JS}× (c) rows/s for every view`,
      met: slow.length === 0,
      detail: js.map((j) => `${j.view}@${sizeLabel(j.size)} ${j.speedup.toFixed(1)}×`).join(', '),
    });
  }
  return out;
}

function methodText(opts: Options, cli: string, rssMethod: string): string {
  return [
    `- **Data**: \`bench/generate-data.ts\` (seed ${opts.seed}), Bulk Data NDJSON of Patient, Encounter, Condition, Observation, MedicationRequest and Claim, about 1.2 kB per resource; generated once per size and seed under \`bench/out/data/\` and reused.`,
    `- **Ingest**: the real CLI, \`${cli} ingest DIR --lake LAKE --json\`, in a child process, into a fresh lake per run (${opts.ingestRuns ?? 'up to 3'} run(s) per size; median wall time). MB/s = NDJSON bytes (10^6) / wall time of the process, start-up included. Peak RSS of the child via ${rssMethod}.`,
    `- **Views (a) and (b)**: one embedded DuckDB session over the lake (\`LakeSession.open\`, default settings). (a) is \`compileView(view).sql\`; (b) is the hand-written query in \`bench/hand-written.ts\` over the same lake views, using json_extract / json_extract_string / unnest. Before timing, both run once (the warm-up) into temp tables and must have the same schema and the same multiset of rows (\`EXCEPT ALL\` both ways), or the benchmark stops. Each timed execution is \`CREATE TEMP TABLE t AS <query>\` (every column computed and stored inside DuckDB, nothing pruned, no conversion to JavaScript), the table dropped after the clock stops; ${opts.runs} runs each, (a) and (b) alternating, median wall time reported (the target uses it). rows/s = output rows / median time. The CPU time of the process (all DuckDB threads) is recorded too, as a check that is less sensitive to other load. As a diagnostic only, each query is also timed consumed by \`SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM (<query>)\`, which computes every value but builds no table ("compute-only").`,
    `- **(c) fhirpath.js**: \`bench/fhirpath-eval.ts\` evaluates the same ViewDefinition per resource like the reference implementation: NDJSON read line by line (readline), \`JSON.parse\`, FHIRPath compiled once per path with \`fhirpath.compile(path, r4model)\`, forEach / column / unionAll applied per resource, one JS object per row. Run at every size on at most the first ${opts.jsCap.toLocaleString('en-US')} resources of each type (its cost per row does not depend on the size); one warm-up run, whose rows are compared with (a)'s when the whole file was read, then ${opts.jsRuns} timed runs (median); the speed-up compares rows/s with (a) on the same size. Single-threaded by nature, while DuckDB uses all ${os.availableParallelism()} cores. The "read+parse" column is the same loop without evaluating the view.`,
    `- **Column projection**: for a view, the Parquet columns its scan projects (DuckDB \`EXPLAIN (FORMAT JSON)\`, READ_PARQUET "Projections") and the sum of their \`total_compressed_size\` from \`parquet_metadata()\`, against all columns and the files' size on disk; then, each materialised with \`CREATE TEMP TABLE\`: the view; its scanned columns copied unparsed (\`SELECT <those columns>\`: reading and decoding only); and \`SELECT * FROM <type>\` (whole resources).`,
    `- **Where the time goes**: for views above the 1.5× target (or all with \`--analyze\`), at the largest size ≤ 1M, the view is compiled again keeping only its key columns (the id and the first column of each forEach / unionAll), then the key columns plus one column at a time; the extra CPU ms (median of at least 7 runs, all threads) is the cost of that column's compiled expression. Small differences are noise.`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === undefined) return;
  mkdirSync(OUT, { recursive: true });
  const startedAt = new Date().toISOString();
  log(
    `sizes ${opts.sizes.map(sizeLabel).join(', ')}; ${opts.runs} runs per view query${opts.quick ? ' (quick)' : ''}`,
  );
  const cli = cliCommand();
  log(`ingest command: ${cli.label}`);

  const data: DataSet[] = [];
  const ingestResults: IngestResult[] = [];
  const viewResults: ViewResult[] = [];
  const jsResults: JsResult[] = [];
  const projectionResults: ProjectionResult[] = [];
  let machine: MachineInfo | undefined;
  const analysisSize = Math.max(...opts.sizes.filter((s) => s <= 1_000_000), opts.sizes[0]!);

  for (const size of opts.sizes) {
    const d = await ensureData(size, opts.seed);
    data.push(d);
    const runs = opts.ingestRuns ?? (size > 1_000_000 ? 1 : 3);
    ingestResults.push(await ingest(d, runs, cli));

    const session = await LakeSession.open(lakeDir(d));
    try {
      machine ??= await machineInfo(session);
      log(`views ${sizeLabel(size)}: (a) compiled vs (b) hand-written, ${opts.runs} runs each`);
      const vr = await benchViews(session, size, opts.runs);
      viewResults.push(...vr);

      projectionResults.push(
        await projection(session, size, 'patient', readView(BENCH_VIEWS[0]!), opts.runs),
        await projection(session, size, 'observation_three_fields', THREE_FIELD_VIEW, opts.runs),
      );

      if (size === analysisSize) {
        for (const r of vr) {
          if (!opts.analyzeAll && r.ratio <= TARGET_RATIO_HAND) continue;
          const v = BENCH_VIEWS.find((x) => x.name === r.view)!;
          log(
            `analysis ${sizeLabel(size)}: per-column cost of ${v.name} (ratio ${r.ratio.toFixed(2)})`,
          );
          const costs = await columnCosts(session, v, opts.runs);
          for (const c of costs)
            log(`  ${c.column.padEnd(40)} ${c.extraMs.toFixed(1).padStart(8)} ms`);
          const i = viewResults.indexOf(r);
          viewResults[i] = { ...r, columnCosts: costs };
        }
      }

      if (!opts.skipJs) {
        log(`js ${sizeLabel(size)}: (c) fhirpath.js per resource, ${opts.jsRuns} runs each`);
        jsResults.push(...(await benchJs(session, d, viewResults, opts)));
      }
    } finally {
      await session.close();
    }
  }

  const results: BenchResults = {
    date: startedAt.slice(0, 10),
    startedAt,
    finishedAt: new Date().toISOString(),
    argv: process.argv.slice(2),
    quick: opts.quick,
    runs: opts.runs,
    jsRuns: opts.skipJs ? 0 : opts.jsRuns,
    jsCap: opts.jsCap,
    machine: { ...machine!, loadAverageEnd: os.loadavg() },
    data,
    ingest: ingestResults,
    views: viewResults,
    js: jsResults,
    projection: projectionResults,
    targets: targets(ingestResults, viewResults, jsResults),
  };
  // The default run owns results-<date>.json (docs/benchmarks.md points at it); other
  // selections get their own name so that they do not overwrite it.
  const defaultSizes = opts.sizes.join(',') === '100000,1000000';
  const suffix = opts.quick
    ? '-quick'
    : defaultSizes
      ? ''
      : `-${opts.sizes.map(sizeLabel).join('-')}`;
  const file = join(OUT, `results-${results.date}${suffix}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  log(`results: ${relative(ROOT, file)}`);
  process.stdout.write(renderTables(results));
  if (opts.writeDoc) {
    await updateDoc(DOC, results, {
      resultsFile: relative(OUT, file),
      commands: [
        'npm run bench                      # ~100k and ~1M resources (this run: ' +
          (results.argv.length === 0 ? 'no options' : results.argv.join(' ')) +
          ')',
        'npm run bench -- --large           # adds ~5M resources',
        'npm run bench -- --quick           # 100k only, 3 runs, no doc update',
        'npm run bench -- --sizes 100000    # chosen sizes',
      ],
      method: methodText(opts, cli.label.split(' (')[0]!, ingestResults[0]?.rssMethod ?? ''),
    });
    log(`updated ${relative(ROOT, DOC)}`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exitCode = 1;
});
