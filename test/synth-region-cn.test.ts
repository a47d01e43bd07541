/**
 * Region `cn` tables and zh-CN localisation (src/synth/region-cn.ts): census totals and
 * age shares against the published 2020 census figures, ethnic and place tables, name
 * draws (determinism and distribution), and localisation of a full synth run (every
 * coding translated, codes untouched, still valid R4).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGE_BANDS } from '../src/synth/demographics.js';
import { CONDITIONS } from '../src/synth/conditions.js';
import { synthesize } from '../src/synth/index.js';
import { ALLERGIES, DRUGS } from '../src/synth/medications.js';
import { LABS, PANELS } from '../src/synth/labs.js';
import { Random } from '../src/synth/random.js';
import {
  CN_AGE_SEX_CUMULATIVE,
  CN_CENSUS_2020_MILLIONS,
  CN_CONDITION_FACTORS,
  CN_TEXTS,
  CN_ETHNIC_CUMULATIVE,
  CN_ETHNIC_GROUPS,
  CN_ETHNICITY_SYSTEM,
  CN_PLACE_CUMULATIVE,
  CN_PLACES,
  CN_SURNAMES,
  cnAddress,
  cnDisplay,
  cnEthnicityExtension,
  cnPatientNames,
  drawCnPerson,
  joinPinyin,
  localizeResource,
} from '../src/synth/region-cn.js';
import type { JsonResource } from '../src/synth/shared-resources.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import type { FhirValidationError } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const bandSum = (from: number, to: number): number =>
  sum(CN_CENSUS_2020_MILLIONS.slice(from, to).map(([m, f]) => m + f));

describe('census 2020 age and sex table', () => {
  const male = sum(CN_CENSUS_2020_MILLIONS.map((c) => c[0]));
  const female = sum(CN_CENSUS_2020_MILLIONS.map((c) => c[1]));
  const total = male + female;

  it('has the AGE_BANDS bands and the published totals within 0.5%', () => {
    expect(CN_CENSUS_2020_MILLIONS).toHaveLength(AGE_BANDS.length);
    // Communiqué No. 4: 723,339,956 male, 688,438,768 female, 1,411,778,724 in all.
    expect(Math.abs(male / 723.34 - 1)).toBeLessThan(0.005);
    expect(Math.abs(female / 688.44 - 1)).toBeLessThan(0.005);
    expect(Math.abs(total / 1411.78 - 1)).toBeLessThan(0.005);
    // The 31 provinces without the 2.0 M active servicemen: 1,409.78 M.
    expect(total).toBeCloseTo(1409.78, 1);
  });

  it('reproduces the published age shares within 0.3 points', () => {
    const pct = (x: number): number => (100 * x) / total;
    // Communiqué No. 5: 0-14 17.95%, 15-59 63.35%, 60+ 18.70%, 65+ 13.50%.
    expect(Math.abs(pct(bandSum(0, 3)) - 17.95)).toBeLessThan(0.3);
    expect(Math.abs(pct(bandSum(3, 12)) - 63.35)).toBeLessThan(0.3);
    expect(Math.abs(pct(bandSum(12, 18)) - 18.7)).toBeLessThan(0.3);
    expect(Math.abs(pct(bandSum(13, 18)) - 13.5)).toBeLessThan(0.3);
    // Counts: 0-14 253.38 M, 60-64 73.38 M, 65+ 190.64 M, 80+ 35.80 M.
    expect(bandSum(0, 3)).toBeCloseTo(253.38, 1);
    expect(bandSum(12, 13)).toBeCloseTo(73.38, 1);
    expect(bandSum(13, 18)).toBeCloseTo(190.64, 1);
    expect(bandSum(16, 18)).toBeCloseTo(35.8, 1);
  });

  it('has a cumulative table over band × sex cells', () => {
    expect(CN_AGE_SEX_CUMULATIVE).toHaveLength(AGE_BANDS.length * 2);
    expect(CN_AGE_SEX_CUMULATIVE.at(-1)).toBeCloseTo(total, 6);
    expect(CN_AGE_SEX_CUMULATIVE[1]).toBeCloseTo(
      (CN_CENSUS_2020_MILLIONS[0] as readonly number[])[0]! +
        (CN_CENSUS_2020_MILLIONS[0] as readonly number[])[1]!,
      6,
    );
  });
});

describe('ethnic groups and places', () => {
  it('ethnic shares sum to 1 with Han at 91.11%', () => {
    const total = CN_ETHNIC_CUMULATIVE.at(-1) as number;
    const shares = CN_ETHNIC_CUMULATIVE.map(
      (c, i) => (c - (CN_ETHNIC_CUMULATIVE[i - 1] ?? 0)) / total,
    );
    expect(sum(shares)).toBeCloseTo(1, 12);
    expect(CN_ETHNIC_GROUPS[0]).toEqual({ code: '01', display: '汉族', english: 'Han' });
    expect((shares[0] as number) * 100).toBeCloseTo(91.11, 2);
    expect(total).toBeCloseTo(1411.78, 1);
    for (const g of CN_ETHNIC_GROUPS) expect(g.code).toMatch(/^\d{2}$/);
    expect(new Set(CN_ETHNIC_GROUPS.map((g) => g.code)).size).toBe(CN_ETHNIC_GROUPS.length);
    expect(cnDisplay(CN_ETHNICITY_SYSTEM, '08')).toBe('壮族');
  });

  it('places cover the 31 provinces with census weights and 6-digit postal codes', () => {
    expect(new Set(CN_PLACES.map((p) => p.province)).size).toBe(31);
    expect(sum(CN_PLACES.map((p) => p.weight))).toBeCloseTo(1409.78, 1);
    expect(CN_PLACE_CUMULATIVE).toHaveLength(CN_PLACES.length);
    for (const p of CN_PLACES) {
      expect(p.postalCode).toMatch(/^\d{6}$/);
      expect(p.district).not.toBe('');
    }
  });
});

describe('drawCnPerson', () => {
  const draws = (seed: number, n: number): ReturnType<typeof drawCnPerson>[] => {
    const rng = new Random(seed, 0x636e, 0);
    return Array.from({ length: n }, (_, i) => drawCnPerson(rng, i % 2 === 0 ? 'male' : 'female'));
  };

  it('is deterministic for a seed and differs between seeds', () => {
    expect(draws(7, 200)).toEqual(draws(7, 200));
    expect(draws(7, 200)).not.toEqual(draws(8, 200));
  });

  it('draws names, ethnic groups and places in the tables’ proportions (20k draws)', () => {
    const n = 20_000;
    const people = draws(1, n);
    const count = (f: (p: (typeof people)[number]) => boolean): number => people.filter(f).length;
    const total = sum(CN_SURNAMES.map((s) => s.percent));
    // Surnames: each of the top five within 4 binomial SDs of its table share.
    for (const s of CN_SURNAMES.slice(0, 5)) {
      const p = s.percent / total;
      const k = count((x) => x.family === s.hanzi);
      expect(Math.abs(k - n * p)).toBeLessThan(4 * Math.sqrt(n * p * (1 - p)));
    }
    const han = count((x) => x.ethnic.code === '01') / n;
    expect(Math.abs(han - 0.9111)).toBeLessThan(4 * Math.sqrt((0.9111 * 0.0889) / n));
    const guangdong = count((x) => x.place.province === '广东省') / n;
    expect(Math.abs(guangdong - 126.01 / 1409.78)).toBeLessThan(0.01);
    for (const p of people.slice(0, 500)) {
      expect(p.given).toMatch(/^[\u4e00-\u9fff]{1,2}$/);
      expect(p.family).toMatch(/^[\u4e00-\u9fff]$/);
      expect(p.givenPinyin).toMatch(/^[A-Z][a-z']+$/);
      expect(p.street).toMatch(/^[\u4e00-\u9fff]+路\d{1,3}号$/);
    }
    // Single-character given names are a minority.
    const single = count((x) => x.given.length === 1) / n;
    expect(single).toBeGreaterThan(0.1);
    expect(single).toBeLessThan(0.2);
  });

  it('writes pinyin with the apostrophe rule', () => {
    expect(joinPinyin(['jia', 'an'])).toBe("Jia'an");
    expect(joinPinyin(['xiao', 'ming'])).toBe('Xiaoming');
    expect(joinPinyin(['an'])).toBe('An');
  });
});

/** Every Coding-shaped object with a display. */
function codings(v: unknown, out: Json[]): Json[] {
  if (Array.isArray(v)) for (const x of v) codings(x, out);
  else if (v !== null && typeof v === 'object') {
    const o = v as Json;
    if (typeof o['system'] === 'string' && typeof o['code'] === 'string' && 'display' in o)
      out.push(o);
    for (const x of Object.values(o)) codings(x, out);
  }
  return out;
}

