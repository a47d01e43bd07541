/**
 * A streaming reader of SAS transport files, version 5 (XPORT; SAS Technical Support
 * TS-140 "The record layout of a data set in SAS transport (XPORT) format"), the format
 * of FDA SDTM submissions. All header records are 80 bytes:
 *
 * - library header + 2 records (SAS version, OS, dates);
 * - per member: member header (NAMESTR length 140, or 136 on VAX/VMS), descriptor header,
 *   2 member records (dataset name at 8..16, label at 32..72), NAMESTR header (variable
 *   count at 54..58), the NAMESTRs padded with blanks to 80 bytes, OBS header;
 * - the observations back to back (Char blank-padded, Num as big-endian IBM System/370
 *   floating point, 2..8 bytes), padded with blanks to 80 bytes; then the next member.
 *
 * The file is read chunk by chunk; only the bytes of the current record or observation
 * are held. Problems are yielded as events: fatal ones (bad header, truncation) end the
 * file, a bad value skips its observation only.
 */

export type XptType = 'Char' | 'Num';

export interface XptColumn {
  readonly name: string;
  readonly label: string;
  readonly type: XptType;
  /** Bytes in the observation: Char 1..200, Num 2..8. */
  readonly length: number;
  /** Offset of the value in the observation (NAMESTR npos). */
  readonly position: number;
  /** Display format name (NAMESTR nform), '' when none. */
  readonly format: string;
}

export interface XptMember {
  readonly name: string;
  readonly label: string;
  readonly columns: readonly XptColumn[];
  /** Bytes of one observation. */
  readonly rowLength: number;
}

export type XptValue = string | number | null;

export type XptProblemCode = 'malformed' | 'truncated' | 'invalid-value' | 'unsupported';

export type XptEvent =
  | { readonly kind: 'member'; readonly member: XptMember }
  | {
      readonly kind: 'row';
      readonly member: XptMember;
      /** 1-based observation number within the member. */
      readonly obs: number;
      readonly values: readonly XptValue[];
    }
  | {
      readonly kind: 'problem';
      readonly code: XptProblemCode;
      /** Observation number (0 for a header problem). */
      readonly obs: number;
      readonly reason: string;
      readonly text: string;
      /** True when the rest of the file cannot be read. */
      readonly fatal: boolean;
    };

const RECORD = 80;
const BLANK = 0x20;
const PREFIX = 'HEADER RECORD*******';
const LIBRARY = `${PREFIX}LIBRARY HEADER RECORD!!!!!!!`;
const LIBV8 = `${PREFIX}LIBV8   HEADER RECORD!!!!!!!`;
const MEMBER = `${PREFIX}MEMBER  HEADER RECORD!!!!!!!`;
const DSCRPTR = `${PREFIX}DSCRPTR HEADER RECORD!!!!!!!`;
const NAMESTR = `${PREFIX}NAMESTR HEADER RECORD!!!!!!!`;
const OBS = `${PREFIX}OBS     HEADER RECORD!!!!!!!`;

/** The first bytes of every v5 transport file (what `sniff` looks for). */
export const XPT_MAGIC = LIBRARY;

/** Accumulates chunks and hands out byte ranges; keeps only unread bytes. */
class ByteQueue {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Bytes consumed so far (file offset of the next byte). */
  offset = 0;

  push(chunk: Buffer): void {
    this.buf =
      this.pos >= this.buf.length ? chunk : Buffer.concat([this.buf.subarray(this.pos), chunk]);
    this.pos = 0;
  }
  get available(): number {
    return this.buf.length - this.pos;
  }
  peek(n: number): Buffer {
    return this.buf.subarray(this.pos, this.pos + n);
  }
  take(n: number): Buffer {
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += out.length;
    this.offset += out.length;
    return out;
  }
}

const text = (b: Buffer, from: number, to: number): string =>
  b.toString('latin1', from, to).replace(/[\s\0]+$/, '');
const allBlank = (b: Buffer): boolean => b.every((x) => x === BLANK || x === 0);
const printable = (b: Buffer): string => b.toString('latin1').replace(/[^\x20-\x7e]/g, '.');

/**
 * An IBM System/370 float of 2..8 bytes (sign bit, 7-bit base-16 exponent biased by 64,
 * fraction in [1/16, 1)); SAS missing values ('.', '._', '.A'-'.Z': that byte, then
 * zeros) are null; a non-zero fraction that is not normalised (first hex digit 0: SAS
 * never writes one, it marks corrupt bytes) is 'invalid'.
 */
