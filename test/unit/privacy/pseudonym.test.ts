import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPseudonymiser, parsePseudonymKey } from '../../../src/privacy/pseudonym.js';

const k1 = new Uint8Array(32).fill(1);
const k2 = new Uint8Array(32).fill(2);

describe('pseudonyms (SPEC §14)', () => {
  it('p-<token>@<domain>, deterministic per key, normalised principal, lower-case letters and digits', () => {
    const a = createPseudonymiser([k1], 'pseudonym.invalid');
    const b = createPseudonymiser([Uint8Array.from(k1)], 'Pseudonym.Invalid');
    const p = a.pseudonym('henry@contoso.com');
    expect(p).toMatch(/^p-[a-z0-9]+@pseudonym\.invalid$/);
    expect(b.pseudonym(' Henry@Contoso.com ')).toBe(p);
    expect(p).not.toContain('henry');
  });

  it('two principals never share one; each resolves back', () => {
    const pz = createPseudonymiser([k1], 'pseudonym.invalid');
    fc.assert(
      fc.property(fc.emailAddress(), fc.emailAddress(), (x, y) => {
        const px = pz.pseudonym(x);
        if (x.toLowerCase() !== y.toLowerCase()) expect(pz.pseudonym(y)).not.toBe(px);
        expect(pz.resolve(px)).toEqual({ kind: 'principal', principal: x.toLowerCase() });
      }),
      { numRuns: 200 },
    );
  });

  it('a new key gives new pseudonyms; previous keys still resolve; others are unknown; junk is malformed', () => {
    const old = createPseudonymiser([k1], 'pseudonym.invalid');
    const rotated = createPseudonymiser([k2, k1], 'pseudonym.invalid');
    const stranger = createPseudonymiser([new Uint8Array(32).fill(9)], 'pseudonym.invalid');
    const p = old.pseudonym('henry@contoso.com');
    expect(rotated.pseudonym('henry@contoso.com')).not.toBe(p);
    expect(rotated.resolve(p)).toEqual({ kind: 'principal', principal: 'henry@contoso.com' });
    expect(stranger.resolve(p)).toEqual({ kind: 'unknown' });
    expect(rotated.resolve('henry@contoso.com')).toEqual({ kind: 'malformed' });
    expect(rotated.resolve(p.replace('pseudonym.invalid', 'other.example'))).toEqual({ kind: 'malformed' });
    // a flipped character of a well-shaped token: no key made it
    const flipped = p.slice(0, 5) + (p[5] === 'a' ? 'b' : 'a') + p.slice(6);
    expect(['unknown', 'malformed']).toContain(rotated.resolve(flipped).kind);
    // every key's pseudonym of one person, current first: what a subject report looks for
    expect(rotated.every(' Henry@Contoso.com ')).toEqual([rotated.pseudonym('henry@contoso.com'), p]);
  });

  it('keys: 32 raw bytes or base64 of them', () => {
    expect(parsePseudonymKey(k1)).toEqual(k1);
    expect(parsePseudonymKey(Buffer.from(Buffer.from(k2).toString('base64') + '\n'))).toEqual(k2);
    expect(parsePseudonymKey(new Uint8Array(16))).toBeUndefined();
    expect(parsePseudonymKey(Buffer.from('c2hvcnQ='))).toBeUndefined();
  });
});
