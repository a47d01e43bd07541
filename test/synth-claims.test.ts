/**
 * The `claims` part and insurance.ts: payers, Coverage, Claim and ExplanationOfBenefit are
 * valid R4 with resolving references; every Encounter is billed once; money adds up;
 * coverage periods tile the patient's life in the window; truth equals a recount of the
 * output; output is deterministic; insurance shares follow the parameters.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COST_TABLE, PAYER_RULES, adjudicate, claimsPart } from '../src/synth/claims.js';
import { birthdayAt, parseDay, yearOf } from '../src/synth/dates.js';
import { synthesize } from '../src/synth/index.js';
import {
  INCOME_BAND_SHARES,
  INCOME_BANDS,
  MEDICARE_AGE,
  PAYER_KEYS,
  expectedUnder65Shares,
  patientInsurance,
  payerOn,
} from '../src/synth/insurance.js';
import type { PayerKey } from '../src/synth/insurance.js';
import type { PatientOutput, SynthPart, SynthPartFactory } from '../src/synth/parts.js';
import type { Random } from '../src/synth/random.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

const PATIENTS = 250;
const SEED = 11;
const START = '2015-01-01';
const END = '2025-12-31';

/**
 * A hand-made part standing in for the others (procedures, immunizations, imaging): it adds
 * a Procedure, an Immunization and an ImagingStudy to some encounters, and a non-lab
 * DiagnosticReport that must not be billed.
 */
const extrasPart: SynthPartFactory = (): SynthPart => ({
  name: 'test-extras',
  stream: 0x7465_7374,
  resourceTypes: ['Procedure', 'Immunization', 'ImagingStudy', 'DiagnosticReport'],
  patient(out: PatientOutput, rng: Random): void {
    const patient = out.resources[0] as Json;
    const subject = { reference: `Patient/${String(patient['id'])}` };
    const added: Json[] = [];
    for (const e of out.resources) {
      if (e.resourceType !== 'Encounter' || !rng.chance(0.3)) continue;
      const encounter = { reference: `Encounter/${e.id}` };
      const when = (e['period'] as { start: string }).start;
      added.push({
        resourceType: 'Procedure',
        id: rng.uuid(),
        status: 'completed',
        code: {
          coding: [{ system: 'http://snomed.info/sct', code: '71388002', display: 'Procedure' }],
        },
        subject,
        encounter,
        performedDateTime: when,
      });
      if (rng.chance(0.5))
        added.push({
          resourceType: 'Immunization',
          id: rng.uuid(),
          status: 'completed',
          vaccineCode: {
            coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140', display: 'Influenza' }],
          },
          patient: subject,
          encounter,
          occurrenceDateTime: when,
          primarySource: true,
        });
      if (rng.chance(0.3)) {
        added.push({
          resourceType: 'ImagingStudy',
          id: rng.uuid(),
          status: 'available',
          modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: 'CT' }],
          subject,
          encounter,
          started: when,
        });
        added.push({
          resourceType: 'DiagnosticReport',
          id: rng.uuid(),
          status: 'final',
          category: [
            {
              coding: [
                {
                  system: 'http://terminology.hl7.org/CodeSystem/v2-0074',
                  code: 'RAD',
                  display: 'Radiology',
                },
              ],
            },
          ],
          code: { coding: [{ system: 'http://loinc.org', code: '18748-4' }] },
          subject,
          encounter,
          effectiveDateTime: when,
        });
      }
    }
    for (const r of added) out.resources.push(r as Json & { resourceType: string; id: string });
  },
  parameters: () => ({}),
  counters: () => 0,
  realised: () => ({}),
});

let tmp = '';
let tmp2 = '';
let byType = new Map<string, Json[]>();
let truth: Json = {};
let validator: FhirR4Validator;

function readAll(dir: string): Map<string, Json[]> {
  const out = new Map<string, Json[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ndjson'))) {
    const type = file.replace(/\.ndjson$/, '');
    out.set(
      type,
      readFileSync(path.join(dir, file), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Json),
    );
  }
  return out;
}

const of = (t: string): Json[] => byType.get(t) ?? [];
const c = (m: unknown): number => Math.round((m as { value: number }).value * 100);
const ref = (r: unknown): string => (r as { reference: string }).reference;

