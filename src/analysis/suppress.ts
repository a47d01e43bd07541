/**
 * Small-cell suppression for results that leave the building: a stratum whose count is
 * below `minCell` (default 11, a common disclosure rule, e.g. CMS's cell-size policy) has
 * its counts and everything derived from them replaced by null, and is marked suppressed.
 */
export const DEFAULT_MIN_CELL = 11;

export interface SuppressOptions<T> {
  readonly minCell?: number;
  /** Count fields checked against minCell (a row is suppressed if any is 1..minCell-1). */
  readonly counts: readonly (keyof T & string)[];
  /** Fields set to null in a suppressed row (the counts themselves always are). */
  readonly derived?: readonly (keyof T & string)[];
}

export type Suppressed<T> = { [K in keyof T]: T[K] | null } & { readonly suppressed: boolean };

/**
 * Suppresses rows with a count in 1..minCell-1 (zero is not disclosive by itself and stays).
 * minCell 0 or 1 turns suppression off.
 */
export function suppressSmallCells<T extends Record<string, unknown>>(
  rows: readonly T[],
  options: SuppressOptions<T>,
): Suppressed<T>[] {
  const min = options.minCell ?? DEFAULT_MIN_CELL;
  return rows.map((r) => {
    const small = options.counts.some((c) => {
      const v = r[c];
      return typeof v === 'number' && v > 0 && v < min;
    });
    if (!small) return { ...r, suppressed: false };
    const out: Record<string, unknown> = { ...r, suppressed: true };
    for (const c of [...options.counts, ...(options.derived ?? [])]) out[c] = null;
    return out as Suppressed<T>;
  });
}
