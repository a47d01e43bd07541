/**
 * `medlake ingest --engine spark`: bulk NDJSON loaded by a Spark cluster, in parallel
 * splits, into the same lake layout as the embedded load (load.ts), so that DuckDB and
 * Spark loads of one lake merge with each other.
 *
 * The plan: Spark reads the lines (`text` source), splits every line into its top-level
 * members with one regular expression (exact source text, so decimals keep their digits
 * and `@hash` equals the embedded load's), and classifies it. Lines that are plain
 * resources ("clean": valid JSON, a known type, a valid id, ...) stay on the cluster.
 * The rest (bad lines, resources without id, odd formatting) are few: they stream to
 * TypeScript, which handles them with the embedded reader's own code (exact reasons and
 * derived ids), writes the quarantine file, and hands the resources among them back to
 * Spark as a side file. Then each type is merged with the lake (newest wins, unchanged
 * recognised by hash) and written as Parquet folders, and the manifest is committed.
 *
 * Line numbers: the text source has none. monotonically_increasing_id() is consecutive
 * within a split and input_file_block_start() orders the splits of a file, so one small
 * aggregate (first id and line count per split) gives each split's first line.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmdirSync,
  statSync,
  type WriteStream,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBEngine } from '../engine/duckdb-engine.js';
import type { Engine } from '../engine/engine.js';
import { isConvertedFormat } from '../ingest/sources.js';
import {
  discoverSources,
  quarantine,
  QUARANTINE_TEXT_CHARS,
  recordsFromJsonDocument,
} from '../ingest/fhir-json-reader.js';
import { quarantineLine } from './stage.js';
import { FHIR_R4_RESOURCE_TYPES } from '../ingest/resource-types.js';
import {
  IngestSourceError,
  QuarantineCode,
  type IngestRecord,
  type ParsedResource,
  type SourceFile,
  type SourcePosition,
} from '../ingest/types.js';
import { Lake } from './lake.js';
import { LAKE_COLUMNS, isStorableElementName } from './layout.js';
import { commitLoad, type LoadProgress, type LoadSummary } from './load.js';
import type { LoadCounts, Manifest, TypeEntry } from './manifest.js';

export interface SparkLoadOptions {
  /** A Spark engine (SparkEngine); its driver and executors must see the lake's files. */
  readonly engine: Engine;
  readonly onProgress?: (p: LoadProgress) => void;
}

export const SparkLoadErrorCode = {
  /** The engine given is not a Spark engine. */
  NotSpark: 'SPARK_LOAD_NOT_SPARK',
  /** Spark reported files this load did not ask for (the lake or sources changed meanwhile). */
  Inconsistent: 'SPARK_LOAD_INCONSISTENT',
} as const;
export type SparkLoadErrorCode = (typeof SparkLoadErrorCode)[keyof typeof SparkLoadErrorCode];

export class SparkLoadError extends Error {
  constructor(
    readonly code: SparkLoadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SparkLoadError';
  }
}

/** Records within a file are numbered from fileIndex · 2^32, as in stage.ts. */
const FILE_STRIDE = 2 ** 32;
/** The embedded reader's reason for such lines (fhir-json-reader.ts). */
const NOT_UTF8 =
  'Not valid UTF-8: FHIR JSON must be UTF-8 encoded (re-export or convert the file).';
/** Hadoop picks a decompressor by these suffixes; the embedded reader reads such files raw. */
const HADOOP_CODEC_SUFFIXES = ['.bz2', '.deflate', '.zst', '.lz4', '.snappy', '.br'];
/**
 * Bracket depth the member expression follows. A resource nested deeper (not seen in real
 * FHIR) is not "clean" and is handled exactly by TypeScript instead.
 */
const MEMBER_DEPTH = 24;
/**
 * NDJSON bytes per written part file (zstd Parquet is about a tenth of that): as Spark
 * splits its input, so a type written from its own files keeps their parallelism, and a
 * type spread thinly over many splits does not become many small files.
 */
const PART_SOURCE_BYTES = 128 << 20;
/** Parquet bytes per part file when files are rewritten. */
const REWRITE_PART_BYTES = 128 << 20;

export async function loadIntoLakeOnSpark(
  lakeDir: string,
  paths: readonly string[],
  options: SparkLoadOptions,
): Promise<LoadSummary> {
  const started = Date.now();
  if (options.engine.dialect.name !== 'spark') {
    throw new SparkLoadError(
      SparkLoadErrorCode.NotSpark,
      `loadIntoLakeOnSpark needs a Spark engine, got ${options.engine.dialect.name}; use loadIntoLake for the embedded engine`,
    );
  }
  // Discovery first: an unreadable or unsupported path is an error before anything is touched.
  const sources = await discoverSources(paths);
  checkSources(sources);
  const lake = Lake.open(lakeDir, { create: true });
  const unlock = lake.lock();
  try {
    lake.refresh();
    lake.collectGarbage();
    return await new SparkLoad(lake, sources, options, started).run();
  } finally {
    unlock();
  }
}

