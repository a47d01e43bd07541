/**
 * Clinical content of the synthetic population (src/synth): prevalence of the chronic
 * conditions against published ranges (docs/synth.md, "Conditions"), labs that follow
 * disease state, inpatient events and the deaths they cause, and the planted
 * medication-safety signals, each recounted from the NDJSON and compared with truth.json.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize } from '../src/synth/index.js';
import type { Truth } from '../src/synth/index.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const PATIENTS = 4000;
const END = '2025-12-31';

type Json = Record<string, unknown>;
type Coded = { coding: { system: string; code: string }[] };

let tmp = '';
let out = '';
let truth: Truth;
const files = new Map<string, Json[]>();

/** Lines of one NDJSON file, parsed; `keep` filters on the raw line first (cheap). */
function read(type: string, keep?: (line: string) => boolean): Json[] {
  const key = type + (keep === undefined ? '' : '?');
  let rs = files.get(key);
  if (rs === undefined) {
    rs = readFileSync(path.join(out, `${type}.ndjson`), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && (keep === undefined || keep(l)))
      .map((l) => JSON.parse(l) as Json);
    files.set(key, rs);
  }
  return rs;
}

const refId = (ref: unknown): string =>
  (ref as { reference: string }).reference.split('/')[1] as string;
const code = (c: unknown): string => (c as Coded).coding[0]?.code ?? '';

function age(birth: string, on: string): number {
  let a = Number(on.slice(0, 4)) - Number(birth.slice(0, 4));
  if (on.slice(5) < birth.slice(5)) a--;
  return a;
}

const SNOMED: Record<string, string> = {
  hyperlipidemia: '55822004',
  asthma: '195967001',
  copd: '13645005',
  depression: '35489007',
  ckd: '709044004',
  heartFailure: '84114007',
  myocardialInfarction: '22298006',
};

/** Patients with the condition (onset on or before `on` if given). */
function withCondition(key: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const c of read('Condition'))
    if (code(c['code']) === SNOMED[key]) {
      const id = refId(c['subject']);
      const onset = c['onsetDateTime'] as string;
      if (!m.has(id) || onset < (m.get(id) as string)) m.set(id, onset);
    }
  return m;
}

beforeAll(async () => {
  tmp = makeTempDir('synth-clinical');
  out = path.join(tmp, 'out');
  await synthesize({ patients: PATIENTS, seed: 11, end: END, outDir: out });
  truth = JSON.parse(readFileSync(path.join(out, 'truth.json'), 'utf8')) as Truth;
});

afterAll(() => removeDir(tmp));

describe('synth clinical: prevalence at the end within published ranges', () => {
  // [condition, lowest age, highest age, min %, max %]; sources in docs/synth.md.
  const RANGES: [string, number, number, number, number][] = [
    ['hyperlipidemia', 20, 39, 3, 20],
    ['hyperlipidemia', 40, 59, 15, 45],
    ['hyperlipidemia', 60, 200, 35, 70],
    ['ckd', 18, 44, 0.5, 8],
    ['ckd', 45, 64, 5, 18],
    ['ckd', 65, 200, 20, 45],
    ['asthma', 0, 17, 4, 14],
    ['asthma', 18, 200, 8, 18],
    ['copd', 45, 64, 2, 10],
    ['copd', 65, 200, 7, 18],
    ['heartFailure', 40, 59, 0.2, 3],
    ['heartFailure', 60, 79, 3, 10],
    ['heartFailure', 80, 200, 7, 22],
    ['depression', 18, 200, 12, 25],
  ];
  it.each(RANGES)('%s, ages %i–%i: %f–%f%%', (key, lo, hi, min, max) => {
    const alive = read('Patient').filter((p) => {
      if (p['deceasedDateTime'] !== undefined) return false;
      const a = age(p['birthDate'] as string, END);
      return a >= lo && a <= hi;
    });
    const cases = withCondition(key);
    const n = alive.filter((p) => cases.has(p['id'] as string)).length;
    const share = (100 * n) / alive.length;
    expect(share).toBeGreaterThanOrEqual(min);
    expect(share).toBeLessThanOrEqual(max);
    // truth.json says the same, when the range is made of whole 5-year bands.
    if (lo % 5 === 0 && (hi === 200 || hi % 5 === 4)) {
      const rows = truth.realised.conditions[key]!.prevalenceAtEnd!.filter((r) => {
        const b = Number(r.ageBand.split(/[-+]/)[0]);
        return b >= lo && b <= hi;
      });
      expect(rows.reduce((a, r) => a + r.withCondition, 0)).toBe(n);
      expect(rows.reduce((a, r) => a + r.alive, 0)).toBe(alive.length);
    }
  });

  it('diabetes and hypertension raise the CKD and heart-failure rates (truth byRiskFactors)', () => {
    for (const key of ['ckd', 'heartFailure', 'myocardialInfarction', 'stroke']) {
      const rows = truth.realised.conditions[key]!.byRiskFactors!;
      const rate = (rf: string[]): number => {
        const r = rows.find((x) => x.riskFactors.join() === rf.join())!;
        return r.cases / r.personYears;
      };
      expect(rate(['hypertension']), key).toBeGreaterThan(rate([]));
      expect(rate(['hypertension', 'diabetes']), key).toBeGreaterThan(rate(['hypertension']));
    }
  });
});

