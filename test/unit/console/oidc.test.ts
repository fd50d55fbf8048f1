/** The console's OIDC relying party, part by part: discovery retries, the authorization request, errors, the ID token check. */
import { createLocalJWKSet, SignJWT } from 'jose';
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import {
  beginSignIn,
  discoverer,
  grantError,
  ProviderUnavailableError,
  SignInRefusedError,
  verifyIdToken,
  type Discovered,
} from '../../../src/console/oidc.js';
import { generateTestKey } from '../../helpers/idp.js';

const settings = { issuer: 'https://idp.example', clientId: 'console', clientSecret: null, scopes: ['openid', 'profile'] };

describe('discoverer', () => {
  it('discovers once; a failure is ProviderUnavailableError and the next call tries again', async () => {
    let calls = 0;
    const found = {} as Discovered;
    const discover = discoverer(settings, () => (++calls === 1 ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(found)));
    await expect(discover()).rejects.toBeInstanceOf(ProviderUnavailableError);
    expect(await discover()).toBe(found);
    expect(await discover()).toBe(found);
    expect(calls).toBe(2);
  });

  it('a malformed issuer fails at once', () => {
    expect(() => discoverer({ ...settings, issuer: 'not a url' })).toThrow();
  });
});

describe('beginSignIn', () => {
  it('asks for the code with PKCE (S256), state, nonce, the scopes and an optional prompt', async () => {
    const config = new client.Configuration({ issuer: settings.issuer, authorization_endpoint: `${settings.issuer}/authorize` }, settings.clientId);
    const r = await beginSignIn(config, settings.scopes, 'https://gw/console/callback', 'login');
    const u = new URL(r.url);
    expect(Object.fromEntries(u.searchParams)).toMatchObject({
      client_id: 'console',
      redirect_uri: 'https://gw/console/callback',
      scope: 'openid profile',
      response_type: 'code',
      code_challenge_method: 'S256',
      code_challenge: await client.calculatePKCECodeChallenge(r.codeVerifier),
      state: r.state,
      nonce: r.nonce,
      prompt: 'login',
    });
    expect((await beginSignIn(config, settings.scopes, 'https://gw/cb')).url).not.toContain('prompt=');
  });
});

describe('grantError', () => {
  it('unreachable or non-conforming provider: unavailable; a refused code: a refusal', () => {
    expect(grantError(new TypeError('fetch failed'))).toBeInstanceOf(ProviderUnavailableError);
    expect(grantError({ code: 'OAUTH_RESPONSE_IS_NOT_CONFORM' })).toBeInstanceOf(ProviderUnavailableError);
    const timeout = Object.assign(new Error('x'), { cause: Object.assign(new Error('t'), { name: 'TimeoutError' }) });
    expect(grantError(timeout)).toBeInstanceOf(ProviderUnavailableError);
    const refused = grantError({ code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED', cause: { claim: 'nonce' } });
    expect(refused).toBeInstanceOf(SignInRefusedError);
    expect((refused as SignInRefusedError).why).toBe('OAUTH_JWT_CLAIM_COMPARISON_FAILED (the nonce claim)');
  });
});

describe('verifyIdToken', () => {
  it('checks signature, issuer, audience and nonce; refusals say why without the token', async () => {
    const key = await generateTestKey('RS256');
    const other = await generateTestKey('RS256');
    const jwks = createLocalJWKSet({ keys: [key.publicJwk] });
    const expected = { issuer: settings.issuer, audience: 'console', nonce: 'n-1' };
    const sign = (k = key, claims: Record<string, unknown> = {}) =>
      new SignJWT({ nonce: 'n-1', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: k.kid })
        .setIssuer(settings.issuer)
        .setAudience('console')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(k.privateKey);
    expect((await verifyIdToken(await sign(), jwks, expected)).nonce).toBe('n-1');
    await expect(verifyIdToken(await sign(key, { nonce: 'n-2' }), jwks, expected)).rejects.toThrow('ID token nonce mismatch');
    const forged = await sign(other);
    const err = await verifyIdToken(forged, jwks, expected).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignInRefusedError);
    expect((err as Error).message).toMatch(/^ID token refused/);
    expect((err as Error).message).not.toContain(forged);
  });
});
