/**
 * One load into the lake: read sources (streaming, in worker threads), stage resources
 * per type as text files, merge with what the lake holds (newest wins, unchanged resources are recognised by
 * hash), write Parquet, then commit the manifest atomically. Until that commit nothing
 * the lake's readers see has changed; a crash leaves files no manifest names, which the
 * next writer removes.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { DuckDBEngine } from '../engine/duckdb-engine.js';
import { discoverSources } from '../ingest/fhir-json-reader.js';
import { IngestSourceError, type SourceFile } from '../ingest/types.js';
import { Lake, fileSize } from './lake.js';
import { LAKE_COLUMNS, lakeColumnsSql, quoteIdent, stagedRowsSql } from './layout.js';
import {
  shareTasks,
  stageSources,
  type StageJob,
  type StageProgress,
  type StageResult,
  type StageTask,
  type StagedType,
} from './stage.js';
import type { LoadCounts, LoadRecord, Manifest, TypeEntry } from './manifest.js';
import { stageRecords, type ResourceProducer } from './stage-records.js';
import { partitionKey, type StagedTable } from './stage-tables.js';

export interface LoadProgress {
  readonly bytesRead: number;
  readonly bytesTotal: number;
  readonly resources: number;
  readonly quarantined: number;
}

export interface LoadOptions {
  readonly onProgress?: (p: LoadProgress) => void;
  /** DuckDB memory limit while staging; DuckDB spills to the staging folder beyond it. */
  readonly memoryLimit?: string;
  readonly threads?: number;
  /** Worker threads that read sources; default: one per core for loads over 16 MB. */
  readonly workers?: number;
  /** Plain NDJSON files of at least twice this size are read in parts (default 128 MB). */
  readonly splitBytes?: number;
}

export interface LoadSummary {
  readonly lake: string;
  readonly loadId: number;
  readonly sources: number;
  readonly bytes: number;
  readonly resources: Record<string, LoadCounts>;
  readonly read: number;
  readonly added: number;
  readonly updated: number;
  readonly unchanged: number;
  readonly superseded: number;
  readonly quarantined: number;
  readonly quarantineFile: string | null;
  /** Resources that had no id and were given one derived from their content. */
  readonly derivedIds: number;
  readonly durationMs: number;
  /** Time spent reading and staging sources, and merging/writing Parquet. */
  readonly phases: { readonly readMs: number; readonly mergeMs: number };
}

const NEWEST_FIRST = `TRY_CAST(${quoteIdent(LAKE_COLUMNS.versionId)} AS DOUBLE) DESC NULLS LAST, ${quoteIdent(
  LAKE_COLUMNS.lastUpdated,
)} DESC NULLS LAST, ${quoteIdent(LAKE_COLUMNS.load)} DESC, ${quoteIdent(LAKE_COLUMNS.seq)} DESC`;

export async function loadIntoLake(
  lakeDir: string,
  paths: readonly string[],
  options: LoadOptions = {},
): Promise<LoadSummary> {
  const started = Date.now();
  // Discovery first: an unreadable path is an error before anything is touched.
  const sources = await discoverSources(paths);
  const lake = Lake.open(lakeDir, { create: true });
  const unlock = lake.lock();
  try {
    lake.refresh();
    lake.collectGarbage();
    return await runLoad(lake, sources, options, started);
  } finally {
    unlock();
  }
}

/**
 * Loads resources produced in memory (e.g. `medlake synth --lake`): staged as they come
 * (see stageRecords), then merged and committed exactly as a file load.
 */
export async function loadRecordsIntoLake(
  lakeDir: string,
  produce: ResourceProducer,
  options: LoadOptions = {},
): Promise<LoadSummary> {
  const started = Date.now();
  const lake = Lake.open(lakeDir, { create: true });
  const unlock = lake.lock();
  try {
    lake.refresh();
    lake.collectGarbage();
    return await runLoad(lake, [], options, started, produce);
  } finally {
    unlock();
  }
}

