/**
 * SAS transport files, version 5 (XPORT, the format FDA submissions of SDTM use), one
 * dataset per file, written as a stream: the headers go out first, then one observation
 * at a time; v5 needs no observation count up front. Layout (all records 80 bytes):
 *
 * - library header, two "real header" records (SAS version, OS, created and modified);
 * - member header (NAMESTR size 140), descriptor header, two member records (dataset
 *   name, label, type);
 * - NAMESTR header with the variable count, then one 140-byte NAMESTR per variable
 *   (type, length, number, 8-char name, 40-char label, position in the observation),
 *   padded with blanks to a record boundary;
 * - OBS header, then the observations back to back (characters blank-padded, numbers as
 *   8-byte IBM System/370 floating point), the last record padded with blanks.
 *
 * Integers are big-endian. Names are upper case, at most 8 characters; character values
 * at most 200 bytes (v5 limits), ASCII.
 */

export type XptType = 'Char' | 'Num';

export interface XptVariable {
  /** Upper case, at most 8 characters, a SAS name. */
  readonly name: string;
  /** At most 40 characters. */
  readonly label: string;
  readonly type: XptType;
  /** Bytes: 1-200 for Char; Num is always 8 here. */
  readonly length: number;
}

export interface XptDataset {
  /** Upper case, at most 8 characters. */
  readonly name: string;
  /** At most 40 characters. */
  readonly label: string;
  readonly variables: readonly XptVariable[];
}

/** A value of one variable: a string (Char), a number (Num) or null (blank / missing). */
export type XptValue = string | number | null;

const RECORD = 80;
const NAMESTR_LENGTH = 140;
/** The SAS version and operating system written in the headers. */
const SAS_VERSION = '9.4';
const SAS_OS = 'X64_7PRO';
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** `text` left-aligned and blank-padded (or cut) to `width` bytes of ASCII. */
function fixed(text: string, width: number): string {
  return text.length >= width ? text.slice(0, width) : text + ' '.repeat(width - text.length);
}

/** The ddMMMyy:hh:mm:ss stamp of the headers, for a YYYY-MM-DD day at midnight. */
export function xptDateTime(isoDay: string): string {
  const [y, m, d] = isoDay.split('-');
  return `${d ?? '01'}${MONTHS[Number(m) - 1] ?? 'JAN'}${(y ?? '1960').slice(2)}:00:00:00`;
}

function headerRecord(kind: string, digits: string): string {
  return `HEADER RECORD*******${fixed(kind, 8)}HEADER RECORD!!!!!!!${digits}  `;
}

/** Checks names, labels and lengths against the v5 limits; throws on the first violation. */
export function checkXptDataset(ds: XptDataset): void {
  const sasName = /^[A-Z_][A-Z0-9_]{0,7}$/;
  if (!sasName.test(ds.name)) throw new Error(`XPT dataset name ${ds.name} is not a v5 name`);
  if (ds.label.length > 40) throw new Error(`XPT dataset label of ${ds.name} is too long`);
  const seen = new Set<string>();
  for (const v of ds.variables) {
    if (!sasName.test(v.name)) throw new Error(`XPT variable name ${v.name} is not a v5 name`);
    if (seen.has(v.name)) throw new Error(`XPT variable ${v.name} appears twice`);
    seen.add(v.name);
    if (v.label.length > 40) throw new Error(`XPT label of ${v.name} is too long`);
    if (v.type === 'Num' ? v.length !== 8 : v.length < 1 || v.length > 200)
      throw new Error(`XPT length ${v.length} of ${v.name} is not allowed`);
  }
}

/** The bytes before the first observation: every header and the NAMESTRs. */
export function xptHeader(ds: XptDataset, isoDay: string): Buffer {
  checkXptDataset(ds);
  const stamp = xptDateTime(isoDay);
  const parts: Buffer[] = [];
  const text = (s: string): void => {
    parts.push(Buffer.from(s, 'latin1'));
  };
  text(headerRecord('LIBRARY', '0'.repeat(30)));
  text(
    fixed('SAS', 8) +
      fixed('SAS', 8) +
      fixed('SASLIB', 8) +
      fixed(SAS_VERSION, 8) +
      fixed(SAS_OS, 8) +
      ' '.repeat(24) +
      stamp,
  );
  text(stamp + ' '.repeat(64));
  text(headerRecord('MEMBER', '000000000000000001600000000' + String(NAMESTR_LENGTH)));
  text(headerRecord('DSCRPTR', '0'.repeat(30)));
  text(
    fixed('SAS', 8) +
      fixed(ds.name, 8) +
      fixed('SASDATA', 8) +
      fixed(SAS_VERSION, 8) +
      fixed(SAS_OS, 8) +
      ' '.repeat(24) +
      stamp,
  );
  text(stamp + ' '.repeat(16) + fixed(ds.label, 40) + ' '.repeat(8));
  const nvar = String(ds.variables.length).padStart(4, '0');
  text(headerRecord('NAMESTR', `000000${nvar}${'0'.repeat(20)}`));
  const names = Buffer.alloc(ds.variables.length * NAMESTR_LENGTH, 0);
  let position = 0;
  ds.variables.forEach((v, i) => {
    const o = i * NAMESTR_LENGTH;
    names.writeInt16BE(v.type === 'Num' ? 1 : 2, o); // ntype
    names.writeInt16BE(0, o + 2); // nhfun: no hash
    names.writeInt16BE(v.length, o + 4); // nlng
    names.writeInt16BE(i + 1, o + 6); // nvar0: variable number
    names.write(fixed(v.name, 8), o + 8, 'latin1'); // nname
    names.write(fixed(v.label, 40), o + 16, 'latin1'); // nlabel
    names.write(fixed('', 8), o + 56, 'latin1'); // nform: no format
    // nfl, nfd, nfj (format length, decimals, justification) stay 0; nfill 2 bytes.
    names.write(fixed('', 8), o + 72, 'latin1'); // niform: no informat
    // nifl, nifd stay 0.
    names.writeInt32BE(position, o + 84); // npos: offset in the observation
    position += v.length;
  });
  parts.push(names, blanks(padding(names.length)));
  text(headerRecord('OBS', '0'.repeat(30)));
  return Buffer.concat(parts);
}

