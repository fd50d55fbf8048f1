/**
 * The console's session (SPEC §13) as a credential: the one apg_session cookie, its record
 * in the session store, and — for state-changing calls — the X-CSRF-Token header.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { Clock } from '../clock.js';
import type { ErrorCode } from '../errors.js';
import { CSRF_HEADER } from '../http/headers.js';
import type { Logger } from '../log.js';
import { cookieValues, SESSION_COOKIE } from './cookies.js';
import { plausibleId, type SessionData, type SessionStore } from './sessions.js';

export { CSRF_HEADER };

export type SessionAuth = { kind: 'none' } | { kind: 'refused'; code: ErrorCode; message: string } | { kind: 'ok'; id: string; session: SessionData };

export interface SessionDeps {
  sessions: SessionStore;
  clock: Clock;
  logger?: Logger;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export function isStateChanging(method: string | undefined): boolean {
  return !SAFE_METHODS.has((method ?? 'GET').toUpperCase());
}

/** Compares two secrets in constant time (whatever their lengths). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

const refused = (code: ErrorCode, message: string): SessionAuth => ({ kind: 'refused', code, message });

/** The session behind the request's cookie; `csrf` demands the X-CSRF-Token header too. */
export async function authenticateSession(req: http.IncomingMessage, opts: { csrf: boolean }, deps: SessionDeps): Promise<SessionAuth> {
  const values = cookieValues(req.headers.cookie, SESSION_COOKIE);
  if (values.length === 0) return { kind: 'none' };
  // Two apg_session cookies: one was set for another path or host (cookie tossing). Which is ours cannot be told, so neither counts.
  if (values.length > 1) return refused('unauthenticated', 'Several apg_session cookies were sent (one set for another path?); sign in to the console again.');
  const id = values[0];
  if (!plausibleId(id)) return refused('unauthenticated', 'The console session is not valid; sign in again.');
  let session: SessionData | undefined;
  try {
    session = await deps.sessions.get('session', id, deps.clock.now());
  } catch (err) {
    deps.logger?.warn({ msg: 'console session store error', error: (err as Error)?.message });
    return refused('identity_unavailable', 'Console sessions cannot be read now; try again shortly.');
  }
  if (!session) return refused('unauthenticated', 'The console session has expired or ended; sign in again.');
  const sent = req.headers[CSRF_HEADER];
  if (opts.csrf && (typeof sent !== 'string' || !sameSecret(sent, session.csrf)))
    return refused('forbidden', 'This change needs the X-CSRF-Token header of your console session.');
  return { kind: 'ok', id, session };
}
