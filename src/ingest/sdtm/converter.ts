/**
 * The CDISC SDTM converter: the datasets of one folder (a study's submission: .xpt and/or
 * .csv, one dataset per file) to FHIR R4 (docs/ingest-sdtm.md).
 *
 * Order, so that resources carry what other datasets say about them:
 * 1. trial design (TS, TA, TE), DM, DS and SUPP-- / SUPPQUAL are read and held in memory
 *    (one small record per parameter, arm element, subject, disposition and qualifier:
 *    a trial's subject-level data, bounded by its subject count), then ResearchStudy,
 *    Patient and ResearchSubject are emitted;
 * 2. SV is streamed (Encounter per visit; only the visit keys are kept, so findings and
 *    exposures can reference their visit's Encounter);
 * 3. every other dataset is streamed row by row (AE, EX, CM, MH, LB, VS).
 * A file whose name is not a domain name (e.g. study_dm.csv) is read in step 3; design
 * and subject rows found there are emitted at the end (their qualifiers and dispositions
 * then reach only what follows). SUPP qualifiers whose parent record never appears are
 * quarantined at the end.
 */
import path from 'node:path';
import type {
  ConvertContext,
  ConvertedRecord,
  ConvertedResource,
  FhirObject,
  FormatConverter,
} from '../convert.js';
import { quarantined } from '../convert.js';
import { QuarantineCode } from '../types.js';
import { datasetNameOf, readDataset, selectFiles, sniffSdtm } from './datasets.js';
import type { SdtmRow } from './datasets.js';
import {
  RowError,
  keyText,
  mapAdverseEvent,
  mapConMed,
  mapExposure,
  mapFinding,
  mapMedicalHistory,
  mapPatient,
  mapResearchSubject,
  mapStudy,
  mapVisit,
  str,
  required,
  subjectKeys,
  fhirDateTime,
  visitIdOf,
} from './map.js';
import type { RowContext, SuppQualifier, Values, ZonelessTime } from './map.js';

export interface SdtmConverterOptions {
  /**
   * How an SDTM time without a zone becomes a FHIR dateTime (which needs a zone when it
   * has a time): 'utc' (default: the time is taken as UTC, as medlake's generator writes
   * it) or 'date-only' (the time is dropped, the day kept).
   */
  readonly zonelessTime?: ZonelessTime;
}

/** Domains mapped to FHIR (others stay in the SDTM tables only). */
export const SDTM_MAPPED_DOMAINS = [
  'TS',
  'TA',
  'TE',
  'DM',
  'DS',
  'SV',
  'AE',
  'EX',
  'CM',
  'MH',
  'LB',
  'VS',
] as const;
const HELD = new Set(['TS', 'TA', 'TE', 'DM', 'DS']);
const isHeldName = (name: string): boolean => HELD.has(name) || name.startsWith('SUPP');

interface StudyState {
  ts: Values[];
  ta: Values[];
  te: Values[];
  source: { file: string; line: number } | null;
  dirty: boolean;
}
interface SubjectState {
  studyid: string;
  usubjid: string;
  dm: SdtmRow | null;
  ds: SdtmRow[];
  patientEmitted: boolean;
  dirty: boolean;
}
interface SuppEntry {
  readonly q: SuppQualifier;
  readonly row: SdtmRow;
  matched: boolean;
}

const SEP = '\x1f';
const where = (row: SdtmRow): string =>
  `${path.basename(row.file)} ${row.file.toLowerCase().endsWith('.xpt') ? 'observation' : 'line'} ${row.line}`;
const rowText = (row: SdtmRow): string => JSON.stringify(row.values);

/** Per group: the held trial-level state (see the module comment). */
class GroupReader {
  private readonly studies = new Map<string, StudyState>();
  private readonly subjects = new Map<string, SubjectState>();
  private readonly supp = new Map<string, SuppEntry[]>();
  /** IDVARs that SUPP rows use per RDOMAIN. */
  private readonly idvars = new Map<string, Set<string>>();
  private readonly visits = new Set<string>();

  constructor(private readonly zoneless: ZonelessTime) {}

  private study(studyid: string): StudyState {
    let s = this.studies.get(studyid);
    if (s === undefined) {
      s = { ts: [], ta: [], te: [], source: null, dirty: true };
      this.studies.set(studyid, s);
    }
    return s;
  }

  private subject(studyid: string, usubjid: string): SubjectState {
    const key = studyid + SEP + usubjid;
    let s = this.subjects.get(key);
    if (s === undefined) {
      s = { studyid, usubjid, dm: null, ds: [], patientEmitted: false, dirty: true };
      this.subjects.set(key, s);
    }
    return s;
  }

  /** The SUPP qualifiers of a parent record (subject-level ones and those keyed by IDVAR). */
  private suppFor(domain: string, studyid: string, usubjid: string, v: Values): SuppQualifier[] {
    const keys = [[domain, studyid, usubjid, '', ''].join(SEP)];
    for (const idvar of this.idvars.get(domain) ?? [])
      if (idvar !== '' && v[idvar] !== undefined && v[idvar] !== null)
        keys.push([domain, studyid, usubjid, idvar, keyText(v[idvar])].join(SEP));
    const out: SuppQualifier[] = [];
    for (const k of keys)
      for (const e of this.supp.get(k) ?? []) {
        e.matched = true;
        out.push(e.q);
      }
    return out;
  }

