/**
 * SPEC §9 and §10 (separation of duties) through a real gateway, against a real OpenLDAP
 * slapd (StartTLS with a test CA) and a local HTTPS double of Entra ID / Graph:
 * membership from LDAP (nested) decides privacy, a change made with ldapmodify shows within
 * ttlSec (the directory clock is injected), a stopped slapd fails closed (stale answers
 * within staleSec), the group catalogue, and the admin API's checked choices — each refused
 * call leaves the state and the governance log unchanged.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldapSource } from '../../src/directory/ldap.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { verifyChainFile } from '../helpers/chainVerifier.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { startGraphDouble, type GraphDouble } from '../helpers/graphDouble.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
import { groupDn, requireSlapd, SERVICE_DN, SERVICE_PW, startSlapd, userDn, type Slapd, contosoLdapOptions } from '../helpers/slapd.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const APRIL = Date.parse('2026-04-01T00:00:00Z');
const ACT = (id: string, actor: string) => ({ _id: id, timestamp: APRIL, user: { userName: actor } });

const enabled = requireSlapd('e2e/directorySources.test.ts');

/** directory.http: answers only with the configured Authorization header; groupsUrl lists the catalogue */
async function httpDirectory() {
  const seen: Array<string | undefined> = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization !== 'Bearer dir-token') return void res.writeHead(401).end();
    if (req.url === '/groups')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ id: 'http-sales', name: 'Sales (HTTP)' }]));
    const m = /^\/users\/([^/]+)\/groups$/.exec(req.url ?? '');
    const p = m ? decodeURIComponent(m[1]) : '';
    if (p === 'hank@contoso.com') return void res.writeHead(200, { 'content-type': 'application/json' }).end('["http-sales"]');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

