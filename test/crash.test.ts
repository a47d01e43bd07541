/**
 * Atomic loads against a real `kill -9`: an `ingest` child process is killed at several
 * points of a large load (early while reading, later while reading, and while Parquet
 * files are being written). After each kill the lake must still be exactly the previous
 * commit, its stale lock must not block the next writer, and a final re-run of the same
 * ingest must complete with the expected totals and leave nothing behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBenchData } from '../bench/generate-data.js';
import { Lake, loadIntoLake } from '../src/index.js';
import type { LakeInfo } from '../src/index.js';
import {
  REPO_ROOT,
  cliArgs,
  cliEnv,
  listFiles,
  makeTempDir,
  queryLake,
  removeDir,
  runCli,
  sleep,
} from './helpers/lake-test-utils.js';

const BIG_RESOURCES = 200_000;

let tmp = '';
let lake = '';
let bigDir = '';
let base: LakeInfo;
let bigCounts: Record<string, number> = {};

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

interface KillOutcome {
  readonly pid: number;
  readonly exit: Exit;
  readonly stderr: string;
  /** What happened, for assertion messages (kill points are random). */
  readonly note: string;
}

type KillPoint = 'early' | 'mid' | 'parquet';

function randomBetween(lo: number, hi: number): number {
  return Math.round(lo + Math.random() * (hi - lo));
}

function parquetFiles(): string[] {
  const data = path.join(lake, 'data');
  return existsSync(data) ? listFiles(data).filter((f) => f.endsWith('.parquet')) : [];
}

function lockPid(): string | null {
  try {
    return readFileSync(path.join(lake, '.lock'), 'utf8').trim();
  } catch {
    return null;
  }
}

