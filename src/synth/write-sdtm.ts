/**
 * CDISC SDTM output of the synthetic trial (trial.ts): domains DM, AE, EX, DS, LB, VS, CE
 * and the trial design TS, TA, TE, each as CSV (sdtm/dm.csv, ...) and as SAS transport v5
 * (sdtm/dm.xpt, ...; see xpt.ts). Rows are derived only from the FHIR resources the run
 * produced: the ResearchStudy and Medications of the shared resources, and per patient the
 * Patient plus the resources tagged with the study (TRIAL_TAG). Rows are written patient by
 * patient; nothing of a patient is kept afterwards.
 *
 * Dates (--DTC) are ISO 8601 as SDTM writes them: a day, or a UTC date and time without
 * the zone ("2016-03-01T09:15:00").
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FormatWriter, FormatWriterFactory, PatientOutput, SynthRun } from './parts.js';
import type { JsonResource } from './shared-resources.js';
import {
  AE_END_EXTENSION_URL,
  ENDPOINT_SYSTEM,
  MEDDRA,
  STUDY_SYSTEM,
  TRIAL_VISIT_SYSTEM,
  USUBJID_SYSTEM,
} from './trial.js';
import { xptHeader, xptObservation, xptTrailer } from './xpt.js';
import type { XptDataset, XptValue, XptVariable } from './xpt.js';

type Json = Record<string, unknown>;
type Row = Record<string, XptValue>;

const char = (name: string, label: string, length: number): XptVariable => ({
  name,
  label,
  type: 'Char',
  length,
});
const num = (name: string, label: string): XptVariable => ({ name, label, type: 'Num', length: 8 });

const STUDYID = char('STUDYID', 'Study Identifier', 20);
const DOMAIN = char('DOMAIN', 'Domain Abbreviation', 2);
const USUBJID = char('USUBJID', 'Unique Subject Identifier', 40);
const VISITNUM = num('VISITNUM', 'Visit Number');
const VISIT = char('VISIT', 'Visit Name', 20);
const DTC = (name: string, label: string): XptVariable => char(name, label, 19);

/** The datasets, in file order; variable lists follow the SDTM IG order. */
export const SDTM_DATASETS: readonly XptDataset[] = [
  {
    name: 'DM',
    label: 'Demographics',
    variables: [
      STUDYID,
      DOMAIN,
      USUBJID,
      char('SUBJID', 'Subject Identifier for the Study', 20),
      DTC('RFSTDTC', 'Subject Reference Start Date/Time'),
      DTC('RFENDTC', 'Subject Reference End Date/Time'),
      DTC('RFXSTDTC', 'Date/Time of First Study Treatment'),
      DTC('RFXENDTC', 'Date/Time of Last Study Treatment'),
      DTC('RFICDTC', 'Date/Time of Informed Consent'),
      DTC('DTHDTC', 'Date/Time of Death'),
      char('DTHFL', 'Subject Death Flag', 1),
      char('SITEID', 'Study Site Identifier', 10),
      DTC('BRTHDTC', 'Date/Time of Birth'),
      num('AGE', 'Age'),
      char('AGEU', 'Age Units', 6),
      char('SEX', 'Sex', 1),
      char('RACE', 'Race', 60),
      char('ETHNIC', 'Ethnicity', 40),
      char('ARMCD', 'Planned Arm Code', 20),
      char('ARM', 'Description of Planned Arm', 40),
      char('ACTARMCD', 'Actual Arm Code', 20),
      char('ACTARM', 'Description of Actual Arm', 40),
      char('COUNTRY', 'Country', 3),
    ],
  },
  {
    name: 'AE',
    label: 'Adverse Events',
    variables: [
      STUDYID,
      DOMAIN,
      USUBJID,
      num('AESEQ', 'Sequence Number'),
      char('AETERM', 'Reported Term for the Adverse Event', 100),
      char('AEDECOD', 'Dictionary-Derived Term', 100),
      num('AEPTCD', 'Preferred Term Code'),
      char('AESEV', 'Severity/Intensity', 10),
      char('AESER', 'Serious Event', 1),
      char('AEOUT', 'Outcome of Adverse Event', 40),
      DTC('AESTDTC', 'Start Date/Time of Adverse Event'),
      DTC('AEENDTC', 'End Date/Time of Adverse Event'),
    ],
  },
  {
    name: 'EX',
    label: 'Exposure',
    variables: [
      STUDYID,
      DOMAIN,
      USUBJID,
      num('EXSEQ', 'Sequence Number'),
      char('EXTRT', 'Name of Treatment', 40),
      num('EXDOSE', 'Dose'),
      char('EXDOSU', 'Dose Units', 10),
      char('EXDOSFRQ', 'Dosing Frequency per Interval', 10),
      char('EXROUTE', 'Route of Administration', 20),
      VISITNUM,
      VISIT,
      DTC('EXSTDTC', 'Start Date/Time of Treatment'),
      DTC('EXENDTC', 'End Date/Time of Treatment'),
    ],
  },
  {
    name: 'DS',
    label: 'Disposition',
    variables: [
      STUDYID,
      DOMAIN,
      USUBJID,
      num('DSSEQ', 'Sequence Number'),
      char('DSTERM', 'Reported Term for the Disposition Event', 40),
      char('DSDECOD', 'Standardized Disposition Term', 40),
      char('DSCAT', 'Category for Disposition Event', 30),
      DTC('DSSTDTC', 'Start Date/Time of Disposition Event'),
    ],
  },
  {
    name: 'LB',
    label: 'Laboratory Test Results',
    variables: [
      STUDYID,
      DOMAIN,
      USUBJID,
      num('LBSEQ', 'Sequence Number'),
      char('LBTESTCD', 'Lab Test or Examination Short Name', 8),
      char('LBTEST', 'Lab Test or Examination Name', 40),
      char('LBCAT', 'Category for Lab Test', 20),
      char('LBORRES', 'Result or Finding in Original Units', 20),
      char('LBORRESU', 'Original Units', 10),
      char('LBORNRLO', 'Reference Range Lower Limit in Orig Unit', 10),
      char('LBORNRHI', 'Reference Range Upper Limit in Orig Unit', 10),
      char('LBSTRESC', 'Character Result/Finding in Std Format', 20),
      num('LBSTRESN', 'Numeric Result/Finding in Standard Units'),
      char('LBSTRESU', 'Standard Units', 10),
      char('LBLOINC', 'LOINC Code', 10),
      VISITNUM,
      VISIT,
      DTC('LBDTC', 'Date/Time of Specimen Collection'),
    ],
  },
  {
    name: 'VS',
    label: 'Vital Signs',
    variables: [
      STUDYID,
      DOMAIN,
      USUBJID,
      num('VSSEQ', 'Sequence Number'),
      char('VSTESTCD', 'Vital Signs Test Short Name', 8),
      char('VSTEST', 'Vital Signs Test Name', 40),
      char('VSORRES', 'Result or Finding in Original Units', 20),
      char('VSORRESU', 'Original Units', 10),
      char('VSSTRESC', 'Character Result/Finding in Std Format', 20),
      num('VSSTRESN', 'Numeric Result/Finding in Standard Units'),
      char('VSSTRESU', 'Standard Units', 10),
      VISITNUM,
      VISIT,
      DTC('VSDTC', 'Date/Time of Measurements'),
    ],
  },
  {
    name: 'CE',
    label: 'Clinical Events',
    variables: [
      STUDYID,
      DOMAIN,
      USUBJID,
      num('CESEQ', 'Sequence Number'),
      char('CETERM', 'Reported Term for the Clinical Event', 100),
      char('CECAT', 'Category for Clinical Event', 40),
      DTC('CESTDTC', 'Start Date/Time of Clinical Event'),
    ],
  },
  {
    name: 'TS',
    label: 'Trial Summary',
    variables: [
      STUDYID,
      DOMAIN,
      num('TSSEQ', 'Sequence Number'),
      char('TSPARMCD', 'Trial Summary Parameter Short Name', 8),
      char('TSPARM', 'Trial Summary Parameter', 40),
      char('TSVAL', 'Parameter Value', 200),
    ],
  },
  {
    name: 'TA',
    label: 'Trial Arms',
    variables: [
      STUDYID,
      DOMAIN,
      char('ARMCD', 'Planned Arm Code', 20),
      char('ARM', 'Description of Planned Arm', 40),
      num('TAETORD', 'Planned Order of Element within Arm'),
      char('ETCD', 'Element Code', 8),
      char('ELEMENT', 'Description of Element', 40),
      char('EPOCH', 'Epoch', 20),
    ],
  },
  {
    name: 'TE',
    label: 'Trial Elements',
    variables: [
      STUDYID,
      DOMAIN,
      char('ETCD', 'Element Code', 8),
      char('ELEMENT', 'Description of Element', 40),
      char('TESTRL', 'Rule for Start of Element', 100),
      char('TEENRL', 'Rule for End of Element', 100),
    ],
  },
];

