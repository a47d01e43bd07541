/**
 * Streaming readers for FHIR R4 JSON sources: NDJSON (Bulk Data export files, optionally
 * gzipped), whole JSON documents (a resource, a Bundle, or an array of resources) and
 * Bulk Data export manifests (https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status).
 *
 * Every problem with a single record becomes a QuarantinedRecord and the read goes on;
 * only a source that cannot be opened or decoded at all throws an IngestSourceError.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import type { Stats } from 'node:fs';
import { access, open, readFile, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import {
  JsonSyntaxError,
  countNewlines,
  parseLossless,
  scanArrayElements,
  scanObjectMembers,
  splitTopLevel,
  stringifyLossless,
} from './raw-json.js';
import type { LosslessObject, LosslessValue } from './raw-json.js';
import { FHIR_R4_RESOURCE_TYPES } from './resource-types.js';
import { classifyConverted } from './sources.js';
import { IngestSourceError, IngestSourceErrorCode, QuarantineCode } from './types.js';
import type {
  IngestRecord,
  ParsedResource,
  QuarantinedRecord,
  SourceDigest,
  SourceFile,
  SourcePosition,
} from './types.js';

/** Bytes per read; large reads keep per-chunk overhead negligible next to JSON.parse. */
const READ_CHUNK = 1 << 20;
/** A longer NDJSON line is quarantined unread, so one runaway line cannot exhaust memory. */
const MAX_LINE_BYTES = 256 << 20;
/** V8 strings stop at ~2^29 chars; a bigger whole-document .json cannot be parsed at all. */
const MAX_DOCUMENT_BYTES = 500 << 20;
/** Manifests are small; only a file whose first bytes mention transactionTime is read fully. */
const MANIFEST_SNIFF_BYTES = 64 << 10;
const MAX_MANIFEST_BYTES = 64 << 20;
/** Characters of a quarantined record's text kept in the quarantine file. */
export const QUARANTINE_TEXT_CHARS = 4096;
/** Prefix of ids derived from content, so they are recognisable and still valid FHIR ids. */
export const DERIVED_ID_PREFIX = 'sha256-';

// ---------------------------------------------------------------------------------------
// Discovery

/** The file format implied by a file name, or null when no reader handles it. */
export function sourceFormatOf(fileName: string): SourceFile['format'] | null {
  const n = fileName.toLowerCase();
  if (n.endsWith('.ndjson') || n.endsWith('.jsonl')) return 'ndjson';
  if (n.endsWith('.ndjson.gz') || n.endsWith('.jsonl.gz')) return 'ndjson.gz';
  if (n.endsWith('.json')) return 'json';
  if (n.endsWith('.json.gz')) return 'json.gz';
  return null;
}

