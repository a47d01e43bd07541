/**
 * Population tables for region `us`: age/sex structure, race and ethnicity, places, names.
 * Sources are cited in docs/synth.md.
 */
import { cumulative } from './random.js';

export const SEXES = ['male', 'female'] as const;
export type Sex = (typeof SEXES)[number];

/** 5-year age bands 0-4 … 80-84, then 85+ (the Census 2020 DHC bands). */
export const AGE_BANDS = [
  '0-4',
  '5-9',
  '10-14',
  '15-19',
  '20-24',
  '25-29',
  '30-34',
  '35-39',
  '40-44',
  '45-49',
  '50-54',
  '55-59',
  '60-64',
  '65-69',
  '70-74',
  '75-79',
  '80-84',
  '85+',
] as const;
export type AgeBand = (typeof AGE_BANDS)[number];
export const OLDEST_AGE = 100;

export function ageBandIndex(age: number): number {
  return Math.min(Math.floor(age / 5), AGE_BANDS.length - 1);
}

/**
 * US resident population, 2020 Census (DHC table P12), millions, rounded to 0.1 million,
 * by AGE_BANDS: [male, female].
 */
export const US_CENSUS_2020_MILLIONS: readonly (readonly [number, number])[] = [
  [9.9, 9.5],
  [10.4, 10.0],
  [11.1, 10.6],
  [11.3, 10.8],
  [11.0, 10.5],
  [11.5, 11.1],
  [11.3, 11.1],
  [10.9, 10.9],
  [10.2, 10.3],
  [9.9, 10.0],
  [10.2, 10.4],
  [10.4, 10.9],
  [10.0, 10.7],
  [8.4, 9.3],
  [6.8, 7.8],
  [4.6, 5.5],
  [2.8, 3.7],
  [2.3, 4.0],
];

/** Cumulative weights over (band × sex) cells, cell = band * 2 + sexIndex. */
export const AGE_SEX_CUMULATIVE = cumulative(US_CENSUS_2020_MILLIONS.flatMap((c) => [c[0], c[1]]));

export interface OmbCode {
  readonly code: string;
  readonly display: string;
}

export const OMB_RACE = {
  white: { code: '2106-3', display: 'White' },
  black: { code: '2054-5', display: 'Black or African American' },
  asian: { code: '2028-9', display: 'Asian' },
  aian: { code: '1002-5', display: 'American Indian or Alaska Native' },
  nhpi: { code: '2076-8', display: 'Native Hawaiian or Other Pacific Islander' },
} as const satisfies Record<string, OmbCode>;

/**
 * Census 2020 race alone or in combination, percent: White 61.6, Black 12.4, AIAN 1.1,
 * Asian 6.0, NHPI 0.2, Some Other Race 8.4, Two or more 10.2. "Some other race" has no OMB
 * category (text only); "two or more" is written as two ombCategory codings.
 */
export interface RaceChoice {
  readonly categories: readonly OmbCode[];
  readonly text: string;
}
export const RACE_CHOICES: readonly RaceChoice[] = [
  { categories: [OMB_RACE.white], text: 'White' },
  { categories: [OMB_RACE.black], text: 'Black or African American' },
  { categories: [OMB_RACE.aian], text: 'American Indian or Alaska Native' },
  { categories: [OMB_RACE.asian], text: 'Asian' },
  { categories: [OMB_RACE.nhpi], text: 'Native Hawaiian or Other Pacific Islander' },
  { categories: [], text: 'Other' },
  { categories: [OMB_RACE.white, OMB_RACE.black], text: 'White and Black or African American' },
  { categories: [OMB_RACE.white, OMB_RACE.asian], text: 'White and Asian' },
  {
    categories: [OMB_RACE.white, OMB_RACE.aian],
    text: 'White and American Indian or Alaska Native',
  },
];
export const RACE_CUMULATIVE = cumulative([61.6, 12.4, 1.1, 6.0, 0.2, 8.4, 4.0, 3.2, 3.0]);

