/**
 * `npm run conformance`: runs the SQL-on-FHIR v2 suite and writes the official
 * test-report JSON (default docs/conformance-report.json, or
 * docs/conformance-report-<engine>.json with --engine spark; override with --out FILE).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runSuite, suiteAvailable, SUITE_DIR } from './runner.js';
import { KNOWN_ENGINES, type EngineName } from '../engines.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    engine: { type: 'string', default: 'duckdb' },
    verbose: { type: 'boolean' },
  },
});
if (!suiteAvailable) {
  console.error(`The conformance suite is not at ${SUITE_DIR}; nothing to run.`);
  process.exit(2);
}
const engine = values.engine as EngineName;
if (!(KNOWN_ENGINES as readonly string[]).includes(engine)) {
  console.error(`Unknown engine ${engine}; known: ${KNOWN_ENGINES.join(', ')}`);
  process.exit(2);
}
let passed = 0;
let failed = 0;
const report = await runSuite((file, test, r) => {
  if (r.passed) passed++;
  else {
    failed++;
    console.log(`FAIL ${file} › ${test.title}: ${r.reason ?? ''}`);
  }
}, engine);
const out =
  values.out ??
  path.join(
    'docs',
    engine === 'duckdb' ? 'conformance-report.json' : `conformance-report-${engine}.json`,
  );
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
console.log(`${passed} passed, ${failed} failed`);
console.log(`report written to ${out}`);
process.exitCode = failed === 0 ? 0 : 1;
