/**
 * The parsed form of an HL7 v2 message (v2.3 to v2.8), shared by the parser (parse.ts),
 * the mapping to FHIR (map*.ts) and the MLLP listener. Values are unescaped text
 * (HL7 v2 §2.7 escape sequences already decoded); positions are 1-based as in the
 * standard, so `field(seg, 3)` is PID-3.
 */

/** The message's delimiters (MSH-1 and MSH-2, HL7 v2 §2.5.4). */
export interface Hl7Delimiters {
  readonly field: string;
  readonly component: string;
  readonly repetition: string;
  readonly escape: string;
  readonly subcomponent: string;
}

/**
 * One segment. `fields[n]` is field n (1-based; fields[0] is the segment name). A field is
 * a list of repetitions, a repetition a list of components, a component a list of
 * subcomponents (all as unescaped strings). For MSH, fields[1] is the field separator and
 * fields[2] the encoding characters, as the standard numbers them.
 */
export interface Hl7Segment {
  readonly name: string;
  readonly fields: ReadonlyArray<ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>>>;
  /** 1-based line of the segment in its file (segment index when the file has no line breaks). */
  readonly line: number;
}

export interface Hl7Message {
  readonly delimiters: Hl7Delimiters;
  readonly segments: readonly Hl7Segment[];
  /** The message's original text (segments joined by CR), for quarantine and Z-segment provenance. */
  readonly text: string;
  /** 1-based line where the message starts in its file. */
  readonly line: number;
  /** MSH-9.1, MSH-9.2, MSH-9.3 (e.g. ADT, A01, ADT_A01; '' when absent). */
  readonly type: string;
  readonly event: string;
  readonly structure: string;
  /** MSH-10 message control id ('' when absent). */
  readonly controlId: string;
  /** MSH-12.1 version id (e.g. 2.5.1; '' when absent). */
  readonly version: string;
}

/** HL7 v2 null: a field sent as `""` means "delete the value" (§2.5.3); mapped as absent. */
export const HL7_NULL = '""';

/** Subcomponent `sub` of component `comp` of repetition `rep` of field `n` ('' when absent). */
export function value(seg: Hl7Segment | undefined, n: number, comp = 1, sub = 1, rep = 0): string {
  const v = seg?.fields[n]?.[rep]?.[comp - 1]?.[sub - 1] ?? '';
  return v === HL7_NULL ? '' : v;
}

/** The repetitions of field `n` (empty when absent). */
export function repetitions(
  seg: Hl7Segment | undefined,
  n: number,
): ReadonlyArray<ReadonlyArray<ReadonlyArray<string>>> {
  return seg?.fields[n] ?? [];
}

/** Component `comp` (subcomponent 1) of one repetition. */
export function component(
  rep: ReadonlyArray<ReadonlyArray<string>>,
  comp: number,
  sub = 1,
): string {
  const v = rep[comp - 1]?.[sub - 1] ?? '';
  return v === HL7_NULL ? '' : v;
}

/** The first segment named `name`, or undefined. */
export function segment(msg: Hl7Message, name: string): Hl7Segment | undefined {
  return msg.segments.find((s) => s.name === name);
}

/** Every segment named `name`, in order. */
export function segments(msg: Hl7Message, name: string): Hl7Segment[] {
  return msg.segments.filter((s) => s.name === name);
}
