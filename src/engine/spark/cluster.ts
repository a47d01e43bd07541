/**
 * A standalone Spark cluster on 127.0.0.1 for development and CI: one master, N workers
 * and a Spark Connect server as the cluster's only application (medlake's Spark engine
 * talks to it over sc://). The processes are detached JVMs that outlive the command that
 * started them; their pids, logs and scratch space all live in one folder, so that
 * `stopCluster` can find exactly them again and nothing is left in the user's cwd or /tmp.
 *
 * Linux only: telling our JVMs apart from others (and from a reused pid) reads /proc.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findSparkHome, javaCommand, projectRoot, sparkVersion } from './spark-home.js';

/** Every process binds here only: the cluster is for this machine, not the network. */
export const CLUSTER_HOST = '127.0.0.1';

export const CLUSTER_DEFAULTS = {
  dirName: '.medlake-cluster',
  workers: 2,
  coresPerWorker: 1,
  // Sized for a 2-core / 24 GB machine: 3 daemons (1 GB heap each, Spark's default), a
  // 4 GB driver (Spark Connect collects a partition's Arrow data there) and one 2 GB
  // executor per worker stay under 12 GB of heap in all.
  workerMemory: '3g',
  executorMemory: '2g',
  driverMemory: '4g',
  masterPort: 7077,
  masterWebPort: 8080,
  workerWebPortBase: 8081,
  connectPort: 15002,
  timeoutMs: 120_000,
} as const;

export const ClusterErrorCode = {
  AlreadyRunning: 'CLUSTER_ALREADY_RUNNING',
  StartInProgress: 'CLUSTER_START_IN_PROGRESS',
  PortInUse: 'CLUSTER_PORT_IN_USE',
  BadOption: 'CLUSTER_BAD_OPTION',
  JavaNotFound: 'CLUSTER_JAVA_NOT_FOUND',
  ProcessExited: 'CLUSTER_PROCESS_EXITED',
  StartTimeout: 'CLUSTER_START_TIMEOUT',
  StartAborted: 'CLUSTER_START_ABORTED',
  UnsupportedPlatform: 'CLUSTER_UNSUPPORTED_PLATFORM',
} as const;
export type ClusterErrorCode = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];

export class ClusterError extends Error {
  readonly code: ClusterErrorCode;
  constructor(code: ClusterErrorCode, message: string) {
    super(message);
    this.name = 'ClusterError';
    this.code = code;
  }
}

export const ProcessRole = { Master: 'master', Worker: 'worker', Connect: 'connect' } as const;
export type ProcessRole = (typeof ProcessRole)[keyof typeof ProcessRole];

const MAIN_CLASS: Record<ProcessRole, string> = {
  master: 'org.apache.spark.deploy.master.Master',
  worker: 'org.apache.spark.deploy.worker.Worker',
  // An argv element of both the spark-class launcher and the JVM it execs.
  connect: 'org.apache.spark.sql.connect.service.SparkConnectServer',
};
const EXECUTOR_CLASS = 'org.apache.spark.executor.CoarseGrainedExecutorBackend';
const CONNECT_APP_NAME = 'medlake-connect';
const LOG_TAIL_LINES = 30;

export interface ClusterOptions {
  /** Cluster folder; default $MEDLAKE_CLUSTER_DIR, else .medlake-cluster under the cwd. */
  dir?: string;
  workers?: number;
  coresPerWorker?: number;
  /** Memory each worker offers to executors (Spark size: 512m, 3g). */
  workerMemory?: string;
  executorMemory?: string;
  driverMemory?: string;
  masterPort?: number;
  masterWebPort?: number;
  /** Web UI of worker i (1-based) is at workerWebPortBase + i - 1. */
  workerWebPortBase?: number;
  connectPort?: number;
  /** More --conf for the Connect server (the application); they override medlake's. */
  extraConf?: Readonly<Record<string, string>>;
  timeoutMs?: number;
  onProgress?: (message: string) => void;
  /** Aborting stops whatever was started and rejects with CLUSTER_START_ABORTED. */
  signal?: AbortSignal;
}

/** One process medlake started; `pid` + `startTicks` name it even after pid reuse. */
export interface ClusterProcess {
  name: string;
  role: ProcessRole;
  pid: number;
  /** Checked in /proc/<pid>/cmdline before any signal is sent. */
  mainClass: string;
  /** Start time from /proc/<pid>/stat (clock ticks since boot; survives spark-class's exec). */
  startTicks: number;
  /** The executable once ready (spark-class execs java, so this should be java). */
  executable?: string;
  log: string;
  port?: number;
  webPort?: number;
}

