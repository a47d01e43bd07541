/**
 * The `fhir-bundle` and `synthea-csv` output formats of `medlake synth`.
 *
 * A test-only part adds hand-made resources in FHIR R4 / Synthea shapes (Procedure with a
 * Device, Immunization, ImagingStudy, CarePlan, SupplyDelivery, Coverage, Claim and
 * ExplanationOfBenefit for an encounter and for a prescription, a payer Organization), so
 * the CSV mapping of types the core does not generate yet is exercised too.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIntoLake } from '../src/lake/load.js';
import { synthesize } from '../src/synth/index.js';
import type { PatientOutput, SynthPart, SynthRun } from '../src/synth/parts.js';
import type { JsonResource } from '../src/synth/shared-resources.js';
import { fhirBundleWriter, fullUrlOf } from '../src/synth/write-bundle.js';
import { SYNTHEA_CSV_FILES, csvField, syntheaCsvWriter } from '../src/synth/write-synthea-csv.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { FIXTURES_DIR, makeTempDir, queryLake, removeDir } from './helpers/lake-test-utils.js';

const PATIENTS = 40;
const SEED = 11;
const SNOMED = 'http://snomed.info/sct';
const PAYER_ID = '0e5c1a4e-7d3b-4c61-9a0e-2b9f4f0d5a11';
const FIXTURE_CSV = path.join(FIXTURES_DIR, 'synthea-csv-27');

type Json = Record<string, unknown>;

const ref = (type: string, id: string): { reference: string } => ({
  reference: `${type}/${id}`,
});
const claimType = (code: string): Json => ({
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/claim-type', code }],
});
const usd = (value: number): Json => ({ value, currency: 'USD' });

/** Hand-made resources for every patient with an encounter (test stream, not a real part). */
const handMade = (): SynthPart => ({
  name: 'handMade',
  stream: 0x7465_7374,
  resourceTypes: [
    'Procedure',
    'Device',
    'Immunization',
    'ImagingStudy',
    'CarePlan',
    'SupplyDelivery',
    'Coverage',
    'Claim',
    'ExplanationOfBenefit',
  ],
  shared: () => [
    {
      resourceType: 'Organization',
      id: PAYER_ID,
      active: true,
      type: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/organization-type',
              code: 'pay',
              display: 'Payer',
            },
          ],
        },
      ],
      name: 'Medicare',
      telecom: [{ system: 'phone', value: '1-800-633-4227' }],
      address: [
        { line: ['7500 Security Blvd'], city: 'Baltimore', state: 'MD', postalCode: '21244' },
      ],
    },
  ],
  patient(out, rng) {
    const res = out.resources;
    const patient = res[0] as JsonResource;
    const enc = res.find((r) => r.resourceType === 'Encounter');
    if (enc === undefined) return;
    const period = enc['period'] as { start: string; end?: string };
    const start = period.start;
    const end = period.end ?? start;
    const subject = ref('Patient', patient.id);
    const encRef = ref('Encounter', enc.id);
    const org = (enc['serviceProvider'] as { reference: string }).reference;
    const cond = res.find((r) => r.resourceType === 'Condition');
    const rx = res.find((r) => r.resourceType === 'MedicationRequest');
    const id = (): string => rng.uuid();
    const [procId, devId, covId, claimId] = [id(), id(), id(), id()];
    const encType = (enc['type'] as { coding: Json[] }[])[0]?.coding[0] as Json;
    const add: Json[] = [
      {
        resourceType: 'Device',
        id: devId,
        udiCarrier: [
          { deviceIdentifier: '13465995954590', carrierHRF: '(01)13465995954590(11)760704' },
        ],
        status: 'active',
        type: {
          coding: [
            {
              system: SNOMED,
              code: '705643001',
              display: 'Coronary artery stent (physical object)',
            },
          ],
        },
        patient: subject,
      },
      {
        resourceType: 'Procedure',
        id: procId,
        status: 'completed',
        code: {
          coding: [
            { system: SNOMED, code: '415070008', display: 'Percutaneous coronary intervention' },
          ],
        },
        subject,
        encounter: encRef,
        performedPeriod: { start, end },
        ...(cond === undefined ? {} : { reasonReference: [ref('Condition', cond.id)] }),
        focalDevice: [{ manipulated: ref('Device', devId) }],
      },
      {
        resourceType: 'Immunization',
        id: id(),
        status: 'completed',
        vaccineCode: {
          coding: [
            {
              system: 'http://hl7.org/fhir/sid/cvx',
              code: '140',
              display: 'Influenza, seasonal, injectable, preservative free',
            },
          ],
        },
        patient: subject,
        encounter: encRef,
        occurrenceDateTime: start,
        primarySource: true,
      },
      {
        resourceType: 'ImagingStudy',
        id: id(),
        status: 'available',
        subject,
        encounter: encRef,
        started: start,
        procedureCode: [
          { coding: [{ system: SNOMED, code: '399208008', display: 'Plain chest X-ray' }] },
        ],
        numberOfSeries: 1,
        numberOfInstances: 2,
        series: [
          {
            uid: '1.2.840.99999999.1.1',
            number: 1,
            modality: {
              system: 'http://dicom.nema.org/resources/ontology/DCM',
              code: 'DX',
              display: 'Digital Radiography',
            },
            numberOfInstances: 2,
            bodySite: { system: SNOMED, code: '51185008', display: 'Chest' },
            instance: [1, 2].map((n) => ({
              uid: `1.2.840.99999999.1.1.${n}`,
              sopClass: {
                system: 'urn:ietf:rfc:3986',
                code: 'urn:oid:1.2.840.10008.5.1.4.1.1.1.1',
                display: 'Digital X-Ray Image Storage',
              },
              number: n,
            })),
          },
        ],
      },
      {
        resourceType: 'CarePlan',
        id: id(),
        status: 'active',
        intent: 'order',
        category: [
          {
            coding: [
              {
                system: 'http://hl7.org/fhir/us/core/CodeSystem/careplan-category',
                code: 'assess-plan',
              },
            ],
          },
          { coding: [{ system: SNOMED, code: '53950000', display: 'Respiratory therapy' }] },
        ],
        subject,
        encounter: encRef,
        period: { start },
        ...(cond === undefined ? {} : { addresses: [ref('Condition', cond.id)] }),
      },
      {
        resourceType: 'SupplyDelivery',
        id: id(),
        status: 'completed',
        patient: subject,
        suppliedItem: {
          quantity: { value: 24 },
          itemCodeableConcept: {
            coding: [
              {
                system: SNOMED,
                code: '713779008',
                display: 'Nitrile examination/treatment glove, non-powdered, sterile',
              },
            ],
          },
        },
        occurrenceDateTime: start,
      },
      {
        resourceType: 'Coverage',
        id: covId,
        status: 'active',
        subscriberId: `M${rng.int(100000, 999999)}`,
        beneficiary: subject,
        relationship: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship',
              code: 'self',
            },
          ],
        },
        period: { start: '2015-01-01', end: '2016-01-01' },
        payor: [ref('Organization', PAYER_ID)],
      },
    ];
    const bill = (
      cid: string,
      type: string,
      items: Json[],
      paid: number,
      extra: Json = {},
    ): void => {
      const total = items.reduce((s, i) => s + ((i['net'] as { value: number }).value ?? 0), 0);
      const common = {
        status: 'active',
        type: claimType(type),
        use: 'claim',
        patient: subject,
        billablePeriod: { start, end },
        created: end,
      };
      add.push(
        {
          resourceType: 'Claim',
          id: cid,
          ...common,
          provider: { reference: org },
          priority: {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: 'normal' },
            ],
          },
          ...extra,
          insurance: [{ sequence: 1, focal: true, coverage: ref('Coverage', covId) }],
          item: items,
          total: usd(total),
        },
        {
          resourceType: 'ExplanationOfBenefit',
          id: id(),
          ...common,
          insurer: ref('Organization', PAYER_ID),
          provider: { reference: org },
          claim: ref('Claim', cid),
          outcome: 'complete',
          insurance: [{ focal: true, coverage: ref('Coverage', covId) }],
          payment: { amount: usd(paid) },
        },
      );
    };
    bill(
      claimId,
      'professional',
      [
        {
          sequence: 1,
          productOrService: { coding: [encType] },
          encounter: [encRef],
          net: usd(100),
        },
        {
          sequence: 2,
          productOrService: { coding: [{ system: SNOMED, code: '415070008' }] },
          encounter: [encRef],
          net: usd(50.25),
        },
        {
          sequence: 3,
          productOrService: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
          encounter: [encRef],
          net: usd(140.52),
        },
      ],
      200,
      cond === undefined
        ? {}
        : { diagnosis: [{ sequence: 1, diagnosisReference: ref('Condition', cond.id) }] },
    );
    if (rx !== undefined) {
      const rxCode = (rx['medicationCodeableConcept'] as { coding: Json[] }).coding[0] as Json;
      bill(
        id(),
        'pharmacy',
        [{ sequence: 1, productOrService: { coding: [rxCode] }, net: usd(12.5) }],
        0,
        { prescription: ref('MedicationRequest', rx.id) },
      );
    }
    res.push(...(add as unknown as JsonResource[]));
  },
  parameters: () => ({}),
  counters: () => 0,
  realised: () => ({}),
});

