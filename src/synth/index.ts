/**
 * `synthesize`: writes a synthetic population as FHIR R4 NDJSON plus truth.json.
 * Patients are generated one at a time from their own PRNG and written at once; only the
 * shared sites and fixed-size truth counters stay in memory.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { parseDay, yearOf } from './dates.js';
import { generatePatient, setUpRun } from './generate.js';
import { localizeResource } from './region-cn.js';
import type { JsonResource } from './shared-resources.js';
import type { SynthWorkerData, SynthWorkerReply, SynthWorkerRequest } from './synth-worker.js';
import { SYNTH_REGIONS, TruthRecorder } from './truth.js';
import type { RegionalExcess, SynthArguments, SynthRegion, Truth } from './truth.js';
import { CONDITION_KEYS } from './conditions.js';
import { NdjsonWriter } from './write-ndjson.js';
import type { SynthSink } from './sink.js';
import { addCounters, canonicalCounters } from './parts.js';
import type {
  Counters,
  FormatWriter,
  FormatWriterFactory,
  SynthPart,
  SynthPartFactory,
} from './parts.js';
import { SYNTH_FORMAT_WRITERS, SYNTH_PARTS } from './registry.js';

export { SYNTH_GENERATOR, SYNTH_REGIONS, SYNTH_VERSION } from './truth.js';
export type { RegionalExcess, SynthArguments, SynthRegion, Truth } from './truth.js';
export { BED_COUNT_EXTENSION_URL } from './shared-resources.js';

export const SYNTH_DEFAULTS = {
  seed: 1,
  start: '2015-01-01',
  end: '2025-12-31',
  region: 'us',
  outDir: './medlake-synth',
} as const;

/** Output order of the core's resource types in counts and truth.json (parts' types follow). */
export const SYNTH_CORE_RESOURCE_TYPES = [
  'Organization',
  'Location',
  'Practitioner',
  'Patient',
  'Encounter',
  'Condition',
  'AllergyIntolerance',
  'MedicationRequest',
  'Observation',
  'DiagnosticReport',
] as const;

export interface SynthOptions {
  readonly patients: number;
  readonly seed?: number;
  /** First day of the window, YYYY-MM-DD. */
  readonly start?: string;
  /** Last day of the window, YYYY-MM-DD; ages follow the census at this date. */
  readonly end?: string;
  readonly region?: SynthRegion;
  /** Plant a regional excess of one condition (truth.json records it). */
  readonly regionalExcess?: RegionalExcess;
  readonly outDir?: string;
  readonly onProgress?: (patientsDone: number) => void;
  /** Where resources go instead of NDJSON files in outDir (e.g. a lake, see write-lake.ts). */
  readonly sink?: SynthSink;
  /** Parts run after the core history, in order (default: all of registry.ts). */
  readonly parts?: readonly SynthPartFactory[];
  /**
   * Extra output formats besides the FHIR NDJSON in outDir (fhir-ndjson is always
   * written), each to outDir/<format>/ (default: none).
   */
  readonly formats?: readonly string[];
  /**
   * Generator threads (default: 1 on 2 cores or fewer, else cores - 1, at most 4). Output is
   * the same for any number; custom `parts` and extra `formats` run in this thread.
   */
  readonly workers?: number;
  /** Writers by format name (default: registry.ts); tests may add their own. */
  readonly formatWriters?: Readonly<Record<string, FormatWriterFactory>>;
}

export interface SynthSummary {
  readonly outDir: string;
  readonly patients: number;
  readonly resources: Record<string, number>;
  readonly bytes: number;
  readonly durationMs: number;
  readonly truthFile: string;
  /** Files of the extra formats, relative to outDir, by format. */
  readonly formats: Record<string, { files: string[]; bytes: number }>;
}

/** Output formats `--formats` takes: fhir-ndjson (always written) and the registry's. */
export function synthFormats(): string[] {
  return ['fhir-ndjson', ...Object.keys(SYNTH_FORMAT_WRITERS)];
}

