/**
 * A medlake lake: a directory of Parquet files plus manifest.json.
 *
 *   manifest.json              what is committed (see manifest.ts)
 *   data/<Type>/*.parquet      resources, one folder per resource type (layout.ts)
 *   views/<name>.parquet       materialised views
 *   quarantine/load-N.ndjson   records that could not be loaded, with the reason
 *   .staging/                  work in progress of a load; never read
 *   .lock                      held by the one writer
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  readFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Engine } from '../engine/engine.js';
import {
  LakeError,
  MANIFEST_FILE,
  readManifest,
  writeManifestAtomically,
  type Manifest,
} from './manifest.js';

export const DEFAULT_LAKE_DIR = './medlake-data';

/** `--lake`, else `MEDLAKE_LAKE`, else ./medlake-data. */
export function resolveLakeDir(option: string | undefined): string {
  return path.resolve(option ?? process.env['MEDLAKE_LAKE'] ?? DEFAULT_LAKE_DIR);
}

export interface LakeInfo {
  readonly dir: string;
  readonly commit: number;
  readonly updatedAt: string;
  /** Resource type → number of resources. */
  readonly resources: Record<string, number>;
  readonly totalResources: number;
  /** Number of quarantined records over all loads. */
  readonly quarantined: number;
  readonly loads: Manifest['loads'];
  readonly views: Record<string, { rows: number; path: string; materializedAt: string }>;
  /** Source tables (e.g. SDTM domains) → rows, queryable by these names. */
  readonly tables: Record<string, number>;
  readonly bytes: number;
}

export class Lake {
  private constructor(
    readonly dir: string,
    private current: Manifest,
  ) {}

  /** Opens a lake directory; `create` makes it when missing. */
  static open(dir: string, options: { create?: boolean } = {}): Lake {
    const abs = path.resolve(dir);
    if (!existsSync(abs)) {
      if (options.create !== true) {
        throw new LakeError(
          'LAKE_NOT_FOUND',
          `No lake at ${abs}: run "medlake ingest PATH --lake ${dir}" first`,
        );
      }
      mkdirSync(abs, { recursive: true });
    }
    return new Lake(abs, readManifest(abs));
  }

  get manifest(): Manifest {
    return this.current;
  }

  /** Re-reads the manifest (another process may have committed). */
  refresh(): void {
    this.current = readManifest(this.dir);
  }

  resolve(rel: string): string {
    return path.join(this.dir, rel);
  }

  relative(abs: string): string {
    return path.relative(this.dir, abs).split(path.sep).join('/');
  }

  /** Element columns (plus id) of a resource type, or an empty set when the lake has none. */
  columnsOf(resourceType: string): ReadonlySet<string> {
    return new Set(this.current.types[resourceType]?.columns ?? []);
  }

  /**
   * Registers one SQL view per resource type in the schema `fhir` (named by the type,
   * e.g. fhir."Patient") and one per materialised view in `main` (named by the view).
   * Separate schemas matter because DuckDB matches names without regard to case: a view
   * called `patient` must not hide the Patient resources. The search path lists main
   * first, so a bare name finds a materialised view before a resource type. Types the
   * lake has no data for get an empty table with only an id, so every view runs.
   */
  async register(engine: Engine, resourceTypes: Iterable<string> = []): Promise<void> {
    const d = engine.dialect;
    for (const sql of d.sqlSessionSetup()) await engine.exec(sql);
    const statements: string[] = [];
    const done = new Set<string>();
    for (const [type, entry] of Object.entries(this.current.types)) {
      if (entry.files.length === 0) continue;
      const files = entry.files.map((f) => this.resolve(f.path));
      statements.push(
        d.sqlCreateView(d.sqlResourceTable(type), `SELECT * FROM ${d.sqlParquetScan(files)}`),
      );
      done.add(type);
    }
    for (const type of resourceTypes) {
      if (!done.has(type)) {
        statements.push(
          d.sqlCreateView(
            d.sqlResourceTable(type),
            `SELECT ${d.sqlCast('NULL', 'VARCHAR')} AS id WHERE FALSE`,
          ),
        );
      }
    }
    // Source tables (e.g. sdtm_ae) sit beside the materialised views, by their own names.
    for (const [name, t] of Object.entries(this.current.tables)) {
      if (t.files.length === 0) continue;
      statements.push(
        d.sqlCreateView(
          d.sqlViewTable(name),
          `SELECT * FROM ${d.sqlParquetScan(t.files.map((f) => this.resolve(f.path)))}`,
        ),
      );
    }
    for (const [name, v] of Object.entries(this.current.views)) {
      statements.push(
        d.sqlCreateView(
          d.sqlViewTable(name),
          `SELECT * FROM ${d.sqlParquetScan(parquetFiles(this.resolve(v.path)))}`,
        ),
      );
    }
    await engine.execAll(statements);
  }

