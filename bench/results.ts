/** Shape of bench/out/results-<date>.json (written by run.ts, rendered by report.ts). */

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly kernel: string;
  readonly node: string;
  readonly duckdb: string;
  /** DuckDB threads in the view session. */
  readonly duckdbThreads: number;
  /** 1/5/15-minute load averages when the run started (the machine is shared). */
  readonly loadAverage: readonly number[];
  /** The same when it finished. */
  readonly loadAverageEnd: readonly number[];
}

export interface DataSet {
  readonly requested: number;
  readonly seed: number;
  readonly dir: string;
  readonly resources: number;
  readonly counts: Record<string, number>;
  readonly bytes: number;
  readonly reused: boolean;
}

export interface IngestResult {
  readonly size: number;
  readonly resources: number;
  readonly bytes: number;
  /** How the CLI was started, e.g. `node --import tsx src/cli/entry.ts`. */
  readonly command: string;
  readonly runs: readonly IngestRun[];
  readonly medianWallMs: number;
  readonly medianCpuMs: number | null;
  readonly mbPerSec: number;
  readonly resourcesPerSec: number;
  /** Largest peak RSS over the runs, in MiB. */
  readonly peakRssMiB: number;
  readonly rssMethod: string;
  readonly lakeBytes: number;
}

export interface IngestRun {
  readonly wallMs: number;
  /** User + system CPU time of the child (GNU time), or null when not measurable. */
  readonly cpuMs: number | null;
  /** The load's own duration (LoadSummary.durationMs): wall time minus process start-up. */
  readonly loadMs: number;
  /** Phase timings the CLI reports, when it does (e.g. readMs, mergeMs). */
  readonly phases?: Record<string, number>;
  readonly peakRssMiB: number;
}

export interface ViewTiming {
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  readonly rowsPerSec: number;
  /** CPU time (user + system) of this process, all DuckDB threads, per run. */
  readonly cpuRunsMs: readonly number[];
  readonly medianCpuMs: number;
}

export interface ViewResult {
  readonly size: number;
  readonly view: string;
  readonly label: string;
  readonly resource: string;
  readonly rows: number;
  readonly compiled: ViewTiming;
  readonly hand: ViewTiming;
  /** median(a) / median(b) of wall time: 1.0 = as fast as the hand-written floor. */
  readonly ratio: number;
  /** The same ratio of CPU time: less sensitive to other load on a shared machine. */
  readonly cpuRatio: number;
  /**
   * Diagnostic, not the target's method: each query consumed by a hash aggregate over all
   * its columns (`SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM (<query>)`), which
   * computes every value but stores nothing, so the ratio shows compute alone.
   */
  readonly computeOnly: {
    readonly compiled: ViewTiming;
    readonly hand: ViewTiming;
    readonly ratio: number;
  };
  readonly verified: { readonly rowsEqual: boolean; readonly schemaEqual: boolean };
  /** Output columns that are NULL in every row of (a) (a hint that a path finds nothing). */
  readonly allNullColumns: readonly string[];
  readonly compiledSql: string;
  readonly handSql: string;
  readonly compiledScanColumns: readonly string[];
  readonly handScanColumns: readonly string[];
  /** Present when the view was analysed (ratio above target or --analyze). */
  readonly columnCosts?: readonly ColumnCost[];
}

export interface ColumnCost {
  readonly column: string;
  /** Median CPU ms of the view reduced to the key column(s) plus this column, minus the baseline. */
  readonly extraMs: number;
}

export interface JsResult {
  readonly size: number;
  readonly view: string;
  readonly resources: number;
  readonly rows: number;
  readonly runsMs: readonly number[];
  readonly medianMs: number;
  readonly rowsPerSec: number;
  /** Reading + JSON.parse of the same lines without evaluating anything. */
  readonly parseOnlyMs: number;
  /** medlake rows/s on the same data (same process run). */
  readonly compiledRowsPerSec: number;
  /** Hand-written floor rows/s on the same data (same process run). */
  readonly handRowsPerSec: number;
  /** compiledRowsPerSec / rowsPerSec. */
  readonly speedup: number;
  /** Whether the JS rows equal the compiled rows (sorted, normalised); null if not checked. */
  readonly rowsMatch: boolean | null;
  readonly mismatchSample?: string;
}

export interface ProjectionResult {
  readonly size: number;
  readonly view: string;
  readonly resource: string;
  readonly scanColumns: readonly string[];
  readonly scanBytes: number;
  readonly allColumnBytes: number;
  readonly fileBytes: number;
  readonly columnCount: number;
  /** Median ms of the view vs `CREATE TEMP TABLE AS SELECT * FROM <type>`. */
  readonly viewMs: number;
  readonly selectStarMs: number;
  /** The scanned columns copied as they are (no JSON parsing): I/O + decoding only. */
  readonly scanColumnsRawMs: number;
  readonly rows: number;
}

export interface Target {
  readonly name: string;
  readonly criterion: string;
  /** null when the run cannot tell (e.g. memory growth with a single size). */
  readonly met: boolean | null;
  readonly detail: string;
}

export interface BenchResults {
  readonly date: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly argv: readonly string[];
  readonly quick: boolean;
  readonly runs: number;
  readonly jsRuns: number;
  readonly jsCap: number;
  readonly machine: MachineInfo;
  readonly data: readonly DataSet[];
  readonly ingest: readonly IngestResult[];
  readonly views: readonly ViewResult[];
  readonly js: readonly JsResult[];
  readonly projection: readonly ProjectionResult[];
  readonly targets: readonly Target[];
}
