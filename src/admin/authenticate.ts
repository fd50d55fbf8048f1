/**
 * Who may use the admin API (SPEC §7, §13): a bearer token of an admin, or — without a
 * token — the console's session cookie (with its CSRF token on changes). The verified admin
 * is recorded once in the request's admin context.
 */
import type { NextFunction, Request, Response } from 'express';
import type { ConsoleParts } from '../console/index.js';
import { authenticateSession, isStateChanging } from '../console/session.js';
import { GatewayError } from '../errors.js';
import { unauthenticated } from '../identity/index.js';
import { contextOf } from './context.js';
import type { AdminDeps } from './deps.js';

type Deps = Pick<AdminDeps, 'identity' | 'clock' | 'logger'> & { console: ConsoleParts | null };

export function authenticateAdmin(deps: Deps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const ctx = contextOf(res);
    const identity = deps.identity();
    const r = identity ? await identity.verify(req.headers) : { kind: 'anonymous' as const };
    if (r.kind === 'anonymous' && deps.console) {
      const s = await authenticateSession(
        req,
        { csrf: isStateChanging(req.method) },
        { sessions: deps.console.sessions, clock: deps.clock, logger: deps.logger },
      );
      if (s.kind === 'refused') throw new GatewayError(s.code, s.message);
      if (s.kind === 'ok') {
        ctx.authenticated({ principal: s.session.principal, roles: s.session.roles, via: 'console' });
        return next();
      }
    }
    if (r.kind === 'unavailable') throw new GatewayError('identity_unavailable');
    if (r.kind !== 'verified') throw unauthenticated(r, 'The admin API needs a valid admin bearer token.');
    if (!r.isAdmin) throw new GatewayError('forbidden');
    ctx.authenticated({ principal: r.principal, roles: r.roles, via: 'admin-api' });
    next();
  };
}
