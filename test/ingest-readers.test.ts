import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DERIVED_ID_PREFIX,
  discoverSources,
  isFhirId,
  readSource,
} from '../src/ingest/fhir-json-reader.js';
import type { SourceReader } from '../src/ingest/fhir-json-reader.js';
import {
  JsonSyntaxError,
  RawNumber,
  parseLossless,
  splitTopLevel,
  stringifyLossless,
} from '../src/ingest/raw-json.js';
import { FHIR_R4_RESOURCE_TYPES } from '../src/ingest/resource-types.js';
import { IngestSourceError, QuarantineCode } from '../src/ingest/types.js';
import type {
  IngestRecord,
  ParsedResource,
  QuarantinedRecord,
  SourceFile,
} from '../src/ingest/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, '../../shared/fixtures');
const EXAMPLES = path.join(FIXTURES, 'fhir-r4-examples');
const BULK = path.join(FIXTURES, 'fhir-bulk-10-patients');
const haveExamples = fs.existsSync(EXAMPLES);
const haveBulk = fs.existsSync(BULK);

let tmp = '';
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'medlake-ingest-'));
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function tmpFile(name: string, content: string | Buffer): string {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  return p;
}

async function readAll(reader: SourceReader): Promise<IngestRecord[]> {
  const out: IngestRecord[] = [];
  for await (const r of reader) out.push(r);
  return out;
}

async function readPath(p: string): Promise<IngestRecord[]> {
  const out: IngestRecord[] = [];
  for (const f of await discoverSources([p])) out.push(...(await readAll(readSource(f))));
  return out;
}

function resources(records: IngestRecord[]): ParsedResource[] {
  return records.filter((r): r is ParsedResource => r.kind === 'resource');
}
function quarantined(records: IngestRecord[]): QuarantinedRecord[] {
  return records.filter((r): r is QuarantinedRecord => r.kind === 'quarantine');
}
function field(r: ParsedResource, key: string): string | undefined {
  return r.fields.find(([k]) => k === key)?.[1];
}
function sha256(p: string): string {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('FHIR_R4_RESOURCE_TYPES', () => {
  it('has the 146 concrete R4 resource types', () => {
    expect(FHIR_R4_RESOURCE_TYPES.size).toBe(146);
    for (const t of ['Bundle', 'Parameters', 'Binary', 'Patient', 'Observation']) {
      expect(FHIR_R4_RESOURCE_TYPES.has(t)).toBe(true);
    }
    for (const t of ['Resource', 'DomainResource', 'patient', 'MetadataResource']) {
      expect(FHIR_R4_RESOURCE_TYPES.has(t)).toBe(false);
    }
  });

  it.skipIf(!haveExamples)('contains every resourceType of the official examples', () => {
    for (const f of fs.readdirSync(EXAMPLES)) {
      const doc = JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8')) as {
        resourceType: string;
      };
      expect(FHIR_R4_RESOURCE_TYPES.has(doc.resourceType), f).toBe(true);
    }
  });
});

