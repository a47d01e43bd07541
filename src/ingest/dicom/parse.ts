/**
 * Reading the header of one DICOM file (PS3.10 Part 10 file, or a bare data set without
 * preamble and File Meta Information) with dicom-parser, up to the Pixel Data element
 * (7FE0,0010), which is never read. The result is a small plain object (`DicomHeader`) so
 * the file's bytes can be dropped at once.
 */
import * as dicomParserNs from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { constants as zlibConstants, inflateRawSync } from 'node:zlib';
import type { ConvertContext } from '../convert.js';
import { QuarantineCode } from '../types.js';

// dicom-parser is a UMD bundle: under Node's ESM loader its API sits on `default`.
const dicomParser: typeof dicomParserNs =
  (dicomParserNs as { default?: typeof dicomParserNs }).default ?? dicomParserNs;

export const IMPLICIT_VR_LE = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';
export const DEFLATED_EXPLICIT_VR_LE = '1.2.840.10008.1.2.1.99';
export const EXPLICIT_VR_BE = '1.2.840.10008.1.2.2';
/** Media Storage Directory Storage: a DICOMDIR (PS3.10 §8, PS3.3 F). */
export const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';

const PIXEL_DATA = 'x7fe00010';
/** First read of a file; grown ×16 while the header needs more, up to MAX_HEADER_BYTES. */
export const FIRST_HEAD_BYTES = 64 * 1024;
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;

/** The VRs of PS3.5 §6.2, to tell explicit from implicit VR in a file without meta. */
const VRS = new Set(
  'AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(
    ' ',
  ),
);

/** How a file without File Meta Information starts (PS3.10 §7.1 allows none on media). */
interface BareStart {
  readonly offset: number;
  readonly transferSyntax: string;
}

/**
 * Where a bare data set starts and in which transfer syntax: its first element must be of
 * group 0008 (every composite IOD starts with the SOP Common / General Study modules). One
 * leading pad byte (space or NUL) is tolerated: that is what cutting a Part 10 file right
 * after its meta group (whose last value is space-padded) leaves.
 */
export function bareStart(head: Buffer): BareStart | undefined {
  for (const offset of [0, 1]) {
    if (offset === 1 && head[0] !== 0x20 && head[0] !== 0x00) break;
    if (head.length < offset + 8) return undefined;
    const b = head.subarray(offset);
    const vr = b.toString('latin1', 4, 6);
    // Little endian: 08 00 eeee; big endian: 00 08 eeee (explicit VR only, PS3.5 A.3).
    if (b[0] === 0x08 && b[1] === 0x00) {
      if (VRS.has(vr)) return { offset, transferSyntax: EXPLICIT_VR_LE };
      // Implicit VR: a 32-bit length that fits a header element.
      const len = b.readUInt32LE(4);
      if (len < 0x10000 || len === 0xffffffff) return { offset, transferSyntax: IMPLICIT_VR_LE };
    } else if (b[0] === 0x00 && b[1] === 0x08 && VRS.has(vr)) {
      return { offset, transferSyntax: EXPLICIT_VR_BE };
    }
  }
  return undefined;
}

/** True for a Part 10 file ("DICM" at 128) or a bare data set starting with group 0008. */
export function looksLikeDicom(head: Buffer): boolean {
  if (head.length >= 132 && head.toString('latin1', 128, 132) === 'DICM') return true;
  // Meta group without preamble: 02 00 00 00 "UL" (group length, PS3.10 §7.1).
  if (
    head.length >= 8 &&
    head.readUInt32LE(0) === 0x00000002 &&
    head.toString('latin1', 4, 6) === 'UL'
  )
    return true;
  return bareStart(head) !== undefined;
}

/** One instance's header attributes, as text or numbers; absent attributes are undefined. */
export interface DicomHeader {
  readonly transferSyntax: string;
  /** Whether the header ended at Pixel Data (7FE0,0010); false for non-image objects too. */
  readonly pixelData: boolean;
  /** (0002,0002) or (0008,0016). */
  readonly sopClassUid?: string;
  readonly sopInstanceUid?: string;
  readonly studyUid?: string;
  readonly seriesUid?: string;
  readonly modality?: string;
  readonly patientId?: string;
  readonly issuerOfPatientId?: string;
  readonly patientName?: string;
  readonly patientSex?: string;
  readonly patientBirthDate?: string;
  readonly studyDate?: string;
  readonly studyTime?: string;
  readonly seriesDate?: string;
  readonly seriesTime?: string;
  readonly timezoneOffset?: string;
  readonly accessionNumber?: string;
  readonly accessionIssuerLocal?: string;
  readonly accessionIssuerUniversal?: string;
  readonly accessionIssuerType?: string;
  readonly referringPhysician?: string;
  readonly studyDescription?: string;
  readonly seriesNumber?: string;
  readonly seriesDescription?: string;
  readonly bodyPartExamined?: string;
  readonly laterality?: string;
  readonly instanceNumber?: string;
  readonly title?: string;
  readonly manufacturer?: string;
  readonly model?: string;
  readonly stationName?: string;
  readonly institutionName?: string;
  readonly protocolName?: string;
  readonly sliceThickness?: number;
  readonly pixelSpacing?: readonly [number, number];
  readonly kvp?: number;
  readonly numberOfFrames?: number;
  readonly ctdiVol?: number;
  readonly exposureTimeMs?: number;
  readonly tubeCurrentMa?: number;
  readonly exposureMas?: number;
  readonly rows?: number;
  readonly columns?: number;
}

