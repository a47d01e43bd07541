/**
 * A minimal Spark Connect client: gRPC (`@grpc/grpc-js`) with the protocol messages
 * built by protobufjs reflection from the descriptor `npm run spark:install` generates
 * out of the installed Spark's own `.proto` files (scripts/spark-proto.ts), and results
 * decoded from Arrow IPC (`apache-arrow`).
 *
 * It speaks only what medlake needs: run SQL and stream its Arrow batches, run SQL
 * commands eagerly, interrupt, fetch error details, release the session. One client =
 * one Spark session (a random UUID unless the URL names one), so temporary views and
 * `SET`s persist across its calls.
 *
 * Connection string (https://github.com/apache/spark/blob/master/connector/connect/docs/client-connection-string.md):
 * `sc://host[:port][/][;param=value]...`, port 15002 by default. Parameters:
 * - `token`: sent as `authorization: Bearer <token>`; implies TLS (as the spec says)
 *   unless `use_ssl=false` is given explicitly, e.g. for a token-protected local server;
 * - `use_ssl` / `ssl` (`true`/`false`): TLS with the system's root certificates;
 * - `user_id`: the UserContext user (default: $USER, else `medlake`);
 * - `user_agent`: reported to the server (default `medlake`);
 * - `session_id`: join an existing session (a UUID) instead of a new one;
 * - anything else is sent as a gRPC header, as the spec asks.
 * Values may be percent-encoded.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import { RecordBatchReader } from 'apache-arrow';
import type { RecordBatch, Schema } from 'apache-arrow';
import protobuf from 'protobufjs';
import { EngineError } from '../engine.js';
import { SparkNotInstalledError, sparkInstallDir } from './spark-home.js';

export const SPARK_CONNECT_DEFAULT_PORT = 15002;

/** Where `npm run spark:install` writes the protocol descriptor (scripts/spark-proto.ts). */
export function descriptorPath(): string {
  return path.join(sparkInstallDir(), 'spark-connect-proto.json');
}

export const SparkConnectErrorCode = {
  /** The connection string is malformed. */
  BadUrl: 'SPARK_CONNECT_URL',
  /** No Spark Connect server answers at the address. */
  Unreachable: 'SPARK_UNREACHABLE',
  /** The server answered in a way this client does not understand. */
  Protocol: 'SPARK_CONNECT_PROTOCOL',
} as const;
export type SparkConnectErrorCode =
  (typeof SparkConnectErrorCode)[keyof typeof SparkConnectErrorCode];

/** Connection-level failures (as opposed to SQL the server rejects: SparkSqlError). */
export class SparkConnectError extends Error {
  constructor(
    readonly code: SparkConnectErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SparkConnectError';
  }
}

/**
 * SQL Spark rejected or failed to run. `position` is the 0-based character offset of the
 * failing fragment in the SQL medlake sent; the message says `at line L, position P`
 * with P the 0-based offset within that line, as Spark's own `line 1 pos 7` does.
 */
export class SparkSqlError extends EngineError {
  constructor(
    message: string,
    sql: string,
    readonly errorClass: string | undefined,
    readonly sqlState: string | undefined,
    readonly position: number | undefined,
    readonly fragment: string | undefined,
    /** The JVM exception class, e.g. `org.apache.spark.sql.AnalysisException`. */
    readonly exceptionClass: string | undefined,
  ) {
    super(message, sql);
  }
}

