import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { ExportStructureError, type ExportFilterOptions, type ExportFields } from '../../../../src/rewrite/export/index.js';
import { readCefEvent } from '../../../../src/rewrite/export/cef.js';
// the whole-extension reader the production reader replaced, kept as its oracle
import { cefFields, parseCefExtension } from '../../../helpers/cefReference.js';
import { parseCefDate } from '../../../../src/privacy/time.js';

import { run, chunked, hostile } from '../../../helpers/exportHarness.js';

function options(hideAsync = false, removed?: number[]): ExportFilterOptions {
  return {
    format: 'cef',
    extract: () => {
      throw new Error('not used');
    },
    fromFields: (f: ExportFields) => ({
      id: f.id,
      actor: f.actor?.toLowerCase(),
      timestamp: typeof f.timestamp !== 'string' ? f.timestamp : /^\d+$/.test(f.timestamp) ? Number(f.timestamp) : Date.parse(f.timestamp),
      groups: f.groups ?? [],
      isApplication: false,
    }),
    csvColumns: { actor: [], timestamp: '', groups: [] },
    hide: (fs) => {
      const v = fs.map((f) => f.actor === 'bob@private' || f.groups.includes('hr') || f.timestamp === undefined || Number.isNaN(f.timestamp));
      return hideAsync ? Promise.resolve(v) : v;
    },
    onRemoved: removed ? (n) => removed.push(n) : undefined,
  };
}

const escHeader = (s: string): string =>
  s
    .replace(/[\r\n]/g, '')
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|');
const escValue = (s: string): string => s.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

type Line =
  | { kind: 'event'; hidden: 'no' | 'actor' | 'group' | 'time'; name: string; msg: string; syslog: boolean; useStart: boolean; crlf: boolean }
  | { kind: 'blank' }
  | { kind: 'junk'; text: string };
const lineArb: fc.Arbitrary<Line> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('event' as const),
      hidden: fc.constantFrom('no', 'no', 'actor', 'group', 'time'),
      name: hostile,
      msg: hostile,
      syslog: fc.boolean(),
      useStart: fc.boolean(),
      crlf: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'blank' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('junk' as const),
      text: fc.constantFrom(
        'hello suser=alice@contoso.com',
        'CEF:0|too|few|pipes|suser=alice@contoso.com',
        'CEF:0|a|b|c|d|e|5|garbage suser=alice@contoso.com rt=5',
      ),
    }),
  },
);

function build(lines: Line[], finalNewline: boolean): { src: Buffer; want: Buffer; dropped: number } {
  let src = '';
  let want = '';
  let dropped = 0;
  lines.forEach((l, i) => {
    const last = i === lines.length - 1;
    let text: string;
    let keep: boolean;
    if (l.kind === 'event') {
      const actor = l.hidden === 'actor' ? 'Bob@Private' : 'alice@contoso.com';
      const time = l.hidden === 'time' ? '' : `${l.useStart ? 'start' : 'rt'}=${i % 2 ? 'Nov 26 2026 10:00:00 UTC' : 1_700_000_000_000 + i}`;
      const tags = l.hidden === 'group' ? 'cs2Label=userTags cs2=x;hr' : 'cs2Label=other cs2=hr';
      const mark = l.hidden === 'no' ? '' : ' cs9=PRIVATE';
      const prefix = l.syslog ? `<134>Nov 26 10:00:00 host-${i} ` : '';
      text = `${prefix}CEF:0|Microsoft|MCAS|0.1|EVENT|${escHeader(l.name)}|0|externalId=e${i} ${time} suser=${actor} msg=${escValue(l.msg)} ${tags}${mark}`;
      keep = l.hidden === 'no';
    } else if (l.kind === 'blank') {
      text = '';
      keep = true;
    } else {
      text = l.text;
      keep = false;
    }
    const line = text + (last && !finalNewline ? '' : l.kind === 'event' && l.crlf ? '\r\n' : '\n');
    src += line;
    if (keep) want += line;
    else dropped++;
  });
  return { src: Buffer.from(src), want: Buffer.from(want), dropped };
}

