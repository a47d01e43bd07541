/**
 * A SQL dialect: capability flags plus small `sql*` builders. Every piece of SQL text
 * that differs between engines is produced here, so the view compiler and the
 * analyses stay engine-neutral (DESIGN.md, "Many engines through one Dialect").
 *
 * Values of FHIR elements are JSON (the lake keeps every top-level element as JSON
 * text); collections are SQL lists.
 */
export interface Dialect {
  readonly name: string;
  /** Engine can raise an error from inside an expression (used for FHIRPath cardinality errors). */
  readonly supportsRaiseError: boolean;

  quoteIdent(name: string): string;
  quoteString(value: string): string;

  /** Scalar JSON value at a JSONPath (no wildcards), or NULL when absent. */
  sqlJsonExtract(json: string, path: string): string;
  /** Text of a scalar JSON value at a JSONPath (strings unquoted), or NULL. */
  sqlJsonExtractString(json: string, path: string): string;
  /** List of JSON values at a JSONPath with wildcards; missing values are skipped. */
  sqlJsonExtractList(json: string, path: string): string;
  /** List of texts of the JSON values at a wildcard JSONPath. */
  sqlJsonExtractStringList(json: string, path: string): string;
  /** JSON type name of a value: 'ARRAY', 'OBJECT', 'VARCHAR', 'BOOLEAN', 'BIGINT', 'UBIGINT', 'DOUBLE', 'NULL'. */
  sqlJsonType(json: string): string;
  /** The elements of a JSON array value as a list of JSON. */
  sqlJsonArrayToList(json: string): string;
  /** A JSON value written as text (for JSON-typed output columns). */
  sqlJsonToText(json: string): string;
  /** Converts a scalar JSON value to a SQL type ('VARCHAR', 'BOOLEAN', 'BIGINT', 'DOUBLE'). */
  sqlJsonCast(json: string, sqlType: SqlType): string;
  /** Casts a SQL value to a SQL type; NULL when the value cannot be converted. */
  sqlTryCast(expr: string, sqlType: SqlType): string;
  sqlCast(expr: string, sqlType: SqlType): string;
  /** A JSON text literal (already valid JSON). */
  sqlJsonLiteral(jsonText: string): string;
  /** Wraps a SQL scalar (VARCHAR, number, boolean) as a JSON value. */
  sqlToJson(expr: string): string;

  /** A JSON object from [key, JSON value] pairs; NULL values are kept as JSON null. */
  sqlJsonObject(pairs: ReadonlyArray<readonly [string, string]>): string;
  /** A whole table row (alias) as a JSON object. */
  sqlRowAsJson(alias: string): string;

  /** `(params) -> body` in the engine's lambda syntax. */
  sqlLambda(params: readonly string[], body: string): string;
  /** The 0-based position from a two-parameter lambda's index parameter. */
  sqlLambdaIndex0(index: string): string;
  sqlListTransform(list: string, lambda: string): string;
  sqlListFilter(list: string, lambda: string): string;
  sqlListFlatten(listOfLists: string): string;
  sqlListConcat(lists: readonly string[]): string;
  sqlListValue(items: readonly string[], elementType?: SqlType): string;
  sqlEmptyList(elementType: SqlType): string;
  /** Number of elements; 0 for NULL. */
  sqlListLength(list: string): string;
  /** 0-based element access; NULL when out of range. */
  sqlListElement(list: string, index0: string): string;
  sqlListSlice(list: string, from0: string, count: string | null): string;
  sqlListDistinct(list: string): string;
  sqlListContains(list: string, value: string): string;
  sqlListJoin(list: string, separator: string): string;
  /** Aggregate over a list: 'sum' | 'min' | 'max' | 'avg' | 'bool_and' | 'bool_or'. */
  sqlListAggregate(
    list: string,
    fn: 'sum' | 'min' | 'max' | 'avg' | 'bool_and' | 'bool_or',
  ): string;
  sqlListSort(list: string): string;

  /** A struct (row) value with named fields; `types` when known so branches line up. */
  sqlStruct(fields: ReadonlyArray<readonly [string, string]>): string;
  sqlStructField(struct: string, field: string): string;

  /** Raises `message` when evaluated; typed as `sqlType`. */
  sqlRaiseError(message: string, sqlType: SqlType): string;

  /**
   * One unnest level: a SELECT over `source` (a relation, visible as `alias` inside
   * `list`) with every column of the source plus `value` (each item of `list`) and
   * `ordinal` (its 1-based position). Rows whose list is empty disappear, unless `outer`,
   * which keeps one row with a NULL value and ordinal 1.
   */
  sqlUnnestLevel(
    source: string,
    alias: string,
    list: string,
    value: string,
    ordinal: string,
    outer: boolean,
  ): string;

  /** Replaces every match of a regular expression. */
  sqlRegexpReplaceAll(text: string, pattern: string, replacement: string): string;
  /** Today's date as `YYYY-MM-DD` text, and now as an ISO 8601 dateTime with zone. */
  sqlTodayText(): string;
  sqlNowText(): string;
  /** Two-digit day of the last day of the month of a `YYYY-MM` text. */
  sqlLastDayOfMonthText(yearMonth: string): string;

  /** String functions (FHIRPath semantics for 0-based indexes are handled by the compiler). */
  sqlFunction(name: DialectFunction, args: readonly string[]): string;

  /** Table reference for a resource type's lake table (a view the engine registers). */
  sqlResourceTable(resourceType: string): string;
  /** Table reference for a materialised view (`view materialize`) registered by name. */
  sqlViewTable(name: string): string;
  /** Statements a query session runs once before registering tables. */
  sqlSessionSetup(): string[];
  /** A session view over a query (replacing one of the same name). */
  sqlCreateView(table: string, query: string): string;
  /** A relation reading Parquet files whose schemas may differ (columns matched by name). */
  sqlParquetScan(files: readonly string[]): string;
  /** `LIMIT n` clause text. */
  sqlLimit(n: number): string;
}

export type SqlType = 'VARCHAR' | 'BOOLEAN' | 'BIGINT' | 'DOUBLE' | 'JSON' | 'DATE' | 'TIMESTAMP';

/** Engine-neutral names of the scalar functions the compiler uses; each dialect maps them. */
export const DialectFunction = {
  Length: 'length',
  Upper: 'upper',
  Lower: 'lower',
  Substring: 'substring',
  StartsWith: 'starts_with',
  EndsWith: 'ends_with',
  Contains: 'contains',
  Position: 'position',
  Replace: 'replace',
  RegexpMatches: 'regexp_matches',
  RegexpReplace: 'regexp_replace',
  Trim: 'trim',
  Concat: 'concat',
  Abs: 'abs',
  Ceiling: 'ceiling',
  Floor: 'floor',
  Round: 'round',
  Sqrt: 'sqrt',
  Ln: 'ln',
  Log10: 'log10',
  Exp: 'exp',
  Power: 'power',
  Truncate: 'trunc',
  LastDayOfMonth: 'last_day',
  SplitPart: 'split_part',
  Split: 'split',
  Reverse: 'reverse',
} as const;
export type DialectFunction = (typeof DialectFunction)[keyof typeof DialectFunction];
