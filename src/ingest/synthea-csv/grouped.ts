/**
 * The tables whose rows are parts of one resource: claims (+ claims_transactions →
 * ExplanationOfBenefit) and imaging_studies (rows per instance → one ImagingStudy).
 * Their state is bounded; the limits are documented in docs/ingest-synthea-csv.md.
 */
import { stableId } from '../convert.js';
import type { FhirObject } from '../convert.js';
import { QuarantineCode } from '../types.js';
import { RowError, SNOMED, concept, ref, resource } from './map.js';
import type { Json, Row } from './map.js';

const CLAIM_TYPE = 'http://terminology.hl7.org/CodeSystem/claim-type';

/** What an EOB needs from its claims.csv row (kept for at most CLAIM_CACHE_MAX claims). */
export interface ClaimInfo {
  readonly type: 'professional' | 'institutional';
  readonly payer: string | undefined;
}
export const CLAIM_CACHE_MAX = 200_000;

/** Synthea's HEALTHCARECLAIMTYPEID: 1 professional, 2 institutional. */
function claimType(row: Row): ClaimInfo['type'] {
  const t = row.get('HEALTHCARECLAIMTYPEID1');
  if (t === undefined || t === '1' || t === '0') return 'professional';
  if (t === '2') return 'institutional';
  throw new RowError(
    QuarantineCode.InvalidValue,
    `HEALTHCARECLAIMTYPEID1 ${JSON.stringify(t)} is not 1 or 2`,
  );
}

const typeConcept = (t: ClaimInfo['type']): Json => ({ coding: [{ system: CLAIM_TYPE, code: t }] });

/** A payer id column: '0' (Synthea's "no insurance") reads as absent. */
function payerId(row: Row, col: string): string | undefined {
  const v = row.get(col);
  return v === '0' ? undefined : row.id(col);
}

export function claim(row: Row): { resource: FhirObject; info: ClaimInfo } {
  const id = row.needId('Id');
  const type = claimType(row);
  const primary = payerId(row, 'PRIMARYPATIENTINSURANCEID');
  const secondary = payerId(row, 'SECONDARYPATIENTINSURANCEID');
  const service = row.dateTime('SERVICEDATE') ?? row.dateTime('CURRENTILLNESSDATE');
  if (service === undefined)
    throw new RowError(QuarantineCode.MissingValue, 'SERVICEDATE is empty');
  const billed = row.dateTime('LASTBILLEDDATE1') ?? row.dateTime('LASTBILLEDDATEP');
  const diagnosis: Json[] = [];
  for (let i = 1; i <= 8; i++) {
    const code = row.get(`DIAGNOSIS${i}`);
    if (code !== undefined)
      diagnosis.push({
        sequence: diagnosis.length + 1,
        diagnosisCodeableConcept: concept(SNOMED, code),
      });
  }
  const provider = row.id('PROVIDERID');
  const insurance = (payer: string | undefined, seq: number): Json => ({
    sequence: seq,
    focal: seq === 1,
    // Synthea's FHIR names the coverage by its payer; the CSV has no Coverage id here.
    coverage: { display: payer === undefined ? 'No insurance' : `Coverage by payer ${payer}` },
  });
  const encounterId = row.id('APPOINTMENTID');
  return {
    info: { type, payer: primary },
    resource: resource('Claim', id, {
      status: 'active',
      type: typeConcept(type),
      use: 'claim',
      patient: ref('Patient', row.needId('PATIENTID')),
      billablePeriod: {
        start: service,
        end: billed !== undefined && Date.parse(billed) >= Date.parse(service) ? billed : undefined,
      },
      created: service,
      provider:
        provider === undefined ? { display: 'Unknown provider' } : ref('Practitioner', provider),
      insurer: ref('Organization', primary),
      priority: {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: 'normal' },
        ],
      },
      diagnosis,
      insurance: [
        insurance(primary, 1),
        secondary === undefined ? undefined : insurance(secondary, 2),
      ],
      // The billed encounter (claims.APPOINTMENTID), as Synthea links claim lines to it.
      item:
        encounterId === undefined
          ? undefined
          : [
              {
                sequence: 1,
                productOrService: { text: 'Encounter' },
                encounter: [ref('Encounter', encounterId)],
              },
            ],
    }),
  };
}

