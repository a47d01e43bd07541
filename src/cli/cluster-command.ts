/**
 * `medlake cluster start|stop|status`: a standalone Spark cluster on 127.0.0.1 for
 * development and CI. Thin: parse, call src/engine/spark/cluster.ts, render.
 */
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import {
  CLUSTER_DEFAULTS,
  clusterStatus,
  resolveClusterDir,
  startCluster,
  stopCluster,
} from '../engine/spark/cluster.js';
import type { ClusterInfo, ClusterStatus, StopResult } from '../engine/spark/cluster.js';

function intArg(name: string, min: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > 65535)
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to 65535`);
    return n;
  };
}

function memoryArg(v: string): string {
  if (!/^\d+[kmgt]b?$/i.test(v))
    throw new InvalidArgumentError('expected a Spark memory size such as 512m or 2g');
  return v;
}

function confArg(v: string, prev: Record<string, string> = {}): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq <= 0)
    throw new InvalidArgumentError('expected key=value, e.g. spark.sql.shuffle.partitions=8');
  return { ...prev, [v.slice(0, eq)]: v.slice(eq + 1) };
}

const dirOption = (): Option =>
  new Option(
    '--dir <dir>',
    `cluster folder: pids, logs, scratch (default: $MEDLAKE_CLUSTER_DIR or ./${CLUSTER_DEFAULTS.dirName})`,
  );

/** The --dir part of a hint, only when the folder is not the default one. */
function dirHint(dir: string): string {
  return dir === resolveClusterDir() ? '' : ` --dir ${JSON.stringify(dir)}`;
}

function renderStart(info: ClusterInfo): string {
  const secs = ((info.startupMs ?? 0) / 1000).toFixed(1);
  return [
    `Spark ${info.sparkVersion} cluster started in ${secs} s (folder ${info.dir})`,
    `  master   ${info.masterUrl}   web UI ${info.webUrl}`,
    `  workers  ${info.workers} × ${info.coresPerWorker} core(s), ${info.workerMemory}; executors ${info.executorMemory}`,
    `  connect  ${info.connectUrl}`,
    `use it:   export MEDLAKE_ENGINE=spark MEDLAKE_SPARK_URL=${info.connectUrl}`,
    `stop it:  medlake cluster stop${dirHint(info.dir)}`,
  ].join('\n');
}

function renderStop(r: StopResult): string {
  if (!r.wasRunning) return `no cluster running in ${r.dir}: nothing to stop`;
  const lines = [`stopped the cluster in ${r.dir} in ${(r.durationMs / 1000).toFixed(1)} s`];
  for (const p of r.stopped)
    lines.push(`  ${p.name.padEnd(9)} pid ${p.pid}${p.signal === 'SIGKILL' ? ' (killed)' : ''}`);
  for (const s of r.strays)
    lines.push(`  leftover JVM pid ${s.pid}${s.signal === 'SIGKILL' ? ' (killed)' : ''}`);
  return lines.join('\n');
}

function renderStatus(s: ClusterStatus): string {
  if (s.info === null && s.processes.length === 0) return `no cluster in ${s.dir}`;
  const lines = [`cluster in ${s.dir}: ${s.state}`];
  if (s.info !== null) {
    lines.push(`  master   ${s.info.masterUrl}   web UI ${s.info.webUrl}`);
    lines.push(
      `  connect  ${s.info.connectUrl} (${s.connectReachable ? 'reachable' : 'not reachable'})`,
    );
  }
  lines.push(
    `  workers  ${s.workersAlive ?? '?'} of ${s.workersExpected} ALIVE` +
      (s.application === null
        ? ''
        : `; application ${s.application.name} ${s.application.state}, ${s.application.cores} core(s)`),
  );
  for (const p of s.processes)
    lines.push(`  ${p.name.padEnd(9)} pid ${p.pid} ${p.running ? 'running' : 'stopped'}`);
  return lines.join('\n');
}

export function registerClusterCommand(program: Command): void {
  const out = (s: string): void => {
    process.stdout.write(s + '\n');
  };
  const cluster = program
    .command('cluster')
    .description('a standalone Spark cluster on 127.0.0.1 (master, workers, Spark Connect)');

  cluster
    .command('start')
    .description('start a master, workers and a Spark Connect server; wait until ready')
    .addOption(dirOption())
    .option('--workers <n>', 'number of workers', intArg('--workers', 1), CLUSTER_DEFAULTS.workers)
    .option(
      '--cores-per-worker <n>',
      'cores each worker offers',
      intArg('--cores-per-worker', 1),
      CLUSTER_DEFAULTS.coresPerWorker,
    )
    .option(
      '--worker-memory <size>',
      'memory each worker offers',
      memoryArg,
      CLUSTER_DEFAULTS.workerMemory,
    )
    .option(
      '--executor-memory <size>',
      'memory per executor',
      memoryArg,
      CLUSTER_DEFAULTS.executorMemory,
    )
    .option(
      '--driver-memory <size>',
      'memory of the Connect server',
      memoryArg,
      CLUSTER_DEFAULTS.driverMemory,
    )
    .option(
      '--master-port <port>',
      'master RPC port',
      intArg('--master-port', 1),
      CLUSTER_DEFAULTS.masterPort,
    )
    .option(
      '--web-port <port>',
      'master web UI port (workers use the next ones)',
      intArg('--web-port', 1),
      CLUSTER_DEFAULTS.masterWebPort,
    )
    .option(
      '--connect-port <port>',
      'Spark Connect port',
      intArg('--connect-port', 1),
      CLUSTER_DEFAULTS.connectPort,
    )
    .option('--conf <key=value>', 'extra Spark conf for the Connect server (repeatable)', confArg)
    .option(
      '--timeout <seconds>',
      'give up after this long',
      intArg('--timeout', 1),
      CLUSTER_DEFAULTS.timeoutMs / 1000,
    )
    .option('--json', 'print cluster.json instead of a summary')
    .action(
      async (opts: {
        dir?: string;
        workers: number;
        coresPerWorker: number;
        workerMemory: string;
        executorMemory: string;
        driverMemory: string;
        masterPort: number;
        webPort: number;
        connectPort: number;
        conf?: Record<string, string>;
        timeout: number;
        json?: boolean;
      }) => {
        // Ctrl-C while waiting: stop what was started instead of leaving detached JVMs.
        const controller = new AbortController();
        const onSigint = (): void => controller.abort();
        process.once('SIGINT', onSigint);
        try {
          const info = await startCluster({
            dir: resolveClusterDir(opts.dir),
            workers: opts.workers,
            coresPerWorker: opts.coresPerWorker,
            workerMemory: opts.workerMemory,
            executorMemory: opts.executorMemory,
            driverMemory: opts.driverMemory,
            masterPort: opts.masterPort,
            masterWebPort: opts.webPort,
            workerWebPortBase: opts.webPort + 1,
            connectPort: opts.connectPort,
            extraConf: opts.conf ?? {},
            timeoutMs: opts.timeout * 1000,
            signal: controller.signal,
            ...(opts.json === true ? {} : { onProgress: (m) => process.stderr.write(`${m}\n`) }),
          });
          out(opts.json === true ? JSON.stringify(info, null, 2) : renderStart(info));
        } finally {
          process.removeListener('SIGINT', onSigint);
        }
      },
    );

  cluster
    .command('stop')
    .description('stop the cluster started in the folder (only its own processes)')
    .addOption(dirOption())
    .option('--json', 'print the result as JSON')
    .action(async (opts: { dir?: string; json?: boolean }) => {
      const r = await stopCluster(opts.dir);
      out(opts.json === true ? JSON.stringify(r, null, 2) : renderStop(r));
    });

  cluster
    .command('status')
    .description('processes, URLs, workers ALIVE, Connect port reachable')
    .addOption(dirOption())
    .option('--json', 'print JSON')
    .action(async (opts: { dir?: string; json?: boolean }) => {
      const s = await clusterStatus(opts.dir);
      out(opts.json === true ? JSON.stringify(s, null, 2) : renderStatus(s));
    });
}