async function runLoad(
  lake: Lake,
  sources: SourceFile[],
  options: LoadOptions,
  started: number,
  produce?: ResourceProducer,
): Promise<LoadSummary> {
  const base = lake.manifest;
  const loadId = base.commit + 1;
  const staging = lake.stagingDir(loadId);
  const engine = await DuckDBEngine.create({
    memoryLimit: options.memoryLimit ?? '256MB',
    preserveInsertionOrder: false,
    tempDirectory: path.join(staging, 'spill'),
    ...(options.threads === undefined ? {} : { threads: options.threads }),
  });
  const startedAt = new Date(started).toISOString();
  try {
    const bytesTotal = sources.reduce((a, s) => a + s.size, 0);
    let bytesRead = 0;
    let resources = 0;
    let quarantinedSoFar = 0;
    const onDelta = (d: StageProgress): void => {
      bytesRead += d.bytes;
      resources += d.resources;
      quarantinedSoFar += d.quarantined;
      options.onProgress?.({
        bytesRead,
        bytesTotal,
        resources,
        quarantined: quarantinedSoFar,
      });
    };
    const workers = workerCount(sources, options.workers);
    const plan = await planTasks(sources, workers, options.splitBytes ?? SPLIT_BYTES);
    const shares = shareTasks(plan.tasks, workers);
    const running: Worker[] = [];
    let firstFailure: { err: unknown } | undefined;
    const settled = await Promise.allSettled(
      shares.map((tasks, workerId) => {
        const job: StageJob = { tasks, dir: staging, loadId, workerId };
        const p = workers > 1 ? stageInWorker(job, onDelta, running) : stageSources(job, onDelta);
        // The first failure stops the other workers before the staging folder goes away.
        return p.catch(async (err: unknown) => {
          if (firstFailure === undefined) {
            firstFailure = { err };
            await Promise.all(running.map((w) => w.terminate()));
          }
          throw err;
        });
      }),
    );
    if (firstFailure !== undefined) throw firstFailure.err;
    const staged = settled.map((r) => (r as PromiseFulfilledResult<StageResult>).value);
    if (produce !== undefined)
      staged.push(
        await stageRecords(
          { tasks: [], dir: staging, loadId, workerId: shares.length },
          produce,
          onDelta,
        ),
      );
    const readMs = Date.now() - started;
    const quarantined = staged.reduce((a, r) => a + r.quarantined, 0);
    const derivedIds = staged.reduce((a, r) => a + r.derivedIds, 0);
    const digests = [...staged.flatMap((r) => r.digests), ...plan.digests]
      .sort((a, b) => a.fileIndex - b.fileIndex)
      .map(({ path: p, sha256, bytes }) => ({ path: p, sha256, bytes }));
    const byType = new Map<string, { files: string[]; columns: Set<string>; rows: number }>();
    for (const r of staged) {
      for (const [type, t] of Object.entries(r.types)) {
        const e = byType.get(type) ?? { files: [], columns: new Set<string>(), rows: 0 };
        e.files.push(...t.files);
        for (const c of t.columns) e.columns.add(c);
        e.rows += t.rows;
        byType.set(type, e);
      }
    }

    const types: Manifest['types'] = { ...base.types };
    const counts: Record<string, LoadCounts> = {};
    for (const [type, t] of [...byType.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const merged = await mergeType(
        engine,
        lake,
        type,
        { files: t.files, columns: [...t.columns], rows: t.rows },
        base.types[type],
        loadId,
      );
      types[type] = merged.entry;
      counts[type] = merged.counts;
    }

    const tables = await mergeTables(
      engine,
      lake,
      staged.flatMap((r) => r.tables),
      base.tables,
      loadId,
    );

    let quarantineFile: string | null = null;
    if (quarantined > 0) {
      const rel = `quarantine/load-${String(loadId).padStart(6, '0')}.ndjson`;
      mkdirSync(lake.resolve('quarantine'), { recursive: true });
      const parts = staged.map((r) => r.quarantineFile).filter((f): f is string => f !== null);
      writeFileSync(lake.resolve(rel), parts.map((f) => readFileSync(f, 'utf8')).join(''));
      quarantineFile = rel;
    }
    return commitLoad({
      lake,
      base,
      loadId,
      startedAt,
      started,
      readMs,
      types,
      tables,
      counts,
      digests,
      // A producer counts as one source, of the bytes of JSON it produced.
      sourceCount: sources.length + (produce === undefined ? 0 : 1),
      bytes: bytesTotal + (produce === undefined ? 0 : (staged.at(-1)?.digests[0]?.bytes ?? 0)),
      quarantined,
      quarantineFile,
      derivedIds,
    });
  } finally {
    await engine.close();
    lake.collectGarbage();
  }
}

interface Merged {
  readonly entry: TypeEntry;
  readonly counts: LoadCounts;
}

/**
 * Merges a type's staged resources with the lake's files for that type. Only files that
 * hold a resource replaced by this load are rewritten; new resources go to one new file.
 */
async function mergeType(
  engine: DuckDBEngine,
  lake: Lake,
  type: string,
  writer: StagedType,
  existing: TypeEntry | undefined,
  loadId: number,
): Promise<Merged> {
  const q = (s: string): string => engine.dialect.quoteString(s);
  const read = writer.rows;
  const hash = quoteIdent(LAKE_COLUMNS.hash);
  const ver = quoteIdent(LAKE_COLUMNS.versionId);
  const lu = quoteIdent(LAKE_COLUMNS.lastUpdated);
  const staged = `(SELECT ${lakeColumnsSql(writer.columns)} FROM ${stagedRowsSql(writer.files, q)})`;
  const seq = quoteIdent(LAKE_COLUMNS.seq);
  if ((existing?.files.length ?? 0) === 0)
    return firstLoad(engine, lake, type, writer, staged, loadId);
  // Merge decisions are made on keys only (id, order, hash, version), which stay small;
  // the full rows stream from the staging files straight into Parquet at the end.
  // The content hash is needed only to compare with resources already in the lake.
  const keyHash = (existing?.files.length ?? 0) > 0 ? `, ${hash}` : '';
  await engine.exec(
    `CREATE OR REPLACE TEMP TABLE incoming AS SELECT id, ${seq}, ${quoteIdent(LAKE_COLUMNS.load)}${keyHash}, ${ver}, ${lu} FROM ${staged}`,
  );
  const dup = await engine.query(`SELECT count(*) - count(DISTINCT id) AS d FROM incoming`);
  let filtered = Number(dup.rows[0]!['d']) > 0;
  if (filtered) {
    // Newest version of each id within this load.
    await engine.exec(
      `CREATE OR REPLACE TEMP TABLE incoming AS SELECT * FROM incoming QUALIFY row_number() OVER (PARTITION BY id ORDER BY ${NEWEST_FIRST}) = 1`,
    );
  }
  const oldFiles = existing?.files ?? [];
  let files = [...oldFiles];
  let unchanged = 0;
  let updated = 0;
  if (oldFiles.length > 0) {
    const list = oldFiles.map((f) => q(lake.resolve(f.path))).join(', ');
    await engine.exec(
      `CREATE OR REPLACE TEMP TABLE matched AS
       SELECT n.id, o.filename AS file, n.${hash} = o.${hash} AS same,
         CASE
           WHEN TRY_CAST(n.${ver} AS DOUBLE) IS DISTINCT FROM TRY_CAST(o.${ver} AS DOUBLE)
             THEN TRY_CAST(o.${ver} AS DOUBLE) IS NULL OR coalesce(TRY_CAST(n.${ver} AS DOUBLE) > TRY_CAST(o.${ver} AS DOUBLE), FALSE)
           WHEN n.${lu} IS DISTINCT FROM o.${lu} THEN o.${lu} IS NULL OR coalesce(n.${lu} > o.${lu}, FALSE)
           ELSE TRUE
         END AS newer
       FROM incoming n JOIN (SELECT id, ${hash}, ${ver}, ${lu}, filename FROM read_parquet([${list}], union_by_name = true, filename = true)) o USING (id)`,
    );
    const stats = await engine.query(
      `SELECT count(*) FILTER (WHERE same) AS unchanged, count(*) FILTER (WHERE NOT same AND NOT newer) AS stale,
              count(*) FILTER (WHERE NOT same AND newer) AS updated FROM matched`,
    );
    const s = stats.rows[0]!;
    unchanged = Number(s['unchanged']);
    updated = Number(s['updated']);
    // Drop incoming rows that change nothing or are older than what the lake has.
    if (unchanged + Number(s['stale']) > 0) {
      filtered = true;
      await engine.exec(
        `DELETE FROM incoming WHERE id IN (SELECT id FROM matched WHERE same OR NOT newer)`,
      );
    }
    if (updated > 0) {
      const affected = await engine.query(
        `SELECT DISTINCT file FROM matched WHERE newer AND NOT same ORDER BY file`,
      );
      for (const row of affected.rows) {
        const abs = String(row['file']);
        const rel = lake.relative(abs);
        const out = uniqueDataFile(lake, type, loadId, 'r');
        const rows = await engine.copyToParquet(
          `SELECT * FROM read_parquet(${q(abs)}) WHERE id NOT IN (SELECT id FROM matched WHERE newer AND NOT same)`,
          out,
        );
        files = files.filter((f) => f.path !== rel);
        if (rows > 0) files.push({ path: lake.relative(out), rows, bytes: fileSize(out) });
        else rmSync(out, { force: true });
      }
    }
  }
  const remaining = Number(
    (await engine.query(`SELECT count(*) AS n FROM incoming`)).rows[0]!['n'],
  );
  if (remaining > 0) {
    const out = uniqueDataFile(lake, type, loadId, 'p');
    const rows = await engine.copyToParquet(
      filtered
        ? `SELECT s.* FROM ${staged} AS s SEMI JOIN incoming AS k ON s.id = k.id AND s.${seq} = k.${seq}`
        : `SELECT * FROM ${staged}`,
      out,
    );
    files.push({ path: lake.relative(out), rows, bytes: fileSize(out) });
  }
  await engine.exec(`DROP TABLE incoming; DROP TABLE IF EXISTS matched`);
  const columns = new Set([...(existing?.columns ?? ['id']), 'id', ...writer.columns]);
  const added = remaining - updated;
  return {
    entry: { files, rows: files.reduce((a, f) => a + f.rows, 0), columns: [...columns].sort() },
    // Superseded: older than the lake's copy, or an older duplicate within this load.
    counts: { read, added, updated, unchanged, superseded: read - remaining - unchanged },
  };
}

/**
 * A type the lake does not hold yet: one pass from staging into Parquet, then a check for
 * ids loaded twice in this load on the written file's id column (cheap: Parquet reads
 * that column alone). Only when there are such ids is the file rewritten, newest first.
 */
async function firstLoad(
  engine: DuckDBEngine,
  lake: Lake,
  type: string,
  writer: StagedType,
  staged: string,
  loadId: number,
): Promise<Merged> {
  const q = (s: string): string => engine.dialect.quoteString(s);
  let out = uniqueDataFile(lake, type, loadId, 'p');
  let rows = await engine.copyToParquet(`SELECT * FROM ${staged}`, out);
  const dup = await engine.query(
    `SELECT count(*) - count(DISTINCT id) AS d FROM read_parquet(${q(out)})`,
  );
  if (Number(dup.rows[0]!['d']) > 0) {
    const deduped = uniqueDataFile(lake, type, loadId, 'p');
    rows = await engine.copyToParquet(
      `SELECT * FROM read_parquet(${q(out)}) QUALIFY row_number() OVER (PARTITION BY id ORDER BY ${NEWEST_FIRST}) = 1`,
      deduped,
    );
    rmSync(out, { force: true });
    out = deduped;
  }
  const files = rows > 0 ? [{ path: lake.relative(out), rows, bytes: fileSize(out) }] : [];
  if (rows === 0) rmSync(out, { force: true });
  return {
    entry: { files, rows, columns: [...new Set(['id', ...writer.columns])].sort() },
    counts: {
      read: writer.rows,
      added: rows,
      updated: 0,
      unchanged: 0,
      superseded: writer.rows - rows,
    },
  };
}

/**
 * Writes the staged source tables to Parquet (data/tables/<table>/), one file per table and
 * partition; a partition this load brings replaces that partition's earlier files.
 */
async function mergeTables(
  engine: DuckDBEngine,
  lake: Lake,
  staged: readonly StagedTable[],
  existing: Manifest['tables'],
  loadId: number,
): Promise<Manifest['tables']> {
  const q = (s: string): string => engine.dialect.quoteString(s);
  const groups = new Map<string, StagedTable[]>();
  for (const t of staged) {
    const key = `${t.table}\x1f${t.partition}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const out: Manifest['tables'] = { ...existing };
  for (const parts of groups.values()) {
    const { table, partition } = parts[0]!;
    const cols = new Map<string, string>();
    for (const p of parts)
      for (const [n, t] of p.columns) if (cols.get(n) !== 'VARCHAR') cols.set(n, t);
    const spec = [...cols].map(([n, t]) => `${q(n)}: ${q(t)}`).join(', ');
    const dir = lake.resolve(path.join('data', 'tables', table));
    mkdirSync(dir, { recursive: true });
    const file = path.join(
      dir,
      `${partitionKey(partition)}-${String(loadId).padStart(6, '0')}.parquet`,
    );
    const files = parts.flatMap((p) => p.files).map(q);
    const rows = await engine.copyToParquet(
      `SELECT * FROM read_json([${files.join(', ')}], format = 'newline_delimited', columns = {${spec}})`,
      file,
    );
    const prev = out[table];
    const kept = (prev?.files ?? []).filter((f) => f.partition !== partition);
    const allFiles = [
      ...kept,
      { path: lake.relative(file), rows, bytes: fileSize(file), partition },
    ];
    const columns = new Map((prev?.columns ?? []).map((c) => [c.name, c.type]));
    for (const [n, t] of cols) if (columns.get(n) !== 'VARCHAR') columns.set(n, t);
    out[table] = {
      files: allFiles,
      rows: allFiles.reduce((a, f) => a + f.rows, 0),
      columns: [...columns].map(([name, type]) => ({ name, type })),
    };
  }
  return out;
}

function uniqueDataFile(lake: Lake, type: string, loadId: number, kind: string): string {
  const dir = lake.resolve(path.join('data', type));
  mkdirSync(dir, { recursive: true });
  for (let i = 0; ; i++) {
    const p = path.join(dir, `${kind}-${String(loadId).padStart(6, '0')}-${i}.parquet`);
    if (!existsSync(p)) return p;
  }
}

/** Parallel reading pays off only with enough bytes to share. */
function workerCount(sources: readonly SourceFile[], requested: number | undefined): number {
  if (requested !== undefined) return Math.max(1, requested);
  const bytes = sources.reduce((a, s) => a + s.size, 0);
  if (bytes < 16 * 1024 * 1024) return 1;
  return Math.max(1, os.availableParallelism());
}

/** Plain NDJSON files larger than this are read in parts by several workers. */
const SPLIT_BYTES = 128 * 1024 * 1024;

/**
 * Stage tasks: one per file, except large plain NDJSON files (bigger than a worker's fair
 * share of the load) when there are several workers, which are cut at line starts into parts of about SPLIT_BYTES. One pass over
 * such a file finds the cuts, counts the lines before each (so records keep their line
 * numbers) and computes the file's sha256 for the manifest.
 */
async function planTasks(
  sources: readonly SourceFile[],
  workers: number,
  splitBytes: number,
): Promise<{
  tasks: StageTask[];
  digests: { fileIndex: number; path: string; sha256: string; bytes: number }[];
}> {
  const tasks: StageTask[] = [];
  const digests: { fileIndex: number; path: string; sha256: string; bytes: number }[] = [];
  // Splitting costs a pass over the file; it pays only for a file bigger than one
  // worker's fair share, which whole-file sharing cannot balance.
  const fairShare = sources.reduce((a, f) => a + f.size, 0) / workers;
  for (const [fileIndex, file] of sources.entries()) {
    if (
      workers < 2 ||
      file.format !== 'ndjson' ||
      file.size < 2 * splitBytes ||
      file.size <= fairShare
    ) {
      tasks.push({ file, fileIndex });
      continue;
    }
    const hash = createHash('sha256');
    const cuts: { start: number; firstLine: number }[] = [{ start: 0, firstLine: 1 }];
    let offset = 0;
    let lines = 0;
    let nextCut = splitBytes;
    let bytes = 0;
    try {
      for await (const chunk of createReadStream(file.path, {
        highWaterMark: 1 << 20,
      }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) {
          lines++;
          const lineStart = offset + i + 1;
          if (lineStart >= nextCut && lineStart < file.size) {
            cuts.push({ start: lineStart, firstLine: lines + 1 });
            nextCut = lineStart + splitBytes;
          }
        }
        offset += chunk.length;
      }
    } catch (err) {
      throw new IngestSourceError(
        'SOURCE_UNREADABLE',
        file.path,
        `Cannot read ${file.path}: ${(err as Error).message}`,
      );
    }
    cuts.forEach((c, i) =>
      tasks.push({
        file,
        fileIndex,
        range: { start: c.start, end: cuts[i + 1]?.start ?? bytes, firstLine: c.firstLine },
      }),
    );
    digests.push({ fileIndex, path: file.path, sha256: hash.digest('hex'), bytes });
  }
  return { tasks, digests };
}

function stageInWorker(
  job: StageJob,
  onDelta: (d: StageProgress) => void,
  running: Worker[],
): Promise<StageResult> {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './stage-worker.ts' : './stage-worker.js', import.meta.url);
  return new Promise((resolve, reject) => {
    // Run from TypeScript sources (tests, tsx), the worker registers the same loader first.
    const worker = fromSource
      ? new Worker(
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`,
          { eval: true, workerData: job },
        )
      : new Worker(url, { workerData: job });
    running.push(worker);
    worker.on(
      'message',
      (m: {
        kind: string;
        delta?: StageProgress;
        result?: StageResult;
        message?: string;
        code?: string;
        path?: string;
      }) => {
        if (m.kind === 'progress' && m.delta !== undefined) onDelta(m.delta);
        else if (m.kind === 'done' && m.result !== undefined) resolve(m.result);
        else if (m.kind === 'error') {
          reject(
            m.code !== undefined && m.code.startsWith('SOURCE_') && m.path !== undefined
              ? new IngestSourceError(m.code as IngestSourceError['code'], m.path, m.message ?? '')
              : new Error(m.message),
          );
        }
      },
    );
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`staging worker stopped with exit code ${code}`));
    });
  });
}

