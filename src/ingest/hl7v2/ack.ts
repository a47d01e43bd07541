/**
 * HL7 v2 acknowledgements (original mode, HL7 v2 §2.9.2): an ACK answering a message with
 * MSA-1 AA (accepted), AE (error) or AR (rejected), MSA-2 the message's control id (MSH-10),
 * and for AE/AR an ERR segment with the reason. Written in the message's delimiters and
 * version; for input that could not be parsed at all, a best-effort AR in `|^~\&` and 2.5.1.
 */
import type { Hl7Delimiters, Hl7Message } from './model.js';
import { value } from './model.js';
import { DEFAULT_DELIMITERS } from './parse.js';

export type AckCode = 'AA' | 'AE' | 'AR';

/** Version written in ACKs to unparseable input (and when MSH-12 is empty). */
const DEFAULT_VERSION = '2.5.1';
/** Longest error text put in an ACK (the rest is cut, with "..."). */
const MAX_ERROR_CHARS = 1000;

let ackCounter = 0;

/** A control id for an ACK (MSH-10, ≤ 20 characters): time and a counter, unique per process. */
function newControlId(): string {
  ackCounter = (ackCounter + 1) % 1_000_000;
  return `ACK${Date.now().toString(36).toUpperCase()}${String(ackCounter).padStart(6, '0')}`.slice(
    0,
    20,
  );
}

/** Current time as DTM `YYYYMMDDHHMMSS+0000` (§2.A.22). */
function dtmNow(): string {
  const iso = new Date().toISOString(); // 2024-01-02T03:04:05.678Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+0000`;
}

/** Escapes text for one (sub)component in the given delimiters (§2.7); CR/LF as hex. */
export function escapeHl7Text(text: string, d: Hl7Delimiters): string {
  let out = '';
  for (const ch of text) {
    if (ch === d.escape) out += `${d.escape}E${d.escape}`;
    else if (ch === d.field) out += `${d.escape}F${d.escape}`;
    else if (ch === d.component) out += `${d.escape}S${d.escape}`;
    else if (ch === d.subcomponent) out += `${d.escape}T${d.escape}`;
    else if (ch === d.repetition) out += `${d.escape}R${d.escape}`;
    else if (ch === '\r') out += `${d.escape}X0D${d.escape}`;
    else if (ch === '\n') out += `${d.escape}X0A${d.escape}`;
    else if (ch < ' ') out += ' ';
    else out += ch;
  }
  return out;
}

/** Field n of the message's MSH, first repetition, re-encoded (components and subcomponents). */
function mshField(msg: Hl7Message, n: number): string {
  const d = msg.delimiters;
  const rep = msg.segments[0]?.fields[n]?.[0] ?? [];
  return rep
    .map((comp) => comp.map((sub) => escapeHl7Text(sub, d)).join(d.subcomponent))
    .join(d.component);
}

/** Compares version ids numerically ("2.3.1" < "2.5" < "2.10"); '' counts as 2.5.1. */
function versionAtLeast(version: string, min: string): boolean {
  const a = (version === '' ? DEFAULT_VERSION : version).split('.').map((x) => Number(x) || 0);
  const b = min.split('.').map((x) => Number(x) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/**
 * Error codes of table 0357 (message error condition codes) used in ERR-3 (v2.5+) or
 * ERR-1.4 (earlier): 207 application internal error unless the caller names another.
 */
export const HL7_ERROR_CODES: Readonly<Record<string, string>> = {
  '100': 'Segment sequence error',
  '101': 'Required field missing',
  '102': 'Data type error',
  '103': 'Table value not found',
  '200': 'Unsupported message type',
  '201': 'Unsupported event code',
  '203': 'Unsupported version id',
  '207': 'Application internal error',
};

/**
 * The ACK answering `msg` (null: input that could not be parsed), as segments joined by CR
 * (no MLLP framing). MSH swaps sending and receiving application/facility (MSH-3/4 ↔ 5/6),
 * MSH-9 `ACK^<event>^ACK`, MSH-11/12 copied; MSA-1 `code`, MSA-2 the original MSH-10. With an
 * error (AE/AR): v2.5+ ERR-3 (table 0357 code), ERR-4 severity E, ERR-8 user message = the
 * text; before v2.5 ERR-1 (code and location) and MSA-3 (text message) carry it.
 */
export function buildAck(
  msg: Hl7Message | null,
  code: AckCode,
  error?: string,
  controlIdOfAck?: string,
  errorCode = '207',
): string {
  const d = msg?.delimiters ?? DEFAULT_DELIMITERS;
  const f = d.field;
  const version = msg === null || msg.version === '' ? DEFAULT_VERSION : msg.version;
  const modern = versionAtLeast(version, '2.5');
  const field = (n: number): string => (msg === null ? '' : mshField(msg, n));
  const processing = msg === null ? 'P' : escapeHl7Text(value(msg.segments[0], 11) || 'P', d);
  const event = msg === null ? '' : escapeHl7Text(msg.event, d);
  const type = versionAtLeast(version, '2.3.1')
    ? ['ACK', event, 'ACK'].join(d.component)
    : ['ACK', event].join(d.component);
  const encoding = `${d.component}${d.repetition}${d.escape}${d.subcomponent}`;
  const msh = [
    'MSH',
    encoding,
    field(5),
    field(6),
    field(3),
    field(4),
    dtmNow(),
    '',
    type.replace(new RegExp(`\\${d.component}+$`), ''),
    escapeHl7Text(controlIdOfAck ?? newControlId(), d),
    processing,
    escapeHl7Text(version, d),
  ].join(f);
  const text =
    error === undefined || error === ''
      ? ''
      : escapeHl7Text(
          error.length > MAX_ERROR_CHARS ? `${error.slice(0, MAX_ERROR_CHARS)}...` : error,
          d,
        );
  const control = msg === null ? '' : escapeHl7Text(msg.controlId, d);
  const withError = code !== 'AA' && text !== '';
  const msa = ['MSA', code, control, ...(withError && !modern ? [text] : [])].join(f);
  const segs = [msh, msa];
  if (withError) {
    const name = HL7_ERROR_CODES[errorCode] ?? '';
    if (modern) {
      // ERR-1 (withdrawn) empty, ERR-2 location unknown, ERR-3 CWE, ERR-4 severity, ERR-8 text
      segs.push(
        ['ERR', '', '', [errorCode, name, 'HL70357'].join(d.component), 'E', '', '', '', text].join(
          f,
        ),
      );
    } else {
      // ERR-1 ELD: segment^sequence^field^code (CE, as subcomponents: code&text&HL70357)
      segs.push(
        [
          'ERR',
          ['', '', '', [errorCode, text, 'HL70357'].join(d.subcomponent)].join(d.component),
        ].join(f),
      );
    }
  }
  return segs.join('\r') + '\r';
}
