/**
 * The console's OpenID Connect relying party (SPEC §13): authorization code flow with PKCE,
 * `state` and `nonce`, through openid-client against any provider found by discovery. The
 * ID token is verified a second time with jose against the issuer's JWKS (openid-client
 * trusts an ID token that came over the direct, TLS-protected token request without
 * checking its signature; the SPEC asks for the signature check).
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import * as client from 'openid-client';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string | null;
  scopes: string[];
  /** one HTTP call to the provider; default 5000 ms */
  timeoutMs?: number;
}

export interface AuthorizationRequest {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/** The provider's answer was refused; `why` is a short phrase safe to show (never a token). */
export class SignInRefusedError extends Error {
  constructor(readonly why: string) {
    super(why);
  }
}

/** The provider cannot be reached (discovery, token endpoint or keys). */
export class ProviderUnavailableError extends Error {}

export interface OidcClient {
  begin(redirectUri: string, prompt?: 'login'): Promise<AuthorizationRequest>;
  /** exchanges the code; returns the verified ID token's claims */
  finish(callbackUrl: URL, expected: { state: string; nonce: string; codeVerifier: string }): Promise<JWTPayload>;
}

function isLoopbackHttp(u: URL): boolean {
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

function describe(err: unknown): string {
  if (err instanceof client.AuthorizationResponseError) return `the provider answered ${err.error}`;
  if (err instanceof client.ResponseBodyError) return `the provider refused the code (${err.error})`;
  // openid-client wraps oauth4webapi's error, whose cause names the claim that failed
  const e = err as { code?: unknown; cause?: { claim?: unknown; cause?: { claim?: unknown } } };
  const name = e?.cause?.claim ?? e?.cause?.cause?.claim;
  const claim = typeof name === 'string' && /^[a-z_]{1,20}$/.test(name) ? ` (the ${name} claim)` : '';
  return typeof e?.code === 'string' && /^[A-Z_]{1,64}$/.test(e.code) ? `${e.code}${claim}` : 'the ID token could not be validated';
}

type Jwks = ReturnType<typeof createRemoteJWKSet>;

/** The provider's configuration and its keys, found by discovery. */
export interface Discovered {
  config: client.Configuration;
  jwks: Jwks;
}

export function createOidcClient(s: OidcSettings): OidcClient {
  const discover = discoverer(s);
  return {
    begin: async (redirectUri, prompt) => beginSignIn((await discover()).config, s.scopes, redirectUri, prompt),
    finish: async (callbackUrl, expected) => finishSignIn(await discover(), s.clientId, callbackUrl, expected),
  };
}

/** Discovery once, shared by every sign-in; a failed discovery is tried again by the next one (ProviderUnavailableError). */
export function discoverer(s: OidcSettings, discoverOnce: (issuer: URL, s: OidcSettings) => Promise<Discovered> = discoverProvider): () => Promise<Discovered> {
  const issuer = new URL(s.issuer); // a bad issuer fails now, not at the first sign-in
  let discovered: Promise<Discovered> | undefined;
  return () => {
    const attempt = (discovered ??= discoverOnce(issuer, s));
    attempt.catch(() => {
      if (discovered === attempt) discovered = undefined;
    });
    return attempt.catch((err: unknown) => {
      throw new ProviderUnavailableError(err instanceof Error ? err.message : String(err));
    });
  };
}

/** One discovery of the issuer (plain http only on loopback); a provider without jwks_uri is refused. */
async function discoverProvider(issuer: URL, s: OidcSettings): Promise<Discovered> {
  const timeoutMs = s.timeoutMs ?? 5000;
  const options: client.DiscoveryRequestOptions = {
    timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
    execute: isLoopbackHttp(issuer) ? [client.allowInsecureRequests] : [],
  };
  const auth = s.clientSecret === null ? client.None() : client.ClientSecretBasic(s.clientSecret);
  const config = await client.discovery(issuer, s.clientId, s.clientSecret ?? undefined, auth, options);
  const jwksUri = config.serverMetadata().jwks_uri;
  if (!jwksUri) throw new Error('the provider publishes no jwks_uri');
  return { config, jwks: createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: timeoutMs }) };
}

/** The authorization request: code flow with PKCE (S256), state and nonce. */
export async function beginSignIn(
  config: client.Configuration,
  scopes: readonly string[],
  redirectUri: string,
  prompt?: 'login',
): Promise<AuthorizationRequest> {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const params: Record<string, string> = {
    redirect_uri: redirectUri,
    scope: scopes.join(' '),
    response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  if (prompt) params.prompt = prompt;
  return { url: client.buildAuthorizationUrl(config, params).href, state, nonce, codeVerifier };
}

async function finishSignIn(
  d: Discovered,
  clientId: string,
  callbackUrl: URL,
  expected: { state: string; nonce: string; codeVerifier: string },
): Promise<JWTPayload> {
  const idToken = await exchangeCode(d.config, callbackUrl, expected);
  return verifyIdToken(idToken, d.jwks, { issuer: d.config.serverMetadata().issuer, audience: clientId, nonce: expected.nonce });
}

/** Exchanges the code for the ID token; an unreachable or non-conforming provider is unavailable, anything else a refusal. */
async function exchangeCode(config: client.Configuration, callbackUrl: URL, expected: { state: string; nonce: string; codeVerifier: string }): Promise<string> {
  let idToken: string | undefined;
  try {
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: expected.codeVerifier,
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      idTokenExpected: true,
    });
    idToken = tokens.id_token;
  } catch (err) {
    throw grantError(err);
  }
  if (!idToken) throw new SignInRefusedError('no ID token');
  return idToken;
}

/** Pure: the error a failed code exchange becomes. */
export function grantError(err: unknown): ProviderUnavailableError | SignInRefusedError {
  const e = err as { cause?: unknown; code?: unknown };
  if (e?.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || err instanceof TypeError || (e?.cause instanceof Error && e.cause.name === 'TimeoutError')) {
    return new ProviderUnavailableError(describe(err));
  }
  return new SignInRefusedError(describe(err));
}

/** The second check of the ID token: signature against the issuer's keys, issuer, audience, exp, iat and nonce. */
export async function verifyIdToken(
  idToken: string,
  jwks: JWTVerifyGetKey,
  expected: { issuer: string; audience: string; nonce: string },
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(idToken, jwks, {
      issuer: expected.issuer,
      audience: expected.audience,
      requiredClaims: ['exp', 'iat', 'nonce'],
    });
    if (payload.nonce !== expected.nonce) throw new SignInRefusedError('ID token nonce mismatch');
    return payload;
  } catch (err) {
    if (err instanceof SignInRefusedError) throw err;
    throw new SignInRefusedError(`ID token refused (${describe(err)})`);
  }
}