  private problem(row: SdtmRow, code: QuarantineCode, reason: string): ConvertedRecord {
    return quarantined(
      code,
      `${where(row)}: ${reason}`,
      { file: row.file, line: row.line },
      rowText(row),
    );
  }

  private resource(
    resource: FhirObject,
    row: { file: string; line: number },
    record: string,
  ): ConvertedResource {
    return { kind: 'fhir', resource, source: { file: row.file, line: row.line, record } };
  }

  /** Stores or maps one row; yields its resources or its quarantine. */
  *handle(
    row: SdtmRow,
    unsupported: Map<string, { line: number; n: number }>,
  ): Generator<ConvertedRecord> {
    try {
      const v = row.values;
      if ('RDOMAIN' in v && 'QNAM' in v) {
        this.holdSupp(row);
        return;
      }
      const d = row.domain;
      // A dataset named by its domain (lb.xpt, ae.csv) holds that domain's rows only.
      const dataset = datasetNameOf(row.file);
      if (/^[A-Z]{2}$/.test(dataset) && d !== dataset)
        throw new RowError(
          QuarantineCode.InvalidValue,
          `DOMAIN is ${JSON.stringify(d)} in dataset ${dataset}; a row's DOMAIN must name its dataset`,
        );
      if (d === 'TS' || d === 'TA' || d === 'TE') {
        const studyid = required(v, 'STUDYID', 'the study identifier names the ResearchStudy');
        const s = this.study(studyid);
        (d === 'TS' ? s.ts : d === 'TA' ? s.ta : s.te).push(v);
        s.source ??= { file: row.file, line: row.line };
        s.dirty = true;
        return;
      }
      const { studyid, usubjid } = subjectKeys(v);
      if (d === 'DM') {
        // Checked now so that a bad DM row is quarantined where it is read.
        mapPatient(v, this.zoneless);
        mapResearchSubject(v, [], [], this.zoneless);
        const s = this.subject(studyid, usubjid);
        if (s.dm !== null)
          throw new RowError(
            QuarantineCode.InvalidValue,
            `USUBJID ${usubjid} has a second DM row (first at ${where(s.dm)})`,
          );
        s.dm = row;
        s.dirty = true;
        const st = this.study(studyid);
        st.source ??= { file: row.file, line: row.line };
        return;
      }
      if (d === 'DS') {
        fhirDateTime(v, 'DSSTDTC', this.zoneless);
        const s = this.subject(studyid, usubjid);
        s.ds.push(row);
        s.dirty = true;
        return;
      }
      if (d === 'SV') {
        const supp = this.suppFor('SV', studyid, usubjid, v);
        const enc = mapVisit(v, studyid, usubjid, this.zoneless, supp);
        const visitnum = keyText(v['VISITNUM']);
        this.visits.add([studyid, usubjid, visitnum].join(SEP));
        yield this.resource(enc, row, `${usubjid}/SV/${visitnum}`);
        return;
      }
      if (!['AE', 'EX', 'CM', 'MH', 'LB', 'VS'].includes(d)) {
        const u = unsupported.get(d);
        if (u === undefined) unsupported.set(d, { line: row.line, n: 1 });
        else u.n++;
        return;
      }
      const seq = keyText(v[`${d}SEQ`]);
      if (seq === '')
        throw new RowError(QuarantineCode.MissingValue, `${d}SEQ is empty; it names the record`);
      const visitnum = keyText(v['VISITNUM']);
      const c: RowContext = {
        domain: d,
        studyid,
        usubjid,
        seq,
        supp: this.suppFor(d, studyid, usubjid, v),
        encounter:
          visitnum !== '' && this.visits.has([studyid, usubjid, visitnum].join(SEP))
            ? visitIdOf(studyid, usubjid, visitnum)
            : null,
        zoneless: this.zoneless,
      };
      let r: FhirObject;
      if (d === 'AE') {
        const dm = this.subjects.get(studyid + SEP + usubjid)?.dm;
        r = mapAdverseEvent(
          v,
          c,
          dm === null || dm === undefined
            ? null
            : (str(dm.values, 'ACTARM') ?? str(dm.values, 'ARM')),
        );
      } else if (d === 'EX') r = mapExposure(v, c);
      else if (d === 'CM') r = mapConMed(v, c);
      else if (d === 'MH') r = mapMedicalHistory(v, c);
      else r = mapFinding(v, c);
      yield this.resource(r, row, `${usubjid}/${d}/${seq}`);
    } catch (err) {
      if (!(err instanceof RowError)) throw err;
      yield this.problem(row, err.code, err.message);
    }
  }