describe('localizeResource on a 300-patient synth run', () => {
  let tmp = '';
  let resources: Json[] = [];
  let validator: FhirR4Validator;

  beforeAll(async () => {
    tmp = makeTempDir('synth-region-cn');
    await synthesize({ patients: 300, seed: 1, outDir: tmp });
    for (const file of readdirSync(tmp)
      .filter((f) => f.endsWith('.ndjson'))
      .sort())
      for (const line of readFileSync(path.join(tmp, file), 'utf8').split('\n'))
        if (line !== '') resources.push(JSON.parse(line) as Json);
    validator = new FhirR4Validator();
  });
  afterAll(() => {
    removeDir(tmp);
    resources = [];
  });

  /** The resource without displays and texts: what localisation must leave as it was. */
  function skeleton(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(skeleton);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(
      Object.entries(v as Json)
        .filter(([k]) => k !== 'display' && k !== 'text')
        .map(([k, x]) => [k, skeleton(x)]),
    );
  }

  it('has a translation for every (system, code) the generator emits', () => {
    const missing = new Set<string>();
    for (const r of resources)
      for (const c of codings(r, []))
        if (cnDisplay(c['system'] as string, c['code'] as string) === undefined)
          missing.add(`${String(c['system'])}|${String(c['code'])} (${String(c['display'])})`);
    expect([...missing].sort(), 'untranslated codes').toEqual([]);
    expect(resources.length).toBeGreaterThan(3000);
  });

  it('also covers every code in conditions, medications and labs (not all appear in 300 patients)', () => {
    const missing: string[] = [];
    const need = (system: string, code: string): void => {
      if (cnDisplay(system, code) === undefined) missing.push(`${system}|${code}`);
    };
    for (const c of Object.values(CONDITIONS)) {
      need('http://snomed.info/sct', c.snomed.code);
      need('http://hl7.org/fhir/sid/icd-10-cm', c.icd10.code);
    }
    for (const d of Object.values(DRUGS)) {
      need('http://www.nlm.nih.gov/research/umls/rxnorm', d.rxnorm);
      need('http://snomed.info/sct', d.route.code);
      expect(CN_TEXTS[d.sig], d.sig).toBeDefined();
    }
    for (const a of Object.values(ALLERGIES)) {
      need('http://www.nlm.nih.gov/research/umls/rxnorm', a.rxnorm);
      need('http://snomed.info/sct', a.reaction.code);
    }
    for (const l of [...Object.values(LABS), ...Object.values(PANELS)])
      need('http://loinc.org', l.loinc);
    expect(missing).toEqual([]);
  });

  it('translates displays and texts in place, leaves codes untouched, stays valid R4', () => {
    const localized = resources.map((r) => structuredClone(r));
    const t0 = performance.now();
    for (const r of localized) localizeResource(r as unknown as JsonResource);
    const ms = performance.now() - t0;
    // Fast enough: well under a millisecond per resource on average.
    expect(ms / localized.length).toBeLessThan(0.5);

    const english: string[] = [];
    localized.forEach((r, i) => {
      expect(skeleton(r)).toEqual(skeleton(resources[i]));
      for (const c of codings(r, []))
        if (!/[\u4e00-\u9fff]/.test(String(c['display'])))
          english.push(`${String(c['system'])}|${String(c['code'])}`);
    });
    expect([...new Set(english)]).toEqual([]);

    const condition = localized.find(
      (r) => r['resourceType'] === 'Condition' && JSON.stringify(r).includes('59621000'),
    ) as Json;
    const code = condition['code'] as { coding: Json[]; text: string };
    expect(code.text).toBe('原发性高血压');
    expect(code.coding.map((c) => c['code'])).toEqual(['59621000', 'I10']);
    const request = localized.find((r) => r['resourceType'] === 'MedicationRequest') as Json;
    const dosage = (request['dosageInstruction'] as Json[])[0] as Json;
    expect(String(dosage['text'])).toMatch(/^口服|^喘息时吸入/);
    // Reference displays (organisation, practitioner names) are not codings: unchanged.
    const encounter = localized.find((r) => r['resourceType'] === 'Encounter') as Json;
    const original = resources.find((r) => r['id'] === encounter['id']) as Json;
    expect(encounter['serviceProvider']).toEqual(original['serviceProvider']);

    // Validate up to 400 localised resources per type (keeps the test quick once all
    // parts run by default; the translations are the same strings in every resource).
    const errors: FhirValidationError[] = [];
    const perType = new Map<string, number>();
    for (const r of localized) {
      const type = String(r['resourceType']);
      const n = perType.get(type) ?? 0;
      if (n >= 400) continue;
      perType.set(type, n + 1);
      errors.push(...validator.validate(r));
    }
    expect(perType.get('Observation')).toBe(400);
    expect(errors, formatErrors(errors, 20)).toEqual([]);
  });

  it('builds a valid Chinese Patient (names with pinyin, address, ethnicity)', () => {
    const rng = new Random(3, 0x636e, 1);
    const person = drawCnPerson(rng, 'female');
    const patient = {
      resourceType: 'Patient',
      id: 'cn-1',
      extension: [cnEthnicityExtension(person.ethnic)],
      name: cnPatientNames(person),
      gender: 'female',
      birthDate: '1980-05-01',
      address: [cnAddress(person)],
    };
    expect(validator.validate(patient)).toEqual([]);
    const address = cnAddress(person);
    expect(String(address['text'])).toContain(person.place.district + person.street);
    expect(address['country']).toBe('CN');
    const names = cnPatientNames(person) as { text: string }[];
    expect(names[0]?.text).toBe(person.family + person.given);
    expect(names[1]?.text).toBe(`${person.familyPinyin} ${person.givenPinyin}`);
  });
});

