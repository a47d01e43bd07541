/** Helpers the benchmarks share: medians, child-process runs, generated doc sections. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Runs `script --child <payload JSON>` in its own Node process (tsx loader), so its peak
 * RSS is its own, and returns the last line of its stdout parsed as JSON.
 */
export function runChildJson<T>(
  script: string,
  payload: unknown,
  cwd: string,
  label: string,
): Promise<T> {
  return new Promise((res, rej) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', script, '--child', JSON.stringify(payload)],
      { cwd, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.on('error', rej);
    child.on('exit', (code) =>
      code === 0
        ? res(JSON.parse(out.trim().split('\n').at(-1)!) as T)
        : rej(new Error(`${label} exited with ${code}`)),
    );
  });
}

/**
 * Replaces the generated section between `begin` and `end` in `doc` (or appends it under
 * `heading`), formatted with the repository's Prettier settings so `npm run lint` stays clean.
 */
export async function updateGeneratedSection(
  doc: string,
  begin: string,
  end: string,
  heading: string,
  section: string,
): Promise<void> {
  const text = readFileSync(doc, 'utf8');
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  const next =
    a >= 0 && b > a
      ? text.slice(0, a) + section + text.slice(b + end.length)
      : `${text.trimEnd()}\n\n${heading}\n\n${section}\n`;
  const config = (await resolveConfig(doc)) ?? {};
  writeFileSync(doc, await format(next, { ...config, filepath: doc }));
}

/** The CPU model from /proc/cpuinfo (else what Node reports). */
export function cpuModel(): string {
  const info = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown CPU';
}

/** `Machine: 2 × <CPU>, 24 GiB, Node v20..., <date>.` — the first line of a generated section. */
export function machineLine(): string {
  return (
    `Machine: ${os.availableParallelism()} × ${cpuModel()}, ` +
    `${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}, ` +
    `${new Date().toISOString().slice(0, 10)}.`
  );
}

/** Every file under `dir` (recursively), sorted; none when it does not exist. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out.sort();
}

/** Bytes of every file under `dir`. */
export function dirBytes(dir: string): number {
  return filesUnder(dir).reduce((a, f) => a + statSync(f).size, 0);
}
