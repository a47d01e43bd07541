/**
 * `npm run demo`: the main job on the embedded engine, end to end. Generates a small
 * synthetic FHIR population (Bulk Data NDJSON), loads it into a lake (./medlake-data by
 * default), runs every example view and prints the first rows, materialises the views
 * and answers one SQL question over them.
 *
 *   npm run demo -- --patients 2000 --lake ./my-lake
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateBenchData } from '../bench/generate-data.js';
import {
  compileView,
  LakeSession,
  loadIntoLake,
  materializeViews,
  resolveLakeDir,
} from '../src/index.js';
import type { Row } from '../src/index.js';

const { values } = parseArgs({
  options: {
    patients: { type: 'string', default: '1000' },
    lake: { type: 'string' },
    seed: { type: 'string', default: '1' },
    rows: { type: 'string', default: '5' },
  },
});
const patients = Number(values.patients);
const shown = Number(values.rows);
const lakeDir = resolveLakeDir(values.lake);
const dataDir = path.join(lakeDir, '..', '.medlake-demo-source');

function table(rows: readonly Row[], columns: readonly string[]): string {
  const cell = (v: unknown): string => {
    const s =
      v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    return s.length > 28 ? `${s.slice(0, 27)}…` : s;
  };
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join(' │ ');
  return [
    line([...columns]),
    widths.map((w) => '─'.repeat(w)).join('─┼─'),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}

const t0 = Date.now();
console.log(`medlake demo: ${patients} synthetic patients → ${lakeDir}\n`);
const gen = await generateBenchData({
  outDir: dataDir,
  resources: patients * 50,
  seed: Number(values.seed),
});
console.log(
  `generated ${Object.values(gen.counts).reduce((a, b) => a + b, 0)} FHIR resources (${(gen.bytes / 1e6).toFixed(1)} MB NDJSON)`,
);

const load = await loadIntoLake(lakeDir, [dataDir]);
console.log(
  `loaded into the lake in ${(load.durationMs / 1000).toFixed(1)} s: ${load.added} added, ${load.updated} updated, ${load.unchanged} unchanged, ${load.quarantined} quarantined\n`,
);

const viewsDir = path.join(
  path.dirname(new URL(import.meta.url).pathname),
  '..',
  'examples',
  'views',
);
const files = readdirSync(viewsDir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const session = await LakeSession.open(lakeDir);
try {
  for (const f of files) {
    const view = JSON.parse(readFileSync(path.join(viewsDir, f), 'utf8')) as { title?: string };
    const compiled = compileView(view, {
      dialect: session.engine.dialect,
      columnsOf: session.columnsOf,
      limit: shown,
    });
    const started = Date.now();
    const { rows } = await session.sql(compiled.sql);
    const total = await session.sql(
      `SELECT count(*) AS n FROM (${compileView(view, { dialect: session.engine.dialect, columnsOf: session.columnsOf }).sql})`,
    );
    console.log(
      `▸ examples/views/${f} — ${view.title ?? ''} (${String(total.rows[0]?.['n'])} rows, ${Date.now() - started} ms)`,
    );
    console.log(
      table(
        rows,
        compiled.columns.map((c) => c.name),
      ),
    );
    console.log('');
  }
} finally {
  await session.close();
}

const materialized = await materializeViews(
  lakeDir,
  files.map((f) => ({
    view: JSON.parse(readFileSync(path.join(viewsDir, f), 'utf8')) as unknown,
    source: path.join('examples', 'views', f),
  })),
);
console.log(
  `materialised ${materialized.length} views as tables: ${materialized.map((m) => m.name).join(', ')}`,
);
const question = `SELECT p.gender, c.display AS condition, count(DISTINCT c.patient_id) AS patients
FROM condition c JOIN patient p ON p.id = c.patient_id
GROUP BY ALL ORDER BY patients DESC, condition LIMIT 8`;
const q = await LakeSession.open(lakeDir);
try {
  const r = await q.sql(question);
  console.log(`\nmedlake sql "${question.replaceAll('\n', ' ')}"`);
  console.log(
    table(
      r.rows,
      r.columns.map((c) => c.name),
    ),
  );
} finally {
  await q.close();
}
console.log(`\ndone in ${((Date.now() - t0) / 1000).toFixed(1)} s. Next:`);
console.log(`  npx medlake lake info --lake ${path.relative(process.cwd(), lakeDir) || '.'}`);
console.log(
  `  npx medlake view run examples/views/observation.json --lake ${path.relative(process.cwd(), lakeDir) || '.'} --format csv --limit 10`,
);
if (!existsSync(path.join(lakeDir, 'manifest.json'))) process.exitCode = 1;
