/**
 * Staging for resources produced in memory (the synthetic generator) rather than read
 * from files: the producer hands ParsedResource records straight to the same per-type
 * StagingWriter a file load uses, so the merge and commit that follow are the same and
 * no NDJSON is written or parsed in between.
 */
import { isFhirId } from '../ingest/fhir-json-reader.js';
import type { ParsedResource } from '../ingest/types.js';
import { StagingWriter, isStorableElementName } from './layout.js';
import type { StageJob, StageProgress, StageResult } from './stage.js';

/** Takes one resource; when it returns a promise, await it before the next `add`. */
export interface ResourceSink {
  add(resource: ParsedResource): Promise<void> | undefined;
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
  const sink: ResourceSink = {
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
  onProgress?.({ bytes: digest.bytes, resources: pending, quarantined: 0 });
  return {
    types,
    quarantined: 0,
    quarantineFile: null,
    derivedIds: 0,
    digests: [{ fileIndex: 0, ...digest }],
  };
}
