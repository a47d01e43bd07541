/**
 * The `claims` part: payers, coverage, claims and what they cost. Runs last, after every
 * other part, and bills what is in the patient's resources by then.
 *
 * - `shared()`: one payer Organization (type `pay`) for Medicare, Medicaid and each private
 *   plan. Self-pay has none: its Coverage names the Patient as payor, as FHIR allows.
 * - per patient: one Coverage per coverage period of `patientInsurance` (insurance.ts);
 *   per Encounter one Claim and one ExplanationOfBenefit, billing the encounter itself
 *   and every Procedure, Immunization, MedicationRequest, lab DiagnosticReport and
 *   ImagingStudy that references it, priced from COST_TABLE and adjudicated under the
 *   rules of the payer in force on the encounter's first day (PAYER_RULES).
 *
 * Money is counted in whole cents, so item nets add up to totals exactly.
 */
import { dayToIso, yearOf } from './dates.js';
import {
  AGE_GROUPS,
  CHILD_UNTIL_AGE,
  INCOME_BAND_BOUNDS,
  INCOME_BAND_SHARES,
  INCOME_BANDS,
  MEDICARE_AGE,
  PAYER_KEYS,
  PAYER_REDRAW_PER_YEAR,
  TOP_BAND_EXCESS_MEAN,
  UNDER_65_PAYER_SHARES,
  expectedUnder65Shares,
  patientInsurance,
  periodOn,
} from './insurance.js';
import type { CoveragePeriod, PayerKey } from './insurance.js';
import { PART_STREAMS, partRandom } from './parts.js';
import type { Counters, PatientOutput, SynthPart, SynthPartFactory, SynthRun } from './parts.js';
import type { Random } from './random.js';
import type { JsonResource } from './shared-resources.js';

const ADJUDICATION = 'http://terminology.hl7.org/CodeSystem/adjudication';
const C4BB_ADJUDICATION = 'http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication';
const SOPT = 'https://nahdo.org/sopt';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

/** Resource types billed as items besides the Encounter, in item order. */
export const BILLED_TYPES = [
  'Procedure',
  'Immunization',
  'MedicationRequest',
  'DiagnosticReport',
  'ImagingStudy',
] as const;
export type BilledType = (typeof BILLED_TYPES)[number];

/** Item kinds the cost table prices (the Encounter's own item is `encounter`). */
export type ItemKind = 'encounter' | BilledType;

/**
 * Charges in USD (billed, chargemaster level; assumptions, see docs/synth-claims.md): by
 * code where known, otherwise the kind's default. Inpatient stays and ICU stays are per
 * day; drugs per day of supply.
 */
export const COST_TABLE = {
  encounter: {
    /** By Encounter.type SNOMED CT code: per visit. */
    byType: {
      '162673000': 300, // general examination (adult wellness)
      '410620009': 250, // well child visit
      '185347001': 250, // encounter for problem
      '50849002': 2200, // emergency room admission
    } as Readonly<Record<string, number>>,
    /** Per visit by class when the type is not in `byType`. */
    byClass: { AMB: 250, EMER: 2200 } as Readonly<Record<string, number>>,
    defaultVisit: 250,
    /** Inpatient (class IMP) routine room and board, per day. */
    wardDay: 9000,
    /** Intensive care (type 305351004), per day. */
    icuDay: 15000,
  },
  /** By SNOMED CT code (Procedure.code). */
  Procedure: {
    byCode: {
      '29303009': 250, // electrocardiogram
      '33367005': 8000, // coronary angiography
      '415070008': 35000, // percutaneous coronary intervention
      '232717009': 120000, // coronary artery bypass graft
      '426347000': 12000, // thrombolytic therapy (with the drug)
      '386649003': 45000, // partial hip replacement
      '265132005': 40000, // internal fixation of proximal femoral fracture
      '52734007': 55000, // total hip replacement
      '112798008': 1000, // endotracheal intubation
      '40617009': 3000, // mechanical ventilation (per episode)
      '127783003': 150, // spirometry
      '715252007': 30, // PHQ-9 depression screening
      '171207006': 30, // depression screening
      '430193006': 40, // medication reconciliation
      '73761001': 3500, // colonoscopy
    } as Readonly<Record<string, number>>,
    default: 1200,
  },
  /** By CVX code (Immunization.vaccineCode): vaccine and administration. */
  Immunization: {
    byCode: {
      '140': 60, // influenza
      '115': 90, // Tdap
      '113': 70, // Td
      '133': 280, // PCV13
      '33': 150, // PPSV23
      '187': 250, // zoster recombinant
      '208': 160, // COVID-19 mRNA
    } as Readonly<Record<string, number>>,
    default: 150,
  },
  /** Lab panels by LOINC (DiagnosticReport.code). */
  DiagnosticReport: {
    byCode: {
      '51990-0': 60, // basic metabolic panel
      '57698-3': 80, // lipid panel
      '58410-2': 50, // CBC
      '89579-7': 90, // troponin I, high sensitivity
    } as Readonly<Record<string, number>>,
    default: 75,
  },
  /** By DICOM modality (ImagingStudy.modality). */
  ImagingStudy: {
    byCode: { CR: 250, DX: 250, US: 600, CT: 2500, MR: 3500, NM: 2000 } as Readonly<
      Record<string, number>
    >,
    default: 1000,
  },
  /** Per day of supply by RxNorm code (retail generic prices, rounded; assumption). */
  MedicationRequest: {
    byCode: {
      '314076': 0.35, // lisinopril 10 mg
      '197361': 0.35, // amlodipine 5 mg
      '860975': 0.5, // metformin ER 500 mg
      '617312': 0.45, // atorvastatin 10 mg
      '745752': 1.8, // albuterol inhaler
      '312938': 0.45, // sertraline 50 mg
      '313988': 0.25, // furosemide 40 mg
      '313096': 0.6, // spironolactone 25 mg
      '243670': 0.05, // aspirin 81 mg
      '309362': 0.6, // clopidogrel 75 mg
      '308182': 1.5, // amoxicillin 250 mg
      '308460': 3.0, // azithromycin 250 mg
      '198335': 1.2, // sulfamethoxazole / trimethoprim
      '1648755': 3.5, // nitrofurantoin 100 mg
    } as Readonly<Record<string, number>>,
    default: 2.0,
    /** Days billed for a long-term prescription without a supply duration (one fill). */
    longTermSupplyDays: 90,
  },
} as const;

