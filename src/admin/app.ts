import type http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { KnownGroups } from '../directory/knownGroups.js';
import { unknownGroups } from '../directory/knownGroups.js';
import type { GovernanceAction, GovernanceEntryInput, GovernanceSink } from '../governance/types.js';
import { parseTimestamp } from '../privacy/time.js';
import { activePermissions, isExpired } from '../state/mutations.js';
import { parseGovernanceQuery } from './governanceQuery.js';
import { streamEntries } from './governanceStream.js';
import type { RequestContext } from '../http/context.js';
import { sendError, type ErrorCode } from '../http/errors.js';
import type { IdentityVerifier } from '../identity/index.js';
import type { Metrics } from '../metrics.js';
import { StateConflictError, StateNotFoundError, type PermissionLimits, type StateStore } from '../state/types.js';

export interface AdminDeps {
  state: () => StateStore;
  /** SPEC §9 catalogue check for the `groups` of a scoped permission */
  knownGroups: KnownGroups;
  governance: () => GovernanceSink | null;
  identity: () => IdentityVerifier | null;
  metrics: Metrics;
  /** readiness of every part the gateway needs (config, state, governance, JWKS) */
  ready: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  now?: () => number;
}

const PRINCIPAL = /^[^@\s/\\]+@[^@\s/\\]+\.[^@\s/\\]+$/;
const groupBody = z.object({ id: z.string().trim().min(1).max(200), name: z.string().trim().min(1).max(200).optional() }).strict();
const permissionBody = z.object({
  principal: z.string().trim().regex(PRINCIPAL, 'must be a UPN or e-mail address'),
  groups: z.array(z.string().trim().min(1, 'must not be empty').max(200)).min(1, 'must name at least one group (omit it for every group)').max(100).optional(),
  expiresAt: z.string().max(64).optional(),
}).strict();

/** zod issues as one message that names each offending key. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return `${i.path.join('.') || '(body)'}: ${i.message}`;
  }).join('; ');
}

interface AdminLocals { ctx: RequestContext; principal: string }

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
    if (r.kind === 'unavailable') return fail(res, 'identity_unavailable');
    if (r.kind !== 'verified') return fail(res, 'unauthenticated', 'The admin API needs a valid admin bearer token.', { 'www-authenticate': 'Bearer' });
    if (!r.isAdmin) return fail(res, 'forbidden');
    (res.locals as AdminLocals).ctx.principal = r.principal;
    (res.locals as AdminLocals).principal = r.principal;
    next();
  });
  api.use(express.json({ limit: '16kb', type: () => true }));

  const audit = async (req: Request, res: Response, action: GovernanceAction, target: string, extra: Pick<GovernanceEntryInput, 'permission'> = {}): Promise<void> => {
    const sink = deps.governance();
    if (!sink) throw Object.assign(new Error('no governance sink'), { name: 'GovernanceUnavailableError' });
    const ctx = (res.locals as AdminLocals).ctx;
    await sink.append({
      action, principal: (res.locals as AdminLocals).principal, via: 'admin-api', target, ...extra,
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
    // expired permissions are not listed (SPEC §10); the record stays until granted again or revoked
    res.json({ permissions: activePermissions(deps.state().current(), now()) });
  });

  api.post('/privacy/permissions', async (req, res) => {
    const body = permissionBody.safeParse(req.body);
    if (!body.success) return fail(res, 'bad_request', `Expected {"principal": "<UPN or e-mail address>", "groups"?: [ids], "expiresAt"?: "<ISO-8601 with offset>"}: ${describeIssues(body.error.issues)}.`);
    const principal = body.data.principal.toLowerCase();
    const limits: PermissionLimits = {};
    if (body.data.expiresAt !== undefined) {
      const at = parseTimestamp(body.data.expiresAt);
      if (at === undefined) return fail(res, 'bad_request', 'expiresAt must be an ISO-8601 date-time with an offset, like 2026-12-01T18:00:00+01:00.');
      if (!(Math.floor(at) > now())) return fail(res, 'bad_request', 'expiresAt must be in the future.');
      limits.expiresAt = Math.floor(at);
    }
    if (body.data.groups !== undefined) {
      const groups = [...new Set(body.data.groups)];
      const unknown = await unknownGroups(deps.knownGroups, groups);
      if (unknown.length > 0) return fail(res, 'unknown_group', `Not in the group catalogue: ${unknown.join(', ')}.`);
      limits.groups = groups;
    }
    await serialised(async () => {
      const state = deps.state();
      const t = now();
      const existing = state.current().permissions.find((p) => p.principal === principal);
      if (existing && !isExpired(existing, t)) return fail(res, 'conflict', `${principal} already has the permission.`);
      const permission: { groups?: string[]; expiresAt?: string } = {};
      if (limits.groups !== undefined) permission.groups = limits.groups;
      if (limits.expiresAt !== undefined) permission.expiresAt = new Date(limits.expiresAt).toISOString();
      await audit(req, res, 'reveal-permission.granted', principal, Object.keys(permission).length > 0 ? { permission } : {});
      const rec = await state.grant(principal, (res.locals as AdminLocals).principal, t, limits);
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

  api.get('/governance', async (_req, res) => {
    const parsed = parseGovernanceQuery((res.locals as AdminLocals).ctx.query);
    if (!parsed.ok) return fail(res, 'bad_request', parsed.message);
    const { filter, limit, format } = parsed.query;
    const sink = deps.governance();
    if (!sink) return fail(res, 'governance_unavailable');
    if (format === 'json') return void res.json(await sink.read({ ...filter, limit }));
    await streamEntries(res, sink.stream(filter), format, limit);
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
    req.url = (subPath || '/') + (query ? `?${query}` : '');
    (res as unknown as Response).locals = { ctx } as unknown as Response['locals'];
    app(req as Request, res as Response);
  };
}
