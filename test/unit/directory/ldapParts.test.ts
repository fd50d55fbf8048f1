/** The LDAP source's pure parts: attribute reads, DN keys, the visited set, ids and catalogue entries. */
import { InvalidCredentialsError, type Entry } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { catalogueEntry, dnKey, fail, groupAttributes, idOf, inChunks, values, visitor, type LdapOptions } from '../../../src/directory/ldap.js';
import { DirectoryError } from '../../../src/directory/types.js';

const UUID = '5a8c7c4e-1111-4222-8333-944455556666';

function search(over: Partial<LdapOptions> = {}) {
  const warnings: Array<Record<string, string | number>> = [];
  const opts = { groupIdAttribute: 'entryUUID', groupNameAttribute: 'cn', memberOfAttribute: 'memberOf', nested: true, ...over } as LdapOptions;
  return { opts, warnings, warn: (_m: string, f: Record<string, string | number>) => void warnings.push(f) };
}

describe('ldap parts', () => {
  it('values reads attributes case-insensitively, never dn, always a list', () => {
    const e = { dn: 'cn=x', CN: 'X', memberOf: ['a', 'b'] } as unknown as Entry;
    expect(values(e, 'cn')).toEqual(['X']);
    expect(values(e, 'MEMBEROF')).toEqual(['a', 'b']);
    expect(values(e, 'dn')).toEqual([]);
    expect(values(e, 'mail')).toEqual([]);
  });

  it('dnKey ignores case and blanks around separators', () => {
    expect(dnKey('CN=HR , OU=Groups,dc=Contoso')).toBe(dnKey('cn=hr,ou=groups,DC=contoso'));
  });

  it('inChunks calls in order with at most `size` items', async () => {
    const seen: number[][] = [];
    const out = await inChunks([1, 2, 3, 4, 5], 2, (c) => (seen.push(c), Promise.resolve(c.map((x) => x * 10))));
    expect(seen).toEqual([[1, 2], [3, 4], [5]]);
    expect(out).toEqual([10, 20, 30, 40, 50]);
  });

  it('visitor returns only new DNs, treats the first DN as seen and bounds the count', () => {
    const fresh = visitor('cn=user', 2);
    expect(fresh(['cn=a', 'CN=A', 'cn=user'])).toEqual(['cn=a']);
    expect(fresh(['cn=a', 'cn=b'])).toEqual(['cn=b']);
    expect(() => fresh(['cn=c'])).toThrow('more than 2 groups');
  });

  it('groupAttributes reads memberOf from groups only when following nested groups that way', () => {
    expect(groupAttributes({ groupIdAttribute: 'entryUUID', memberOfAttribute: 'memberOf', nested: true })).toEqual(['entryUUID', 'memberOf']);
    expect(groupAttributes({ groupIdAttribute: 'entryUUID', memberOfAttribute: 'memberOf', nested: false })).toEqual(['entryUUID']);
    expect(groupAttributes({ groupIdAttribute: 'entryUUID', memberOfAttribute: null, nested: true })).toEqual(['entryUUID']);
  });

  it('idOf skips a group without one well-formed id and warns with the attribute name only', () => {
    const s = search();
    expect(idOf(s, { dn: 'cn=hr', entryUUID: UUID })).toBe(UUID);
    expect(idOf(s, { dn: 'cn=secret-group' })).toBeUndefined();
    expect(s.warnings).toEqual([{ attribute: 'entryUUID', values: 0 }]);
  });

  it('catalogueEntry names a group by its name attribute, else by its id', () => {
    const s = search();
    expect(catalogueEntry(s, { dn: 'cn=hr', entryUUID: UUID, cn: 'HR' })).toEqual({ id: UUID, name: 'HR' });
    expect(catalogueEntry(s, { dn: 'cn=hr', entryUUID: UUID, cn: '' })).toEqual({ id: UUID, name: UUID });
    expect(catalogueEntry(s, { dn: 'cn=hr' })).toBeUndefined();
  });

  it('fail keeps DirectoryErrors, names result codes only, hides anything else', () => {
    const kept = new DirectoryError('x');
    expect(() => fail(kept)).toThrow(kept);
    expect(() => fail(new InvalidCredentialsError('cn=secret'))).toThrow(new DirectoryError('LDAP error 49'));
    expect(() => fail(new Error('cn=secret'))).toThrow(new DirectoryError('LDAP operation failed'));
  });
});
