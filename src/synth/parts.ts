/**
 * The generator's extension points.
 *
 * - A `SynthPart` adds resources to each patient after the core history (procedures,
 *   immunizations, imaging, the drug trial, claims, ...). It draws only from its own
 *   PRNG stream (`partRandom`), so adding or changing a part never changes what other
 *   parts or the core draw. It keeps its realised truth as additive counters, so truth
 *   from patients generated in separate workers can be summed.
 * - A `FormatWriter` writes one output format (fhir-bundle, hl7v2, dicom, sdtm,
 *   synthea-csv) from each finished patient's resources, streaming: it must not keep
 *   patients in memory after `patient()` returns (beyond fixed-size state).
 */
import type { PatientHistory, SynthWindow } from './patient-history.js';
import { Random } from './random.js';
import type { JsonResource, Site } from './shared-resources.js';
import type { SynthArguments } from './truth.js';

/** Additive counters: numbers, or records/arrays of them, nested. Summed key by key. */
export type Counters = number | readonly Counters[] | { readonly [k: string]: Counters };

/** The run a part or writer belongs to. */
export interface SynthRun {
  readonly args: SynthArguments;
  readonly window: SynthWindow;
  /** Shared sites (Organization, Location, Practitioners), index = PatientHistory.site. */
  readonly sites: readonly Site[];
}

/** One generated patient, passed through the parts in order, then to the writers. */
export interface PatientOutput {
  readonly history: PatientHistory;
  /**
   * The patient's resources in output order, the Patient first; each part appends its own
   * (and may read, never change, those before it).
   */
  readonly resources: JsonResource[];
}

export interface SynthPart {
  /** Its key under truth.json `parts` (and in docs/synth.md). */
  readonly name: string;
  /** Its PRNG stream, from PART_STREAMS. */
  readonly stream: number;
  /** Resource types it may emit, in output order (patients' NDJSON files follow this). */
  readonly resourceTypes: readonly string[];
  /** Resources emitted once before any patient (e.g. payers' Organizations, a ResearchStudy). */
  shared?(run: SynthRun): JsonResource[];
  /** Appends the patient's resources of this part; `rng` is this part's stream for the patient. */
  patient(out: PatientOutput, rng: Random, run: SynthRun): void;
  /** Parameters as written to truth.json (fixed by the code and the arguments). */
  parameters(run: SynthRun): unknown;
  /** Realised counters so far (additive, see Counters). */
  counters(): Counters;
  /** The realised section of truth.json from the (summed) counters: rates, CIs, tables. */
  realised(counters: Counters, run: SynthRun): unknown;
}

/** A part's constructor: one instance per run (or per worker). */
export type SynthPartFactory = (run: SynthRun) => SynthPart;

export interface FormatWriter {
  /** Written under outDir/<format>/. */
  readonly format: string;
  /** Shared resources (sites, parts' shared resources), once, before any patient. */
  shared(resources: readonly JsonResource[]): Promise<void> | void;
  patient(out: PatientOutput): Promise<void> | void;
  /** Finishes; the files written (relative to outDir) and their bytes. */
  close(): Promise<{ files: string[]; bytes: number }>;
  /** Stops without waiting, after an error. */
  destroy(): void;
}

/** A writer's constructor: `dir` (outDir/<format>) exists and is empty. */
export type FormatWriterFactory = (dir: string, run: SynthRun) => FormatWriter;

/** The PRNG of one part for one patient: depends only on (seed, part stream, patient index). */
export function partRandom(seed: number, stream: number, patientIndex: number): Random {
  return new Random(seed, stream, patientIndex);
}

/** Sums counters of the same shape (missing keys count as zero). */
export function addCounters(a: Counters, b: Counters): Counters {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    return Array.from({ length: n }, (_, i) => addCounters(a[i] ?? 0, b[i] ?? 0));
  }
  if (typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Record<string, Counters> = {};
    const ra = a as Record<string, Counters>;
    const rb = b as Record<string, Counters>;
    for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)]))
      out[k] = addCounters(ra[k] ?? 0, rb[k] ?? 0);
    return out;
  }
  if (a === 0) return b;
  if (b === 0) return a;
  throw new Error('addCounters: counters of different shapes');
}

/**
 * PRNG streams of the parts (the core uses its own). A new part takes a new number; a
 * number is never reused for something else, so existing output stays the same.
 */
export const PART_STREAMS = {
  insurance: 0x7061_7931,
  procedures: 0x7072_6331,
  immunizations: 0x696d_6d31,
  imaging: 0x696d_6731,
  trial: 0x7472_6931,
  claims: 0x636c_6d31,
  treatment: 0x7478_3031,
} as const;

/**
 * The same counters with every record's keys sorted, so truth does not depend on which
 * patients (or which worker) met a key first.
 */
export function canonicalCounters(c: Counters): Counters {
  if (typeof c === 'number') return c;
  if (Array.isArray(c)) return (c as readonly Counters[]).map(canonicalCounters);
  const r = c as Record<string, Counters>;
  const out: Record<string, Counters> = {};
  for (const k of Object.keys(r).sort()) out[k] = canonicalCounters(r[k] as Counters);
  return out;
}
