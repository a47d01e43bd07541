/**
 * SDTM datasets as rows, from SAS transport v5 (.xpt, xpt-read.ts) or CSV (one dataset per
 * file, a header of variable names): the one place that reads SDTM files, used by the
 * converter (converter.ts) and by `sdtmRows`, which hands the tables as read to the lake.
 *
 * Variable names are upper-cased (SAS names are case-insensitive). XPT Char values lose
 * trailing blanks (padding); an empty value is null. CSV has no types: a variable is Num
 * when SDTM defines it as numeric (SDTM v1.4+ variable tables: --SEQ, --STRESN, --STNRLO,
 * --STNRHI, --DOSE, --DY, VISITNUM, AGE, ...), and its values are then read as numbers.
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import type { CsvError } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import type { ConvertContext } from '../convert.js';
import { quarantined } from '../convert.js';
import { QuarantineCode } from '../types.js';
import type { QuarantinedRecord } from '../types.js';
import { XPT_MAGIC, readXpt } from './xpt-read.js';
import type { XptProblemCode } from './xpt-read.js';

export type SdtmValue = string | number | null;

export interface SdtmColumn {
  readonly name: string;
  readonly type: 'Char' | 'Num';
  /** The XPT label, or for CSV the SDTM label of a known variable; null when unknown. */
  readonly label: string | null;
  /** XPT bytes; null for CSV. */
  readonly length: number | null;
}

export interface SdtmDataset {
  readonly file: string;
  /** Dataset name: the XPT member name or the CSV file name (upper case, no extension). */
  readonly name: string;
  readonly label: string | null;
  readonly columns: readonly SdtmColumn[];
}

export interface SdtmRow {
  readonly file: string;
  /** The row's DOMAIN value, else its dataset name (SUPPAE, SUPPQUAL, ...). */
  readonly domain: string;
  /** CSV: the data row's line; XPT: the 1-based observation number. */
  readonly line: number;
  /** Values by variable name, in the dataset's column order. */
  readonly values: Record<string, SdtmValue>;
}

export type DatasetEvent =
  | { readonly kind: 'dataset'; readonly dataset: SdtmDataset }
  | { readonly kind: 'row'; readonly row: SdtmRow }
  | { readonly kind: 'quarantine'; readonly record: QuarantinedRecord };

/** Numeric SDTM variables by exact name. */
const NUM_NAMES = new Set(['VISITNUM', 'VISITDY', 'AGE', 'TAETORD', 'TVSTRL', 'TDORDER']);
/** Numeric SDTM variables as `--<suffix>` (two-letter domain prefix). */
const NUM_SUFFIXES = new Set([
  'SEQ',
  'STRESN',
  'STNRLO',
  'STNRHI',
  'DOSE',
  'DOSTOT',
  'DY',
  'STDY',
  'ENDY',
  'PTCD',
  'LLTCD',
  'HLTCD',
  'HLGTCD',
  'SOCCD',
  'BDSYCD',
  'TPTNUM',
  'GRPSEQ',
]);

