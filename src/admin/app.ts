import type http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { isStateChanging, type ConsoleHandler } from '../console/handler.js';
import type { AdminExchange } from './exchange.js';

export type { AdminExchange };
import type { KnownGroups } from '../directory/knownGroups.js';
import { GovernanceUnavailableError, type GovernanceAction, type GovernanceEntryInput, type GovernanceSink } from '../governance/types.js';
import { GatewayError, isUnexpected, sendError } from '../http/errors.js';
import { unauthenticated, UnauthenticatedError, type IdentityVerifier } from '../identity/index.js';
import type { Directory } from '../directory/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { isPrincipal, normalizePrincipal, parsePrincipal } from '../principal.js';
import { parseTimestamp } from '../privacy/time.js';
import { activePermissions, isExpired } from '../state/mutations.js';
import type { PermissionLimits, StateStore } from '../state/types.js';
import type { GatewayConfig } from '../config/index.js';
import type { RevealRequest } from '../privacy/approval.js';
import type { PermissionFacts } from '../privacy/grant.js';
import { parseGovernanceQuery } from './governanceQuery.js';
import { revealRequestsRouter, type RequestEvent } from './revealRequests.js';
import { streamEntries } from './governanceStream.js';
import { checkGrant, checkGroupChoice, type CheckResult } from './checks.js';

export interface AdminDeps {
  state: () => StateStore;
  /** SPEC §11 four-eyes approval: the reveal config, permissions, approver groups, notifications */
  reveal: () => GatewayConfig['reveal'];
  permission: (principal: string) => PermissionFacts | undefined;
  memberOfAny: (principal: string, groups: readonly string[]) => Promise<boolean | 'unknown'>;
  notify: (event: RequestEvent, request: RevealRequest) => void;
  /** SPEC §9 catalogue check for the `groups` of a scoped permission */
  knownGroups: KnownGroups;
  governance: () => GovernanceSink | null;
  identity: () => IdentityVerifier | null;
  metrics: Metrics;
  /** readiness of every part the gateway needs (config, state, governance, JWKS) */
  ready: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  /** the directory of the current configuration (membership checks, the group catalogue) */
  directory: () => Directory;
  /** privacy.adminGroups and directory.groups of the current configuration */
  privacy: () => { adminGroups: readonly string[]; staticGroups: Readonly<Record<string, readonly string[]>> };
  now?: () => number;
  logger?: Logger;
  /** the admin console (SPEC §13): its routes, and its session accepted in place of a bearer token */
  console?: () => ConsoleHandler | null;
  /** a fresh signed checkpoint of the chain head (SPEC §12); null when none is configured */
  checkpoint?: () => Promise<string> | null;
}

/** The exchange of each response the admin app is answering (typed, nothing tagged onto res). */
const exchanges = new WeakMap<http.ServerResponse, AdminExchange>();

function exchangeOf(res: http.ServerResponse): AdminExchange {
  const ex = exchanges.get(res);
  if (!ex) throw new Error('admin response without its exchange');
  return ex;
}

/** Responses whose admin was authenticated by a console session (their changes are via: console). */
const viaConsole = new WeakSet<http.ServerResponse>();

/** The verified admin principal (the api router's first middleware sets it). */
function adminOf(res: http.ServerResponse): string {
  const p = exchangeOf(res).principal;
  if (p === undefined) throw new Error('admin principal not verified');
  return p;
}

/**
 * 400 `bad_request` for a body that does not fit its schema; the message names the
 * offending keys (an unknown key is never ignored: SPEC §7).
 */
function badBody(error: z.ZodError, expected: string): GatewayError {
  const problems = error.issues.map((i) => {
    if (i.code === 'unrecognized_keys') return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    return `${i.path.length ? JSON.stringify(i.path.join('.')) : '(body)'}: ${i.message}`;
  });
  return new GatewayError('bad_request', `Expected ${expected}: ${problems.join('; ')}.`);
}