export type HeaderResult =
  | { readonly kind: 'header'; readonly header: DicomHeader }
  | { readonly kind: 'dicomdir' }
  | { readonly kind: 'bad'; readonly code: QuarantineCode; readonly reason: string };

/** Thrown by dicom-parser as strings, or as {exception, dataSet}. */
function errorText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && 'exception' in e)
    return errorText((e as { exception: unknown }).exception);
  return String(e);
}

/** A parse failure that more bytes of the file could cure. */
class NeedMore extends Error {}

/** The deflated data set (PS3.5 A.5) inflated; a cut stream yields what it has. */
function inflater(arr: Uint8Array, position: number): Uint8Array {
  const src = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
  const inflated = inflateRawSync(src.subarray(position), {
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
    maxOutputLength: MAX_HEADER_BYTES * 4,
  });
  return Buffer.concat([src.subarray(0, position), inflated]);
}

interface Parsed {
  readonly ds: DataSet;
  readonly transferSyntax: string;
  readonly pixel?: Element;
  /** Bytes parsed minus bytes of the file (a preamble added, a pad byte skipped). */
  readonly shift: number;
}

/** A Part 10 file whose meta names a DICOMDIR: not parsed further. */
class IsDicomdir extends Error {}

/**
 * Parses `buf` (the first bytes of a file of `size` bytes). Throws NeedMore when the header
 * runs past the bytes given, a string/Error when the bytes are not DICOM.
 */
function parseBuffer(buf: Buffer, size: number): Parsed {
  const complete = buf.length >= size;
  let bytes: Buffer = buf;
  let transferSyntax: string | undefined;
  const isPart10 = buf.length >= 132 && buf.toString('latin1', 128, 132) === 'DICM';
  if (!isPart10) {
    if (buf.length >= 8 && buf.readUInt32LE(0) === 2 && buf.toString('latin1', 4, 6) === 'UL')
      bytes = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), buf]);
    else {
      const start = bareStart(buf);
      if (start === undefined)
        throw new Error('no "DICM" at byte 128 and no group 0008 element at the start');
      bytes = buf.subarray(start.offset);
      transferSyntax = start.transferSyntax;
    }
  }
  if (isPart10 || bytes !== buf) {
    // The meta group alone first: a DICOMDIR (often large) is recognised without parsing it.
    try {
      const meta = dicomParser.readPart10Header(
        new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length),
      );
      if (uid(meta, 'x00020002') === MEDIA_STORAGE_DIRECTORY) throw new IsDicomdir();
    } catch (e) {
      if (e instanceof IsDicomdir) throw e;
      // Left to the full parse below, which reports the error.
    }
  }
  let ds: DataSet;
  try {
    ds = dicomParser.parseDicom(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), {
      untilTag: PIXEL_DATA,
      inflater,
      ...(transferSyntax === undefined ? {} : { TransferSyntaxUID: transferSyntax }),
    });
  } catch (e) {
    if (!complete) throw new NeedMore(errorText(e));
    throw e;
  }
  const ts =
    transferSyntax ?? (stringOf(ds, 'x00020010', 'latin1') || IMPLICIT_VR_LE).replace(/\0/g, '');
  const len = ds.byteArray.length;
  // dicom-parser does not check that an implicit VR value ends inside the buffer.
  for (const el of Object.values(ds.elements)) {
    if (el.tag === PIXEL_DATA || el.hadUndefinedLength === true) continue;
    if (el.dataOffset + el.length > len) {
      if (!complete) throw new NeedMore(`element ${el.tag} runs past the bytes read`);
      throw new Error(
        `truncated: element (${el.tag.slice(1, 5)},${el.tag.slice(5)}) of ${el.length} bytes at offset ${el.dataOffset} runs past the end of the data`,
      );
    }
  }
  const pixel = ds.elements[PIXEL_DATA];
  if (pixel === undefined && !complete) throw new NeedMore('no Pixel Data yet');
  return {
    ds,
    transferSyntax: ts,
    shift: bytes.length - buf.length,
    ...(pixel === undefined ? {} : { pixel }),
  };
}

