/**
 * `medlake cluster`: starts a real 2-worker standalone Spark cluster with a Spark Connect
 * server, checks status, cluster.json, refusals, and that stop leaves no JVM behind. Runs
 * only where Spark is installed (npm run spark:install) and Java works. Uses non-default
 * ports so that it can run next to a cluster CI started on the default ones.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerClusterCommand } from '../src/cli/cluster-command.js';
import {
  ClusterError,
  ClusterErrorCode,
  clusterStatus,
  startCluster,
  stopCluster,
} from '../src/engine/spark/cluster.js';
import type { ClusterInfo, ClusterOptions } from '../src/engine/spark/cluster.js';
import { findSparkHome, javaCommand } from '../src/engine/spark/spark-home.js';

/** Why the suite cannot run here, or undefined when it can. */
function skipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  try {
    findSparkHome();
  } catch {
    return 'Spark not installed — npm run spark:install';
  }
  const r = spawnSync(javaCommand(), ['-version'], { stdio: 'ignore' });
  if (r.error !== undefined || r.status !== 0) return 'Java does not run — install a JDK 17+';
  return undefined;
}

const reason = skipReason();
const suite = reason === undefined ? describe : describe.skip;
const title = reason === undefined ? 'spark cluster' : `spark cluster (skipped: ${reason})`;

const PORTS = {
  masterPort: 17177,
  masterWebPort: 18180,
  workerWebPortBase: 18181,
  connectPort: 15302,
} as const satisfies ClusterOptions;

/** Process state from /proc: undefined when the pid is gone. */
function procState(pid: number): { state: string; startTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, startTicks: Number(f[19]) };
  } catch {
    return undefined;
  }
}

/** Gone, a zombie awaiting its reaper, or the pid now names another process. */
function isGone(pid: number, startTicks: number): boolean {
  const s = procState(pid);
  return s === undefined || s.state === 'Z' || s.startTicks !== startTicks;
}

/** Live processes whose command line mentions `dir`. */
function processesMentioning(dir: string): number[] {
  const out: number[] = [];
  for (const f of readdirSync('/proc')) {
    if (!/^\d+$/.test(f) || Number(f) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${f}/cmdline`, 'utf8');
      const s = procState(Number(f));
      if (cmd.includes(dir) && s !== undefined && s.state !== 'Z') out.push(Number(f));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

async function expectClusterError(p: Promise<unknown>, code: string): Promise<ClusterError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClusterError);
  expect((err as ClusterError).code).toBe(code);
  return err as ClusterError;
}

suite(title, () => {
  let dir = '';
  let info: ClusterInfo;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medlake-cluster-test-'));
    info = await startCluster({ dir, workers: 2, ...PORTS, timeoutMs: 100_000 });
  }, 110_000);

  afterAll(async () => {
    if (dir === '') return;
    try {
      await stopCluster(dir, { graceMs: 10_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('is up: 2 workers ALIVE, the application RUNNING, the Connect port reachable', async () => {
    const s = await clusterStatus(dir);
    expect(s.state).toBe('running');
    expect(s.workersAlive).toBe(2);
    expect(s.workersExpected).toBe(2);
    expect(s.connectReachable).toBe(true);
    expect(s.application).toMatchObject({ name: 'medlake-connect', state: 'RUNNING', cores: 2 });
    expect(s.processes.map((p) => [p.name, p.running])).toEqual([
      ['master', true],
      ['worker-1', true],
      ['worker-2', true],
      ['connect', true],
    ]);
    console.log(`cluster started in ${((info.startupMs ?? 0) / 1000).toFixed(1)} s`);
  });

  it('writes cluster.json with the URLs, the Spark version and the processes', () => {
    const json = JSON.parse(readFileSync(path.join(dir, 'cluster.json'), 'utf8')) as ClusterInfo;
    expect(json).toEqual(info);
    expect(json).toMatchObject({
      dir,
      masterUrl: 'spark://127.0.0.1:17177',
      connectUrl: 'sc://127.0.0.1:15302',
      webUrl: 'http://127.0.0.1:18180',
      sparkVersion: expect.stringMatching(/^4\./) as unknown as string,
      workers: 2,
      ports: { master: 17177, masterWeb: 18180, workerWeb: [18181, 18182], connect: 15302 },
    });
    expect(Number.isNaN(Date.parse(json.startedAt))).toBe(false);
    expect(json.processes.map((p) => p.name)).toEqual([
      'master',
      'worker-1',
      'worker-2',
      'connect',
    ]);
    for (const p of json.processes) {
      // spark-class execs java: the recorded pid is the JVM itself, with our marker.
      expect(p.executable).toBe('java');
      const argv = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
      expect(argv).toContain(p.mainClass);
      expect(argv).toContain(`-Dmedlake.cluster.dir=${dir}`);
      expect(procState(p.pid)?.startTicks).toBe(p.startTicks);
      expect(readFileSync(path.join(dir, 'pids', `${p.name}.pid`), 'utf8').trim()).toBe(
        String(p.pid),
      );
    }
  });

  it('refuses a second start in the same folder, naming the running processes', async () => {
    const err = await expectClusterError(
      startCluster({ dir, ...PORTS, timeoutMs: 10_000 }),
      ClusterErrorCode.AlreadyRunning,
    );
    expect(err.message).toContain('already running');
    expect(err.message).toContain('medlake cluster stop');
  });

  it('refuses a cluster in another folder on ports in use, naming the port', async () => {
    const other = mkdtempSync(path.join(os.tmpdir(), 'medlake-cluster-test-'));
    try {
      const err = await expectClusterError(
        startCluster({ dir: other, ...PORTS, timeoutMs: 10_000 }),
        ClusterErrorCode.PortInUse,
      );
      expect(err.message).toContain('port 17177 (master)');
      expect(processesMentioning(other)).toEqual([]);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('`medlake cluster status --json` reports the same', async () => {
    const program = new Command().exitOverride();
    registerClusterCommand(program);
    const chunks: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
      chunks.push(String(s));
      return true;
    });
    try {
      await program.parseAsync(['cluster', 'status', '--dir', dir, '--json'], { from: 'user' });
    } finally {
      write.mockRestore();
    }
    const s = JSON.parse(chunks.join('')) as { state: string; workersAlive: number };
    expect(s).toMatchObject({ state: 'running', workersAlive: 2 });
  });

  it('stops every process it started, executors included, and keeps the logs', async () => {
    const t0 = Date.now();
    const r = await stopCluster(dir);
    console.log(`cluster stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(r.wasRunning).toBe(true);
    expect(r.stopped.map((p) => p.name)).toEqual(['connect', 'worker-1', 'worker-2', 'master']);
    for (const p of info.processes) expect(isGone(p.pid, p.startTicks), p.name).toBe(true);
    expect(processesMentioning(dir)).toEqual([]);
    expect(readdirSync(dir)).not.toContain('pids');
    expect(readdirSync(path.join(dir, 'logs')).sort()).toEqual([
      'connect.log',
      'master.log',
      'worker-1.log',
      'worker-2.log',
    ]);
  }, 90_000);

  it('stopping again is fine and says nothing was running', async () => {
    const r = await stopCluster(dir);
    expect(r.wasRunning).toBe(false);
    expect(r.stopped).toEqual([]);
    const s = await clusterStatus(dir);
    expect(s.state).toBe('stopped');
    expect(s.connectReachable).toBe(false);
  });
});