/** The content of <dir>/cluster.json. */
export interface ClusterInfo {
  dir: string;
  host: string;
  masterUrl: string;
  connectUrl: string;
  webUrl: string;
  sparkHome: string;
  sparkVersion: string;
  startedAt: string;
  readyAt?: string;
  startupMs?: number;
  workers: number;
  coresPerWorker: number;
  workerMemory: string;
  executorMemory: string;
  driverMemory: string;
  ports: { master: number; masterWeb: number; workerWeb: number[]; connect: number };
  processes: ClusterProcess[];
}

export const ClusterState = {
  /** Every process up, all workers ALIVE, the Connect port answering. */
  Running: 'running',
  /** Some processes up, but not all of the above. */
  Degraded: 'degraded',
  Stopped: 'stopped',
} as const;
export type ClusterState = (typeof ClusterState)[keyof typeof ClusterState];

export interface ClusterStatus {
  dir: string;
  state: ClusterState;
  /** null when the folder never held a cluster. */
  info: ClusterInfo | null;
  processes: { name: string; role: ProcessRole; pid: number; running: boolean }[];
  /** From the master's JSON; null when the master does not answer. */
  workersAlive: number | null;
  workersExpected: number;
  connectReachable: boolean;
  application: { id: string; name: string; state: string; cores: number } | null;
}

export interface StopResult {
  dir: string;
  /** False when nothing of the cluster was running (stopping again is fine). */
  wasRunning: boolean;
  stopped: { name: string; pid: number; signal: 'SIGTERM' | 'SIGKILL' }[];
  /** JVMs still marked with this folder after the recorded ones stopped (orphan executors). */
  strays: { pid: number; signal: 'SIGTERM' | 'SIGKILL' }[];
  durationMs: number;
}

/** The cluster folder for a --dir value (or none), as an absolute path. */
export function resolveClusterDir(dir?: string): string {
  const env = process.env['MEDLAKE_CLUSTER_DIR'];
  return path.resolve(dir ?? (env !== undefined && env !== '' ? env : CLUSTER_DEFAULTS.dirName));
}

interface Resolved {
  dir: string;
  workers: number;
  coresPerWorker: number;
  workerMemory: string;
  executorMemory: string;
  driverMemory: string;
  masterPort: number;
  masterWebPort: number;
  workerWebPortBase: number;
  connectPort: number;
  extraConf: Readonly<Record<string, string>>;
  timeoutMs: number;
}

function badOption(message: string): ClusterError {
  return new ClusterError(ClusterErrorCode.BadOption, message);
}

/** Spark size string to MiB; undefined if it is not one. */
function memoryMiB(size: string): number | undefined {
  const m = /^(\d+)([kmgt])b?$/i.exec(size.trim());
  if (m === null) return undefined;
  const scale = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 }[m[2]!.toLowerCase() as 'k'];
  return Number(m[1]) * scale;
}

function resolveOptions(o: ClusterOptions): Resolved {
  const d = CLUSTER_DEFAULTS;
  const r: Resolved = {
    dir: resolveClusterDir(o.dir),
    workers: o.workers ?? d.workers,
    coresPerWorker: o.coresPerWorker ?? d.coresPerWorker,
    workerMemory: o.workerMemory ?? d.workerMemory,
    executorMemory: o.executorMemory ?? d.executorMemory,
    driverMemory: o.driverMemory ?? d.driverMemory,
    masterPort: o.masterPort ?? d.masterPort,
    masterWebPort: o.masterWebPort ?? d.masterWebPort,
    workerWebPortBase: o.workerWebPortBase ?? d.workerWebPortBase,
    connectPort: o.connectPort ?? d.connectPort,
    extraConf: o.extraConf ?? {},
    timeoutMs: o.timeoutMs ?? d.timeoutMs,
  };
  const positive: [string, number][] = [
    ['workers', r.workers],
    ['coresPerWorker', r.coresPerWorker],
    ['timeoutMs', r.timeoutMs],
  ];
  for (const [name, v] of positive) {
    if (!Number.isInteger(v) || v < 1)
      throw badOption(`${name} must be a positive integer, got ${v}`);
  }
  for (const [name, v] of [
    ['workerMemory', r.workerMemory],
    ['executorMemory', r.executorMemory],
    ['driverMemory', r.driverMemory],
  ] as const) {
    if (memoryMiB(v) === undefined)
      throw badOption(`${name} must be a Spark memory size such as 512m or 2g, got "${v}"`);
  }
  const executorMemory = r.extraConf['spark.executor.memory'] ?? r.executorMemory;
  const exe = memoryMiB(executorMemory);
  if (exe !== undefined && exe > memoryMiB(r.workerMemory)!) {
    // The master would never grant an executor and start-up would only time out.
    throw badOption(
      `executor memory ${executorMemory} is more than a worker offers (${r.workerMemory}): raise workerMemory or lower executorMemory`,
    );
  }
  const ports = clusterPorts(r);
  const seen = new Map<number, string>();
  for (const [role, port] of ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw badOption(`${role} port must be 1..65535, got ${port}`);
    const other = seen.get(port);
    if (other !== undefined) throw badOption(`${role} and ${other} both use port ${port}`);
    seen.set(port, role);
  }
  // These travel inside Java option strings and SPARK_LOCAL_DIRS (comma-separated).
  if (/["'\\,\n]/.test(r.dir))
    throw badOption(`cluster folder ${r.dir} must not contain quotes, backslashes or commas`);
  return r;
}

function clusterPorts(r: Resolved): [string, number][] {
  const ports: [string, number][] = [
    ['master', r.masterPort],
    ['master web UI', r.masterWebPort],
  ];
  for (let i = 1; i <= r.workers; i++)
    ports.push([`worker-${i} web UI`, r.workerWebPortBase + i - 1]);
  ports.push(['Spark Connect', r.connectPort]);
  return ports;
}

// ---------------------------------------------------------------------------------------
// Processes, seen through /proc

interface ProcSnapshot {
  state: string;
  startTicks: number;
  argv: string[];
}

function readProc(pid: number): ProcSnapshot | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
    return { state: fields[0]!, startTicks: Number(fields[19]), argv };
  } catch {
    return null;
  }
}