describe('synth clinical: labs follow disease state', () => {
  const LAB = ['"2339-0"', '"62238-1"', '"2160-0"', '"18262-6"', '"89579-7"', '"718-7"'];
  const labs = (): Json[] => read('Observation', (l) => LAB.some((c) => l.includes(c)));
  const byCode = (c: string): Json[] => labs().filter((o) => code(o['code']) === c);
  const value = (o: Json): number => (o['valueQuantity'] as { value: number }).value;
  const has = (m: Map<string, string>, o: Json): boolean => {
    const onset = m.get(refId(o['subject']));
    return onset !== undefined && onset <= (o['effectiveDateTime'] as string).slice(0, 10);
  };
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

  it('eGFR is lower with CKD (mostly < 60) and agrees with creatinine', () => {
    const ckd = withCondition('ckd');
    const egfr = byCode('62238-1');
    const sick = egfr.filter((o) => has(ckd, o)).map(value);
    const well = egfr.filter((o) => !has(ckd, o)).map(value);
    expect(sick.length).toBeGreaterThan(100);
    expect(sick.filter((v) => v < 60).length / sick.length).toBeGreaterThan(0.9);
    expect(well.filter((v) => v >= 60).length / well.length).toBeGreaterThan(0.9);
    expect(mean(sick)).toBeLessThan(mean(well) - 30);
    // Every eGFR has a creatinine in the same report (same encounter and time).
    const creat = new Set(
      byCode('2160-0').map((o) => `${refId(o['encounter'])}|${o['effectiveDateTime'] as string}`),
    );
    for (const o of egfr)
      expect(creat.has(`${refId(o['encounter'])}|${o['effectiveDateTime'] as string}`)).toBe(true);
  });

  it('LDL is higher with hyperlipidemia', () => {
    const hl = withCondition('hyperlipidemia');
    const ldl = byCode('18262-6');
    const sick = ldl.filter((o) => has(hl, o)).map(value);
    const well = ldl.filter((o) => !has(hl, o)).map(value);
    expect(sick.length).toBeGreaterThan(100);
    expect(mean(sick)).toBeGreaterThan(mean(well) + 30);
  });

  it('troponin is high within a day of a myocardial infarction and normal otherwise', () => {
    const mi = new Map<string, string[]>();
    for (const c of read('Condition'))
      if (code(c['code']) === SNOMED['myocardialInfarction']) {
        const id = refId(c['subject']);
        mi.set(id, [...(mi.get(id) ?? []), c['onsetDateTime'] as string]);
      }
    const trop = byCode('89579-7');
    let atMi = 0;
    let otherHigh = 0;
    let other = 0;
    for (const o of trop) {
      const day = Date.parse((o['effectiveDateTime'] as string).slice(0, 10));
      const near = (mi.get(refId(o['subject'])) ?? []).some(
        (d) => Math.abs(Date.parse(d) - day) <= 86_400_000,
      );
      if (near) {
        atMi++;
        expect(value(o)).toBeGreaterThanOrEqual(100);
      } else {
        other++;
        if (value(o) > 26) otherHigh++;
      }
    }
    expect(atMi).toBe(truth.realised.conditions['myocardialInfarction']!.newCases);
    expect(atMi).toBeGreaterThan(10);
    expect(otherHigh / Math.max(1, other)).toBeLessThan(0.05);
  });

  it('lab DiagnosticReports (category LAB) list results of their own encounter', () => {
    const obs = new Map(labs().map((o) => [o['id'] as string, o]));
    const listed = new Set<string>();
    // Imaging reports (the imaging part) point to their ImagingStudy; the rest are lab panels.
    const reports = read('DiagnosticReport').filter((r) => r['imagingStudy'] === undefined);
    expect(reports.length).toBeGreaterThan(PATIENTS);
    for (const r of reports) {
      expect((r['category'] as Coded[])[0]!.coding[0]!.code).toBe('LAB');
      for (const ref of r['result'] as { reference: string }[]) {
        const id = refId(ref);
        expect(listed.has(id)).toBe(false);
        listed.add(id);
        const o = obs.get(id);
        if (o === undefined) continue; // a lab not in the filtered set (e.g. WBC)
        expect(refId(o['encounter'])).toBe(refId(r['encounter']));
        expect(o['effectiveDateTime']).toBe(r['effectiveDateTime']);
      }
    }
    for (const id of obs.keys()) expect(listed.has(id), id).toBe(true);
  });
});

