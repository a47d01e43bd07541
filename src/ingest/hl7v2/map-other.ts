/**
 * MDM^T01-T11 (v2.5.1 ch. 9) → DocumentReference (v2-to-FHIR "TXA[DocumentReference]") and
 * SIU^S12-S26 (ch. 10) → Appointment (SCH, TQ1, AIS, AIG, AIL, AIP).
 */
import { stableId } from '../convert.js';
import type { FhirObject } from '../convert.js';
import { QuarantineCode } from '../types.js';
import { component, repetitions, segment, segments, value } from './model.js';
import type { Hl7Segment } from './model.js';
import {
  MapError,
  clean,
  cwe,
  eiKey,
  eiIdentifier,
  fieldDateTime,
  practitioner,
  toInstant,
  v2Coding,
} from './datatypes.js';
import type { Json, Rep } from './datatypes.js';
import { encounterIdOf } from './map-adt.js';
import type { MapContext } from './map.js';

/** ED type (table 0191) → MIME main type. */
const ED_TYPE: Readonly<Record<string, string>> = {
  TEXT: 'text',
  TX: 'text',
  AP: 'application',
  IM: 'image',
  AU: 'audio',
  VI: 'video',
  MULTIPART: 'multipart',
};

/** OBX-5 of an MDM body OBX → Attachment (TX/ST/FT as UTF-8 text, ED as its data, RP as url). */
function attachment(obx: Hl7Segment): Json | undefined {
  const type = value(obx, 2).trim().toUpperCase();
  const reps = repetitions(obx, 5);
  if (reps.length === 0) return undefined;
  // title: OBX-3 original text, else its display
  const id = repetitions(obx, 3)[0];
  const title = id === undefined ? '' : component(id, 9).trim() || component(id, 2).trim();
  if (type === 'ED') {
    const r = reps[0]!;
    const main =
      ED_TYPE[component(r, 2).trim().toUpperCase()] ?? component(r, 2).trim().toLowerCase();
    const sub = component(r, 3).trim().toLowerCase();
    const enc = component(r, 4).trim().toUpperCase();
    const data = component(r, 5).replace(/\s+/g, '');
    const contentType =
      /^[a-z]+$/.test(main) && /^[a-z0-9.+-]+$/.test(sub) ? `${main}/${sub}` : undefined;
    // An ED sent without data still names the document's type: kept as an attachment
    // without data (the document exists; its bytes were not sent).
    if (data === '') return contentType === undefined ? undefined : clean({ contentType, title });
    const b64 =
      enc === 'BASE64' && /^[A-Za-z0-9+/]+={0,2}$/.test(data)
        ? data
        : enc === 'HEX' && /^([0-9a-fA-F]{2})+$/.test(data)
          ? Buffer.from(data, 'hex').toString('base64')
          : Buffer.from(component(r, 5), 'utf8').toString('base64');
    return clean({ contentType, data: b64, title });
  }
  if (type === 'RP') {
    const url = component(reps[0]!, 1).trim();
    if (url === '' || /\s/.test(url)) return undefined;
    return clean({ url, title });
  }
  // Only text types carry document text (v2-to-FHIR MDM: TX, FT, ST, ED, RP); an HD, CWE,
  // NM ... OBX is a property of the document, not its content.
  if (type !== 'TX' && type !== 'FT' && type !== 'ST') return undefined;
  const text = reps
    .map((r) => r.map((c) => c.join('&')).join('^'))
    .join('\n')
    .trim();
  if (text === '') return undefined;
  return clean({
    contentType: 'text/plain; charset=utf-8',
    data: Buffer.from(text, 'utf8').toString('base64'),
    title,
  });
}

/** TXA-17 completion status (table 0271) → docStatus. */
const DOC_STATUS: Readonly<Record<string, string>> = {
  IP: 'preliminary',
  IN: 'preliminary',
  DI: 'preliminary',
  DO: 'preliminary',
  PA: 'preliminary',
  AU: 'final',
  LA: 'final',
};

