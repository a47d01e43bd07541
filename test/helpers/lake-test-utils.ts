/** Shared helpers for the lake, CLI and crash suites: temp dirs, NDJSON files, CLI runs. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LakeSession } from '../../src/lake/session.js';
import type { Row } from '../../src/engine/engine.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES_DIR = path.resolve(REPO_ROOT, '../shared/fixtures');
export const EXAMPLES_DIR = path.join(FIXTURES_DIR, 'fhir-r4-examples');
export const BULK_DIR = path.join(FIXTURES_DIR, 'fhir-bulk-10-patients');
export const PATIENT_VIEW = path.join(REPO_ROOT, 'examples/views/patient.json');
export const CLI_ENTRY = path.join(REPO_ROOT, 'src/cli/entry.ts');
/** tsx's loader as a file URL, so children may run in any working directory. */
const TSX_LOADER = pathToFileURL(
  createRequire(path.join(REPO_ROOT, 'package.json')).resolve('tsx'),
).href;

export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `medlake-${prefix}-`));
}

export function removeDir(dir: string): void {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
}

/**
 * Writes an NDJSON file: strings are written verbatim (to keep decimals such as `1.00`, or
 * to write broken lines), anything else through JSON.stringify.
 */
export function writeNdjson(file: string, lines: readonly unknown[]): string {
  writeFileSync(
    file,
    lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n',
  );
  return file;
}

/** Files under `dir`, recursively, as sorted paths relative to `dir` with `/` separators. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p).split(path.sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** Runs one SQL query over a lake in a fresh session. */
export async function queryLake(lakeDir: string, sql: string): Promise<Row[]> {
  const session = await LakeSession.open(lakeDir);
  try {
    return [...(await session.sql(sql)).rows];
  } finally {
    await session.close();
  }
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Arguments that run the CLI from source in a child node process. */
export function cliArgs(args: readonly string[]): string[] {
  return ['--import', TSX_LOADER, CLI_ENTRY, ...args];
}

/** Environment for CLI children: no inherited MEDLAKE_LAKE, unless given. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (extra['MEDLAKE_LAKE'] === undefined) delete env['MEDLAKE_LAKE'];
  return env;
}

/** Runs `medlake ARGS` to completion and collects its output. */
export function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgs(args), {
      cwd: options.cwd ?? REPO_ROOT,
      env: cliEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((res) => setTimeout(res, ms));
}