/** Spark reads NDJSON only; the rest needs the embedded reader (Bundles, documents). */
function checkSources(sources: readonly SourceFile[]): void {
  for (const s of sources) {
    if (s.format === 'json' || s.format === 'json.gz') {
      throw new IngestSourceError(
        'SOURCE_UNSUPPORTED',
        s.path,
        `${s.path} is a JSON document (a resource, a Bundle or an array), which the Spark ingest does not read: it reads NDJSON (.ndjson, .jsonl, their .gz forms, and Bulk Data manifests naming them). Load it with the embedded engine: medlake ingest ${s.path} --engine duckdb`,
      );
    }
    if (isConvertedFormat(s.format)) {
      throw new IngestSourceError(
        'SOURCE_UNSUPPORTED',
        s.path,
        `${s.path} is ${s.format} data, which is converted to FHIR by the embedded ingest only. Load it with --engine duckdb (the lake is then read by Spark like any other), or convert it first.`,
      );
    }
    if (/^[_.]/.test(path.basename(s.path))) {
      throw new IngestSourceError(
        'SOURCE_UNSUPPORTED',
        s.path,
        `${s.path}: Spark skips files whose names start with _ or . (it takes them for hidden files). Rename it, or load it with --engine duckdb`,
      );
    }
    const lower = s.path.toLowerCase();
    const codec = HADOOP_CODEC_SUFFIXES.find((x) => lower.endsWith(x));
    if (
      (s.format === 'ndjson.gz' && !s.path.endsWith('.gz')) ||
      (s.format === 'ndjson' && codec !== undefined)
    ) {
      throw new IngestSourceError(
        'SOURCE_UNSUPPORTED',
        s.path,
        `${s.path}: Spark chooses how to decompress a file by its name (lower-case .gz for gzip), so this name would be read wrongly. Rename it (plain NDJSON: .ndjson; gzip: .ndjson.gz), or load it with --engine duckdb`,
      );
    }
  }
}

interface Split {
  readonly file: string;
  readonly block: number;
  readonly m0: number;
  readonly count: number;
}

interface IncomingType {
  read: number;
  /** Ids given more than once (known for types new to the lake). */
  duplicates: number;
  readonly columns: Set<string>;
}

interface Merged {
  readonly entry: TypeEntry;
  readonly counts: LoadCounts;
}

interface SideRow {
  readonly rt: string;
  readonly id: string;
  readonly ver: string | null;
  readonly lu: number | null;
  readonly seq: number;
  readonly src: string;
  /** Element names (without id) and their members (see elementSql). */
  readonly keys: readonly string[];
  readonly mem: readonly string[];
}

class SparkLoad {
  private readonly engine: Engine;
  private readonly loadId: number;
  private readonly tag: string;
  private readonly views: string[] = [];
  private readonly cached: string[] = [];
  private readonly bytesTotal: number;
  private footers: Promise<DuckDBEngine> | undefined;
  /** Lines read (blank ones included), to share the source bytes out between types. */
  private lines = 0;

  constructor(
    private readonly lake: Lake,
    private readonly sources: readonly SourceFile[],
    private readonly options: SparkLoadOptions,
    private readonly started: number,
  ) {
    this.engine = options.engine;
    this.loadId = lake.manifest.commit + 1;
    // Temporary views live in the session; the random part keeps loads apart.
    this.tag = `medlake_load${this.loadId}_${randomUUID().slice(0, 8)}`;
    this.bytesTotal = sources.reduce((a, s) => a + s.size, 0);
  }

  private q(s: string): string {
    return this.engine.dialect.quoteString(s);
  }

  private id(s: string): string {
    return this.engine.dialect.quoteIdent(s);
  }

  private name(part: string): string {
    return `${this.tag}_${part}`;
  }

  private async view(part: string, sql: string): Promise<string> {
    const n = this.name(part);
    await this.engine.exec(`CREATE OR REPLACE TEMPORARY VIEW ${this.id(n)} AS ${sql}`);
    this.views.push(n);
    return this.id(n);
  }

  /**
   * Keeps a query's rows for the queries after it, computed by the first of them (lazy:
   * no pass of its own). On disk: the cost is in computing, and an in-memory cache of a
   * 1.2 GB load ran a 1 GB driver out of heap.
   */
  private async cache(part: string, sql: string): Promise<string> {
    const n = this.name(part);
    await this.engine.exec(
      `CACHE LAZY TABLE ${this.id(n)} OPTIONS ('storageLevel' 'DISK_ONLY') AS ${sql}`,
    );
    this.cached.push(n);
    return this.id(n);
  }

  private async uncache(table: string): Promise<void> {
    const i = this.cached.indexOf(table);
    if (i !== -1) this.cached.splice(i, 1);
    await this.engine.exec(`UNCACHE TABLE IF EXISTS ${this.id(table)}`);
    await this.engine.exec(`DROP VIEW IF EXISTS ${this.id(table)}`);
  }

  private progress(bytesRead: number, resources: number, quarantined: number): void {
    this.options.onProgress?.({ bytesRead, bytesTotal: this.bytesTotal, resources, quarantined });
  }

