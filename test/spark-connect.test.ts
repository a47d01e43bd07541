/**
 * The Spark Connect client and SparkEngine, against the server at MEDLAKE_SPARK_URL
 * (`medlake cluster start`, or .ci/run's local one). The URL parsing and install checks
 * need no server and always run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../src/engine/duckdb-engine.js';
import {
  SparkConnectClient,
  SparkConnectError,
  SparkSqlError,
  parseConnectionString,
} from '../src/engine/spark/connect-client.js';
import { SparkNotInstalledError } from '../src/engine/spark/spark-home.js';
import { SparkEngine } from '../src/engine/spark/spark-engine.js';

const url = process.env['MEDLAKE_SPARK_URL'] ?? '';

/** The SQL error a call must fail with. */
async function sqlFailure(call: Promise<unknown>): Promise<SparkSqlError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SparkSqlError);
  return err as SparkSqlError;
}

describe('spark connect URL and install checks', () => {
  it('parses host, port and parameters', () => {
    const t = parseConnectionString(
      'sc://spark.example.org:443/;use_ssl=true;token=s%3Dcret;user_id=ana;x-tenant=7',
    );
    expect(t).toMatchObject({
      host: 'spark.example.org',
      port: 443,
      useSsl: true,
      token: 's=cret',
      userId: 'ana',
      headers: { 'x-tenant': '7' },
    });
    expect(t.display).not.toContain('cret');
    expect(parseConnectionString('sc://[::1]').port).toBe(15002);
    // The spec: a token implies TLS, unless the URL says otherwise.
    expect(parseConnectionString('sc://h/;token=t').useSsl).toBe(true);
    expect(parseConnectionString('sc://h/;token=t;use_ssl=false').useSsl).toBe(false);
    expect(parseConnectionString('sc://h:1;ssl=true').useSsl).toBe(true);
  });

  it('rejects malformed URLs with what is expected', () => {
    for (const bad of ['http://h:1', 'sc://h:99999', 'sc://h/path', 'sc://h/;use_ssl=yes']) {
      expect(() => parseConnectionString(bad)).toThrow(/expected sc:\/\/host:port/);
    }
    expect(() => parseConnectionString('sc://h/;session_id=nope')).toThrow(SparkConnectError);
  });

  it('asks to run spark:install when the protocol descriptor is missing', async () => {
    const before = process.env['MEDLAKE_SPARK_DIR'];
    const empty = mkdtempSync(path.join(tmpdir(), 'medlake-nospark-'));
    process.env['MEDLAKE_SPARK_DIR'] = empty;
    try {
      const err = await SparkConnectClient.connect('sc://127.0.0.1:1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SparkNotInstalledError);
      expect((err as Error).message).toContain('npm run spark:install');
    } finally {
      if (before === undefined) delete process.env['MEDLAKE_SPARK_DIR'];
      else process.env['MEDLAKE_SPARK_DIR'] = before;
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

const suite = url === '' ? describe.skip : describe;
const title =
  url === ''
    ? 'spark connect client (skipped: MEDLAKE_SPARK_URL not set — start one with medlake cluster start)'
    : `spark connect client at ${url}`;

suite(title, () => {
  let engine: SparkEngine;
  let scratch: string;

  beforeAll(async () => {
    engine = await SparkEngine.connect(url);
    scratch = mkdtempSync(path.join(tmpdir(), 'medlake-spark-'));
  });
  afterAll(async () => {
    await engine?.close();
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('returns every basic type as plain JS values with Spark type names', async () => {
    const r = await engine.query(
      `SELECT 1 AS i, CAST(9007199254740991 AS BIGINT) AS b, 1.5D AS d,
        CAST(-12.25 AS DECIMAL(10,2)) AS dec, 'x€' AS s, true AS t, DATE'2024-02-29' AS dt,
        TIMESTAMP_NTZ'2024-02-29 12:34:56.789' AS ts, NULL AS n, CAST(NULL AS STRING) AS ns,
        array('a', NULL) AS arr, named_struct('a', 1, 'b', array(2, 3)) AS st,
        map('k', 1, 'l', NULL) AS m, X'0102' AS bin`,
    );
    expect(r.columns.map((c) => `${c.name} ${c.type}`)).toEqual([
      'i INT',
      'b BIGINT',
      'd DOUBLE',
      'dec DECIMAL(10,2)',
      's STRING',
      't BOOLEAN',
      'dt DATE',
      'ts TIMESTAMP_NTZ',
      'n VOID',
      'ns STRING',
      'arr ARRAY<STRING>',
      'st STRUCT<a: INT, b: ARRAY<INT>>',
      'm MAP<STRING, INT>',
      'bin BINARY',
    ]);
    expect(r.rows).toEqual([
      {
        i: 1,
        b: 9007199254740991,
        d: 1.5,
        dec: -12.25,
        s: 'x€',
        t: true,
        dt: '2024-02-29',
        ts: new Date('2024-02-29T12:34:56.789Z'),
        n: null,
        ns: null,
        arr: ['a', null],
        st: { a: 1, b: [2, 3] },
        m: { k: 1, l: null },
        bin: new Uint8Array([1, 2]),
      },
    ]);
  });

  it('reads TIMESTAMP (session time zone) as the instant it is', async () => {
    const zone = await engine.query('SET spark.sql.session.timeZone');
    const before = String(zone.rows[0]!['value']);
    await engine.exec(`SET TIME ZONE 'America/New_York'`);
    try {
      const r = await engine.query(`SELECT TIMESTAMP'2024-07-01 08:00:00' AS ts`);
      expect(r.columns[0]!.type).toBe('TIMESTAMP');
      expect(r.rows[0]!['ts']).toEqual(new Date('2024-07-01T12:00:00Z'));
    } finally {
      await engine.exec(`SET TIME ZONE ${engine.dialect.quoteString(before)}`);
    }
  });

  it('streams 1,000,000 rows in batches with memory bounded', async () => {
    const stream = await engine.stream('SELECT id FROM range(1000000)');
    expect(stream.columns).toEqual([{ name: 'id', type: 'BIGINT' }]);
    const baseline = process.memoryUsage().heapUsed;
    let rows = 0;
    let batches = 0;
    let sum = 0;
    let peak = 0;
    for await (const batch of stream) {
      batches++;
      rows += batch.length;
      for (const r of batch) sum += r['id'] as number;
      peak = Math.max(peak, process.memoryUsage().heapUsed - baseline);
    }
    expect(rows).toBe(1_000_000);
    expect(sum).toBe((999_999 * 1_000_000) / 2);
    expect(batches).toBeGreaterThan(1);
    // Holding the whole result as rows would take well over this.
    expect(peak).toBeLessThan(64 * 1024 * 1024);
  });

  it('stops the query on the server when iteration stops early', async () => {
    const q = await engine.client.query('SELECT id FROM range(0, 2000000000, 1, 2000)');
    let seen = 0;
    for await (const batch of q.batches()) {
      seen += batch.numRows;
      break;
    }
    expect(seen).toBeGreaterThan(0);
    let state = 'OPERATION_STATE_RUNNING';
    for (let i = 0; i < 50 && state === 'OPERATION_STATE_RUNNING'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = (await engine.client.operationStates([q.operationId])).get(q.operationId) ?? '';
    }
    expect(state).not.toBe('OPERATION_STATE_RUNNING');

    // The same through the Engine API, then the session goes on working.
    const stream = await engine.stream('SELECT id FROM range(0, 2000000000, 1, 2000)');
    for await (const batch of stream) {
      expect(batch.length).toBeGreaterThan(0);
      break;
    }
    expect((await engine.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });

  it('runs DDL eagerly and keeps temp views across calls (one session)', async () => {
    await engine.exec('CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1 AS a');
    expect((await engine.query('SELECT a FROM v')).rows).toEqual([{ a: 1 }]);
    const other = await SparkEngine.connect(url);
    try {
      await expect(other.query('SELECT a FROM v')).rejects.toMatchObject({
        errorClass: 'TABLE_OR_VIEW_NOT_FOUND',
      });
    } finally {
      await other.close();
    }
  });

  it('reports SQL errors with error class, SQLSTATE and position', async () => {
    const e = await sqlFailure(engine.query('SELECT nosuchcol FROM range(1)'));
    expect(e).toBeInstanceOf(EngineError);
    expect(e.code).toBe('ENGINE_ERROR');
    expect(e.errorClass).toMatch(/^UNRESOLVED_COLUMN/);
    expect(e.sqlState).toBe('42703');
    expect(e.position).toBe(7);
    expect(e.fragment).toBe('nosuchcol');
    expect(e.sql).toBe('SELECT nosuchcol FROM range(1)');
    expect(e.message).toMatch(
      /^\[UNRESOLVED_COLUMN\.WITH_SUGGESTION\] .* at line 1, position 7: nosuchcol$/,
    );

    const multi = await sqlFailure(engine.query('SELECT id\nFROM range(1) WHERE nope = 1'));
    expect(multi.position).toBe(30);
    expect(multi.message).toContain('at line 2, position 20: nope');

    const parse = await sqlFailure(engine.query('SELEC 1'));
    expect(parse.errorClass).toBe('PARSE_SYNTAX_ERROR');
    expect(parse.position).toBe(0);
  });

  it('reports errors raised while rows stream', async () => {
    // Depending on when the failing task runs, the error comes with the schema (from
    // stream()) or after some batches (from the iteration): either way it must surface.
    const read = async (): Promise<void> => {
      const stream = await engine.stream(
        `SELECT id, CASE WHEN id = 150000 THEN raise_error('boom') ELSE id END AS x FROM range(200000)`,
      );
      for await (const batch of stream) expect(batch.length).toBeGreaterThan(0);
    };
    await expect(read()).rejects.toThrow(/boom/);
    expect((await engine.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
  });

  it('says how to start the cluster when the server is unreachable', async () => {
    const err = await SparkEngine.connect('sc://127.0.0.1:1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SparkConnectError);
    expect((err as SparkConnectError).code).toBe('SPARK_UNREACHABLE');
    expect((err as Error).message).toMatch(
      /^cannot reach Spark Connect at sc:\/\/127\.0\.0\.1:1: is the cluster running\? `medlake cluster start`/,
    );
  });

  it('writes Parquet with copyToParquet and reads it back', async () => {
    const dir = path.join(scratch, 'out.parquet');
    const n = await engine.copyToParquet(
      `SELECT id, CAST(id AS STRING) AS s FROM range(12345)`,
      dir,
    );
    expect(n).toBe(12345);
    const back = await engine.query(
      `SELECT count(*) AS c, sum(id) AS total, max(s) AS top FROM parquet.${engine.dialect.quoteIdent(dir)}`,
    );
    expect(back.rows).toEqual([{ c: 12345, total: (12344 * 12345) / 2, top: '9999' }]);
    // Writing again replaces the previous output; an empty result writes zero rows.
    expect(await engine.copyToParquet('SELECT id FROM range(0)', dir)).toBe(0);
    // Positions point into the caller's SQL, not the INSERT medlake wraps it in.
    const err = await sqlFailure(engine.copyToParquet('SELECT nope FROM range(3)', dir));
    expect(err.position).toBe(7);
    // A directory that is not a previous output is never overwritten.
    await expect(engine.copyToParquet('SELECT 1', scratch)).rejects.toThrow(/choose a new/);
  });
});
