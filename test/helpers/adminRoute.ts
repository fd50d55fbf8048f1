/**
 * One admin route module in a real express app on a loopback socket, the way admin/app.ts
 * runs it: a first middleware makes the request's real Exchange (normalised by the real
 * `normaliseTarget`) and AdminContext, and authenticates as the principal named by the test
 * header `x-test-principal` (via `x-test-via`, default `admin-api`); then the JSON body
 * parser, the module, not_found, and the admin app's own error handler.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { adminErrorHandler } from '../../src/admin/app.js';
import { auditWith, createSerialiser, recordWith } from '../../src/admin/changes.js';
import { AdminContext, attachContext, type AdminVia } from '../../src/admin/context.js';
import type { ChangeTools } from '../../src/admin/deps.js';
import { GatewayError } from '../../src/errors.js';
import type { GovernanceSink } from '../../src/governance/types.js';
import { normaliseTarget } from '../../src/http/dispatch.js';
import { Exchange, observeEnd, type EndFacts } from '../../src/http/exchange.js';
import { requestIdFrom } from '../../src/http/requestId.js';
import type { Runtime } from '../../src/http/runtime.js';
import type { Logger } from '../../src/log.js';
import type { Metrics } from '../../src/metrics.js';
import { listen, type Listening } from './units.js';

export const PRINCIPAL_HEADER = 'x-test-principal';
export const VIA_HEADER = 'x-test-via';

export interface MountDeps {
  rt: Runtime;
  metrics: Metrics;
  logger: Logger;
}

export interface Mounted extends Listening {
  /** every exchange the app took, with how it ended */
  exchanges: Array<{ ex: Exchange; end?: EndFacts }>;
}

/** The change tools of one admin app: the real serialiser and record-then-apply over `governance`. */
export function changeTools(governance: () => GovernanceSink | null): ChangeTools {
  return { serialised: createSerialiser(), record: recordWith(auditWith(governance)) };
}

export async function mountRoute(router: express.Router, deps: MountDeps, o: { json?: boolean } = {}): Promise<Mounted> {
  const exchanges: Mounted['exchanges'] = [];
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const ex = new Exchange(requestIdFrom(req.headers['x-request-id']), req, res, deps.rt);
    const record: Mounted['exchanges'][number] = { ex };
    exchanges.push(record);
    res.setHeader('x-request-id', ex.id);
    observeEnd(ex, (_ex, end) => {
      record.end = end;
    });
    const ctx = new AdminContext(ex);
    attachContext(res, ctx);
    normaliseTarget(ex, deps.metrics);
    const who = req.headers[PRINCIPAL_HEADER];
    if (typeof who === 'string') {
      const via = req.headers[VIA_HEADER] === 'console' ? 'console' : 'admin-api';
      ctx.authenticated({ principal: who, roles: ['SecurityAdministrator'], via: via satisfies AdminVia });
    }
    next();
  });
  if (o.json !== false) app.use(express.json({ limit: '16kb', type: () => true }));
  app.use(router);
  app.use(() => {
    throw new GatewayError('not_found');
  });
  app.use(adminErrorHandler(deps));
  const l = await listen((req, res) => app(req, res));
  return { ...l, exchanges };
}

/** fetch as an admin (the test header names the principal). */
export async function call(
  base: string,
  path: string,
  o: { method?: string; as?: string; via?: AdminVia; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.as) headers[PRINCIPAL_HEADER] = o.as;
  if (o.via) headers[VIA_HEADER] = o.via;
  let body: string | undefined;
  if (o.body !== undefined) {
    body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const r = await fetch(base + path, { method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' });
  const text = await r.text();
  return { status: r.status, headers: r.headers, text, json: () => JSON.parse(text) };
}
