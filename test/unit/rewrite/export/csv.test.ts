import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { ExportStructureError, type ExportFilterOptions, type ExportFields } from '../../../../src/rewrite/export/index.js';
import { parseCsvRecord } from '../../../../src/rewrite/export/csv.js';

import { run, chunked, hostile } from '../../../helpers/exportHarness.js';

const seen: ExportFields[] = [];
function options(hideAsync = false, removed?: number[]): ExportFilterOptions {
  return {
    format: 'csv',
    extract: () => {
      throw new Error('not used');
    },
    fromFields: (f) => {
      seen.push(f);
      return {
        id: f.id,
        actor: f.actor?.toLowerCase(),
        timestamp: f.timestamp ? Number(f.timestamp) : undefined,
        groups: f.groups ?? [],
        isApplication: false,
      };
    },
    csvColumns: { id: 'Id', actor: ['User', 'FailedUser'], timestamp: 'Date', groups: ['Groups', 'Tags'] },
    hide: (fs) => {
      const v = fs.map((f) => f.actor === 'bob@private' || f.groups.includes('hr') || f.timestamp === undefined);
      return hideAsync ? Promise.resolve(v) : v;
    },
    onRemoved: removed ? (n) => removed.push(n) : undefined,
  };
}

const quote = (s: string): string => '"' + s.replace(/"/g, '""') + '"';
/** RFC 4180 field text: quoted when it must be, sometimes when it need not be */
const field = (s: string, force: boolean): string => (force || /[",\r\n]/.test(s) ? quote(s) : s);
const HEADER = ['Id', 'user', 'Date', 'Note', 'Groups', 'Tags'];

type Row =
  | { kind: 'row'; hidden: 'no' | 'actor' | 'group' | 'time'; note: string; quoteAll: boolean; crlf: boolean }
  | { kind: 'blank'; crlf: boolean }
  | { kind: 'bad'; text: string; crlf: boolean };
const rowArb: fc.Arbitrary<Row> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('row' as const),
      hidden: fc.constantFrom('no', 'no', 'actor', 'group', 'time'),
      note: hostile,
      quoteAll: fc.boolean(),
      crlf: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('blank' as const), crlf: fc.boolean() }) },
  {
    weight: 1,
    // malformed but with balanced quotes (so framing is unambiguous): withheld
    arbitrary: fc.record({
      kind: fc.constant('bad' as const),
      text: fc.constantFrom('1,a""b,2,x,,', '"1"x,bob@private,2,x,,', '1,alice,2', '1,alice,2,x,,,extra', '1,al\rice,2,x,,'),
      crlf: fc.boolean(),
    }),
  },
);

function build(rows: Row[], finalNewline: boolean, headerCrlf: boolean): { src: Buffer; want: Buffer; dropped: number } {
  const header = HEADER.join(',') + (headerCrlf ? '\r\n' : '\n');
  let src = header;
  let want = header;
  let dropped = 0;
  rows.forEach((r, i) => {
    const last = i === rows.length - 1;
    const end = last && !finalNewline ? '' : r.crlf ? '\r\n' : '\n';
    let text: string;
    let keep: boolean;
    if (r.kind === 'row') {
      const actor = r.hidden === 'actor' ? 'Bob@Private' : 'alice@contoso.com';
      const groups = r.hidden === 'group' ? 'x; hr ;y' : 'x;y';
      const date = r.hidden === 'time' ? '' : String(1_700_000_000_000 + i);
      const cells = [`r${i}`, actor, date, r.note + (r.hidden !== 'no' ? 'PRIVATE' : ''), groups, ''];
      text = cells.map((c) => field(c, r.quoteAll)).join(',');
      keep = r.hidden === 'no';
    } else if (r.kind === 'blank') {
      // an unterminated blank last line would be a one-field record: keep blank lines terminated
      if (last && !finalNewline) return;
      text = '';
      keep = true;
    } else {
      text = r.text;
      keep = false;
    }
    src += text + end;
    if (keep) want += text + end;
    else dropped++;
  });
  return { src: Buffer.from(src), want: Buffer.from(want), dropped };
}

