/**
 * The synthetic trial (src/synth/trial.ts) and its SDTM output (write-sdtm.ts, xpt.ts):
 * valid FHIR with resolving references, balanced randomisation, truth.json recounted from
 * the resources, the true hazard ratio recovered from the generated data, SDTM row counts
 * equal to the FHIR counts, XPT files read back by an independent reader equal to the CSVs,
 * IBM floating point round trips, and same seed -> same bytes.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDay } from '../src/synth/dates.js';
import { synthesize } from '../src/synth/index.js';
import { PART_STREAMS, partRandom } from '../src/synth/parts.js';
import type { PatientOutput, SynthRun } from '../src/synth/parts.js';
import { simulatePatient } from '../src/synth/patient-history.js';
import type { PatientHistory } from '../src/synth/patient-history.js';
import { PRACTITIONERS_PER_SITE, makeSite, siteCount } from '../src/synth/shared-resources.js';
import type { JsonResource } from '../src/synth/shared-resources.js';
import {
  AE_TERMS,
  AE_TERM_KEYS,
  ARMS,
  ENDPOINT_SYSTEM,
  MEDDRA,
  STUDY_SYSTEM,
  TRIAL,
  trialPart,
} from '../src/synth/trial.js';
import { SDTM_DATASETS, sdtmWriter } from '../src/synth/write-sdtm.js';
import { decodeIbmFloat, encodeIbmFloat } from '../src/synth/xpt.js';
import { TruthRecorder } from '../src/synth/truth.js';
import { FhirR4Validator, formatErrors } from './helpers/fhir-validator.js';
import { makeTempDir, removeDir } from './helpers/lake-test-utils.js';

type Json = Record<string, unknown>;

const PATIENTS = 2000;
const SEED = 11;
const START = '2015-01-01';
const END = '2025-12-31';
const WINDOW_END = parseDay(END);

let tmp = '';
let all: Json[] = [];
let trial: Json[] = [];
let truth: Json = {};

const isTrial = (r: Json): boolean =>
  ((r['meta'] as Json | undefined)?.['tag'] as Json[] | undefined)?.some(
    (t) => t['system'] === STUDY_SYSTEM,
  ) === true;
const ofType = (rs: readonly Json[], type: string): Json[] =>
  rs.filter((r) => r['resourceType'] === type);
const refId = (ref: unknown): string =>
  String((ref as Json | undefined)?.['reference'] ?? '').replace(/^.*\//, '');

async function run(outDir: string, patients: number, seed: number): Promise<void> {
  await synthesize({
    patients,
    seed,
    start: START,
    end: END,
    outDir,
    parts: [trialPart],
    formats: ['sdtm'],
    formatWriters: { sdtm: sdtmWriter },
  });
}

/**
 * The NDJSON resources the trial tests need: Patients, Organizations, Locations, every
 * trial type, and of the core's big files (Encounter, Observation) only the trial's lines.
 */
function readNdjson(dir: string): Json[] {
  const out: Json[] = [];
  const whole = new Set(['Patient', 'Organization', 'Location']);
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.ndjson'))
    .sort()) {
    const type = f.replace(/\.ndjson$/, '');
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n'))
      if (line !== '' && (whole.has(type) || line.includes(STUDY_SYSTEM)))
        out.push(JSON.parse(line) as Json);
  }
  return out;
}

beforeAll(async () => {
  tmp = makeTempDir('synth-trial');
  await run(tmp, PATIENTS, SEED);
  all = readNdjson(tmp);
  trial = all.filter(isTrial);
  truth = JSON.parse(readFileSync(path.join(tmp, 'truth.json'), 'utf8')) as Json;
});

afterAll(() => {
  removeDir(tmp);
  all = [];
  trial = [];
});

