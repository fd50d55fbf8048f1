import { describe, expect, it } from 'vitest';
import { decideGrant, permissionExpired } from '../../../src/privacy/grant.js';

const T = Date.parse('2026-12-01T12:00:00Z');

describe('grant decision', () => {
  it('says which condition failed', () => {
    expect(decideGrant(false, {}, T)).toMatchObject({ granted: false, why: 'no_admin_role', message: expect.stringMatching(/admin role/) });
    expect(decideGrant(true, undefined, T)).toMatchObject({
      granted: false,
      why: 'not_permitted',
      message: expect.stringMatching(/not on the permission list/),
    });
    expect(decideGrant(true, { expiresAt: '2026-12-01T12:00:00.000Z' }, T)).toMatchObject({
      granted: false,
      why: 'expired',
      message: expect.stringMatching(/expired at 2026-12-01T12:00:00.000Z/),
    });
  });
  it('expiry is exact: active one millisecond before, expired at the instant; unreadable means expired', () => {
    expect(permissionExpired({ expiresAt: '2026-12-01T12:00:00.000Z' }, T - 1)).toBe(false);
    expect(permissionExpired({ expiresAt: '2026-12-01T12:00:00.000Z' }, T)).toBe(true);
    expect(permissionExpired({}, Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(permissionExpired({ expiresAt: 'soon' }, 0)).toBe(true);
  });
  it('limits: the scope and the permission groups, each only when present', () => {
    expect(decideGrant(true, {}, T)).toEqual({ granted: true, limits: {} });
    expect(decideGrant(true, { groups: ['hr'] }, T, { groups: ['legal'], actors: [] })).toEqual({
      granted: true,
      limits: { permissionGroups: ['hr'], scope: { groups: ['legal'], actors: [] } },
    });
  });
});
