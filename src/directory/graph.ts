/**
 * Membership from Microsoft Entra ID through Microsoft Graph (SPEC §9 `directory.graph`).
 *
 * - An app-only token (OAuth 2.0 client credentials, scope `{graph origin}/.default`) from
 *   `{authorityHost}/{tenantId}/oauth2/v2.0/token`, with a client secret or a certificate
 *   (a client assertion JWT, RS256, signed with the certificate's key, `x5t` and `x5t#S256`
 *   headers). The token is reused until shortly before it expires (5 minutes, or a tenth
 *   of its lifetime when shorter); a 401 from Graph drops it and the call is retried once.
 * - A user's groups: `GET {graphUrl}/users/{principal}/transitiveMemberOf/microsoft.graph.group
 *   ?$select=id,displayName`, following every `@odata.nextLink` (same origin as graphUrl,
 *   or the lookup fails); 404 = the user does not exist: no groups. A principal without `@`
 *   is not a Graph user name: no groups, not asked.
 * - 429 and 503 are retried after Retry-After (1 s when absent) while the deadline allows.
 * - Anything not shaped like Graph's JSON fails the lookup (withhold).
 * Nothing here logs; errors carry no directory data.
 */
import { createHash, createPrivateKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { sleep } from './deadline.js';
import { httpsClient, retryAfterMs, type HttpsClient, type HttpsResponse } from './https.js';
import { DirectoryError, type CatalogueEntry, type DirectorySource, type UserAnswer } from './types.js';

export interface GraphOptions {
  tenantId: string;
  clientId: string;
  /** one of clientSecret / certificate */
  clientSecret?: string | null;
  /** PEM texts (read by the caller from certFile / keyFile) */
  certificate?: { cert: string; key: string } | null;
  authorityHost: string;
  graphUrl: string;
  timeoutMs: number;
  /** extra CA (PEM) to trust for the authority and Graph */
  ca?: string;
  /** the catalogue listing may take this long (default 10 × timeoutMs) */
  listTimeoutMs?: number;
  /** wall clock in ms, for token expiry (injectable) */
  now?: () => number;
}

interface Token {
  value: string;
  /** wall-clock ms after which it is not used any more */
  renewAt: number;
}

const DEFAULT_RETRY_MS = 1000;
const MAX_PAGES = 10_000;

function trimSlash(u: string): string {
  return u.replace(/\/+$/, '');
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

export function graphSource(opts: GraphOptions, client: HttpsClient = httpsClient({ ca: opts.ca })): DirectorySource {
  if (!opts.clientSecret === !opts.certificate) throw new TypeError('graph: exactly one of clientSecret / certificate');
  const now = opts.now ?? Date.now;
  const graphUrl = trimSlash(opts.graphUrl);
  const graphOrigin = new URL(graphUrl).origin;
  const tokenUrl = `${trimSlash(opts.authorityHost)}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`;
  const scope = `${graphOrigin}/.default`;
  let signer: { key: KeyObject; x5t: string; x5tS256: string } | undefined;
  if (opts.certificate) {
    const der = new X509Certificate(opts.certificate.cert).raw;
    signer = {
      key: createPrivateKey(opts.certificate.key),
      x5t: b64url(createHash('sha1').update(der).digest()),
      x5tS256: b64url(createHash('sha256').update(der).digest()),
    };
  }
  let token: Token | undefined;
  let pending: Promise<Token> | undefined;

  /** One HTTPS call with the 429/503 Retry-After loop inside the deadline. */
  async function call(
    url: string,
    init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
    signal: AbortSignal,
    deadline: number,
  ): Promise<HttpsResponse> {
    for (;;) {
      const res = await client.request(url, { ...init, signal });
      if (res.status !== 429 && res.status !== 503) return res;
      const wait = retryAfterMs(res.headers['retry-after']) ?? DEFAULT_RETRY_MS;
      if (performance.now() + wait >= deadline) throw new DirectoryError(`throttled (${res.status}) beyond the timeout`);
      await sleep(wait, signal);
    }
  }

  async function assertion(): Promise<string> {
    const s = signer!;
    const iat = Math.floor(now() / 1000);
    return new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', x5t: s.x5t, 'x5t#S256': s.x5tS256 })
      .setIssuer(opts.clientId)
      .setSubject(opts.clientId)
      .setAudience(tokenUrl)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + 600)
      .sign(s.key);
  }

  async function fetchToken(signal: AbortSignal, deadline: number): Promise<Token> {
    const form = new URLSearchParams({ client_id: opts.clientId, scope, grant_type: 'client_credentials' });
    if (signer) {
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', await assertion());
    } else {
      form.set('client_secret', opts.clientSecret!);
    }
    const started = now();
    const res = await call(
      tokenUrl,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() },
      signal,
      deadline,
    );
    if (res.status !== 200) throw new DirectoryError(`token endpoint answered ${res.status}`);
    let v: unknown;
    try {
      v = JSON.parse(res.body);
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

  async function accessToken(signal: AbortSignal, deadline: number): Promise<string> {
    if (token && now() < token.renewAt) return token.value;
    pending ??= fetchToken(signal, deadline).finally(() => {
      pending = undefined;
    });
    token = await pending;
    return token.value;
  }

  /** GET with the token; a 401 renews the token once. */
  async function graphGet(url: string, signal: AbortSignal, deadline: number): Promise<HttpsResponse> {
    for (let attempt = 0; ; attempt++) {
      const t = await accessToken(signal, deadline);
      const res = await call(url, { headers: { authorization: `Bearer ${t}` } }, signal, deadline);
      if (res.status !== 401 || attempt > 0) return res;
      if (token?.value === t) token = undefined;
    }
  }

  /** All pages of a Graph collection; `first404` = what a 404 on the first page means. */
  async function collect(url: string, signal: AbortSignal, deadline: number): Promise<CatalogueEntry[] | 'not_found'> {
    const out: CatalogueEntry[] = [];
    let next: string | undefined = url;
    for (let page = 0; next !== undefined; page++) {
      if (page >= MAX_PAGES) throw new DirectoryError('too many pages');
      const res = await graphGet(next, signal, deadline);
      if (res.status === 404 && page === 0) return 'not_found';
      if (res.status !== 200) throw new DirectoryError(`Graph answered ${res.status}`);
      let v: unknown;
      try {
        v = JSON.parse(res.body);
      } catch {
        throw new DirectoryError('Graph answer is not JSON');
      }
      if (typeof v !== 'object' || v === null || !Array.isArray((v as { value?: unknown }).value)) throw new DirectoryError('Graph answer has no value array');
      for (const g of (v as { value: unknown[] }).value) {
        if (typeof g !== 'object' || g === null) throw new DirectoryError('Graph answer: not an object in value');
        const { id, displayName } = g as Record<string, unknown>;
        if (typeof id !== 'string' || id === '') throw new DirectoryError('Graph answer: a group without id');
        out.push({ id, name: typeof displayName === 'string' && displayName !== '' ? displayName : id });
      }
      const link = (v as Record<string, unknown>)['@odata.nextLink'];
      if (link === undefined || link === null) {
        next = undefined;
      } else {
        if (typeof link !== 'string') throw new DirectoryError('Graph answer: bad @odata.nextLink');
        let u: URL;
        try {
          u = new URL(link);
        } catch {
          throw new DirectoryError('Graph answer: bad @odata.nextLink');
        }
        // the token must never travel to another host
        if (u.origin !== graphOrigin) throw new DirectoryError('Graph answer: @odata.nextLink to another origin');
        next = link;
      }
    }
    return out;
  }

  return {
    name: 'graph',
    knowsUsers: true,
    async lookup(principal, signal): Promise<UserAnswer> {
      if (!principal.includes('@')) return { exists: false, groups: new Set() };
      const deadline = performance.now() + opts.timeoutMs;
      const url = `${graphUrl}/users/${encodeURIComponent(principal)}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName`;
      const r = await collect(url, signal, deadline);
      if (r === 'not_found') return { exists: false, groups: new Set() };
      return { exists: true, groups: new Set(r.map((g) => g.id)) };
    },
    async listGroups(signal) {
      const deadline = performance.now() + (opts.listTimeoutMs ?? opts.timeoutMs * 10);
      const r = await collect(`${graphUrl}/groups?$select=id,displayName`, signal, deadline);
      if (r === 'not_found') throw new DirectoryError('Graph answered 404 for /groups');
      return r;
    },
    close() {
      client.close();
    },
  };
}
