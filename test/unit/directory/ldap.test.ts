/**
 * The LDAP source against a real OpenLDAP slapd (test/helpers/slapd.ts): users and groups,
 * memberOf and member-search modes, nesting with cycles, ids that survive a rename,
 * ldaps:// and StartTLS with a test CA, failover, filter injection, fail-closed outages
 * and the per-principal cache (injected clock, no sleeping).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cachedSource } from '../../../src/directory/cache.js';
import { ldapSource, type LdapOptions } from '../../../src/directory/ldap.js';
import type { UserAnswer } from '../../../src/directory/types.js';
import { freePort, groupDn, requireSlapd, startSlapd, userDn, type Slapd, contosoLdapOptions } from '../../helpers/slapd.js';

const enabled = requireSlapd('directory/ldap.test.ts');
let slapd: Slapd;
/** cn → entryUUID of every contoso and fabrikam group, read through the source's own catalogue listing */
const ids = new Map<string, string>();

function opts(extra: Partial<LdapOptions> = {}): LdapOptions {
  return contosoLdapOptions(slapd.url, { userFilter: '(|(mail={principal})(uid={local}))', ...extra });
}
const fabrikam = (extra: Partial<LdapOptions> = {}) =>
  opts({
    bindDN: null,
    bindPassword: null,
    userBaseDN: 'ou=people,dc=fabrikam,dc=com',
    groupBaseDN: 'ou=groups,dc=fabrikam,dc=com',
    memberOfAttribute: null,
    ...extra,
  });

const signal = () => AbortSignal.timeout(5000);
const names = (a: UserAnswer | 'failed') => (a === 'failed' ? a : [...a.groups].map((id) => [...ids].find(([, v]) => v === id)?.[0] ?? `?${id}`).sort());

