/**
 * Verified bearer tokens are remembered until their exp (issue 13): the cache
 * on its own (injected clock), and inside the verifier — a second request with
 * the same token is answered from the cache (the very same frozen result), an
 * expired or invalid token never is.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityVerifier, type IdentityOptions, type IdentityVerifier } from '../../../src/identity/index.js';
import { TokenCache } from '../../../src/identity/tokenCache.js';
import { generateTestKey, signToken, type TestKey } from '../../helpers/idp.js';

const ISSUER = 'https://idp.test/tenant/v2.0';
const AUDIENCE = 'api://gateway';

describe('TokenCache', () => {
  it('answers until exp, never at or after it', () => {
    let now = 1_000_000;
    const c = new TokenCache<{ v: number }>({ now: () => now });
    c.set('t', { v: 1 }, 1_060); // exp 60 s after now
    expect(c.get('t')).toEqual({ v: 1 });
    now = 1_059_999;
    expect(c.get('t')).toEqual({ v: 1 });
    now = 1_060_000;
    expect(c.get('t')).toBeUndefined();
    expect(c.size).toBe(0);
  });

  it('does not keep a token without a numeric exp, or already expired', () => {
    const c = new TokenCache<object>({ now: () => 5_000_000 });
    c.set('a', {}, undefined);
    c.set('b', {}, '9999999999');
    c.set('c', {}, 5_000);
    c.set('d', {}, Number.POSITIVE_INFINITY);
    expect(c.size).toBe(0);
  });

  it('is bounded by entries and by token bytes, least recently used out first', () => {
    const c = new TokenCache<object>({ maxEntries: 3, now: () => 0 });
    for (const t of ['a', 'b', 'c']) c.set(t, {}, 100);
    c.get('a');
    c.set('d', {}, 100);
    expect([c.get('a'), c.get('b'), c.get('c'), c.get('d')].map((x) => x !== undefined)).toEqual([true, false, true, true]);
    const bytes = new TokenCache<object>({ maxBytes: 100, now: () => 0 });
    for (let i = 0; i < 10; i++) bytes.set(String(i).repeat(40), {}, 100);
    expect(bytes.size).toBe(2);
  });

  it('hands out frozen results', () => {
    const c = new TokenCache<{ roles: string[] }>({ now: () => 0 });
    c.set('t', { roles: ['x'] }, 100);
    expect(Object.isFrozen(c.get('t'))).toBe(true);
  });
});

describe('the verifier caches verified tokens', () => {
  let key: TestKey;
  let dir: string;
  let jwksFile: string;
  const verifiers: IdentityVerifier[] = [];
  const nowSec = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    key = await generateTestKey('ES256', 'cache-key');
    dir = mkdtempSync(join(tmpdir(), 'token-cache-'));
    jwksFile = join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
  });
  afterAll(() => {
    for (const v of verifiers) v.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function verifier(over: Partial<IdentityOptions> = {}): Promise<IdentityVerifier> {
    const v = await createIdentityVerifier({
      header: 'authorization',
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: null,
      jwksFile,
      algorithms: ['ES256'],
      clockToleranceSec: 30,
      principalClaims: ['upn'],
      rolesClaim: 'roles',
      adminRoles: ['SecurityAdministrator'],
      revealClaim: 'show_private_activities',
      ...over,
    });
    verifiers.push(v);
    return v;
  }
  const token = (over: Record<string, unknown> = {}) =>
    signToken(key, { iss: ISSUER, aud: AUDIENCE, iat: nowSec(), exp: nowSec() + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'], ...over });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('a second request with the same token gets the cached result; after exp it is verified again', async () => {
    let now = Date.now();
    const v = await verifier({ now: () => now });
    const t = await token();
    const first = await v.verify(bearer(t));
    expect(first.kind).toBe('verified');
    expect(await v.verify(bearer(t))).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    now += 601_000; // past exp on the injected clock: the cache must not answer
    const again = await v.verify(bearer(t));
    expect(again).not.toBe(first);
    expect(again).toEqual(first); // jose (real clock) still accepts it
  });

  it('tokens that do not verify are checked every time and never cached', async () => {
    const v = await verifier();
    const wrongAud = await token({ aud: 'api://other' });
    for (let i = 0; i < 2; i++) expect(await v.verify(bearer(wrongAud))).toEqual({ kind: 'invalid', reason: 'claim_aud' });
    const tampered = (await token()).replace(/\.[^.]+$/, (s) => s.slice(0, -4) + (s.endsWith('AAAA') ? 'BBBB' : 'AAAA'));
    for (let i = 0; i < 2; i++) expect((await v.verify(bearer(tampered))).kind).toBe('invalid');
  });

  it('a cache of 0 entries verifies every time', async () => {
    const v = await verifier({ tokenCacheEntries: 0 });
    const t = await token();
    const a = await v.verify(bearer(t));
    expect(await v.verify(bearer(t))).not.toBe(a);
  });
});
