/** A one-line progress bar for terminals (ingest). Not used when output is not a TTY. */
import type { LoadProgress } from '../lake/load.js';

export class Progress {
  private readonly started = Date.now();
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(p: LoadProgress): void {
    const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesRead / p.bytesTotal) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const secs = (Date.now() - this.started) / 1000;
    const mbps = secs > 0 ? p.bytesRead / 1024 / 1024 / secs : 0;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${p.resources} resources  ${p.quarantined} quarantined  ${mbps.toFixed(0)} MB/s`;
    this.out.write(`\r${line.slice(0, (this.out.columns ?? 100) - 1)}`);
    this.shown = true;
  }

  done(): void {
    if (this.shown) this.out.write('\r\x1b[K');
  }
}
