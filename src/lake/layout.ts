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
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { ParsedResource } from '../ingest/types.js';
import { DuckDBDialect } from '../sql/dialects/duckdb.js';

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

// The lake is written through DuckDB, so its SQL is quoted by the DuckDB dialect.
const duckdb = new DuckDBDialect();
export const quoteString = (value: string): string => duckdb.quoteString(value);
export const quoteIdent = (name: string): string => duckdb.quoteIdent(name);

export interface StagedResource {
  readonly resource: ParsedResource;
  readonly load: number;
  readonly seq: number;
}

/** Unit and record separators: control characters that JSON text never holds raw. */
const FIELD_SEP = '\x1f';
// Control characters are exactly what these patterns look for.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f]/;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_NOT_SEP = /[\x00-\x1e]/;
const LINE_BREAKS = /[\n\r\t]/g;

/** Element names must be printable to be column names; JSON allows anything in a key. */
export function isStorableElementName(name: string): boolean {
  return name.length > 0 && !CONTROL.test(name) && !name.startsWith('@');
}

/**
 * Stages resources of one type as separator-delimited text files that DuckDB reads in
 * parallel (`stagedRows()`): one row per resource, the lake's own columns first, then
 * one column per top-level element holding its JSON text. A new file with a new header
 * starts when a new element appears; DuckDB unions the files by column name.
 *
 * Staging through files keeps the JavaScript side to string concatenation (measured
 * several times faster than appending values one by one through the native API) and
 * keeps memory flat, since nothing is held in the engine until the merge.
 */
export class StagingWriter {
  private readonly columns: string[] = [];
  private readonly slot = new Map<string, number>();
  readonly files: string[] = [];
  private out: WriteStream | undefined;
  private buffer = '';
  rows = 0;

  constructor(
    private readonly dir: string,
    readonly resourceType: string,
  ) {}

  get elementColumns(): readonly string[] {
    return this.columns;
  }

  /**
   * Stages one resource. Synchronous unless the buffer is full or a new file starts
   * (then it returns a promise to await): most resources cost no promise at all.
   */
  add(item: StagedResource): Promise<void> | undefined {
    const { resource } = item;
    let fresh = this.out === undefined;
    const fields = resource.fields;
    for (let f = 0; f < fields.length; f++) {
      const k = fields[f]![0];
      if (k !== 'id' && !this.slot.has(k)) {
        this.slot.set(k, this.columns.length);
        this.columns.push(k);
        fresh = true;
      }
    }
    if (fresh) return this.startFile().then(() => this.append(item));
    return this.append(item);
  }

  private readonly values: string[] = [];
  private sourcePrefix = { file: '', text: '' };

  private append(item: StagedResource): Promise<void> | undefined {
    const { resource, load, seq } = item;
    const values = this.values;
    values.length = this.columns.length;
    values.fill('');
    const fields = resource.fields;
    for (let f = 0; f < fields.length; f++) {
      const [k, v] = fields[f]!;
      const i = this.slot.get(k);
      if (i !== undefined) values[i] = v;
    }
    let joined = values.join(FIELD_SEP);
    // JSON whitespace is insignificant, so raw line breaks and tabs (only ever between
    // tokens: inside strings JSON escapes them) can become spaces. One test per row.
    if (CONTROL_NOT_SEP.test(joined))
      joined = values.map((v) => v.replace(LINE_BREAKS, ' ')).join(FIELD_SEP);
    const src = resource.source;
    if (this.sourcePrefix.file !== src.file)
      this.sourcePrefix = { file: src.file, text: clean(src.file) + ':' };
    this.buffer +=
      resource.id +
      FIELD_SEP +
      (resource.versionId === null ? '' : clean(resource.versionId)) +
      FIELD_SEP +
      (resource.lastUpdated === null ? '' : String(resource.lastUpdated)) +
      FIELD_SEP +
      String(load) +
      FIELD_SEP +
      String(seq) +
      FIELD_SEP +
      this.sourcePrefix.text +
      String(src.line) +
      (src.entry === undefined ? '' : `#${src.entry}`) +
      (values.length === 0 ? '' : FIELD_SEP + joined) +
      '\n';
    this.rows++;
    return this.buffer.length >= 1 << 20 ? this.flushBuffer() : undefined;
  }

  private async startFile(): Promise<void> {
    await this.closeFile();
    const file = path.join(this.dir, `${this.resourceType}-${this.files.length}.txt`);
    this.files.push(file);
    this.out = createWriteStream(file);
    // Write errors surface at the next flush or close, never as an unhandled event.
    this.out.on('error', (err) => (this.error ??= err));
    this.buffer =
      ['id', ...STAGED_COLUMN_DEFS.map(([n]) => n), ...this.columns].join(FIELD_SEP) + '\n';
  }

  private error: Error | undefined;

  private async flushBuffer(): Promise<void> {
    if (this.error !== undefined) throw this.error;
    if (this.out === undefined || this.buffer.length === 0) return;
    const text = this.buffer;
    this.buffer = '';
    if (!this.out.write(text))
      await new Promise<void>((res) => this.out!.once('drain', () => res()));
  }

  private async closeFile(): Promise<void> {
    await this.flushBuffer();
    const out = this.out;
    this.out = undefined;
    if (out !== undefined)
      await new Promise<void>((res, rej) =>
        out.end((err?: Error | null) => (err ? rej(err) : res())),
      );
  }

  async close(): Promise<void> {
    await this.closeFile();
  }

  stagedRows(quote: (s: string) => string): string {
    return stagedRowsSql(this.files, quote);
  }

  selectLakeColumns(): string {
    return lakeColumnsSql(this.columns);
  }
}

/** SQL that reads staged rows (from any number of staging files) with every column as text. */
export function stagedRowsSql(files: readonly string[], quote: (s: string) => string): string {
  return `read_csv([${files.map(quote).join(', ')}], delim = chr(31), quote = '', escape = '', header = true, union_by_name = true, all_varchar = true, new_line = '\\n')`;
}

/**
 * SELECT list that turns staged text into the lake layout: element columns typed JSON
 * and `@hash`, a content hash over the elements (meta excluded, so a new lastUpdated
 * alone is not new content) that recognises resources loaded again unchanged.
 */
export function lakeColumnsSql(columns: readonly string[]): string {
  const cols = [...columns].sort();
  const els = cols.map((c) => `CAST(${quoteIdent(c)} AS JSON) AS ${quoteIdent(c)}`);
  // Only present elements, each with its name, count: the hash of a resource must not
  // depend on which other elements its batch happened to have.
  const hashed = cols
    .filter((c) => c !== 'meta')
    .map((c) => `${quoteString(c)} || chr(2) || ${quoteIdent(c)}`);
  const hash = `md5(concat_ws(chr(1), id, ${hashed.join(', ') || "''"}))`;
  const internal = STAGED_COLUMN_DEFS.map(
    ([n, ty]) => `CAST(${quoteIdent(n)} AS ${ty}) AS ${quoteIdent(n)}`,
  );
  return [
    quoteIdent('id'),
    ...internal,
    `${hash} AS ${quoteIdent(LAKE_COLUMNS.hash)}`,
    ...els,
  ].join(', ');
}

function clean(s: string): string {
  return CONTROL.test(s) ? s.replace(CONTROLS, ' ') : s;
}