function isGone(snap: ProcSnapshot | null): boolean {
  return snap === null || snap.state === 'Z' || snap.state === 'X';
}

function markerOf(dir: string): string {
  return `-Dmedlake.cluster.dir=${dir}`;
}

/** One option inside a Java options string (split on spaces): quoted when it has any. */
function quoteOption(option: string): string {
  return /\s/.test(option) ? `"${option}"` : option;
}

interface Expected {
  name: string;
  role: ProcessRole;
  pid: number;
  startTicks?: number;
}

/**
 * Is `pid` still the process we started? Its argv must name the main class, and its start
 * time must be the recorded one (when known) or, failing that, its argv must carry this
 * folder's marker. So a pid reused by an unrelated process is never signalled.
 */
function isOurs(e: Expected, dir: string): boolean {
  const snap = readProc(e.pid);
  if (snap === null || isGone(snap)) return false;
  if (!snap.argv.includes(MAIN_CLASS[e.role])) return false;
  if (e.startTicks !== undefined) return snap.startTicks === e.startTicks;
  return snap.argv.includes(markerOf(dir));
}

function allPids(): number[] {
  return readdirSync('/proc')
    .filter((f) => /^\d+$/.test(f))
    .map(Number);
}

/** JVMs of this cluster not in `known`: anything with the marker, or an executor in dir/work. */
function strayPids(dir: string, known: ReadonlySet<number>): number[] {
  const marker = markerOf(dir);
  const work = path.join(dir, 'work') + path.sep;
  const out: number[] = [];
  for (const pid of allPids()) {
    if (known.has(pid) || pid === process.pid) continue;
    const snap = readProc(pid);
    if (snap === null || isGone(snap)) continue;
    if (snap.argv.includes(marker)) {
      out.push(pid);
      continue;
    }
    if (snap.argv.includes(EXECUTOR_CLASS)) {
      try {
        if ((readlinkSync(`/proc/${pid}/cwd`) + path.sep).startsWith(work)) out.push(pid);
      } catch {
        // gone, or not ours to inspect
      }
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function sleep(ms: number, abort?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      abort?.removeEventListener('abort', done);
      resolve();
    }
    abort?.addEventListener('abort', done, { once: true });
  });
}

/** SIGTERM, wait up to graceMs for all to go, then SIGKILL the rest. */
async function terminate(
  pids: readonly number[],
  still: (pid: number) => boolean,
  graceMs: number,
): Promise<Map<number, 'SIGTERM' | 'SIGKILL'>> {
  const used = new Map<number, 'SIGTERM' | 'SIGKILL'>();
  for (const pid of pids) {
    signal(pid, 'SIGTERM');
    used.set(pid, 'SIGTERM');
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(still) && Date.now() < deadline) await sleep(200);
  const left = pids.filter(still);
  for (const pid of left) {
    signal(pid, 'SIGKILL');
    used.set(pid, 'SIGKILL');
  }
  const killDeadline = Date.now() + 5000;
  while (left.some(still) && Date.now() < killDeadline) await sleep(100);
  return used;
}

const STOP_ORDER: readonly ProcessRole[] = [
  ProcessRole.Connect,
  ProcessRole.Worker,
  ProcessRole.Master,
];

/**
 * Stops the given processes in STOP_ORDER (the application first, so its executors end
 * cleanly; the master last, so workers do not spin reconnecting), then any stray JVM of
 * this folder. Only processes that pass isOurs are signalled.
 */
