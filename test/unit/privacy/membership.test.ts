import { describe, expect, it } from 'vitest';
import { combineMembership, IncompleteGroups, isIncomplete, staticMembership } from '../../../src/privacy/membership.js';
import type { Membership } from '../../../src/privacy/types.js';

const sorted = (r: ReadonlySet<string> | 'unknown') => (r === 'unknown' ? r : [...r].sort());

describe('staticMembership', () => {
  const m = staticMembership({
    hr: ['bob@contoso.com', 'Carol@Contoso.com'],
    legal: ['heidi@contoso.com', ' BOB@contoso.com '],
    empty: [],
    unicode: ['JOSE\u0301@contoso.com'],
  });
  it('maps a principal to its groups, case-insensitively', () => {
    expect(sorted(m('bob@contoso.com'))).toEqual(['hr', 'legal']);
    expect(sorted(m('BOB@CONTOSO.COM'))).toEqual(['hr', 'legal']);
    expect(sorted(m('carol@contoso.com'))).toEqual(['hr']);
    expect(sorted(m('josé@contoso.com'))).toEqual(['unicode']);
  });
  it('an unlisted principal is in no group (never unknown)', () => {
    expect(sorted(m('ivan@contoso.com'))).toEqual([]);
    expect(sorted(m(''))).toEqual([]);
    expect(isIncomplete(m('ivan@contoso.com') as ReadonlySet<string>)).toBe(false);
  });
  it('ignores malformed entries and prototype keys', () => {
    const odd = staticMembership(JSON.parse('{"__proto__": ["eve@contoso.com"], "hr": ["bob@contoso.com", 5, null], "x": "notalist"}'));
    expect(sorted(odd('eve@contoso.com'))).toEqual(['__proto__']);
    expect(sorted(odd('bob@contoso.com'))).toEqual(['hr']);
    expect(sorted(odd('constructor'))).toEqual([]);
  });
});

describe('combineMembership', () => {
  const a = staticMembership({ hr: ['bob@contoso.com'] });
  const b = staticMembership({ legal: ['bob@contoso.com', 'heidi@contoso.com'] });
  const down: Membership = () => 'unknown';

  it('no parts: nobody is a member', () => {
    expect(sorted(combineMembership()('bob@contoso.com'))).toEqual([]);
  });
  it('unions the known answers', () => {
    const r = combineMembership(a, b)('bob@contoso.com');
    expect(sorted(r)).toEqual(['hr', 'legal']);
    expect(isIncomplete(r as ReadonlySet<string>)).toBe(false);
    expect(sorted(combineMembership(a, b)('heidi@contoso.com'))).toEqual(['legal']);
  });
  it('a failed part makes the union incomplete, not unknown', () => {
    for (const m of [combineMembership(a, down), combineMembership(down, a)]) {
      const r = m('bob@contoso.com');
      expect(r).toBeInstanceOf(IncompleteGroups);
      expect(sorted(r)).toEqual(['hr']);
      const none = m('ivan@contoso.com');
      expect(isIncomplete(none as ReadonlySet<string>)).toBe(true);
      expect(sorted(none)).toEqual([]);
    }
  });
  it('all parts failed: unknown', () => {
    expect(combineMembership(down, down)('bob@contoso.com')).toBe('unknown');
  });
  it('incompleteness propagates through nested combinations', () => {
    const inner = combineMembership(a, down);
    const r = combineMembership(inner, b)('bob@contoso.com');
    expect(isIncomplete(r as ReadonlySet<string>)).toBe(true);
    expect(sorted(r)).toEqual(['hr', 'legal']);
  });
  it('does not mutate the parts’ sets', () => {
    combineMembership(a, b)('bob@contoso.com');
    expect(sorted(a('bob@contoso.com'))).toEqual(['hr']);
    expect(sorted(b('bob@contoso.com'))).toEqual(['legal']);
  });
});