const TX_TYPES = new Set(['CHARGE', 'PAYMENT', 'ADJUSTMENT', 'TRANSFERIN', 'TRANSFEROUT']);

/** One claims_transactions row, validated. */
export interface Transaction {
  readonly id: string;
  readonly claim: string;
  readonly patient: string;
  readonly provider: string | undefined;
  readonly type: string;
  readonly amount: number | undefined;
  readonly payments: number | undefined;
  readonly adjustments: number | undefined;
  readonly from: string;
  readonly to: string | undefined;
  readonly code: string | undefined;
  readonly notes: string | undefined;
  readonly units: number | undefined;
  readonly unitAmount: number | undefined;
  readonly encounter: string | undefined;
  readonly line: number;
}

export function transaction(row: Row, line: number): Transaction {
  const type = row.need('TYPE').toUpperCase();
  if (!TX_TYPES.has(type))
    throw new RowError(
      QuarantineCode.InvalidValue,
      `TYPE ${JSON.stringify(type)} is not one of ${[...TX_TYPES].join(', ')}`,
    );
  return {
    id: row.needId('ID'),
    claim: row.needId('CLAIMID'),
    patient: row.needId('PATIENTID'),
    provider: row.id('PROVIDERID'),
    type,
    amount: row.num('AMOUNT'),
    payments: row.num('PAYMENTS'),
    adjustments: row.num('ADJUSTMENTS'),
    from: row.needDateTime('FROMDATE'),
    to: row.dateTime('TODATE'),
    code: row.get('PROCEDURECODE'),
    notes: row.get('NOTES'),
    units: row.num('UNITS'),
    unitAmount: row.num('UNITAMOUNT'),
    encounter: row.id('APPOINTMENTID'),
    line,
  };
}

const usd = (v: number): Json => ({ value: Math.round(v * 100) / 100, currency: 'USD' });
const adjudicationCategory = (code: string): Json => ({
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/adjudication', code }],
});

/**
 * The ExplanationOfBenefit of one claim's transactions (rows of one CLAIMID): CHARGE rows
 * are items (net = AMOUNT), PAYMENT rows sum to payment.amount and the `benefit` total,
 * other rows (ADJUSTMENT, TRANSFERIN/OUT: balance moves between payer and patient) have
 * no EOB element and are not mapped (docs/ingest-synthea-csv.md).
 */
export function explanationOfBenefit(
  txs: readonly Transaction[],
  info: ClaimInfo | undefined,
): FhirObject {
  const first = txs[0] as Transaction;
  let submitted = 0;
  let paid = 0;
  const items: Json[] = [];
  for (const t of txs) {
    if (t.type === 'CHARGE') {
      submitted += t.amount ?? 0;
      items.push({
        sequence: items.length + 1,
        productOrService:
          t.code === undefined
            ? { text: t.notes ?? 'Unknown' }
            : { coding: [{ code: t.code, display: t.notes }], text: t.notes },
        servicedPeriod: {
          start: t.from,
          end: t.to !== undefined && Date.parse(t.to) >= Date.parse(t.from) ? t.to : undefined,
        },
        quantity: t.units === undefined ? undefined : { value: t.units },
        unitPrice: t.unitAmount === undefined ? undefined : usd(t.unitAmount),
        net: t.amount === undefined ? undefined : usd(t.amount),
        encounter: [ref('Encounter', t.encounter)],
      });
    } else if (t.type === 'PAYMENT') {
      paid += t.payments ?? t.amount ?? 0;
    }
  }
  const provider = txs.find((t) => t.provider !== undefined)?.provider;
  const created = first.from;
  return resource('ExplanationOfBenefit', stableId('eob', first.claim, first.id), {
    status: 'active',
    // Type from the claims.csv row; professional when that row was not read first.
    type: typeConcept(info?.type ?? 'professional'),
    use: 'claim',
    patient: ref('Patient', first.patient),
    billablePeriod: { start: created },
    created,
    insurer:
      info?.payer === undefined ? { display: 'No insurance' } : ref('Organization', info.payer),
    provider:
      provider === undefined ? { display: 'Unknown provider' } : ref('Practitioner', provider),
    claim: ref('Claim', first.claim),
    outcome: 'complete',
    insurance: [
      {
        focal: true,
        coverage: {
          display: info?.payer === undefined ? 'No insurance' : `Coverage by payer ${info.payer}`,
        },
      },
    ],
    item: items,
    total: [
      { category: adjudicationCategory('submitted'), amount: usd(submitted) },
      { category: adjudicationCategory('benefit'), amount: usd(paid) },
    ],
    payment: { amount: usd(paid) },
  });
}