describe('raw-json', () => {
  it('splits a top-level object into exact source substrings', () => {
    const text = '{ "resourceType" : "Observation", "valueQuantity": {"value": 1.00 },\n "n":1e2 }';
    expect(splitTopLevel(text)).toEqual([
      ['resourceType', '"Observation"'],
      ['valueQuantity', '{"value": 1.00 }'],
      ['n', '1e2'],
    ]);
    expect(splitTopLevel('{"a\\u0062":"x\\"}","c":[1,{"d":"]"}]}')).toEqual([
      ['ab', '"x\\"}"'],
      ['c', '[1,{"d":"]"}]'],
    ]);
  });

  it('keeps numbers, key order and unicode through parse/stringify', () => {
    const text = '{"z":1.00,"1":-0.0e+5,"a":["\\u00e9\\ud83d\\ude00\\n",true,null,{}],"b":[]}';
    const tree = parseLossless(text);
    expect(tree).toBeInstanceOf(Map);
    const z = (tree as Map<string, unknown>).get('z');
    expect(z).toBeInstanceOf(RawNumber);
    expect((z as RawNumber).text).toBe('1.00');
    expect(stringifyLossless(tree)).toBe(
      '{"z":1.00,"1":-0.0e+5,"a":["é😀\\n",true,null,{}],"b":[]}',
    );
    expect(stringifyLossless(parseLossless(' [ 1 , 2.50 ] '))).toBe('[1,2.50]');
  });

  it('handles deep nesting without recursion', () => {
    const depth = 100_000;
    const text = '['.repeat(depth) + '1.0' + ']'.repeat(depth);
    expect(stringifyLossless(parseLossless(text))).toBe(text);
  });

  it('throws JsonSyntaxError with line and column', () => {
    const bad = '{\n  "a": 1,\n  "b": tru\n}';
    let err: unknown;
    try {
      parseLossless(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonSyntaxError);
    const e = err as JsonSyntaxError;
    expect([e.line, e.column, e.position]).toEqual([3, 8, 19]);
    for (const t of ['', '{', '[1,]', '{"a":1,}', '01', '"\u0001"', '"\\x"', '1 2', '-', '1.']) {
      expect(() => parseLossless(t), t).toThrow(JsonSyntaxError);
    }
  });

  it('agrees with JSON.stringify on random JSON values, and with JSON.parse on validity', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        expect(stringifyLossless(parseLossless(text))).toBe(text);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        let native = true;
        try {
          JSON.parse(s);
        } catch {
          native = false;
        }
        let ours = true;
        try {
          parseLossless(s);
        } catch (e) {
          expect(e).toBeInstanceOf(JsonSyntaxError);
          ours = false;
        }
        expect(ours).toBe(native);
      }),
    );
  });
});

describe.skipIf(!haveExamples)('official FHIR R4 examples (fixtures/fhir-r4-examples)', () => {
  it('reads all 707 files with nothing quarantined', async () => {
    const files = await discoverSources([EXAMPLES]);
    expect(files).toHaveLength(707);
    expect(files.every((f) => f.format === 'json')).toBe(true);
    const counts = new Map<string, number>();
    const bad: QuarantinedRecord[] = [];
    for (const f of files) {
      const reader = readSource(f);
      for (const r of await readAll(reader)) {
        if (r.kind === 'quarantine') bad.push(r);
        else counts.set(r.resourceType, (counts.get(r.resourceType) ?? 0) + 1);
      }
      expect(reader.digest()).toEqual({ sha256: sha256(f.path), bytes: f.size });
    }
    console.log(
      'fhir-r4-examples records per type:',
      Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1))),
    );
    expect(bad).toEqual([]);
    expect(counts.get('Patient')).toBeGreaterThanOrEqual(22);
  });

  it('resolves urn:uuid references and ids in a transaction Bundle', async () => {
    const recs = resources(await readPath(path.join(EXAMPLES, 'Bundle-bundle-transaction.json')));
    // Transaction: entries only, DELETE/GET entries (no resource) yield nothing.
    expect(recs.map((r) => `${r.resourceType}/${r.id}`)).toEqual([
      'Patient/61ebe359-bfdc-4613-8bf2-c5e300945f0a',
      'Patient/88f151c0-a954-468a-88bd-5ae15c08e059',
      'Patient/123',
      'Patient/74891afc-ed52-42a2-bcd7-f13d9b60f096',
      'Patient/123a',
      'Parameters/79378cb8-8f58-48e8-a5e8-60ac2755b674',
    ]);
    expect(recs[0]!.idDerived).toBe(true);
    expect(recs[2]!.idDerived).toBe(false);
    expect(recs.map((r) => r.source.entry)).toEqual([0, 1, 2, 3, 4, 7]);
    expect(field(recs[0]!, 'id')).toBe('"61ebe359-bfdc-4613-8bf2-c5e300945f0a"');
  });

  it('stores a document Bundle itself and its entries, references rewritten', async () => {
    const recs = resources(await readPath(path.join(EXAMPLES, 'Bundle-father.json')));
    expect(recs.map((r) => r.resourceType)).toEqual([
      'Bundle',
      'Composition',
      'Practitioner',
      'Patient',
      'Encounter',
      'Observation',
      'MedicationRequest',
      'MedicationStatement',
      'AllergyIntolerance',
    ]);
    const composition = recs[1]!;
    expect(field(composition, 'section')).toContain(
      '"reference":"Observation/541a72a8-df75-4484-ac89-ac4923f03b81"',
    );
    expect(field(composition, 'section')).not.toContain('urn:uuid:');
    // The Bundle itself is kept verbatim, as the attested document.
    expect(field(recs[0]!, 'entry')).toContain('urn:uuid:541a72a8');
    expect(recs[5]!.id).toBe('541a72a8-df75-4484-ac89-ac4923f03b81');
  });
});

