/**
 * ID tokens the console must refuse (SPEC §13): a scripted provider on a loopback port
 * (discovery, authorize, token, JWKS) answers the authorization code exchange with an ID
 * token that is wrong in exactly one way. The unmodified answer signs in, so each refusal is
 * about that one flaw.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateTestKey, type TestKey } from '../helpers/idp.js';
import { PREFIX, signIn } from '../helpers/console.js';
import { startDemoStack, type DemoStack } from '../helpers/gateway.js';

type Flaw = 'none' | 'audience' | 'nonce' | 'signature' | 'expired' | 'issuer';

interface ScriptedIdp {
  issuer: string;
  flaw: Flaw;
  tokenRequests: number;
  close(): Promise<void>;
}

async function startScriptedIdp(key: TestKey, otherKey: TestKey, clientId: string): Promise<ScriptedIdp> {
  const codes = new Map<string, { nonce: string; challenge: string; redirectUri: string }>();
  const self: ScriptedIdp = { issuer: '', flaw: 'none', tokenRequests: 0, close: async () => undefined };
  const server = http.createServer(
    (req, res) =>
      void (async () => {
        const url = new URL(req.url ?? '/', self.issuer);
        const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        if (url.pathname === '/.well-known/openid-configuration') {
          return json(200, {
            issuer: self.issuer,
            authorization_endpoint: `${self.issuer}/authorize`,
            token_endpoint: `${self.issuer}/token`,
            jwks_uri: `${self.issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
            code_challenge_methods_supported: ['S256'],
            token_endpoint_auth_methods_supported: ['none'],
          });
        }
        if (url.pathname === '/jwks') return json(200, { keys: [key.publicJwk] });
        if (url.pathname === '/authorize') {
          const code = `code-${codes.size + 1}-${Math.random().toString(36).slice(2)}`;
          codes.set(code, {
            nonce: url.searchParams.get('nonce')!,
            challenge: url.searchParams.get('code_challenge')!,
            redirectUri: url.searchParams.get('redirect_uri')!,
          });
          const back = new URL(url.searchParams.get('redirect_uri')!);
          back.searchParams.set('code', code);
          back.searchParams.set('state', url.searchParams.get('state')!);
          return res.writeHead(302, { location: back.href }).end();
        }
        if (url.pathname === '/token' && req.method === 'POST') {
          self.tokenRequests++;
          let body = '';
          for await (const chunk of req) body += String(chunk);
          const form = new URLSearchParams(body);
          const grant = codes.get(form.get('code') ?? '');
          codes.delete(form.get('code') ?? '');
          const verifier = form.get('code_verifier') ?? '';
          if (!grant || createHash('sha256').update(verifier).digest('base64url') !== grant.challenge) return json(400, { error: 'invalid_grant' });
          const now = Math.floor(Date.now() / 1000);
          const f = self.flaw;
          const idToken = await new SignJWT({
            upn: 'alice@contoso.com',
            roles: ['SecurityAdministrator'],
            nonce: f === 'nonce' ? 'another-nonce' : grant.nonce,
          })
            .setProtectedHeader({ alg: 'RS256', kid: (f === 'signature' ? otherKey : key).kid })
            .setIssuer(f === 'issuer' ? 'https://elsewhere.example/' : self.issuer)
            .setAudience(f === 'audience' ? 'another-client' : clientId)
            .setSubject('alice')
            .setIssuedAt(f === 'expired' ? now - 7200 : now)
            .setExpirationTime(f === 'expired' ? now - 3600 : now + 600)
            .sign((f === 'signature' ? otherKey : key).privateKey);
          return json(200, { access_token: 'opaque', token_type: 'Bearer', expires_in: 600, id_token: idToken });
        }
        return res.writeHead(404).end();
      })(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self.issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  self.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return self;
}

describe('ID tokens the console refuses', () => {
  let idp: ScriptedIdp;
  let stack: DemoStack;
  beforeAll(async () => {
    const key = await generateTestKey('RS256', 'good');
    // same kid, another key pair: a signature the published key does not verify
    const other = await generateTestKey('RS256', 'good');
    idp = await startScriptedIdp(key, other, 'apg-console');
    stack = await startDemoStack({ console: { oidc: { issuer: idp.issuer, clientId: 'apg-console' } } });
  });
  afterAll(async () => {
    await stack?.close();
    await idp?.close();
  });

  test('the unflawed answer signs in', async () => {
    idp.flaw = 'none';
    const r = await signIn(stack, 'alice');
    expect(r.res.status).toBe(303);
    expect(r.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test.each<[Flaw, RegExp]>([
    ['audience', /aud/],
    ['nonce', /nonce/],
    ['signature', /signature|ID token refused/],
    ['expired', /exp/],
    ['issuer', /iss/],
  ])('an ID token with a wrong %s is refused, no session', async (flaw, why) => {
    idp.flaw = flaw;
    const before = idp.tokenRequests;
    const r = await signIn(stack, 'alice');
    expect(idp.tokenRequests).toBe(before + 1);
    expect(r.res.status).toBe(400);
    const page = await r.res.text();
    expect(page).toContain('was refused');
    expect(page).toMatch(why);
    expect(r.res.headers.getSetCookie().some((c) => c.startsWith('apg_session='))).toBe(false);
    expect((await fetch(`${stack.gw.url}${PREFIX}/api/privacy/groups`, { headers: { cookie: r.cookie } })).status).toBe(401);
  });
});
