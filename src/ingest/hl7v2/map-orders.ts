/**
 * Order messages (v2.5.1 ch. 4): ORM^O01 / OML^O21 → ServiceRequest, RDE^O11 / RDE^O25 →
 * MedicationRequest, RAS^O17 → MedicationAdministration, VXU^V04 → Immunization, following
 * v2-to-FHIR "ORC[ServiceRequest]", "RXE[MedicationRequest]", "RXA[MedicationAdministration]"
 * and "RXA[Immunization]".
 */
import { stableId } from '../convert.js';
import type { FhirObject } from '../convert.js';
import { QuarantineCode } from '../types.js';
import { component, repetitions, value } from './model.js';
import type { Hl7Segment } from './model.js';
import {
  MapError,
  clean,
  cwe,
  cwes,
  eiIdentifier,
  eiKey,
  fieldDateTime,
  hdKey,
  organization,
  practitioner,
  subs,
  toDate,
} from './datatypes.js';
import type { Json, Rep } from './datatypes.js';
import { encounterIdOf } from './map-adt.js';
import { decimal, quantity, serviceRequestId } from './map-oru.js';
import type { MapContext } from './map.js';

/** An ORC and the segments up to the next ORC (ORC-less messages: one group of all). */
export interface OrderGroup {
  readonly orc?: Hl7Segment;
  readonly segs: Hl7Segment[];
}

export function orderGroups(segs: readonly Hl7Segment[], starts: readonly string[]): OrderGroup[] {
  const out: { orc?: Hl7Segment; segs: Hl7Segment[] }[] = [];
  for (const s of segs) {
    if (s.name === 'ORC') out.push({ orc: s, segs: [] });
    else if (out.length > 0) out[out.length - 1]!.segs.push(s);
    else if (starts.includes(s.name)) out.push({ segs: [s] });
  }
  return out;
}

function first(g: OrderGroup, name: string): Hl7Segment | undefined {
  return g.segs.find((s) => s.name === name);
}

function encounterRef(ctx: MapContext): Json | undefined {
  const pv1 = ctx.msg.segments.find((s) => s.name === 'PV1');
  const id = encounterIdOf(pv1, ctx.patientId);
  return id === undefined ? undefined : { reference: `Encounter/${id}` };
}

/** A stable id from the placer (ORC-2), else filler (ORC-3), else MSH-10 + position. */
function orderId(
  ctx: MapContext,
  prefix: string,
  placer: Rep | undefined,
  filler: Rep | undefined,
  index: number,
  what: string,
): string {
  const pk = eiKey(placer);
  if (pk !== undefined) return stableId(prefix, pk[0], pk[1]);
  const fk = eiKey(filler);
  if (fk !== undefined) return stableId(prefix, 'filler', fk[0], fk[1]);
  if (ctx.msg.controlId !== '') return stableId(prefix, 'msh10', ctx.msg.controlId, String(index));
  throw new MapError(
    QuarantineCode.MissingValue,
    `${what} #${index + 1} has no placer (ORC-2) or filler (ORC-3) order number and MSH-10 is empty: no stable id`,
  );
}

/** ORC-5 order status (table 0038), else ORC-1 order control (table 0119) → request status. */
function requestStatus(orc: Hl7Segment | undefined, medication: boolean): string {
  const s = value(orc, 5).trim().toUpperCase();
  const byStatus: Readonly<Record<string, string>> = {
    A: 'active',
    IP: 'active',
    SC: medication ? 'draft' : 'active',
    CM: 'completed',
    DC: medication ? 'stopped' : 'revoked',
    CA: medication ? 'cancelled' : 'revoked',
    HD: 'on-hold',
    ER: 'entered-in-error',
  };
  if (byStatus[s] !== undefined) return byStatus[s]!;
  const c = value(orc, 1).trim().toUpperCase();
  const byControl: Readonly<Record<string, string>> = {
    NW: 'active',
    SN: 'active',
    XO: 'active',
    RE: 'active',
    SC: 'active',
    CA: medication ? 'cancelled' : 'revoked',
    OC: medication ? 'cancelled' : 'revoked',
    DC: medication ? 'stopped' : 'revoked',
    OD: medication ? 'stopped' : 'revoked',
    HD: 'on-hold',
    OH: 'on-hold',
  };
  return byControl[c] ?? 'unknown';
}

