import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { ExportStructureError, type ExportFilterOptions } from '../../../../src/rewrite/export/index.js';
import type { ActivityFacts } from '../../../../src/privacy/types.js';

import { run, chunked, hostile } from '../../../helpers/exportHarness.js';

/** A record is private when it carries the PRIVATE mark anywhere (robust to corrupted ids). */
const extract = (r: unknown): ActivityFacts => ({
  id: (r as { id?: string } | null)?.id,
  actor: JSON.stringify(r).includes('PRIVATE') ? 'bob@private' : 'alice@contoso.com',
  groups: [],
  isApplication: false,
});
function options(items: string, hideAsync = false, removed?: number[]): ExportFilterOptions {
  return {
    format: 'json',
    items,
    extract,
    fromFields: () => {
      throw new Error('not used');
    },
    csvColumns: { actor: [], timestamp: '', groups: [] },
    hide: (fs) => {
      const v = fs.map((f) => f.actor === 'bob@private');
      return hideAsync ? Promise.resolve(v) : v;
    },
    onRemoved: removed ? (n) => removed.push(n) : undefined,
  };
}

const ws = fc.constantFrom('', ' ', '\n', '\r\n  ', '\t', '  ');
/** JSON text of a value, sometimes with \u escapes and spacing that JSON.stringify would not produce */
const render = (v: unknown, w: string): string => JSON.stringify(v, null, w.includes('\n') ? 1 : undefined).replace(/é/g, '\\u00e9');
type Elem = { text: string; hidden: boolean; wsBefore: string; wsAfter: string };
const elemArb: fc.Arbitrary<Elem> = fc
  .record({
    kind: fc.constantFrom('obj', 'obj', 'obj', 'num', 'str', 'null', 'nested'),
    hidden: fc.boolean(),
    note: hostile,
    n: fc.double({ noNaN: true, noDefaultInfinity: true }),
    wsBefore: ws,
    wsAfter: ws,
    pretty: ws,
  })
  .map(({ kind, hidden, note, n, wsBefore, wsAfter, pretty }) => {
    const mark = hidden ? 'PRIVATE' : 'ok';
    let v: unknown;
    if (kind === 'num') v = hidden ? { mark } : n;
    else if (kind === 'str') v = hidden ? [mark] : note;
    else if (kind === 'null') v = hidden ? { mark } : null;
    else if (kind === 'nested') v = [{ a: [note, { b: mark }] }, note];
    else v = { id: 'x', user: { userName: note }, note, mark, deep: { l: [1, [2, { s: note }]] } };
    return { text: render(v, pretty), hidden, wsBefore, wsAfter };
  });

interface Doc {
  src: string;
  want: string;
  removed: number;
}
/** Builds an envelope around the target array and the oracle (the same text with hidden elements deleted). */
function build(elems: Elem[], items: string, style: { escKey: boolean; wsIn: string; decoy: boolean; total: boolean }): Doc {
  const arr = (keep: (e: Elem) => boolean): string => {
    if (elems.length === 0) return '[' + style.wsIn + ']';
    const last = elems[elems.length - 1];
    const units = elems.filter(keep).map((e) => e.wsBefore + e.text + (e === last ? '' : e.wsAfter));
    return '[' + units.join(',') + last.wsAfter + ']';
  };
  const wrap = (inner: string): string => {
    if (items === '') return style.wsIn + inner + '\n';
    const name = items === 'data' ? 'data' : 'page';
    const key = style.escKey ? `"${name[0]}\\u0061${name.slice(2)}"` : `"${name}"`;
    const head = style.total ? `{ "total" : ${elems.length},${style.wsIn}` : '{';
    const decoy = style.decoy ? `, "meta": {"data": [{"mark":"decoy"}], "x": [true, false, null, -0.5e+3, "\\"]"]}` : '';
    const body = `${key}${style.wsIn}:${style.wsIn}${inner}`;
    if (items === 'data') return `${head}${body}${decoy} }`;
    return `${head}"outer": {"data": 1, "x": {}, ${body}}${decoy}}`; // items = outer.page
  };
  return { src: wrap(arr(() => true)), want: wrap(arr((e) => !e.hidden)), removed: elems.filter((e) => e.hidden).length };
}
const buildArgs = fc.tuple(
  fc.array(elemArb, { maxLength: 8 }),
  fc.constantFrom('data', '', 'outer.page'),
  fc.record({ escKey: fc.boolean(), wsIn: ws, decoy: fc.boolean(), total: fc.boolean() }),
);