/** SDTM labels of common variables (SDTMIG 3.3), for CSV columns. */
const LABELS: Readonly<Record<string, string>> = {
  STUDYID: 'Study Identifier',
  DOMAIN: 'Domain Abbreviation',
  USUBJID: 'Unique Subject Identifier',
  SUBJID: 'Subject Identifier for the Study',
  RFSTDTC: 'Subject Reference Start Date/Time',
  RFENDTC: 'Subject Reference End Date/Time',
  SITEID: 'Study Site Identifier',
  BRTHDTC: 'Date/Time of Birth',
  AGE: 'Age',
  AGEU: 'Age Units',
  SEX: 'Sex',
  RACE: 'Race',
  ETHNIC: 'Ethnicity',
  ARMCD: 'Planned Arm Code',
  ARM: 'Description of Planned Arm',
  ACTARMCD: 'Actual Arm Code',
  ACTARM: 'Description of Actual Arm',
  COUNTRY: 'Country',
  DTHDTC: 'Date/Time of Death',
  DTHFL: 'Subject Death Flag',
  VISITNUM: 'Visit Number',
  VISIT: 'Visit Name',
  RDOMAIN: 'Related Domain Abbreviation',
  IDVAR: 'Identifying Variable',
  IDVARVAL: 'Identifying Variable Value',
  QNAM: 'Qualifier Variable Name',
  QLABEL: 'Qualifier Variable Label',
  QVAL: 'Data Value',
  QORIG: 'Origin',
  TSPARMCD: 'Trial Summary Parameter Short Name',
  TSPARM: 'Trial Summary Parameter',
  TSVAL: 'Parameter Value',
  TAETORD: 'Planned Order of Element within Arm',
  ETCD: 'Element Code',
  ELEMENT: 'Description of Element',
  EPOCH: 'Epoch',
  TESTRL: 'Rule for Start of Element',
  TEENRL: 'Rule for End of Element',
};
const SUFFIX_LABELS: Readonly<Record<string, string>> = {
  SEQ: 'Sequence Number',
  TESTCD: 'Test or Examination Short Name',
  TEST: 'Test or Examination Name',
  CAT: 'Category',
  ORRES: 'Result or Finding in Original Units',
  ORRESU: 'Original Units',
  ORNRLO: 'Reference Range Lower Limit in Orig Unit',
  ORNRHI: 'Reference Range Upper Limit in Orig Unit',
  STRESC: 'Character Result/Finding in Std Format',
  STRESN: 'Numeric Result/Finding in Standard Units',
  STRESU: 'Standard Units',
  STNRLO: 'Reference Range Lower Limit-Std Units',
  STNRHI: 'Reference Range Upper Limit-Std Units',
  NRIND: 'Reference Range Indicator',
  LOINC: 'LOINC Code',
  DTC: 'Date/Time of Collection',
  STDTC: 'Start Date/Time',
  ENDTC: 'End Date/Time',
  TERM: 'Reported Term',
  DECOD: 'Dictionary-Derived Term',
  TRT: 'Name of Treatment',
  DOSE: 'Dose',
  DOSU: 'Dose Units',
  ROUTE: 'Route of Administration',
};

/** The type a CSV column gets from its SDTM name. */
export function sdtmVariableType(name: string): 'Char' | 'Num' {
  return NUM_NAMES.has(name) || (name.length > 2 && NUM_SUFFIXES.has(name.slice(2)))
    ? 'Num'
    : 'Char';
}

function csvColumn(name: string): SdtmColumn {
  const label = LABELS[name] ?? (name.length > 2 ? SUFFIX_LABELS[name.slice(2)] : undefined);
  return { name, type: sdtmVariableType(name), label: label ?? null, length: null };
}

const isXpt = (file: string): boolean => file.toLowerCase().endsWith('.xpt');

/** The dataset a file holds by its name (dm.xpt → DM), upper case. */
export function datasetNameOf(file: string): string {
  return path
    .basename(file)
    .replace(/\.[^.]*$/, '')
    .toUpperCase();
}

/**
 * The files to read of a group: when a folder holds both `x.xpt` and `x.csv`, only the
 * XPT is read (the submission format; a CSV twin is taken to be the same data).
 */
export function selectFiles(files: readonly string[]): string[] {
  const xpt = new Set(files.filter(isXpt).map((f) => f.slice(0, -4).toLowerCase()));
  return files.filter((f) => isXpt(f) || !xpt.has(f.replace(/\.[^.]*$/, '').toLowerCase()));
}

/** True when a file looks like an SDTM dataset: an XPT v5 file or an SDTM CSV. */
export function sniffSdtm(name: string, head: Buffer): boolean {
  try {
    const lower = name.toLowerCase();
    if (lower.endsWith('.xpt')) return head.toString('latin1', 0, XPT_MAGIC.length) === XPT_MAGIC;
    if (!lower.endsWith('.csv')) return false;
    let first = head.toString('utf8');
    if (first.charCodeAt(0) === 0xfeff) first = first.slice(1);
    const end = first.search(/\r?\n/);
    const header = (end < 0 ? first : first.slice(0, end))
      .split(',')
      .map((h) => h.trim().replace(/^"|"$/g, '').toUpperCase());
    return header.includes('STUDYID') && (header.includes('DOMAIN') || header.includes('RDOMAIN'));
  } catch {
    return false;
  }
}

