/** Liveness, readiness and metrics (SPEC §7): no authentication, nothing private. */
import express from 'express';
import { sendJson, sendText } from '../../http/responder.js';
import type { AdminDeps } from '../deps.js';
import type { ApiOperation } from '../operations.js';

export function healthRoutes(deps: Pick<AdminDeps, 'ready' | 'metrics' | 'scrape'>): express.Router {
  const scrape = deps.scrape ?? (() => deps.metrics.registry.metrics());
  const r = express.Router();
  r.get('/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' }));
  r.get('/readyz', async (_req, res) => {
    const ready = await deps.ready();
    sendJson(res, ready.ready ? 200 : 503, { status: ready.ready ? 'ready' : 'not_ready', checks: ready.checks });
  });
  r.get('/metrics', async (_req, res) => sendText(res, 200, deps.metrics.registry.contentType, await scrape()));
  return r;
}

/** The OpenAPI description of these routes (src/admin/openapi.ts): no authentication. */
export const healthOperations: ApiOperation[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness: the process answers', public: true, responses: { 200: '`{"status":"ok"}`' } },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: configuration, state store, governance sink and JWKS all usable',
    public: true,
    responses: { 200: '`{"status":"ready","checks":{...}}`', 503: '`{"status":"not_ready","checks":{...}}`: `checks` names the part that is not usable' },
  },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', public: true, content: ['text/plain'], responses: { 200: 'the Prometheus text format' } },
];
