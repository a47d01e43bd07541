/**
 * Staging: reads sources and writes their resources as staging files per type (see
 * StagingWriter), quarantining what cannot be loaded. Runs inline or in worker threads,
 * one share of the files each, so that a load uses every core.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';
import { readSource } from '../ingest/fhir-json-reader.js';
import { convertedTableRows, isConvertedFormat, readConvertedSource } from '../ingest/sources.js';
import { TableStager, type StagedTable } from './stage-tables.js';
import { QuarantineCode, type QuarantinedRecord, type SourceFile } from '../ingest/types.js';
import { StagingWriter, isStorableElementName } from './layout.js';

export interface StageTask {
  readonly file: SourceFile;
  /** Position of the file in the load; orders records across files (load order). */
  readonly fileIndex: number;
  /** Part of a large NDJSON file (see ReadSourceOptions.range); its digest is the file's. */
  readonly range?: { readonly start: number; readonly end: number; readonly firstLine: number };
}

export interface StageJob {
  readonly tasks: readonly StageTask[];
  readonly dir: string;
  readonly loadId: number;
  readonly workerId: number;
}

export interface StagedType {
  readonly files: string[];
  readonly columns: string[];
  readonly rows: number;
}

export interface StageResult {
  readonly types: Record<string, StagedType>;
  readonly quarantined: number;
  readonly quarantineFile: string | null;
  readonly derivedIds: number;
  readonly digests: { fileIndex: number; path: string; sha256: string; bytes: number }[];
  /** Source tables (see stage-tables.ts). */
  readonly tables: StagedTable[];
}

export interface StageProgress {
  readonly bytes: number;
  readonly resources: number;
  readonly quarantined: number;
}

/** Records within a file are numbered from fileIndex · 2^32, so @seq follows load order. */
const FILE_STRIDE = 2 ** 32;

export async function stageSources(
  job: StageJob,
  onProgress?: (delta: StageProgress) => void,
): Promise<StageResult> {
  const writers = new Map<string, StagingWriter>();
  const quarantinePath = path.join(job.dir, `quarantine-w${job.workerId}.ndjson`);
  let quarantineOut: WriteStream | undefined;
  let quarantined = 0;
  let derivedIds = 0;
  const digests: StageResult['digests'] = [];
  let pending = { bytes: 0, resources: 0, quarantined: 0 };
  let last = Date.now();
  const flushProgress = (force: boolean): void => {
    const now = Date.now();
    if (onProgress === undefined || (!force && now - last < 200)) return;
    last = now;
    onProgress(pending);
    pending = { bytes: 0, resources: 0, quarantined: 0 };
  };
  const quarantine = async (rec: QuarantinedRecord): Promise<void> => {
    if (quarantineOut === undefined) {
      quarantineOut = createWriteStream(quarantinePath);
      quarantineOut.on('error', () => undefined); // reported by the write below
    }
    await writeLine(quarantineOut, quarantineLine(rec));
    quarantined++;
    pending.quarantined++;
  };
  let count = 0;
  const tables = new TableStager(job.dir, job.workerId);
  for (const task of job.tasks) {
    let n = 0;
    // NDJSON records are numbered by line, so the parts of a file read by different
    // workers still follow the file's order.
    const byLine = task.file.format.startsWith('ndjson');
    const onBytes = (b: number): number => (pending.bytes += b);
    const reader = isConvertedFormat(task.file.format)
      ? readConvertedSource(task.file, { onBytes })
      : readSource(task.file, {
          onBytes,
          ...(task.range === undefined ? {} : { range: task.range }),
        });
    for await (const rec of reader) {
      if (rec.kind === 'quarantine') {
        await quarantine(rec);
        continue;
      }
      const badKey = rec.fields.find(([k]) => !isStorableElementName(k));
      if (badKey !== undefined) {
        await quarantine({
          kind: 'quarantine',
          code: QuarantineCode.BadElement,
          reason: `Element name ${JSON.stringify(badKey[0])} is empty, starts with @ or holds control characters; FHIR element names are letters and digits.`,
          source: rec.source,
          text: rec.fields
            .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
            .join(',')
            .slice(0, 4096),
        });
        continue;
      }
      if (rec.idDerived) derivedIds++;
      let w = writers.get(rec.resourceType);
      if (w === undefined) {
        w = new StagingWriter(job.dir, `${rec.resourceType}-w${job.workerId}`);
        writers.set(rec.resourceType, w);
      }
      const wait = w.add({
        resource: rec,
        load: job.loadId,
        seq: task.fileIndex * FILE_STRIDE + (byLine ? rec.source.line : n++),
      });
      if (wait !== undefined) await wait;
      pending.resources++;
      if ((++count & 1023) === 0) flushProgress(false);
    }
    const tableRows = isConvertedFormat(task.file.format) ? convertedTableRows(task.file) : null;
    if (tableRows !== null) for await (const row of tableRows) await tables.add(row);
    const digest = reader.digest();
    if (task.range === undefined)
      digests.push({
        fileIndex: task.fileIndex,
        path: task.file.path,
        sha256: digest.sha256,
        bytes: digest.bytes,
      });
  }
  const types: Record<string, StagedType> = {};
  for (const [type, w] of writers) {
    await w.close();
    types[type] = { files: [...w.files], columns: [...w.elementColumns], rows: w.rows };
  }
  if (quarantineOut !== undefined) {
    const out = quarantineOut;
    await new Promise<void>((res, rej) =>
      out.end((err?: Error | null) => (err ? rej(err) : res())),
    );
  }
  flushProgress(true);
  return {
    types,
    quarantined,
    quarantineFile: quarantined > 0 ? quarantinePath : null,
    derivedIds,
    digests,
    tables: await tables.close(),
  };
}

/** One line of a load's quarantine file (NDJSON). */
export function quarantineLine(rec: QuarantinedRecord): string {
  return JSON.stringify({
    file: rec.source.file,
    line: rec.source.line,
    ...(rec.source.entry === undefined ? {} : { entry: rec.source.entry }),
    code: rec.code,
    reason: rec.reason,
    text: rec.text,
  });
}

async function writeLine(out: WriteStream, line: string): Promise<void> {
  if (out.errored !== null) throw out.errored;
  if (!out.write(line + '\n')) await new Promise<void>((res) => out.once('drain', () => res()));
}

function taskBytes(t: StageTask): number {
  return t.range === undefined ? t.file.size : t.range.end - t.range.start;
}

/** Splits tasks over `workers` shares of about equal bytes (largest first). */
export function shareTasks(tasks: readonly StageTask[], workers: number): StageTask[][] {
  const shares: { bytes: number; tasks: StageTask[] }[] = Array.from({ length: workers }, () => ({
    bytes: 0,
    tasks: [],
  }));
  const order = [...tasks].sort((a, b) => taskBytes(b) - taskBytes(a));
  for (const t of order) {
    const s = shares.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    s.tasks.push(t);
    s.bytes += taskBytes(t);
  }
  return shares
    .map((s) =>
      s.tasks.sort(
        (a, b) => a.fileIndex - b.fileIndex || (a.range?.start ?? 0) - (b.range?.start ?? 0),
      ),
    )
    .filter((t) => t.length > 0);
}
