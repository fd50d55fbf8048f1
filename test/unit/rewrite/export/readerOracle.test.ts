/**
 * The single-pass CSV and CEF readers against the readers they replaced
 * (test/helpers/csvReference.ts, cefReference.ts): on generated and mutated
 * records, every decision field, every withheld record and every output
 * byte must be the same.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import type { ActivityFacts } from '../../../../src/privacy/types.js';
import { PLAUSIBLE_CEF_TIME_MS, cefExtensionStart, cefParser, readCefEvent } from '../../../../src/rewrite/export/cef.js';
import { csvParser } from '../../../../src/rewrite/export/csv.js';
import type { CsvColumns, Op, RecordParser } from '../../../../src/rewrite/export/types.js';
import type { HideAnswer } from '../../../../src/privacy/types.js';
import { pseudonymTarget, pseudonymiseTextRecord } from '../../../../src/rewrite/pseudonymise.js';
import { cefParser as refCefParser, readCefEvent as refReadCefEvent } from '../../../helpers/cefReference.js';
import { csvParser as refCsvParser } from '../../../helpers/csvReference.js';
import { chunked, run } from '../../../helpers/exportHarness.js';

/** the fields themselves as facts: the comparison sees exactly what the reader read */
const asFacts = (f: unknown): ActivityFacts => f as ActivityFacts;

interface Outcome {
  ops: Array<{ kind: string; bytes?: string; facts?: unknown }>;
  err: string | null;
}

function drive(p: RecordParser, chunks: Buffer[]): Outcome {
  const ops: Op[] = [];
  let err: string | null = null;
  try {
    for (const c of chunks) p.push(c, ops);
    p.end(ops);
  } catch (e) {
    err = `${(e as Error).name}: ${(e as Error).message}`;
  }
  return {
    ops: ops.map((o) =>
      o.kind === 'list' ? { kind: o.kind } : { kind: o.kind, bytes: o.bytes.toString('hex'), facts: o.kind === 'record' ? o.facts : undefined },
    ),
    err,
  };
}

/** The v3 rule the reference predates: a CEF time read as before 2000-01-01 is no time (cef.ts). */
function v3CefTimes(o: Outcome): Outcome {
  const implausible = (f: unknown): boolean => {
    const t = (f as ActivityFacts | null)?.timestamp;
    return typeof t === 'number' && !(t >= PLAUSIBLE_CEF_TIME_MS);
  };
  return { ...o, ops: o.ops.map((op) => (implausible(op.facts) ? { ...op, facts: { ...(op.facts as ActivityFacts), timestamp: undefined } } : op)) };
}

const show = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (v === undefined ? '(undefined)' : v));

/** Deep strict equality with a short message (a deep diff of long op lists is slow to print). */
function same(got: unknown, want: unknown): void {
  if (isDeepStrictEqual(got, want)) return;
  if (Array.isArray((got as Outcome)?.ops) && Array.isArray((want as Outcome)?.ops)) {
    const g = got as Outcome;
    const w = want as Outcome;
    const i = g.ops.findIndex((o, k) => !isDeepStrictEqual(o, w.ops[k]));
    throw new Error(`op ${i} differs: ${show(g.ops[i])} vs ${show(w.ops[i])}; errors ${g.err} vs ${w.err}; ops ${g.ops.length} vs ${w.ops.length}`);
  }
  throw new Error(`differs: ${show(got)} vs ${show(want)}`);
}

/** Byte-level damage: inserted delimiters / invalid UTF-8, deleted bytes, a truncation. */
type Mutation = { at: number; kind: 'insert'; byte: number } | { at: number; kind: 'delete' } | { at: number; kind: 'truncate' };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    at: fc.nat(),
    kind: fc.constant('insert' as const),
    byte: fc.constantFrom(0x22, 0x2c, 0x0d, 0x0a, 0x5c, 0x3d, 0x7c, 0x20, 0x3b, 0xff, 0xc3, 0x80, 0xe2, 0xa0, 0xf0, 0x00, 0x61),
  }),
  fc.record({ at: fc.nat(), kind: fc.constant('delete' as const) }),
  fc.record({ at: fc.nat(), kind: fc.constant('truncate' as const) }),
);