  async run(): Promise<LoadSummary> {
    const { lake, loadId } = this;
    const base = lake.manifest;
    const staging = lake.stagingDir(loadId);
    const startedAt = new Date(this.started).toISOString();
    // Checksums for the load record, read while the cluster works.
    const digesting = digestSources(this.sources);
    digesting.catch(() => undefined);
    try {
      for (const s of this.engine.dialect.sqlSessionSetup()) await this.engine.exec(s);
      this.progress(0, 0, 0);
      const read = await this.readSources(staging);
      const readMs = Date.now() - this.started;
      this.progress(this.bytesTotal, read.resources, read.quarantined);

      const types: Manifest['types'] = { ...base.types };
      const counts: Record<string, LoadCounts> = {};
      // One type at a time: measured faster than overlapping types' jobs (local[2]).
      for (const [type, t] of [...read.types.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const merged = await this.mergeType(type, t, base.types[type], read.incoming);
        types[type] = merged.entry;
        counts[type] = merged.counts;
      }

      let quarantineFile: string | null = null;
      if (read.quarantined > 0) {
        quarantineFile = `quarantine/load-${String(loadId).padStart(6, '0')}.ndjson`;
        mkdirSync(lake.resolve('quarantine'), { recursive: true });
        renameSync(read.quarantinePath, lake.resolve(quarantineFile));
      }
      const digests = await digesting;
      return commitLoad({
        lake,
        base,
        loadId,
        startedAt,
        started: this.started,
        readMs,
        types,
        counts,
        digests,
        sourceCount: this.sources.length,
        bytes: this.bytesTotal,
        quarantined: read.quarantined,
        quarantineFile,
        derivedIds: read.derivedIds,
      });
    } finally {
      await this.dropViews();
      if (this.footers !== undefined) await (await this.footers).close();
      lake.collectGarbage();
      removeEmptyFolders(lake.resolve('data'));
    }
  }

  private async dropViews(): Promise<void> {
    // Best effort: a failed load must still report its own error, not a cleanup's.
    for (const n of [...this.cached]) await this.uncache(n).catch(() => undefined);
    for (const n of this.views.reverse())
      await this.engine.exec(`DROP VIEW IF EXISTS ${this.id(n)}`).catch(() => undefined);
  }

  // -------------------------------------------------------------------------------------
  // Reading

  /**
   * Parses every line once on the cluster (cached), numbers the lines, handles the lines
   * that are not clean in TypeScript, and returns the incoming rows as one view
   * (rt, id, ver, lu, seq, src, keys, mem) with what is known about each type.
   */
  private async readSources(staging: string): Promise<{
    incoming: string;
    types: Map<string, IncomingType>;
    resources: number;
    quarantined: number;
    quarantinePath: string;
    derivedIds: number;
  }> {
    const quarantinePath = path.join(staging, 'quarantine.ndjson');
    const types = new Map<string, IncomingType>();
    const typeOf = (t: string): IncomingType => {
      let e = types.get(t);
      if (e === undefined) {
        e = { read: 0, duplicates: 0, columns: new Set() };
        types.set(t, e);
      }
      return e;
    };
    const empty = `SELECT CAST(NULL AS STRING) AS rt, CAST(NULL AS STRING) AS id, CAST(NULL AS STRING) AS ver, CAST(NULL AS BIGINT) AS lu, CAST(NULL AS BIGINT) AS seq, CAST(NULL AS STRING) AS src, CAST(NULL AS ARRAY<STRING>) AS keys, CAST(NULL AS ARRAY<STRING>) AS mem WHERE FALSE`;
    if (this.sources.length === 0) {
      return {
        incoming: await this.view('in', empty),
        types,
        resources: 0,
        quarantined: 0,
        quarantinePath,
        derivedIds: 0,
      };
    }

    const raw = await this.rawLines();
    const parsed = await this.cache('parsed', parseSql(raw, this.q.bind(this)));
    // The first query reads the files (the parse is cached lazily).
    const numbered = await this.numberLines(parsed).catch((err: unknown) => {
      throw sourceError(err) ?? err;
    });

    const side = await this.handleLeftovers(numbered, staging, quarantinePath);
    const fromSpark = `SELECT rt, id, ver, lu, fidx * ${FILE_STRIDE}L + n AS seq, concat(prefix, CAST(n AS STRING)) AS src, keys, mem FROM ${numbered} WHERE kind = 1`;
    let incoming: string;
    if (side.rows > 0) {
      const sideView = await this.textView('side', [side.path]);
      incoming = await this.view(
        'in',
        `${fromSpark} UNION ALL SELECT r.rt, r.id, r.ver, r.lu, r.seq, r.src, r.keys, r.mem FROM (SELECT from_json(value, 'rt STRING, id STRING, ver STRING, lu BIGINT, seq BIGINT, src STRING, keys ARRAY<STRING>, mem ARRAY<STRING>') AS r FROM ${sideView})`,
      );
    } else {
      incoming = await this.view('in', fromSpark);
    }
    // Per type: rows and element names (the distinct key lists are few: resources of a
    // type look alike).
    const stats = await this.engine.query(
      `SELECT rt, count(*) AS n, collect_set(keys) AS keys FROM ${incoming} GROUP BY rt`,
    );
    for (const r of stats.rows) {
      const e = typeOf(String(r['rt']));
      e.read = Number(r['n']);
      for (const list of r['keys'] as readonly (readonly string[])[])
        for (const k of list) if (k !== 'resourceType' && k !== 'id') e.columns.add(k);
    }
    // Ids given more than once need a newest-wins pass when a type is new to the lake
    // (merged types find them in their merge). Measured cheaper as a query of its own.
    const fresh = [...types.keys()].filter(
      (t) => (this.lake.manifest.types[t]?.files.length ?? 0) === 0,
    );
    if (fresh.length > 0) {
      const dups = await this.engine.query(
        `SELECT rt, count(*) AS d FROM (SELECT rt, id FROM ${incoming} WHERE rt IN (${fresh.map((t) => this.q(t)).join(', ')}) GROUP BY rt, id HAVING count(*) > 1) GROUP BY rt`,
      );
      for (const r of dups.rows) typeOf(String(r['rt'])).duplicates = Number(r['d']);
    }

    const resources = [...types.values()].reduce((a, t) => a + t.read, 0);
    return {
      incoming,
      types,
      resources,
      quarantined: side.quarantined,
      quarantinePath,
      derivedIds: side.derivedIds,
    };
  }

  /** A text view over files, one glob per folder (Hadoop globs cannot mix escapes and folders). */
  private async textView(part: string, files: readonly string[]): Promise<string> {
    const byDir = new Map<string, string[]>();
    for (const f of files) {
      const dir = path.dirname(f);
      byDir.set(dir, [...(byDir.get(dir) ?? []), path.basename(f)]);
    }
    const parts: string[] = [];
    for (const [dir, names] of byDir) {
      const n = this.name(`${part}${parts.length}`);
      const escaped = names.map(globEscape);
      const glob = `${globEscape(dir)}/${escaped.length === 1 ? escaped[0]! : `{${escaped.join(',')}}`}`;
      // lineSep: lines end at \n only, as in the embedded reader (a lone \r is whitespace).
      await this.engine.exec(
        `CREATE OR REPLACE TEMPORARY VIEW ${this.id(n)} USING text OPTIONS (path ${this.q(glob)}, lineSep ${this.q('\n')})`,
      );
      this.views.push(n);
      parts.push(`SELECT value FROM ${this.id(n)}`);
    }
    return this.view(part, parts.join(' UNION ALL '));
  }

  private async rawLines(): Promise<string> {
    const text = await this.textView(
      'text',
      this.sources.map((s) => s.path),
    );
    return this.view(
      'raw',
      `SELECT value, input_file_name() AS file, input_file_block_start() AS block, monotonically_increasing_id() AS mid FROM ${text}`,
    );
  }

  /** Line numbers from the first id and line count of every split (see the file comment). */
  private async numberLines(parsed: string): Promise<string> {
    const res = await this.engine.query(
      `SELECT file, block, min(mid) AS m0, count(*) AS n FROM ${parsed} GROUP BY file, block`,
    );
    const fileIndex = new Map(this.sources.map((s, i) => [s.path, i]));
    const splits: Split[] = res.rows.map((r) => ({
      file: String(r['file']),
      block: Number(r['block']),
      m0: Number(r['m0']),
      count: Number(r['n']),
    }));
    splits.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.block - b.block));
    const values: string[] = [];
    const read = new Set<number>();
    let first = 1;
    for (let i = 0; i < splits.length; i++) {
      const s = splits[i]!;
      if (i > 0 && splits[i - 1]!.file !== s.file) first = 1;
      const local = s.file.startsWith('file:') ? fileURLToPath(s.file) : s.file;
      const fidx = fileIndex.get(local);
      if (fidx === undefined) {
        throw new SparkLoadError(
          SparkLoadErrorCode.Inconsistent,
          `Spark read ${s.file}, which is not one of the sources of this load; run the load again`,
        );
      }
      read.add(fidx);
      const prefix = `${cleanControls(this.sources[fidx]!.path)}:`;
      values.push(
        `(${this.q(s.file)}, ${s.block}L, ${s.m0}L, ${first}L, ${fidx}L, ${this.q(prefix)})`,
      );
      first += s.count;
      this.lines += s.count;
    }
    // Every file with bytes must have been read: Spark skips some names without a word.
    const missing = this.sources.find((s, i) => s.size > 0 && !read.has(i));
    if (missing !== undefined) {
      throw new SparkLoadError(
        SparkLoadErrorCode.Inconsistent,
        `Spark read no line of ${missing.path}; check that the Spark driver and executors see the file at that path, or load it with --engine duckdb`,
      );
    }
    const splitView = await this.view(
      'splits',
      values.length === 0
        ? `SELECT CAST(NULL AS STRING) AS file, 0L AS block, 0L AS m0, 0L AS first, 0L AS fidx, CAST(NULL AS STRING) AS prefix WHERE FALSE`
        : `SELECT * FROM VALUES ${values.join(', ')} AS s(file, block, m0, first, fidx, prefix)`,
    );
    return this.view(
      'lines',
      `SELECT /*+ BROADCAST(s) */ p.kind, p.txt, p.u8, p.rt, p.id, p.ver, p.lu, p.keys, p.mem, s.fidx, s.first + p.mid - s.m0 AS n, s.prefix FROM ${parsed} p JOIN ${splitView} s ON p.file = s.file AND p.block = s.block`,
    );
  }

  /**
   * Lines that are not clean resources, handled as the embedded reader handles them:
   * quarantined with its reasons, or kept (a derived id, duplicate members, ...) and
   * written to a side file that Spark reads back.
   */
  private async handleLeftovers(
    numbered: string,
    staging: string,
    quarantinePath: string,
  ): Promise<{
    path: string;
    rows: number;
    quarantined: number;
    derivedIds: number;
  }> {
    const sidePath = path.join(staging, 'side.ndjson');
    const side = new LineWriter(sidePath);
    const quarantineOut = new LineWriter(quarantinePath);
    let rows = 0;
    let quarantined = 0;
    let derivedIds = 0;
    try {
      const stream = await this.engine.stream(
        `SELECT fidx, n, txt, u8 FROM ${numbered} WHERE kind = 2 ORDER BY fidx, n`,
      );
      for await (const batch of stream) {
        for (const r of batch) {
          const fidx = Number(r['fidx']);
          const line = Number(r['n']);
          const file = this.sources[fidx]!.path;
          const source: SourcePosition = { file, line };
          const text = String(r['txt']);
          const rec =
            r['u8'] === true
              ? recordFromLine(text, source)
              : quarantine(QuarantineCode.NotJson, NOT_UTF8, source, text);
          const kept = rec.kind === 'resource' ? checkElements(rec) : rec;
          if (kept.kind === 'quarantine') {
            quarantined++;
            await quarantineOut.write(quarantineLine(kept));
            continue;
          }
          if (kept.idDerived) derivedIds++;
          const keys: string[] = [];
          const mem: string[] = [];
          for (const [k, v] of kept.fields) {
            if (k === 'id') continue;
            keys.push(k);
            // In the form elementSql() reads (the key is skipped by its length). Staging
            // turns raw line breaks and tabs (whitespace between tokens) into spaces.
            mem.push(`"${k}":${v.replace(/[\n\r\t]/g, ' ')},`);
          }
          const row: SideRow = {
            rt: kept.resourceType,
            id: kept.id,
            ver: kept.versionId === null ? null : cleanControls(kept.versionId),
            lu: kept.lastUpdated,
            seq: fidx * FILE_STRIDE + line,
            src: `${cleanControls(file)}:${line}`,
            keys,
            mem,
          };
          await side.write(JSON.stringify(row));
          rows++;
        }
      }
    } finally {
      await side.close();
      await quarantineOut.close();
    }
    return { path: sidePath, rows, quarantined, derivedIds };
  }

  // -------------------------------------------------------------------------------------
  // Merging

  /** SELECT of one type's incoming rows in the lake layout (layout.ts), `@hash` included. */
  private incomingSql(incoming: string, type: string, columns: readonly string[]): string {
    const q = (s: string): string => this.q(s);
    const i = (s: string): string => this.id(s);
    const element = (c: string): string => elementSql(c, q);
    // Same text as lakeColumnsSql hashes, so DuckDB and Spark loads recognise each other's rows.
    const hashed = columns
      .filter((c) => c !== 'meta')
      .map((c) => `${q(c)} || chr(2) || ${element(c)}`);
    const hash = `md5(concat_ws(chr(1), id, ${hashed.join(', ') || "''"}))`;
    const L = LAKE_COLUMNS;
    return `SELECT id AS ${i('id')}, ver AS ${i(L.versionId)}, lu AS ${i(L.lastUpdated)}, CAST(${this.loadId} AS INT) AS ${i(L.load)}, seq AS ${i(L.seq)}, src AS ${i(L.source)}, ${hash} AS ${i(L.hash)}${columns.map((c) => `, ${element(c)} AS ${i(c)}`).join('')} FROM ${incoming} WHERE rt = ${q(type)}`;
  }

  /** The newest row of each id in `sql` (load.ts's order), with the given columns. */
  private newestSql(sql: string, columns: readonly string[]): string {
    const c = (n: string): string => this.id(n);
    const L = LAKE_COLUMNS;
    const newestFirst = `try_cast(${c(L.versionId)} AS DOUBLE) DESC NULLS LAST, ${c(L.lastUpdated)} DESC NULLS LAST, ${c(L.load)} DESC, ${c(L.seq)} DESC`;
    return `SELECT ${columns.map(c).join(', ')} FROM (SELECT *, row_number() OVER (PARTITION BY ${c('id')} ORDER BY ${newestFirst}) AS medlake_rn FROM (${sql})) WHERE medlake_rn = 1`;
  }

  private async mergeType(
    type: string,
    t: IncomingType,
    existing: TypeEntry | undefined,
    incoming: string,
  ): Promise<Merged> {
    const columns = [...t.columns].sort();
    const rowsSql = this.incomingSql(incoming, type, columns);
    const L = LAKE_COLUMNS;
    const layout = ['id', L.versionId, L.lastUpdated, L.load, L.seq, L.source, L.hash, ...columns];
    const oldFiles = existing?.files ?? [];
    if (oldFiles.length === 0) {
      const files = await this.write(
        type,
        'p',
        this.partsFor(t),
        t.duplicates > 0 ? this.newestSql(rowsSql, layout) : rowsSql,
      );
      const rows = files.reduce((a, f) => a + f.rows, 0);
      return {
        entry: { files, rows, columns: [...new Set(['id', ...columns])].sort() },
        counts: { read: t.read, added: rows, updated: 0, unchanged: 0, superseded: t.read - rows },
      };
    }

    const i = (s: string): string => this.id(s);
    const oldScan = this.lakeScan(oldFiles.map((f) => f.path));
    const keys = this.newestSql(rowsSql, ['id', L.seq, L.versionId, L.lastUpdated, L.hash]);
    const n = (c: string): string => `n.${i(c)}`;
    const o = (c: string): string => `o.${i(c)}`;
    const nv = `try_cast(${n(L.versionId)} AS DOUBLE)`;
    const ov = `try_cast(${o(L.versionId)} AS DOUBLE)`;
    // The embedded merge's rule (load.ts): a higher versionId, else a later lastUpdated,
    // else the newer load wins.
    const newer = `CASE WHEN ${nv} IS DISTINCT FROM ${ov} THEN ${ov} IS NULL OR coalesce(${nv} > ${ov}, FALSE) WHEN ${n(L.lastUpdated)} IS DISTINCT FROM ${o(L.lastUpdated)} THEN ${o(L.lastUpdated)} IS NULL OR coalesce(${n(L.lastUpdated)} > ${o(L.lastUpdated)}, FALSE) ELSE TRUE END`;
    const decisions = await this.cache(
      `dec_${type}`,
      `SELECT n.id, ${n(L.seq)} AS seq, o.medlake_file AS file, CASE WHEN o.id IS NULL THEN 'added' WHEN ${n(L.hash)} = ${o(L.hash)} THEN 'unchanged' WHEN ${newer} THEN 'updated' ELSE 'stale' END AS status FROM (${keys}) n LEFT JOIN (SELECT id, ${i(L.hash)}, ${i(L.versionId)}, ${i(L.lastUpdated)}, input_file_name() AS medlake_file FROM ${oldScan}) o ON n.id = o.id`,
    );
    try {
      const stats = await this.engine.query(
        `SELECT status, file, count(*) AS c FROM ${decisions} GROUP BY status, file`,
      );
      const count = (s: string): number =>
        stats.rows.filter((r) => r['status'] === s).reduce((a, r) => a + Number(r['c']), 0);
      const added = count('added');
      const updated = count('updated');
      const unchanged = count('unchanged');
      let files = [...oldFiles];
      if (updated > 0) {
        const rels = stats.rows
          .filter((r) => r['status'] === 'updated')
          .map((r) => this.lakeRelative(String(r['file'])));
        const known = new Map(oldFiles.map((f) => [f.path, f.bytes]));
        for (const rel of rels) {
          if (!known.has(rel)) {
            throw new SparkLoadError(
              SparkLoadErrorCode.Inconsistent,
              `Spark read ${rel}, which the manifest does not name for ${type}; run the load again`,
            );
          }
        }
        // The files holding replaced resources are rewritten without them; others stay.
        const oldBytes = rels.reduce((a, r) => a + (known.get(r) ?? 0), 0);
        const kept = await this.write(
          type,
          'r',
          Math.ceil(oldBytes / REWRITE_PART_BYTES),
          `SELECT o.* FROM ${this.lakeScan(rels)} o LEFT ANTI JOIN (SELECT id FROM ${decisions} WHERE status = 'updated') u ON o.id = u.id`,
        );
        files = [...files.filter((f) => !rels.includes(f.path)), ...kept];
      }
      if (added + updated > 0) {
        // When no row was an older duplicate, unchanged or stale, all of them go in.
        const sql =
          t.read === added + updated
            ? rowsSql
            : `SELECT r.* FROM (${rowsSql}) r LEFT SEMI JOIN (SELECT id, seq FROM ${decisions} WHERE status IN ('added', 'updated')) d ON r.id = d.id AND r.${i(L.seq)} = d.seq`;
        files.push(...(await this.write(type, 'p', this.partsFor(t), sql)));
      }
      const columnsAfter = new Set([...(existing?.columns ?? ['id']), 'id', ...columns]);
      return {
        entry: {
          files,
          rows: files.reduce((a, f) => a + f.rows, 0),
          columns: [...columnsAfter].sort(),
        },
        // Superseded: older than the lake's copy, or an older duplicate within this load.
        counts: {
          read: t.read,
          added,
          updated,
          unchanged,
          superseded: t.read - added - updated - unchanged,
        },
      };
    } finally {
      await this.uncache(this.name(`dec_${type}`));
    }
  }

  /** A Parquet scan of lake files (paths relative to the lake, named by the lake itself). */
  private lakeScan(rels: readonly string[]): string {
    const names = rels.map((r) => r.replace(/[\\{}[\]*?,]/g, (c) => `\\${c}`));
    const glob = `${globEscape(this.lake.dir)}/${names.length === 1 ? names[0]! : `{${names.join(',')}}`}`;
    return `parquet.${this.id(glob)}`;
  }

  private lakeRelative(sparkPath: string): string {
    return this.lake.relative(sparkPath.startsWith('file:') ? fileURLToPath(sparkPath) : sparkPath);
  }

  /** Part files for a type's new rows: one per PART_SOURCE_BYTES of its share of the NDJSON. */
  private partsFor(t: IncomingType): number {
    const share = this.bytesTotal * (t.read / Math.max(1, this.lines));
    return Math.ceil(share / PART_SOURCE_BYTES);
  }

  /**
   * Writes a query's rows, as `parts` part files at most (so that a type mixed into many
   * input splits does not become many small files), into a new folder
   * data/<Type>/<kind>-<load>[-i]; returns the parts with rows as manifest entries
   * (empty parts are left out).
   */
  private async write(
    type: string,
    kind: 'p' | 'r',
    parts: number,
    sql: string,
  ): Promise<{ path: string; rows: number; bytes: number }[]> {
    const dir = this.lake.resolve(path.join('data', type));
    mkdirSync(dir, { recursive: true });
    let out = '';
    for (let i = 0; ; i++) {
      out = path.join(
        dir,
        `${kind}-${String(this.loadId).padStart(6, '0')}${i === 0 ? '' : `-${i}`}`,
      );
      if (!existsSync(out)) break;
    }
    const written = await this.engine.copyToParquet(
      `SELECT /*+ COALESCE(${Math.max(1, parts)}) */ * FROM (${sql})`,
      out,
    );
    if (written === 0) return [];
    // Row counts from the part files' footers, read here: no job on the cluster.
    const files = readdirSync(out)
      .filter((f) => f.endsWith('.parquet'))
      .sort()
      .map((f) => path.join(out, f));
    this.footers ??= DuckDBEngine.create({ threads: 2 });
    const duck = await this.footers;
    const meta = await duck.query(
      `SELECT file_name AS f, num_rows AS n FROM parquet_file_metadata([${files.map((f) => duck.dialect.quoteString(f)).join(', ')}])`,
    );
    const rows = new Map(meta.rows.map((r) => [String(r['f']), Number(r['n'])]));
    return files
      .filter((f) => (rows.get(f) ?? 0) > 0)
      .map((f) => ({ path: this.lake.relative(f), rows: rows.get(f)!, bytes: statSync(f).size }));
  }
}

