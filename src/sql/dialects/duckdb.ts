import type { Dialect, DialectFunction, SqlType } from '../dialect.js';

/**
 * Function names that differ from the engine-neutral names in `DialectFunction`.
 * Each entry says why it is not the default.
 */
const FUNCTION_NAMES: Partial<Record<DialectFunction, string>> = {
  // DuckDB's `contains` is the string containment test FHIRPath wants.
  contains: 'contains',
  // DuckDB spells it `instr` (1-based, 0 when absent); the compiler subtracts 1.
  position: 'instr',
  // DuckDB's split returns a list, as FHIRPath split() needs.
  split: 'string_split',
  regexp_matches: 'regexp_full_match',
};

export class DuckDBDialect implements Dialect {
  readonly name = 'duckdb';
  readonly supportsRaiseError = true;

  quoteIdent(name: string): string {
    return `"${name.replaceAll('"', '""')}"`;
  }

  quoteString(value: string): string {
    return `'${value.replaceAll("'", "''")}'`;
  }

  sqlJsonExtract(json: string, path: string): string {
    return `json_extract(${json}, ${this.quoteString(path)})`;
  }

  sqlJsonExtractString(json: string, path: string): string {
    return `json_extract_string(${json}, ${this.quoteString(path)})`;
  }

  sqlJsonExtractList(json: string, path: string): string {
    return `json_extract(${json}, ${this.quoteString(path)})`;
  }

  sqlJsonExtractStringList(json: string, path: string): string {
    return `json_extract_string(${json}, ${this.quoteString(path)})`;
  }

  sqlJsonType(json: string): string {
    return `json_type(${json})`;
  }

  sqlJsonArrayToList(json: string): string {
    return `json_extract(${json}, '$[*]')`;
  }

  sqlJsonToText(json: string): string {
    return `CAST(${json} AS VARCHAR)`;
  }

  sqlJsonCast(json: string, sqlType: SqlType): string {
    if (sqlType === 'VARCHAR') return `(${json} ->> '$')`;
    if (sqlType === 'JSON') return json;
    // TRY_CAST so that a value of the wrong JSON type is empty rather than an error.
    return `TRY_CAST(${json} AS ${sqlType})`;
  }

  sqlTryCast(expr: string, sqlType: SqlType): string {
    return `TRY_CAST(${expr} AS ${sqlType})`;
  }

  sqlCast(expr: string, sqlType: SqlType): string {
    return `CAST(${expr} AS ${sqlType})`;
  }

  sqlJsonLiteral(jsonText: string): string {
    return `CAST(${this.quoteString(jsonText)} AS JSON)`;
  }

  sqlToJson(expr: string): string {
    return `to_json(${expr})`;
  }

  sqlJsonObject(pairs: ReadonlyArray<readonly [string, string]>): string {
    return `json_object(${pairs.map(([k, v]) => `${this.quoteString(k)}, ${v}`).join(', ')})`;
  }

  sqlRowAsJson(alias: string): string {
    return `to_json(${alias})`;
  }

  sqlLambda(params: readonly string[], body: string): string {
    return `lambda ${params.join(', ')}: ${body}`;
  }

  sqlLambdaIndex0(index: string): string {
    // DuckDB passes a 1-based index to list_transform/list_filter lambdas.
    return `(${index} - 1)`;
  }

  sqlListTransform(list: string, lambda: string): string {
    return `list_transform(${list}, ${lambda})`;
  }

  sqlListFilter(list: string, lambda: string): string {
    return `list_filter(${list}, ${lambda})`;
  }

  sqlListFlatten(listOfLists: string): string {
    return `flatten(${listOfLists})`;
  }

  sqlListConcat(lists: readonly string[]): string {
    if (lists.length === 1) return lists[0]!;
    return `list_concat(${lists.join(', ')})`;
  }

  sqlListValue(items: readonly string[], elementType?: SqlType): string {
    if (items.length === 0) return this.sqlEmptyList(elementType ?? 'JSON');
    return `[${items.join(', ')}]`;
  }

  sqlEmptyList(elementType: SqlType): string {
    return `CAST([] AS ${elementType}[])`;
  }

