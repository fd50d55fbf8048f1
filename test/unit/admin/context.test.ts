import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateAdmin } from '../../../src/admin/authenticate.js';
import { AdminContext, attachContext, contextOf } from '../../../src/admin/context.js';
import { sendJson } from '../../../src/http/responder.js';
import { Exchange } from '../../../src/http/exchange.js';
import type { ConsoleParts } from '../../../src/console/index.js';
import { createOidcClient } from '../../../src/console/oidc.js';
import { createMemorySessionStore, newId } from '../../../src/console/sessions.js';
import { loadStaticFiles } from '../../../src/console/staticFiles.js';
import { mountRoute, type Mounted } from '../../helpers/adminRoute.js';
import { makeParts, rawRequest, type Parts } from '../../helpers/units.js';

let parts: Parts;

beforeAll(async () => {
  parts = await makeParts('http://127.0.0.1:9', { console: { oidc: { issuer: 'http://127.0.0.1:1/', clientId: 'apg-console' } } });
});
afterAll(() => parts.close());

function exchange(): Exchange {
  const req = new http.IncomingMessage(new net.Socket());
  req.method = 'POST';
  return new Exchange('rid', req, new http.ServerResponse(req), parts.rt);
}

describe('AdminContext', () => {
  it('is authenticated once: the admin, the actor and the access line’s principal', () => {
    const ex = exchange();
    const ctx = new AdminContext(ex);
    expect(ctx.isAuthenticated).toBe(false);
    expect(() => ctx.admin).toThrow('admin not authenticated');
    expect(() => ctx.actor).toThrow('admin not authenticated');
    ctx.authenticated({ principal: 'alice@contoso.com', roles: ['SecurityAdministrator'], via: 'console' });
    expect(ctx.isAuthenticated).toBe(true);
    expect(ctx.admin).toEqual({ principal: 'alice@contoso.com', roles: ['SecurityAdministrator'], via: 'console' });
    expect(ctx.actor).toEqual({ principal: 'alice@contoso.com', via: 'console' });
    expect(ex.principal).toBe('alice@contoso.com');
    expect(() => ctx.authenticated({ principal: 'mallory@contoso.com', roles: [], via: 'admin-api' })).toThrow('authenticated twice');
    expect(ctx.admin.principal).toBe('alice@contoso.com');
    expect(ex.principal).toBe('alice@contoso.com');
  });

  it('the actor carries no roles or token: only who and through which door', () => {
    const ctx = new AdminContext(exchange());
    ctx.authenticated({ principal: 'carol@contoso.com', roles: ['GlobalAdministrator'], via: 'admin-api' });
    expect(Object.keys(ctx.actor).sort()).toEqual(['principal', 'via']);
  });

  it('attachContext / contextOf: the one context per response; none attached is an error', () => {
    const ex = exchange();
    const ctx = new AdminContext(ex);
    expect(() => contextOf(ex.res)).toThrow('without its context');
    attachContext(ex.res, ctx);
    expect(contextOf(ex.res)).toBe(ctx);
    expect(contextOf(ex.res).ex).toBe(ex);
  });
});

describe('authenticateAdmin records the admin in the context', () => {
  let app: Mounted;
  const session = newId();

  beforeAll(async () => {
    const sessions = createMemorySessionStore();
    const now = parts.clock.now();
    await sessions.put(
      'session',
      session,
      { principal: 'carol@contoso.com', roles: ['GlobalAdministrator'], csrf: 'csrf-1', iss: 'http://127.0.0.1:1/', createdAt: now, expiresAt: now + 60_000 },
      now + 60_000,
    );
    const settings = parts.config.console!;
    const consoleParts: ConsoleParts = {
      settings,
      sessions,
      oidc: createOidcClient(settings.oidc),
      files: loadStaticFiles(parts.dir),
      close: async () => undefined,
    };
    const router = express.Router();
    router.use(authenticateAdmin({ ...parts.adminDeps(), console: consoleParts }));
    router.all('/who', (_req, res) => {
      const ctx = contextOf(res);
      sendJson(res, 200, { actor: ctx.actor, roles: ctx.admin.roles, principal: ctx.ex.principal });
    });
    app = await mountRoute(router, parts);
  });
  afterAll(() => app.close());

  it('a console session: the actor via console, once', async () => {
    const r = await rawRequest(app.url, { path: '/who', headers: { cookie: `apg_session=${session}` } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({
      actor: { principal: 'carol@contoso.com', via: 'console' },
      roles: ['GlobalAdministrator'],
      principal: 'carol@contoso.com',
    });
  });

  it('a change through the session needs its CSRF token', async () => {
    const refused = await rawRequest(app.url, { method: 'POST', path: '/who', headers: { cookie: `apg_session=${session}` } });
    expect(refused.status).toBe(403);
    const ok = await rawRequest(app.url, { method: 'POST', path: '/who', headers: { cookie: `apg_session=${session}`, 'x-csrf-token': 'csrf-1' } });
    expect(ok.status).toBe(200);
  });

  it('no token and no session: 401, the context never authenticated', async () => {
    const r = await rawRequest(app.url, { path: '/who' });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body.toString()).error.code).toBe('unauthenticated');
    const ex = app.exchanges.at(-1)!.ex;
    expect(contextOf(ex.res).isAuthenticated).toBe(false);
    expect(ex.principal).toBeUndefined();
  });
});
