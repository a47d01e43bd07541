/** What the FHIR readers hand to the lake writer. */
import type { ConvertedFormat } from './convert.js';

/** Where a record came from: file, 1-based line, and for Bundles the entry index (0-based). */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly entry?: number;
}

/**
 * One resource, split at its top level. `fields` maps each top-level element name
 * (everything but `resourceType`; `id` included when present) to the exact JSON text
 * of its value as written in the source, so decimals such as `1.00` keep their precision.
 */
export interface ParsedResource {
  readonly kind: 'resource';
  readonly resourceType: string;
  readonly id: string;
  /** True when the source had no id and `id` was derived from the content. */
  readonly idDerived: boolean;
  readonly versionId: string | null;
  /** meta.lastUpdated as epoch milliseconds, null when absent or unparseable. */
  readonly lastUpdated: number | null;
  readonly fields: ReadonlyArray<readonly [string, string]>;
  readonly source: SourcePosition;
}

export const QuarantineCode = {
  NotJson: 'not-json',
  NotObject: 'not-object',
  NoResourceType: 'no-resource-type',
  UnknownResourceType: 'unknown-resource-type',
  BadBundle: 'bad-bundle',
  BadId: 'bad-id',
  /** An element name the lake cannot store as a column (empty, `@`-prefixed, control characters). */
  BadElement: 'bad-element',
  /** A record of a converted format (HL7 v2, DICOM, SDTM, CSV) that breaks its format's syntax. */
  Malformed: 'malformed',
  /** A well-formed record medlake has no mapping for (e.g. an HL7 v2 message type it does not map). */
  Unsupported: 'unsupported',
  /** A record or file that ends before its format says it should (e.g. a cut DICOM header). */
  Truncated: 'truncated',
  /** A record without a value the mapping needs (e.g. no patient identifier). */
  MissingValue: 'missing-value',
  /** A value that cannot be read as its type (a date, a number, a code). */
  InvalidValue: 'invalid-value',
} as const;
export type QuarantineCode = (typeof QuarantineCode)[keyof typeof QuarantineCode];

/** A record that could not be loaded, with the reason; the rest of the load proceeds. */
export interface QuarantinedRecord {
  readonly kind: 'quarantine';
  readonly code: QuarantineCode;
  readonly reason: string;
  readonly source: SourcePosition;
  /** The offending text, truncated to a few KB. */
  readonly text: string;
}

export type IngestRecord = ParsedResource | QuarantinedRecord;

/** A source file that will be read, with its checksum once read. */
export interface SourceFile {
  readonly path: string;
  readonly size: number;
  readonly format: 'ndjson' | 'ndjson.gz' | 'json' | 'json.gz' | ConvertedFormat;
  /**
   * For a converted format read as a group (see FormatConverter): the files of the group,
   * sorted; `path` is then their folder (or the one file) and `size` their total.
   */
  readonly members?: readonly string[];
}

/** sha256 and byte count of a source file as stored on disk (compressed bytes for .gz). */
export interface SourceDigest {
  readonly sha256: string;
  readonly bytes: number;
}

export const IngestSourceErrorCode = {
  /** The path does not exist or cannot be read. */
  Unreadable: 'SOURCE_UNREADABLE',
  /** A file named explicitly has an extension no reader handles. */
  Unsupported: 'SOURCE_UNSUPPORTED',
  /** A Bulk Data manifest that is not shaped as the spec says. */
  BadManifest: 'SOURCE_BAD_MANIFEST',
  /** The bytes stopped making sense mid-file (e.g. a truncated .gz). */
  Corrupt: 'SOURCE_CORRUPT',
} as const;
export type IngestSourceErrorCode =
  (typeof IngestSourceErrorCode)[keyof typeof IngestSourceErrorCode];

/** A whole source cannot be used; thrown before (or instead of) reading records from it. */
export class IngestSourceError extends Error {
  readonly code: IngestSourceErrorCode;
  readonly path: string;

  constructor(code: IngestSourceErrorCode, path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IngestSourceError';
    this.code = code;
    this.path = path;
  }
}