async function stopProcesses(
  dir: string,
  expected: readonly Expected[],
  graceMs: number,
): Promise<Omit<StopResult, 'dir' | 'durationMs'>> {
  const stopped: StopResult['stopped'] = [];
  for (const role of STOP_ORDER) {
    const group = expected.filter((e) => e.role === role && isOurs(e, dir));
    if (group.length === 0) continue;
    const byPid = new Map(group.map((e) => [e.pid, e]));
    const used = await terminate(
      group.map((e) => e.pid),
      (pid) => isOurs(byPid.get(pid)!, dir),
      graceMs,
    );
    for (const e of group) stopped.push({ name: e.name, pid: e.pid, signal: used.get(e.pid)! });
  }
  // Workers kill their executors on SIGTERM; this catches those left by a SIGKILLed worker.
  const strays: StopResult['strays'] = [];
  const stray = strayPids(dir, new Set(expected.map((e) => e.pid)));
  if (stray.length > 0) {
    const started = new Map(stray.map((pid) => [pid, readProc(pid)?.startTicks]));
    const used = await terminate(
      stray,
      (pid) => {
        const snap = readProc(pid);
        return !isGone(snap) && snap!.startTicks === started.get(pid);
      },
      Math.min(graceMs, 10_000),
    );
    for (const pid of stray) strays.push({ pid, signal: used.get(pid)! });
  }
  return { wasRunning: stopped.length > 0 || strays.length > 0, stopped, strays };
}

// ---------------------------------------------------------------------------------------
// Files in the cluster folder

function infoFile(dir: string): string {
  return path.join(dir, 'cluster.json');
}

function pidDir(dir: string): string {
  return path.join(dir, 'pids');
}

function writeInfo(info: ClusterInfo): void {
  const file = infoFile(info.dir);
  writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

function readInfo(dir: string): ClusterInfo | null {
  try {
    const info = JSON.parse(readFileSync(infoFile(dir), 'utf8')) as ClusterInfo;
    return Array.isArray(info.processes) ? info : null;
  } catch {
    return null;
  }
}

function roleOfName(name: string): ProcessRole | undefined {
  if (name === 'master') return ProcessRole.Master;
  if (name === 'connect') return ProcessRole.Connect;
  if (/^worker-\d+$/.test(name)) return ProcessRole.Worker;
  return undefined;
}

/** What should be running: cluster.json's processes, plus pid files it does not know. */
function expectedProcesses(dir: string, info: ClusterInfo | null): Expected[] {
  const out: Expected[] = (info?.processes ?? []).map((p) => ({
    name: p.name,
    role: p.role,
    pid: p.pid,
    startTicks: p.startTicks,
  }));
  let files: string[] = [];
  try {
    files = readdirSync(pidDir(dir)).filter((f) => f.endsWith('.pid'));
  } catch {
    // no pid folder: nothing was started here
  }
  for (const f of files) {
    const name = f.slice(0, -'.pid'.length);
    const role = roleOfName(name);
    let pid = NaN;
    try {
      pid = Number(readFileSync(path.join(pidDir(dir), f), 'utf8').trim());
    } catch {
      // unreadable: not one of ours
    }
    if (role === undefined || !Number.isInteger(pid) || pid <= 0) continue;
    if (out.some((e) => e.name === name && e.pid === pid)) continue;
    out.push({ name, role, pid });
  }
  return out;
}

function removePidFiles(dir: string): void {
  rmSync(pidDir(dir), { recursive: true, force: true });
}

/** The last `lines` lines of a log, read from its end (logs can grow large). */
function logTail(file: string, lines = LOG_TAIL_LINES): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, lines > LOG_TAIL_LINES ? 1024 * 1024 : 64 * 1024);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '(no log)';
  }
}

/** The first ERROR of a log and the line after it (the exception): often the cause. */
function firstError(file: string): string | undefined {
  try {
    const lines = logTail(file, 5000).split('\n');
    const i = lines.findIndex((l) => / ERROR /.test(l));
    return i < 0 ? undefined : lines.slice(i, i + 2).join('\n');
  } catch {
    return undefined;
  }
}

function withLog(message: string, log: string): string {
  const tail = logTail(log);
  const first = firstError(log);
  const cause =
    first === undefined || tail.includes(first) ? '' : `\n--- first error in ${log} ---\n${first}`;
  return `${message}${cause}\n--- last ${LOG_TAIL_LINES} lines of ${log} ---\n${tail}`;
}

// ---------------------------------------------------------------------------------------
// Probes

interface MasterApp {
  id: string;
  name: string;
  state: string;
  cores: number;
}

interface MasterJson {
  status: string;
  aliveWorkers: number;
  aliveWorkerWebUrls: string[];
  apps: MasterApp[];
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
}

