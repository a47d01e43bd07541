/**
 * A large NDJSON file read in parts by several workers loads exactly as when one reader
 * reads it whole: same resources, same line numbers in provenance and quarantine, same
 * newest-wins order, and the manifest's checksum is the whole file's.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Lake, LakeSession, loadIntoLake } from '../src/index.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'medlake-split-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bigFile(): string {
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    lines.push(
      JSON.stringify({
        resourceType: 'Patient',
        id: `p${i % 2500}`,
        gender: i < 2500 ? 'male' : 'female',
        name: [{ family: `F${i}` }],
      }),
    );
    if (i % 700 === 0) lines.push('{"resourceType": "Patient", "id": ');
  }
  const file = path.join(dir, 'Patient.ndjson');
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function load(file: string, lakeDir: string, workers: number, splitBytes: number) {
  const summary = await loadIntoLake(lakeDir, [file], { workers, splitBytes });
  const session = await LakeSession.open(lakeDir);
  const rows = (
    await session.sql(
      `SELECT id, "gender"->>'$' AS g, "@source" AS s FROM fhir."Patient" ORDER BY id`,
    )
  ).rows;
  await session.close();
  const quarantine = readFileSync(path.join(lakeDir, summary.quarantineFile!), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { line: number }).line)
    .sort((a, b) => a - b);
  return { summary, rows, quarantine, manifest: Lake.open(lakeDir).manifest };
}

describe('large NDJSON files read in parts', () => {
  it('give the same lake as one reader', async () => {
    const file = bigFile();
    const whole = await load(file, path.join(dir, 'whole'), 1, 1 << 30);
    const parts = await load(file, path.join(dir, 'parts'), 2, 40_000);
    // The split really happened: the file is several times the part size.
    expect(readFileSync(file).length).toBeGreaterThan(4 * 40_000);
    expect(parts.rows).toEqual(whole.rows);
    expect(parts.quarantine).toEqual(whole.quarantine);
    expect(parts.quarantine).toHaveLength(5);
    expect(parts.summary.read).toBe(3000);
    expect(parts.summary.added).toBe(2500);
    // Later lines win: ids 0..499 appear twice, the second time as female.
    expect(parts.rows.filter((r) => r['g'] === 'female')).toHaveLength(500);
    const sha = createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(parts.manifest.loads[0]!.sources).toEqual([
      { path: file, sha256: sha, bytes: readFileSync(file).length },
    ]);
    expect(whole.manifest.loads[0]!.sources).toEqual(parts.manifest.loads[0]!.sources);
  });
});