/** CDISC controlled terms for the FHIR codes used. */
const RACE_BY_OMB: Readonly<Record<string, string>> = {
  '2106-3': 'WHITE',
  '2054-5': 'BLACK OR AFRICAN AMERICAN',
  '2028-9': 'ASIAN',
  '1002-5': 'AMERICAN INDIAN OR ALASKA NATIVE',
  '2076-8': 'NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER',
};
const ETHNIC_BY_OMB: Readonly<Record<string, string>> = {
  '2135-2': 'HISPANIC OR LATINO',
  '2186-5': 'NOT HISPANIC OR LATINO',
};
const AEOUT: Readonly<Record<string, string>> = {
  resolved: 'RECOVERED/RESOLVED',
  recovering: 'RECOVERING/RESOLVING',
  ongoing: 'NOT RECOVERED/NOT RESOLVED',
  resolvedWithSequelae: 'RECOVERED/RESOLVED WITH SEQUELAE',
  fatal: 'FATAL',
  unknown: 'UNKNOWN',
};
const ROUTE: Readonly<Record<string, string>> = { '26643006': 'ORAL' };
/** Vital signs by LOINC: SDTM test code, name and unit (standard = original here). */
const VITALS: Readonly<Record<string, { cd: string; test: string; unit: string }>> = {
  '8480-6': { cd: 'SYSBP', test: 'Systolic Blood Pressure', unit: 'mmHg' },
  '8462-4': { cd: 'DIABP', test: 'Diastolic Blood Pressure', unit: 'mmHg' },
  '8867-4': { cd: 'PULSE', test: 'Pulse Rate', unit: 'beats/min' },
};
const LABS: Readonly<Record<string, { cd: string; test: string; cat: string; unit: string }>> = {
  '4548-4': { cd: 'HBA1C', test: 'Hemoglobin A1C', cat: 'CHEMISTRY', unit: '%' },
};
const PHASE: Readonly<Record<string, string>> = {
  'phase-1': 'PHASE I TRIAL',
  'phase-2': 'PHASE II TRIAL',
  'phase-3': 'PHASE III TRIAL',
  'phase-4': 'PHASE IV TRIAL',
};