async function fakeUpstream() {
  const state = { activities: [] as unknown[] };
  const server = http.createServer((req, res) => {
    req.resume();
    const body = JSON.stringify({ data: state.activities, total: state.activities.length });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
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

describe.skipIf(!enabled)('LDAP and Graph directories through the gateway', () => {
  let slapd: Slapd;
  let graph: GraphDouble;
  let hdir: Awaited<ReturnType<typeof httpDirectory>>;
  let idp: TestIdp;
  let key: TestKey;
  let up: Awaited<ReturnType<typeof fakeUpstream>>;
  let gw: Gateway;
  let dir: string;
  let cleanup: () => Promise<void>;
  let t = 1_000_000; // the directory clock (ms)
  const ids = new Map<string, string>();
  const token = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, jti: `j-${Math.random()}`, ...claims });
  };
  let alice: string;
  let noRole: string;
  const call = (method: string, p: string, body?: object, tok = alice) =>
    get(`${gw.url}/_gateway/api/${p}`, {
      method,
      headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const visible = async () => ((await get(`${gw.url}/api/v1/activities/`)).json().data as Array<{ _id: string }>).map((a) => a._id).sort();
  const snapshot = () => ({ chain: verifyChainFile(path.join(dir, 'governance.jsonl')).count, state: JSON.stringify(gw.state.current()) });

  beforeAll(async () => {
    slapd = await startSlapd();
    const lister = ldapSource(contosoLdapOptions(slapd.url));
    for (const g of await lister.listGroups!(AbortSignal.timeout(5000))) ids.set(g.name, g.id);
    lister.close();

    ({ dir, cleanup } = await tempDir('apg-dir-e2e-'));
    graph = await startGraphDouble(slapd.ca); // the same test CA signs both servers' certificates
    graph.groups = [{ id: 'aaaaaaaa-0000-0000-0000-000000000001', displayName: 'Entra Finance' }];
    graph.users = new Map([['gina@contoso.com', ['aaaaaaaa-0000-0000-0000-000000000001']]]);
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    up = await fakeUpstream();
    hdir = await httpDirectory();
    const config = validConfig(
      demoLikeConfig(up.url, dir, {
        identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
        privacy: {
          managedDomains: ['contoso.com'],
          groups: [
            { id: ids.get('staff'), name: 'Staff', privateSince: '2026-03-01T00:00:00Z' }, // bob through hr (nested)
            { id: 'aaaaaaaa-0000-0000-0000-000000000001', privateSince: '2026-03-01T00:00:00Z' }, // gina through Graph
            { id: 'http-sales', privateSince: '2026-03-01T00:00:00Z' }, // hank through the HTTP directory
          ],
          permissions: ['alice@contoso.com'],
          adminGroups: [ids.get('admins'), ids.get('cycle-b')],
        },
        directory: {
          groups: { 'static-team': ['sam@contoso.com'] },
          knownGroups: [{ id: 'tag-vip', name: 'VIP' }],
          ldap: {
            url: [slapd.url],
            bindDN: SERVICE_DN,
            bindPassword: SERVICE_PW,
            startTLS: true,
            tls: { caFile: slapd.ca.caFile },
            userBaseDN: 'ou=people,dc=contoso,dc=com',
            userFilter: '(mail={principal})',
            groupBaseDN: 'ou=groups,dc=contoso,dc=com',
            groupFilter: '(objectClass=groupOfNames)',
            timeoutMs: 1000,
            ttlSec: 60,
            staleSec: 300,
          },
          http: {
            url: `${hdir.base}/users/{principal}/groups`,
            headers: { Authorization: 'Bearer dir-token' },
            groupsUrl: `${hdir.base}/groups`,
            ttlSec: 60,
            staleSec: 300,
          },
          graph: {
            tenantId: graph.tenant,
            clientId: graph.clientId,
            clientSecret: graph.secret,
            authorityHost: graph.authority,
            graphUrl: graph.graphUrl,
            tls: { caFile: slapd.ca.caFile },
            timeoutMs: 2000,
            ttlSec: 60,
            staleSec: 300,
          },
        },
      }),
    );
    gw = await startGateway(config, { port: 0, host: '127.0.0.1', instance: 'test', logger: createLogger('error', 'test'), directoryClock: () => t });
    alice = await token({ upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    noRole = await token({ upn: 'carol@contoso.com', roles: [] });
  }, 60_000);

  afterAll(async () => {
    await gw?.close(1000);
    await up?.close();
    await idp?.close();
    await graph?.close();
    await hdir?.close();
    await slapd?.close();
    await cleanup?.();
  });

  it('LDAP (nested) and Graph membership hide private actors; others are shown', async () => {
    up.state.activities = [
      ACT('b1', 'bob@contoso.com'),
      ACT('c1', 'carol@contoso.com'),
      ACT('g1', 'gina@contoso.com'),
      ACT('h1', 'hank@contoso.com'),
      ACT('n1', 'nobody@contoso.com'),
    ];
    expect(await visible()).toEqual(['c1', 'n1']);
    expect(hdir.seen.length).toBeGreaterThan(0);
    expect(hdir.seen.every((h) => h === 'Bearer dir-token')).toBe(true); // directory.http.headers on every call
  });

  it('a membership change with ldapmodify takes effect within ttlSec (directory clock advanced, no sleeping)', async () => {
    up.state.activities = [ACT('c2', 'carol@contoso.com')];
    expect(await visible()).toEqual(['c2']); // carol cached: not private
    await slapd.modify(`dn: ${groupDn('hr')}\nchangetype: modify\nadd: member\nmember: ${userDn('carol')}\n`);
    t += 30_000;
    expect(await visible()).toEqual(['c2']); // still the cached answer
    t += 31_000;
    expect(await visible()).toEqual([]); // carol is in hr, so in staff: private
    await slapd.modify(`dn: ${groupDn('hr')}\nchangetype: modify\ndelete: member\nmember: ${userDn('carol')}\n`);
    t += 61_000;
    expect(await visible()).toEqual(['c2']);
  });

  it('GET api/directory/groups: built-ins first, then static, known, ldap and graph groups; search and limit', async () => {
    const r = await call('GET', 'directory/groups?limit=1000');
    expect(r.status).toBe(200);
    const groups = r.json().groups as Array<{ id: string; name: string; source: string }>;
    expect(groups.slice(0, 2)).toEqual([
      { id: 'builtin:external-users', name: 'External users', source: 'builtin' },
      { id: 'builtin:application', name: 'Application', source: 'builtin' },
    ]);
    expect(groups.map((g) => g.source)).toEqual(
      [...groups.map((g) => g.source)].sort(
        (a, b) => ['builtin', 'static', 'known', 'ldap', 'graph', 'http'].indexOf(a) - ['builtin', 'static', 'known', 'ldap', 'graph', 'http'].indexOf(b),
      ),
    );
    expect(groups).toContainEqual({ id: ids.get('hr'), name: 'hr', source: 'ldap' });
    expect(groups).toContainEqual({ id: 'aaaaaaaa-0000-0000-0000-000000000001', name: 'Entra Finance', source: 'graph' });
    expect(groups).toContainEqual({ id: 'tag-vip', name: 'VIP', source: 'known' });
    expect(groups).toContainEqual({ id: 'static-team', name: 'static-team', source: 'static' });
    expect(groups).toContainEqual({ id: 'http-sales', name: 'Sales (HTTP)', source: 'http' }); // groupsUrl
    expect((await call('GET', 'directory/groups?search=ENTRA')).json().groups.map((g: { id: string }) => g.id)).toEqual([
      'aaaaaaaa-0000-0000-0000-000000000001',
    ]);
    expect((await call('GET', 'directory/groups?limit=2')).json().groups).toHaveLength(2);
    expect((await call('GET', 'directory/groups?limit=5000')).status).toBe(400);
    expect((await call('GET', 'directory/groups?colour=red')).status).toBe(400);
    expect((await call('GET', 'directory/groups', undefined, noRole)).status).toBe(403);
  });

  it('POST privacy/groups: an id outside the catalogue is 422 unknown_group with suggestions, nothing changed', async () => {
    const before = snapshot();
    for (const [given, expected] of [
      ['HR', ids.get('hr')],
      ['Application', 'builtin:application'],
      ['entra finance', 'aaaaaaaa-0000-0000-0000-000000000001'],
      ['hr', ids.get('hr')],
    ] as const) {
      const r = await call('POST', 'privacy/groups', { id: given });
      expect(r.status, given).toBe(422);
      const e = r.json().error;
      expect(e.code).toBe('unknown_group');
      expect(e.details.suggestions.length).toBeLessThanOrEqual(5);
      expect(e.details.suggestions[0].id, given).toBe(expected);
    }
    expect(snapshot()).toEqual(before);
    const ok = await call('POST', 'privacy/groups', { id: ids.get('legal') });
    expect(ok.status).toBe(201);
    expect(ok.json().name).toBe('legal'); // the catalogue's name
  });

  it('POST privacy/permissions: self_grant, unknown_principal, not_an_admin, unknown_group; a nested admin is granted', async () => {
    const before = snapshot();
    const refuse = async (body: object, status: number, code: string) => {
      const r = await call('POST', 'privacy/permissions', body);
      expect([r.status, r.json().error?.code], JSON.stringify(body)).toEqual([status, code]);
    };
    await refuse({ principal: 'Alice@Contoso.com' }, 403, 'self_grant');
    await refuse({ principal: 'nobody@contoso.com' }, 422, 'unknown_principal');
    await refuse({ principal: 'carol@contoso.com' }, 422, 'not_an_admin'); // exists, in legal only
    await refuse({ principal: 'gina@contoso.com' }, 422, 'not_an_admin'); // known to Graph only
    await refuse({ principal: 'dave@contoso.com', groups: ['Finance'] }, 422, 'unknown_group');
    expect(snapshot()).toEqual(before);
    // dave is in cycle-a, which is inside cycle-b (an admin group): nested membership counts
    const r = await call('POST', 'privacy/permissions', { principal: 'dave@contoso.com' });
    expect(r.status).toBe(201);
  });

  it('the reveal 403 says which condition failed', async () => {
    const noAdmin = await get(`${gw.url}/api/v1/activities/`, { headers: { authorization: `Bearer ${noRole}`, 'x-show-private-activities': 'confirm' } });
    expect(noAdmin.status).toBe(403);
    expect(noAdmin.json().error.message).toMatch(/no admin role/);
    const bob = await token({ upn: 'bob@contoso.com', roles: ['SecurityAdministrator'] });
    const notListed = await get(`${gw.url}/api/v1/activities/`, { headers: { authorization: `Bearer ${bob}`, 'x-show-private-activities': 'confirm' } });
    expect(notListed.status).toBe(403);
    expect(notListed.json().error.message).toMatch(/not on the permission list/);
  });

  it('slapd stopped: uncached actors are withheld, cached ones served within staleSec; checks answer 503 directory_unavailable', async () => {
    up.state.activities = [ACT('c3', 'carol@contoso.com'), ACT('e3', 'erin@contoso.com')];
    expect(await visible()).toEqual(['c3', 'e3']); // carol and erin cached (not private)
    await slapd.stop();
    try {
      up.state.activities = [ACT('c3', 'carol@contoso.com'), ACT('f3', 'frank@contoso.com')];
      expect(await visible()).toEqual(['c3']); // frank: no answer, withheld
      t += 61_000;
      expect(await visible()).toEqual(['c3']); // carol: stale but within staleSec
      const before = snapshot();
      const r = await call('POST', 'privacy/permissions', { principal: 'frank@contoso.com' }); // nothing cached for frank
      expect([r.status, r.json().error.code]).toEqual([503, 'directory_unavailable']);
      t += 300_000; // past ttl + stale for every cached answer and the catalogue lists
      expect(await visible()).toEqual([]);
      const g = await call('POST', 'privacy/groups', { id: 'no-such-group' });
      expect([g.status, g.json().error.code]).toEqual([503, 'directory_unavailable']);
      expect((await call('GET', 'directory/groups')).status).toBe(503);
      // a static group is still known while LDAP is down
      expect((await call('POST', 'privacy/groups', { id: 'static-team' })).status).toBe(201);
      expect(snapshot().chain).toBe(before.chain + 1);
    } finally {
      await slapd.start();
    }
    t += 61_000;
    up.state.activities = [ACT('c4', 'carol@contoso.com')];
    expect(await visible()).toEqual(['c4']);
  }, 30_000);

  it('a reload keeps an unchanged directory (its caches); a changed one starts afresh', async () => {
    const misses = async () => {
      const m = (await get(`${gw.url}/_gateway/metrics`)).text;
      return Number(/apg_directory_lookups_total\{source="ldap",outcome="miss"\} (\d+)/.exec(m)?.[1] ?? 0);
    };
    up.state.activities = [ACT('c5', 'carol@contoso.com')];
    expect(await visible()).toEqual(['c5']);
    const before = await misses();
    await gw.reload(gw.config());
    expect(await visible()).toEqual(['c5']);
    expect(await misses()).toBe(before); // answered from the kept cache
    const changed = structuredClone(gw.config());
    changed.directory.ldap!.ttlSec = 61;
    await gw.reload(changed);
    expect(await visible()).toEqual(['c5']);
    expect(await misses()).toBe(before + 1); // a new directory asked slapd again
  });

  it('metrics count lookups per source without principals or groups', async () => {
    const m = (await get(`${gw.url}/_gateway/metrics`)).text;
    expect(m).toMatch(/apg_directory_lookups_total\{source="ldap",outcome="hit"\} \d+/);
    expect(m).toMatch(/apg_directory_lookups_total\{source="ldap",outcome="failure"\} [1-9]/);
    expect(m).toMatch(/apg_directory_lookup_seconds_count\{source="graph"\} [1-9]/);
    for (const secret of ['bob@', 'carol@', ids.get('hr')!, 'Entra Finance']) expect(m).not.toContain(secret);
  });
});