/** What a finished load commits and reports (the embedded and the Spark load share it). */
export interface FinishedLoad {
  readonly lake: Lake;
  readonly base: Manifest;
  readonly loadId: number;
  readonly startedAt: string;
  /** Date.now() when the load started, and how long reading took. */
  readonly started: number;
  readonly readMs: number;
  readonly types: Manifest['types'];
  /** Source tables after the load (default: the base's, unchanged). */
  readonly tables?: Manifest['tables'];
  readonly counts: Record<string, LoadCounts>;
  readonly digests: LoadRecord['sources'];
  readonly sourceCount: number;
  readonly bytes: number;
  readonly quarantined: number;
  readonly quarantineFile: string | null;
  readonly derivedIds: number;
}

/** Commits the load's manifest (atomic) and returns its summary. */
export function commitLoad(f: FinishedLoad): LoadSummary {
  const mergeMs = Date.now() - f.started - f.readMs;
  const committedAt = new Date().toISOString();
  f.lake.commit({
    ...f.base,
    commit: f.loadId,
    updatedAt: committedAt,
    types: f.types,
    tables: f.tables ?? f.base.tables,
    loads: [
      ...f.base.loads,
      {
        id: f.loadId,
        startedAt: f.startedAt,
        committedAt,
        sources: f.digests,
        counts: f.counts,
        quarantined: f.quarantined,
        quarantineFile: f.quarantineFile,
        derivedIds: f.derivedIds,
      },
    ],
  });
  const sum = (k: keyof LoadCounts): number =>
    Object.values(f.counts).reduce((a, c) => a + c[k], 0);
  return {
    lake: f.lake.dir,
    loadId: f.loadId,
    sources: f.sourceCount,
    bytes: f.bytes,
    resources: f.counts,
    read: sum('read'),
    added: sum('added'),
    updated: sum('updated'),
    unchanged: sum('unchanged'),
    superseded: sum('superseded'),
    quarantined: f.quarantined,
    quarantineFile: f.quarantineFile,
    derivedIds: f.derivedIds,
    durationMs: Date.now() - f.started,
    phases: { readMs: f.readMs, mergeMs },
  };
}
