/**
 * Physical layout of a resource table (in the lake's Parquet files and in staging):
 *
 *   id             VARCHAR  the resource id (the key with the resource type)
 *   <element>      JSON     one column per top-level element, holding the element's JSON
 *                           exactly as written in the source (decimals keep their digits)
 *   @versionId     VARCHAR  meta.versionId
 *   @lastUpdated   BIGINT   meta.lastUpdated as epoch milliseconds
 *   @load          INTEGER  the load that wrote the row
 *   @seq           BIGINT   order of the resource within its load
 *   @hash          VARCHAR  content hash, to recognise a resource loaded again unchanged
 *   @source        VARCHAR  provenance: file:line[#entry]
 *
 * Parquet stores each column separately, so a view that needs three elements reads
 * three columns, never whole resources. `@` cannot start a FHIR element name, so the
 * lake's own columns never collide with elements (primitive extensions start with `_`).
 */
import type { DuckDBAppender } from '@duckdb/node-api';
import type { DuckDBEngine } from '../engine/duckdb-engine.js';
import type { ParsedResource } from '../ingest/types.js';

export const LAKE_COLUMNS = {
  versionId: '@versionId',
  lastUpdated: '@lastUpdated',
  load: '@load',
  seq: '@seq',
  hash: '@hash',
  source: '@source',
} as const;

export const INTERNAL_COLUMN_DEFS: ReadonlyArray<readonly [string, string]> = [
  [LAKE_COLUMNS.versionId, 'VARCHAR'],
  [LAKE_COLUMNS.lastUpdated, 'BIGINT'],
  [LAKE_COLUMNS.load, 'INTEGER'],
  [LAKE_COLUMNS.seq, 'BIGINT'],
  [LAKE_COLUMNS.source, 'VARCHAR'],
  [LAKE_COLUMNS.hash, 'VARCHAR'],
];

/** Columns the writer fills; `@hash` is computed by the engine when staged rows are read. */
const STAGED_COLUMN_DEFS = INTERNAL_COLUMN_DEFS.filter(([n]) => n !== LAKE_COLUMNS.hash);

export function isInternalColumn(name: string): boolean {
  return name.startsWith('@');
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface StagedResource {
  readonly resource: ParsedResource;
  readonly load: number;
  readonly seq: number;
}

/**
 * Appends resources of one type to a DuckDB table in the layout above, adding element
 * columns as new elements appear. Rows are buffered and appended in batches. Element
 * columns are VARCHAR while staged; `selectAsJson` types them JSON on the way out.
 */
export class ResourceTableWriter {
  private readonly columns = new Set<string>();
  private created = false;
  private buffer: StagedResource[] = [];
  private appender: DuckDBAppender | undefined;
  rows = 0;

  constructor(
    private readonly engine: DuckDBEngine,
    readonly table: string,
    private readonly batchSize = 5000,
  ) {}

  get elementColumns(): ReadonlySet<string> {
    return this.columns;
  }

  async add(item: StagedResource): Promise<void> {
    this.buffer.push(item);
    if (this.buffer.length >= this.batchSize) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0 && this.created) return;
    const batch = this.buffer;
    this.buffer = [];
    const fresh: string[] = [];
    for (const { resource } of batch) {
      for (const [k] of resource.fields) {
        if (k !== 'id' && !this.columns.has(k)) {
          this.columns.add(k);
          fresh.push(k);
        }
      }
    }
    const t = quoteIdent(this.table);
    if (!this.created) {
      const defs = [
        `${quoteIdent('id')} VARCHAR`,
        ...STAGED_COLUMN_DEFS.map(([n, ty]) => `${quoteIdent(n)} ${ty}`),
        ...fresh.map((c) => `${quoteIdent(c)} VARCHAR`),
      ];
      await this.engine.exec(`CREATE TABLE ${t} (${defs.join(', ')})`);
      this.created = true;
    } else if (fresh.length > 0) {
      this.closeAppender();
      for (const c of fresh)
        await this.engine.exec(`ALTER TABLE ${t} ADD COLUMN ${quoteIdent(c)} VARCHAR`);
    }
    if (batch.length === 0) return;
    this.appender ??= await this.engine.connection.createAppender(this.table);
    const a = this.appender;
    const elementOrder = [...this.columns];
    const slot = new Map(elementOrder.map((c, i) => [c, i]));
    const values: (string | undefined)[] = new Array(elementOrder.length);
    // One native call per value: measured faster than column-wise data chunks for strings.
    for (const { resource, load, seq } of batch) {
      values.fill(undefined);
      for (const [k, v] of resource.fields) {
        const i = slot.get(k);
        if (i !== undefined) values[i] = v;
      }
      a.appendVarchar(resource.id);
      if (resource.versionId === null) a.appendNull();
      else a.appendVarchar(resource.versionId);
      if (resource.lastUpdated === null) a.appendNull();
      else a.appendBigInt(BigInt(resource.lastUpdated));
      a.appendInteger(load);
      a.appendBigInt(BigInt(seq));
      const src = resource.source;
      a.appendVarchar(`${src.file}:${src.line}${src.entry === undefined ? '' : `#${src.entry}`}`);
      for (const v of values) {
        if (v === undefined) a.appendNull();
        else a.appendVarchar(v);
      }
      a.endRow();
    }
    a.flushSync();
    this.rows += batch.length;
  }

  private closeAppender(): void {
    if (this.appender !== undefined) {
      this.appender.flushSync();
      this.appender.closeSync();
      this.appender = undefined;
    }
  }

  /**
   * SELECT list that reads the staged table in the lake layout: element columns typed
   * JSON and `@hash`, a content hash over the elements (meta excluded, so a new
   * lastUpdated alone is not new content), to recognise resources loaded again unchanged.
   */
  selectAsJson(): string {
    const cols = [...this.columns].sort();
    const els = cols.map((c) => `CAST(${quoteIdent(c)} AS JSON) AS ${quoteIdent(c)}`);
    const hashed = cols.filter((c) => c !== 'meta').map((c) => `${quoteIdent(c)}`);
    const hash = `md5(concat_ws(chr(1), id, ${hashed.map((c) => `coalesce(${c}, chr(2))`).join(', ') || "''"}))`;
    return [
      quoteIdent('id'),
      ...STAGED_COLUMN_DEFS.map(([n]) => quoteIdent(n)),
      `${hash} AS ${quoteIdent(LAKE_COLUMNS.hash)}`,
      ...els,
    ].join(', ');
  }

  async close(): Promise<void> {
    await this.flush();
    this.closeAppender();
  }
}