/** Per ResearchSubject: arm index, start/end days, event day, disposition from resources. */
interface Subject {
  arm: number;
  start: number;
  endExclusive: number;
  event: number | null;
  disposition: string;
}
function subjects(rs: readonly Json[], windowEnd: number): Map<string, Subject> {
  const deaths = new Map<string, string>();
  for (const p of ofType(rs, 'Patient'))
    if (typeof p['deceasedDateTime'] === 'string')
      deaths.set(String(p['id']), p['deceasedDateTime'].slice(0, 10));
  const out = new Map<string, Subject>();
  for (const s of ofType(rs, 'ResearchSubject')) {
    const period = s['period'] as Json;
    const end = period['end'] as string | undefined;
    const death = deaths.get(refId(s['individual']));
    out.set(String(s['id']), {
      arm: ARMS.findIndex((a) => a.armcd === s['assignedArm']),
      start: parseDay(String(period['start'])),
      endExclusive: end === undefined ? windowEnd + 1 : parseDay(end),
      event: null,
      disposition:
        end === undefined
          ? 'ongoing'
          : s['status'] === 'withdrawn'
            ? 'withdrawn'
            : death === end
              ? 'death'
              : 'completed',
    });
  }
  for (const o of ofType(rs, 'Observation')) {
    const code = (o['code'] as Json)['coding'] as Json[];
    if (code[0]?.['system'] !== ENDPOINT_SYSTEM) continue;
    const s = out.get(refId((o['focus'] as Json[])[0]));
    if (s === undefined) throw new Error('endpoint without subject');
    expect(s.event).toBeNull();
    s.event = parseDay(String(o['effectiveDateTime']));
  }
  return out;
}

/** Events and person-years at risk per arm, and the crude rate ratio with its 95% CI. */
function primary(subs: Iterable<Subject>): {
  events: number[];
  years: number[];
  rr: number;
  lo: number;
  hi: number;
} {
  const events = [0, 0];
  const days = [0, 0];
  for (const s of subs) {
    if (s.event !== null) events[s.arm]++;
    days[s.arm] += (s.event ?? s.endExclusive) - s.start;
  }
  const years = days.map((d) => d / 365.25);
  const rr = events[0] / years[0] / (events[1] / years[1]);
  const se = Math.sqrt(1 / events[0] + 1 / events[1]);
  return { events, years, rr, lo: rr * Math.exp(-1.96 * se), hi: rr * Math.exp(1.96 * se) };
}