// ---------------------------------------------------------------------------------------
// The parse, in Spark SQL

function globEscape(p: string): string {
  return p.replace(/[\\{}[\]*?,]/g, (c) => `\\${c}`);
}

/**
 * A Java regular expression for one top-level member of a JSON object with what follows
 * it: `  "key" : value ,` (or the closing `}`). Containers are matched by nesting up to
 * MEMBER_DEPTH levels; possessive quantifiers keep it linear. It admits double-quoted
 * strings only and no control characters, so what it splits is strict JSON text once
 * Jackson has accepted the line; anything else is left to the exact path.
 */
function memberPattern(depth = MEMBER_DEPTH): string {
  const str = String.raw`"(?:[^"\\\x00-\x1f]++|\\.)*+"`;
  const run = String.raw`[^"{}\[\]'\x00-\x1f]++`;
  let inner = `(?:${str}|${run})`;
  for (let i = 0; i < depth; i++) inner = String.raw`(?:${str}|${run}|[{\[]${inner}*+[}\]])`;
  const value = String.raw`(?:${str}|[{\[]${inner}*+[}\]]|[^ ,{}\[\]"'\x00-\x1f]++)`;
  return String.raw` *+${str} *+: *+${value} *+[,}]`;
}

/**
 * The JSON text of element `k` of a row's members (`keys`, `mem`), NULL when absent
 * (get() is NULL out of range, array_position 0). A member is `  "k" : value ,` (or `}`
 * last), its key exactly as decoded: the value is what lies between the colon after the
 * key (found by the key's length) and the last character, without spaces.
 * Scalar string functions: compiled by Spark, unlike a lambda over all members.
 */
