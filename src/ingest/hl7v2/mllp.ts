/**
 * An MLLP listener (HL7 v2 Minimal Lower Layer Protocol, release 2: a message is framed as
 * VT `0x0B` ... FS `0x1C` CR `0x0D`) that parses each frame, commits parsed messages in small
 * batches through the caller's `commit` and only then ACKs them: AA when committed, AE with
 * the error when the commit (its mapping) refused the message or failed, AR when the frame
 * is not a parseable message or is too long. See docs/ingest-hl7v2-mllp.md.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { buildAck } from './ack.js';
import type { Hl7Message } from './model.js';
import { Hl7ParseError, parseHl7Message } from './parse.js';

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

/** One parsed message handed to `commit`, with the frame's text as received. */
export interface MllpMessage {
  readonly msg: Hl7Message;
  readonly raw: string;
}

/** Per message of a batch, in order: committed, or why not (sent back in an AE). */
export type CommitResult = 'ok' | { readonly error: string };

export type CommitFn = (
  messages: readonly MllpMessage[],
) => Promise<{ readonly results: readonly CommitResult[] }>;

/** A frame answered with AR (not committed): for the caller's quarantine record. */
export interface MllpRejected {
  readonly raw: string;
  readonly reason: string;
  readonly remote: string;
}

export interface MllpBatchSummary {
  readonly messages: number;
  readonly committed: number;
  readonly errors: number;
  readonly durationMs: number;
  /** Set when the commit itself failed (every message of the batch got an AE). */
  readonly failure?: string;
}

export interface MllpServerOptions {
  /** Interface to listen on (default 127.0.0.1: not reachable from other hosts). */
  readonly host?: string;
  /** TCP port (0: any free port; see the address `start` returns). */
  readonly port: number;
  /** Commits a batch (e.g. maps to FHIR and loads into the lake); one call at a time. */
  readonly commit: CommitFn;
  /** Most messages per commit (default 500). */
  readonly batchSize?: number;
  /** Longest a message waits for its batch to fill, in ms (default 1000). */
  readonly batchMs?: number;
  /**
   * Commit early when every connection with messages waiting has sent nothing more since
   * (a sender waiting for its ACK cannot add to the batch). Default true; false waits for
   * batchSize or batchMs always.
   */
  readonly flushWhenIdle?: boolean;
  /** Longest frame in bytes (default 16 MiB); longer frames are dropped with an AR. */
  readonly maxFrameBytes?: number;
  /** Called for each frame answered AR. */
  readonly onRejected?: (r: MllpRejected) => void;
  /** Called after each commit. */
  readonly onBatch?: (s: MllpBatchSummary) => void;
  /** Diagnostics (garbage skipped, connections dropped mid-frame, write errors). */
  readonly log?: (line: string) => void;
}

interface Pending {
  readonly item: MllpMessage;
  readonly conn: Connection;
  readonly slot: { ack: string | null };
}

/** Bytes of an over-long frame kept, to read its MSH for the AR. */
const HEAD_BYTES = 64 * 1024;

/** One client connection: MLLP de-framing state. */
class Connection {
  /** Bytes of the frame being received (after VT). */
  private parts: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  /** FS seen as the last byte of a chunk: the frame ends if CR follows (or anyway). */
  private pendingFs = false;
  private tooLong = false;
  private garbage = 0;
  /** Messages of this connection waiting in the batch. */
  waiting = 0;
  /** The socket closed: ACKs for it are not sent. */
  closed = false;

  constructor(
    readonly socket: net.Socket,
    readonly remote: string,
    private readonly server: MllpServer,
    private readonly maxFrame: number,
  ) {}

  /** Consumes bytes, calling onFrame for each complete frame. */
  data(buf: Buffer): void {
    let i = 0;
    const n = buf.length;
    if (this.pendingFs) {
      this.pendingFs = false;
      this.endFrame();
      if (n > 0 && buf[0] === CR) i = 1;
    }
    while (i < n) {
      if (!this.inFrame) {
        const vt = buf.indexOf(VT, i);
        const end = vt < 0 ? n : vt;
        const skipped = buf.subarray(i, end);
        // CR/LF between frames are common (FS CR LF); anything else is garbage
        for (const b of skipped) if (b !== CR && b !== 0x0a) this.garbage++;
        if (vt < 0) break;
        this.reportGarbage();
        this.inFrame = true;
        this.parts = [];
        this.size = 0;
        this.tooLong = false;
        i = vt + 1;
        continue;
      }
      // in a frame: up to FS, or a VT that restarts (the previous frame never ended)
      let j = i;
      while (j < n && buf[j] !== FS && buf[j] !== VT) j++;
      this.append(buf.subarray(i, j));
      if (j >= n) break;
      if (buf[j] === VT) {
        this.server.logLine(
          `${this.remote}: a new frame started before the previous one ended; dropped ${this.size} bytes`,
        );
        this.parts = [];
        this.size = 0;
        this.tooLong = false;
        i = j + 1;
        continue;
      }
      // FS: end of frame; the CR after it is consumed (also when it comes in the next chunk)
      if (j + 1 >= n) {
        this.pendingFs = true;
        break;
      }
      this.endFrame();
      i = buf[j + 1] === CR ? j + 2 : j + 1;
    }
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    this.size += b.length;
    if (this.tooLong) return;
    if (this.size > this.maxFrame) {
      // keep only the beginning (for the AR's MSH), drop the rest as it comes
      const kept = Buffer.concat([...this.parts, b]).subarray(0, HEAD_BYTES);
      this.parts = [kept];
      this.tooLong = true;
      return;
    }
    this.parts.push(b);
  }