/** Bytes to the next 80-byte boundary. */
function padding(length: number): number {
  return (RECORD - (length % RECORD)) % RECORD;
}

function blanks(n: number): Buffer {
  return Buffer.alloc(n, 0x20);
}

/** Bytes of one observation of `ds`. */
export function xptObservationLength(ds: XptDataset): number {
  return ds.variables.reduce((s, v) => s + v.length, 0);
}

/**
 * One observation: values by variable name. Char values are cut to the variable's length
 * (callers size variables so this does not happen) and non-ASCII becomes '?'.
 */
export function xptObservation(ds: XptDataset, row: Readonly<Record<string, XptValue>>): Buffer {
  const out = Buffer.alloc(xptObservationLength(ds), 0x20);
  let o = 0;
  for (const v of ds.variables) {
    const value = row[v.name] ?? null;
    if (v.type === 'Num') {
      const n = typeof value === 'number' ? value : value === null ? NaN : Number(value);
      encodeIbmFloat(n, out, o);
    } else if (value !== null) {
      const s = String(value).replace(/[^\x20-\x7e]/g, '?');
      out.write(s.slice(0, v.length), o, 'latin1');
    }
    o += v.length;
  }
  return out;
}

/** Blank bytes that end the observations of a file holding `dataBytes` of them. */
export function xptTrailer(dataBytes: number): Buffer {
  return blanks(padding(dataBytes));
}

const TWO_32 = 4294967296;
/** Largest IBM double: (1 - 16^-14) * 16^63. */
const IBM_MAX = (1 - Math.pow(16, -14)) * Math.pow(16, 63);
/** Smallest normalised IBM double: 16^-65. */
const IBM_MIN = Math.pow(16, -65);

/**
 * Writes `x` as an 8-byte IBM System/370 double at `out[offset]`: sign bit, 7-bit base-16
 * exponent biased by 64, 56-bit fraction in [1/16, 1). Every IEEE double in the IBM range
 * is exact (53 bits fit in 56); NaN is the SAS missing value '.' (0x2e then zeros);
 * magnitudes below 16^-65 become 0; above the IBM range throws.
 */
export function encodeIbmFloat(x: number, out: Uint8Array, offset: number): void {
  out.fill(0, offset, offset + 8);
  if (Number.isNaN(x)) {
    out[offset] = 0x2e;
    return;
  }
  const a = Math.abs(x);
  if (a === 0 || a < IBM_MIN) return;
  if (!(a <= IBM_MAX)) throw new RangeError(`${x} is outside the IBM floating point range`);
  // The IEEE fields: a = m * 2^b with m a 53-bit integer.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const e2 = hi >>> 20;
  let m = BigInt(hi & 0xfffff) * BigInt(TWO_32) + BigInt(lo);
  let b: number;
  if (e2 === 0) {
    // Subnormal doubles are far below IBM_MIN; kept for completeness.
    b = -1074;
  } else {
    m += 1n << 52n;
    b = e2 - 1075;
  }
  // a = F * 16^(e - 14) with F a 56-bit fraction whose first hex digit is non-zero: pick
  // the shift that makes b + 56 - shift a multiple of 4.
  const shift = (((b + 56) % 4) + 4) % 4;
  let f = m << BigInt(shift);
  let e = (b + 56 - shift) / 4;
  // Normalise (only needed for subnormal inputs): at most 14 hex digits, the first non-zero.
  while (f >= 1n << 56n) {
    f >>= 4n;
    e++;
  }
  while (f < 1n << 52n) {
    f <<= 4n;
    e--;
  }
  out[offset] = (x < 0 ? 0x80 : 0) | (e + 64);
  for (let i = 7; i >= 1; i--) {
    out[offset + i] = Number(f & 0xffn);
    f >>= 8n;
  }
}

/**
 * Reads an 8-byte IBM double; SAS missing values ('.', '._', '.A'-'.Z': that byte then
 * seven zeros) read as NaN.
 */
export function decodeIbmFloat(bytes: Uint8Array, offset: number): number {
  const b0 = bytes[offset] ?? 0;
  let rest = 0;
  for (let i = 1; i < 8; i++) rest |= bytes[offset + i] ?? 0;
  if (rest === 0 && (b0 === 0x2e || b0 === 0x5f || (b0 >= 0x41 && b0 <= 0x5a))) return NaN;
  const hi =
    (((bytes[offset + 1] ?? 0) << 16) |
      ((bytes[offset + 2] ?? 0) << 8) |
      (bytes[offset + 3] ?? 0)) >>>
    0;
  const lo =
    (((bytes[offset + 4] ?? 0) << 24) |
      ((bytes[offset + 5] ?? 0) << 16) |
      ((bytes[offset + 6] ?? 0) << 8) |
      (bytes[offset + 7] ?? 0)) >>>
    0;
  const fraction = hi * TWO_32 + lo;
  if (fraction === 0) return 0;
  const exponent = (b0 & 0x7f) - 64;
  // fraction / 2^56 * 16^exponent, as two exact power-of-two steps (no overflow midway).
  const v = fraction * Math.pow(2, 4 * exponent - 28) * Math.pow(2, -28);
  return b0 & 0x80 ? -v : v;
}