/** The standalone master's /json/ status page, reduced to what we check; null if down. */
async function masterJson(webPort: number): Promise<MasterJson | null> {
  try {
    const res = await fetch(`http://${CLUSTER_HOST}:${webPort}/json/`, {
      signal: AbortSignal.timeout(2000),
    });
    if (!res.ok) return null;
    const j = asRecord(await res.json());
    const workers = Array.isArray(j['workers']) ? j['workers'].map(asRecord) : [];
    const alive = workers.filter((w) => w['state'] === 'ALIVE');
    const apps = Array.isArray(j['activeapps']) ? j['activeapps'].map(asRecord) : [];
    return {
      status: String(j['status'] ?? ''),
      aliveWorkers: alive.length,
      aliveWorkerWebUrls: alive.map((w) => String(w['webuiaddress'] ?? '')),
      apps: apps.map((a) => ({
        id: String(a['id'] ?? ''),
        name: String(a['name'] ?? ''),
        state: String(a['state'] ?? ''),
        cores: Number(a['cores'] ?? 0),
      })),
    };
  } catch {
    return null;
  }
}

function connectApp(m: MasterJson | null): MasterApp | null {
  if (m === null) return null;
  return m.apps.find((a) => a.name === CONNECT_APP_NAME) ?? m.apps[0] ?? null;
}

function tcpReachable(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: CLUSTER_HOST, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: CLUSTER_HOST, port, exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}

// ---------------------------------------------------------------------------------------
// Start

function assertLinux(): void {
  if (process.platform !== 'linux')
    throw new ClusterError(
      ClusterErrorCode.UnsupportedPlatform,
      `medlake cluster needs Linux (it identifies its JVMs through /proc); on ${process.platform}, run it in a Linux container or VM`,
    );
}

/** Spark 4 needs Java 17 or later; say so before three JVMs fail one by one. */
function assertJava(): void {
  const java = javaCommand();
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const install =
    'install a JDK 17 or 21 (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME';
  if (r.error !== undefined || r.status !== 0)
    throw new ClusterError(ClusterErrorCode.JavaNotFound, `cannot run ${java}: ${install}`);
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr);
  const major = m === null ? undefined : m[1] === '1' ? Number(m[2]) : Number(m[1]);
  if (major !== undefined && major < 17)
    throw new ClusterError(
      ClusterErrorCode.JavaNotFound,
      `${java} is Java ${major}; Spark 4 needs Java 17 or later: ${install}`,
    );
}

/** What a cluster folder holds; start clears some of it, so it must not be anything else. */
const FOLDER_ENTRIES = new Set([
  '.gitignore',
  'cluster.json',
  'cluster.json.tmp',
  'start.lock',
  'conf',
  'logs',
  'pids',
  'tmp',
  'work',
  'warehouse',
]);

function assertClusterFolder(dir: string): void {
  const foreign = readdirSync(dir).filter((f) => !FOLDER_ENTRIES.has(f));
  if (foreign.length > 0)
    throw badOption(
      `${dir} is not a medlake cluster folder (it holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''}) and start clears its tmp/ and work/: choose a new or empty folder with --dir`,
    );
}

/** One `cluster start` per folder at a time: an exclusive lock file holding our pid. */
function lockStart(dir: string): () => void {
  const lock = path.join(dir, 'start.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lock, 'utf8').trim());
      if (holder > 0 && !isGone(readProc(holder)))
        throw new ClusterError(
          ClusterErrorCode.StartInProgress,
          `another "medlake cluster start" (pid ${holder}) is starting a cluster in ${dir}; wait for it, or remove ${lock} if that is wrong`,
        );
      rmSync(lock, { force: true }); // left by a start that died
    }
  }
  throw new ClusterError(ClusterErrorCode.StartInProgress, `cannot lock ${lock}`);
}

