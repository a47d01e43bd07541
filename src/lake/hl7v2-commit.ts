/**
 * Commits a batch of HL7 v2 messages received by the MLLP listener into a lake (here in
 * the lake layer: the listener and the mapping in ingest/ know nothing of the lake): each
 * message is mapped to FHIR (map.ts) and the batch's resources enter through the same
 * staging, merge and atomic commit as a file load, as one load. A message whose mapping
 * quarantines anything gets an error result (the listener answers AE with the reason);
 * its quarantined records go to the load's quarantine file and its other resources are
 * still committed, so a bad segment never loses a good one.
 */
import { createHash } from 'node:crypto';
import { toParsedResource } from '../ingest/convert.js';
import { QuarantineCode } from '../ingest/types.js';
import { loadRecordsIntoLake, type LoadSummary } from './load.js';
import type { Hl7Message } from '../ingest/hl7v2/model.js';
import { mapHl7Message } from '../ingest/hl7v2/map.js';

/** The `file` of provenance for messages that arrived over MLLP. */
export const MLLP_SOURCE = 'mllp';

export interface Hl7CommitResult {
  readonly results: ('ok' | { readonly error: string })[];
  /** The load, when the batch was committed (undefined for an empty batch). */
  readonly load?: LoadSummary;
}

/** A frame the listener answered AR (not an HL7 v2 message), kept in the load's quarantine. */
export interface RejectedFrame {
  readonly raw: string;
  readonly reason: string;
  readonly remote: string;
}

/**
 * Commits `messages` as one load; `rejected` frames received since the last commit go to
 * the same load's quarantine file (code malformed), so nothing that arrived is lost.
 */
export async function commitHl7Messages(
  lakeDir: string,
  messages: readonly { readonly msg: Hl7Message; readonly raw: string }[],
  rejected: readonly RejectedFrame[] = [],
): Promise<Hl7CommitResult> {
  const results: Hl7CommitResult['results'] = [];
  if (messages.length === 0 && rejected.length === 0) return { results };
  const load = await loadRecordsIntoLake(lakeDir, async (sink) => {
    const hash = createHash('sha256');
    let bytes = 0;
    for (const f of rejected) {
      hash.update(f.raw);
      bytes += Buffer.byteLength(f.raw);
      await sink.quarantine({
        kind: 'quarantine',
        code: QuarantineCode.Malformed,
        reason: `MLLP frame from ${f.remote} answered AR: ${f.reason}`,
        source: { file: `${MLLP_SOURCE}:${f.remote}`, line: 1 },
        text: f.raw.slice(0, 4096),
      });
    }
    for (const { msg, raw } of messages) {
      hash.update(raw);
      bytes += Buffer.byteLength(raw);
      const errors: string[] = [];
      let resources = 0;
      for (const rec of mapHl7Message(msg, MLLP_SOURCE)) {
        const parsed = rec.kind === 'fhir' ? toParsedResource(rec, 'hl7v2') : rec;
        if (parsed.kind === 'quarantine') {
          errors.push(parsed.reason);
          await sink.quarantine(parsed);
          continue;
        }
        resources++;
        const wait = sink.add(parsed);
        if (wait !== undefined) await wait;
      }
      if (errors.length > 0) results.push({ error: errors.join('; ') });
      else if (resources === 0) results.push({ error: 'The message maps to no FHIR resource.' });
      else results.push('ok');
    }
    return {
      path:
        messages.length === 0
          ? `${MLLP_SOURCE}:rejected`
          : `${MLLP_SOURCE}:${messages[0]!.msg.controlId}..${messages.at(-1)!.msg.controlId}`,
      sha256: hash.digest('hex'),
      bytes,
    };
  });
  return { results, load };
}