function byPath(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function unreadable(file: string, err: unknown, what = 'Source'): IngestSourceError {
  const code = errnoCode(err);
  const why =
    code === 'ENOENT'
      ? 'does not exist'
      : code === 'EACCES' || code === 'EPERM'
        ? 'is not readable (permission denied)'
        : `cannot be read (${err instanceof Error ? err.message : String(err)})`;
  return new IngestSourceError(
    IngestSourceErrorCode.Unreadable,
    file,
    `${what} ${file} ${why}. Check the path and its permissions, or leave it out of the load.`,
    { cause: err },
  );
}

async function statOrThrow(file: string, what?: string): Promise<Stats> {
  try {
    const st = await stat(file);
    if (st.isFile()) await access(file, fsConstants.R_OK);
    return st;
  } catch (err) {
    throw unreadable(file, err, what);
  }
}

/** The parts of a Bulk Data export manifest that locate its files. */
interface BulkManifest {
  readonly outputs: ReadonlyArray<{ readonly url: string; readonly index: number }>;
  /** error[] and deleted[] files: export diagnostics and deletion Bundles, never loaded. */
  readonly others: readonly string[];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads `file` as a Bulk Data manifest, or returns null when it is not one. */
async function readManifest(file: string, size: number): Promise<BulkManifest | null> {
  if (size > MAX_MANIFEST_BYTES) return null;
  let text: string;
  try {
    const fh = await open(file, 'r');
    let mentions: boolean;
    try {
      const head = Buffer.alloc(Math.min(size, MANIFEST_SNIFF_BYTES));
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      // Cheap sniff so large Bundles are not read twice during discovery.
      mentions = head.subarray(0, bytesRead).includes('"transactionTime"');
    } finally {
      await fh.close();
    }
    if (!mentions) return null;
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw unreadable(file, err);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(doc) || 'resourceType' in doc) return null;
  if (typeof doc.transactionTime !== 'string' || !Array.isArray(doc.output)) return null;
  const outputs = doc.output.map((o: unknown, index) => {
    if (!isRecord(o) || typeof o.url !== 'string' || o.url === '') {
      throw new IngestSourceError(
        IngestSourceErrorCode.BadManifest,
        file,
        `Bulk Data manifest ${file}: output[${index}] has no "url". Each output entry must ` +
          'be {"type": ..., "url": ...}; fix the manifest or load the NDJSON files directly.',
      );
    }
    return { url: o.url, index };
  });
  const others: string[] = [];
  for (const key of ['error', 'deleted'] as const) {
    const list = doc[key];
    if (!Array.isArray(list)) continue;
    for (const o of list) if (isRecord(o) && typeof o.url === 'string') others.push(o.url);
  }
  return { outputs, others };
}

/** Where a manifest url points on disk: downloaded http(s) files sit next to the manifest. */
function manifestTarget(manifestPath: string, url: string): string {
  const dir = path.dirname(manifestPath);
  if (/^https?:\/\//i.test(url)) {
    let name = '';
    try {
      name = decodeURIComponent(path.posix.basename(new URL(url).pathname));
    } catch {
      name = '';
    }
    if (name === '') {
      throw new IngestSourceError(
        IngestSourceErrorCode.BadManifest,
        manifestPath,
        `Bulk Data manifest ${manifestPath}: cannot take a file name from url ${url}. ` +
          'Download the file next to the manifest and put its file name in the url.',
      );
    }
    return path.join(dir, name);
  }
  if (url.startsWith('file:')) return fileURLToPath(url);
  return path.resolve(dir, url);
}

async function expandManifest(manifestPath: string, manifest: BulkManifest): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const { url, index } of manifest.outputs) {
    const target = manifestTarget(manifestPath, url);
    const st = await statOrThrow(
      target,
      `File ${url} (output[${index}] of Bulk Data manifest ${manifestPath}), expected at`,
    );
    if (!st.isFile()) {
      throw unreadable(target, new Error('not a regular file'), 'Manifest output');
    }
    // Bulk Data output is NDJSON by definition, whatever the download was named.
    const format =
      sourceFormatOf(target) ?? (target.toLowerCase().endsWith('.gz') ? 'ndjson.gz' : 'ndjson');
    out.push({ path: target, size: st.size, format });
  }
  return out;
}

async function walk(
  dir: string,
  acc: string[],
  visited: Set<string>,
  others: string[],
): Promise<void> {
  let entries;
  try {
    const real = await realpath(dir);
    if (visited.has(real)) return; // symlink loop
    visited.add(real);
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw unreadable(dir, err, 'Folder');
  }
  entries.sort((a, b) => byPath(a.name, b.name));
  for (const e of entries) {
    // Dot files include macOS `._x.ndjson` resource forks, which are binary, not NDJSON.
    if (e.name.startsWith('.')) continue;
    // A Bulk Data client's export log (log.ndjson) records the export's events, not FHIR
    // resources; named explicitly on the command line it is still read.
    if (e.name === 'log.ndjson') continue;
    const full = path.join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const st = await stat(full).catch(() => null);
      if (st === null) continue; // dangling link
      isDir = st.isDirectory();
      isFile = st.isFile();
    }
    if (isDir) await walk(full, acc, visited, others);
    else if (isFile) (sourceFormatOf(e.name) !== null ? acc : others).push(full);
  }
}

async function discoverFolder(dir: string): Promise<SourceFile[]> {
  const files: string[] = [];
  const others: string[] = [];
  await walk(dir, files, new Set(), others);
  const sizes = new Map<string, number>();
  for (const f of files) sizes.set(f, (await statOrThrow(f)).size);

  const fromManifests: SourceFile[] = [];
  const claimed = new Set<string>();
  // A folder holding a Bulk Data manifest is an export: its subfolders are not read (e.g.
  // `medlake synth` writes other formats of the same data there), nor truth.json beside it;
  // unlisted files beside the manifest still are.
  const exportDirs: string[] = [];
  for (const f of files) {
    if (sourceFormatOf(f) !== 'json') continue;
    const manifest = await readManifest(f, sizes.get(f) ?? 0);
    if (manifest === null) continue;
    claimed.add(f);
    claimed.add(path.join(path.dirname(f), 'truth.json'));
    exportDirs.push(path.dirname(f));
    for (const sf of await expandManifest(f, manifest)) {
      claimed.add(sf.path);
      fromManifests.push(sf);
    }
    for (const url of manifest.others) claimed.add(manifestTarget(f, url));
  }
  const out = [...fromManifests];
  for (const f of files) {
    const inSubfolder = exportDirs.some((d) => f.startsWith(d + path.sep) && path.dirname(f) !== d);
    if (claimed.has(f) || inSubfolder) continue;
    out.push({ path: f, size: sizes.get(f) ?? 0, format: sourceFormatOf(f)! });
  }
  // Files of other formats (HL7 v2, DICOM, SDTM, Synthea CSV) are recognised by their bytes;
  // files no converter claims are skipped, as before.
  const candidates: { path: string; size: number }[] = [];
  for (const f of others) {
    if (claimed.has(f) || exportDirs.some((d) => f.startsWith(d + path.sep))) continue;
    candidates.push({ path: f, size: (await statOrThrow(f)).size });
  }
  const { sources } = await classifyConverted(candidates, dir);
  out.push(...sources);
  return out.sort((a, b) => byPath(a.path, b.path));
}

