/**
 * Staging for resources produced in memory (the synthetic generator) rather than read
 * from files: the producer hands ParsedResource records straight to the same per-type
 * StagingWriter a file load uses, so the merge and commit that follow are the same and
 * no NDJSON is written or parsed in between.
 */
import { isFhirId } from '../ingest/fhir-json-reader.js';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { ParsedResource, QuarantinedRecord } from '../ingest/types.js';
import { StagingWriter, isStorableElementName } from './layout.js';
import { quarantineLine, type StageJob, type StageProgress, type StageResult } from './stage.js';

/** Takes one resource; when it returns a promise, await it before the next `add`. */
export interface ResourceSink {
  add(resource: ParsedResource): Promise<void> | undefined;
  /** Records a record that cannot be loaded in the load's quarantine file, with its reason. */
  quarantine(record: QuarantinedRecord): Promise<void>;
}

/**
 * Feeds resources to `sink` and returns what the load records as its source: a label
 * (e.g. `synth:seed=1`) with a digest and byte count of the resources' JSON text.
 */
export type ResourceProducer = (
  sink: ResourceSink,
) => Promise<{ readonly path: string; readonly sha256: string; readonly bytes: number }>;

/**
 * Stages what `produce` emits. Records must be loadable as they are (a FHIR id, element
 * names the lake can store): a producer's bad record is a bug, so it throws rather than
 * quarantines. Records are numbered in the order they arrive (@seq).
 */
export async function stageRecords(
  job: StageJob,
  produce: ResourceProducer,
  onProgress?: (delta: StageProgress) => void,
): Promise<StageResult> {
  const writers = new Map<string, StagingWriter>();
  let seq = 0;
  let pending = 0;
  const quarantinePath = path.join(job.dir, `quarantine-w${job.workerId}.ndjson`);
  let quarantineOut: WriteStream | undefined;
  let quarantined = 0;
  const sink: ResourceSink = {
    async quarantine(rec) {
      if (quarantineOut === undefined) {
        quarantineOut = createWriteStream(quarantinePath);
        quarantineOut.on('error', () => undefined); // reported by the write below
      }
      const out = quarantineOut;
      if (out.errored !== null) throw out.errored;
      if (!out.write(quarantineLine(rec) + '\n'))
        await new Promise<void>((res) => out.once('drain', () => res()));
      quarantined++;
    },
    add(rec) {
      if (!isFhirId(rec.id))
        throw new Error(`${rec.resourceType}: bad id ${JSON.stringify(rec.id)}`);
      for (const [k] of rec.fields)
        if (!isStorableElementName(k))
          throw new Error(`${rec.resourceType}/${rec.id}: bad element name ${JSON.stringify(k)}`);
      let w = writers.get(rec.resourceType);
      if (w === undefined) {
        w = new StagingWriter(job.dir, `${rec.resourceType}-w${job.workerId}`);
        writers.set(rec.resourceType, w);
      }
      seq++;
      if (++pending === 4096) {
        onProgress?.({ bytes: 0, resources: pending, quarantined: 0 });
        pending = 0;
      }
      return w.add({ resource: rec, load: job.loadId, seq });
    },
  };
  const digest = await produce(sink);
  const types: StageResult['types'] = {};
  for (const [type, w] of writers) {
    await w.close();
    types[type] = { files: [...w.files], columns: [...w.elementColumns], rows: w.rows };
  }
  if (quarantineOut !== undefined) {
    const out = quarantineOut;
    await new Promise<void>((res, rej) =>
      out.end((err?: Error | null) => (err ? rej(err) : res())),
    );
  }
  onProgress?.({ bytes: digest.bytes, resources: pending, quarantined });
  return {
    types,
    quarantined,
    quarantineFile: quarantined > 0 ? quarantinePath : null,
    derivedIds: 0,
    digests: [{ fileIndex: 0, ...digest }],
    tables: [],
  };
}
