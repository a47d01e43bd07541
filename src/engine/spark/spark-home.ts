/**
 * Finds the Spark distribution medlake uses: the pyspark package installed by
 * `npm run spark:install` (it bundles the full Spark jars), or one named by the user.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export class SparkNotInstalledError extends Error {
  readonly code = 'SPARK_NOT_INSTALLED';
  constructor(message: string) {
    super(message);
    this.name = 'SparkNotInstalledError';
  }
}

/** The medlake checkout or package folder (the nearest package.json named medlake). */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'medlake') {
          return dir;
        }
      } catch {
        // not ours; keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('medlake: cannot find the project folder (package.json)');
    dir = up;
  }
}

/** Folder of medlake's own Spark install (.spark under the project). */
export function sparkInstallDir(): string {
  return process.env['MEDLAKE_SPARK_DIR'] ?? path.join(projectRoot(), '.spark');
}

function isSparkHome(dir: string): boolean {
  return existsSync(path.join(dir, 'jars')) && existsSync(path.join(dir, 'bin', 'spark-class'));
}

/**
 * Spark home, in order: $MEDLAKE_SPARK_HOME, $SPARK_HOME, medlake's .spark/venv, the
 * pyspark of `python3` on the PATH. Throws SparkNotInstalledError saying what to run.
 */
export function findSparkHome(): string {
  for (const v of ['MEDLAKE_SPARK_HOME', 'SPARK_HOME']) {
    const dir = process.env[v];
    if (dir !== undefined && dir !== '') {
      if (isSparkHome(dir)) return dir;
      throw new SparkNotInstalledError(
        `$${v}=${dir} is not a Spark distribution (no jars/ or bin/spark-class)`,
      );
    }
  }
  const lib = path.join(sparkInstallDir(), 'venv', 'lib');
  if (existsSync(lib)) {
    for (const py of readdirSync(lib)) {
      const dir = path.join(lib, py, 'site-packages', 'pyspark');
      if (isSparkHome(dir)) return dir;
    }
  }
  try {
    const out = execFileSync(
      'python3',
      ['-c', 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    ).trim();
    if (isSparkHome(out)) return out;
  } catch {
    // no python3 or no pyspark: fall through to the error
  }
  throw new SparkNotInstalledError(
    'Spark is not installed: run `npm run spark:install` (pip installs pyspark into .spark/venv), or set MEDLAKE_SPARK_HOME',
  );
}

/** The Spark version of a distribution, from its spark-core jar name. */
export function sparkVersion(home: string): string {
  const jar = readdirSync(path.join(home, 'jars')).find((f) =>
    /^spark-core_[\d.]+-.+\.jar$/.test(f),
  );
  const m = jar === undefined ? null : /^spark-core_[\d.]+-(.+)\.jar$/.exec(jar);
  if (m === null) throw new SparkNotInstalledError(`${home}: no spark-core jar found`);
  return m[1]!;
}

/** `java` to run Spark with: $JAVA_HOME/bin/java, else the one on the PATH. */
export function javaCommand(): string {
  const home = process.env['JAVA_HOME'];
  if (home !== undefined && home !== '' && existsSync(path.join(home, 'bin', 'java'))) {
    return path.join(home, 'bin', 'java');
  }
  return 'java';
}
