/**
 * One NDJSON file per resource type (`Patient.ndjson`, ...). Lines collect in a per-type
 * string buffer that is handed to the file stream at about 1 MB, awaiting 'drain' on
 * backpressure, so memory stays flat however many patients are written.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';

const FLUSH_CHARS = 1 << 20;

interface TypeFile {
  readonly stream: WriteStream;
  pending: string[];
  pendingChars: number;
  count: number;
  bytes: number;
}

export class NdjsonWriter {
  private readonly files = new Map<string, TypeFile>();
  private readonly blocked: WriteStream[] = [];

  constructor(private readonly dir: string) {}

  /** Queues one line; call `drain()` now and then to honour backpressure. */
  write(resourceType: string, json: string): void {
    let f = this.files.get(resourceType);
    if (f === undefined) {
      const stream = createWriteStream(join(this.dir, `${resourceType}.ndjson`));
      f = { stream, pending: [], pendingChars: 0, count: 0, bytes: 0 };
      this.files.set(resourceType, f);
    }
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
    return { counts, bytes };
  }

  /** Closes the files without waiting, after an error. */
  destroy(): void {
    for (const f of this.files.values()) f.stream.destroy();
  }
}
