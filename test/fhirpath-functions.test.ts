/**
 * FHIRPath that real views use beyond the conformance suite, compiled to SQL and run on
 * DuckDB against small resources whose answers are known.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineFor, resourcesFromJson } from './conformance/runner.js';
import { runView } from '../src/views/run.js';
import { skippedEngines, testEngines } from './engines.js';

const RESOURCES = `[
  {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-06-15",
   "name": [{"use": "official", "family": "Smith", "given": ["Anna", "Maria"]},
            {"use": "maiden", "family": "Jones", "given": ["Anna"]}],
   "telecom": [{"system": "phone", "value": "555-1"}, {"system": "email", "value": "a@x.org"}, {"system": "phone", "value": "555-2"}],
   "extension": [{"url": "http://example.org/score", "valueDecimal": 2.50},
                 {"url": "http://example.org/flag", "valueBoolean": true}]},
  {"resourceType": "Patient", "id": "p2", "gender": "male", "birthDate": "2001",
   "name": [{"family": "Lee"}], "deceasedBoolean": false},
  {"resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/p1"},
   "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}, {"system": "http://snomed.info/sct", "code": "43396009"}], "text": "HbA1c"},
   "effectiveDateTime": "2024-03-01T10:00:00+01:00", "valueQuantity": {"value": 7.20, "unit": "%"},
   "component": [{"code": {"text": "a"}, "valueQuantity": {"value": 120}}, {"code": {"text": "b"}, "valueQuantity": {"value": 80}}]},
  {"resourceType": "Observation", "id": "o2", "status": "amended", "subject": {"reference": "http://fhir.example.org/r4/Patient/p2/_history/3"},
   "code": {"text": "smoking"}, "effectiveDateTime": "2023-12-31", "valueString": "never"}
]`;

interface Case {
  readonly name: string;
  readonly resource: 'Patient' | 'Observation';
  readonly path: string;
  readonly type?: string;
  readonly collection?: boolean;
  /** Expected value per resource id. */
  readonly expect: Record<string, unknown>;
}