/**
 * Resolves files and folders (recursively, sorted) to the FHIR JSON sources they hold.
 * Recognises .ndjson, .jsonl, .json and their .gz forms; other files in folders are
 * skipped, as are dot files and a bulk export's log.ndjson. A Bulk Data manifest expands to its output[] files, which are
 * then not read a second time; its error[] and deleted[] files are not loaded. The
 * subfolders of a folder with a manifest are not read.
 * Every path is checked before any record is read.
 * @throws IngestSourceError SOURCE_UNREADABLE for a missing or unreadable path,
 *   SOURCE_UNSUPPORTED for a named file of unknown format, SOURCE_BAD_MANIFEST.
 */
export async function discoverSources(paths: readonly string[]): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const seen = new Set<string>();
  for (const given of paths) {
    const abs = path.resolve(given);
    const st = await statOrThrow(abs);
    let found: SourceFile[];
    // A DICOMDIR names the files of its media: the tree it sits in is what is meant.
    const dicomdir = st.isFile() && path.basename(abs).toUpperCase() === 'DICOMDIR';
    if (st.isDirectory() || dicomdir) {
      found = await discoverFolder(dicomdir ? path.dirname(abs) : abs);
    } else if (st.isFile()) {
      const format = sourceFormatOf(abs);
      if (format === null) {
        const { sources } = await classifyConverted([{ path: abs, size: st.size }], abs);
        if (sources.length === 0) {
          throw new IngestSourceError(
            IngestSourceErrorCode.Unsupported,
            abs,
            `Source ${abs} is neither FHIR JSON (a name ending in .ndjson, .jsonl, .json or ` +
              'those plus .gz) nor a format medlake converts (HL7 v2, DICOM, CDISC SDTM XPT/CSV, ' +
              'Synthea CSV), judged by its first bytes. Rename the file if it holds FHIR JSON.',
          );
        }
        found = sources;
      } else {
        const manifest = format === 'json' ? await readManifest(abs, st.size) : null;
        found =
          manifest === null
            ? [{ path: abs, size: st.size, format }]
            : await expandManifest(abs, manifest);
      }
    } else {
      throw unreadable(abs, new Error('not a regular file or folder'));
    }
    for (const f of found) {
      if (seen.has(f.path)) continue;
      seen.add(f.path);
      out.push(f);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Records

/** FHIR id: [A-Za-z0-9\-\.]{1,64} (http://hl7.org/fhir/R4/datatypes.html#id). */
export function isFhirId(s: string): boolean {
  const n = s.length;
  if (n === 0 || n > 64) return false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    const ok =
      (c >= 0x30 && c <= 0x39) ||
      (c >= 0x41 && c <= 0x5a) ||
      (c >= 0x61 && c <= 0x7a) ||
      c === 0x2d ||
      c === 0x2e;
    if (!ok) return false;
  }
  return true;
}

/**
 * The id given to a resource that has none: a hash of its compact JSON (key order as
 * written, numbers verbatim), so loading the same content twice gives the same id.
 */
export function deriveResourceId(canonicalJson: string): string {
  return DERIVED_ID_PREFIX + createHash('sha256').update(canonicalJson).digest('hex').slice(0, 32);
}

/** A quarantined record with its text cut to QUARANTINE_TEXT_CHARS. */
export function quarantine(
  code: QuarantineCode,
  reason: string,
  source: SourcePosition,
  text: string,
): QuarantinedRecord {
  return { kind: 'quarantine', code, reason, source, text: text.slice(0, QUARANTINE_TEXT_CHARS) };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.slice(0, 80))}`;
  if (typeof v === 'object') return 'an object';
  return `the ${typeof v} ${String(v)}`;
}

let lowerCaseTypes: Map<string, string> | null = null;
function unknownTypeReason(rt: string): string {
  lowerCaseTypes ??= new Map([...FHIR_R4_RESOURCE_TYPES].map((t) => [t.toLowerCase(), t]));
  const near = lowerCaseTypes.get(rt.toLowerCase());
  const hint = near
    ? ` Did you mean "${near}"? Resource type names are case-sensitive.`
    : ' Only FHIR R4 (4.0.1) resources can be loaded.';
  return `"${rt.slice(0, 80)}" is not a FHIR R4 resource type.${hint}`;
}

/** What the NDJSON and the Bundle paths both know about one candidate resource. */
interface Candidate {
  readonly resourceType: unknown;
  /** undefined when the source has no id member. */
  readonly id: unknown;
  readonly versionId: unknown;
  readonly lastUpdated: unknown;
  /** Top-level members except resourceType. */
  fields(): Array<[string, string]>;
  /** Compact JSON used to derive an id; only called when the id is absent. */
  canonical(): string;
  text(): string;
  /** Id to use when the resource has none, e.g. taken from a urn:uuid fullUrl. */
  readonly fallbackId?: string | undefined;
}

function toRecord(c: Candidate, source: SourcePosition): IngestRecord {
  const rt = c.resourceType;
  if (typeof rt !== 'string') {
    const reason =
      rt === undefined
        ? 'No "resourceType": every FHIR resource must say which type it is.'
        : `"resourceType" must be a string, found ${describe(rt)}.`;
    return quarantine(QuarantineCode.NoResourceType, reason, source, c.text());
  }
  if (!FHIR_R4_RESOURCE_TYPES.has(rt)) {
    return quarantine(QuarantineCode.UnknownResourceType, unknownTypeReason(rt), source, c.text());
  }
  const fields = c.fields();
  let id: string;
  let idDerived = false;
  if (c.id === undefined) {
    id = c.fallbackId ?? deriveResourceId(c.canonical());
    idDerived = true;
    fields.unshift(['id', JSON.stringify(id)]);
  } else if (typeof c.id === 'string' && isFhirId(c.id)) {
    id = c.id;
  } else {
    return quarantine(
      QuarantineCode.BadId,
      `"id" must be a string of 1-64 letters, digits, "-" or ".", found ${describe(c.id)}.`,
      source,
      c.text(),
    );
  }
  const lastUpdated = typeof c.lastUpdated === 'string' ? parseInstant(c.lastUpdated) : null;
  const resource: ParsedResource = {
    kind: 'resource',
    resourceType: rt,
    id,
    idDerived,
    versionId: typeof c.versionId === 'string' ? c.versionId : null,
    lastUpdated,
    fields,
    source,
  };
  return resource;
}

/**
 * Epoch ms of a FHIR instant, or null. A date-time without a zone is not a valid instant
 * (http://hl7.org/fhir/R4/datatypes.html#instant) and Date.parse would read it in the
 * machine's zone, so it is rejected rather than loaded differently on different machines.
 */
function parseInstant(s: string): number | null {
  if (s.includes('T') && !/(?:Z|[+-]\d\d:\d\d)$/.test(s)) return null;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : ms;
}

/** Members of `text` minus resourceType; duplicate keys resolved as JSON.parse does. */
function fieldsFromText(text: string, keyCount: number): Array<[string, string]> {
  let fields = splitTopLevel(text);
  if (fields.length !== keyCount) {
    // Duplicate keys (not valid FHIR, but valid JSON): first position, last value.
    const at = new Map<string, number>();
    const dedup: Array<[string, string]> = [];
    for (const f of fields) {
      const i = at.get(f[0]);
      if (i === undefined) {
        at.set(f[0], dedup.length);
        dedup.push(f);
      } else dedup[i] = f;
    }
    fields = dedup;
  }
  const rt = fields.findIndex((f) => f[0] === 'resourceType');
  if (rt !== -1) fields.splice(rt, 1);
  return fields;
}

/** A record for JSON text already parsed (by JSON.parse) into `value`. */
function recordFromParsed(text: string, value: unknown, source: SourcePosition): IngestRecord {
  if (!isRecord(value)) {
    return quarantine(
      QuarantineCode.NotObject,
      `Expected a JSON object (a FHIR resource), found ${describe(value)}.`,
      source,
      text,
    );
  }
  const meta = value.meta;
  const hasMeta = isRecord(meta);
  return toRecord(
    {
      resourceType: value.resourceType,
      id: value.id,
      versionId: hasMeta ? meta.versionId : undefined,
      lastUpdated: hasMeta ? meta.lastUpdated : undefined,
      fields: () => fieldsFromText(text, Object.keys(value).length),
      canonical: () => stringifyLossless(parseLossless(text)),
      text: () => text,
    },
    source,
  );
}

function notJson(text: string, source: SourcePosition, err: unknown): QuarantinedRecord {
  const msg = err instanceof Error ? err.message : String(err);
  return quarantine(QuarantineCode.NotJson, `Not valid JSON: ${msg}`, source, text);
}

/** The NDJSON hot path: native JSON.parse validates, one structural scan splits. */
function recordFromLine(line: string, source: SourcePosition): IngestRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return notJson(line, source, err);
  }
  try {
    return recordFromParsed(line, value, source);
  } catch (err) {
    // The scanners only see JSON.parse-valid text; this is a last guard, not a path.
    return notJson(line, source, err);
  }
}

function recordFromTree(
  value: LosslessValue,
  source: SourcePosition,
  fallbackId?: string,
  canonical?: string,
): IngestRecord {
  if (!(value instanceof Map)) {
    return quarantine(
      QuarantineCode.NotObject,
      `Expected a JSON object (a FHIR resource), found ${describe(value)}.`,
      source,
      stringifyLossless(value),
    );
  }
  const meta = value.get('meta');
  const hasMeta = meta instanceof Map;
  return toRecord(
    {
      resourceType: value.get('resourceType'),
      id: value.get('id'),
      versionId: hasMeta ? meta.get('versionId') : undefined,
      lastUpdated: hasMeta ? meta.get('lastUpdated') : undefined,
      fields: () => {
        const out: Array<[string, string]> = [];
        for (const [k, v] of value) if (k !== 'resourceType') out.push([k, stringifyLossless(v)]);
        return out;
      },
      canonical: () => canonical ?? stringifyLossless(value),
      text: () => stringifyLossless(value),
      fallbackId,
    },
    source,
  );
}

function isLocalUrn(url: string): boolean {
  return url.startsWith('urn:uuid:') || url.startsWith('urn:oid:');
}

/**
 * Rewrites every Reference.reference equal to a resolved fullUrl (http://hl7.org/fhir/R4/bundle.html#references).
 * Does not enter nested Bundles: their references resolve against their own entries.
 */
function rewriteReferences(root: LosslessObject, resolved: ReadonlyMap<string, string>): void {
  const stack: LosslessValue[] = [root];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (Array.isArray(node)) {
      for (const v of node) if (typeof v === 'object' && v !== null) stack.push(v);
    } else if (node instanceof Map) {
      if (node !== root && node.get('resourceType') === 'Bundle') continue;
      for (const [k, v] of node) {
        if (k === 'reference' && typeof v === 'string') {
          const to = resolved.get(v);
          if (to !== undefined) node.set(k, to);
        } else if (typeof v === 'object' && v !== null) stack.push(v);
      }
    }
  }
}

/** Turns offsets into 1-based line numbers; offsets must be asked for in increasing order. */
function lineCounter(text: string): (offset: number) => number {
  let at = 0;
  let line = 1;
  return (offset) => {
    if (offset > at) {
      line += countNewlines(text, at, offset);
      at = offset;
    }
    return line;
  };
}

/**
 * Bundle handling (http://hl7.org/fhir/R4/bundle.html). A document or message Bundle is an
 * artefact in its own right (signed, referenced by DocumentReference/MessageHeader), so it is
 * stored verbatim as a Bundle AND its entries are stored. Other types (transaction, batch,
 * collection, searchset, history, *-response) are only envelopes: just the entries are stored.
 * Entries get urn:uuid / urn:oid fullUrl references rewritten to Type/id; absolute fullUrls
 * are left as written, since two servers may share a Type/id. Entries without a resource
 * (DELETE or GET requests) yield nothing.
 */
function recordsFromBundle(
  text: string,
  parsed: Record<string, unknown>,
  file: string,
): IngestRecord[] {
  const out: IngestRecord[] = [];
  const type = parsed.type;
  if (type === 'document' || type === 'message') {
    out.push(recordFromParsed(text, parsed, { file, line: 1 }));
  }
  const tree = parseLossless(text);
  if (!(tree instanceof Map)) return out;
  const entries = tree.get('entry');
  if (entries === undefined) return out;
  const lineAt = lineCounter(text);
  const members = scanObjectMembers(text);
  const entrySpan = members.filter((m) => m.key === 'entry').pop();
  if (!Array.isArray(entries)) {
    out.push(
      quarantine(
        QuarantineCode.BadBundle,
        `Bundle.entry must be an array, found ${describe(entries)}.`,
        { file, line: entrySpan ? lineAt(entrySpan.start) : 1 },
        stringifyLossless(entries),
      ),
    );
    return out;
  }

  // Line of each entry's resource (or of the entry), for messages that point into the file.
  const spans = entrySpan ? scanArrayElements(text, entrySpan.start) : [];
  const lines = spans.map(([start]) => {
    let at = start;
    if (text.charCodeAt(start) === 0x7b) {
      const res = scanObjectMembers(text, start).find((m) => m.key === 'resource');
      if (res) at = res.start;
    }
    return lineAt(at);
  });

  // Pass 1: the Type/id each local fullUrl stands for. Ids derived from content hash the
  // entry as received, before any rewriting, so they do not depend on other entries.
  const resolved = new Map<string, string>();
  const fallbackIds: Array<string | undefined> = [];
  const canonicals: Array<string | undefined> = [];
  entries.forEach((entry, i) => {
    if (!(entry instanceof Map)) return;
    const res = entry.get('resource');
    if (!(res instanceof Map)) return;
    const rt = res.get('resourceType');
    if (typeof rt !== 'string' || !FHIR_R4_RESOURCE_TYPES.has(rt)) return;
    const fullUrl = entry.get('fullUrl');
    const local = typeof fullUrl === 'string' && isLocalUrn(fullUrl) ? fullUrl : undefined;
    const id = res.get('id');
    let finalId: string | undefined;
    if (id === undefined) {
      const tail = local?.slice(local.indexOf(':', 4) + 1);
      if (tail !== undefined && isFhirId(tail)) {
        fallbackIds[i] = finalId = tail;
      } else {
        const canonical = stringifyLossless(res);
        canonicals[i] = canonical;
        finalId = deriveResourceId(canonical);
      }
    } else if (typeof id === 'string' && isFhirId(id)) {
      finalId = id;
    }
    if (local !== undefined && finalId !== undefined && !resolved.has(local)) {
      resolved.set(local, `${rt}/${finalId}`);
    }
  });

  // Pass 2: rewrite and emit.
  entries.forEach((entry, i) => {
    const source: SourcePosition = { file, line: lines[i] ?? 1, entry: i };
    if (!(entry instanceof Map)) {
      out.push(
        quarantine(
          QuarantineCode.BadBundle,
          `Bundle.entry[${i}] must be an object, found ${describe(entry)}.`,
          source,
          stringifyLossless(entry),
        ),
      );
      return;
    }
    const res = entry.get('resource');
    if (res === undefined) return;
    if (resolved.size > 0 && res instanceof Map && res.get('resourceType') !== 'Bundle') {
      rewriteReferences(res, resolved);
    }
    out.push(recordFromTree(res, source, fallbackIds[i], canonicals[i]));
  });
  return out;
}

/** Records of a whole JSON document: a resource, a Bundle's entries, or an array's elements. */
export function recordsFromJsonDocument(text: string, file: string): IngestRecord[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Re-parse only to report line and column, which JSON.parse does not give.
    let line = 1;
    let cause: unknown = err;
    try {
      parseLossless(text);
    } catch (e) {
      if (e instanceof JsonSyntaxError) {
        line = e.line;
        cause = e;
      }
    }
    return [notJson(text, { file, line }, cause)];
  }
  try {
    if (Array.isArray(value)) {
      // Each element is a record on its own; an element Bundle is stored, not expanded.
      const elements: readonly unknown[] = value;
      const lineAt = lineCounter(text);
      return scanArrayElements(text).map(([start, end], i) =>
        recordFromParsed(text.slice(start, end), elements[i], {
          file,
          line: lineAt(start),
          entry: i,
        }),
      );
    }
    if (isRecord(value) && value.resourceType === 'Bundle') {
      return recordsFromBundle(text, value, file);
    }
    return [recordFromParsed(text, value, { file, line: 1 })];
  } catch (err) {
    return [notJson(text, { file, line: 1 }, err)];
  }
}

// ---------------------------------------------------------------------------------------
// Streaming

/** Options for readSource. */
export interface ReadSourceOptions {
  /** Called with the number of file bytes (compressed bytes for .gz) consumed by each read. */
  readonly onBytes?: (n: number) => void;
  /**
   * NDJSON lines longer than this are quarantined unread (default 256 MiB). Checked when a
   * line spans read chunks (1 MiB), so it bounds memory, not the length of short lines.
   */
  readonly maxLineBytes?: number;
  /**
   * NDJSON only: read bytes [start, end) of the file, whose first line is line
   * `firstLine` of the file. Both offsets must be line starts (or the file size), so that
   * several readers can share one large file. The digest then covers the range only.
   */
  readonly range?: { readonly start: number; readonly end: number; readonly firstLine: number };
}

/**
 * The records of one source, read once, streaming. After the iteration has run to its end,
 * digest() gives the sha256 and size of the file bytes (as stored, so compressed for .gz),
 * computed in the same pass.
 */
export interface SourceReader extends AsyncIterable<IngestRecord> {
  readonly file: SourceFile;
  /** @throws Error when called before the iteration has finished. */
  digest(): SourceDigest;
}

/** Reads one discovered source. NDJSON streams in bounded memory; a .json is read whole. */
export function readSource(file: SourceFile, opts: ReadSourceOptions = {}): SourceReader {
  return new FhirJsonSourceReader(file, opts);
}

class FhirJsonSourceReader implements SourceReader {
  readonly file: SourceFile;
  readonly #opts: ReadSourceOptions;
  #digest: SourceDigest | null = null;
  #started = false;

  constructor(file: SourceFile, opts: ReadSourceOptions) {
    this.file = file;
    this.#opts = opts;
  }

  digest(): SourceDigest {
    if (this.#digest === null) {
      throw new Error(`digest() of ${this.file.path} is only known once it has been fully read`);
    }
    return this.#digest;
  }

  [Symbol.asyncIterator](): AsyncIterator<IngestRecord> {
    if (this.#started) throw new Error(`${this.file.path} is already being read; read it once`);
    this.#started = true;
    return this.#records();
  }

  #records(): AsyncGenerator<IngestRecord> {
    const hash = createHash('sha256');
    const counter = { bytes: 0 };
    const range = this.#opts.range;
    if (range !== undefined && this.file.format !== 'ndjson') {
      throw new Error(`${this.file.path}: only plain NDJSON can be read in byte ranges`);
    }
    const chunks = fileChunks(this.file, hash, counter, this.#opts.onBytes, range);
    const done = (): void => {
      this.#digest = { sha256: hash.digest('hex'), bytes: counter.bytes };
    };
    // The readers call done() after their last chunk; no extra generator layer per record.
    return this.file.format === 'ndjson' || this.file.format === 'ndjson.gz'
      ? ndjsonRecords(
          chunks,
          this.file.path,
          this.#opts.maxLineBytes ?? MAX_LINE_BYTES,
          done,
          (range?.firstLine ?? 1) - 1,
        )
      : documentRecords(chunks, this.file.path, done);
  }
}

function sourceError(file: SourceFile, err: unknown): IngestSourceError {
  if (err instanceof IngestSourceError) return err;
  const code = errnoCode(err);
  if (code !== undefined && code.startsWith('Z_')) {
    return new IngestSourceError(
      IngestSourceErrorCode.Corrupt,
      file.path,
      `${file.path} is not a valid gzip file (${err instanceof Error ? err.message : code}). ` +
        'It may be truncated: download it again, or check that it is really gzip-compressed.',
      { cause: err },
    );
  }
  return unreadable(file.path, err);
}

/** File bytes, gunzipped when needed, hashing the stored bytes on the way. */
async function* fileChunks(
  file: SourceFile,
  hash: Hash,
  counter: { bytes: number },
  onBytes: ((n: number) => void) | undefined,
  range?: { readonly start: number; readonly end: number },
): AsyncGenerator<Buffer> {
  if (range !== undefined && range.end <= range.start) return;
  const raw = createReadStream(file.path, {
    highWaterMark: READ_CHUNK,
    ...(range === undefined ? {} : { start: range.start, end: range.end - 1 }),
  });
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      counter.bytes += chunk.length;
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
  const gz = file.format.endsWith('.gz');
  const gunzip = gz ? createGunzip({ chunkSize: 256 << 10 }) : null;
  // Errors reach the consumer through the last stream; the callback only silences them.
  const body: Readable =
    gunzip === null
      ? pipeline(raw, tap, () => undefined)
      : pipeline(raw, tap, gunzip, () => undefined);
  try {
    for await (const chunk of body) yield chunk as Buffer;
  } catch (err) {
    throw sourceError(file, err);
  } finally {
    raw.destroy();
    tap.destroy();
    gunzip?.destroy();
  }
}

/**
 * NDJSON (https://github.com/ndjson/ndjson-spec): lines split on bytes, numbered from 1,
 * blank lines skipped, CRLF and BOM tolerated. Memory is bounded by the chunk size plus the
 * longest line (itself capped by maxLineBytes).
 */
async function* ndjsonRecords(
  chunks: AsyncIterable<Buffer>,
  file: string,
  maxLineBytes: number,
  done: () => void,
  linesBefore = 0,
): AsyncGenerator<IngestRecord> {
  let lineNo = linesBefore;
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let overlong: string | null = null; // head of a line past maxLineBytes, being skipped
  let out: IngestRecord[] = [];

  const emit = (line: string): void => {
    lineNo++;
    let s = 0;
    let e = line.length;
    if (line.charCodeAt(0) === 0xfeff) s = 1; // BOM at file start (or of concatenated files)
    if (line.charCodeAt(e - 1) === 0x0d) e--; // CRLF
    // Blank lines are skipped; a line starting with `{` (the usual case) is not blank.
    if (line.charCodeAt(s) !== 0x7b) {
      let k = s;
      for (; k < e; k++) {
        const c = line.charCodeAt(k);
        if (c !== 0x20 && c !== 0x09 && c !== 0x0d) break;
      }
      if (k === e) return;
    }
    const text = s === 0 && e === line.length ? line : line.slice(s, e);
    out.push(recordFromLine(text, { file, line: lineNo }));
  };
  const emitBytes = (buf: Buffer): void => {
    if (isUtf8(buf)) {
      emit(buf.toString('utf8'));
    } else {
      lineNo++;
      out.push(
        quarantine(
          QuarantineCode.NotJson,
          'Not valid UTF-8: FHIR JSON must be UTF-8 encoded (re-export or convert the file).',
          { file, line: lineNo },
          buf.toString('utf8'),
        ),
      );
    }
  };
  const startOverlong = (): void => {
    overlong = Buffer.concat(carry, Math.min(carryBytes, QUARANTINE_TEXT_CHARS)).toString('utf8');
    carry = [];
    carryBytes = 0;
  };
  const emitOverlong = (): void => {
    lineNo++;
    out.push(
      quarantine(
        QuarantineCode.NotJson,
        `Line longer than ${maxLineBytes} bytes: not read. NDJSON holds one resource per ` +
          'line; check that the file really is NDJSON.',
        { file, line: lineNo },
        overlong ?? '',
      ),
    );
    overlong = null;
  };

  for await (const chunk of chunks) {
    let start = 0;
    const firstNl = chunk.indexOf(0x0a);
    if (firstNl === -1) {
      if (overlong !== null) continue;
      carry.push(chunk);
      carryBytes += chunk.length;
      if (carryBytes > maxLineBytes) startOverlong();
      continue;
    }
    if (overlong === null && carryBytes > 0 && carryBytes + firstNl > maxLineBytes) {
      startOverlong();
    }
    if (overlong !== null) {
      emitOverlong();
      start = firstNl + 1;
    } else if (carryBytes > 0) {
      carry.push(chunk.subarray(0, firstNl));
      emitBytes(Buffer.concat(carry));
      carry = [];
      carryBytes = 0;
      start = firstNl + 1;
    }
    const lastNl = chunk.lastIndexOf(0x0a);
    if (lastNl >= start) {
      // Decoding line by line keeps ASCII lines one-byte strings, which decode and
      // JSON.parse several times faster than one two-byte string per chunk would.
      const valid = isUtf8(chunk.subarray(start, lastNl));
      let s = start;
      for (let e = chunk.indexOf(0x0a, s); e !== -1 && e <= lastNl; e = chunk.indexOf(0x0a, s)) {
        if (valid) emit(chunk.toString('utf8', s, e));
        else emitBytes(chunk.subarray(s, e));
        s = e + 1;
      }
    }
    if (lastNl + 1 < chunk.length) {
      carry.push(chunk.subarray(lastNl + 1));
      carryBytes += chunk.length - lastNl - 1;
    }
    if (out.length > 0) {
      const batch = out;
      out = [];
      for (const r of batch) yield r;
    }
  }
  if (overlong !== null) emitOverlong();
  else if (carryBytes > 0) emitBytes(Buffer.concat(carry));
  done();
  for (const r of out) yield r;
}

/** A whole-document .json: buffered (it must be parsed whole), hashed while read. */
async function* documentRecords(
  chunks: AsyncIterable<Buffer>,
  file: string,
  done: () => void,
): AsyncGenerator<IngestRecord> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    total += chunk.length;
    if (total <= MAX_DOCUMENT_BYTES) parts.push(chunk); // past it, keep reading only for the digest
  }
  done();
  if (total > MAX_DOCUMENT_BYTES) {
    yield quarantine(
      QuarantineCode.NotJson,
      `JSON document of ${Math.round(total / 2 ** 20)} MiB is too large to parse whole ` +
        `(limit ${MAX_DOCUMENT_BYTES >> 20} MiB). Convert it to NDJSON, one resource per line.`,
      { file, line: 1 },
      Buffer.concat(parts.slice(0, 1)).toString('utf8'),
    );
    return;
  }
  const buf = Buffer.concat(parts, total);
  if (!isUtf8(buf)) {
    yield quarantine(
      QuarantineCode.NotJson,
      'Not valid UTF-8: FHIR JSON must be UTF-8 encoded (re-export or convert the file).',
      { file, line: 1 },
      buf.toString('utf8'),
    );
    return;
  }
  yield* recordsFromJsonDocument(buf.toString('utf8'), file);
}
