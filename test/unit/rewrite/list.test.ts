import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ActivitiesSpec, ActivityFacts, HideBatch } from '../../../src/privacy/types.js';
import { BodyInvalidError } from '../../../src/engine/errors.js';
import { filterList, type ListFilterOptions } from '../../../src/rewrite/list.js';
import { compileExtractor } from '../../../src/privacy/extract.js';
import { compileFieldReader } from '../../../src/rewrite/fieldReader.js';
import { mulberry32 } from '../../../src/demo/dataset.js';

// ---------- helpers ----------

const b = (s: string) => Buffer.from(s, 'utf8');

function factsOf(r: unknown): ActivityFacts {
  const id = typeof r === 'object' && r !== null && typeof (r as { _id?: unknown })._id === 'string' ? (r as { _id: string })._id : undefined;
  return { id, groups: [], isApplication: false };
}

/** hide by id: ids in `hidden` are private */
const hideIds =
  (...hidden: string[]): HideBatch =>
  (facts) =>
    facts.map((f) => f.id !== undefined && hidden.includes(f.id));

function opts(hide: HideBatch, extra: Partial<ListFilterOptions> = {}): ListFilterOptions {
  return { items: 'data', total: 'total', extract: factsOf, hide, remove: true, ...extra };
}

// ---------- example cases ----------