let tmp = '';
const outA = (): string => path.join(tmp, 'a');
const outB = (): string => path.join(tmp, 'b');
/** Every NDJSON resource of run A, by type. */
const byType = new Map<string, Json[]>();

async function run(outDir: string): Promise<void> {
  await synthesize({
    patients: PATIENTS,
    seed: SEED,
    outDir,
    parts: [handMade],
    formats: ['fhir-bundle', 'synthea-csv'],
    formatWriters: { 'fhir-bundle': fhirBundleWriter, 'synthea-csv': syntheaCsvWriter },
  });
}

beforeAll(async () => {
  tmp = makeTempDir('synth-bundle-csv');
  await run(outA());
  await run(outB());
  for (const f of readdirSync(outA()).filter((n) => n.endsWith('.ndjson'))) {
    const rows = readFileSync(path.join(outA(), f), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Json);
    byType.set(f.replace('.ndjson', ''), rows);
  }
});

afterAll(() => removeDir(tmp));

const all = (type: string): Json[] => byType.get(type) ?? [];

/** Every `reference` string inside a JSON value. */
function references(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) references(x, out);
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === 'reference' && typeof x === 'string') out.push(x);
      else references(x, out);
    }
  return out;
}

describe('fhir-bundle', () => {
  const dir = (): string => path.join(outA(), 'fhir-bundle');
  const bundles = (): { name: string; bundle: Json }[] =>
    readdirSync(dir())
      .sort()
      .map((name) => ({
        name,
        bundle: JSON.parse(readFileSync(path.join(dir(), name), 'utf8')) as Json,
      }));

  it('writes the shared bundles and one Synthea-named transaction Bundle per patient', () => {
    const names = readdirSync(dir());
    const stamp = Date.parse('2025-12-31T23:59:59Z');
    expect(names).toContain(`hospitalInformation${stamp}.json`);
    expect(names).toContain(`practitionerInformation${stamp}.json`);
    const patientFiles = names.filter((n) => !/Information\d+\.json$/.test(n));
    expect(patientFiles).toHaveLength(PATIENTS);
    for (const p of all('Patient')) {
      const name = (p['name'] as { given: string[]; family: string }[])[0]!;
      const expected = `${name.given[0]}_${name.family}_${String(p['id'])}.json`.replace(
        /[^A-Za-z0-9_.-]/g,
        '',
      );
      expect(patientFiles).toContain(expected);
    }
  });

  it('is valid R4, with unique urn:uuid fullUrls and every reference resolving', () => {
    const validator = new FhirR4Validator();
    const shared = new Set<string>();
    const list = bundles();
    for (const { name, bundle } of list.filter((b) => /Information\d+\.json$/.test(b.name))) {
      expect(bundle['type']).toBe('transaction');
      for (const e of bundle['entry'] as Json[]) {
        const r = e['resource'] as Json;
        expect(e['request']).toEqual({
          method: 'PUT',
          url: `${String(r['resourceType'])}/${String(r['id'])}`,
        });
        shared.add(`${String(r['resourceType'])}/${String(r['id'])}`);
        if (name.startsWith('practitioner')) expect(r['resourceType']).toBe('Practitioner');
      }
      const errors = validator.validate(bundle);
      expect(errors, formatErrors(errors)).toEqual([]);
    }
    const perType = new Map<string, number>();
    const patientBundles = list.filter((b) => !/Information\d+\.json$/.test(b.name));
    patientBundles.forEach(({ bundle }, i) => {
      // Whole Bundles validate slowly (the schema tries every resource type per entry):
      // three whole, the rest entry by entry with the resource's own type.
      const errors =
        i < 3
          ? validator.validate(bundle)
          : (bundle['entry'] as Json[]).flatMap((e) => validator.validate(e['resource']));
      expect(errors, formatErrors(errors)).toEqual([]);
      expect(bundle['type']).toBe('transaction');
      const entries = bundle['entry'] as Json[];
      const urls = new Set(entries.map((e) => e['fullUrl']));
      expect(urls.size).toBe(entries.length);
      for (const e of entries) {
        const r = e['resource'] as Json;
        const type = String(r['resourceType']);
        perType.set(type, (perType.get(type) ?? 0) + 1);
        expect(e['fullUrl']).toBe(fullUrlOf(type, String(r['id'])));
        expect(e['request']).toEqual({ method: 'POST', url: type });
      }
      const refs = references(entries.map((e) => e['resource']));
      for (const r of refs) {
        if (r.startsWith('urn:uuid:')) expect(urls.has(r), r).toBe(true);
        else expect(shared.has(r), `${r} is neither local nor shared`).toBe(true);
      }
      // Local references were rewritten: none points by Type/id into the same bundle.
      expect(refs.some((r) => r.startsWith('urn:uuid:'))).toBe(true);
    });
    for (const [type, n] of perType) expect(n, type).toBe(all(type).length);
  });

  it('ingests into a lake with the same resources as the NDJSON output', async () => {
    const lakeN = path.join(tmp, 'lake-ndjson');
    const lakeB = path.join(tmp, 'lake-bundle');
    const n = await loadIntoLake(lakeN, [path.join(outA(), 'manifest.json')]);
    const b = await loadIntoLake(lakeB, [path.join(outA(), 'fhir-bundle')]);
    expect(b.quarantined).toBe(0);
    expect(b.read).toBe(n.read);
    expect(Object.keys(b.resources).sort()).toEqual(Object.keys(n.resources).sort());
    for (const type of byType.keys()) {
      const q = `SELECT id, "@hash" AS h FROM fhir."${type}" ORDER BY id`;
      const [rn, rb] = [await queryLake(lakeN, q), await queryLake(lakeB, q)];
      expect(rb.length, type).toBe(all(type).length);
      // Same ids, and the same content hash: references came back as Type/id.
      expect(rb, type).toEqual(rn);
    }
  });
});