describe.skipIf(!haveBulk)('Bulk Data export (fixtures/fhir-bulk-10-patients)', () => {
  it('yields one resource per line, of the type the file is named after', async () => {
    // A folder skips the export's log.ndjson; named explicitly, it is read (and quarantined).
    const folder = await discoverSources([BULK]);
    expect(folder.map((f) => path.basename(f.path))).toEqual(
      fs
        .readdirSync(BULK)
        .filter((f) => f.endsWith('.ndjson') && f !== 'log.ndjson')
        .sort(),
    );
    const files = await discoverSources([BULK, path.join(BULK, 'log.ndjson')]);
    expect(files.map((f) => path.basename(f.path))).toContain('log.ndjson');
    for (const f of files) {
      const name = path.basename(f.path);
      const lines = fs
        .readFileSync(f.path, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '');
      let bytes = 0;
      const reader = readSource(f, { onBytes: (n) => (bytes += n) });
      const recs = await readAll(reader);
      expect(reader.digest()).toEqual({ sha256: sha256(f.path), bytes: f.size });
      expect(bytes).toBe(f.size);
      if (name === 'log.ndjson') {
        // The export log is not FHIR: every line is quarantined, nothing is lost silently.
        expect(recs.map((r) => r.kind === 'quarantine' && r.code)).toEqual(
          lines.map(() => QuarantineCode.NoResourceType),
        );
        continue;
      }
      const type = name.split('.')[0]!;
      expect(recs).toHaveLength(lines.length);
      expect(resources(recs)).toHaveLength(lines.length);
      expect(new Set(recs.map((r) => r.kind === 'resource' && r.resourceType))).toEqual(
        new Set([type]),
      );
      expect(recs.map((r) => r.source.line)).toEqual(lines.map((_, i) => i + 1));
      const firstId = (JSON.parse(lines[0]!) as { id: string }).id;
      expect((recs[0] as ParsedResource).id).toBe(firstId);
    }
  });

  it('reads gzip input to the same records, digesting the compressed bytes', async () => {
    const plain = path.join(BULK, 'Condition.000.ndjson');
    const gz = tmpFile('gz/Condition.000.ndjson.gz', gzipSync(fs.readFileSync(plain)));
    const [file] = await discoverSources([gz]);
    expect(file!.format).toBe('ndjson.gz');
    const reader = readSource(file!);
    const fromGz = await readAll(reader);
    const fromPlain = await readPath(plain);
    expect(fromGz.map((r) => (r.kind === 'resource' ? [r.id, r.fields] : r.code))).toEqual(
      fromPlain.map((r) => (r.kind === 'resource' ? [r.id, r.fields] : r.code)),
    );
    expect(reader.digest()).toEqual({ sha256: sha256(gz), bytes: fs.statSync(gz).size });

    const truncated = tmpFile('gz/truncated.ndjson.gz', fs.readFileSync(gz).subarray(0, 4000));
    const [tf] = await discoverSources([truncated]);
    const err = await rejection(readAll(readSource(tf!)));
    expect(err).toBeInstanceOf(IngestSourceError);
    expect((err as IngestSourceError).code).toBe('SOURCE_CORRUPT');
  });

  it('expands a Bulk Data manifest and does not read its files twice', async () => {
    const dir = path.join(tmp, 'export');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['Patient.000.ndjson', 'Device.000.ndjson', 'Location.000.ndjson']) {
      fs.copyFileSync(path.join(BULK, f), path.join(dir, f));
    }
    fs.writeFileSync(
      path.join(dir, 'downloaded-blob'),
      fs.readFileSync(path.join(BULK, 'Organization.000.ndjson')),
    );
    fs.writeFileSync(
      path.join(dir, 'errors.ndjson'),
      '{"resourceType":"OperationOutcome","id":"e1","issue":[]}\n',
    );
    const manifest = {
      transactionTime: '2024-08-06T18:12:57Z',
      request: 'https://example.com/fhir/Group/sample-10/$export',
      requiresAccessToken: true,
      output: [
        { type: 'Patient', url: 'https://example.com/files/Patient.000.ndjson' },
        { type: 'Device', url: 'Device.000.ndjson' },
        { type: 'Organization', url: 'https://example.com/files/downloaded-blob' },
      ],
      error: [{ type: 'OperationOutcome', url: 'https://example.com/files/errors.ndjson' }],
    };
    const manifestPath = path.join(dir, 'manifest.json');
    fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));

    const fromFolder = await discoverSources([dir]);
    // Listed files once each, the unlisted Location file too; not the manifest, not errors.
    expect(fromFolder.map((f) => [path.basename(f.path), f.format])).toEqual([
      ['Device.000.ndjson', 'ndjson'],
      ['Location.000.ndjson', 'ndjson'],
      ['Patient.000.ndjson', 'ndjson'],
      ['downloaded-blob', 'ndjson'],
    ]);
    const fromManifest = await discoverSources([manifestPath, path.join(dir, 'Device.000.ndjson')]);
    expect(fromManifest.map((f) => path.basename(f.path))).toEqual([
      'Patient.000.ndjson',
      'Device.000.ndjson',
      'downloaded-blob',
    ]);
    const recs = [];
    for (const f of fromManifest) recs.push(...(await readAll(readSource(f))));
    expect(quarantined(recs)).toEqual([]);
    expect(new Set(resources(recs).map((r) => r.resourceType))).toEqual(
      new Set(['Patient', 'Device', 'Organization']),
    );

    const missing = tmpFile(
      'export2/manifest.json',
      JSON.stringify({ ...manifest, output: [{ type: 'Patient', url: 'nope.ndjson' }] }),
    );
    const err = await rejection(discoverSources([missing]));
    expect(err).toBeInstanceOf(IngestSourceError);
    expect((err as IngestSourceError).code).toBe('SOURCE_UNREADABLE');
    expect((err as IngestSourceError).path).toBe(path.join(path.dirname(missing), 'nope.ndjson'));
  });
});