function mutate(b: Buffer, ms: Mutation[]): Buffer {
  let out = b;
  for (const m of ms) {
    if (out.length === 0) break;
    const at = m.at % (out.length + 1);
    if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from([m.byte]), out.subarray(at)]);
    else if (m.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else out = out.subarray(0, at);
  }
  return out;
}

// ---------------------------------------------------------------- CEF

const cefPiece = fc.constantFrom(
  'a',
  'B',
  ' ',
  '  ',
  '=',
  '\\=',
  '\\\\',
  '\\',
  '\\n',
  '\\r',
  '|',
  '\\|',
  'é',
  '€',
  '😀',
  '\u00a0',
  '\u2028',
  '\ufeff',
  ';',
  ' ; ',
  'x@y.com',
  'Nov 26 2026 10:00:00',
  'Nov 26 2026 10:00:00.5 +01:00',
  '1700000000000',
  '2026-11-26T10:00:00Z',
  '\t',
  '\r',
  '"',
  ',',
  '.',
  '_',
  '0',
  'k=',
  ' suser=',
  ' cs1=',
);
const cefValue = fc.string({ unit: cefPiece, maxLength: 8 });
const cefLabel = fc.constantFrom(
  'userTags',
  'USERTAGS',
  'usertags',
  ' userTags ',
  'actorType',
  'ACTORTYPE',
  'ActorType\\n',
  'user\\=tags',
  'other',
  '',
  '\u00a0userTags',
);
const cefKey = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'suser',
      'rt',
      'start',
      'externalId',
      'userTags',
      'actorType',
      'msg',
      'src',
      'cs1',
      'cs2',
      'cs10',
      'cs01',
      'cs1Label',
      'cs2Label',
      'cs10Label',
      'cs01Label',
      'csLabel',
      'cs',
      'cs1label',
      'cs1.Label',
      'Suser',
      'x.y',
      'a_b',
      'request',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', 's', 'c', '1', '_', '.', 'L', 'r', 't'), minLength: 1, maxLength: 5 }) },
);
const cefEntry = fc.tuple(cefKey, fc.oneof(cefValue, cefLabel)).map(([k, v]) => `${k}=${v}`);
const headerField = fc.string({ unit: fc.constantFrom('a', '1', ' ', '\\|', '\\\\', '\\', 'é', '=', 'CEF:'), maxLength: 4 });

const cefLine = fc
  .record({
    prefix: fc.constantFrom('', '', '<134>Nov 26 10:00:00 mcas ', 'junk ', 'CEF:', 'é '),
    header: fc.array(headerField, { minLength: 5, maxLength: 8 }),
    lead: fc.constantFrom('', '', '', ' ', '  ', 'x ', ' \u00a0 ', '\t'),
    entries: fc.array(cefEntry, { maxLength: 9 }),
    sep: fc.constantFrom(' ', ' ', '  '),
    dup: fc.nat(),
    tail: fc.constantFrom('', '', ' ', '=', '\\'),
  })
  .map(({ prefix, header, lead, entries, sep, dup, tail }) => {
    // now and then repeat an entry (a repeated key)
    if (entries.length && dup % 4 === 0) entries.push(entries[dup % entries.length]);
    return `${prefix}CEF:0|${header.join('|')}|${lead}${entries.join(sep)}${tail}`;
  });

