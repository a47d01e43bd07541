/**
 * The lake manifest: the single source of truth of what the lake holds. Data files that
 * the manifest does not name are not part of the lake (a crashed load leaves only such
 * files, which the next writer removes). A commit replaces manifest.json atomically.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const fileSchema = z.object({ path: z.string(), rows: z.number(), bytes: z.number() });

const typeSchema = z.object({
  files: z.array(fileSchema),
  rows: z.number(),
  /** Element columns present in any file of this type (plus `id`). */
  columns: z.array(z.string()),
});

const countsSchema = z.object({
  read: z.number(),
  added: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  superseded: z.number(),
});

const loadSchema = z.object({
  id: z.number(),
  startedAt: z.string(),
  committedAt: z.string(),
  sources: z.array(z.object({ path: z.string(), sha256: z.string(), bytes: z.number() })),
  counts: z.record(z.string(), countsSchema),
  quarantined: z.number(),
  quarantineFile: z.string().nullable(),
  derivedIds: z.number(),
});

const viewSchema = z.object({
  path: z.string(),
  rows: z.number(),
  columns: z.array(
    z.object({
      name: z.string(),
      type: z.string().nullable(),
      sqlType: z.string(),
      collection: z.boolean(),
    }),
  ),
  source: z.string(),
  materializedAt: z.string(),
  /** The lake commit the view was computed from. */
  commit: z.number(),
});

/** A source table (e.g. an SDTM domain): Parquet files, each holding one partition. */
const tableSchema = z.object({
  files: z.array(fileSchema.extend({ partition: z.string() })),
  rows: z.number(),
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
});

export const manifestSchema = z.object({
  format: z.literal('medlake-lake'),
  version: z.literal(1),
  commit: z.number(),
  updatedAt: z.string(),
  types: z.record(z.string(), typeSchema),
  loads: z.array(loadSchema),
  views: z.record(z.string(), viewSchema),
  /** Source tables kept as read (absent in lakes written before they existed). */
  tables: z.record(z.string(), tableSchema).default({}),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type LoadRecord = z.infer<typeof loadSchema>;
export type LoadCounts = z.infer<typeof countsSchema>;
export type TypeEntry = z.infer<typeof typeSchema>;
export type ViewEntry = z.infer<typeof viewSchema>;
export type TableEntry = z.infer<typeof tableSchema>;

export const MANIFEST_FILE = 'manifest.json';

export function emptyManifest(): Manifest {
  return {
    format: 'medlake-lake',
    version: 1,
    commit: 0,
    updatedAt: new Date(0).toISOString(),
    types: {},
    loads: [],
    views: {},
    tables: {},
  };
}

export class LakeError extends Error {
  constructor(
    readonly code: 'LAKE_CORRUPT' | 'LAKE_LOCKED' | 'LAKE_NOT_FOUND' | 'LAKE_UNKNOWN_VIEW',
    message: string,
  ) {
    super(message);
    this.name = 'LakeError';
  }
}

export function readManifest(dir: string): Manifest {
  const file = path.join(dir, MANIFEST_FILE);
  if (!existsSync(file)) return emptyManifest();
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new LakeError(
      'LAKE_CORRUPT',
      `${file} is not valid JSON (${(err as Error).message}); restore it from a backup`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new LakeError(
      'LAKE_CORRUPT',
      `${file} is not a medlake manifest: ${parsed.error.issues[0]?.message ?? ''}`,
    );
  }
  return parsed.data;
}

/** Writes the manifest to a temporary file, flushes it to disk, then renames it into place. */
export function writeManifestAtomically(dir: string, manifest: Manifest): void {
  const file = path.join(dir, MANIFEST_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n');
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