interface Launched {
  proc: ClusterProcess;
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

/** Moves <log> to <log>.1 so that the previous run's log survives one restart. */
function rotateLog(log: string): void {
  if (existsSync(log)) renameSync(log, `${log}.1`);
}

function javaOptions(dir: string, user: string | undefined): string {
  const ours = `${quoteOption(markerOf(dir))} ${quoteOption(`-Djava.io.tmpdir=${path.join(dir, 'tmp')}`)}`;
  return user === undefined || user === '' ? ours : `${ours} ${user}`;
}

function clusterEnv(home: string, dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The command lines name every setting; these from the user's shell would otherwise turn
  // spark-submit into a Connect client or move the cluster off 127.0.0.1.
  for (const k of [
    'SPARK_REMOTE',
    'SPARK_API_MODE',
    'SPARK_CONNECT_MODE_ENABLED',
    'SPARK_ENV_LOADED',
    'SPARK_PUBLIC_DNS',
    'SPARK_MASTER_HOST',
    'SPARK_MASTER_OPTS',
    'SPARK_WORKER_OPTS',
    'SPARK_WORKER_DIR',
  ])
    delete env[k];
  Object.assign(env, {
    SPARK_HOME: home,
    // An empty conf folder: no spark-defaults.conf or spark-env.sh from elsewhere applies.
    SPARK_CONF_DIR: path.join(dir, 'conf'),
    SPARK_LOG_DIR: path.join(dir, 'logs'),
    SPARK_PID_DIR: pidDir(dir),
    SPARK_LOCAL_IP: CLUSTER_HOST,
    SPARK_LOCAL_DIRS: path.join(dir, 'tmp'),
    // As sbin/start-connect-server.sh does: the server itself is classic Spark.
    SPARK_CONNECT_MODE: '0',
    // Master and workers: the marker identifies them at stop; no retry onto another port
    // when one is taken (a worker UI silently on 8083 would not be where we look).
    SPARK_DAEMON_JAVA_OPTS: `${javaOptions(dir, undefined)} -Dspark.port.maxRetries=0`,
    // The REST submission server listens on a fixed 6066 by default in Spark 4, which would
    // clash between two clusters; medlake submits nothing through it.
    SPARK_MASTER_OPTS: '-Dspark.master.rest.enabled=false',
  });
  const python = path.join(projectRoot(), '.spark', 'venv', 'bin', 'python');
  if (env['PYSPARK_PYTHON'] === undefined && existsSync(python)) env['PYSPARK_PYTHON'] = python;
  return env;
}

/**
 * Starts a master, `workers` workers and a Spark Connect server, all on 127.0.0.1, and
 * resolves once the workers are ALIVE and the Connect server is RUNNING with executors and
 * accepting connections. On any failure it stops what it started and throws ClusterError
 * with the end of the relevant log.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<ClusterInfo> {
  assertLinux();
  const o = resolveOptions(options);
  const t0 = Date.now();
  const deadline = t0 + o.timeoutMs;
  const progress = options.onProgress ?? ((): void => {});
  const abort = options.signal;
  const home = findSparkHome();
  const version = sparkVersion(home);
  assertJava();

  const { dir } = o;
  const fresh = !existsSync(dir);
  if (!fresh) assertClusterFolder(dir);
  mkdirSync(dir, { recursive: true });
  if (fresh) writeFileSync(path.join(dir, '.gitignore'), '*\n');
  const unlock = lockStart(dir);
  try {
    const previous = expectedProcesses(dir, readInfo(dir)).filter((e) => isOurs(e, dir));
    if (previous.length > 0)
      throw new ClusterError(
        ClusterErrorCode.AlreadyRunning,
        `a cluster is already running in ${dir} (${previous.map((p) => `${p.name} pid ${p.pid}`).join(', ')}): stop it with "medlake cluster stop --dir ${dir}", or start another with a different --dir and ports`,
      );
    for (const [role, port] of clusterPorts(o)) {
      if (!(await portFree(port)))
        throw new ClusterError(
          ClusterErrorCode.PortInUse,
          `port ${port} (${role}) on ${CLUSTER_HOST} is in use: stop what listens there (see "ss -ltnp 'sport = :${port}'") or choose another port`,
        );
    }
    // Scratch of a previous run; logs and the warehouse stay.
    for (const sub of ['tmp', 'work', 'pids'])
      rmSync(path.join(dir, sub), { recursive: true, force: true });
    for (const sub of ['tmp', 'work', 'pids', 'logs', 'conf', 'warehouse'])
      mkdirSync(path.join(dir, sub), { recursive: true });

    const info: ClusterInfo = {
      dir,
      host: CLUSTER_HOST,
      masterUrl: `spark://${CLUSTER_HOST}:${o.masterPort}`,
      connectUrl: `sc://${CLUSTER_HOST}:${o.connectPort}`,
      webUrl: `http://${CLUSTER_HOST}:${o.masterWebPort}`,
      sparkHome: home,
      sparkVersion: version,
      startedAt: new Date(t0).toISOString(),
      workers: o.workers,
      coresPerWorker: o.coresPerWorker,
      workerMemory: o.workerMemory,
      executorMemory: o.extraConf['spark.executor.memory'] ?? o.executorMemory,
      driverMemory: o.driverMemory,
      ports: {
        master: o.masterPort,
        masterWeb: o.masterWebPort,
        workerWeb: Array.from({ length: o.workers }, (_, i) => o.workerWebPortBase + i),
        connect: o.connectPort,
      },
      processes: [],
    };
    const env = clusterEnv(home, dir);
    const launched: Launched[] = [];

    const launch = (
      name: string,
      role: ProcessRole,
      args: string[],
      ports: { port?: number; webPort?: number },
    ): void => {
      const log = path.join(dir, 'logs', `${name}.log`);
      rotateLog(log);
      const fd = openSync(log, 'w');
      let child;
      try {
        // Through bash, in case pip dropped the exec bit; spark-class execs java, so the
        // pid is the JVM's once the launcher has run.
        child = spawn('bash', [path.join(home, 'bin', 'spark-class'), ...args], {
          cwd: dir, // anything Spark writes relative to the cwd lands in the cluster folder
          env,
          detached: true, // own session: survives the CLI and a Ctrl-C in its terminal
          stdio: ['ignore', fd, fd],
        });
      } finally {
        closeSync(fd);
      }
      const pid = child.pid;
      if (pid === undefined) throw new Error(`cannot start bash for ${name}`);
      const entry: Launched = {
        proc: {
          name,
          role,
          pid,
          mainClass: MAIN_CLASS[role],
          startTicks: readProc(pid)?.startTicks ?? -1,
          log,
          ...ports,
        },
      };
      child.on('exit', (code, sig) => {
        entry.exit = { code, signal: sig };
      });
      child.on('error', () => {
        entry.exit ??= { code: null, signal: null };
      });
      child.unref();
      launched.push(entry);
      writeFileSync(path.join(pidDir(dir), `${name}.pid`), `${pid}\n`);
      info.processes.push(entry.proc);
      writeInfo(info);
    };

    const checkExits = (): void => {
      for (const l of launched) {
        if (l.exit === undefined && !isGone(readProc(l.proc.pid))) continue;
        const how =
          l.exit?.signal != null
            ? `was killed by ${l.exit.signal}`
            : `exited${l.exit?.code != null ? ` with code ${l.exit.code}` : ''}`;
        throw new ClusterError(
          ClusterErrorCode.ProcessExited,
          withLog(`Spark ${l.proc.name} (pid ${l.proc.pid}) ${how} during start-up`, l.proc.log),
        );
      }
    };

    /** Polls `ready` until true; between polls checks for exits, abort and the deadline. */
    const waitFor = async (
      ready: () => Promise<boolean>,
      onTimeout: () => { message: string; log: string },
    ): Promise<void> => {
      for (;;) {
        if (abort?.aborted === true)
          throw new ClusterError(ClusterErrorCode.StartAborted, 'cluster start was interrupted');
        checkExits();
        if (await ready()) return;
        if (Date.now() > deadline) {
          const { message, log } = onTimeout();
          throw new ClusterError(
            ClusterErrorCode.StartTimeout,
            withLog(
              `the cluster was not ready after ${Math.round(o.timeoutMs / 1000)} s: ${message}`,
              log,
            ),
          );
        }
        await sleep(500, abort);
      }
    };