const ICU_TYPE = '305351004';

/** Adjudication rules by payer (assumptions, see docs/synth-claims.md). */
export interface PayerRule {
  /** Allowed (eligible) amount as a share of the charge, for services. */
  readonly allowedShare: number;
  /** The same for drugs (priced near what is paid already). */
  readonly drugAllowedShare: number;
  /** Fixed patient amount per encounter by class (on the encounter's own item; not for ICU parts). */
  readonly copay: Readonly<Record<string, number>>;
  /** Share of the rest of the allowed amount the patient pays, by class. */
  readonly coinsurance: Readonly<Record<string, number>>;
}

export const PAYER_RULES: Readonly<Record<PayerKey, PayerRule>> = {
  medicare: {
    allowedShare: 0.3,
    drugAllowedShare: 1,
    copay: { AMB: 0, EMER: 0, IMP: 1600 },
    coinsurance: { AMB: 0.2, EMER: 0.2, IMP: 0 },
  },
  medicaid: {
    allowedShare: 0.25,
    drugAllowedShare: 1,
    copay: { AMB: 0, EMER: 0, IMP: 0 },
    coinsurance: { AMB: 0, EMER: 0, IMP: 0 },
  },
  private: {
    allowedShare: 0.55,
    drugAllowedShare: 1,
    copay: { AMB: 30, EMER: 250, IMP: 500 },
    coinsurance: { AMB: 0.2, EMER: 0.2, IMP: 0.2 },
  },
  'self-pay': {
    allowedShare: 0.6,
    drugAllowedShare: 1,
    copay: { AMB: 0, EMER: 0, IMP: 0 },
    coinsurance: { AMB: 1, EMER: 1, IMP: 1 },
  },
};

/** Payer organisations: Medicare, Medicaid and the private plans (fictitious names). */
export const PRIVATE_PLANS = [
  { name: 'Evergreen Health Plan', share: 0.45 },
  { name: 'Summit Mutual Health Insurance', share: 0.35 },
  { name: 'Lakeside Employer Health Benefits', share: 0.2 },
] as const;

const COVERAGE_TYPE: Readonly<Record<PayerKey, unknown>> = {
  medicare: {
    coding: [
      { system: SOPT, code: '1', display: 'MEDICARE' },
      { system: ACT_CODE, code: 'PUBLICPOL', display: 'public healthcare' },
    ],
    text: 'Medicare',
  },
  medicaid: {
    coding: [
      { system: SOPT, code: '2', display: 'MEDICAID' },
      { system: ACT_CODE, code: 'PUBLICPOL', display: 'public healthcare' },
    ],
    text: 'Medicaid',
  },
  private: {
    coding: [
      { system: SOPT, code: '5', display: 'PRIVATE HEALTH INSURANCE' },
      { system: ACT_CODE, code: 'HIP', display: 'health insurance plan policy' },
    ],
    text: 'Private health insurance',
  },
  'self-pay': {
    coding: [
      { system: SOPT, code: '81', display: 'Self-pay' },
      {
        system: 'http://terminology.hl7.org/CodeSystem/coverage-selfpay',
        code: 'pay',
        display: 'Pay',
      },
    ],
    text: 'Self-pay',
  },
};