/** MDM → DocumentReference (TXA + the OBX body). */
export function mapMdm(ctx: MapContext): FhirObject | undefined {
  const txa = segment(ctx.msg, 'TXA');
  if (txa === undefined)
    throw new MapError(
      QuarantineCode.MissingValue,
      'MDM without a TXA segment: no document header',
    );
  const content = segments(ctx.msg, 'OBX')
    .map(attachment)
    .filter((a) => a !== undefined)
    .map((a) => ({ attachment: a }));
  if (content.length === 0)
    throw new MapError(
      QuarantineCode.MissingValue,
      `MDM^${ctx.msg.event} carries no document content (no OBX with text, ED data or RP url): a DocumentReference needs content`,
    );
  const unique = repetitions(txa, 12)[0];
  const uk = eiKey(unique);
  const id =
    uk !== undefined
      ? stableId('doc', uk[0], uk[1])
      : ctx.msg.controlId !== ''
        ? stableId('doc', 'msh10', ctx.msg.controlId)
        : undefined;
  if (id === undefined)
    throw new MapError(
      QuarantineCode.MissingValue,
      'TXA-12 (unique document number) and MSH-10 are empty: no stable document id',
    );
  const avail = value(txa, 19).trim().toUpperCase();
  const typeCode = value(txa, 2).trim();
  const pv1 = segment(ctx.msg, 'PV1');
  const encId = encounterIdOf(pv1, ctx.patientId);
  const authors = [...repetitions(txa, 9), ...repetitions(txa, 22)]
    .map((r) => practitioner(r, ctx.out))
    .filter((x) => x !== undefined);
  const parent = eiKey(repetitions(txa, 13)[0]);
  return ctx.out.add(
    clean({
      resourceType: 'DocumentReference',
      id,
      masterIdentifier: eiIdentifier(unique),
      status: avail === 'OB' ? 'superseded' : avail === 'CA' ? 'entered-in-error' : 'current',
      docStatus: DOC_STATUS[value(txa, 17).trim().toUpperCase()],
      type: typeCode === '' ? undefined : { coding: [v2Coding('0270', typeCode)] },
      subject: ctx.patientRef,
      date: toInstant(value(txa, 6) || value(txa, 4), 'TXA-6 / TXA-4'),
      author: authors,
      relatesTo:
        parent === undefined
          ? []
          : [
              {
                code: 'replaces',
                target: { reference: `DocumentReference/${stableId('doc', parent[0], parent[1])}` },
              },
            ],
      content,
      context: clean({
        encounter: encId === undefined ? [] : [{ reference: `Encounter/${encId}` }],
        period: clean({ start: fieldDateTime(txa, 4) }),
      }),
    }) as FhirObject,
  );
}

/** SCH-25 filler status (table 0278) → Appointment.status. */
const APPT_STATUS: Readonly<Record<string, string>> = {
  BOOKED: 'booked',
  PENDING: 'pending',
  WAITLIST: 'waitlist',
  CANCELLED: 'cancelled',
  DELETED: 'entered-in-error',
  COMPLETE: 'fulfilled',
  NOSHOW: 'noshow',
  STARTED: 'arrived',
  OVERBOOK: 'booked',
  BLOCKED: 'booked',
  DC: 'cancelled',
};

/** SIU events whose meaning fixes the status (v2.5.1 §10.3). */
const EVENT_STATUS: Readonly<Record<string, string>> = {
  S15: 'cancelled',
  S16: 'cancelled',
  S17: 'entered-in-error',
  S26: 'noshow',
};

