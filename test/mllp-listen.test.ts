/**
 * `medlake listen` (src/cli/listen-command.ts): option parsing, one stderr line per batch,
 * ACKs through the command, clean stop (pending batch committed) on a stop request; and one
 * message end to end into a real lake through the lead's commitHl7Messages.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchLine, listenCommand, parseListenAddress } from '../src/cli/listen-command.js';
import { Lake } from '../src/lake/lake.js';
import type { MllpMessage } from '../src/ingest/hl7v2/mllp.js';
import { segment, value } from '../src/ingest/hl7v2/model.js';
import { parseHl7Message } from '../src/ingest/hl7v2/parse.js';
import { makeTempDir, queryLake, removeDir } from './helpers/lake-test-utils.js';

const msg = (id: string): string =>
  [
    `MSH|^~\\&|S|SF|R|RF|20240102030405+0000||ADT^A04^ADT_A01|${id}|P|2.5.1`,
    'EVN|A04|20240102030405+0000',
    `PID|1||P-${id}^^^HOSP^MR||DOE^JOHN||19700101|M`,
    'PV1|1|O',
  ].join('\r');

/** Sends frames and resolves with the MSA-1/MSA-2 of `n` ACKs. */
function exchange(port: number, frames: string[], n: number): Promise<[string, string][]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const acks: [string, string][] = [];
    const timer = setTimeout(() => reject(new Error(`only ${acks.length} ACKs`)), 15_000);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let end: number;
      while ((end = buf.indexOf('\x1c\r')) >= 0) {
        const ack = parseHl7Message(buf.slice(buf.indexOf('\x0b') + 1, end));
        acks.push([value(segment(ack, 'MSA'), 1), value(segment(ack, 'MSA'), 2)]);
        buf = buf.slice(end + 2);
      }
      if (acks.length >= n) {
        clearTimeout(timer);
        s.end();
        resolve(acks);
      }
    });
    s.on('error', reject);
    s.write(frames.map((f) => `\x0b${f}\r\x1c\r`).join(''));
  });
}

async function waitFor(pred: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('listen command', () => {
  it('parses --mllp addresses', () => {
    expect(parseListenAddress('127.0.0.1:2575')).toEqual({ host: '127.0.0.1', port: 2575 });
    expect(parseListenAddress('2575')).toEqual({ host: '127.0.0.1', port: 2575 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListenAddress('0.0.0.0:104')).toEqual({ host: '0.0.0.0', port: 104 });
    for (const bad of ['x', '1.2.3.4:', ':99999', 'host:12a'])
      expect(() => parseListenAddress(bad)).toThrow(/host:port/);
    expect(batchLine({ messages: 3, committed: 2, errors: 1, durationMs: 5 })).toBe(
      'batch: 3 messages, 2 committed, 1 errors (5 ms)',
    );
  });

  it('listens, commits, ACKs, logs a line per batch and stops on request', async () => {
    const logs: string[] = [];
    const got: { lake: string; ids: string[] }[] = [];
    const stop = new AbortController();
    const cmd = listenCommand({
      log: (l) => logs.push(l),
      signal: stop.signal,
      commit: (lake, messages: readonly MllpMessage[]) => {
        got.push({ lake, ids: messages.map((m) => m.msg.controlId) });
        return Promise.resolve({
          results: messages.map((m) => (m.msg.controlId === 'BAD' ? { error: 'no PID-3' } : 'ok')),
        });
      },
    });
    cmd.exitOverride();
    const running = cmd.parseAsync(
      ['--mllp', '127.0.0.1:0', '--lake', '/tmp/medlake-listen-test', '--batch-size', '2'],
      { from: 'user' },
    );
    await waitFor(() => logs.some((l) => l.startsWith('listening on')));
    const port = Number(/:(\d+) \(MLLP\)/.exec(logs[0]!)?.[1]);
    const acks = await exchange(port, [msg('A'), msg('BAD'), msg('C'), 'not hl7'], 4);
    expect(acks).toEqual([
      ['AA', 'A'],
      ['AE', 'BAD'],
      ['AA', 'C'],
      ['AR', ''],
    ]);
    stop.abort();
    await running;
    expect(got.every((g) => g.lake === '/tmp/medlake-listen-test')).toBe(true);
    expect(got.flatMap((g) => g.ids)).toEqual(['A', 'BAD', 'C']);
    expect(got.every((g) => g.ids.length <= 2)).toBe(true);
    expect(logs.filter((l) => l.startsWith('batch: ')).length).toBe(got.length);
    expect(logs.some((l) => /^batch: 2 messages, 1 committed, 1 errors \(\d+ ms\)$/.test(l))).toBe(
      true,
    );
    expect(logs.at(-1)).toBe('stopped: 3 messages, 2 committed, 1 errors (AE), 1 rejected (AR)');
  });

  it('rejects bad options', async () => {
    const cmd = listenCommand({ log: () => undefined });
    cmd.exitOverride().configureOutput({ writeErr: () => undefined });
    await expect(cmd.parseAsync(['--mllp', 'nope'], { from: 'user' })).rejects.toThrow(/host:port/);
    await expect(
      listenCommand()
        .exitOverride()
        .configureOutput({ writeErr: () => undefined })
        .parseAsync(['--mllp', '0', '--batch-size', '0'], { from: 'user' }),
    ).rejects.toThrow(/positive integer/);
  });
});

describe('listen into a real lake (commitHl7Messages)', () => {
  const lake = makeTempDir('mllp-lake');
  afterAll(() => removeDir(lake));

  it('an AA message is in the lake after its ACK', async () => {
    const logs: string[] = [];
    const stop = new AbortController();
    const running = listenCommand({ log: (l) => logs.push(l), signal: stop.signal }).parseAsync(
      ['--mllp', '127.0.0.1:0', '--lake', lake, '--batch-ms', '50'],
      { from: 'user' },
    );
    await waitFor(() => logs.some((l) => l.startsWith('listening on')));
    const port = Number(/:(\d+) \(MLLP\)/.exec(logs[0]!)?.[1]);
    const [ack] = await exchange(port, [msg('E2E1')], 1);
    expect(ack, logs.join('\n')).toEqual(['AA', 'E2E1']);
    const rows = await queryLake(lake, 'SELECT count(*) AS n FROM Patient');
    expect(Number(rows[0]?.['n'])).toBe(1);
    // A frame that is not a message: AR, and kept in the lake's quarantine (never lost).
    const [ar] = await exchange(port, ['garbage that is not HL7'], 1);
    expect(ar?.[0]).toBe('AR');
    stop.abort();
    await running;
    const info = Lake.open(lake).info();
    const q = info.loads.at(-1)?.quarantineFile;
    expect(q).toBeTruthy();
    const line = JSON.parse(readFileSync(path.join(lake, q!), 'utf8').trim()) as {
      code: string;
      text: string;
      reason: string;
    };
    expect(line.code).toBe('malformed');
    expect(line.text).toBe('garbage that is not HL7\r'); // the frame as sent (segment end included)
    expect(line.reason).toMatch(/AR/);
  }, 30_000);
});