const RELATIONSHIP_SELF = {
  coding: [
    {
      system: 'http://terminology.hl7.org/CodeSystem/subscriber-relationship',
      code: 'self',
      display: 'Self',
    },
  ],
};
const PRIORITY_NORMAL = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/processpriority', code: 'normal' }],
};
const CLAIM_TYPE = {
  institutional: {
    coding: [
      {
        system: 'http://terminology.hl7.org/CodeSystem/claim-type',
        code: 'institutional',
        display: 'Institutional',
      },
    ],
  },
  professional: {
    coding: [
      {
        system: 'http://terminology.hl7.org/CodeSystem/claim-type',
        code: 'professional',
        display: 'Professional',
      },
    ],
  },
};
const INFO_CATEGORY = {
  coding: [
    {
      system: 'http://terminology.hl7.org/CodeSystem/claiminformationcategory',
      code: 'info',
      display: 'Information',
    },
  ],
};
const PAYMENT_COMPLETE = {
  coding: [{ system: 'http://terminology.hl7.org/CodeSystem/ex-paymenttype', code: 'complete' }],
};

const adjudicationCategory = (system: string, code: string, display: string): unknown => ({
  coding: [{ system, code, display }],
});
const CAT = {
  submitted: adjudicationCategory(ADJUDICATION, 'submitted', 'Submitted Amount'),
  eligible: adjudicationCategory(ADJUDICATION, 'eligible', 'Eligible Amount'),
  copay: adjudicationCategory(ADJUDICATION, 'copay', 'CoPay'),
  coinsurance: adjudicationCategory(C4BB_ADJUDICATION, 'coinsurance', 'Co-insurance'),
  benefit: adjudicationCategory(ADJUDICATION, 'benefit', 'Benefit Amount'),
  memberliability: adjudicationCategory(C4BB_ADJUDICATION, 'memberliability', 'Member liability'),
};

const money = (cents: number): { value: number; currency: string } => ({
  value: cents / 100,
  currency: 'USD',
});
const cents = (usd: number): number => Math.round(usd * 100);

type Json = Record<string, unknown>;

/** Money of one claim, in cents. */
interface Amounts {
  billed: number;
  allowed: number;
  paid: number;
  patient: number;
}

type Stats = Record<'claims' | 'items' | 'billed' | 'allowed' | 'paid' | 'patient', number>;
const newStats = (): Stats => ({ claims: 0, items: 0, billed: 0, allowed: 0, paid: 0, patient: 0 });

interface State {
  patients: number;
  coverages: number;
  payerChanges: number;
  incomeBand: Record<string, number>;
  /** Patients alive at the window's end by income band and payer then. */
  atEnd: Record<string, Record<string, number>>;
  personDays: Record<string, number>;
  total: Stats;
  byPayer: Record<string, Stats>;
  byClass: Record<string, Stats>;
  byYear: Record<string, Stats>;
  /** Items billed by kind (encounter, Procedure, ...). */
  itemsByKind: Record<string, number>;
  billedByKind: Record<string, number>;
}

function newState(): State {
  const byPayer: Record<string, Stats> = {};
  const personDays: Record<string, number> = {};
  for (const p of PAYER_KEYS) {
    byPayer[p] = newStats();
    personDays[p] = 0;
  }
  const incomeBand: Record<string, number> = {};
  const atEnd: Record<string, Record<string, number>> = {};
  for (const b of INCOME_BANDS) {
    incomeBand[b] = 0;
    atEnd[b] = Object.fromEntries(PAYER_KEYS.map((p) => [p, 0]));
  }
  return {
    patients: 0,
    coverages: 0,
    payerChanges: 0,
    incomeBand,
    atEnd,
    personDays,
    total: newStats(),
    byPayer,
    byClass: {},
    byYear: {},
    itemsByKind: {},
    billedByKind: {},
  };
}

/** Shared payer Organizations' ids: fixed by the seed (a stream index no patient has). */
interface Payers {
  readonly medicare: string;
  readonly medicaid: string;
  readonly privatePlans: readonly string[];
}

function payerIds(seed: number): Payers {
  const rng = partRandom(seed, PART_STREAMS.claims, -1);
  return {
    medicare: rng.uuid(),
    medicaid: rng.uuid(),
    privatePlans: PRIVATE_PLANS.map(() => rng.uuid()),
  };
}

function payerOrganization(id: string, name: string): JsonResource {
  return {
    resourceType: 'Organization',
    id,
    active: true,
    type: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/organization-type',
            code: 'pay',
            display: 'Payer',
          },
        ],
        text: 'Payer',
      },
    ],
    name,
  };
}

