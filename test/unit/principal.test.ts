import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPrincipal, normalizePrincipal, parsePrincipal } from '../../src/principal.js';

describe('one principal module', () => {
  it('canonical form: trimmed, lower-cased, NFC', () => {
    expect(normalizePrincipal('  Alice@Contoso.COM ')).toBe('alice@contoso.com');
    expect(normalizePrincipal('Jose\u0301@contoso.com')).toBe('jos\u00e9@contoso.com');
    expect(normalizePrincipal('   ')).toBeUndefined();
  });

  it.each(['alice@contoso.com', 'A.B+c@sub.contoso.co.uk', ' Bob@Contoso.com '])('accepts %s', (p) => {
    expect(isPrincipal(p)).toBe(true);
    expect(parsePrincipal(p)).toBe(normalizePrincipal(p));
  });

  it.each(['alice', 'a@b', 'a@@b.c', 'a b@c.d', 'a/b@c.d', 'a\\b@c.d', 'a@b..c', 'a@.b.c', ''])('refuses %j', (p) => {
    expect(isPrincipal(p)).toBe(false);
    expect(parsePrincipal(p)).toBeUndefined();
  });

  it('property: normalising is idempotent and parse agrees with isPrincipal', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const n = normalizePrincipal(s);
        if (n !== undefined) expect(normalizePrincipal(n)).toBe(n);
        expect(parsePrincipal(s) !== undefined).toBe(isPrincipal(s));
      }),
    );
  });
});
