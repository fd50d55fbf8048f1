/**
 * Issue 21.1: an OpenLDAP without the memberof overlay (test/helpers/slapd.ts with
 * `memberOf: false`). With the default `memberOfAttribute: memberOf` no user entry carries a
 * memberOf value; the gateway must not take that as "in no group" (every private member
 * would be shown): such a user is looked up the second way too, by searching the groups
 * whose `member` holds the user's DN, nested to a fixed point (SPEC §9).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectory } from '../../../src/directory/index.js';
import { ldapSource, type LdapOptions } from '../../../src/directory/ldap.js';
import type { UserAnswer } from '../../../src/directory/types.js';
import { contosoLdapOptions, contosoLdapSettings, requireSlapd, startSlapd, type Slapd } from '../../helpers/slapd.js';

const enabled = requireSlapd('directory/ldapNoMemberOf.test.ts');
let slapd: Slapd;
const ids = new Map<string, string>();
const signal = () => AbortSignal.timeout(5000);
const opts = (extra: Partial<LdapOptions> = {}) => contosoLdapOptions(slapd.url, extra);
const names = (a: UserAnswer) => [...a.groups].map((id) => [...ids].find(([, v]) => v === id)?.[0] ?? `?${id}`).sort();

describe.skipIf(!enabled)('LDAP source on an OpenLDAP without the memberof overlay', () => {
  beforeAll(async () => {
    slapd = await startSlapd({ memberOf: false });
    const s = ldapSource(opts());
    for (const g of await s.listGroups!(signal())) ids.set(g.name, g.id);
    s.close();
  }, 30_000);
  afterAll(async () => {
    await slapd?.close();
  });

  it('the server really maintains no memberOf (the premise of the attack)', async () => {
    const s = ldapSource(opts({ memberOfAttribute: 'memberOf', nested: false, groupFilter: '(objectClass=nothing)' }));
    // nothing matches this groupFilter, so whatever way groups are found, none come back;
    // the user is found, so the lookup itself works
    expect(await s.lookup('bob@contoso.com', signal())).toEqual({ exists: true, groups: new Set() });
    s.close();
  });

  it('default memberOfAttribute: a user entry without any memberOf value is looked up by member search, nested', async () => {
    const s = ldapSource(opts());
    expect(names(await s.lookup('bob@contoso.com', signal()))).toEqual(['hr', 'staff']);
    expect(names(await s.lookup('carol@contoso.com', signal()))).toEqual(['legal']);
    expect(names(await s.lookup('dave@contoso.com', signal()))).toEqual(['cycle-a', 'cycle-b']);
    expect(await s.lookup('nobody@contoso.com', signal())).toEqual({ exists: false, groups: new Set() });
    s.close();
  });

  it('nested: false stops at the direct groups; memberOfAttribute: null always searches', async () => {
    const flat = ldapSource(opts({ nested: false }));
    expect(names(await flat.lookup('bob@contoso.com', signal()))).toEqual(['hr']);
    flat.close();
    const search = ldapSource(opts({ memberOfAttribute: null }));
    expect(names(await search.lookup('bob@contoso.com', signal()))).toEqual(['hr', 'staff']);
    search.close();
  });

  it('through the directory with the default settings: a member of a private group is private, not group-less', async () => {
    const d = createDirectory({ ldap: contosoLdapSettings(slapd.url) });
    const m = await d.prefetch(['bob@contoso.com', 'alice@contoso.com']);
    expect(m('bob@contoso.com')).toEqual(new Set([ids.get('hr'), ids.get('staff')]));
    expect(m('alice@contoso.com')).toEqual(new Set([ids.get('admins')]));
    d.close();
  });
});
