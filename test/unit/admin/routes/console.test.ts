import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { consoleRoutes } from '../../../../src/admin/routes/console.js';
import type { ConsoleParts } from '../../../../src/console/index.js';
import { createOidcClient } from '../../../../src/console/oidc.js';
import { CONSOLE_CSP } from '../../../../src/console/securityHeaders.js';
import { createMemorySessionStore, newId, type SessionStore } from '../../../../src/console/sessions.js';
import { loadStaticFiles } from '../../../../src/console/staticFiles.js';
import { createPipeline, type Pipeline } from '../../../../src/http/pipeline.js';
import { mountRoute, type Mounted } from '../../../helpers/adminRoute.js';
import {
  entries,
  json,
  makeParts,
  PRIVATE_ACTIVITY,
  PUBLIC_ACTIVITY,
  rawRequest,
  startUpstream,
  type Parts,
  type TestUpstream,
} from '../../../helpers/units.js';

const CSRF = 'csrf-token-of-the-session';
let upstream: TestUpstream;
let parts: Parts;
let sessions: SessionStore;
let pipeline: Pipeline;
let app: Mounted;
let session: string;

beforeAll(async () => {
  upstream = await startUpstream(json(200, { data: [PUBLIC_ACTIVITY, PRIVATE_ACTIVITY], total: 2 }));
  parts = await makeParts(upstream.url, { console: { oidc: { issuer: 'http://127.0.0.1:1/', clientId: 'apg-console' }, sessionTtlMin: 60 } });
  const ui = path.join(parts.dir, 'ui');
  await mkdir(path.join(ui, 'assets'), { recursive: true });
  await writeFile(path.join(ui, 'index.html'), '<!doctype html><title>console</title>');
  await writeFile(path.join(ui, 'assets', 'app-1a2b3c.js'), 'console.log(1)');
  await writeFile(path.join(ui, 'assets', 'notes.txt'), 'no type');
  sessions = createMemorySessionStore();
  const settings = parts.config.console!;
  const consoleParts: ConsoleParts = {
    settings,
    sessions,
    oidc: createOidcClient({ ...settings.oidc, timeoutMs: 1000 }),
    files: loadStaticFiles(ui),
    close: () => sessions.close(),
  };
  pipeline = createPipeline({
    engine: parts.engine,
    governance: parts.governance,
    logger: parts.logger,
    metrics: parts.metrics,
    knownGroups: parts.knownGroups,
    clock: parts.clock,
  });
  app = await mountRoute(consoleRoutes(parts.adminDeps({ proxy: pipeline, console: consoleParts }), consoleParts), parts, { json: false });
});
afterAll(async () => {
  await app.close();
  pipeline.close();
  await upstream.close();
  await parts.close();
});
beforeEach(async () => {
  upstream.seen.length = 0;
  session = newId();
  const now = parts.clock.now();
  await sessions.put(
    'session',
    session,
    { principal: 'alice@contoso.com', roles: ['SecurityAdministrator'], csrf: CSRF, iss: 'http://127.0.0.1:1/', createdAt: now, expiresAt: now + 3_600_000 },
    now + 3_600_000,
  );
});

type Answer = Awaited<ReturnType<typeof rawRequest>>;
const req = (p: string, o: { method?: string; headers?: Record<string, string> } = {}) => rawRequest(app.url, { path: p, ...o });
const withSession = (extra: Record<string, string> = {}) => ({ cookie: `apg_session=${session}`, ...extra });
const body = (r: Answer) => JSON.parse(r.body.toString());

function expectSecurityHeaders(r: Answer, what: string): void {
  expect(r.headers['content-security-policy'], what).toBe(CONSOLE_CSP);
  expect(r.headers['x-content-type-options'], what).toBe('nosniff');
  expect(r.headers['referrer-policy'], what).toBe('no-referrer');
  expect(r.headers['x-frame-options'], what).toBe('DENY');
  expect(r.headers['cross-origin-opener-policy'], what).toBe('same-origin');
}

