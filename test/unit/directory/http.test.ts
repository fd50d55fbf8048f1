import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpDirectory, type HttpDirectoryOptions } from '../../../src/directory/http.js';

/**
 * A real directory on 127.0.0.1. Each principal's answer is programmable; the server
 * counts requests per (decoded) principal, records raw paths and tracks concurrency.
 */
type Answer =
  | { groups: unknown } // 200 with this JSON
  | { status: number; body?: string; headers?: Record<string, string> }
  | { raw: string } // 200 with this text
  | { hang: true } // never answers
  | { gate: Promise<void>; groups: unknown }; // answers once gate resolves

const answers = new Map<string, Answer>();
let fallback: Answer = { status: 404 };
const counts = new Map<string, number>();
const rawPaths: string[] = [];
const seenHeaders: Record<string, string | string[] | undefined>[] = [];
let inFlight = 0;
let maxInFlight = 0;
let delayMs = 0;
let server: Server;
let base: string;

const PREFIX = '/users/';
const SUFFIX = '/groups';

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '';
  rawPaths.push(url);
  seenHeaders.push(req.headers);
  const enc = url.startsWith(PREFIX) && url.endsWith(SUFFIX) ? url.slice(PREFIX.length, -SUFFIX.length) : '';
  const principal = decodeURIComponent(enc);
  counts.set(principal, (counts.get(principal) ?? 0) + 1);
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  res.on('close', () => inFlight--);
  const a = answers.get(principal) ?? fallback;
  const send = () => {
    if ('hang' in a) return;
    if ('status' in a) {
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(a.body ?? '');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('raw' in a ? a.raw : JSON.stringify(a.groups));
  };
  const go = () => ('gate' in a ? a.gate.then(send) : send());
  if (delayMs > 0) setTimeout(() => void go(), delayMs);
  else void go();
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  answers.clear();
  counts.clear();
  rawPaths.length = 0;
  seenHeaders.length = 0;
  fallback = { status: 404 };
  inFlight = 0;
  maxInFlight = 0;
  delayMs = 0;
});

/** A hand-driven clock (ms); lru-cache reads it too, so TTLs need no sleeping. */
function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

function dir(extra: Partial<HttpDirectoryOptions> = {}) {
  return createHttpDirectory({
    url: `${base}${PREFIX}{principal}${SUFFIX}`,
    ttlSec: 60,
    maxEntries: 100,
    timeoutMs: 2000,
    staleSec: 300,
    ...extra,
  });
}

const sorted = (r: ReadonlySet<string> | 'unknown') => (r === 'unknown' ? r : [...r].sort());
const count = (p: string) => counts.get(p) ?? 0;

describe('answers', () => {
  it('returns the groups of each principal of the batch; 404 means no groups', async () => {
    answers.set('bob@contoso.com', { groups: ['legal', 'hr'] });
    answers.set('carol@contoso.com', { groups: [] });
    const d = dir({ headers: { authorization: 'Bearer test-token' } });
    const m = await d.prefetch(['bob@contoso.com', 'carol@contoso.com', 'nobody@contoso.com']);
    expect(sorted(m('bob@contoso.com'))).toEqual(['hr', 'legal']);
    expect(sorted(m('carol@contoso.com'))).toEqual([]);
    expect(sorted(m('nobody@contoso.com'))).toEqual([]); // 404
    expect(m('eve@contoso.com')).toBe('unknown'); // not in the batch
    expect(seenHeaders.every((h) => h.authorization === 'Bearer test-token')).toBe(true);
    expect(d.stats()).toEqual({ hits: 0, misses: 3, failures: 0, stale: 0 });
    d.close();
  });

  it('normalises principals: one look-up per person, lower-cased in the URL', async () => {
    answers.set('bob@contoso.com', { groups: ['hr'] });
    const d = dir();
    const m = await d.prefetch(['Bob@Contoso.com', ' bob@contoso.com ', 'BOB@CONTOSO.COM', '', '  ']);
    expect(sorted(m('bob@CONTOSO.com'))).toEqual(['hr']);
    expect(count('bob@contoso.com')).toBe(1);
    expect(rawPaths).toEqual(['/users/bob%40contoso.com/groups']);
    d.close();
  });

  it('an empty batch asks nothing', async () => {
    const d = dir();
    const m = await d.prefetch([]);
    expect(m('bob@contoso.com')).toBe('unknown');
    expect(rawPaths).toEqual([]);
    d.close();
  });

  it('encodes special characters of principals in the URL', async () => {
    const odd = ['a+b@x.com', 'a/b@x.com', 'a#b@x.com', 'a%b@x.com', 'a b?c=d&e@x.com', 'josé@x.com'];
    odd.forEach((p, i) => answers.set(p, { groups: [`g${i}`] }));
    const d = dir();
    const m = await d.prefetch(odd);
    odd.forEach((p, i) => {
      expect(sorted(m(p))).toEqual([`g${i}`]);
      expect(count(p)).toBe(1);
    });
    expect(rawPaths.sort()).toEqual(odd.map((p) => `${PREFIX}${encodeURIComponent(p)}${SUFFIX}`).sort());
    expect(rawPaths).toContain('/users/a%2Bb%40x.com/groups');
    expect(rawPaths).toContain('/users/a%2Fb%40x.com/groups');
    expect(rawPaths).toContain('/users/a%23b%40x.com/groups');
    expect(rawPaths).toContain('/users/a%25b%40x.com/groups');
    d.close();
  });
});

