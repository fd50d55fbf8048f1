import type http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { isStateChanging, type ConsoleHandler } from '../console/handler.js';
import { GOVERNANCE_ACTIONS, type GovernanceAction, type GovernanceSink } from '../governance/types.js';
import type { RequestContext } from '../http/context.js';
import { sendError, type ErrorCode } from '../http/errors.js';
import type { IdentityVerifier } from '../identity/index.js';
import type { Metrics } from '../metrics.js';
import { StateConflictError, StateNotFoundError, type StateStore } from '../state/types.js';

export interface AdminDeps {
  state: () => StateStore;
  governance: () => GovernanceSink | null;
  identity: () => IdentityVerifier | null;
  metrics: Metrics;
  /** readiness of every part the gateway needs (config, state, governance, JWKS) */
  ready: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  now?: () => number;
  /** the admin console (SPEC §13): its routes, and its session accepted in place of a bearer token */
  console?: () => ConsoleHandler | null;
}

const PRINCIPAL = /^[^@\s/\\]+@[^@\s/\\]+\.[^@\s/\\]+$/;
const groupBody = z.object({ id: z.string().trim().min(1).max(200), name: z.string().trim().min(1).max(200).optional() }).strict();
const permissionBody = z.object({ principal: z.string().trim().regex(PRINCIPAL, 'must be a UPN or e-mail address') }).strict();

interface AdminLocals { ctx: RequestContext; principal: string; via: 'admin-api' | 'console' }

function fail(res: Response, code: ErrorCode, message?: string, extra?: Record<string, string>): void {
  sendError(res, code, (res.locals as AdminLocals).ctx.id, message, extra);
}

/**
 * The gateway's own endpoints under server.adminPrefix. Express is used here
 * (and only here): admin traffic is light and benefits from its routing and
 * body parsing, while the proxy hot path stays on plain node:http.
 */
