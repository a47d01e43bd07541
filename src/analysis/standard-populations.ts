/**
 * Standard populations for direct age standardization, as published, with a mapping onto
 * medlake's 18 age bands (AGE_BANDS: 0-4, 5-9, …, 80-84, 85+).
 */
import { AGE_BANDS } from '../synth/demographics.js';

/** One age group of a standard population: ages lower…upper inclusive (upper null = open). */
export interface StandardAgeGroup {
  readonly lower: number;
  readonly upper: number | null;
  /** Published weight, in the unit of the source (see `unit`). */
  readonly weight: number;
}

export interface StandardPopulation {
  readonly id: string;
  readonly name: string;
  readonly unit: string;
  readonly citation: string;
  readonly groups: readonly StandardAgeGroup[];
}

/**
 * WHO World Standard Population 2000–2025: the published percentage distribution times
 * 1,000 (i.e. per 100,000). The published percentages add up to 100.035, not 100;
 * weights are normalized when used.
 */
export const WHO_WORLD_2000_2025: StandardPopulation = {
  id: 'who-world-2000-2025',
  name: 'WHO World Standard Population (2000–2025)',
  unit: 'per 100,000 (published percentages × 1,000)',
  citation:
    'Ahmad OB, Boschi-Pinto C, Lopez AD, Murray CJL, Lozano R, Inoue M. Age standardization of ' +
    'rates: a new WHO standard. GPE Discussion Paper Series No. 31. Geneva: World Health ' +
    'Organization; 2001. Table 4.',
  groups: [
    { lower: 0, upper: 4, weight: 8860 },
    { lower: 5, upper: 9, weight: 8690 },
    { lower: 10, upper: 14, weight: 8600 },
    { lower: 15, upper: 19, weight: 8470 },
    { lower: 20, upper: 24, weight: 8220 },
    { lower: 25, upper: 29, weight: 7930 },
    { lower: 30, upper: 34, weight: 7610 },
    { lower: 35, upper: 39, weight: 7150 },
    { lower: 40, upper: 44, weight: 6590 },
    { lower: 45, upper: 49, weight: 6040 },
    { lower: 50, upper: 54, weight: 5370 },
    { lower: 55, upper: 59, weight: 4550 },
    { lower: 60, upper: 64, weight: 3720 },
    { lower: 65, upper: 69, weight: 2960 },
    { lower: 70, upper: 74, weight: 2210 },
    { lower: 75, upper: 79, weight: 1520 },
    { lower: 80, upper: 84, weight: 910 },
    { lower: 85, upper: 89, weight: 440 },
    { lower: 90, upper: 94, weight: 150 },
    { lower: 95, upper: 99, weight: 40 },
    { lower: 100, upper: null, weight: 5 },
  ],
};

/**
 * US 2000 standard population, standard million, 19 age groups (under 1, 1-4, 5-year
 * groups to 80-84, 85+); sums to 1,000,000.
 */
export const US_2000_STANDARD: StandardPopulation = {
  id: 'us-2000',
  name: 'US 2000 standard population (19 age groups)',
  unit: 'standard million',
  citation:
    'Klein RJ, Schoenborn CA. Age adjustment using the 2000 projected U.S. population. ' +
    'Healthy People 2010 Statistical Notes no. 20. Hyattsville, MD: National Center for ' +
    'Health Statistics; 2001. Also Anderson RN, Rosenberg HM. Age standardization of death ' +
    'rates: implementation of the year 2000 standard. National Vital Statistics Reports ' +
    '47(3); 1998 (NCHS). Distributed by NCI SEER as "2000 U.S. Std Million (19 age groups)".',
  groups: [
    { lower: 0, upper: 0, weight: 13818 },
    { lower: 1, upper: 4, weight: 55317 },
    { lower: 5, upper: 9, weight: 72533 },
    { lower: 10, upper: 14, weight: 73032 },
    { lower: 15, upper: 19, weight: 72169 },
    { lower: 20, upper: 24, weight: 66478 },
    { lower: 25, upper: 29, weight: 64529 },
    { lower: 30, upper: 34, weight: 71044 },
    { lower: 35, upper: 39, weight: 80762 },
    { lower: 40, upper: 44, weight: 81851 },
    { lower: 45, upper: 49, weight: 72118 },
    { lower: 50, upper: 54, weight: 62716 },
    { lower: 55, upper: 59, weight: 48454 },
    { lower: 60, upper: 64, weight: 38793 },
    { lower: 65, upper: 69, weight: 34264 },
    { lower: 70, upper: 74, weight: 31773 },
    { lower: 75, upper: 79, weight: 26999 },
    { lower: 80, upper: 84, weight: 17842 },
    { lower: 85, upper: null, weight: 15508 },
  ],
};

export const STANDARD_POPULATIONS: Readonly<Record<string, StandardPopulation>> = {
  [WHO_WORLD_2000_2025.id]: WHO_WORLD_2000_2025,
  [US_2000_STANDARD.id]: US_2000_STANDARD,
};

/** The bounds of medlake's AGE_BANDS, from their labels ('0-4' … '85+'). */
export function medlakeBandBounds(): { lower: number; upper: number | null }[] {
  return AGE_BANDS.map((label) => {
    const open = /^(\d+)\+$/.exec(label);
    if (open) return { lower: Number(open[1]), upper: null };
    const m = /^(\d+)-(\d+)$/.exec(label);
    if (!m) throw new Error(`unexpected age band label ${label}`);
    return { lower: Number(m[1]), upper: Number(m[2]) };
  });
}

/**
 * A standard population's weights summed onto medlake's 18 AGE_BANDS (0-4 … 85+), in the
 * source's unit (not normalized; directStandardize normalizes). Each source group must lie
 * wholly inside one band: US 2000's under-1 and 1-4 go to 0-4, WHO's 85-89 … 100+ to 85+.
 */
export function toMedlakeBands(pop: StandardPopulation): number[] {
  const bands = medlakeBandBounds();
  const out = new Array<number>(bands.length).fill(0);
  for (const g of pop.groups) {
    const i = bands.findIndex(
      (b) => g.lower >= b.lower && (b.upper === null || (g.upper !== null && g.upper <= b.upper)),
    );
    if (i < 0)
      throw new RangeError(
        `${pop.id}: age group ${g.lower}-${g.upper ?? ''} straddles a medlake age band`,
      );
    out[i] = (out[i] as number) + g.weight;
  }
  return out;
}

/** The same weights normalized to sum to 1. */
export function standardWeights(pop: StandardPopulation): number[] {
  const w = toMedlakeBands(pop);
  const total = w.reduce((s, x) => s + x, 0);
  return w.map((x) => x / total);
}
