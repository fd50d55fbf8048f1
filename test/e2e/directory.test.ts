/**
 * directory.http end to end: the gateway asks a real local directory server for group
 * membership. Members of private groups are hidden; answers are cached (TTL) and
 * concurrent look-ups of one principal are de-duplicated; during an outage a recent
 * answer is still used (stale window), after that — or with nothing cached at all —
 * the undecidable rule decides (withhold by default, show when configured).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { demoLikeConfig, get, startTestGateway, tempDir } from '../helpers/gateway.js';

const APRIL = Date.parse('2026-04-01T00:00:00Z'); // hr is private since 2026-03-01
const ACT = (id: string, actor: string) => ({ _id: id, timestamp: APRIL, user: { userName: actor } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listen(server: http.Server, port = 0): Promise<number> {
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** Directory: GET /users/{principal}/groups → JSON array; unknown principals 404. */
async function startDirectory() {
  const s = { groups: new Map<string, string[]>(), mode: 'ok' as 'ok' | 'error', delayMs: 0, requests: [] as string[] };
  const server = http.createServer(
    (req, res) =>
      void (async () => {
        const m = /^\/users\/([^/]+)\/groups$/.exec(req.url ?? '');
        const principal = m ? decodeURIComponent(m[1]) : '';
        s.requests.push(principal);
        if (s.delayMs) await sleep(s.delayMs);
        if (s.mode === 'error') return void res.writeHead(503).end('down');
        const g = s.groups.get(principal);
        if (!g) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(g));
      })(),
  );
  const port = await listen(server);
  return {
    s,
    url: `http://127.0.0.1:${port}/users/{principal}/groups`,
    count: (p: string) => s.requests.filter((x) => x === p).length,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
    start: () => listen(server, port),
  };
}