/** SIU → Appointment (id from SCH-1 placer / SCH-2 filler appointment id). */
export function mapSiu(ctx: MapContext): FhirObject | undefined {
  const sch = segment(ctx.msg, 'SCH');
  if (sch === undefined)
    throw new MapError(QuarantineCode.MissingValue, 'SIU without an SCH segment: no appointment');
  const placer = repetitions(sch, 1)[0];
  const filler = repetitions(sch, 2)[0];
  const key = eiKey(placer) ?? eiKey(filler);
  if (key === undefined)
    throw new MapError(
      QuarantineCode.MissingValue,
      'SCH-1 (placer) and SCH-2 (filler appointment id) are empty: no stable appointment id',
    );
  const id = stableId('appt', ...key);
  const tq1 = segment(ctx.msg, 'TQ1');
  const timing: Rep | undefined = repetitions(sch, 11)[0];
  const start =
    toInstant(value(tq1, 7), 'TQ1-7') ??
    toInstant(timing === undefined ? '' : component(timing, 4), 'SCH-11.4') ??
    toInstant(value(segment(ctx.msg, 'AIS'), 4), 'AIS-4');
  const end =
    toInstant(value(tq1, 8), 'TQ1-8') ??
    toInstant(timing === undefined ? '' : component(timing, 5), 'SCH-11.5');
  const status =
    EVENT_STATUS[ctx.msg.event] ??
    APPT_STATUS[value(sch, 25).trim().toUpperCase().replace(/\s+/g, '')] ??
    (start === undefined ? 'proposed' : 'booked');
  const partStatus = (seg: Hl7Segment, n: number): string => {
    const s = value(seg, n).trim().toUpperCase();
    return s === 'CANCELLED' || s === 'DELETED' || s === 'NOSHOW' ? 'declined' : 'accepted';
  };
  const participant: Json[] = [{ actor: ctx.patientRef, status: 'accepted' }];
  for (const aip of segments(ctx.msg, 'AIP')) {
    const ref = practitioner(repetitions(aip, 3)[0], ctx.out);
    if (ref === undefined) continue;
    const role = cwe(repetitions(aip, 4)[0]);
    participant.push(
      clean({ type: role === undefined ? [] : [role], actor: ref, status: partStatus(aip, 12) }),
    );
  }
  for (const ail of segments(ctx.msg, 'AIL')) {
    const pl = repetitions(ail, 3)[0];
    if (pl === undefined) continue;
    const parts = pl.map((c) => c.join('&').trim());
    if (parts.every((p) => p === '')) continue;
    const locId = stableId('loc', ...parts);
    const name = [4, 1, 2, 3]
      .map((n) => component(pl, n).trim())
      .filter((s) => s !== '')
      .join(' ');
    ctx.out.add({ resourceType: 'Location', id: locId, status: 'active', name, mode: 'instance' });
    participant.push({
      actor: { reference: `Location/${locId}`, display: name },
      status: partStatus(ail, 12),
    });
  }
  const minutes = Number(value(sch, 9));
  const unit = value(sch, 10, 1).trim().toLowerCase();
  const duration =
    Number.isInteger(minutes) && minutes > 0
      ? unit === 'h' || unit === 'hr'
        ? minutes * 60
        : unit === 's'
          ? undefined
          : minutes
      : undefined;
  const endAt =
    end ??
    (start !== undefined && duration !== undefined
      ? new Date(Date.parse(start) + duration * 60000).toISOString().replace('.000Z', 'Z')
      : undefined);
  const serviceType = segments(ctx.msg, 'AIS')
    .map((s) => cwe(repetitions(s, 3)[0]))
    .filter((x) => x !== undefined);
  return ctx.out.add(
    clean({
      resourceType: 'Appointment',
      id,
      identifier: [eiIdentifier(placer, 'PLAC'), eiIdentifier(filler, 'FILL')].filter(
        (x) => x !== undefined,
      ),
      status,
      cancelationReason: status === 'cancelled' ? cwe(repetitions(sch, 6)[0]) : undefined,
      serviceType,
      appointmentType: cwe(repetitions(sch, 8)[0]),
      reasonCode: [cwe(repetitions(sch, 7)[0])].filter((x) => x !== undefined),
      description: (cwe(repetitions(sch, 7)[0])?.['text'] as string | undefined) ?? undefined,
      // app-2: start and end together; end from the duration when only the start is sent
      start: start !== undefined && endAt !== undefined ? start : undefined,
      end: start !== undefined ? endAt : undefined,
      minutesDuration: duration,
      participant,
    }) as FhirObject,
  );
}