describe('console routes', () => {
  it('/console is a 308 to the app, keeping the query', async () => {
    const r = await req('/console');
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe('/_gateway/console/');
    expect((await req('/console?tab=log&x=1', { method: 'POST' })).headers.location).toBe('/_gateway/console/?tab=log&x=1');
  });

  it('the app and its assets: index revalidated, hashed assets immutable, HEAD without body', async () => {
    const index = await req('/console/');
    expect(index.status).toBe(200);
    expect(index.body.toString()).toContain('<title>console</title>');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect((await req('/console/index.html')).body.equals(index.body)).toBe(true);
    const asset = await req('/console/assets/app-1a2b3c.js');
    expect(asset.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const head = await req('/console/assets/app-1a2b3c.js', { method: 'HEAD' });
    expect(head.headers['content-length']).toBe(String(asset.body.length));
    expect(head.body.length).toBe(0);
    for (const missing of ['/console/assets/nope.js', '/console/assets/notes.txt', '/console/nope']) {
      const r = await req(missing);
      expect(r.status, missing).toBe(404);
      expect(body(r).error.code).toBe('not_found');
    }
  });

  it('405 method_not_allowed with Allow for the wrong method', async () => {
    for (const [p, method, allow] of [
      ['/console/', 'POST', 'GET, HEAD'],
      ['/console/assets/app-1a2b3c.js', 'DELETE', 'GET, HEAD'],
      ['/console/session', 'POST', 'GET, HEAD'],
      ['/console/logout', 'GET', 'POST'],
      ['/console/activities', 'POST', 'GET'],
      ['/console/login', 'HEAD', 'GET'],
    ]) {
      const r = await req(p, { method });
      expect(r.status, `${method} ${p}`).toBe(405);
      expect(r.headers.allow, `${method} ${p}`).toBe(allow);
      if (method !== 'HEAD') expect(body(r).error.code).toBe('method_not_allowed');
    }
  });

  it('/console/session: 401 without a good session, the session info with one', async () => {
    expect(body(await req('/console/session')).error.code).toBe('unauthenticated');
    expect((await req('/console/session', { headers: { cookie: 'apg_session=not-an-id' } })).status).toBe(401);
    expect((await req('/console/session', { headers: { cookie: `apg_session=${session}; apg_session=${newId()}` } })).status).toBe(401);
    const r = await req('/console/session', { headers: withSession() });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(body(r)).toMatchObject({
      principal: 'alice@contoso.com',
      csrfToken: CSRF,
      adminPrefix: '/_gateway',
      listRoute: { path: '/api/v1/activities/', items: 'data' },
    });
  });

  it('a session past its expiry (on the injected clock) is 401', async () => {
    parts.clock.advance(3_600_000);
    try {
      const r = await req('/console/session', { headers: withSession() });
      expect(r.status).toBe(401);
      expect(body(r).error.message).toContain('expired');
    } finally {
      parts.clock.advance(-3_600_000);
    }
  });

  it('logout needs the CSRF token, then ends the session and clears the cookie', async () => {
    const refused = await req('/console/logout', { method: 'POST', headers: withSession() });
    expect(refused.status).toBe(403);
    expect(body(refused).error.code).toBe('forbidden');
    const r = await req('/console/logout', { method: 'POST', headers: withSession({ 'x-csrf-token': CSRF }) });
    expect(r.status).toBe(204);
    expect(r.headers['set-cookie']?.[0]).toMatch(/^apg_session=; Path=\/_gateway; Max-Age=0; /);
    expect((await req('/console/session', { headers: withSession() })).status).toBe(401);
  });

  it('/console/activities runs the list route as the signed-in admin, without the session going upstream', async () => {
    expect((await req('/console/activities')).status).toBe(401);
    const r = await req('/console/activities', { headers: withSession({ 'x-csrf-token': CSRF, 'x-request-id': 'act-1' }) });
    expect(r.status).toBe(200);
    expect(body(r).data.map((a: { _id: string }) => a._id)).toEqual(['a-public']);
    expect(upstream.seen).toHaveLength(1);
    expect(upstream.seen[0].url).toBe('/api/v1/activities/');
    expect(upstream.seen[0].headers.cookie).toBeUndefined();
    expect(upstream.seen[0].headers['x-csrf-token']).toBeUndefined();
    expect(upstream.seen[0].headers['x-request-id']).toBe('act-1');
  });

  it('a reveal from the console needs the CSRF token; with it, it is recorded via console', async () => {
    const reveal = { 'x-show-private-activities': 'confirm', 'x-reveal-reason': 'Incident 4711 review' };
    const refused = await req('/console/activities', { headers: withSession(reveal) });
    expect(refused.status).toBe(403);
    expect(upstream.seen).toHaveLength(0);
    const before = (await entries(parts)).length;
    const r = await req('/console/activities', { headers: withSession({ ...reveal, 'x-csrf-token': CSRF }) });
    expect(r.status).toBe(200);
    expect(body(r).data).toHaveLength(2);
    const log = await entries(parts);
    expect(log).toHaveLength(before + 1);
    expect(log.at(-1)).toMatchObject({ action: 'private-activities.viewed', via: 'console', principal: 'alice@contoso.com' });
    expect(r.headers['x-governance-entry']).toBe(log.at(-1)!.id);
  });

  it('/console/login answers a page (503) when the provider cannot be reached', async () => {
    const r = await req('/console/login');
    expect(r.status).toBe(503);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.body.toString()).toContain('identity provider cannot be reached');
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  it('every answer carries the security headers: pages, files, redirects, errors and the proxied list', async () => {
    const answers: Array<[string, Answer]> = [
      ['redirect', await req('/console')],
      ['index', await req('/console/')],
      ['asset', await req('/console/assets/app-1a2b3c.js')],
      ['css', await req('/console/page.css')],
      ['404', await req('/console/nope')],
      ['405', await req('/console/', { method: 'PUT' })],
      ['401', await req('/console/session')],
      ['403', await req('/console/logout', { method: 'POST', headers: withSession() })],
      ['session', await req('/console/session', { headers: withSession() })],
      ['activities', await req('/console/activities', { headers: withSession() })],
      [
        'upstream error',
        await (async () => {
          upstream.reply = json(500, { error: 'down' });
          try {
            return await req('/console/activities', { headers: withSession() });
          } finally {
            upstream.reply = json(200, { data: [PUBLIC_ACTIVITY], total: 1 });
          }
        })(),
      ],
      ['login page', await req('/console/login')],
    ];
    for (const [what, r] of answers) expectSecurityHeaders(r, what);
    expect(answers.find(([w]) => w === 'upstream error')![1].status).toBe(500);
  });

  // the console wraps writeHead: a relayed upstream error keeps the console's headers, not the upstream's
  it('an upstream’s own security headers never replace the console’s, on a relayed error either', async () => {
    const hostile = { 'content-security-policy': 'default-src *', 'x-frame-options': 'ALLOWALL', 'referrer-policy': 'unsafe-url' };
    for (const status of [200, 500]) {
      upstream.reply = json(status, { data: [PUBLIC_ACTIVITY], total: 1 }, hostile);
      try {
        const r = await req('/console/activities', { headers: withSession() });
        expect(r.status).toBe(status);
        expectSecurityHeaders(r, `upstream ${status}`);
      } finally {
        upstream.reply = json(200, { data: [PUBLIC_ACTIVITY], total: 1 });
      }
    }
  });
});
