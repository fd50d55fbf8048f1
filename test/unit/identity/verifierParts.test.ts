/** The verifier's parts: the pure result of a payload on an injected clock, the key set, key-source failures. */
import { errors, type JWTVerifyGetKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { guardedKeys, keySetOf, toResult, verifyOptionsOf } from '../../../src/identity/verifier.js';
import { TokenCache } from '../../../src/identity/tokenCache.js';

const settings = { principalClaims: ['upn'], rolesClaim: 'roles', adminRoles: ['SecurityAdministrator'], revealClaim: 'reveal', clockToleranceSec: 60 };
const NOW = Date.parse('2030-01-01T00:00:00Z');
const sec = NOW / 1000;

describe('toResult', () => {
  it('a verified admin with its principal, roles, flag and jti', () => {
    const r = toResult({ iss: 'https://idp', iat: sec, upn: 'Alice@Contoso.com', roles: ['SecurityAdministrator'], reveal: true, jti: 'j1' }, settings, NOW);
    expect(r).toMatchObject({ kind: 'verified', principal: 'alice@contoso.com', isAdmin: true, revealFlag: true, iss: 'https://idp', jti: 'j1' });
  });

  it('an iat beyond the tolerance past the given clock is refused; within it is fine', () => {
    expect(toResult({ iat: sec + 61, upn: 'a@x.com' }, settings, NOW)).toEqual({ kind: 'invalid', reason: 'claim_iat' });
    expect(toResult({ iat: sec + 60, upn: 'a@x.com' }, settings, NOW).kind).toBe('verified');
    // the same token is fine once the clock has moved on
    expect(toResult({ iat: sec + 61, upn: 'a@x.com' }, settings, NOW + 2000).kind).toBe('verified');
  });

  it('no principal claim: invalid', () => {
    expect(toResult({ iat: sec }, settings, NOW)).toEqual({ kind: 'invalid', reason: 'no_principal' });
  });
});

describe('verifyOptionsOf', () => {
  it('requires exp and carries issuer, audience, algorithms and tolerance', () => {
    expect(verifyOptionsOf({ issuer: 'i', audience: 'a', algorithms: ['RS256'], clockToleranceSec: 5 })).toEqual({
      issuer: 'i',
      audience: 'a',
      algorithms: ['RS256'],
      clockTolerance: 5,
      requiredClaims: ['exp'],
    });
  });
});

describe('keySetOf', () => {
  it('a remote set for an http(s) URL; refuses other URLs', () => {
    const k = keySetOf({ jwksFile: null, jwksUrl: 'https://idp.example/keys' });
    expect(k.remote).toBeDefined();
    expect(k.source).toBe(k.remote);
    expect(() => keySetOf({ jwksFile: null, jwksUrl: 'nope' })).toThrow('not a valid URL');
    expect(() => keySetOf({ jwksFile: null, jwksUrl: 'ftp://idp/keys' })).toThrow('must be http(s)');
  });
});

describe('guardedKeys', () => {
  const header = { alg: 'RS256' };
  const token = { payload: '', protected: '', signature: '' };

  it('a key miss is about the token: passed on', async () => {
    const miss = new errors.JWKSNoMatchingKey();
    const source: JWTVerifyGetKey = () => Promise.reject(miss);
    await expect(guardedKeys(source)(header, token)).rejects.toBe(miss);
  });

  it('any other failure is the key source being unavailable (its message is not passed on)', async () => {
    const source: JWTVerifyGetKey = () => Promise.reject(new Error('ECONNREFUSED idp.internal'));
    const err = await Promise.resolve(guardedKeys(source)(header, token)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).not.toContain('idp.internal');
  });
});

describe('TokenCache clock', () => {
  it('takes a Clock', () => {
    let t = 1_000_000;
    const c = new TokenCache<object>({ clock: { now: () => t } });
    c.set('tok', {}, 1_060);
    expect(c.get('tok')).toBeDefined();
    t = 1_060_000;
    expect(c.get('tok')).toBeUndefined();
  });
});
