/**
 * Generates the Spark Connect protocol descriptor medlake's Spark client loads at run
 * time: reads the `.proto` sources shipped inside the installed Spark's
 * `spark-connect_*.jar`, resolves them with protobufjs and writes
 * `<sparkInstallDir()>/spark-connect-proto.json` (with the Spark version it came from).
 * Run by `npm run spark:install`; nothing generated is committed, so the protocol
 * always matches the Spark that is installed.
 *
 * The jar is read with a small central-directory reader on node:zlib instead of a zip
 * dependency: a jar is a plain zip (stored or deflated entries), we need a few dozen
 * small files from it, and this runs once at install time.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { descriptorPath } from '../src/engine/spark/connect-client.js';
import { findSparkHome, sparkVersion } from '../src/engine/spark/spark-home.js';

/** The protocol entry points; everything they import is pulled in. */
const ROOT_PROTOS = [
  'spark/connect/base.proto',
  // Error details sent in the gRPC status (`grpc-status-details-bin`).
  'google/rpc/status.proto',
  'google/rpc/error_details.proto',
] as const;

class ProtoGenerationError extends Error {
  readonly code = 'SPARK_PROTO_GENERATION';
  constructor(message: string) {
    super(message);
    this.name = 'ProtoGenerationError';
  }
}

interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly compressedSize: number;
  readonly localHeaderOffset: number;
}

/** Minimal zip reader: central directory only, no zip64 (Spark's jars do not need it). */
class ZipFile {
  private readonly fd: number;
  readonly entries = new Map<string, ZipEntry>();

  constructor(readonly file: string) {
    this.fd = openSync(file, 'r');
    const size = fstatSync(this.fd).size;
    // The end-of-central-directory record is in the last 22 bytes + up to 64 KiB of comment.
    const tailSize = Math.min(size, 22 + 0xffff);
    const tail = this.read(size - tailSize, tailSize);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new ProtoGenerationError(`${file}: not a zip/jar file (no end record)`);
    const count = tail.readUInt16LE(eocd + 10);
    const dirSize = tail.readUInt32LE(eocd + 12);
    const dirOffset = tail.readUInt32LE(eocd + 16);
    if (count === 0xffff || dirOffset === 0xffffffff) {
      throw new ProtoGenerationError(`${file}: zip64 jars are not supported`);
    }
    const dir = this.read(dirOffset, dirSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (dir.readUInt32LE(p) !== 0x02014b50) {
        throw new ProtoGenerationError(`${file}: corrupt central directory at entry ${i}`);
      }
      const nameLength = dir.readUInt16LE(p + 28);
      const extraLength = dir.readUInt16LE(p + 30);
      const commentLength = dir.readUInt16LE(p + 32);
      const name = dir.toString('utf8', p + 46, p + 46 + nameLength);
      this.entries.set(name, {
        name,
        method: dir.readUInt16LE(p + 10),
        compressedSize: dir.readUInt32LE(p + 20),
        localHeaderOffset: dir.readUInt32LE(p + 42),
      });
      p += 46 + nameLength + extraLength + commentLength;
    }
  }

  private read(position: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) throw new ProtoGenerationError(`${this.file}: unexpected end of file`);
      done += n;
    }
    return buf;
  }

  text(name: string): string | undefined {
    const e = this.entries.get(name);
    if (e === undefined) return undefined;
    // The local header's name/extra lengths may differ from the central directory's.
    const header = this.read(e.localHeaderOffset, 30);
    const dataStart = e.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    const raw = this.read(dataStart, e.compressedSize);
    if (e.method === 0) return raw.toString('utf8');
    if (e.method === 8) return inflateRawSync(raw).toString('utf8');
    throw new ProtoGenerationError(
      `${this.file}: ${name} uses unsupported compression ${e.method}`,
    );
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Parses the root protos and, recursively, their imports from the jar into one Root. */
function parseProtos(zip: ZipFile): protobuf.Root {
  const root = new protobuf.Root();
  const seen = new Set<string>();
  const pending: string[] = [...ROOT_PROTOS];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const source = zip.text(name);
    if (source === undefined) {
      throw new ProtoGenerationError(`${zip.file}: ${name} is missing (needed by Spark Connect)`);
    }
    // keepCase: message fields keep their .proto (snake_case) names, as the client uses them.
    const parsed = protobuf.parse(source, root, { keepCase: true, alternateCommentMode: false });
    pending.push(...(parsed.imports ?? []), ...(parsed.weakImports ?? []));
  }
  root.resolveAll();
  return root;
}

function main(): void {
  const home = findSparkHome();
  const version = sparkVersion(home);
  const jarName = readdirSync(path.join(home, 'jars')).find((f) =>
    /^spark-connect_[\d.]+-.+\.jar$/.test(f),
  );
  if (jarName === undefined) {
    throw new ProtoGenerationError(
      `${home}/jars has no spark-connect_*.jar: this Spark distribution has no Spark Connect; reinstall with \`npm run spark:install\``,
    );
  }
  const zip = new ZipFile(path.join(home, 'jars', jarName));
  let root: protobuf.Root;
  try {
    root = parseProtos(zip);
  } finally {
    zip.close();
  }
  const out = descriptorPath();
  mkdirSync(path.dirname(out), { recursive: true });
  const json = JSON.stringify({ sparkVersion: version, jar: jarName, descriptor: root.toJSON() });
  // Write then rename, so a reader never sees a half-written descriptor.
  writeFileSync(`${out}.tmp`, json);
  renameSync(`${out}.tmp`, out);
  console.log(`Spark Connect protocol (Spark ${version}) written to ${out}`);
}

main();
