import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReason, parseScope, percentDecode, RevealInputError } from '../../../src/privacy/revealInput.js';

const optional = { requireReason: false, minReasonLength: 10 };
const required = { requireReason: true, minReasonLength: 10 };
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof RevealInputError) return err.code;
    throw err;
  }
};

describe('reason', () => {
  it('header first, else the claim; stored trimmed', () => {
    expect(parseReason('  case 4711 review ', 'claim reason', optional)).toBe('case 4711 review');
    expect(parseReason(undefined, 'ticket INC-1 from the claim', optional)).toBe('ticket INC-1 from the claim');
    expect(parseReason('   ', 'ticket INC-1 from the claim', optional)).toBe('ticket INC-1 from the claim');
    expect(parseReason(undefined, undefined, optional)).toBeUndefined();
    expect(parseReason('   ', undefined, optional)).toBeUndefined();
  });
  it('percent-decoded UTF-8 in the header, a stray % kept, the claim taken as it is', () => {
    expect(parseReason('Pr%C3%BCfung%20f%C3%BCr%20%E6%BC%A2%F0%9F%94%8D', undefined, optional)).toBe('Prüfung für 漢🔍');
    expect(parseReason('100% sure, case 12', undefined, optional)).toBe('100% sure, case 12');
    expect(parseReason(undefined, 'literal %41 stays', optional)).toBe('literal %41 stays');
    // raw UTF-8 bytes as node hands them over (latin1 string)
    expect(parseReason(Buffer.from('Überprüfung', 'utf8').toString('latin1'), undefined, optional)).toBe('Überprüfung');
  });
  it('bad_reason: invalid UTF-8, control characters (%00, newline, tab), bidi overrides, > 500 characters, a non-string claim', () => {
    expect(code(() => parseReason('bad %C3%28 bytes', undefined, optional))).toBe('bad_reason');
    expect(code(() => parseReason('nul %00 here', undefined, optional))).toBe('bad_reason');
    expect(code(() => parseReason('line%0Abreak', undefined, optional))).toBe('bad_reason');
    expect(code(() => parseReason('cr%0D', undefined, optional))).toBe('bad_reason');
    expect(code(() => parseReason('tab\there', undefined, optional))).toBe('bad_reason');
    expect(code(() => parseReason('%C2%85 next line (C1)', undefined, optional))).toBe('bad_reason');
    expect(code(() => parseReason('%E2%80%AEreversed', undefined, optional))).toBe('bad_reason');
    expect(code(() => parseReason(undefined, 'two\nlines', optional))).toBe('bad_reason');
    expect(code(() => parseReason(undefined, 42, optional))).toBe('bad_reason');
    expect(code(() => parseReason('x'.repeat(501), undefined, optional))).toBe('bad_reason');
    expect(parseReason('x'.repeat(500), undefined, optional)).toHaveLength(500);
    // 500 characters that are 1000 UTF-16 units and 2000 bytes are fine
    expect(parseReason('%F0%9F%94%8D'.repeat(500), undefined, optional)).toBe('🔍'.repeat(500));
    expect(code(() => parseReason('%F0%9F%94%8D'.repeat(501), undefined, optional))).toBe('bad_reason');
  });
  it('reason_required: missing, blank, or shorter than minReasonLength after trimming', () => {
    expect(code(() => parseReason(undefined, undefined, required))).toBe('reason_required');
    expect(code(() => parseReason(' '.repeat(10), undefined, required))).toBe('reason_required');
    expect(code(() => parseReason('  short   ', undefined, required))).toBe('reason_required');
    expect(code(() => parseReason('123456789', undefined, required))).toBe('reason_required');
    expect(parseReason('1234567890', undefined, required)).toBe('1234567890');
    expect(parseReason('%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9%C3%A9', undefined, required)).toBe('éééééééééé');
  });
  it('property: any valid reason survives percent-encoding; anything with a control character is refused', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 120 }), (s) => {
        const encoded = encodeURIComponent(s);
        const bad = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.test(s);
        if (bad) expect(code(() => parseReason(encoded, undefined, optional))).toBe('bad_reason');
        else expect(parseReason(encoded, undefined, optional)).toBe(s.trim() === '' ? undefined : s.trim());
      }),
      { numRuns: 2000 },
    );
  });
  it('percentDecode leaves plain ASCII untouched', () => {
    expect(percentDecode('plain')).toBe('plain');
    expect(percentDecode('%zz%4')).toBe('%zz%4');
  });
});

describe('scope', () => {
  it('group and actor items, trimmed, kinds case-insensitive, actors lower-cased, duplicates dropped', () => {
    expect(parseScope('group:hr, actor:Bob@Contoso.com')).toEqual({ groups: ['hr'], actors: ['bob@contoso.com'] });
    expect(parseScope(' GROUP: builtin:external-users ,group:hr,group:hr, Actor:bob@contoso.com,actor:BOB@contoso.com')).toEqual({
      groups: ['builtin:external-users', 'hr'],
      actors: ['bob@contoso.com'],
    });
    expect(parseScope('group:a%2Cb, group:Pr%C3%BCfung')).toEqual({ groups: ['a,b', 'Prüfung'], actors: [] });
    expect(parseScope(undefined)).toBeUndefined();
  });
  it('100 items are fine; 101 or 1,000 are bad_scope', () => {
    const items = (n: number) => Array.from({ length: n }, (_, i) => `group:g${i}`).join(',');
    expect(parseScope(items(100))!.groups).toHaveLength(100);
    expect(code(() => parseScope(items(101)))).toBe('bad_scope');
    expect(code(() => parseScope(items(1000)))).toBe('bad_scope');
  });
  it('bad_scope: empty header, empty items, unknown kinds, empty values, control characters, bad UTF-8', () => {
    for (const bad of [
      '',
      '   ',
      'group:hr,',
      ',group:hr',
      'group:hr,,actor:bob@contoso.com',
      'hr',
      'user:bob@contoso.com',
      'group:',
      'actor:  ',
      ':hr',
      'group:h%00r',
      'group:%0A',
      'group:%FF',
    ]) {
      expect(
        code(() => parseScope(bad)),
        bad,
      ).toBe('bad_scope');
    }
  });
});