export interface SparkConnectTarget {
  readonly host: string;
  readonly port: number;
  readonly useSsl: boolean;
  readonly token: string | undefined;
  readonly userId: string;
  readonly userAgent: string;
  readonly sessionId: string | undefined;
  /** Extra gRPC headers: the connection string's unknown parameters. */
  readonly headers: Readonly<Record<string, string>>;
  /** The connection string without secrets, for messages. */
  readonly display: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses `sc://host:port/;param=value;...` (see the file comment). */
export function parseConnectionString(url: string): SparkConnectTarget {
  const bad = (why: string): SparkConnectError =>
    new SparkConnectError(
      SparkConnectErrorCode.BadUrl,
      `bad Spark Connect URL ${JSON.stringify(redact(url))}: ${why}; expected sc://host:port/;param=value;... (e.g. sc://127.0.0.1:15002)`,
    );
  if (!url.startsWith('sc://')) throw bad('it must start with sc://');
  const rest = url.slice('sc://'.length);
  const semi = rest.indexOf(';');
  let authority = semi < 0 ? rest : rest.slice(0, semi);
  const paramText = semi < 0 ? '' : rest.slice(semi + 1);
  if (authority.endsWith('/')) authority = authority.slice(0, -1);
  if (authority.includes('/')) throw bad('a path is not allowed (gRPC endpoints have none)');
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw bad('unclosed [ in an IPv6 host');
    host = authority.slice(0, close + 1);
    const after = authority.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw bad(`unexpected ${JSON.stringify(after)}`);
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = authority.lastIndexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
  }
  if (host === '') throw bad('no host');
  const port = portText === undefined ? SPARK_CONNECT_DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw bad(`port ${JSON.stringify(portText)} is not a number from 1 to 65535`);
  }
  const params = new Map<string, string>();
  for (const part of paramText.split(';')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw bad(`parameter ${JSON.stringify(part)} is not name=value`);
    let value: string;
    try {
      value = decodeURIComponent(part.slice(eq + 1));
    } catch {
      throw bad(`parameter ${JSON.stringify(part.slice(0, eq))} has a bad %-escape`);
    }
    params.set(part.slice(0, eq), value);
  }
  const flag = (name: string): boolean | undefined => {
    const v = params.get(name);
    if (v === undefined) return undefined;
    if (v === 'true' || v === 'false') return v === 'true';
    throw bad(`${name} must be true or false, not ${JSON.stringify(v)}`);
  };
  const token = params.get('token');
  const ssl = flag('use_ssl') ?? flag('ssl');
  const sessionId = params.get('session_id');
  if (sessionId !== undefined && !UUID.test(sessionId)) throw bad('session_id must be a UUID');
  const headers: Record<string, string> = {};
  const known = ['token', 'use_ssl', 'ssl', 'user_id', 'user_agent', 'session_id'];
  for (const [k, v] of params) if (!known.includes(k)) headers[k.toLowerCase()] = v;
  return {
    host,
    port,
    useSsl: ssl ?? token !== undefined,
    token,
    userId: params.get('user_id') ?? process.env['USER'] ?? 'medlake',
    userAgent: params.get('user_agent') ?? 'medlake',
    sessionId,
    headers,
    display: redact(url),
  };
}

function redact(url: string): string {
  return url.replace(/(;token=)[^;]*/g, '$1***');
}

// ---------------------------------------------------------------------------------------
// Protocol messages: only the fields medlake reads, as protobufjs `toObject` gives them
// (snake_case names, int64 as number, enums as names, unset fields absent).

