/**
 * `medlake listen --mllp 127.0.0.1:2575 --lake DIR`: an MLLP listener that commits HL7 v2
 * messages into a lake in small batches and ACKs each after its commit (AA), with the error
 * (AE) or as rejected (AR). Logs to stderr: the address, one line per batch, rejected frames
 * and connection trouble. Runs until SIGINT/SIGTERM, then commits what is pending and exits.
 * Thin: parse options, run src/ingest/hl7v2/mllp.ts with the lake's commit.
 */
import { Command, InvalidArgumentError } from 'commander';
import { commitHl7Messages, type RejectedFrame } from '../lake/hl7v2-commit.js';
import { MllpServer } from '../ingest/hl7v2/mllp.js';
import type { CommitFn, MllpBatchSummary } from '../ingest/hl7v2/mllp.js';
import { resolveLakeDir } from '../lake/lake.js';

/** `host:port`, `[v6]:port` or a bare port (host 127.0.0.1). */
export function parseListenAddress(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:]*):)?(\d{1,5})$/.exec(v.trim());
  const port = Number(m?.[3]);
  if (m === null || !Number.isInteger(port) || port > 65535)
    throw new InvalidArgumentError('expected host:port or a port, e.g. 127.0.0.1:2575');
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

function positiveInt(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1)
      throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

/** One stderr line per batch, e.g. `batch: 12 messages, 11 committed, 1 errors (35 ms)`. */
export function batchLine(b: MllpBatchSummary): string {
  return (
    `batch: ${b.messages} messages, ${b.committed} committed, ${b.errors} errors ` +
    `(${b.durationMs} ms)${b.failure === undefined ? '' : `: ${b.failure}`}`
  );
}

/** What the command uses from outside; tests replace them. */
export interface ListenDeps {
  /** Commits a batch into the lake at lakeDir (default: commitHl7Messages). */
  readonly commit?: (
    lakeDir: string,
    messages: Parameters<CommitFn>[0],
    rejected: readonly RejectedFrame[],
  ) => ReturnType<CommitFn>;
  /** Where log lines go (default: stderr). */
  readonly log?: (line: string) => void;
  /** Stops the listener when aborted (besides SIGINT/SIGTERM). */
  readonly signal?: AbortSignal;
}

interface ListenOptions {
  mllp: { host: string; port: number };
  lake?: string;
  batchSize: number;
  batchMs: number;
  maxFrameBytes: number;
}

export function listenCommand(deps: ListenDeps = {}): Command {
  const log = deps.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const commit = deps.commit ?? commitHl7Messages;
  return new Command('listen')
    .description(
      'receive HL7 v2 messages over MLLP and commit them into the lake in small batches ' +
        '(ACK AA once committed, AE with the error, AR for frames that are not messages)',
    )
    .requiredOption(
      '--mllp <host:port>',
      'address to listen on (host 127.0.0.1 when only a port is given; port 0: any free port)',
      parseListenAddress,
    )
    .option('--lake <dir>', 'the lake (default $MEDLAKE_LAKE or ./medlake-data)')
    .option('--batch-size <n>', 'most messages per commit', positiveInt('--batch-size'), 500)
    .option(
      '--batch-ms <ms>',
      'longest a message waits for its batch (ms); a batch is committed sooner when every ' +
        'sender is waiting for its ACK',
      positiveInt('--batch-ms'),
      1000,
    )
    .option(
      '--max-frame-bytes <n>',
      'longest MLLP frame accepted (AR beyond)',
      positiveInt('--max-frame-bytes'),
      16 * 1024 * 1024,
    )
    .action(async (opts: ListenOptions) => {
      const lakeDir = resolveLakeDir(opts.lake);
      const server = new MllpServer();
      const totals = { messages: 0, committed: 0, errors: 0, rejected: 0 };
      const rejected: RejectedFrame[] = [];
      const addr = await server.start({
        host: opts.mllp.host,
        port: opts.mllp.port,
        batchSize: opts.batchSize,
        batchMs: opts.batchMs,
        maxFrameBytes: opts.maxFrameBytes,
        // Rejected frames wait for the next commit, which quarantines them in its load
        // (a load of their own could collide with a batch's commit on the lake's lock).
        commit: (messages) => commit(lakeDir, messages, rejected.splice(0)),
        onBatch: (b) => {
          totals.messages += b.messages;
          totals.committed += b.committed;
          totals.errors += b.errors;
          log(batchLine(b));
        },
        onRejected: (r) => {
          totals.rejected++;
          rejected.push(r);
        },
        log,
      });
      log(`listening on ${addr.address}:${addr.port} (MLLP), lake ${lakeDir}`);
      await new Promise<void>((resolve) => {
        const done = (why: string): void => {
          process.off('SIGINT', onInt);
          process.off('SIGTERM', onTerm);
          deps.signal?.removeEventListener('abort', onAbort);
          log(`${why}: committing what is pending and stopping`);
          resolve();
        };
        const onInt = (): void => done('SIGINT');
        const onTerm = (): void => done('SIGTERM');
        const onAbort = (): void => done('stop requested');
        process.once('SIGINT', onInt);
        process.once('SIGTERM', onTerm);
        if (deps.signal?.aborted === true) onAbort();
        else deps.signal?.addEventListener('abort', onAbort, { once: true });
      });
      await server.stop();
      if (rejected.length > 0) await commit(lakeDir, [], rejected.splice(0));
      log(
        `stopped: ${totals.messages} messages, ${totals.committed} committed, ` +
          `${totals.errors} errors (AE), ${totals.rejected} rejected (AR)`,
      );
    });
}

/** Adds `listen` to the medlake program. */
export function registerListenCommand(program: Command): void {
  program.addCommand(listenCommand());
}