export const SYNTH_ERROR_CODES = {
  invalidArgument: 'SYNTH_INVALID_ARGUMENT',
  notImplemented: 'SYNTH_NOT_IMPLEMENTED',
} as const;
export type SynthErrorCode = (typeof SYNTH_ERROR_CODES)[keyof typeof SYNTH_ERROR_CODES];

export class SynthError extends Error {
  constructor(
    readonly code: SynthErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SynthError';
  }
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Checks and completes the options; throws SynthError with what to change. */
export function resolveSynthArguments(options: SynthOptions): SynthArguments {
  const args: SynthArguments = {
    patients: options.patients,
    seed: options.seed ?? SYNTH_DEFAULTS.seed,
    start: options.start ?? SYNTH_DEFAULTS.start,
    end: options.end ?? SYNTH_DEFAULTS.end,
    region: options.region ?? SYNTH_DEFAULTS.region,
    ...(options.regionalExcess === undefined ? {} : { regionalExcess: options.regionalExcess }),
  };
  const bad = (m: string): SynthError => new SynthError(SYNTH_ERROR_CODES.invalidArgument, m);
  if (!Number.isSafeInteger(args.patients) || args.patients < 1)
    throw bad(`patients must be a positive integer, got ${String(args.patients)}`);
  if (!Number.isSafeInteger(args.seed) || args.seed < 0)
    throw bad(`seed must be a non-negative integer, got ${String(args.seed)}`);
  for (const [name, v] of [
    ['start', args.start],
    ['end', args.end],
  ] as const)
    if (!DATE_RE.test(v) || Number.isNaN(parseDay(v)) || !Number.isNaN(Number(v)))
      throw bad(`${name} must be a date YYYY-MM-DD, got ${JSON.stringify(v)}`);
  if (parseDay(args.start) > parseDay(args.end))
    throw bad(`start (${args.start}) must not be after end (${args.end})`);
  const ex = args.regionalExcess;
  if (ex !== undefined) {
    if (!(CONDITION_KEYS as readonly string[]).includes(ex.condition))
      throw bad(
        `regional excess: unknown condition ${JSON.stringify(ex.condition)}; one of ${CONDITION_KEYS.join(', ')}`,
      );
    if (!(Number.isFinite(ex.factor) && ex.factor > 0))
      throw bad(`regional excess: factor must be a positive number, got ${String(ex.factor)}`);
    if (ex.region.trim() === '') throw bad('regional excess: region must not be empty');
  }
  if (!SYNTH_REGIONS.includes(args.region))
    throw bad(`region must be one of ${SYNTH_REGIONS.join(', ')}, got ${String(args.region)}`);
  return args;
}

export async function synthesize(options: SynthOptions): Promise<SynthSummary> {
  const started = Date.now();
  const args = resolveSynthArguments(options);
  let partCounters: readonly Counters[] | undefined;
  const outDir = resolve(options.outDir ?? SYNTH_DEFAULTS.outDir);
  const writerFactories = { ...SYNTH_FORMAT_WRITERS, ...options.formatWriters };
  const formats = [...new Set(options.formats ?? [])].filter((f) => f !== 'fhir-ndjson');
  for (const f of formats)
    if (writerFactories[f] === undefined)
      throw new SynthError(
        SYNTH_ERROR_CODES.invalidArgument,
        `unknown format ${JSON.stringify(f)}; formats: ${['fhir-ndjson', ...Object.keys(writerFactories)].join(', ')}`,
      );
  await mkdir(outDir, { recursive: true });
  const { run, siteResources } = setUpRun(args);
  const { window } = run;
  const truth = new TruthRecorder(args, yearOf(window.startDay), yearOf(window.endDay));
  const parts: SynthPart[] = (options.parts ?? SYNTH_PARTS).map((make) => make(run));
  const writer = options.sink ?? new NdjsonWriter(outDir, bulkManifestInfo(args));
  const emit = (r: JsonResource): void => writer.emit(r);
  const formatWriters: FormatWriter[] = [];
  let written: { counts: Record<string, number>; bytes: number };
  const formatOut: Record<string, { files: string[]; bytes: number }> = {};
  // Workers run the registry's parts into a sink that takes prepared resources; custom
  // parts or extra formats (which need each patient's objects here) run in this thread.
  const workers =
    options.parts === undefined &&
    formats.length === 0 &&
    writer.prepareKind !== undefined &&
    writer.emitPrepared !== undefined
      ? Math.max(1, Math.min(options.workers ?? defaultWorkers(), Math.ceil(args.patients / 256)))
      : 1;
  try {
    for (const f of formats) {
      const dir = join(outDir, f);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      formatWriters.push((writerFactories[f] as FormatWriterFactory)(dir, run));
    }
    // Shared resources go first, grouped by type, so each file starts with them.
    const shared: JsonResource[] = [];
    for (const type of SYNTH_CORE_RESOURCE_TYPES)
      for (const s of siteResources)
        for (const r of s.resources) if (r.resourceType === type) shared.push(r);
    for (const p of parts) if (p.shared !== undefined) shared.push(...p.shared(run));
    if (args.region === 'cn') for (const r of shared) localizeResource(r);
    for (const r of shared) emit(r);
    for (const w of formatWriters) await w.shared(shared);

    if (workers > 1) {
      partCounters = await generateInWorkers(args, workers, writer, options.onProgress, truth);
    } else
      for (let i = 0; i < args.patients; i++) {
        const out = generatePatient(i, run, parts, truth);
        for (const r of out.resources) emit(r);
        for (const w of formatWriters) await w.patient(out);
        if ((i & 255) === 255) {
          await writer.drain();
          options.onProgress?.(i + 1);
        }
      }
    written = await writer.close();
    for (const w of formatWriters) formatOut[w.format] = await w.close();
  } catch (e) {
    writer.destroy();
    for (const w of formatWriters) w.destroy();
    throw e;
  }
  const types = [...SYNTH_CORE_RESOURCE_TYPES, ...parts.flatMap((p) => p.resourceTypes)];
  const resources: Record<string, number> = {};
  for (const type of new Set(types)) resources[type] = written.counts[type] ?? 0;
  const truthFile = join(outDir, 'truth.json');
  const partTruth: Record<string, { parameters: unknown; realised: unknown }> = {};
  for (const [k, p] of parts.entries()) {
    const counters: Counters = canonicalCounters(partCounters?.[k] ?? p.counters());
    partTruth[p.name] = { parameters: p.parameters(run), realised: p.realised(counters, run) };
  }
  const truthJson: Truth = { ...truth.toJSON(resources), parts: partTruth };
  await writeFile(truthFile, JSON.stringify(truthJson, null, 2) + '\n');
  options.onProgress?.(args.patients);
  return {
    outDir,
    patients: args.patients,
    resources,
    bytes: written.bytes,
    durationMs: Date.now() - started,
    truthFile,
    formats: formatOut,
  };
}

/** Patients per chunk a worker makes at a time. */
const CHUNK = 256;

/**
 * Generator threads by default: none on 2 cores or fewer. Measured on the 2-vCPU dev
 * machine, two generator threads each ran about 1.7 times slower than one alone (V8 heaps
 * and GC helpers compete for the same two cores), so the main thread alone was faster;
 * with more cores, one thread per core beyond the writer, at most 4.
 */
function defaultWorkers(): number {
  const cores = availableParallelism();
  return cores <= 2 ? 1 : Math.min(4, cores - 1);
}

function startWorker(data: SynthWorkerData): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './synth-worker.ts' : './synth-worker.js', import.meta.url);
  // From TypeScript sources (tests, tsx) the worker registers the same loader first.
  return fromSource
    ? new Worker(
        `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`,
        { eval: true, workerData: data },
      )
    : new Worker(url, { workerData: data });
}

