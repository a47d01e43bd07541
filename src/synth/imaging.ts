/**
 * The `imaging` part: imaging studies ordered by the patient's care. For each new condition
 * event of the core history (and some wellness visits) it may order a study, attached to
 * the Encounter the core emitted for it, and emits a FHIR R4 `ImagingStudy` (DICOM UIDs,
 * series, instances) and its radiology `DiagnosticReport` (narrative report, base64
 * text/plain). The `dicom` writer (write-dicom.ts) turns each instance into a DICOM file
 * with the same UIDs.
 *
 * UIDs are `2.25.<decimal of a 128-bit UUID>` (ISO/IEC 9834-8: needs no registered root),
 * drawn from this part's stream, so they are deterministic.
 */
import { CONDITIONS } from './conditions.js';
import type { ConditionKey } from './conditions.js';
import { ageOn } from './dates.js';
import { PART_STREAMS } from './parts.js';
import type { Counters, PatientOutput, SynthPart, SynthPartFactory, SynthRun } from './parts.js';
import type { ConditionEvent } from './patient-history.js';
import type { Random } from './random.js';
import type { JsonResource } from './shared-resources.js';

const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
export const ACCESSION_SYSTEM = 'https://medlake.org/fhir/synth/accession-number';

export const MODALITIES = ['CR', 'DX', 'CT', 'MR', 'US', 'MG'] as const;
export type Modality = (typeof MODALITIES)[number];

/** DICOM modality (DCM) displays and the Storage SOP Class each modality's images use. */
export const MODALITY_INFO: Readonly<
  Record<Modality, { display: string; sopClass: string; sopDisplay: string }>
> = {
  CR: {
    display: 'Computed Radiography',
    sopClass: '1.2.840.10008.5.1.4.1.1.1',
    sopDisplay: 'Computed Radiography Image Storage',
  },
  DX: {
    display: 'Digital Radiography',
    sopClass: '1.2.840.10008.5.1.4.1.1.1.1',
    sopDisplay: 'Digital X-Ray Image Storage - For Presentation',
  },
  CT: {
    display: 'Computed Tomography',
    sopClass: '1.2.840.10008.5.1.4.1.1.2',
    sopDisplay: 'CT Image Storage',
  },
  MR: {
    display: 'Magnetic Resonance',
    sopClass: '1.2.840.10008.5.1.4.1.1.4',
    sopDisplay: 'MR Image Storage',
  },
  US: {
    display: 'Ultrasound',
    sopClass: '1.2.840.10008.5.1.4.1.1.6.1',
    sopDisplay: 'Ultrasound Image Storage',
  },
  MG: {
    display: 'Mammography',
    sopClass: '1.2.840.10008.5.1.4.1.1.1.2',
    sopDisplay: 'Digital Mammography X-Ray Image Storage - For Presentation',
  },
};

/** Body sites: SNOMED CT body structure and the DICOM Body Part Examined defined term. */
export const BODY_SITES = {
  chest: { code: '51185008', display: 'Thoracic structure (body structure)', dicom: 'CHEST' },
  head: { code: '69536005', display: 'Head structure (body structure)', dicom: 'HEAD' },
  brain: { code: '12738006', display: 'Brain structure (body structure)', dicom: 'BRAIN' },
  hip: { code: '24136001', display: 'Hip joint structure (body structure)', dicom: 'HIP' },
  kidney: { code: '64033007', display: 'Kidney structure (body structure)', dicom: 'KIDNEY' },
  breast: { code: '76752008', display: 'Breast structure (body structure)', dicom: 'BREAST' },
} as const;
type BodySiteKey = keyof typeof BODY_SITES;

/** SNOMED code of a body site -> DICOM Body Part Examined (for the writer). */
export const BODY_PART_BY_SNOMED: Readonly<Record<string, string>> = Object.fromEntries(
  Object.values(BODY_SITES).map((b) => [b.code, b.dicom]),
);

export const STUDY_KINDS = [
  'chestXray',
  'ctHead',
  'mrBrain',
  'hipXray',
  'kidneyUs',
  'mammography',
] as const;
export type StudyKind = (typeof STUDY_KINDS)[number];