/** Reads and parses the header of `file`, growing the bytes read while needed. */
export async function readHeader(file: string, ctx: ConvertContext): Promise<HeaderResult> {
  const size = await ctx.size(file);
  let want = Math.min(size, FIRST_HEAD_BYTES);
  for (;;) {
    const buf = await ctx.head(file, want);
    try {
      const parsed = parseBuffer(buf, size);
      return fromParsed(parsed, size);
    } catch (e) {
      if (e instanceof IsDicomdir) return { kind: 'dicomdir' };
      if (e instanceof NeedMore && want < size) {
        if (want >= MAX_HEADER_BYTES)
          return {
            kind: 'bad',
            code: QuarantineCode.Unsupported,
            reason: `DICOM header longer than ${MAX_HEADER_BYTES} bytes (not read).`,
          };
        want = Math.min(size, want * 16, MAX_HEADER_BYTES);
        continue;
      }
      const msg = errorText(e);
      const truncated =
        /truncated|overrun|overread|past end|past the end|unexpected end|cannot seek/i.test(msg);
      const code =
        buf.length < 132 && !looksLikeDicom(buf)
          ? QuarantineCode.Malformed
          : truncated
            ? QuarantineCode.Truncated
            : QuarantineCode.Malformed;
      return {
        kind: 'bad',
        code,
        reason:
          code === QuarantineCode.Truncated
            ? `DICOM file ends inside its header (${size} bytes): ${msg}`
            : `not a readable DICOM file (${size} bytes): ${msg}`,
      };
    }
  }
}

function fromParsed(p: Parsed, size: number): HeaderResult {
  const { ds } = p;
  const sopClass = uid(ds, 'x00020002') ?? uid(ds, 'x00080016');
  if (sopClass === MEDIA_STORAGE_DIRECTORY || ds.elements['x00041220'] !== undefined)
    return { kind: 'dicomdir' };
  // Pixel Data declared longer than the file: the file was cut (PS3.5 §7.1.1 lengths).
  // Offsets are in the parsed bytes; for a deflated data set they are not file offsets.
  const px = p.pixel;
  if (
    px !== undefined &&
    px.hadUndefinedLength !== true &&
    p.transferSyntax !== DEFLATED_EXPLICIT_VR_LE &&
    px.dataOffset + px.length > size + p.shift
  )
    return {
      kind: 'bad',
      code: QuarantineCode.Truncated,
      reason: `DICOM file truncated: Pixel Data (7FE0,0010) declares ${px.length} bytes from offset ${px.dataOffset}, the file has ${size} bytes.`,
    };
  const enc = charsetOf(ds);
  const s = (tag: string): string | undefined => text(ds, tag, enc);
  const accIssuer = ds.elements['x00080051']?.items?.[0]?.dataSet;
  const title =
    s('x00700080') ??
    (ds.elements['x0040a043']?.items?.[0]?.dataSet === undefined
      ? undefined
      : text(ds.elements['x0040a043'].items[0].dataSet, 'x00080104', enc)) ??
    s('x00420010');
  const spacing = numbers(ds, 'x00280030');
  const header: DicomHeader = {
    transferSyntax: p.transferSyntax,
    pixelData: px !== undefined,
    sopClassUid: sopClass,
    sopInstanceUid: uid(ds, 'x00080018') ?? uid(ds, 'x00020003'),
    studyUid: uid(ds, 'x0020000d'),
    seriesUid: uid(ds, 'x0020000e'),
    modality: s('x00080060'),
    patientId: s('x00100020'),
    issuerOfPatientId: s('x00100021'),
    patientName: s('x00100010'),
    patientSex: s('x00100040'),
    patientBirthDate: s('x00100030'),
    studyDate: s('x00080020'),
    studyTime: s('x00080030'),
    seriesDate: s('x00080021'),
    seriesTime: s('x00080031'),
    timezoneOffset: s('x00080201'),
    accessionNumber: s('x00080050'),
    accessionIssuerLocal: accIssuer === undefined ? undefined : text(accIssuer, 'x00400031', enc),
    accessionIssuerUniversal:
      accIssuer === undefined ? undefined : text(accIssuer, 'x00400032', enc),
    accessionIssuerType: accIssuer === undefined ? undefined : text(accIssuer, 'x00400033', enc),
    referringPhysician: s('x00080090'),
    studyDescription: s('x00081030'),
    seriesNumber: s('x00200011'),
    seriesDescription: s('x0008103e'),
    bodyPartExamined: s('x00180015'),
    laterality: s('x00200060'),
    instanceNumber: s('x00200013'),
    title,
    manufacturer: s('x00080070'),
    model: s('x00081090'),
    stationName: s('x00081010'),
    institutionName: s('x00080080'),
    protocolName: s('x00181030'),
    sliceThickness: numbers(ds, 'x00180050')?.[0],
    pixelSpacing:
      spacing !== undefined && spacing.length >= 2 ? [spacing[0]!, spacing[1]!] : undefined,
    kvp: numbers(ds, 'x00180060')?.[0],
    numberOfFrames: numbers(ds, 'x00280008')?.[0],
    ctdiVol: binary(ds, 'x00189345', 'FD'),
    exposureTimeMs: numbers(ds, 'x00181150')?.[0] ?? binary(ds, 'x00189328', 'FD'),
    tubeCurrentMa: numbers(ds, 'x00181151')?.[0] ?? binary(ds, 'x00189330', 'FD'),
    exposureMas: numbers(ds, 'x00181152')?.[0] ?? binary(ds, 'x00189332', 'FD'),
    rows: binary(ds, 'x00280010', 'US'),
    columns: binary(ds, 'x00280011', 'US'),
  };
  return { kind: 'header', header };
}

