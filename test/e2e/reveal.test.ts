import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import type { Gateway } from '../../src/gateway.js';
import { verifyChainFile } from '../helpers/chainVerifier.js';
import { demoLikeConfig, get, startTestGateway, tempDir } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
import { demoActors, demoHides } from '../helpers/oracle.js';
import path from 'node:path';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';

describe('audited reveal over real sockets', () => {
  let api: SampleApi;
  let idp: TestIdp;
  let key: TestKey;
  let gw: Gateway;
  let dir: string;
  let cleanup: () => Promise<void>;
  let upstream: string;

  const token = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, jti: `jti-${Math.random()}`, ...claims });
  };
  const alice = () => token({ upn: 'Alice@Contoso.com', roles: ['SecurityAdministrator'] });

  beforeAll(async () => {
    api = createSampleApi();
    upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const t = await tempDir();
    dir = t.dir;
    cleanup = t.cleanup;
    gw = await startTestGateway(
      demoLikeConfig(upstream, dir, {
        identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
        upstream: { url: upstream, timeoutMs: 5000, serviceAuthorization: 'Bearer upstream-service-token' },
      }),
    );
  });
  afterAll(async () => {
    await gw?.close(1000);
    await api?.close();
    await idp?.close();
    await cleanup?.();
  });

  const governanceFile = () => path.join(dir, 'governance.jsonl');

  it('granted via the header: all activities shown, headers set, entry written first and checked field by field', async () => {
    const direct = await get(`${upstream}/api/v1/activities/?skip=2500&limit=100`);
    const shownRecords = direct.json().data.filter((a: any) => demoHides(a));
    const expectedPrivate = shownRecords.map((a: any) => a._id);
    expect(expectedPrivate.length).toBeGreaterThan(0);
    const r = await get(`${gw.url}/api/v1/activities/?skip=2500&limit=100`, {
      headers: {
        authorization: `Bearer ${await alice()}`,
        'x-show-private-activities': 'confirm',
        'user-agent': 'reveal-test/1.0',
        'x-request-id': 'req-reveal-1',
      },
    });
    expect(r.status).toBe(200);
    expect(r.body.equals(direct.body)).toBe(true);
    expect(r.headers.get('x-private-activities')).toBe('shown');
    expect(r.headers.get('cache-control')).toBe('private, no-store');
    expect(r.headers.get('vary')?.toLowerCase()).toContain('authorization');
    expect(r.headers.get('vary')?.toLowerCase()).toContain('x-show-private-activities');
    const entryId = r.headers.get('x-governance-entry');
    expect(entryId).toMatch(/^[0-9a-f-]{36}$/);

    const chain = verifyChainFile(governanceFile());
    expect(chain.ok).toBe(true);
    const e = chain.entries.find((x) => x.id === entryId) as any;
    expect(e).toBeDefined();
    expect(e.action).toBe('private-activities.viewed');
    expect(e.principal).toBe('alice@contoso.com');
    expect(e.via).toBe('header');
    expect(e.request).toEqual({
      id: 'req-reveal-1',
      method: 'GET',
      path: '/api/v1/activities/',
      query: 'skip=2500&limit=100',
      clientIp: expect.stringMatching(/127\.0\.0\.1/),
      userAgent: 'reveal-test/1.0',
    });
    // actors: whose private activities were shown, with how many, against the oracle (SPEC §6 v3)
    const actors = demoActors(shownRecords);
    expect(actors.length).toBeGreaterThan(1);
    expect(e.privateActivities).toEqual({ count: expectedPrivate.length, ids: expectedPrivate, idsTruncated: false, actors, actorsTruncated: false });
    expect(e.token.iss).toBe(ISS);
    expect(e.token.jti).toMatch(/^jti-/);
    expect(e.instance).toBe('test');
    expect(typeof e.seq).toBe('number');

    // the service credential replaced the admin token upstream; the reveal header never went upstream
    const fwd = api.requests.at(-1)!;
    expect(fwd.headers.authorization).toBe('Bearer upstream-service-token');
    expect(fwd.headers['x-show-private-activities']).toBeUndefined();
  });

  it('granted via the token flag', async () => {
    const t = await token({ upn: 'alice@contoso.com', roles: ['GlobalAdministrator'], show_private_activities: true });
    const r = await get(`${gw.url}/api/v1/activities/?skip=2600&limit=50`, { headers: { authorization: `Bearer ${t}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-private-activities')).toBe('shown');
    const e = verifyChainFile(governanceFile()).entries.find((x) => x.id === r.headers.get('x-governance-entry')) as any;
    expect(e.via).toBe('token');
  });

  it('item reveal: a private item is shown to a permitted admin with an entry holding its id', async () => {
    const priv = api.dataset.find((a: any) => demoHides(a) && typeof a.timestamp === 'number') as any;
    const r = await get(`${gw.url}/api/v1/activities/${priv._id}/`, {
      headers: { authorization: `Bearer ${await alice()}`, 'x-show-private-activities': 'confirm' },
    });
    expect(r.status).toBe(200);
    expect(r.json()._id).toBe(priv._id);
    const e = verifyChainFile(governanceFile()).entries.find((x) => x.id === r.headers.get('x-governance-entry')) as any;
    expect(e.privateActivities).toEqual({ count: 1, ids: [priv._id], idsTruncated: false, actors: demoActors([priv]), actorsTruncated: false });
  });

  it('exactly one entry per revealed request, even with no private activity in it', async () => {
    const before = verifyChainFile(governanceFile()).count;
    const pub = api.dataset.find((a: any) => !demoHides(a)) as any;
    const r = await get(`${gw.url}/api/v1/activities/${pub._id}/`, {
      headers: { authorization: `Bearer ${await alice()}`, 'x-show-private-activities': 'confirm' },
    });
    expect(r.status).toBe(200);
    const after = verifyChainFile(governanceFile());
    expect(after.count).toBe(before + 1);
    expect((after.entries.at(-1) as any).privateActivities).toEqual({ count: 0, ids: [], idsTruncated: false, actors: [], actorsTruncated: false });
  });

  it('a non-2xx upstream answer passes unchanged and writes no entry', async () => {
    const before = verifyChainFile(governanceFile()).count;
    const r = await get(`${gw.url}/api/v1/activities/0123456789abcdef01234567/`, {
      headers: { authorization: `Bearer ${await alice()}`, 'x-show-private-activities': 'confirm' },
    });
    expect(r.status).toBe(404);
    expect(r.headers.get('x-governance-entry')).toBeNull();
    expect(verifyChainFile(governanceFile()).count).toBe(before);
  });

  it('400 for any other header value', async () => {
    for (const v of ['yes', 'CONFIRM', 'true', '1', 'confirm, confirm']) {
      const r = await get(`${gw.url}/api/v1/activities/?limit=5`, { headers: { authorization: `Bearer ${await alice()}`, 'x-show-private-activities': v } });
      expect(r.status, v).toBe(400);
      expect(r.json().error.code).toBe('bad_reveal_header');
    }
  });

  it('401 with WWW-Authenticate when no valid token', async () => {
    const other = await generateTestKey('ES256');
    const forged = await signToken(
      other,
      { iss: ISS, aud: AUD, exp: Math.floor(Date.now() / 1000) + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] },
      { header: { kid: key.kid } },
    );
    for (const auth of [undefined, 'Bearer not-a-jwt', 'Basic YWxpY2U6eA==']) {
      const headers: Record<string, string> = { 'x-show-private-activities': 'confirm' };
      if (auth) headers.authorization = auth;
      const r = await get(`${gw.url}/api/v1/activities/?limit=100`, { headers });
      expect(r.status, String(auth)).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
      expect(r.json().error.code).toBe('unauthenticated');
    }
    // a token was sent and did not verify: the challenge says why (SPEC §5)
    const r = await get(`${gw.url}/api/v1/activities/?limit=100`, { headers: { 'x-show-private-activities': 'confirm', authorization: `Bearer ${forged}` } });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="bad signature"');
    expect(r.json().error.code).toBe('unauthenticated');
  });

  it('403 for an admin without permission and for a permitted principal without an admin role', async () => {
    const dave = await token({ upn: 'dave@contoso.com', roles: ['GlobalAdministrator'] });
    const aliceNoRole = await token({ upn: 'alice@contoso.com', roles: ['Reader'] });
    const flagNoPerm = await token({ upn: 'erin@contoso.com', roles: ['Reader'], show_private_activities: true });
    for (const [t, hdr] of [
      [dave, true],
      [aliceNoRole, true],
      [flagNoPerm, false],
    ] as const) {
      const headers: Record<string, string> = { authorization: `Bearer ${t}` };
      if (hdr) headers['x-show-private-activities'] = 'confirm';
      const r = await get(`${gw.url}/api/v1/activities/?limit=100`, { headers });
      expect(r.status).toBe(403);
      expect(r.json().error.code).toBe('reveal_forbidden');
      expect(r.text).not.toMatch(/"data"/);
    }
  });

  it('an admin without reveal gets the filtered view and no entry', async () => {
    const before = verifyChainFile(governanceFile()).count;
    const direct = await get(`${upstream}/api/v1/activities/?skip=2500&limit=100`);
    const r = await get(`${gw.url}/api/v1/activities/?skip=2500&limit=100`, { headers: { authorization: `Bearer ${await alice()}` } });
    expect(r.json().data.map((a: any) => a._id)).toEqual(
      direct
        .json()
        .data.filter((a: any) => !demoHides(a))
        .map((a: any) => a._id),
    );
    expect(r.headers.get('x-private-activities')).toBeNull();
    expect(verifyChainFile(governanceFile()).count).toBe(before);
  });

  it('exports ignore reveal, even for a permitted admin, and write no entry', async () => {
    const before = verifyChainFile(governanceFile()).count;
    const r = await get(`${gw.url}/api/v1/activities/export/ndjson/?count=2000`, {
      headers: { authorization: `Bearer ${await alice()}`, 'x-show-private-activities': 'confirm' },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-private-activities')).toBe('never-exported');
    const recs = r.text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(recs.some((a) => demoHides(a))).toBe(false);
    expect(verifyChainFile(governanceFile()).count).toBe(before);
  });

  it('100 concurrent reveals give contiguous seq and a valid chain (independent verifier)', async () => {
    const t = await alice();
    const rs = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        get(`${gw.url}/api/v1/activities/?skip=${i * 10}&limit=20`, { headers: { authorization: `Bearer ${t}`, 'x-show-private-activities': 'confirm' } }),
      ),
    );
    expect(rs.every((r) => r.status === 200)).toBe(true);
    const ids = new Set(rs.map((r) => r.headers.get('x-governance-entry')));
    expect(ids.size).toBe(100);
    const chain = verifyChainFile(governanceFile());
    expect(chain.ok).toBe(true);
    expect(chain.entries.map((e: any) => e.seq)).toEqual(Array.from({ length: chain.count }, (_, i) => i + 1));
    for (const id of ids) expect(chain.entries.some((e) => e.id === id)).toBe(true);
  });

  it('identity provider down: a reveal is 503 identity_unavailable, ordinary traffic still filtered', async () => {
    // a gateway that has not fetched the keys yet, so nothing is cached
    const t2 = await tempDir();
    const gw2 = await startTestGateway(demoLikeConfig(upstream, t2.dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } }));
    const t = await alice();
    await idp.stop();
    try {
      const r = await get(`${gw2.url}/api/v1/activities/?limit=100`, { headers: { authorization: `Bearer ${t}`, 'x-show-private-activities': 'confirm' } });
      expect(r.status).toBe(503);
      expect(r.json().error.code).toBe('identity_unavailable');
      const o = await get(`${gw2.url}/api/v1/activities/?skip=2500&limit=100`);
      expect(o.status).toBe(200);
      expect(o.json().data.some((a: any) => demoHides(a))).toBe(false);
      const ready = await get(`${gw2.url}/_gateway/readyz`);
      expect(ready.status).toBe(503);
    } finally {
      await idp.start();
      await gw2.close(500);
      await t2.cleanup();
    }
  });
});