export function readIbmFloat(
  b: Uint8Array,
  offset: number,
  length: number,
): number | null | 'invalid' {
  const b0 = b[offset] ?? 0;
  let rest = 0;
  for (let i = 1; i < length; i++) rest |= b[offset + i] ?? 0;
  if (rest === 0) {
    if (b0 === 0x2e || b0 === 0x5f || (b0 >= 0x41 && b0 <= 0x5a)) return null;
    return 0; // a zero fraction is 0 whatever the exponent (SAS writes 0x00..)
  }
  // Fraction as a 56-bit integer: the high 24 bits times 2^32 plus the low 32 (one rounding).
  const byte = (i: number): number => (i < length ? (b[offset + i] ?? 0) : 0);
  const hi = ((byte(1) << 16) | (byte(2) << 8) | byte(3)) >>> 0;
  const lo = ((byte(4) << 24) | (byte(5) << 16) | (byte(6) << 8) | byte(7)) >>> 0;
  if (byte(1) < 0x10) return 'invalid';
  const exponent = (b0 & 0x7f) - 64;
  const v = (hi * 4294967296 + lo) * Math.pow(2, 4 * exponent - 28) * Math.pow(2, -28);
  return b0 & 0x80 ? -v : v;
}

/** Parses the NAMESTR records of one member; a string is the reason they are unusable. */
function parseNamestrs(b: Buffer, count: number, size: number): XptColumn[] | string {
  const cols: XptColumn[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const o = i * size;
    const ntype = b.readInt16BE(o);
    const length = b.readInt16BE(o + 4);
    const name = text(b, o + 8, o + 16)
      .trim()
      .toUpperCase();
    const label = text(b, o + 16, o + 56);
    const format = text(b, o + 56, o + 64);
    const position = b.readInt32BE(o + 84);
    const where = `variable ${i + 1}${name === '' ? '' : ` (${name})`}`;
    if (ntype !== 1 && ntype !== 2) return `${where}: type ${ntype}, expected 1 (Num) or 2 (Char)`;
    if (!/^[A-Z_][A-Z0-9_]{0,7}$/.test(name)) return `${where}: name is not a SAS name`;
    if (seen.has(name)) return `${where}: name appears twice`;
    seen.add(name);
    if (ntype === 1 ? length < 2 || length > 8 : length < 1 || length > 200)
      return `${where}: length ${length} not allowed for ${ntype === 1 ? 'Num (2-8)' : 'Char (1-200)'}`;
    if (position < 0) return `${where}: negative position ${position}`;
    cols.push({ name, label, type: ntype === 1 ? 'Num' : 'Char', length, position, format });
  }
  return cols;
}

type Phase = 'library' | 'member' | 'namestrs' | 'obs' | 'rows' | 'done';

