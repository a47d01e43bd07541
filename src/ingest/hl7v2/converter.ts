/**
 * The HL7 v2 FormatConverter (issue 4): sniffs HL7 v2 files by their first bytes and reads
 * each file as a stream of messages (parse.ts), mapping each to FHIR (map.ts). One file per
 * group; no state is kept across messages, so memory stays flat in the file size.
 */
import { quarantined } from '../convert.js';
import type { ConvertContext, ConvertedRecord, FormatConverter } from '../convert.js';
import { QuarantineCode } from '../types.js';
import { mapHl7Message } from './map.js';
import { Hl7ParseError, parseSplitMessage, splitHl7MessagesStream } from './parse.js';

/**
 * True when `head` starts (after a UTF-8 BOM, MLLP start block VT, and blank lines or spaces)
 * with `MSH` + a field delimiter, or a batch header `FHS` / `BHS` + delimiter (v2.5.1 §2.10).
 * The delimiter must be a printable non-alphanumeric character, as MSH-1 requires.
 */
export function sniffHl7v2(head: Buffer): boolean {
  let i = 0;
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) i = 3;
  while (i < head.length && [0x0b, 0x0d, 0x0a, 0x20, 0x09].includes(head[i]!)) i++;
  if (i + 4 > head.length) return false;
  const tag = head.toString('latin1', i, i + 3);
  if (tag !== 'MSH' && tag !== 'FHS' && tag !== 'BHS') return false;
  const d = head[i + 3]!;
  return d > 0x20 && d < 0x7f && !/[A-Za-z0-9]/.test(String.fromCharCode(d));
}

export const hl7v2Converter: FormatConverter = {
  format: 'hl7v2',
  sniff(_name: string, head: Buffer): boolean {
    try {
      return sniffHl7v2(head);
    } catch {
      return false;
    }
  },
  async *read(files: readonly string[], ctx: ConvertContext): AsyncIterable<ConvertedRecord> {
    for (const file of files) {
      for await (const m of splitHl7MessagesStream(ctx.chunks(file))) {
        let msg;
        try {
          msg = parseSplitMessage(m);
        } catch (e) {
          const line = e instanceof Hl7ParseError ? e.line : m.line;
          yield quarantined(
            QuarantineCode.Malformed,
            `${file}:${line}: not a parseable HL7 v2 message: ${e instanceof Error ? e.message : String(e)}`,
            { file, line },
            m.text,
          );
          continue;
        }
        yield* mapHl7Message(msg, file);
      }
    }
  },
};