  private endFrame(): void {
    this.inFrame = false;
    const bytes = Buffer.concat(this.parts);
    this.parts = [];
    const text = new TextDecoder('utf-8').decode(bytes);
    if (this.tooLong)
      this.server.reject(
        this,
        text,
        `frame of ${this.size} bytes is longer than the limit ${this.maxFrame}`,
      );
    else this.server.frame(this, text);
    this.size = 0;
    this.tooLong = false;
  }

  reportGarbage(): void {
    if (this.garbage > 0) {
      this.server.logLine(`${this.remote}: skipped ${this.garbage} bytes outside MLLP frames`);
      this.garbage = 0;
    }
  }

  /** The connection ended: a partial frame is dropped (nothing of it was committed). */
  end(): void {
    this.closed = true;
    this.reportGarbage();
    if (this.inFrame && (this.size > 0 || this.pendingFs))
      this.server.logLine(
        `${this.remote}: disconnected in the middle of a frame; dropped ${this.size} bytes (not ACKed)`,
      );
    this.parts = [];
    this.inFrame = false;
  }

  /** ACKs in the order of their frames: a slot per frame, sent once all before it are. */
  private readonly slots: { ack: string | null }[] = [];

  /** Reserves the ACK slot of the next frame. */
  reserve(): { ack: string | null } {
    const slot = { ack: null };
    this.slots.push(slot);
    return slot;
  }

  /** Fills a slot and sends every ACK that is now first in line. */
  send(slot: { ack: string | null }, ack: string): void {
    slot.ack = ack;
    while (this.slots.length > 0 && this.slots[0]!.ack !== null) {
      const a = this.slots.shift()!.ack!;
      if (this.closed || this.socket.destroyed || !this.socket.writable) continue;
      this.socket.write(
        Buffer.concat([Buffer.from([VT]), Buffer.from(a, 'utf8'), Buffer.from([FS, CR])]),
      );
    }
  }
}

/** For an AR to a frame that failed to parse: its MSH alone, when that much parses. */
function headerOnly(text: string): Hl7Message | null {
  const start = text.replace(/^[\s\ufeff]+/, '');
  const first = start.split(/\r\n|\r|\n/, 1)[0] ?? '';
  if (!first.startsWith('MSH')) return null;
  try {
    return parseHl7Message(first);
  } catch {
    return null;
  }
}

export class MllpServer {
  private server: net.Server | null = null;
  private options: MllpServerOptions | null = null;
  private readonly conns = new Set<Connection>();
  private batch: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private idleCheck: NodeJS.Immediate | null = null;
  /** The commit in progress (commits run one at a time, in order). */
  private committing: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Messages received and not yet ACKed (pending batch + batches waiting to commit). */
  private inFlight = 0;
  /** Reading is paused on every socket (too many messages in flight; see maxInFlight). */
  private paused = false;

  /** Messages received and not yet ACKed. */
  get pendingMessages(): number {
    return this.inFlight;
  }

  /** Above this many messages in flight, sockets stop being read (memory stays bounded). */
  private get maxInFlight(): number {
    return 4 * (this.opts.batchSize ?? 500);
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  async start(options: MllpServerOptions): Promise<AddressInfo> {
    if (this.server !== null) throw new Error('MllpServer already started');
    this.options = options;
    const server = net.createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.logLine(`server error: ${err.message}`));
    return server.address() as AddressInfo;
  }

  /** Stops accepting, commits and ACKs what is pending, then closes every connection. */
  async stop(): Promise<void> {
    if (this.server === null || this.stopping) return;
    this.stopping = true;
    const server = this.server;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    this.cut();
    await this.committing;
    for (const c of this.conns) c.socket.end();
    // connections that do not close within a moment are destroyed
    const t = setTimeout(() => {
      for (const c of this.conns) c.socket.destroy();
    }, 1000);
    await closed;
    clearTimeout(t);
    this.server = null;
  }