interface SeriesSpec {
  readonly description: string;
  /** Instances, inclusive range. */
  readonly instances: readonly [number, number];
}

interface StudySpec {
  /** X-ray studies are CR at clinics and DX at hospitals. */
  readonly modality: Modality | 'XR';
  readonly procedure: { readonly code: string; readonly display: string };
  readonly text: string;
  readonly bodySite: BodySiteKey;
  readonly series: readonly SeriesSpec[];
}

export const STUDIES: Readonly<Record<StudyKind, StudySpec>> = {
  chestXray: {
    modality: 'XR',
    procedure: { code: '399208008', display: 'Plain X-ray of chest (procedure)' },
    text: 'XR Chest',
    bodySite: 'chest',
    series: [{ description: 'Chest', instances: [1, 2] }],
  },
  ctHead: {
    modality: 'CT',
    procedure: { code: '303653007', display: 'Computed tomography of head (procedure)' },
    text: 'CT Head without contrast',
    bodySite: 'head',
    series: [
      { description: 'Axial 5 mm brain', instances: [24, 32] },
      { description: 'Axial 2.5 mm bone', instances: [40, 60] },
    ],
  },
  mrBrain: {
    modality: 'MR',
    procedure: { code: '816077007', display: 'Magnetic resonance imaging of brain (procedure)' },
    text: 'MR Brain without contrast',
    bodySite: 'brain',
    series: [
      { description: 'Ax DWI', instances: [20, 30] },
      { description: 'Ax ADC', instances: [20, 30] },
      { description: 'Ax T2 FLAIR', instances: [20, 30] },
      { description: 'Sag T1', instances: [20, 30] },
    ],
  },
  hipXray: {
    modality: 'XR',
    procedure: { code: '783628002', display: 'Plain X-ray of hip (procedure)' },
    text: 'XR Hip and Pelvis',
    bodySite: 'hip',
    series: [{ description: 'AP pelvis and lateral hip', instances: [2, 3] }],
  },
  kidneyUs: {
    modality: 'US',
    procedure: { code: '306005', display: 'Echography of kidney (procedure)' },
    text: 'US Kidneys',
    bodySite: 'kidney',
    series: [{ description: 'Renal ultrasound', instances: [4, 8] }],
  },
  mammography: {
    modality: 'MG',
    procedure: { code: '24623002', display: 'Screening mammography (procedure)' },
    text: 'MG Screening bilateral',
    bodySite: 'breast',
    series: [{ description: 'Screening RCC LCC RMLO LMLO', instances: [4, 4] }],
  },
};

/** Why a study is ordered: a condition of the core, or screening at a wellness visit. */
export const IMAGING_REASONS = [
  'pneumonia',
  'influenza',
  'stroke',
  'hipFracture',
  'heartFailure',
  'copd',
  'ckd',
  'myocardialInfarction',
  'screening',
] as const;
export type ImagingReason = (typeof IMAGING_REASONS)[number];

/**
 * Probability of each study for a new event (assumptions, documented in
 * docs/synth-imaging.md): per condition onset, split by the care setting where it matters.
 */
export const IMAGING_RATES = {
  pneumonia: { chestXray: 0.95 },
  influenza: { chestXrayEmergency: 0.4, chestXrayOffice: 0.05 },
  stroke: { ctHead: 0.97, mrBrainAfterCt: 0.5 },
  hipFracture: { hipXray: 1 },
  heartFailure: { chestXray: 0.8 },
  copd: { chestXray: 0.5 },
  ckd: { kidneyUs: 0.3 },
  myocardialInfarction: { chestXray: 0.6 },
  /** Women 50-74 at a wellness visit: biennial screening, taken up by about 3 in 4. */
  screening: { ageFrom: 50, ageTo: 74, mammographyIfNoneLastVisit: 0.75 },
} as const;

interface Enc {
  readonly id: string;
  readonly start: number;
  /** ms; null while in progress. */
  readonly end: number | null;
  readonly location: string;
  readonly organization: string;
  readonly hospital: boolean;
}

const MS_PER_MIN = 60_000;
const MS_PER_DAY = 86_400_000;

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}