describe('filterList examples', () => {
  const page = '{"data":[{"_id":"a"}, {"_id":"b"} ,{"_id":"c"}],"hasNext":true,"total":1234,"max":100}';

  it.each([
    [['a'], '{"data":[{"_id":"b"} ,{"_id":"c"}],"hasNext":true,"total":1233,"max":100}'],
    [['b'], '{"data":[{"_id":"a"} ,{"_id":"c"}],"hasNext":true,"total":1233,"max":100}'],
    [['c'], '{"data":[{"_id":"a"}, {"_id":"b"}],"hasNext":true,"total":1233,"max":100}'],
    [['a', 'b'], '{"data":[{"_id":"c"}],"hasNext":true,"total":1232,"max":100}'],
    [['a', 'c'], '{"data":[{"_id":"b"}],"hasNext":true,"total":1232,"max":100}'],
    [['b', 'c'], '{"data":[{"_id":"a"}],"hasNext":true,"total":1232,"max":100}'],
    [['a', 'b', 'c'], '{"data":[],"hasNext":true,"total":1231,"max":100}'],
  ])('removes %j with commas right and everything else byte-exact', async (hidden, expected) => {
    const res = await filterList(b(page), opts(hideIds(...hidden)));
    expect(res.body.toString()).toBe(expected);
    expect(res.removed).toBe(hidden.length);
    expect(res.privateCount).toBe(hidden.length);
    expect(res.privateIds).toEqual(hidden);
    expect(res.total).toBe(3);
  });

  it('returns the original buffer object when nothing is removed', async () => {
    const body = b(page);
    const res = await filterList(body, opts(hideIds()));
    expect(res.body).toBe(body);
    expect(res).toMatchObject({ removed: 0, privateCount: 0, privateIds: [], total: 3 });
  });

  it('with remove=false keeps the body identical but reports the private ones', async () => {
    const body = b(page);
    const res = await filterList(body, opts(hideIds('a', 'c'), { remove: false }));
    expect(res.body).toBe(body);
    expect(res).toMatchObject({ removed: 0, privateCount: 2, privateIds: ['a', 'c'], total: 3 });
  });

  it('keeps pretty-printed indentation of the kept activities', async () => {
    const pretty = JSON.stringify({ data: [{ _id: 'a', x: [1, 2] }, { _id: 'b' }, { _id: 'c', y: { z: '\u00e9' } }], total: 3 }, null, 2);
    const res = await filterList(b(pretty), opts(hideIds('b')));
    const out = res.body.toString();
    expect(JSON.parse(out)).toEqual({
      data: [
        { _id: 'a', x: [1, 2] },
        { _id: 'c', y: { z: 'é' } },
      ],
      total: 2,
    });
    expect(out).toContain('{\n      "_id": "a",\n      "x": [\n        1,\n        2\n      ]\n    }');
    expect(out).toContain('{\n      "_id": "c",\n      "y": {\n        "z": "é"\n      }\n    }');
  });

  it('never lowers total below the number kept', async () => {
    const res = await filterList(b('{"total":1,"data":[{"_id":"a"},{"_id":"b"},{"_id":"c"}]}'), opts(hideIds('a')));
    expect(JSON.parse(res.body.toString())).toEqual({ total: 2, data: [{ _id: 'b' }, { _id: 'c' }] });
  });

  it.each([
    ['"12"', '"12"'],
    ['1.5', '1.5'],
    ['-3', '-3'],
    ['null', 'null'],
    ['1e400', '1e400'],
    ['1e3', '999'],
    ['5.0', '4'],
    ['-0', '2'],
    ['0', '2'],
  ])('total %s becomes %s after removing one of three', async (before, after) => {
    const res = await filterList(b(`{"data":[{"_id":"a"},{"_id":"b"},{"_id":"c"}],"total":${before}}`), opts(hideIds('b')));
    expect(res.body.toString()).toBe(`{"data":[{"_id":"a"},{"_id":"c"}],"total":${after}}`);
  });

  it('filters every duplicated data array, adjusts every total, and calls hide once with all facts', async () => {
    const calls: string[][] = [];
    const hide: HideBatch = (facts) => {
      calls.push(facts.map((f) => f.id ?? '?'));
      return facts.map((f) => f.id === 'a' || f.id === 'd');
    };
    const body = b('{"total":10,"data":[{"_id":"a"},{"_id":"b"}],"total":20,"data":[{"_id":"c"},{"_id":"d"}]}');
    const res = await filterList(body, opts(hide));
    expect(calls).toEqual([['a', 'b', 'c', 'd']]);
    expect(res.body.toString()).toBe('{"total":8,"data":[{"_id":"b"}],"total":18,"data":[{"_id":"c"}]}');
    expect(res).toMatchObject({ removed: 2, privateCount: 2, privateIds: ['a', 'd'], total: 4 });
  });

  it('filters a top-level array with items ""', async () => {
    const res = await filterList(b(' [ {"_id":"a"} ,\n {"_id":"b"} ]\n'), opts(hideIds('a'), { items: '', total: undefined }));
    expect(res.body.toString()).toBe(' [ {"_id":"b"} ]\n');
  });

  it('filters a nested items path and a nested total', async () => {
    const body = b('{"r":{"page":{"items":[{"_id":"a"},{"_id":"b"}],"count":2}},"total":99}');
    const res = await filterList(body, opts(hideIds('b'), { items: 'r.page.items', total: 'r.page.count' }));
    expect(res.body.toString()).toBe('{"r":{"page":{"items":[{"_id":"a"}],"count":1}},"total":99}');
  });

  it('passes non-object elements to extract and lets hide decide', async () => {
    const seen: unknown[] = [];
    const extract = (r: unknown) => {
      seen.push(r);
      return factsOf(r);
    };
    const hide: HideBatch = (facts) => facts.map((f) => f.id === undefined); // undecidable -> withhold
    const res = await filterList(b('{"data":[1,"x",null,[2],{"_id":"k"},true]}'), { ...opts(hide), extract });
    expect(seen).toEqual([1, 'x', null, [2], { _id: 'k' }, true]);
    expect(res.body.toString()).toBe('{"data":[{"_id":"k"}]}');
    expect(res.privateIds).toEqual([]);
    expect(res.privateCount).toBe(5);
  });

  it('calls hide once even for an empty list, and leaves it untouched', async () => {
    let calls = 0;
    const body = b('{"data":[],"total":0}');
    const res = await filterList(
      body,
      opts((facts) => (calls++, facts.map(() => true))),
    );
    expect(calls).toBe(1);
    expect(res.body).toBe(body);
  });

  it('treats a hide answer other than false as hidden (fail closed), and a wrong-length answer as an error', async () => {
    const body = b('{"data":[{"_id":"a"},{"_id":"b"}]}');
    const odd = (async () => [undefined, false]) as unknown as HideBatch;
    expect((await filterList(body, opts(odd))).body.toString()).toBe('{"data":[{"_id":"b"}]}');
    await expect(
      filterList(
        body,
        opts(() => [true]),
      ),
    ).rejects.toThrow(/wrong length/);
  });

  it.each([
    ['missing data', '{"items":[]}'],
    ['data not an array', '{"data":{}}'],
    ['malformed', '{"data":[{"_id":"a"},]}'],
    ['truncated', '{"data":[{"_id":"a"}'],
    ['trailing garbage', '{"data":[]}]'],
  ])('rejects %s with BodyInvalidError before calling hide', async (_n, text) => {
    let called = false;
    const hide: HideBatch = (facts) => ((called = true), facts.map(() => false));
    await expect(filterList(b(text), opts(hide))).rejects.toBeInstanceOf(BodyInvalidError);
    expect(called).toBe(false);
  });
});