function elementSql(k: string, q: (s: string) => string): string {
  const m = `get(mem, array_position(keys, ${q(k)}) - 1)`;
  // The colon after the key; offsets instead of trimming step by step save copies.
  const colon = `locate(':', ${m}, instr(${m}, '"') + length(${q(k)}) + 2)`;
  return `trim(substr(${m}, ${colon} + 1, length(${m}) - ${colon} - 1))`;
}

const INSTANT = String.raw`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`;

/**
 * The cached parse: one row per line with `kind` 0 (blank), 1 (clean: rt, id, ver, lu,
 * and the member names `keys` with the members' exact text `mem`, see elementSql) or 2
 * (left to TypeScript: `txt`, `u8`).
 * Each nesting level names values the next one uses more than once.
 */
function parseSql(raw: string, q: (s: string) => string): string {
  const types = [...FHIR_R4_RESOURCE_TYPES].map(q).join(', ');
  const pattern = q(memberPattern());
  const string = (v: string): string =>
    `CASE WHEN schema_of_variant(variant_get(mv, ${q(`$.${v}`)})) = 'STRING' THEN variant_get(mv, ${q(`$.${v}`)}, 'string') END`;
  // Each member must start with its key exactly as decoded (no escapes in it), so that
  // elementSql() can skip it by length; only lines holding a backslash need the check.
  const rawKeys = `CASE WHEN contains(body, '\\\\') THEN forall(zip_with(keys, mem, (k, m) -> startswith(ltrim(m), concat('"', k, '"'))), x -> x) ELSE TRUE END`;
  const lines = `SELECT file, block, mid, value AS raw, is_valid_utf8(value) AS u8, CASE WHEN startswith(value, '\\uFEFF') THEN substr(value, 2) ELSE value END AS b0 FROM ${raw}`;
  const body = `SELECT *, CASE WHEN endswith(b0, '\\r') THEN substr(b0, 1, length(b0) - 1) ELSE b0 END AS body FROM (${lines})`;
  const blank = `SELECT *, u8 AND trim(BOTH ' \\t\\r' FROM body) = '' AS blank FROM (${body})`;
  const split = `SELECT *, CASE WHEN u8 AND NOT blank THEN json_object_keys(body) END AS keys, CASE WHEN u8 AND NOT blank THEN regexp_extract_all(body, ${pattern}, 0) END AS mem FROM (${blank})`;
  const ok = `SELECT *, coalesce(keys IS NOT NULL AND size(keys) = size(mem) AND size(array_distinct(keys)) = size(keys) AND concat('{', array_join(mem, '')) = trim(body) AND NOT exists(keys, k -> k = '' OR startswith(k, '@')) AND ${rawKeys}, FALSE) AS ok FROM (${split})`;
  const member = (k: string): string => `CASE WHEN ok THEN ${elementSql(k, q)} END`;
  const top = `SELECT *, ${member('resourceType')} AS rtx, ${member('id')} AS idx, ${member('meta')} AS meta FROM (${ok})`;
  const ids = `SELECT *, CASE WHEN startswith(rtx, '"') AND endswith(rtx, '"') THEN substr(rtx, 2, length(rtx) - 2) END AS rt0, CASE WHEN idx RLIKE '^"[A-Za-z0-9.\\\\-]{1,64}"$' THEN substr(idx, 2, length(idx) - 2) END AS id0, try_parse_json(meta) AS mv FROM (${top})`;
  const metaSql = `SELECT *, ${string('versionId')} AS ver0, ${string('lastUpdated')} AS lut FROM (${ids})`;
  // meta.lastUpdated: parsed here only in the strict instant form, where Spark and
  // Date.parse agree; other values (or ones Spark rejects) take the exact path.
  const lu = `SELECT *, CASE WHEN lut RLIKE ${q(INSTANT)} THEN unix_millis(try_cast(lut AS TIMESTAMP)) END AS lu0 FROM (${metaSql})`;
  const kind = `SELECT *, CASE WHEN blank THEN 0 WHEN ok AND rt0 IN (${types}) AND id0 IS NOT NULL AND (meta IS NULL OR mv IS NOT NULL) AND (lut IS NULL OR lu0 IS NOT NULL) THEN 1 ELSE 2 END AS kind FROM (${lu})`;
  return `SELECT file, block, mid, kind, CASE WHEN kind = 2 THEN CASE WHEN u8 THEN body ELSE raw END END AS txt, u8, CASE WHEN kind = 1 THEN rt0 END AS rt, CASE WHEN kind = 1 THEN id0 END AS id, CASE WHEN kind = 1 THEN regexp_replace(ver0, '[\\\\x00-\\\\x1f]', ' ') END AS ver, CASE WHEN kind = 1 THEN lu0 END AS lu, CASE WHEN kind = 1 THEN keys END AS keys, CASE WHEN kind = 1 THEN mem END AS mem FROM (${kind})`;
}

