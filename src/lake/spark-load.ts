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
import type { Engine } from '../engine/engine.js';
import { discoverSources, recordsFromJsonDocument } from '../ingest/fhir-json-reader.js';
import { FHIR_R4_RESOURCE_TYPES } from '../ingest/resource-types.js';
import {
  IngestSourceError,
  QuarantineCode,
  type IngestRecord,
  type ParsedResource,
  type QuarantinedRecord,
  type SourceFile,
  type SourcePosition,
} from '../ingest/types.js';
import { Lake } from './lake.js';
import { LAKE_COLUMNS, isStorableElementName } from './layout.js';
import type { LoadProgress, LoadSummary } from './load.js';
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
const QUARANTINE_TEXT_CHARS = 4096;
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
    const lower = s.path.toLowerCase();
    const gz = s.path.endsWith('.gz');
    const codec = HADOOP_CODEC_SUFFIXES.find((x) => lower.endsWith(x));
    if ((s.format === 'ndjson.gz' && !gz) || (s.format === 'ndjson' && (codec ?? '') !== '')) {
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
  readonly el: Record<string, string>;
}

class SparkLoad {
  private readonly engine: Engine;
  private readonly loadId: number;
  private readonly tag: string;
  private readonly views: string[] = [];
  private readonly cached: string[] = [];
  private readonly bytesTotal: number;

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