describe.skipIf(!enabled)('LDAP source against slapd', () => {
  beforeAll(async () => {
    slapd = await startSlapd();
    for (const o of [opts(), fabrikam()]) {
      const s = ldapSource(o);
      for (const g of await s.listGroups!(signal())) ids.set(g.name, g.id);
      s.close();
    }
  }, 30_000);
  afterAll(async () => {
    await slapd?.close();
  });

  it('lists the catalogue with entryUUID ids and cn names', async () => {
    expect([...ids.keys()].sort()).toEqual(['admins', 'all-ops', 'cycle-a', 'cycle-b', 'finance', 'hr', 'legal', 'loop-1', 'loop-2', 'ops', 'staff']);
    for (const id of ids.values()) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('memberOf mode: direct and nested groups by id; unknown users have none and do not exist', async () => {
    const s = ldapSource(opts());
    const bob = await s.lookup('bob@contoso.com', signal());
    expect(bob.exists).toBe(true);
    expect(names(bob)).toEqual(['hr', 'staff']);
    expect(names(await s.lookup('carol@contoso.com', signal()))).toEqual(['legal']);
    expect(await s.lookup('nobody@contoso.com', signal())).toEqual({ exists: false, groups: new Set() });
    // {local}: DOMAIN\user and a bare user name find the same person
    expect(names(await s.lookup('contoso\\bob', signal()))).toEqual(['hr', 'staff']);
    expect(names(await s.lookup('bob', signal()))).toEqual(['hr', 'staff']);
    s.close();
  });

  it('nested: false stops at the direct groups', async () => {
    const s = ldapSource(opts({ nested: false }));
    expect(names(await s.lookup('bob@contoso.com', signal()))).toEqual(['hr']);
    s.close();
  });

  it('a cycle of groups is harmless in both modes', async () => {
    const s = ldapSource(opts());
    expect(names(await s.lookup('dave@contoso.com', signal()))).toEqual(['cycle-a', 'cycle-b']);
    s.close();
    const f = ldapSource(fabrikam());
    expect(names(await f.lookup('grace@fabrikam.com', signal()))).toEqual(['loop-1', 'loop-2']);
    f.close();
  });

  it('member-search mode (no memberOf on this database), nested, anonymous bind', async () => {
    const s = ldapSource(fabrikam());
    expect(names(await s.lookup('frank@fabrikam.com', signal()))).toEqual(['all-ops', 'ops']);
    expect((await s.lookup('nobody@fabrikam.com', signal())).exists).toBe(false);
    s.close();
  });

  it('memberOfAttribute set on a database without memberOf: users with no value are searched by member (issue 21.1)', async () => {
    const s = ldapSource(fabrikam({ memberOfAttribute: 'memberOf' }));
    expect(names(await s.lookup('frank@fabrikam.com', signal()))).toEqual(['all-ops', 'ops']);
    expect(names(await s.lookup('grace@fabrikam.com', signal()))).toEqual(['loop-1', 'loop-2']);
    s.close();
  });

  it('a group exceeding maxGroups fails the lookup instead of running on', async () => {
    const s = ldapSource(opts({ maxGroups: 1 }));
    await expect(s.lookup('bob@contoso.com', signal())).rejects.toThrow(/more than 1 groups/);
    s.close();
  });

  it('a malformed or missing id value is skipped with a warning that carries no directory data', async () => {
    await slapd.modify(`dn: ${groupDn('hr')}\nchangetype: modify\nreplace: description\ndescription: hr-id\n`);
    await slapd.modify(`dn: ${groupDn('staff')}\nchangetype: modify\nreplace: description\ndescription:: ${Buffer.from('bad\u0001id').toString('base64')}\n`);
    const warnings: Array<[string, Record<string, string | number>]> = [];
    const s = ldapSource(opts({ groupIdAttribute: 'description', warn: (m, f) => warnings.push([m, f]) }));
    const bob = await s.lookup('bob@contoso.com', signal());
    expect([...bob.groups]).toEqual(['hr-id']);
    expect(warnings).toEqual([['ldap: a group without a well-formed id value was skipped', { attribute: 'description', values: 1 }]]);
    expect(JSON.stringify(warnings)).not.toMatch(/staff|bad|bob|cn=/);
    s.close();
  });

  it('filter injection finds nothing: *)(uid=*, *, NUL, parentheses, backslashes', async () => {
    const s = ldapSource(opts({ userFilter: '(mail={principal})' }));
    for (const evil of ['*)(uid=*', '*', '*)(|(mail=*', 'bob@contoso.com)(mail=*', 'bob\u0000@contoso.com', '\\2a', '(bob@contoso.com)', '*@contoso.com']) {
      expect(await s.lookup(evil, signal()), evil).toEqual({ exists: false, groups: new Set() });
    }
    s.close();
    const l = ldapSource(opts({ userFilter: '(uid={local})' }));
    for (const evil of ['*)(uid=*@x.com', 'x\\*', '*', 'bob)(uid=carol']) {
      expect(await l.lookup(evil, signal()), evil).toEqual({ exists: false, groups: new Set() });
    }
    l.close();
  });

  it('an ambiguous user filter (two entries) fails the lookup', async () => {
    const s = ldapSource(opts({ userFilter: '(|(uid={local})(uid=carol))' }));
    await expect(s.lookup('bob@contoso.com', signal())).rejects.toThrow(/more than one entry/);
    s.close();
  });

  it('a wrong bind password fails the lookup (no anonymous fallback)', async () => {
    const s = ldapSource(opts({ bindPassword: 'wrong' }));
    await expect(s.lookup('bob@contoso.com', signal())).rejects.toThrow(/could be reached and bound/);
    s.close();
  });

  it('ldaps:// with the test CA; an untrusted CA fails', async () => {
    const s = ldapSource(opts({ urls: [slapd.ldapsUrl], ca: slapd.ca.ca }));
    expect(names(await s.lookup('bob@contoso.com', signal()))).toEqual(['hr', 'staff']);
    s.close();
    const bad = ldapSource(opts({ urls: [slapd.ldapsUrl] }));
    await expect(bad.lookup('bob@contoso.com', signal())).rejects.toThrow();
    bad.close();
  });

  it('StartTLS with the test CA; without trusting it the lookup fails', async () => {
    const s = ldapSource(opts({ startTLS: true, ca: slapd.ca.ca }));
    expect(names(await s.lookup('bob@contoso.com', signal()))).toEqual(['hr', 'staff']);
    s.close();
    const bad = ldapSource(opts({ startTLS: true }));
    await expect(bad.lookup('bob@contoso.com', signal())).rejects.toThrow();
    bad.close();
  });

  it('fails over to the next URL when the first refuses connections', async () => {
    const dead = `ldap://127.0.0.1:${await freePort()}`;
    const s = ldapSource(opts({ urls: [dead, slapd.url] }));
    expect(names(await s.lookup('bob@contoso.com', signal()))).toEqual(['hr', 'staff']);
    s.close();
  });

  it('anonymous bind fails over too', async () => {
    const dead = `ldap://127.0.0.1:${await freePort()}`;
    const s = ldapSource(fabrikam({ urls: [dead, slapd.url] }));
    expect(names(await s.lookup('frank@fabrikam.com', signal()))).toEqual(['all-ops', 'ops']);
    s.close();
    const none = ldapSource(fabrikam({ urls: [dead], timeoutMs: 500 }));
    await expect(none.lookup('frank@fabrikam.com', signal())).rejects.toThrow(/could be reached/);
    none.close();
  });

  it('reuses one connection for many lookups', async () => {
    const s = ldapSource(opts());
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => s.lookup(i % 2 ? 'bob@contoso.com' : 'carol@contoso.com', signal())));
    expect(all.filter((a) => a.groups.size > 0)).toHaveLength(50);
    s.close();
  });

  it('a renamed group keeps its id; a membership change with ldapmodify shows after ttlSec', async () => {
    let t = 1_000_000;
    const c = cachedSource(ldapSource(opts()), { ttlSec: 60, staleSec: 600, maxEntries: 100, timeoutMs: 3000, now: () => t });
    expect(names(await c.resolve('erin@contoso.com'))).toEqual(['finance']);
    const financeId = ids.get('finance')!;
    await slapd.modify(`dn: ${groupDn('finance')}\nchangetype: modrdn\nnewrdn: cn=finance-and-controlling\ndeleteoldrdn: 1\n`);
    await slapd.modify(`dn: ${groupDn('legal')}\nchangetype: modify\nadd: member\nmember: ${userDn('erin')}\n`);
    t += 59_000;
    expect(names(await c.resolve('erin@contoso.com'))).toEqual(['finance']); // cached
    t += 2_000;
    const after = await c.resolve('erin@contoso.com');
    expect(after !== 'failed' && [...after.groups].sort()).toEqual([financeId, ids.get('legal')!].sort());
    c.close();
  });

  it('stopped slapd: a fresh lookup fails closed, the cache serves within staleSec, then fails', async () => {
    let t = 1_000_000;
    const c = cachedSource(ldapSource(opts({ timeoutMs: 1000 })), { ttlSec: 60, staleSec: 300, maxEntries: 100, timeoutMs: 1000, now: () => t });
    expect(names(await c.resolve('bob@contoso.com'))).toEqual(['hr', 'staff']);
    await slapd.stop();
    try {
      expect(await c.resolve('carol@contoso.com')).toBe('failed'); // nothing cached
      t += 61_000;
      expect(names(await c.resolve('bob@contoso.com'))).toEqual(['hr', 'staff']); // stale within staleSec
      t += 300_000;
      expect(await c.resolve('bob@contoso.com')).toBe('failed');
      expect(c.stats()).toMatchObject({ stale: 1 });
    } finally {
      await slapd.start();
    }
    t += 1_000;
    expect(names(await c.resolve('bob@contoso.com'))).toEqual(['hr', 'staff']); // back
    c.close();
  }, 20_000);

  it('a server that accepts but never answers fails within timeoutMs', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const black = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => black.listen(0, '127.0.0.1', r));
    const port = (black.address() as { port: number }).port;
    const c = cachedSource(ldapSource(opts({ urls: [`ldap://127.0.0.1:${port}`], timeoutMs: 300 })), {
      ttlSec: 60,
      staleSec: 0,
      maxEntries: 10,
      timeoutMs: 300,
    });
    const t0 = performance.now();
    expect(await c.resolve('bob@contoso.com')).toBe('failed');
    expect(performance.now() - t0).toBeLessThan(1500);
    c.close();
    for (const s of sockets) s.destroy();
    black.close();
  });
});