// ---------------------------------------------------------------------------------------
// The exact path (TypeScript) for lines that are not clean

/**
 * One NDJSON line as the embedded reader reads it. The line is read as the single element
 * of a JSON array, which the reader classifies as it does a line (an object is a resource,
 * a Bundle is stored and not expanded, anything else is not-object); only invalid JSON
 * is reported here, with JSON.parse's message for the line itself.
 */
function recordFromLine(text: string, source: SourcePosition): IngestRecord {
  try {
    JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return quarantine(QuarantineCode.NotJson, `Not valid JSON: ${msg}`, source, text);
  }
  const rec = recordsFromJsonDocument(`[${text}]`, source.file)[0];
  if (rec === undefined) throw new Error(`no record for line ${source.line} of ${source.file}`);
  return rec.kind === 'quarantine'
    ? { ...rec, source, text: text.slice(0, QUARANTINE_TEXT_CHARS) }
    : { ...rec, source };
}

/** stage.ts's check: element names must be storable as columns. */
function checkElements(rec: ParsedResource): IngestRecord {
  const badKey = rec.fields.find(([k]) => !isStorableElementName(k));
  if (badKey === undefined) return rec;
  return {
    kind: 'quarantine',
    code: QuarantineCode.BadElement,
    reason: `Element name ${JSON.stringify(badKey[0])} is empty, starts with @ or holds control characters; FHIR element names are letters and digits.`,
    source: rec.source,
    text: rec.fields
      .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
      .join(',')
      .slice(0, QUARANTINE_TEXT_CHARS),
  };
}