// Medicare Beneficiary Identifier characters (no S, L, O, I, B, Z).
const MBI_ALPHA = 'ACDEFGHJKMNPQRTUVWXY';
const MBI_ALNUM = '0123456789' + MBI_ALPHA;

/** A Medicare Beneficiary Identifier-shaped id (11 characters, CMS's position rules). */
function mbi(rng: Random): string {
  const d = (): string => String(rng.int(0, 9));
  const a = (): string => rng.pick([...MBI_ALPHA]);
  const x = (): string => rng.pick([...MBI_ALNUM]);
  return String(rng.int(1, 9)) + a() + x() + d() + a() + x() + d() + a() + a() + d() + d();
}

function digits(rng: Random, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(rng.int(0, 9));
  return s;
}

const refOf = (r: { resourceType: string; id: string }): string => `${r.resourceType}/${r.id}`;

/** `YYYY-MM-DD` of a FHIR date or dateTime (days since 1970 for arithmetic). */
const dayOf = (iso: string): number =>
  Math.floor(Date.parse(iso.slice(0, 10) + 'T00:00:00Z') / 86_400_000);

function firstCoding(cc: unknown): { code?: string } | undefined {
  const coding = (cc as { coding?: readonly { code?: string }[] } | undefined)?.coding;
  return coding?.[0];
}

/** One billed line before adjudication. */
interface Line {
  readonly kind: ItemKind;
  readonly productOrService: unknown;
  readonly date: string;
  readonly quantity: number;
  readonly unitCents: number;
  /** The billed resource (supportingInfo / procedure), none for the encounter line. */
  readonly resource: JsonResource | null;
}

function isLabReport(r: JsonResource): boolean {
  const cats = (r['category'] as readonly { coding?: readonly { code?: string }[] }[]) ?? [];
  return cats.some((c) =>
    (c.coding ?? []).some((x) => x.code === 'LAB' || x.code === 'laboratory'),
  );
}

/** Days of supply of a MedicationRequest: dispense duration, course bounds, or one fill. */
function supplyDays(r: JsonResource): number {
  const dr = r['dispenseRequest'] as { expectedSupplyDuration?: { value?: number } } | undefined;
  const fromDispense = dr?.expectedSupplyDuration?.value;
  if (typeof fromDispense === 'number' && fromDispense > 0) return Math.round(fromDispense);
  const dosage = r['dosageInstruction'] as
    readonly { timing?: { repeat?: { boundsDuration?: { value?: number } } } }[] | undefined;
  const bounds = dosage?.[0]?.timing?.repeat?.boundsDuration?.value;
  if (typeof bounds === 'number' && bounds > 0) return Math.round(bounds);
  return COST_TABLE.MedicationRequest.longTermSupplyDays;
}

/** The line of one billed resource (null if it is not billable, e.g. a non-lab report). */
function lineOf(r: JsonResource, fallbackDate: string): Line | null {
  const t = r.resourceType as BilledType;
  const dateOf = (...keys: string[]): string => {
    for (const k of keys) {
      const v = r[k];
      if (typeof v === 'string') return v.slice(0, 10);
      if (v !== null && typeof v === 'object' && typeof (v as Json)['start'] === 'string')
        return ((v as Json)['start'] as string).slice(0, 10);
    }
    return fallbackDate;
  };
  const price = (
    table: { byCode: Readonly<Record<string, number>>; default: number },
    code?: string,
  ): number =>
    cents(
      code !== undefined && table.byCode[code] !== undefined
        ? (table.byCode[code] as number)
        : table.default,
    );
  switch (t) {
    case 'Procedure': {
      const code = r['code'] ?? { text: 'Procedure' };
      return {
        kind: t,
        productOrService: code,
        date: dateOf('performedDateTime', 'performedPeriod'),
        quantity: 1,
        unitCents: price(COST_TABLE.Procedure, firstCoding(code)?.code),
        resource: r,
      };
    }
    case 'Immunization': {
      const code = r['vaccineCode'] ?? { text: 'Immunization' };
      return {
        kind: t,
        productOrService: code,
        date: dateOf('occurrenceDateTime'),
        quantity: 1,
        unitCents: price(COST_TABLE.Immunization, firstCoding(code)?.code),
        resource: r,
      };
    }
    case 'MedicationRequest': {
      const code = r['medicationCodeableConcept'] ?? { text: 'Medication' };
      return {
        kind: t,
        productOrService: code,
        date: dateOf('authoredOn'),
        quantity: supplyDays(r),
        unitCents: price(COST_TABLE.MedicationRequest, firstCoding(code)?.code),
        resource: r,
      };
    }
    case 'DiagnosticReport': {
      if (!isLabReport(r)) return null;
      const code = r['code'] ?? { text: 'Laboratory report' };
      return {
        kind: t,
        productOrService: code,
        date: dateOf('effectiveDateTime', 'effectivePeriod', 'issued'),
        quantity: 1,
        unitCents: price(COST_TABLE.DiagnosticReport, firstCoding(code)?.code),
        resource: r,
      };
    }
    case 'ImagingStudy': {
      const modality = (r['modality'] as readonly { code?: string }[] | undefined)?.[0];
      const procedure = (r['procedureCode'] as readonly unknown[] | undefined)?.[0];
      const code =
        procedure ?? (modality !== undefined ? { coding: [modality] } : { text: 'Imaging study' });
      return {
        kind: t,
        productOrService: code,
        date: dateOf('started'),
        quantity: 1,
        unitCents: price(COST_TABLE.ImagingStudy, modality?.code),
        resource: r,
      };
    }
    default:
      return null;
  }
}

