/**
 * HL7 v2 encoding for the hl7v2 writer: escaping, segment building and the conversions of
 * FHIR datatypes (dateTime, CodeableConcept, HumanName, Address, ...) to v2 datatypes
 * (DTM, CWE, XPN, XAD, ...). Delimiters are the standard ones: `|` fields, `^` components,
 * `~` repetitions, `\` escape, `&` subcomponents; segments end with CR.
 */

export const SEGMENT_END = '\r';
export const ENCODING_CHARACTERS = '^~\\&';

/** Escapes text for one v2 (sub)component: delimiters and line breaks become escapes. */
export function escapeHl7(text: string): string {
  let out = '';
  for (const ch of text) {
    switch (ch) {
      case '\\':
        out += '\\E\\';
        break;
      case '|':
        out += '\\F\\';
        break;
      case '^':
        out += '\\S\\';
        break;
      case '&':
        out += '\\T\\';
        break;
      case '~':
        out += '\\R\\';
        break;
      case '\r':
        out += '\\X0D\\';
        break;
      case '\n':
        out += '\\X0A\\';
        break;
      default:
        out += ch;
    }
  }
  return out;
}

/** A component: plain text, or its subcomponents. */
export type Hl7Component = string | readonly string[];
/** One field value: plain text, or its components. */
export type Hl7Value = string | readonly Hl7Component[];
/** A field: one value, or repetitions ({ rep: [...] }); `undefined` = empty. */
export type Hl7Field = Hl7Value | { readonly rep: readonly Hl7Value[] } | undefined;

/** Joins escaped parts with `sep`, dropping trailing empty parts (v2 senders do). */
function joinTrim(parts: readonly string[], sep: string): string {
  let n = parts.length;
  while (n > 0 && parts[n - 1] === '') n--;
  return parts.slice(0, n).join(sep);
}

function encodeComponent(c: Hl7Component): string {
  return typeof c === 'string' ? escapeHl7(c) : joinTrim(c.map(escapeHl7), '&');
}

function encodeValue(v: Hl7Value): string {
  return typeof v === 'string' ? escapeHl7(v) : joinTrim(v.map(encodeComponent), '^');
}

export function encodeField(f: Hl7Field): string {
  if (f === undefined) return '';
  if (typeof f === 'object' && 'rep' in f) return joinTrim(f.rep.map(encodeValue), '~');
  return encodeValue(f);
}

/** One segment: its name and fields 1..n (`fields[0]` is field 1); ends with CR. */
export function segment(name: string, fields: readonly Hl7Field[]): string {
  return joinTrim([name, ...fields.map(encodeField)], '|') + SEGMENT_END;
}

/** MSH, FHS and BHS: field 1 is the field separator and field 2 the encoding characters. */
export function headerSegment(
  name: 'MSH' | 'FHS' | 'BHS',
  fieldsFrom3: readonly Hl7Field[],
): string {
  return (
    `${name}|${ENCODING_CHARACTERS}` +
    (fieldsFrom3.length === 0 ? '' : '|' + joinTrim(fieldsFrom3.map(encodeField), '|')) +
    SEGMENT_END
  );
}

/** Fields by number (1-based), for readable segment code: fields(3, x, 5, y) ... */
export function fieldsAt(byNumber: Readonly<Record<number, Hl7Field>>): Hl7Field[] {
  const nums = Object.keys(byNumber).map(Number);
  const max = nums.length === 0 ? 0 : Math.max(...nums);
  return Array.from({ length: max }, (_, i) => byNumber[i + 1]);
}

/**
 * A FHIR date/dateTime/instant as a v2 DTM (or DT for dates): YYYY[MM[DD[HHMM[SS[.S+]]]]]
 * then the offset as +/-HHMM ("Z" = +0000). Returns undefined for anything else.
 */
export function toDtm(iso: unknown): string | undefined {
  if (typeof iso !== 'string') return undefined;
  const m =
    /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(
      iso,
    );
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  let out = (y as string) + (mo ?? '') + (d ?? '');
  if (h !== undefined) {
    out += h + (mi as string) + (s ?? '') + (s !== undefined && frac !== undefined ? frac : '');
    if (tz !== undefined) out += tz === 'Z' ? '+0000' : tz.replace(':', '');
  }
  return out;
}

/** Only the date part (v2 DT), e.g. for PID-7. */
export function toDt(iso: unknown): string | undefined {
  const d = toDtm(iso);
  return d === undefined ? undefined : d.slice(0, 8);
}

