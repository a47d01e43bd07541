/**
 * One HL7 v2 message → FHIR R4 resources, after the HL7 v2-to-FHIR IG's message maps
 * (https://build.fhir.org/ig/HL7/v2-to-fhir/). `mapHl7Message` never throws: a message it
 * cannot map becomes one quarantined record with the reason. See docs/ingest-hl7v2.md.
 */
import { quarantined } from '../convert.js';
import type { ConvertedRecord, FhirObject } from '../convert.js';
import { QuarantineCode } from '../types.js';
import { segment, value } from './model.js';
import type { Hl7Message } from './model.js';
import { Emitted, MapError, patientCx, patientIdOfCx, toInstant } from './datatypes.js';
import type { Json } from './datatypes.js';
import { mapAdt, mapPatient } from './map-adt.js';
import { mapOru } from './map-oru.js';
import { mapOrders, mapRde, mapRas, mapVxu } from './map-orders.js';
import { mapMdm, mapSiu } from './map-other.js';

/** URL of the extension that keeps a Z-segment's raw text on the message's primary resource. */
export const Z_SEGMENT_EXTENSION = 'https://medlake.dev/fhir/StructureDefinition/hl7v2-z-segment';

/** What every message mapper is given. */
export interface MapContext {
  readonly msg: Hl7Message;
  readonly file: string;
  /** The Patient's id (patientIdFor of the chosen PID-3) and a Reference to it. */
  readonly patientId: string;
  readonly patientRef: Json;
  readonly out: Emitted;
}

type Mapper = (ctx: MapContext) => FhirObject | undefined;

/** ADT events mapped (v2.5.1 ch. 3), others are quarantined as unsupported. */
const ADT_EVENTS = new Set([
  'A01',
  'A02',
  'A03',
  'A04',
  'A05',
  'A06',
  'A07',
  'A08',
  'A11',
  'A12',
  'A13',
  'A28',
  'A31',
  'A40',
]);

function mapperFor(msg: Hl7Message): Mapper | undefined {
  const { type, event } = msg;
  switch (type) {
    case 'ADT':
      return ADT_EVENTS.has(event) ? mapAdt : undefined;
    case 'ORU':
      return event === 'R01' ? mapOru : undefined;
    case 'ORM':
      return event === 'O01' ? mapOrders : undefined;
    case 'OML':
      return event === 'O21' ? mapOrders : undefined;
    case 'RDE':
      return event === 'O11' || event === 'O25' ? mapRde : undefined;
    case 'RAS':
      return event === 'O17' ? mapRas : undefined;
    case 'VXU':
      return event === 'V04' ? mapVxu : undefined;
    case 'MDM':
      return /^T(0[1-9]|1[01])$/.test(event) ? mapMdm : undefined;
    case 'SIU':
      return /^S(1[2-9]|2[0-6])$/.test(event) ? mapSiu : undefined;
    default:
      return undefined;
  }
}

/** The raw text of each Z-segment, from the message text (re-encoded if not found there). */
function zSegments(msg: Hl7Message): string[] {
  const zs = msg.segments.filter((s) => /^Z[A-Z0-9]{2}$/.test(s.name));
  if (zs.length === 0) return [];
  const lines = msg.text.split(/\r\n|\r|\n/);
  const d = msg.delimiters;
  return zs.map((s, i) => {
    const raw = lines.filter((l) => l.startsWith(s.name + d.field))[
      zs.slice(0, i).filter((p) => p.name === s.name).length
    ];
    if (raw !== undefined) return raw;
    return [
      s.name,
      ...s.fields
        .slice(1)
        .map((f) =>
          f.map((r) => r.map((c) => c.join(d.subcomponent)).join(d.component)).join(d.repetition),
        ),
    ].join(d.field);
  });
}

function withMeta(r: FhirObject, lastUpdated: string | undefined): FhirObject {
  if (lastUpdated === undefined) return r;
  const { resourceType, id, meta, ...rest } = r;
  return { resourceType, id, meta: { ...(meta as Json | undefined), lastUpdated }, ...rest };
}

/**
 * The FHIR resources of one parsed message, or one quarantined record saying why it could not
 * be mapped. Every resource gets meta.lastUpdated = MSH-7 (a time without zone is taken as UTC),
 * except the Patient of a message other than ADT (see below).
 */
export function mapHl7Message(msg: Hl7Message, file: string): ConvertedRecord[] {
  const source = { file, line: msg.line };
  const recSource = msg.controlId === '' ? source : { ...source, record: msg.controlId };
  const fail = (code: QuarantineCode, reason: string): ConvertedRecord[] => [
    quarantined(
      code,
      `${file}:${msg.line} message ${msg.controlId || '(no MSH-10)'}: ${reason}`,
      source,
      msg.text,
    ),
  ];
  try {
    const mapper = mapperFor(msg);
    const kind = `${msg.type || '?'}^${msg.event || '?'}`;
    if (mapper === undefined) {
      return fail(
        msg.type === '' ? QuarantineCode.MissingValue : QuarantineCode.Unsupported,
        msg.type === ''
          ? 'MSH-9 message type is empty'
          : `message type ${kind} has no FHIR mapping in medlake (mapped: ADT A01-A08/A11-A13/A28/A31/A40, ORU^R01, ORM^O01, OML^O21, RDE^O11/O25, RAS^O17, VXU^V04, MDM^T01-T11, SIU^S12-S26)`,
      );
    }
    const msh = segment(msg, 'MSH');
    const lastUpdated = toInstant(value(msh, 7), 'MSH-7 (message date/time)');
    const pid = segment(msg, 'PID');
    if (pid === undefined)
      throw new MapError(QuarantineCode.MissingValue, `${kind} has no PID segment`);
    const cx = patientCx(pid);
    if (cx === undefined)
      throw new MapError(
        QuarantineCode.MissingValue,
        `PID-3 (patient identifier list) is empty; expected at least one CX with an id (CX.1)`,
      );
    const patientId = patientIdOfCx(cx);
    const ctx: MapContext = {
      msg,
      file,
      patientId,
      patientRef: { reference: `Patient/${patientId}` },
      out: new Emitted(),
    };
    const patient = mapPatient(ctx, pid);
    let primary = mapper(ctx) ?? patient;
    const zs = zSegments(msg);
    const all = ctx.out.all().map((r) => {
      if (zs.length > 0 && r === primary) {
        const ext = Array.isArray(r['extension']) ? (r['extension'] as Json[]) : [];
        primary = {
          ...r,
          extension: [...ext, ...zs.map((z) => ({ url: Z_SEGMENT_EXTENSION, valueString: z }))],
        };
        return primary;
      }
      return r;
    });
    // Only ADT messages are about the patient; the PID of an ORU, RDE, VXU... is often
    // sparse. Their Patient gets no lastUpdated, so the lake keeps it only until a Patient
    // with one (an ADT's) arrives, and never lets it replace that one.
    const patientFromAdt = msg.type === 'ADT';
    return all.map((r) => ({
      kind: 'fhir' as const,
      resource: withMeta(
        r,
        r['resourceType'] === 'Patient' && r.id === patientId && !patientFromAdt
          ? undefined
          : lastUpdated,
      ),
      source: recSource,
    }));
  } catch (e) {
    if (e instanceof MapError) return fail(e.code, e.message);
    return fail(
      QuarantineCode.Malformed,
      `could not be mapped: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}