describe('trial FHIR resources', () => {
  it('are valid R4 and every reference resolves', () => {
    expect(ofType(trial, 'ResearchStudy')).toHaveLength(1);
    expect(ofType(trial, 'Medication')).toHaveLength(2);
    expect(ofType(trial, 'ResearchSubject').length).toBeGreaterThan(25);
    for (const t of ['AdverseEvent', 'MedicationAdministration', 'Encounter', 'Observation'])
      expect(ofType(trial, t).length, t).toBeGreaterThan(0);
    const validator = new FhirR4Validator();
    const errors = trial.flatMap((r) => validator.validate(r));
    expect(errors.length, formatErrors(errors, 20)).toBe(0);
    const ids = new Set(all.map((r) => `${String(r['resourceType'])}/${String(r['id'])}`));
    const dangling: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object')
        for (const [k, x] of Object.entries(v as Json))
          if (k === 'reference' && typeof x === 'string') {
            if (!ids.has(x)) dangling.push(x);
          } else walk(x);
    };
    trial.forEach(walk);
    expect(dangling).toEqual([]);
  });

  it('adverse events carry SNOMED and MedDRA codes, the study and the suspect product', () => {
    const study = ofType(trial, 'ResearchStudy')[0] as Json;
    const products = new Set(ofType(trial, 'Medication').map((m) => m['id']));
    for (const ae of ofType(trial, 'AdverseEvent')) {
      const coding = (ae['event'] as Json)['coding'] as Json[];
      expect(coding.map((c) => c['system'])).toEqual(['http://snomed.info/sct', MEDDRA]);
      expect(refId((ae['study'] as Json[])[0])).toBe(study['id']);
      expect(products.has(refId((ae['suspectEntity'] as Json[])[0]?.['instance']))).toBe(true);
    }
  });

  it('randomises 1:1 (balance within 3 binomial standard deviations)', () => {
    const subs = [...subjects(all, WINDOW_END).values()];
    const n = subs.length;
    const a = subs.filter((s) => s.arm === 0).length;
    expect(subs.every((s) => s.arm === 0 || s.arm === 1)).toBe(true);
    expect(Math.abs(a - n / 2)).toBeLessThan(3 * Math.sqrt(n / 4));
  });

  it('truth.json realised counts equal a recount of the resources', () => {
    const t = (truth['parts'] as Json)['trial'] as Json;
    const realised = t['realised'] as Json;
    const arms = realised['arms'] as Json[];
    const subs = [...subjects(all, WINDOW_END).values()];
    const p = primary(subs);
    const aes = ofType(trial, 'AdverseEvent');
    const armOfPatient = new Map(
      ofType(trial, 'ResearchSubject').map((s) => [
        refId(s['individual']),
        ARMS.findIndex((a) => a.armcd === s['assignedArm']),
      ]),
    );
    for (let i = 0; i < 2; i++) {
      const arm = arms[i] as Json;
      const mine = subs.filter((s) => s.arm === i);
      expect(arm['randomized']).toBe(mine.length);
      expect(arm['events']).toBe(p.events[i]);
      expect(arm['censored']).toBe(mine.length - (p.events[i] ?? 0));
      expect(arm['personYearsAtRisk'] as number).toBeCloseTo(p.years[i] ?? 0, 6);
      const disp = arm['disposition'] as Json;
      for (const d of ['completed', 'withdrawn', 'death', 'ongoing'])
        expect(disp[d], d).toBe(mine.filter((s) => s.disposition === d).length);
      const studyYears = mine.reduce((sum, s) => sum + s.endExclusive - s.start, 0) / 365.25;
      expect(arm['personYearsOnStudy'] as number).toBeCloseTo(studyYears, 6);
    }
    for (const row of realised['adverseEvents'] as Json[]) {
      const counts = row['counts'] as Record<string, number>;
      for (let i = 0; i < 2; i++) {
        const n = aes.filter(
          (ae) =>
            ((ae['event'] as Json)['text'] as string) === row['term'] &&
            armOfPatient.get(refId(ae['subject'])) === i,
        ).length;
        expect(counts[ARMS[i].armcd], `${String(row['term'])} arm ${i}`).toBe(n);
      }
    }
    expect(aes.length).toBe(
      (realised['adverseEvents'] as Json[]).reduce(
        (s, r) => s + Object.values(r['counts'] as Record<string, number>).reduce((a, b) => a + b),
        0,
      ),
    );
    const rr = (realised['primaryEndpoint'] as Json)['crudeRateRatio'] as Json;
    expect(rr['estimate'] as number).toBeCloseTo(p.rr, 9);
    const params = t['parameters'] as Json;
    expect((params['primaryEndpoint'] as Json)['hazardRatio']).toBe(TRIAL.hazardRatio);
    expect(params['enrolmentFraction']).toBe(TRIAL.enrolmentFraction);
    // Screening and enrolment: about enrolmentFraction of the eligible are randomised.
    const eligible = realised['eligible'] as number;
    expect(Math.abs(subs.length - eligible * TRIAL.enrolmentFraction)).toBeLessThan(
      3 * Math.sqrt(eligible * 0.25) + 1,
    );
  });

  it('recovers the true hazard ratio and adverse event rates on a large trial', () => {
    // A large trial without writing files: the core histories of 8,000 patients, each run
    // through the part 18 times with independent part PRNG draws (indexes i + k * N), so the
    // trial has about 18 times the subjects of one population; only the part's draws differ.
    const N = 8_000;
    const K = 18;
    const window = { startDay: parseDay(START), endDay: WINDOW_END };
    const args = { patients: N, seed: SEED, start: START, end: END, region: 'us' as const };
    const sites = Array.from({ length: siteCount(N) }, (_, i) => makeSite(SEED, i).site);
    const runInfo: SynthRun = { args, window, sites };
    const part = trialPart(runInfo);
    const recorder = new TruthRecorder(args, 2015, 2025);
    const histories: PatientHistory[] = [];
    for (let i = 0; i < N; i++) {
      const h = simulatePatient(SEED, i, window, sites.length, PRACTITIONERS_PER_SITE, recorder);
      if (h.events.some((e) => e.key === 'diabetes')) histories.push(h);
    }
    const resources: Json[] = [];
    const patients: Json[] = [];
    /** Adverse events by MedDRA term and arm (a patient's arm differs between replicates). */
    const aeCounts = new Map<string, number[]>();
    for (let k = 0; k < K; k++)
      for (const h of histories) {
        const out: PatientOutput = { history: h, resources: [] };
        part.patient(out, partRandom(SEED, PART_STREAMS.trial, h.index + k * N), runInfo);
        const subject = out.resources.find((r) => r.resourceType === 'ResearchSubject');
        const arm = ARMS.findIndex((a) => a.armcd === subject?.['assignedArm']);
        for (const r of out.resources as JsonResource[]) {
          if (r.resourceType === 'AdverseEvent') {
            const term = (r['event'] as Json)['text'] as string;
            const counts = aeCounts.get(term) ?? [0, 0];
            counts[arm] = (counts[arm] ?? 0) + 1;
            aeCounts.set(term, counts);
          } else if (r.resourceType === 'ResearchSubject') resources.push(r);
          else if (r.resourceType === 'Observation' && r['focus'] !== undefined) resources.push(r);
        }
        if (k === 0 && h.death !== null)
          patients.push({
            resourceType: 'Patient',
            id: h.id,
            deceasedDateTime: new Date(h.death * 86_400_000).toISOString(),
          });
      }
    const subs = subjects([...patients, ...resources], WINDOW_END);
    expect(subs.size).toBeGreaterThan(2500);
    const p = primary(subs.values());
    // The true HR lies inside the 95% CI of the crude rate ratio (exponential times: the
    // rate ratio is the HR's maximum-likelihood estimate), and the CI is narrow enough.
    expect(p.lo).toBeLessThan(TRIAL.hazardRatio);
    expect(p.hi).toBeGreaterThan(TRIAL.hazardRatio);
    expect(p.hi / p.lo).toBeLessThan(1.6);
    // The placebo arm's event rate is the baseline hazard (Poisson 99.9% band).
    const expected = TRIAL.baselineHazardPerYear * (p.years[1] ?? 0);
    expect(Math.abs((p.events[1] ?? 0) - expected)).toBeLessThan(3.3 * Math.sqrt(expected));
    // Adverse event rates per arm (on-study person-years) match their parameters.
    const studyYears = [0, 0];
    for (const s of subs.values()) studyYears[s.arm] += (s.endExclusive - s.start) / 365.25;
    for (const term of AE_TERM_KEYS)
      for (let arm = 0; arm < 2; arm++) {
        const n = aeCounts.get(AE_TERMS[term].meddra.display)?.[arm] ?? 0;
        const mu = ((AE_TERMS[term].per100py[arm] as number) / 100) * (studyYears[arm] ?? 0);
        expect(Math.abs(n - mu), `${term} arm ${arm}: ${n} vs ${mu}`).toBeLessThan(
          3.3 * Math.sqrt(mu),
        );
      }
  });
});

