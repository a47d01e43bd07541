import type { Dialect, DialectFunction, SqlType } from '../dialect.js';

/**
 * Spark SQL (Spark 4). JSON values are JSON text (STRING), as in the lake's columns;
 * navigation parses them with `parse_json` into VARIANT and reads with
 * `try_variant_get`, whose JSONPath has no wildcards, so wildcard paths become nested
 * `transform`/`flatten` over `array<variant>`. Text keeps JSON values comparable
 * (VARIANT has no equality), so `array_distinct` and `array_contains` work on them.
 */
const SPARK_TYPE: Record<SqlType, string> = {
  VARCHAR: 'STRING',
  JSON: 'STRING',
  BOOLEAN: 'BOOLEAN',
  BIGINT: 'BIGINT',
  DOUBLE: 'DOUBLE',
  DATE: 'DATE',
  TIMESTAMP: 'TIMESTAMP',
};

/**
 * Function names that differ from the engine-neutral names in `DialectFunction`.
 * Functions needing more than a rename are built in `sqlFunction`.
 */
const FUNCTION_NAMES: Partial<Record<DialectFunction, string>> = {
  // Spark spells them without the underscore (Spark 3.3+).
  starts_with: 'startswith',
  ends_with: 'endswith',
  // 1-based, 0 when absent, like DuckDB's instr; the compiler subtracts 1.
  position: 'instr',
  ceiling: 'ceil',
};

export class SparkDialect implements Dialect {
  readonly name = 'spark';
  readonly supportsRaiseError = true;
  private lambdaCounter = 0;

  quoteIdent(name: string): string {
    return `\`${name.replaceAll('`', '``')}\``;
  }