// Small readers of the JSON shapes (resources are plain JSON from the parts).
const obj = (x: unknown): Json => (x !== null && typeof x === 'object' ? (x as Json) : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string | null => (typeof x === 'string' ? x : null);
const codings = (cc: unknown): Json[] => arr(obj(cc)['coding']).map(obj);
const codingOf = (cc: unknown, system: string): Json | undefined =>
  codings(cc).find((c) => c['system'] === system);
const refId = (ref: unknown): string => (str(obj(ref)['reference']) ?? '').replace(/^.*\//, '');
const hasTrialTag = (r: JsonResource): boolean =>
  arr(obj(r['meta'])['tag']).some((t) => obj(t)['system'] === STUDY_SYSTEM);

/** SDTM date/time: a day stays a day; a dateTime loses its zone (all times are UTC). */
function dtc(x: unknown): string | null {
  const s = str(x);
  if (s === null) return null;
  return s.length <= 10 ? s : s.slice(0, 19);
}

/** Completed years between two YYYY-MM-DD days. */
function yearsBetween(birth: string, day: string): number {
  const [by, bm, bd] = birth.split('-').map(Number) as [number, number, number];
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
function csvField(v: XptValue): string {
  if (v === null || (typeof v === 'number' && Number.isNaN(v))) return '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

interface OpenDataset {
  readonly ds: XptDataset;
  readonly csv: number;
  readonly xpt: number;
  dataBytes: number;
  rows: number;
  csvChunks: string[];
  xptChunks: Buffer[];
}

/** Per-domain row counts written so far (for tests and the summary). */
export type SdtmCounts = Record<string, number>;

export class SdtmWriter implements FormatWriter {
  readonly format = 'sdtm';
  private readonly open = new Map<string, OpenDataset>();
  private studyId = '';
  private readonly products = new Map<string, string>();
  /** ARM (description) by ARMCD, from the ResearchStudy's arms. */
  private readonly armNames = new Map<string, string>();
  private bytes = 0;
  private closed = false;

  constructor(
    private readonly dir: string,
    run: SynthRun,
  ) {
    for (const ds of SDTM_DATASETS) {
      const base = join(dir, ds.name.toLowerCase());
      const d: OpenDataset = {
        ds,
        csv: openSync(`${base}.csv`, 'w'),
        xpt: openSync(`${base}.xpt`, 'w'),
        dataBytes: 0,
        rows: 0,
        csvChunks: [ds.variables.map((v) => v.name).join(',') + '\n'],
        xptChunks: [xptHeader(ds, run.args.end)],
      };
      this.open.set(ds.name, d);
    }
    this.flush();
  }

  /** Rows written per domain. */
  counts(): SdtmCounts {
    return Object.fromEntries([...this.open].map(([k, d]) => [k, d.rows]));
  }

  private add(domain: string, row: Row): void {
    const d = this.open.get(domain);
    if (d === undefined) throw new Error(`unknown SDTM domain ${domain}`);
    const full: Row = { STUDYID: this.studyId, DOMAIN: domain, ...row };
    d.csvChunks.push(d.ds.variables.map((v) => csvField(full[v.name] ?? null)).join(',') + '\n');
    const obs = xptObservation(d.ds, full);
    d.xptChunks.push(obs);
    d.dataBytes += obs.length;
    d.rows++;
  }

  private flush(): void {
    for (const d of this.open.values()) {
      if (d.csvChunks.length > 0) {
        const b = Buffer.from(d.csvChunks.join(''), 'utf8');
        writeSync(d.csv, b);
        this.bytes += b.length;
        d.csvChunks = [];
      }
      if (d.xptChunks.length > 0) {
        const b = Buffer.concat(d.xptChunks);
        writeSync(d.xpt, b);
        this.bytes += b.length;
        d.xptChunks = [];
      }
    }
  }

  shared(resources: readonly JsonResource[]): void {
    for (const r of resources)
      if (r.resourceType === 'Medication' && hasTrialTag(r))
        this.products.set(r.id, str(obj(r['code'])['text']) ?? '');
    const study = resources.find((r) => r.resourceType === 'ResearchStudy' && hasTrialTag(r));
    if (study === undefined) return;
    const identifier = arr(study['identifier']).map(obj);
    this.studyId = str(identifier.find((i) => i['system'] === STUDY_SYSTEM)?.['value']) ?? study.id;
    const period = obj(study['period']);
    const phase = str(codings(study['phase'])[0]?.['code']);
    const arms = arr(study['arm']).map(obj);
    const ts: [string, string, string | null][] = [
      ['TITLE', 'Trial Title', str(study['title'])],
      ['TPHASE', 'Trial Phase Classification', phase === null ? null : (PHASE[phase] ?? null)],
      ['INDIC', 'Trial Disease/Condition Indication', str(obj(arr(study['condition'])[0])['text'])],
      ['SSTDTC', 'Study Start Date', str(period['start'])],
      ['SENDTC', 'Study End Date', str(period['end'])],
      ['NARMS', 'Planned Number of Arms', String(arms.length)],
    ];
    let seq = 0;
    for (const [cd, name, value] of ts)
      if (value !== null)
        this.add('TS', { TSSEQ: ++seq, TSPARMCD: cd, TSPARM: name, TSVAL: value });
    for (const a of arms) {
      const armcd = str(a['name']) ?? '';
      const arm = str(a['description']) ?? armcd;
      this.armNames.set(armcd, arm);
      this.add('TA', {
        ARMCD: armcd,
        ARM: arm,
        TAETORD: 1,
        ETCD: armcd.slice(0, 8),
        ELEMENT: arm,
        EPOCH: 'TREATMENT',
      });
      this.add('TE', {
        ETCD: armcd.slice(0, 8),
        ELEMENT: arm,
        TESTRL: 'Randomization to this arm',
        TEENRL: 'End of follow-up, withdrawal or death',
      });
    }
    this.flush();
  }

  patient(out: PatientOutput): void {
    const trial = out.resources.filter(hasTrialTag);
    const subject = trial.find((r) => r.resourceType === 'ResearchSubject');
    const patient = out.resources.find((r) => r.resourceType === 'Patient');
    if (subject === undefined || patient === undefined) return;
    const usubjid =
      str(
        arr(subject['identifier'])
          .map(obj)
          .find((i) => i['system'] === USUBJID_SYSTEM)?.['value'],
      ) ?? subject.id;
    const subjid = usubjid.startsWith(`${this.studyId}-`)
      ? usubjid.slice(this.studyId.length + 1)
      : usubjid;
    const base = { USUBJID: usubjid };
    const visits = new Map<string, { num: number; name: string }>();
    for (const r of trial)
      if (r.resourceType === 'Encounter') {
        const c = codingOf(arr(r['type'])[0], TRIAL_VISIT_SYSTEM);
        if (c !== undefined)
          visits.set(r.id, { num: Number(c['code']), name: str(c['display']) ?? '' });
      }
    const visitOf = (encounterRef: unknown): Row => {
      const v = visits.get(refId(encounterRef));
      return v === undefined ? {} : { VISITNUM: v.num, VISIT: v.name };
    };

    // DM.
    const period = obj(subject['period']);
    const start = str(period['start']);
    const end = str(period['end']);
    const deceased = str(patient['deceasedDateTime']);
    const birth = str(patient['birthDate']);
    const ext = (url: string): Json[] =>
      arr(patient['extension'])
        .map(obj)
        .filter((e) => str(e['url'])?.endsWith(url) === true)
        .flatMap((e) => arr(e['extension']).map(obj))
        .filter((e) => e['url'] === 'ombCategory')
        .map((e) => obj(e['valueCoding']));
    const races = ext('us-core-race');
    const race =
      races.length === 0
        ? 'OTHER'
        : races.length > 1
          ? 'MULTIPLE'
          : (RACE_BY_OMB[str(races[0]?.['code']) ?? ''] ?? 'OTHER');
    const ethnic = ETHNIC_BY_OMB[str(ext('us-core-ethnicity')[0]?.['code']) ?? ''] ?? null;
    const exposures = trial.filter((r) => r.resourceType === 'MedicationAdministration');
    const exStart = exposures.map((r) => str(obj(r['effectivePeriod'])['start']) ?? '').sort();
    const exEnd = exposures.map((r) => str(obj(r['effectivePeriod'])['end']) ?? '').sort();
    const armcd = str(subject['assignedArm']);
    const actarmcd = str(subject['actualArm']);
    const armName = (cd: string | null): string | null => this.armNames.get(cd ?? '') ?? cd;
    const country = str(obj(arr(patient['address'])[0])['country']);
    this.add('DM', {
      ...base,
      SUBJID: subjid,
      RFSTDTC: start,
      RFENDTC: end,
      RFXSTDTC: exStart[0] ?? null,
      // The last supply is still running if one has no end.
      RFXENDTC: exEnd.includes('') ? null : (exEnd[exEnd.length - 1] ?? null),
      RFICDTC: start,
      DTHDTC: deceased === null ? null : deceased.slice(0, 10),
      DTHFL: deceased === null ? null : 'Y',
      SITEID: subjid.includes('-') ? subjid.slice(0, subjid.indexOf('-')) : null,
      BRTHDTC: birth,
      AGE: birth !== null && start !== null ? yearsBetween(birth, start) : null,
      AGEU: 'YEARS',
      SEX: patient['gender'] === 'female' ? 'F' : patient['gender'] === 'male' ? 'M' : 'U',
      RACE: race,
      ETHNIC: ethnic,
      ARMCD: armcd,
      ARM: armName(armcd),
      ACTARMCD: actarmcd,
      ACTARM: armName(actarmcd),
      COUNTRY: country === 'US' ? 'USA' : country,
    });

    // DS: randomisation, then the disposition when follow-up ended.
    this.add('DS', {
      ...base,
      DSSEQ: 1,
      DSTERM: 'RANDOMIZED',
      DSDECOD: 'RANDOMIZED',
      DSCAT: 'PROTOCOL MILESTONE',
      DSSTDTC: start,
    });
    if (end !== null) {
      const decod =
        subject['status'] === 'withdrawn'
          ? 'WITHDRAWAL BY SUBJECT'
          : deceased !== null && deceased.slice(0, 10) === end
            ? 'DEATH'
            : 'COMPLETED';
      this.add('DS', {
        ...base,
        DSSEQ: 2,
        DSTERM: decod,
        DSDECOD: decod,
        DSCAT: 'DISPOSITION EVENT',
        DSSTDTC: end,
      });
    }

    let ex = 0;
    let lb = 0;
    let vs = 0;
    let ae = 0;
    let ce = 0;
    for (const r of trial) {
      if (r.resourceType === 'MedicationAdministration') {
        const dosage = obj(r['dosage']);
        const dose = obj(dosage['dose']);
        const p = obj(r['effectivePeriod']);
        const route = str(codings(dosage['route'])[0]?.['code']) ?? '';
        const med = obj(r['medicationReference']);
        const name = this.products.get(refId(med)) ?? str(med['display']) ?? '';
        this.add('EX', {
          ...base,
          EXSEQ: ++ex,
          // The product without strength and form ("MLK-0101 10 mg oral tablet" -> MLK-0101).
          EXTRT: name.replace(/ \d.*$| oral tablet$/i, '').toUpperCase(),
          EXDOSE: typeof dose['value'] === 'number' ? dose['value'] : null,
          EXDOSU: str(dose['unit']),
          EXDOSFRQ: /once daily/i.test(str(dosage['text']) ?? '') ? 'QD' : null,
          EXROUTE: ROUTE[route] ?? null,
          ...visitOf(r['context']),
          EXSTDTC: dtc(p['start']),
          EXENDTC: dtc(p['end']),
        });
      } else if (r.resourceType === 'Observation') {
        const loinc = str(codingOf(r['code'], 'http://loinc.org')?.['code']);
        const when = dtc(r['effectiveDateTime']);
        const lab = LABS[loinc ?? ''];
        if (lab !== undefined) {
          const q = obj(r['valueQuantity']);
          const range = obj(arr(r['referenceRange'])[0]);
          const value = typeof q['value'] === 'number' ? q['value'] : null;
          const lo = obj(range['low'])['value'];
          const hi = obj(range['high'])['value'];
          this.add('LB', {
            ...base,
            LBSEQ: ++lb,
            LBTESTCD: lab.cd,
            LBTEST: lab.test,
            LBCAT: lab.cat,
            LBORRES: value === null ? null : String(value),
            LBORRESU: str(q['unit']),
            LBORNRLO: typeof lo === 'number' ? String(lo) : null,
            LBORNRHI: typeof hi === 'number' ? String(hi) : null,
            LBSTRESC: value === null ? null : String(value),
            LBSTRESN: value,
            LBSTRESU: lab.unit,
            LBLOINC: loinc,
            ...visitOf(r['encounter']),
            LBDTC: when,
          });
          continue;
        }
        // Vital signs: the Observation itself or each component (blood pressure).
        const parts = r['component'] === undefined ? [r as Json] : arr(r['component']).map(obj);
        for (const part of parts) {
          const code = str(codingOf(part['code'], 'http://loinc.org')?.['code']);
          const vital = VITALS[code ?? ''];
          if (vital === undefined) continue;
          const q = obj(part['valueQuantity']);
          const value = typeof q['value'] === 'number' ? q['value'] : null;
          this.add('VS', {
            ...base,
            VSSEQ: ++vs,
            VSTESTCD: vital.cd,
            VSTEST: vital.test,
            VSORRES: value === null ? null : String(value),
            VSORRESU: vital.unit,
            VSSTRESC: value === null ? null : String(value),
            VSSTRESN: value,
            VSSTRESU: vital.unit,
            ...visitOf(r['encounter']),
            VSDTC: when,
          });
        }
        if (codingOf(r['code'], ENDPOINT_SYSTEM) !== undefined) {
          this.add('CE', {
            ...base,
            CESEQ: ++ce,
            CETERM: str(obj(r['valueCodeableConcept'])['text']),
            CECAT: 'MAJOR ADVERSE CARDIOVASCULAR EVENT',
            CESTDTC: dtc(r['effectiveDateTime']),
          });
        }
      } else if (r.resourceType === 'AdverseEvent') {
        const pt = codingOf(r['event'], MEDDRA);
        const endExt = arr(r['extension'])
          .map(obj)
          .find((e) => e['url'] === AE_END_EXTENSION_URL);
        const outcome = str(codings(r['outcome'])[0]?.['code']) ?? '';
        this.add('AE', {
          ...base,
          AESEQ: ++ae,
          AETERM: str(obj(r['event'])['text']),
          AEDECOD: str(pt?.['display']),
          AEPTCD: pt === undefined ? null : Number(pt['code']),
          AESEV: (str(codings(r['severity'])[0]?.['code']) ?? '').toUpperCase() || null,
          AESER: codings(r['seriousness'])[0]?.['code'] === 'serious' ? 'Y' : 'N',
          AEOUT: AEOUT[outcome] ?? null,
          AESTDTC: dtc(r['date']),
          AEENDTC: dtc(endExt?.['valueDateTime']),
        });
      }
    }
    this.flush();
  }

  async close(): Promise<{ files: string[]; bytes: number }> {
    await Promise.resolve();
    const files: string[] = [];
    const folder = basename(this.dir);
    for (const d of this.open.values()) {
      const tail = xptTrailer(d.dataBytes);
      writeSync(d.xpt, tail);
      this.bytes += tail.length;
      closeSync(d.csv);
      closeSync(d.xpt);
      const name = d.ds.name.toLowerCase();
      files.push(join(folder, `${name}.csv`), join(folder, `${name}.xpt`));
    }
    this.closed = true;
    return { files, bytes: this.bytes };
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    for (const d of this.open.values()) {
      closeSync(d.csv);
      closeSync(d.xpt);
    }
  }
}

export const sdtmWriter: FormatWriterFactory = (dir, run) => new SdtmWriter(dir, run);
