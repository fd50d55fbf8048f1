/**
 * Throughput of LDAP membership lookups against a real slapd (the figures of the issue's
 * closing note): cold = every lookup asks slapd (user search + nested group reads, 16 in
 * flight over one reused connection); warm = answered by the per-principal cache. Prints
 * the figures; asserts only generous floors (a shared 2-core machine).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedSource } from '../../src/directory/cache.js';
import { ldapSource, type LdapOptions } from '../../src/directory/ldap.js';
import { requireSlapd, startSlapd, type Slapd, contosoLdapOptions } from '../helpers/slapd.js';

const enabled = requireSlapd('e2e/directoryThroughput.test.ts');
const USERS = ['bob@contoso.com', 'carol@contoso.com', 'dave@contoso.com', 'erin@contoso.com', 'alice@contoso.com', 'nobody@contoso.com'];

describe.skipIf(!enabled)('LDAP lookup throughput', () => {
  let slapd: Slapd;
  let opts: LdapOptions;
  beforeAll(async () => {
    slapd = await startSlapd();
    opts = contosoLdapOptions(slapd.url);
  }, 30_000);
  afterAll(async () => {
    await slapd?.close();
  });

  it('cold (every lookup asks slapd) and warm (cache hits)', async () => {
    const src = ldapSource(opts);
    const N = 1500;
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const p = USERS[next++ % USERS.length];
        await src.lookup(p, AbortSignal.timeout(5000));
      }
    };
    await src.lookup('bob@contoso.com', AbortSignal.timeout(5000)); // connect and bind once
    let t0 = performance.now();
    await Promise.all(Array.from({ length: 16 }, worker));
    const cold = N / ((performance.now() - t0) / 1000);

    const cache = cachedSource(src, { ttlSec: 300, staleSec: 3600, maxEntries: 1000, timeoutMs: 3000 });
    for (const u of USERS) await cache.resolve(u);
    const M = 200_000;
    t0 = performance.now();
    for (let i = 0; i < M; i++) await cache.resolve(USERS[i % USERS.length]);
    const warm = M / ((performance.now() - t0) / 1000);
    console.log(`LDAP lookups against slapd: cold ${Math.round(cold)}/s (16 in flight, one connection), warm ${Math.round(warm)}/s (cache hits)`);
    expect(cache.stats().hits).toBeGreaterThanOrEqual(M);
    expect(cold).toBeGreaterThan(50);
    expect(warm).toBeGreaterThan(20_000);
    cache.close();
  }, 60_000);
});
