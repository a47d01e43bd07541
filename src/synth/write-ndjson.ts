/**
 * One NDJSON file per resource type (`Patient.ndjson`, ...). Lines collect in a per-type
 * string buffer that is handed to the file stream at about 1 MB, awaiting 'drain' on
 * backpressure, so memory stays flat however many patients are written. With `bulk`
 * set, `close()` also writes a Bulk Data export manifest (`manifest.json`) listing the
 * files, so Bulk Data clients and `medlake ingest DIR/manifest.json` read exactly them.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import type { JsonResource } from './shared-resources.js';
import type { SynthSink } from './sink.js';
import { lineOfSplit } from './prepare.js';
import type { PreparedBlock, PreparedResource } from './prepare.js';

const FLUSH_CHARS = 1 << 20;

interface TypeFile {
  readonly stream: WriteStream;
  pending: string[];
  pendingChars: number;
  count: number;
  bytes: number;
}

/**
 * The request-independent parts of a Bulk Data manifest
 * (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status). Both are
 * fixed by the arguments, not the clock, so the same seed gives the same bytes.
 */
export interface BulkManifestInfo {
  readonly transactionTime: string;
  readonly request: string;
}

export const BULK_MANIFEST_FILE = 'manifest.json';

export class NdjsonWriter implements SynthSink {
  private readonly files = new Map<string, TypeFile>();
  private readonly blocked: WriteStream[] = [];

  constructor(
    private readonly dir: string,
    private readonly bulk?: BulkManifestInfo,
  ) {}

  readonly prepareKind = 'line';

  emit(resource: JsonResource): void {
    this.write(resource.resourceType, JSON.stringify(resource));
  }

  emitPrepared(p: PreparedResource): void {
    if (p.kind === 'line') this.write(p.resourceType, p.line);
    else this.write(p.resourceType, lineOfSplit(p));
  }

  emitBlock(b: PreparedBlock): void {
    const f = this.file(b.resourceType);
    f.pending.push(b.text);
    f.pendingChars += b.text.length;
    f.count += b.count;
    if (f.pendingChars >= FLUSH_CHARS) this.flush(f);
  }

  private file(resourceType: string): TypeFile {
    let f = this.files.get(resourceType);
    if (f === undefined) {
      const stream = createWriteStream(join(this.dir, `${resourceType}.ndjson`));
      f = { stream, pending: [], pendingChars: 0, count: 0, bytes: 0 };
      this.files.set(resourceType, f);
    }
    return f;
  }

  /** Queues one line; call `drain()` now and then to honour backpressure. */
  write(resourceType: string, json: string): void {
    const f = this.file(resourceType);
    f.pending.push(json, '\n');
    f.pendingChars += json.length + 1;
    f.count++;
    if (f.pendingChars >= FLUSH_CHARS) this.flush(f);
  }

  private flush(f: TypeFile): void {
    if (f.pendingChars === 0) return;
    const buf = Buffer.from(f.pending.join(''), 'utf8');
    f.bytes += buf.length;
    f.pending = [];
    f.pendingChars = 0;
    if (!f.stream.write(buf)) this.blocked.push(f.stream);
  }

  /** Waits until every stream that refused a write has drained. */
  async drain(): Promise<void> {
    while (this.blocked.length > 0) {
      const s = this.blocked.pop() as WriteStream;
      if (s.writableNeedDrain) await once(s, 'drain');
    }
  }

  /** Flushes and closes every file; returns lines and bytes per resource type. */
  async close(): Promise<{ counts: Record<string, number>; bytes: number }> {
    const counts: Record<string, number> = {};
    let bytes = 0;
    for (const [type, f] of this.files) {
      this.flush(f);
      f.stream.end();
      await finished(f.stream);
      counts[type] = f.count;
      bytes += f.bytes;
    }
    if (this.bulk !== undefined) {
      const manifest = {
        transactionTime: this.bulk.transactionTime,
        request: this.bulk.request,
        requiresAccessToken: false,
        output: [...this.files.entries()].map(([type, f]) => ({
          type,
          url: `${type}.ndjson`,
          count: f.count,
        })),
        error: [],
      };
      await writeFile(join(this.dir, BULK_MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
    }
    return { counts, bytes };
  }

  /** Closes the files without waiting, after an error. */
  destroy(): void {
    for (const f of this.files.values()) f.stream.destroy();
  }
}
