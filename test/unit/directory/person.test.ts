/**
 * Issue 21.3, SPEC §9 "One person, several names": `Directory.personOf` / `samePerson` against
 * a real slapd (a user entry with two `mail` values, `{local}` matching across domains) and the
 * Graph double (a user with a UPN, a mail and a proxy address). Two names of one directory
 * entry are one person; a source that cannot be asked makes the answer 'unknown', never false.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectory, samePersonOf, type Directory } from '../../../src/directory/index.js';
import type { GraphSettings } from '../../../src/directory/types.js';
import { startGraphDouble, type GraphDouble } from '../../helpers/graphDouble.js';
import { contosoLdapSettings, requireSlapd, startSlapd, userDn, type Slapd } from '../../helpers/slapd.js';
import { makeTestCa, opensslAvailable, type TestCa } from '../../helpers/testCa.js';

describe('samePersonOf (pure)', () => {
  it('one source resolving both to one entry is enough; a failure is unknown unless that already decided', () => {
    expect(samePersonOf(['ldap:x', 'graph:1'], ['ldap:y', 'graph:1'])).toBe(true);
    expect(samePersonOf(['ldap:x', false], ['ldap:x', 'graph:1'])).toBe(true);
    expect(samePersonOf(['ldap:x', false], ['ldap:y', 'graph:1'])).toBe('unknown');
    expect(samePersonOf([null], [null])).toBe(false);
    expect(samePersonOf(['ldap:x'], ['ldap:y'])).toBe(false);
  });
});

const ldapEnabled = requireSlapd('directory/person.test.ts');

describe.skipIf(!ldapEnabled)('personOf / samePerson with an LDAP source (real slapd)', () => {
  let slapd: Slapd;
  let d: Directory;
  let now = 1_000_000; // not 0: lru-cache reads a start time of 0 as "never expires"
  beforeAll(async () => {
    slapd = await startSlapd();
    // alice has a second mail address
    await slapd.modify(`dn: ${userDn('alice')}\nchangetype: modify\nadd: mail\nmail: alice.smith@contoso.com\n`);
    d = createDirectory(
      { ldap: contosoLdapSettings(slapd.url, { userFilter: '(|(mail={principal})(uid={local}))', ttlSec: 60, staleSec: 0 }) },
      { now: () => now },
    );
  }, 30_000);
  afterAll(async () => {
    d?.close();
    await slapd?.close();
  });

  it('a second mail value and {local} across domains resolve to the same DN: one person', async () => {
    const alice = `ldap:${userDn('alice')}`;
    expect(await d.personOf('alice@contoso.com')).toBe(alice);
    expect(await d.personOf(' Alice.Smith@Contoso.com')).toBe(alice);
    expect(await d.personOf('alice@fabrikam.com')).toBe(alice); // (uid={local})
    expect(await d.samePerson('alice@contoso.com', 'alice.smith@contoso.com')).toBe(true);
    expect(await d.samePerson('alice.smith@contoso.com', 'alice@fabrikam.com')).toBe(true);
    expect(await d.samePerson('alice@contoso.com', 'bob@contoso.com')).toBe(false);
    expect(await d.personOf('nobody@contoso.com')).toBeNull();
    expect(await d.samePerson('nobody@contoso.com', 'noone@contoso.com')).toBe(false);
  });

  it('cached like the membership lookups; a directory that cannot be asked makes it unknown, never false', async () => {
    expect(await d.personOf('carol@contoso.com')).toBe(`ldap:${userDn('carol')}`);
    await slapd.stop();
    try {
      expect(await d.personOf('carol@contoso.com')).toBe(`ldap:${userDn('carol')}`); // within ttlSec: cached
      expect(await d.personOf('dave@contoso.com')).toBe('unknown');
      expect(await d.samePerson('dave@contoso.com', 'erin@contoso.com')).toBe('unknown');
      expect(await d.samePerson('Dave@Contoso.com', 'dave@contoso.com ')).toBe(true); // equal names need no directory
      now += 61_000; // past ttlSec, staleSec 0
      expect(await d.personOf('carol@contoso.com')).toBe('unknown');
    } finally {
      await slapd.start();
    }
  });
});

const graphEnabled = opensslAvailable();

describe.skipIf(!graphEnabled)('personOf / samePerson with a Graph source (local double)', () => {
  let dir: string;
  let ca: TestCa;
  let g: GraphDouble;
  let d: Directory;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'apg-person-'));
    ca = makeTestCa(dir, 'apg-person');
    g = await startGraphDouble(ca);
    g.accounts = [
      {
        id: 'AAAAAAAA-0000-0000-0000-000000000001',
        userPrincipalName: 'adele@contoso.onmicrosoft.com',
        mail: 'adele.vance@contoso.com',
        proxyAddresses: ['SMTP:adele.vance@contoso.com', 'smtp:av@contoso.com'],
      },
      { id: 'bbbbbbbb-0000-0000-0000-000000000002', userPrincipalName: '$svc@contoso.com' },
    ];
    g.users = new Map([
      ['adele@contoso.onmicrosoft.com', []],
      ['bob@contoso.com', []],
      ['$svc@contoso.com', []],
    ]);
    const settings: GraphSettings = {
      tenantId: g.tenant,
      clientId: g.clientId,
      clientSecret: g.secret,
      certificate: null,
      authorityHost: g.authority,
      graphUrl: g.graphUrl,
      tls: { caFile: 'test-ca.pem' },
      timeoutMs: 3000,
      ttlSec: 300,
      staleSec: 0,
      maxEntries: 1000,
    };
    d = createDirectory({ graph: settings }, { readText: () => ca.ca });
  });
  afterAll(async () => {
    d?.close();
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('attacker: an actor logged by a mail that is not the UPN has the UPN user\'s groups, never "no groups"', async () => {
    g.users.set('adele@contoso.onmicrosoft.com', ['g-hr']);
    for (const address of ['adele.vance@contoso.com', 'AV@contoso.com']) {
      const u = await d.user(address);
      expect(u.failed, address).toBe(false);
      expect(u.exists, address).toBe(true);
      expect([...u.groups], address).toEqual(['g-hr']);
    }
    // an address no user has is still a user that does not exist: no groups
    expect((await d.user('nobody.else@contoso.com')).exists).toBe(false);
  });

  it('a UPN, a mail and a proxy address of one user are one person (its object id)', async () => {
    const adele = 'graph:aaaaaaaa-0000-0000-0000-000000000001';
    expect(await d.personOf('adele@contoso.onmicrosoft.com')).toBe(adele);
    expect(await d.personOf('Adele.Vance@contoso.com')).toBe(adele);
    expect(await d.personOf('av@contoso.com')).toBe(adele);
    expect(await d.samePerson('adele@contoso.onmicrosoft.com', 'adele.vance@contoso.com')).toBe(true);
    expect(await d.samePerson('adele.vance@contoso.com', 'bob@contoso.com')).toBe(false);
    expect(await d.personOf('$svc@contoso.com')).toBe('graph:bbbbbbbb-0000-0000-0000-000000000002');
    expect(await d.personOf('nobody@contoso.com')).toBeNull();
    expect(await d.personOf('contoso\\bob')).toBeNull(); // not a Graph user name: not asked
  });

  it('a Graph that cannot answer makes it unknown; a cached answer still counts', async () => {
    g.garbage = '<html>maintenance</html>';
    try {
      expect(await d.personOf('bob@contoso.com')).toBe('graph:id-bob@contoso.com'); // cached by the test above
      expect(await d.personOf('carol@contoso.com')).toBe('unknown');
      expect(await d.samePerson('carol@contoso.com', 'bob@contoso.com')).toBe('unknown');
    } finally {
      g.garbage = null;
    }
  });
});
