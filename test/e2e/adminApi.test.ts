/**
 * Admin API (SPEC §7) over real sockets: every status code, the governance entry of
 * every change (checked with the independent chain verifier), add/remove time
 * semantics through real list requests, permission grant/revoke effect on reveal,
 * persistence across a restart, concurrent changes, readiness on a full governance
 * disk and metrics hygiene.
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, open, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, stateSeed, type Gateway } from '../../src/gateway.js';
import { openFileSink } from '../../src/governance/fileSink.js';
import { createLogger } from '../../src/log.js';
import { openFileStateStore } from '../../src/state/fileStore.js';
import { verifyChainFile } from '../helpers/chainVerifier.js';
import { demoLikeConfig, get, startTestGateway, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const ACT = (id: string, timestamp: number | string, actor: string) => ({ _id: id, timestamp, user: { userName: actor }, description: `activity ${id}` });

/** An upstream whose list page is whatever the test sets, so timestamps can be computed around admin changes. */
async function fakeUpstream() {
  const state = { activities: [] as unknown[] };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ data: state.activities, total: state.activities.length, hasNext: false });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('admin API over real sockets', () => {
  let idp: TestIdp;
  let key: TestKey;
  let up: Awaited<ReturnType<typeof fakeUpstream>>;
  let gw: Gateway;
  let dir: string;
  let cleanup: () => Promise<void>;
  let admin: string; // alice: admin role, permitted
  let dave: string; // admin role, not permitted
  let erin: string; // valid token, no admin role

  const token = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, jti: `jti-${Math.random()}`, ...claims });
  };
  const api = (p: string) => `${gw.url}/_gateway/api/${p}`;
  const call = (method: string, p: string, opts: { token?: string; body?: string | object; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    return get(api(p), { method, headers, body });
  };
  const chain = () => verifyChainFile(path.join(dir, 'governance.jsonl'));
  const lastEntry = () => chain().entries.at(-1) as any;

  beforeAll(async () => {
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    up = await fakeUpstream();
    ({ dir, cleanup } = await tempDir('apg-admin-'));
    gw = await startTestGateway(
      demoLikeConfig(up.url, dir, {
        identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
        directory: {
          groups: { hr: ['bob@contoso.com'], finance: ['frank@contoso.com'], ops: ['olga@contoso.com'] },
          // the catalogue (SPEC §9): ids these tests make private
          knownGroups: [{ id: 'sales', name: 'Sales' }, { id: 'same' }, ...Array.from({ length: 20 }, (_, i) => ({ id: `conc-${i}` }))],
        },
      }),
    );
    admin = await token({ upn: 'Alice@Contoso.com', roles: ['SecurityAdministrator'] });
    dave = await token({ upn: 'dave@contoso.com', roles: ['GlobalAdministrator'] });
    erin = await token({ upn: 'erin@contoso.com', roles: ['Reader'] });
  });
  afterAll(async () => {
    await gw?.close(1000);
    await up?.close();
    await idp?.close();
    await cleanup?.();
  });

  it('healthz, readyz and metrics need no token', async () => {
    const h = await get(`${gw.url}/_gateway/healthz`);
    expect(h.status).toBe(200);
    expect(h.json()).toEqual({ status: 'ok' });
    const r = await get(`${gw.url}/_gateway/readyz`);
    expect(r.status).toBe(200);
    expect(r.json().checks).toMatchObject({ config: true, state: true, governance: true, identity: true });
    const m = await get(`${gw.url}/_gateway/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toMatch(/text\/plain/);
    expect(m.text).toContain('apg_requests_total');
  });

  it('401 with WWW-Authenticate: Bearer without a valid token, 403 forbidden for a non-admin', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic YTpi' }] as Array<Record<string, string>>) {
      for (const [m, p] of [
        ['GET', 'privacy/groups'],
        ['POST', 'privacy/groups'],
        ['DELETE', 'privacy/groups/hr'],
        ['GET', 'governance'],
      ]) {
        const r = await call(m, p, { headers, body: m === 'POST' ? { id: 'x' } : undefined });
        expect(r.status, `${m} ${p}`).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
        expect(r.json().error).toMatchObject({ code: 'unauthenticated', requestId: expect.any(String) });
      }
    }
    const before = chain().count;
    for (const [m, p] of [
      ['GET', 'privacy/groups'],
      ['POST', 'privacy/groups'],
      ['DELETE', 'privacy/groups/hr'],
      ['GET', 'privacy/permissions'],
      ['GET', 'governance/verify'],
    ]) {
      const r = await call(m, p, { token: erin, body: m === 'POST' ? { id: 'x' } : undefined });
      expect(r.status, `${m} ${p}`).toBe(403);
      expect(r.json().error.code).toBe('forbidden');
    }
    expect(chain().count).toBe(before);
    expect((await call('GET', 'privacy/groups', { token: erin })).text).not.toContain('Human Resources');
  });

  it('GET groups: seeded history with ISO times and privateUntil null when open', async () => {
    const r = await call('GET', 'privacy/groups', { token: admin });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({
      groups: expect.arrayContaining([
        { id: 'hr', name: 'Human Resources', privateSince: '2026-03-01T00:00:00.000Z', privateUntil: null, mode: 'hide' },
        { id: 'legal', name: 'Legal', privateSince: '2026-02-01T00:00:00.000Z', privateUntil: '2026-05-01T00:00:00.000Z', mode: 'hide' },
        { id: 'builtin:external-users', name: 'External users', privateSince: '2026-06-01T00:00:00.000Z', privateUntil: null, mode: 'hide' },
      ]),
    });
    expect(r.json().groups).toHaveLength(3);
  });

  it('POST groups: 201 with its entry, 409 when already private, 400 for bad bodies', async () => {
    const t0 = Date.now();
    const r = await call('POST', 'privacy/groups', { token: admin, body: { id: 'sales', name: 'Sales' }, headers: { 'x-request-id': 'req-add-sales' } });
    expect(r.status).toBe(201);
    const g = r.json();
    expect(g).toEqual({
      id: 'sales',
      name: 'Sales',
      privateSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      privateUntil: null,
      mode: 'hide',
    });
    expect(Date.parse(g.privateSince)).toBeGreaterThanOrEqual(t0 - 5);
    const c = chain();
    expect(c.ok).toBe(true);
    const e = c.entries.at(-1) as any;
    expect(e).toMatchObject({ action: 'privacy-group.added', principal: 'alice@contoso.com', via: 'admin-api', target: 'sales', instance: 'test' });
    expect(e.request).toMatchObject({ id: 'req-add-sales', method: 'POST', path: '/_gateway/api/privacy/groups' });
    expect(e.privateActivities).toBeUndefined();

    const dup = await call('POST', 'privacy/groups', { token: admin, body: { id: 'sales' } });
    expect(dup.status).toBe(409);
    expect(dup.json().error.code).toBe('conflict');
    const hr = await call('POST', 'privacy/groups', { token: admin, body: { id: 'hr' } });
    expect(hr.status).toBe(409);

    const before = chain().count;
    const bad: Array<[string, string | object, Record<string, string>?]> = [
      ['not JSON', '{"id": "x"', undefined],
      ['plain text', 'id=x', { 'content-type': 'text/plain' }],
      ['missing id', { name: 'No id' }],
      ['empty id', { id: '' }],
      ['unknown key', { id: 'x', colour: 'red' }],
      ['id not a string', { id: 42 }],
      ['name not a string', { id: 'x', name: ['a'] }],
      ['array', [{ id: 'x' }]],
      ['null', 'null'],
      ['empty body', ''],
    ];
    for (const [what, body, headers] of bad) {
      const b = await call('POST', 'privacy/groups', { token: admin, body, headers });
      expect(b.status, what).toBe(400);
      expect(b.json().error, what).toMatchObject({ code: 'bad_request', message: expect.any(String), requestId: expect.any(String) });
    }
    expect(chain().count).toBe(before);
    expect((await call('GET', 'privacy/groups', { token: admin })).json().groups.some((x: any) => x.id === 'x')).toBe(false);
  });

  it('DELETE groups: 204 with its entry, 404 when not private; history kept and shown', async () => {
    const d = await call('DELETE', 'privacy/groups/sales', { token: admin });
    expect(d.status).toBe(204);
    expect(d.text).toBe('');
    expect(lastEntry()).toMatchObject({ action: 'privacy-group.removed', principal: 'alice@contoso.com', via: 'admin-api', target: 'sales' });
    const before = chain().count;
    for (const id of ['sales', 'nope', 'legal']) {
      const r = await call('DELETE', `privacy/groups/${id}`, { token: admin });
      expect(r.status, id).toBe(404);
      expect(r.json().error.code).toBe('not_found');
    }
    expect(chain().count).toBe(before);
    // built-in group ids (with a colon) work as path parameters
    expect((await call('DELETE', 'privacy/groups/builtin:external-users', { token: admin })).status).toBe(204);
    expect(lastEntry()).toMatchObject({ action: 'privacy-group.removed', target: 'builtin:external-users' });
    // an unknown admin endpoint is a JSON 404
    const unknown = await call('GET', 'privacy/nothing-here', { token: admin });
    expect(unknown.status).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');
    // made private again: a second interval, the first one kept
    expect((await call('POST', 'privacy/groups', { token: admin, body: { id: 'sales' } })).status).toBe(201);
    const sales = (await call('GET', 'privacy/groups', { token: admin })).json().groups.filter((x: any) => x.id === 'sales');
    expect(sales).toHaveLength(2);
    expect(sales[0].privateUntil).toEqual(expect.any(String));
    expect(Date.parse(sales[0].privateUntil)).toBeGreaterThanOrEqual(Date.parse(sales[0].privateSince));
    expect(sales[1].privateUntil).toBeNull();
    expect(chain().ok).toBe(true);
  });

  it('permissions: GET, POST 201/409/400, DELETE 204/404, case-insensitive, each change governed', async () => {
    const g = await call('GET', 'privacy/permissions', { token: admin });
    expect(g.status).toBe(200);
    expect(g.json().permissions).toEqual([{ principal: 'alice@contoso.com', grantedAt: expect.any(String), grantedBy: expect.any(String) }]);

    const p = await call('POST', 'privacy/permissions', { token: admin, body: { principal: 'Grace@Contoso.COM' } });
    expect(p.status).toBe(201);
    // no privacy.adminGroups here: nothing can tell whether grace is an admin, and the answer says so (v3)
    expect(p.json()).toEqual({ principal: 'grace@contoso.com', grantedAt: expect.any(String), grantedBy: 'alice@contoso.com', adminChecked: false });
    expect(Number.isNaN(Date.parse(p.json().grantedAt))).toBe(false);
    expect(lastEntry()).toMatchObject({ action: 'reveal-permission.granted', principal: 'alice@contoso.com', via: 'admin-api', target: 'grace@contoso.com' });

    const before = chain().count;
    const dup = await call('POST', 'privacy/permissions', { token: admin, body: { principal: 'grace@CONTOSO.com' } });
    expect(dup.status).toBe(409);
    expect(dup.json().error.code).toBe('conflict');
    for (const body of [
      { principal: 'grace' },
      { principal: 'not an email@x.com' },
      { principal: '' },
      { principal: 'a@b' },
      { principal: 7 },
      {},
      { principal: 'h@contoso.com', extra: 1 },
      'nope',
    ]) {
      const r = await call('POST', 'privacy/permissions', { token: admin, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json().error.code).toBe('bad_request');
    }
    expect(chain().count).toBe(before);
    expect(
      (await call('GET', 'privacy/permissions', { token: admin }))
        .json()
        .permissions.map((x: any) => x.principal)
        .sort(),
    ).toEqual(['alice@contoso.com', 'grace@contoso.com']);

    const d = await call('DELETE', 'privacy/permissions/GRACE@contoso.com', { token: admin });
    expect(d.status).toBe(204);
    expect(lastEntry()).toMatchObject({ action: 'reveal-permission.revoked', principal: 'alice@contoso.com', via: 'admin-api', target: 'grace@contoso.com' });
    const again = await call('DELETE', 'privacy/permissions/grace%40contoso.com', { token: admin });
    expect(again.status).toBe(404);
    expect(again.json().error.code).toBe('not_found');
    expect(chain().ok).toBe(true);
  });

  it('unknown keys in a body are 400 bad_request naming the key; nothing changes', async () => {
    const before = chain().count;
    for (const [p, body, key] of [
      ['privacy/permissions', { principal: 'henry@contoso.com', user: 'henry@contoso.com' }, 'user'],
      ['privacy/permissions', { principal: 'henry@contoso.com', expiresAtt: '2030-01-01T00:00:00Z' }, 'expiresAtt'],
      ['privacy/groups', { id: 'sales', nmae: 'Sales' }, 'nmae'],
    ] as const) {
      const r = await call('POST', p, { token: admin, body });
      expect(r.status, key).toBe(400);
      expect(r.json().error.code, key).toBe('bad_request');
      expect(r.json().error.message, key).toContain(`"${key}"`);
    }
    expect(chain().count).toBe(before);
    expect((await call('GET', 'privacy/permissions', { token: admin })).json().permissions.some((x: any) => x.principal === 'henry@contoso.com')).toBe(false);
  });

  it('GET governance with afterSeq, limit and action; 400 for bad values; verify', async () => {
    const all = chain();
    expect(all.count).toBeGreaterThanOrEqual(5);
    const r = await call('GET', 'governance?afterSeq=1&limit=2', { token: admin });
    expect(r.status).toBe(200);
    const j = r.json();
    expect(j.entries.map((e: any) => e.seq)).toEqual([2, 3]);
    expect(j.nextAfterSeq).toBe(3);
    expect(j.entries[0].hash).toBe((all.entries[1] as any).hash);
    const rest = (await call('GET', `governance?afterSeq=${j.nextAfterSeq}&limit=1000`, { token: admin })).json();
    expect(rest.entries.map((e: any) => e.seq)).toEqual(all.entries.slice(3).map((e: any) => e.seq));
    const removed = (await call('GET', 'governance?action=privacy-group.removed', { token: admin })).json();
    expect(removed.entries.length).toBeGreaterThan(0);
    expect(removed.entries.every((e: any) => e.action === 'privacy-group.removed')).toBe(true);
    expect(removed.entries.length).toBe(all.entries.filter((e: any) => e.action === 'privacy-group.removed').length);

    for (const q of ['afterSeq=-1', 'afterSeq=abc', 'afterSeq=1.5', 'limit=0', 'limit=1001', 'limit=x', 'action=bogus', 'action=private-activities']) {
      const b = await call('GET', `governance?${q}`, { token: admin });
      expect(b.status, q).toBe(400);
      expect(b.json().error.code).toBe('bad_request');
    }
    const v = await call('GET', 'governance/verify', { token: admin });
    expect(v.status).toBe(200);
    expect(v.json()).toEqual({ ok: true, count: chain().count });
  });

  it('add/remove time semantics through real list requests', async () => {
    const ids = (r: { json: () => any }) =>
      r
        .json()
        .data.map((a: any) => a._id)
        .sort();
    // before the add, finance is not private at all
    const t = Date.now();
    up.state.activities = [ACT('f-early', t - 60_000, 'frank@contoso.com'), ACT('f-later', t + 3_600_000, 'frank@contoso.com')];
    expect(ids(await get(`${gw.url}/api/v1/activities/`))).toEqual(['f-early', 'f-later']);

    const add = await call('POST', 'privacy/groups', { token: admin, body: { id: 'finance', name: 'Finance' } });
    expect(add.status).toBe(201);
    const since = Date.parse(add.json().privateSince);
    up.state.activities = [
      ACT('before', since - 1, 'frank@contoso.com'),
      ACT('at-since', since, 'frank@contoso.com'),
      ACT('after', since + 1000, 'Frank@Contoso.com'),
      ACT('after-iso', new Date(since + 2000).toISOString(), 'frank@contoso.com'),
      ACT('other', since + 1000, 'zoe@contoso.com'),
    ];
    const r1 = await get(`${gw.url}/api/v1/activities/`);
    expect(ids(r1)).toEqual(['before', 'other']);
    expect(r1.json().total).toBe(2);

    await new Promise((r) => setTimeout(r, 20)); // so privateUntil > privateSince by a visible margin
    expect((await call('DELETE', 'privacy/groups/finance', { token: admin })).status).toBe(204);
    const interval = (await call('GET', 'privacy/groups', { token: admin })).json().groups.find((g: any) => g.id === 'finance');
    expect(interval.privateSince).toBe(add.json().privateSince);
    const until = Date.parse(interval.privateUntil);
    expect(until).toBeGreaterThan(since);
    up.state.activities = [
      ACT('before', since - 1, 'frank@contoso.com'),
      ACT('at-since', since, 'frank@contoso.com'),
      ACT('inside', until - 1, 'frank@contoso.com'),
      ACT('at-until', until, 'frank@contoso.com'),
      ACT('after-until', until + 5000, 'frank@contoso.com'),
    ];
    expect(ids(await get(`${gw.url}/api/v1/activities/`))).toEqual(['after-until', 'at-until', 'before']);
  });

  it('grant via the API lets that admin reveal; revoke turns it into 403', async () => {
    up.state.activities = [ACT('hr-1', Date.parse('2026-04-01T00:00:00Z'), 'bob@contoso.com')];
    const reveal = () => get(`${gw.url}/api/v1/activities/`, { headers: { authorization: `Bearer ${dave}`, 'x-show-private-activities': 'confirm' } });
    const no = await reveal();
    expect(no.status).toBe(403);
    expect(no.json().error.code).toBe('reveal_forbidden');

    expect((await call('POST', 'privacy/permissions', { token: admin, body: { principal: 'dave@contoso.com' } })).status).toBe(201);
    const yes = await reveal();
    expect(yes.status).toBe(200);
    expect(yes.json().data.map((a: any) => a._id)).toEqual(['hr-1']);
    expect(yes.headers.get('x-private-activities')).toBe('shown');
    const e = chain().entries.find((x: any) => x.id === yes.headers.get('x-governance-entry')) as any;
    expect(e).toMatchObject({ action: 'private-activities.viewed', principal: 'dave@contoso.com', privateActivities: { count: 1, ids: ['hr-1'] } });

    expect((await call('DELETE', 'privacy/permissions/dave@contoso.com', { token: admin })).status).toBe(204);
    const again = await reveal();
    expect(again.status).toBe(403);
    expect(again.text).not.toContain('hr-1');
    // ordinary consumers never saw it
    expect((await get(`${gw.url}/api/v1/activities/`)).json().data).toEqual([]);
  });

  it('20 concurrent adds of distinct groups all succeed, each with one entry', async () => {
    const before = chain().count;
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => call('POST', 'privacy/groups', { token: admin, body: { id: `conc-${i}` } })));
    expect(rs.map((r) => r.status)).toEqual(Array(20).fill(201));
    const c = chain();
    expect(c.ok).toBe(true);
    const added = c.entries.slice(before);
    expect(added).toHaveLength(20);
    expect(added.map((e: any) => e.target).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `conc-${i}`).sort());
    const groups = (await call('GET', 'privacy/groups', { token: admin })).json().groups;
    expect(groups.filter((g: any) => g.id.startsWith('conc-') && g.privateUntil === null)).toHaveLength(20);
  });

  it('10 concurrent adds of the same group: exactly one 201 and nine 409', async () => {
    const before = chain().count;
    const rs = await Promise.all(Array.from({ length: 10 }, () => call('POST', 'privacy/groups', { token: admin, body: { id: 'same' } })));
    const statuses = rs.map((r) => r.status).sort();
    expect(statuses).toEqual([201, ...Array(9).fill(409)]);
    const c = chain();
    expect(c.count).toBe(before + 1);
    expect(c.entries.at(-1)).toMatchObject({ action: 'privacy-group.added', target: 'same' });
    expect((await call('GET', 'privacy/groups', { token: admin })).json().groups.filter((g: any) => g.id === 'same')).toHaveLength(1);
  });

  it('metrics after traffic: the expected families and no personal data', async () => {
    up.state.activities = [
      ACT('hr-metric-1', Date.parse('2026-04-01T00:00:00Z'), 'bob@contoso.com'),
      ACT('pub-metric-1', Date.parse('2026-04-01T00:00:00Z'), 'zoe@contoso.com'),
    ];
    await get(`${gw.url}/api/v1/activities/`);
    await get(`${gw.url}/api/v1/activities/hr-metric-1/`);
    await get(`${gw.url}/api/v1/activities/`, { headers: { authorization: `Bearer ${admin}`, 'x-show-private-activities': 'confirm' } });
    await get(`${gw.url}/api/v1/activities/`, { headers: { authorization: `Bearer ${dave}`, 'x-show-private-activities': 'confirm' } });
    await get(`${gw.url}/api/v1/activities%2Fx/`);
    const m = (await get(`${gw.url}/_gateway/metrics`)).text;
    expect(m).toMatch(/^apg_requests_total\{[^}]*kind="list"[^}]*status="200"[^}]*\} \d+/m);
    expect(m).toMatch(/^apg_activities_removed_total\{kind="list"\} [1-9]\d*/m);
    expect(m).toMatch(/^apg_reveals_total\{outcome="granted"\} [1-9]/m);
    expect(m).toMatch(/^apg_reveals_total\{outcome="forbidden"\} [1-9]/m);
    expect(m).toMatch(/^apg_governance_write_seconds_bucket\{le="[^"]+"\} \d+/m);
    expect(m).toMatch(/^apg_governance_write_seconds_count [1-9]/m);
    expect(m).toMatch(/^apg_path_rejections_total\{/m);
    for (const secret of ['alice', 'dave', 'bob', 'contoso', '@', 'hr-metric-1', 'pub-metric-1', 'hr-1', '/api/v1/activities/']) {
      expect(m, secret).not.toContain(secret);
    }
  });
});

describe('persistence across a restart (file state store)', () => {
  it('groups, permissions and the governance seq survive closing and reopening on the same files', async () => {
    const key = await generateTestKey('ES256');
    const idp = await startIdp([key]);
    const { dir, cleanup } = await tempDir('apg-restart-');
    const now = Math.floor(Date.now() / 1000);
    const t = await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    const cfg = demoLikeConfig('http://127.0.0.1:9', dir, {
      identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
      directory: { groups: { hr: ['bob@contoso.com'] }, knownGroups: [{ id: 'persist' }, { id: 'after-restart' }] },
    });
    const h = { authorization: `Bearer ${t}`, 'content-type': 'application/json' };
    let gw = await startTestGateway(cfg);
    try {
      const base = () => `${gw.url}/_gateway/api`;
      expect((await get(`${base()}/privacy/groups`, { method: 'POST', headers: h, body: '{"id":"persist","name":"Persisted"}' })).status).toBe(201);
      expect((await get(`${base()}/privacy/groups/legal`, { method: 'DELETE', headers: h })).status).toBe(404);
      expect((await get(`${base()}/privacy/groups/hr`, { method: 'DELETE', headers: h })).status).toBe(204);
      expect((await get(`${base()}/privacy/permissions`, { method: 'POST', headers: h, body: '{"principal":"ivan@contoso.com"}' })).status).toBe(201);
      expect((await get(`${base()}/privacy/permissions/alice@contoso.com`, { method: 'DELETE', headers: h })).status).toBe(204);
      const groups = (await get(`${base()}/privacy/groups`, { headers: h })).json();
      const perms = (await get(`${base()}/privacy/permissions`, { headers: h })).json();
      await gw.close(1000);

      // the config still seeds hr/legal and alice: the store must not be re-seeded
      gw = await startTestGateway(cfg);
      expect((await get(`${base()}/privacy/groups`, { headers: h })).json()).toEqual(groups);
      expect((await get(`${base()}/privacy/permissions`, { headers: h })).json()).toEqual(perms);
      expect(groups.groups.find((g: any) => g.id === 'hr').privateUntil).not.toBeNull();
      expect(perms.permissions.map((p: any) => p.principal)).toEqual(['ivan@contoso.com']);
      // alice lost the permission but is still an admin: a new change continues the chain
      expect((await get(`${base()}/privacy/groups`, { method: 'POST', headers: h, body: '{"id":"after-restart"}' })).status).toBe(201);
      const c = verifyChainFile(path.join(dir, 'governance.jsonl'));
      expect(c.ok).toBe(true);
      expect(c.entries.map((e: any) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((c.entries[4] as any).target).toBe('after-restart');
      expect((await get(`${base()}/governance/verify`, { headers: h })).json()).toEqual({ ok: true, count: 5 });
    } finally {
      await gw.close(1000);
      await idp.close();
      await cleanup();
    }
  });
});

describe('a state store that cannot take the change', () => {
  it('answers 503 state_unavailable (JSON, X-Request-Id) and applies nothing', async () => {
    const key = await generateTestKey('ES256');
    const idp = await startIdp([key]);
    const { dir, cleanup } = await tempDir('apg-stateaway-');
    const now = Math.floor(Date.now() / 1000);
    const t = await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    const gw = await startTestGateway(
      demoLikeConfig('http://127.0.0.1:9', dir, {
        identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
        directory: { groups: { hr: ['bob@contoso.com'] }, knownGroups: [{ id: 'ops' }] },
      }),
    );
    try {
      const h = { authorization: `Bearer ${t}`, 'content-type': 'application/json', 'x-request-id': 'state-away-1' };
      const base = `${gw.url}/_gateway/api`;
      const before = (await get(`${base}/privacy/groups`, { headers: h })).json();
      // the state file's place is taken by a directory: the atomic rename of every write fails
      const stateFile = path.join(dir, 'state.json');
      await unlink(stateFile);
      await mkdir(path.join(stateFile, 'blocker'), { recursive: true });
      for (const [method, p, body] of [
        ['POST', 'privacy/groups', '{"id":"ops"}'],
        ['DELETE', 'privacy/groups/hr', undefined],
        ['POST', 'privacy/permissions', '{"principal":"ivan@contoso.com"}'],
      ] as const) {
        const r = await get(`${base}/${p}`, { method, headers: h, body });
        expect(r.status, `${method} ${p}`).toBe(503);
        expect(r.headers.get('x-request-id')).toBe('state-away-1');
        expect(r.headers.get('content-type')).toMatch(/^application\/json/);
        expect(r.json().error).toEqual({ code: 'state_unavailable', message: expect.any(String), requestId: 'state-away-1' });
      }
      // v3: the log never says a change happened when it did not — alice's revoke fails too
      const revoke = await get(`${base}/privacy/permissions/alice%40contoso.com`, { method: 'DELETE', headers: h });
      expect(revoke.status).toBe(503);
      expect((await get(`${base}/privacy/groups`, { headers: h })).json()).toEqual(before);
      expect((await get(`${base}/privacy/permissions`, { headers: h })).json().permissions.map((p: any) => p.principal)).toEqual(['alice@contoso.com']);
      const entries = (await get(`${base}/governance?limit=100`, { headers: h })).json().entries as any[];
      const changes = entries.filter((e) => e.action !== 'privacy-change.failed');
      expect(changes.map((e) => e.action)).toEqual(['privacy-group.added', 'privacy-group.removed', 'reveal-permission.granted', 'reveal-permission.revoked']);
      for (const change of changes) {
        const failed = entries.find((e) => e.action === 'privacy-change.failed' && e.target === change.id);
        expect(failed, change.action).toMatchObject({ principal: 'alice@contoso.com', via: 'admin-api', request: { id: 'state-away-1' } });
        expect(failed.seq).toBe(change.seq + 1);
      }
    } finally {
      await gw.close(1000);
      await idp.close();
      await cleanup();
    }
  });
});

describe('readiness while the governance disk is full (tmpfs)', () => {
  let mountDir = '';
  let mounted = false;
  let skipReason = '';

  beforeAll(async () => {
    mountDir = await mkdtemp(path.join(os.tmpdir(), 'apg-ready-tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountDir], { stdio: 'pipe' });
      mounted = true;
    } catch (err) {
      skipReason = `cannot mount a tmpfs here (needs root): ${String((err as Error).message).split('\n')[0]}`;
      console.warn(`[adminApi] SKIPPED readiness-on-full-disk test: ${skipReason}`);
    }
  });
  afterAll(async () => {
    if (mounted) execFileSync('umount', [mountDir], { stdio: 'pipe' });
    await rm(mountDir, { recursive: true, force: true });
  });

  it('readyz 503 while the sink fails, a reveal is 503 governance_unavailable without private data, 200 again after recovery', async (ctx) => {
    if (!mounted) ctx.skip(skipReason);
    const key = await generateTestKey('ES256');
    const idp = await startIdp([key]);
    const up = await fakeUpstream();
    const { dir, cleanup } = await tempDir('apg-ready-');
    const config = validConfig(demoLikeConfig(up.url, dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } }));
    // real stores; the governance file lives on the small tmpfs
    const govFile = path.join(mountDir, 'governance.jsonl');
    const stores = {
      state: await openFileStateStore(path.join(dir, 'state.json'), stateSeed(config)),
      governance: await openFileSink({ file: govFile, instance: 'test', probeIntervalMs: 100 }),
    };
    const gw = await startGateway(config, { port: 0, host: '127.0.0.1', instance: 'test', logger: createLogger('error', 'test'), stores });
    const now = Math.floor(Date.now() / 1000);
    const t = await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    const secretId = 'hr-secret-activity-0001';
    // ~9 KB per governance entry (200 ids): it always needs fresh pages, so it cannot fit in the log's last partly-used page
    up.state.activities = [
      ACT(secretId, Date.parse('2026-04-01T00:00:00Z'), 'bob@contoso.com'),
      ...Array.from({ length: 200 }, (_, i) => ACT(`hr-filler-${String(i).padStart(30, '0')}`, Date.parse('2026-04-01T00:00:00Z'), 'bob@contoso.com')),
    ];
    const reveal = () => get(`${gw.url}/api/v1/activities/`, { headers: { authorization: `Bearer ${t}`, 'x-show-private-activities': 'confirm' } });
    try {
      expect((await get(`${gw.url}/_gateway/readyz`)).status).toBe(200);
      expect((await reveal()).status).toBe(200);

      // fill the disk
      const filler = path.join(mountDir, 'filler');
      const fh = await open(filler, 'w');
      try {
        for (;;) await fh.write(Buffer.alloc(4096, 1));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      } finally {
        await fh.close();
      }

      const r = await reveal();
      expect(r.status).toBe(503);
      expect(r.json().error.code).toBe('governance_unavailable');
      expect(r.text).not.toContain(secretId);
      expect(r.text).not.toContain('bob@');
      expect(r.headers.get('x-private-activities')).toBeNull();
      const nr = await get(`${gw.url}/_gateway/readyz`);
      expect(nr.status).toBe(503);
      expect(nr.json().checks.governance).toBe(false);
      // ordinary traffic is still served, filtered
      const o = await get(`${gw.url}/api/v1/activities/`);
      expect(o.status).toBe(200);
      expect(o.text).not.toContain(secretId);

      await unlink(filler);
      let ready = 0;
      for (let i = 0; i < 100 && ready !== 200; i++) {
        await new Promise((res) => setTimeout(res, 50));
        ready = (await get(`${gw.url}/_gateway/readyz`)).status;
      }
      expect(ready).toBe(200);
      const ok = await reveal();
      expect(ok.status).toBe(200);
      expect(ok.text).toContain(secretId);
      expect(verifyChainFile(govFile)).toMatchObject({ ok: true, count: 2 });
    } finally {
      await gw.close(1000);
      await up.close();
      await idp.close();
      await cleanup();
    }
  });
});

describe('readiness follows the JWKS', () => {
  it('readyz is 503 while the identity provider cannot be reached (nothing cached), 200 once it answers', async () => {
    const key = await generateTestKey('ES256');
    const idp = await startIdp([key]);
    await idp.stop();
    const { dir, cleanup } = await tempDir('apg-ready-jwks-');
    const gw = await startTestGateway(demoLikeConfig('http://127.0.0.1:9', dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } }));
    try {
      const down = await get(`${gw.url}/_gateway/readyz`);
      expect(down.status).toBe(503);
      expect(down.json().checks).toMatchObject({ config: true, state: true, governance: true, identity: false });
      expect((await get(`${gw.url}/_gateway/healthz`)).status).toBe(200); // alive all the same
      await idp.start();
      const up = await get(`${gw.url}/_gateway/readyz`);
      expect(up.status).toBe(200);
      expect(up.json().checks.identity).toBe(true);
    } finally {
      await gw.close(1000);
      await idp.close();
      await cleanup();
    }
  });
});
