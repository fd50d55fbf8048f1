import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { normaliseTarget } from '../../../src/http/dispatch.js';
import { Exchange, observeEnd } from '../../../src/http/exchange.js';
import { failWith } from '../../../src/http/fail.js';
import { requestIdFrom } from '../../../src/http/requestId.js';
import { tempDir } from '../../helpers/gateway.js';
import { generateTestKey, signToken, type TestKey } from '../../helpers/idp.js';
import {
  entries,
  json,
  listen,
  makeParts,
  PRIVATE_ACTIVITY,
  PUBLIC_ACTIVITY,
  rawRequest,
  startDispatcher,
  startUpstream,
  type Listening,
  type Parts,
  type ProxyServer,
  type TestUpstream,
} from '../../helpers/units.js';

const ISSUER = 'https://idp.test';
const LIST = '/api/v1/activities';
const PAGE = { data: [PUBLIC_ACTIVITY, PRIVATE_ACTIVITY], total: 2 };

let key: TestKey;
let keys: { dir: string; cleanup: () => Promise<void> };
let upstream: TestUpstream;
let parts: Parts;
let gw: ProxyServer;
/** the console's way into the journey: an exchange the gateway vouches for (admin/routes/console.ts does the same) */
let vouching: Listening;

beforeAll(async () => {
  key = await generateTestKey('ES256');
  keys = await tempDir('apg-jwks-');
  const jwksFile = path.join(keys.dir, 'jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
  upstream = await startUpstream();
  parts = await makeParts(upstream.url, {
    identity: { issuer: ISSUER, jwksFile },
    routes: [
      { path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data', total: 'total' },
      { path: '/api/v1/activities/:id/', methods: ['GET'], kind: 'item' },
      { path: '/api/v1/**', kind: 'passthrough' },
      { path: '/deny/**', kind: 'deny' },
      // a route the console must never reach: only a vouched exchange could get here with this path
      { path: '/_gateway/**', kind: 'passthrough' },
    ],
  });
  gw = await startDispatcher(parts);
  const fail = failWith(parts);
  vouching = await listen((req, res) => {
    const ex = new Exchange(requestIdFrom(req.headers['x-request-id']), req, res, parts.rt);
    res.setHeader('x-request-id', ex.id);
    observeEnd(ex, () => undefined);
    try {
      normaliseTarget(ex, parts.metrics);
    } catch (err) {
      return fail(ex, err);
    }
    ex.vouched = { principal: 'alice@contoso.com', roles: ['SecurityAdministrator'], isAdmin: true, iss: ISSUER, jti: 'session-1', via: 'console' };
    gw.pipeline.handle(ex);
  });
});
afterAll(async () => {
  await vouching.close();
  await gw.close();
  await upstream.close();
  await parts.close();
  await keys.cleanup();
});
/** the sink's head when the test began: each test reads only the entries it caused */
let headSeq = 0;
const written = async () => (await entries(parts)).filter((e) => e.seq > headSeq);

beforeEach(async () => {
  headSeq = (await parts.fileSink.head()).seq;
  upstream.seen.length = 0;
  upstream.reply = json(200, PAGE);
  parts.sink = parts.fileSink;
});

async function token(principal = 'alice@contoso.com', roles = ['SecurityAdministrator']): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signToken(key, { iss: ISSUER, aud: 'activity-privacy-gateway', iat: now, exp: now + 3600, upn: principal, roles, jti: `jti-${principal}` });
}

const get = (p: string, headers: Record<string, string> = {}, method = 'GET', base = gw.url) => rawRequest(base, { method, path: p, headers });
const body = (r: { body: Buffer }) => JSON.parse(r.body.toString());

describe('2. route', () => {
  it.each([['/nowhere'], ['/deny/x']])('%s is 404 route_denied and never reaches the upstream', async (p) => {
    const r = await get(p);
    expect(r.status).toBe(404);
    expect(body(r).error.code).toBe('route_denied');
    expect(upstream.seen).toHaveLength(0);
  });

  it('a method the route does not allow falls through to the next route', async () => {
    upstream.reply = json(200, { upstream: 'passthrough' });
    const r = await get(`${LIST}/a-private`, {}, 'DELETE');
    // the item route allows GET only: DELETE is the passthrough's
    expect(body(r)).toEqual({ upstream: 'passthrough' });
  });

  it('strips method-override headers before anything else', async () => {
    upstream.reply = json(200, {});
    await get('/api/v1/things', { 'x-http-method-override': 'DELETE', 'x-http-method': 'DELETE', 'x-method-override': 'DELETE', 'x-keep': '1' });
    const seen = upstream.seen[0].headers;
    expect(seen['x-http-method-override']).toBeUndefined();
    expect(seen['x-http-method']).toBeUndefined();
    expect(seen['x-method-override']).toBeUndefined();
    expect(seen['x-keep']).toBe('1');
    expect(upstream.seen[0].method).toBe('GET');
  });
});

describe('passthrough', () => {
  it('copies the bytes and headers unchanged', async () => {
    const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
    upstream.reply = (_req, res) => {
      res.writeHead(207, { 'content-type': 'application/octet-stream', 'content-length': bytes.length, etag: '"v1"', 'x-upstream': 'yes' });
      res.end(bytes);
    };
    const r = await get('/api/v1/blob?a=1&b=%20');
    expect(r.status).toBe(207);
    expect(r.body.equals(bytes)).toBe(true);
    expect(r.headers.etag).toBe('"v1"');
    expect(r.headers['x-upstream']).toBe('yes');
    expect(upstream.seen[0].url).toBe('/api/v1/blob?a=1&b=%20');
  });
});

describe('6. list and item filtering', () => {
  it('removes a private activity and reduces the total; the upstream never sees reveal or conditional headers', async () => {
    const r = await get(`${LIST}?page=1`, { 'x-request-id': 'list-1', range: 'bytes=0-10', 'if-none-match': '"x"', 'accept-encoding': 'zstd, gzip' });
    expect(r.status).toBe(200);
    const page = body(r);
    expect(page.data.map((a: { _id: string }) => a._id)).toEqual(['a-public']);
    expect(page.total).toBe(1);
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect(r.headers['x-private-activities']).toBeUndefined();
    const seen = upstream.seen[0];
    expect(seen.url).toBe(`${LIST}?page=1`);
    expect(seen.headers.range).toBeUndefined();
    expect(seen.headers['if-none-match']).toBeUndefined();
    expect(seen.headers['accept-encoding']).toBe('gzip');
    await vi.waitFor(() =>
      expect(parts.lines.find((l) => l.msg === 'access' && l.requestId === 'list-1')).toMatchObject({ removed: 1, kind: 'list', reveal: 'none' }),
    );
    expect(await written()).toHaveLength(0);
  });

  it('a private item is 404 not_found, like a missing one; a public one is unchanged', async () => {
    upstream.reply = json(200, PRIVATE_ACTIVITY);
    const hidden = await get(`${LIST}/a-private`);
    expect(hidden.status).toBe(404);
    expect(body(hidden).error.code).toBe('not_found');
    upstream.reply = json(200, PUBLIC_ACTIVITY);
    const shown = await get(`${LIST}/a-public`);
    expect(body(shown)).toEqual(PUBLIC_ACTIVITY);
  });

  it('a non-2xx answer is relayed unchanged, with no entry even for a granted reveal', async () => {
    const raw = Buffer.from(JSON.stringify({ error: 'busy', data: [PRIVATE_ACTIVITY] }));
    upstream.reply = (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'content-length': raw.length, 'retry-after': '7' });
      res.end(raw);
    };
    const r = await get(LIST, { authorization: `Bearer ${await token()}`, 'x-show-private-activities': 'confirm', 'x-reveal-reason': 'Incident 4711 review' });
    expect(r.status).toBe(503);
    expect(r.body.equals(raw)).toBe(true);
    expect(r.headers['retry-after']).toBe('7');
    expect(await written()).toHaveLength(0);
  });

  it('an answer that is not JSON is 502 upstream_body_invalid: nothing of it is sent', async () => {
    upstream.reply = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<p>bob@contoso.com</p>');
    };
    const r = await get(LIST);
    expect(r.status).toBe(502);
    expect(body(r).error.code).toBe('upstream_body_invalid');
    expect(r.body.toString()).not.toContain('bob');
  });
});