// ---------- differential property ----------

type Rnd = () => number;
const prng: (seed: number) => Rnd = mulberry32;
const pick = <T>(r: Rnd, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const WS = ['', '', ' ', '\n', '\t', '\r\n', '\n    '];
const ws = (r: Rnd) => pick(r, WS);

function writeString(s: string, r: Rnd): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp < 0x20 || (cp >= 0xd800 && cp <= 0xdfff) || r() < 0.05) out += '\\u' + cp.toString(16).padStart(4, '0').slice(-4);
    else out += ch;
  }
  return out + '"';
}

function write(v: unknown, r: Rnd): string {
  if (typeof v === 'string') return writeString(v, r);
  if (typeof v !== 'object' || v === null) return JSON.stringify(v) ?? 'null';
  const parts = Array.isArray(v)
    ? v.map((x) => ws(r) + write(x, r) + ws(r))
    : Object.entries(v).map(([k, x]) => ws(r) + writeString(k, r) + ws(r) + ':' + ws(r) + write(x, r) + ws(r));
  const [o, c] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  return parts.length === 0 ? o + ws(r) + c : o + parts.join(',') + c;
}

type Piece = { lit: string } | { arr: string[] } | { total: string };

/** A generated page: the body as pieces, the item/total paths, and the element order of all arrays. */
interface Page {
  pieces: Piece[];
  items: string;
  total?: string;
}

const activity = fc.record({
  _id: fc.string({ minLength: 1, maxLength: 8 }),
  timestamp: fc.oneof(fc.integer(), fc.constant('2026-01-01T00:00:00Z')),
  user: fc.record({ userName: fc.string({ maxLength: 10 }), userTags: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }) }),
  description: fc.string({ unit: 'binary', maxLength: 12 }),
  raw: fc.jsonValue({ maxDepth: 2 }),
});
const element = fc.oneof({ weight: 9, arbitrary: activity }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) });
const totalText = fc.oneof(
  { weight: 6, arbitrary: fc.nat(5000).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('0', '-0', '1e3', '5.0', '1.5', '-3', '"12"', 'null', '2E+1', '9007199254740993') },
);

const pageArb: fc.Arbitrary<{ page: Page; elements: unknown[] }> = fc
  .record({
    shape: fc.constantFrom('data', 'nested', 'top', 'dup'),
    lists: fc.array(fc.array(element, { maxLength: 12 }), { minLength: 2, maxLength: 2 }),
    totals: fc.array(totalText, { minLength: 2, maxLength: 2 }),
    hasTotal: fc.boolean(),
    extra: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    seed: fc.integer(),
  })
  .map(({ shape, lists, totals, hasTotal, extra, seed }) => {
    const r = prng(seed);
    const arrPiece = (els: unknown[]): Piece => ({ arr: els.map((e) => write(e, r)) });
    const key = (k: string) => ws(r) + writeString(k, r) + ws(r) + ':' + ws(r);
    const extras = Object.entries(extra)
      .filter(([k]) => !['data', 'total', 'r', 'page', 'items', 'count'].includes(k))
      .map(([k, v]): Piece[] => [{ lit: key(k) + write(v, r) + ws(r) }]);
    // an object body as members; members are shuffled so data/total can come anywhere
    const object = (members: Piece[][]): Piece[] => {
      const shuffled = members
        .map((m) => [r(), m] as const)
        .sort((x, y) => x[0] - y[0])
        .map(([, m]) => m);
      const out: Piece[] = [{ lit: '{' }];
      shuffled.forEach((m, i) => out.push(...(i > 0 ? [{ lit: ',' }] : []), ...m));
      out.push({ lit: '}' });
      return out;
    };
    const member = (k: string, p: Piece[]): Piece[] => [{ lit: key(k) }, ...p, { lit: ws(r) }];
    let pieces: Piece[];
    let items = 'data';
    let total: string | undefined = hasTotal ? 'total' : undefined;
    const env = [member('hasNext', [{ lit: 'true' }]), member('max', [{ lit: '100' }]), ...extras];
    if (shape === 'top') {
      pieces = [{ lit: ws(r) }, arrPiece(lists[0]), { lit: ws(r) }];
      items = '';
      total = undefined;
    } else if (shape === 'nested') {
      const inner = object([member('items', [arrPiece(lists[0])]), ...(hasTotal ? [member('count', [{ total: totals[0] }])] : [])]);
      pieces = object([member('r', object([member('page', inner)])), member('total', [{ lit: '77' }]), ...env]);
      items = 'r.page.items';
      total = hasTotal ? 'r.page.count' : undefined;
    } else {
      const dup = shape === 'dup';
      const members = [member('data', [arrPiece(lists[0])]), ...env];
      if (hasTotal) members.push(member('total', [{ total: totals[0] }]));
      if (dup) {
        members.push(member('data', [arrPiece(lists[1])]));
        if (hasTotal) members.push(member('total', [{ total: totals[1] }]));
      }
      pieces = object(members);
    }
    // element order = order of array pieces in the body
    const arrays = pieces.filter((p): p is { arr: string[] } => 'arr' in p);
    const elements: unknown[] = arrays.flatMap((a) => a.arr.map((t) => JSON.parse(t)));
    return { page: { pieces, items, total }, elements };
  });

