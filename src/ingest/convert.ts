/**
 * The contract between the lake's load and the converters of non-FHIR sources (HL7 v2,
 * DICOM, CDISC SDTM, Synthea CSV). A converter reads its files and yields FHIR R4
 * resources as plain objects (or quarantined records); `toParsedResource` turns each into
 * the ParsedResource the lake stages, adding the provenance every converted resource
 * carries (see withProvenance). Nothing downstream of the lake knows the source format
 * except through that provenance.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { QuarantineCode } from './types.js';
import type { ParsedResource, QuarantinedRecord, SourcePosition } from './types.js';

/** The non-FHIR source formats medlake converts at ingest. */
export const CONVERTED_FORMATS = ['hl7v2', 'dicom', 'sdtm', 'synthea-csv'] as const;
export type ConvertedFormat = (typeof CONVERTED_FORMATS)[number];

/** A FHIR R4 resource as a plain JSON object (must have a valid FHIR `id`). */
export interface FhirObject {
  readonly resourceType: string;
  readonly id: string;
  readonly [element: string]: unknown;
}

/**
 * Where a converted resource came from. `line` is the 1-based line (HL7 v2: the line or
 * segment index where the message starts; CSV: the data row's line; SDTM XPT: the
 * 1-based observation number; DICOM: 1); `record` names the source record when it has a
 * name: the HL7 message control id (MSH-10), the DICOM SOPInstanceUID, the SDTM
 * USUBJID/--SEQ, the CSV row's Id.
 */
export interface ConvertedSource extends SourcePosition {
  readonly record?: string;
}

export interface ConvertedResource {
  readonly kind: 'fhir';
  readonly resource: FhirObject;
  readonly source: ConvertedSource;
}

export type ConvertedRecord = ConvertedResource | QuarantinedRecord;

/**
 * What a converter is given to read its files: byte streams that are counted (progress)
 * and hashed (the load's record of what it read), so converters never open files for
 * reading directly.
 */
export interface ConvertContext {
  /** The whole file as a stream of chunks (≤ 1 MiB each). */
  chunks(file: string): AsyncIterable<Buffer>;
  /**
   * At most `maxBytes` from the start of the file, in one buffer (DICOM headers: the
   * pixel data that follows is never read). Only the bytes returned are hashed.
   */
  head(file: string, maxBytes: number): Promise<Buffer>;
  /** The file's size in bytes. */
  size(file: string): Promise<number>;
}

/**
 * One source format. A source is a group of files read together by one reader: one file
 * for HL7 v2; the files of one folder for DICOM (an ImagingStudy gathers many files),
 * SDTM (a study's datasets) and Synthea CSV (its tables).
 */
export interface FormatConverter {
  readonly format: ConvertedFormat;
  /**
   * True when a file is of this format, from its name and its first bytes (up to
   * SNIFF_BYTES; fewer when the file is shorter). Must be cheap and never throw.
   */
  sniff(name: string, head: Buffer): boolean;
  /**
   * The records of a group of files of this format (sorted paths), streaming. A bad record
   * is yielded as a QuarantinedRecord (with file, line and reason) and the read goes on;
   * only a failure to read a file at all may throw (IngestSourceError).
   */
  read(files: readonly string[], ctx: ConvertContext): AsyncIterable<ConvertedRecord>;
  /**
   * Optional: the source's own rows, kept in the lake as queryable tables beside the FHIR
   * resources (e.g. SDTM datasets, which trial statisticians query as such). Read in a
   * second pass over the same files.
   */
  tableRows?(files: readonly string[], ctx: ConvertContext): AsyncIterable<TableRow>;
}

/**
 * One row of a source table. A load replaces, per table, the rows of each `partition` it
 * brings (e.g. an SDTM domain per study), so loading a study's datasets again does not
 * duplicate them.
 */
export interface TableRow {
  /** SQL-friendly table name, [a-z][a-z0-9_]* (e.g. sdtm_ae). */
  readonly table: string;
  readonly partition: string;
  /** Column values in the dataset's column order. */
  readonly values: Readonly<Record<string, string | number | null>>;
}

/** Bytes of a file that discovery reads for `sniff` (DICOM needs 132 + a few elements). */
export const SNIFF_BYTES = 4096;

/** The code system of the source-format tag every converted resource carries. */
export const SOURCE_FORMAT_SYSTEM = 'https://medlake.dev/fhir/CodeSystem/source-format';

/**
 * A FHIR id from natural keys, the same for the same keys in any load, file or format:
 * `<prefix>-<40 hex of sha256(keys)>` (prefix ≤ 16 chars of [a-z0-9]). Re-sent messages and
 * re-exported files thus replace rather than duplicate. Keys are joined with U+001F.
 */
