/**
 * The console's OpenID Connect relying party (SPEC §13): authorization code flow with PKCE,
 * `state` and `nonce`, through openid-client against any provider found by discovery. The
 * ID token is verified a second time with jose against the issuer's JWKS (openid-client
 * trusts an ID token that came over the direct, TLS-protected token request without
 * checking its signature; the SPEC asks for the signature check).
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
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

export function createOidcClient(s: OidcSettings): OidcClient {
  const issuer = new URL(s.issuer);
  const timeoutMs = s.timeoutMs ?? 5000;
  let discovered: Promise<{ config: client.Configuration; jwks: ReturnType<typeof createRemoteJWKSet> }> | undefined;

  const discover = () => {
    discovered ??= (async () => {
      const options: client.DiscoveryRequestOptions = {
        timeout: Math.max(1, Math.ceil(timeoutMs / 1000)),
        execute: isLoopbackHttp(issuer) ? [client.allowInsecureRequests] : [],
      };
      const config = await client.discovery(
        issuer,
        s.clientId,
        s.clientSecret ?? undefined,
        s.clientSecret === null ? client.None() : client.ClientSecretBasic(s.clientSecret),
        options,
      );
      const jwksUri = config.serverMetadata().jwks_uri;
      if (!jwksUri) throw new Error('the provider publishes no jwks_uri');
      return { config, jwks: createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: timeoutMs }) };
    })();
    // a failed discovery is tried again by the next sign-in
    discovered.catch(() => {
      discovered = undefined;
    });
    return discovered.catch((err: unknown) => {
      throw new ProviderUnavailableError(err instanceof Error ? err.message : String(err));
    });
  };

  return {
    async begin(redirectUri, prompt) {
      const { config } = await discover();
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const params: Record<string, string> = {
        redirect_uri: redirectUri,
        scope: s.scopes.join(' '),
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      };
      if (prompt) params.prompt = prompt;
      return { url: client.buildAuthorizationUrl(config, params).href, state, nonce, codeVerifier };
    },

    async finish(callbackUrl, expected) {
      const { config, jwks } = await discover();
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
        const e = err as { cause?: unknown; code?: unknown };
        if (e?.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || err instanceof TypeError || (e?.cause instanceof Error && e.cause.name === 'TimeoutError')) {
          throw new ProviderUnavailableError(describe(err));
        }
        throw new SignInRefusedError(describe(err));
      }
      if (!idToken) throw new SignInRefusedError('no ID token');
      try {
        const { payload } = await jwtVerify(idToken, jwks, {
          issuer: config.serverMetadata().issuer,
          audience: s.clientId,
          requiredClaims: ['exp', 'iat', 'nonce'],
        });
        if (payload.nonce !== expected.nonce) throw new SignInRefusedError('ID token nonce mismatch');
        return payload;
      } catch (err) {
        if (err instanceof SignInRefusedError) throw err;
        throw new SignInRefusedError(`ID token refused (${describe(err)})`);
      }
    },
  };
}