describe('caching', () => {
  it('serves from cache within ttl and asks again after it', async () => {
    const c = clock();
    answers.set('bob@contoso.com', { groups: ['hr'] });
    const d = dir({ ttlSec: 10, now: c.now });
    expect(sorted((await d.prefetch(['bob@contoso.com']))('bob@contoso.com'))).toEqual(['hr']);
    c.advance(9_000);
    answers.set('bob@contoso.com', { groups: ['legal'] });
    expect(sorted((await d.prefetch(['bob@contoso.com']))('bob@contoso.com'))).toEqual(['hr']);
    expect(count('bob@contoso.com')).toBe(1);
    c.advance(2_000); // 11 s after the answer: expired
    expect(sorted((await d.prefetch(['bob@contoso.com']))('bob@contoso.com'))).toEqual(['legal']);
    expect(count('bob@contoso.com')).toBe(2);
    expect(d.stats()).toEqual({ hits: 1, misses: 2, failures: 0, stale: 0 });
    d.close();
  });

  it('caches a 404 (no groups) like any answer', async () => {
    const d = dir();
    await d.prefetch(['nobody@contoso.com']);
    const m = await d.prefetch(['nobody@contoso.com']);
    expect(sorted(m('nobody@contoso.com'))).toEqual([]);
    expect(count('nobody@contoso.com')).toBe(1);
    d.close();
  });

  it('concurrent look-ups of one principal make exactly one request', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    answers.set('bob@contoso.com', { gate, groups: ['hr'] });
    const d = dir();
    const pending = [
      d.prefetch(['bob@contoso.com']),
      d.prefetch(['BOB@contoso.com', 'bob@contoso.com']),
      d.prefetch(['bob@contoso.com', 'carol@contoso.com']),
      d.prefetch(['bob@contoso.com']),
    ];
    // let the one request reach the server before answering it
    while (count('bob@contoso.com') === 0) await new Promise((r) => setTimeout(r, 5));
    open();
    const ms = await Promise.all(pending);
    for (const m of ms) expect(sorted(m('bob@contoso.com'))).toEqual(['hr']);
    expect(count('bob@contoso.com')).toBe(1);
    d.close();
  });

  it('respects maxEntries: the least recently used entry is evicted', async () => {
    for (const p of ['a@x.com', 'b@x.com', 'c@x.com']) answers.set(p, { groups: [p] });
    const d = dir({ maxEntries: 2 });
    await d.prefetch(['a@x.com']);
    await d.prefetch(['b@x.com']);
    await d.prefetch(['c@x.com']); // evicts a
    await d.prefetch(['c@x.com', 'b@x.com']); // both cached
    expect(count('b@x.com')).toBe(1);
    expect(count('c@x.com')).toBe(1);
    const m = await d.prefetch(['a@x.com']);
    expect(sorted(m('a@x.com'))).toEqual(['a@x.com']);
    expect(count('a@x.com')).toBe(2);
    d.close();
  });

  it('a batch larger than maxEntries is still fully answered', async () => {
    const ps = Array.from({ length: 10 }, (_, i) => `u${i}@x.com`);
    ps.forEach((p) => answers.set(p, { groups: [`g-${p}`] }));
    const d = dir({ maxEntries: 3, maxInFlight: 2 });
    const m = await d.prefetch(ps);
    for (const p of ps) expect(sorted(m(p))).toEqual([`g-${p}`]);
    for (const p of ps) expect(count(p)).toBe(1);
    d.close();
  });
});

