/**
 * `npm run demo`: the main job on the embedded engine, end to end. Generates a synthetic
 * population with `medlake synth` straight into a lake (./medlake-data by default, as
 * `medlake synth --lake`), runs every example view and prints the first rows, materialises
 * the views, answers one SQL question over them and checks one number against the
 * generator's truth.json.
 *
 *   npm run demo -- --patients 2000 --lake ./my-lake
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { compileView, LakeSession, materializeViews, resolveLakeDir } from '../src/index.js';
import type { Row } from '../src/index.js';
import type { Truth } from '../src/synth/index.js';
import { synthesizeIntoLake } from '../src/synth/write-lake.js';

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
const { synth, load } = await synthesizeIntoLake(lakeDir, {
  patients,
  seed: Number(values.seed),
});
console.log(
  `medlake synth --patients ${patients} --seed ${values.seed} --lake: ${Object.values(synth.resources).reduce((a, b) => a + b, 0)} FHIR resources (${(synth.bytes / 1e6).toFixed(1)} MB of JSON) generated and loaded in ${(load.durationMs / 1000).toFixed(1)} s: ${load.added} added, ${load.updated} updated, ${load.unchanged} unchanged, ${load.quarantined} quarantined; truth in ${path.relative(process.cwd(), synth.truthFile)}\n`,
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
    const n = Number(total.rows[0]?.['n'] ?? 0);
    console.log(
      `▸ examples/views/${f} — ${view.title ?? ''} (${n} rows, ${Date.now() - started} ms)`,
    );
    // A view over a resource type the generator does not make yet (e.g. MedicationRequest).
    if (n === 0) console.log('(no rows yet)');
    else
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

  // One realised number from truth.json, recounted from the lake through the views.
  const truth = JSON.parse(readFileSync(synth.truthFile, 'utf8')) as Truth;
  const bands = truth.realised.conditions['hypertension']?.prevalenceAtEnd ?? [];
  const alive = bands.reduce((a, b) => a + b.alive, 0);
  const withHtn = bands.reduce((a, b) => a + b.withCondition, 0);
  const code = '59621000'; // SNOMED CT Essential hypertension, the code synth writes
  const lake = await q.sql(`SELECT count(*) FILTER (WHERE NOT coalesce(p.deceased, FALSE)) AS alive,
    count(*) FILTER (WHERE NOT coalesce(p.deceased, FALSE) AND p.id IN
      (SELECT patient_id FROM condition WHERE code = '${code}')) AS with_htn
    FROM patient p`);
  const la = Number(lake.rows[0]?.['alive']);
  const lh = Number(lake.rows[0]?.['with_htn']);
  const pct = (a: number, b: number): string => `${((100 * a) / Math.max(1, b)).toFixed(1)}%`;
  console.log(
    `\nhypertension prevalence among the living at ${truth.arguments.end}: truth.json ${pct(withHtn, alive)} (${withHtn}/${alive}), lake ${pct(lh, la)} (${lh}/${la})` +
      (lh === withHtn && la === alive
        ? ' ✓'
        : ' (differs: the lake holds other loads too; use --lake with a fresh folder)'),
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