/** body-parser's own errors (malformed JSON, too large): they carry an HTTP 4xx `status` and a `type`. */
function isBodyParserError(err: unknown): boolean {
  if (err instanceof GatewayError || typeof err !== 'object' || err === null) return false;
  const { status, type } = err as { status?: unknown; type?: unknown };
  return typeof type === 'string' && typeof status === 'number' && status >= 400 && status < 500;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const groupBody = z.object({ id: z.string().trim().min(1).max(200), name: z.string().trim().min(1).max(200).optional() }).strict();
const permissionBody = z
  .object({
    principal: z
      .string()
      .refine(isPrincipal, 'must be a UPN or e-mail address')
      .transform((p) => parsePrincipal(p) ?? p),
    // validated here (SPEC §10: catalogue ids, checked by checkGrant); what a scoped permission does is the reveal stage's
    groups: z
      .array(z.string().trim().min(1, 'must not be empty').max(200))
      .min(1, 'must name at least one group (omit it for every group)')
      .max(100)
      .optional(),
    expiresAt: z.string().max(64).optional(),
  })
  .strict();

/** A refused check (SPEC §9, §10) as the error the client gets; nothing has been changed. */
function refuse(r: CheckResult): void {
  if (!r.ok) throw new GatewayError(r.code, r.message, r.details ? { details: r.details } : {});
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

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
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
      if (s.kind === 'refused') throw new GatewayError(s.code, s.message);
      if (s.kind === 'ok') {
        exchangeOf(res).principal = s.session.principal;
        viaConsole.add(res);
        return next();
      }
    }
    if (r.kind === 'unavailable') throw new GatewayError('identity_unavailable');
    if (r.kind !== 'verified') throw unauthenticated(r, 'The admin API needs a valid admin bearer token.');
    if (!r.isAdmin) throw new GatewayError('forbidden');
    exchangeOf(res).principal = r.principal;
    next();
  });
  api.use(express.json({ limit: '16kb', type: () => true }));

  const audit = async (
    req: Request,
    res: Response,
    action: GovernanceAction,
    target: string,
    extra: Pick<GovernanceEntryInput, 'permission' | 'reason' | 'scope'> = {},
  ): Promise<void> => {
    const sink = deps.governance();
    if (!sink) throw new GovernanceUnavailableError('no governance sink');
    const ctx = exchangeOf(res);
    await sink.append({
      action,
      principal: adminOf(res),
      via: viaConsole.has(res) ? 'console' : 'admin-api',
      target,
      ...extra,
      request: {
        id: ctx.id,
        method: ctx.method,
        path: ctx.path,
        query: ctx.query,
        clientIp: req.socket.remoteAddress ?? '',
        userAgent: String(req.headers['user-agent'] ?? ''),
      },
    });
  };

  api.get('/privacy/groups', (_req, res) => {
    const groups = deps
      .state()
      .current()
      .groups.map((g) => ({
        id: g.id,
        name: g.name ?? g.id,
        privateSince: new Date(g.privateSince).toISOString(),
        privateUntil: g.privateUntil === null ? null : new Date(g.privateUntil).toISOString(),
      }));
    res.json({ groups });
  });

  api.post('/privacy/groups', async (req, res) => {
    const body = groupBody.safeParse(req.body);
    if (!body.success) throw badBody(body.error, '{"id": string, "name"?: string}');
    const { id } = body.data;
    const choice = await checkGroupChoice(deps.directory().catalogue, id);
    refuse(choice);
    const name = body.data.name ?? (choice.ok ? choice.name : undefined);
    await serialised(async () => {
      const state = deps.state();
      if (state.current().groups.some((g) => g.id === id && g.privateUntil === null)) throw new GatewayError('conflict', `Group ${id} is already private.`);
      await audit(req, res, 'privacy-group.added', id);
      const g = await state.addGroup(id, name, now());
      res.status(201).json({ id: g.id, name: g.name ?? g.id, privateSince: new Date(g.privateSince).toISOString(), privateUntil: null });
    });
  });

  api.delete('/privacy/groups/:id', async (req, res) => {
    const id = String(req.params.id);
    await serialised(async () => {
      const state = deps.state();
      if (!state.current().groups.some((g) => g.id === id && g.privateUntil === null)) throw new GatewayError('not_found', `Group ${id} is not private.`);
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
    if (!body.success)
      throw badBody(body.error, '{"principal": "<UPN or e-mail address>", "groups"?: [catalogue group ids], "expiresAt"?: "<ISO-8601 with an offset>"}');
    const principal = body.data.principal;
    const limits: PermissionLimits = {};
    if (body.data.expiresAt !== undefined) {
      const at = parseTimestamp(body.data.expiresAt);
      if (at === undefined) throw new GatewayError('bad_request', '"expiresAt" must be an ISO-8601 date-time with an offset, like 2026-12-01T18:00:00+01:00.');
      if (!(Math.floor(at) > now())) throw new GatewayError('bad_request', '"expiresAt" must be in the future.');
      limits.expiresAt = Math.floor(at);
    }
    if (body.data.groups !== undefined) limits.groups = [...new Set(body.data.groups)];
    const privacy = deps.privacy();
    refuse(
      await checkGrant({
        granter: normalizePrincipal(adminOf(res)) ?? adminOf(res),
        principal,
        groups: limits.groups,
        directory: deps.directory(),
        adminGroups: privacy.adminGroups,
        staticGroups: privacy.staticGroups,
      }),
    );
    await serialised(async () => {
      const state = deps.state();
      const t = now();
      const existing = state.current().permissions.find((p) => p.principal === principal);
      if (existing && !isExpired(existing, t)) throw new GatewayError('conflict', `${principal} already has the permission.`);
      const permission: { groups?: string[]; expiresAt?: string } = {};
      if (limits.groups !== undefined) permission.groups = limits.groups;
      if (limits.expiresAt !== undefined) permission.expiresAt = new Date(limits.expiresAt).toISOString();
      await audit(req, res, 'reveal-permission.granted', principal, Object.keys(permission).length > 0 ? { permission } : {});
      const rec = await state.grant(principal, adminOf(res), t, limits);
      res.status(201).json(rec);
    });
  });

  api.delete('/privacy/permissions/:principal', async (req, res) => {
    const principal = normalizePrincipal(String(req.params.principal)) ?? '';
    await serialised(async () => {
      const state = deps.state();
      // an expired permission counts as absent, as everywhere else (not listed; granting again is 201)
      const rec = state.current().permissions.find((p) => p.principal === principal);
      if (!rec || isExpired(rec, now())) throw new GatewayError('not_found', `${principal} has no permission.`);
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

  api.get('/directory/groups', async (req, res) => {
    const unknown = Object.keys(req.query).find((k) => k !== 'search' && k !== 'limit');
    if (unknown !== undefined) throw new GatewayError('bad_request', `Unknown query parameter ${JSON.stringify(unknown)}; use search and limit.`);
    const search = req.query.search;
    if (search !== undefined && (typeof search !== 'string' || search.length > 200))
      throw new GatewayError('bad_request', 'search must be one string of at most 200 characters.');
    const limit = intParam(req.query.limit, 100, 1, 1000);
    if (limit === null) throw new GatewayError('bad_request', 'limit must be an integer from 1 to 1000.');
    const r = await deps.directory().catalogue.search(search ?? '', limit);
    if (r.failed.length > 0)
      throw new GatewayError(
        'directory_unavailable',
        `The group catalogue cannot be loaded now (${r.failed.join(', ')} directory unreachable). Try again later.`,
      );
    res.json({ groups: r.groups.map((g) => ({ id: g.id, name: g.name, source: g.source })) });
  });

  api.get('/governance', async (_req, res) => {
    const parsed = parseGovernanceQuery(exchangeOf(res).query);
    if (!parsed.ok) throw new GatewayError('bad_request', parsed.message);
    const { filter, limit, format } = parsed.query;
    const sink = deps.governance();
    if (!sink) throw new GatewayError('governance_unavailable');
    if (format === 'json') return void res.json(await sink.read({ ...filter, limit }));
    await streamEntries(res, sink.stream(filter), format, limit);
  });

  api.use(
    revealRequestsRouter({
      state: deps.state,
      reveal: deps.reveal,
      permission: deps.permission,
      memberOfAny: deps.memberOfAny,
      knownGroups: deps.knownGroups,
      now,
      notify: deps.notify,
      audit,
      serialised,
      adminOf,
      queryOf: (res) => exchangeOf(res).query,
      badBody,
    }),
  );

  api.get('/governance/verify', async (_req, res) => {
    const sink = deps.governance();
    if (!sink) throw new GatewayError('governance_unavailable');
    const r = await sink.verify();
    res.json(r.ok ? { ok: true, count: r.count } : { ok: false, brokenAtSeq: r.brokenAtSeq, count: r.count });
  });

  api.get('/governance/checkpoint', async (_req, res) => {
    const made = deps.checkpoint?.() ?? null;
    if (!made) throw new GatewayError('not_found', 'No checkpoint key is configured (governance.checkpoint).');
    let checkpoint: string;
    try {
      checkpoint = await made;
    } catch {
      throw new GatewayError('governance_unavailable', 'The head of the governance log cannot be read now.');
    }
    res.setHeader('cache-control', 'no-store');
    res.json({ checkpoint });
  });

  app.use('/api', api);
  app.use(() => {
    throw new GatewayError('not_found');
  });
  // Express 5 forwards thrown errors and rejected promises here: one mapping for every error.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const ctx = exchangeOf(res);
    if (err instanceof GovernanceUnavailableError) deps.metrics.governanceFailures.inc();
    if (err instanceof UnauthenticatedError) ctx.tokenError = err.why;
    const sent = sendError(res, isBodyParserError(err) ? new GatewayError('bad_request', 'The body must be a small JSON object.') : err, ctx.id);
    if (isUnexpected(sent)) deps.logger?.error({ msg: 'admin request failed', requestId: ctx.id, error: errorMessage(err) });
  });

  return (ex: AdminExchange, subPath: string): void => {
    const consoleHandler = deps.console?.() ?? null;
    if (consoleHandler && (subPath === '/console' || subPath.startsWith('/console/'))) return consoleHandler.handle(ex, subPath);
    ex.req.url = (subPath || '/') + (ex.query ? `?${ex.query}` : '');
    exchanges.set(ex.res, ex);
    app(ex.req, ex.res);
  };
}
