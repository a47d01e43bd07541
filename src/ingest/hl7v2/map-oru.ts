/**
 * ORU^R01 (v2.5.1 §7.3.1) → DiagnosticReport per OBR + Observation per OBX (v2-to-FHIR
 * "OBR[DiagnosticReport]", "OBX[Observation]"). OBX sharing one OBX-4 sub-id with distinct
 * OBX-3 codes, alone under their OBR, become one Observation with components (e.g. blood
 * pressure 8480-6 / 8462-4 under OBR-4 85354-9).
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
  eiIdentifier,
  eiKey,
  fieldDateTime,
  practitioner,
  toDate,
  toDateTime,
  toInstant,
  v2Coding,
} from './datatypes.js';
import type { Json, Rep } from './datatypes.js';
import { encounterIdOf } from './map-adt.js';
import type { MapContext } from './map.js';

/** Table 0123 result status → DiagnosticReport.status. */
const REPORT_STATUS: Readonly<Record<string, string>> = {
  O: 'registered',
  I: 'registered',
  S: 'partial',
  A: 'partial',
  P: 'preliminary',
  R: 'preliminary',
  C: 'corrected',
  M: 'corrected',
  F: 'final',
  X: 'cancelled',
};

/** Table 0085 observation result status → Observation.status. */
const OBS_STATUS: Readonly<Record<string, string>> = {
  A: 'amended',
  C: 'corrected',
  D: 'entered-in-error',
  W: 'entered-in-error',
  F: 'final',
  U: 'final',
  I: 'registered',
  O: 'registered',
  P: 'preliminary',
  R: 'preliminary',
  S: 'preliminary',
  N: 'cancelled',
  X: 'cancelled',
};

/** Table 0078 codes that are also v3 ObservationInterpretation codes. */
const INTERPRETATION = new Set(
  'L LL LU H HH HU N A AA < > B D U W S R I NEG POS IND DET ND E EX EXP HX LX NCL NR RR SDD SYN-R SYN-S TOX WR IE CAR Carrier'.split(
    ' ',
  ),
);

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/** A v2 NM text as a JSON number (FHIR decimal), or throws invalid-value. */
export function decimal(raw: string, where: string): number | undefined {
  const s = raw.trim();
  if (s === '') return undefined;
  if (!DECIMAL.test(s))
    throw new MapError(
      QuarantineCode.InvalidValue,
      `${where} is ${JSON.stringify(raw)}, expected a number (NM)`,
    );
  return Number(s);
}

/** OBX-6 / CQ units → Quantity with UCUM system when the unit is coded in UCUM. */
export function quantity(n: number, unitRep: Rep | undefined): Json {
  if (unitRep === undefined) return { value: n };
  const code = component(unitRep, 1).trim();
  const text = component(unitRep, 2).trim();
  const sys = component(unitRep, 3).trim().toUpperCase();
  if (sys === 'UCUM' && code !== '')
    return { value: n, unit: text || code, system: 'http://unitsofmeasure.org', code };
  return clean({ value: n, unit: text || code });
}

function unitsOf(seg: Hl7Segment): Rep | undefined {
  return repetitions(seg, 6)[0];
}

/** SN (comparator^num1^separator^num2) → Quantity / Range / Ratio (v2-to-FHIR SN map). */
function structuredNumeric(rep: Rep, unit: Rep | undefined, where: string): Json {
  const cmp = component(rep, 1).trim();
  const n1 = decimal(component(rep, 2), `${where} SN.2`);
  const sep = component(rep, 3).trim();
  const n2 = decimal(component(rep, 4), `${where} SN.4`);
  if (sep === '-' && n1 !== undefined && n2 !== undefined)
    return { valueRange: { low: quantity(n1, unit), high: quantity(n2, unit) } };
  if ((sep === ':' || sep === '/') && n1 !== undefined && n2 !== undefined)
    return { valueRatio: { numerator: quantity(n1, unit), denominator: { value: n2 } } };
  if (n1 !== undefined) {
    const q = quantity(n1, unit);
    if (cmp === '<' || cmp === '>' || cmp === '<=' || cmp === '>=') q['comparator'] = cmp;
    return { valueQuantity: q };
  }
  if (n2 !== undefined) return { valueQuantity: quantity(n2, unit) };
  throw new MapError(QuarantineCode.InvalidValue, `${where} SN has no number`);
}

