/**
 * Compile-only checks of the Spark dialect (no cluster needed): every example view and
 * every conformance view compiles to Spark SQL that uses no DuckDB-only syntax, and the
 * dialect's literals and paths are escaped the way Spark reads them. Running that SQL
 * on Spark is the engine matrix's job (conformance.test.ts with MEDLAKE_TEST_ENGINES).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileView } from '../src/views/compile.js';
import { SparkDialect } from '../src/sql/dialects/spark.js';
import { DuckDBDialect } from '../src/sql/dialects/duckdb.js';
import { loadSuite, suiteAvailable } from './conformance/runner.js';
import { REPO_ROOT } from './helpers/lake-test-utils.js';

/** DuckDB syntax that must never reach Spark. */
const DUCKDB_ONLY = [
  /\bjson_extract(_string)?\(/,
  /\blist_(transform|filter|concat|slice|distinct|contains|aggregate|sort)\(/,
  /\blambda\b/,
  /\bunnest\(/,
  /\bEXCLUDE\b/,
  /"[A-Za-z_@][^"]*"\./, // double-quoted identifiers
  /\bfhir\."/,
  /::/,
];

function expectSparkOnly(sql: string): void {
  for (const re of DUCKDB_ONLY) expect(sql, `${re} in\n${sql.slice(0, 400)}`).not.toMatch(re);
}

describe('Spark dialect (compile only)', () => {
  const examples = path.join(REPO_ROOT, 'examples/views');
  it.each(readdirSync(examples).filter((f) => f.endsWith('.json')))(
    'example view %s compiles to Spark SQL',
    (f) => {
      const view = JSON.parse(readFileSync(path.join(examples, f), 'utf8')) as unknown;
      const { sql } = compileView(view, { dialect: new SparkDialect() });
      expect(sql).toMatch(/FROM `fhir_[A-Za-z]+` AS r/);
      expectSparkOnly(sql);
    },
  );

  it.skipIf(!suiteAvailable)(
    'every conformance view that compiles on DuckDB compiles for Spark',
    () => {
      let compiled = 0;
      for (const suite of loadSuite()) {
        for (const t of suite.tests) {
          if (t.expectError === true) continue;
          const { sql } = compileView(t.view, { dialect: new SparkDialect() });
          expectSparkOnly(sql);
          compiled++;
        }
      }
      expect(compiled).toBeGreaterThan(120);
    },
  );

  it('the DuckDB-only check does catch DuckDB SQL', () => {
    const view = JSON.parse(
      readFileSync(path.join(REPO_ROOT, 'examples/views/patient.json'), 'utf8'),
    ) as unknown;
    const { sql } = compileView(view, { dialect: new DuckDBDialect() });
    expect(DUCKDB_ONLY.some((re) => re.test(sql))).toBe(true);
  });

  it('escapes string literals the way Spark reads them (backslash is an escape)', () => {
    const d = new SparkDialect();
    expect(d.quoteString("it's")).toBe("'it\\'s'");
    expect(d.quoteString('a\\b')).toBe("'a\\\\b'");
    expect(d.quoteString('line\nbreak')).toBe("'line\\nbreak'");
    expect(d.quoteIdent('we`ird')).toBe('`we``ird`');
  });

  it('names exactly the given files in one Parquet glob, escaping glob characters', () => {
    const d = new SparkDialect();
    expect(d.sqlParquetScan(['/lake/a.parquet'])).toBe('parquet.`/lake/a.parquet`');
    expect(d.sqlParquetScan(['/lake/data/P/a.parquet', '/lake/data/P/p-2/b,c.parquet'])).toBe(
      'parquet.`/lake/data/P/{a.parquet,p-2/b\\,c.parquet}`',
    );
    expect(d.sqlParquetScan(['/l{x}/a.parquet', '/l{x}/b.parquet'])).toBe(
      'parquet.`/l\\{x\\}/{a.parquet,b.parquet}`',
    );
  });

  it('turns wildcard paths into nested transform/flatten over VARIANT arrays', () => {
    const d = new SparkDialect();
    const sql = d.sqlJsonExtractList('r.`name`', '$[*].given[*]');
    expect(sql).toContain("try_variant_get(parse_json(r.`name`), '$', 'array<variant>')");
    expect(sql).toContain("'$.given', 'array<variant>'");
    expect(sql).toMatch(/^transform\(filter\(flatten\(/);
  });
});