describe('FHIR JSON reader', () => {
  it('keeps decimals as written and reads meta', async () => {
    const line =
      '{"resourceType":"Observation","id":"o1","meta":{"versionId":"3","lastUpdated":"2024-01-02T03:04:05.000+01:00"},' +
      '"status":"final","code":{"text":"x"},"valueQuantity":{"value":1.00,"unit":"mg"},"extension":[{"url":"u","valueDecimal":12.50}]}';
    const [r] = resources(await readPath(tmpFile('decimals.ndjson', line + '\n')));
    expect(field(r!, 'valueQuantity')).toBe('{"value":1.00,"unit":"mg"}');
    expect(field(r!, 'extension')).toBe('[{"url":"u","valueDecimal":12.50}]');
    expect(r!.fields.map(([k]) => k)).toEqual([
      'id',
      'meta',
      'status',
      'code',
      'valueQuantity',
      'extension',
    ]);
    expect(r!.versionId).toBe('3');
    expect(r!.lastUpdated).toBe(Date.UTC(2024, 0, 2, 2, 4, 5));

    // A date-time without a zone is not an instant: null, not a machine-dependent value.
    const zoneless = line.replace('.000+01:00', '').replace('"o1"', '"o2"');
    const [z] = resources(await readPath(tmpFile('zoneless.ndjson', zoneless)));
    expect(z!.lastUpdated).toBeNull();

    // Decimals also survive the Bundle path, where references are rewritten.
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:1f5e4c3a-5b77-4d0e-9d43-4c6a3c6f1e01',
          resource: { resourceType: 'Patient', name: [{ family: 'Doe' }] },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          fullUrl: 'urn:uuid:7d5e4c3a-5b77-4d0e-9d43-4c6a3c6f1e02',
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { text: 'weight' },
            subject: { reference: 'urn:uuid:1f5e4c3a-5b77-4d0e-9d43-4c6a3c6f1e01' },
            valueQuantity: { value: 'DECIMAL', unit: 'kg' },
          },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    const text = JSON.stringify(bundle, null, 2).replace('"DECIMAL"', '70.10');
    const recs = resources(await readPath(tmpFile('tx.json', text)));
    expect(recs.map((x) => `${x.resourceType}/${x.id}`)).toEqual([
      'Patient/1f5e4c3a-5b77-4d0e-9d43-4c6a3c6f1e01',
      'Observation/7d5e4c3a-5b77-4d0e-9d43-4c6a3c6f1e02',
    ]);
    expect(field(recs[1]!, 'subject')).toBe(
      '{"reference":"Patient/1f5e4c3a-5b77-4d0e-9d43-4c6a3c6f1e01"}',
    );
    expect(field(recs[1]!, 'valueQuantity')).toBe('{"value":70.10,"unit":"kg"}');
    expect(recs.map((x) => x.source.line)).toEqual([7, 22]); // the lines where each resource starts
  });

  it('derives the same id for the same content, whatever the whitespace', async () => {
    const compact = '{"resourceType":"Patient","name":[{"family":"Doe"}],"x":1.50}';
    const spaced = '{ "resourceType": "Patient",\t"name": [ { "family": "Doe" } ], "x": 1.50 }';
    const a = resources(await readPath(tmpFile('noid-a.ndjson', `${compact}\n${spaced}\n`)));
    const b = resources(await readPath(tmpFile('noid-b.json', spaced)));
    expect(a).toHaveLength(2);
    expect(new Set([a[0]!.id, a[1]!.id, b[0]!.id]).size).toBe(1);
    expect(a[0]!.id.startsWith(DERIVED_ID_PREFIX)).toBe(true);
    expect(isFhirId(a[0]!.id)).toBe(true);
    expect(a[0]!.idDerived).toBe(true);
    expect(a[0]!.fields[0]).toEqual(['id', JSON.stringify(a[0]!.id)]);
    const other = resources(
      await readPath(tmpFile('noid-c.ndjson', compact.replace('1.50', '1.5'))),
    );
    expect(other[0]!.id).not.toBe(a[0]!.id);
  });

  it('quarantines each bad line with its reason and line number, keeping good lines', async () => {
    const lines: Array<string | Buffer> = [
      '\uFEFF{"resourceType":"Patient","id":"p1"}', // 1, BOM skipped
      'not json at all', // 2
      '', // 3 blank
      '[{"resourceType":"Patient","id":"p2"}]', // 4
      '42', // 5
      '{"id":"x"}', // 6
      '{"resourceType":7,"id":"x"}', // 7
      '{"resourceType":"patient","id":"x"}', // 8
      '{"resourceType":"Patient","id":"p3"}\r', // 9, CRLF
      '{"resourceType":"Patient","id":12}', // 10
      '{"resourceType":"Patient","id":"has space"}', // 11
      '   \t', // 12 blank
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), // 13, invalid UTF-8
      '{"resourceType":"Patient","id":"p4"', // 14, truncated
      '{"resourceType":"Patient","id":"p5"}', // 15, no final newline
    ];
    const buf = Buffer.concat(
      lines.map((l, i) =>
        Buffer.concat([Buffer.from(l), Buffer.from(i < lines.length - 1 ? '\n' : '')]),
      ),
    );
    const recs = await readPath(tmpFile('mixed.ndjson', buf));
    expect(recs.map((r) => [r.source.line, r.kind === 'resource' ? r.id : r.code])).toEqual([
      [1, 'p1'],
      [2, QuarantineCode.NotJson],
      [4, QuarantineCode.NotObject],
      [5, QuarantineCode.NotObject],
      [6, QuarantineCode.NoResourceType],
      [7, QuarantineCode.NoResourceType],
      [8, QuarantineCode.UnknownResourceType],
      [9, 'p3'],
      [10, QuarantineCode.BadId],
      [11, QuarantineCode.BadId],
      [13, QuarantineCode.NotJson],
      [14, QuarantineCode.NotJson],
      [15, 'p5'],
    ]);
    const unknown = quarantined(recs).find((r) => r.code === QuarantineCode.UnknownResourceType);
    expect(unknown!.reason).toContain('Did you mean "Patient"');
    expect(unknown!.text).toBe('{"resourceType":"patient","id":"x"}');
    expect(recs.every((r) => r.source.file === path.join(tmp, 'mixed.ndjson'))).toBe(true);
  });

  it('quarantines malformed .json files and bad Bundles, and reads arrays', async () => {
    const broken = await readPath(
      tmpFile('broken.json', '{\n  "resourceType": "Patient",\n  "id": }'),
    );
    expect(broken).toHaveLength(1);
    expect(broken[0]!.kind === 'quarantine' && broken[0]!.code).toBe(QuarantineCode.NotJson);
    expect(broken[0]!.source.line).toBe(3);

    const badBundle = await readPath(
      tmpFile(
        'bad-bundle.json',
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'collection',
          entry: [
            7,
            { resource: { resourceType: 'Nope' } },
            { resource: { resourceType: 'Basic', id: 'b' } },
          ],
        }),
      ),
    );
    expect(badBundle.map((r) => [r.source.entry, r.kind === 'resource' ? r.id : r.code])).toEqual([
      [0, QuarantineCode.BadBundle],
      [1, QuarantineCode.UnknownResourceType],
      [2, 'b'],
    ]);

    const array = await readPath(
      tmpFile(
        'array.json',
        '[\n{"resourceType":"Basic","id":"a"},\n{"resourceType":"Basic","id":"b","n":2.0}\n]',
      ),
    );
    expect(
      array.map((r) => [r.source.line, r.source.entry, r.kind === 'resource' && r.id]),
    ).toEqual([
      [2, 0, 'a'],
      [3, 1, 'b'],
    ]);
    expect(field(array[1] as ParsedResource, 'n')).toBe('2.0');
  });

  it('throws SOURCE_UNREADABLE before reading anything when a path is missing', async () => {
    const good = tmpFile('ok.ndjson', '{"resourceType":"Basic","id":"a"}\n');
    const missing = path.join(tmp, 'does-not-exist.ndjson');
    const err = await rejection(discoverSources([good, missing]));
    expect(err).toBeInstanceOf(IngestSourceError);
    const e = err as IngestSourceError;
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.path).toBe(missing);
    expect(e.message).toContain('does not exist');

    const txt = tmpFile('notes.txt', 'hello');
    const unsupported = await rejection(discoverSources([txt]));
    expect((unsupported as IngestSourceError).code).toBe('SOURCE_UNSUPPORTED');

    // Files deleted after discovery fail the same way when read.
    const gone: SourceFile = { path: missing, size: 0, format: 'ndjson' };
    const readErr = await rejection(readAll(readSource(gone)));
    expect((readErr as IngestSourceError).code).toBe('SOURCE_UNREADABLE');
  });

  it('offers the digest only after a complete read, and reads once', async () => {
    const [f] = await discoverSources([
      tmpFile('once.ndjson', '{"resourceType":"Basic","id":"a"}'),
    ]);
    const reader = readSource(f!);
    expect(() => reader.digest()).toThrow(/fully read/);
    await readAll(reader);
    expect(reader.digest().bytes).toBe(f!.size);
    expect(() => reader[Symbol.asyncIterator]()).toThrow(/read it once/);
  });

  it('streams lines that span read chunks, and quarantines runaway lines', async () => {
    const big = `{"resourceType":"Binary","id":"big","contentType":"text/plain","data":"${'QUJD'.repeat(800_000)}"}`;
    const text = [
      '{"resourceType":"Basic","id":"a"}',
      big,
      '{"resourceType":"Basic","id":"b"}',
      '',
    ];
    const [f] = await discoverSources([tmpFile('big-lines.ndjson', text.join('\r\n'))]);
    const recs = await readAll(readSource(f!));
    expect(recs.map((r) => r.kind === 'resource' && r.id)).toEqual(['a', 'big', 'b']);
    expect(field(recs[1] as ParsedResource, 'data')).toHaveLength(3_200_002);

    const capped = await readAll(readSource(f!, { maxLineBytes: 1 << 20 }));
    expect(capped.map((r) => [r.source.line, r.kind === 'resource' ? r.id : r.code])).toEqual([
      [1, 'a'],
      [2, QuarantineCode.NotJson],
      [3, 'b'],
    ]);
    expect((capped[1] as QuarantinedRecord).text.startsWith('{"resourceType":"Binary"')).toBe(true);
  });

  it('stops reading when the consumer stops', async () => {
    const line = '{"resourceType":"Basic","id":"a","text":"' + 'x'.repeat(1000) + '"}\n';
    const [f] = await discoverSources([tmpFile('long.ndjson', line.repeat(5000))]);
    const reader = readSource(f!);
    let n = 0;
    for await (const r of reader) {
      expect(r.kind).toBe('resource');
      if (++n === 3) break;
    }
    expect(n).toBe(3);
    expect(() => reader.digest()).toThrow();
  });

  it('turns any .json file content into records without throwing', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
          fc
            .array(fc.oneof(fc.jsonValue(), fc.constant({ resourceType: 'Basic', id: 'a' })))
            .map((entry) =>
              Buffer.from(JSON.stringify({ resourceType: 'Bundle', type: 'batch', entry })),
            ),
        ),
        async (bytes) => {
          const recs = await readPath(tmpFile(`propjson/${run++}.json`, bytes));
          for (const r of recs) expect(['resource', 'quarantine']).toContain(r.kind);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('never throws on random lines and never loses a good line among them', async () => {
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a.filter((b) => b !== 0x0a))),
      fc.string({ unit: 'binary', maxLength: 60 }).map((s) => Buffer.from(s.replace(/\n/g, ''))),
      fc
        .constantFrom('{', '{}', '[]', 'null', '{"resourceType":"Patient","id":""}', ' \r')
        .map(Buffer.from),
    );
    const line = fc.oneof(
      fc.record({ good: fc.constant(true as const), body: fc.constant(Buffer.alloc(0)) }),
      fc.record({ good: fc.constant(false as const), body: junk }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 30 }), fc.boolean(), async (spec, crlf) => {
        const bodies = spec.map((l, i) =>
          l.good ? Buffer.from(`{"resourceType":"Basic","id":"good-${i}","n":1.10}`) : l.body,
        );
        const eol = Buffer.from(crlf ? '\r\n' : '\n');
        const file = tmpFile(
          `prop/${run++}.ndjson`,
          Buffer.concat(bodies.flatMap((b) => [b, eol])),
        );
        const recs = await readPath(file);
        const byLine = new Map(recs.map((r) => [r.source.line, r]));
        expect(byLine.size).toBe(recs.length); // at most one record per line
        spec.forEach((l, i) => {
          const r = byLine.get(i + 1);
          if (l.good) {
            expect(r?.kind === 'resource' && r.id).toBe(`good-${i}`);
            expect(field(r as ParsedResource, 'n')).toBe('1.10');
            return;
          }
          // A junk line yields exactly one record unless it is blank.
          let text = l.body.toString('utf8');
          if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
          const blank = /^[ \t\r]*$/.test(text);
          expect(r === undefined, JSON.stringify(text)).toBe(blank);
        });
      }),
      { numRuns: 150 },
    );
  });
});