/** OBX-5 by OBX-2 value type → Observation.value[x] (or {} when there is no value). */
function obsValue(obx: Hl7Segment, where: string): Json {
  const type = value(obx, 2).trim().toUpperCase();
  const reps = repetitions(obx, 5);
  const first = reps[0];
  if (first === undefined || first.every((c) => c.every((s) => s.trim() === ''))) return {};
  const text = (): string =>
    reps
      .map((r) => r.map((c) => c.join('&')).join('^'))
      .join('\n')
      .trim();
  switch (type) {
    case 'NM': {
      const n = decimal(component(first, 1), `${where} OBX-5`);
      return n === undefined ? {} : { valueQuantity: quantity(n, unitsOf(obx)) };
    }
    case 'SN':
      return structuredNumeric(first, unitsOf(obx), `${where} OBX-5`);
    case 'CE':
    case 'CWE':
    case 'CNE':
    case 'CF': {
      const c1 = component(first, 1).trim().toUpperCase();
      if (component(first, 3).trim().toUpperCase() === 'HL70136' && (c1 === 'Y' || c1 === 'N'))
        return { valueBoolean: c1 === 'Y' };
      const cc = cwe(first);
      return cc === undefined ? {} : { valueCodeableConcept: cc };
    }
    case 'DT':
      return { valueDateTime: toDate(component(first, 1), `${where} OBX-5`) };
    case 'DTM':
    case 'TS':
      return { valueDateTime: toDateTime(component(first, 1), `${where} OBX-5`) };
    case 'TM': {
      const m = /^(\d{2})(\d{2})?(\d{2})?$/.exec(component(first, 1).trim());
      if (m === null || Number(m[1]) > 23 || Number(m[2] ?? 0) > 59 || Number(m[3] ?? 0) > 59)
        throw new MapError(
          QuarantineCode.InvalidValue,
          `${where} OBX-5 is ${JSON.stringify(component(first, 1))}, expected a time HHMM[SS]`,
        );
      return { valueTime: `${m[1]}:${m[2] ?? '00'}:${m[3] ?? '00'}` };
    }
    case 'DR':
      return {
        valuePeriod: clean({
          start: toDateTime(component(first, 1), `${where} OBX-5 DR.1`),
          end: toDateTime(component(first, 2), `${where} OBX-5 DR.2`),
        }),
      };
    case 'ED':
    case 'RP':
    case 'HD':
    case 'EI':
      // No attachment in R4 Observation.value[x]: keep the reference text.
      return { valueString: text() };
    default:
      return { valueString: text() };
  }
}

/** OBX-7 reference range: "low-high", ">low", "<high", else its text. */
function referenceRange(raw: string, unit: Rep | undefined): Json[] {
  const s = raw.trim();
  if (s === '') return [];
  const range = /^(-?\d+\.?\d*)\s*-\s*(-?\d+\.?\d*)$/.exec(s);
  if (range)
    return [{ low: quantity(Number(range[1]), unit), high: quantity(Number(range[2]), unit) }];
  const gt = /^>=?\s*(-?\d+\.?\d*)$/.exec(s);
  if (gt) return [{ low: quantity(Number(gt[1]), unit) }];
  const lt = /^<=?\s*(-?\d+\.?\d*)$/.exec(s);
  if (lt) return [{ high: quantity(Number(lt[1]), unit) }];
  return [{ text: s }];
}

function interpretation(obx: Hl7Segment): Json[] {
  return repetitions(obx, 8)
    .map((r) => component(r, 1).trim())
    .filter((c) => c !== '')
    .map((c) =>
      INTERPRETATION.has(c)
        ? {
            coding: [
              {
                system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
                code: c,
              },
            ],
          }
        : { text: c },
    );
}

