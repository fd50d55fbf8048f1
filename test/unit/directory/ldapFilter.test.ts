/** RFC 4515 escaping, {principal}/{local}, filter validation and GUID text (pure parts of the LDAP source). */
import fc from 'fast-check';
import { FilterParser } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { groupIdFrom, guidBytes, guidText } from '../../../src/directory/guid.js';
import { escapeFilterValue, filterProblem, idFilterValue, localPart, memberFilter, userFilterFor } from '../../../src/directory/ldapFilter.js';

describe('filters', () => {
  it('escapes the RFC 4515 specials and control characters', () => {
    expect(escapeFilterValue('*)(uid=*')).toBe('\\2a\\29\\28uid=\\2a');
    expect(escapeFilterValue('a\\b\u0000c')).toBe('a\\5cb\\00c');
    expect(escapeFilterValue('josé@contoso.com')).toBe('josé@contoso.com');
  });

  it('{principal} is lower-cased; {local} is after DOMAIN\\ or before @, else the whole', () => {
    expect(localPart('contoso\\bob')).toBe('bob');
    expect(localPart('bob@contoso.com')).toBe('bob');
    expect(localPart('bob')).toBe('bob');
    expect(userFilterFor('(|(mail={principal})(sAMAccountName={local}))', ' CONTOSO\\Bob ')).toBe('(|(mail=contoso\\5cbob)(sAMAccountName=bob))');
    expect(userFilterFor('(userPrincipalName={principal})', 'Bob@Contoso.com')).toBe('(userPrincipalName=bob@contoso.com)');
  });

  it('any principal yields exactly one equality filter whose value is the principal (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (p) => {
        const f = userFilterFor('(mail={principal})', p);
        const parsed = FilterParser.parseString(f) as unknown as { attribute: string; value: string };
        expect(parsed.attribute).toBe('mail');
        expect(parsed.value).toBe(p.trim().toLowerCase());
      }),
      { numRuns: 500 },
    );
  });

  it('member filters escape DNs', () => {
    expect(memberFilter('(objectClass=group)', 'member', ['cn=a\\,b (x),dc=c'])).toBe('(&(objectClass=group)(member=cn=a\\5c,b \\28x\\29,dc=c))');
    expect(memberFilter('(o=g)', 'member', ['cn=a', 'cn=b'])).toBe('(&(o=g)(|(member=cn=a)(member=cn=b)))');
  });

  it('filterProblem accepts real filters and names what is wrong with others', () => {
    expect(filterProblem('(|(userPrincipalName={principal})(mail={principal})(sAMAccountName={local}))')).toBeUndefined();
    expect(filterProblem('(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=cn=x))')).toBeUndefined();
    expect(filterProblem('(uid={local}')).toBe('has unbalanced parentheses');
    expect(filterProblem('uid={local}')).toMatch(/in parentheses/);
    expect(filterProblem('(uid={local})(mail={principal})')).toMatch(/text after the filter/);
    expect(filterProblem('(uid={local})x')).toMatch(/text after the filter/);
  });
});

describe('group ids', () => {
  it('objectGUID bytes render as the usual GUID text (first three fields little-endian)', () => {
    // {33221100-5544-7766-8899-aabbccddeeff} is stored as 00 11 22 … ff
    const bytes = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    expect(guidText(bytes)).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(groupIdFrom('objectGUID', bytes)).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(groupIdFrom('objectguid', Buffer.alloc(15))).toBeUndefined();
  });

  it('text ids: UTF-8, no control characters, no surrounding blanks, not empty', () => {
    expect(groupIdFrom('entryUUID', Buffer.from('a1b2c3d4-0000-1111-2222-333344445555'))).toBe('a1b2c3d4-0000-1111-2222-333344445555');
    expect(groupIdFrom('entryUUID', Buffer.from([0xff, 0xfe]))).toBeUndefined();
    expect(groupIdFrom('cn', Buffer.from('a\u0001b'))).toBeUndefined();
    expect(groupIdFrom('cn', Buffer.from(' hr'))).toBeUndefined();
    expect(groupIdFrom('cn', Buffer.from(''))).toBeUndefined();
  });
});

describe('suggestion distance', () => {
  it('the bit-parallel distance equals the dynamic-programming Levenshtein distance (property)', async () => {
    const { Pattern32, distance } = await import('../../../src/directory/suggest.js');
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd'), minLength: 1, maxLength: 32 }),
        fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'd', 'e'), maxLength: 40 }),
        (p, t) => {
          expect(new Pattern32(p).distance(t)).toBe(distance(p, t, 100));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('group ids as filter values (apg directory check)', () => {
  it('an objectGUID id becomes its 16 bytes in AD order; other ids are escaped text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        expect(guidBytes(guidText(bytes)!)).toEqual(Buffer.from(bytes));
      }),
    );
    expect(idFilterValue('objectGUID', '33221100-5544-7766-8899-aabbccddeeff')).toBe('\\00\\11\\22\\33\\44\\55\\66\\77\\88\\99\\aa\\bb\\cc\\dd\\ee\\ff');
    expect(idFilterValue('objectGUID', 'not-a-guid')).toBeUndefined();
    expect(idFilterValue('entryUUID', 'a*)(b')).toBe('a\\2a\\29\\28b');
  });
});
