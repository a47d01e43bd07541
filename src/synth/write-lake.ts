/**
 * `medlake synth --lake DIR`: generates straight into a lake, no files in between. Each
 * resource is split at its top level (JSON.stringify of each element, the text the
 * NDJSON reader would have kept) and handed to the lake's staging as a ParsedResource;
 * the lake then merges and commits as for any load. truth.json goes to DIR/truth.json,
 * beside the lake's manifest, once the load has committed.
 */
import { createHash } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ParsedResource } from '../ingest/types.js';
import { loadRecordsIntoLake } from '../lake/load.js';
import type { LoadOptions, LoadSummary } from '../lake/load.js';
import type { ResourceSink } from '../lake/stage-records.js';
import { resolveSynthArguments, synthesize } from './index.js';
import type { SynthOptions, SynthSummary } from './index.js';
import type { JsonResource } from './shared-resources.js';
import type { SynthSink } from './sink.js';
import { lineOfSplit, prepareResource } from './prepare.js';
import type { PreparedResource } from './prepare.js';

export interface SynthLakeSummary {
  readonly synth: SynthSummary;
  readonly load: LoadSummary;
}

/** A SynthSink that stages into a lake load, keeping a digest of the JSON it stands for. */
class LakeSink implements SynthSink {
  private readonly queue: ParsedResource[] = [];
  private waiting: Promise<void> | undefined;
  private failed: { err: unknown } | undefined;
  private readonly counts: Record<string, number> = {};
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private seq = 0;

  constructor(
    private readonly sink: ResourceSink,
    private readonly label: string,
  ) {}

  readonly prepareKind = 'split';

  emit(r: JsonResource): void {
    this.emitPrepared(prepareResource(r, 'split'));
  }

  emitPrepared(p: PreparedResource): void {
    const s = p.kind === 'split' ? p : null;
    if (s === null) throw new Error('LakeSink takes split resources');
    const line = lineOfSplit(s) + '\n';
    // The digest and bytes are those of the NDJSON line the resource would be.
    this.hash.update(line);
    this.bytes += Buffer.byteLength(line);
    this.counts[s.resourceType] = (this.counts[s.resourceType] ?? 0) + 1;
    const fields: [string, string][] = [];
    for (let i = 0; i < s.fields.length; i += 2)
      fields.push([s.fields[i] as string, s.fields[i + 1] as string]);
    const rec: ParsedResource = {
      kind: 'resource',
      resourceType: s.resourceType,
      id: s.id,
      idDerived: false,
      versionId: s.versionId,
      lastUpdated: s.lastUpdated,
      fields,
      source: { file: this.label, line: ++this.seq },
    };
    if (this.waiting !== undefined) this.queue.push(rec);
    else this.add(rec);
  }

  /** Adds now; a returned promise holds back later records (queued) until it settles. */
  private add(rec: ParsedResource): void {
    const p = this.sink.add(rec);
    if (p !== undefined)
      this.waiting = p.catch((err: unknown) => {
        this.failed ??= { err };
      });
  }

  async drain(): Promise<void> {
    while (this.waiting !== undefined) {
      await this.waiting;
      this.waiting = undefined;
      if (this.failed !== undefined) throw this.failed.err;
      let i = 0;
      while (i < this.queue.length && this.waiting === undefined) this.add(this.queue[i++]!);
      this.queue.splice(0, i);
    }
    if (this.failed !== undefined) throw this.failed.err;
  }

  async close(): Promise<{ counts: Record<string, number>; bytes: number }> {
    await this.drain();
    return { counts: { ...this.counts }, bytes: this.bytes };
  }

  digest(): { path: string; sha256: string; bytes: number } {
    return { path: this.label, sha256: this.hash.digest('hex'), bytes: this.bytes };
  }

  destroy(): void {
    this.queue.length = 0;
  }
}

/**
 * Generates `options` into the lake at `lakeDir` in one load (the lake's lock held
 * throughout). Memory stays flat: resources go to the lake's staging files as they are
 * made. truth.json is written to a temporary name first and moved to DIR/truth.json only
 * after the commit, so a failed load leaves no truth for data the lake does not hold.
 */
export async function synthesizeIntoLake(
  lakeDir: string,
  options: Omit<SynthOptions, 'outDir' | 'sink'>,
  loadOptions: LoadOptions = {},
): Promise<SynthLakeSummary> {
  const args = resolveSynthArguments(options);
  const dir = resolve(lakeDir);
  const label =
    `synth:patients=${args.patients},seed=${args.seed},start=${args.start},` +
    `end=${args.end},region=${args.region}`;
  // synthesize() writes truth.json into its outDir; a private folder inside the lake
  // (dot-named, so neither the lake nor discovery looks at it) holds it until the commit.
  const pending = join(dir, `.synth-truth-${process.pid}`);
  let synth: SynthSummary | undefined;
  try {
    const load = await loadRecordsIntoLake(
      dir,
      async (sink) => {
        const lakeSink = new LakeSink(sink, label);
        synth = await synthesize({ ...options, outDir: pending, sink: lakeSink });
        return lakeSink.digest();
      },
      loadOptions,
    );
    const truthFile = join(dir, 'truth.json');
    await rename(join(pending, 'truth.json'), truthFile);
    const s = synth!;
    return {
      synth: { ...s, outDir: dir, truthFile, durationMs: load.durationMs },
      load,
    };
  } finally {
    await rm(pending, { recursive: true, force: true });
  }
}
