/**
 * Synthea CSV → FHIR R4 (issue 4). A group is the Synthea CSV files of one folder; each file
 * is recognised by its header (tables.ts), parsed as RFC 4180 CSV with csv-parse as its
 * chunks stream in, and each data row becomes its FHIR resources (map.ts, grouped.ts) with
 * the row's line as provenance. A bad row is quarantined (file, line, reason) and the read
 * goes on.
 *
 * State across rows, all bounded (docs/ingest-synthea-csv.md, "Limits"):
 * - imaging_studies: the consecutive rows of one Id (one study's instances);
 * - claims_transactions: the open claims, each closed when CLAIM_WINDOW rows pass without
 *   one of its transactions or when more than CLAIM_OPEN_MAX are open;
 * - claims: type and payer of up to CLAIM_CACHE_MAX claims, for their EOBs.
 */
import { Readable } from 'node:stream';
import path from 'node:path';
import { parse } from 'csv-parse';
import type { CsvError } from 'csv-parse';
import { quarantined } from '../convert.js';
import type { ConvertContext, ConvertedRecord, FhirObject, FormatConverter } from '../convert.js';
import { IngestSourceError, IngestSourceErrorCode, QuarantineCode } from '../types.js';
import type { QuarantinedRecord } from '../types.js';
import {
  CLAIM_CACHE_MAX,
  claim,
  explanationOfBenefit,
  imagingRow,
  imagingStudy,
  transaction,
} from './grouped.js';
import type { ClaimInfo, ImagingRow, Transaction } from './grouped.js';
import {
  NATURAL_KEYS,
  Row,
  RowError,
  allergy,
  carePlan,
  condition,
  coverages,
  device,
  encounter,
  immunization,
  medicationRequest,
  naturalKey,
  observation,
  organization,
  patient,
  payer,
  procedure,
  provider,
  supplyDelivery,
} from './map.js';
import { headerColumns, tableOfHeader } from './tables.js';
import type { SyntheaTable } from './tables.js';

/** Rows of claims_transactions after which a claim with no new transaction is closed. */
export const CLAIM_WINDOW = 10_000;
/** Most claims open at once in claims_transactions (the least recently seen is closed first). */
export const CLAIM_OPEN_MAX = 10_000;

/** Natural keys remembered per file to number repeated keys (see Row.occurrence). */
export const RECENT_KEYS = 10_000;

const FORMAT = 'synthea-csv' as const;

/** A parsed CSV record, its text (fields re-quoted) and its 1-based first line. */
interface CsvRecord {
  readonly fields: string[];
  readonly raw: string;
  readonly line: number;
}

interface ParserRecord {
  readonly record: string[];
  readonly raw: string;
  readonly info: { readonly lines: number };
}

/**
 * The records of one CSV file (header included) and the errors of malformed ones, in
 * order. csv-parse skips a record it cannot parse (skip_records_with_error) and reports it
 * through 'skip'; those come out as quarantined records. Ragged rows are returned as read
 * (relax_column_count): the caller compares them with the header.
 */
async function* csvRecords(
  file: string,
  ctx: ConvertContext,
): AsyncGenerator<CsvRecord | QuarantinedRecord> {
  const parser = parse({
    bom: true,
    info: true,
    raw: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
  });
  const skipped: QuarantinedRecord[] = [];
  parser.on('skip', (err: CsvError) => {
    const e = err as CsvError & { lines?: number; raw?: string };
    // e.lines: the line where the parser gave up on the record.
    skipped.push(
      quarantined(
        QuarantineCode.Malformed,
        `${path.basename(file)} line ${e.lines ?? '?'}: not RFC 4180 CSV (${err.message})`,
        { file, line: e.lines ?? 0 },
        e.raw ?? '',
      ),
    );
  });
  const source = Readable.from(ctx.chunks(file));
  source.on('error', (err) =>
    parser.destroy(
      new IngestSourceError(
        IngestSourceErrorCode.Unreadable,
        file,
        `cannot read ${file}: ${err.message}`,
        { cause: err },
      ),
    ),
  );
  source.pipe(parser);
  // csv-parse's info.lines is the line a record ends on, but it counts a CRLF inside a
  // quoted field as two lines; `drift` undoes that so lines match what editors show.
  let drift = 0;
  for await (const r of parser as AsyncIterable<ParserRecord>) {
    while (skipped.length > 0) yield skipped.shift() as QuarantinedRecord;
    let inside = 0;
    for (const f of r.record) {
      if (f.length === 0) continue;
      inside += f.match(/\r\n|\r|\n/g)?.length ?? 0;
      drift += f.match(/\r\n/g)?.length ?? 0;
    }
    yield {
      fields: r.record,
      raw: r.record.map(csvField).join(','),
      line: r.info.lines - drift - inside,
    };
  }
  while (skipped.length > 0) yield skipped.shift() as QuarantinedRecord;
}

/** A field as RFC 4180 writes it (quarantine text shows the row as in the file). */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** The row mapping of the tables with one row → resources. */
const ROW_MAPPERS: Partial<Record<SyntheaTable, (row: Row) => FhirObject | FhirObject[]>> = {
  patients: patient,
  encounters: encounter,
  conditions: condition,
  observations: observation,
  medications: medicationRequest,
  procedures: procedure,
  immunizations: immunization,
  allergies: allergy,
  careplans: carePlan,
  devices: device,
  supplies: supplyDelivery,
  payers: payer,
  payer_transitions: coverages,
  organizations: organization,
  providers: provider,
};

/** The source record name of a row: its Id, else its natural key joined by '|'. */
function recordName(table: SyntheaTable, row: Row): string | undefined {
  const id = row.get('Id') ?? row.get('ID');
  if (id !== undefined) return id;
  const keys = (NATURAL_KEYS as Partial<Record<SyntheaTable, readonly string[]>>)[table];
  return keys === undefined ? undefined : naturalKey(row, keys).join('|');
}