export const HISPANIC: OmbCode = { code: '2135-2', display: 'Hispanic or Latino' };
export const NOT_HISPANIC: OmbCode = { code: '2186-5', display: 'Not Hispanic or Latino' };
/** Census 2020: 18.7% Hispanic or Latino. */
export const HISPANIC_SHARE = 0.187;

export interface Place {
  readonly city: string;
  readonly state: string;
  /** First three digits of the city's ZIP codes; two random digits complete a 5-digit code. */
  readonly zip3: string;
  readonly weight: number;
}

/** A few cities per large state, weighted roughly by state population (millions). */
export const PLACES: readonly Place[] = [
  { city: 'Los Angeles', state: 'CA', zip3: '900', weight: 20 },
  { city: 'San Jose', state: 'CA', zip3: '951', weight: 19.5 },
  { city: 'Houston', state: 'TX', zip3: '770', weight: 15 },
  { city: 'Dallas', state: 'TX', zip3: '752', weight: 14.1 },
  { city: 'Miami', state: 'FL', zip3: '331', weight: 10.8 },
  { city: 'Orlando', state: 'FL', zip3: '328', weight: 10.8 },
  { city: 'New York', state: 'NY', zip3: '100', weight: 12 },
  { city: 'Buffalo', state: 'NY', zip3: '142', weight: 8.2 },
  { city: 'Philadelphia', state: 'PA', zip3: '191', weight: 13 },
  { city: 'Chicago', state: 'IL', zip3: '606', weight: 12.8 },
  { city: 'Columbus', state: 'OH', zip3: '432', weight: 11.8 },
  { city: 'Atlanta', state: 'GA', zip3: '303', weight: 10.7 },
  { city: 'Charlotte', state: 'NC', zip3: '282', weight: 10.4 },
  { city: 'Detroit', state: 'MI', zip3: '482', weight: 10.1 },
  { city: 'Boston', state: 'MA', zip3: '021', weight: 7 },
  { city: 'Seattle', state: 'WA', zip3: '981', weight: 7.7 },
  { city: 'Phoenix', state: 'AZ', zip3: '850', weight: 7.2 },
  { city: 'Denver', state: 'CO', zip3: '802', weight: 5.8 },
];
export const PLACE_CUMULATIVE = cumulative(PLACES.map((p) => p.weight));

export const GIVEN_NAMES: Readonly<Record<Sex, readonly string[]>> = {
  male: [
    'James',
    'Robert',
    'John',
    'Michael',
    'David',
    'William',
    'Richard',
    'Joseph',
    'Thomas',
    'Charles',
    'Daniel',
    'Matthew',
    'Anthony',
    'Carlos',
    'Jose',
    'Wei',
    'Andre',
    'Kevin',
  ],
  female: [
    'Mary',
    'Patricia',
    'Jennifer',
    'Linda',
    'Elizabeth',
    'Barbara',
    'Susan',
    'Jessica',
    'Sarah',
    'Karen',
    'Maria',
    'Nancy',
    'Lisa',
    'Ana',
    'Mei',
    'Aisha',
    'Emily',
    'Sofia',
  ],
};
export const FAMILY_NAMES: readonly string[] = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Hernandez',
  'Lopez',
  'Gonzalez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Nguyen',
  'Chen',
  'Patel',
  'Kim',
  'Walker',
];
export const STREET_NAMES: readonly string[] = [
  'Main St',
  'Oak Ave',
  'Maple Dr',
  'Cedar Ln',
  'Park Rd',
  'Elm St',
  'Washington Blvd',
  'Lake Dr',
  'Hill Rd',
  'Pine St',
];

/**
 * Annual all-cause mortality hazard by age: Gompertz h(a) = 0.05·exp(0.085·(a − 80)),
 * about 0.2%/yr at 40, 0.9% at 60, 5% at 80, close to the US life table (docs/synth.md).
 */
export const MORTALITY = { hazardAt80: 0.05, gompertzSlope: 0.085 } as const;

export function mortalityHazard(age: number): number {
  return MORTALITY.hazardAt80 * Math.exp(MORTALITY.gompertzSlope * (age - 80));
}
