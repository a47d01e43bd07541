/**
 * One patient from start to finish (core history, core resources, then each part), shared
 * by the in-process loop of `synthesize` and the generator workers (synth-worker.ts).
 */
import { simulatePatient } from './patient-history.js';
import type { SynthWindow } from './patient-history.js';
import { patientResources } from './patient-resources.js';
import { partRandom } from './parts.js';
import type { PatientOutput, SynthPart, SynthRun } from './parts.js';
import { PRACTITIONERS_PER_SITE, makeSite, siteCount } from './shared-resources.js';
import type { JsonResource } from './shared-resources.js';
import { parseDay } from './dates.js';
import { localizeResource } from './region-cn.js';
import type { SynthArguments, TruthRecorder } from './truth.js';

export interface RunSetup {
  readonly run: SynthRun;
  /** Each site's shared resources (Organization, Location, Practitioners). */
  readonly siteResources: readonly { readonly resources: readonly JsonResource[] }[];
}

/** The window and the shared sites: fixed by the arguments. */
export function setUpRun(args: SynthArguments): RunSetup {
  const window: SynthWindow = { startDay: parseDay(args.start), endDay: parseDay(args.end) };
  const made = Array.from({ length: siteCount(args.patients) }, (_, i) =>
    makeSite(args.seed, i, args.region),
  );
  return { run: { args, window, sites: made.map((s) => s.site) }, siteResources: made };
}

export function generatePatient(
  index: number,
  run: SynthRun,
  parts: readonly SynthPart[],
  truth: TruthRecorder,
): PatientOutput {
  const { args, window, sites } = run;
  const history = simulatePatient(
    args.seed,
    index,
    window,
    sites.length,
    PRACTITIONERS_PER_SITE,
    truth,
    args.region,
    args.regionalExcess,
  );
  const out: PatientOutput = { history, resources: [] };
  patientResources(history, sites, (r) => out.resources.push(r), truth);
  for (const p of parts) p.patient(out, partRandom(args.seed, p.stream, index), run);
  // Region cn: code displays in Chinese (codes unchanged).
  if (args.region === 'cn') for (const r of out.resources) localizeResource(r);
  return out;
}
