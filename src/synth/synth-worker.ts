/**
 * A generator worker: makes the patients of the chunks it is sent and returns them
 * prepared for the sink (prepare.ts), so the main thread only writes. Patients depend only
 * on (seed, index), so output is the same for any number of workers. At the end it sends
 * its truth counters (core and parts), which the main thread adds up.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { generatePatient, setUpRun } from './generate.js';
import { prepareResource } from './prepare.js';
import type { PrepareKind, PreparedBlock, PreparedResource } from './prepare.js';
import { SYNTH_PARTS } from './registry.js';
import { TruthRecorder } from './truth.js';
import type { SynthArguments } from './truth.js';
import { yearOf } from './dates.js';

export interface SynthWorkerData {
  readonly args: SynthArguments;
  readonly prepareKind: PrepareKind;
}

export type SynthWorkerRequest =
  | { readonly kind: 'chunk'; readonly chunk: number; readonly from: number; readonly to: number }
  | { readonly kind: 'finish' };

export type SynthWorkerReply =
  | {
      readonly kind: 'chunk';
      readonly chunk: number;
      readonly resources: PreparedResource[];
      /** For 'line' sinks instead of `resources`: NDJSON lines by type, in order. */
      readonly blocks: readonly PreparedBlock[];
    }
  | {
      readonly kind: 'truth';
      readonly core: Record<string, unknown>;
      readonly parts: readonly unknown[];
    }
  | { readonly kind: 'error'; readonly message: string; readonly stack?: string };

const port = parentPort;
if (port === null) throw new Error('synth-worker must run in a worker thread');
const { args, prepareKind } = workerData as SynthWorkerData;
const { run } = setUpRun(args);
const parts = SYNTH_PARTS.map((make) => make(run));
const truth = new TruthRecorder(args, yearOf(run.window.startDay), yearOf(run.window.endDay));

port.on('message', (m: SynthWorkerRequest) => {
  try {
    if (m.kind === 'chunk' && prepareKind === 'line') {
      // NDJSON: one block of lines per type (a few large strings clone far faster than
      // many small objects).
      const blocks = new Map<string, { lines: string[]; count: number }>();
      for (let i = m.from; i < m.to; i++)
        for (const r of generatePatient(i, run, parts, truth).resources) {
          let b = blocks.get(r.resourceType);
          if (b === undefined) blocks.set(r.resourceType, (b = { lines: [], count: 0 }));
          b.lines.push(JSON.stringify(r));
          b.count++;
        }
      const reply: SynthWorkerReply = {
        kind: 'chunk',
        chunk: m.chunk,
        resources: [],
        blocks: [...blocks].map(([type, b]) => ({
          resourceType: type,
          text: b.lines.join('\n') + '\n',
          count: b.count,
        })),
      };
      port.postMessage(reply);
    } else if (m.kind === 'chunk') {
      const resources: PreparedResource[] = [];
      for (let i = m.from; i < m.to; i++)
        for (const r of generatePatient(i, run, parts, truth).resources)
          resources.push(prepareResource(r, prepareKind));
      const reply: SynthWorkerReply = { kind: 'chunk', chunk: m.chunk, resources, blocks: [] };
      port.postMessage(reply);
    } else {
      const reply: SynthWorkerReply = {
        kind: 'truth',
        core: truth.exportCounters(),
        parts: parts.map((p) => p.counters()),
      };
      port.postMessage(reply);
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const reply: SynthWorkerReply = { kind: 'error', message: err.message, stack: err.stack };
    port.postMessage(reply);
  }
});