describe('localizeResource on hand-made resources', () => {
  it('translates known codes and texts, keeps unknown ones and reference displays', () => {
    const r = {
      resourceType: 'ImagingStudy',
      id: 'x',
      procedureCode: [
        {
          coding: [{ system: 'http://snomed.info/sct', code: '399208008', display: 'Plain X-ray' }],
          text: 'XR Chest',
        },
      ],
      reasonCode: [
        {
          coding: [{ system: 'http://snomed.info/sct', code: '1234', display: 'Unknown thing' }],
          text: 'Unknown thing',
        },
        { text: 'Imaging study' },
      ],
      referrer: { reference: 'Practitioner/1', display: 'Medicare' },
    };
    localizeResource(r as unknown as JsonResource);
    expect(r.procedureCode[0]).toEqual({
      coding: [{ system: 'http://snomed.info/sct', code: '399208008', display: '胸部X线平片' }],
      text: '胸部X线',
    });
    expect(r.reasonCode[0]?.text).toBe('Unknown thing');
    expect(r.reasonCode[0]?.coding?.[0]?.display).toBe('Unknown thing');
    expect(r.reasonCode[1]?.text).toBe('影像检查');
    expect(r.referrer.display).toBe('Medicare');
  });
});

describe('condition factors', () => {
  it('are positive multipliers for chronic conditions only', () => {
    for (const [key, f] of Object.entries(CN_CONDITION_FACTORS)) {
      expect(CONDITIONS[key as keyof typeof CONDITIONS].chronic).toBe(true);
      expect(f).toBeGreaterThan(0);
      expect(f).toBeLessThanOrEqual(2);
    }
    expect(CN_CONDITION_FACTORS.hypertension).toBeLessThan(1);
  });
});

