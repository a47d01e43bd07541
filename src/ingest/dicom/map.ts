/**
 * DICOM header attributes → FHIR R4 ImagingStudy and Patient, following the R4 ImagingStudy
 * mapping to DICOM (https://hl7.org/fhir/R4/imagingstudy-mappings.html#dicom). Instances
 * are gathered per StudyInstanceUID in a `StudyBuilder`; a study is turned into one
 * ImagingStudy once all files of the group are read.
 */
import { patientIdFor, stableId } from '../convert.js';
import type { FhirObject } from '../convert.js';
import type { DicomHeader } from './parse.js';

export const DCM_SYSTEM = 'http://dicom.nema.org/resources/ontology/DCM';
export const SNOMED = 'http://snomed.info/sct';
export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
/** Base of medlake's technical-attribute extensions: `<base><name>`. */
export const EXT_BASE = 'https://medlake.dev/fhir/StructureDefinition/dicom-';

/**
 * Body Part Examined (0018,0015) → SNOMED CT, from PS3.16 Annex L (CID 4031 "Common
 * Anatomic Regions"), only for the terms whose mapping is certain; others keep the text.
 */
export const BODY_PART_SNOMED: Readonly<Record<string, { code: string; display: string }>> = {
  ABDOMEN: { code: '818981001', display: 'Abdomen' },
  ANKLE: { code: '70258002', display: 'Ankle joint' },
  BRAIN: { code: '12738006', display: 'Brain' },
  BREAST: { code: '76752008', display: 'Breast' },
  CHEST: { code: '51185008', display: 'Thorax' },
  CSPINE: { code: '122494005', display: 'Cervical spine' },
  ELBOW: { code: '16953009', display: 'Elbow joint' },
  FOOT: { code: '56459004', display: 'Foot' },
  HAND: { code: '85562004', display: 'Hand' },
  HEAD: { code: '69536005', display: 'Head' },
  HEART: { code: '80891009', display: 'Heart' },
  HIP: { code: '24136001', display: 'Hip joint' },
  KIDNEY: { code: '64033007', display: 'Kidney' },
  KNEE: { code: '72696002', display: 'Knee' },
  LIVER: { code: '10200004', display: 'Liver' },
  LSPINE: { code: '122496007', display: 'Lumbar spine' },
  NECK: { code: '45048000', display: 'Neck' },
  PELVIS: { code: '816092008', display: 'Pelvis' },
  SHOULDER: { code: '16982005', display: 'Shoulder' },
  SKULL: { code: '89546000', display: 'Skull' },
  TSPINE: { code: '122495006', display: 'Thoracic spine' },
  WRIST: { code: '74670003', display: 'Wrist joint' },
};

/** Laterality (0020,0060) → the R4 bodysite-laterality value set (SNOMED CT). */
const LATERALITY: Readonly<Record<string, { code: string; display: string }>> = {
  R: { code: '419465000', display: 'Right' },
  L: { code: '419161000', display: 'Left' },
  B: { code: '51440002', display: 'Right and left' },
};

type Json = Record<string, unknown>;

// ------------------------------------------------------------ DICOM value formats

/** DA (PS3.5 §6.2: YYYYMMDD; the ACR-NEMA YYYY.MM.DD is accepted) → FHIR date. */
export function fhirDate(da: string | undefined): string | undefined {
  if (da === undefined) return undefined;
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(da.trim());
  if (m === null) return undefined;
  const [, y, mo, d] = m as unknown as [string, string, string, string];
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d) || y === '0000')
    return undefined;
  return `${y}-${mo}-${d}`;
}

/**
 * DA + TM (+ Timezone Offset From UTC (0008,0201), ±HHMM) → FHIR dateTime. FHIR needs a
 * zone with a time, so without an offset (or `assumeOffset`) only the date is kept.
 */