describe('failures', () => {
  const bad: Array<[string, Answer]> = [
    ['not JSON', { raw: '<html>oops</html>' }],
    ['an object', { groups: { groups: ['hr'] } }],
    ['a string', { groups: 'hr' }],
    ['null', { groups: null }],
    ['an array with a non-string', { groups: ['hr', 7] }],
    ['a 500', { status: 500, body: '["hr"]' }],
    ['a 403', { status: 403 }],
    ['a redirect', { status: 302, headers: { location: '/users/x/groups' } }],
    ['an empty 200', { raw: '' }],
  ];
  it.each(bad)('%s is a failed look-up: unknown, and not cached', async (_name, answer) => {
    answers.set('bob@contoso.com', answer);
    const d = dir();
    const m = await d.prefetch(['bob@contoso.com']);
    expect(m('bob@contoso.com')).toBe('unknown');
    expect(d.stats().failures).toBe(1);
    // the directory recovers: the next prefetch asks again
    answers.set('bob@contoso.com', { groups: ['hr'] });
    expect(sorted((await d.prefetch(['bob@contoso.com']))('bob@contoso.com'))).toEqual(['hr']);
    expect(count('bob@contoso.com')).toBe(2);
    d.close();
  });

  it('a request that exceeds timeoutMs is unknown; others in the batch still answer', async () => {
    answers.set('slow@contoso.com', { hang: true });
    answers.set('bob@contoso.com', { groups: ['hr'] });
    const d = dir({ timeoutMs: 150 });
    const m = await d.prefetch(['slow@contoso.com', 'bob@contoso.com']);
    expect(m('slow@contoso.com')).toBe('unknown');
    expect(sorted(m('bob@contoso.com'))).toEqual(['hr']);
    expect(d.stats()).toMatchObject({ failures: 1 });
    d.close();
  });

  it('an unreachable directory gives unknown and never rejects', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const d = createHttpDirectory({
      url: `http://127.0.0.1:${port}/users/{principal}`,
      ttlSec: 60,
      maxEntries: 10,
      timeoutMs: 1000,
      staleSec: 60,
    });
    const m = await d.prefetch(['bob@contoso.com', 'carol@contoso.com']);
    expect(m('bob@contoso.com')).toBe('unknown');
    expect(m('carol@contoso.com')).toBe('unknown');
    expect(d.stats()).toEqual({ hits: 0, misses: 2, failures: 2, stale: 0 });
    d.close();
  });

  it('a throwing fetchImpl gives unknown', async () => {
    const d = dir({
      fetchImpl: () => {
        throw new Error('boom');
      },
    });
    const m = await d.prefetch(['bob@contoso.com']);
    expect(m('bob@contoso.com')).toBe('unknown');
    d.close();
  });

  it('during an outage serves the expired answer for staleSec, then unknown, then recovers', async () => {
    const c = clock();
    answers.set('bob@contoso.com', { groups: ['hr'] });
    const d = dir({ ttlSec: 10, staleSec: 60, now: c.now });
    await d.prefetch(['bob@contoso.com']);

    fallback = { status: 503 };
    answers.clear();
    c.advance(11_000); // expired, within stale window
    let m = await d.prefetch(['bob@contoso.com', 'carol@contoso.com']);
    expect(sorted(m('bob@contoso.com'))).toEqual(['hr']);
    expect(m('carol@contoso.com')).toBe('unknown'); // nothing cached to fall back on
    expect(count('bob@contoso.com')).toBe(2); // it did try the directory
    expect(d.stats()).toMatchObject({ failures: 2, stale: 1 });

    c.advance(58_000); // 69 s after the answer: ttl + staleSec not yet over
    m = await d.prefetch(['bob@contoso.com']);
    expect(sorted(m('bob@contoso.com'))).toEqual(['hr']);

    c.advance(2_000); // 71 s: beyond ttl + staleSec
    m = await d.prefetch(['bob@contoso.com']);
    expect(m('bob@contoso.com')).toBe('unknown');
    expect(d.stats()).toMatchObject({ stale: 2 });

    answers.set('bob@contoso.com', { groups: ['legal'] });
    m = await d.prefetch(['bob@contoso.com']);
    expect(sorted(m('bob@contoso.com'))).toEqual(['legal']);
    d.close();
  });

  it('with staleSec 0 an expired answer is never served', async () => {
    const c = clock();
    answers.set('bob@contoso.com', { groups: ['hr'] });
    const d = dir({ ttlSec: 10, staleSec: 0, now: c.now });
    await d.prefetch(['bob@contoso.com']);
    answers.set('bob@contoso.com', { status: 500 });
    c.advance(10_001);
    expect((await d.prefetch(['bob@contoso.com']))('bob@contoso.com')).toBe('unknown');
    d.close();
  });
});