describe('CEF single-pass reader = reference reader', () => {
  test('property: readCefEvent decides every generated line as the reference does', () => {
    fc.assert(
      fc.property(cefLine, (line) => {
        same(readCefEvent(line), refReadCefEvent(line));
      }),
      { numRuns: 12_000 },
    );
  });

  test('property: readCefEvent on character-level mutations of lines', () => {
    const ch = fc.constantFrom(' ', '=', '\\', '|', 'a', 's', '1', 'é', '\u00a0', ';');
    fc.assert(
      fc.property(cefLine, fc.array(fc.tuple(fc.nat(), ch, fc.boolean()), { minLength: 1, maxLength: 4 }), (line, edits) => {
        let s = line;
        for (const [at, c, del] of edits) {
          const i = at % (s.length + 1);
          s = del ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + c + s.slice(i);
        }
        same(readCefEvent(s), refReadCefEvent(s));
      }),
      { numRuns: 10_000 },
    );
  });

  test('property: cefParser emits the same operations for byte-mutated streams, any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(cefLine, fc.constantFrom('\n', '\r\n', '\n\n', ' \n')), { minLength: 1, maxLength: 12 }),
        fc.array(mutation, { maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 4 }),
        (lines, ms, sizes) => {
          const src = mutate(Buffer.from(lines.map(([l, end]) => l + end).join('')), ms);
          const chunks = chunked(src, sizes);
          const got = drive(cefParser({ fromFields: asFacts, maxRecordBytes: 1 << 20 }), chunks);
          const want = drive(refCefParser({ fromFields: asFacts, maxRecordBytes: 1 << 20 }), chunks);
          same(got, v3CefTimes(want));
        },
      ),
      { numRuns: 1500 },
    );
  });

  test('property: the whole CEF export filter, cut into random chunks, writes what the line-at-a-time reference does', async () => {
    // a verdict from the facts alone: undecidable (no time) and odd actors removed, actors with an `a` pseudonymised
    const verdict = (f: ActivityFacts): HideAnswer =>
      f.timestamp === undefined || (f.actor ?? '').length % 2 === 1 ? true : (f.actor ?? '').includes('a') ? 'pseudonymise' : false;
    const target = pseudonymTarget('x', 'p@q');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(cefLine, fc.constantFrom('\n', '\r\n', '\n\n', ' \n', '')), { minLength: 1, maxLength: 40 }),
        fc.array(mutation, { maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }),
        fc.oneof(fc.integer({ min: 4, max: 120 }), fc.constant(1 << 20)),
        async (lines, ms, sizes, maxRecordBytes) => {
          const src = mutate(Buffer.from(lines.map(([l, end]) => l + end).join('')), ms);
          const got = await run(
            {
              format: 'cef',
              extract: () => ({ groups: [], isApplication: false }),
              fromFields: asFacts,
              csvColumns: { actor: [], timestamp: 't', groups: [] },
              hide: (facts) => facts.map(verdict),
              pseudonyms: () => target,
              maxRecordBytes,
            },
            chunked(src, sizes),
          );
          // the reference framer and reader, one line at a time over the whole body, then the same verdicts
          const want = v3CefTimes(drive(refCefParser({ fromFields: asFacts, maxRecordBytes }), [src]));
          const parts: Buffer[] = [];
          for (const op of want.ops) {
            const bytes = Buffer.from(op.bytes!, 'hex');
            if (op.kind === 'raw') parts.push(bytes);
            else if (op.facts !== null) {
              const v = verdict(op.facts as ActivityFacts);
              if (v === false) parts.push(bytes);
              else if (v === 'pseudonymise') parts.push(pseudonymiseTextRecord(bytes, target, cefExtensionStart(bytes)));
            }
          }
          expect(got.out.toString('hex')).toBe(Buffer.concat(parts).toString('hex'));
          expect(got.err === null ? null : (got.err as Error).name).toBe(want.err === null ? null : 'ExportStructureError');
        },
      ),
      // a failure is reported as found: shrinking a whole export is slow
      { numRuns: 1500, endOnFailure: true },
    );
  });

  test('the sample lines of the demo formats', () => {
    for (const line of [
      '<134>Nov 26 10:00:00 mcas CEF:0|Microsoft|MCAS|1.0|LOGIN|Log on \\| ok|3|rt=1700000000000 suser=alice@contoso.com start=1700000000000 externalId=abc src=1.2.3.4 cs1Label=userTags cs1=a;b cs2Label=actorType cs2=USER msg=hi there = no',
      'CEF:0|a|b|c|d|e|f|',
      'CEF:0|a|b|c|d|e|f|  ',
      'CEF:0|a|b|c|d|e|f| suser=x',
      'CEF:0|a|b|c|d|e|f|x suser=x',
      'CEF:0|a|b|c|d|e|f|suser=a\\\\=b',
      'CEF:0|a|b|c|d|e|f|suser=a\\\\\\=b',
      'CEF:0|a|b|c|d|e|f|cs1Label=actorType actorType=APP cs1Label2=x',
      'CEF:0|a|b|c|d|e|f|actorType=APP cs3Label=actorType',
    ])
      same(readCefEvent(line), refReadCefEvent(line));
  });
});

// ---------------------------------------------------------------- CSV

