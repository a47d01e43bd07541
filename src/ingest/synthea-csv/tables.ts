/**
 * The 18 tables of Synthea's CSV export and how a file is recognised as one of them: by its
 * header line, never by its name (users rename files). Columns are addressed by name, so
 * exports of other Synthea versions with extra columns (e.g. patients.FIPS, INCOME) or a
 * different column order read the same; a table is recognised when every one of its
 * `required` columns is in the header.
 */

export const SYNTHEA_TABLES = [
  'patients',
  'encounters',
  'conditions',
  'observations',
  'medications',
  'procedures',
  'immunizations',
  'allergies',
  'careplans',
  'devices',
  'imaging_studies',
  'supplies',
  'claims',
  'claims_transactions',
  'payers',
  'payer_transitions',
  'organizations',
  'providers',
] as const;
export type SyntheaTable = (typeof SYNTHEA_TABLES)[number];

/**
 * Columns that identify each table (a subset of Synthea's header, enough to tell the 18
 * apart: e.g. conditions and devices differ by UDI, immunizations and supplies by
 * BASE_COST / QUANTITY). Checked most specific first (see TABLE_ORDER).
 */
export const REQUIRED_COLUMNS: Readonly<Record<SyntheaTable, readonly string[]>> = {
  patients: ['Id', 'BIRTHDATE', 'DEATHDATE', 'FIRST', 'LAST', 'GENDER'],
  encounters: [
    'Id',
    'START',
    'STOP',
    'PATIENT',
    'ORGANIZATION',
    'PROVIDER',
    'ENCOUNTERCLASS',
    'CODE',
  ],
  conditions: ['START', 'STOP', 'PATIENT', 'ENCOUNTER', 'CODE', 'DESCRIPTION'],
  observations: ['DATE', 'PATIENT', 'ENCOUNTER', 'CODE', 'VALUE', 'UNITS', 'TYPE'],
  medications: ['START', 'STOP', 'PATIENT', 'ENCOUNTER', 'CODE', 'DISPENSES'],
  procedures: ['START', 'PATIENT', 'ENCOUNTER', 'CODE', 'BASE_COST', 'REASONCODE'],
  immunizations: ['DATE', 'PATIENT', 'ENCOUNTER', 'CODE', 'BASE_COST'],
  allergies: ['START', 'STOP', 'PATIENT', 'ENCOUNTER', 'CODE', 'REACTION1'],
  careplans: ['Id', 'START', 'STOP', 'PATIENT', 'ENCOUNTER', 'CODE'],
  devices: ['START', 'STOP', 'PATIENT', 'ENCOUNTER', 'CODE', 'UDI'],
  imaging_studies: ['Id', 'PATIENT', 'SERIES_UID', 'INSTANCE_UID', 'MODALITY_CODE'],
  supplies: ['DATE', 'PATIENT', 'ENCOUNTER', 'CODE', 'QUANTITY'],
  claims: ['Id', 'PATIENTID', 'PROVIDERID', 'PRIMARYPATIENTINSURANCEID', 'SERVICEDATE'],
  claims_transactions: ['ID', 'CLAIMID', 'CHARGEID', 'PATIENTID', 'TYPE'],
  payers: ['Id', 'NAME', 'AMOUNT_COVERED', 'AMOUNT_UNCOVERED'],
  payer_transitions: ['PATIENT', 'START_YEAR', 'END_YEAR', 'PAYER'],
  organizations: ['Id', 'NAME', 'ADDRESS', 'CITY', 'UTILIZATION'],
  providers: ['Id', 'ORGANIZATION', 'NAME', 'GENDER', 'SPECIALITY'],
};

/** Tables whose required columns are a superset of another's come before it. */
const TABLE_ORDER: readonly SyntheaTable[] = [
  'imaging_studies',
  'encounters',
  'careplans',
  'claims_transactions',
  'claims',
  'patients',
  'providers',
  'payers',
  'organizations',
  'payer_transitions',
  'medications',
  'allergies',
  'devices',
  'procedures',
  'observations',
  'immunizations',
  'supplies',
  'conditions',
];

/** The table a header row belongs to, or undefined. Column names compare exactly (trimmed). */
export function tableOfHeader(columns: readonly string[]): SyntheaTable | undefined {
  const have = new Set(columns.map((c) => c.trim()));
  return TABLE_ORDER.find((t) => REQUIRED_COLUMNS[t].every((c) => have.has(c)));
}

/**
 * The columns of a CSV header line as sniffed from a file's first bytes: BOM dropped, split
 * at commas, surrounding quotes removed (Synthea's header names hold no commas).
 */
export function headerColumns(head: Buffer): string[] | undefined {
  let text = head.toString('utf8', 0, Math.min(head.length, 4096));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const end = text.search(/\r?\n/);
  if (end < 0 && text.length >= 4096) return undefined; // no complete header line
  const line = end < 0 ? text : text.slice(0, end);
  return line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
}
