/**
 * Sources in formats other than FHIR JSON (HL7 v2, DICOM, CDISC SDTM, Synthea CSV): which
 * converter reads a file (sniffed from its first bytes, not trusted to its name), how files
 * are grouped for reading, and the reader that turns a group's converted records into the
 * ParsedResources the lake stages.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { CONVERTERS } from './converters.js';
import { SNIFF_BYTES, fileContext, toParsedResource } from './convert.js';
import type { ConvertedFormat, FormatConverter, TableRow } from './convert.js';
import { IngestSourceError, IngestSourceErrorCode } from './types.js';
import type { IngestRecord, SourceDigest, SourceFile } from './types.js';

/** Names that say a file is of a format even when its bytes do not (then its reader quarantines it). */
const NAME_HINTS: ReadonlyArray<readonly [RegExp, ConvertedFormat]> = [
  [/\.(dcm|dicom)$/i, 'dicom'],
  [/\.(hl7|hl7v2)$/i, 'hl7v2'],
  [/\.xpt$/i, 'sdtm'],
];

export function isConvertedFormat(format: SourceFile['format']): format is ConvertedFormat {
  return CONVERTERS.some((c) => c.format === format);
}

function converterOf(format: ConvertedFormat): FormatConverter {
  const c = CONVERTERS.find((x) => x.format === format);
  if (c === undefined) throw new Error(`no converter for ${format}`);
  return c;
}

async function readHead(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The converted format of a file, from its first bytes, else from its name; null: none. */
export async function sniffFormat(file: string): Promise<ConvertedFormat | null> {
  const name = path.basename(file);
  let head: Buffer;
  try {
    head = await readHead(file);
  } catch (err) {
    throw new IngestSourceError(
      IngestSourceErrorCode.Unreadable,
      file,
      `Source ${file} cannot be read (${(err as Error).message}). Check its permissions, or leave it out of the load.`,
      { cause: err },
    );
  }
  for (const c of CONVERTERS) {
    try {
      if (c.sniff(name, head)) return c.format;
    } catch {
      // A sniffer must not throw; one that does simply does not claim the file.
    }
  }
  for (const [re, format] of NAME_HINTS)
    if (re.test(name) && isConvertedFormat(format)) return format;
  return null;
}

/**
 * The converted-format sources among `files` (sizes known), grouped for reading: one HL7 v2
 * file per source; the SDTM and Synthea CSV files of one folder per source; all DICOM files
 * found under one path given to the load as one source (an ImagingStudy gathers files from
 * anywhere under it). Files no converter claims are returned in `unclaimed`.
 */
export async function classifyConverted(
  files: ReadonlyArray<{ readonly path: string; readonly size: number }>,
  root: string,
): Promise<{ sources: SourceFile[]; unclaimed: string[] }> {
  const groups = new Map<
    string,
    { format: ConvertedFormat; dir: string; files: (typeof files)[number][] }
  >();
  const unclaimed: string[] = [];
  for (const f of files) {
    let format: ConvertedFormat | null;
    try {
      format = await sniffFormat(f.path);
    } catch (err) {
      // An unreadable file matters only when its name says it is one of ours.
      if (NAME_HINTS.some(([re]) => re.test(f.path))) throw err;
      format = null;
    }
    if (format === null) {
      unclaimed.push(f.path);
      continue;
    }
    const dir = format === 'hl7v2' ? f.path : format === 'dicom' ? root : path.dirname(f.path);
    const key = `${format}\x1f${dir}`;
    const g = groups.get(key) ?? { format, dir, files: [] };
    g.files.push(f);
    groups.set(key, g);
  }
  const sources: SourceFile[] = [];
  for (const g of groups.values()) {
    const members = g.files.map((f) => f.path).sort();
    sources.push({
      path: g.format === 'hl7v2' ? members[0]! : g.dir,
      size: g.files.reduce((a, f) => a + f.size, 0),
      format: g.format,
      ...(g.format === 'hl7v2' ? {} : { members }),
    });
  }
  return { sources, unclaimed };
}

/** Reads one converted-format source; same contract as readSource (records, then digest). */
export function readConvertedSource(
  file: SourceFile,
  opts: { readonly onBytes?: (n: number) => void } = {},
): AsyncIterable<IngestRecord> & { digest(): SourceDigest } {
  const format = file.format as ConvertedFormat;
  const converter = converterOf(format);
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: SourceDigest | null = null;
  const ctx = fileContext(hash, (n) => {
    bytes += n;
    opts.onBytes?.(n);
  });
  const members = file.members ?? [file.path];
  return {
    async *[Symbol.asyncIterator]() {
      for await (const rec of converter.read(members, ctx)) {
        yield rec.kind === 'fhir' ? toParsedResource(rec, format) : rec;
      }
      digest = { sha256: hash.digest('hex'), bytes };
    },
    digest() {
      if (digest === null)
        throw new Error(`digest() of ${file.path} is only known once it has been fully read`);
      return digest;
    },
  };
}

/**
 * The source-table rows of a converted source (a second pass over its files), or null when
 * its converter keeps no tables. The bytes are not counted again in progress or digest.
 */
export function convertedTableRows(file: SourceFile): AsyncIterable<TableRow> | null {
  const converter = converterOf(file.format as ConvertedFormat);
  if (converter.tableRows === undefined) return null;
  return converter.tableRows(file.members ?? [file.path], fileContext(createHash('sha256')));
}