// Needs no Spark: stop must never signal a process it cannot prove it started.
(process.platform === 'linux' ? describe : describe.skip)('cluster stop safety', () => {
  let dir = '';
  const children: ChildProcess[] = [];

  /** A harmless long-running node process with `args` in its command line. */
  function decoy(...args: string[]): number {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', '--', ...args], {
      stdio: 'ignore',
    });
    children.push(child);
    return child.pid!;
  }

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medlake-cluster-safety-'));
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves alone a pid file pointing at an unrelated process or a foreign Spark master', async () => {
    const unrelated = decoy();
    const foreignMaster = decoy('org.apache.spark.deploy.master.Master');
    mkdirSync(path.join(dir, 'pids'), { recursive: true });
    writeFileSync(path.join(dir, 'pids', 'worker-1.pid'), `${unrelated}\n`);
    writeFileSync(path.join(dir, 'pids', 'master.pid'), `${foreignMaster}\n`);
    const r = await stopCluster(dir, { graceMs: 1000 });
    expect(r.wasRunning).toBe(false);
    expect(procState(unrelated)?.state).not.toBe('Z');
    expect(procState(foreignMaster)?.state).not.toBe('Z');
    expect(procState(unrelated)).toBeDefined();
    expect(procState(foreignMaster)).toBeDefined();
  });

  it('kills a leftover JVM carrying this folder, and only that one', async () => {
    const stray = decoy(`-Dmedlake.cluster.dir=${dir}`);
    const other = decoy(`-Dmedlake.cluster.dir=${dir}-other`);
    const r = await stopCluster(dir, { graceMs: 2000 });
    expect(r.strays.map((s) => s.pid)).toEqual([stray]);
    await vi.waitFor(() => expect(procState(stray)?.state ?? 'gone').toMatch(/^(Z|gone)$/));
    expect(procState(other)?.state).not.toBe('Z');
  });

  it('reports a folder without a cluster as stopped', async () => {
    const s = await clusterStatus(dir);
    expect(s).toMatchObject({ state: 'stopped', workersAlive: null, connectReachable: false });
  });
});