beforeAll(async () => {
  tmp = makeTempDir('synth-claims');
  tmp2 = makeTempDir('synth-claims-2');
  const opts = { patients: PATIENTS, seed: SEED, start: START, end: END };
  await synthesize({ ...opts, outDir: tmp, parts: [extrasPart, claimsPart] });
  await synthesize({ ...opts, outDir: tmp2, parts: [extrasPart, claimsPart] });
  byType = readAll(tmp);
  truth = JSON.parse(readFileSync(path.join(tmp, 'truth.json'), 'utf8')) as Json;
  validator = new FhirR4Validator();
}, 60_000);

afterAll(() => {
  removeDir(tmp);
  removeDir(tmp2);
});

/** The payer key of a Coverage, from its SOPT code. */
function payerOfCoverage(cov: Json): PayerKey {
  const code = (cov['type'] as { coding: { code: string }[] }).coding[0]?.code;
  const k = ({ '1': 'medicare', '2': 'medicaid', '5': 'private', '81': 'self-pay' } as const)[
    code as '1'
  ];
  if (k === undefined) throw new Error(`unknown coverage type ${String(code)}`);
  return k;
}

describe('claims output', () => {
  it('is valid R4 and every reference resolves', () => {
    const ids = new Set<string>();
    for (const [t, rs] of byType) for (const r of rs) ids.add(`${t}/${String(r['id'])}`);
    const checked = [
      ...of('Coverage'),
      ...of('Claim'),
      ...of('ExplanationOfBenefit'),
      ...of('Organization').filter((o) => JSON.stringify(o['type']).includes('"pay"')),
      ...of('Procedure'),
      ...of('Immunization'),
      ...of('ImagingStudy'),
    ];
    expect(of('Claim').length).toBeGreaterThan(PATIENTS);
    const errors = checked.flatMap((r) => validator.validate(r));
    expect(formatErrors(errors, 20)).toBe('');
    // The validator does check these types (so the line above can fail).
    const bad = structuredClone(of('ExplanationOfBenefit')[0]) as Json;
    delete bad['insurer'];
    expect(validator.validate(bad).map((e) => e.path)).toContain('ExplanationOfBenefit.insurer');
    const dangling: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object')
        for (const [k, x] of Object.entries(v as Json)) {
          if (k === 'reference' && typeof x === 'string') {
            if (!ids.has(x)) dangling.push(x);
          } else walk(x);
        }
    };
    checked.forEach(walk);
    expect(dangling).toEqual([]);
    // Five payer Organizations: Medicare, Medicaid and three private plans.
    const payers = of('Organization').filter((o) => JSON.stringify(o['type']).includes('"pay"'));
    expect(payers.map((o) => o['name'])).toContain('Medicare');
    expect(payers).toHaveLength(5);
  });

  it('bills every Encounter with exactly one Claim and one EOB, with all its billable resources', () => {
    const claimsByEnc = new Map<string, Json[]>();
    for (const cl of of('Claim')) {
      const items = cl['item'] as Json[];
      const enc = ref((items[0]?.['encounter'] as unknown[])[0]);
      for (const it of items) expect(ref((it['encounter'] as unknown[])[0])).toBe(enc);
      claimsByEnc.set(enc, [...(claimsByEnc.get(enc) ?? []), cl]);
    }
    for (const e of of('Encounter'))
      expect(claimsByEnc.get(`Encounter/${String(e['id'])}`)).toHaveLength(1);
    expect(claimsByEnc.size).toBe(of('Encounter').length);

    const eobByClaim = new Map<string, number>();
    for (const eob of of('ExplanationOfBenefit')) {
      const k = ref(eob['claim']);
      eobByClaim.set(k, (eobByClaim.get(k) ?? 0) + 1);
    }
    for (const cl of of('Claim')) expect(eobByClaim.get(`Claim/${String(cl['id'])}`)).toBe(1);
    expect(of('ExplanationOfBenefit')).toHaveLength(of('Claim').length);

    // Every billable resource is billed once, on its encounter's Claim; RAD reports are not.
    const billedRefs = new Map<string, string>();
    for (const cl of of('Claim')) {
      const enc = ref(((cl['item'] as Json[])[0]?.['encounter'] as unknown[])[0]);
      for (const p of (cl['procedure'] as Json[] | undefined) ?? [])
        billedRefs.set(ref(p['procedureReference']), enc);
      for (const s of (cl['supportingInfo'] as Json[] | undefined) ?? [])
        billedRefs.set(ref(s['valueReference']), enc);
      const n =
        1 +
        ((cl['procedure'] as unknown[] | undefined)?.length ?? 0) +
        ((cl['supportingInfo'] as unknown[] | undefined)?.length ?? 0);
      expect((cl['item'] as unknown[]).length).toBe(n);
    }
    // Drugs are billed per day of supply: the course length, or one 90-day fill.
    const meds = new Map(
      of('MedicationRequest').map((m) => [`MedicationRequest/${String(m['id'])}`, m]),
    );
    for (const cl of of('Claim'))
      for (const s of (cl['supportingInfo'] as Json[] | undefined) ?? []) {
        const m = meds.get(ref(s['valueReference']));
        if (m === undefined) continue;
        const item = (cl['item'] as Json[]).find((it) =>
          ((it['informationSequence'] as number[] | undefined) ?? []).includes(
            s['sequence'] as number,
          ),
        ) as Json;
        const bounds = JSON.stringify(m['dosageInstruction']).match(
          /"boundsDuration":\{"value":(\d+)/,
        );
        expect((item['quantity'] as { value: number }).value).toBe(
          bounds === null ? COST_TABLE.MedicationRequest.longTermSupplyDays : Number(bounds[1]),
        );
      }
    let expected = 0;
    for (const t of ['Procedure', 'Immunization', 'MedicationRequest', 'ImagingStudy']) {
      expect(of(t).length, t).toBeGreaterThan(0);
      for (const r of of(t)) {
        expected++;
        expect(billedRefs.get(`${t}/${String(r['id'])}`)).toBe(ref(r['encounter']));
      }
    }
    for (const r of of('DiagnosticReport')) {
      const lab = JSON.stringify(r['category']).includes('"LAB"');
      if (lab) expected++;
      expect(billedRefs.has(`DiagnosticReport/${String(r['id'])}`)).toBe(lab);
    }
    expect(billedRefs.size).toBe(expected);
  });

  it('money adds up: items, totals, adjudication, payment', () => {
    const coverages = new Map(of('Coverage').map((cv) => [`Coverage/${String(cv['id'])}`, cv]));
    const claims = new Map(of('Claim').map((cl) => [`Claim/${String(cl['id'])}`, cl]));
    const encounters = new Map(of('Encounter').map((e) => [`Encounter/${String(e['id'])}`, e]));
    for (const cl of claims.values()) {
      let sum = 0;
      for (const it of cl['item'] as Json[]) {
        const q = (it['quantity'] as { value: number }).value;
        expect(c(it['net'])).toBe(c(it['unitPrice']) * q);
        sum += c(it['net']);
      }
      expect(c(cl['total'])).toBe(sum);
    }
    for (const eob of of('ExplanationOfBenefit')) {
      const cl = claims.get(ref(eob['claim'])) as Json;
      const cov = coverages.get(ref((eob['insurance'] as Json[])[0]?.['coverage'])) as Json;
      expect(ref((cl['insurance'] as Json[])[0]?.['coverage'])).toBe(
        `Coverage/${String(cov['id'])}`,
      );
      const payer = payerOfCoverage(cov);
      const enc = encounters.get(ref(((cl['item'] as Json[])[0]?.['encounter'] as unknown[])[0]));
      const cls = ((enc as Json)['class'] as { code: string }).code;
      expect(((cl['type'] as Json)['coding'] as Json[])[0]?.['code']).toBe(
        cls === 'IMP' ? 'institutional' : 'professional',
      );
      // The coverage is in force on the encounter's first day.
      const day = ((enc as Json)['period'] as { start: string }).start.slice(0, 10);
      const period = cov['period'] as { start: string; end?: string };
      expect(period.start <= day && (period.end === undefined || day <= period.end)).toBe(true);
      if (payer === 'self-pay') {
        expect(eob['insurer']).toEqual({ display: 'Self-pay (no insurer)' });
        expect(ref((cov['payor'] as unknown[])[0])).toBe(ref(cl['patient']));
      } else expect(ref(eob['insurer'])).toBe(ref((cov['payor'] as unknown[])[0]));
      const tot = { submitted: 0, eligible: 0, benefit: 0, memberliability: 0 };
      for (const [i, it] of (eob['item'] as Json[]).entries()) {
        const a = new Map(
          (it['adjudication'] as Json[]).map((x) => [
            ((x['category'] as Json)['coding'] as Json[])[0]?.['code'] as string,
            c(x['amount']),
          ]),
        );
        const net = c(it['net']);
        expect(a.get('submitted')).toBe(net);
        const kind = i === 0 ? 'encounter' : 'other';
        const share =
          kind !== 'encounter' && JSON.stringify(it['productOrService']).includes('rxnorm')
            ? PAYER_RULES[payer].drugAllowedShare
            : PAYER_RULES[payer].allowedShare;
        expect(a.get('eligible')).toBe(Math.round(net * share));
        expect((a.get('benefit') ?? 0) + (a.get('memberliability') ?? 0)).toBe(a.get('eligible'));
        expect(a.get('memberliability')).toBe((a.get('copay') ?? 0) + (a.get('coinsurance') ?? 0));
        if (i > 0) expect(a.get('copay') ?? 0).toBe(0);
        expect(a.get('copay')).not.toBe(0);
        expect(a.get('coinsurance')).not.toBe(0);
        if (payer === 'self-pay') expect(a.get('benefit')).toBe(0);
        if (payer === 'medicaid') expect(a.get('memberliability')).toBe(0);
        tot.submitted += net;
        tot.eligible += a.get('eligible') ?? 0;
        tot.benefit += a.get('benefit') ?? 0;
        tot.memberliability += a.get('memberliability') ?? 0;
      }
      const totals = new Map(
        (eob['total'] as Json[]).map((x) => [
          ((x['category'] as Json)['coding'] as Json[])[0]?.['code'] as string,
          c(x['amount']),
        ]),
      );
      expect(Object.fromEntries(totals)).toEqual(tot);
      expect(c((eob['payment'] as Json)['amount'])).toBe(tot.benefit);
      expect(tot.submitted).toBe(c(cl['total']));
    }
  });

  it('coverage periods tile life in the window; Medicare exactly from the 65th birthday', () => {
    const startDay = parseDay(START);
    const endDay = parseDay(END);
    const byPatient = new Map<string, Json[]>();
    for (const cv of of('Coverage')) {
      const p = ref(cv['beneficiary']);
      byPatient.set(p, [...(byPatient.get(p) ?? []), cv]);
    }
    expect(byPatient.size).toBe(PATIENTS);
    let changes = 0;
    for (const pt of of('Patient')) {
      const covs = byPatient.get(`Patient/${String(pt['id'])}`) as Json[];
      const birth = parseDay(pt['birthDate'] as string);
      const death =
        typeof pt['deceasedDateTime'] === 'string'
          ? parseDay((pt['deceasedDateTime'] as string).slice(0, 10))
          : null;
      const periods = covs.map((cv) => {
        const p = cv['period'] as { start: string; end?: string };
        return {
          payer: payerOfCoverage(cv),
          start: parseDay(p.start),
          end: p.end === undefined ? endDay : parseDay(p.end),
        };
      });
      periods.sort((a, b) => a.start - b.start);
      expect(periods[0]?.start).toBe(Math.max(birth, startDay));
      expect(periods[periods.length - 1]?.end).toBe(Math.min(death ?? endDay, endDay));
      const medicareDay = birthdayAt(birth, MEDICARE_AGE);
      for (const [i, p] of periods.entries()) {
        expect(p.start).toBeLessThanOrEqual(p.end);
        if (i > 0) {
          expect(p.start).toBe((periods[i - 1]?.end ?? 0) + 1);
          expect(p.payer).not.toBe(periods[i - 1]?.payer);
        }
        if (p.payer === 'medicare') expect(p.start).toBe(Math.max(medicareDay, startDay, birth));
        else expect(p.end).toBeLessThan(medicareDay);
      }
      changes += periods.length - 1;
    }
    expect(changes).toBeGreaterThan(0);
  });

  it('truth equals a recount of the output', () => {
    const realised = (truth['parts'] as Json)['claims'] as { realised: Json; parameters: Json };
    const r = realised.realised;
    const coverages = new Map(of('Coverage').map((cv) => [`Coverage/${String(cv['id'])}`, cv]));
    const encounters = new Map(of('Encounter').map((e) => [`Encounter/${String(e['id'])}`, e]));
    type S = { claims: number; billed: number; paid: number; patient: number };
    const add = (m: Map<string, S>, k: string, b: number, p: number, pt: number): void => {
      const s = m.get(k) ?? { claims: 0, billed: 0, paid: 0, patient: 0 };
      s.claims++;
      s.billed += b;
      s.paid += p;
      s.patient += pt;
      m.set(k, s);
    };
    const byPayer = new Map<string, S>();
    const byClass = new Map<string, S>();
    const byYear = new Map<string, S>();
    const total = new Map<string, S>();
    for (const eob of of('ExplanationOfBenefit')) {
      const cov = coverages.get(ref((eob['insurance'] as Json[])[0]?.['coverage'])) as Json;
      const enc = encounters.get(
        ref(((eob['item'] as Json[])[0]?.['encounter'] as unknown[])[0]),
      ) as Json;
      const t = new Map(
        (eob['total'] as Json[]).map((x) => [
          ((x['category'] as Json)['coding'] as Json[])[0]?.['code'] as string,
          c(x['amount']),
        ]),
      );
      const args = [
        t.get('submitted') ?? 0,
        t.get('benefit') ?? 0,
        t.get('memberliability') ?? 0,
      ] as const;
      add(byPayer, payerOfCoverage(cov), ...args);
      add(byClass, (enc['class'] as { code: string }).code, ...args);
      add(byYear, (enc['period'] as { start: string }).start.slice(0, 4), ...args);
      add(total, 'all', ...args);
    }
    const usd = (s: S): Json => ({
      claims: s.claims,
      billedUsd: s.billed / 100,
      paidByPayerUsd: s.paid / 100,
      patientPaidUsd: s.patient / 100,
    });
    const pick = (x: Json): Json => ({
      claims: x['claims'],
      billedUsd: x['billedUsd'],
      paidByPayerUsd: x['paidByPayerUsd'],
      patientPaidUsd: x['patientPaidUsd'],
    });
    expect(pick(r['claims'] as Json)).toEqual(usd(total.get('all') as S));
    for (const [k, s] of byClass)
      expect(pick((r['byEncounterClass'] as Record<string, Json>)[k] as Json)).toEqual(usd(s));
    for (const [k, s] of byYear)
      expect(pick((r['byYear'] as Record<string, Json>)[k] as Json)).toEqual(usd(s));
    for (const p of PAYER_KEYS) {
      const s = byPayer.get(p) ?? { claims: 0, billed: 0, paid: 0, patient: 0 };
      expect(pick((r['byPayer'] as Record<string, Json>)[p] as Json)).toEqual(usd(s));
    }
    expect(Object.keys(r['byEncounterClass'] as Json).sort()).toEqual([...byClass.keys()].sort());
    // Coverages, person-time by payer, patients by band.
    expect(r['coverages']).toBe(of('Coverage').length);
    const days: Record<string, number> = {};
    for (const cv of of('Coverage')) {
      const p = cv['period'] as { start: string; end?: string };
      const k = payerOfCoverage(cv);
      days[k] = (days[k] ?? 0) + parseDay(p.end ?? END) - parseDay(p.start) + 1;
    }
    for (const p of PAYER_KEYS)
      expect((r['personYearsByPayer'] as Record<string, number>)[p]).toBeCloseTo(
        (days[p] ?? 0) / 365.25,
        1,
      );
    const bands = r['patientsByIncomeBand'] as Record<string, number>;
    expect(Object.values(bands).reduce((a, b) => a + b, 0)).toBe(PATIENTS);
    expect((r['itemsByKind'] as Record<string, number>)['Procedure']).toBe(of('Procedure').length);
    expect(realised.parameters['costTableUsd']).toEqual(JSON.parse(JSON.stringify(COST_TABLE)));
  });

  it('is deterministic: same seed, same bytes', () => {
    for (const f of ['Coverage', 'Claim', 'ExplanationOfBenefit', 'Organization'])
      expect(readFileSync(path.join(tmp2, `${f}.ndjson`), 'utf8')).toBe(
        readFileSync(path.join(tmp, `${f}.ndjson`), 'utf8'),
      );
  });
});

