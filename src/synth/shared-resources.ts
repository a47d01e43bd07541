/**
 * The organisations every patient's encounters point to: per site one Organization, one
 * Location (with a bed count) and a few Practitioners. Written before any patient so
 * every reference resolves; their number depends only on --patients.
 */
import {
  FAMILY_NAMES,
  GIVEN_NAMES,
  PLACE_CUMULATIVE,
  PLACES,
  STREET_NAMES,
} from './demographics.js';
import type { Place } from './demographics.js';
import { Random } from './random.js';
import {
  CN_PLACE_CUMULATIVE,
  CN_PLACES,
  CN_STREET_NAMES,
  cnPatientNames,
  drawCnPerson,
} from './region-cn.js';
import type { CnPlace } from './region-cn.js';
import type { SynthRegion } from './truth.js';

/** medlake-defined extension: Location has no element for a bed count. */
export const BED_COUNT_EXTENSION_URL = 'https://medlake.org/fhir/StructureDefinition/bed-count';
export const PRACTITIONERS_PER_SITE = 4;
const STREAM_SHARED = 0x5348;

export interface Site {
  /** A hospital (admissions, bed counts in the hundreds), else a clinic. */
  readonly hospital: boolean;
  readonly organizationId: string;
  readonly organizationName: string;
  readonly locationId: string;
  readonly practitionerIds: readonly string[];
  readonly practitionerNames: readonly string[];
}

/** One site per 5,000 patients, at least 3 and at most 50. */
export function siteCount(patients: number): number {
  return Math.min(50, 3 + Math.floor(patients / 5000));
}

export interface JsonResource {
  readonly resourceType: string;
  readonly id: string;
  readonly [key: string]: unknown;
}

export interface SiteWithResources {
  readonly site: Site;
  readonly resources: readonly JsonResource[];
}

export function makeSite(
  seed: number,
  index: number,
  region: SynthRegion = 'us',
): SiteWithResources {
  const rng = new Random(seed, STREAM_SHARED, index);
  if (region === 'cn') return makeCnSite(rng, index);
  const place: Place = PLACES[rng.pickCumulative(PLACE_CUMULATIVE)] as Place;
  const hospital = rng.chance(0.5);
  const name = `${place.city} ${hospital ? 'General Hospital' : 'Community Clinic'} ${index + 1}`;
  const orgId = rng.uuid();
  const locId = rng.uuid();
  const address = {
    line: [`${rng.int(1, 9999)} ${rng.pick(STREET_NAMES)}`],
    city: place.city,
    state: place.state,
    postalCode: `${place.zip3}${String(rng.int(0, 99)).padStart(2, '0')}`,
    country: 'US',
  };
  return siteResources(
    rng,
    { hospital, name, orgId, locId, address },
    (female) => {
      const given = rng.pick(GIVEN_NAMES[female ? 'female' : 'male']);
      const family = rng.pick(FAMILY_NAMES);
      return {
        display: `Dr. ${given} ${family}`,
        name: [{ family, given: [given], prefix: ['Dr.'] }],
        identifier: {
          system: 'http://hl7.org/fhir/sid/us-npi',
          value: String(rng.int(1000000000, 1999999999)),
        },
      };
    },
    'http://hl7.org/fhir/us/core/StructureDefinition/',
  );
}

/**
 * A Chinese site: a city's people's hospital (人民医院) or a community health service
 * centre (社区卫生服务中心), practitioners with Chinese names and a medlake staff number
 * (China has no public practitioner identifier system like the NPI).
 */
function makeCnSite(rng: Random, index: number): SiteWithResources {
  const place = CN_PLACES[rng.pickCumulative(CN_PLACE_CUMULATIVE)] as CnPlace;
  const hospital = rng.chance(0.5);
  const name = hospital
    ? `${place.city}第${index + 1}人民医院`
    : `${place.city}${place.district}第${index + 1}社区卫生服务中心`;
  const orgId = rng.uuid();
  const locId = rng.uuid();
  const street = `${rng.pick(CN_STREET_NAMES)}${rng.int(1, 300)}号`;
  const address = {
    line: [street],
    city: place.city,
    district: place.district,
    state: place.province,
    postalCode: place.postalCode,
    country: 'CN',
  };
  return siteResources(
    rng,
    { hospital, name, orgId, locId, address },
    (female) => {
      const p = drawCnPerson(rng, female ? 'female' : 'male');
      return {
        display: `${p.family}${p.given}医生`,
        name: cnPatientNames(p),
        identifier: {
          system: 'https://medlake.org/fhir/synth/practitioner-staff-number',
          value: String(rng.int(100000, 999999)),
        },
      };
    },
    null,
  );
}

interface SiteBasics {
  readonly hospital: boolean;
  readonly name: string;
  readonly orgId: string;
  readonly locId: string;
  readonly address: Record<string, unknown>;
}

interface PractitionerBasics {
  readonly display: string;
  readonly name: unknown[];
  readonly identifier: { readonly system: string; readonly value: string };
}

/** The Organization, Location and Practitioners of a site (US Core profiles for `us`). */
function siteResources(
  rng: Random,
  b: SiteBasics,
  practitioner: (female: boolean) => PractitionerBasics,
  profileBase: string | null,
): SiteWithResources {
  const { hospital, name, orgId, locId, address } = b;
  const profile = (p: string): Record<string, unknown> =>
    profileBase === null ? {} : { meta: { profile: [profileBase + p] } };
  const resources: JsonResource[] = [
    {
      resourceType: 'Organization',
      id: orgId,
      ...profile('us-core-organization'),
      active: true,
      type: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/organization-type',
              code: 'prov',
              display: 'Healthcare Provider',
            },
          ],
          text: 'Healthcare Provider',
        },
      ],
      name,
      address: [address],
    },
    {
      resourceType: 'Location',
      id: locId,
      extension: [
        {
          url: BED_COUNT_EXTENSION_URL,
          valueInteger: hospital ? rng.int(80, 600) : rng.int(0, 10),
        },
      ],
      status: 'active',
      name,
      type: [
        {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode',
              code: hospital ? 'HOSP' : 'OUTPHARM',
              display: hospital ? 'Hospital' : 'outpatient facility',
            },
          ],
        },
      ],
      address,
      managingOrganization: { reference: `Organization/${orgId}`, display: name },
    },
  ];
  const practitionerIds: string[] = [];
  const practitionerNames: string[] = [];
  for (let p = 0; p < PRACTITIONERS_PER_SITE; p++) {
    const id = rng.uuid();
    const female = rng.chance(0.5);
    const who = practitioner(female);
    practitionerIds.push(id);
    practitionerNames.push(who.display);
    resources.push({
      resourceType: 'Practitioner',
      id,
      ...profile('us-core-practitioner'),
      identifier: [who.identifier],
      active: true,
      name: who.name,
      gender: female ? 'female' : 'male',
    });
  }
  return {
    site: {
      hospital,
      organizationId: orgId,
      organizationName: name,
      locationId: locId,
      practitionerIds,
      practitionerNames,
    },
    resources,
  };
}
