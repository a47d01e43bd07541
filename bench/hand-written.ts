/**
 * The benchmark's views and, for each, the hand-written DuckDB query that is its floor.
 *
 * The hand-written SQL is what an analyst who knows DuckDB and the data would write: it
 * reads the same lake views ("Patient", "Observation", ...: one JSON column per top-level
 * element) with json_extract / json_extract_string / unnest, and returns the same rows
 * as the compiled ViewDefinition *on the benchmark data*. It is not a general
 * SQL-on-FHIR implementation, and says where it takes a shortcut the compiler cannot:
 *
 *  - references: the generator writes relative references (`Patient/<id>`), so a prefix
 *    test plus a substring replaces getReferenceKey()'s regular expression, which must
 *    also accept absolute URLs and `/_history/` suffixes;
 *  - `first()` of a nested collection reads `$[0]` / `$.coding[0]` directly where the
 *    data has the element in the first position.
 *
 * run.ts checks that both queries return the same multiset of rows (EXCEPT ALL in both
 * directions) before any timing, and fails if they do not.
 */

export interface BenchView {
  /** ViewDefinition name (file name under examples/views without `.json`). */
  readonly name: string;
  /** What the view exercises, for the report. */
  readonly label: string;
  /** Resource type the view reads (and whose NDJSON file the fhirpath.js path reads). */
  readonly resource: string;
  /** ViewDefinition file, relative to the repository root. */
  readonly file: string;
  /**
   * The hand-written query. `has(col)` says whether the lake has that element column;
   * `table` is the resource table reference (Dialect.sqlResourceTable, e.g. fhir."Patient").
   */
  readonly hand: (has: (column: string) => boolean, table: string) => string;
}

const RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
const ETHNICITY = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';

/** `r."col"` when the lake has the column, else a typed NULL (as the compiler does). */
function col(has: (column: string) => boolean, name: string, alias = 'r'): string {
  return has(name) ? `${alias}."${name}"` : 'CAST(NULL AS JSON)';
}

/** Id of a relative reference `Type/id`, else NULL (the benchmark data has only these). */
function refKey(refExpr: string, type: string): string {
  return `CASE WHEN starts_with(${refExpr}, '${type}/') THEN ${refExpr}[${type.length + 2}:] END`;
}

/** The `ombCategory` display of the first US Core extension with this URL. */
function ombDisplay(extList: string, url: string): string {
  const outer = `list_filter(${extList}, lambda e: e ->> '$.url' = '${url}')[1]`;
  return `list_filter(json_extract(${outer}, '$.extension[*]'), lambda x: x ->> '$.url' = 'ombCategory')[1] ->> '$.valueCoding.display'`;
}