describe('concurrency and lifecycle', () => {
  it('keeps at most 16 requests in flight by default', async () => {
    delayMs = 40;
    const ps = Array.from({ length: 60 }, (_, i) => `user${i}@x.com`);
    const d = dir();
    const m = await d.prefetch(ps);
    for (const p of ps) expect(sorted(m(p))).toEqual([]);
    expect(maxInFlight).toBeLessThanOrEqual(16);
    expect(maxInFlight).toBeGreaterThan(1); // it does work in parallel
    d.close();
  });

  it('honours a smaller maxInFlight', async () => {
    delayMs = 20;
    const ps = Array.from({ length: 12 }, (_, i) => `user${i}@x.com`);
    const d = dir({ maxInFlight: 3 });
    await d.prefetch(ps);
    expect(maxInFlight).toBeLessThanOrEqual(3);
    expect(ps.every((p) => count(p) === 1)).toBe(true);
    d.close();
  });

  it('close() ends look-ups in flight and queued with unknown; later prefetches are unknown', async () => {
    answers.set('slow@contoso.com', { hang: true });
    answers.set('queued@contoso.com', { groups: ['hr'] });
    const d = dir({ maxInFlight: 1, timeoutMs: 20_000 });
    const pending = d.prefetch(['slow@contoso.com', 'queued@contoso.com']);
    while (count('slow@contoso.com') === 0) await new Promise((r) => setTimeout(r, 5));
    d.close();
    const m = await pending;
    expect(m('slow@contoso.com')).toBe('unknown');
    expect(m('queued@contoso.com')).toBe('unknown');
    expect(count('queued@contoso.com')).toBe(0);
    const later = await d.prefetch(['queued@contoso.com']);
    expect(later('queued@contoso.com')).toBe('unknown');
    expect(count('queued@contoso.com')).toBe(0);
  });

  it('rejects invalid options', () => {
    const ok = { url: `${base}/u/{principal}`, ttlSec: 1, maxEntries: 1, timeoutMs: 1, staleSec: 0 };
    expect(() => createHttpDirectory(ok)).not.toThrow();
    expect(() => createHttpDirectory({ ...ok, url: `${base}/u` })).toThrow(/principal/);
    expect(() => createHttpDirectory({ ...ok, ttlSec: 0 })).toThrow(/ttlSec/);
    expect(() => createHttpDirectory({ ...ok, maxEntries: 0 })).toThrow(/maxEntries/);
    expect(() => createHttpDirectory({ ...ok, timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => createHttpDirectory({ ...ok, staleSec: Number.NaN })).toThrow(/staleSec/);
  });
});

describe('groupsUrl (the catalogue of an HTTP directory)', () => {
  it('lists [{id, name}] with the configured headers; anything else fails', async () => {
    const { httpSource } = await import('../../../src/directory/http.js');
    let body = JSON.stringify([{ id: 'g1', name: 'Group one' }, { id: 'g2' }]);
    let status = 200;
    const seen: Array<string | undefined> = [];
    const s = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const src = httpSource({ url: `${url}/u/{principal}`, groupsUrl: `${url}/groups`, headers: { authorization: 'Bearer dir-token' } });
    try {
      expect(await src.listGroups!(AbortSignal.timeout(2000))).toEqual([
        { id: 'g1', name: 'Group one' },
        { id: 'g2', name: 'g2' },
      ]);
      expect(seen).toEqual(['Bearer dir-token']);
      for (const bad of ['nope', '{"id":"g1"}', '[{"name":"no id"}]', '[{"id":3}]', '["g1"]']) {
        body = bad;
        await expect(src.listGroups!(AbortSignal.timeout(2000)), bad).rejects.toThrow(/groupsUrl/);
      }
      body = '[]';
      status = 500;
      await expect(src.listGroups!(AbortSignal.timeout(2000))).rejects.toThrow(/status 500/);
    } finally {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
});
