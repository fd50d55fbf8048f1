import { describe, expect, it } from 'vitest';
import { parseState } from '../../../src/state/mutations.js';

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
