/**
 * The admin console's endpoints under `{adminPrefix}/console/` (SPEC §13): the single-page
 * app, OpenID Connect sign-in and sign-out, the session, and the activity log as the signed-in
 * admin sees it (the gateway's list route, handed back into the normal pipeline with the
 * session's identity). Every response carries the console's security headers.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { GatewayConfig } from '../config/index.js';
import type { ConsoleConfig } from '../config/index.js';
import type { AdminExchange } from '../admin/exchange.js';
import { errorBody, GatewayError, type ErrorCode } from '../http/errors.js';
import type { VouchedIdentity } from '../http/vouchedIdentity.js';
import { DEFAULT_CLAIM_SETTINGS, isAdminRole, principalOf, rolesOf } from '../identity/claims.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { cookieValues, LOGIN_COOKIE, SESSION_COOKIE, setCookie } from './cookies.js';
import { ProviderUnavailableError, SignInRefusedError, type OidcClient } from './oidc.js';
import { setSecurityHeaders } from './securityHeaders.js';
import { newId, plausibleId, type SessionData, type SessionStore } from './sessions.js';
import type { StaticFiles } from './staticFiles.js';

/** A pending sign-in is good for this long (the time a person needs at the provider). */
export const LOGIN_TTL_MS = 10 * 60_000;
export const CSRF_HEADER = 'x-csrf-token';

/** The look of the server-rendered sign-in pages (a stylesheet: the CSP allows no inline style). */
const PAGE_CSS = Buffer.from(`body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24}
main{max-width:38rem;margin:4rem auto;padding:0 1rem}h1{font-size:1.3rem}a{color:#0b5cad}
`);

export interface ConsoleDeps {
  settings: ConsoleConfig;
  /** the live configuration (prefix, identity claim settings, reveal, routes) */
  config: () => GatewayConfig;
  sessions: SessionStore;
  oidc: OidcClient;
  files: StaticFiles;
  /** hands a request to the gateway's pipeline with the session's identity (the activity log) */
  forward: ConsoleForward;
  now: () => number;
  logger?: Logger;
  metrics?: Pick<Metrics, 'consoleSignIns'>;
}

export type ConsoleForward = (req: http.IncomingMessage, res: http.ServerResponse, identity: VouchedIdentity) => void;

export type SessionAuth = { kind: 'none' } | { kind: 'refused'; code: ErrorCode; message: string } | { kind: 'ok'; id: string; session: SessionData };