describe('csv export filter', () => {
  test('property: output = source minus hidden and malformed rows, any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { maxLength: 20 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }),
        fc.boolean(),
        async (rows, finalNl, headerCrlf, sizes, hideAsync) => {
          const { src, want, dropped } = build(rows, finalNl, headerCrlf);
          const removed: number[] = [];
          const r = await run(options(hideAsync, removed), chunked(src, sizes));
          expect(r.err).toBeNull();
          expect(r.out.toString('hex')).toBe(want.toString('hex'));
          expect(removed.reduce((a, b) => a + b, 0)).toBe(dropped);
          const ones = await run(options(), chunked(src, [1]));
          expect(ones.out.equals(want)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('property: every single split point of small inputs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { maxLength: 3 }), fc.boolean(), async (rows, finalNl) => {
        const { src, want } = build(rows, finalNl, true);
        for (let k = 0; k <= src.length; k++) {
          const r = await run(options(), [src.subarray(0, k), src.subarray(k)]);
          expect(r.err).toBeNull();
          expect(r.out.equals(want)).toBe(true);
        }
      }),
      { numRuns: 25 },
    );
  });

  test('property: parseCsvRecord reads back what was written', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(hostile, fc.boolean()), { minLength: 1, maxLength: 6 }), (cells) => {
        const line = cells.map(([s, q]) => field(s, q)).join(',');
        expect(parseCsvRecord(line)).toEqual(cells.map(([s]) => s));
      }),
    );
  });

  test('columns by header name, case-insensitive; first non-empty actor column; groups from all group columns', async () => {
    seen.length = 0;
    const src = 'ID,FailedUser,USER,date,groups,tags\r\n1,,Al@X.com,5,a;b,c\r\n2,f@x.com,u@x.com,6,,hr\r\n';
    const r = await run(options(), [Buffer.from(src)]);
    expect(r.out.toString()).toBe('ID,FailedUser,USER,date,groups,tags\r\n1,,Al@X.com,5,a;b,c\r\n');
    // actor: `User` is listed first in csvColumns, so it wins over FailedUser when both are set
    expect(seen).toEqual([
      { id: '1', actor: 'Al@X.com', timestamp: '5', groups: ['a', 'b', 'c'], application: undefined },
      { id: '2', actor: 'u@x.com', timestamp: '6', groups: ['hr'], application: undefined },
    ]);
  });

  test('no actor / time column: every row is undecidable and hide decides', async () => {
    seen.length = 0;
    const src = 'a,b\n1,2\n3,4\n';
    const r = await run(options(), [Buffer.from(src)]);
    expect(r.out.toString()).toBe('a,b\n');
    expect(seen.every((f) => f.actor === undefined && f.timestamp === undefined)).toBe(true);
    expect(seen).toHaveLength(2);
  });

  test('a BOM before the header is kept and does not hide the first column', async () => {
    const src = '\uFEFFId,User,Date\n1,bob@private,5\n2,al@x.com,6\n';
    const r = await run(options(), [Buffer.from(src)]);
    expect(r.out.toString()).toBe('\uFEFFId,User,Date\n2,al@x.com,6\n');
  });

  test('quoted newlines inside a hidden row do not split it', async () => {
    const src = 'Id,User,Date\n1,"bob@private",5\n2,"x\nPRIVATE,al@x.com,6\n",7\n3,al@x.com,8\n';
    const r = await run(options(), chunked(Buffer.from(src), [1]));
    // row 2 is one record of three fields; its actor cell is the whole quoted text, which is not private
    expect(r.out.toString()).toBe('Id,User,Date\n2,"x\nPRIVATE,al@x.com,6\n",7\n3,al@x.com,8\n');
    const hiddenMulti = 'Id,User,Date\n1,"bob@private",5\n2,bob@private,"6\n3,al@x.com,8"\n';
    const r2 = await run(options(), [Buffer.from(hiddenMulti)]);
    expect(r2.out.toString()).toBe('Id,User,Date\n');
  });

  test.each([
    ['unclosed quote at end of stream', 'Id,User,Date\n1,al@x.com,5\n2,"bob@private PRIVATE,6\n3,a,4\n'],
    ['malformed header', 'Id,"Us"er,Date\n1,al@x.com,5\n'],
    ['record beyond maxRecordBytes', `Id,User,Date\n1,bob@private,"PRIVATE${'x'.repeat(300)}"\n2,a,4\n`],
    ['unterminated record beyond maxRecordBytes', `Id,User,Date\n1,a,"${'x'.repeat(300)}`],
  ])('%s → ExportStructureError, nothing hidden sent', async (_name, src) => {
    for (const sizes of [[1], [9], [10_000]]) {
      const r = await run({ ...options(), maxRecordBytes: 200 }, chunked(Buffer.from(src), sizes));
      expect(r.err).toBeInstanceOf(ExportStructureError);
      expect(r.out.toString()).not.toContain('PRIVATE');
      expect(r.out.toString()).not.toContain('bob');
    }
  });
});
