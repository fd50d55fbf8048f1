/**
 * OpenID Connect sign-in for the console (SPEC §13): `login` starts an authorization
 * request (state, nonce, PKCE kept server-side under a single-use id), `callback` checks
 * the provider's answer and opens a session for an admin. Outcomes the app cannot show are
 * small server-rendered pages.
 */
import type http from 'node:http';
import type { Clock } from '../clock.js';
import type { ConsoleConfig, GatewayConfig } from '../config/index.js';
import { sendPage, sendRedirect, type ExtraHeaders } from '../http/responder.js';
import { DEFAULT_CLAIM_SETTINGS, isAdminRole, principalOf, rolesOf } from '../identity/claims.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { LOGIN_COOKIE, SESSION_COOKIE, cookieValues, setCookie } from './cookies.js';
import { ProviderUnavailableError, SignInRefusedError, type OidcClient } from './oidc.js';
import { sameSecret } from './session.js';
import { newId, plausibleId, type LoginData, type SessionData, type SessionStore } from './sessions.js';

/** A pending sign-in is good for this long (the time a person needs at the provider). */
export const LOGIN_TTL_MS = 10 * 60_000;

export interface SignInDeps {
  settings: ConsoleConfig;
  config: () => GatewayConfig;
  sessions: SessionStore;
  oidc: OidcClient;
  clock: Clock;
  logger?: Logger;
  metrics?: Pick<Metrics, 'consoleSignIns'>;
}

type Outcome = 'ok' | 'not_admin' | 'refused' | 'provider_unavailable';

/** A sign-in outcome page, with the way back into the console. */
export function consolePage(res: http.ServerResponse, prefix: string, status: number, title: string, lines: string[], headers: ExtraHeaders = {}): void {
  const links: Array<[string, string]> = [
    ['Sign in again', `${prefix}/console/login?prompt=login`],
    ['Admin console', `${prefix}/console/`],
  ];
  sendPage(res, status, { title, lines, stylesheet: `${prefix}/console/page.css`, links }, headers);
}

/** Whether the console's cookies are Secure: console.publicUrl's scheme, else the connection's. */
export function secureCookies(settings: ConsoleConfig, req: http.IncomingMessage): boolean {
  const pub = settings.publicUrl;
  return pub ? new URL(pub).protocol === 'https:' : Boolean((req.socket as { encrypted?: boolean }).encrypted);
}

const secure = (deps: SignInDeps, req: http.IncomingMessage): boolean => secureCookies(deps.settings, req);

/**
 * The console's origin: console.publicUrl; without it the address the gateway itself
 * listens on (server.host, or the connection's local address for a wildcard bind, and the
 * local port) — never the request's Host header, which the client chooses.
 */
function origin(deps: SignInDeps, req: http.IncomingMessage): string | null {
  if (deps.settings.publicUrl) return new URL(deps.settings.publicUrl).origin;
  const configured = deps.config().server.host;
  const wildcard = configured === '0.0.0.0' || configured === '::' || configured === '';
  const host = wildcard ? req.socket.localAddress : configured;
  const port = req.socket.localPort;
  if (!host || !port) return null;
  const literal = host.startsWith('::ffff:') ? host.slice(7) : host;
  return `${secure(deps, req) ? 'https' : 'http'}://${literal.includes(':') ? `[${literal}]` : literal}:${port}`;
}

function loginCookie(deps: SignInDeps, req: http.IncomingMessage, id: string, maxAge: number): string {
  // Lax, not Strict: the provider's redirect back is a cross-site top-level navigation.
  return setCookie(LOGIN_COOKIE, id, { path: `${deps.config().server.adminPrefix}/console/callback`, secure: secure(deps, req), sameSite: 'Lax', maxAge });
}

export async function login(deps: SignInDeps, req: http.IncomingMessage, res: http.ServerResponse, query: URLSearchParams): Promise<void> {
  const prefix = deps.config().server.adminPrefix;
  const base = origin(deps, req);
  if (base === null) return consolePage(res, prefix, 400, 'Sign-in is not possible', ['The console cannot tell its own address; set console.publicUrl.']);
  const redirectUri = `${base}${prefix}/console/callback`;
  let auth;
  try {
    auth = await deps.oidc.begin(redirectUri, query.get('prompt') === 'login' ? 'login' : undefined);
  } catch (err) {
    deps.logger?.warn({ msg: 'console sign-in: identity provider unavailable', error: (err as Error)?.message });
    return consolePage(res, prefix, 503, 'Sign-in is not possible now', ['The identity provider cannot be reached. Try again shortly.']);
  }
  const id = newId();
  const expiresAt = deps.clock.now() + LOGIN_TTL_MS;
  try {
    await deps.sessions.put('login', id, { state: auth.state, nonce: auth.nonce, codeVerifier: auth.codeVerifier, redirectUri, expiresAt }, expiresAt);
  } catch (err) {
    deps.logger?.warn({ msg: 'console sign-in: the session store cannot be written', error: (err as Error)?.message });
    return consolePage(res, prefix, 503, 'Sign-in is not possible now', ['Console sessions cannot be stored now. Try again shortly.']);
  }
  sendRedirect(res, 302, auth.url, { 'set-cookie': loginCookie(deps, req, id, LOGIN_TTL_MS / 1000) });
}

