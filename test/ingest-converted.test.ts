/**
 * Non-FHIR sources through the whole load (discovery by sniffing, grouping, conversion,
 * provenance, quarantine, merge, source tables): the generator writes every format from
 * one known population, each format folder is loaded into its own lake, and the lake is
 * compared with the generator's FHIR. Per-format mapping details are tested in the
 * converters' own suites (ingest-hl7v2*, ingest-dicom*, ingest-sdtm*, ingest-synthea-csv*).
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IngestSourceError, Lake, loadIntoLake } from '../src/index.js';
import { SOURCE_FORMAT_SYSTEM } from '../src/ingest/convert.js';
import { synthesize } from '../src/synth/index.js';
import { FIXTURES_DIR, makeTempDir, queryLake, removeDir } from './helpers/lake-test-utils.js';

const FORMATS = ['hl7v2', 'dicom', 'sdtm', 'synthea-csv'] as const;
let tmp = '';
let out = '';
/** Resource type → ids in the generator's FHIR output. */
const truth = new Map<string, Set<string>>();

function countNdjson(dir: string): void {
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.ndjson')) continue;
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      const r = JSON.parse(line) as { resourceType: string; id: string };
      const s = truth.get(r.resourceType) ?? new Set<string>();
      s.add(r.id);
      truth.set(r.resourceType, s);
    }
  }
}

beforeAll(async () => {
  tmp = makeTempDir('medlake-converted-');
  out = path.join(tmp, 'synth');
  await synthesize({ patients: 60, seed: 11, outDir: out, formats: [...FORMATS] });
  countNdjson(out);
}, 120_000);
afterAll(() => removeDir(tmp));

async function rows(lake: string, sql: string): Promise<Record<string, unknown>[]> {
  return queryLake(lake, sql);
}

describe('generator output in every format, loaded by `medlake ingest`', () => {
  it.each(FORMATS)(
    '%s: loads, tags every resource with its provenance, reloads as unchanged',
    async (format) => {
      const lake = path.join(tmp, `lake-${format}`);
      const first = await loadIntoLake(lake, [path.join(out, format)]);
      expect(first.read).toBeGreaterThan(0);
      const info = Lake.open(lake).info();
      for (const type of Object.keys(info.resources)) {
        const tags = await rows(
          lake,
          `SELECT count(*) AS n, count(*) FILTER (WHERE json_extract_string(meta, '$.source') LIKE 'urn:medlake:${format}:%'
           AND json_contains(json_extract(meta, '$.tag'), '{"system":"${SOURCE_FORMAT_SYSTEM}","code":"${format}"}')) AS tagged
         FROM fhir."${type}"`,
        );
        expect(Number(tags[0]!['tagged']), `${type} provenance`).toBe(Number(tags[0]!['n']));
      }
      // Stable ids: the same files again change nothing.
      const again = await loadIntoLake(lake, [path.join(out, format)]);
      expect(again.added).toBe(0);
      expect(again.updated).toBe(0);
      expect(again.unchanged).toBe(first.added);
    },
    120_000,
  );

  it('dicom: one ImagingStudy per generated study, with its series and instances', async () => {
    const lake = path.join(tmp, 'lake-dicom');
    const r = await rows(
      lake,
      `SELECT count(*) AS studies, sum(json_array_length(series)) AS series FROM fhir."ImagingStudy"`,
    );
    expect(Number(r[0]!['studies'])).toBe(truth.get('ImagingStudy')?.size ?? 0);
    expect(Number(r[0]!['studies'])).toBeGreaterThan(0);
  });

  it('sdtm: one ResearchSubject per generated subject, and the datasets as queryable tables', async () => {
    const lake = path.join(tmp, 'lake-sdtm');
    const r = await rows(lake, `SELECT count(*) AS n FROM fhir."ResearchSubject"`);
    expect(Number(r[0]!['n'])).toBe(truth.get('ResearchSubject')?.size ?? 0);
    const info = Lake.open(lake).info();
    expect(info.tables['sdtm_dm']).toBe(truth.get('ResearchSubject')?.size);
    const ae = await rows(lake, `SELECT count(*) AS n FROM sdtm_ae`);
    expect(Number(ae[0]!['n'])).toBe(truth.get('AdverseEvent')?.size ?? 0);
    // Loading the study again replaces its partition instead of adding rows.
    await loadIntoLake(lake, [path.join(out, 'sdtm')]);
    expect(Lake.open(lake).info().tables['sdtm_dm']).toBe(truth.get('ResearchSubject')?.size);
  }, 60_000);

  it('synthea-csv: every generated patient and encounter, under the same ids', async () => {
    const lake = path.join(tmp, 'lake-synthea-csv');
    for (const type of ['Patient', 'Encounter']) {
      const ids = await rows(lake, `SELECT id FROM fhir."${type}"`);
      expect(new Set(ids.map((x) => String(x['id'])))).toEqual(truth.get(type));
    }
  });

  it('hl7v2: one Encounter per generated encounter', async () => {
    const lake = path.join(tmp, 'lake-hl7v2');
    const r = await rows(lake, `SELECT count(*) AS n FROM fhir."Encounter"`);
    expect(Number(r[0]!['n'])).toBe(truth.get('Encounter')?.size ?? 0);
  });
});