function render(pieces: Piece[], sep: (i: number) => string): string {
  return pieces.map((p) => ('lit' in p ? p.lit : 'total' in p ? p.total : '[' + p.arr.map((e, i) => (i > 0 ? sep(i) : '') + e).join('') + ']')).join('');
}

function skipWs(s: string, i: number): number {
  while (i < s.length && ' \t\r\n'.includes(s[i])) i++;
  return i;
}

describe('filterList differential (property)', () => {
  it('removes exactly the hidden activities, keeps every other byte, corrects total', async () => {
    await fc.assert(
      fc.asyncProperty(pageArb, fc.infiniteStream(fc.boolean()), fc.integer(), fc.boolean(), async ({ page, elements }, flagStream, seed, asyncHide) => {
        const r = prng(seed);
        const flags = [...flagStream.take(elements.length)];
        const text = render(page.pieces, () => ws(r) + ',' + ws(r));
        const body = b(text);
        const extracted: unknown[] = [];
        let hideCalls = 0;
        const hide: HideBatch = (facts) => {
          hideCalls++;
          expect(facts.length).toBe(elements.length);
          const answer = facts.map((_, i) => flags[i]);
          return asyncHide ? Promise.resolve(answer) : answer;
        };
        const extract = (rec: unknown) => (extracted.push(rec), factsOf(rec));
        const o = { items: page.items, total: page.total, extract, hide };

        const res = await filterList(body, { ...o, remove: true });
        expect(hideCalls).toBe(1);
        expect(extracted).toEqual(elements);
        const removed = flags.filter(Boolean).length;
        const kept = elements.length - removed;
        const expectedIds = elements.flatMap((e, i) => (flags[i] ? [factsOf(e).id] : [])).filter((x) => x !== undefined);
        expect(res).toMatchObject({ removed, privateCount: removed, privateIds: expectedIds, total: elements.length });

        const out = res.body.toString('utf8');
        if (removed === 0) expect(res.body).toBe(body);
        // walk the output against the pieces: literals and kept elements byte-exact, one comma between kept elements
        let pos = 0;
        let idx = 0;
        for (const p of page.pieces) {
          if ('lit' in p) {
            expect(out.startsWith(p.lit, pos)).toBe(true);
            pos += p.lit.length;
          } else if ('total' in p) {
            const old = JSON.parse(p.total) as unknown;
            const want = removed > 0 && typeof old === 'number' && Number.isSafeInteger(old) && old >= 0 ? String(Math.max(kept, old - removed)) : p.total;
            expect(out.startsWith(want, pos)).toBe(true);
            pos += want.length;
          } else {
            expect(out[pos]).toBe('[');
            pos = skipWs(out, pos + 1);
            const keptTexts = p.arr.filter((_, i) => !flags[idx + i]);
            idx += p.arr.length;
            keptTexts.forEach((t, j) => {
              expect(out.startsWith(t, pos)).toBe(true);
              pos = skipWs(out, pos + t.length);
              if (j < keptTexts.length - 1) {
                expect(out[pos]).toBe(',');
                pos = skipWs(out, pos + 1);
              }
            });
            expect(out[pos]).toBe(']');
            pos++;
          }
        }
        expect(pos).toBe(out.length);

        // and JSON.parse sees the original minus the hidden ones (last duplicate wins, as JSON.parse reads it)
        const parsed = JSON.parse(out) as Record<string, unknown> | unknown[];
        const lastArray = page.pieces.filter((p): p is { arr: string[] } => 'arr' in p).length - 1;
        let offset = 0;
        const keptByArray = page.pieces
          .filter((p): p is { arr: string[] } => 'arr' in p)
          .map((p) => {
            const k = p.arr.map((t) => JSON.parse(t)).filter((_, i) => !flags[offset + i]);
            offset += p.arr.length;
            return k;
          });
        const list = page.items === '' ? parsed : page.items.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], parsed);
        expect(list).toEqual(keptByArray[lastArray]);

        // remove=false: the very same bytes, the same report
        const reveal = await filterList(body, { ...o, remove: false });
        expect(reveal.body).toBe(body);
        expect(reveal).toMatchObject({ removed: 0, privateCount: removed, privateIds: expectedIds, total: elements.length });
      }),
      { numRuns: 700 },
    );
  });
});