describe('json export filter', () => {
  test('kept neighbours keep their own comma: an all-kept chunk leaves as the input chunk itself, a cut one as few runs', async () => {
    const { createExportFilter } = await import('../../../../src/rewrite/export/index.js');
    const body = (marks: string[]) => Buffer.from(`{"data": [ ${marks.map((m, i) => `{"id":"${i}","m":"${m}"}`).join(' ,\n ')} ]}`);
    const emitted = async (input: Buffer): Promise<Buffer[]> => {
      const f = createExportFilter(options('data'));
      const out: Buffer[] = [];
      f.on('data', (b: Buffer) => out.push(b));
      const done = new Promise((r) => f.on('end', r));
      f.end(input);
      await done;
      return out;
    };
    const all = body(['a', 'b', 'c', 'd']);
    const [whole] = await emitted(all);
    expect(whole).toBe(all); // not a copy: the bytes as received
    const cut = body(['a', 'b', 'PRIVATE', 'd', 'e']);
    const [kept] = await emitted(cut);
    expect(kept.toString()).toBe('{"data": [ {"id":"0","m":"a"} ,\n {"id":"1","m":"b"} ,\n {"id":"3","m":"d"} ,\n {"id":"4","m":"e"} ]}');
  });

  test('property: output = source with hidden elements deleted, commas fixed, any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        buildArgs,
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 6 }),
        fc.boolean(),
        async ([elems, items, style], sizes, hideAsync) => {
          const { src, want, removed } = build(elems, items, style);
          const path = items;
          const counts: number[] = [];
          const r = await run(options(path, hideAsync, counts), chunked(Buffer.from(src), sizes));
          expect(r.err).toBeNull();
          expect(r.out.toString()).toBe(want);
          expect(counts.reduce((a, b) => a + b, 0)).toBe(removed);
          // and it is what a JSON consumer expects: the same document minus hidden elements
          expect(JSON.parse(r.out.toString())).toEqual(JSON.parse(want));
          const ones = await run(options(path), chunked(Buffer.from(src), [1]));
          expect(ones.out.toString()).toBe(want);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('property: every single split point of small inputs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(
          fc.array(elemArb, { maxLength: 3 }),
          fc.constantFrom('data', ''),
          fc.record({ escKey: fc.boolean(), wsIn: ws, decoy: fc.constant(false), total: fc.boolean() }),
        ),
        async ([elems, items, style]) => {
          const { src, want } = build(elems, items, style);
          const buf = Buffer.from(src);
          for (let k = 0; k <= buf.length; k++) {
            const r = await run(options(items), [buf.subarray(0, k), buf.subarray(k)]);
            expect(r.err).toBeNull();
            expect(r.out.toString()).toBe(want);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  test('property: every truncation is cut off with an error and never shows a hidden element', async () => {
    await fc.assert(
      fc.asyncProperty(buildArgs, async ([elems, items, style]) => {
        const { src } = build(elems, items, style);
        const buf = Buffer.from(src.trimEnd());
        const step = Math.max(1, Math.floor(buf.length / 80)); // a sample of cut points keeps it quick
        for (let k = 0; k < buf.length; k += k < 40 || k > buf.length - 40 ? 1 : step) {
          const r = await run(options(items), chunked(buf.subarray(0, k), [5]));
          expect(r.err).toBeInstanceOf(ExportStructureError);
          expect(r.out.toString()).not.toContain('PRIVATE');
        }
      }),
      { numRuns: 30 },
    );
  });

  test('property: a corrupted byte never lets a hidden element out', async () => {
    await fc.assert(
      fc.asyncProperty(buildArgs, fc.nat(), fc.constantFrom(...'{}[],:"\\ 0a-.eE\n\x01'.split('')), async ([elems, items, style], at, ch) => {
        const { src } = build(elems, items, style);
        const buf = Buffer.from(src);
        const i = at % buf.length;
        const bad = Buffer.concat([buf.subarray(0, i), Buffer.from(ch), buf.subarray(i + 1)]);
        const r = await run(options(items), chunked(bad, [3, 17]));
        expect(r.out.toString()).not.toContain('PRIVATE');
        if (r.err === null) expect(() => JSON.parse(bad.toString())).not.toThrow();
        else expect(r.err).toBeInstanceOf(ExportStructureError);
      }),
      { numRuns: 300 },
    );
  });

  test.each([
    ['path missing', '{"items":[]}', 'data'],
    ['not an array at the path', '{"data":{"a":1}}', 'data'],
    ['second occurrence not an array', '{"data":[],"data":5}', 'data'],
    ['top level not an array', '{"data":[]}', ''],
    ['trailing comma', '{"data":[{"a":1},]}', 'data'],
    ['missing comma', '{"data":[{"a":1} {"a":2}]}', 'data'],
    ['bad element', '{"data":[{"a":01}]}', 'data'],
    ['bad number in envelope', '{"n":01,"data":[]}', 'data'],
    ['bad escape in envelope', '{"s":"\\x","data":[]}', 'data'],
    ['control char in envelope string', '{"s":"a\u0001","data":[]}', 'data'],
    ['bad literal', '{"t":tru,"data":[]}', 'data'],
    ['garbage after the value', '{"data":[]} x', 'data'],
    ['two top-level values', '{"data":[]}{"data":[]}', 'data'],
    ['unterminated', '{"data":[]', 'data'],
    ['empty', '', 'data'],
    ['mismatched close', '{"data":[]]', 'data'],
    ['single quotes', "{'data':[]}", 'data'],
  ])('%s → ExportStructureError', async (_name, src, items) => {
    const r = await run(options(items), chunked(Buffer.from(src), [2]));
    expect(r.err).toBeInstanceOf(ExportStructureError);
  });

  test('a duplicated path key: every occurrence is filtered (consumers read the last)', async () => {
    const src = '{"data":[{"mark":"PRIVATE"}],"data":[{"mark":"PRIVATE"},{"a":1}]}';
    const r = await run(options('data'), [Buffer.from(src)]);
    expect(r.out.toString()).toBe('{"data":[],"data":[{"a":1}]}');
  });

  test('depth cap: nesting beyond 512 cuts off', async () => {
    const deep = '['.repeat(600) + ']'.repeat(600);
    const r = await run(options('data'), [Buffer.from(`{"data":[${deep}]}`)]);
    expect(r.err).toBeInstanceOf(ExportStructureError);
    const envDeep = '{"a":'.repeat(600) + '1' + '}'.repeat(600);
    const r2 = await run(options('data'), [Buffer.from(envDeep)]);
    expect(r2.err).toBeInstanceOf(ExportStructureError);
    const ok = await run(options('data'), [Buffer.from(`{"data":[${'['.repeat(100) + ']'.repeat(100)}]}`)]);
    expect(ok.err).toBeNull();
  });

  test('an element longer than maxRecordBytes cuts off, before anything of it is sent', async () => {
    const src = `{"data":[{"a":1},{"pad":"${'x'.repeat(300)}"},{"b":2}]}`;
    const r = await run({ ...options('data'), maxRecordBytes: 100 }, chunked(Buffer.from(src), [7]));
    expect(r.err).toBeInstanceOf(ExportStructureError);
    expect(r.out.toString()).not.toContain('xxx');
  });

  test('the envelope before the target is held back: a missing path leaks nothing', async () => {
    const src = '{"renamed":[{"mark":"PRIVATE"}],"total":1}';
    const r = await run(options('data'), chunked(Buffer.from(src), [4]));
    expect(r.err).toBeInstanceOf(ExportStructureError);
    expect(r.out.length).toBe(0);
    const big = `{"renamed":[${'{"mark":"PRIVATE"},'.repeat(100)}1],"data":[]}`;
    const r2 = await run({ ...options('data'), maxRecordBytes: 200 }, chunked(Buffer.from(big), [50]));
    expect(r2.err).toBeInstanceOf(ExportStructureError);
    expect(r2.out.length).toBe(0);
  });

  test('envelope bytes after the array are passed through as they stream (constant memory)', async () => {
    // a long envelope string is never buffered: it comes out in pieces as it arrives
    const long = 'y'.repeat(10_000);
    const src = Buffer.from(`{"data":[{"a":1}],"blob":"${long}"}`);
    const r = await run({ ...options('data'), maxRecordBytes: 100 }, chunked(src, [64]));
    expect(r.err).toBeNull();
    expect(r.out.equals(src)).toBe(true);
  });
});