/**
 * Makes the patients in `workers` threads, a chunk of CHUNK patients at a time, and emits
 * their prepared resources to `sink` in patient order (so the output is the same as in one
 * thread). Adds the workers' core truth counters to `truth`; returns the parts' summed.
 */
async function generateInWorkers(
  args: SynthArguments,
  workers: number,
  sink: SynthSink,
  onProgress: ((patientsDone: number) => void) | undefined,
  truth: TruthRecorder,
): Promise<Counters[]> {
  const kind = sink.prepareKind as NonNullable<SynthSink['prepareKind']>;
  const emitPrepared = (sink.emitPrepared as NonNullable<SynthSink['emitPrepared']>).bind(sink);
  const emitBlock = sink.emitBlock?.bind(sink);
  if (kind === 'line' && emitBlock === undefined)
    throw new Error('a sink that takes lines must take blocks of them (emitBlock)');
  const pool = Array.from({ length: workers }, () => startWorker({ args, prepareKind: kind }));
  const chunks = Math.ceil(args.patients / CHUNK);
  const done = new Map<number, SynthWorkerReply & { kind: 'chunk' }>();
  let next = 0; // next chunk to hand out
  let written = 0; // chunks written
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  // By worker, so the sums are always added in the same order.
  const truths: ({ core: Record<string, unknown>; parts: readonly unknown[] } | undefined)[] =
    pool.map(() => undefined);
  // Chunks each worker has been sent and not yet returned. A worker gets a new chunk as
  // soon as it has fewer than two (one being made, one queued), as long as no more than
  // 4 chunks per worker wait unwritten (memory stays bounded when writing is slower).
  const outstanding = pool.map(() => 0);
  const dispatch = (): void => {
    for (let wi = 0; wi < workers; wi++)
      while (next < chunks && (outstanding[wi] as number) < 2 && next - written < 4 * workers) {
        const from = next * CHUNK;
        const m: SynthWorkerRequest = {
          kind: 'chunk',
          chunk: next++,
          from,
          to: Math.min(args.patients, from + CHUNK),
        };
        (outstanding[wi] as number)++;
        (pool[wi] as Worker).postMessage(m);
      }
  };
  for (const [wi, w] of pool.entries()) {
    w.on('message', (m: SynthWorkerReply) => {
      if (m.kind === 'chunk') {
        done.set(m.chunk, m);
        (outstanding[wi] as number)--;
        dispatch();
      } else if (m.kind === 'truth') truths[wi] = m;
      else failure ??= Object.assign(new Error(`synth worker: ${m.message}`), { stack: m.stack });
      wake?.();
    });
    w.on('error', (e) => {
      failure ??= e;
      wake?.();
    });
  }
  const waitForNews = (): Promise<void> =>
    new Promise((res) => {
      wake = () => {
        wake = undefined;
        res();
      };
    });
  dispatch();
  try {
    while (written < chunks) {
      if (failure !== undefined) throw failure;
      const c = done.get(written);
      if (c === undefined) {
        await waitForNews();
        continue;
      }
      done.delete(written);
      for (const r of c.resources) emitPrepared(r);
      for (const b of c.blocks) emitBlock?.(b);
      written++;
      dispatch();
      await sink.drain();
      onProgress?.(Math.min(args.patients, written * CHUNK));
    }
    for (const w of pool) w.postMessage({ kind: 'finish' } satisfies SynthWorkerRequest);
    while (truths.some((t) => t === undefined)) {
      if (failure !== undefined) throw failure;
      await waitForNews();
    }
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  let parts: Counters[] | undefined;
  for (const t of truths) {
    if (t === undefined) continue;
    truth.mergeCounters(t.core);
    parts =
      parts === undefined
        ? [...(t.parts as Counters[])]
        : parts.map((p, i) => addCounters(p, t.parts[i] as Counters));
  }
  return parts ?? [];
}

export type { SynthSink } from './sink.js';
export { BULK_MANIFEST_FILE } from './write-ndjson.js';

/** The Bulk Data manifest's request line and time, fixed by the arguments (see write-ndjson.ts). */
export function bulkManifestInfo(args: SynthArguments): {
  transactionTime: string;
  request: string;
} {
  return {
    transactionTime: `${args.end}T23:59:59Z`,
    request:
      `medlake synth --patients ${args.patients} --seed ${args.seed} ` +
      `--start ${args.start} --end ${args.end} --region ${args.region}` +
      (args.regionalExcess === undefined
        ? ''
        : ` --regional-excess ${args.regionalExcess.region}:${args.regionalExcess.condition}:${args.regionalExcess.factor}`),
  };
}