describe('discovery', () => {
  it('a folder mixing FHIR NDJSON, HL7 v2 and DICOM loads all of them in one load', async () => {
    const mixed = path.join(tmp, 'mixed');
    mkdirSync(path.join(mixed, 'img'), { recursive: true });
    cpSync(path.join(out, 'Patient.ndjson'), path.join(mixed, 'Patient.ndjson'));
    const hl7 = readdirSync(path.join(out, 'hl7v2'))[0]!;
    // No extension: recognised by its bytes.
    cpSync(path.join(out, 'hl7v2', hl7), path.join(mixed, 'feed'));
    cpSync(path.join(out, 'dicom'), path.join(mixed, 'img'), { recursive: true });
    writeFileSync(path.join(mixed, 'notes.txt'), 'not a source\n');
    const s = await loadIntoLake(path.join(tmp, 'lake-mixed'), [mixed]);
    expect(s.resources['Patient']?.read).toBeGreaterThan(0);
    expect(s.resources['Encounter']?.read).toBeGreaterThan(0);
    expect(s.resources['ImagingStudy']?.read).toBe(truth.get('ImagingStudy')?.size);
    expect(s.quarantined).toBe(0);
  }, 60_000);

  it('HL7 v2 and DICOM of the same population name the same patients', async () => {
    const lake = path.join(tmp, 'lake-hl7-dicom');
    await loadIntoLake(lake, [path.join(out, 'hl7v2'), path.join(out, 'dicom')]);
    const r = await rows(
      lake,
      `SELECT count(*) AS studies, count(p.id) AS linked, count(*) FILTER (WHERE p.meta IS NOT NULL
         AND json_extract_string(p.meta, '$.tag[0].code') = 'hl7v2') AS from_adt
       FROM fhir."ImagingStudy" s
       LEFT JOIN fhir."Patient" p ON p.id = split_part(json_extract_string(s.subject, '$.reference'), '/', 2)`,
    );
    expect(Number(r[0]!['studies'])).toBe(truth.get('ImagingStudy')?.size);
    expect(Number(r[0]!['linked'])).toBe(Number(r[0]!['studies']));
    // The Patient kept is the HL7 one (it has meta.lastUpdated; the DICOM one has none).
    expect(Number(r[0]!['from_adt'])).toBe(Number(r[0]!['studies']));
  }, 60_000);

  it('a named file no reader recognises is refused before anything is written', async () => {
    const f = path.join(tmp, 'random.bin');
    writeFileSync(f, Buffer.from([1, 2, 3, 4, 5]));
    const lake = path.join(tmp, 'lake-refused');
    await expect(loadIntoLake(lake, [f])).rejects.toThrow(IngestSourceError);
    expect(existsSync(path.join(lake, 'manifest.json'))).toBe(false);
  });
});

const DICOM_FIXTURES = path.join(FIXTURES_DIR, 'dicom-samples', 'pydicom');
describe.skipIf(!existsSync(DICOM_FIXTURES))('shared DICOM fixtures (../shared)', () => {
  it('loads the readable files and quarantines the truncated one with its reason', async () => {
    const lake = path.join(tmp, 'lake-dicom-fixtures');
    const s = await loadIntoLake(lake, [DICOM_FIXTURES]);
    expect(s.resources['ImagingStudy']?.read).toBeGreaterThan(0);
    expect(s.quarantineFile).not.toBeNull();
    const q = readFileSync(path.join(lake, s.quarantineFile!), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; reason: string });
    const truncated = q.find((x) => x.file.endsWith('MR_truncated.dcm'));
    expect(truncated?.reason).toMatch(/trunc|end/i);
  }, 60_000);

  it('a DICOMDIR named on the command line loads the tree it describes', async () => {
    const tree = path.join(DICOM_FIXTURES, 'dicomdirtests');
    const viaDir = await loadIntoLake(path.join(tmp, 'lake-dicomdir-a'), [tree]);
    const viaFile = await loadIntoLake(path.join(tmp, 'lake-dicomdir-b'), [
      path.join(tree, 'DICOMDIR'),
    ]);
    expect(viaDir.resources['ImagingStudy']?.read).toBeGreaterThan(0);
    expect(viaFile.resources).toEqual(viaDir.resources);
  }, 60_000);
});
