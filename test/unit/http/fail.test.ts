import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../../src/errors.js';
import { GovernanceUnavailableError } from '../../../src/governance/types.js';
import { Exchange, observeEnd, type EndFacts } from '../../../src/http/exchange.js';
import { failWith } from '../../../src/http/fail.js';
import { sendJson } from '../../../src/http/responder.js';
import { requestIdFrom } from '../../../src/http/requestId.js';
import { UnauthenticatedError } from '../../../src/identity/index.js';
import { listen, makeParts, rawRequest, type Listening, type Parts } from '../../helpers/units.js';

let parts: Parts;
let server: Listening;
const ended: Array<{ ex: Exchange; end: EndFacts }> = [];

/** What each path throws into fail(), after doing what a stage may have done first. */
const scenarios: Record<string, (ex: Exchange, res: http.ServerResponse) => unknown> = {
  '/conflict': (_ex, res) => {
    res.setHeader('x-stale', 'from a stage');
    res.setHeader('content-type', 'text/plain');
    return new GatewayError('unknown_group', 'No group "hrr".', { details: { suggestions: [{ id: 'hr' }] } });
  },
  '/boom': () => new TypeError('boom at /srv/secret'),
  '/governance': () => new GovernanceUnavailableError('fsync failed /var/lib/apg'),
  '/token': () => new UnauthenticatedError('expired'),
  '/cut': (_ex, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    res.write('{"data":[');
    return new Error('upstream died');
  },
  '/answered': (_ex, res) => {
    sendJson(res, 200, { fine: true });
    return new GatewayError('conflict');
  },
};

beforeAll(async () => {
  parts = await makeParts('http://127.0.0.1:9');
  const fail = failWith(parts);
  server = await listen((req, res) => {
    const ex = new Exchange(requestIdFrom(req.headers['x-request-id']), req, res, parts.rt);
    res.setHeader('x-request-id', ex.id);
    observeEnd(ex, (e, end) => ended.push({ ex: e, end }));
    fail(ex, scenarios[req.url ?? ''](ex, res));
  });
});
afterAll(async () => {
  await server.close();
  await parts.close();
});

const endOf = (id: string) => ended.find((e) => e.ex.id === id);

describe('failWith: the one mapping from a thrown value to an answer', () => {
  it('a GatewayError becomes its SPEC JSON error; headers set by stages are dropped, the request id kept', async () => {
    const r = await rawRequest(server.url, { path: '/conflict', headers: { 'x-request-id': 'rid-1' } });
    expect(r.status).toBe(422);
    expect(JSON.parse(r.body.toString())).toEqual({
      error: { code: 'unknown_group', message: 'No group "hrr".', requestId: 'rid-1', details: { suggestions: [{ id: 'hr' }] } },
    });
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect(r.headers['x-request-id']).toBe('rid-1');
    expect(r.headers['x-stale']).toBeUndefined();
  });

  it('anything else is 500 internal_error: logged with the request id, its message never sent', async () => {
    const r = await rawRequest(server.url, { path: '/boom', headers: { 'x-request-id': 'rid-boom' } });
    expect(r.status).toBe(500);
    expect(JSON.parse(r.body.toString()).error.code).toBe('internal_error');
    expect(r.body.toString()).not.toContain('secret');
    expect(parts.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: 'request failed', requestId: 'rid-boom', error: 'boom at /srv/secret' }));
  });

  it('a governance failure is counted and answered 503 without its operator message', async () => {
    const before = (await parts.metrics.governanceFailures.get()).values[0]?.value ?? 0;
    const r = await rawRequest(server.url, { path: '/governance' });
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body.toString()).error.code).toBe('governance_unavailable');
    expect(r.body.toString()).not.toContain('/var/lib');
    expect((await parts.metrics.governanceFailures.get()).values[0]?.value).toBe(before + 1);
    // expected errors are not logged as failures
    expect(parts.lines.filter((l) => l.msg === 'request failed' && l.requestId === r.headers['x-request-id'])).toHaveLength(0);
  });

  it('an invalid token: 401 with its challenge, the why word kept for the access line', async () => {
    const r = await rawRequest(server.url, { path: '/token', headers: { 'x-request-id': 'rid-tok' } });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Bearer error="invalid_token", error_description="expired"');
    await vi.waitFor(() => expect(endOf('rid-tok')?.ex.tokenError).toBe('expired'));
  });

  it('HEAD gets the error headers without the body', async () => {
    const r = await rawRequest(server.url, { method: 'HEAD', path: '/conflict' });
    expect(r.status).toBe(422);
    expect(Number(r.headers['content-length'])).toBeGreaterThan(0);
    expect(r.body.length).toBe(0);
  });

  it('an answer already under way is cut off, never completed, and noted', async () => {
    await expect(rawRequest(server.url, { path: '/cut', headers: { 'x-request-id': 'rid-cut' } })).rejects.toThrow();
    await vi.waitFor(() => expect(endOf('rid-cut')).toBeDefined());
    const { ex, end } = endOf('rid-cut')!;
    expect(end).toEqual({ completed: false, status: 200 });
    expect(ex.note).toBe('cut_off:internal_error');
  });

  it('a complete answer is left alone', async () => {
    const r = await rawRequest(server.url, { path: '/answered' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ fine: true });
  });
});
