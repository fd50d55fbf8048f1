import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthRoutes } from '../../../../src/admin/routes/health.js';
import { call, mountRoute, type Mounted } from '../../../helpers/adminRoute.js';
import { makeParts, rawRequest, type Parts } from '../../../helpers/units.js';

let parts: Parts;
let app: Mounted;

beforeAll(async () => {
  parts = await makeParts('http://127.0.0.1:9');
  app = await mountRoute(healthRoutes(parts.adminDeps()), parts);
});
afterAll(async () => {
  parts.sink = parts.fileSink;
  await app.close();
  await parts.close();
});

describe('health routes (no authentication)', () => {
  it('healthz is 200 ok, no-store', async () => {
    const r = await call(app.url, '/healthz');
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ status: 'ok' });
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('HEAD healthz has the headers of GET and no body', async () => {
    const r = await rawRequest(app.url, { method: 'HEAD', path: '/healthz' });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(JSON.stringify({ status: 'ok' }).length));
    expect(r.body.length).toBe(0);
  });

  it('readyz follows the checks: 200 ready, then 503 not_ready without governance', async () => {
    const ok = await call(app.url, '/readyz');
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ status: 'ready', checks: { config: true, state: true, governance: true } });
    parts.sink = null;
    const down = await call(app.url, '/readyz');
    expect(down.status).toBe(503);
    expect(down.json()).toEqual({ status: 'not_ready', checks: { config: true, state: true, governance: false } });
    parts.sink = parts.fileSink;
  });

  it('metrics is the registry in the Prometheus text format', async () => {
    parts.metrics.requests.inc({ kind: 'list', status: '200' });
    const r = await call(app.url, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe(parts.metrics.registry.contentType);
    expect(r.text).toMatch(/^apg_requests_total\{kind="list",status="200"\} 1$/m);
  });

  it('anything else is 404 not_found as JSON with the request id', async () => {
    const r = await call(app.url, '/healthz/x', { headers: { 'x-request-id': 'rid-7' } });
    expect(r.status).toBe(404);
    expect(r.json()).toEqual({ error: { code: 'not_found', message: expect.any(String), requestId: 'rid-7' } });
    expect(r.headers.get('x-request-id')).toBe('rid-7');
  });
});
