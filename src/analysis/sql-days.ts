/**
 * Day numbers in SQL: whole days since 1970-01-01 from year, month and day expressions by
 * integer arithmetic (H. Hinnant's days_from_civil, proleptic Gregorian calendar), so the
 * analyses need no engine-specific date functions. FLOOR and `/` behave alike on every
 * engine medlake supports (`/` divides as a double).
 */
export function sqlCivilDays(y: string, m: string, d: string): string {
  const yy = `(CASE WHEN ${m} <= 2 THEN ${y} - 1 ELSE ${y} END)`;
  const era = `FLOOR(${yy} / 400)`;
  const yoe = `(${yy} - ${era} * 400)`;
  const doy = `(FLOOR((153 * (CASE WHEN ${m} > 2 THEN ${m} - 3 ELSE ${m} + 9 END) + 2) / 5) + ${d} - 1)`;
  const doe = `(${yoe} * 365 + FLOOR(${yoe} / 4) - FLOOR(${yoe} / 100) + ${doy})`;
  return `(${era} * 146097 + ${doe} - 719468)`;
}