const csvCell = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom('a', 'B', ' ', ';', ' ; ', 'é', '😀', '\u00a0', 'x@y.com', '17', '-'), maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', '"', ',', '\r', '\n', '\r\n', ' ', ';', 'é', '\\'), maxLength: 6 }) },
);
const quoteCell = (s: string, force: boolean): string => (force || /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s);

const HEADERS = [
  ['Id', 'User', 'Date', 'Note', 'Groups', 'Tags'],
  ['ID', 'FailedUser', 'USER', 'date', 'groups', 'tags', 'actorType'],
  ['user', 'user', 'Date', 'Groups', 'Groups'],
  ['Note', 'Other'],
  ['Date'],
  ['_id', 'timestamp', 'userName', 'userTags', 'actorType', 'eventTypeName', 'description', 'clientIP'],
];
const COLUMNS: CsvColumns[] = [
  { id: 'Id', actor: ['User', 'FailedUser'], timestamp: 'Date', groups: ['Groups', 'Tags'], application: 'actorType' },
  { id: '_id', actor: ['userName'], timestamp: 'timestamp', groups: ['userTags'], application: 'actorType' },
  { actor: ['user'], timestamp: 'date', groups: [] },
];

const csvRow = fc
  .record({
    cells: fc.array(fc.tuple(csvCell, fc.boolean()), { maxLength: 9 }),
    width: fc.nat({ max: 2 }),
    crlf: fc.boolean(),
    raw: fc.constantFrom('', '', '', '', '', 'a""b', '"x"y', '"unclosed', 'a\rb', '""', '"', ',', ',,'),
  })
  .map(({ cells, width, crlf, raw }) => ({ text: cells.map(([s, q]) => quoteCell(s, q)).join(',') + raw, width, crlf }));

describe('CSV single-pass reader = reference reader', () => {
  test('property: csvParser emits the same operations (fields, withheld rows, bytes), any chunking', () => {
    let records = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: HEADERS.length - 1 }),
        fc.nat({ max: COLUMNS.length - 1 }),
        fc.array(csvRow, { minLength: 8, maxLength: 16 }),
        fc.array(fc.tuple(fc.nat(), fc.array(fc.tuple(csvCell, fc.boolean()), { maxLength: 2 })), { maxLength: 3 }),
        fc.array(mutation, { maxLength: 2 }),
        fc.array(fc.integer({ min: 1, max: 80 }), { maxLength: 4 }),
        fc.boolean(),
        (h, c, rows, fits, ms, sizes, bom) => {
          const header = HEADERS[h];
          // most rows get exactly the header's width: pad / cut the generated cells to it
          const lines = rows.map((r, i) => {
            let text = r.text;
            const fit = fits.find(([at]) => at % rows.length === i);
            if (r.width === 0 || fit) {
              const cells = (fit?.[1] ?? []).map(([s, q]) => quoteCell(s, q));
              while (cells.length < header.length) cells.push(i % 3 === 0 ? 'x@y.com' : String(i));
              text = cells.slice(0, header.length).join(',');
            }
            return text + (r.crlf ? '\r\n' : '\n');
          });
          records += lines.length;
          const src = mutate(Buffer.from((bom ? '\ufeff' : '') + header.join(',') + '\r\n' + lines.join('')), ms);
          const chunks = chunked(src, sizes);
          const opts = { fromFields: asFacts, columns: COLUMNS[c], maxRecordBytes: 1 << 20 };
          same(drive(csvParser(opts), chunks), drive(refCsvParser(opts), chunks));
        },
      ),
      { numRuns: 1000 },
    );
    expect(records).toBeGreaterThanOrEqual(10_000);
  });

  test('property: rows of exactly the header width, hostile cells, no framing damage', () => {
    const header = HEADERS[1];
    fc.assert(
      fc.property(fc.array(fc.tuple(csvCell, fc.boolean()), { minLength: 7, maxLength: 7 }), fc.constantFrom('', '\r'), (cells, cr) => {
        const line = cells.map(([s, q]) => quoteCell(s, q)).join(',') + cr + '\n';
        const src = Buffer.from(header.join(',') + '\n' + line);
        const opts = { fromFields: asFacts, columns: COLUMNS[0], maxRecordBytes: 1 << 20 };
        same(drive(csvParser(opts), [src]), drive(refCsvParser(opts), [src]));
      }),
      { numRuns: 10_000 },
    );
  });
});