// ---- An independent reader of SAS transport v5 files and of the CSVs ----

interface XptColumn {
  name: string;
  label: string;
  type: 'Num' | 'Char';
  length: number;
  position: number;
}
interface XptFile {
  dataset: string;
  label: string;
  columns: XptColumn[];
  rows: (string | number)[][];
}

/** IBM System/370 double -> number by BigInt arithmetic; SAS missing -> NaN. */
function ibmToNumber(b: Buffer): number {
  if (b[0] === 0x2e && b.subarray(1).every((x) => x === 0)) return NaN;
  let fraction = 0n;
  for (let i = 1; i < 8; i++) fraction = (fraction << 8n) | BigInt(b[i] as number);
  if (fraction === 0n) return 0;
  const exponent = ((b[0] as number) & 0x7f) - 64;
  const v = Number(fraction) * 2 ** (4 * exponent - 56);
  return (b[0] as number) & 0x80 ? -v : v;
}

function readXpt(file: string): XptFile {
  const buf = readFileSync(file);
  const text = (from: number, n: number): string => buf.toString('latin1', from, from + n);
  expect(text(0, 48)).toBe('HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!');
  expect(text(80, 24)).toBe('SAS     SAS     SASLIB  ');
  expect(text(240, 48)).toBe('HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!');
  const namestrLength = Number(text(240 + 74, 4));
  expect(namestrLength).toBe(140);
  expect(text(320, 48)).toBe('HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!');
  const dataset = text(400 + 8, 8).trimEnd();
  const label = text(480 + 32, 40).trimEnd();
  expect(text(560, 48)).toBe('HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!');
  const nvar = Number(text(560 + 54, 4));
  const columns: XptColumn[] = [];
  for (let i = 0; i < nvar; i++) {
    const o = 640 + i * 140;
    columns.push({
      type: buf.readInt16BE(o) === 1 ? 'Num' : 'Char',
      length: buf.readInt16BE(o + 4),
      name: text(o + 8, 8).trimEnd(),
      label: text(o + 16, 40).trimEnd(),
      position: buf.readInt32BE(o + 84),
    });
    expect(buf.readInt16BE(o + 6)).toBe(i + 1);
  }
  const obsHeader = 640 + Math.ceil((nvar * 140) / 80) * 80;
  expect(text(obsHeader, 48)).toBe('HEADER RECORD*******OBS     HEADER RECORD!!!!!!!');
  const data = obsHeader + 80;
  expect((buf.length - data) % 80).toBe(0);
  const rowLength = columns.reduce((s, c) => s + c.length, 0);
  const rows: (string | number)[][] = [];
  for (let o = data; o + rowLength <= buf.length; o += rowLength) {
    const raw = buf.subarray(o, o + rowLength);
    if (raw.every((x) => x === 0x20)) break; // the blank padding of the last record
    rows.push(
      columns.map((c) =>
        c.type === 'Num'
          ? ibmToNumber(raw.subarray(c.position, c.position + 8))
          : raw.toString('latin1', c.position, c.position + c.length).trimEnd(),
      ),
    );
  }
  return { dataset, label, columns, rows };
}

