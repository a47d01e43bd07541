/**
 * HL7 v2 parsing (v2.3 to v2.8): finding the messages of a file (splitHl7Messages,
 * splitHl7MessagesStream) and parsing one message into the model of ./model.ts
 * (parseHl7Message). Delimiters come from MSH-1/MSH-2 (HL7 v2 §2.5.4), values are unescaped
 * per §2.7. A message that cannot be parsed throws Hl7ParseError saying what and where; the
 * parser throws nothing else and runs in time linear in its input. See docs/ingest-hl7v2-mllp.md.
 */
import type { Hl7Delimiters, Hl7Message, Hl7Segment } from './model.js';

/** A message that cannot be parsed: `message` says what was expected and what was found. */
export class Hl7ParseError extends Error {
  /** 1-based line in the file (or frame) where the problem is. */
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.name = 'Hl7ParseError';
    this.line = line;
  }
}

/** The standard delimiters `|^~\&` (§2.5.4), used by ACKs for unparseable input. */
export const DEFAULT_DELIMITERS: Hl7Delimiters = {
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subcomponent: '&',
};

/** One message found in a file: its text (segments joined by CR) and 1-based start line. */
export interface Hl7MessageText {
  readonly text: string;
  readonly line: number;
  /**
   * Set when the text could not be kept whole (longer than the splitter's limit): `text` is
   * then only its beginning and the message must be quarantined with this reason
   * (parseSplitMessage does so).
   */
  readonly error?: string;
}

/** Longest message (in UTF-16 code units) a splitter keeps; longer ones are quarantined. */
export const MAX_MESSAGE_CHARS = 64 * 1024 * 1024;
/** Characters of an over-long message kept for its quarantine record. */
const PREVIEW_CHARS = 4096;

/** Batch envelope segments (§2.10.3): FHS/BHS open, BTS/FTS close a batch; dropped. */
const BATCH_SEGMENTS = new Set(['FHS', 'BHS', 'BTS', 'FTS']);
/** MLLP start block (VT) and end block (FS) bytes of captured traffic (§C.4 of the MLLP spec). */
// eslint-disable-next-line no-control-regex -- VT and FS are the MLLP marks themselves
const MLLP_MARKS = /([\x0b\x1c])/;
// eslint-disable-next-line no-control-regex -- same: a leading VT, trailing FS
const LEADING_MARKS = /^[\s\ufeff\x0b]+/;
// eslint-disable-next-line no-control-regex -- same
const TRAILING_FS = /\x1c+$/;
const BOM = '\ufeff';

function segmentKind(piece: string): 'msh' | 'batch' | 'other' {
  const name = piece.slice(0, 3);
  if (name === 'MSH') return 'msh';
  if (BATCH_SEGMENTS.has(name) && (piece.length === 3 || !/[A-Za-z0-9]/.test(piece[3]!)))
    return 'batch';
  return 'other';
}

/**
 * Cuts a text stream into messages. Lines end with CR, LF or CRLF (also across chunk
 * boundaries); each line may carry MLLP marks (VT/FS) which split it into pieces; a piece
 * starting with MSH starts a message, batch envelope segments end the current one and are
 * dropped, blank lines are kept inside a message (so segment lines stay true) and trimmed at
 * its end. Lines before any MSH are grouped and yielded as one text so the caller quarantines
 * them (parseHl7Message rejects text without an MSH). Memory: one message plus one line.
 */
class MessageSplitter {
  private lineNo = 1;
  private partial = '';
  private partialTooLong = false;
  private lastWasCR = false;
  private first = true;
  private cur: {
    line: number;
    lines: string[];
    size: number;
    tooLong: boolean;
  } | null = null;

  constructor(private readonly maxChars: number) {}

  /** Feeds decoded text; returns the messages completed by it. */
  feed(text: string): Hl7MessageText[] {
    const out: Hl7MessageText[] = [];
    let s = text;
    if (this.first && s.length > 0) {
      this.first = false;
      if (s.startsWith(BOM)) s = s.slice(1);
    }
    let i = 0;
    if (this.lastWasCR && s.startsWith('\n')) i = 1;
    this.lastWasCR = false;
    const n = s.length;
    while (i < n) {
      let j = i;
      while (j < n) {
        const c = s.charCodeAt(j);
        if (c === 13 || c === 10) break;
        j++;
      }
      this.appendPartial(s, i, j);
      if (j >= n) break;
      // a line break: CR, LF or CRLF
      if (s.charCodeAt(j) === 13) {
        if (j + 1 < n) {
          if (s.charCodeAt(j + 1) === 10) j++;
        } else {
          this.lastWasCR = true;
        }
      }
      this.endLine(out);
      i = j + 1;
    }
    return out;
  }

