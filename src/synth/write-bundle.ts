/**
 * `fhir-bundle`: one FHIR R4 transaction Bundle per patient, laid out as Synthea's FHIR
 * exporter writes them, so tools that load Synthea output (FHIR servers, our ingest) read it.
 *
 * - `hospitalInformation<t>.json` and `practitionerInformation<t>.json`: the shared
 *   resources (sites, parts' shared resources; Practitioner/PractitionerRole in the
 *   second), each entry `PUT Type/id`, so a server keeps their ids and the patients'
 *   `Type/id` references to them resolve. They are written first (load them first).
 *   `<t>` is the end of the window in epoch milliseconds (Synthea uses the export time;
 *   a fixed value keeps the output byte-identical).
 * - `<Given>_<Family>_<id>.json` per patient: entries `fullUrl: urn:uuid:<id>`,
 *   `request: POST <Type>`; every reference to a resource of the same bundle is rewritten
 *   to its `urn:uuid:` fullUrl, references to shared resources stay `Type/id`.
 */
import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { FormatWriter, FormatWriterFactory, PatientOutput, SynthRun } from './parts.js';
import type { JsonResource } from './shared-resources.js';

export const FHIR_BUNDLE_FORMAT = 'fhir-bundle';

/** Shared resource types that go to practitionerInformation; the rest to hospitalInformation. */
const PRACTITIONER_TYPES = new Set(['Practitioner', 'PractitionerRole']);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The `urn:uuid:` fullUrl of a resource: its id when that is a lowercase UUID, else a
 * name-based UUID (version 5 layout) from SHA-1 of `Type/id`, so the fullUrl stays valid.
 */
export function fullUrlOf(resourceType: string, id: string): string {
  if (UUID_RE.test(id)) return `urn:uuid:${id}`;
  const h = createHash('sha1').update(`${resourceType}/${id}`).digest('hex');
  const variant = ((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

/** A copy of `value` with every `reference` found in `local` replaced by its fullUrl. */
function rewrite(value: unknown, local: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewrite(v, local));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'reference' && typeof v === 'string' ? (local.get(v) ?? v) : rewrite(v, local);
  }
  return out;
}

/** Synthea-style file name part: ASCII letters, digits and '-' only (accents dropped). */
function sanitise(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9-]/g, '');
}

/** `<Given>_<Family>_<id>.json` from the Patient's official (else first) name. */
export function bundleFileName(patient: JsonResource): string {
  const names = Array.isArray(patient['name']) ? (patient['name'] as unknown[]) : [];
  const name = (names.find((n) => (n as { use?: unknown }).use === 'official') ?? names[0]) as
    { given?: unknown; family?: unknown } | undefined;
  const given = Array.isArray(name?.given) ? String(name.given[0] ?? '') : '';
  const family = typeof name?.family === 'string' ? name.family : '';
  const parts = [sanitise(given), sanitise(family), sanitise(patient.id)].filter((p) => p !== '');
  return `${parts.join('_')}.json`;
}

/** A transaction Bundle of the patient's resources (POST, urn:uuid references). */
export function patientBundle(resources: readonly JsonResource[]): Record<string, unknown> {
  const local = new Map<string, string>();
  for (const r of resources)
    local.set(`${r.resourceType}/${r.id}`, fullUrlOf(r.resourceType, r.id));
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({
      fullUrl: local.get(`${r.resourceType}/${r.id}`),
      resource: rewrite(r, local),
      request: { method: 'POST', url: r.resourceType },
    })),
  };
}

/** A transaction Bundle of shared resources (PUT Type/id, references kept as written). */
export function sharedBundle(resources: readonly JsonResource[]): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({
      fullUrl: fullUrlOf(r.resourceType, r.id),
      resource: r,
      request: { method: 'PUT', url: `${r.resourceType}/${r.id}` },
    })),
  };
}

class FhirBundleWriter implements FormatWriter {
  readonly format = FHIR_BUNDLE_FORMAT;
  private bytes = 0;
  private readonly stamp: number;

  constructor(
    private readonly dir: string,
    run: SynthRun,
  ) {
    this.stamp = Date.parse(`${run.args.end}T23:59:59Z`);
  }

  private async write(name: string, bundle: unknown): Promise<void> {
    const text = JSON.stringify(bundle);
    this.bytes += Buffer.byteLength(text);
    await writeFile(join(this.dir, name), text);
  }

  async shared(resources: readonly JsonResource[]): Promise<void> {
    const hospital = resources.filter((r) => !PRACTITIONER_TYPES.has(r.resourceType));
    const practitioners = resources.filter((r) => PRACTITIONER_TYPES.has(r.resourceType));
    if (hospital.length > 0)
      await this.write(`hospitalInformation${this.stamp}.json`, sharedBundle(hospital));
    if (practitioners.length > 0)
      await this.write(`practitionerInformation${this.stamp}.json`, sharedBundle(practitioners));
  }

  async patient(out: PatientOutput): Promise<void> {
    const patient = out.resources.find((r) => r.resourceType === 'Patient');
    if (patient === undefined) throw new Error('fhir-bundle: patient output without a Patient');
    await this.write(bundleFileName(patient), patientBundle(out.resources));
  }

  /** Lists the folder at the end, so no per-patient state is kept while writing. */
  async close(): Promise<{ files: string[]; bytes: number }> {
    const names = (await readdir(this.dir)).sort();
    const sub = basename(this.dir);
    return { files: names.map((n) => `${sub}/${n}`), bytes: this.bytes };
  }

  destroy(): void {
    // Every write is awaited before the next, so nothing is left open.
  }
}

export const fhirBundleWriter: FormatWriterFactory = (dir, run) => new FhirBundleWriter(dir, run);