interface DataTypeMsg {
  readonly [kind: string]: Record<string, unknown> | undefined;
}
interface ExecutePlanResponseMsg {
  readonly server_side_session_id?: string;
  readonly operation_id?: string;
  readonly arrow_batch?: {
    readonly row_count?: number;
    readonly data?: Uint8Array;
    readonly chunk_index?: number;
    readonly num_chunks_in_batch?: number;
  };
  readonly sql_command_result?: { readonly relation?: Record<string, unknown> };
  readonly schema?: DataTypeMsg;
}
interface QueryContextMsg {
  readonly object_type?: string;
  readonly object_name?: string;
  readonly start_index?: number;
  readonly stop_index?: number;
  readonly fragment?: string;
}
interface FetchErrorDetailsResponseMsg {
  readonly root_error_idx?: number;
  readonly errors?: readonly {
    readonly error_type_hierarchy?: readonly string[];
    readonly message?: string;
    readonly spark_throwable?: {
      readonly error_class?: string;
      readonly sql_state?: string;
      readonly query_contexts?: readonly QueryContextMsg[];
    };
  }[];
}
interface StatusMsg {
  readonly details?: readonly { readonly type_url?: string; readonly value?: Uint8Array }[];
}
interface ErrorInfoMsg {
  readonly reason?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

interface Codec<T> {
  readonly serialize: (value: object) => Buffer;
  readonly deserialize: (bytes: Buffer) => T;
}

interface Protocol {
  readonly file: string;
  readonly sparkVersion: string;
  codec<T>(typeName: string): Codec<T>;
}

let protocol: Protocol | undefined;

/** Loads (once per file) the descriptor generated at install time. */
function loadProtocol(): Protocol {
  const file = descriptorPath();
  if (protocol?.file === file) return protocol;
  if (!existsSync(file)) {
    throw new SparkNotInstalledError(
      `the Spark Connect protocol descriptor ${file} is missing: run \`npm run spark:install\` (it generates it from the installed Spark)`,
    );
  }
  const json = JSON.parse(readFileSync(file, 'utf8')) as {
    sparkVersion: string;
    descriptor: protobuf.INamespace;
  };
  const root = protobuf.Root.fromJSON(json.descriptor);
  const convert: protobuf.IConversionOptions = { longs: Number, enums: String };
  const codecs = new Map<string, Codec<unknown>>();
  protocol = {
    file,
    sparkVersion: json.sparkVersion,
    codec<T>(typeName: string): Codec<T> {
      let c = codecs.get(typeName);
      if (c === undefined) {
        const type = root.lookupType(typeName);
        c = {
          serialize(value) {
            const bytes = type.encode(type.fromObject(value)).finish();
            return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          },
          deserialize(bytes) {
            return type.toObject(type.decode(bytes), convert);
          },
        };
        codecs.set(typeName, c);
      }
      return c as Codec<T>;
    },
  };
  return protocol;
}

const SERVICE = '/spark.connect.SparkConnectService/';

/** Arrow batches of one query, with its schema; `cancel` stops it on the server. */
export interface ArrowQuery {
  /** Spark's schema of the result (a Connect DataType, struct kind), when it sent one. */
  readonly sparkSchema: DataTypeMsg | undefined;
  /** The Arrow schema, from the first batch; undefined when no batch came. */
  readonly arrowSchema: Schema | undefined;
  readonly operationId: string;
  batches(): AsyncGenerator<RecordBatch, void, undefined>;
  /** Stops the query: cancels the stream and interrupts the operation on the server. */
  cancel(): Promise<void>;
}

export interface SparkConnectClientOptions {
  /** How long to wait for the server to accept the connection; default 10 s. */
  readonly connectTimeoutMs?: number;
}

/**
 * One Spark Connect session over one gRPC channel.
 *
 * Executions are not reattachable: the server streams the results on the ExecutePlan
 * call itself and drops each response once sent. This is the simplest protocol and,
 * unlike reattachable executions (which the server cuts every 2 minutes / 1 GB so that
 * the client reattaches), puts no limit on a long result. The cost: a broken connection
 * fails the query instead of resuming it, which medlake reports as an error to retry.
 */
export class SparkConnectClient {
  private serverSessionId: string | undefined;
  private closed = false;

  private constructor(
    private readonly client: grpc.Client,
    readonly target: SparkConnectTarget,
    readonly sessionId: string,
    private readonly proto: Protocol,
  ) {}

  static async connect(
    url: string,
    options: SparkConnectClientOptions = {},
  ): Promise<SparkConnectClient> {
    const target = parseConnectionString(url);
    const proto = loadProtocol();
    const credentials = target.useSsl
      ? grpc.credentials.createSsl()
      : grpc.credentials.createInsecure();
    const client = new grpc.Client(`${target.host}:${target.port}`, credentials, {
      // Spark sends Arrow batches of up to 4 MiB by default (and larger when a single
      // row is larger); gRPC's default 4 MiB receive limit would reject them.
      'grpc.max_receive_message_length': 128 * 1024 * 1024,
      'grpc.max_send_message_length': 128 * 1024 * 1024,
      'grpc.primary_user_agent': target.userAgent,
    });
    const timeout = options.connectTimeoutMs ?? 10_000;
    try {
      await whenReady(client, timeout);
    } catch (err) {
      client.close();
      throw unreachable(target, err);
    }
    const self = new SparkConnectClient(client, target, target.sessionId ?? randomUUID(), proto);
    // A first call checks that this is Spark Connect and that we may use it (auth).
    try {
      await self.serverVersion();
    } catch (err) {
      client.close();
      throw err;
    }
    return self;
  }