/** A DICOM UID 2.25.<128-bit integer> from a UUID drawn from `rng`. */
export function dicomUid(rng: Random): string {
  return '2.25.' + BigInt('0x' + rng.uuid().replace(/-/g, '')).toString();
}

interface Tally {
  studies: number;
  series: number;
  instances: number;
  reports: number;
  byModality: Record<Modality, number>;
  byKind: Record<StudyKind, number>;
  byReason: Record<ImagingReason, number>;
  /** Occasions at which the reason could order a study (condition onsets, eligible visits). */
  eligible: Record<ImagingReason, number>;
}

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> =>
  Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** Reads the core's Encounters of a patient: by (reason code, start day) and wellness day. */
function encounterIndex(
  resources: readonly JsonResource[],
  hospitalLocations: ReadonlySet<string>,
): { byReason: Map<string, Enc>; wellness: Map<number, Enc> } {
  const byReason = new Map<string, Enc>();
  const wellness = new Map<number, Enc>();
  for (const r of resources) {
    if (r.resourceType !== 'Encounter' || r['partOf'] !== undefined) continue;
    const period = r['period'] as { start: string; end?: string };
    const location = (r['location'] as { location: { reference: string } }[])[0]?.location
      .reference as string;
    const enc: Enc = {
      id: r.id,
      start: Date.parse(period.start),
      end: period.end === undefined ? null : Date.parse(period.end),
      location,
      organization: (r['serviceProvider'] as { reference: string }).reference,
      hospital: hospitalLocations.has(location),
    };
    const day = Math.floor(enc.start / MS_PER_DAY);
    const reason = (r['reasonCode'] as { coding: { code: string }[] }[] | undefined)?.[0]?.coding[0]
      ?.code;
    if (reason === undefined) wellness.set(day, enc);
    else byReason.set(`${reason}|${day}`, enc);
  }
  return { byReason, wellness };
}