/** RFC 4180 CSV -> rows of fields. */
function readCsv(file: string): string[][] {
  const s = readFileSync(file, 'utf8');
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (quoted) {
      if (ch === '"' && s[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  return rows;
}

describe('SDTM output', () => {
  const sdtm = (f: string): string => path.join(tmp, 'sdtm', f);

  it('has one row per FHIR record in every domain', () => {
    const subs = ofType(trial, 'ResearchSubject');
    const obs = ofType(trial, 'Observation');
    const loinc = (o: Json): string =>
      String((((o['code'] as Json)['coding'] as Json[])[0] as Json)['code']);
    const expected: Record<string, number> = {
      DM: subs.length,
      DS: subs.length + subs.filter((s) => (s['period'] as Json)['end'] !== undefined).length,
      AE: ofType(trial, 'AdverseEvent').length,
      EX: ofType(trial, 'MedicationAdministration').length,
      LB: obs.filter((o) => loinc(o) === '4548-4').length,
      VS:
        obs.filter((o) => loinc(o) === '85354-9').length * 2 +
        obs.filter((o) => loinc(o) === '8867-4').length,
      CE: obs.filter((o) => loinc(o) === 'MACE').length,
      TS: 6,
      TA: 2,
      TE: 2,
    };
    for (const ds of SDTM_DATASETS) {
      const csv = readCsv(sdtm(`${ds.name.toLowerCase()}.csv`));
      expect(csv[0], ds.name).toEqual(ds.variables.map((v) => v.name));
      expect(csv.length - 1, ds.name).toBe(expected[ds.name]);
    }
    expect(expected['CE']).toBe(
      [...subjects(all, WINDOW_END).values()].filter((s) => s.event !== null).length,
    );
  });

  it('XPT files read back by an independent reader equal the CSVs', () => {
    for (const ds of SDTM_DATASETS) {
      const name = ds.name.toLowerCase();
      const x = readXpt(sdtm(`${name}.xpt`));
      const csv = readCsv(sdtm(`${name}.csv`));
      expect(x.dataset).toBe(ds.name);
      expect(x.label).toBe(ds.label);
      expect(x.columns.map((c) => c.name)).toEqual(csv[0]);
      expect(x.columns.map((c) => c.label)).toEqual(ds.variables.map((v) => v.label));
      expect(x.rows.length, ds.name).toBe(csv.length - 1);
      x.rows.forEach((row, r) => {
        const line = csv[r + 1] as string[];
        row.forEach((v, c) => {
          const col = x.columns[c] as XptColumn;
          const cell = line[c] as string;
          if (col.type === 'Num') {
            if (cell === '') expect(Number.isNaN(v), `${ds.name} ${col.name}`).toBe(true);
            else expect(v, `${ds.name} ${col.name}`).toBe(Number(cell));
          } else expect(v, `${ds.name} ${col.name}`).toBe(cell);
        });
      });
    }
  });

  it('DM and AE rows carry the FHIR values', () => {
    const dm = readCsv(sdtm('dm.csv'));
    const h = dm[0] as string[];
    const col = (row: string[], n: string): string => row[h.indexOf(n)] as string;
    const patients = new Map(ofType(all, 'Patient').map((p) => [String(p['id']), p]));
    const byUsubjid = new Map(
      ofType(trial, 'ResearchSubject').map((s) => [
        String(((s['identifier'] as Json[])[0] as Json)['value']),
        s,
      ]),
    );
    for (const row of dm.slice(1)) {
      const s = byUsubjid.get(col(row, 'USUBJID')) as Json;
      expect(s).toBeDefined();
      const p = patients.get(refId(s['individual'])) as Json;
      expect(col(row, 'STUDYID')).toBe('MEDLAKE-SYN-001');
      expect(col(row, 'SEX')).toBe(p['gender'] === 'female' ? 'F' : 'M');
      expect(col(row, 'ARMCD')).toBe(s['assignedArm']);
      expect(col(row, 'RFSTDTC')).toBe((s['period'] as Json)['start']);
      const age = Number(col(row, 'AGE'));
      expect(age).toBeGreaterThanOrEqual(TRIAL.minAge);
      expect(age).toBeLessThanOrEqual(TRIAL.maxAge);
      expect(col(row, 'DTHFL')).toBe(p['deceasedDateTime'] === undefined ? '' : 'Y');
    }
    const ae = readCsv(sdtm('ae.csv'));
    const decod = new Set(ae.slice(1).map((r) => r[(ae[0] as string[]).indexOf('AEDECOD')]));
    for (const d of decod) expect(AE_TERM_KEYS.map((t) => AE_TERMS[t].meddra.display)).toContain(d);
  });

  // An established reader as the independent check of the XPT files: pandas.read_sas.
  // Python from MEDLAKE_PYTHON, else .venv-test (`npm run test:pandas` installs pandas
  // there and runs this file; .ci/run calls it), else python3. With
  // MEDLAKE_REQUIRE_PANDAS=1 a missing pandas fails instead of skipping.
  const python = ((): string | null => {
    const candidates = [
      process.env['MEDLAKE_PYTHON'],
      path.resolve('.venv-test/bin/python'),
      'python3',
    ].filter((c): c is string => c !== undefined && c !== '');
    for (const c of candidates)
      try {
        execFileSync(c, ['-c', 'import pandas'], { stdio: 'ignore' });
        return c;
      } catch {
        // next candidate
      }
    return null;
  })();
  it('pandas is there when CI asks for it', () => {
    if (process.env['MEDLAKE_REQUIRE_PANDAS'] === '1') expect(python).not.toBeNull();
  });
  it.skipIf(python === null)(
    'pandas.read_sas reads every .xpt with the rows and values of its .csv',
    () => {
      const script =
        'import sys, json, pandas\n' +
        'out = {}\n' +
        'for f in sys.argv[1:]:\n' +
        '    d = pandas.read_sas(f, format="xport", encoding="latin1")\n' +
        '    out[f] = json.loads(d.to_json(orient="split", index=False))\n' +
        'print(json.dumps(out))';
      const files = readdirSync(path.dirname(sdtm('x'))).filter((f) => f.endsWith('.xpt'));
      expect(files.length).toBeGreaterThanOrEqual(6);
      const read = JSON.parse(
        execFileSync(python as string, ['-c', script, ...files.map((f) => sdtm(f))], {
          encoding: 'utf8',
          maxBuffer: 64 * 2 ** 20,
        }),
      ) as Record<string, { columns: string[]; data: (string | number | null)[][] }>;
      for (const f of files) {
        const x = read[sdtm(f)] as { columns: string[]; data: (string | number | null)[][] };
        const csv = readCsv(sdtm(f.replace('.xpt', '.csv')));
        expect(x.columns, f).toEqual(csv[0]);
        expect(x.data.length, f).toBe(csv.length - 1);
        x.data.forEach((row, i) =>
          row.forEach((v, j) => {
            const c = (csv[i + 1] as string[])[j] as string;
            if (typeof v === 'number') expect(v, `${f} ${i} ${j}`).toBeCloseTo(Number(c), 9);
            else expect(v ?? '', `${f} ${i} ${j}`).toBe(c);
          }),
        );
      }
    },
  );
});

describe('IBM System/370 floating point', () => {
  const enc = (x: number): Buffer => {
    const b = Buffer.alloc(8);
    encodeIbmFloat(x, b, 0);
    return b;
  };

  it('encodes known values', () => {
    expect(enc(1).toString('hex')).toBe('4110000000000000');
    expect(enc(-118.625).toString('hex')).toBe('c276a00000000000');
    expect(enc(0.1).toString('hex')).toBe('401999999999999a');
    expect(enc(0).toString('hex')).toBe('0000000000000000');
    expect(enc(-0).toString('hex')).toBe('0000000000000000');
    expect(enc(NaN).toString('hex')).toBe('2e00000000000000');
    expect(() => enc(1e80)).toThrow(RangeError);
  });

  it('round-trips every double in the IBM range exactly, also through the test reader', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ min: -1e75, max: 1e75, noNaN: true }),
          fc.double({ min: -1e-70, max: 1e-70, noNaN: true }),
          fc.integer({ min: -1_000_000_000, max: 1_000_000_000 }),
          fc.constantFrom(0, -0, 1, -1, 0.5, 7.4, -273.15, 2 ** 52 + 1),
        ),
        (x) => {
          const b = enc(x);
          const expected = Math.abs(x) < 16 ** -65 ? 0 : x === 0 ? 0 : x;
          expect(decodeIbmFloat(b, 0)).toBe(expected === 0 ? 0 : expected);
          expect(ibmToNumber(b)).toBe(expected === 0 ? 0 : expected);
          // Normalised: the first hex digit of the fraction is not zero.
          if (expected !== 0) expect((b[1] as number) >> 4).not.toBe(0);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('reads SAS missing values as NaN', () => {
    for (const c of ['.', '_', 'A', 'Z']) {
      const b = Buffer.alloc(8);
      b[0] = c.charCodeAt(0);
      expect(Number.isNaN(decodeIbmFloat(b, 0))).toBe(true);
    }
  });
});

describe('determinism', () => {
  it('same seed, same bytes (trial NDJSON, SDTM CSV and XPT)', async () => {
    const a = makeTempDir('synth-trial-a');
    const b = makeTempDir('synth-trial-b');
    try {
      await run(a, 400, 3);
      await run(b, 400, 3);
      const files = (d: string): string[] => [
        ...['ResearchStudy', 'ResearchSubject', 'AdverseEvent', 'MedicationAdministration'].map(
          (t) => path.join(d, `${t}.ndjson`),
        ),
        ...readdirSync(path.join(d, 'sdtm'))
          .sort()
          .map((f) => path.join(d, 'sdtm', f)),
      ];
      const fa = files(a);
      expect(fa.length).toBe(4 + 2 * SDTM_DATASETS.length);
      fa.forEach((f, i) => {
        expect(readFileSync(f).equals(readFileSync(files(b)[i] as string)), f).toBe(true);
      });
      expect(
        readFileSync(path.join(a, 'sdtm', 'ae.csv'), 'utf8').split('\n').length,
      ).toBeGreaterThan(2);
    } finally {
      removeDir(a);
      removeDir(b);
    }
  });
});