// ---------- fused field read (fieldReader plan): same decision input as JSON.parse + extract ----------

describe('filterList with the fused field reader (property)', () => {
  const SPEC: ActivitiesSpec = {
    id: '_id',
    timestamp: 'timestamp',
    actor: ['user.userName', 'failedUserData.userName'],
    groups: ['user.userTags', 'resolvedActor.tags'],
    application: { path: 'actorType', equals: ['APPLICATION'] },
    builtinTags: { 'external-users': 'ext', application: 'app' },
  };
  const extract = compileExtractor(SPEC);
  const read = compileFieldReader(SPEC);
  const key = (k: string) => fc.constantFrom(`"${k}"`, `"${k.replace(/e/, '\\u0065')}"`);
  const str = fc.constantFrom('"bob@contoso.com"', '"Erin@Contoso.com "', '"a\\"b\\\\"', '"é"', '"app"', '"ext"', '"APPLICATION"', '"2026-03-05T10:00:00Z"');
  const val = fc.oneof(str, fc.constantFrom('1772000000000', 'null', 'true', '[]', '{}', '["hr","ext",5]', '{"userName":"x@y.z"}'));
  const inner = fc
    .array(fc.tuple(fc.oneof(key('userName'), key('userTags'), key('tags'), fc.constant('"__proto__"')), val), { maxLength: 4 })
    .map((ms) => `{${ms.map(([k, v]) => `${k}:${v}`).join(',')}}`);
  const record = fc
    .array(
      fc.oneof(
        fc.tuple(fc.oneof(key('_id'), key('timestamp'), key('actorType'), fc.constant('"noise"')), val),
        fc.tuple(fc.oneof(key('user'), key('resolvedActor'), key('failedUserData')), fc.oneof(inner, val)),
      ),
      { maxLength: 8 },
    )
    .map((ms) => `{${ms.map(([k, v]) => `${k}:${v}`).join(' , ')}}`);

  it('gives hide() the same facts, and the same output, as JSON.parse + extract', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(record, val), { maxLength: 8 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), async (els, mask) => {
        const body = b(`{"user":{"userName":"env@x.y"},"data":[${els.join(', ')}],"total":${els.length}}`);
        const seen: ActivityFacts[][] = [];
        const hide: HideBatch = (fs) => {
          seen.push([...fs]);
          return fs.map((_, i) => mask[i]);
        };
        const viaParse = await filterList(body, { items: 'data', total: 'total', extract, hide, remove: true });
        const fused = await filterList(body, { items: 'data', total: 'total', extract, read, hide, remove: true });
        expect(seen[1]).toEqual(seen[0]);
        expect(seen[0]).toEqual(els.map((e) => extract(JSON.parse(e))));
        expect(fused.body.equals(viaParse.body)).toBe(true);
        expect(fused.privateIds).toEqual(viaParse.privateIds);
      }),
      { numRuns: 400 },
    );
  });

  it('rejects the same malformed bodies', async () => {
    for (const text of ['{"data":[{"user":{"userName":"a"}]}', '{"data":[{"_id":"a\u0001"}]}', '{"data":[{"user":{"userName":"a"},}]}']) {
      await expect(filterList(b(text), { items: 'data', extract, read, hide: () => [false], remove: true })).rejects.toThrow(BodyInvalidError);
    }
  });
});
