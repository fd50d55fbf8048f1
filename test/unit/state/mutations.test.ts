import { describe, expect, it } from 'vitest';
import { parseState, withChangeCreated, withChangeDecided, withRevealRequestDecided } from '../../../src/state/mutations.js';

const group = { id: 'g1', name: 'HR', privateSince: 5, privateUntil: null };
const permission = { principal: ' Dana@Contoso.com ', grantedAt: '2026-01-01T00:00:00.000Z', grantedBy: 'root@contoso.com' };
const request = {
  id: 'r1',
  status: 'approved',
  requester: 'Erin@Contoso.com',
  reason: 'audit',
  durationMin: 30,
  createdAt: '2026-01-01T00:00:00.000Z',
  scope: { groups: ['g1', 7], actors: ['x@contoso.com'] },
  approvedBy: 'root@contoso.com',
  validFrom: '2026-01-01T00:01:00.000Z',
  validUntil: '2026-01-01T00:31:00.000Z',
  decidedAt: '2026-01-01T00:01:00.000Z',
  comment: 5,
};
const doc = (over: Record<string, unknown> = {}) => ({ groups: [group], permissions: [permission], revealRequests: [request], ...over });

describe('parseState', () => {
  it('reads a full document: normalised principals, defaults, scope as text, in a stable key order', () => {
    const s = parseState(doc({ groups: [group, { id: 'g2', privateSince: 1, privateUntil: 9 }], permissions: [{ principal: 'a@x.com', grantedAt: 3 }] }));
    expect(JSON.stringify(s)).toBe(
      JSON.stringify({
        groups: [group, { id: 'g2', name: 'g2', privateSince: 1, privateUntil: 9 }],
        permissions: [{ principal: 'a@x.com', grantedAt: '3', grantedBy: '' }],
        revealRequests: [
          {
            id: 'r1',
            status: 'approved',
            requester: 'erin@contoso.com',
            reason: 'audit',
            durationMin: 30,
            createdAt: '2026-01-01T00:00:00.000Z',
            scope: { groups: ['g1', '7'], actors: ['x@contoso.com'] },
            approvedBy: 'root@contoso.com',
            validFrom: '2026-01-01T00:01:00.000Z',
            validUntil: '2026-01-01T00:31:00.000Z',
            decidedAt: '2026-01-01T00:01:00.000Z',
          },
        ],
        changes: [],
      }),
    );
    expect(parseState(doc()).permissions[0].principal).toBe('dana@contoso.com');
    expect(parseState({ groups: [], permissions: [] }).revealRequests).toEqual([]);
    expect(parseState({ groups: [], permissions: [], revealRequests: null }).revealRequests).toEqual([]);
    const { scope: _scope, ...unscoped } = request;
    expect(parseState(doc({ revealRequests: [{ ...unscoped, scope: null }] })).revealRequests?.[0]).not.toHaveProperty('scope');
  });

  it.each<[string, unknown, string]>([
    ['not an object', null, 'not an object'],
    ['a string', 'x', 'not an object'],
    ['no groups', { permissions: [] }, 'groups/permissions missing'],
    ['permissions not a list', { groups: [], permissions: {} }, 'groups/permissions missing'],
    ['group without id', doc({ groups: [{ privateSince: 1, privateUntil: null }] }), 'bad group'],
    ['group that is null', doc({ groups: [null] }), 'bad group'],
    ['group with text privateSince', doc({ groups: [{ ...group, privateSince: '5' }] }), 'bad group'],
    ['group without privateUntil', doc({ groups: [{ id: 'g', privateSince: 1 }] }), 'bad privateUntil'],
    ['permission without principal', doc({ permissions: [{ grantedAt: '' }] }), 'bad permission'],
    ['permission that is null', doc({ permissions: [null] }), 'bad permission'],
    ['permission groups with a number', doc({ permissions: [{ ...permission, groups: ['hr', 1] }] }), 'bad permission groups'],
    ['permission expiresAt a number', doc({ permissions: [{ ...permission, expiresAt: 5 }] }), 'bad permission expiresAt'],
    ['revealRequests not a list', doc({ revealRequests: {} }), 'revealRequests is not a list'],
    ['request that is null', doc({ revealRequests: [null] }), 'bad reveal request'],
    ['request with an unknown status', doc({ revealRequests: [{ ...request, status: 'maybe' }] }), 'bad reveal request'],
    ['request with a fractional duration', doc({ revealRequests: [{ ...request, durationMin: 1.5 }] }), 'bad reveal request'],
    ['request with a text duration', doc({ revealRequests: [{ ...request, durationMin: '30' }] }), 'bad reveal request'],
    ['request scope without actors', doc({ revealRequests: [{ ...request, scope: { groups: [] } }] }), 'bad reveal request scope'],
    ['request scope a string', doc({ revealRequests: [{ ...request, scope: 'all' }] }), 'bad reveal request scope'],
    ['approved request without a window', doc({ revealRequests: [{ ...request, validUntil: undefined }] }), 'bad reveal request window'],
  ])('refuses %s', (_name, input, why) => {
    expect(() => parseState(input)).toThrow(new Error(`invalid state document: ${why}`));
  });
});

