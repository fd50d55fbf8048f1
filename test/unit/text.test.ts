import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPrincipal, parsePrincipal } from '../../src/principal.js';
import { parseReason } from '../../src/privacy/revealInput.js';
import { hasControlOrBidi, visibleLength } from '../../src/text.js';
import { parseGovernanceQuery } from '../../src/admin/governanceQuery.js';

/** SPEC §10 "Input rules (v3)": the forbidden characters, as the SPEC lists them */
const FORBIDDEN: number[] = [];
for (let c = 0x00; c <= 0x1f; c++) FORBIDDEN.push(c);
for (let c = 0x7f; c <= 0x9f; c++) FORBIDDEN.push(c);
for (let c = 0x202a; c <= 0x202e; c++) FORBIDDEN.push(c);
for (let c = 0x2066; c <= 0x2069; c++) FORBIDDEN.push(c);

describe('hasControlOrBidi: the one character rule', () => {
  it('every SPEC character, anywhere in a string, in every place that takes typed text', () => {
    for (const c of FORBIDDEN) {
      const ch = String.fromCodePoint(c);
      const hex = c.toString(16);
      expect(hasControlOrBidi(`a${ch}b`), hex).toBe(true);
      expect(isPrincipal(`ev${ch}e@contoso.com`), hex).toBe(false);
      expect(parsePrincipal(`eve@contoso.com${ch}`), hex).toBeUndefined();
      expect(parsePrincipal(`${ch}eve@contoso.com`), hex).toBeUndefined();
      expect(() => parseReason(`Case 4711 ${encodeURIComponent(ch)} review`, undefined, { requireReason: false, minReasonLength: 0 }), hex).toThrow(/control/);
      expect(parseGovernanceQuery(`principal=${encodeURIComponent(`a${ch}b@contoso.com`)}`).ok, hex).toBe(false);
    }
  });

  it('ordinary text, non-ASCII letters and zero-width joiners in names are allowed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const forbidden = [...s].some((ch) => FORBIDDEN.includes(ch.codePointAt(0)!) || ch === '\u2028' || ch === '\u2029');
        expect(hasControlOrBidi(s)).toBe(forbidden);
      }),
    );
    expect(isPrincipal('zoë@contoso.com')).toBe(true);
  });
});

describe('visibleLength: a reason’s minimum length', () => {
  it('counts neither white space nor format characters', () => {
    expect(visibleLength('\u200d'.repeat(12))).toBe(0);
    expect(visibleLength('a\u200b b\u200c c\u200d d\ufeff e\u2060\u00a0')).toBe(5);
    expect(visibleLength('Case 4711 – review')).toBe(15);
    expect(visibleLength('😀é')).toBe(2);
  });
  it('twelve zero-width joiners are no reason', () => {
    const rules = { requireReason: true, minReasonLength: 10 };
    expect(() => parseReason(encodeURIComponent('\u200d'.repeat(12)), undefined, rules)).toThrow(expect.objectContaining({ code: 'reason_required' }));
    expect(() => parseReason(undefined, '\u200d'.repeat(12), rules)).toThrow(expect.objectContaining({ code: 'reason_required' }));
    expect(parseReason(undefined, '\u200d'.repeat(12), { requireReason: false, minReasonLength: 10 })).toBeUndefined();
    expect(parseReason(undefined, 'Case\u200d 4711 ok', rules)).toBe('Case\u200d 4711 ok');
  });
});