const xptCode: Readonly<Record<XptProblemCode, QuarantineCode>> = {
  malformed: QuarantineCode.Malformed,
  truncated: QuarantineCode.Truncated,
  'invalid-value': QuarantineCode.InvalidValue,
  unsupported: QuarantineCode.Unsupported,
};

const rowDomain = (values: Record<string, SdtmValue>, dataset: string): string => {
  const d = values['DOMAIN'];
  return typeof d === 'string' && d !== '' ? d.toUpperCase() : dataset;
};

async function* readXptDataset(file: string, ctx: ConvertContext): AsyncGenerator<DatasetEvent> {
  for await (const e of readXpt(ctx.chunks(file))) {
    if (e.kind === 'member') {
      const m = e.member;
      yield {
        kind: 'dataset',
        dataset: {
          file,
          name: m.name,
          label: m.label === '' ? null : m.label,
          columns: m.columns.map((c) => ({
            name: c.name,
            type: c.type,
            label: c.label || null,
            length: c.length,
          })),
        },
      };
    } else if (e.kind === 'row') {
      const values: Record<string, SdtmValue> = {};
      e.member.columns.forEach((c, i) => {
        values[c.name] = e.values[i] ?? null;
      });
      yield {
        kind: 'row',
        row: { file, domain: rowDomain(values, e.member.name), line: e.obs, values },
      };
    } else {
      const reason = `${path.basename(file)}: ${e.reason}${e.fatal && e.obs > 0 ? `; the observations before it were read` : ''}`;
      yield {
        kind: 'quarantine',
        record: quarantined(xptCode[e.code], reason, { file, line: Math.max(1, e.obs) }, e.text),
      };
    }
  }
}

interface CsvRecord {
  readonly record: string[];
  readonly info: { readonly lines: number };
}

async function* readCsvDataset(file: string, ctx: ConvertContext): AsyncGenerator<DatasetEvent> {
  const name = datasetNameOf(file);
  const base = path.basename(file);
  const skipped: QuarantinedRecord[] = [];
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined, raw: string | undefined): undefined => {
      const line = typeof err?.['lines'] === 'number' ? err['lines'] : 1;
      skipped.push(
        quarantined(
          QuarantineCode.Malformed,
          `${base} line ${line}: not a CSV record (${err?.message ?? 'parse error'})`,
          { file, line },
          raw ?? '',
        ),
      );
      return undefined;
    },
  });
  const input = Readable.from(ctx.chunks(file));
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let header: string[] | null = null;
  let columns: SdtmColumn[] = [];
  try {
    for await (const item of parser as AsyncIterable<CsvRecord>) {
      while (skipped.length > 0)
        yield { kind: 'quarantine', record: skipped.shift() as QuarantinedRecord };
      const { record, info } = item;
      const line = info.lines;
      if (header === null) {
        header = record.map((h) => h.trim().toUpperCase());
        columns = header.map(csvColumn);
        yield { kind: 'dataset', dataset: { file, name, label: null, columns } };
        continue;
      }
      if (record.length !== header.length) {
        yield {
          kind: 'quarantine',
          record: quarantined(
            QuarantineCode.Malformed,
            `${base} line ${line}: ${record.length} fields, expected ${header.length} as in the header`,
            { file, line },
            record.join(','),
          ),
        };
        continue;
      }
      const values: Record<string, SdtmValue> = {};
      let bad: string | null = null;
      columns.forEach((c, i) => {
        const raw = record[i] ?? '';
        if (raw.trim() === '') values[c.name] = null;
        else if (c.type === 'Num') {
          const n = Number(raw.trim());
          if (!Number.isFinite(n) || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw.trim())) {
            bad ??= `${c.name} is numeric in SDTM, found ${JSON.stringify(raw)}`;
            values[c.name] = null;
          } else values[c.name] = n;
        } else values[c.name] = raw;
      });
      if (bad !== null) {
        yield {
          kind: 'quarantine',
          record: quarantined(
            QuarantineCode.InvalidValue,
            `${base} line ${line}: ${bad}`,
            { file, line },
            record.join(','),
          ),
        };
        continue;
      }
      yield { kind: 'row', row: { file, domain: rowDomain(values, name), line, values } };
    }
  } catch (err) {
    while (skipped.length > 0)
      yield { kind: 'quarantine', record: skipped.shift() as QuarantinedRecord };
    const e = err as CsvError;
    const line = typeof e['lines'] === 'number' ? e['lines'] : 1;
    // Not a parse error (CSV_* codes): the file could not be read at all.
    if (typeof e.code !== 'string' || !e.code.startsWith('CSV_')) throw err;
    yield {
      kind: 'quarantine',
      record: quarantined(
        QuarantineCode.Malformed,
        `${base} line ${line}: ${e.message}; the rest of the file could not be parsed`,
        { file, line },
        '',
      ),
    };
    return;
  }
  while (skipped.length > 0)
    yield { kind: 'quarantine', record: skipped.shift() as QuarantinedRecord };
  if (header === null)
    yield {
      kind: 'quarantine',
      record: quarantined(
        QuarantineCode.MissingValue,
        `${base}: empty CSV, no header of variable names`,
        { file, line: 1 },
        '',
      ),
    };
}