/** Adjudicated amounts of one line (cents). */
interface Adjudicated {
  readonly submitted: number;
  readonly eligible: number;
  readonly copay: number;
  readonly coinsurance: number;
  readonly benefit: number;
  readonly patient: number;
}

/** Adjudicates one line under a payer's rule; `copayCents` is applied to this line. */
export function adjudicate(
  payer: PayerKey,
  cls: string,
  kind: ItemKind,
  netCents: number,
  copayCents: number,
): Adjudicated {
  const rule = PAYER_RULES[payer];
  const share = kind === 'MedicationRequest' ? rule.drugAllowedShare : rule.allowedShare;
  const eligible = Math.round(netCents * share);
  const copay = Math.min(copayCents, eligible);
  const coinsurance = Math.round(
    (eligible - copay) * (rule.coinsurance[cls] ?? rule.coinsurance['AMB'] ?? 0),
  );
  const patient = copay + coinsurance;
  return {
    submitted: netCents,
    eligible,
    copay,
    coinsurance,
    benefit: eligible - patient,
    patient,
  };
}

function addStats(s: Stats, items: number, a: Amounts): void {
  s.claims += 1;
  s.items += items;
  s.billed += a.billed;
  s.allowed += a.allowed;
  s.paid += a.paid;
  s.patient += a.patient;
}

function snapshot(s: State): Counters {
  return JSON.parse(JSON.stringify(s)) as Counters;
}