describe('medlake synth --region cn, end to end', () => {
  let dir = '';
  const byType = new Map<string, Json[]>();
  let truthCn: Json = {};
  let validator: FhirR4Validator;

  beforeAll(async () => {
    dir = makeTempDir('synth-cn-e2e');
    validator = new FhirR4Validator();
    await synthesize({ patients: 400, seed: 3, region: 'cn', outDir: dir });
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.ndjson')))
      byType.set(
        f.replace('.ndjson', ''),
        readFileSync(path.join(dir, f), 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Json),
      );
    truthCn = JSON.parse(readFileSync(path.join(dir, 'truth.json'), 'utf8')) as Json;
  }, 120_000);

  afterAll(() => removeDir(dir));

  it('writes Chinese patients, sites and displays; the population table is the census one', () => {
    const patients = byType.get('Patient') ?? [];
    expect(patients).toHaveLength(400);
    for (const p of patients) {
      const address = (p['address'] as Json[])[0] as Json;
      expect(address['country']).toBe('CN');
      expect(String(address['postalCode'])).toMatch(/^\d{6}$/);
      const names = p['name'] as Json[];
      expect(String(names[0]?.['text'])).toMatch(/^[\u4e00-\u9fff]{2,4}$/);
      expect(JSON.stringify(p['extension'])).toContain('2.16.156.10011.2.3.3.3');
      expect(JSON.stringify(p)).not.toContain('us-core-race');
    }
    for (const o of byType.get('Organization') ?? [])
      if (JSON.stringify(o['type']).includes('"prov"'))
        expect(String(o['name'])).toMatch(/人民医院|社区卫生服务中心/);
    // Every coding with a display is in Chinese.
    const english = new Set<string>();
    for (const rs of byType.values())
      for (const r of rs)
        for (const c of codings(r, []))
          if (c['display'] !== undefined && !/[\u4e00-\u9fff]/.test(String(c['display'])))
            english.add(`${String(c['system'])}|${String(c['code'])}`);
    expect([...english]).toEqual([]);
    const parameters = truthCn['parameters'] as Json;
    expect(JSON.stringify(parameters['population'])).toContain('China');
    expect(parameters['regionConditionFactors']).toBeDefined();
  });

  it('is valid R4 (a sample of every type)', () => {
    const errors: FhirValidationError[] = [];
    for (const rs of byType.values())
      for (const r of rs.slice(0, 150)) errors.push(...validator.validate(r));
    expect(formatErrors(errors)).toBe('');
  });
});