  private async cache(part: string, sql: string): Promise<string> {
    const n = this.name(part);
    await this.engine.exec(`CACHE TABLE ${this.id(n)} AS ${sql}`);
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
      const mergeMs = Date.now() - this.started - readMs;
      const committedAt = new Date().toISOString();
      lake.commit({
        ...base,
        commit: loadId,
        updatedAt: committedAt,
        types,
        loads: [
          ...base.loads,
          {
            id: loadId,
            startedAt,
            committedAt,
            sources: digests,
            counts,
            quarantined: read.quarantined,
            quarantineFile,
            derivedIds: read.derivedIds,
          },
        ],
      });
      const sum = (k: keyof LoadCounts): number =>
        Object.values(counts).reduce((a, c) => a + c[k], 0);
      return {
        lake: lake.dir,
        loadId,
        sources: this.sources.length,
        bytes: this.bytesTotal,
        resources: counts,
        read: sum('read'),
        added: sum('added'),
        updated: sum('updated'),
        unchanged: sum('unchanged'),
        superseded: sum('superseded'),
        quarantined: read.quarantined,
        quarantineFile,
        derivedIds: read.derivedIds,
        durationMs: Date.now() - this.started,
        phases: { readMs, mergeMs },
      };
    } finally {
      await this.dropViews();
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
   * (rt, id, ver, lu, seq, src, el) with what is known about each type.
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
    const empty = `SELECT CAST(NULL AS STRING) AS rt, CAST(NULL AS STRING) AS id, CAST(NULL AS STRING) AS ver, CAST(NULL AS BIGINT) AS lu, CAST(NULL AS BIGINT) AS seq, CAST(NULL AS STRING) AS src, CAST(NULL AS MAP<STRING, STRING>) AS el WHERE FALSE`;
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
    const numbered = await this.numberLines(parsed);

    const side = await this.handleLeftovers(numbered, staging, quarantinePath);
    for (const [t, s] of side.types) {
      const e = typeOf(t);
      e.read += s.read;
      for (const c of s.columns) e.columns.add(c);
    }

    // Element names and row counts per type (every clean row has a resourceType member).
    const keys = await this.engine.query(
      `SELECT rt, k, count(*) AS c FROM ${parsed} LATERAL VIEW explode(map_keys(el)) x AS k WHERE kind = 1 GROUP BY rt, k`,
    );
    for (const r of keys.rows) {
      const e = typeOf(String(r['rt']));
      const k = String(r['k']);
      if (k === 'resourceType') e.read += Number(r['c']);
      else if (k !== 'id') e.columns.add(k);
    }

    const fromSpark = `SELECT rt, id, ver, lu, fidx * ${FILE_STRIDE}L + n AS seq, concat(prefix, CAST(n AS STRING)) AS src, el FROM ${numbered} WHERE kind = 1`;
    let incoming: string;
    if (side.rows > 0) {
      const sideView = await this.textView('side', [side.path]);
      incoming = await this.view(
        'in',
        `${fromSpark} UNION ALL SELECT r.rt, r.id, r.ver, r.lu, r.seq, r.src, r.el FROM (SELECT from_json(value, 'rt STRING, id STRING, ver STRING, lu BIGINT, seq BIGINT, src STRING, el MAP<STRING, STRING>') AS r FROM ${sideView})`,
      );
    } else {
      incoming = await this.view('in', fromSpark);
    }
    // Ids given more than once in this load decide whether a type needs deduplication.
    const dups = await this.engine.query(
      `SELECT rt, count(*) - count(DISTINCT id) AS d FROM ${incoming} GROUP BY rt`,
    );
    for (const r of dups.rows) typeOf(String(r['rt'])).duplicates = Number(r['d']);

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
      const prefix = `${cleanControls(this.sources[fidx]!.path)}:`;
      values.push(
        `(${this.q(s.file)}, ${s.block}L, ${s.m0}L, ${first}L, ${fidx}L, ${this.q(prefix)})`,
      );
      first += s.count;
    }
    const splitView = await this.view(
      'splits',
      `SELECT * FROM VALUES ${values.join(', ')} AS s(file, block, m0, first, fidx, prefix)`,
    );
    return this.view(
      'lines',
      `SELECT /*+ BROADCAST(s) */ p.kind, p.txt, p.u8, p.rt, p.id, p.ver, p.lu, p.el, s.fidx, s.first + p.mid - s.m0 AS n, s.prefix FROM ${parsed} p JOIN ${splitView} s ON p.file = s.file AND p.block = s.block`,
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
    types: Map<string, { read: number; columns: Set<string> }>;
  }> {
    const sidePath = path.join(staging, 'side.ndjson');
    const side = new LineWriter(sidePath);
    const quarantine = new LineWriter(quarantinePath);
    const types = new Map<string, { read: number; columns: Set<string> }>();
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
              : quarantineRecord(QuarantineCode.NotJson, NOT_UTF8, source, text);
          const kept = rec.kind === 'resource' ? checkElements(rec) : rec;
          if (kept.kind === 'quarantine') {
            quarantined++;
            await quarantine.write(quarantineLine(kept));
            continue;
          }
          if (kept.idDerived) derivedIds++;
          const el: Record<string, string> = {};
          for (const [k, v] of kept.fields) {
            // Staging turns raw line breaks and tabs (whitespace between tokens) into spaces.
            if (k !== 'id') el[k] = v.replace(/[\n\r\t]/g, ' ');
          }
          const row: SideRow = {
            rt: kept.resourceType,
            id: kept.id,
            ver: kept.versionId === null ? null : cleanControls(kept.versionId),
            lu: kept.lastUpdated,
            seq: fidx * FILE_STRIDE + line,
            src: `${cleanControls(file)}:${line}`,
            el,
          };
          await side.write(JSON.stringify(row));
          rows++;
          const t = types.get(row.rt) ?? { read: 0, columns: new Set<string>() };
          t.read++;
          for (const k of Object.keys(el)) t.columns.add(k);
          types.set(row.rt, t);
        }
      }
    } finally {
      await side.close();
      await quarantine.close();
    }
    return { path: sidePath, rows, quarantined, derivedIds, types };
  }

  // -------------------------------------------------------------------------------------
  // Merging

  /** SELECT of one type's incoming rows in the lake layout (layout.ts), `@hash` included. */
  private incomingSql(incoming: string, type: string, columns: readonly string[]): string {
    const q = (s: string): string => this.q(s);
    const i = (s: string): string => this.id(s);
    // Same text as lakeColumnsSql hashes, so DuckDB and Spark loads recognise each other's rows.
    const hashed = columns
      .filter((c) => c !== 'meta')
      .map((c) => `${q(c)} || chr(2) || el[${q(c)}]`);
    const hash = `md5(concat_ws(chr(1), id, ${hashed.join(', ') || "''"}))`;
    const L = LAKE_COLUMNS;
    return `SELECT id AS ${i('id')}, ver AS ${i(L.versionId)}, lu AS ${i(L.lastUpdated)}, CAST(${this.loadId} AS INT) AS ${i(L.load)}, seq AS ${i(L.seq)}, src AS ${i(L.source)}, ${hash} AS ${i(L.hash)}${columns.map((c) => `, el[${q(c)}] AS ${i(c)}`).join('')} FROM ${incoming} WHERE rt = ${q(type)}`;
  }

  private newestFirst(prefix = ''): string {
    const L = LAKE_COLUMNS;
    const c = (n: string): string => `${prefix}${this.id(n)}`;
    return `try_cast(${c(L.versionId)} AS DOUBLE) DESC NULLS LAST, ${c(L.lastUpdated)} DESC NULLS LAST, ${c(L.load)} DESC, ${c(L.seq)} DESC`;
  }

  /** The newest row of each id in `sql`, with the given columns. */
  private newestSql(sql: string, columns: readonly string[]): string {
    const cols = columns.map((c) => this.id(c)).join(', ');
    return `SELECT ${cols} FROM (SELECT *, row_number() OVER (PARTITION BY ${this.id('id')} ORDER BY ${this.newestFirst()}) AS medlake_rn FROM (${sql})) WHERE medlake_rn = 1`;
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
        `SELECT status, count(*) AS c FROM ${decisions} GROUP BY status`,
      );
      const count = (s: string): number =>
        Number(stats.rows.find((r) => r['status'] === s)?.['c'] ?? 0);
      const added = count('added');
      const updated = count('updated');
      const unchanged = count('unchanged');
      const stale = count('stale');
      let files = [...oldFiles];
      if (updated > 0) {
        const affected = await this.engine.query(
          `SELECT DISTINCT file FROM ${decisions} WHERE status = 'updated'`,
        );
        const rels = affected.rows.map((r) => this.lakeRelative(String(r['file'])));
        const known = new Set(oldFiles.map((f) => f.path));
        for (const rel of rels) {
          if (!known.has(rel)) {
            throw new SparkLoadError(
              SparkLoadErrorCode.Inconsistent,
              `Spark read ${rel}, which the manifest does not name for ${type}; run the load again`,
            );
          }
        }
        // The files holding replaced resources are rewritten without them; others stay.
        const kept = await this.write(
          type,
          'r',
          `SELECT o.* FROM ${this.lakeScan(rels)} o LEFT ANTI JOIN (SELECT id FROM ${decisions} WHERE status = 'updated') u ON o.id = u.id`,
        );
        files = [...files.filter((f) => !rels.includes(f.path)), ...kept];
      }
      if (added + updated > 0) {
        // Without older duplicates or rows that change nothing, every incoming row is new.
        const all = t.duplicates === 0 && unchanged + stale === 0;
        const sql = all
          ? rowsSql
          : `SELECT r.* FROM (${rowsSql}) r LEFT SEMI JOIN (SELECT id, seq FROM ${decisions} WHERE status IN ('added', 'updated')) d ON r.id = d.id AND r.${i(L.seq)} = d.seq`;
        files.push(...(await this.write(type, 'p', sql)));
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

  /**
   * Writes a query's rows into a new folder data/<Type>/<kind>-<load>[-i] and returns its
   * part files with rows, as manifest entries (empty parts are left out).
   */
  private async write(
    type: string,
    kind: 'p' | 'r',
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
    const written = await this.engine.copyToParquet(sql, out);
    if (written === 0) return [];
    const parts = await this.engine.query(
      `SELECT input_file_name() AS f, count(*) AS n FROM ${this.lakeScan([this.lake.relative(out)])} GROUP BY 1`,
    );
    return parts.rows
      .map((r) => {
        const rel = this.lakeRelative(String(r['f']));
        return { path: rel, rows: Number(r['n']), bytes: statSync(this.lake.resolve(rel)).size };
      })
      .sort((a, b) => (a.path < b.path ? -1 : 1));
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
export function memberPattern(depth = MEMBER_DEPTH): string {
  const str = String.raw`"(?:[^"\\\x00-\x1f]++|\\.)*+"`;
  const run = String.raw`[^"{}\[\]'\x00-\x1f]++`;
  let inner = `(?:${str}|${run})`;
  for (let i = 0; i < depth; i++) inner = String.raw`(?:${str}|${run}|[{\[]${inner}*+[}\]])`;
  const value = String.raw`(?:${str}|[{\[]${inner}*+[}\]]|[^ ,{}\[\]"'\x00-\x1f]++)`;
  return String.raw` *+${str} *+: *+${value} *+[,}]`;
}

const INSTANT = String.raw`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`;

/**
 * The cached parse: one row per line with `kind` 0 (blank), 1 (clean: rt, id, ver, lu
 * and `el`, the members' exact text by name) or 2 (left to TypeScript: `txt`, `u8`).
 * Each nesting level names values the next one uses more than once.
 */
function parseSql(raw: string, q: (s: string) => string): string {
  const types = [...FHIR_R4_RESOURCE_TYPES].map(q).join(', ');
  const member = q(memberPattern());
  const string = (v: string): string =>
    `CASE WHEN schema_of_variant(variant_get(mv, ${q(`$.${v}`)})) = 'STRING' THEN variant_get(mv, ${q(`$.${v}`)}, 'string') END`;
  // Value of a member `  "k" : v ,`: after the raw key (checked to be exactly "k") and
  // the colon, without the last character and the spaces before it.
  const value = `transform(zip_with(keys, mem, (k, m) -> CASE WHEN startswith(ltrim(m), concat('"', k, '"')) THEN ltrim(substr(ltrim(substr(ltrim(m), length(k) + 3)), 2)) END), x -> rtrim(substr(x, 1, length(x) - 1)))`;
  const lines = `SELECT file, block, mid, value AS raw, is_valid_utf8(value) AS u8, CASE WHEN startswith(value, '\\uFEFF') THEN substr(value, 2) ELSE value END AS b0 FROM ${raw}`;
  const body = `SELECT *, CASE WHEN endswith(b0, '\\r') THEN substr(b0, 1, length(b0) - 1) ELSE b0 END AS body FROM (${lines})`;
  const blank = `SELECT *, u8 AND trim(BOTH ' \\t\\r' FROM body) = '' AS blank FROM (${body})`;
  const split = `SELECT *, CASE WHEN u8 AND NOT blank THEN json_object_keys(body) END AS keys, CASE WHEN u8 AND NOT blank THEN regexp_extract_all(body, ${member}, 0) END AS mem FROM (${blank})`;
  const values = `SELECT *, ${value} AS vals FROM (${split})`;
  const ok = `SELECT *, coalesce(keys IS NOT NULL AND size(keys) = size(mem) AND size(array_distinct(keys)) = size(keys) AND concat('{', array_join(mem, '')) = trim(body) AND forall(vals, v -> v IS NOT NULL) AND NOT exists(keys, k -> k = '' OR startswith(k, '@')), FALSE) AS ok FROM (${values})`;
  const el = `SELECT *, CASE WHEN ok THEN map_from_arrays(keys, vals) END AS el FROM (${ok})`;
  const top = `SELECT *, el['resourceType'] AS rtx, el['id'] AS idx, el['meta'] AS meta FROM (${el})`;
  const ids = `SELECT *, CASE WHEN startswith(rtx, '"') AND endswith(rtx, '"') THEN substr(rtx, 2, length(rtx) - 2) END AS rt0, CASE WHEN idx RLIKE '^"[A-Za-z0-9.\\\\-]{1,64}"$' THEN substr(idx, 2, length(idx) - 2) END AS id0, try_parse_json(meta) AS mv FROM (${top})`;
  const metaSql = `SELECT *, ${string('versionId')} AS ver0, ${string('lastUpdated')} AS lut FROM (${ids})`;
  // meta.lastUpdated: parsed here only in the strict instant form, where Spark and
  // Date.parse agree; other values (or ones Spark rejects) take the exact path.
  const lu = `SELECT *, CASE WHEN lut RLIKE ${q(INSTANT)} THEN unix_millis(try_cast(lut AS TIMESTAMP)) END AS lu0 FROM (${metaSql})`;
  const kind = `SELECT *, CASE WHEN blank THEN 0 WHEN ok AND rt0 IN (${types}) AND id0 IS NOT NULL AND (meta IS NULL OR mv IS NOT NULL) AND (lut IS NULL OR lu0 IS NOT NULL) THEN 1 ELSE 2 END AS kind FROM (${lu})`;
  return `SELECT file, block, mid, kind, CASE WHEN kind = 2 THEN CASE WHEN u8 THEN body ELSE raw END END AS txt, u8, CASE WHEN kind = 1 THEN rt0 END AS rt, CASE WHEN kind = 1 THEN id0 END AS id, CASE WHEN kind = 1 THEN regexp_replace(ver0, '[\\\\x00-\\\\x1f]', ' ') END AS ver, CASE WHEN kind = 1 THEN lu0 END AS lu, CASE WHEN kind = 1 THEN el END AS el FROM (${kind})`;
}

// ---------------------------------------------------------------------------------------
// The exact path (TypeScript) for lines that are not clean

function quarantineRecord(
  code: QuarantineCode,
  reason: string,
  source: SourcePosition,
  text: string,
): QuarantinedRecord {
  return { kind: 'quarantine', code, reason, source, text: text.slice(0, QUARANTINE_TEXT_CHARS) };
}

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
    return quarantineRecord(QuarantineCode.NotJson, `Not valid JSON: ${msg}`, source, text);
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

/** The quarantine file's line format (stage.ts). */
function quarantineLine(rec: QuarantinedRecord): string {
  return JSON.stringify({
    file: rec.source.file,
    line: rec.source.line,
    ...(rec.source.entry === undefined ? {} : { entry: rec.source.entry }),
    code: rec.code,
    reason: rec.reason,
    text: rec.text,
  });
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