/** Starts `medlake ingest BIG` and SIGKILLs it at the given point (plus a random delay). */
async function ingestAndKill(point: KillPoint): Promise<KillOutcome> {
  const before = new Set(parquetFiles());
  const started = Date.now();
  const child = spawn(process.execPath, cliArgs(['ingest', bigDir, '--lake', lake, '--json']), {
    cwd: REPO_ROOT,
    env: cliEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const pid = child.pid!;
  const errChunks: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => errChunks.push(b));
  const state: { exit: Exit | null } = { exit: null };
  const exited = new Promise<Exit>((res) =>
    child.on('exit', (code, signal) => {
      state.exit = { code, signal };
      res(state.exit);
    }),
  );

  // The child holds the lock (taking over a stale one) before it stages anything.
  const reached = (): boolean => {
    if (lockPid() !== String(pid)) return false;
    if (point === 'early') return existsSync(path.join(lake, '.staging'));
    if (point === 'mid') return true;
    return parquetFiles().some((f) => !before.has(f));
  };
  const deadline = started + 45_000;
  let seen = false;
  while (state.exit === null && Date.now() < deadline) {
    if (reached()) {
      seen = true;
      break;
    }
    await sleep(3);
  }
  const delay =
    point === 'early'
      ? randomBetween(0, 300)
      : point === 'mid'
        ? randomBetween(1500, 3000)
        : randomBetween(0, 60);
  if (seen) await sleep(delay);
  const aliveAtKill = state.exit === null;
  child.kill('SIGKILL');
  const exit = await exited;
  const note = `kill point ${point}: reached=${seen}, delay ${delay} ms, alive at kill=${aliveAtKill}, ${Date.now() - started} ms after start`;
  return { pid, exit, stderr: Buffer.concat(errChunks).toString('utf8'), note };
}

/** The lake is exactly the base commit: manifest, `lake info` in a new process, and data. */
async function expectBaseCommit(outcome: KillOutcome): Promise<void> {
  const msg = `${outcome.note}\nstderr: ${outcome.stderr.slice(0, 2000)}`;
  expect(outcome.exit.signal, msg).toBe('SIGKILL');

  const manifest = JSON.parse(readFileSync(path.join(lake, 'manifest.json'), 'utf8')) as {
    commit: number;
  };
  expect(manifest.commit, msg).toBe(base.commit);

  const r = await runCli(['lake', 'info', '--lake', lake, '--json']);
  expect(r.code, `${msg}\nlake info: ${r.stderr}`).toBe(0);
  const info = JSON.parse(r.stdout) as LakeInfo;
  expect(info.commit, msg).toBe(base.commit);
  expect(info.resources, msg).toEqual(base.resources);
  expect(info.quarantined, msg).toBe(base.quarantined);
  expect(info.loads.length, msg).toBe(base.loads.length);

  // What a reader sees is the base data, whatever orphan files the kill left.
  for (const [type, n] of Object.entries(base.resources)) {
    const rows = await queryLake(lake, `SELECT count(*) AS n FROM "${type}"`);
    expect(Number(rows[0]!['n']), `${msg}\n${type}`).toBe(n);
  }

  // The killed writer's lock is left behind, naming a process that no longer runs.
  expect(lockPid(), msg).toBe(String(outcome.pid));
}

beforeAll(async () => {
  tmp = makeTempDir('crash');
  lake = path.join(tmp, 'lake');
  bigDir = path.join(tmp, 'big');
  const small = path.join(tmp, 'small');
  await generateBenchData({ outDir: small, resources: 300, seed: 99 });
  await loadIntoLake(lake, [small]);
  base = Lake.open(lake).info();
  const big = await generateBenchData({ outDir: bigDir, resources: BIG_RESOURCES, seed: 1 });
  bigCounts = big.counts;
}, 60_000);
afterAll(() => removeDir(tmp));

describe('kill -9 during ingest', () => {
  it('has a committed base lake to protect', () => {
    expect(base.commit).toBe(1);
    expect(base.totalResources).toBeGreaterThan(200);
    expect(existsSync(path.join(lake, '.lock'))).toBe(false);
  });

  it('killed early while reading: the lake is still the previous commit', async () => {
    await expectBaseCommit(await ingestAndKill('early'));
  }, 60_000);

  it('killed later while reading (after taking over a stale lock): still the previous commit', async () => {
    await expectBaseCommit(await ingestAndKill('mid'));
  }, 60_000);

  it('killed while writing Parquet: still the previous commit', async () => {
    const committed = new Set(
      Object.values(Lake.open(lake).manifest.types).flatMap((t) =>
        t.files.map((f) => f.path.replace(/^data\//, '')),
      ),
    );
    const outcome = await ingestAndKill('parquet');
    // The kill landed in the write phase: Parquet files of the killed load are on disk...
    expect(parquetFiles().filter((f) => !committed.has(f)).length, outcome.note).toBeGreaterThan(0);
    // ...but no manifest names them.
    await expectBaseCommit(outcome);
  }, 60_000);

  it('re-running the same ingest completes with the expected totals and leaves nothing behind', async () => {
    const r = await runCli(['ingest', bigDir, '--lake', lake, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { read: number; added: number; quarantined: number };
    const bigTotal = Object.values(bigCounts).reduce((a, b) => a + b, 0);
    expect(summary.read).toBe(bigTotal);
    expect(summary.added).toBe(bigTotal);
    expect(summary.quarantined).toBe(0);

    const expected: Record<string, number> = { ...base.resources };
    for (const [t, n] of Object.entries(bigCounts)) expected[t] = (expected[t] ?? 0) + n;
    const info = Lake.open(lake).info();
    expect(info.commit).toBe(base.commit + 1);
    expect(info.resources).toEqual(expected);

    for (const [type, n] of Object.entries(expected)) {
      const rows = await queryLake(
        lake,
        `SELECT count(*) AS n, count(DISTINCT id) AS d FROM "${type}"`,
      );
      expect(Number(rows[0]!['n']), type).toBe(n);
      expect(Number(rows[0]!['d']), type).toBe(n);
    }

    // No staging, no lock, and no file the manifest does not name.
    expect(existsSync(path.join(lake, '.staging'))).toBe(false);
    expect(existsSync(path.join(lake, '.lock'))).toBe(false);
    const m = Lake.open(lake).manifest;
    const named = new Set<string>([
      ...Object.values(m.types).flatMap((t) => t.files.map((f) => f.path)),
      ...Object.values(m.views).map((v) => v.path),
      ...m.loads.flatMap((l) => (l.quarantineFile === null ? [] : [l.quarantineFile])),
    ]);
    const onDisk = listFiles(lake).filter((f) => f !== 'manifest.json');
    expect(onDisk.filter((f) => !named.has(f))).toEqual([]);
    expect(readdirSync(lake).sort()).toEqual(['data', 'manifest.json']);
  }, 60_000);
});
