import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { createExportFilter, ExportStructureError, type ExportFilterOptions, type ExportFields } from '../../src/rewrite/export/index.js';
import { cefFields, parseCefExtension } from '../../src/rewrite/export/cef.js';

import { run, chunked, hostile } from '../helpers/exportHarness.js';

function options(hideAsync = false, removed?: number[]): ExportFilterOptions {
  return {
    format: 'cef',
    extract: () => { throw new Error('not used'); },
    fromFields: (f: ExportFields) => ({
      id: f.id,
      actor: f.actor?.toLowerCase(),
      timestamp: f.timestamp === undefined ? undefined : /^\d+$/.test(f.timestamp) ? Number(f.timestamp) : Date.parse(f.timestamp),
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

const escHeader = (s: string): string => s.replace(/[\r\n]/g, '').replace(/\\/g, '\\\\').replace(/\|/g, '\\|');
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
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('junk' as const), text: fc.constantFrom('hello suser=alice@contoso.com', 'CEF:0|too|few|pipes|suser=alice@contoso.com', 'CEF:0|a|b|c|d|e|5|garbage suser=alice@contoso.com rt=5') }) },
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
      fc.asyncProperty(fc.array(lineArb, { maxLength: 20 }), fc.boolean(), fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }), fc.boolean(), async (lines, finalNl, sizes, hideAsync) => {
        const { src, want, dropped } = build(lines, finalNl);
        const removed: number[] = [];
        const r = await run(options(hideAsync, removed), chunked(src, sizes));
        expect(r.err).toBeNull();
        expect(r.out.toString('hex')).toBe(want.toString('hex'));
        expect(removed.reduce((a, b) => a + b, 0)).toBe(dropped);
        const ones = await run(options(), chunked(src, [1]));
        expect(ones.out.equals(want)).toBe(true);
      }),
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

  test('fields: suser, rt before start, externalId, userTags; the last duplicate wins', () => {
    const ext = parseCefExtension('<13>x CEF:0|a\\|b|c\\\\|d|e|f|g|start=1 rt=2 suser=x suser=Y@Z.com  externalId=E1 userTags=a;b cs1Label=UserTags cs1=c; ;d cs2=hr')!;
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