  /** Ends the input: the last line and message. */
  end(): Hl7MessageText[] {
    const out: Hl7MessageText[] = [];
    if (this.partial.length > 0 || this.partialTooLong) this.endLine(out);
    this.flush(out);
    return out;
  }

  private appendPartial(s: string, from: number, to: number): void {
    if (to <= from) return;
    if (this.partialTooLong) return;
    if (this.partial.length + (to - from) > this.maxChars) {
      this.partial = (this.partial + s.slice(from, from + PREVIEW_CHARS)).slice(0, PREVIEW_CHARS);
      this.partialTooLong = true;
      return;
    }
    this.partial += s.slice(from, to);
  }

  private endLine(out: Hl7MessageText[]): void {
    const line = this.partial;
    const tooLong = this.partialTooLong;
    const lineNo = this.lineNo;
    this.partial = '';
    this.partialTooLong = false;
    this.lineNo++;
    // with a capturing group, split keeps the marks: VT (frame start) and FS (frame end)
    // both end the current message, so text between frames is never glued to one
    const pieces = MLLP_MARKS.test(line) ? line.split(MLLP_MARKS) : [line];
    let added = false;
    for (const raw of pieces) {
      if (raw === '\x0b' || raw === '\x1c') {
        this.flush(out);
        continue;
      }
      const piece = raw.replace(/^[\s\ufeff]+/, '');
      if (piece.trim() === '') continue;
      const kind = segmentKind(piece);
      if (kind === 'batch') {
        this.flush(out);
        continue;
      }
      if (kind === 'msh') this.flush(out);
      if (this.cur === null) this.cur = { line: lineNo, lines: [], size: 0, tooLong: false };
      this.add(piece, tooLong);
      added = true;
    }
    // a blank line inside a message keeps the lines of the segments after it true
    if (!added && this.cur !== null && !this.cur.tooLong) this.cur.lines.push('');
  }

  private add(piece: string, tooLong: boolean): void {
    const cur = this.cur!;
    if (cur.tooLong) return;
    cur.size += piece.length + 1;
    if (tooLong || cur.size > this.maxChars) {
      cur.lines.push(piece.slice(0, PREVIEW_CHARS));
      cur.tooLong = true;
      return;
    }
    cur.lines.push(piece);
  }

  private flush(out: Hl7MessageText[]): void {
    const cur = this.cur;
    this.cur = null;
    if (cur === null) return;
    const lines = cur.lines;
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (lines.length === 0) return;
    if (cur.tooLong) {
      out.push({
        text: lines.join('\r').slice(0, PREVIEW_CHARS),
        line: cur.line,
        error: `message starting at line ${cur.line} is longer than ${this.maxChars} characters (the limit of one message)`,
      });
    } else {
      out.push({ text: lines.join('\r'), line: cur.line });
    }
  }
}

/**
 * The messages of a file's text: one or many, batch files (FHS/BHS/BTS/FTS dropped), MLLP
 * captures (VT ... FS CR), CR / LF / CRLF endings, a UTF-8 BOM, blank lines. Each yielded
 * text is one message (segments joined by CR) starting at an MSH, or text found outside any
 * message (which parseHl7Message rejects, so it is quarantined rather than lost).
 */
export function* splitHl7Messages(
  text: string,
  maxMessageChars = MAX_MESSAGE_CHARS,
): Generator<Hl7MessageText> {
  const sp = new MessageSplitter(maxMessageChars);
  // feed in slices so that a huge text yields its first messages early
  const step = 1 << 20;
  for (let i = 0; i < text.length; i += step) yield* sp.feed(text.slice(i, i + step));
  yield* sp.end();
}

/**
 * splitHl7Messages over a byte stream: decoded as UTF-8 (a character split across chunks is
 * joined; invalid bytes become U+FFFD; a BOM is dropped). MSH-18 is not used to pick another
 * decoding: UTF-8 and ASCII feeds read exactly (see the docs for 8859 feeds).
 */