export function stableId(prefix: string, ...keys: readonly string[]): string {
  if (!/^[a-z0-9]{1,16}$/.test(prefix)) throw new Error(`bad stableId prefix ${prefix}`);
  return `${prefix}-${createHash('sha256').update(keys.join('\x1f')).digest('hex').slice(0, 40)}`;
}

/**
 * The id of the Patient named by an identifier (assigning authority or system, value),
 * shared by every converter so that an HL7 v2 PID-3, a DICOM PatientID with its issuer and
 * an SDTM USUBJID with its study name the same patient when their keys agree. Authority
 * comparison ignores case and surrounding space.
 */
export function patientIdFor(authority: string, value: string): string {
  return stableId('pat', authority.trim().toLowerCase(), value.trim());
}

/**
 * The resource with the provenance medlake keeps on every converted resource:
 * - `meta.source`: `urn:medlake:<format>:<file name>` plus `#<record>` when the record has a
 *   name (percent-encoded: a valid uri);
 * - `meta.tag`: `{system: SOURCE_FORMAT_SYSTEM, code: <format>}`.
 * The lake's `@source` column keeps the full path and line as for FHIR JSON.
 * Existing meta elements (lastUpdated, profile, other tags) are kept.
 */
export function withProvenance(
  resource: FhirObject,
  format: ConvertedFormat,
  source: ConvertedSource,
): FhirObject {
  const meta = (resource['meta'] ?? {}) as Record<string, unknown>;
  const tags = Array.isArray(meta['tag']) ? (meta['tag'] as unknown[]) : [];
  const uri =
    `urn:medlake:${format}:${encodeURIComponent(path.basename(source.file))}` +
    (source.record === undefined ? '' : `#${encodeURIComponent(source.record)}`);
  const { resourceType, id, meta: _old, ...rest } = resource;
  void _old;
  return {
    resourceType,
    id,
    meta: {
      ...meta,
      source: uri,
      tag: [...tags, { system: SOURCE_FORMAT_SYSTEM, code: format }],
    },
    ...rest,
  };
}

/**
 * A converted resource as the lake stages it, provenance added; a resource whose id is not
 * a FHIR id is quarantined (a converter bug or an unusable key in the source).
 */
export function toParsedResource(
  rec: ConvertedResource,
  format: ConvertedFormat,
): ParsedResource | QuarantinedRecord {
  const r = withProvenance(rec.resource, format, rec.source);
  const source: SourcePosition = {
    file: rec.source.file,
    line: rec.source.line,
    ...(rec.source.entry === undefined ? {} : { entry: rec.source.entry }),
  };
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(r.id)) {
    return {
      kind: 'quarantine',
      code: QuarantineCode.BadId,
      reason: `${format} converter made ${r.resourceType} id ${JSON.stringify(r.id)}, not a FHIR id ([A-Za-z0-9-.]{1,64}).`,
      source,
      text: JSON.stringify(r).slice(0, 4096),
    };
  }
  const meta = r['meta'] as { versionId?: unknown; lastUpdated?: unknown };
  const lastUpdated = typeof meta.lastUpdated === 'string' ? Date.parse(meta.lastUpdated) : NaN;
  const fields: [string, string][] = [];
  for (const [k, v] of Object.entries(r)) {
    if (k === 'resourceType' || v === undefined) continue;
    fields.push([k, JSON.stringify(v)]);
  }
  return {
    kind: 'resource',
    resourceType: r.resourceType,
    id: r.id,
    idDerived: false,
    versionId: typeof meta.versionId === 'string' ? meta.versionId : null,
    lastUpdated: Number.isNaN(lastUpdated) ? null : lastUpdated,
    fields,
    source,
  };
}

/** A ConvertContext over the file system that feeds `hash` and `onBytes`. */
export function fileContext(hash: Hash, onBytes?: (n: number) => void): ConvertContext {
  return {
    async *chunks(file) {
      for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
        const b = chunk as Buffer;
        hash.update(b);
        onBytes?.(b.length);
        yield b;
      }
    },
    async head(file, maxBytes) {
      const fh = await open(file, 'r');
      try {
        const buf = Buffer.allocUnsafe(maxBytes);
        let got = 0;
        while (got < maxBytes) {
          const { bytesRead } = await fh.read(buf, got, maxBytes - got, got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        const out = buf.subarray(0, got);
        hash.update(out);
        onBytes?.(got);
        return out;
      } finally {
        await fh.close();
      }
    },
    async size(file) {
      const fh = await open(file, 'r');
      try {
        return (await fh.stat()).size;
      } finally {
        await fh.close();
      }
    },
  };
}

/** Helper for converters: a quarantined record with its text cut to 4 KiB. */
export function quarantined(
  code: QuarantineCode,
  reason: string,
  source: SourcePosition,
  text: string,
): QuarantinedRecord {
  return { kind: 'quarantine', code, reason, source, text: text.slice(0, 4096) };
}
