/** Dates as whole days since 1970-01-01 (UTC): cheap arithmetic, no time zones involved. */

const MS_PER_DAY = 86_400_000;
export const DAYS_PER_YEAR = 365.25;

export function parseDay(iso: string): number {
  return Math.floor(Date.parse(`${iso}T00:00:00Z`) / MS_PER_DAY);
}

export function dayToIso(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

/** A FHIR dateTime at `minute` minutes past midnight UTC of `day`. */
export function dayTimeToIso(day: number, minute: number): string {
  return new Date(day * MS_PER_DAY + minute * 60_000).toISOString().slice(0, 19) + 'Z';
}

export function yearOf(day: number): number {
  return new Date(day * MS_PER_DAY).getUTCFullYear();
}

/** 0-based month of `day`. */
export function monthOf(day: number): number {
  return new Date(day * MS_PER_DAY).getUTCMonth();
}

export function yearStart(year: number): number {
  return Math.floor(Date.UTC(year, 0, 1) / MS_PER_DAY);
}

export function monthStart(year: number, month: number): number {
  return Math.floor(Date.UTC(year, month, 1) / MS_PER_DAY);
}

/** The day a person born on `birth` turns `age` (29 February birthdays fall on 1 March). */
export function birthdayAt(birth: number, age: number): number {
  const d = new Date(birth * MS_PER_DAY);
  return Math.floor(
    Date.UTC(d.getUTCFullYear() + age, d.getUTCMonth(), d.getUTCDate()) / MS_PER_DAY,
  );
}

/** Completed years of age on `day`. */
export function ageOn(birth: number, day: number): number {
  const b = new Date(birth * MS_PER_DAY);
  const d = new Date(day * MS_PER_DAY);
  let age = d.getUTCFullYear() - b.getUTCFullYear();
  const beforeBirthday =
    d.getUTCMonth() < b.getUTCMonth() ||
    (d.getUTCMonth() === b.getUTCMonth() && d.getUTCDate() < b.getUTCDate());
  if (beforeBirthday) age--;
  return age;
}

/**
 * A day since 1970-01-01 → y * 10000 + m * 100 + d (m 1-12), by arithmetic (H. Hinnant's
 * civil_from_days): no Date objects, for hot loops.
 */
export function civilFromDays(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return y * 10000 + m * 100 + d;
}

/** The day since 1970-01-01 of year y0, month m (1-12), day d (Hinnant's days_from_civil). */
export function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