/** FHIR code system URLs and the v2 coding system names (HL7 table 0396) used for them. */
const CODING_SYSTEMS: Readonly<Record<string, string>> = {
  'http://loinc.org': 'LN',
  'http://snomed.info/sct': 'SCT',
  'http://hl7.org/fhir/sid/icd-10-cm': 'I10C',
  'http://hl7.org/fhir/sid/icd-10': 'I10',
  'http://www.nlm.nih.gov/research/umls/rxnorm': 'RXNORM',
  'http://hl7.org/fhir/sid/cvx': 'CVX',
  'http://hl7.org/fhir/sid/ndc': 'NDC',
  'http://unitsofmeasure.org': 'UCUM',
  'urn:oid:2.16.840.1.113883.6.238': 'CDCREC',
  'http://www.ama-assn.org/go/cpt': 'C4',
};
const V2_TABLE = 'http://terminology.hl7.org/CodeSystem/v2-';

/**
 * The v2 name of a FHIR code system: table 0396 names where one exists, `HL7nnnn` for v2
 * tables, else the URL itself (lossless, though longer than v2's 20 characters).
 */
export function codingSystemName(system: unknown): string {
  if (typeof system !== 'string') return '';
  const known = CODING_SYSTEMS[system];
  if (known !== undefined) return known;
  if (system.startsWith(V2_TABLE)) return 'HL7' + system.slice(V2_TABLE.length);
  return system;
}

export interface FhirCoding {
  readonly system?: string;
  readonly code?: string;
  readonly display?: string;
}

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
export const objects = (v: unknown): Json[] => arr(v).filter(isObject);

/**
 * A CodeableConcept as CWE: first coding in components 1-3, second in 4-6, text in 9
 * (original text). Returns undefined when there is nothing to send.
 */
export function toCwe(cc: unknown): Hl7Component[] | undefined {
  if (!isObject(cc)) return undefined;
  const codings = objects(cc['coding']);
  const text = str(cc['text']);
  const parts: string[] = [];
  for (const c of codings.slice(0, 2))
    parts.push(str(c['code']), str(c['display']), codingSystemName(c['system']));
  if (parts.length === 0 && text === '') return undefined;
  while (parts.length < 6) parts.push('');
  parts.push('', '', text);
  return parts;
}

/** A single Coding as CWE (components 1-3). */
export function codingToCwe(c: unknown): Hl7Component[] | undefined {
  if (!isObject(c)) return undefined;
  return [str(c['code']), str(c['display']), codingSystemName(c['system'])];
}

/** A CWE as subcomponents (for a CWE inside another composite, e.g. CQ units). */
export function asSubcomponents(c: readonly Hl7Component[] | undefined): string[] {
  return (c ?? []).map((x) => (typeof x === 'string' ? x : x.join(' ')));
}

/** HL7 table 0200 name types for FHIR HumanName.use. */
const NAME_USE: Readonly<Record<string, string>> = {
  official: 'L',
  usual: 'D',
  nickname: 'N',
  maiden: 'M',
  anonymous: 'S',
  old: 'BAD',
  temp: 'TEMP',
};

/** HumanName as XPN: family^given^second and further given^suffix^prefix^^type. */
export function toXpn(name: Json): Hl7Component[] {
  const given = arr(name['given']).map(str);
  return [
    str(name['family']),
    given[0] ?? '',
    given.slice(1).join(' '),
    arr(name['suffix']).map(str).join(' '),
    arr(name['prefix']).map(str).join(' '),
    '',
    NAME_USE[str(name['use'])] ?? '',
  ];
}

/** HL7 table 0190 address types for FHIR Address.use. */
const ADDRESS_USE: Readonly<Record<string, string>> = {
  home: 'H',
  work: 'O',
  temp: 'C',
  old: 'BA',
  billing: 'BI',
};

/** Address as XAD: street^other^city^state^zip^country^type^^county (district). */
export function toXad(a: Json): Hl7Component[] {
  const lines = arr(a['line']).map(str);
  return [
    lines[0] ?? '',
    lines.slice(1).join(', '),
    str(a['city']),
    str(a['state']),
    str(a['postalCode']),
    str(a['country']),
    ADDRESS_USE[str(a['use'])] ?? '',
    '',
    str(a['district']),
  ];
}

/** ContactPoint as XTN: ^use^equipment^email^^area^local^^^^^unformatted number. */
export function toXtn(t: Json): Hl7Component[] | undefined {
  const value = str(t['value']);
  if (value === '') return undefined;
  const use = str(t['use']);
  const useCode = use === 'work' ? 'WPN' : use === 'mobile' ? 'ORN' : 'PRN';
  if (str(t['system']) === 'email') return ['', 'NET', 'Internet', value];
  const equipment = use === 'mobile' ? 'CP' : str(t['system']) === 'fax' ? 'FX' : 'PH';
  return ['', useCode, equipment, '', '', '', '', '', '', '', '', value];
}
