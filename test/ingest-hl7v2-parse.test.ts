/**
 * The HL7 v2 parser (src/ingest/hl7v2/parse.ts): splitting files into messages (batches,
 * MLLP captures, line endings, BOM), delimiters, escapes, structure and segment lines; every
 * file of ../shared/fixtures/hl7v2-samples; the generator's hl7v2 output counted against its
 * FHIR; fast-check: nothing but Hl7ParseError is ever thrown.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Hl7ParseError,
  parseHl7Message,
  parseSplitMessage,
  splitHl7Messages,
  splitHl7MessagesStream,
  unescapeHl7,
  DEFAULT_DELIMITERS,
} from '../src/ingest/hl7v2/parse.js';
import type { Hl7MessageText } from '../src/ingest/hl7v2/parse.js';
import { component, repetitions, segment, segments, value } from '../src/ingest/hl7v2/model.js';
import type { Hl7Message } from '../src/ingest/hl7v2/model.js';
import { synthesize } from '../src/synth/index.js';
import { FIXTURES_DIR, makeTempDir, removeDir } from './helpers/lake-test-utils.js';

const SAMPLES = path.join(FIXTURES_DIR, 'hl7v2-samples');

const ADT = [
  'MSH|^~\\&|SEND|FAC|RECV|RFAC|20240102030405+0000||ADT^A01^ADT_A01|CTRL1|P|2.5.1',
  'EVN|A01|20240102030405',
  'PID|1||123^^^HOSP^MR~456^^^SSA&2.16.840.1.113883.4.1&ISO^SS||DOE^JANE^Q||19800101|F',
  'PV1|1|I|ICU^101^A',
  'ZPI|custom|x^y',
];

const split = (text: string): Hl7MessageText[] => [...splitHl7Messages(text)];
const parseAll = (text: string): Hl7Message[] =>
  split(text).map((m) => parseHl7Message(m.text, m.line));

async function splitStream(bytes: Buffer, chunk: number): Promise<Hl7MessageText[]> {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  const out: Hl7MessageText[] = [];
  for await (const m of splitHl7MessagesStream(Readable.from(parts))) out.push(m);
  return out;
}

describe('parseHl7Message', () => {
  it('reads header, fields, repetitions, components, subcomponents and Z-segments', () => {
    const m = parseHl7Message(ADT.join('\r'));
    expect([m.type, m.event, m.structure, m.controlId, m.version]).toEqual([
      'ADT',
      'A01',
      'ADT_A01',
      'CTRL1',
      '2.5.1',
    ]);
    expect(m.delimiters).toEqual(DEFAULT_DELIMITERS);
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'ZPI']);
    expect(m.segments.map((s) => s.line)).toEqual([1, 2, 3, 4, 5]);
    const msh = segment(m, 'MSH');
    expect(value(msh, 1)).toBe('|');
    expect(value(msh, 2)).toBe('^~\\&');
    expect(value(msh, 3)).toBe('SEND');
    expect(value(msh, 9, 2)).toBe('A01');
    const pid = segment(m, 'PID');
    const ids = repetitions(pid, 3);
    expect(ids).toHaveLength(2);
    expect(component(ids[1]!, 4, 2)).toBe('2.16.840.1.113883.4.1');
    expect(component(ids[1]!, 5)).toBe('SS');
    expect(value(pid, 5, 2)).toBe('JANE');
    expect(repetitions(pid, 4)).toEqual([]); // empty field: no repetitions
    expect(value(segment(m, 'ZPI'), 2, 2)).toBe('y');
    expect(m.text).toBe(ADT.join('\r'));
  });

  it('takes custom delimiters from MSH-1 and MSH-2', () => {
    const hash = parseHl7Message(
      'MSH#^~\\&#A#B#C#D#20240101##ADT^A04#X9#P#2.3\rPID#1##7^^^H^MR~8^^^H^PI##X\\S\\Y^Z',
    );
    expect(hash.delimiters.field).toBe('#');
    expect([hash.type, hash.event, hash.controlId, hash.version]).toEqual([
      'ADT',
      'A04',
      'X9',
      '2.3',
    ]);
    expect(value(segment(hash, 'PID'), 5)).toBe('X^Y');
    expect(repetitions(segment(hash, 'PID'), 3)).toHaveLength(2);
    const odd = parseHl7Message('MSH|!@$%|A|B|C|D|2024||ORU!R01|Z1|P|2.4\rOBX|1|ST|c!d||a$F$b@c%d');
    expect(odd.delimiters).toEqual({
      field: '|',
      component: '!',
      repetition: '@',
      escape: '$',
      subcomponent: '%',
    });
    expect(odd.event).toBe('R01');
    const obx = segment(odd, 'OBX');
    expect(repetitions(obx, 5)).toEqual([[['a|b']], [['c', 'd']]]);
    expect(value(obx, 3, 2)).toBe('d');
    // v2.7 truncation character as a 5th encoding character
    expect(
      parseHl7Message('MSH|^~\\&#|A|B|C|D|2024||ADT^A01|1|P|2.7').delimiters.subcomponent,
    ).toBe('&');
  });

  it('decodes escape sequences (§2.7)', () => {
    const d = DEFAULT_DELIMITERS;
    expect(unescapeHl7('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f', d)).toBe('a|b^c&d~e\\f');
    expect(unescapeHl7('x\\X0D\\y\\X0A\\z', d)).toBe('x\ry\nz');
    expect(unescapeHl7('caf\\XC3A9\\', d)).toBe('café');
    expect(unescapeHl7('caf\\XE9\\', d)).toBe('café'); // not UTF-8: Latin-1
    expect(unescapeHl7('one\\.br\\two\\.sp 2\\three', d)).toBe('one\ntwo\n\nthree');
    expect(unescapeHl7('\\H\\bold\\N\\ \\.sk 3\\x\\.in+4\\', d)).toBe('bold    x');
    expect(unescapeHl7('\\C2842\\A\\M2442\\B\\Z01\\', d)).toBe('AB');
    // not escapes: kept as written
    expect(unescapeHl7('a\\b', d)).toBe('a\\b');
    expect(unescapeHl7('\\XZZ\\ \\Q\\ end\\', d)).toBe('\\XZZ\\ \\Q\\ end\\');
    expect(unescapeHl7('C:\\dir\\F\\', d)).toBe('C:\\dir|');
    const m = parseHl7Message('MSH|^~\\&|A\\T\\B|||||ADT^A01|1|P|2.5\rNTE|1||line1\\.br\\line2');
    expect(value(segment(m, 'MSH'), 3)).toBe('A&B');
    expect(value(segment(m, 'NTE'), 3)).toBe('line1\nline2');
  });

  it('skips blank lines but keeps segment lines true, for any line ending', () => {
    for (const eol of ['\r', '\n', '\r\n']) {
      const m = parseHl7Message(['', ...ADT.slice(0, 2), '', ...ADT.slice(2), ''].join(eol), 10);
      expect(m.line).toBe(11);
      expect(m.segments.map((s) => s.line)).toEqual([11, 12, 14, 15, 16]);
    }
  });

  it('throws Hl7ParseError saying what and where', () => {
    const cases: [string, RegExp][] = [
      ['', /empty message/],
      ['PID|1||123', /line 1: expected a message starting with an MSH segment, found "PID/],
      ['MSH', /no field separator/],
      ['MSHA^~\\&|', /MSH-1 field separator "A"/],
      ['MSH|^~|A', /MSH-2 encoding characters "\^~"/],
      ['MSH|^^\\&|A', /MSH-2/],
      ['MSH|^~\\&|A\rpid|1', /line 2: segment name "pid"/],
      ['MSH|^~\\&|A\rPID1|1', /line 2: segment name "PID1"/],
      ['MSH|^~\\&|A\rPID|1\rMSH|^~\\&|B', /line 3: a second MSH/],
    ];
    for (const [text, re] of cases) {
      let err: unknown;
      try {
        parseHl7Message(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(Hl7ParseError);
      expect((err as Error).message, text).toMatch(re);
    }
  });
});

describe('splitHl7Messages', () => {
  const two = [...ADT, ADT[0]!.replace('CTRL1', 'CTRL2'), 'PID|1||9^^^H^MR'];

  it('splits messages for CR, LF and CRLF with a BOM and blank lines', () => {
    for (const eol of ['\r', '\n', '\r\n']) {
      const text = '\ufeff' + [...two.slice(0, 5), '', '', ...two.slice(5), ''].join(eol);
      const msgs = split(text);
      expect(msgs.map((m) => m.line)).toEqual([1, 8]);
      const parsed = msgs.map((m) => parseHl7Message(m.text, m.line));
      expect(parsed.map((m) => m.controlId)).toEqual(['CTRL1', 'CTRL2']);
      expect(parsed[1]!.segments.map((s) => s.line)).toEqual([8, 9]);
    }
  });

  it('drops the batch envelope and reads MLLP captures', () => {
    const batch = ['FHS|^~\\&|A', 'BHS|^~\\&|A', ...two, 'BTS|2', 'FTS|1'].join('\r') + '\r';
    const b = parseAll(batch);
    expect(b.map((m) => m.controlId)).toEqual(['CTRL1', 'CTRL2']);
    expect(b[0]!.segments.map((s) => s.name)).toEqual(['MSH', 'EVN', 'PID', 'PV1', 'ZPI']);
    expect(b.map((m) => m.line)).toEqual([3, 8]);
    const frame = (s: string[]): string => `\x0b${s.join('\r')}\r\x1c\r`;
    const capture = frame(two.slice(0, 5)) + '\n' + frame(two.slice(5)) + frame(ADT);
    const c = parseAll(capture);
    expect(c.map((m) => m.controlId)).toEqual(['CTRL1', 'CTRL2', 'CTRL1']);
    expect(c[1]!.segments.map((s) => s.name)).toEqual(['MSH', 'PID']);
    // a log line between frames is not glued to the message before it
    const logged = split(frame(ADT) + '\r\n2024-01-01 12:00 received\r\n' + frame(ADT));
    expect(logged.map((m) => m.text.slice(0, 8))).toEqual(['MSH|^~\\&', '2024-01-', 'MSH|^~\\&']);
    expect(logged.map((m) => m.line)).toEqual([1, 8, 9]);
  });

  it('yields text outside messages so it is quarantined, not lost', () => {
    const msgs = split('garbage line\r\nmore\r\n' + ADT.join('\r\n'));
    expect(msgs).toHaveLength(2);
    expect(msgs[0]).toEqual({ text: 'garbage line\rmore', line: 1 });
    expect(() => parseHl7Message(msgs[0]!.text, msgs[0]!.line)).toThrow(Hl7ParseError);
    expect(parseHl7Message(msgs[1]!.text, msgs[1]!.line).line).toBe(3);
    expect(split('')).toEqual([]);
    expect(split('\ufeff\r\n\r\n  \n\x0b\x1c\r')).toEqual([]);
  });

  it('cuts over-long messages with a reason and goes on', () => {
    const big = [ADT[0]!, `NTE|1||${'x'.repeat(5000)}`].join('\r');
    const msgs = [...splitHl7Messages(`${big}\r${ADT.join('\r')}`, 1000)];
    expect(msgs).toHaveLength(2);
    expect(msgs[0]!.error).toMatch(/line 1 is longer than 1000 characters/);
    expect(() => parseSplitMessage(msgs[0]!)).toThrow(/longer than 1000/);
    expect(parseSplitMessage(msgs[1]!).controlId).toBe('CTRL1');
  });

  it('streams: same messages for any chunk size, UTF-8 split across chunks', async () => {
    const text = ['FHS|^~\\&', ...two.map((s) => s.replace('DOE', 'DÖË→')), 'FTS|1'].join('\r\n');
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    const whole = split(text);
    for (const size of [1, 2, 3, 7, 64, 100000])
      expect(await splitStream(bytes, size), `chunk ${size}`).toEqual(whole);
    expect(value(segment(parseSplitMessage(whole[0]!), 'PID'), 5)).toBe('DÖË→');
  });
});

describe.skipIf(!existsSync(SAMPLES))(
  'fixtures/hl7v2-samples (skipped: ../shared/fixtures absent)',
  () => {
    it('every file splits into its MSH count of messages, each parsed or rejected with a reason', async () => {
      const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.hl7'));
      expect(files.length).toBe(139);
      const types = new Map<string, number>();
      for (const f of files) {
        const bytes = readFileSync(path.join(SAMPLES, f));
        // independent count: lines starting with MSH (after an optional BOM)
        const mshLines = bytes
          .toString('utf8')
          .split(/\r\n|\r|\n/)
          .filter((l) => /^(\ufeff)?MSH/.test(l)).length;
        const msgs = split(bytes.toString('utf8'));
        expect(msgs.length, f).toBe(mshLines);
        expect(await splitStream(bytes, 333), f).toEqual(msgs);
        for (const m of msgs) {
          let parsed: Hl7Message | undefined;
          try {
            parsed = parseSplitMessage(m);
          } catch (e) {
            expect(e, f).toBeInstanceOf(Hl7ParseError);
            expect((e as Error).message).toMatch(/^line \d+: /);
            continue;
          }
          expect(parsed.segments[0]!.name).toBe('MSH');
          expect(parsed.type, f).toMatch(/^[A-Z]{3}$/);
          // segment count = non-blank lines of the message
          expect(parsed.segments.length).toBe(m.text.split('\r').filter((l) => l !== '').length);
          types.set(parsed.type, (types.get(parsed.type) ?? 0) + 1);
        }
      }
      // SOURCES.md: ADT 59, SIU 15, MDM 13, ORM 8, BAR 6, OUL 6, ORU 5, OML 4, VXU 4, DFT 4,
      // RDE 4, REF 4, PPR 3, OMG 2, RDS 2
      expect(Object.fromEntries([...types].sort())).toEqual({
        ADT: 59,
        BAR: 6,
        DFT: 4,
        MDM: 13,
        OMG: 2,
        OML: 4,
        ORM: 8,
        ORU: 5,
        OUL: 6,
        PPR: 3,
        RDE: 4,
        RDS: 2,
        REF: 4,
        SIU: 15,
        VXU: 4,
      });
    });
  },
);

describe('round trip with the generator (synth --formats hl7v2)', () => {
  let tmp = '';
  const fhir = new Map<string, Record<string, unknown>[]>();
  const msgs: Hl7Message[] = [];

  beforeAll(async () => {
    tmp = makeTempDir('hl7v2-parse');
    const summary = await synthesize({ patients: 25, seed: 7, outDir: tmp, formats: ['hl7v2'] });
    for (const f of summary.formats['hl7v2']?.files ?? []) {
      const text = readFileSync(path.join(tmp, f), 'utf8');
      for (const m of splitHl7Messages(text)) msgs.push(parseSplitMessage(m));
    }
    for (const f of readdirSync(tmp).filter((n) => n.endsWith('.ndjson')))
      for (const line of readFileSync(path.join(tmp, f), 'utf8').split('\n'))
        if (line !== '') {
          const r = JSON.parse(line) as Record<string, unknown>;
          const t = r['resourceType'] as string;
          fhir.set(t, [...(fhir.get(t) ?? []), r]);
        }
  }, 60_000);
  afterAll(() => removeDir(tmp));

  it('message counts per type match docs/synth-formats-hl7v2.md', () => {
    const of = (t: string): Record<string, unknown>[] => fhir.get(t) ?? [];
    const count = (type: string): number =>
      msgs.filter((m) => `${m.type}^${m.event}^${m.structure}` === type).length;
    const enc = of('Encounter');
    const inpatient = enc.filter((e) =>
      ['IMP', 'ACUTE', 'NONAC'].includes((e['class'] as { code: string }).code),
    );
    expect(msgs.length).toBeGreaterThan(25);
    expect(count('ADT^A04^ADT_A01') + count('ADT^A01^ADT_A01')).toBe(enc.length);
    expect(count('ADT^A01^ADT_A01')).toBe(inpatient.length);
    expect(count('ADT^A03^ADT_A03')).toBe(
      inpatient.filter((e) => (e['period'] as { end?: string }).end !== undefined).length,
    );
    const inReport = new Set(
      of('DiagnosticReport').flatMap((d) =>
        ((d['result'] as { reference: string }[] | undefined) ?? []).map((r) => r.reference),
      ),
    );
    const lone = of('Observation').filter((o) => !inReport.has(`Observation/${String(o['id'])}`));
    expect(count('ORU^R01^ORU_R01')).toBe(of('DiagnosticReport').length + lone.length);
    expect(count('RDE^O11^RDE_O11')).toBe(of('MedicationRequest').length);
    expect(count('VXU^V04^VXU_V04')).toBe(of('Immunization').length);
    expect(count('ORM^O01^ORM_O01')).toBe(of('ServiceRequest').length);
    expect(count('MDM^T02^MDM_T02')).toBe(of('DocumentReference').length);
    expect(count('ADT^A31^ADT_A05')).toBe(
      of('Patient').filter((p) => p['deceasedDateTime'] !== undefined).length,
    );
    expect(new Set(msgs.map((m) => m.controlId)).size).toBe(msgs.length);
    expect(msgs.every((m) => m.version === '2.5.1')).toBe(true);
  });

  it('values come back unescaped: PID-3 is the Patient id, names match', () => {
    const patients = new Map((fhir.get('Patient') ?? []).map((p) => [p['id'] as string, p]));
    for (const m of msgs) {
      const pid = segment(m, 'PID');
      const p = patients.get(value(pid, 3));
      expect(p, m.controlId).toBeDefined();
      const name = (p!['name'] as { family?: string }[] | undefined)?.[0];
      if (name?.family !== undefined) expect(value(pid, 5)).toBe(name.family);
    }
    // every OBX-5 of a numeric result reads back as a number
    for (const obx of msgs.flatMap((m) => segments(m, 'OBX')))
      if (value(obx, 2) === 'NM') expect(Number.isFinite(Number(value(obx, 5)))).toBe(true);
  });
});

describe('fuzz (fast-check)', () => {
  const onlyParseErrors = (text: string): void => {
    for (const m of splitHl7Messages(text)) {
      try {
        parseSplitMessage(m);
      } catch (e) {
        if (!(e instanceof Hl7ParseError)) throw e;
      }
    }
  };

  it('arbitrary strings never throw anything but Hl7ParseError', () => {
    const alphabet = fc.constantFrom(
      ...'MSHPID|^~\\&#\r\n\x0b\x1cXF.br0A9 \ufeffé'.split(''),
      'MSH|^~\\&|',
      '\\X',
      'FHS|',
      'BTS',
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 200 })), (s) => {
        onlyParseErrors(s);
        try {
          parseHl7Message(s);
        } catch (e) {
          if (!(e instanceof Hl7ParseError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid messages never throw anything but Hl7ParseError', () => {
    const base = ADT.join('\r');
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.nat(base.length),
            del: fc.nat(5),
            ins: fc.string({ maxLength: 6 }),
          }),
          { maxLength: 8 },
        ),
        (edits) => {
          let s = base;
          for (const e of edits)
            s =
              s.slice(0, e.at % (s.length + 1)) + e.ins + s.slice((e.at % (s.length + 1)) + e.del);
          onlyParseErrors(s);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('stays linear on pathological input', () => {
    const t0 = Date.now();
    onlyParseErrors('MSH|^~\\&|' + '\\'.repeat(200_000) + '~^&'.repeat(100_000));
    onlyParseErrors('\r'.repeat(300_000) + 'X'.repeat(300_000));
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
