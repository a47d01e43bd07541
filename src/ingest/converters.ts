/**
 * The converters of non-FHIR source formats, in sniffing order (the first whose sniff
 * claims a file reads it). See convert.ts for the contract.
 */
import type { FormatConverter, TableRow } from './convert.js';
import { dicomConverter } from './dicom/converter.js';
import { hl7v2Converter } from './hl7v2/converter.js';
import { sdtmConverter, sdtmRows } from './sdtm/converter.js';
import { syntheaCsvConverter } from './synthea-csv/converter.js';

/** SDTM datasets also stay queryable as read: table sdtm_<dataset>, one partition per study. */
const sdtmWithTables: FormatConverter = {
  format: sdtmConverter.format,
  sniff: (name, head) => sdtmConverter.sniff(name, head),
  read: (files, ctx) => sdtmConverter.read(files, ctx),
  async *tableRows(files, ctx): AsyncIterable<TableRow> {
    for await (const row of sdtmRows(files, ctx)) {
      yield {
        table: `sdtm_${row.domain.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`,
        partition: typeof row.values['STUDYID'] === 'string' ? row.values['STUDYID'] : '',
        values: row.values,
      };
    }
  },
};

export const CONVERTERS: readonly FormatConverter[] = [
  dicomConverter,
  hl7v2Converter,
  sdtmWithTables,
  syntheaCsvConverter,
];
