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