async function fakeUpstream() {
  const state = { activities: [] as unknown[] };
  const server = http.createServer((req, res) => {
    req.resume();
    const body = JSON.stringify({ data: state.activities, total: state.activities.length });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('HTTP directory end to end', () => {
  let dir: Awaited<ReturnType<typeof startDirectory>>;
  let up: Awaited<ReturnType<typeof fakeUpstream>>;
  let withhold: Gateway;
  let show: Gateway;
  const cleanups: Array<() => Promise<void>> = [];
  /** the gateways' monotonic clock, stepped by the tests (no sleeping through ttlSec / staleSec) */
  const clock = {
    t: 1_000_000,
    advance(ms: number) {
      this.t += ms;
    },
  };
  const monotonicNow = () => clock.t;

  const shown = async (gw: Gateway, activities: unknown[]) => {
    up.state.activities = activities;
    const r = await get(`${gw.url}/api/v1/activities/`);
    expect(r.status).toBe(200);
    return (r.json().data as Array<{ _id: string }>).map((a) => a._id).sort();
  };

  beforeAll(async () => {
    dir = await startDirectory();
    up = await fakeUpstream();
    const start = async (undecidable: 'withhold' | 'show') => {
      const t = await tempDir('apg-dir-');
      cleanups.push(t.cleanup);
      const base = demoLikeConfig(up.url, t.dir);
      return startTestGateway(
        {
          ...base,
          privacy: { ...(base.privacy as object), undecidable },
          directory: { groups: {}, http: { url: dir.url, ttlSec: 1, maxEntries: 100, timeoutMs: 1000, staleSec: 2 } },
        },
        { directoryClock: monotonicNow },
      );
    };
    withhold = await start('withhold');
    show = await start('show');
  });
  afterAll(async () => {
    await withhold?.close(1000);
    await show?.close(1000);
    await up?.close();
    await dir?.stop().catch(() => {});
    for (const c of cleanups) await c();
  });

  it('a member of a private group per the directory is hidden; others and unknown principals are shown', async () => {
    dir.s.groups.set('pete@contoso.com', ['hr', 'sales']);
    dir.s.groups.set('quinn@contoso.com', ['sales']);
    const acts = [ACT('p1', 'Pete@Contoso.com'), ACT('q1', 'quinn@contoso.com'), ACT('n1', 'nobody@contoso.com')];
    expect(await shown(withhold, acts)).toEqual(['n1', 'q1']);
    expect(await shown(show, acts)).toEqual(['n1', 'q1']);
    // the directory was asked with the normalised principal
    expect(dir.count('pete@contoso.com')).toBeGreaterThanOrEqual(1);
    expect(dir.s.requests).not.toContain('Pete@Contoso.com');
  });

  it('concurrent look-ups of one principal are de-duplicated', async () => {
    dir.s.groups.set('rita@contoso.com', ['hr']);
    dir.s.delayMs = 200;
    try {
      up.state.activities = Array.from({ length: 30 }, (_, i) => ACT(`r${i}`, i % 2 ? 'rita@contoso.com' : 'RITA@contoso.com'));
      const rs = await Promise.all(Array.from({ length: 10 }, () => get(`${withhold.url}/api/v1/activities/`)));
      for (const r of rs) expect(r.json().data).toEqual([]);
      expect(dir.count('rita@contoso.com')).toBe(1);
    } finally {
      dir.s.delayMs = 0;
    }
  });

  it('answers are cached for ttlSec, then asked again', async () => {
    dir.s.groups.set('sam@contoso.com', ['hr']);
    expect(await shown(withhold, [ACT('s1', 'sam@contoso.com')])).toEqual([]);
    const asked = dir.count('sam@contoso.com');
    dir.s.groups.set('sam@contoso.com', []);
    expect(await shown(withhold, [ACT('s1', 'sam@contoso.com')])).toEqual([]); // cached
    expect(dir.count('sam@contoso.com')).toBe(asked);
    clock.advance(999);
    expect(await shown(withhold, [ACT('s1', 'sam@contoso.com')])).toEqual([]); // still within ttl (1 s)
    expect(dir.count('sam@contoso.com')).toBe(asked);
    clock.advance(2);
    expect(await shown(withhold, [ACT('s1', 'sam@contoso.com')])).toEqual(['s1']);
    expect(dir.count('sam@contoso.com')).toBe(asked + 1);
  });

  it('outage: a recent answer is used for staleSec, then the activity is withheld', async () => {
    dir.s.groups.set('tina@contoso.com', []);
    expect(await shown(withhold, [ACT('t1', 'tina@contoso.com')])).toEqual(['t1']);
    dir.s.mode = 'error';
    try {
      clock.advance(1300); // past ttl (1 s), within ttl + staleSec (3 s)
      expect(await shown(withhold, [ACT('t1', 'tina@contoso.com')])).toEqual(['t1']);
      clock.advance(1701); // past ttl + staleSec
      expect(await shown(withhold, [ACT('t1', 'tina@contoso.com')])).toEqual([]);
    } finally {
      dir.s.mode = 'ok';
    }
  });

  it('directory down with nothing cached: withheld under undecidable: withhold, shown under show', async () => {
    dir.s.groups.set('uma@contoso.com', []);
    dir.s.groups.set('vic@contoso.com', ['hr']);
    await dir.stop(); // connection refused
    try {
      const acts = [ACT('u1', 'uma@contoso.com'), ACT('v1', 'vic@contoso.com')];
      expect(await shown(withhold, acts)).toEqual([]);
      expect(await shown(show, acts)).toEqual(['u1', 'v1']);
      // the list total is reduced by what was withheld
      const r = await get(`${withhold.url}/api/v1/activities/`);
      expect(r.json().total).toBe(0);
    } finally {
      await dir.start();
    }
    // back up: answers count again
    expect(await shown(withhold, [ACT('u1', 'uma@contoso.com'), ACT('v1', 'vic@contoso.com')])).toEqual(['u1']);
  });
});
