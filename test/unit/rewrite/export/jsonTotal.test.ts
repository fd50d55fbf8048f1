/**
 * Issue 21 item 7 (b), SPEC §4 export `json` (v3): the count at the route's `total` path must
 * not tell a SIEM consumer how many private activities exist. A number after the array is
 * reduced by the number removed (never below the number kept); one before it, which cannot be
 * known while streaming, is replaced by `null`. Kept records stay byte for byte.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../../../src/config/index.js';
import type { ExportFilterOptions } from '../../../../src/rewrite/export/index.js';
import type { ActivityFacts } from '../../../../src/privacy/types.js';
import { chunked, run } from '../../../helpers/exportHarness.js';

const extract = (r: unknown): ActivityFacts => ({
  id: undefined,
  actor: JSON.stringify(r).includes('PRIVATE') ? 'bob@private' : 'alice@contoso.com',
  groups: [],
  isApplication: false,
});
const options = (items: string, total: string | undefined): ExportFilterOptions => ({
  format: 'json',
  items,
  total,
  extract,
  fromFields: () => {
    throw new Error('not used');
  },
  csvColumns: { actor: [], timestamp: '', groups: [] },
  hide: (fs) => fs.map((f) => f.actor === 'bob@private'),
});

const filter = async (src: string, total = 'total', sizes: number[] = [], items = 'data') => {
  const r = await run(options(items, total), chunked(Buffer.from(src), sizes));
  if (r.err) throw r.err as Error;
  return r.out.toString();
};

describe('json export: total', () => {
  test('after the array: reduced by the number removed', async () => {
    const src = '{"data":[{"a":1},{"m":"PRIVATE"},{"a":2},{"m":"PRIVATE"}],"total":4}';
    expect(await filter(src)).toBe('{"data":[{"a":1},{"a":2}],"total":2}');
    // the upstream's count of a larger result set: reduced, not replaced by the page length
    expect(await filter('{"data":[{"m":"PRIVATE"},{"a":1}],"total": 1000 }')).toBe('{"data":[{"a":1}],"total": 999 }');
  });

  test('before the array: null (cannot be known while streaming)', async () => {
    const src = '{"total":4,"data":[{"a":1},{"m":"PRIVATE"},{"a":2},{"m":"PRIVATE"}]}';
    expect(await filter(src)).toBe('{"total":null,"data":[{"a":1},{"a":2}]}');
    expect(await filter('{"total" : -1.5e3 , "data":[]}')).toBe('{"total" : null , "data":[]}');
  });

  test('nested paths, escaped keys, numbers split across chunks', async () => {
    const src = '{"meta":{"count":12345},"page":{"rows":[{"m":"PRIVATE"},{"a":1}]},"m\\u0065ta":{"count":12345}}';
    for (const sizes of [[], [1], [2, 3], [7]]) {
      const out = await run(options('page.rows', 'meta.count'), chunked(Buffer.from(src), sizes));
      expect(out.err).toBeNull();
      expect(out.out.toString()).toBe('{"meta":{"count":null},"page":{"rows":[{"a":1}]},"m\\u0065ta":{"count":12344}}');
    }
  });

  test('never below the number kept; not a safe integer: unchanged after the array', async () => {
    expect(await filter('{"data":[{"a":1},{"a":2},{"m":"PRIVATE"}],"total":0}')).toBe('{"data":[{"a":1},{"a":2}],"total":2}');
    expect(await filter('{"data":[{"m":"PRIVATE"}],"total":1.5}')).toBe('{"data":[],"total":1.5}');
  });

  test('other values at the path, and routes without total, pass unchanged', async () => {
    expect(await filter('{"total":"4","data":[{"m":"PRIVATE"}]}')).toBe('{"total":"4","data":[]}');
    const untouched = await run(options('data', undefined), [Buffer.from('{"total":4,"data":[{"m":"PRIVATE"}],"total":1}')]);
    expect(untouched.out.toString()).toBe('{"total":4,"data":[],"total":1}');
  });

  test('property: for any split, before → null, after → max(kept, n - removed); records byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { maxLength: 12 }),
        fc.nat({ max: 100_000 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 4 }),
        async (hidden, n, before, sizes) => {
          const elem = (h: boolean, i: number) => (h ? `{"m":"PRIVATE","i":${i}}` : `{ "i" : ${i} }`);
          const arr = (keep: (h: boolean) => boolean) =>
            `[${hidden
              .map((h, i) => (keep(h) ? elem(h, i) : null))
              .filter((x) => x !== null)
              .join(',')}]`;
          const kept = hidden.filter((h) => !h).length;
          const removed = hidden.length - kept;
          const doc = (t: string, a: string) => (before ? `{"total":${t},"data":${a}}` : `{"data":${a},"total":${t}}`);
          const want = doc(
            before ? 'null' : String(Math.max(kept, n - removed)),
            arr((h) => !h),
          );
          expect(
            await filter(
              doc(
                String(n),
                arr(() => true),
              ),
              'total',
              sizes,
            ),
          ).toBe(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('config: a json export may carry items and total; other exports may not', () => {
    const cfg = (route: Record<string, unknown>) =>
      parseConfig(JSON.stringify({ upstream: { url: 'http://127.0.0.1:1' }, routes: [route, { path: '/**', kind: 'deny' }] }), {});
    const ok = cfg({ path: '/e/', kind: 'export', format: 'json', items: 'data', total: 'meta.total' });
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.config.routes[0]).toEqual({ path: '/e/', kind: 'export', format: 'json', items: 'data', total: 'meta.total' });
    expect(cfg({ path: '/e/', kind: 'export', format: 'ndjson', total: 'total' }).ok).toBe(false);
  });
});
