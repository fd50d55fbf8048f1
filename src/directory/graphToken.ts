/**
 * The Graph source's app-only token (OAuth 2.0 client credentials, scope `{graph origin}/.default`)
 * from `{authorityHost}/{tenantId}/oauth2/v2.0/token`, with a client secret or a certificate
 * (a client assertion JWT, RS256, signed with the certificate's key, `x5t` and `x5t#S256`
 * headers). Reused until shortly before it expires (5 minutes, or a tenth of its lifetime
 * when shorter); concurrent callers share one request. Errors carry no directory data.
 */
import { createHash, createPrivateKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../clock.js';
import type { HttpsResponse } from './https.js';
import { DirectoryError } from './types.js';

export interface Token {
  value: string;
  /** wall-clock ms after which it is not used any more */
  renewAt: number;
}

export interface Signer {
  key: KeyObject;
  x5t: string;
  x5tS256: string;
}

/** One HTTPS call under the deadline (graph.ts: with the 429/503 Retry-After loop). */
export type Call = (
  url: string,
  init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  signal: AbortSignal,
  deadline: number,
) => Promise<HttpsResponse>;

export interface TokenSettings {
  clientId: string;
  tokenUrl: string;
  scope: string;
  /** one of clientSecret / signer */
  clientSecret?: string | null;
  signer?: Signer;
}

/** The signing key and certificate thumbprints of a PEM certificate pair. */
export function signerOf(certificate: { cert: string; key: string }): Signer {
  const der = new X509Certificate(certificate.cert).raw;
  return {
    key: createPrivateKey(certificate.key),
    x5t: createHash('sha1').update(der).digest().toString('base64url'),
    x5tS256: createHash('sha256').update(der).digest().toString('base64url'),
  };
}

/** The client assertion JWT: ten minutes from `nowMs`. */
export async function clientAssertion(s: Signer, clientId: string, audience: string, nowMs: number): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t: s.x5t, 'x5t#S256': s.x5tS256 })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + 600)
    .sign(s.key);
}

/** The form posted to the token endpoint. */
export async function tokenForm(t: TokenSettings, nowMs: number): Promise<URLSearchParams> {
  const form = new URLSearchParams({ client_id: t.clientId, scope: t.scope, grant_type: 'client_credentials' });
  if (t.signer) {
    form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    form.set('client_assertion', await clientAssertion(t.signer, t.clientId, t.tokenUrl, nowMs));
  } else {
    form.set('client_secret', t.clientSecret!);
  }
  return form;
}

/** Pure: the token of a 200 answer asked for at `started` (wall-clock ms). */
export function parseTokenAnswer(body: string, started: number): Token {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new DirectoryError('token endpoint: not JSON');
  }
  const { access_token: value, expires_in: expiresIn } = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const lifetime = typeof expiresIn === 'number' ? expiresIn : typeof expiresIn === 'string' ? Number(expiresIn) : NaN;
  if (typeof value !== 'string' || value === '' || !Number.isFinite(lifetime) || lifetime <= 0) {
    throw new DirectoryError('token endpoint: no access_token/expires_in');
  }
  const margin = Math.min(300, lifetime / 10) * 1000;
  return { value, renewAt: started + lifetime * 1000 - margin };
}

/** The current token: reused until renewAt, fetched once for concurrent callers, dropped on a 401. */
export class GraphTokens {
  private token: Token | undefined;
  private pending: Promise<Token> | undefined;

  constructor(
    private readonly settings: TokenSettings,
    private readonly call: Call,
    private readonly clock: Clock,
  ) {}

  async get(signal: AbortSignal, deadline: number): Promise<string> {
    if (this.token && this.clock.now() < this.token.renewAt) return this.token.value;
    this.pending ??= this.fetch(signal, deadline).finally(() => {
      this.pending = undefined;
    });
    this.token = await this.pending;
    return this.token.value;
  }

  /** Graph refused `value` (401): the next get() fetches a new token, unless one replaced it already. */
  refused(value: string): void {
    if (this.token?.value === value) this.token = undefined;
  }

  private async fetch(signal: AbortSignal, deadline: number): Promise<Token> {
    const form = await tokenForm(this.settings, this.clock.now());
    const started = this.clock.now();
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const res = await this.call(this.settings.tokenUrl, { method: 'POST', headers, body: form.toString() }, signal, deadline);
    if (res.status !== 200) throw new DirectoryError(`token endpoint answered ${res.status}`);
    return parseTokenAnswer(res.body, started);
  }
}