  quoteString(value: string): string {
    // Spark string literals treat backslash as an escape character.
    return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\n', '\\n').replaceAll('\r', '\\r')}'`;
  }

  /** A lambda variable name no compiler-generated name uses. */
  private v(): string {
    return `jv${++this.lambdaCounter}_`;
  }

  private variant(json: string): string {
    return `parse_json(${json})`;
  }

  sqlJsonExtract(json: string, path: string): string {
    if (path === '$') return json;
    return `to_json(try_variant_get(${this.variant(json)}, ${this.quoteString(variantPath(path))}, 'variant'))`;
  }

  sqlJsonExtractString(json: string, path: string): string {
    // get_json_object keeps a number's text (1.0 stays 1.0; VARIANT would give 1), which
    // decimal precision needs, and reads without building a VARIANT.
    return `get_json_object(${json}, ${this.quoteString(variantPath(path))})`;
  }

  sqlJsonExtractList(json: string, path: string): string {
    const x = this.v();
    return `transform(${this.variantList(json, path)}, ${x} -> to_json(${x}))`;
  }

  sqlJsonExtractStringList(json: string, path: string): string {
    const x = this.v();
    return `transform(${this.variantList(json, path)}, ${x} -> try_variant_get(${x}, '$', 'string'))`;
  }

  /**
   * `array<variant>` of the values at a wildcard path: each `[*]` is a cast to
   * `array<variant>` (NULL when the value is not an array, so it is skipped, as DuckDB's
   * wildcard extraction skips it), flattened level by level; missing values are dropped.
   */
  private variantList(json: string, path: string): string {
    const parts = path.split('[*]');
    const last = parts.pop()!;
    let list = `try_variant_get(${this.variant(json)}, ${this.quoteString(variantPath(parts[0]!))}, 'array<variant>')`;
    for (const p of parts.slice(1)) {
      const x = this.v();
      const a = this.v();
      list = `flatten(filter(transform(${list}, ${x} -> try_variant_get(${x}, ${this.quoteString(variantPath(`$${p}`))}, 'array<variant>')), ${a} -> ${a} IS NOT NULL))`;
    }
    if (last !== '') {
      const x = this.v();
      list = `transform(${list}, ${x} -> try_variant_get(${x}, ${this.quoteString(variantPath(`$${last}`))}, 'variant'))`;
    }
    const y = this.v();
    return `filter(${list}, ${y} -> ${y} IS NOT NULL)`;
  }

  sqlJsonType(json: string): string {
    // From the first character of the (compact, valid) JSON text: cheaper than
    // schema_of_variant, which walks the whole value.
    return `CASE substr(${json}, 1, 1) WHEN '{' THEN 'OBJECT' WHEN '[' THEN 'ARRAY' WHEN '"' THEN 'VARCHAR' WHEN 't' THEN 'BOOLEAN' WHEN 'f' THEN 'BOOLEAN' WHEN 'n' THEN 'NULL' WHEN '' THEN NULL ELSE CASE WHEN ${json} RLIKE '^-?[0-9]+$' THEN 'BIGINT' ELSE 'DOUBLE' END END`;
  }

  sqlJsonArrayToList(json: string): string {
    const x = this.v();
    return `transform(try_variant_get(${this.variant(json)}, '$', 'array<variant>'), ${x} -> to_json(${x}))`;
  }

  sqlJsonToText(json: string): string {
    return json;
  }

  sqlJsonCast(json: string, sqlType: SqlType): string {
    if (sqlType === 'JSON') return json;
    if (sqlType === 'VARCHAR') return this.sqlJsonExtractString(json, '$');
    if (sqlType === 'DATE' || sqlType === 'TIMESTAMP') {
      return `try_cast(try_variant_get(${this.variant(json)}, '$', 'string') AS ${SPARK_TYPE[sqlType]})`;
    }
    return `try_variant_get(${this.variant(json)}, '$', ${this.quoteString(SPARK_TYPE[sqlType].toLowerCase())})`;
  }

  sqlTryCast(expr: string, sqlType: SqlType): string {
    return `try_cast(${expr} AS ${SPARK_TYPE[sqlType]})`;
  }

  sqlCast(expr: string, sqlType: SqlType): string {
    return `CAST(${expr} AS ${SPARK_TYPE[sqlType]})`;
  }

  sqlJsonLiteral(jsonText: string): string {
    return this.quoteString(jsonText);
  }

  sqlToJson(expr: string): string {
    // Scalars cast to VARIANT keep their JSON type (string, number, boolean).
    return `to_json(CAST(${expr} AS VARIANT))`;
  }

  sqlJsonObject(pairs: ReadonlyArray<readonly [string, string]>): string {
    const fields = pairs.map(([k, v]) => `${this.quoteString(k)}, ${this.variant(v)}`).join(', ');
    return `to_json(named_struct(${fields}), map('ignoreNullFields', 'false'))`;
  }

  sqlRowAsJson(alias: string): string {
    return `to_json(struct(${alias}.*))`;
  }

  sqlLambda(params: readonly string[], body: string): string {
    return params.length === 1 ? `${params[0]} -> ${body}` : `(${params.join(', ')}) -> ${body}`;
  }

  sqlLambdaIndex0(index: string): string {
    // Spark's transform/filter pass a 0-based index.
    return index;
  }

  sqlListTransform(list: string, lambda: string): string {
    return `transform(${list}, ${lambda})`;
  }

  sqlListFilter(list: string, lambda: string): string {
    return `filter(${list}, ${lambda})`;
  }

  sqlListFlatten(listOfLists: string): string {
    // Spark's flatten gives NULL when any inner list is NULL; DuckDB skips them.
    const a = this.v();
    return `flatten(filter(${listOfLists}, ${a} -> ${a} IS NOT NULL))`;
  }

  sqlListConcat(lists: readonly string[]): string {
    if (lists.length === 1) return lists[0]!;
    // Spark's concat gives NULL when any list is NULL; a missing list is empty here.
    return `concat(${lists.map((l) => `coalesce(${l}, array())`).join(', ')})`;
  }

  sqlListValue(items: readonly string[], elementType?: SqlType): string {
    if (items.length === 0) return this.sqlEmptyList(elementType ?? 'JSON');
    return `array(${items.join(', ')})`;
  }

  sqlEmptyList(elementType: SqlType): string {
    return `CAST(array() AS ARRAY<${SPARK_TYPE[elementType]}>)`;
  }

  sqlListLength(list: string): string {
    // size(NULL) is -1 or NULL depending on spark.sql.legacy.sizeOfNull; both become 0.
    return `greatest(coalesce(size(${list}), 0), 0)`;
  }

  sqlListElement(list: string, index0: string): string {
    // get() is 0-based and NULL when out of range.
    return `get(${list}, CAST(${index0} AS INT))`;
  }

  sqlListSlice(list: string, from0: string, count: string | null): string {
    const start = `CAST(greatest(${from0}, 0) + 1 AS INT)`;
    const n = count === null ? `greatest(size(${list}), 0)` : `greatest(${count}, 0)`;
    return `slice(${list}, ${start}, CAST(${n} AS INT))`;
  }

  sqlListDistinct(list: string): string {
    return `array_distinct(${list})`;
  }

  sqlListContains(list: string, value: string): string {
    return `array_contains(${list}, ${value})`;
  }

  sqlListJoin(list: string, separator: string): string {
    return `array_join(${list}, ${separator})`;
  }

  sqlListAggregate(
    list: string,
    fn: 'sum' | 'min' | 'max' | 'avg' | 'bool_and' | 'bool_or',
  ): string {
    const acc = this.v();
    const x = this.v();
    // NULL items are ignored and an empty list gives NULL, as SQL aggregates do.
    switch (fn) {
      case 'min':
        return `array_min(${list})`;
      case 'max':
        return `array_max(${list})`;
      case 'sum':
        return `aggregate(${list}, CAST(NULL AS DOUBLE), (${acc}, ${x}) -> CASE WHEN ${x} IS NULL THEN ${acc} ELSE coalesce(${acc}, 0) + ${x} END)`;
      case 'avg':
        return `aggregate(${list}, named_struct('s', CAST(0 AS DOUBLE), 'n', 0L), (${acc}, ${x}) -> CASE WHEN ${x} IS NULL THEN ${acc} ELSE named_struct('s', ${acc}.s + ${x}, 'n', ${acc}.n + 1) END, ${acc} -> CASE WHEN ${acc}.n = 0 THEN NULL ELSE ${acc}.s / ${acc}.n END)`;
      case 'bool_and':
      case 'bool_or':
        return `aggregate(${list}, CAST(NULL AS BOOLEAN), (${acc}, ${x}) -> CASE WHEN ${x} IS NULL THEN ${acc} WHEN ${acc} IS NULL THEN ${x} ELSE ${acc} ${fn === 'bool_and' ? 'AND' : 'OR'} ${x} END)`;
    }
  }

  sqlListSort(list: string): string {
    return `array_sort(${list})`;
  }

  sqlStruct(fields: ReadonlyArray<readonly [string, string]>): string {
    return `named_struct(${fields.map(([k, v]) => `${this.quoteString(k)}, ${v}`).join(', ')})`;
  }

  sqlStructField(struct: string, field: string): string {
    return `${struct}.${this.quoteIdent(field)}`;
  }

  sqlRaiseError(message: string, sqlType: SqlType): string {
    return `CAST(raise_error(${this.quoteString(message)}) AS ${SPARK_TYPE[sqlType]})`;
  }

  sqlUnnestLevel(
    source: string,
    alias: string,
    list: string,
    value: string,
    ordinal: string,
    outer: boolean,
  ): string {
    // OUTER keeps a row with NULL value (and NULL position, reported as 1) for an empty list.
    const u = `u${++this.lambdaCounter}_`;
    return `SELECT ${alias}.*, ${u}.v AS ${value}, coalesce(${u}.p, 0) + 1 AS ${ordinal} FROM ${source} AS ${alias} LATERAL VIEW ${outer ? 'OUTER ' : ''}posexplode(${list}) ${u} AS p, v`;
  }

  sqlRegexpReplaceAll(text: string, pattern: string, replacement: string): string {
    // Spark's regexp_replace replaces every match.
    return `regexp_replace(${text}, ${pattern}, ${replacement})`;
  }

  sqlTodayText(): string {
    return "date_format(current_date(), 'yyyy-MM-dd')";
  }

  sqlNowText(): string {
    return "date_format(current_timestamp(), 'yyyy-MM-dd\\'T\\'HH:mm:ss.SSSXXX')";
  }

  sqlLastDayOfMonthText(yearMonth: string): string {
    return `date_format(last_day(to_date(concat(${yearMonth}, '-01'))), 'dd')`;
  }

  sqlFunction(name: DialectFunction, args: readonly string[]): string {
    switch (name) {
      case 'concat':
        // DuckDB's concat skips NULLs; Spark's returns NULL, concat_ws('') skips them.
        return `concat_ws('', ${args.join(', ')})`;
      case 'regexp_matches':
        // A full match, like DuckDB's regexp_full_match; Spark's regexp_like finds.
        return `regexp_like(${args[0]}, concat('^(?:', ${args[1]}, ')\\\\z'))`;
      case 'split':
        // Spark's split takes a regular expression; \\Q…\\E makes the separator literal.
        return `split(${args[0]}, concat('\\\\Q', ${args[1]}, '\\\\E'), -1)`;
      case 'trunc':
        // Spark's trunc is for dates; a cast truncates numbers toward zero.
        return `CAST(CAST(${args[0]} AS BIGINT) AS DOUBLE)`;
      default:
        return `${FUNCTION_NAMES[name] ?? name}(${args.join(', ')})`;
    }
  }

  sqlResourceTable(resourceType: string): string {
    // Temporary views are session-scoped and cannot live in a database, so the type name
    // carries a prefix (DuckDB puts them in schema fhir). See SparkLake registration.
    return this.quoteIdent(`fhir_${resourceType}`);
  }

  sqlViewTable(name: string): string {
    return this.quoteIdent(name);
  }

  sqlSessionSetup(): string[] {
    return [
      // Unrolled `repeat` nests lambdas deeply; the analyzer's default of 100 rounds is
      // not enough to resolve them.
      'SET spark.sql.analyzer.maxIterations=1000',
      // Files of one type written by different loads may have different columns.
      'SET spark.sql.parquet.mergeSchema=true',
    ];
  }

  sqlCreateView(table: string, query: string): string {
    // Temporary: session-scoped, so sessions on a shared cluster do not see each other's lakes.
    return `CREATE OR REPLACE TEMPORARY VIEW ${table} AS ${query}`;
  }

  sqlParquetScan(files: readonly string[]): string {
    // One Hadoop glob names exactly these files: their common folder, then {a,b}
    // alternatives relative to it (a pattern starting with `{` would be read as relative).
    const escape = (p: string): string => p.replace(/[\\{}[\]*?,]/g, (c) => `\\${c}`);
    if (files.length === 1) return `parquet.${this.quoteIdent(escape(files[0]!))}`;
    const parts = files.map((f) => f.split('/'));
    let common = 0;
    const first = parts[0]!;
    while (
      common < first.length - 1 &&
      parts.every((p) => common < p.length - 1 && p[common] === first[common])
    ) {
      common++;
    }
    const base = first.slice(0, common).join('/');
    const rels = parts.map((p) => escape(p.slice(common).join('/')));
    return `parquet.${this.quoteIdent(`${escape(base)}/{${rels.join(',')}}`)}`;
  }

  sqlLimit(n: number): string {
    return `LIMIT ${Math.trunc(n)}`;
  }
}

/** A compiler JSONPath segment (`."key"` for unusual keys) in Spark's variant path syntax. */
function variantPath(path: string): string {
  return path.replace(
    /\."((?:[^"\\]|\\.)*)"/g,
    (_m, key: string) => `['${key.replaceAll('\\"', '"').replaceAll("'", "\\'")}']`,
  );
}
