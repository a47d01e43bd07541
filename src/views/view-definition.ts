/**
 * ViewDefinition structure (SQL-on-FHIR v2, https://build.fhir.org/ig/FHIR/sql-on-fhir-v2/StructureDefinition-ViewDefinition.html)
 * and its validation. Errors name the JSON path in the view and say what is wrong.
 */
import { z } from 'zod';
import { parseFhirPath } from '../fhirpath/parser.js';
import { isResourceType } from '../fhirpath/model.js';

const columnSchema = z.object({
  name: z.string(),
  path: z.string(),
  type: z.string().optional(),
  collection: z.boolean().optional(),
  description: z.string().optional(),
  tag: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
});

export type ViewColumn = z.infer<typeof columnSchema>;

export interface SelectNode {
  column?: ViewColumn[] | undefined;
  select?: SelectNode[] | undefined;
  forEach?: string | undefined;
  forEachOrNull?: string | undefined;
  repeat?: string[] | undefined;
  unionAll?: SelectNode[] | undefined;
}

const selectSchema: z.ZodType<SelectNode> = z.lazy(() =>
  z.object({
    column: z.array(columnSchema).optional(),
    select: z.array(selectSchema).optional(),
    forEach: z.string().optional(),
    forEachOrNull: z.string().optional(),
    repeat: z.array(z.string()).min(1).optional(),
    unionAll: z.array(selectSchema).optional(),
  }),
);

const CONSTANT_VALUE_KEYS = [
  'valueBase64Binary',
  'valueBoolean',
  'valueCanonical',
  'valueCode',
  'valueDate',
  'valueDateTime',
  'valueDecimal',
  'valueId',
  'valueInstant',
  'valueInteger',
  'valueInteger64',
  'valueOid',
  'valuePositiveInt',
  'valueString',
  'valueTime',
  'valueUnsignedInt',
  'valueUri',
  'valueUrl',
  'valueUuid',
] as const;

const constantSchema = z
  .object({ name: z.string() })
  .catchall(z.union([z.string(), z.number(), z.boolean()]));

export const viewDefinitionSchema = z.object({
  resourceType: z.literal('ViewDefinition').optional(),
  url: z.string().optional(),
  name: z.string().optional(),
  title: z.string().optional(),
  status: z.string().optional(),
  description: z.string().optional(),
  resource: z.string({ error: 'resource is required: the FHIR resource type the view reads' }),
  constant: z.array(constantSchema).optional(),
  select: z.array(selectSchema).min(1, 'select must list at least one select node'),
  where: z.array(z.object({ path: z.string(), description: z.string().optional() })).optional(),
});

export type ViewDefinition = z.infer<typeof viewDefinitionSchema>;

export interface ViewConstant {
  readonly name: string;
  /** The value[x] suffix, e.g. `String`, `Integer`, `Date`. */
  readonly type: string;
  readonly value: string | number | boolean;
}

/** A view problem with the JSON path where it was found. */
export class ViewValidationError extends Error {
  readonly code = 'VIEW_INVALID';
  constructor(readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>) {
    super(issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
    this.name = 'ViewValidationError';
  }
}

const COLUMN_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

function jsonPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '$';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

/** Validates a parsed JSON value as a ViewDefinition; throws ViewValidationError with every problem found. */
export function validateView(input: unknown): ViewDefinition {
  const parsed = viewDefinitionSchema.safeParse(input);
  if (!parsed.success) {
    throw new ViewValidationError(
      parsed.error.issues.map((i) => ({ path: jsonPath(i.path), message: i.message })),
    );
  }
  const view = parsed.data;
  const issues: { path: string; message: string }[] = [];
  if (!isResourceType(view.resource)) {
    issues.push({
      path: '$.resource',
      message: `"${view.resource}" is not a FHIR R4 resource type`,
    });
  }
  const checkPath = (expr: string, at: string): void => {
    try {
      parseFhirPath(expr);
    } catch (err) {
      issues.push({ path: at, message: (err as Error).message });
    }
  };
  (view.constant ?? []).forEach((c, i) => {
    const keys = Object.keys(c).filter((k) => k !== 'name');
    const valueKeys = keys.filter((k) => (CONSTANT_VALUE_KEYS as readonly string[]).includes(k));
    if (valueKeys.length !== 1) {
      issues.push({
        path: `$.constant[${i}]`,
        message: `constant "${c.name}" needs exactly one value[x] (e.g. valueString)`,
      });
    }
  });
  (view.where ?? []).forEach((w, i) => checkPath(w.path, `$.where[${i}].path`));

  const checkSelect = (node: SelectNode, at: string): string[] => {
    const names: string[] = [];
    const iterators = ['forEach', 'forEachOrNull', 'repeat'].filter(
      (k) => node[k as keyof SelectNode] !== undefined,
    );
    if (iterators.length > 1)
      issues.push({ path: at, message: `use only one of ${iterators.join(', ')}` });
    if (node.forEach !== undefined) checkPath(node.forEach, `${at}.forEach`);
    if (node.forEachOrNull !== undefined) checkPath(node.forEachOrNull, `${at}.forEachOrNull`);
    node.repeat?.forEach((p, i) => checkPath(p, `${at}.repeat[${i}]`));
    (node.column ?? []).forEach((col, i) => {
      const cat = `${at}.column[${i}]`;
      if (!COLUMN_NAME.test(col.name)) {
        issues.push({
          path: `${cat}.name`,
          message: `"${col.name}" is not a valid column name (letters, digits, _; starts with a letter)`,
        });
      }
      checkPath(col.path, `${cat}.path`);
      names.push(col.name);
    });
    (node.select ?? []).forEach((s, i) => names.push(...checkSelect(s, `${at}.select[${i}]`)));
    if (node.unionAll !== undefined) {
      let first: string[] | undefined;
      node.unionAll.forEach((s, i) => {
        const branch = checkSelect(s, `${at}.unionAll[${i}]`);
        if (first === undefined) first = branch;
        else if (branch.join(',') !== first.join(',')) {
          issues.push({
            path: `${at}.unionAll[${i}]`,
            message: `unionAll branches must have the same columns in the same order: expected [${first.join(', ')}], found [${branch.join(', ')}]`,
          });
        }
      });
      names.push(...(first ?? []));
    }
    return names;
  };
  const all: string[] = [];
  view.select.forEach((s, i) => all.push(...checkSelect(s, `$.select[${i}]`)));
  const seen = new Set<string>();
  for (const n of all) {
    if (seen.has(n))
      issues.push({ path: '$.select', message: `column name "${n}" is used more than once` });
    seen.add(n);
  }
  if (issues.length > 0) throw new ViewValidationError(issues);
  return view;
}

export function viewConstants(view: ViewDefinition): ViewConstant[] {
  return (view.constant ?? []).map((c) => {
    const key = Object.keys(c).find((k) => k.startsWith('value'))!;
    return {
      name: c.name,
      type: key.slice('value'.length),
      value: c[key] as string | number | boolean,
    };
  });
}