describe('cef export filter', () => {
  test('property: output = source minus hidden and non-CEF lines, any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 20 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }),
        fc.boolean(),
        async (lines, finalNl, sizes, hideAsync) => {
          const { src, want, dropped } = build(lines, finalNl);
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
      fc.asyncProperty(fc.array(lineArb, { maxLength: 3 }), fc.boolean(), async (lines, finalNl) => {
        const { src, want } = build(lines, finalNl);
        for (let k = 0; k <= src.length; k++) {
          const r = await run(options(), [src.subarray(0, k), src.subarray(k)]);
          expect(r.err).toBeNull();
          expect(r.out.equals(want)).toBe(true);
        }
      }),
      { numRuns: 20 },
    );
  });

  test('property: extension values read back unescaped', () => {
    fc.assert(
      fc.property(hostile, hostile, (name, msg) => {
        const ext = parseCefExtension(`CEF:0|v|p|1|id|${escHeader(name)}|5|msg=${escValue(msg)} suser=a@b.c`);
        expect(ext?.get('msg')).toBe(msg);
        expect(ext?.get('suser')).toBe('a@b.c');
      }),
    );
  });

  test('fields: suser, rt before start, externalId, userTags', () => {
    const ext = parseCefExtension('<13>x CEF:0|a\\|b|c\\\\|d|e|f|g|start=1 rt=2 suser=Y@Z.com  externalId=E1 userTags=a;b cs1Label=UserTags cs1=c; ;d cs2=hr')!;
    expect(cefFields(ext)).toEqual({ id: 'E1', actor: 'Y@Z.com', timestamp: '2', groups: ['a', 'b', 'c', 'd'] });
    expect(cefFields(parseCefExtension('CEF:0|a|b|c|d|e|f|start=7')!).timestamp).toBe('7');
    expect(parseCefExtension('no cef here')).toBeNull();
    expect(parseCefExtension('CEF:0|a|b|c|d|e\\|f|suser=x')).toBeNull(); // only six unescaped pipes
  });

  test('a line longer than maxRecordBytes cuts off with ExportStructureError', async () => {
    const src = `CEF:0|a|b|c|d|e|5|suser=al@x.com rt=1\nCEF:0|a|b|c|d|e|5|suser=bob@private rt=1 cs9=PRIVATE\nCEF:0|a|b|c|d|e|5|suser=al@x.com rt=1 msg=${'x'.repeat(300)}\n`;
    for (const sizes of [[1], [13], [10_000]]) {
      const r = await run({ ...options(), maxRecordBytes: 200 }, chunked(Buffer.from(src), sizes));
      expect(r.err).toBeInstanceOf(ExportStructureError);
      expect(r.out.toString()).not.toContain('PRIVATE');
    }
  });
});