    try {
      progress(`starting Spark ${version} master on ${info.masterUrl}`);
      launch(
        'master',
        ProcessRole.Master,
        [
          MAIN_CLASS.master,
          '--host',
          CLUSTER_HOST,
          '--port',
          String(o.masterPort),
          '--webui-port',
          String(o.masterWebPort),
        ],
        { port: o.masterPort, webPort: o.masterWebPort },
      );
      const masterLog = launched[0]!.proc.log;
      // Workers and the application retry registering only every several seconds, so
      // they start once the master answers rather than all at once.
      await waitFor(
        async () => (await masterJson(o.masterWebPort))?.status === 'ALIVE',
        () => ({ message: `the master did not answer on ${info.webUrl}/json/`, log: masterLog }),
      );

      progress(`starting ${o.workers} worker(s) and the Spark Connect server`);
      for (let i = 1; i <= o.workers; i++) {
        const webPort = o.workerWebPortBase + i - 1;
        launch(
          `worker-${i}`,
          ProcessRole.Worker,
          [
            MAIN_CLASS.worker,
            '--host',
            CLUSTER_HOST,
            '--cores',
            String(o.coresPerWorker),
            '--memory',
            o.workerMemory,
            '--webui-port',
            String(webPort),
            '--work-dir',
            path.join(dir, 'work', `worker-${i}`),
            info.masterUrl,
          ],
          { webPort },
        );
      }

      const conf = new Map<string, string>([
        ['spark.connect.grpc.binding.address', CLUSTER_HOST],
        ['spark.connect.grpc.binding.port', String(o.connectPort)],
        // One executor per worker using all its cores (a worker's memory holds one).
        ['spark.executor.cores', String(o.coresPerWorker)],
        ['spark.executor.memory', o.executorMemory],
        // Otherwise executors get a driver URL with "localhost", which may resolve to ::1
        // while the driver listens on 127.0.0.1 only.
        ['spark.driver.host', CLUSTER_HOST],
        ['spark.ui.enabled', 'false'],
        // No Hive metastore: no derby metastore_db, no spark-warehouse in the cwd.
        ['spark.sql.catalogImplementation', 'in-memory'],
        ['spark.sql.warehouse.dir', path.join(dir, 'warehouse')],
        // Scratch space comes from SPARK_LOCAL_DIRS, which overrides spark.local.dir in
        // standalone mode (setting both only makes Spark warn).
        ['spark.port.maxRetries', '0'],
      ]);
      for (const [k, v] of Object.entries(o.extraConf)) conf.set(k, v);
      for (const k of ['spark.driver.extraJavaOptions', 'spark.executor.extraJavaOptions'])
        conf.set(k, javaOptions(dir, o.extraConf[k]));
      launch(
        'connect',
        ProcessRole.Connect,
        [
          'org.apache.spark.deploy.SparkSubmit',
          '--class',
          MAIN_CLASS.connect,
          '--name',
          CONNECT_APP_NAME,
          '--master',
          info.masterUrl,
          '--driver-memory',
          o.driverMemory,
          ...[...conf].flatMap(([k, v]) => ['--conf', `${k}=${v}`]),
          'spark-internal',
        ],
        { port: o.connectPort },
      );
      const connectLog = launched.at(-1)!.proc.log;

      const totalCores = o.workers * o.coresPerWorker;
      const coresMax = Number(o.extraConf['spark.cores.max'] ?? totalCores);
      const wantCores = Math.min(totalCores, coresMax > 0 ? coresMax : totalCores);
      let last: MasterJson | null = null;
      let reachable = false;
      await waitFor(
        async () => {
          last = await masterJson(o.masterWebPort);
          const app = connectApp(last);
          reachable = await tcpReachable(o.connectPort);
          return (
            last !== null &&
            last.aliveWorkers >= o.workers &&
            app?.state === 'RUNNING' &&
            app.cores >= wantCores &&
            reachable
          );
        },
        () => {
          const m = last as MasterJson | null;
          if (m === null)
            return { message: `the master stopped answering on ${info.webUrl}`, log: masterLog };
          if (m.aliveWorkers < o.workers) {
            const missing = launched.find(
              (l) =>
                l.proc.role === ProcessRole.Worker &&
                !m.aliveWorkerWebUrls.some((u) => u.endsWith(`:${l.proc.webPort}`)),
            );
            return {
              message: `${m.aliveWorkers} of ${o.workers} workers ALIVE`,
              log: missing?.proc.log ?? masterLog,
            };
          }
          const app = connectApp(m);
          return {
            message:
              app === null
                ? 'the Spark Connect server did not register with the master'
                : `application ${app.name} is ${app.state} with ${app.cores} of ${wantCores} cores; port ${o.connectPort} ${reachable ? 'accepts' : 'does not accept'} connections`,
            log: connectLog,
          };
        },
      );

      for (const l of launched) {
        const snap = readProc(l.proc.pid);
        if (snap !== null && snap.argv[0] !== undefined)
          l.proc.executable = path.basename(snap.argv[0]);
      }
      info.readyAt = new Date().toISOString();
      info.startupMs = Date.now() - t0;
      writeInfo(info);
      progress(`cluster ready in ${(info.startupMs / 1000).toFixed(1)} s`);
      return info;
    } catch (err) {
      progress('start-up failed: stopping what was started');
      await stopProcesses(
        dir,
        launched.map((l) => ({ ...l.proc })),
        5000,
      );
      removePidFiles(dir);
      throw err;
    }
  } finally {
    unlock();
  }
}