interface Order {
  orc?: Hl7Segment;
  obr: Hl7Segment;
  obx: Hl7Segment[];
}

/** OBR groups of the message (an ORC applies to the OBR that follows it). */
function orders(segs: readonly Hl7Segment[]): Order[] {
  const out: Order[] = [];
  let orc: Hl7Segment | undefined;
  for (const s of segs) {
    if (s.name === 'ORC') orc = s;
    else if (s.name === 'OBR') {
      out.push({ ...(orc ? { orc } : {}), obr: s, obx: [] });
      orc = undefined;
    } else if (s.name === 'OBX' && out.length > 0) out[out.length - 1]!.obx.push(s);
  }
  return out;
}

/** Placer (OBR-2 / ORC-2) → the ServiceRequest id an order message gives the same order. */
export function serviceRequestId(placer: Rep | undefined): string | undefined {
  const k = eiKey(placer);
  return k === undefined ? undefined : stableId('sr', k[0], k[1]);
}

function obsCode(obx: Hl7Segment, where: string): Json {
  const c = cwe(repetitions(obx, 3)[0]);
  if (c === undefined)
    throw new MapError(
      QuarantineCode.MissingValue,
      `${where} OBX-3 (observation identifier) is empty; an Observation needs a code`,
    );
  return c;
}