/** The datasets, rows and quarantined records of one SDTM file, streaming. */
export function readDataset(file: string, ctx: ConvertContext): AsyncGenerator<DatasetEvent> {
  return isXpt(file) ? readXptDataset(file, ctx) : readCsvDataset(file, ctx);
}

export interface SdtmRowsOptions {
  /** Called with each dataset's columns before its first row. */
  readonly onDataset?: (dataset: SdtmDataset) => void;
  /** Called with each record that could not be read as a row. */
  readonly onQuarantine?: (record: QuarantinedRecord) => void;
}

/**
 * Every row of every SDTM dataset of a group of files, as read (column order kept), for
 * the lake's SDTM tables. A CSV with an XPT twin in the same folder is skipped (selectFiles).
 */
export async function* sdtmRows(
  files: readonly string[],
  ctx: ConvertContext,
  options: SdtmRowsOptions = {},
): AsyncGenerator<SdtmRow> {
  for (const file of selectFiles(files)) {
    for await (const e of readDataset(file, ctx)) {
      if (e.kind === 'row') yield e.row;
      else if (e.kind === 'dataset') options.onDataset?.(e.dataset);
      else options.onQuarantine?.(e.record);
    }
  }
}

/**
 * The columns (name, type, label, length) of each dataset of the group, from the file
 * heads only (ctx.head: XPT headers, the CSV header line). Prefer `sdtmRows`'
 * onDataset when the rows are read anyway (each ctx.head is hashed again).
 */
export async function sdtmDatasets(
  files: readonly string[],
  ctx: ConvertContext,
): Promise<SdtmDataset[]> {
  const out: SdtmDataset[] = [];
  for (const file of selectFiles(files)) {
    if (isXpt(file)) {
      let max = 1 << 16;
      for (;;) {
        const head = await ctx.head(file, max);
        let found: SdtmDataset | null = null;
        const once = (async function* (): AsyncGenerator<Buffer> {
          yield head;
        })();
        for await (const e of readXptDataset(file, { ...ctx, chunks: () => once })) {
          if (e.kind === 'dataset') found = e.dataset;
          break;
        }
        if (found !== null) out.push(found);
        // A header of more than max bytes (~460 variables per 64 KiB): read more, once.
        if (found !== null || head.length < max || max > 1 << 20) break;
        max = 1 << 21;
      }
    } else {
      const head = (await ctx.head(file, 1 << 16)).toString('utf8').replace(/^\uFEFF/, '');
      const end = head.search(/\r?\n/);
      try {
        const rows = parseSync(end < 0 ? head : head.slice(0, end), {
          relax_quotes: true,
        }) as string[][];
        const names = (rows[0] ?? []).map((h) => h.trim().toUpperCase());
        out.push({ file, name: datasetNameOf(file), label: null, columns: names.map(csvColumn) });
      } catch {
        // Not a readable header: the rows' quarantine reports it.
      }
    }
  }
  return out;
}