// ---------------------------------------------------------------------------------------
// Stop and status

/**
 * Stops the cluster in `dir`: the Connect server, the workers, the master (SIGTERM, then
 * SIGKILL after `graceMs`), then any executor JVM of this folder still alive. Signals only
 * processes that are provably the ones started here. Removes pid files, keeps logs.
 * Stopping a stopped cluster is fine (wasRunning: false).
 */
export async function stopCluster(
  dir?: string,
  options: { graceMs?: number } = {},
): Promise<StopResult> {
  assertLinux();
  const abs = resolveClusterDir(dir);
  const t0 = Date.now();
  const expected = expectedProcesses(abs, readInfo(abs));
  const result = await stopProcesses(abs, expected, options.graceMs ?? 20_000);
  removePidFiles(abs);
  return { dir: abs, ...result, durationMs: Date.now() - t0 };
}

/** What runs in `dir`, as the processes, the master and the Connect port tell it. */
export async function clusterStatus(dir?: string): Promise<ClusterStatus> {
  assertLinux();
  const abs = resolveClusterDir(dir);
  const info = readInfo(abs);
  const processes = expectedProcesses(abs, info).map((e) => ({
    name: e.name,
    role: e.role,
    pid: e.pid,
    running: isOurs(e, abs),
  }));
  const anyRunning = processes.some((p) => p.running);
  const m = info !== null && anyRunning ? await masterJson(info.ports.masterWeb) : null;
  const connectReachable =
    info !== null && anyRunning ? await tcpReachable(info.ports.connect) : false;
  const workersExpected = info?.workers ?? 0;
  const app = connectApp(m);
  const allUp =
    processes.length > 0 &&
    processes.every((p) => p.running) &&
    m !== null &&
    m.aliveWorkers >= workersExpected &&
    connectReachable;
  return {
    dir: abs,
    state: allUp ? ClusterState.Running : anyRunning ? ClusterState.Degraded : ClusterState.Stopped,
    info,
    processes,
    workersAlive: m?.aliveWorkers ?? null,
    workersExpected,
    connectReachable,
    application: app,
  };
}