/** Reads every member and observation of a v5 transport file from its chunks. */
export async function* readXpt(chunks: AsyncIterable<Buffer>): AsyncGenerator<XptEvent> {
  const q = new ByteQueue();
  let phase: Phase = 'library';
  let eof = false;
  let member: XptMember | null = null;
  let pendingName = '';
  let pendingLabel = '';
  let namestrSize = 140;
  let nvar = 0;
  let obs = 0;
  /** File offset of the first observation of the current member. */
  let dataStart = 0;
  const iterator = chunks[Symbol.asyncIterator]();

  const fatal = (code: XptProblemCode, reason: string, bytes: Buffer): XptEvent => {
    phase = 'done';
    return { kind: 'problem', code, obs, reason, text: printable(bytes), fatal: true };
  };

  while (phase !== 'done') {
    // What the phase needs before it can proceed.
    let need: number;
    if (phase === 'library') need = 3 * RECORD;
    else if (phase === 'member') need = 5 * RECORD;
    else if (phase === 'namestrs') need = Math.ceil((nvar * namestrSize) / RECORD) * RECORD;
    else if (phase === 'obs') need = RECORD;
    else {
      const rowLength = (member as XptMember).rowLength;
      const p = q.offset - dataStart;
      need = Math.max(rowLength, ((RECORD - (p % RECORD)) % RECORD) + RECORD);
    }
    while (!eof && q.available < need) {
      const next = await iterator.next();
      if (next.done === true) eof = true;
      else q.push(next.value);
    }

    if (phase === 'library') {
      const head = q.peek(3 * RECORD);
      const first = head.toString('latin1', 0, LIBRARY.length);
      if (first === LIBV8 || first.startsWith(`${PREFIX}LIBV8`))
        yield fatal(
          'unsupported',
          'SAS transport version 8/9 (LIBV8) is not read; export as XPORT v5',
          head,
        );
      else if (first !== LIBRARY)
        yield fatal(
          'malformed',
          `not a SAS transport v5 file: expected the library header "${LIBRARY}", found "${printable(head.subarray(0, 48))}"`,
          head.subarray(0, RECORD),
        );
      else if (head.length < 3 * RECORD)
        yield fatal(
          'truncated',
          `file ends inside the library header (${head.length} of 240 bytes)`,
          head,
        );
      else {
        q.take(3 * RECORD);
        phase = 'member';
      }
    } else if (phase === 'member') {
      const h = q.peek(5 * RECORD);
      if (h.length < 5 * RECORD) {
        yield fatal('truncated', `file ends inside a member header at byte ${q.offset}`, h);
        continue;
      }
      const rec = (i: number): string => h.toString('latin1', i * RECORD, (i + 1) * RECORD);
      if (!rec(0).startsWith(MEMBER)) {
        yield fatal(
          'malformed',
          `expected a member header at byte ${q.offset}, found "${printable(h.subarray(0, 48))}"`,
          h.subarray(0, RECORD),
        );
        continue;
      }
      const size = rec(0).slice(74, 78);
      namestrSize = size === '0136' ? 136 : 140;
      if (!rec(1).startsWith(DSCRPTR) || !rec(4).startsWith(NAMESTR)) {
        yield fatal(
          'malformed',
          `member header at byte ${q.offset} lacks its descriptor or NAMESTR header`,
          h,
        );
        continue;
      }
      pendingName = text(h, RECORD * 2 + 8, RECORD * 2 + 16)
        .trim()
        .toUpperCase();
      pendingLabel = text(h, RECORD * 3 + 32, RECORD * 3 + 72);
      const n = rec(4).slice(54, 58);
      if (!/^\d{4}$/.test(n)) {
        yield fatal(
          'malformed',
          `NAMESTR header of ${pendingName}: variable count "${n}" is not a number`,
          h,
        );
        continue;
      }
      nvar = Number(n);
      if (nvar === 0) {
        yield fatal('malformed', `dataset ${pendingName} has no variables`, h);
        continue;
      }
      q.take(5 * RECORD);
      phase = 'namestrs';
    } else if (phase === 'namestrs') {
      const bytes = Math.ceil((nvar * namestrSize) / RECORD) * RECORD;
      const b = q.peek(bytes);
      if (b.length < bytes) {
        yield fatal(
          'truncated',
          `file ends inside the variable descriptions (NAMESTR) of ${pendingName}`,
          b,
        );
        continue;
      }
      const cols = parseNamestrs(b, nvar, namestrSize);
      if (typeof cols === 'string') {
        yield fatal('malformed', `NAMESTR of dataset ${pendingName}: ${cols}`, b.subarray(0, 400));
        continue;
      }
      const rowLength = Math.max(...cols.map((c) => c.position + c.length));
      const overlap = cols.some((c, i) =>
        cols.some(
          (d, j) =>
            j > i && c.position < d.position + d.length && d.position < c.position + c.length,
        ),
      );
      if (overlap) {
        yield fatal(
          'malformed',
          `NAMESTR of dataset ${pendingName}: variables overlap in the observation`,
          b.subarray(0, 400),
        );
        continue;
      }
      member = { name: pendingName, label: pendingLabel, columns: cols, rowLength };
      q.take(bytes);
      phase = 'obs';
    } else if (phase === 'obs') {
      const h = q.peek(RECORD);
      if (h.length < RECORD || !h.toString('latin1').startsWith(OBS)) {
        yield h.length < RECORD
          ? fatal('truncated', `file ends before the observations of ${pendingName}`, h)
          : fatal(
              'malformed',
              `expected the OBS header of ${pendingName}, found "${printable(h.subarray(0, 48))}"`,
              h,
            );
        continue;
      }
      q.take(RECORD);
      dataStart = q.offset;
      obs = 0;
      phase = 'rows';
      yield { kind: 'member', member: member as XptMember };
    } else {
      const m = member as XptMember;
      const p = q.offset - dataStart;
      const pad = (RECORD - (p % RECORD)) % RECORD;
      const avail = q.available;
      if (avail === 0) {
        phase = 'done';
        continue;
      }
      // Next member: blank padding to the record boundary, then a member header.
      if (avail >= pad + RECORD) {
        const ahead = q.peek(pad + RECORD);
        if (
          allBlank(ahead.subarray(0, pad)) &&
          ahead.toString('latin1', pad, pad + MEMBER.length) === MEMBER
        ) {
          q.take(pad);
          phase = 'member';
          continue;
        }
      }
      if (eof && avail < RECORD && allBlank(q.peek(avail))) {
        // The padding after the last observation (a blank observation shorter than a
        // record at the very end cannot be told from padding; SAS has the same rule).
        q.take(avail);
        phase = 'done';
        continue;
      }
      if (avail < m.rowLength) {
        yield fatal(
          'truncated',
          `file ends inside observation ${obs + 1} of ${m.name} (${avail} of ${m.rowLength} bytes)`,
          q.peek(avail),
        );
        continue;
      }
      const row = q.take(m.rowLength);
      obs++;
      const values: XptValue[] = [];
      let bad: string | null = null;
      for (const c of m.columns) {
        if (c.type === 'Char') {
          const s = text(row, c.position, c.position + c.length);
          values.push(s === '' ? null : s);
        } else {
          const v = readIbmFloat(row, c.position, c.length);
          if (v === 'invalid') {
            bad ??= `${c.name} holds bytes ${row.subarray(c.position, c.position + c.length).toString('hex')}, not a normalised IBM float`;
            values.push(null);
          } else values.push(v);
        }
      }
      if (bad !== null)
        yield {
          kind: 'problem',
          code: 'invalid-value',
          obs,
          reason: `observation ${obs} of ${m.name}: ${bad}`,
          text: printable(row),
          fatal: false,
        };
      else yield { kind: 'row', member: m, obs, values };
    }
  }
  // Drain (the context hashes what it reads; a reader stops early only on a fatal problem).
  if (!eof) for (;;) if ((await iterator.next()).done === true) break;
}