export const imagingPart: SynthPartFactory = (run: SynthRun): SynthPart => {
  const t: Tally = {
    studies: 0,
    series: 0,
    instances: 0,
    reports: 0,
    byModality: zeros(MODALITIES),
    byKind: zeros(STUDY_KINDS),
    byReason: zeros(IMAGING_REASONS),
    eligible: zeros(IMAGING_REASONS),
  };
  const hospitalLocations = new Set(run.sites.filter((s) => s.hospital).map((s) => s.locationId));
  const hospitalLocationRefs = new Set([...hospitalLocations].map((id) => `Location/${id}`));

  return {
    name: 'imaging',
    stream: PART_STREAMS.imaging,
    resourceTypes: ['ImagingStudy', 'DiagnosticReport'],

    patient(out: PatientOutput, rng: Random): void {
      const h = out.history;
      const site = run.sites[h.site];
      if (site === undefined) return;
      const practitioner = {
        reference: `Practitioner/${site.practitionerIds[h.practitioner] as string}`,
        display: site.practitionerNames[h.practitioner] as string,
      };
      const { byReason, wellness } = encounterIndex(out.resources, hospitalLocationRefs);
      const deathMs = h.death === null ? null : h.death * MS_PER_DAY + h.deathMinute * MS_PER_MIN;
      // Nothing is recorded after a death or after the window's last minute.
      const lastMs = Math.min(
        deathMs ?? Infinity,
        (run.window.endDay + 1) * MS_PER_DAY - MS_PER_MIN,
      );
      const added: JsonResource[] = [];
      let accession = 0;

      /** Orders one study in `enc`, `delay` minutes (a range) after its start. */
      const study = (
        kind: StudyKind,
        reason: ImagingReason,
        enc: Enc,
        delay: readonly [number, number],
        finding: Finding,
        mustFit = false,
      ): void => {
        const spec = STUDIES[kind];
        const modality: Modality =
          spec.modality === 'XR' ? (enc.hospital ? 'DX' : 'CR') : spec.modality;
        // Inside the encounter: never after its end (or the death that ended it).
        let started = enc.start + rng.int(delay[0], delay[1]) * MS_PER_MIN;
        const last = Math.min((enc.end ?? Infinity) - MS_PER_MIN, lastMs);
        if (started > last) {
          // A later study (MR after CT) that no longer fits the stay is not done.
          if (mustFit) return;
          started = Math.max(enc.start, last);
        }
        const studyUid = dicomUid(rng);
        const m = MODALITY_INFO[modality];
        const body = BODY_SITES[spec.bodySite];
        let instances = 0;
        const series = spec.series.map((s, i) => {
          const n = rng.int(s.instances[0], s.instances[1]);
          instances += n;
          const seriesUid = dicomUid(rng);
          return {
            uid: seriesUid,
            number: i + 1,
            modality: { system: DCM, code: modality, display: m.display },
            description:
              kind === 'chestXray' ? `Chest ${n === 1 ? '1 view' : '2 views'}` : s.description,
            numberOfInstances: n,
            bodySite: { system: SNOMED, code: body.code, display: body.display },
            started: iso(started),
            instance: Array.from({ length: n }, (_, k) => ({
              uid: dicomUid(rng),
              sopClass: { system: 'urn:ietf:rfc:3986', code: `urn:oid:${m.sopClass}` },
              number: k + 1,
            })),
          };
        });
        accession++;
        const accessionNumber = `R${String(h.index).padStart(8, '0')}${String(accession).padStart(3, '0')}`;
        const id = rng.uuid();
        const reasonCode =
          reason === 'screening'
            ? [{ text: 'Screening for malignant neoplasm of breast' }]
            : [
                {
                  coding: [{ system: SNOMED, ...CONDITIONS[reason].snomed }],
                  text: CONDITIONS[reason].snomed.display,
                },
              ];
        added.push({
          resourceType: 'ImagingStudy',
          id,
          identifier: [
            { use: 'official', system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` },
            {
              use: 'usual',
              type: {
                coding: [
                  {
                    system: 'http://terminology.hl7.org/CodeSystem/v2-0203',
                    code: 'ACSN',
                    display: 'Accession ID',
                  },
                ],
              },
              system: ACCESSION_SYSTEM,
              value: accessionNumber,
              assigner: { reference: enc.organization },
            },
          ],
          status: 'available',
          modality: [{ system: DCM, code: modality, display: m.display }],
          subject: { reference: `Patient/${h.id}` },
          encounter: { reference: `Encounter/${enc.id}` },
          started: iso(started),
          referrer: practitioner,
          numberOfSeries: series.length,
          numberOfInstances: instances,
          procedureCode: [{ coding: [{ system: SNOMED, ...spec.procedure }], text: spec.text }],
          location: { reference: enc.location },
          reasonCode,
          description: spec.text,
          series,
        });
        // The radiologist's report, 20 minutes to 4 hours later (not after a death).
        let issued = started + rng.int(20, 240) * MS_PER_MIN;
        if (issued > lastMs) issued = Math.max(started, lastMs);
        const text = reportText(spec, modality, reason, finding, instances, rng);
        added.push({
          resourceType: 'DiagnosticReport',
          id: rng.uuid(),
          meta: { profile: [US_CORE + 'us-core-diagnosticreport-note'] },
          identifier: [{ system: ACCESSION_SYSTEM, value: accessionNumber }],
          status: 'final',
          category: [
            {
              coding: [
                { system: LOINC, code: 'LP29684-5', display: 'Radiology' },
                {
                  system: 'http://terminology.hl7.org/CodeSystem/v2-0074',
                  code: 'RAD',
                  display: 'Radiology',
                },
              ],
            },
          ],
          code: {
            coding: [{ system: LOINC, code: '18748-4', display: 'Diagnostic imaging study' }],
            text: spec.text,
          },
          subject: { reference: `Patient/${h.id}` },
          encounter: { reference: `Encounter/${enc.id}` },
          effectiveDateTime: iso(started),
          issued: iso(issued),
          performer: [{ reference: enc.organization }],
          imagingStudy: [{ reference: `ImagingStudy/${id}` }],
          conclusion: text.impression,
          ...(text.conclusionCode === null
            ? {}
            : {
                conclusionCode: [
                  {
                    coding: [{ system: SNOMED, ...CONDITIONS[text.conclusionCode].snomed }],
                    text: CONDITIONS[text.conclusionCode].snomed.display,
                  },
                ],
              }),
          presentedForm: [
            {
              contentType: 'text/plain',
              language: 'en-US',
              data: Buffer.from(text.full, 'utf8').toString('base64'),
              title: `${spec.text} report`,
            },
          ],
        });
        t.studies++;
        t.reports++;
        t.series += series.length;
        t.instances += instances;
        t.byModality[modality]++;
        t.byKind[kind]++;
        t.byReason[reason]++;
      };

      const eventEncounter = (e: ConditionEvent): Enc | undefined =>
        byReason.get(`${CONDITIONS[e.key].snomed.code}|${e.onset}`);

      // Condition events first (in history order), then screening at wellness visits.
      for (const e of h.events) {
        if (e.prevalentAtStart || !isImagingReason(e.key)) continue;
        const enc = eventEncounter(e);
        if (enc === undefined) continue;
        t.eligible[e.key]++;
        const r = IMAGING_RATES;
        switch (e.key) {
          case 'pneumonia':
            if (rng.chance(r.pneumonia.chestXray))
              study('chestXray', e.key, enc, [10, 90], { kind: 'pneumonia' });
            break;
          case 'influenza':
            if (
              rng.chance(e.emergency ? r.influenza.chestXrayEmergency : r.influenza.chestXrayOffice)
            )
              study('chestXray', e.key, enc, [10, 90], { kind: 'clear' });
            break;
          case 'stroke':
            if (rng.chance(r.stroke.ctHead)) {
              const side = rng.chance(0.5) ? 'left' : 'right';
              const visible = rng.chance(0.4);
              study('ctHead', e.key, enc, [5, 30], { kind: 'stroke', side, visible });
              if (rng.chance(r.stroke.mrBrainAfterCt))
                study(
                  'mrBrain',
                  e.key,
                  enc,
                  [12 * 60, 36 * 60],
                  { kind: 'stroke', side, visible: true },
                  true,
                );
            }
            break;
          case 'hipFracture':
            if (rng.chance(r.hipFracture.hipXray))
              study('hipXray', e.key, enc, [10, 60], {
                kind: 'hip',
                side: rng.chance(0.5) ? 'left' : 'right',
              });
            break;
          case 'heartFailure':
            if (rng.chance(r.heartFailure.chestXray))
              study('chestXray', e.key, enc, [5, 40], { kind: 'heartFailure' });
            break;
          case 'copd':
            if (rng.chance(r.copd.chestXray))
              study('chestXray', e.key, enc, [5, 40], { kind: 'copd' });
            break;
          case 'ckd':
            if (rng.chance(r.ckd.kidneyUs)) study('kidneyUs', e.key, enc, [5, 40], { kind: 'ckd' });
            break;
          case 'myocardialInfarction':
            if (rng.chance(r.myocardialInfarction.chestXray))
              study('chestXray', e.key, enc, [15, 120], { kind: 'mi' });
            break;
          default:
            break;
        }
      }
      if (h.sex === 'female') {
        let screenedLastVisit = false;
        for (const day of h.wellness) {
          const age = ageOn(h.birth, day);
          const enc = wellness.get(day);
          if (
            age < IMAGING_RATES.screening.ageFrom ||
            age > IMAGING_RATES.screening.ageTo ||
            enc === undefined
          ) {
            screenedLastVisit = false;
            continue;
          }
          t.eligible.screening++;
          const screen: boolean =
            !screenedLastVisit && rng.chance(IMAGING_RATES.screening.mammographyIfNoneLastVisit);
          if (screen) study('mammography', 'screening', enc, [5, 40], { kind: 'mammography' });
          screenedLastVisit = screen;
        }
      }
      // Output order: by study time, so a patient's resources stay chronological.
      const pairs: [JsonResource, JsonResource][] = [];
      for (let i = 0; i < added.length; i += 2)
        pairs.push([added[i] as JsonResource, added[i + 1] as JsonResource]);
      pairs.sort(
        (a, b) => Date.parse(String(a[0]['started'])) - Date.parse(String(b[0]['started'])),
      );
      for (const [s, d] of pairs) out.resources.push(s, d);
    },

    parameters(): unknown {
      return {
        rates: IMAGING_RATES,
        studies: Object.fromEntries(
          STUDY_KINDS.map((k) => {
            const s = STUDIES[k];
            return [
              k,
              {
                modality: s.modality === 'XR' ? 'CR (clinic) / DX (hospital)' : s.modality,
                procedureSnomed: s.procedure.code,
                bodySiteSnomed: BODY_SITES[s.bodySite].code,
                series: s.series.map((x) => ({
                  description: x.description,
                  instances: x.instances,
                })),
              },
            ];
          }),
        ),
        uidRoot: '2.25',
        reportLoinc: '18748-4',
      };
    },

    counters(): Counters {
      return { ...t };
    },

    realised(counters: Counters): unknown {
      const c = counters as unknown as Tally;
      return {
        studies: c.studies,
        series: c.series,
        instances: c.instances,
        reports: c.reports,
        byModality: c.byModality,
        byKind: c.byKind,
        byReason: Object.fromEntries(
          IMAGING_REASONS.map((r) => [
            r,
            {
              eligible: c.eligible[r],
              studies: c.byReason[r],
              studiesPerEligible:
                c.eligible[r] === 0
                  ? null
                  : Math.round((c.byReason[r] / c.eligible[r]) * 1e4) / 1e4,
            },
          ]),
        ),
      };
    },
  };
};

function isImagingReason(key: ConditionKey): key is ConditionKey & ImagingReason {
  return (IMAGING_REASONS as readonly string[]).includes(key);
}

/** What the images show; drawn when the study is ordered. */
type Finding =
  | { kind: 'pneumonia' | 'clear' | 'heartFailure' | 'copd' | 'ckd' | 'mi' | 'mammography' }
  | { kind: 'stroke'; side: 'left' | 'right'; visible: boolean }
  | { kind: 'hip'; side: 'left' | 'right' };

interface ReportText {
  readonly full: string;
  readonly impression: string;
  readonly conclusionCode: ConditionKey | null;
}

/** BI-RADS breast composition a-d, weighted about 1:4:4:1 as in screening populations. */
const BREAST_DENSITY = [
  'The breasts are almost entirely fatty.',
  'There are scattered areas of fibroglandular density.',
  'There are scattered areas of fibroglandular density.',
  'There are scattered areas of fibroglandular density.',
  'There are scattered areas of fibroglandular density.',
  'The breasts are heterogeneously dense.',
  'The breasts are heterogeneously dense.',
  'The breasts are heterogeneously dense.',
  'The breasts are heterogeneously dense.',
  'The breasts are extremely dense.',
];

const LOBES = ['right lower lobe', 'left lower lobe', 'right middle lobe', 'right upper lobe'];

/** A short radiology report: findings and impression consistent with the reason. */
function reportText(
  spec: StudySpec,
  modality: Modality,
  reason: ImagingReason,
  f: Finding,
  instances: number,
  rng: Random,
): ReportText {
  const chestViews =
    instances === 1 ? 'Single frontal view of the chest.' : 'PA and lateral views of the chest.';
  let findings: string;
  let impression: string;
  let code: ConditionKey | null = null;
  let technique: string;
  switch (f.kind) {
    case 'pneumonia': {
      const lobe = rng.pick(LOBES);
      technique = chestViews;
      findings =
        `Focal airspace consolidation in the ${lobe} with air bronchograms. ` +
        'No pleural effusion or pneumothorax. Cardiomediastinal silhouette within normal limits.';
      impression = `Consolidation in the ${lobe}, consistent with pneumonia.`;
      code = 'pneumonia';
      break;
    }
    case 'clear':
      technique = chestViews;
      findings =
        'Lungs are clear. No focal consolidation, pleural effusion or pneumothorax. ' +
        'Heart size is normal.';
      impression = 'No acute cardiopulmonary process.';
      break;
    case 'heartFailure':
      technique = chestViews;
      findings =
        'The cardiac silhouette is enlarged. Pulmonary vascular congestion with interstitial ' +
        'edema and small bilateral pleural effusions. No focal consolidation.';
      impression = 'Cardiomegaly with pulmonary edema and small bilateral effusions.';
      code = 'heartFailure';
      break;
    case 'copd':
      technique = chestViews;
      findings =
        'The lungs are hyperinflated with flattened hemidiaphragms and increased retrosternal ' +
        'airspace. No focal consolidation, effusion or pneumothorax.';
      impression = 'Hyperinflation consistent with chronic obstructive pulmonary disease.';
      code = 'copd';
      break;
    case 'mi':
      technique = chestViews;
      findings =
        'Heart size is upper normal. Mild pulmonary vascular prominence. No focal ' +
        'consolidation or pneumothorax.';
      impression = 'No acute cardiopulmonary abnormality apart from mild vascular prominence.';
      break;
    case 'stroke': {
      const territory = `${f.side} middle cerebral artery territory`;
      if (modality === 'CT') {
        technique = 'Axial images of the head without intravenous contrast.';
        findings = f.visible
          ? `No intracranial hemorrhage. Subtle hypodensity and loss of gray-white ` +
            `differentiation in the ${territory}. No midline shift.`
          : 'No intracranial hemorrhage, mass effect or midline shift. Gray-white ' +
            'differentiation is preserved.';
        impression = f.visible
          ? `Early acute ischemic infarct in the ${territory}. No hemorrhage.`
          : 'No acute intracranial hemorrhage. Early ischemia is not excluded.';
        if (f.visible) code = 'stroke';
      } else {
        technique = 'Multiplanar multisequence MR imaging of the brain without contrast.';
        findings =
          `Restricted diffusion with corresponding low ADC signal in the ${territory}, ` +
          'with mild FLAIR hyperintensity. No hemorrhage. No hydrocephalus.';
        impression = `Acute ischemic infarct in the ${territory}.`;
        code = 'stroke';
      }
      break;
    }
    case 'hip': {
      const displaced = rng.chance(0.6);
      technique = `AP pelvis and lateral view of the ${f.side} hip.`;
      findings =
        `${displaced ? 'Displaced' : 'Non-displaced'} fracture of the ${f.side} femoral neck. ` +
        'The acetabulum is intact. Diffuse osteopenia.';
      impression = `${displaced ? 'Displaced' : 'Non-displaced'} ${f.side} femoral neck fracture.`;
      code = 'hipFracture';
      break;
    }
    case 'ckd': {
      const right = (8.6 + rng.next() * 1.6).toFixed(1);
      const left = (8.8 + rng.next() * 1.6).toFixed(1);
      technique = 'Real-time grayscale sonography of both kidneys.';
      findings =
        `Right kidney ${right} cm, left kidney ${left} cm. Increased cortical echogenicity ` +
        'bilaterally with cortical thinning. No hydronephrosis, stones or masses.';
      impression = 'Echogenic kidneys consistent with medical renal disease. No hydronephrosis.';
      code = 'ckd';
      break;
    }
    case 'mammography': {
      const benign = rng.chance(0.15);
      technique = 'Bilateral CC and MLO views.';
      findings =
        `${rng.pick(BREAST_DENSITY)} ` +
        (benign
          ? 'Stable benign-appearing calcifications. No suspicious mass or architectural distortion.'
          : 'No suspicious mass, calcifications or architectural distortion.');
      impression = benign ? 'BI-RADS 2: Benign.' : 'BI-RADS 1: Negative.';
      break;
    }
  }
  const indication =
    reason === 'screening'
      ? 'Screening for malignant neoplasm of breast'
      : CONDITIONS[reason].snomed.display.replace(/ \(disorder\)$/, '');
  const full =
    `EXAMINATION: ${spec.text} (${modality})\n` +
    `CLINICAL INDICATION: ${indication}\n` +
    `TECHNIQUE: ${technique}\n` +
    'COMPARISON: None.\n' +
    `FINDINGS: ${findings}\n` +
    `IMPRESSION: ${impression}\n`;
  return { full, impression, conclusionCode: code };
}