// ------------------------------------------------------------------ value access

/** The data sets where an attribute may be: the top level, then (Enhanced multi-frame
 * IODs, PS3.3 C.7.6.16) the items of the Shared and the first Per-frame Functional Groups. */
function* scopes(ds: DataSet): Generator<DataSet> {
  yield ds;
  for (const fg of ['x52009229', 'x52009230']) {
    const item = ds.elements[fg]?.items?.[0]?.dataSet;
    if (item === undefined) continue;
    for (const el of Object.values(item.elements)) {
      const inner = el.items?.[0]?.dataSet;
      if (inner !== undefined) yield inner;
    }
  }
}

function find(ds: DataSet, tag: string): { ds: DataSet; el: Element } | undefined {
  for (const d of scopes(ds)) {
    const el = d.elements[tag];
    if (el !== undefined && el.length > 0 && el.length !== 0xffffffff) return { ds: d, el };
  }
  return undefined;
}

/** Specific Character Set (0008,0005): UTF-8 for ISO_IR 192, else Latin-1 (PS3.5 §6.1). */
function charsetOf(ds: DataSet): BufferEncoding {
  const cs = stringOf(ds, 'x00080005', 'latin1');
  return /ISO_IR 192/i.test(cs) ? 'utf8' : 'latin1';
}

function stringOf(ds: DataSet, tag: string, enc: BufferEncoding): string {
  const el = ds.elements[tag];
  if (el === undefined || el.length <= 0 || el.length === 0xffffffff) return '';
  const arr = ds.byteArray;
  if (el.dataOffset + el.length > arr.length) return '';
  return Buffer.from(arr.buffer, arr.byteOffset + el.dataOffset, el.length).toString(enc);
}

/** A text value with its padding (trailing spaces/NULs, leading spaces) removed. */
function text(ds: DataSet, tag: string, enc: BufferEncoding): string | undefined {
  const f = find(ds, tag);
  if (f === undefined) return undefined;
  const v = stringOf(f.ds, tag, enc)
    .replace(/[\0 ]+$/, '')
    .replace(/^ +/, '');
  return v === '' ? undefined : v;
}

function uid(ds: DataSet, tag: string): string | undefined {
  const v = stringOf(ds, tag, 'latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  return v === '' ? undefined : v;
}

/** A DS/IS value (backslash-separated decimals); undefined when any part is not a number. */
function numbers(ds: DataSet, tag: string): number[] | undefined {
  const v = text(ds, tag, 'latin1');
  if (v === undefined) return undefined;
  const out = v.split('\\').map((x) => Number(x.trim()));
  return out.every((n) => Number.isFinite(n)) && out.length > 0 ? out : undefined;
}

/** A binary value of a known VR (needed for implicit VR, where the file has no VR). */
function binary(ds: DataSet, tag: string, vr: 'US' | 'FD'): number | undefined {
  const f = find(ds, tag);
  if (f === undefined) return undefined;
  const need = vr === 'US' ? 2 : 8;
  if (f.el.length < need || f.el.dataOffset + need > f.ds.byteArray.length) return undefined;
  const n = vr === 'US' ? f.ds.uint16(tag) : f.ds.double(tag);
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}