export async function* splitHl7MessagesStream(
  chunks: AsyncIterable<Buffer | Uint8Array>,
  maxMessageChars = MAX_MESSAGE_CHARS,
): AsyncGenerator<Hl7MessageText> {
  const sp = new MessageSplitter(maxMessageChars);
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of chunks) {
    const msgs = sp.feed(decoder.decode(chunk, { stream: true }));
    for (const m of msgs) yield m;
  }
  const rest = sp.feed(decoder.decode());
  for (const m of rest) yield m;
  for (const m of sp.end()) yield m;
}

/** parseHl7Message of a split message; a message the splitter had to cut throws its reason. */
export function parseSplitMessage(m: Hl7MessageText): Hl7Message {
  if (m.error !== undefined) throw new Hl7ParseError(m.error, m.line);
  return parseHl7Message(m.text, m.line);
}

// ---- one message --------------------------------------------------------------------------

const SEGMENT_NAME = /^[A-Z][A-Z0-9]{2}$/;

function show(s: string, max = 40): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}...` : s);
}

/** The delimiters of an MSH segment's text (§2.5.4), or an Hl7ParseError. */
function readDelimiters(msh: string, line: number): Hl7Delimiters {
  const field = msh[3];
  if (field === undefined)
    throw new Hl7ParseError(
      `line ${line}: MSH has no field separator (MSH-1); expected e.g. "MSH|^~\\&|", found ${show(msh)}`,
      line,
    );
  if (/[A-Za-z0-9\s]/.test(field))
    throw new Hl7ParseError(
      `line ${line}: MSH-1 field separator ${show(field)} is a letter, digit or space; expected e.g. "|"`,
      line,
    );
  const end = msh.indexOf(field, 4);
  const enc = end < 0 ? msh.slice(4) : msh.slice(4, end);
  // MSH-2: component, repetition, escape, subcomponent (+ truncation in v2.7+, §2.5.5.2)
  const bad =
    (enc.length !== 4 && enc.length !== 5) ||
    /[A-Za-z0-9\s]/.test(enc) ||
    new Set([field, ...enc]).size !== enc.length + 1;
  if (bad)
    throw new Hl7ParseError(
      `line ${line}: MSH-2 encoding characters ${show(enc)} are not 4 (or 5) distinct ` +
        `non-alphanumeric characters other than the field separator; expected e.g. "^~\\&"`,
      line,
    );
  return {
    field,
    component: enc[0]!,
    repetition: enc[1]!,
    escape: enc[2]!,
    subcomponent: enc[3]!,
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** \Xhh..\ (§2.7.4): hex bytes, decoded as UTF-8 (else Latin-1); null when not hex. */
function hexText(hex: string): string | null {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9A-Fa-f]+$/.test(hex)) return null;
  const bytes = Buffer.from(hex, 'hex');
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** A formatting escape (§2.7.6, FT data) as plain text: line breaks and spaces kept. */
function formatting(cmd: string): string | null {
  const m = /^\.(br|sp|in|ti|sk|ce|fi|nf)\s*([+-]?\d*)$/.exec(cmd);
  if (m === null) return null;
  const n = m[2] === '' ? 1 : Math.min(Math.abs(Number(m[2])), 100);
  switch (m[1]) {
    case 'br':
    case 'ce':
      return '\n';
    case 'sp':
      return '\n'.repeat(Math.max(n, 1));
    case 'sk':
      return ' '.repeat(n);
    default:
      return ''; // .in .ti .fi .nf: indentation and fill mode, no text
  }
}

/**
 * Decodes the escape sequences of one (sub)component (§2.7): \F\ \S\ \T\ \R\ \E\ \P\ to the
 * delimiters, \Xhh..\ to text, \.br\ \.sp\ \.ce\ to line breaks, \.sk n\ to spaces; \H\ \N\
 * (highlighting), \Cxxyy\ \Mxxyyzz\ (character set switches) and \Zxx\ (local) dropped. An
 * unknown or unterminated sequence is kept as written.
 */
export function unescapeHl7(s: string, d: Hl7Delimiters): string {
  const e = d.escape;
  if (s.indexOf(e) < 0) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const k = s.indexOf(e, i);
    if (k < 0) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, k);
    const close = s.indexOf(e, k + 1);
    if (close < 0) {
      out += s.slice(k);
      break;
    }
    const body = s.slice(k + 1, close);
    let rep: string | null = null;
    switch (body) {
      case 'F':
        rep = d.field;
        break;
      case 'S':
        rep = d.component;
        break;
      case 'T':
        rep = d.subcomponent;
        break;
      case 'R':
        rep = d.repetition;
        break;
      case 'E':
        rep = d.escape;
        break;
      case 'P':
        rep = '#'; // truncation character; only '#' is defined (§2.5.5.2)
        break;
      case 'H':
      case 'N':
        rep = '';
        break;
      default:
        if (body.startsWith('X')) rep = hexText(body.slice(1));
        else if (/^[CMZ][0-9A-Za-z]+$/.test(body)) rep = '';
        else if (body.startsWith('.')) rep = formatting(body);
    }
    if (rep === null) {
      // not an escape sequence: keep the escape character and go on after it
      out += e;
      i = k + 1;
    } else {
      out += rep;
      i = close + 1;
    }
  }
  return out;
}

type Field = ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>>;

function parseField(raw: string, d: Hl7Delimiters): Field {
  if (raw === '') return [];
  return raw
    .split(d.repetition)
    .map((rep) =>
      rep
        .split(d.component)
        .map((comp) => comp.split(d.subcomponent).map((sub) => unescapeHl7(sub, d))),
    );
}

function parseSegment(text: string, line: number, d: Hl7Delimiters): Hl7Segment {
  const name = text.slice(0, 3);
  if (!SEGMENT_NAME.test(name) || (text.length > 3 && text[3] !== d.field)) {
    const found = text.split(d.field, 1)[0]!;
    throw new Hl7ParseError(
      `line ${line}: segment name ${show(found, 20)} is not 3 upper-case letters or digits ` +
        `followed by the field separator ${show(d.field)} (§2.5.1); is this text that should ` +
        'have been escaped or a broken line?',
      line,
    );
  }
  const raw = text.split(d.field);
  const fields: Field[] = [[[[name]]]];
  if (name === 'MSH') {
    // MSH-1 is the separator itself and MSH-2 the encoding characters, both literal
    fields.push([[[d.field]]], [[[raw[1] ?? '']]]);
    for (let n = 2; n < raw.length; n++) fields.push(parseField(raw[n]!, d));
  } else {
    for (let n = 1; n < raw.length; n++) fields.push(parseField(raw[n]!, d));
  }
  return { name, fields, line };
}

/**
 * Parses one message (as splitHl7Messages yields it, or a frame's text). Segments end with CR,
 * LF or CRLF; blank lines are skipped (but counted, for segment lines); a leading BOM or MLLP
 * mark is ignored. `line` is the file line of the text's first line. Throws Hl7ParseError when
 * there is no MSH first, MSH-1/MSH-2 are unusable, a segment name is bad, or a second MSH
 * follows (two messages in one text).
 */
export function parseHl7Message(text: string, line = 1): Hl7Message {
  try {
    return parse(text, line);
  } catch (err) {
    if (err instanceof Hl7ParseError) throw err;
    // a parser bug must still not escape as anything but a parse error (the read goes on)
    throw new Hl7ParseError(`line ${line}: cannot parse the message (${String(err)})`, line);
  }
}

function parse(text: string, line: number): Hl7Message {
  const physical = text.split(/\r\n|\r|\n/);
  const lines: { text: string; line: number }[] = [];
  for (let i = 0; i < physical.length; i++) {
    const t = physical[i]!.replace(LEADING_MARKS, '').replace(TRAILING_FS, '');
    if (t.trim() !== '') lines.push({ text: t, line: line + i });
  }
  const first = lines[0];
  if (first === undefined) throw new Hl7ParseError(`line ${line}: empty message`, line);
  if (!first.text.startsWith('MSH'))
    throw new Hl7ParseError(
      `line ${first.line}: expected a message starting with an MSH segment, found ` +
        show(first.text),
      first.line,
    );
  const d = readDelimiters(first.text, first.line);
  const segments: Hl7Segment[] = [];
  for (const l of lines) {
    if (segments.length > 0 && l.text.startsWith('MSH'))
      throw new Hl7ParseError(
        `line ${l.line}: a second MSH inside one message (the message started at line ` +
          `${first.line}); messages must be split first`,
        l.line,
      );
    segments.push(parseSegment(l.text, l.line, d));
  }
  const msh = segments[0]!;
  const get = (n: number, comp: number): string => msh.fields[n]?.[0]?.[comp - 1]?.[0] ?? '';
  return {
    delimiters: d,
    segments,
    text: lines.map((l) => l.text).join('\r'),
    line: first.line,
    type: get(9, 1),
    event: get(9, 2),
    structure: get(9, 3),
    controlId: get(10, 1),
    version: get(12, 1),
  };
}
