/**
 * One admin context per admin request, built once when the admin app takes the exchange:
 * the request facts (the Exchange the dispatcher made), and — once the API's
 * authentication ran — the verified admin, their roles and the door they came through
 * (a bearer token: `admin-api`; a console session: `console`). Route modules read it with
 * `contextOf(res)`; nothing else is tagged onto the request or the response.
 */
import type http from 'node:http';
import type { EntryActor } from '../governance/entries.js';
import type { Exchange } from '../http/exchange.js';

export type AdminVia = 'admin-api' | 'console';

export interface AdminIdentity {
  principal: string;
  roles: readonly string[];
  via: AdminVia;
}

export class AdminContext {
  private who?: AdminIdentity;

  constructor(readonly ex: Exchange) {}

  /** Records the verified admin (once per request) and names them on the access line. */
  authenticated(who: AdminIdentity): void {
    if (this.who) throw new Error('admin context authenticated twice');
    this.who = who;
    this.ex.principal = who.principal;
  }

  get isAuthenticated(): boolean {
    return this.who !== undefined;
  }

  /** The verified admin; routes under /api run only after authentication. */
  get admin(): AdminIdentity {
    if (!this.who) throw new Error('admin not authenticated');
    return this.who;
  }

  /** The admin as governance entries name them. */
  get actor(): EntryActor {
    return { principal: this.admin.principal, via: this.admin.via };
  }
}

interface WithLocals {
  locals?: { admin?: AdminContext };
}

/** Attaches the context before express sees the response (express keeps an existing res.locals). */
export function attachContext(res: http.ServerResponse, ctx: AdminContext): void {
  (res as WithLocals).locals = { admin: ctx };
}

export function contextOf(res: http.ServerResponse): AdminContext {
  const ctx = (res as WithLocals).locals?.admin;
  if (!ctx) throw new Error('admin response without its context');
  return ctx;
}