describe('request and change transitions (v3)', () => {
  const pending = {
    id: 'q',
    status: 'pending' as const,
    requester: 'erin@contoso.com',
    reason: 'audit case',
    durationMin: 30,
    createdAt: '2026-01-01T00:00:00.000Z',
  };
  const base = { groups: [], permissions: [], revealRequests: [pending] };

  it('pending → expired; approved → revoked; nothing else', () => {
    const [s1, expired] = withRevealRequestDecided(base, 'q', { status: 'expired', at: Date.UTC(2026, 0, 2) });
    expect(expired).toMatchObject({ status: 'expired', expiredAt: '2026-01-02T00:00:00.000Z' });
    expect(() => withRevealRequestDecided(s1, 'q', { status: 'approved', by: 'dpo@contoso.com', at: 1 })).toThrow(/already expired/);
    const [s2] = withRevealRequestDecided(base, 'q', { status: 'approved', by: 'dpo@contoso.com', at: Date.UTC(2026, 0, 1, 1) });
    expect(() => withRevealRequestDecided(base, 'q', { status: 'revoked', by: 'dpo@contoso.com', at: 2 })).toThrow(/already pending/);
    const [s3, revoked] = withRevealRequestDecided(s2, 'q', {
      status: 'revoked',
      by: 'erin@contoso.com',
      at: Date.UTC(2026, 0, 1, 1, 5),
      comment: 'done early',
    });
    expect(revoked).toMatchObject({ status: 'revoked', revokedBy: 'erin@contoso.com', revokedAt: '2026-01-01T01:05:00.000Z', comment: 'done early' });
    expect(() => withRevealRequestDecided(s3, 'q', { status: 'revoked', by: 'erin@contoso.com', at: 3 })).toThrow(/already revoked/);
    expect(parseState(JSON.parse(JSON.stringify(s3))).revealRequests?.[0]).toEqual(revoked);
  });

  it('a change is created once and decided once; it survives a round trip through the document', () => {
    const change = {
      id: 'c1',
      status: 'pending' as const,
      kind: 'privacy-group.remove' as const,
      target: 'hr',
      requester: 'mallory@contoso.com',
      createdAt: '2026-01-01T00:00:00.000Z',
      body: {},
    };
    const [s1] = withChangeCreated({ groups: [], permissions: [] }, change);
    expect(() => withChangeCreated(s1, change)).toThrow(/exists/);
    const [s2, denied] = withChangeDecided(s1, 'c1', { status: 'denied', by: 'dpo@contoso.com', at: Date.UTC(2026, 0, 1, 2) });
    expect(denied).toMatchObject({ status: 'denied', decidedBy: 'dpo@contoso.com', decidedAt: '2026-01-01T02:00:00.000Z' });
    expect(() => withChangeDecided(s2, 'c1', { status: 'approved', by: 'x@contoso.com', at: 3 })).toThrow(/already denied/);
    expect(parseState(JSON.parse(JSON.stringify(s2))).changes).toEqual([denied]);
    expect(() => parseState({ groups: [], permissions: [], changes: [{ ...change, kind: 'grant-everything' }] })).toThrow(/bad privacy change/);
  });
});