/** ORU^R01 → DiagnosticReport + Observations. Primary: the first DiagnosticReport. */
export function mapOru(ctx: MapContext): FhirObject | undefined {
  const { msg } = ctx;
  const groups = orders(msg.segments);
  if (groups.length === 0)
    throw new MapError(QuarantineCode.MissingValue, 'ORU^R01 without an OBR segment: no report');
  const pv1 = msg.segments.find((s) => s.name === 'PV1');
  const encId = encounterIdOf(pv1, ctx.patientId);
  const encounter = encId === undefined ? undefined : { reference: `Encounter/${encId}` };
  let primary: FhirObject | undefined;
  groups.forEach((g, gi) => {
    const where = `OBR #${gi + 1}`;
    const filler = repetitions(g.obr, 3)[0] ?? repetitions(g.orc, 3)[0];
    const placer = repetitions(g.obr, 2)[0] ?? repetitions(g.orc, 2)[0];
    const fk = eiKey(filler);
    const pk = eiKey(placer);
    const drId =
      fk !== undefined
        ? stableId('dr', fk[0], fk[1])
        : pk !== undefined
          ? stableId('dr', 'placer', pk[0], pk[1])
          : msg.controlId !== ''
            ? stableId('dr', 'msh10', msg.controlId, String(gi))
            : undefined;
    if (drId === undefined)
      throw new MapError(
        QuarantineCode.MissingValue,
        `${where} has no filler (OBR-3) or placer (OBR-2) order number and MSH-10 is empty: no stable report id`,
      );
    const code = cwe(repetitions(g.obr, 4)[0]);
    if (code === undefined)
      throw new MapError(
        QuarantineCode.MissingValue,
        `${where} OBR-4 (universal service identifier) is empty; a DiagnosticReport needs a code`,
      );
    const obrStart = fieldDateTime(g.obr, 7);
    const obrEnd = fieldDateTime(g.obr, 8);
    const performers = [...repetitions(g.obr, 16), ...repetitions(g.obr, 32)]
      .map((r) => practitioner(r, ctx.out))
      .filter((x) => x !== undefined);

    // Observations: a lone OBX-4 group of distinct codes = one Observation with components.
    const subIds = new Set(g.obx.map((o) => value(o, 4).trim()));
    const codes = g.obx.map((o, i) => JSON.stringify(obsCode(o, `${where} OBX #${i + 1}`)));
    const panel =
      g.obx.length > 1 &&
      subIds.size === 1 &&
      !subIds.has('') &&
      new Set(codes).size === codes.length;
    const results: Json[] = [];
    const seen = new Map<string, number>();
    const base = (obx: Hl7Segment, at: string): Json => {
      const status = OBS_STATUS[value(obx, 11).trim().toUpperCase()] ?? 'unknown';
      const effective = fieldDateTime(obx, 14) ?? obrStart;
      const v = status === 'cancelled' ? {} : obsValue(obx, at);
      return { status, effective, value: v };
    };
    if (panel) {
      const first = g.obx[0]!;
      const b = base(first, `${where} OBX #1`);
      const id = stableId('obs', drId, 'panel', value(first, 4).trim());
      ctx.out.add(
        clean({
          resourceType: 'Observation',
          id,
          basedOn: undefined,
          status: b['status'],
          category: categoryOf(g.obr),
          code,
          subject: ctx.patientRef,
          encounter,
          effectiveDateTime: b['effective'],
          issued: toInstant(value(g.obr, 22), `${where} OBR-22`),
          performer: performers,
          component: g.obx.map((o, i) => {
            const bi = base(o, `${where} OBX #${i + 1}`);
            return clean({
              code: obsCode(o, where),
              ...(bi['value'] as Json),
              dataAbsentReason: absent(bi),
              interpretation: interpretation(o),
              referenceRange: referenceRange(value(o, 7), unitsOf(o)),
            });
          }),
        }) as FhirObject,
      );
      results.push({ reference: `Observation/${id}` });
    } else {
      g.obx.forEach((o, i) => {
        const at = `${where} OBX #${i + 1}`;
        const key = `${codes[i]}\x1f${value(o, 4).trim()}`;
        const n = (seen.get(key) ?? 0) + 1;
        seen.set(key, n);
        const id = stableId('obs', drId, key, String(n));
        const b = base(o, at);
        ctx.out.add(
          clean({
            resourceType: 'Observation',
            id,
            status: b['status'],
            category: categoryOf(g.obr),
            code: JSON.parse(codes[i]!) as Json,
            subject: ctx.patientRef,
            encounter,
            effectiveDateTime: b['effective'],
            issued: toInstant(value(g.obr, 22), `${where} OBR-22`),
            performer: repetitions(o, 16)
              .map((r) => practitioner(r, ctx.out))
              .filter((x) => x !== undefined),
            ...(b['value'] as Json),
            dataAbsentReason: absent(b),
            interpretation: interpretation(o),
            referenceRange: referenceRange(value(o, 7), unitsOf(o)),
          }) as FhirObject,
        );
        results.push({ reference: `Observation/${id}` });
      });
    }
    const srId = serviceRequestId(placer);
    const dr = ctx.out.add(
      clean({
        resourceType: 'DiagnosticReport',
        id: drId,
        identifier: [eiIdentifier(filler, 'FILL'), eiIdentifier(placer, 'PLAC')].filter(
          (x) => x !== undefined,
        ),
        basedOn: srId === undefined ? [] : [{ reference: `ServiceRequest/${srId}` }],
        status: REPORT_STATUS[value(g.obr, 25).trim().toUpperCase()] ?? 'unknown',
        category: categoryOf(g.obr),
        code,
        subject: ctx.patientRef,
        encounter,
        effectiveDateTime: obrEnd === undefined ? obrStart : undefined,
        effectivePeriod: obrEnd === undefined ? undefined : clean({ start: obrStart, end: obrEnd }),
        issued: toInstant(value(g.obr, 22), `${where} OBR-22`),
        performer: performers,
        result: results,
      }) as FhirObject,
    );
    primary ??= dr;
  });
  return primary;
}

function categoryOf(obr: Hl7Segment): Json[] {
  const c = value(obr, 24).trim();
  return c === '' ? [] : [{ coding: [v2Coding('0074', c)] }];
}

/** dataAbsentReason for an OBX without a value (cancelled, or sent empty). */
function absent(b: Json): Json | undefined {
  if (Object.keys(b['value'] as Json).length > 0) return undefined;
  return {
    coding: [
      {
        system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
        code: b['status'] === 'cancelled' ? 'not-performed' : 'unknown',
      },
    ],
  };
}