describe('CEF events the decision cannot trust are withheld', () => {
  test('a decision key given twice: never decided on one of the two values', () => {
    for (const line of [
      'CEF:0|a|b|c|d|e|f|suser=alice@contoso.com suser=bob@contoso.com rt=1',
      'CEF:0|a|b|c|d|e|f|suser=alice@contoso.com rt=1 rt=2',
      'CEF:0|a|b|c|d|e|f|suser=alice@contoso.com start=1 start=2',
      'CEF:0|a|b|c|d|e|f|suser=alice@contoso.com rt=1 userTags=hr userTags=x',
      'CEF:0|a|b|c|d|e|f|suser=alice@contoso.com rt=1 cs1Label=userTags cs1=hr cs1=x',
      'CEF:0|a|b|c|d|e|f|suser=alice@contoso.com rt=1 cs1Label=userTags cs1Label=other cs1=hr',
      'CEF:0|a|b|c|d|e|f|suser=alice@contoso.com rt=1 externalId=1 externalId=2',
    ])
      expect(readCefEvent(line), line).toBeNull();
    // other keys may repeat
    expect(readCefEvent('CEF:0|a|b|c|d|e|f|msg=1 msg=2 suser=alice@contoso.com rt=1')).toMatchObject({ actor: 'alice@contoso.com' });
  });

  test('a decision value with an unescaped = is not separable: withheld; an escaped one is read', () => {
    expect(readCefEvent('CEF:0|a|b|c|d|e|f|suser=alice@contoso.com=bob@contoso.com rt=1')).toBeNull();
    expect(readCefEvent('CEF:0|a|b|c|d|e|f|suser=alice@contoso.com rt=1=2')).toBeNull();
    expect(readCefEvent('CEF:0|a|b|c|d|e|f|suser=alice\\=x@contoso.com rt=1')).toMatchObject({ actor: 'alice=x@contoso.com' });
    expect(readCefEvent('CEF:0|a|b|c|d|e|f|request=https://x/?a=b suser=alice@contoso.com rt=1')).toMatchObject({ actor: 'alice@contoso.com' });
  });

  test('through the filter: such lines are removed, clean ones kept', async () => {
    const lines = [
      'CEF:0|v|p|1|1|n|5|suser=alice@contoso.com rt=1700000000000\n',
      'CEF:0|v|p|1|2|n|5|suser=alice@contoso.com suser=bob@private rt=1700000000000\n',
      'CEF:0|v|p|1|3|n|5|suser=alice@contoso.com rt=1700000000000=2\n',
    ];
    const r = await run(options(false), [Buffer.from(lines.join(''))]);
    expect(r.err).toBeNull();
    expect(r.out.toString()).toBe(lines[0]);
  });
});

describe('CEF date forms', () => {
  test.each([
    ['Nov 26 2026 10:00:00', '2026-11-26T10:00:00.000Z'],
    ['Nov 26 2026 10:00:00.123', '2026-11-26T10:00:00.123Z'],
    ['Nov 26 2026 10:00:00 UTC', '2026-11-26T10:00:00.000Z'],
    ['Nov 26 2026 10:00:00.5 GMT', '2026-11-26T10:00:00.500Z'],
    ['Nov 26 2026 10:00:00 Z', '2026-11-26T10:00:00.000Z'],
    ['Nov 26 2026 10:00:00 +02:00', '2026-11-26T08:00:00.000Z'],
    ['Nov 26 2026 10:00:00.250 -0530', '2026-11-26T15:30:00.250Z'],
    ['Nov 26 2026 10:00:00 GMT+01:00', '2026-11-26T09:00:00.000Z'],
    ['jan 05 2026 23:59:59', '2026-01-05T23:59:59.000Z'],
    ['Feb 29 2028 00:00:00', '2028-02-29T00:00:00.000Z'],
  ])('%s', (text, iso) => {
    expect(parseCefDate(text)).toBe(Date.parse(iso));
  });

  test.each([
    'Nov 26 10:00:00',
    'Foo 26 2026 10:00:00',
    'Feb 30 2026 10:00:00',
    'Nov 26 2026 24:00:00',
    'Nov 26 2026 10:00:00 CET',
    'Nov 26 2026 10:00',
    '2026-11-26T10:00:00Z',
  ])('unreadable: %s', (text) => {
    expect(parseCefDate(text)).toBeUndefined();
  });

  test('rt in a CEF date form decides the record', () => {
    expect(readCefEvent('CEF:0|a|b|c|d|e|f|suser=alice@contoso.com rt=Nov 26 2026 10:00:00.123 +01:00')).toMatchObject({
      timestamp: Date.parse('2026-11-26T09:00:00.123Z'),
    });
    expect(readCefEvent('CEF:0|a|b|c|d|e|f|suser=alice@contoso.com start=Mar 01 2026 00:00:00')).toMatchObject({
      timestamp: Date.parse('2026-03-01T00:00:00Z'),
    });
  });
});
