/**
 * The console's routes under `{adminPrefix}/console/` (SPEC §13): the single-page app,
 * OpenID Connect sign-in and sign-out, the session, and the activity log as the signed-in
 * admin sees it — a request to the proxy journey with the session's identity, through
 * the explicit client the admin app was given. Every answer carries the console's
 * security headers.
 */
import express, { type Request, type Response } from 'express';
import { GatewayError } from '../../errors.js';
import { consoleListRoute, sessionInfo } from '../../console/info.js';
import type { ConsoleParts } from '../../console/index.js';
import { keepSecurityHeaders } from '../../console/securityHeaders.js';
import { authenticateSession, type SessionAuth, type SessionDeps } from '../../console/session.js';
import { callback, login, secureCookies, type SignInDeps } from '../../console/signIn.js';
import { SESSION_COOKIE, setCookie } from '../../console/cookies.js';
import { sendEmpty, sendFile, sendJson, sendRedirect, sendText } from '../../http/responder.js';
import { contextOf } from '../context.js';
import type { AdminDeps } from '../deps.js';

/** The look of the server-rendered sign-in pages (a stylesheet: the CSP allows no inline style). */
const PAGE_CSS = `body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24}
main{max-width:38rem;margin:4rem auto;padding:0 1rem}h1{font-size:1.3rem}a{color:#0b5cad}
`;

type Deps = Pick<AdminDeps, 'config' | 'clock' | 'logger' | 'metrics' | 'proxy' | 'permission'>;
type Handler = (req: Request, res: Response) => unknown;

/** `handler` for exactly these methods; any other is 405 with Allow. */
function only(methods: string[], handler: Handler): Handler {
  return (req, res) => {
    if (!methods.includes(req.method)) throw new GatewayError('method_not_allowed', undefined, { headers: { allow: methods.join(', ') } });
    return handler(req, res);
  };
}

/** A session that is not there or not good is 401/403 with its reason. */
function signedIn(auth: SessionAuth): Extract<SessionAuth, { kind: 'ok' }> {
  if (auth.kind === 'ok') return auth;
  if (auth.kind === 'none') throw new GatewayError('unauthenticated', 'Not signed in to the console.');
  throw new GatewayError(auth.code, auth.message);
}

export function consoleRoutes(deps: Deps, parts: ConsoleParts): express.Router {
  const r = express.Router({ strict: true, caseSensitive: true });
  const prefix = () => deps.config().server.adminPrefix;
  const session: SessionDeps = { sessions: parts.sessions, clock: deps.clock, logger: deps.logger };
  const signIn: SignInDeps = { ...session, settings: parts.settings, config: deps.config, oidc: parts.oidc, metrics: deps.metrics };
  const read = ['GET', 'HEAD'];
  const file = (f: ReturnType<typeof parts.files.index>) => {
    if (!f) throw new GatewayError('not_found', parts.files.available ? undefined : 'The console was not built: run npm run build.');
    return f;
  };

  r.use('/console', (_req, res, next) => {
    keepSecurityHeaders(res);
    next();
  });
  r.all('/console', (_req, res) => sendRedirect(res, 308, `${prefix()}/console/${contextOf(res).ex.query ? `?${contextOf(res).ex.query}` : ''}`));
  r.all(
    ['/console/', '/console/index.html'],
    only(read, (_req, res) => sendFile(res, file(parts.files.index()))),
  );
  r.use(
    '/console/assets/',
    only(read, (req, res) => sendFile(res, file(parts.files.asset(req.path.slice(1))))),
  );
  r.all(
    '/console/page.css',
    only(read, (_req, res) => sendText(res, 200, 'text/css; charset=utf-8', PAGE_CSS, { 'cache-control': 'no-cache' })),
  );
  r.all(
    '/console/login',
    only(['GET'], (req, res) => login(signIn, req, res, new URLSearchParams(contextOf(res).ex.query))),
  );
  r.all(
    '/console/callback',
    only(['GET'], (req, res) => callback(signIn, req, res, contextOf(res).ex.query)),
  );
  r.all(
    '/console/session',
    only(read, async (req, res) => {
      const s = signedIn(await authenticateSession(req, { csrf: false }, session)).session;
      sendJson(res, 200, sessionInfo(deps.config(), s, deps.permission(s.principal), deps.clock.now()));
    }),
  );
  r.all(
    '/console/logout',
    only(['POST'], (req, res) => logout(signIn, prefix(), req, res)),
  );
  r.all(
    '/console/activities',
    only(['GET'], (req, res) => activities(deps, session, req, res)),
  );
  r.use('/console', () => {
    throw new GatewayError('not_found');
  });
  return r;
}

async function logout(deps: SignInDeps, prefix: string, req: Request, res: Response): Promise<void> {
  const auth = await authenticateSession(req, { csrf: true }, deps);
  if (auth.kind === 'refused' && auth.code === 'forbidden') throw new GatewayError('forbidden', auth.message);
  if (auth.kind === 'ok') {
    await deps.sessions.delete('session', auth.id);
    deps.logger?.info({ msg: 'console sign-out', principal: auth.session.principal });
  }
  const cookie = setCookie(SESSION_COOKIE, '', { path: prefix, secure: secureCookies(deps.settings, req), sameSite: 'Strict', maxAge: 0 });
  sendEmpty(res, 204, { 'set-cookie': cookie, 'cache-control': 'no-store' });
}

/** The activity log: the first list route, run by the proxy journey as the signed-in admin. */
async function activities(deps: Deps, session: SessionDeps, req: Request, res: Response): Promise<void> {
  const config = deps.config();
  // revealing writes a governance entry: a state-changing call, so the CSRF token is required
  const revealing = req.headers[config.reveal.header] !== undefined || req.headers['x-reveal-request'] !== undefined;
  const { session: s } = signedIn(await authenticateSession(req, { csrf: revealing }, session));
  const list = consoleListRoute(config);
  if (list === null) throw new GatewayError('not_found', 'No list route the console can page through (a list route allowing GET, without path parameters).');
  const ex = contextOf(res).ex;
  ex.path = list.path;
  ex.vouched = { principal: s.principal, roles: s.roles, isAdmin: true, iss: s.iss, ...(s.jti ? { jti: s.jti } : {}), via: 'console' };
  deps.proxy.handle(ex);
}
