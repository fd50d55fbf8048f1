import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { underAdminPrefix } from '../../../src/http/dispatch.js';
import { json, makeParts, rawRequest, startDispatcher, startUpstream, type Parts, type ProxyServer, type TestUpstream } from '../../helpers/units.js';

let upstream: TestUpstream;
let parts: Parts;
let gw: ProxyServer;

beforeAll(async () => {
  upstream = await startUpstream(json(200, { passthrough: true }));
  parts = await makeParts(upstream.url);
  gw = await startDispatcher(parts);
});
afterAll(async () => {
  await gw.close();
  await upstream.close();
  await parts.close();
});
beforeEach(() => {
  upstream.seen.length = 0;
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => rawRequest(gw.url, { method, path, headers });
const body = (r: { body: Buffer }) => JSON.parse(r.body.toString());
const accessLines = (id: string) => parts.lines.filter((l) => l.msg === 'access' && l.requestId === id);
const requests = async () => (await parts.metrics.requests.get()).values.reduce((n, v) => n + v.value, 0);

describe('underAdminPrefix', () => {
  it('is the prefix or below it, case-insensitively, never a longer sibling', () => {
    expect(underAdminPrefix('/_gateway', '/_gateway')).toBe(true);
    expect(underAdminPrefix('/_GATEWAY/api/x', '/_gateway')).toBe(true);
    expect(underAdminPrefix('/_gateway/', '/_Gateway')).toBe(true);
    expect(underAdminPrefix('/_gatewayx', '/_gateway')).toBe(false);
    expect(underAdminPrefix('/api/_gateway', '/_gateway')).toBe(false);
  });
});

describe('the dispatcher', () => {
  it('sends the admin prefix, in any case, to the admin app', async () => {
    for (const path of ['/_gateway/healthz', '/_GATEWAY/healthz', '/_GaTeWaY/healthz?x=1']) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      expect(body(r), path).toEqual({ status: 'ok' });
    }
    // the prefix itself is the admin app's (its not_found), not the proxy's route_denied
    const bare = await get('/_Gateway');
    expect(bare.status).toBe(404);
    expect(body(bare).error.code).toBe('not_found');
    expect(upstream.seen).toHaveLength(0);
  });

  it('splits after normalisation: a path that climbs into the prefix is the admin app’s', async () => {
    const r = await get('/api/v1/../../_gateway/healthz');
    expect(r.status).toBe(200);
    expect(body(r)).toEqual({ status: 'ok' });
  });

  it('everything else goes to the proxy journey', async () => {
    const sibling = await get('/_gatewayx/healthz');
    expect(sibling.status).toBe(404);
    expect(body(sibling).error.code).toBe('route_denied');
    const passthrough = await get('/api/v1/other');
    expect(passthrough.status).toBe(200);
    expect(body(passthrough)).toEqual({ passthrough: true });
    expect(upstream.seen.map((s) => s.url)).toEqual(['/api/v1/other']);
  });

  it('a path that cannot be normalised is 400 bad_path as JSON, counted by reason, nobody else asked', async () => {
    const r = await get('/api/v1/a%2Fb', { 'x-request-id': 'bad-1' });
    expect(r.status).toBe(400);
    expect(body(r)).toEqual({ error: { code: 'bad_path', message: expect.any(String), requestId: 'bad-1' } });
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect((await parts.metrics.pathRejections.get()).values).toContainEqual(expect.objectContaining({ labels: { reason: 'encoded_slash' }, value: 1 }));
    expect(upstream.seen).toHaveLength(0);
    await vi.waitFor(() => expect(accessLines('bad-1')).toHaveLength(1));
    expect(accessLines('bad-1')[0]).toMatchObject({ path: '(rejected)', status: 400, kind: 'none' });
  });

  it('keeps a plain x-request-id, and makes one for a missing or unsafe id; the upstream sees the same id', async () => {
    const kept = await get('/api/v1/x', { 'x-request-id': 'abc-123:Z.9_' });
    expect(kept.headers['x-request-id']).toBe('abc-123:Z.9_');
    expect(upstream.seen[0].headers['x-request-id']).toBe('abc-123:Z.9_');
    for (const headers of [{} as Record<string, string>, { 'x-request-id': 'has space' }, { 'x-request-id': 'x'.repeat(129) }]) {
      const r = await get('/_gateway/nope', headers);
      const id = r.headers['x-request-id'] as string;
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(body(r).error.requestId).toBe(id);
    }
  });

  it('each request ends exactly once: one access line and one count, whatever peer answered', async () => {
    const before = await requests();
    const ids = ['end-admin', 'end-proxy', 'end-denied', 'end-bad', 'end-head'];
    await get('/_gateway/healthz', { 'x-request-id': ids[0] });
    await get('/api/v1/y', { 'x-request-id': ids[1] });
    await get('/nowhere', { 'x-request-id': ids[2] });
    await get('/a;b', { 'x-request-id': ids[3] });
    await get('/_gateway/healthz', { 'x-request-id': ids[4] }, 'HEAD');
    await vi.waitFor(async () => expect(await requests()).toBe(before + ids.length));
    await vi.waitFor(() => expect(ids.map((id) => accessLines(id).length)).toEqual([1, 1, 1, 1, 1]));
    expect(ids.map((id) => [accessLines(id)[0].kind, accessLines(id)[0].status])).toEqual([
      ['admin', 200],
      ['passthrough', 200],
      ['deny', 404],
      ['none', 400],
      ['admin', 200],
    ]);
  });
});