  private get opts(): MllpServerOptions {
    if (this.options === null) throw new Error('MllpServer not started');
    return this.options;
  }

  logLine(line: string): void {
    this.options?.log?.(line);
  }

  private accept(socket: net.Socket): void {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const conn = new Connection(socket, remote, this, this.opts.maxFrameBytes ?? 16 * 1024 * 1024);
    this.conns.add(conn);
    if (this.paused) socket.pause();
    socket.on('data', (b: Buffer) => {
      try {
        conn.data(b);
      } catch (err) {
        // never let one client's bytes take the server down
        this.logLine(`${remote}: ${String(err)}; connection closed`);
        socket.destroy();
      }
      this.scheduleIdleCheck();
    });
    socket.on('error', (err) => this.logLine(`${remote}: ${err.message}`));
    socket.on('close', () => {
      conn.end();
      this.conns.delete(conn);
      this.scheduleIdleCheck();
    });
  }

  /** A frame's text: parsed and queued, or answered AR. */
  frame(conn: Connection, raw: string): void {
    let msg: Hl7Message;
    try {
      msg = parseHl7Message(raw);
    } catch (err) {
      const reason = err instanceof Hl7ParseError ? err.message : String(err);
      this.reject(conn, raw, reason);
      return;
    }
    if (this.stopping) {
      // not committed: AR (rejected for a reason unrelated to its content) so it is resent
      conn.send(
        conn.reserve(),
        buildAck(msg, 'AR', 'the listener is stopping; send the message again later'),
      );
      return;
    }
    this.batch.push({ item: { msg, raw }, conn, slot: conn.reserve() });
    conn.waiting++;
    this.inFlight++;
    if (!this.paused && this.inFlight >= this.maxInFlight) {
      // backpressure: commits are behind; TCP flow control slows the senders down
      this.paused = true;
      for (const c of this.conns) c.socket.pause();
    }
    if (this.batch.length >= (this.opts.batchSize ?? 500)) this.cut();
    else if (this.timer === null)
      this.timer = setTimeout(() => this.cut(), this.opts.batchMs ?? 1000);
  }

  reject(conn: Connection, raw: string, reason: string): void {
    this.opts.onRejected?.({ raw, reason, remote: conn.remote });
    this.logLine(`${conn.remote}: rejected (AR): ${reason}`);
    conn.send(conn.reserve(), buildAck(headerOnly(raw), 'AR', reason));
  }

  /**
   * After a burst of input: commit now if no connection with waiting messages can add more
   * (each has a message waiting, i.e. is waiting for its ACK, or is closed), see flushWhenIdle.
   */
  private scheduleIdleCheck(): void {
    if (this.idleCheck !== null || this.opts.flushWhenIdle === false) return;
    this.idleCheck = setImmediate(() => {
      this.idleCheck = null;
      if (this.batch.length === 0) return;
      let open = 0;
      let waiting = 0;
      for (const c of this.conns) {
        open++;
        if (c.waiting > 0) waiting++;
      }
      if (waiting === open) this.cut();
    });
  }

  /** Cuts the pending messages into a batch and queues its commit. */
  private cut(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.committing = this.committing
      .then(() => this.commitBatch(batch))
      .catch((err: unknown) => this.logLine(`after a commit: ${String(err)}`));
  }

  private async commitBatch(batch: readonly Pending[]): Promise<void> {
    const t0 = Date.now();
    let results: readonly CommitResult[];
    let failure: string | undefined;
    try {
      const r = await this.opts.commit(batch.map((p) => p.item));
      results = r.results;
    } catch (err) {
      failure = `commit failed: ${err instanceof Error ? err.message : String(err)}`;
      results = [];
    }
    let committed = 0;
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      p.conn.waiting--;
      this.inFlight--;
      const r: CommitResult =
        failure !== undefined
          ? { error: failure }
          : (results[i] ?? { error: 'the commit returned no result for this message' });
      if (r === 'ok') committed++;
      p.conn.send(
        p.slot,
        r === 'ok' ? buildAck(p.item.msg, 'AA') : buildAck(p.item.msg, 'AE', r.error),
      );
    }
    if (failure !== undefined) this.logLine(failure);
    if (this.paused && this.inFlight <= this.maxInFlight / 2) {
      this.paused = false;
      for (const c of this.conns) c.socket.resume();
    }
    this.opts.onBatch?.({
      messages: batch.length,
      committed,
      errors: batch.length - committed,
      durationMs: Date.now() - t0,
      ...(failure === undefined ? {} : { failure }),
    });
  }
}