/** TQ1-9 / OBR-5 priority (table 0485) → request priority. */
function priority(code: string): string | undefined {
  const c = code.trim().toUpperCase();
  return c === 'S'
    ? 'stat'
    : c === 'A'
      ? 'asap'
      : c === 'R'
        ? 'routine'
        : c === 'T'
          ? 'urgent'
          : undefined;
}

/** ORM^O01 / OML^O21 → ServiceRequest per ORC (with its OBR). Primary: the first. */
export function mapOrders(ctx: MapContext): FhirObject | undefined {
  const groups = orderGroups(ctx.msg.segments, ['OBR']);
  if (groups.length === 0)
    throw new MapError(
      QuarantineCode.MissingValue,
      `${ctx.msg.type}^${ctx.msg.event} without ORC or OBR: no order`,
    );
  const encounter = encounterRef(ctx);
  let primary: FhirObject | undefined;
  groups.forEach((g, i) => {
    const obr = first(g, 'OBR');
    const tq1 = first(g, 'TQ1');
    const placer = repetitions(g.orc, 2)[0] ?? repetitions(obr, 2)[0];
    const filler = repetitions(g.orc, 3)[0] ?? repetitions(obr, 3)[0];
    const pk = eiKey(placer);
    const id =
      pk !== undefined
        ? serviceRequestId(placer)!
        : orderId(ctx, 'sr', undefined, filler, i, 'order');
    const code =
      cwe(repetitions(obr, 4)[0]) ??
      cwe(repetitions(first(g, 'RXO'), 1)[0]) ??
      cwe(repetitions(g.orc, 16)[0]);
    const requester =
      practitioner(repetitions(g.orc, 12)[0], ctx.out) ??
      practitioner(repetitions(obr, 16)[0], ctx.out);
    const sr = ctx.out.add(
      clean({
        resourceType: 'ServiceRequest',
        id,
        identifier: [eiIdentifier(placer, 'PLAC'), eiIdentifier(filler, 'FILL')].filter(
          (x) => x !== undefined,
        ),
        status: requestStatus(g.orc, false),
        intent: 'order',
        priority: priority(value(tq1, 9) || value(obr, 5) || value(obr, 27, 6)),
        code,
        subject: ctx.patientRef,
        encounter,
        occurrenceDateTime: fieldDateTime(obr, 6) ?? fieldDateTime(tq1, 7),
        authoredOn: fieldDateTime(g.orc, 9),
        requester,
        reasonCode: cwes(obr, 31),
      }) as FhirObject,
    );
    primary ??= sr;
  });
  return primary;
}

function dosageRoute(rxr: Hl7Segment | undefined): Json {
  return clean({ route: cwe(repetitions(rxr, 1)[0]), site: cwe(repetitions(rxr, 2)[0]) });
}

/** CQ `3^d&d&UCUM` (quantity^units as subcomponents) → Duration/Quantity. */
function cq(rep: Rep | undefined, where: string): Json | undefined {
  if (rep === undefined) return undefined;
  const n = decimal(component(rep, 1), where);
  if (n === undefined) return undefined;
  const u = subs(rep, 2);
  return quantity(n, [[u[0] ?? ''], [u[1] ?? ''], [u[2] ?? '']]);
}

const GTS = new Set('BID TID QID AM PM QD QOD Q1H Q2H Q3H Q4H Q6H Q8H BED WK MO'.split(' '));