export const claimsPart: SynthPartFactory = (run: SynthRun): SynthPart => {
  const payers = payerIds(run.args.seed);
  const planCumulative: number[] = [];
  {
    let acc = 0;
    for (const p of PRIVATE_PLANS) planCumulative.push((acc += p.share));
  }
  const state = newState();

  const payorOf = (payer: PayerKey, plan: number): { reference: string; display: string } => {
    if (payer === 'medicare')
      return { reference: `Organization/${payers.medicare}`, display: 'Medicare' };
    if (payer === 'medicaid')
      return { reference: `Organization/${payers.medicaid}`, display: 'Medicaid' };
    const p = PRIVATE_PLANS[plan] as (typeof PRIVATE_PLANS)[number];
    return { reference: `Organization/${payers.privatePlans[plan] as string}`, display: p.name };
  };

  return {
    name: 'claims',
    stream: PART_STREAMS.claims,
    resourceTypes: ['Coverage', 'Claim', 'ExplanationOfBenefit'],

    shared(): JsonResource[] {
      return [
        payerOrganization(payers.medicare, 'Medicare'),
        payerOrganization(payers.medicaid, 'Medicaid'),
        ...PRIVATE_PLANS.map((p, i) => payerOrganization(payers.privatePlans[i] as string, p.name)),
      ];
    },

    patient(out: PatientOutput, rng: Random): void {
      const h = out.history;
      const window = run.window;
      const ins = patientInsurance(run.args.seed, h.index, h.birth, h.death, window);
      const patient = out.resources[0] as JsonResource;
      const patientRef = { reference: refOf(patient) };
      state.patients++;
      state.incomeBand[ins.incomeBand] = (state.incomeBand[ins.incomeBand] ?? 0) + 1;

      // Coverage resources, one per period; the last stays open if the patient is alive.
      const alive = h.death === null || h.death > window.endDay;
      const coverageIds = new Map<
        CoveragePeriod,
        { id: string; payor: { reference: string; display: string } | null }
      >();
      const newCoverages: JsonResource[] = [];
      ins.periods.forEach((p, i) => {
        const id = rng.uuid();
        const plan = p.payer === 'private' ? rng.pickCumulative(planCumulative) : 0;
        const payor = p.payer === 'self-pay' ? null : payorOf(p.payer, plan);
        const subscriberId =
          p.payer === 'medicare'
            ? mbi(rng)
            : p.payer === 'medicaid'
              ? `MCD${digits(rng, 9)}`
              : p.payer === 'private'
                ? `${['EVG', 'SMH', 'LEH'][plan] as string}${digits(rng, 9)}`
                : null;
        const open = i === ins.periods.length - 1 && alive && p.end === window.endDay;
        coverageIds.set(p, { id, payor });
        newCoverages.push({
          resourceType: 'Coverage',
          id,
          status: 'active',
          type: COVERAGE_TYPE[p.payer],
          ...(subscriberId === null ? {} : { subscriber: patientRef, subscriberId }),
          beneficiary: patientRef,
          relationship: RELATIONSHIP_SELF,
          period: open
            ? { start: dayToIso(p.start) }
            : { start: dayToIso(p.start), end: dayToIso(p.end) },
          payor: [payor ?? patientRef],
        });
        state.coverages++;
        state.personDays[p.payer] = (state.personDays[p.payer] ?? 0) + (p.end - p.start + 1);
      });
      state.payerChanges += Math.max(0, ins.periods.length - 1);
      const last = ins.periods[ins.periods.length - 1];
      if (alive && last !== undefined && last.end === window.endDay) {
        const row = state.atEnd[ins.incomeBand] as Record<string, number>;
        row[last.payer] = (row[last.payer] ?? 0) + 1;
      }

      // Index the encounter's Conditions and billable resources (resources before this part).
      const byEncounter = new Map<string, JsonResource[]>();
      const conditions = new Map<string, JsonResource[]>();
      const encounters: JsonResource[] = [];
      const icuDaysOf = new Map<string, number>();
      for (const r of out.resources) {
        if (r.resourceType === 'Encounter') {
          encounters.push(r);
          continue;
        }
        const enc = (r['encounter'] as { reference?: string } | undefined)?.reference;
        if (enc === undefined) continue;
        const target =
          r.resourceType === 'Condition'
            ? conditions
            : (BILLED_TYPES as readonly string[]).includes(r.resourceType)
              ? byEncounter
              : null;
        if (target === null) continue;
        const list = target.get(enc);
        if (list === undefined) target.set(enc, [r]);
        else list.push(r);
      }
      const endIso = `${dayToIso(window.endDay)}T23:59:59Z`;
      const period = (e: JsonResource): { start: string; end: string | null } => {
        // The core always writes a period; a hand-made Encounter without one bills at the end.
        const p = (e['period'] as { start?: string; end?: string } | undefined) ?? {};
        return { start: p.start ?? endIso, end: p.end ?? null };
      };
      const daysOf = (e: JsonResource): number => {
        const p = period(e);
        return Math.max(1, dayOf(p.end ?? endIso) - dayOf(p.start));
      };
      for (const e of encounters) {
        const partOf = (e['partOf'] as { reference?: string } | undefined)?.reference;
        if (
          partOf !== undefined &&
          firstCoding((e['type'] as unknown[] | undefined)?.[0])?.code === ICU_TYPE
        )
          icuDaysOf.set(partOf, (icuDaysOf.get(partOf) ?? 0) + daysOf(e));
      }

      const claims: JsonResource[] = [];
      for (const e of encounters) {
        const eRef = refOf(e);
        const cls = (e['class'] as { code?: string } | undefined)?.code ?? 'AMB';
        const type = (e['type'] as unknown[] | undefined)?.[0] ?? { text: 'Encounter' };
        const typeCode = firstCoding(type)?.code;
        const p = period(e);
        const startDay = dayOf(p.start);
        const isPart = e['partOf'] !== undefined;
        // The encounter's own line.
        let quantity = 1;
        let unit: number;
        if (typeCode === ICU_TYPE) {
          quantity = daysOf(e);
          unit = COST_TABLE.encounter.icuDay;
        } else if (cls === 'IMP') {
          quantity = Math.max(1, daysOf(e) - (icuDaysOf.get(eRef) ?? 0));
          unit = COST_TABLE.encounter.wardDay;
        } else {
          unit =
            (typeCode !== undefined ? COST_TABLE.encounter.byType[typeCode] : undefined) ??
            COST_TABLE.encounter.byClass[cls] ??
            COST_TABLE.encounter.defaultVisit;
        }
        const lines: Line[] = [
          {
            kind: 'encounter',
            productOrService: type,
            date: p.start.slice(0, 10),
            quantity,
            unitCents: cents(unit),
            resource: null,
          },
        ];
        const billed = byEncounter.get(eRef) ?? [];
        for (const t of BILLED_TYPES)
          for (const r of billed)
            if (r.resourceType === t) {
              const l = lineOf(r, p.start.slice(0, 10));
              if (l !== null) lines.push(l);
            }

        const cp = periodOn(ins, startDay) ?? {
          payer: 'self-pay' as PayerKey,
          start: startDay,
          end: startDay,
        };
        const cov = coverageIds.get(cp as CoveragePeriod);
        const payer = cp.payer;
        const coverageRef =
          cov === undefined ? { display: 'Self-pay' } : { reference: `Coverage/${cov.id}` };
        const rule = PAYER_RULES[payer];
        const copayCents = isPart ? 0 : cents(rule.copay[cls] ?? rule.copay['AMB'] ?? 0);

        const diagnoses = conditions.get(eRef) ?? [];
        const diagnosis = diagnoses.map((c, i) => ({
          sequence: i + 1,
          diagnosisReference: { reference: refOf(c) },
        }));
        const procedures = lines.filter((l) => l.kind === 'Procedure');
        const procedure = procedures.map((l, i) => ({
          sequence: i + 1,
          ...(l.resource !== null && typeof l.resource['performedDateTime'] === 'string'
            ? { date: l.resource['performedDateTime'] }
            : {}),
          procedureReference: { reference: refOf(l.resource as JsonResource) },
        }));
        const infos = lines.filter((l) => l.kind !== 'encounter' && l.kind !== 'Procedure');
        const supportingInfo = infos.map((l, i) => ({
          sequence: i + 1,
          category: INFO_CATEGORY,
          valueReference: { reference: refOf(l.resource as JsonResource) },
        }));

        const claimId = rng.uuid();
        const eobId = rng.uuid();
        const amounts: Amounts = { billed: 0, allowed: 0, paid: 0, patient: 0 };
        const claimItems: Json[] = [];
        const eobItems: Json[] = [];
        lines.forEach((l, i) => {
          const net = l.unitCents * l.quantity;
          const links: Json =
            l.kind === 'encounter'
              ? diagnosis.length > 0
                ? { diagnosisSequence: diagnosis.map((d) => d.sequence) }
                : {}
              : l.kind === 'Procedure'
                ? { procedureSequence: [procedures.indexOf(l) + 1] }
                : { informationSequence: [infos.indexOf(l) + 1] };
          const item: Json = {
            sequence: i + 1,
            ...links,
            productOrService: l.productOrService,
            // The encounter's own line covers its period; other lines are dated.
            ...(l.kind === 'encounter' && p.end !== null
              ? { servicedPeriod: { start: p.start, end: p.end } }
              : { servicedDate: l.date }),
            quantity: { value: l.quantity },
            unitPrice: money(l.unitCents),
            net: money(net),
            encounter: [{ reference: eRef }],
          };
          claimItems.push(item);
          const a = adjudicate(payer, cls, l.kind, net, i === 0 ? copayCents : 0);
          eobItems.push({
            ...item,
            adjudication: [
              { category: CAT.submitted, amount: money(a.submitted) },
              { category: CAT.eligible, amount: money(a.eligible) },
              // Zero copay / coinsurance are left out (absent = none), to keep EOBs small.
              ...(a.copay === 0 ? [] : [{ category: CAT.copay, amount: money(a.copay) }]),
              ...(a.coinsurance === 0
                ? []
                : [{ category: CAT.coinsurance, amount: money(a.coinsurance) }]),
              { category: CAT.benefit, amount: money(a.benefit) },
              { category: CAT.memberliability, amount: money(a.patient) },
            ],
          });
          amounts.billed += net;
          amounts.allowed += a.eligible;
          amounts.paid += a.benefit;
          amounts.patient += a.patient;
          const kindKey = l.kind;
          state.itemsByKind[kindKey] = (state.itemsByKind[kindKey] ?? 0) + 1;
          state.billedByKind[kindKey] = (state.billedByKind[kindKey] ?? 0) + net;
        });

        const billablePeriod = p.end === null ? { start: p.start } : { start: p.start, end: p.end };
        const created = p.end ?? endIso;
        const provider = e['serviceProvider'] as Json;
        const facility = (e['location'] as readonly { location: Json }[] | undefined)?.[0]
          ?.location;
        const claimType = cls === 'IMP' ? CLAIM_TYPE.institutional : CLAIM_TYPE.professional;
        const insurerRef = cov?.payor ?? null;
        const claim: JsonResource = {
          resourceType: 'Claim',
          id: claimId,
          status: 'active',
          type: claimType,
          use: 'claim',
          patient: patientRef,
          billablePeriod,
          created,
          ...(insurerRef === null ? {} : { insurer: insurerRef }),
          provider,
          priority: PRIORITY_NORMAL,
          ...(facility === undefined ? {} : { facility }),
          ...(supportingInfo.length > 0 ? { supportingInfo } : {}),
          ...(diagnosis.length > 0 ? { diagnosis } : {}),
          ...(procedure.length > 0 ? { procedure } : {}),
          insurance: [{ sequence: 1, focal: true, coverage: coverageRef }],
          item: claimItems,
          total: money(amounts.billed),
        };
        const eob: JsonResource = {
          resourceType: 'ExplanationOfBenefit',
          id: eobId,
          status: 'active',
          type: claimType,
          use: 'claim',
          patient: patientRef,
          billablePeriod,
          created,
          // Self-pay has no insurer Organization; R4 requires insurer 1..1, so a display only.
          insurer: insurerRef ?? { display: 'Self-pay (no insurer)' },
          provider,
          ...(facility === undefined ? {} : { facility }),
          claim: { reference: `Claim/${claimId}` },
          outcome: 'complete',
          ...(supportingInfo.length > 0 ? { supportingInfo } : {}),
          ...(diagnosis.length > 0 ? { diagnosis } : {}),
          ...(procedure.length > 0 ? { procedure } : {}),
          insurance: [{ focal: true, coverage: coverageRef }],
          item: eobItems,
          total: [
            { category: CAT.submitted, amount: money(amounts.billed) },
            { category: CAT.eligible, amount: money(amounts.allowed) },
            { category: CAT.benefit, amount: money(amounts.paid) },
            { category: CAT.memberliability, amount: money(amounts.patient) },
          ],
          payment: {
            type: PAYMENT_COMPLETE,
            date: created.slice(0, 10),
            amount: money(amounts.paid),
          },
        };
        claims.push(claim, eob);

        const year = String(yearOf(startDay));
        addStats(state.total, lines.length, amounts);
        addStats((state.byPayer[payer] ??= newStats()), lines.length, amounts);
        addStats((state.byClass[cls] ??= newStats()), lines.length, amounts);
        addStats((state.byYear[year] ??= newStats()), lines.length, amounts);
      }
      // Output order follows resourceTypes: Coverage, then Claim / EOB pairs by encounter.
      out.resources.push(...newCoverages);
      for (const r of claims) if (r.resourceType === 'Claim') out.resources.push(r);
      for (const r of claims) if (r.resourceType === 'ExplanationOfBenefit') out.resources.push(r);
    },

    parameters(): unknown {
      return {
        insurance: {
          incomeBands: INCOME_BANDS.map((b) => ({
            band: b,
            sharePercent: INCOME_BAND_SHARES[b],
            usd:
              INCOME_BAND_BOUNDS[b][1] === Infinity
                ? [INCOME_BAND_BOUNDS[b][0], null]
                : INCOME_BAND_BOUNDS[b],
          })),
          topBandExcessMeanUsd: TOP_BAND_EXCESS_MEAN,
          under65PayerShares: UNDER_65_PAYER_SHARES,
          expectedUnder65Shares: Object.fromEntries(
            AGE_GROUPS.map((g) => [g, expectedUnder65Shares(g)]),
          ),
          childUntilAge: CHILD_UNTIL_AGE,
          medicareFromAge: MEDICARE_AGE,
          payerRedrawPerYear: PAYER_REDRAW_PER_YEAR,
        },
        privatePlans: PRIVATE_PLANS,
        costTableUsd: COST_TABLE,
        payerRules: PAYER_RULES,
      };
    },

    counters(): Counters {
      return snapshot(state);
    },

    realised(counters: Counters): unknown {
      const c = counters as unknown as State;
      const usd = (s: Stats): Json => ({
        claims: s.claims,
        items: s.items,
        billedUsd: s.billed / 100,
        allowedUsd: s.allowed / 100,
        paidByPayerUsd: s.paid / 100,
        patientPaidUsd: s.patient / 100,
      });
      const map = (r: Record<string, Stats>): Json =>
        Object.fromEntries(
          Object.keys(r)
            .sort()
            .map((k) => [k, usd(r[k] as Stats)]),
        );
      const totalDays = PAYER_KEYS.reduce((s, p) => s + (c.personDays[p] ?? 0), 0);
      return {
        patients: c.patients,
        coverages: c.coverages,
        payerChanges: c.payerChanges,
        patientsByIncomeBand: c.incomeBand,
        patientsAtEndByIncomeBandAndPayer: c.atEnd,
        personYearsByPayer: Object.fromEntries(
          PAYER_KEYS.map((p) => [p, Math.round(((c.personDays[p] ?? 0) / 365.25) * 100) / 100]),
        ),
        personTimeShareByPayer: Object.fromEntries(
          PAYER_KEYS.map((p) => [
            p,
            totalDays === 0 ? 0 : Math.round(((c.personDays[p] ?? 0) / totalDays) * 10000) / 10000,
          ]),
        ),
        claims: usd(c.total),
        byPayer: map(c.byPayer),
        byEncounterClass: map(c.byClass),
        byYear: map(c.byYear),
        itemsByKind: c.itemsByKind,
        billedUsdByKind: Object.fromEntries(
          Object.keys(c.billedByKind)
            .sort()
            .map((k) => [k, (c.billedByKind[k] ?? 0) / 100]),
        ),
      };
    },
  };
};