/** Rows of an RFC 4180 CSV text (quoted fields with commas, quotes and newlines). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe('synthea-csv', () => {
  const csvText = (file: string, out = outA()): string =>
    readFileSync(path.join(out, 'synthea-csv', `${file}.csv`), 'utf8');
  /** Rows as objects keyed by header. */
  const table = (file: string): Record<string, string>[] => {
    const [header, ...rows] = parseCsv(csvText(file));
    return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])));
  };

  it('quotes fields per RFC 4180', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField(1.5)).toBe('1.5');
    expect(csvField(undefined)).toBe('');
  });

  it.skipIf(!existsSync(FIXTURE_CSV))(
    'writes the headers of the Synthea fixture byte for byte (skipped: ../shared/fixtures/synthea-csv-27 absent)',
    () => {
      const fixtureFiles = readdirSync(FIXTURE_CSV)
        .filter((f) => f.endsWith('.csv'))
        .sort();
      expect(SYNTHEA_CSV_FILES.map((f) => `${f}.csv`).sort()).toEqual(fixtureFiles);
      for (const f of fixtureFiles) {
        const want = readFileSync(path.join(FIXTURE_CSV, f), 'utf8').split('\n')[0];
        expect(csvText(f.replace('.csv', '')).split('\n')[0], f).toBe(want);
      }
    },
  );

  it('writes one row per resource (per value, per imaging instance, per claim line)', () => {
    const counts: [string, number][] = [
      ['patients', all('Patient').length],
      ['encounters', all('Encounter').length],
      ['conditions', all('Condition').length],
      ['medications', all('MedicationRequest').length],
      ['allergies', all('AllergyIntolerance').length],
      ['procedures', all('Procedure').length],
      ['immunizations', all('Immunization').length],
      ['careplans', all('CarePlan').length],
      ['devices', all('Device').length],
      ['supplies', all('SupplyDelivery').length],
      ['claims', all('Claim').length],
      ['payer_transitions', all('Coverage').length],
      ['providers', all('Practitioner').length],
      ['organizations', all('Organization').filter((o) => o['id'] !== PAYER_ID).length],
      ['payers', 1],
    ];
    for (const [file, n] of counts) {
      expect(n, file).toBeGreaterThan(0);
      expect(table(file), file).toHaveLength(n);
    }
    const instances = all('ImagingStudy').reduce(
      (s, r) =>
        s + (r['series'] as { instance: unknown[] }[]).reduce((t, x) => t + x.instance.length, 0),
      0,
    );
    expect(table('imaging_studies')).toHaveLength(instances);
    const hasValue = (o: Json): boolean => Object.keys(o).some((k) => k.startsWith('value'));
    const values = all('Observation').reduce(
      (s, o) =>
        s +
        (hasValue(o) ? 1 : 0) +
        ((o['component'] as Json[] | undefined) ?? []).filter(hasValue).length,
      0,
    );
    expect(table('observations')).toHaveLength(values);
    const lines = all('Claim').reduce((s, c) => s + (c['item'] as unknown[]).length, 0);
    expect(table('claims_transactions')).toHaveLength(lines + all('ExplanationOfBenefit').length);
  });

  it('maps values from the FHIR resources', () => {
    const patients = new Map(table('patients').map((r) => [r['Id'], r]));
    for (const p of all('Patient')) {
      const row = patients.get(String(p['id']))!;
      const name = (p['name'] as { given: string[]; family: string }[])[0]!;
      expect(row['FIRST']).toBe(name.given[0]);
      expect(row['LAST']).toBe(name.family);
      expect(row['BIRTHDATE']).toBe(p['birthDate']);
      expect(row['GENDER']).toBe(p['gender'] === 'female' ? 'F' : 'M');
      expect(row['DEATHDATE']).toBe(String(p['deceasedDateTime'] ?? '').slice(0, 10));
      expect(row['ZIP']).toBe((p['address'] as { postalCode: string }[])[0]!.postalCode);
    }
    // Encounters with a claim: costs and payer from Claim / EOB.
    const claimed = new Map<string, Json>();
    for (const c of all('Claim'))
      if (c['prescription'] === undefined) {
        const enc = ((c['item'] as Json[])[0]!['encounter'] as { reference: string }[])[0]!;
        claimed.set(enc.reference.slice('Encounter/'.length), c);
      }
    const encounters = new Map(table('encounters').map((r) => [r['Id'], r]));
    expect(claimed.size).toBeGreaterThan(0);
    for (const [encId, claim] of claimed) {
      const row = encounters.get(encId)!;
      expect(row['BASE_ENCOUNTER_COST']).toBe('100.00');
      expect(row['TOTAL_CLAIM_COST']).toBe((claim['total'] as { value: number }).value.toFixed(2));
      expect(row['PAYER_COVERAGE']).toBe('200.00');
      expect(row['PAYER']).toBe(PAYER_ID);
    }
    for (const e of all('Encounter')) {
      const row = encounters.get(String(e['id']))!;
      const period = e['period'] as { start: string; end?: string };
      expect(row['START']).toBe(period.start);
      expect(row['STOP']).toBe(period.end ?? '');
      expect(row['ORGANIZATION']).toBe(
        (e['serviceProvider'] as { reference: string }).reference.split('/')[1],
      );
      expect(['wellness', 'ambulatory', 'emergency', 'inpatient']).toContain(row['ENCOUNTERCLASS']);
      if (!claimed.has(String(e['id']))) expect(row['TOTAL_CLAIM_COST']).toBe('');
    }
    // Blood pressure: two rows, systolic and diastolic, no panel row.
    const obs = table('observations');
    const bpPanels = all('Observation').filter(
      (o) => (o['code'] as { coding: { code: string }[] }).coding[0]!.code === '85354-9',
    ).length;
    expect(bpPanels).toBeGreaterThan(0);
    expect(obs.filter((r) => r['CODE'] === '8480-6')).toHaveLength(bpPanels);
    expect(obs.filter((r) => r['CODE'] === '8462-4')).toHaveLength(bpPanels);
    expect(obs.filter((r) => r['CODE'] === '85354-9')).toHaveLength(0);
    expect(obs.every((r) => r['TYPE'] === 'numeric' && r['VALUE'] !== '')).toBe(true);
    // Descriptions with commas survive quoting.
    for (const r of table('immunizations')) {
      expect(r['DESCRIPTION']).toBe('Influenza, seasonal, injectable, preservative free');
      expect(r['CODE']).toBe('140');
      expect(r['BASE_COST']).toBe('140.52');
    }
    expect(csvText('immunizations')).toContain(
      '"Influenza, seasonal, injectable, preservative free"',
    );
    for (const r of table('procedures')) expect(r['BASE_COST']).toBe('50.25');
    for (const r of table('imaging_studies')) {
      expect(r['MODALITY_CODE']).toBe('DX');
      expect(r['SOP_CODE']).toBe('1.2.840.10008.5.1.4.1.1.1.1');
      expect(r['PROCEDURE_CODE']).toBe('399208008');
    }
    for (const r of table('devices')) {
      expect(r['START']).not.toBe('');
      expect(r['ENCOUNTER']).not.toBe('');
      expect(r['UDI']).toBe('(01)13465995954590(11)760704');
    }
    for (const r of table('supplies')) expect(r['QUANTITY']).toBe('24');
    for (const r of table('payer_transitions')) {
      expect(r['PAYER']).toBe(PAYER_ID);
      expect(r['OWNERSHIP']).toBe('Self');
    }
    // Medications billed by a pharmacy claim: total, nothing covered.
    const rxClaims = all('Claim').filter((c) => c['prescription'] !== undefined).length;
    const meds = table('medications').filter((r) => r['TOTALCOST'] !== '');
    expect(meds).toHaveLength(rxClaims);
    for (const r of meds) {
      expect(r['TOTALCOST']).toBe('12.50');
      expect(r['PAYER_COVERAGE']).toBe('0.00');
    }
    // Claims: each names its encounter (a pharmacy claim its prescription's) and clinician;
    // CHARGE lines add up to the claim's total, PAYMENT lines to what the EOBs paid.
    const encIds = new Set(all('Encounter').map((e) => e['id']));
    const totals = new Map(
      all('Claim').map((c) => [c['id'], (c['total'] as { value: number }).value]),
    );
    for (const r of table('claims')) {
      expect(encIds.has(r['APPOINTMENTID']), r['Id']).toBe(true);
      expect(r['PROVIDERID']).not.toBe('');
      expect(r['PRIMARYPATIENTINSURANCEID']).toBe(PAYER_ID);
    }
    const charged = new Map<string, number>();
    let payments = 0;
    for (const r of table('claims_transactions')) {
      if (r['TYPE'] === 'CHARGE')
        charged.set(r['CLAIMID']!, (charged.get(r['CLAIMID']!) ?? 0) + Number(r['AMOUNT']));
      else if (r['TYPE'] === 'PAYMENT') payments += Number(r['PAYMENTS']);
    }
    for (const [id, total] of totals) expect(charged.get(String(id))).toBeCloseTo(total, 6);
    expect(payments).toBeCloseTo(200 * claimed.size, 6);
    // Payer totals add up over the patients.
    const payer = table('payers')[0]!;
    expect(payer['Id']).toBe(PAYER_ID);
    expect(payer['NAME']).toBe('Medicare');
    expect(Number(payer['UNIQUE_CUSTOMERS'])).toBe(all('Coverage').length);
    expect(Number(payer['COVERED_ENCOUNTERS'])).toBe(claimed.size);
    expect(Number(payer['UNCOVERED_MEDICATIONS'])).toBe(rxClaims);
    expect(payer['AMOUNT_COVERED']).toBe((200 * claimed.size).toFixed(2));
    // Utilization: every encounter counted at its organization and practitioner.
    const sum = (file: string): number =>
      table(file).reduce((s, r) => s + Number(r['UTILIZATION']), 0);
    expect(sum('organizations')).toBe(all('Encounter').length);
    expect(sum('providers')).toBe(all('Encounter').length);
  });

  it('maps linked claim lines, self-pay and other value shapes of hand-made resources', async () => {
    const dir = path.join(tmp, 'csv-unit');
    mkdirSync(dir);
    const w = syntheaCsvWriter(dir, undefined as unknown as SynthRun);
    const P = 'p1';
    const subject = ref('Patient', P);
    const encRef = ref('Encounter', 'e1');
    w.shared([]);
    const resources = [
      {
        resourceType: 'Patient',
        id: P,
        identifier: [
          { system: 'http://hl7.org/fhir/sid/us-ssn', value: '999-12-3456' },
          {
            type: {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'DL' }],
            },
            value: 'S99912345',
          },
        ],
        name: [{ use: 'official', family: "O'Brien", given: ['Zoë'], prefix: ['Ms.'] }],
        gender: 'female',
        birthDate: '1970-05-06',
        maritalStatus: { coding: [{ code: 'M' }] },
        address: [
          {
            line: ['1 Main St', 'Apt 2'],
            city: 'Boston',
            state: 'MA',
            district: 'Suffolk County',
            postalCode: '02110',
          },
        ],
      },
      {
        resourceType: 'Encounter',
        id: 'e1',
        status: 'finished',
        class: { code: 'EMER' },
        type: [
          {
            coding: [
              { system: SNOMED, code: '50849002', display: 'Emergency room admission (procedure)' },
            ],
          },
        ],
        subject,
        period: { start: '2020-01-01T10:00:00+02:00', end: '2020-01-01T12:00:00+02:00' },
      },
      {
        resourceType: 'Observation',
        id: 'o1',
        status: 'final',
        category: [{ coding: [{ code: 'survey' }] }],
        code: {
          coding: [
            { system: 'http://loinc.org', code: '72166-2', display: 'Tobacco smoking status' },
          ],
        },
        subject,
        encounter: encRef,
        effectiveDateTime: '2020-01-01',
        valueCodeableConcept: {
          coding: [{ system: SNOMED, code: '266919005', display: 'Never smoker' }],
        },
      },
      {
        resourceType: 'MedicationRequest',
        id: 'm1',
        status: 'active',
        intent: 'order',
        medicationCodeableConcept: {
          coding: [
            {
              system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
              code: '314076',
              display: 'lisinopril 10 MG Oral Tablet',
            },
          ],
        },
        subject,
        encounter: encRef,
        authoredOn: '2020-01-01T10:30:00Z',
      },
      {
        resourceType: 'Procedure',
        id: 'pr1',
        status: 'completed',
        code: {
          coding: [
            { system: SNOMED, code: '430193006', display: 'Medication reconciliation (procedure)' },
          ],
        },
        subject,
        encounter: encRef,
        performedDateTime: '2020-01-01T10:15:00Z',
      },
      {
        resourceType: 'Coverage',
        id: 'c1',
        status: 'active',
        beneficiary: subject,
        payor: [subject],
        period: { start: '2020-01-01' },
      },
      {
        resourceType: 'Claim',
        id: 'cl1',
        patient: subject,
        type: claimType('institutional'),
        billablePeriod: { start: '2020-01-01T08:00:00Z', end: '2020-01-01T10:00:00Z' },
        procedure: [{ sequence: 1, procedureReference: ref('Procedure', 'pr1') }],
        supportingInfo: [{ sequence: 1, valueReference: ref('MedicationRequest', 'm1') }],
        insurance: [{ sequence: 1, focal: true, coverage: ref('Coverage', 'c1') }],
        item: [
          {
            sequence: 1,
            productOrService: { coding: [{ code: '50849002' }] },
            encounter: [encRef],
            unitPrice: usd(300),
            quantity: { value: 1 },
          },
          {
            sequence: 2,
            procedureSequence: [1],
            productOrService: { coding: [{ code: 'other' }] },
            encounter: [encRef],
            net: usd(45),
          },
          {
            sequence: 3,
            informationSequence: [1],
            productOrService: { coding: [{ code: 'x' }] },
            encounter: [encRef],
            net: usd(30),
          },
        ],
      },
      {
        resourceType: 'ExplanationOfBenefit',
        id: 'eob1',
        patient: subject,
        claim: ref('Claim', 'cl1'),
        outcome: 'complete',
        insurer: { display: 'Self-pay' },
        item: [
          {
            sequence: 3,
            adjudication: [{ category: { coding: [{ code: 'benefit' }] }, amount: usd(0) }],
          },
        ],
        total: [{ category: { coding: [{ code: 'benefit' }] }, amount: usd(0) }],
      },
    ] as unknown as JsonResource[];
    await w.patient({ resources } as unknown as PatientOutput);
    await w.close();
    const read = (f: string): Record<string, string>[] => {
      const [h, ...rows] = parseCsv(readFileSync(path.join(dir, `${f}.csv`), 'utf8'));
      return rows.map((r) => Object.fromEntries(h!.map((k, i) => [k, r[i] ?? ''])));
    };
    const [pat] = read('patients');
    expect(pat).toMatchObject({
      SSN: '999-12-3456',
      DRIVERS: 'S99912345',
      PREFIX: 'Ms.',
      FIRST: 'Zoë',
      LAST: "O'Brien",
      MARITAL: 'M',
      GENDER: 'F',
      ADDRESS: '1 Main St Apt 2',
      COUNTY: 'Suffolk County',
      ZIP: '02110',
      HEALTHCARE_EXPENSES: '375.00',
      HEALTHCARE_COVERAGE: '0.00',
    });
    const [enc] = read('encounters');
    expect(enc).toMatchObject({
      START: '2020-01-01T08:00:00Z',
      ENCOUNTERCLASS: 'emergency',
      BASE_ENCOUNTER_COST: '300.00',
      TOTAL_CLAIM_COST: '375.00',
      PAYER_COVERAGE: '0.00',
      // Self-pay: the Coverage names the Patient, not a payer Organization.
      PAYER: '',
    });
    expect(read('observations')).toEqual([
      expect.objectContaining({
        DATE: '2020-01-01T00:00:00Z',
        VALUE: 'Never smoker',
        UNITS: '',
        TYPE: 'text',
      }),
    ]);
    expect(read('procedures')[0]).toMatchObject({ BASE_COST: '45.00' });
    expect(read('medications')[0]).toMatchObject({
      BASE_COST: '30.00',
      TOTALCOST: '30.00',
      PAYER_COVERAGE: '0.00',
      STOP: '',
    });
    expect(read('claims')[0]).toMatchObject({
      HEALTHCARECLAIMTYPEID1: '2',
      STATUS1: 'CLOSED',
      PRIMARYPATIENTINSURANCEID: '',
    });
    expect(read('payer_transitions')[0]).toMatchObject({ PATIENT: P, PAYER: '' });
    expect(read('payers')).toEqual([]);
  });

  it('is deterministic: the same seed gives the same bytes in both formats', () => {
    for (const format of ['synthea-csv', 'fhir-bundle']) {
      const a = readdirSync(path.join(outA(), format)).sort();
      expect(readdirSync(path.join(outB(), format)).sort()).toEqual(a);
      for (const f of a)
        expect(
          readFileSync(path.join(outB(), format, f)).equals(
            readFileSync(path.join(outA(), format, f)),
          ),
          `${format}/${f}`,
        ).toBe(true);
    }
  });
});
