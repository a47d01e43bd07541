/**
 * The official SQL-on-FHIR v2 conformance suite (all 144 cases, experimental ones
 * included) on every test engine. Skipped by name when ../shared is not present.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  engineFor,
  loadSuite,
  runCase,
  suiteAvailable,
  type SuiteFile,
} from './conformance/runner.js';
import { skippedEngines, testEngines } from './engines.js';

const suites: SuiteFile[] = suiteAvailable ? loadSuite() : [];

describe.skipIf(!suiteAvailable).each(testEngines())(
  'SQL-on-FHIR v2 conformance suite (../shared/sql-on-fhir-tests) on %s',
  (engineName) => {
    it('has all 144 cases', () => {
      expect(suites.reduce((a, s) => a + s.tests.length, 0)).toBe(144);
    });

    describe.each(suites.map((s) => [s.file, s] as const))('%s', (_file, suite) => {
      let env: Awaited<ReturnType<typeof engineFor>>;
      beforeAll(async () => {
        env = await engineFor(suite, engineName);
      });
      afterAll(async () => {
        await env.close();
      });
      it.each(suite.tests.map((t) => [t.title, t] as const))('%s', async (_title, test) => {
        const result = await runCase(env.engine, env.columnsOf, test);
        expect(result.reason ?? 'passed').toBe('passed');
      });
      // The row-list strategy for unionAll (used beyond 16 UNION ALL parts) must agree too.
      it.each(
        suite.tests
          .filter((t) => JSON.stringify(t.view).includes('unionAll'))
          .map((t) => [t.title, t] as const),
      )('%s (unionAll as row lists)', async (_title, test) => {
        const result = await runCase(env.engine, env.columnsOf, test, 'rows');
        expect(result.reason ?? 'passed').toBe('passed');
      });
    });
  },
);

for (const { name, reason } of skippedEngines()) {
  describe.skip(`SQL-on-FHIR v2 conformance suite on ${name} (skipped: ${reason})`, () => {
    it('runs all 144 cases', () => {});
  });
}
