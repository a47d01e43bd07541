/** Worker-thread entry: stages one share of a load's files (see stage.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { stageSources, type StageJob } from './stage.js';

const job = workerData as StageJob;
stageSources(job, (delta) => parentPort?.postMessage({ kind: 'progress', delta })).then(
  (result) => parentPort?.postMessage({ kind: 'done', result }),
  (err: unknown) =>
    parentPort?.postMessage({
      kind: 'error',
      message: err instanceof Error ? err.message : String(err),
      code: (err as { code?: string }).code,
      path: (err as { path?: string }).path,
    }),
);