describe('3–4, 7. reveal and governance', () => {
  const reveal = async (extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${await token()}`,
    'x-show-private-activities': 'confirm',
    'x-reveal-reason': 'Incident 4711 review',
    ...extra,
  });

  it('a granted reveal writes exactly one entry, durable before the answer, and shows the private activity', async () => {
    const r = await get(LIST, { ...(await reveal()), 'x-request-id': 'rev-1' });
    expect(r.status).toBe(200);
    // read at once when the answer is in: the entry is already in the file
    const log = await written();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      action: 'private-activities.viewed',
      principal: 'alice@contoso.com',
      via: 'header',
      reason: 'Incident 4711 review',
      privateActivities: { count: 1, ids: ['a-private'] },
      token: { iss: ISSUER, jti: 'jti-alice@contoso.com' },
      request: { id: 'rev-1', method: 'GET', path: LIST },
    });
    expect(r.headers['x-governance-entry']).toBe(log[0].id);
    expect(r.headers['x-private-activities']).toBe('shown');
    expect(r.headers['cache-control']).toBe('private, no-store');
    expect(body(r)).toEqual(PAGE);
    const seen = upstream.seen[0].headers;
    expect(seen['x-show-private-activities']).toBeUndefined();
    expect(seen['x-reveal-reason']).toBeUndefined();
  });

  it('a granted reveal without a sink is 503 governance_unavailable and shows nothing', async () => {
    parts.sink = null;
    const r = await get(LIST, await reveal());
    expect(r.status).toBe(503);
    expect(body(r).error.code).toBe('governance_unavailable');
    expect(r.body.toString()).not.toContain('a-private');
  });

  it('a refused reveal (no permission) is 403 with a denied entry, and nothing is fetched', async () => {
    const r = await get(LIST, { ...(await reveal()), authorization: `Bearer ${await token('carol@contoso.com')}` });
    expect(r.status).toBe(403);
    expect(body(r).error.code).toBe('reveal_forbidden');
    expect(upstream.seen).toHaveLength(0);
    expect((await written()).map((e) => [e.action, e.principal])).toEqual([['private-activities.denied', 'carol@contoso.com']]);
  });

  it('a reveal header with the wrong value is 400 bad_reveal_header; without a token 401', async () => {
    expect(body(await get(LIST, { 'x-show-private-activities': 'yes' })).error.code).toBe('bad_reveal_header');
    const anon = await get(LIST, { 'x-show-private-activities': 'confirm' });
    expect(anon.status).toBe(401);
    expect(anon.headers['www-authenticate']).toBe('Bearer');
    expect(upstream.seen).toHaveLength(0);
  });
});

describe('a vouched (console) exchange', () => {
  it('is never routed under the admin prefix, whatever the route table says', async () => {
    for (const p of ['/_gateway/api/privacy/groups', '/_GATEWAY/x']) {
      const r = await get(p, {}, 'GET', vouching.url);
      expect(r.status, p).toBe(404);
      expect(body(r).error.code).toBe('route_denied');
    }
    expect(upstream.seen).toHaveLength(0);
  });

  it('never sends the cookie, the CSRF token or an identity header upstream', async () => {
    const r = await get(
      LIST,
      { cookie: 'apg_session=abc; other=1', 'x-csrf-token': 'csrf-1', authorization: 'Bearer forged', 'x-keep': '1' },
      'GET',
      vouching.url,
    );
    expect(r.status).toBe(200);
    expect(body(r).data.map((a: { _id: string }) => a._id)).toEqual(['a-public']);
    const seen = upstream.seen[0].headers;
    expect(seen.cookie).toBeUndefined();
    expect(seen['x-csrf-token']).toBeUndefined();
    expect(seen.authorization).toBeUndefined();
    expect(seen['x-keep']).toBe('1');
  });

  it('reveals as the vouched admin, recorded via console with the session’s issuer and id', async () => {
    const r = await get(LIST, { 'x-show-private-activities': 'confirm', 'x-reveal-reason': 'Incident 4711 review' }, 'GET', vouching.url);
    expect(r.status).toBe(200);
    expect(body(r).data).toHaveLength(2);
    const log = await written();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      action: 'private-activities.viewed',
      via: 'console',
      principal: 'alice@contoso.com',
      token: { iss: ISSUER, jti: 'session-1' },
    });
  });
});
