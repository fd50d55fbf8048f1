/**
 * The Graph source against a local HTTPS double of the token endpoint and Graph (test CA
 * generated here): client secret and certificate credentials, token reuse and renewal,
 * paging, throttling with Retry-After, revoked tokens, non-JSON answers, an unreachable
 * authority, and the cache's fail-closed behaviour. Time is injected; nothing sleeps.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cachedSource } from '../../../src/directory/cache.js';
import { graphSource, type GraphOptions } from '../../../src/directory/graph.js';
import { retryAfterMs } from '../../../src/directory/https.js';
import { startGraphDouble, type GraphDouble } from '../../helpers/graphDouble.js';
import { freePort } from '../../helpers/slapd.js';
import { makeSelfSigned, makeTestCa, opensslAvailable, type TestCa } from '../../helpers/testCa.js';

const enabled = opensslAvailable();
if (!enabled) console.warn('\n*** directory/graph.test.ts: openssl not installed: Graph tests SKIPPED (apt-get install openssl) ***\n');

let dir: string;
let ca: TestCa;
let g: GraphDouble;
const signal = () => AbortSignal.timeout(5000);

function opts(extra: Partial<GraphOptions> = {}): GraphOptions {
  return {
    tenantId: g.tenant,
    clientId: g.clientId,
    clientSecret: g.secret,
    authorityHost: g.authority,
    graphUrl: g.graphUrl,
    timeoutMs: 3000,
    ca: ca.ca,
    ...extra,
  };
}
const sorted = (s: ReadonlySet<string>) => [...s].sort();

describe.skipIf(!enabled)('Graph source against a local HTTPS double', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'apg-graph-'));
    ca = makeTestCa(dir, 'apg-graph');
    g = await startGraphDouble(ca);
  });
  afterAll(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    g.groups = Array.from({ length: 7 }, (_, i) => ({ id: `0000000${i}-aaaa-bbbb-cccc-dddddddddddd`, displayName: `Group ${i}` }));
    g.users = new Map([
      ['bob@contoso.com', g.groups.slice(0, 5).map((x) => x.id)],
      ['carol@contoso.com', []],
    ]);
    g.pageSize = 2;
    g.throttle = { remaining: 0, status: 429 };
    g.garbage = null;
    g.expiresIn = 3600;
    g.accounts = [];
    g.revoked.clear();
    g.tokenRequests.length = 0;
    g.graphRequests.length = 0;
  });

  it('client secret: transitive groups across every page; 404 = no groups, no such user', async () => {
    const s = graphSource(opts());
    const bob = await s.lookup('bob@contoso.com', signal());
    expect(bob.exists).toBe(true);
    expect(sorted(bob.groups)).toEqual(
      g.groups
        .slice(0, 5)
        .map((x) => x.id)
        .sort(),
    );
    expect(g.graphRequests.filter((r) => r.includes('/users/bob%40contoso.com/transitiveMemberOf/microsoft.graph.group'))).toHaveLength(3); // 5 groups, pages of 2
    expect(await s.lookup('carol@contoso.com', signal())).toEqual({ exists: true, groups: new Set() });
    expect(await s.lookup('nobody@contoso.com', signal())).toEqual({ exists: false, groups: new Set() });
    expect(await s.lookup('contoso\\bob', signal())).toEqual({ exists: false, groups: new Set() }); // not a UPN: not asked
    expect(g.tokenRequests).toHaveLength(1); // one token for all of it
    expect(g.tokenRequests[0]).toMatchObject({ grant_type: 'client_credentials', client_secret: g.secret });
    s.close();
  });

  it("a principal beginning with $ is addressed as /users('...') (the path form is Graph's 400), so it is decidable (issue 21.2)", async () => {
    g.users.set('$adele@contoso.com', [g.groups[6].id]);
    g.users.set("o'$brien@contoso.com", [g.groups[5].id]);
    const s = graphSource(opts());
    expect(await s.lookup('$adele@contoso.com', signal())).toEqual({ exists: true, groups: new Set([g.groups[6].id]) });
    expect(g.graphRequests.some((r) => decodeURIComponent(r).startsWith("/v1.0/users('$adele@contoso.com')/transitiveMemberOf/microsoft.graph.group?"))).toBe(
      true,
    );
    expect(await s.lookup('$nobody@contoso.com', signal())).toEqual({ exists: false, groups: new Set() });
    // an ordinary principal keeps the path form, a quote in it included
    expect(await s.lookup("o'$brien@contoso.com", signal())).toEqual({ exists: true, groups: new Set([g.groups[5].id]) });
    expect(g.graphRequests.some((r) => r.startsWith("/v1.0/users/o'%24brien%40contoso.com/transitiveMemberOf/"))).toBe(true);
    s.close();
  });

  it('certificate credential: a client assertion signed with the key, verified by the double', async () => {
    const cert = makeSelfSigned(dir, 'graph-client');
    g.clientCert = readFileSync(cert.certFile, 'utf8');
    const s = graphSource(opts({ clientSecret: null, certificate: { cert: g.clientCert, key: readFileSync(cert.keyFile, 'utf8') } }));
    expect((await s.lookup('bob@contoso.com', signal())).groups.size).toBe(5);
    expect(g.tokenRequests[0].client_secret).toBeUndefined();
    expect(g.tokenRequests[0].client_assertion.split('.')).toHaveLength(3);
    s.close();
    const other = makeSelfSigned(dir, 'graph-other');
    const wrong = graphSource(
      opts({ clientSecret: null, certificate: { cert: readFileSync(other.certFile, 'utf8'), key: readFileSync(other.keyFile, 'utf8') } }),
    );
    await expect(wrong.lookup('bob@contoso.com', signal())).rejects.toThrow(/token endpoint answered 401/);
    wrong.close();
  });

  it('the catalogue lists every group over all pages', async () => {
    const s = graphSource(opts());
    const all = await s.listGroups!(signal());
    expect(all).toEqual(g.groups.map((x) => ({ id: x.id, name: x.displayName })));
    s.close();
  });

  it('the token is reused until shortly before it expires, then renewed', async () => {
    let t = 1_000_000_000;
    const s = graphSource(opts({ now: () => t }));
    await s.lookup('bob@contoso.com', signal());
    t += 3600_000 - 301_000; // 5 minutes and a second before expiry
    await s.lookup('bob@contoso.com', signal());
    expect(g.tokenRequests).toHaveLength(1);
    t += 2_000; // inside the 5-minute margin
    await s.lookup('bob@contoso.com', signal());
    expect(g.tokenRequests).toHaveLength(2);
    s.close();
  });

  it('a token Graph no longer accepts (401) is renewed once and the call retried', async () => {
    const s = graphSource(opts());
    await s.lookup('carol@contoso.com', signal());
    for (const t of g.issued) g.revoked.add(t);
    expect((await s.lookup('bob@contoso.com', signal())).groups.size).toBe(5);
    expect(g.tokenRequests).toHaveLength(2);
    s.close();
  });

  it('429/503 are retried after Retry-After within timeoutMs; beyond it the lookup fails at once', async () => {
    const s = graphSource(opts());
    g.throttle = { remaining: 2, status: 429, retryAfter: '0' };
    expect((await s.lookup('bob@contoso.com', signal())).groups.size).toBe(5);
    g.throttle = { remaining: 1, status: 503, retryAfter: '0' };
    expect((await s.lookup('bob@contoso.com', signal())).groups.size).toBe(5);
    g.throttle = { remaining: 1, status: 429, retryAfter: '30' };
    const t0 = performance.now();
    await expect(s.lookup('bob@contoso.com', signal())).rejects.toThrow(/throttled/);
    expect(performance.now() - t0).toBeLessThan(1000); // did not wait 30 s
    s.close();
  });

  it('an answer that is not Graph JSON fails the lookup', async () => {
    const s = graphSource(opts());
    await s.lookup('carol@contoso.com', signal());
    g.garbage = '<html>proxy login</html>';
    await expect(s.lookup('bob@contoso.com', signal())).rejects.toThrow(/not JSON/);
    g.garbage = '{"value": "nope"}';
    await expect(s.lookup('bob@contoso.com', signal())).rejects.toThrow(/no value array/);
    g.garbage = '{"value": [{"displayName": "no id"}]}';
    await expect(s.lookup('bob@contoso.com', signal())).rejects.toThrow(/without id/);
    g.garbage = `{"value": [], "@odata.nextLink": "https://evil.example/v1.0/next"}`;
    await expect(s.lookup('bob@contoso.com', signal())).rejects.toThrow(/another origin/);
    s.close();
  });

  it('an unreachable authority or an untrusted certificate fails the lookup; so does plain http', async () => {
    const dead = graphSource(opts({ authorityHost: `https://127.0.0.1:${await freePort()}` }));
    await expect(dead.lookup('bob@contoso.com', signal())).rejects.toThrow(/unreachable/);
    dead.close();
    const untrusted = graphSource(opts({ ca: undefined }));
    await expect(untrusted.lookup('bob@contoso.com', signal())).rejects.toThrow(/unreachable/);
    untrusted.close();
    const plain = graphSource(opts({ authorityHost: g.authority.replace('https:', 'http:') }));
    await expect(plain.lookup('bob@contoso.com', signal())).rejects.toThrow(/only https/);
    plain.close();
  });

  it('through the cache: a failing Graph is undecidable unless a recent answer is within staleSec', async () => {
    let t = 1_000_000;
    const c = cachedSource(graphSource(opts()), { ttlSec: 60, staleSec: 120, maxEntries: 10, timeoutMs: 3000, now: () => t });
    expect(await c.resolve('bob@contoso.com')).not.toBe('failed');
    g.garbage = 'oops';
    expect(await c.resolve('carol@contoso.com')).toBe('failed');
    t += 61_000;
    const stale = await c.resolve('bob@contoso.com');
    expect(stale !== 'failed' && stale.groups.size).toBe(5);
    t += 120_000;
    expect(await c.resolve('bob@contoso.com')).toBe('failed');
    c.close();
  });
});

describe('Retry-After', () => {
  it('reads delta-seconds and HTTP dates', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
  });
});