/** Per-group state shared by the files of one folder. */
class GroupState {
  /** claims.csv type/payer by claim id, oldest evicted first past CLAIM_CACHE_MAX. */
  readonly claims = new Map<string, ClaimInfo>();

  remember(id: string, info: ClaimInfo): void {
    this.claims.delete(id);
    this.claims.set(id, info);
    if (this.claims.size > CLAIM_CACHE_MAX)
      this.claims.delete(this.claims.keys().next().value as string);
  }
}

async function* readFile(
  file: string,
  ctx: ConvertContext,
  state: GroupState,
): AsyncGenerator<ConvertedRecord> {
  const base = path.basename(file);
  let table: SyntheaTable | undefined;
  let header: string[] = [];
  let index = new Map<string, number>();
  // imaging_studies: the rows of the current study.
  let study: ImagingRow[] = [];
  let studyLine = 0;
  // claims_transactions: open claims (Map order = least recently seen first).
  const open = new Map<string, { txs: Transaction[]; last: number }>();
  let txRow = 0;
  // Natural keys of recent rows (at most RECENT_KEYS, oldest dropped): repeats within the
  // window get an occurrence number so two distinct rows never share an id.
  const recent = new Map<string, number>();

  const studyOut = (): ConvertedRecord | undefined => {
    if (study.length === 0) return undefined;
    const s = study;
    study = [];
    return {
      kind: 'fhir',
      resource: imagingStudy(s),
      source: { file, line: studyLine, record: s[0]?.id },
    };
  };
  const eobOut = (claimId: string): ConvertedRecord => {
    const c = open.get(claimId) as { txs: Transaction[] };
    open.delete(claimId);
    return {
      kind: 'fhir',
      resource: explanationOfBenefit(c.txs, state.claims.get(claimId)),
      source: { file, line: c.txs[0]?.line ?? 0, record: claimId },
    };
  };

  for await (const rec of csvRecords(file, ctx)) {
    if (!('fields' in rec)) {
      yield rec;
      continue;
    }
    if (table === undefined) {
      header = rec.fields.map((c) => c.trim());
      table = tableOfHeader(header);
      if (table === undefined) {
        yield quarantined(
          QuarantineCode.Unsupported,
          `${base} line ${rec.line}: header is not that of a Synthea CSV table; file skipped`,
          { file, line: rec.line },
          rec.raw,
        );
        return;
      }
      index = new Map(header.map((c, i) => [c, i]));
      continue;
    }
    const where = { file, line: rec.line };
    if (rec.fields.length !== header.length) {
      yield quarantined(
        QuarantineCode.Malformed,
        `${base} line ${rec.line}: ${rec.fields.length} fields, the ${table} header has ${header.length}`,
        where,
        rec.raw,
      );
      continue;
    }
    const row = new Row(index, rec.fields);
    const cols = (NATURAL_KEYS as Partial<Record<SyntheaTable, readonly string[]>>)[table];
    if (cols !== undefined) {
      const key = naturalKey(row, cols).join('\x1f');
      const n = (recent.get(key) ?? 0) + 1;
      recent.delete(key);
      recent.set(key, n);
      if (recent.size > RECENT_KEYS) recent.delete(recent.keys().next().value as string);
      row.occurrence = n;
    }
    try {
      if (table === 'imaging_studies') {
        const r = imagingRow(row);
        if (study.length > 0 && study[0]?.id !== r.id) {
          const out = studyOut();
          if (out !== undefined) yield out;
        }
        if (study.length === 0) studyLine = rec.line;
        study.push(r);
      } else if (table === 'claims_transactions') {
        const t = transaction(row, rec.line);
        txRow++;
        const c = open.get(t.claim) ?? { txs: [], last: txRow };
        c.txs.push(t);
        c.last = txRow;
        open.delete(t.claim);
        open.set(t.claim, c);
        for (const [id, o] of open) {
          if (open.size <= CLAIM_OPEN_MAX && o.last >= txRow - CLAIM_WINDOW) break;
          yield eobOut(id);
        }
      } else if (table === 'claims') {
        const c = claim(row);
        state.remember(c.resource.id, c.info);
        yield { kind: 'fhir', resource: c.resource, source: { ...where, record: c.resource.id } };
      } else {
        const map = ROW_MAPPERS[table] as (row: Row) => FhirObject | FhirObject[];
        const out = map(row);
        const record = recordName(table, row);
        for (const r of Array.isArray(out) ? out : [out])
          yield {
            kind: 'fhir',
            resource: r,
            source: { ...where, ...(record === undefined ? {} : { record }) },
          };
      }
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      yield quarantined(
        err.code,
        `${base} line ${rec.line} (${table}): ${err.message}`,
        where,
        rec.raw,
      );
    }
  }
  const last = studyOut();
  if (last !== undefined) yield last;
  for (const id of [...open.keys()]) yield eobOut(id);
}

async function* readGroup(
  files: readonly string[],
  ctx: ConvertContext,
): AsyncGenerator<ConvertedRecord> {
  const state = new GroupState();
  for (const file of files) yield* readFile(file, ctx, state);
}

export const syntheaCsvConverter: FormatConverter = {
  format: FORMAT,
  sniff(name: string, head: Buffer): boolean {
    try {
      if (!/\.csv$/i.test(name)) return false;
      const cols = headerColumns(head);
      return cols !== undefined && tableOfHeader(cols) !== undefined;
    } catch {
      return false;
    }
  },
  read(files: readonly string[], ctx: ConvertContext): AsyncIterable<ConvertedRecord> {
    return readGroup(files, ctx);
  },
};
