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

/** medlake-defined extension: Location has no element for a bed count. */
export const BED_COUNT_EXTENSION_URL = 'https://medlake.org/fhir/StructureDefinition/bed-count';
export const PRACTITIONERS_PER_SITE = 4;
const STREAM_SHARED = 0x5348;

export interface Site {
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

export function makeSite(seed: number, index: number): SiteWithResources {
  const rng = new Random(seed, STREAM_SHARED, index);
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
  const resources: JsonResource[] = [
    {
      resourceType: 'Organization',
      id: orgId,
      meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-organization'] },
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
    const given = rng.pick(GIVEN_NAMES[female ? 'female' : 'male']);
    const family = rng.pick(FAMILY_NAMES);
    practitionerIds.push(id);
    practitionerNames.push(`Dr. ${given} ${family}`);
    resources.push({
      resourceType: 'Practitioner',
      id,
      meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitioner'] },
      identifier: [
        {
          system: 'http://hl7.org/fhir/sid/us-npi',
          value: String(rng.int(1000000000, 1999999999)),
        },
      ],
      active: true,
      name: [{ family, given: [given], prefix: ['Dr.'] }],
      gender: female ? 'female' : 'male',
    });
  }
  return {
    site: {
      organizationId: orgId,
      organizationName: name,
      locationId: locId,
      practitionerIds,
      practitionerNames,
    },
    resources,
  };
}