  info(): LakeInfo {
    const m = this.current;
    const resources: Record<string, number> = {};
    let bytes = 0;
    for (const [t, e] of Object.entries(m.types).sort(([a], [b]) => a.localeCompare(b))) {
      if (e.rows > 0) resources[t] = e.rows;
      for (const f of e.files) bytes += f.bytes;
    }
    for (const t of Object.values(m.tables)) for (const f of t.files) bytes += f.bytes;
    const views: LakeInfo['views'] = {};
    for (const [n, v] of Object.entries(m.views))
      views[n] = { rows: v.rows, path: v.path, materializedAt: v.materializedAt };
    return {
      dir: this.dir,
      commit: m.commit,
      updatedAt: m.updatedAt,
      resources,
      totalResources: Object.values(resources).reduce((a, b) => a + b, 0),
      quarantined: m.loads.reduce((a, l) => a + l.quarantined, 0),
      loads: m.loads,
      views,
      tables: Object.fromEntries(
        Object.entries(m.tables)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([n, t]) => [n, t.rows]),
      ),
      bytes,
    };
  }

  /** Commits a new manifest (atomic) and removes files the new manifest no longer names. */
  commit(next: Manifest): void {
    const before = referencedFiles(this.current);
    writeManifestAtomically(this.dir, next);
    this.current = next;
    const after = referencedFiles(next);
    for (const f of before) {
      // recursive: a table written by a distributed engine is a folder of part files.
      if (!after.has(f)) rmSync(this.resolve(f), { force: true, recursive: true });
    }
  }

  /**
   * Takes the writer lock. A lock left by a process that no longer runs (a crash or
   * kill -9) is taken over; a live one is an error naming its pid.
   */
  lock(): () => void {
    const file = path.join(this.dir, '.lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx' });
        return () => rmSync(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(readFileSync(file, 'utf8'));
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
          throw new LakeError(
            'LAKE_LOCKED',
            `The lake ${this.dir} is being written by process ${pid}; wait for it to finish`,
          );
        }
        unlinkSync(file);
      }
    }
    throw new LakeError('LAKE_LOCKED', `Could not lock ${this.dir}`);
  }

  /** Removes what a crashed writer left: staging folders and data files no commit names. */
  collectGarbage(): void {
    rmSync(path.join(this.dir, '.staging'), { recursive: true, force: true });
    for (const f of readdirSync(this.dir)) {
      if (f.startsWith(`${MANIFEST_FILE}.tmp-`)) rmSync(path.join(this.dir, f), { force: true });
    }
    const keep = referencedFiles(this.current);
    for (const folder of ['data', 'views', 'quarantine']) {
      const root = path.join(this.dir, folder);
      if (!existsSync(root)) continue;
      for (const file of walk(root)) {
        const rel = this.relative(file);
        // Part files inside a kept folder (a table a distributed engine wrote) stay.
        if (!keep.has(rel) && !keep.has(path.dirname(rel))) rmSync(file, { force: true });
      }
    }
  }

  stagingDir(loadId: number): string {
    const dir = path.join(this.dir, '.staging', `load-${loadId}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }
}

function referencedFiles(m: Manifest): Set<string> {
  const out = new Set<string>();
  for (const e of Object.values(m.types)) for (const f of e.files) out.add(f.path);
  for (const v of Object.values(m.views)) out.add(v.path);
  for (const t of Object.values(m.tables)) for (const f of t.files) out.add(f.path);
  for (const l of m.loads) if (l.quarantineFile !== null) out.add(l.quarantineFile);
  return out;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function fileSize(p: string): number {
  return statSync(p).size;
}

/**
 * The Parquet files of a stored table: the file itself, or the part files of a folder
 * (a distributed engine writes a folder of parts).
 */
export function parquetFiles(p: string): string[] {
  if (!statSync(p).isDirectory()) return [p];
  return readdirSync(p)
    .filter((f) => f.endsWith('.parquet'))
    .sort()
    .map((f) => path.join(p, f));
}