describe('synth clinical: hospital events and deaths', () => {
  it('MI and stroke are admitted (class IMP); fatal ones end in death and are the death cause', () => {
    const encounters = read('Encounter');
    const imp = encounters.filter((e) => (e['class'] as { code: string }).code === 'IMP');
    const icu = imp.filter((e) => code((e['type'] as unknown[])[0]) === '305351004');
    const stays = imp.filter((e) => e['partOf'] === undefined);
    let admissions = 0;
    let icuTruth = 0;
    let diedTruth = 0;
    for (const c of Object.values(truth.realised.conditions)) {
      admissions += c.hospital?.admissions ?? 0;
      icuTruth += c.hospital?.icu ?? 0;
      diedTruth += c.hospital?.inHospitalDeaths ?? 0;
    }
    expect(stays.length).toBe(admissions);
    // Admitted to a hospital site whenever there is one.
    const hospitals = read('Organization').filter((o) =>
      (o['name'] as string).includes('Hospital'),
    );
    if (hospitals.length > 0)
      for (const e of imp)
        expect((e['serviceProvider'] as { display: string }).display).toMatch(/Hospital/);
    expect(icu.length).toBe(icuTruth);
    const expired = stays.filter(
      (e) =>
        code(
          (e['hospitalization'] as { dischargeDisposition?: Coded }).dischargeDisposition ?? {
            coding: [],
          },
        ) === 'exp',
    );
    const causes = truth.realised.patients.deathsByCause;
    expect((causes['myocardialInfarction'] ?? 0) + (causes['stroke'] ?? 0)).toBe(diedTruth);
    expect(diedTruth).toBeGreaterThan(0);
    // Every fatal event's stay ends with the patient's death; other stays may too.
    expect(expired.length).toBeGreaterThanOrEqual(diedTruth);
    const patients = new Map(read('Patient').map((p) => [p['id'] as string, p]));
    for (const e of expired) {
      const p = patients.get(refId(e['subject']))!;
      expect((e['period'] as { end: string }).end).toBe(p['deceasedDateTime']);
    }
    expect(Object.values(causes).reduce((a, b) => a + b, 0)).toBe(truth.realised.patients.deceased);
  });
});

describe('synth clinical: medications, allergies and their safety signals', () => {
  const rx = (m: Json): string => code(m['medicationCodeableConcept']);

  it('prescription counts by drug equal truth; long-term drugs stop at death', () => {
    const meds = read('MedicationRequest');
    const params = truth.parameters['medications'] as { drugs: Record<string, { rxnorm: string }> };
    const counts: Record<string, number> = {};
    for (const [drug, d] of Object.entries(params.drugs))
      counts[drug] = meds.filter((m) => rx(m) === d.rxnorm).length;
    expect(counts).toEqual(truth.realised.medications.prescriptions);
    const dead = new Set(
      read('Patient')
        .filter((p) => p['deceasedDateTime'] !== undefined)
        .map((p) => p['id'] as string),
    );
    for (const m of meds) {
      const longTerm = ((m['category'] as Coded[])[0] as Coded).coding[0]!.code === 'community';
      if (longTerm) expect(m['status']).toBe(dead.has(refId(m['subject'])) ? 'stopped' : 'active');
      else expect(['completed', 'stopped']).toContain(m['status']);
      expect((m['dosageInstruction'] as unknown[]).length).toBe(1);
    }
  });

  it('lisinopril + spironolactone exposures equal truth', () => {
    const [a, b] = truth.realised.medications.drugInteractions[0]!.rxnorm;
    const byPatient = new Map<string, Set<string>>();
    for (const m of read('MedicationRequest')) {
      const id = refId(m['subject']);
      byPatient.set(id, (byPatient.get(id) ?? new Set()).add(rx(m)));
    }
    const exposed = [...byPatient.values()].filter((s) => s.has(a!) && s.has(b!)).length;
    expect(exposed).toBe(truth.realised.medications.drugInteractions[0]!.exposures);
    expect(exposed).toBeGreaterThan(0);
  });

  it('drug–allergy conflicts equal truth (all, and after the allergy was recorded)', () => {
    const allergies = new Map<string, Map<string, string>>(); // patient → substance → recorded
    for (const a of read('AllergyIntolerance')) {
      const id = refId(a['patient']);
      const m = allergies.get(id) ?? new Map<string, string>();
      m.set(code(a['code']), a['recordedDate'] as string);
      allergies.set(id, m);
    }
    const counts = truth.realised.medications.allergies;
    const params = truth.parameters['medications'] as {
      allergies: Record<string, { rxnorm: string }>;
    };
    for (const [k, p] of Object.entries(params.allergies))
      expect([...allergies.values()].filter((m) => m.has(p.rxnorm)).length, k).toBe(counts[k]);
    for (const c of truth.realised.medications.allergyConflicts) {
      const substance = params.allergies[c.allergy]!.rxnorm;
      let all = 0;
      let after = 0;
      for (const m of read('MedicationRequest')) {
        if (rx(m) !== c.rxnorm) continue;
        const recorded = allergies.get(refId(m['subject']))?.get(substance);
        if (recorded === undefined) continue;
        all++;
        if ((m['authoredOn'] as string).slice(0, 10) > recorded.slice(0, 10)) after++;
      }
      expect(all, c.allergy).toBe(c.exposures);
      expect(after, c.allergy).toBe(c.afterRecorded);
    }
  });
});