/** RDE^O11 / RDE^O25 → MedicationRequest per ORC + RXE. Primary: the first. */
export function mapRde(ctx: MapContext): FhirObject | undefined {
  const groups = orderGroups(ctx.msg.segments, ['RXE']).filter(
    (g) => first(g, 'RXE') !== undefined,
  );
  if (groups.length === 0)
    throw new MapError(
      QuarantineCode.MissingValue,
      'RDE without an RXE segment: no medication order',
    );
  const encounter = encounterRef(ctx);
  let primary: FhirObject | undefined;
  groups.forEach((g, i) => {
    const rxe = first(g, 'RXE')!;
    const tq1 = g.segs.find((s) => s.name === 'TQ1');
    const rxr = first(g, 'RXR');
    const med = cwe(repetitions(rxe, 2)[0]);
    if (med === undefined)
      throw new MapError(
        QuarantineCode.MissingValue,
        `RXE #${i + 1} RXE-2 (give code) is empty; a MedicationRequest needs its medication`,
      );
    const placer = repetitions(g.orc, 2)[0];
    const filler = repetitions(g.orc, 3)[0];
    const id = orderId(ctx, 'medrx', placer, filler, i, 'RXE');
    const dose = decimal(value(rxe, 3), `RXE #${i + 1} RXE-3`);
    const units = repetitions(rxe, 5)[0];
    const repeat = value(tq1, 3).trim().toUpperCase();
    const text = repetitions(rxe, 7)
      .map((r) => component(r, 9).trim() || component(r, 2).trim())
      .filter((s) => s !== '')
      .join('; ');
    const bounds = cq(repetitions(tq1, 6)[0], `RXE #${i + 1} TQ1-6`);
    const timing = clean({
      code:
        repeat === ''
          ? undefined
          : GTS.has(repeat)
            ? {
                coding: [
                  {
                    system: 'http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation',
                    code: repeat,
                  },
                ],
              }
            : { text: repeat },
      repeat: bounds === undefined ? undefined : { boundsDuration: bounds },
    });
    const dosage = clean({
      text,
      timing,
      asNeededBoolean: value(tq1, 9).trim().toUpperCase() === 'PRN' ? true : undefined,
      ...dosageRoute(rxr),
      doseAndRate: dose === undefined ? [] : [{ doseQuantity: quantity(dose, units) }],
    });
    const mr = ctx.out.add(
      clean({
        resourceType: 'MedicationRequest',
        id,
        identifier: [eiIdentifier(placer, 'PLAC'), eiIdentifier(filler, 'FILL')].filter(
          (x) => x !== undefined,
        ),
        status: requestStatus(g.orc, true),
        intent: 'order',
        medicationCodeableConcept: med,
        subject: ctx.patientRef,
        encounter,
        authoredOn: fieldDateTime(g.orc, 9) ?? fieldDateTime(tq1, 7),
        requester:
          practitioner(repetitions(g.orc, 12)[0], ctx.out) ??
          practitioner(repetitions(rxe, 13)[0], ctx.out),
        reasonCode: cwes(rxe, 27),
        dosageInstruction: Object.keys(dosage).length === 0 ? [] : [dosage],
      }) as FhirObject,
    );
    primary ??= mr;
  });
  return primary;
}

function rxaCommon(rxa: Hl7Segment, where: string): { code: Json; when: string } {
  const code = cwe(repetitions(rxa, 5)[0]);
  if (code === undefined)
    throw new MapError(QuarantineCode.MissingValue, `${where} RXA-5 (administered code) is empty`);
  const when = fieldDateTime(rxa, 3);
  if (when === undefined)
    throw new MapError(
      QuarantineCode.MissingValue,
      `${where} RXA-3 (start of administration) is empty; the administration needs its time`,
    );
  return { code, when };
}

/** RAS^O17 → MedicationAdministration per RXA. Primary: the first. */
export function mapRas(ctx: MapContext): FhirObject | undefined {
  const groups = orderGroups(ctx.msg.segments, ['RXA']);
  let primary: FhirObject | undefined;
  let n = 0;
  for (const g of groups) {
    const placer = repetitions(g.orc, 2)[0];
    const filler = repetitions(g.orc, 3)[0];
    const rxas = g.segs.filter((s) => s.name === 'RXA');
    const rxr = first(g, 'RXR');
    rxas.forEach((rxa, j) => {
      const where = `RXA #${++n}`;
      const { code, when } = rxaCommon(rxa, where);
      const base = orderId(ctx, 'medadm', placer, filler, n - 1, 'RXA');
      const id = stableId('medadm', base, value(rxa, 1), value(rxa, 2), String(j));
      const st = value(rxa, 20).trim().toUpperCase();
      const dose = decimal(value(rxa, 6), `${where} RXA-6`);
      const mrId =
        eiKey(placer) === undefined
          ? undefined
          : orderId(ctx, 'medrx', placer, undefined, 0, 'RXA');
      const ma = ctx.out.add(
        clean({
          resourceType: 'MedicationAdministration',
          id,
          status:
            st === 'RE' || st === 'NA' ? 'not-done' : st === 'PA' ? 'in-progress' : 'completed',
          medicationCodeableConcept: code,
          subject: ctx.patientRef,
          context: encounterRef(ctx),
          effectiveDateTime: when,
          performer: repetitions(rxa, 10)
            .map((r) => practitioner(r, ctx.out))
            .filter((x) => x !== undefined)
            .map((actor) => ({ actor })),
          request: mrId === undefined ? undefined : { reference: `MedicationRequest/${mrId}` },
          dosage: clean({
            ...dosageRoute(rxr),
            dose:
              dose === undefined || dose === 999
                ? undefined
                : quantity(dose, repetitions(rxa, 7)[0]),
          }),
        }) as FhirObject,
      );
      primary ??= ma;
    });
  }
  if (primary === undefined)
    throw new MapError(
      QuarantineCode.MissingValue,
      'RAS^O17 without an RXA segment: no administration',
    );
  return primary;
}