  /** The Spark version of the server (AnalyzePlan spark_version). */
  async serverVersion(): Promise<string> {
    const res = await this.unary<{ spark_version?: { version?: string } }>(
      'AnalyzePlan',
      'AnalyzePlanRequest',
      'AnalyzePlanResponse',
      { ...this.requestBase(), spark_version: {} },
    );
    return res.spark_version?.version ?? 'unknown';
  }

  /** The Spark version whose .proto files the descriptor was generated from. */
  get protocolVersion(): string {
    return this.proto.sparkVersion;
  }

  /**
   * Runs a SQL statement as a query (a Plan whose root is a `sql` relation) and returns
   * once Spark has analysed it and sent the schema, so errors in the SQL throw here.
   * `positionOffset` is subtracted from error positions: the length of any text the
   * caller put before the user's SQL.
   */
  async query(sql: string, positionOffset = 0, userSql = sql): Promise<ArrowQuery> {
    return this.open({ root: { sql: { query: sql } } }, sql, positionOffset, userSql);
  }

  /**
   * Runs a statement eagerly through the SqlCommand path (as `spark.sql` does): DDL,
   * `SET`, `INSERT` etc. run before this resolves. A query (SELECT) comes back from
   * SqlCommand unexecuted, so it is then run as a query and its rows discarded.
   */
  async command(sql: string, positionOffset = 0, userSql = sql): Promise<void> {
    const run = await this.open(
      { command: { sql_command: { input: { sql: { query: sql } } } } },
      sql,
      positionOffset,
      userSql,
    );
    await drain(run.batches());
    const relation = run.commandRelation();
    if (relation !== undefined && 'sql' in relation) {
      // discard the rows: exec() runs a query for its effects only
      await drain((await this.query(sql, positionOffset, userSql)).batches());
    }
  }

  private async open(
    plan: object,
    sql: string,
    positionOffset: number,
    userSql: string,
  ): Promise<ArrowQuery & { commandRelation(): Record<string, unknown> | undefined }> {
    this.assertOpen();
    const operationId = randomUUID();
    const request = {
      ...this.requestBase(),
      operation_id: operationId,
      plan,
      request_options: [
        { reattach_options: { reattachable: false } },
        // Lets the server split a batch larger than our receive limit (one huge row).
        { result_chunking_options: { allow_arrow_batch_chunking: true } },
      ],
      tags: ['medlake'],
    };
    const req = this.proto.codec<object>('spark.connect.ExecutePlanRequest');
    const res = this.proto.codec<ExecutePlanResponseMsg>('spark.connect.ExecutePlanResponse');
    const call = this.client.makeServerStreamRequest(
      SERVICE + 'ExecutePlan',
      req.serialize,
      res.deserialize,
      request,
      this.metadata(),
    );
    // Errors reach us through the iterator; this keeps a late one (after cancel) from
    // being an unhandled 'error' event.
    call.on('error', () => {});
    const responses = call[Symbol.asyncIterator]() as AsyncIterator<ExecutePlanResponseMsg>;
    let done = false;
    let cancelled = false;
    let commandRelation: Record<string, unknown> | undefined;
    let sparkSchema: DataTypeMsg | undefined;
    /** Chunks of one Arrow batch the server split (see result_chunking_options). */
    let chunks: Uint8Array[] = [];

    /** The next Arrow IPC payload, or undefined at the end of the stream. */
    const nextPayload = async (): Promise<Uint8Array | undefined> => {
      for (;;) {
        let r: IteratorResult<ExecutePlanResponseMsg>;
        try {
          r = await responses.next();
        } catch (err) {
          done = true;
          if (cancelled) return undefined;
          throw await this.toError(err, sql, positionOffset, userSql);
        }
        if (r.done === true) {
          done = true;
          return undefined;
        }
        const m = r.value;
        if (m.server_side_session_id) this.serverSessionId = m.server_side_session_id;
        if (m.schema !== undefined) sparkSchema = m.schema;
        if (m.sql_command_result !== undefined) commandRelation = m.sql_command_result.relation;
        const batch = m.arrow_batch;
        if (batch?.data === undefined) continue;
        const n = batch.num_chunks_in_batch ?? 1;
        if (n <= 1) return batch.data;
        chunks.push(batch.data);
        if ((batch.chunk_index ?? 0) < n - 1) continue;
        const whole = Buffer.concat(chunks);
        chunks = [];
        return whole;
      }
    };

    /** Decodes the next payload into `pending`; false at the end of the stream. */
    let pending: RecordBatch[] = [];
    let arrowSchema: Schema | undefined;
    const readMore = async (): Promise<boolean> => {
      const payload = await nextPayload();
      if (payload === undefined) return false;
      const reader = RecordBatchReader.from(payload);
      for (const b of reader) pending.push(b);
      arrowSchema ??= reader.schema;
      return true;
    };

    // Read until the schema (or the first batch, or the end) so that analysis errors
    // surface here and the caller knows the columns before it iterates.
    try {
      while (sparkSchema === undefined && pending.length === 0 && (await readMore()));
    } catch (err) {
      call.cancel();
      throw err;
    }

    const cancel = async (): Promise<void> => {
      if (done || cancelled) return;
      cancelled = true;
      call.cancel();
      // Cancelling the call ends a non-reattachable execution; the interrupt makes sure
      // the Spark jobs stop now rather than when the server notices the closed stream.
      try {
        await this.unary('Interrupt', 'InterruptRequest', 'InterruptResponse', {
          ...this.requestBase(),
          interrupt_type: 'INTERRUPT_TYPE_OPERATION_ID',
          operation_id: operationId,
        });
      } catch {
        // best effort: the operation may already be gone
      }
    };

    return {
      operationId,
      get sparkSchema() {
        return sparkSchema;
      },
      get arrowSchema() {
        return arrowSchema;
      },
      commandRelation: () => commandRelation,
      cancel,
      async *batches() {
        let finished = false;
        try {
          for (;;) {
            while (pending.length === 0) {
              if (!(await readMore())) {
                finished = true;
                return;
              }
            }
            yield pending.shift()!;
          }
        } finally {
          // A consumer that stops early (break, throw) lands here: stop the query.
          if (!finished) await cancel();
          pending = [];
        }
      },
    };
  }