// Control characters are exactly what this pattern looks for.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f]/g;

/** As the staging writer cleans file names and versionIds. */
function cleanControls(s: string): string {
  return s.replace(CONTROLS, ' ');
}

/** Appends lines to a file that is only created when the first line comes. */
class LineWriter {
  private out: WriteStream | undefined;

  constructor(readonly file: string) {}

  async write(line: string): Promise<void> {
    if (this.out === undefined) {
      this.out = createWriteStream(this.file);
      this.out.on('error', () => undefined); // reported by the next write or close
    }
    const out = this.out;
    if (out.errored !== null) throw out.errored;
    if (!out.write(line + '\n')) await new Promise<void>((res) => out.once('drain', () => res()));
  }

  async close(): Promise<void> {
    const out = this.out;
    this.out = undefined;
    if (out !== undefined)
      await new Promise<void>((res, rej) =>
        out.end((err?: Error | null) => (err ? rej(err) : res())),
      );
  }
}

async function digestSources(
  sources: readonly SourceFile[],
): Promise<{ path: string; sha256: string; bytes: number }[]> {
  const out: { path: string; sha256: string; bytes: number }[] = [];
  for (const s of sources) {
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of createReadStream(s.path, {
        highWaterMark: 1 << 20,
      }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
      }
    } catch (err) {
      throw new IngestSourceError(
        'SOURCE_UNREADABLE',
        s.path,
        `Cannot read ${s.path}: ${(err as Error).message}`,
      );
    }
    out.push({ path: s.path, sha256: hash.digest('hex'), bytes });
  }
  return out;
}

/**
 * Spark's failure to read a source (a .gz that is not gzip, a file gone), as the embedded
 * reader reports it; undefined for other errors.
 */
function sourceError(err: unknown): IngestSourceError | undefined {
  const e = err as { errorClass?: unknown; message?: unknown };
  if (typeof e.errorClass !== 'string' || !e.errorClass.startsWith('FAILED_READ_FILE')) return;
  const uri = /file:\/\/\S*?(?=[\s.]*(?:\s|$))/.exec(String(e.message))?.[0];
  const file = uri === undefined ? 'a source file' : fileURLToPath(uri);
  return new IngestSourceError(
    'SOURCE_CORRUPT',
    file,
    `Spark could not read ${file} (${e.errorClass}). If it is gzipped, it may be truncated or not really gzip: download it again; see the Spark log for the cause.`,
    { cause: err },
  );
}

/** Folders a distributed write left empty once their part files were replaced. */
function removeEmptyFolders(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const sub = path.join(dir, e.name);
    removeEmptyFolders(sub);
    if (readdirSync(sub).length === 0) rmdirSync(sub);
  }
}