export interface ConsoleHandler {
  handle(ex: AdminExchange, subPath: string): void;
  /** The session behind the request's cookie; `csrf` demands the X-CSRF-Token header too. */
  authenticate(req: http.IncomingMessage, opts: { csrf: boolean }): Promise<SessionAuth>;
  close(): Promise<void>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export function isStateChanging(method: string | undefined): boolean {
  return !SAFE_METHODS.has((method ?? 'GET').toUpperCase());
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The first list route the console can page through with GET (no path parameters). */
export function consoleListRoute(config: GatewayConfig): { path: string; items: string; total: string | null } | null {
  for (const r of config.routes) {
    if (r.kind !== 'list') continue;
    const p = r.path.toLowerCase();
    const prefix = config.server.adminPrefix.toLowerCase();
    if (p === prefix || p.startsWith(`${prefix}/`)) continue;
    if (r.methods && r.methods.length > 0 && !r.methods.some((m) => m.toUpperCase() === 'GET')) continue;
    if (/[:*]/.test(r.path)) continue;
    return { path: r.path, items: r.items ?? 'data', total: r.total ?? null };
  }
  return null;
}

/** Reveal settings of SPEC §10/§11 the console needs; read defensively (older configs lack some). */
function revealInfo(config: GatewayConfig) {
  const r: Record<string, unknown> = config.reveal;
  const str = (k: string, d: string) => {
    const v = r[k];
    return typeof v === 'string' ? v : d;
  };
  return {
    header: config.reveal.header,
    value: config.reveal.value,
    reasonHeader: str('reasonHeader', 'x-reveal-reason'),
    requireReason: r.requireReason === true,
    minReasonLength: typeof r.minReasonLength === 'number' ? r.minReasonLength : 10,
    approval: r.approval !== null && r.approval !== undefined,
  };
}

export function createConsoleHandler(deps: ConsoleDeps): ConsoleHandler {
  const { sessions, oidc, files, now } = deps;
  const prefix = () => deps.config().server.adminPrefix;
  const claimSettings = () => deps.config().identity ?? DEFAULT_CLAIM_SETTINGS;
  const publicUrl = deps.settings.publicUrl ? new URL(deps.settings.publicUrl) : null;

  const secure = (req: http.IncomingMessage) => (publicUrl ? publicUrl.protocol === 'https:' : Boolean((req.socket as { encrypted?: boolean }).encrypted));

  function origin(req: http.IncomingMessage): string | null {
    if (publicUrl) return publicUrl.origin;
    const host = req.headers.host;
    if (typeof host !== 'string' || !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return null;
    return `${secure(req) ? 'https' : 'http'}://${host}`;
  }

  function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
    const buf = Buffer.from(JSON.stringify(body));
    res.statusCode = status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('content-length', buf.length);
    res.end(res.req?.method === 'HEAD' ? undefined : buf);
  }

  function sendErr(res: http.ServerResponse, ctx: { id: string }, code: ErrorCode, message?: string, headers: Record<string, string | string[]> = {}): void {
    const err = new GatewayError(code, message);
    const buf = errorBody(err, ctx.id);
    res.statusCode = err.status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    for (const [k, v] of Object.entries({ ...err.headers, ...headers })) res.setHeader(k, v);
    res.setHeader('content-length', buf.length);
    res.end(res.req?.method === 'HEAD' ? undefined : buf);
  }

  /** A small server-rendered page (no script) for the sign-in outcomes the app cannot show. */
  function sendPage(res: http.ServerResponse, status: number, title: string, lines: string[], headers: Record<string, string | string[]> = {}): void {
    const p = escapeHtml(prefix());
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Activity Privacy Gateway</title><link rel="stylesheet" href="${p}/console/page.css"></head>
<body><main><h1>${escapeHtml(title)}</h1>
${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
<p><a href="${p}/console/login?prompt=login">Sign in again</a> · <a href="${p}/console/">Admin console</a></p>
</main></body></html>
`;
    const buf = Buffer.from(html);
    res.statusCode = status;
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.setHeader('content-length', buf.length);
    res.end(res.req?.method === 'HEAD' ? undefined : buf);
  }

  const clearLoginCookie = (req: http.IncomingMessage) =>
    setCookie(LOGIN_COOKIE, '', { path: `${prefix()}/console/callback`, secure: secure(req), sameSite: 'Lax', maxAge: 0 });

  async function authenticate(req: http.IncomingMessage, opts: { csrf: boolean }): Promise<SessionAuth> {
    const values = cookieValues(req.headers.cookie, SESSION_COOKIE);
    if (values.length === 0) return { kind: 'none' };
    // Two apg_session cookies: one was set for another path or host (cookie tossing). Which
    // is ours cannot be told, so neither counts.
    if (values.length > 1)
      return {
        kind: 'refused',
        code: 'unauthenticated',
        message: 'Several apg_session cookies were sent (one set for another path?); sign in to the console again.',
      };
    const id = values[0];
    if (!plausibleId(id)) return { kind: 'refused', code: 'unauthenticated', message: 'The console session is not valid; sign in again.' };
    let session: SessionData | undefined;
    try {
      session = await sessions.get('session', id, now());
    } catch (err) {
      deps.logger?.warn({ msg: 'console session store error', error: (err as Error)?.message });
      return { kind: 'refused', code: 'identity_unavailable', message: 'Console sessions cannot be read now; try again shortly.' };
    }
    if (!session) return { kind: 'refused', code: 'unauthenticated', message: 'The console session has expired or ended; sign in again.' };
    if (opts.csrf) {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameSecret(sent, session.csrf)) {
        return { kind: 'refused', code: 'forbidden', message: 'This change needs the X-CSRF-Token header of your console session.' };
      }
    }
    return { kind: 'ok', id, session };
  }

  async function login(req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): Promise<void> {
    const base = origin(req);
    if (base === null) return sendPage(res, 400, 'Sign-in is not possible', ['The request carries no usable Host header; set console.publicUrl.']);
    const redirectUri = `${base}${prefix()}/console/callback`;
    let auth;
    try {
      auth = await oidc.begin(redirectUri, query.get('prompt') === 'login' ? 'login' : undefined);
    } catch (err) {
      deps.logger?.warn({ msg: 'console sign-in: identity provider unavailable', error: (err as Error)?.message });
      return sendPage(res, 503, 'Sign-in is not possible now', ['The identity provider cannot be reached. Try again shortly.']);
    }
    const id = newId();
    try {
      await sessions.put(
        'login',
        id,
        { state: auth.state, nonce: auth.nonce, codeVerifier: auth.codeVerifier, redirectUri, expiresAt: now() + LOGIN_TTL_MS },
        now() + LOGIN_TTL_MS,
      );
    } catch (err) {
      deps.logger?.warn({ msg: 'console sign-in: the session store cannot be written', error: (err as Error)?.message });
      return sendPage(res, 503, 'Sign-in is not possible now', ['Console sessions cannot be stored now. Try again shortly.']);
    }
    res.statusCode = 302;
    // Lax, not Strict: the provider's redirect back is a cross-site top-level navigation.
    res.setHeader(
      'set-cookie',
      setCookie(LOGIN_COOKIE, id, { path: `${prefix()}/console/callback`, secure: secure(req), sameSite: 'Lax', maxAge: LOGIN_TTL_MS / 1000 }),
    );
    res.setHeader('location', auth.url);
    res.setHeader('cache-control', 'no-store');
    res.end();
  }

  async function callback(req: http.IncomingMessage, res: http.ServerResponse, query: string): Promise<void> {
    const clear = { 'set-cookie': clearLoginCookie(req) };
    const count = (outcome: 'ok' | 'not_admin' | 'refused' | 'provider_unavailable') => deps.metrics?.consoleSignIns.inc({ outcome });
    const refuse = (why: string, status = 400) => {
      count(status === 503 ? 'provider_unavailable' : 'refused');
      deps.logger?.info({ msg: 'console sign-in refused', why });
      sendPage(res, status, 'Sign-in failed', [why, 'Nothing was signed in. Start the sign-in again from the console.'], clear);
    };
    const ids = cookieValues(req.headers.cookie, LOGIN_COOKIE);
    const params = new URLSearchParams(query);
    if (ids.length !== 1 || !plausibleId(ids[0])) return refuse('This browser has no sign-in in progress (or it expired).');
    // single use: a replayed callback finds nothing
    const tx = await sessions.take('login', ids[0], now());
    if (!tx) return refuse('This sign-in attempt is unknown, expired or was already used.');
    const state = params.get('state');
    if (state === null || !sameSecret(state, tx.state))
      return refuse('The answer from the identity provider does not belong to this sign-in attempt (state mismatch).');
    if (params.has('error')) return refuse(`The identity provider answered: ${(params.get('error') ?? '').slice(0, 100)}.`);
    let claims: Record<string, unknown>;
    try {
      claims = await oidc.finish(new URL(`${tx.redirectUri}?${query}`), tx);
    } catch (err) {
      if (err instanceof SignInRefusedError) return refuse(`The identity provider's answer was refused: ${err.why}.`);
      if (err instanceof ProviderUnavailableError) return refuse('The identity provider cannot be reached. Try again shortly.', 503);
      throw err;
    }
    const settings = claimSettings();
    const principal = principalOf(claims, settings);
    if (principal === undefined) return refuse(`The ID token names no user (none of the claims ${settings.principalClaims.join(', ')}).`, 403);
    const roles = rolesOf(claims, settings);
    if (!isAdminRole(roles, settings)) {
      count('not_admin');
      deps.logger?.info({ msg: 'console sign-in refused', why: 'no admin role' });
      return sendPage(
        res,
        403,
        'Not an admin',
        [
          `You are signed in at the identity provider as ${principal}, but this account holds none of the admin roles (${settings.adminRoles.join(', ')}).`,
          'Only admins may use the Activity Privacy Gateway console; no session was opened.',
        ],
        clear,
      );
    }
    const id = newId();
    const t = now();
    const ttlMs = deps.settings.sessionTtlMin * 60_000;
    const session: SessionData = {
      principal,
      roles,
      csrf: newId(),
      iss: typeof claims.iss === 'string' ? claims.iss : '',
      ...(typeof claims.jti === 'string' ? { jti: claims.jti } : {}),
      createdAt: t,
      expiresAt: t + ttlMs,
    };
    try {
      await sessions.put('session', id, session, session.expiresAt);
    } catch (err) {
      deps.logger?.warn({ msg: 'console sign-in: the session store cannot be written', error: (err as Error)?.message });
      count('refused');
      return sendPage(res, 503, 'Sign-in is not possible now', ['Console sessions cannot be stored now. Try again shortly.']);
    }
    count('ok');
    deps.logger?.info({ msg: 'console sign-in', principal });
    res.statusCode = 303;
    res.setHeader('set-cookie', [
      clear['set-cookie'],
      setCookie(SESSION_COOKIE, id, { path: prefix(), secure: secure(req), sameSite: 'Strict', maxAge: Math.floor(ttlMs / 1000) }),
    ]);
    res.setHeader('location', `${prefix()}/console/`);
    res.setHeader('cache-control', 'no-store');
    res.end();
  }

  async function sessionInfo(req: http.IncomingMessage, res: http.ServerResponse, ctx: { id: string }): Promise<void> {
    const auth = await authenticate(req, { csrf: false });
    if (auth.kind !== 'ok')
      return sendErr(res, ctx, auth.kind === 'none' ? 'unauthenticated' : auth.code, auth.kind === 'none' ? 'Not signed in to the console.' : auth.message);
    const config = deps.config();
    const a = config.activities;
    sendJson(res, 200, {
      principal: auth.session.principal,
      roles: auth.session.roles,
      csrfToken: auth.session.csrf,
      expiresAt: new Date(auth.session.expiresAt).toISOString(),
      adminPrefix: config.server.adminPrefix,
      listRoute: consoleListRoute(config),
      activities: { id: a.id, timestamp: a.timestamp, actor: a.actor },
      reveal: revealInfo(config),
    });
  }

  async function logout(req: http.IncomingMessage, res: http.ServerResponse, ctx: { id: string }): Promise<void> {
    const auth = await authenticate(req, { csrf: true });
    if (auth.kind === 'refused' && auth.code === 'forbidden') return sendErr(res, ctx, 'forbidden', auth.message);
    if (auth.kind === 'ok') {
      await sessions.delete('session', auth.id);
      deps.logger?.info({ msg: 'console sign-out', principal: auth.session.principal });
    }
    res.statusCode = 204;
    res.setHeader('set-cookie', setCookie(SESSION_COOKIE, '', { path: prefix(), secure: secure(req), sameSite: 'Strict', maxAge: 0 }));
    res.setHeader('cache-control', 'no-store');
    res.end();
  }

  async function activities(req: http.IncomingMessage, res: http.ServerResponse, ctx: { id: string }, query: string): Promise<void> {
    const config = deps.config();
    const reveal = revealInfo(config);
    // revealing writes a governance entry: a state-changing call, so the CSRF token is required
    const revealing = req.headers[reveal.header] !== undefined || req.headers['x-reveal-request'] !== undefined;
    const auth = await authenticate(req, { csrf: revealing });
    if (auth.kind !== 'ok')
      return sendErr(res, ctx, auth.kind === 'none' ? 'unauthenticated' : auth.code, auth.kind === 'none' ? 'Not signed in to the console.' : auth.message);
    const listPath = consoleListRoute(config)?.path ?? null;
    if (listPath === null)
      return sendErr(res, ctx, 'not_found', 'No list route the console can page through (a list route allowing GET, without path parameters).');
    // The session is a credential for the admin prefix only: it never goes upstream.
    delete req.headers.cookie;
    delete req.headers[CSRF_HEADER];
    const idHeader = config.identity?.header ?? 'authorization';
    delete req.headers[idHeader];
    if (config.upstream.serviceAuthorization) req.headers[idHeader] = config.upstream.serviceAuthorization;
    // the pipeline's access line and answer carry the same request id as this one
    req.headers['x-request-id'] = ctx.id;
    req.url = query ? `${listPath}?${query}` : listPath;
    deps.forward(req, res, {
      principal: auth.session.principal,
      roles: auth.session.roles,
      isAdmin: true,
      iss: auth.session.iss,
      ...(auth.session.jti ? { jti: auth.session.jti } : {}),
      via: 'console',
    });
  }

  function serveFile(res: http.ServerResponse, ctx: { id: string }, file: { body: Buffer; type: string; immutable: boolean } | undefined): void {
    if (!file) {
      if (!files.available) return sendErr(res, ctx, 'not_found', 'The console was not built: run npm run build.');
      return sendErr(res, ctx, 'not_found');
    }
    res.statusCode = 200;
    res.setHeader('content-type', file.type);
    res.setHeader('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    res.setHeader('content-length', file.body.length);
    res.end(res.req?.method === 'HEAD' ? undefined : file.body);
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, ctx: { id: string }, sub: string, query: string): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const read = method === 'GET' || method === 'HEAD';
    const notAllowed = (allow: string) => sendErr(res, ctx, 'method_not_allowed', undefined, { allow });
    if (sub === '/console') {
      res.statusCode = 308;
      res.setHeader('location', `${prefix()}/console/${query ? `?${query}` : ''}`);
      return void res.end();
    }
    if (sub === '/console/' || sub === '/console/index.html') return read ? serveFile(res, ctx, files.index()) : notAllowed('GET, HEAD');
    if (sub.startsWith('/console/assets/')) return read ? serveFile(res, ctx, files.asset(sub.slice('/console/assets/'.length))) : notAllowed('GET, HEAD');
    if (sub === '/console/page.css')
      return read ? serveFile(res, ctx, { body: PAGE_CSS, type: 'text/css; charset=utf-8', immutable: false }) : notAllowed('GET, HEAD');
    if (sub === '/console/login') return method === 'GET' ? login(req, res, new URLSearchParams(query)) : notAllowed('GET');
    if (sub === '/console/callback') return method === 'GET' ? callback(req, res, query) : notAllowed('GET');
    if (sub === '/console/session') return read ? sessionInfo(req, res, ctx) : notAllowed('GET, HEAD');
    if (sub === '/console/logout') return method === 'POST' ? logout(req, res, ctx) : notAllowed('POST');
    if (sub === '/console/activities') return method === 'GET' ? activities(req, res, ctx, query) : notAllowed('GET');
    sendErr(res, ctx, 'not_found');
  }

  return {
    authenticate,
    handle(ex, subPath) {
      const { req, res, query } = ex;
      const ctx = ex;
      // every console response, including the pipeline's answers to forwarded calls and errors
      const writeHead = res.writeHead;
      res.writeHead = function (this: http.ServerResponse, ...args: Parameters<typeof writeHead>) {
        setSecurityHeaders(this);
        return writeHead.apply(this, args);
      } as typeof writeHead;
      setSecurityHeaders(res);
      route(req, res, ctx, subPath, query).catch((err: unknown) => {
        deps.logger?.error({ msg: 'console request failed', requestId: ctx.id, error: (err as Error)?.message });
        if (!res.headersSent) sendErr(res, ctx, 'internal_error');
        else res.destroy();
      });
    },
    close: () => sessions.close(),
  };
}