export function fhirDateTime(
  da: string | undefined,
  tm: string | undefined,
  offset: string | undefined,
  assumeOffset?: string,
): string | undefined {
  const date = fhirDate(da);
  if (date === undefined) return undefined;
  const zone = zoneOf(offset) ?? zoneOf(assumeOffset);
  if (tm === undefined || zone === undefined) return date;
  // TM: HH[MM[SS[.F{1,6}]]], or the ACR-NEMA HH:MM:SS.
  const t = /^(\d{2})(?::?(\d{2})(?::?(\d{2})(\.\d{1,6})?)?)?$/.exec(tm.trim());
  if (t === null) return date;
  const [, hh, mm = '00', ss = '00', frac = ''] = t as unknown as [
    string,
    string,
    string?,
    string?,
    string?,
  ];
  if (Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 60) return date;
  return `${date}T${hh}:${mm}:${ss === '60' ? '59' : ss}${frac}${zone}`;
}

function zoneOf(offset: string | undefined): string | undefined {
  if (offset === undefined) return undefined;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(offset.trim());
  if (m === null) return undefined;
  return `${m[1]}${m[2]}:${m[3]}`;
}

/** PN (PS3.5 §6.2.1): the first non-empty component group, Family^Given^Middle^Prefix^Suffix. */
export function humanName(pn: string | undefined): Json | undefined {
  if (pn === undefined) return undefined;
  const group = pn.split('=').find((g) => g.replace(/\^/g, '').trim() !== '');
  if (group === undefined) return undefined;
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = group
    .split('^')
    .map((c) => c.trim());
  const name: Json = {};
  const givens = [given, middle].filter((g) => g !== '');
  const text = [prefix, ...givens, family, suffix].filter((p) => p !== '').join(' ');
  if (text !== '') name['text'] = text;
  if (family !== '') name['family'] = family;
  if (givens.length > 0) name['given'] = givens;
  if (prefix !== '') name['prefix'] = [prefix];
  if (suffix !== '') name['suffix'] = [suffix];
  return name;
}

/** IS → a non-negative 32-bit integer (FHIR unsignedInt), else undefined. */
function unsignedInt(is: string | undefined): number | undefined {
  if (is === undefined || !/^\s*[+]?\d+\s*$/.test(is)) return undefined;
  const n = Number(is);
  return n <= 0x7fffffff ? n : undefined;
}