// ---------------------------------------------------------------------------------------
// imaging_studies

export interface ImagingRow {
  readonly id: string;
  readonly date: string | undefined;
  readonly patient: string;
  readonly encounter: string | undefined;
  readonly seriesUid: string;
  readonly bodySite: Json | undefined;
  readonly modality: string;
  readonly modalityDisplay: string | undefined;
  readonly instanceUid: string;
  readonly sop: string;
  readonly sopDisplay: string | undefined;
  readonly procedure: string | undefined;
}

const DICOM_UID = /^[0-9]+(\.[0-9]+)*$/;

export function imagingRow(row: Row): ImagingRow {
  const uid = (col: string): string => {
    const v = row.need(col);
    if (!DICOM_UID.test(v) || v.length > 64)
      throw new RowError(
        QuarantineCode.InvalidValue,
        `${col} ${JSON.stringify(v.slice(0, 80))} is not a DICOM UID`,
      );
    return v;
  };
  const site = row.get('BODYSITE_CODE');
  const sop = row.need('SOP_CODE');
  return {
    id: row.needId('Id'),
    date: row.dateTime('DATE'),
    patient: row.needId('PATIENT'),
    encounter: row.id('ENCOUNTER'),
    seriesUid: uid('SERIES_UID'),
    bodySite:
      site === undefined
        ? undefined
        : { system: SNOMED, code: site, display: row.get('BODYSITE_DESCRIPTION') },
    modality: row.need('MODALITY_CODE'),
    modalityDisplay: row.get('MODALITY_DESCRIPTION'),
    instanceUid: uid('INSTANCE_UID'),
    sop: sop.replace(/^urn:oid:/, ''),
    sopDisplay: row.get('SOP_DESCRIPTION'),
    procedure: row.get('PROCEDURE_CODE'),
  };
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

/** One ImagingStudy from the consecutive rows of one Id (series by SERIES_UID, in order). */
export function imagingStudy(rows: readonly ImagingRow[]): FhirObject {
  const first = rows[0] as ImagingRow;
  const series = new Map<string, { row: ImagingRow; instances: ImagingRow[] }>();
  for (const r of rows) {
    const s = series.get(r.seriesUid);
    if (s === undefined) series.set(r.seriesUid, { row: r, instances: [r] });
    else s.instances.push(r);
  }
  const modalities = new Map<string, Json>();
  for (const r of rows)
    modalities.set(r.modality, { system: DCM, code: r.modality, display: r.modalityDisplay });
  return resource('ImagingStudy', first.id, {
    status: 'available',
    modality: [...modalities.values()],
    subject: ref('Patient', first.patient),
    encounter: ref('Encounter', first.encounter),
    started: first.date,
    numberOfSeries: series.size,
    numberOfInstances: rows.length,
    procedureCode: [concept(SNOMED, first.procedure)],
    series: [...series.values()].map(({ row, instances }, i) => ({
      uid: row.seriesUid,
      number: i + 1,
      modality: { system: DCM, code: row.modality, display: row.modalityDisplay },
      numberOfInstances: instances.length,
      bodySite: row.bodySite,
      started: row.date,
      instance: instances.map((x, j) => ({
        uid: x.instanceUid,
        sopClass: { system: 'urn:ietf:rfc:3986', code: `urn:oid:${x.sop}`, display: x.sopDisplay },
        number: j + 1,
        title: x.sopDisplay,
      })),
    })),
  });
}
