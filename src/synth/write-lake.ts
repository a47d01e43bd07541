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

  emit(r: JsonResource): void {
    const fields: [string, string][] = [];
    let line = `{"resourceType":${JSON.stringify(r.resourceType)}`;
    for (const k in r) {
      if (k === 'resourceType') continue;
      const v = r[k];
      if (v === undefined) continue; // as JSON.stringify does
      const text = JSON.stringify(v);
      fields.push([k, text]);
      line += `,${JSON.stringify(k)}:${text}`;
    }
    line += '}\n';
    // The digest and bytes are those of the NDJSON line the resource would be.
    this.hash.update(line);
    this.bytes += Buffer.byteLength(line);
    this.counts[r.resourceType] = (this.counts[r.resourceType] ?? 0) + 1;
    const meta = r['meta'] as { versionId?: unknown; lastUpdated?: unknown } | undefined;
    // As the NDJSON reader reads an instant: a date-time without a zone is not one.
    const lus = typeof meta?.lastUpdated === 'string' ? meta.lastUpdated : '';
    const lu = lus.includes('T') && !/(?:Z|[+-]\d\d:\d\d)$/.test(lus) ? NaN : Date.parse(lus);
    const rec: ParsedResource = {
      kind: 'resource',
      resourceType: r.resourceType,
      id: r.id,
      idDerived: false,
      versionId: typeof meta?.versionId === 'string' ? meta.versionId : null,
      lastUpdated: Number.isNaN(lu) ? null : lu,
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