export const BENCH_VIEWS: readonly BenchView[] = [
  {
    name: 'patient',
    label: 'Patient demographics (where, extension, ofType)',
    resource: 'Patient',
    file: 'examples/views/patient.json',
    hand: (has, table) => {
      const deceasedBoolean = has('deceasedBoolean')
        ? `(TRY_CAST(r."deceasedBoolean" AS BOOLEAN) = TRUE)`
        : 'NULL';
      return `SELECT r.id AS id,
  r.gender ->> '$' AS gender,
  r.birthDate ->> '$' AS birth_date,
  (${col(has, 'deceasedDateTime')} IS NOT NULL) OR ${deceasedBoolean} AS deceased,
  ${col(has, 'deceasedDateTime')} ->> '$' AS deceased_date_time,
  r.official ->> '$.family' AS family,
  r.official ->> '$.given[0]' AS given,
  ${ombDisplay('r.ext', RACE)} AS race,
  ${ombDisplay('r.ext', ETHNICITY)} AS ethnicity,
  r.address ->> '$[0].postalCode' AS postal_code,
  r.address ->> '$[0].state' AS state
FROM (
  SELECT *,
    list_filter(json_extract(name, '$[*]'), lambda n: n ->> '$.use' = 'official')[1] AS official,
    json_extract(extension, '$[*]') AS ext
  FROM ${table}
) AS r`;
    },
  },
  {
    name: 'observation',
    label: 'Observation, forEach code.coding, valueQuantity',
    resource: 'Observation',
    file: 'examples/views/observation.json',
    hand: (has, table) => `SELECT r.id AS id,
  ${refKey('r.ref', 'Patient')} AS patient_id,
  r.status ->> '$' AS status,
  ${col(has, 'effectiveDateTime')} ->> '$' AS effective,
  TRY_CAST(${col(has, 'valueQuantity')} -> '$.value' AS DOUBLE) AS value,
  ${col(has, 'valueQuantity')} ->> '$.code' AS unit,
  r.c ->> '$.system' AS system,
  r.c ->> '$.code' AS code,
  r.c ->> '$.display' AS display
FROM (
  SELECT id, status, effectiveDateTime, valueQuantity,
    subject ->> '$.reference' AS ref,
    unnest(json_extract(code, '$.coding[*]')) AS c
  FROM ${table}
) AS r`,
  },
  {
    name: 'condition',
    label: 'Condition, codes and onset',
    resource: 'Condition',
    file: 'examples/views/condition.json',
    hand: (has, table) => `SELECT r.id AS id,
  ${refKey(`(r.subject ->> '$.reference')`, 'Patient')} AS patient_id,
  ${refKey(`(r.encounter ->> '$.reference')`, 'Encounter')} AS encounter_id,
  r.code ->> '$.coding[0].system' AS code_system,
  r.code ->> '$.coding[0].code' AS code,
  r.code ->> '$.text' AS display,
  r.clinicalStatus ->> '$.coding[0].code' AS clinical_status,
  ${col(has, 'onsetDateTime')} ->> '$' AS onset,
  ${col(has, 'abatementDateTime')} ->> '$' AS abatement,
  ${col(has, 'recordedDate')} ->> '$' AS recorded_date
FROM ${table} AS r`,
  },
  {
    name: 'encounter',
    label: 'Encounter with class, type, period',
    resource: 'Encounter',
    file: 'examples/views/encounter.json',
    hand: (has, table) => `SELECT r.id AS id,
  ${refKey(`(r.subject ->> '$.reference')`, 'Patient')} AS patient_id,
  r.status ->> '$' AS status,
  r.class ->> '$.code' AS class,
  r.type ->> '$[0].coding[0].code' AS type_code,
  r.type ->> '$[0].text' AS type_display,
  r.period ->> '$.start' AS period_start,
  r.period ->> '$.end' AS period_end,
  ${refKey(`(${col(has, 'serviceProvider')} ->> '$.reference')`, 'Organization')} AS service_provider_id
FROM ${table} AS r`,
  },
  {
    name: 'medication_request',
    label: 'MedicationRequest, RxNorm via where()',
    resource: 'MedicationRequest',
    file: 'examples/views/medication_request.json',
    hand: (has, table) => `SELECT r.id AS id,
  ${refKey(`(r.subject ->> '$.reference')`, 'Patient')} AS patient_id,
  r.status ->> '$' AS status,
  r.intent ->> '$' AS intent,
  list_filter(json_extract(${col(has, 'medicationCodeableConcept')}, '$.coding[*]'), lambda c: c ->> '$.system' = '${RXNORM}')[1] ->> '$.code' AS rxnorm,
  ${col(has, 'medicationCodeableConcept')} ->> '$.text' AS medication,
  ${col(has, 'authoredOn')} ->> '$' AS authored_on
FROM ${table} AS r`,
  },
  {
    name: 'patient_contact_points',
    label: 'Patient contact points (unionAll of two forEach)',
    resource: 'Patient',
    file: 'examples/views/patient_contact_points.json',
    hand: (
      _has,
      table,
    ) => `SELECT id AS patient_id, t ->> '$.system' AS kind, t ->> '$.value' AS value, t ->> '$.use' AS use
FROM (SELECT id, unnest(json_extract(telecom, '$[*]')) AS t FROM ${table})
UNION ALL
SELECT id AS patient_id, 'address' AS kind,
  CASE WHEN len(a ->> '$.line[*]') > 0 THEN array_to_string(a ->> '$.line[*]', ', ') END || ', ' || (a ->> '$.city') AS value,
  a ->> '$.use' AS use
FROM (SELECT id, unnest(json_extract(address, '$[*]')) AS a FROM ${table})`,
  },
];
