/** Where `synthesize` sends resources: NDJSON files (write-ndjson.ts) or a lake (write-lake.ts). */
import type { PrepareKind, PreparedBlock, PreparedResource } from './prepare.js';
import type { JsonResource } from './shared-resources.js';

export interface SynthSink {
  /** Takes one resource; call `drain()` now and then to honour backpressure. */
  emit(resource: JsonResource): void;
  /** How resources are prepared for `emitPrepared` (in generator workers). */
  readonly prepareKind?: PrepareKind;
  /** Takes one resource prepared by `prepareResource(r, prepareKind)`, in output order. */
  emitPrepared?(resource: PreparedResource): void;
  /** Takes a block of NDJSON lines of one type ('line' sinks). */
  emitBlock?(block: PreparedBlock): void;
  drain(): Promise<void>;
  /** Finishes; returns resources per type and the bytes of their JSON text. */
  close(): Promise<{ counts: Record<string, number>; bytes: number }>;
  /** Stops without waiting, after an error. */
  destroy(): void;
}