/** VXU^V04 → Immunization per RXA (CVX code, lot, site, route, performer, status). */
export function mapVxu(ctx: MapContext): FhirObject | undefined {
  const groups = orderGroups(ctx.msg.segments, ['RXA']);
  let primary: FhirObject | undefined;
  let n = 0;
  for (const g of groups) {
    const placer = repetitions(g.orc, 2)[0];
    const filler = repetitions(g.orc, 3)[0];
    const rxr = first(g, 'RXR');
    for (const rxa of g.segs.filter((s) => s.name === 'RXA')) {
      const where = `RXA #${++n}`;
      const { code, when } = rxaCommon(rxa, where);
      // The filler (ORC-3) names the immunization record, else the placer, else MSH-10.
      const fk = eiKey(filler);
      const id =
        fk !== undefined
          ? stableId('imm', fk[0], fk[1])
          : orderId(ctx, 'imm', placer, undefined, n - 1, 'RXA');
      const st = value(rxa, 20).trim().toUpperCase();
      const action = value(rxa, 21).trim().toUpperCase();
      const dose = decimal(value(rxa, 6), `${where} RXA-6`);
      const source = value(rxa, 9).trim();
      const mvx = repetitions(rxa, 17)[0];
      const facility = repetitions(rxa, 11)[0];
      const facHd = facility === undefined ? [] : subs(facility, 4);
      let locationRef: Json | undefined;
      if (hdKey(facHd) !== '') {
        const locId = stableId('loc', 'facility', hdKey(facHd), facHd[1] ?? '');
        ctx.out.add(
          clean({
            resourceType: 'Location',
            id: locId,
            status: 'active',
            name: (facHd[0] ?? '').trim() || hdKey(facHd),
            mode: 'instance',
          }) as FhirObject,
        );
        locationRef = { reference: `Location/${locId}` };
      }
      const imm = ctx.out.add(
        clean({
          resourceType: 'Immunization',
          id,
          identifier: [eiIdentifier(filler, 'FILL'), eiIdentifier(placer, 'PLAC')].filter(
            (x) => x !== undefined,
          ),
          status:
            action === 'D'
              ? 'entered-in-error'
              : st === 'RE' || st === 'NA'
                ? 'not-done'
                : 'completed',
          statusReason: cwe(repetitions(rxa, 18)[0]),
          vaccineCode: code,
          patient: ctx.patientRef,
          encounter: encounterRef(ctx),
          occurrenceDateTime: when,
          primarySource: source === '' ? undefined : source === '00',
          reportOrigin: source === '' || source === '00' ? undefined : cwe(repetitions(rxa, 9)[0]),
          location: locationRef,
          manufacturer:
            mvx === undefined
              ? undefined
              : organization(component(mvx, 2) || component(mvx, 1), component(mvx, 1), ctx.out),
          lotNumber: value(rxa, 15).trim(),
          expirationDate: toDate(value(rxa, 16), `${where} RXA-16`),
          ...dosageRoute(rxr),
          doseQuantity:
            dose === undefined || dose === 999 ? undefined : quantity(dose, repetitions(rxa, 7)[0]),
          performer: repetitions(rxa, 10)
            .map((r) => practitioner(r, ctx.out))
            .filter((x) => x !== undefined)
            .map((actor) => ({
              function: {
                coding: [
                  {
                    system: 'http://terminology.hl7.org/CodeSystem/v2-0443',
                    code: 'AP',
                    display: 'Administering Provider',
                  },
                ],
              },
              actor,
            })),
        }) as FhirObject,
      );
      primary ??= imm;
    }
  }
  if (primary === undefined)
    throw new MapError(
      QuarantineCode.MissingValue,
      'VXU^V04 without an RXA segment: no immunization',
    );
  return primary;
}
