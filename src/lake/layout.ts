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
import { createHash } from 'node:crypto';
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
  [LAKE_COLUMNS.hash, 'VARCHAR'],
  [LAKE_COLUMNS.source, 'VARCHAR'],
];

export function isInternalColumn(name: string): boolean {
  return name.startsWith('@');
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Content hash of a resource: its top-level elements in a canonical (sorted) order. */
export function resourceHash(resource: Pick<ParsedResource, 'resourceType' | 'fields'>): string {
  const h = createHash('sha256');
  h.update(resource.resourceType);
  const fields = [...resource.fields].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [k, v] of fields) {
    if (k === 'meta') continue; // meta changes (lastUpdated) alone do not make new content
    h.update('\u0000');
    h.update(k);
    h.update('\u0001');
    h.update(v);
  }
  return h.digest('hex').slice(0, 32);
}

export interface StagedResource {
  readonly resource: ParsedResource;
  readonly load: number;
  readonly seq: number;
}

/**
 * Appends resources of one type to a DuckDB table in the layout above, adding element
 * columns as new elements appear. Rows are buffered and appended in batches.
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
        ...INTERNAL_COLUMN_DEFS.map(([n, ty]) => `${quoteIdent(n)} ${ty}`),
        ...fresh.map((c) => `${quoteIdent(c)} JSON`),
      ];
      await this.engine.exec(`CREATE TABLE ${t} (${defs.join(', ')})`);
      this.created = true;
    } else if (fresh.length > 0) {
      this.closeAppender();
      for (const c of fresh)
        await this.engine.exec(`ALTER TABLE ${t} ADD COLUMN ${quoteIdent(c)} JSON`);
    }
    if (batch.length === 0) return;
    const elementOrder = [...this.columns];
    this.appender ??= await this.engine.connection.createAppender(this.table);
    const a = this.appender;
    for (const { resource, load, seq } of batch) {
      const values = new Map(resource.fields);
      a.appendVarchar(resource.id);
      if (resource.versionId === null) a.appendNull();
      else a.appendVarchar(resource.versionId);
      if (resource.lastUpdated === null) a.appendNull();
      else a.appendBigInt(BigInt(resource.lastUpdated));
      a.appendInteger(load);
      a.appendBigInt(BigInt(seq));
      a.appendVarchar(resourceHash(resource));
      const src = resource.source;
      a.appendVarchar(`${src.file}:${src.line}${src.entry === undefined ? '' : `#${src.entry}`}`);
      for (const c of elementOrder) {
        const v = values.get(c);
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

  async close(): Promise<void> {
    await this.flush();
    this.closeAppender();
  }
}