  private holdSupp(row: SdtmRow): void {
    const v = row.values;
    const { studyid, usubjid } = subjectKeys(v);
    const rdomain = (str(v, 'RDOMAIN') ?? '').toUpperCase();
    if (rdomain === '')
      throw new RowError(
        QuarantineCode.MissingValue,
        'RDOMAIN is empty; it names the parent domain',
      );
    const qnam = str(v, 'QNAM');
    const qval = str(v, 'QVAL');
    if (qnam === null)
      throw new RowError(QuarantineCode.MissingValue, 'QNAM is empty; it names the qualifier');
    if (qval === null)
      throw new RowError(
        QuarantineCode.MissingValue,
        `QVAL of ${qnam} is empty; a qualifier needs a value`,
      );
    const idvar = (str(v, 'IDVAR') ?? '').toUpperCase();
    const key = [rdomain, studyid, usubjid, idvar, idvar === '' ? '' : keyText(v['IDVARVAL'])].join(
      SEP,
    );
    const list = this.supp.get(key) ?? [];
    list.push({
      q: { qnam, qlabel: str(v, 'QLABEL'), qval, qorig: str(v, 'QORIG') },
      row,
      matched: false,
    });
    this.supp.set(key, list);
    const ids = this.idvars.get(rdomain) ?? new Set<string>();
    ids.add(idvar);
    this.idvars.set(rdomain, ids);
    if (rdomain === 'DM') this.subject(studyid, usubjid).dirty = true;
  }

  /** ResearchStudy, Patient and ResearchSubject for what changed since the last call. */
  *flushHeld(final: boolean): Generator<ConvertedRecord> {
    for (const [studyid, s] of this.studies) {
      if (!s.dirty || s.source === null) continue;
      s.dirty = false;
      yield this.resource(
        mapStudy({ studyid, ts: s.ts, ta: s.ta, te: s.te }, this.zoneless),
        s.source,
        `${studyid}/TS`,
      );
    }
    for (const s of this.subjects.values()) {
      if (!s.dirty) continue;
      if (s.dm === null) {
        if (final)
          for (const ds of s.ds)
            yield this.problem(
              ds,
              QuarantineCode.MissingValue,
              `no DM row for USUBJID ${s.usubjid}: the disposition has no subject`,
            );
        continue;
      }
      s.dirty = false;
      const dm = s.dm;
      const record = `${s.usubjid}/DM`;
      if (!s.patientEmitted) {
        s.patientEmitted = true;
        yield this.resource(mapPatient(dm.values, this.zoneless), dm, record);
      }
      const supp = this.suppFor('DM', s.studyid, s.usubjid, dm.values);
      yield this.resource(
        mapResearchSubject(
          dm.values,
          s.ds.map((r) => r.values),
          supp,
          this.zoneless,
        ),
        dm,
        record,
      );
    }
  }

  /** Qualifiers whose parent record never came. */
  *unmatchedSupp(): Generator<ConvertedRecord> {
    for (const list of this.supp.values())
      for (const e of list)
        if (!e.matched) {
          const v = e.row.values;
          yield this.problem(
            e.row,
            QuarantineCode.MissingValue,
            `SUPP qualifier ${e.q.qnam} names ${str(v, 'RDOMAIN') ?? ''} record ${str(v, 'USUBJID') ?? ''}` +
              `${str(v, 'IDVAR') === null ? '' : ` ${str(v, 'IDVAR') ?? ''}=${str(v, 'IDVARVAL') ?? ''}`}, which is not in the datasets read`,
          );
        }
  }

  /** Reads one file: rows handled in order, problems passed on. */
  async *file(file: string, ctx: ConvertContext): AsyncGenerator<ConvertedRecord> {
    const unsupported = new Map<string, { line: number; n: number }>();
    for await (const e of readDataset(file, ctx)) {
      if (e.kind === 'quarantine') yield e.record;
      else if (e.kind === 'row') yield* this.handle(e.row, unsupported);
    }
    // Domains without a FHIR mapping (CE, EG, QS, ...) are not lost: their rows are kept in
    // the lake's source tables (sdtm_<domain>), so they are not quarantined.
  }
}

/** A converter with the given options (`sdtmConverter` uses the defaults). */
export function createSdtmConverter(options: SdtmConverterOptions = {}): FormatConverter {
  const zoneless = options.zonelessTime ?? 'utc';
  return {
    format: 'sdtm',
    sniff: sniffSdtm,
    async *read(files: readonly string[], ctx: ConvertContext): AsyncIterable<ConvertedRecord> {
      const chosen = selectFiles(files);
      const g = new GroupReader(zoneless);
      const byName = (f: string): string => datasetNameOf(f);
      for (const f of chosen.filter((x) => isHeldName(byName(x)))) yield* g.file(f, ctx);
      yield* g.flushHeld(false);
      for (const f of chosen.filter((x) => byName(x) === 'SV')) yield* g.file(f, ctx);
      for (const f of chosen.filter((x) => !isHeldName(byName(x)) && byName(x) !== 'SV'))
        yield* g.file(f, ctx);
      yield* g.flushHeld(true);
      yield* g.unmatchedSupp();
    },
  };
}

export const sdtmConverter: FormatConverter = createSdtmConverter();

export { sdtmRows, sdtmDatasets } from './datasets.js';
export type { SdtmRow, SdtmDataset, SdtmColumn, SdtmValue, SdtmRowsOptions } from './datasets.js';