export function createAdminApp(deps: AdminDeps) {
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // Mutations are serialised so that "check, audit, apply" is one step per instance.
  let lock: Promise<unknown> = Promise.resolve();
  const serialised = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lock.then(fn);
    lock = run.catch(() => undefined);
    return run;
  };

  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', async (_req, res) => {
    const r = await deps.ready();
    res.status(r.ready ? 200 : 503).json({ status: r.ready ? 'ready' : 'not_ready', checks: r.checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', deps.metrics.registry.contentType);
    res.send(await deps.metrics.registry.metrics());
  });

  const api = express.Router();
  api.use(async (req: Request, res: Response, next: NextFunction) => {
    const identity = deps.identity();
    const r = identity ? await identity.verify(req.headers) : { kind: 'anonymous' as const };
    const consoleHandler = deps.console?.() ?? null;
    if (r.kind === 'anonymous' && consoleHandler) {
      // No bearer token: the console's session cookie, with its CSRF token on changes (SPEC §13).
      const s = await consoleHandler.authenticate(req, { csrf: isStateChanging(req.method) });
      if (s.kind === 'refused') return fail(res, s.code, s.message, s.code === 'unauthenticated' ? { 'www-authenticate': 'Bearer' } : undefined);
      if (s.kind === 'ok') {
        const locals = res.locals as AdminLocals;
        locals.ctx.principal = s.session.principal;
        locals.principal = s.session.principal;
        locals.via = 'console';
        return next();
      }
    }
    if (r.kind === 'unavailable') return fail(res, 'identity_unavailable');
    if (r.kind !== 'verified') return fail(res, 'unauthenticated', 'The admin API needs a valid admin bearer token.', { 'www-authenticate': 'Bearer' });
    if (!r.isAdmin) return fail(res, 'forbidden');
    (res.locals as AdminLocals).ctx.principal = r.principal;
    (res.locals as AdminLocals).principal = r.principal;
    (res.locals as AdminLocals).via = 'admin-api';
    next();
  });
  api.use(express.json({ limit: '16kb', type: () => true }));

  const audit = async (req: Request, res: Response, action: GovernanceAction, target: string): Promise<void> => {
    const sink = deps.governance();
    if (!sink) throw Object.assign(new Error('no governance sink'), { name: 'GovernanceUnavailableError' });
    const ctx = (res.locals as AdminLocals).ctx;
    await sink.append({
      action, principal: (res.locals as AdminLocals).principal, via: (res.locals as AdminLocals).via, target,
      request: { id: ctx.id, method: ctx.method, path: ctx.path, query: ctx.query, clientIp: req.socket.remoteAddress ?? '', userAgent: String(req.headers['user-agent'] ?? '') },
    });
  };

  api.get('/privacy/groups', (_req, res) => {
    const groups = deps.state().current().groups.map((g) => ({
      id: g.id, name: g.name ?? g.id,
      privateSince: new Date(g.privateSince).toISOString(),
      privateUntil: g.privateUntil === null ? null : new Date(g.privateUntil).toISOString(),
    }));
    res.json({ groups });
  });

  api.post('/privacy/groups', async (req, res) => {
    const body = groupBody.safeParse(req.body);
    if (!body.success) return fail(res, 'bad_request', `Expected {"id": string, "name"?: string}: ${body.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    const { id, name } = body.data;
    await serialised(async () => {
      const state = deps.state();
      if (state.current().groups.some((g) => g.id === id && g.privateUntil === null)) return fail(res, 'conflict', `Group ${id} is already private.`);
      await audit(req, res, 'privacy-group.added', id);
      const g = await state.addGroup(id, name, now());
      res.status(201).json({ id: g.id, name: g.name ?? g.id, privateSince: new Date(g.privateSince).toISOString(), privateUntil: null });
    });
  });

  api.delete('/privacy/groups/:id', async (req, res) => {
    const id = String(req.params.id);
    await serialised(async () => {
      const state = deps.state();
      if (!state.current().groups.some((g) => g.id === id && g.privateUntil === null)) return fail(res, 'not_found', `Group ${id} is not private.`);
      await audit(req, res, 'privacy-group.removed', id);
      await state.removeGroup(id, now());
      res.status(204).end();
    });
  });

  api.get('/privacy/permissions', (_req, res) => {
    res.json({ permissions: deps.state().current().permissions });
  });

  api.post('/privacy/permissions', async (req, res) => {
    const body = permissionBody.safeParse(req.body);
    if (!body.success) return fail(res, 'bad_request', 'Expected {"principal": "<UPN or e-mail address>"}.');
    const principal = body.data.principal.toLowerCase();
    await serialised(async () => {
      const state = deps.state();
      if (state.current().permissions.some((p) => p.principal === principal)) return fail(res, 'conflict', `${principal} already has the permission.`);
      await audit(req, res, 'reveal-permission.granted', principal);
      const rec = await state.grant(principal, (res.locals as AdminLocals).principal, now());
      res.status(201).json(rec);
    });
  });

  api.delete('/privacy/permissions/:principal', async (req, res) => {
    const principal = String(req.params.principal).toLowerCase();
    await serialised(async () => {
      const state = deps.state();
      if (!state.current().permissions.some((p) => p.principal === principal)) return fail(res, 'not_found', `${principal} has no permission.`);
      await audit(req, res, 'reveal-permission.revoked', principal);
      await state.revoke(principal);
      res.status(204).end();
    });
  });

  const intParam = (v: unknown, def: number, min: number, max: number): number | null => {
    if (v === undefined) return def;
    if (typeof v !== 'string' || !/^\d{1,15}$/.test(v)) return null;
    const n = Number(v);
    return n < min || n > max ? null : n;
  };

  api.get('/governance', async (req, res) => {
    const afterSeq = intParam(req.query.afterSeq, 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(req.query.limit, 100, 1, 1000);
    const action = req.query.action;
    if (afterSeq === null || limit === null) return fail(res, 'bad_request', 'afterSeq must be an integer >= 0 and limit an integer from 1 to 1000.');
    if (action !== undefined && !(typeof action === 'string' && (GOVERNANCE_ACTIONS as readonly string[]).includes(action))) {
      return fail(res, 'bad_request', `action must be one of ${GOVERNANCE_ACTIONS.join(', ')}.`);
    }
    const sink = deps.governance();
    if (!sink) return fail(res, 'governance_unavailable');
    res.json(await sink.read({ afterSeq, limit, action: action as GovernanceAction | undefined }));
  });

  api.get('/governance/verify', async (_req, res) => {
    const sink = deps.governance();
    if (!sink) return fail(res, 'governance_unavailable');
    const r = await sink.verify();
    res.json(r.ok ? { ok: true, count: r.count } : { ok: false, brokenAtSeq: r.brokenAtSeq, count: r.count });
  });

  app.use('/api', api);
  app.use((_req: Request, res: Response) => fail(res, 'not_found'));
  // Express 5 forwards rejected promises here.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { name?: string; type?: string; status?: number };
    if (e?.type === 'entity.parse.failed' || e?.type === 'entity.too.large' || e?.status === 400) return fail(res, 'bad_request', 'The body must be a small JSON object.');
    if (e?.name === 'GovernanceUnavailableError') { deps.metrics.governanceFailures.inc(); return fail(res, 'governance_unavailable'); }
    if (err instanceof StateConflictError) return fail(res, 'conflict', err.message);
    if (err instanceof StateNotFoundError) return fail(res, 'not_found', err.message);
    if (e?.name === 'StateUnavailableError') return fail(res, 'governance_unavailable', 'The privacy state cannot be written now; nothing changed.');
    fail(res, 'internal_error');
  });

  return (req: http.IncomingMessage, res: http.ServerResponse, ctx: RequestContext, subPath: string, query: string): void => {
    const consoleHandler = deps.console?.() ?? null;
    if (consoleHandler && (subPath === '/console' || subPath.startsWith('/console/'))) return consoleHandler.handle(req, res, ctx, subPath, query);
    req.url = (subPath || '/') + (query ? `?${query}` : '');
    (res as unknown as Response).locals = { ctx } as unknown as Response['locals'];
    app(req as Request, res as Response);
  };
}
