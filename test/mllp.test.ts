/**
 * The MLLP listener (src/ingest/hl7v2/mllp.ts) and ACKs (ack.ts), on 127.0.0.1 port 0 with a
 * commit callback of the test's own: AA only after commit, batch sizes, AR for frames that
 * are not messages or too long, garbage between frames, clients that disconnect mid-frame,
 * commit failures (AE, and the server keeps serving), concurrent clients, stop() flushing.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { buildAck } from '../src/ingest/hl7v2/ack.js';
import { MllpServer } from '../src/ingest/hl7v2/mllp.js';
import type {
  CommitFn,
  MllpBatchSummary,
  MllpMessage,
  MllpServerOptions,
} from '../src/ingest/hl7v2/mllp.js';
import { segment, value } from '../src/ingest/hl7v2/model.js';
import { parseHl7Message } from '../src/ingest/hl7v2/parse.js';

const VT = '\x0b';
const END = '\x1c\r';

const message = (id: string, version = '2.5.1'): string =>
  [
    `MSH|^~\\&|SENDER|SFAC|RECEIVER|RFAC|20240102030405||ADT^A04^ADT_A01|${id}|P|${version}`,
    'EVN|A04|20240102030405',
    `PID|1||${id}^^^HOSP^MR||DOE^JOHN`,
  ].join('\r');
const frame = (text: string): string => `${VT}${text}\r${END}`;

/** A client collecting the ACK frames it receives (parsed). */
class Client {
  readonly socket: net.Socket;
  private buf = '';
  readonly acks: ReturnType<typeof parseHl7Message>[] = [];
  private waiters: (() => void)[] = [];
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('data', (s: string) => {
      this.buf += s;
      for (;;) {
        const start = this.buf.indexOf(VT);
        const end = this.buf.indexOf(END, start);
        if (start < 0 || end < 0) break;
        this.acks.push(parseHl7Message(this.buf.slice(start + 1, end)));
        this.buf = this.buf.slice(end + 2);
      }
      for (const w of this.waiters) w();
    });
    this.socket.on('error', () => undefined);
  }
  connected(): Promise<void> {
    return new Promise((r) => this.socket.once('connect', () => r()));
  }
  send(s: string | Buffer): void {
    this.socket.write(s);
  }
  async waitAcks(n: number, ms = 5000): Promise<ReturnType<typeof parseHl7Message>[]> {
    const t0 = Date.now();
    while (this.acks.length < n) {
      if (Date.now() - t0 > ms) throw new Error(`got ${this.acks.length} ACKs, expected ${n}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.acks;
  }
  close(): void {
    this.socket.destroy();
  }
}

const msa = (ack: ReturnType<typeof parseHl7Message>): [string, string] => [
  value(segment(ack, 'MSA'), 1),
  value(segment(ack, 'MSA'), 2),
];

let servers: MllpServer[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  clients.length = 0;
  for (const s of servers) await s.stop();
  servers = [];
});

interface Harness {
  port: number;
  server: MllpServer;
  committed: MllpMessage[];
  batches: MllpBatchSummary[];
  rejected: string[];
  logs: string[];
  client(): Promise<Client>;
}

async function harness(
  opts: Partial<MllpServerOptions> & { commit?: CommitFn } = {},
): Promise<Harness> {
  const committed: MllpMessage[] = [];
  const batches: MllpBatchSummary[] = [];
  const rejected: string[] = [];
  const logs: string[] = [];
  const server = new MllpServer();
  servers.push(server);
  const commit: CommitFn =
    opts.commit ??
    ((msgs) => {
      committed.push(...msgs);
      return Promise.resolve({ results: msgs.map(() => 'ok' as const) });
    });
  const addr = await server.start({
    port: 0,
    batchMs: 50,
    ...opts,
    commit,
    onBatch: (b) => batches.push(b),
    onRejected: (r) => rejected.push(r.reason),
    log: (l) => logs.push(l),
  });
  return {
    port: addr.port,
    server,
    committed,
    batches,
    rejected,
    logs,
    async client() {
      const c = new Client(addr.port);
      clients.push(c);
      await c.connected();
      return c;
    },
  };
}

describe('buildAck', () => {
  it('answers with swapped sender/receiver, MSA and ERR in the message version', () => {
    const msg = parseHl7Message(message('C1'));
    const aa = parseHl7Message(buildAck(msg, 'AA', undefined, 'ACK1'));
    const msh = segment(aa, 'MSH');
    expect([3, 4, 5, 6].map((n) => value(msh, n))).toEqual(['RECEIVER', 'RFAC', 'SENDER', 'SFAC']);
    expect([aa.type, aa.event, aa.structure, aa.controlId, aa.version]).toEqual([
      'ACK',
      'A04',
      'ACK',
      'ACK1',
      '2.5.1',
    ]);
    expect(msa(aa)).toEqual(['AA', 'C1']);
    expect(segment(aa, 'ERR')).toBeUndefined();
    const ae = parseHl7Message(buildAck(msg, 'AE', 'bad | value ^ with\rCR'));
    expect(msa(ae)).toEqual(['AE', 'C1']);
    const err = segment(ae, 'ERR');
    expect(value(err, 3)).toBe('207');
    expect(value(err, 3, 3)).toBe('HL70357');
    expect(value(err, 4)).toBe('E');
    expect(value(err, 8)).toBe('bad | value ^ with\rCR');
    // v2.3: MSA-3 text message and ERR-1 code with text
    const old = parseHl7Message(buildAck(parseHl7Message(message('C2', '2.3')), 'AR', 'nope'));
    expect(old.version).toBe('2.3');
    expect(value(segment(old, 'MSA'), 3)).toBe('nope');
    expect(value(segment(old, 'ERR'), 1, 4, 2)).toBe('nope');
  });

  it('keeps custom delimiters and gives a best-effort AR for null', () => {
    const msg = parseHl7Message('MSH#!@$%#A!x#B#C#D#2024##ADT!A01#Z9#T#2.4');
    const ack = buildAck(msg, 'AE', 'a#b');
    expect(ack.startsWith('MSH#!@$%#C#D#A!x#B#')).toBe(true);
    const parsed = parseHl7Message(ack);
    expect(msa(parsed)).toEqual(['AE', 'Z9']);
    expect(value(segment(parsed, 'MSH'), 11)).toBe('T');
    const ar = parseHl7Message(buildAck(null, 'AR', 'not HL7'));
    expect(msa(ar)).toEqual(['AR', '']);
    expect(value(segment(ar, 'ERR'), 8)).toBe('not HL7');
  });
});

describe('MllpServer', () => {
  it('ACKs AA per message only after its commit, in batches', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const committed: string[] = [];
    const h = await harness({
      batchSize: 3,
      batchMs: 10_000,
      flushWhenIdle: false,
      commit: async (msgs) => {
        await gate;
        committed.push(...msgs.map((m) => m.msg.controlId));
        return { results: msgs.map(() => 'ok' as const) };
      },
    });
    const c = await h.client();
    c.send(['A', 'B', 'C', 'D'].map((id) => frame(message(id))).join(''));
    await new Promise((r) => setTimeout(r, 200));
    expect(c.acks).toHaveLength(0); // commit not done: no ACK yet
    release();
    await c.waitAcks(3);
    expect(committed).toEqual(['A', 'B', 'C']);
    expect(c.acks.map(msa)).toEqual([
      ['AA', 'A'],
      ['AA', 'B'],
      ['AA', 'C'],
    ]);
    await h.server.stop(); // flushes D
    expect(committed).toEqual(['A', 'B', 'C', 'D']);
    expect(h.batches.map((b) => b.messages)).toEqual([3, 1]);
  });

  it('respects batch size and time with many messages', async () => {
    const h = await harness({ batchSize: 50, batchMs: 30, flushWhenIdle: false });
    const c = await h.client();
    const ids = Array.from({ length: 420 }, (_, i) => `M${i}`);
    c.send(ids.map((id) => frame(message(id))).join(''));
    await c.waitAcks(420);
    expect(c.acks.map((a) => msa(a)[1])).toEqual(ids);
    expect(c.acks.every((a) => msa(a)[0] === 'AA')).toBe(true);
    expect(h.committed.map((m) => m.msg.controlId)).toEqual(ids);
    expect(h.batches.every((b) => b.messages <= 50)).toBe(true);
    expect(h.batches.reduce((a, b) => a + b.messages, 0)).toBe(420);
    expect(h.batches.filter((b) => b.messages === 50).length).toBeGreaterThanOrEqual(8);
  });

  it('commits early when every sender waits for its ACK (flushWhenIdle)', async () => {
    const h = await harness({ batchMs: 60_000 });
    const c = await h.client();
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      c.send(frame(message(`S${i}`)));
      await c.waitAcks(i + 1);
    }
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(c.acks.map((a) => msa(a)[0])).toEqual(['AA', 'AA', 'AA', 'AA', 'AA']);
  });

  it('answers AR to frames that are not messages, with the MSH when it parses', async () => {
    const h = await harness();
    const c = await h.client();
    c.send(frame('hello world'));
    c.send(frame(`${message('X1')}\rbad segment here`));
    c.send(frame(message('OK1')));
    await c.waitAcks(3);
    expect(msa(c.acks[0]!)).toEqual(['AR', '']);
    expect(value(segment(c.acks[0]!, 'ERR'), 8)).toMatch(/expected a message starting with an MSH/);
    expect(msa(c.acks[1]!)).toEqual(['AR', 'X1']); // control id from the MSH alone
    expect(value(segment(c.acks[1]!, 'ERR'), 8)).toMatch(/line 4: segment name "bad segme/);
    expect(msa(c.acks[2]!)).toEqual(['AA', 'OK1']);
    expect(h.rejected).toHaveLength(2);
    expect(h.committed.map((m) => m.msg.controlId)).toEqual(['OK1']);
  });

  it('skips garbage between frames and answers AR to oversize frames', async () => {
    const h = await harness({ maxFrameBytes: 2000 });
    const c = await h.client();
    c.send('junk before\r\n');
    c.send(frame(message('G1')));
    c.send('\x00\xff more junk');
    c.send(frame(`${message('BIG')}\rNTE|1||${'x'.repeat(5000)}`));
    c.send('\r\n' + frame(message('G2')));
    await c.waitAcks(3);
    expect(c.acks.map(msa)).toEqual([
      ['AA', 'G1'],
      ['AR', 'BIG'],
      ['AA', 'G2'],
    ]);
    expect(value(segment(c.acks[1]!, 'ERR'), 8)).toMatch(/longer than the limit 2000/);
    expect(h.logs.some((l) => /skipped \d+ bytes outside MLLP frames/.test(l))).toBe(true);
    expect(h.committed.map((m) => m.msg.controlId)).toEqual(['G1', 'G2']);
  });

  it('reads frames split across packets, byte by byte', async () => {
    const h = await harness();
    const c = await h.client();
    const bytes = Buffer.from(frame(message('Ü1')) + frame(message('P2')), 'utf8');
    for (const b of bytes) {
      c.send(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    await c.waitAcks(2);
    expect(c.acks.map(msa)).toEqual([
      ['AA', 'Ü1'],
      ['AA', 'P2'],
    ]);
  });

  it('a client disconnecting mid-frame loses nothing ACKed and breaks nothing', async () => {
    const h = await harness();
    const c = await h.client();
    c.send(frame(message('D1')));
    await c.waitAcks(1);
    c.send(`${VT}${message('HALF').slice(0, 60)}`);
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(h.logs.some((l) => /disconnected in the middle of a frame/.test(l))).toBe(true);
    const c2 = await h.client();
    c2.send(frame(message('D2')));
    await c2.waitAcks(1);
    expect(h.committed.map((m) => m.msg.controlId)).toEqual(['D1', 'D2']);
  });

  it('a commit failure answers AE to the whole batch and the server keeps serving', async () => {
    let fail = true;
    const committed: string[] = [];
    const h = await harness({
      batchMs: 20,
      commit: (msgs) => {
        if (fail) return Promise.reject(new Error('disk full'));
        committed.push(...msgs.map((m) => m.msg.controlId));
        // a mapping that quarantines one message: AE with its reason
        return Promise.resolve({
          results: msgs.map((m) =>
            m.msg.controlId === 'Q' ? { error: 'PID-3 missing' } : ('ok' as const),
          ),
        });
      },
    });
    const c = await h.client();
    c.send(frame(message('F1')) + frame(message('F2')));
    await c.waitAcks(2);
    expect(c.acks.map((a) => msa(a)[0])).toEqual(['AE', 'AE']);
    expect(value(segment(c.acks[0]!, 'ERR'), 8)).toBe('commit failed: disk full');
    fail = false;
    c.send(frame(message('F1')) + frame(message('Q')));
    await c.waitAcks(4);
    expect(c.acks.slice(2).map(msa)).toEqual([
      ['AA', 'F1'],
      ['AE', 'Q'],
    ]);
    expect(value(segment(c.acks[3]!, 'ERR'), 8)).toBe('PID-3 missing');
    expect(committed).toEqual(['F1', 'Q']);
    expect(h.batches[0]!.failure).toBe('commit failed: disk full');
  });

  it('stops reading sockets while commits are behind (memory stays bounded)', async () => {
    let maxPending = 0;
    const ref: { server?: MllpServer } = {};
    const h = await harness({
      batchSize: 10,
      batchMs: 5,
      commit: async (msgs) => {
        maxPending = Math.max(maxPending, ref.server!.pendingMessages);
        await new Promise((r) => setTimeout(r, 5));
        return { results: msgs.map(() => 'ok' as const) };
      },
    });
    ref.server = h.server;
    const c = await h.client();
    const pad = 'x'.repeat(1000);
    c.send(
      Array.from({ length: 1000 }, (_, i) => frame(`${message(`B${i}`)}\rNTE|1||${pad}`)).join(''),
    );
    await c.waitAcks(1000, 20_000);
    expect(c.acks.every((a) => msa(a)[0] === 'AA')).toBe(true);
    // 4 x batch size, plus the frames of the socket chunk being read when reading paused
    expect(maxPending).toBeLessThan(200);
    expect(h.server.pendingMessages).toBe(0);
  });

  it('fuzz: random bytes on the wire never stop the next good frame', async () => {
    const h = await harness({ batchMs: 5 });
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x0b, 0x1c, 0x0d, 0x7c),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(byte, { maxLength: 300 }), async (junk) => {
        const c = await h.client();
        c.send(Buffer.from(junk));
        c.send(frame(message('GOOD')));
        await c.waitAcks(1);
        // whatever the junk framed was answered first (AR); the good frame gets its AA last
        await new Promise((r) => setTimeout(r, 20));
        expect(msa(c.acks.at(-1)!)).toEqual(['AA', 'GOOD']);
        c.close();
      }),
      { numRuns: 40 },
    );
  });

  it('serves many concurrent clients', async () => {
    const h = await harness({ batchSize: 25, batchMs: 20 });
    const cs = await Promise.all(Array.from({ length: 20 }, () => h.client()));
    cs.forEach((c, k) =>
      c.send(Array.from({ length: 10 }, (_, i) => frame(message(`K${k}-${i}`))).join('')),
    );
    await Promise.all(cs.map((c) => c.waitAcks(10)));
    cs.forEach((c, k) =>
      expect(c.acks.map((a) => msa(a)[1])).toEqual(
        Array.from({ length: 10 }, (_, i) => `K${k}-${i}`),
      ),
    );
    expect(h.committed).toHaveLength(200);
    expect(h.batches.every((b) => b.messages <= 25)).toBe(true);
  });
});
