/**
 * The console's server side over real sockets (SPEC §13), without a browser: the sign-in
 * through the real OIDC provider and what it must refuse (wrong state, replayed callback,
 * non-admins), the session cookie, CSRF, the session as an admin-API credential and as the
 * activity log's identity (via: console), expiry, sign-out, and the security headers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CookieJar, ensureUiBuilt, jarFetch, PREFIX, signIn, startConsoleStack, type ConsoleStack, type SignedIn } from '../helpers/console.js';
import { startDemoStack } from '../helpers/gateway.js';

const SECURITY_HEADERS = (h: Headers) => {
  const csp = h.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).not.toContain('unsafe-inline');
  expect(h.get('x-content-type-options')).toBe('nosniff');
  expect(h.get('referrer-policy')).toBe('no-referrer');
};

describe('console server side', { timeout: 90_000 }, () => {
  let stack: ConsoleStack;
  let alice: SignedIn;
  const gw = () => stack.gw.url;
  const entries = async () => (await stack.gw.governance.read({ afterSeq: 0, limit: 1000 })).entries;

  beforeAll(async () => {
    await ensureUiBuilt();
    stack = await startConsoleStack();
    alice = await signIn(stack, 'alice');
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
  });

  test('the app, its hashed assets and every console answer carry the security headers', async () => {
    const index = await fetch(`${gw()}${PREFIX}/console/`);
    expect(index.status).toBe(200);
    SECURITY_HEADERS(index.headers);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const html = await index.text();
    // no inline script: only external, hashed bundles
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const asset = /src="\.\/assets\/([^"]+\.js)"/.exec(html)![1];
    expect(asset).toMatch(/-[A-Za-z0-9_-]{8,}\.js$/);
    const js = await fetch(`${gw()}${PREFIX}/console/assets/${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    SECURITY_HEADERS(js.headers);
    for (const p of ['/console/assets/..%2f..%2fpackage.json', '/console/assets/nope.js', '/console/session', '/console/nothing']) {
      const r = await fetch(`${gw()}${PREFIX}${p}`);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      if (r.status !== 400) SECURITY_HEADERS(r.headers); // 400 bad_path is the pipeline's, before the console
    }
    const redirect = await fetch(`${gw()}${PREFIX}/console`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe(`${PREFIX}/console/`);
  });

  test('sign-in: PKCE, state and nonce in the request; the session cookie is HttpOnly, SameSite=Strict, Path=adminPrefix', async () => {
    const jar = new CookieJar();
    const r = await jarFetch(jar, `${gw()}${PREFIX}/console/login`);
    expect(r.status).toBe(302);
    SECURITY_HEADERS(r.headers);
    const auth = new URL(r.headers.get('location')!);
    expect(auth.origin).toBe(new URL(stack.idp.issuer).origin);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(auth.searchParams.get('state')).toMatch(/.{20,}/);
    expect(auth.searchParams.get('nonce')).toMatch(/.{20,}/);
    expect(auth.searchParams.get('redirect_uri')).toBe(`${gw()}${PREFIX}/console/callback`);
    const login = r.headers.getSetCookie().find((c) => c.startsWith('apg_login='))!;
    expect(login).toMatch(/HttpOnly/);
    expect(login).toMatch(/SameSite=Lax/);

    expect(alice.res.status).toBe(303);
    expect(alice.res.headers.get('location')).toBe(`${PREFIX}/console/`);
    const session = alice.res.headers.getSetCookie().find((c) => c.startsWith('apg_session='))!;
    expect(session).toMatch(/; HttpOnly/);
    expect(session).toMatch(/; SameSite=Strict/);
    expect(session).toMatch(new RegExp(`; Path=${PREFIX}(;|$)`));
    expect(session).not.toMatch(/Secure/); // plain http on loopback
    expect(session).toMatch(/Max-Age=3600/);
    const info = await (await fetch(`${gw()}${PREFIX}/console/session`, { headers: { cookie: alice.cookie } })).json();
    expect(info).toMatchObject({
      principal: 'alice@contoso.com',
      roles: ['SecurityAdministrator'],
      adminPrefix: PREFIX,
      listRoute: { path: '/api/v1/activities/' },
    });
    expect(info.csrfToken).toBe(alice.csrf);
  });

  test('a wrong state, a replayed callback and a callback without the sign-in cookie are refused; no session', async () => {
    // wrong state: the attempt is consumed and refused
    const jar = new CookieJar();
    const started = await jarFetch(jar, `${gw()}${PREFIX}/console/login`);
    expect(started.status).toBe(302);
    const wrong = await jarFetch(jar, `${gw()}${PREFIX}/console/callback?code=whatever&state=not-the-state`);
    expect(wrong.status).toBe(400);
    SECURITY_HEADERS(wrong.headers);
    expect(await wrong.text()).toContain('state mismatch');
    expect(wrong.headers.getSetCookie().some((c) => c.startsWith('apg_session='))).toBe(false);

    // a full sign-in, then its callback URL again: the attempt was used
    const bob = await signIn(stack, 'alice');
    expect(bob.res.status).toBe(303);
    expect(bob.loginCookie).toMatch(/^apg_login=/);
    const replay = await fetch(bob.callbackUrl, { headers: { cookie: bob.loginCookie }, redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('already used');
    expect(replay.headers.getSetCookie().some((c) => c.startsWith('apg_session='))).toBe(false);
    // the same code and state with a fresh sign-in cookie: the state no longer matches, and the code is spent anyway
    const other = new CookieJar();
    await jarFetch(other, `${gw()}${PREFIX}/console/login`);
    const replay2 = await jarFetch(other, bob.callbackUrl);
    expect(replay2.status).toBe(400);
    expect(replay2.headers.getSetCookie().some((c) => c.startsWith('apg_session='))).toBe(false);

    // the provider says no (the user cancelled): refused with its error word, no session
    const cancelled = new CookieJar();
    const go = await jarFetch(cancelled, `${gw()}${PREFIX}/console/login`);
    const state = new URL(go.headers.get('location')!).searchParams.get('state')!;
    const denied = await jarFetch(cancelled, `${gw()}${PREFIX}/console/callback?error=access_denied&state=${encodeURIComponent(state)}`);
    expect(denied.status).toBe(400);
    expect(await denied.text()).toContain('answered: access_denied');
    expect(denied.headers.getSetCookie().some((c) => c.startsWith('apg_session='))).toBe(false);

    const none = await fetch(`${gw()}${PREFIX}/console/callback?code=x&state=y`);
    expect(none.status).toBe(400);
    expect(await none.text()).toContain('no sign-in in progress');
  });

  test('a non-admin gets no session and is told why', async () => {
    const erin = await signIn(stack, 'erin');
    expect(erin.res.status).toBe(403);
    SECURITY_HEADERS(erin.res.headers);
    const page = await erin.res.text();
    expect(page).toContain('erin@contoso.com');
    expect(page).toContain('none of the admin roles');
    expect(erin.res.headers.getSetCookie().some((c) => c.startsWith('apg_session='))).toBe(false);
    expect(erin.csrf).toBeUndefined();
    const metrics = await stack.gw.metrics.registry.metrics();
    expect(metrics).toMatch(/apg_console_signins_total\{outcome="not_admin"\} [1-9]/);
    expect(metrics).toMatch(/apg_console_signins_total\{outcome="ok"\} [1-9]/);
    expect(metrics).not.toContain('erin');
  });

  test('the admin API takes the session; changes need X-CSRF-Token (a cross-site POST without it is 403) and are via: console', async () => {
    const groups = await fetch(`${gw()}${PREFIX}/api/privacy/groups`, { headers: { cookie: alice.cookie } });
    expect(groups.status).toBe(200);
    const body = JSON.stringify({ principal: 'dave@contoso.com' });
    const before = (await entries()).length;
    // a form-style cross-site POST: cookie (were it sent), no CSRF header
    const crossSite = await fetch(`${gw()}${PREFIX}/api/privacy/permissions`, {
      method: 'POST',
      body,
      headers: { cookie: alice.cookie, 'content-type': 'text/plain', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    expect((await crossSite.json()).error.code).toBe('forbidden');
    const wrong = await fetch(`${gw()}${PREFIX}/api/privacy/permissions`, {
      method: 'POST',
      body,
      headers: { cookie: alice.cookie, 'x-csrf-token': 'x'.repeat(43) },
    });
    expect(wrong.status).toBe(403);
    const del = await fetch(`${gw()}${PREFIX}/api/privacy/groups/hr`, { method: 'DELETE', headers: { cookie: alice.cookie } });
    expect(del.status).toBe(403);
    expect((await entries()).length).toBe(before);
    expect(stack.gw.state.current().permissions.some((p) => p.principal === 'dave@contoso.com')).toBe(false);

    const ok = await fetch(`${gw()}${PREFIX}/api/privacy/permissions`, {
      method: 'POST',
      body,
      headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf!, 'content-type': 'application/json' },
    });
    expect(ok.status).toBe(201);
    const entry = (await entries()).at(-1)!;
    expect(entry).toMatchObject({ action: 'reveal-permission.granted', principal: 'alice@contoso.com', via: 'console', target: 'dave@contoso.com' });
    const revoke = await fetch(`${gw()}${PREFIX}/api/privacy/permissions/dave%40contoso.com`, {
      method: 'DELETE',
      headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf! },
    });
    expect(revoke.status).toBe(204);
    // sign-out is a change too
    const out = await fetch(`${gw()}${PREFIX}/console/logout`, { method: 'POST', headers: { cookie: alice.cookie } });
    expect(out.status).toBe(403);
  });

  test('the activity log through the session: ordinary without audit; a reveal needs the CSRF token and writes a via: console entry', async () => {
    const url = `${gw()}${PREFIX}/console/activities?skip=0&limit=20`;
    const before = (await entries()).length;
    const plain = await fetch(url, { headers: { cookie: alice.cookie } });
    expect(plain.status).toBe(200);
    SECURITY_HEADERS(plain.headers);
    const ordinary = (await plain.json()).data.length;
    expect(ordinary).toBeLessThan(20);
    expect((await entries()).length).toBe(before);

    const noCsrf = await fetch(url, { headers: { cookie: alice.cookie, 'x-show-private-activities': 'confirm' } });
    expect(noCsrf.status).toBe(403);
    expect((await entries()).length).toBe(before);

    const shown = await fetch(url, {
      headers: { cookie: alice.cookie, 'x-show-private-activities': 'confirm', 'x-csrf-token': alice.csrf!, 'x-reveal-reason': 'Case 4711: HR complaint' },
    });
    expect(shown.status).toBe(200);
    expect(shown.headers.get('x-private-activities')).toBe('shown');
    expect((await shown.json()).data.length).toBe(20);
    const entry = (await entries()).at(-1)!;
    expect(entry.id).toBe(shown.headers.get('x-governance-entry'));
    expect(entry).toMatchObject({
      action: 'private-activities.viewed',
      principal: 'alice@contoso.com',
      via: 'console',
      privateActivities: { count: 20 - ordinary },
    });
    // no session: refused before anything reaches the activity-log API
    const anon = await fetch(url, { headers: { 'x-show-private-activities': 'confirm' } });
    expect(anon.status).toBe(401);
  });

  test('a session cookie is no credential outside the admin prefix; two apg_session cookies (one from another path) count as none', async () => {
    const list = await fetch(`${gw()}/api/v1/activities/?limit=5`, { headers: { cookie: alice.cookie, 'x-show-private-activities': 'confirm' } });
    expect(list.status).toBe(401);
    const tossed = `apg_session=${'A'.repeat(43)}; ${alice.cookie}`;
    const r = await fetch(`${gw()}${PREFIX}/api/privacy/groups`, { headers: { cookie: tossed } });
    expect(r.status).toBe(401);
    expect((await r.json()).error.message).toContain('Several apg_session cookies');
    const s = await fetch(`${gw()}${PREFIX}/console/session`, { headers: { cookie: tossed } });
    expect(s.status).toBe(401);
    // a made-up value
    expect((await fetch(`${gw()}${PREFIX}/api/privacy/groups`, { headers: { cookie: `apg_session=${'B'.repeat(43)}` } })).status).toBe(401);
  });

  test('a session expires after sessionTtlMin; sign-out ends one at once', async () => {
    const dave = await signIn(stack, 'dave');
    expect(dave.res.status).toBe(303);
    expect((await fetch(`${gw()}${PREFIX}/api/privacy/groups`, { headers: { cookie: dave.cookie } })).status).toBe(200);
    stack.clock.now += 60 * 60_000 + 1;
    try {
      const expired = await fetch(`${gw()}${PREFIX}/api/privacy/groups`, { headers: { cookie: dave.cookie } });
      expect(expired.status).toBe(401);
      expect((await expired.json()).error.message).toContain('expired');
      expect((await fetch(`${gw()}${PREFIX}/console/session`, { headers: { cookie: dave.cookie } })).status).toBe(401);
    } finally {
      stack.clock.now -= 60 * 60_000 + 1;
    }
    const erin2 = await signIn(stack, 'dave');
    const out = await fetch(`${gw()}${PREFIX}/console/logout`, { method: 'POST', headers: { cookie: erin2.cookie, 'x-csrf-token': erin2.csrf! } });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().find((c) => c.startsWith('apg_session='))).toMatch(/Max-Age=0/);
    expect((await fetch(`${gw()}${PREFIX}/api/privacy/groups`, { headers: { cookie: erin2.cookie } })).status).toBe(401);
  });
});

describe('console settings', () => {
  test('no console section: nothing under /console', async () => {
    const s = await startDemoStack();
    try {
      expect((await fetch(`${s.gw.url}${PREFIX}/console/`)).status).toBe(404);
      expect((await fetch(`${s.gw.url}${PREFIX}/console/login`)).status).toBe(404);
    } finally {
      await s.close();
    }
  });

  test('the activity log call reaches the upstream without the cookie or the CSRF token; serviceAuthorization replaces Authorization', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const upstream = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: [], total: 0 }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const s = await startConsoleStack({ upstream: { url, timeoutMs: 5000, serviceAuthorization: 'Bearer service-credential' } });
    try {
      const alice = await signIn(s, 'alice');
      const r = await fetch(`${s.gw.url}${PREFIX}/console/activities?skip=0&limit=5`, {
        headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf!, 'x-show-private-activities': 'confirm' },
      });
      expect(r.status).toBe(200);
      expect(seen).toHaveLength(1);
      expect(seen[0].cookie).toBeUndefined();
      expect(seen[0]['x-csrf-token']).toBeUndefined();
      expect(seen[0]['x-show-private-activities']).toBeUndefined();
      expect(seen[0].authorization).toBe('Bearer service-credential');
    } finally {
      await s.close();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });

  test('with reveal.requireReason the console tells the app, and a console reveal without a reason is 400 reason_required', async () => {
    const s = await startConsoleStack({ reveal: { requireReason: true, minReasonLength: 10 } });
    try {
      const alice = await signIn(s, 'alice');
      const info = await (await fetch(`${s.gw.url}${PREFIX}/console/session`, { headers: { cookie: alice.cookie } })).json();
      expect(info.reveal).toMatchObject({ requireReason: true, minReasonLength: 10, reasonHeader: 'x-reveal-reason', approval: false });
      // no privacy.adminGroups: the console must not claim that only admins can be given the permission (v3)
      expect(info.adminMembershipChecked).toBe(false);
      // issue 24: the reveal window, the permission facts and the filter names (none configured here)
      expect(info.reveal.windowMin).toBe(10);
      expect(info.permission).toEqual({ canReveal: true });
      expect(info.filters).toEqual({ user: null, since: null, until: null });
      const dave = await signIn(s, 'dave');
      const daveInfo = await (await fetch(`${s.gw.url}${PREFIX}/console/session`, { headers: { cookie: dave.cookie } })).json();
      expect(daveInfo.permission).toMatchObject({ canReveal: false, why: 'not_permitted' });
      const url = `${s.gw.url}${PREFIX}/console/activities?limit=5`;
      const headers = { cookie: alice.cookie, 'x-csrf-token': alice.csrf!, 'x-show-private-activities': 'confirm' };
      const without = await fetch(url, { headers });
      expect(without.status).toBe(400);
      expect((await without.json()).error.code).toBe('reason_required');
      const withReason = await fetch(url, { headers: { ...headers, 'x-reveal-reason': 'Pr%C3%BCfung case 4711' } });
      expect(withReason.status).toBe(200);
      const entry = (await s.gw.governance.read({ afterSeq: 0, limit: 100 })).entries.find((e) => e.id === withReason.headers.get('x-governance-entry'));
      expect(entry).toMatchObject({ via: 'console', reason: 'Prüfung case 4711' });
    } finally {
      await s.close();
    }
  });

  test('an unreachable identity provider: sign-in answers 503 and says so', async () => {
    const dead = http.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const s = await startDemoStack({ console: { oidc: { issuer, clientId: 'apg-console' } } });
    try {
      const r = await fetch(`${s.gw.url}${PREFIX}/console/login`, { redirect: 'manual' });
      expect(r.status).toBe(503);
      SECURITY_HEADERS(r.headers);
      expect(await r.text()).toContain('identity provider cannot be reached');
    } finally {
      await s.close();
    }
  });

  test("attacker: a forged Host header never becomes the redirect URI (v3: the gateway's own address without publicUrl)", async () => {
    const s = await startConsoleStack();
    try {
      const { port } = new URL(s.gw.url);
      const location = await new Promise<string>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: `${PREFIX}/console/login`, headers: { host: 'evil.example:443' } }, (res) => {
          res.resume();
          resolve(String(res.headers.location ?? ''));
        });
        req.on('error', reject);
        req.end();
      });
      expect(new URL(location).searchParams.get('redirect_uri')).toBe(`http://127.0.0.1:${port}${PREFIX}/console/callback`);
      expect(location).not.toContain('evil.example');
    } finally {
      await s.close();
    }
  });

  test('publicUrl https: the redirect URI comes from it and the cookies are Secure', async () => {
    const s = await startConsoleStack({}, { publicUrl: 'https://gw.contoso.example' });
    try {
      const r = await fetch(`${s.gw.url}${PREFIX}/console/login`, { redirect: 'manual' });
      expect(r.status).toBe(302);
      expect(new URL(r.headers.get('location')!).searchParams.get('redirect_uri')).toBe(`https://gw.contoso.example${PREFIX}/console/callback`);
      expect(r.headers.getSetCookie()[0]).toMatch(/; Secure/);
    } finally {
      await s.close();
    }
  });
});