  /** Interrupts every running operation of this session. */
  async interruptAll(): Promise<void> {
    await this.unary('Interrupt', 'InterruptRequest', 'InterruptResponse', {
      ...this.requestBase(),
      interrupt_type: 'INTERRUPT_TYPE_ALL',
    });
  }

  /** Operation states (`OPERATION_STATE_RUNNING`, ...) by id, from GetStatus. */
  async operationStates(operationIds: readonly string[]): Promise<Map<string, string>> {
    const res = await this.unary<{
      operation_statuses?: readonly { operation_id?: string; state?: string }[];
    }>('GetStatus', 'GetStatusRequest', 'GetStatusResponse', {
      ...this.requestBase(),
      operation_status: { operation_ids: operationIds },
    });
    const out = new Map<string, string>();
    for (const s of res.operation_statuses ?? []) {
      if (s.operation_id !== undefined) out.set(s.operation_id, s.state ?? 'UNKNOWN');
    }
    return out;
  }

  /** Releases the server session (its temp views, cached data) and closes the channel. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.unary(
        'ReleaseSession',
        'ReleaseSessionRequest',
        'ReleaseSessionResponse',
        { session_id: this.sessionId, user_context: { user_id: this.target.userId } },
        5_000,
      );
    } catch {
      // the server may be gone already; the session then expires there on its own
    } finally {
      this.closed = true;
      this.client.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new SparkConnectError(
        SparkConnectErrorCode.Protocol,
        `the Spark Connect session to ${this.target.display} is closed; connect again`,
      );
    }
  }

  private requestBase(): Record<string, unknown> {
    return {
      session_id: this.sessionId,
      user_context: { user_id: this.target.userId },
      client_type: `medlake/node-${process.versions.node}`,
      // Lets the server tell us when it restarted and our session state is gone.
      ...(this.serverSessionId === undefined
        ? {}
        : { client_observed_server_side_session_id: this.serverSessionId }),
    };
  }

  private metadata(): grpc.Metadata {
    const m = new grpc.Metadata();
    if (this.target.token !== undefined) m.set('authorization', `Bearer ${this.target.token}`);
    for (const [k, v] of Object.entries(this.target.headers)) m.set(k, v);
    return m;
  }

  private unary<T>(
    method: string,
    request: string,
    response: string,
    body: object,
    timeoutMs?: number,
  ): Promise<T> {
    const req = this.proto.codec<object>(`spark.connect.${request}`);
    const res = this.proto.codec<T>(`spark.connect.${response}`);
    const options: grpc.CallOptions =
      timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
    return new Promise<T>((resolve, reject) => {
      this.client.makeUnaryRequest(
        SERVICE + method,
        req.serialize,
        res.deserialize,
        body,
        this.metadata(),
        options,
        (err, value) => {
          if (err) {
            reject(
              err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.UNAUTHENTICATED
                ? this.connectionError(err)
                : err,
            );
          } else if (value === undefined) {
            reject(
              new SparkConnectError(SparkConnectErrorCode.Protocol, `${method}: empty answer`),
            );
          } else {
            resolve(value);
          }
        },
      );
    });
  }

  private connectionError(err: grpc.ServiceError): SparkConnectError {
    if (err.code === grpc.status.UNAUTHENTICATED || err.code === grpc.status.PERMISSION_DENIED) {
      return new SparkConnectError(
        SparkConnectErrorCode.Unreachable,
        `Spark Connect at ${this.target.display} refused us (${err.details}): check the token= and user_id= of the URL`,
      );
    }
    return unreachable(this.target, err);
  }

  /**
   * Turns a failed call into the error to show: connection problems as
   * SparkConnectError; SQL errors as SparkSqlError with Spark's error class, SQLSTATE
   * and the position of the failing fragment, from the status details (ErrorInfo) and,
   * when the server kept them, FetchErrorDetails.
   */
  private async toError(
    err: unknown,
    sql: string,
    positionOffset: number,
    userSql: string,
  ): Promise<Error> {
    if (!isServiceError(err)) return err instanceof Error ? err : new Error(String(err));
    if (
      err.code === grpc.status.UNAVAILABLE ||
      err.code === grpc.status.UNAUTHENTICATED ||
      err.code === grpc.status.PERMISSION_DENIED
    ) {
      return this.connectionError(err);
    }
    let info: ErrorInfoMsg | undefined;
    const bin = err.metadata?.get('grpc-status-details-bin')[0];
    if (bin instanceof Buffer) {
      try {
        const status = this.proto.codec<StatusMsg>('google.rpc.Status').deserialize(bin);
        const any = status.details?.find((d) => d.type_url?.endsWith('/google.rpc.ErrorInfo'));
        if (any?.value !== undefined) {
          info = this.proto
            .codec<ErrorInfoMsg>('google.rpc.ErrorInfo')
            .deserialize(Buffer.from(any.value));
        }
      } catch {
        // undecodable details: fall back to the status text
      }
    }
    let message = err.details;
    let errorClass = info?.metadata?.['errorClass'];
    let sqlState = info?.metadata?.['sqlState'];
    let contexts: readonly QueryContextMsg[] = [];
    const errorId = info?.metadata?.['errorId'];
    if (errorId !== undefined) {
      try {
        const details = await this.unary<FetchErrorDetailsResponseMsg>(
          'FetchErrorDetails',
          'FetchErrorDetailsRequest',
          'FetchErrorDetailsResponse',
          { ...this.requestBase(), error_id: errorId },
          10_000,
        );
        const root = details.errors?.[details.root_error_idx ?? 0];
        if (root !== undefined) {
          if (root.message !== undefined && root.message !== '') message = root.message;
          errorClass = root.spark_throwable?.error_class ?? errorClass;
          sqlState = root.spark_throwable?.sql_state ?? sqlState;
          contexts = root.spark_throwable?.query_contexts ?? [];
        }
      } catch {
        // the status text is enough to report
      }
    }
    return sqlError({
      message,
      errorClass,
      sqlState,
      contexts,
      exceptionClass: info?.reason,
      sql,
      positionOffset,
      userSql,
    });
  }
}

/**
 * Waits for the channel to connect. Unlike grpc's waitForReady, which retries until the
 * deadline, this fails at the first failed attempt (connection refused, TLS or DNS
 * error), so a stopped cluster is reported at once.
 */
function whenReady(client: grpc.Client, timeoutMs: number): Promise<void> {
  const channel = client.getChannel();
  const deadline = Date.now() + timeoutMs;
  return new Promise<void>((resolve, reject) => {
    const check = (): void => {
      const state = channel.getConnectivityState(true);
      if (state === grpc.connectivityState.READY) return resolve();
      if (state === grpc.connectivityState.TRANSIENT_FAILURE) {
        return reject(new Error('the connection failed'));
      }
      if (state === grpc.connectivityState.SHUTDOWN) return reject(new Error('channel closed'));
      channel.watchConnectivityState(state, deadline, (err) => {
        if (err) reject(new Error(`no answer within ${timeoutMs} ms`));
        else check();
      });
    };
    check();
  });
}

async function drain(it: AsyncIterable<unknown>): Promise<void> {
  const iterator = it[Symbol.asyncIterator]();
  while (!(await iterator.next()).done);
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number';
}

function unreachable(target: SparkConnectTarget, err: unknown): SparkConnectError {
  let why = err instanceof Error ? err.message : String(err);
  if (target.useSsl) {
    why +=
      '; the URL asks for TLS (use_ssl, or token): add ;use_ssl=false if the server speaks plaintext';
  }
  return new SparkConnectError(
    SparkConnectErrorCode.Unreachable,
    `cannot reach Spark Connect at ${target.display}: is the cluster running? \`medlake cluster start\` (${why})`,
  );
}

interface SqlErrorParts {
  readonly message: string;
  readonly errorClass: string | undefined;
  readonly sqlState: string | undefined;
  readonly contexts: readonly QueryContextMsg[];
  readonly exceptionClass: string | undefined;
  /** The SQL sent to Spark; positions are offsets into it. */
  readonly sql: string;
  /** Length of the text before userSql inside sql. */
  readonly positionOffset: number;
  readonly userSql: string;
}

/** Builds `[CLASS] message at line L, position P: fragment` from Spark's error parts. */
function sqlError(p: SqlErrorParts): SparkSqlError {
  // Spark appends the position and the analysed plan ("; line 1 pos 7;\n'Project ...")
  // or a SQL excerpt ("\n== SQL ==\n..."): keep its first statement, we add our own.
  const text = p.message.trim();
  const positionInText = /(?:; line (\d+) pos (\d+)|\s*\(line (\d+), pos (\d+)\))/.exec(text);
  let head = text.split('\n')[0]!;
  if (positionInText !== null) head = text.slice(0, positionInText.index);
  head = head.replace(/[;\s]+$/, '');
  if (p.errorClass !== undefined && !head.startsWith(`[${p.errorClass}]`)) {
    head = `[${p.errorClass}] ${head}`;
  }
  let position: number | undefined;
  let fragment: string | undefined;
  let where = '';
  const context = p.contexts.find((c) => (c.object_type ?? '') === '') ?? p.contexts[0];
  if (context !== undefined && (context.object_type ?? '') !== '') {
    // The failing fragment is inside a view's text, not in the SQL we sent.
    where = ` in ${context.object_type} ${context.object_name ?? ''}`.trimEnd();
    fragment = context.fragment;
  } else if (context?.start_index !== undefined) {
    position = context.start_index - p.positionOffset;
    fragment = context.fragment;
  } else if (positionInText !== null) {
    // Parse errors carry no query context, only "(line L, pos P)" in the message.
    const line = Number(positionInText[1] ?? positionInText[3]);
    const col = Number(positionInText[2] ?? positionInText[4]);
    position = offsetOf(p.sql, line, col) - p.positionOffset;
  }
  if (position !== undefined && (position < 0 || position > p.userSql.length)) {
    position = undefined; // in text medlake added around the user's SQL
  }
  if (position !== undefined) {
    const before = p.userSql.slice(0, position);
    const line = before.split('\n').length;
    const col = position - (before.lastIndexOf('\n') + 1);
    where += ` at line ${line}, position ${col}`;
  }
  const suffix = fragment !== undefined && fragment !== '' ? `: ${fragment}` : '';
  return new SparkSqlError(
    `${head}${where}${suffix}`,
    p.userSql,
    p.errorClass,
    p.sqlState,
    position,
    fragment,
    p.exceptionClass,
  );
}

/** 0-based character offset of (1-based line, 0-based column) in text. */
function offsetOf(text: string, line: number, col: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) break;
    offset = nl + 1;
  }
  return offset + col;
}
