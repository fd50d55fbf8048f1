/**
 * Issue 21 item 7 (a), SPEC §4 route kind `item` (v3): a private, unrevealed item answers
 * exactly what the upstream answers for an id that does not exist — same status, same body
 * bytes, same Content-Type — so nobody can tell "private" from "absent".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleApi } from '../../src/demo/sampleApi.js';
import type { Gateway } from '../../src/gateway.js';
import { demoLikeConfig, get, startDemoStack, startTestGateway, tempDir, type DemoStack, type Fetched } from '../helpers/gateway.js';
import { demoHides } from '../helpers/oracle.js';
import { waitFor } from '../helpers/rsyslog.js';

/** What an observer compares: everything but the per-request headers. */
function observable(r: Fetched): { status: number; contentType: string | null; body: string; headerNames: string[] } {
  const perRequest = new Set(['date', 'x-request-id']);
  return {
    status: r.status,
    contentType: r.headers.get('content-type'),
    body: r.body.toString('base64'),
    headerNames: [...r.headers.keys()].filter((h) => !perRequest.has(h)).sort(),
  };
}

describe('existence oracle: a private item answers like an absent one', () => {
  let stack: DemoStack;
  let api: SampleApi;
  let gw: Gateway;
  let privateIds: string[];

  beforeAll(async () => {
    stack = await startDemoStack();
    ({ api, gw } = stack);
    privateIds = api.dataset.filter((a: any) => demoHides(a)).map((a: any) => String(a._id));
    expect(privateIds.length).toBeGreaterThan(20);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('for random ids, private and missing items answer byte for byte alike (status, content-type, body)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...privateIds),
        fc.stringMatching(/^[0-9a-f]{24}$/),
        fc.constantFrom('GET', 'HEAD'),
        fc.constantFrom('identity', 'gzip'),
        async (privateId, missingId, method, acceptEncoding) => {
          fc.pre(!api.dataset.some((a: any) => a._id === missingId));
          const headers = { 'accept-encoding': acceptEncoding };
          const priv = await get(`${gw.url}/api/v1/activities/${privateId}/`, { method, headers });
          const missing = await get(`${gw.url}/api/v1/activities/${missingId}/`, { method, headers });
          expect(missing.status).toBe(404);
          expect(observable(priv)).toEqual(observable(missing));
          expect(priv.text).not.toContain(privateId);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the learned answer is the upstream’s own 23-byte body, not the gateway’s 104-byte error', async () => {
    const p = await get(`${gw.url}/api/v1/activities/${privateIds[0]}/`);
    expect(p.status).toBe(404);
    expect(p.text).toBe('{"detail":"Not found."}');
    expect(p.headers.get('content-type')).toBe('application/json');
    expect(p.headers.get('x-request-id')).toBeTruthy();
  });

  it('the probe asks for an id that cannot exist, in the :id position, without reveal headers; it is cached', async () => {
    const first = api.requests.length;
    // an Accept-Encoding no earlier test sent: a cache entry of its own, so this request probes
    const headers = { authorization: 'Token consumer-1', 'accept-encoding': 'deflate' };
    await get(`${gw.url}/api/v1/activities/${privateIds[1]}/?x=1`, { headers });
    const probe = api.requests.slice(first).find((r) => r.url.includes('apg-absent-'));
    expect(probe?.url).toMatch(/^\/api\/v1\/activities\/apg-absent-[0-9a-f-]{36}\/\?x=1$/);
    expect(probe?.method).toBe('GET');
    expect(probe?.headers.authorization).toBe('Token consumer-1');
    const before = api.requests.length;
    for (const id of privateIds.slice(2, 8)) {
      const r = await get(`${gw.url}/api/v1/activities/${id}/?x=1`, { headers: { ...headers, 'x-reveal-reason': 'curious enough' } });
      expect(r.status).toBe(404);
    }
    // one upstream request per item, no further probes: the answer is cached per route
    expect(api.requests.length - before).toBe(6);
    for (const r of api.requests) expect(r.headers['x-reveal-reason']).toBeUndefined();
  });
});

describe('existence oracle: when nothing can be learned the gateway answers its own 404', () => {
  it('an upstream that answers 2xx for any id: own 404 not_found', async () => {
    const { createSampleApi } = await import('../../src/demo/sampleApi.js');
    const sample = createSampleApi();
    const privateRec = sample.dataset.find((a: any) => demoHides(a)) as any;
    const body = Buffer.from(JSON.stringify(privateRec));
    // an upstream that answers every id with the same (private) record
    const up = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const t = await tempDir();
    const gw = await startTestGateway(demoLikeConfig(`http://127.0.0.1:${(up.address() as AddressInfo).port}`, t.dir));
    try {
      const r = await get(`${gw.url}/api/v1/activities/whatever/`);
      expect(r.status).toBe(404);
      expect(r.json().error.code).toBe('not_found');
    } finally {
      await gw.close(1000);
      up.closeAllConnections();
      await new Promise<void>((r) => up.close(() => r()));
      await t.cleanup();
    }
  });
});

describe('existence oracle: a learned answer that aged is given while a fresh one is learned', () => {
  it('after the first probe no request waits for one; an answer aged past twice its time to live is learned again first', async () => {
    const { createSampleApi } = await import('../../src/demo/sampleApi.js');
    const { ABSENT_ANSWER_TTL_MS } = await import('../../src/http/absentItem.js');
    const privateRec = createSampleApi().dataset.find((a: any) => demoHides(a)) as any;
    const body = Buffer.from(JSON.stringify(privateRec));
    const held: Array<() => void> = [];
    let hold = false;
    let probes = 0;
    let notFound = '{"detail":"Not found."}';
    const up = http.createServer((req, res) => {
      if (!req.url!.includes('apg-absent-')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        return void res.end(body);
      }
      probes++;
      const text = notFound;
      const answer = () => res.writeHead(404, { 'content-type': 'application/json' }).end(text);
      if (hold) held.push(answer);
      else answer();
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    const t = await tempDir();
    let clock = Date.parse('2026-12-08T10:00:00Z');
    const gw = await startTestGateway(demoLikeConfig(`http://127.0.0.1:${(up.address() as AddressInfo).port}`, t.dir), { now: () => clock });
    const item = () => get(`${gw.url}/api/v1/activities/${privateRec._id}/`);
    try {
      expect((await item()).text).toBe('{"detail":"Not found."}'); // the first one waits for the probe
      expect(probes).toBe(1);

      // aged: the old answer at once, a fresh one learned beside it (held by the upstream meanwhile)
      clock += ABSENT_ANSWER_TTL_MS + 1_000;
      hold = true;
      notFound = '{"detail":"No such activity."}';
      const aged = await item();
      expect(aged.status).toBe(404);
      expect(aged.text).toBe('{"detail":"Not found."}');
      await waitFor(() => held.length === 1, 5_000, 'the upstream holding one probe');
      expect((await item()).text).toBe('{"detail":"Not found."}'); // one probe at a time
      expect(probes).toBe(2);
      held.splice(0).forEach((answer) => answer());
      let text = '';
      for (let i = 0; i < 100 && text !== '{"detail":"No such activity."}'; i++) text = (await item()).text;
      expect(text).toBe('{"detail":"No such activity."}'); // the fresh answer, learned beside a request
      expect(probes).toBe(2); // and trusted again: no further probe

      // aged past twice the time to live: nothing is given before the probe answers
      clock += 2 * ABSENT_ANSWER_TTL_MS + 1_000;
      notFound = '{"detail":"Gone."}';
      let settled = false;
      const late = item().then((r) => ((settled = true), r));
      await waitFor(() => held.length === 1, 5_000, 'the upstream holding one probe');
      expect(settled).toBe(false);
      held.splice(0).forEach((answer) => answer());
      expect((await late).text).toBe('{"detail":"Gone."}');
      expect(probes).toBe(3);
    } finally {
      hold = false;
      held.splice(0).forEach((answer) => answer());
      await gw.close(1000);
      up.closeAllConnections();
      await new Promise<void>((r) => up.close(() => r()));
      await t.cleanup();
    }
  });
});

describe('existence oracle: a json export’s total does not count private activities', () => {
  it('the upstream total after the array is reduced by the number removed', async () => {
    const t = await tempDir();
    const routes = (demoLikeConfig('http://x', t.dir).routes as Array<Record<string, unknown>>).map((r) =>
      r.format === 'json' ? { ...r, total: 'total' } : r,
    );
    await t.cleanup();
    const stack = await startDemoStack({ routes });
    try {
      const direct = (await get(`${stack.upstream}/api/v1/activities/export/json/?count=3000`)).json();
      const via = (await get(`${stack.gw.url}/api/v1/activities/export/json/?count=3000`)).json();
      const privateCount = direct.data.filter((a: any) => demoHides(a)).length;
      expect(privateCount).toBeGreaterThan(0);
      expect(direct.total).toBe(3000);
      expect(via.data.length).toBe(3000 - privateCount);
      // upstream total - data shown would reveal how many private activities exist: it must be 0
      expect(via.total - via.data.length).toBe(0);
    } finally {
      await stack.close();
    }
  });
});