/** A sign-in refused for a reason the person should read (a page, never a JSON error). */
class Refusal extends Error {
  constructor(
    readonly why: string,
    readonly status = 400,
  ) {
    super(why);
  }
}

/** The pending sign-in the callback belongs to, or a Refusal. */
async function pendingSignIn(deps: SignInDeps, req: http.IncomingMessage, params: URLSearchParams): Promise<LoginData> {
  const ids = cookieValues(req.headers.cookie, LOGIN_COOKIE);
  if (ids.length !== 1 || !plausibleId(ids[0])) throw new Refusal('This browser has no sign-in in progress (or it expired).');
  // single use: a replayed callback finds nothing
  const tx = await deps.sessions.take('login', ids[0], deps.clock.now());
  if (!tx) throw new Refusal('This sign-in attempt is unknown, expired or was already used.');
  const state = params.get('state');
  if (state === null || !sameSecret(state, tx.state))
    throw new Refusal('The answer from the identity provider does not belong to this sign-in attempt (state mismatch).');
  if (params.has('error')) throw new Refusal(`The identity provider answered: ${(params.get('error') ?? '').slice(0, 100)}.`);
  return tx;
}

async function verifiedClaims(deps: SignInDeps, tx: LoginData, query: string): Promise<Record<string, unknown>> {
  try {
    return await deps.oidc.finish(new URL(`${tx.redirectUri}?${query}`), tx);
  } catch (err) {
    if (err instanceof SignInRefusedError) throw new Refusal(`The identity provider's answer was refused: ${err.why}.`);
    if (err instanceof ProviderUnavailableError) throw new Refusal('The identity provider cannot be reached. Try again shortly.', 503);
    throw err;
  }
}

function newSession(deps: SignInDeps, claims: Record<string, unknown>, principal: string, roles: string[]): SessionData {
  const t = deps.clock.now();
  return {
    principal,
    roles,
    csrf: newId(),
    iss: typeof claims.iss === 'string' ? claims.iss : '',
    ...(typeof claims.jti === 'string' ? { jti: claims.jti } : {}),
    createdAt: t,
    expiresAt: t + deps.settings.sessionTtlMin * 60_000,
  };
}

export async function callback(deps: SignInDeps, req: http.IncomingMessage, res: http.ServerResponse, query: string): Promise<void> {
  const prefix = deps.config().server.adminPrefix;
  const clear = { 'set-cookie': loginCookie(deps, req, '', 0) };
  const count = (outcome: Outcome) => deps.metrics?.consoleSignIns.inc({ outcome });
  try {
    const tx = await pendingSignIn(deps, req, new URLSearchParams(query));
    const claims = await verifiedClaims(deps, tx, query);
    const settings = deps.config().identity ?? DEFAULT_CLAIM_SETTINGS;
    const principal = principalOf(claims, settings);
    if (principal === undefined) throw new Refusal(`The ID token names no user (none of the claims ${settings.principalClaims.join(', ')}).`, 403);
    const roles = rolesOf(claims, settings);
    if (!isAdminRole(roles, settings)) {
      count('not_admin');
      deps.logger?.info({ msg: 'console sign-in refused', why: 'no admin role' });
      const lines = [
        `You are signed in at the identity provider as ${principal}, but this account holds none of the admin roles (${settings.adminRoles.join(', ')}).`,
        'Only admins may use the Activity Privacy Gateway console; no session was opened.',
      ];
      return consolePage(res, prefix, 403, 'Not an admin', lines, clear);
    }
    await openSession(deps, req, res, newSession(deps, claims, principal, roles), clear['set-cookie']);
  } catch (err) {
    if (!(err instanceof Refusal)) throw err;
    count(err.status === 503 ? 'provider_unavailable' : 'refused');
    deps.logger?.info({ msg: 'console sign-in refused', why: err.why });
    consolePage(res, prefix, err.status, 'Sign-in failed', [err.why, 'Nothing was signed in. Start the sign-in again from the console.'], clear);
  }
}

async function openSession(deps: SignInDeps, req: http.IncomingMessage, res: http.ServerResponse, session: SessionData, clearLogin: string): Promise<void> {
  const prefix = deps.config().server.adminPrefix;
  const id = newId();
  try {
    await deps.sessions.put('session', id, session, session.expiresAt);
  } catch (err) {
    deps.logger?.warn({ msg: 'console sign-in: the session store cannot be written', error: (err as Error)?.message });
    deps.metrics?.consoleSignIns.inc({ outcome: 'refused' });
    return consolePage(res, prefix, 503, 'Sign-in is not possible now', ['Console sessions cannot be stored now. Try again shortly.']);
  }
  deps.metrics?.consoleSignIns.inc({ outcome: 'ok' });
  deps.logger?.info({ msg: 'console sign-in', principal: session.principal });
  const maxAge = Math.floor((session.expiresAt - session.createdAt) / 1000);
  const cookie = setCookie(SESSION_COOKIE, id, { path: prefix, secure: secure(deps, req), sameSite: 'Strict', maxAge });
  sendRedirect(res, 303, `${prefix}/console/`, { 'set-cookie': [clearLogin, cookie] });
}
