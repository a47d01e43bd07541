import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BENCH_RESOURCE_TYPES,
  BENCH_TRANSACTION_TIME,
  generateBenchData,
} from '../bench/generate-data.js';
import type { GenerateBenchResult } from '../bench/generate-data.js';

interface ManifestOutput {
  type: string;
  url: string;
  count?: number;
}
interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: ManifestOutput[];
  error: unknown[];
}
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Resource = { resourceType: string; id: string } & Record<string, Json>;

const RESOURCES = 2000;
const SEED = 42;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?([+-]\d{2}:\d{2}|Z)$/;

let root: string;
let dirA: string;
let dirB: string;
let dirC: string;
let dirGz: string;
let resA: GenerateBenchResult;
let resGz: GenerateBenchResult;
let manifest: Manifest;
const texts = new Map<string, string>();
const resources = new Map<string, Resource[]>();

function lines(text: string): string[] {
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

/** All `reference` strings anywhere in a resource. */
function collectReferences(node: Json, out: string[]): void {
  if (Array.isArray(node)) {
    for (const v of node) collectReferences(v, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else collectReferences(v, out);
    }
  }
}

function refOf(r: Resource, field: string): string {
  const v = r[field];
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`no ${field}`);
  const ref = v['reference'];
  if (typeof ref !== 'string') throw new Error(`no ${field}.reference`);
  return ref;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medlake-bench-gen-'));
  dirA = join(root, 'a');
  dirB = join(root, 'b');
  dirC = join(root, 'c');
  dirGz = join(root, 'gz');
  resA = await generateBenchData({ outDir: dirA, resources: RESOURCES, seed: SEED });
  await generateBenchData({ outDir: dirB, resources: RESOURCES, seed: SEED });
  await generateBenchData({ outDir: dirC, resources: RESOURCES, seed: SEED + 1 });
  resGz = await generateBenchData({ outDir: dirGz, resources: RESOURCES, seed: SEED, gzip: true });
  manifest = JSON.parse(await readFile(join(dirA, 'manifest.json'), 'utf8')) as Manifest;
  for (const type of BENCH_RESOURCE_TYPES) {
    const text = await readFile(join(dirA, `${type}.ndjson`), 'utf8');
    texts.set(type, text);
    resources.set(
      type,
      lines(text).map((l) => JSON.parse(l) as Resource),
    );
  }
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describe('generateBenchData', () => {
  it('writes one NDJSON file per type and a bulk export manifest', async () => {
    const names = (await readdir(dirA)).sort();
    expect(names).toEqual(
      [...BENCH_RESOURCE_TYPES.map((t) => `${t}.ndjson`), 'manifest.json'].sort(),
    );
    expect(resA.files).toEqual(BENCH_RESOURCE_TYPES.map((t) => join(dirA, `${t}.ndjson`)));
    expect(manifest.transactionTime).toBe(BENCH_TRANSACTION_TIME);
    expect(manifest.request).toContain('$export');
    expect(manifest.requiresAccessToken).toBe(false);
    expect(manifest.error).toEqual([]);
    expect(manifest.output.map((o) => o.type)).toEqual([...BENCH_RESOURCE_TYPES]);
    for (const o of manifest.output) expect(o.url).toBe(`${o.type}.ndjson`);
  });

  it('every line is a JSON resource of its file type with a unique uuid id', () => {
    const ids = new Set<string>();
    for (const type of BENCH_RESOURCE_TYPES) {
      for (const r of resources.get(type) ?? []) {
        expect(r.resourceType).toBe(type);
        expect(r.id).toMatch(UUID);
        expect(ids.has(r.id)).toBe(false);
        ids.add(r.id);
      }
    }
  });

  it('counts match the files, the returned counts and the manifest', async () => {
    let total = 0;
    for (const type of BENCH_RESOURCE_TYPES) {
      const n = resources.get(type)?.length ?? 0;
      expect(resA.counts[type]).toBe(n);
      expect(manifest.output.find((o) => o.type === type)?.count).toBe(n);
      total += n;
    }
    // About `resources`, with a realistic mix (per patient ~8 encounters, ~25 observations).
    expect(total).toBeGreaterThan(RESOURCES * 0.85);
    expect(total).toBeLessThan(RESOURCES * 1.15);
    const patients = resA.counts['Patient'] ?? 0;
    expect(patients).toBe(RESOURCES / 50);
    expect((resA.counts['Observation'] ?? 0) / patients).toBeGreaterThan(18);
    expect((resA.counts['Encounter'] ?? 0) / patients).toBeGreaterThan(5);
    let bytes = 0;
    for (const type of BENCH_RESOURCE_TYPES) bytes += Buffer.byteLength(texts.get(type) ?? '');
    expect(resA.bytes).toBe(bytes);
  });

  it('all references resolve, and encounter/subject pairs agree', () => {
    const byType = new Map<string, Map<string, Resource>>();
    for (const type of BENCH_RESOURCE_TYPES) {
      byType.set(type, new Map((resources.get(type) ?? []).map((r) => [r.id, r])));
    }
    let checked = 0;
    for (const type of BENCH_RESOURCE_TYPES) {
      for (const r of resources.get(type) ?? []) {
        const refs: string[] = [];
        collectReferences(r, refs);
        for (const ref of refs) {
          const [refType, refId, ...rest] = ref.split('/');
          expect(rest).toEqual([]);
          expect(byType.get(refType ?? '')?.has(refId ?? ''), ref).toBe(true);
          checked++;
        }
        if (type === 'Condition' || type === 'Observation' || type === 'MedicationRequest') {
          const enc = byType
            .get('Encounter')
            ?.get(refOf(r, 'encounter').slice('Encounter/'.length));
          expect(enc).toBeDefined();
          if (enc) expect(refOf(enc, 'subject')).toBe(refOf(r, 'subject'));
        }
      }
    }
    expect(checked).toBeGreaterThan(RESOURCES);
  });

  it('writes well-formed FHIR shapes', () => {
    for (const p of resources.get('Patient') ?? []) {
      expect(p['birthDate']).toMatch(/^(19[3-9]\d|20[0-2]\d)-\d{2}-\d{2}$/);
      expect(['male', 'female']).toContain(p['gender']);
    }
    for (const e of resources.get('Encounter') ?? []) {
      const period = e['period'] as { start: string; end: string };
      expect(period.start).toMatch(DATE_TIME);
      expect(period.end).toMatch(DATE_TIME);
      expect(Date.parse(period.start)).toBeLessThanOrEqual(Date.parse(period.end));
      expect(Date.parse(period.end)).toBeLessThanOrEqual(Date.parse(BENCH_TRANSACTION_TIME));
    }
    for (const o of resources.get('Observation') ?? []) {
      expect(o['effectiveDateTime']).toMatch(DATE_TIME);
      expect(o['issued']).toMatch(DATE_TIME);
      expect('valueQuantity' in o || 'component' in o || 'valueCodeableConcept' in o).toBe(true);
    }
    for (const c of resources.get('Claim') ?? []) {
      const items = c['item'] as { net: { value: number } }[];
      expect(items.length).toBeGreaterThanOrEqual(1);
      expect(items.length).toBeLessThanOrEqual(5);
      const sum = items.reduce((s, i) => s + Math.round(i.net.value * 100), 0);
      expect(Math.round((c['total'] as { value: number }).value * 100)).toBe(sum);
    }
  });

  it('writes decimals with their written precision (7.20, 120.0)', () => {
    const obs = texts.get('Observation') ?? '';
    // HbA1c is always written with two decimals ending in 0, e.g. 7.20.
    const a1c = [...obs.matchAll(/"code":"4548-4".*?"value":([0-9.]+),/g)].map((m) => m[1]);
    expect(a1c.length).toBeGreaterThan(0);
    for (const v of a1c) expect(v).toMatch(/^\d+\.\d0$/);
    // Blood pressure components are written like 120.0.
    expect(obs).toMatch(/"valueQuantity":\{"value":\d+\.0,"unit":"mmHg"/);
    // Trailing zeros survive only in the text: JSON.parse would drop them.
    const trailing = [...obs.matchAll(/"value":(\d+\.\d*0)[,}]/g)].map((m) => m[1] ?? '');
    expect(trailing.length).toBeGreaterThan(10);
    expect(trailing.some((t) => String(Number(t)) !== t)).toBe(true);
    expect(texts.get('Claim') ?? '').toMatch(/"value":\d+\.\d0,"currency":"USD"/);
  });

  it('writes ASCII only (so the byte count equals the character count)', () => {
    for (const text of texts.values()) expect(/[^\x20-\x7e\n]/.test(text)).toBe(false);
  });

  it('is byte-identical for the same seed and differs for another seed', async () => {
    for (const name of [...BENCH_RESOURCE_TYPES.map((t) => `${t}.ndjson`), 'manifest.json']) {
      const a = await readFile(join(dirA, name));
      const b = await readFile(join(dirB, name));
      expect(a.equals(b), name).toBe(true);
    }
    for (const type of BENCH_RESOURCE_TYPES) {
      const a = await readFile(join(dirA, `${type}.ndjson`));
      const c = await readFile(join(dirC, `${type}.ndjson`));
      expect(a.equals(c), type).toBe(false);
    }
  });

  it('gzip output decompresses to the same bytes', async () => {
    expect(resGz.counts).toEqual(resA.counts);
    const gzManifest = JSON.parse(await readFile(join(dirGz, 'manifest.json'), 'utf8')) as Manifest;
    expect(gzManifest.output.map((o) => o.url)).toEqual(
      BENCH_RESOURCE_TYPES.map((t) => `${t}.ndjson.gz`),
    );
    let compressed = 0;
    for (const type of BENCH_RESOURCE_TYPES) {
      const gz = await readFile(join(dirGz, `${type}.ndjson.gz`));
      compressed += gz.length;
      expect(gunzipSync(gz).toString('utf8')).toBe(texts.get(type));
    }
    expect(resGz.bytes).toBe(compressed);
    expect(resGz.bytes).toBeLessThan(resA.bytes / 4);
  });

  it('rejects invalid arguments', async () => {
    await expect(generateBenchData({ outDir: join(root, 'x'), resources: 0 })).rejects.toThrow(
      RangeError,
    );
    await expect(
      generateBenchData({ outDir: join(root, 'x'), resources: 10, seed: 1.5 }),
    ).rejects.toThrow(RangeError);
  });
});
