/**
 * What a sink needs from a resource, computed where the resource is made (in a generator
 * worker when generation runs in parallel): its NDJSON line, or its top-level elements as
 * JSON text (the split the lake stores) plus what the load keys on.
 */
import type { JsonResource } from './shared-resources.js';

/** A resource as its NDJSON line (without the newline). */
export interface PreparedLine {
  readonly kind: 'line';
  readonly resourceType: string;
  readonly line: string;
}

/** A resource split at its top level, as the NDJSON reader would have kept it. */
export interface PreparedSplit {
  readonly kind: 'split';
  readonly resourceType: string;
  readonly id: string;
  readonly versionId: string | null;
  /** meta.lastUpdated as epoch ms, read as the NDJSON reader reads an instant. */
  readonly lastUpdated: number | null;
  /** Element name, JSON text, name, text, ... in resource order (resourceType excluded). */
  readonly fields: readonly string[];
}

export type PreparedResource = PreparedLine | PreparedSplit;

/** Consecutive resources of one type as NDJSON text (each line ends with a newline). */
export interface PreparedBlock {
  readonly resourceType: string;
  readonly text: string;
  readonly count: number;
}
export type PrepareKind = PreparedResource['kind'];

export function prepareResource(r: JsonResource, kind: PrepareKind): PreparedResource {
  if (kind === 'line') return { kind, resourceType: r.resourceType, line: JSON.stringify(r) };
  const fields: string[] = [];
  for (const k in r) {
    if (k === 'resourceType') continue;
    const v = r[k];
    if (v === undefined) continue; // as JSON.stringify does
    fields.push(k, JSON.stringify(v));
  }
  const meta = r['meta'] as { versionId?: unknown; lastUpdated?: unknown } | undefined;
  // As the NDJSON reader reads an instant: a date-time without a zone is not one.
  const lus = typeof meta?.lastUpdated === 'string' ? meta.lastUpdated : '';
  const lu = lus.includes('T') && !/(?:Z|[+-]\d\d:\d\d)$/.test(lus) ? NaN : Date.parse(lus);
  return {
    kind,
    resourceType: r.resourceType,
    id: r.id,
    versionId: typeof meta?.versionId === 'string' ? meta.versionId : null,
    lastUpdated: Number.isNaN(lu) ? null : lu,
    fields,
  };
}

/** The NDJSON line (without newline) of a split resource: the same text JSON.stringify gives. */
export function lineOfSplit(p: PreparedSplit): string {
  let line = `{"resourceType":${JSON.stringify(p.resourceType)}`;
  for (let i = 0; i < p.fields.length; i += 2)
    line += `,${JSON.stringify(p.fields[i])}:${p.fields[i + 1] as string}`;
  return line + '}';
}