const CASES: Case[] = [
  {
    name: 'exists with criteria',
    resource: 'Patient',
    path: "name.where(use = 'maiden').exists()",
    expect: { p1: true, p2: false },
  },
  { name: 'empty', resource: 'Patient', path: 'telecom.empty()', expect: { p1: false, p2: true } },
  {
    name: 'first / last',
    resource: 'Patient',
    path: "name.given.first() + ' ' + name.given.last()",
    type: 'string',
    expect: { p1: 'Anna Anna', p2: null },
  },
  {
    name: 'count',
    resource: 'Patient',
    path: "telecom.where(system = 'phone').count()",
    type: 'integer',
    expect: { p1: 2, p2: 0 },
  },
  {
    name: 'select + join',
    resource: 'Patient',
    path: "telecom.select(system + ':' + value).join('|')",
    type: 'string',
    expect: { p1: 'phone:555-1|email:a@x.org|phone:555-2', p2: null },
  },
  {
    name: 'distinct',
    resource: 'Patient',
    path: 'name.given.distinct().count()',
    type: 'integer',
    expect: { p1: 2, p2: 0 },
  },
  {
    name: 'not',
    resource: 'Patient',
    path: "(gender = 'male').not()",
    type: 'boolean',
    expect: { p1: true, p2: false },
  },
  {
    name: 'iif',
    resource: 'Patient',
    path: "iif(gender = 'female', 'F', 'M')",
    type: 'string',
    expect: { p1: 'F', p2: 'M' },
  },
  {
    name: 'string functions',
    resource: 'Patient',
    path: 'name.first().family.upper() + name.first().family.substring(1, 2) + name.first().family.length().toString()',
    type: 'string',
    expect: { p1: 'SMITHmi5', p2: 'LEEee3' },
  },
  {
    name: 'startsWith / contains / matches',
    resource: 'Patient',
    path: "name.first().family.startsWith('Sm') and name.first().family.contains('mit') and name.first().family.matches('^S.*h$')",
    type: 'boolean',
    expect: { p1: true, p2: false },
  },
  {
    name: 'replace / indexOf',
    resource: 'Patient',
    path: "name.first().family.replace('i', 'y') + name.first().family.indexOf('t').toString()",
    type: 'string',
    expect: { p1: 'Smyth3', p2: 'Lee-1' },
  },
  {
    name: 'date literal comparison',
    resource: 'Patient',
    path: 'birthDate < @1980-01-01',
    type: 'boolean',
    expect: { p1: true, p2: null },
  },
  {
    name: 'date comparison of equal precision',
    resource: 'Patient',
    path: 'birthDate >= @2001',
    type: 'boolean',
    expect: { p1: null, p2: true },
  },
  {
    name: 'extension value decimal',
    resource: 'Patient',
    path: "extension('http://example.org/score').value.ofType(decimal).first() * 2",
    type: 'decimal',
    expect: { p1: 5, p2: null },
  },
  {
    name: 'extension value boolean',
    resource: 'Patient',
    path: "extension('http://example.org/flag').value.ofType(boolean).first()",
    type: 'boolean',
    expect: { p1: true, p2: null },
  },
  {
    name: 'choice without ofType',
    resource: 'Patient',
    path: 'deceased.exists()',
    type: 'boolean',
    expect: { p1: false, p2: true },
  },
  {
    name: 'arithmetic on components',
    resource: 'Observation',
    path: 'component.value.ofType(Quantity).value.first() - component.value.ofType(Quantity).value.last()',
    type: 'decimal',
    expect: { o1: 40, o2: null },
  },
  {
    name: 'div and mod',
    resource: 'Observation',
    path: '(component.value.ofType(Quantity).value.first() div 7).toString() + (17 mod 5).toString()',
    type: 'string',
    expect: { o1: '172', o2: null },
  },
  {
    name: 'where on codings',
    resource: 'Observation',
    path: "code.coding.where(system = 'http://loinc.org').code.first()",
    type: 'code',
    expect: { o1: '4548-4', o2: null },
  },
  {
    name: 'ofType string',
    resource: 'Observation',
    path: 'value.ofType(string)',
    type: 'string',
    expect: { o1: null, o2: 'never' },
  },
  {
    name: 'value as decimal',
    resource: 'Observation',
    path: 'value.ofType(Quantity).value > 7',
    type: 'boolean',
    expect: { o1: true, o2: null },
  },
  {
    name: 'union of codes',
    resource: 'Observation',
    path: '(code.coding.code | code.text).count()',
    type: 'integer',
    expect: { o1: 3, o2: 1 },
  },
  {
    name: 'getReferenceKey with absolute URL and _history',
    resource: 'Observation',
    path: 'subject.getReferenceKey(Patient)',
    type: 'id',
    expect: { o1: 'p1', o2: 'p2' },
  },
  {
    name: 'getReferenceKey of another type',
    resource: 'Observation',
    path: 'subject.getReferenceKey(Group)',
    type: 'id',
    expect: { o1: null, o2: null },
  },
  {
    name: 'dateTime lowBoundary keeps the zone',
    resource: 'Observation',
    path: 'effective.ofType(dateTime).lowBoundary()',
    type: 'dateTime',
    expect: { o1: '2024-03-01T10:00:00.000+01:00', o2: '2023-12-31T00:00:00.000+14:00' },
  },
  {
    name: 'date highBoundary of a year',
    resource: 'Patient',
    path: 'birthDate.highBoundary()',
    type: 'date',
    expect: { p1: '1970-06-15', p2: '2001-12-31' },
  },
  {
    name: 'collection column',
    resource: 'Patient',
    path: "name.where(use = 'official').given",
    collection: true,
    type: 'string',
    expect: { p1: ['Anna', 'Maria'], p2: [] },
  },
];

describe.each(testEngines())('FHIRPath functions on %s', (engineName) => {
  let env: Awaited<ReturnType<typeof engineFor>>;
  beforeAll(async () => {
    env = await engineFor(
      { file: 'inline', title: 'inline', resources: resourcesFromJson(RESOURCES), tests: [] },
      engineName,
    );
  });
  afterAll(async () => {
    await env.close();
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const view = {
      resource: c.resource,
      select: [
        {
          column: [
            { name: 'id', path: 'getResourceKey()' },
            {
              name: 'v',
              path: c.path,
              ...(c.type === undefined ? {} : { type: c.type }),
              ...(c.collection ? { collection: true } : {}),
            },
          ],
        },
      ],
    };
    const { rows } = await runView(view, { engine: env.engine, columnsOf: env.columnsOf });
    const got = Object.fromEntries(rows.map((r) => [r['id'] as string, r['v']]));
    expect(got).toEqual(c.expect);
  });

  it('raises an error when a non-collection column gets several values', async () => {
    const view = { resource: 'Patient', select: [{ column: [{ name: 'g', path: 'name.given' }] }] };
    await expect(runView(view, { engine: env.engine, columnsOf: env.columnsOf })).rejects.toThrow(
      /single value/,
    );
  });
});

for (const { name, reason } of skippedEngines()) {
  describe.skip(`FHIRPath functions on ${name} (skipped: ${reason})`, () => {
    it('runs every function case', () => {});
  });
}