describe('insurance model', () => {
  const window = { startDay: parseDay(START), endDay: parseDay(END) };

  it('is pure: the same arguments give the same insurance', () => {
    const birth = parseDay('1950-06-15');
    expect(patientInsurance(3, 17, birth, null, window)).toEqual(
      patientInsurance(3, 17, birth, null, window),
    );
    const a = patientInsurance(3, 17, birth, null, window);
    expect(payerOn(a, window.endDay)).toBe('medicare');
    expect(payerOn(a, birthdayAt(birth, 65) - 1)).not.toBe('medicare');
    expect(payerOn(a, birthdayAt(birth, 65))).toBe('medicare');
    expect(patientInsurance(3, 17, parseDay('2030-01-01'), null, window).periods).toEqual([]);
  });

  it('shares of income bands and payers follow the parameters (2,000 patients)', () => {
    const N = 2000;
    const bandCount: Record<string, number> = {};
    const at: Record<'child' | 'adult', Record<string, number>> = { child: {}, adult: {} };
    const groupN = { child: 0, adult: 0 };
    let older = 0;
    let olderMedicare = 0;
    let changes = 0;
    for (let i = 0; i < N; i++) {
      // Ages 0–89 at the end, uniform; some die during the window.
      const age = i % 90;
      const birth = birthdayAt(window.endDay, -age) - (i % 300);
      const death = i % 17 === 0 ? window.endDay - 400 : null;
      const ins = patientInsurance(9, i, birth, death, window);
      bandCount[ins.incomeBand] = (bandCount[ins.incomeBand] ?? 0) + 1;
      changes += Math.max(0, ins.periods.length - 1);
      // Payer on a fixed day (2020-07-01) for those alive then.
      const day = parseDay('2020-07-01');
      if (birth > day || (death !== null && death < day)) continue;
      const p = payerOn(ins, day);
      const ageThen = yearOf(day) - yearOf(birth);
      if (day >= birthdayAt(birth, 65)) {
        older++;
        if (p === 'medicare') olderMedicare++;
      } else if (ageThen >= 20 || (ageThen === 19 && day >= birthdayAt(birth, 19))) {
        groupN.adult++;
        at.adult[p] = (at.adult[p] ?? 0) + 1;
      } else if (ageThen < 18) {
        groupN.child++;
        at.child[p] = (at.child[p] ?? 0) + 1;
      }
    }
    const totalShare = INCOME_BANDS.reduce((s, b) => s + INCOME_BAND_SHARES[b], 0);
    for (const b of INCOME_BANDS)
      expect(Math.abs((bandCount[b] ?? 0) / N - INCOME_BAND_SHARES[b] / totalShare)).toBeLessThan(
        0.03,
      );
    expect(olderMedicare).toBe(older);
    for (const g of ['child', 'adult'] as const) {
      const exp = expectedUnder65Shares(g);
      for (const p of ['medicaid', 'private', 'self-pay'] as const)
        expect(Math.abs((at[g][p] ?? 0) / groupN[g] - exp[p]), `${g} ${p}`).toBeLessThan(0.05);
      expect(at[g]['medicare'] ?? 0).toBe(0);
    }
    // A few changes: between 0.1 and 2 per patient over 11 years.
    expect(changes / N).toBeGreaterThan(0.1);
    expect(changes / N).toBeLessThan(2);
  });

  it('adjudicates by payer rules', () => {
    expect(adjudicate('private', 'AMB', 'encounter', 25_000, 3_000)).toEqual({
      submitted: 25_000,
      eligible: 13_750,
      copay: 3_000,
      coinsurance: 2_150,
      benefit: 8_600,
      patient: 5_150,
    });
    const s = adjudicate('self-pay', 'IMP', 'encounter', 900_000, 0);
    expect(s.benefit).toBe(0);
    expect(s.patient).toBe(s.eligible);
    expect(adjudicate('medicaid', 'EMER', 'encounter', 220_000, 0).patient).toBe(0);
  });
});