/** A FHIR-safe decimal (finite); JSON numbers keep it as written by DICOM's DS. */
function decimal(n: number | undefined): number | undefined {
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

function ext(name: string, value: Json): Json {
  return { url: `${EXT_BASE}${name}`, ...value };
}

function extensions(
  entries: ReadonlyArray<readonly [string, 'String' | 'Decimal' | 'Integer', unknown]>,
): Json[] {
  const out: Json[] = [];
  for (const [name, type, v] of entries) {
    if (v === undefined) continue;
    if (type === 'Integer' && (!Number.isInteger(v) || Math.abs(v as number) > 0x7fffffff))
      continue;
    out.push(ext(name, { [`value${type}`]: v }));
  }
  return out;
}

// ------------------------------------------------------------------ identifiers

/** A PatientID's Identifier: type MR (v2-0203); the issuer as an OID system or as assigner. */
function patientIdentifier(h: DicomHeader): Json | undefined {
  if (h.patientId === undefined) return undefined;
  const id: Json = {
    type: { coding: [{ system: V2_0203, code: 'MR' }] },
  };
  const issuer = h.issuerOfPatientId;
  if (issuer !== undefined && /^[0-2](\.(0|[1-9]\d*))+$/.test(issuer))
    id['system'] = `urn:oid:${issuer}`;
  id['value'] = h.patientId;
  if (issuer !== undefined && id['system'] === undefined) id['assigner'] = { display: issuer };
  return id;
}

/** The Patient id: from PatientID and its issuer, else from the study (no patient key). */
export function patientKey(h: DicomHeader, studyUid: string): string {
  return h.patientId === undefined
    ? stableId('pat', 'dicom-study-without-patient-id', studyUid)
    : patientIdFor(h.issuerOfPatientId ?? '', h.patientId);
}

/** The Accession Number with its issuer (0008,0051): ISO/UUID/URI → system, else assigner. */
function accessionIdentifier(h: DicomHeader): Json | undefined {
  if (h.accessionNumber === undefined) return undefined;
  const id: Json = { type: { coding: [{ system: V2_0203, code: 'ACSN' }] } };
  const u = h.accessionIssuerUniversal;
  const type = h.accessionIssuerType?.toUpperCase();
  if (u !== undefined && type === 'ISO' && /^[0-2](\.(0|[1-9]\d*))+$/.test(u))
    id['system'] = `urn:oid:${u}`;
  else if (u !== undefined && type === 'UUID' && /^[0-9a-f-]{36}$/i.test(u))
    id['system'] = `urn:uuid:${u.toLowerCase()}`;
  else if (u !== undefined && type === 'URI' && /^[a-z][a-z0-9+.-]*:\S+$/i.test(u))
    id['system'] = u;
  id['value'] = h.accessionNumber;
  const local = h.accessionIssuerLocal ?? (id['system'] === undefined ? u : undefined);
  if (local !== undefined) id['assigner'] = { display: local };
  return id;
}

// ------------------------------------------------------------------ Patient

/** A Patient from one instance's header (no meta.lastUpdated: see docs/ingest-dicom.md). */
export function patientResource(h: DicomHeader, id: string): FhirObject {
  const identifier = patientIdentifier(h);
  const name = humanName(h.patientName);
  const gender =
    h.patientSex === 'M'
      ? 'male'
      : h.patientSex === 'F'
        ? 'female'
        : h.patientSex === 'O'
          ? 'other'
          : undefined;
  const birthDate = fhirDate(h.patientBirthDate);
  return {
    resourceType: 'Patient',
    id,
    ...(identifier === undefined ? {} : { identifier: [identifier] }),
    ...(name === undefined ? {} : { name: [name] }),
    ...(gender === undefined ? {} : { gender }),
    ...(birthDate === undefined ? {} : { birthDate }),
  };
}

// ------------------------------------------------------------------ ImagingStudy

interface InstanceState {
  readonly uid: string;
  readonly sopClass: string;
  readonly number?: number;
  readonly title?: string;
  readonly extension: Json[];
}

interface SeriesState {
  readonly uid: string;
  readonly number?: number;
  readonly modality: string;
  readonly description?: string;
  readonly bodyPart?: string;
  readonly laterality?: string;
  readonly started?: string;
  readonly extension: Json[];
  readonly instances: Map<string, InstanceState>;
}

/**
 * One study's summary while a group is read: study attributes from its first instance,
 * series attributes from each series' first instance, and per instance its uid, class,
 * number, title and technical extensions (a few hundred bytes per instance).
 */
export class StudyBuilder {
  readonly uid: string;
  readonly patientId: string;
  private readonly first: DicomHeader;
  private readonly series = new Map<string, SeriesState>();
  private readonly modalities: string[] = [];

  constructor(first: DicomHeader, uid: string, assumeOffset?: string) {
    this.uid = uid;
    this.first = first;
    this.patientId = patientKey(first, uid);
    this.assumeOffset = assumeOffset;
  }

  private readonly assumeOffset: string | undefined;

  /** Adds an instance; false when the SOP Instance UID is already in the study. */
  add(
    h: DicomHeader,
    seriesUid: string,
    sopUid: string,
    sopClass: string,
    modality: string,
  ): boolean {
    let s = this.series.get(seriesUid);
    if (s === undefined) {
      const number = unsignedInt(h.seriesNumber);
      const started = fhirDateTime(h.seriesDate, h.seriesTime, h.timezoneOffset, this.assumeOffset);
      s = {
        uid: seriesUid,
        modality,
        ...(number === undefined ? {} : { number }),
        ...(h.seriesDescription === undefined ? {} : { description: h.seriesDescription }),
        ...(h.bodyPartExamined === undefined ? {} : { bodyPart: h.bodyPartExamined }),
        ...(h.laterality === undefined ? {} : { laterality: h.laterality.toUpperCase() }),
        ...(started === undefined ? {} : { started }),
        extension: extensions([
          ['manufacturer', 'String', h.manufacturer],
          ['manufacturer-model-name', 'String', h.model],
          ['station-name', 'String', h.stationName],
          ['institution-name', 'String', h.institutionName],
          ['body-part-examined', 'String', h.bodyPartExamined],
          ['protocol-name', 'String', h.protocolName],
          ['slice-thickness', 'Decimal', decimal(h.sliceThickness)],
          ['pixel-spacing-row', 'Decimal', decimal(h.pixelSpacing?.[0])],
          ['pixel-spacing-column', 'Decimal', decimal(h.pixelSpacing?.[1])],
          ['kvp', 'Decimal', decimal(h.kvp)],
        ]),
        instances: new Map(),
      };
      this.series.set(seriesUid, s);
      if (!this.modalities.includes(modality)) this.modalities.push(modality);
    }
    if (s.instances.has(sopUid)) return false;
    const number = unsignedInt(h.instanceNumber);
    s.instances.set(sopUid, {
      uid: sopUid,
      sopClass,
      ...(number === undefined ? {} : { number }),
      ...(h.title === undefined ? {} : { title: h.title }),
      extension: extensions([
        ['number-of-frames', 'Integer', h.numberOfFrames],
        ['rows', 'Integer', h.rows],
        ['columns', 'Integer', h.columns],
        ['ctdivol', 'Decimal', decimal(h.ctdiVol)],
        ['exposure-time', 'Decimal', decimal(h.exposureTimeMs)],
        ['xray-tube-current', 'Decimal', decimal(h.tubeCurrentMa)],
        ['exposure', 'Decimal', decimal(h.exposureMas)],
        ['transfer-syntax-uid', 'String', h.transferSyntax],
      ]),
    });
    return true;
  }

  /** The ImagingStudy: series by number then uid, instances likewise. */
  build(): FhirObject {
    const h = this.first;
    const identifier: Json[] = [{ system: 'urn:dicom:uid', value: `urn:oid:${this.uid}` }];
    const acc = accessionIdentifier(h);
    if (acc !== undefined) identifier.push(acc);
    const pid = patientIdentifier(h);
    const pname = humanName(h.patientName);
    const subject: Json = { reference: `Patient/${this.patientId}` };
    if (pid !== undefined) subject['identifier'] = pid;
    if (pname?.['text'] !== undefined) subject['display'] = pname['text'];
    const started = fhirDateTime(h.studyDate, h.studyTime, h.timezoneOffset, this.assumeOffset);
    const referrer = humanName(h.referringPhysician)?.['text'];
    const byNumber = <T extends { number?: number; uid: string }>(a: T, b: T): number =>
      (a.number ?? Infinity) - (b.number ?? Infinity) ||
      (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);
    let instances = 0;
    const series = [...this.series.values()].sort(byNumber).map((s) => {
      const list = [...s.instances.values()].sort(byNumber);
      instances += list.length;
      const coded =
        s.bodyPart === undefined ? undefined : BODY_PART_SNOMED[s.bodyPart.toUpperCase()];
      const lat = s.laterality === undefined ? undefined : LATERALITY[s.laterality];
      return {
        ...(s.extension.length === 0 ? {} : { extension: s.extension }),
        uid: s.uid,
        ...(s.number === undefined ? {} : { number: s.number }),
        modality: { system: DCM_SYSTEM, code: s.modality },
        ...(s.description === undefined ? {} : { description: s.description }),
        numberOfInstances: list.length,
        ...(s.bodyPart === undefined
          ? {}
          : {
              bodySite:
                coded === undefined ? { display: s.bodyPart } : { system: SNOMED, ...coded },
            }),
        ...(lat === undefined ? {} : { laterality: { system: SNOMED, ...lat } }),
        ...(s.started === undefined ? {} : { started: s.started }),
        instance: list.map((i) => ({
          ...(i.extension.length === 0 ? {} : { extension: i.extension }),
          uid: i.uid,
          sopClass: { system: 'urn:ietf:rfc:3986', code: `urn:oid:${i.sopClass}` },
          ...(i.number === undefined ? {} : { number: i.number }),
          ...(i.title === undefined ? {} : { title: i.title }),
        })),
      };
    });
    return {
      resourceType: 'ImagingStudy',
      id: stableId('img', this.uid),
      identifier,
      status: 'available',
      modality: this.modalities.map((code) => ({ system: DCM_SYSTEM, code })),
      subject,
      ...(started === undefined ? {} : { started }),
      ...(referrer === undefined ? {} : { referrer: { display: referrer } }),
      numberOfSeries: series.length,
      numberOfInstances: instances,
      ...(h.studyDescription === undefined ? {} : { description: h.studyDescription }),
      series,
    };
  }
}