  sqlListLength(list: string): string {
    return `coalesce(len(${list}), 0)`;
  }

  sqlListElement(list: string, index0: string): string {
    // DuckDB lists are 1-based; out-of-range access yields NULL.
    return `(${list})[(${index0}) + 1]`;
  }

  sqlListSlice(list: string, from0: string, count: string | null): string {
    const end = count === null ? `len(${list})` : `(${from0}) + (${count})`;
    return `list_slice(${list}, (${from0}) + 1, ${end})`;
  }

  sqlListDistinct(list: string): string {
    return `list_distinct(${list})`;
  }

  sqlListContains(list: string, value: string): string {
    return `list_contains(${list}, ${value})`;
  }

  sqlListJoin(list: string, separator: string): string {
    return `array_to_string(${list}, ${separator})`;
  }

  sqlListAggregate(
    list: string,
    fn: 'sum' | 'min' | 'max' | 'avg' | 'bool_and' | 'bool_or',
  ): string {
    return `list_aggregate(${list}, ${this.quoteString(fn)})`;
  }

  sqlListSort(list: string): string {
    return `list_sort(${list})`;
  }

  sqlStruct(fields: ReadonlyArray<readonly [string, string]>): string {
    return `{${fields.map(([k, v]) => `${this.quoteString(k)}: ${v}`).join(', ')}}`;
  }

  sqlStructField(struct: string, field: string): string {
    return `${struct}.${this.quoteIdent(field)}`;
  }

  sqlRaiseError(message: string, sqlType: SqlType): string {
    return `CAST(error(${this.quoteString(message)}) AS ${sqlType})`;
  }

  sqlUnnestLevel(
    source: string,
    alias: string,
    list: string,
    value: string,
    ordinal: string,
    outer: boolean,
  ): string {
    // Unnest in the select list of a derived table, not a LATERAL join: DuckDB plans the
    // latter as a delim join that hashes the unnested column and runs single-threaded.
    const l = '"@list"';
    const items = outer ? `CASE WHEN coalesce(len(${l}), 0) = 0 THEN [NULL] ELSE ${l} END` : l;
    return `SELECT q.* EXCLUDE (${l}), unnest(${items}) AS ${value}, generate_subscripts(${items}, 1) AS ${ordinal} FROM (SELECT ${alias}.*, ${list} AS ${l} FROM ${source} AS ${alias}) AS q`;
  }

  sqlRegexpReplaceAll(text: string, pattern: string, replacement: string): string {
    // DuckDB replaces only the first match unless given the 'g' option.
    return `regexp_replace(${text}, ${pattern}, ${replacement}, 'g')`;
  }

  sqlTodayText(): string {
    return "strftime(current_date, '%Y-%m-%d')";
  }

  sqlNowText(): string {
    return "strftime(now(), '%Y-%m-%dT%H:%M:%S.%g%z')";
  }

  sqlLastDayOfMonthText(yearMonth: string): string {
    return `strftime(last_day(CAST(${yearMonth} || '-01' AS DATE)), '%d')`;
  }

  sqlFunction(name: DialectFunction, args: readonly string[]): string {
    return `${FUNCTION_NAMES[name] ?? name}(${args.join(', ')})`;
  }

  sqlResourceTable(resourceType: string): string {
    // Resource tables live in their own schema (see Lake.register).
    return `fhir.${this.quoteIdent(resourceType)}`;
  }

  sqlViewTable(name: string): string {
    return `main.${this.quoteIdent(name)}`;
  }

  sqlSessionSetup(): string[] {
    // Resource tables in their own schema: DuckDB matches names without regard to case,
    // so a view named `patient` and the type `Patient` would otherwise collide.
    return ['CREATE SCHEMA IF NOT EXISTS fhir', "SET search_path = 'main,fhir'"];
  }

  sqlCreateView(table: string, query: string): string {
    return `CREATE OR REPLACE VIEW ${table} AS ${query}`;
  }

  sqlParquetScan(files: readonly string[]): string {
    return `read_parquet([${files.map((f) => this.quoteString(f)).join(', ')}], union_by_name = true)`;
  }

  sqlLimit(n: number): string {
    return `LIMIT ${Math.trunc(n)}`;
  }
}
