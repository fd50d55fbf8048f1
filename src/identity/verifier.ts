/**
 * Admin identity: verifies a `Bearer <jwt>` header against the identity provider's keys
 * (SPEC §3 `identity`, §4 step 3). It never throws from verify(), never logs, and never
 * returns or echoes the token: results carry only short reason words.
 *
 * Decisions (documented because the attack corpus pins them):
 * - Only the exact scheme `Bearer` (one space) is recognised. RFC 7235 makes the scheme
 *   case-insensitive, but an exact rule is predictable and a lower-case `bearer`, `Basic`
 *   or odd whitespace then simply means "ordinary consumer" (anonymous): the header goes
 *   upstream untouched and can never grant a reveal.
 * - A bearer that is not JWT-shaped (three base64url parts, the last possibly empty) is an
 *   ordinary upstream credential (e.g. an opaque API token) → anonymous. That includes JWEs
 *   (five parts) and anything with an extra segment.
 * - Admin roles match exactly and case-sensitively, as Entra app-role values are compared.
 * - Key-fetch failures (IdP down, timeout, non-200, garbage, not a JWKS) → 'unavailable';
 *   everything about the token itself (including an unknown `kid` while the JWKS answers)
 *   → 'invalid'. The distinction is made where the error arises: inside key resolution.
 */
import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  errors,
  type CompactJWSHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type JWTVerifyResult,
} from 'jose';
import { clockOf, type Clock } from '../clock.js';
import { isAdminRole, principalOf, rolesOf } from './claims.js';
import { TokenCache } from './tokenCache.js';

export interface IdentityOptions {
  header: string;
  issuer: string;
  audience: string;
  jwksUrl: string | null;
  jwksFile: string | null;
  algorithms: string[];
  clockToleranceSec: number;
  principalClaims: string[];
  rolesClaim: string;
  adminRoles: string[];
  revealClaim: string;
  /** JWKS HTTP timeout; default 2000 */
  fetchTimeoutMs?: number;
  /** minimum time between refetches triggered by an unknown kid; default 30000 */
  cooldownMs?: number;
  /** verified tokens remembered until their exp (tokenCache.ts); default 10,000, 0 = no cache */
  tokenCacheEntries?: number;
  /** wall clock of the token cache and the iat check; default systemClock */
  clock?: Clock;
  /** the older shape of `clock` (epoch ms) */
  now?: () => number;
}

export type IdentityResult =
  | { kind: 'anonymous' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'unavailable' }
  | {
      kind: 'verified';
      principal: string;
      roles: string[];
      isAdmin: boolean;
      revealFlag: boolean;
      iss: string;
      jti?: string;
      /** the verified token's payload, for claims other parts read (SPEC §10 reason claim) */
      claims: Record<string, unknown>;
    };

export interface IdentityVerifier {
  verify(headers: IncomingHttpHeaders): Promise<IdentityResult>;
  ready(): Promise<boolean>;
  close(): void;
}

/** Header values above this are refused before any parsing (cheap DoS guard). */
export const MAX_HEADER_BYTES = 8 * 1024;

/** Asymmetric JWS algorithms only: a symmetric or `none` entry in config is a mistake. */
const ASYMMETRIC = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519']);

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/;

/** A verified token in the cache: its result, and the key and header it was verified with. */
interface Cached {
  result: IdentityResult;
  key: unknown;
  header: CompactJWSHeaderParameters;
}

/** Thrown by our key resolver when the key source itself failed (not the token). */
class KeySourceUnavailable extends Error {}

type HeaderToken = { kind: 'token'; token: string } | { kind: 'anonymous' } | { kind: 'invalid'; reason: string };

/** Pure: classifies the raw header value. */
export function extractBearer(value: string | string[] | undefined): HeaderToken {
  if (Array.isArray(value)) {
    if (value.length > 1) return { kind: 'invalid', reason: 'multiple_headers' };
    value = value[0];
  }
  if (value === undefined || value === '') return { kind: 'anonymous' };
  if (Buffer.byteLength(value, 'utf8') > MAX_HEADER_BYTES) return { kind: 'invalid', reason: 'oversize' };
  const m = BEARER.exec(value);
  return m ? { kind: 'token', token: m[1] } : { kind: 'anonymous' };
}

/** Errors a JWKS lookup raises because of the token's header, not because the key source failed. */
function isTokenKeyMiss(err: unknown): boolean {
  return err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys || err instanceof errors.JOSENotSupported;
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    return /^[a-z_]{1,24}$/i.test(err.claim) ? `claim_${err.claim}` : 'claim';
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown_key';
  if (err instanceof errors.JWKSMultipleMatchingKeys) return 'ambiguous_key';
  if (err instanceof errors.JOSENotSupported) return 'unsupported';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed';
  return 'invalid';
}

/** What is wrong with a JWKS file (the same checks as at start), or undefined when it is usable. */
export function jwksFileProblem(path: string): string | undefined {
  try {
    loadJwksFile(path);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^identity\.jwksFile /, '');
  }
}

/** Reads and checks a JWKS file; throws with a message naming the file (not its content). */
function loadJwksFile(path: string): JWTVerifyGetKey {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`identity.jwksFile ${path}: cannot read a JSON document (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  const keys = (json as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(`identity.jwksFile ${path}: not a JSON Web Key Set with at least one key ({"keys": [...]})`);
  }
  if (keys.some((k) => k && typeof k === 'object' && ('d' in k || 'k' in k))) {
    // 'd' = private key material, 'k' = symmetric secret: neither belongs in a verification set.
    throw new Error(`identity.jwksFile ${path}: contains private or symmetric key material; publish public keys only`);
  }
  try {
    return createLocalJWKSet(json as { keys: [] });
  } catch (err) {
    throw new Error(`identity.jwksFile ${path}: invalid JSON Web Key Set (${(err as Error).message})`, { cause: err });
  }
}

function validate(opts: IdentityOptions): void {
  if ((opts.jwksUrl == null) === (opts.jwksFile == null)) {
    throw new Error('identity: set exactly one of jwksUrl / jwksFile');
  }
  if (opts.algorithms.length === 0) throw new Error('identity.algorithms: must not be empty');
  const bad = opts.algorithms.filter((a) => !ASYMMETRIC.has(a));
  if (bad.length) throw new Error(`identity.algorithms: only asymmetric JWS algorithms are allowed, not ${bad.join(', ')}`);
  if (opts.principalClaims.length === 0) throw new Error('identity.principalClaims: must not be empty');
}

/** What verify() needs: the header to read, how to verify, the cache and the clock. */
interface VerifierParts {
  opts: IdentityOptions;
  headerName: string;
  keys: KeySet;
  /** keys.source, guarded (guardedKeys) */
  getKey: JWTVerifyGetKey;
  verifyOptions: JWTVerifyOptions;
  cache: TokenCache<Cached> | null;
  clock: Clock;
}

/** The key set: a local file, or a remote JWKS (one per verifier: jose caches keys, dedupes fetches, refetches on an unknown kid at most once per cooldown). */
export interface KeySet {
  source: JWTVerifyGetKey;
  remote?: ReturnType<typeof createRemoteJWKSet>;
}

export async function createIdentityVerifier(opts: IdentityOptions): Promise<IdentityVerifier> {
  validate(opts);
  const keys = keySetOf(opts);
  const cacheEntries = opts.tokenCacheEntries ?? 10_000;
  const clock = opts.clock ?? clockOf(opts.now);
  const parts: VerifierParts = {
    opts,
    headerName: opts.header.toLowerCase(),
    keys,
    getKey: guardedKeys(keys.source),
    verifyOptions: verifyOptionsOf(opts),
    cache: cacheEntries > 0 ? new TokenCache<Cached>({ maxEntries: cacheEntries, clock }) : null,
    clock,
  };
  let closed = false;
  return {
    verify: (headers) => verifyHeaders(parts, headers, closed),
    ready: async () => !closed && (await keysReady(keys)),
    close() {
      closed = true;
    },
  };
}

export function verifyOptionsOf(opts: Pick<IdentityOptions, 'issuer' | 'audience' | 'algorithms' | 'clockToleranceSec'>): JWTVerifyOptions {
  return {
    issuer: opts.issuer,
    audience: opts.audience,
    algorithms: opts.algorithms,
    clockTolerance: opts.clockToleranceSec,
    requiredClaims: ['exp'],
  };
}

/** The key set of the options (validated: exactly one of jwksFile / jwksUrl). */
export function keySetOf(opts: Pick<IdentityOptions, 'jwksFile' | 'jwksUrl' | 'fetchTimeoutMs' | 'cooldownMs'>): KeySet {
  if (opts.jwksFile != null) return { source: loadJwksFile(opts.jwksFile) };
  let url: URL;
  try {
    url = new URL(opts.jwksUrl as string);
  } catch {
    throw new Error('identity.jwksUrl: not a valid URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('identity.jwksUrl: must be http(s)');
  const remote = createRemoteJWKSet(url, {
    timeoutDuration: opts.fetchTimeoutMs ?? 2000,
    cooldownDuration: opts.cooldownMs ?? 30_000,
  });
  return { source: remote, remote };
}

/** Key resolution that tells a failing key source apart from a bad token. */
export function guardedKeys(source: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await source(header, token);
    } catch (err) {
      if (isTokenKeyMiss(err)) throw err;
      throw new KeySourceUnavailable();
    }
  };
}

async function verifyToken(token: string, getKey: JWTVerifyGetKey, verifyOptions: JWTVerifyOptions): Promise<JWTVerifyResult & { key?: unknown }> {
  try {
    return await jwtVerify(token, getKey, verifyOptions);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    // Several keys match (e.g. no kid): try each, as jose documents.
    for await (const key of err as unknown as AsyncIterable<CryptoKey>) {
      try {
        return { ...(await jwtVerify(token, key, verifyOptions)), key };
      } catch (inner) {
        if (inner instanceof errors.JWSSignatureVerificationFailed) continue;
        throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/**
 * Pure: the result of a verified payload at `nowMs`. jose leaves a future iat alone unless
 * maxTokenAge is set; a token "issued" later than now (beyond tolerance) is forged or from
 * a broken clock: refuse it.
 */
export function toResult(
  payload: JWTPayload,
  opts: Pick<IdentityOptions, 'principalClaims' | 'rolesClaim' | 'adminRoles' | 'revealClaim' | 'clockToleranceSec'>,
  nowMs: number,
): IdentityResult {
  if (typeof payload.iat === 'number' && payload.iat > nowMs / 1000 + opts.clockToleranceSec) {
    return { kind: 'invalid', reason: 'claim_iat' };
  }
  const principal = principalOf(payload, opts);
  if (principal === undefined) return { kind: 'invalid', reason: 'no_principal' };
  const roles = rolesOf(payload, opts);
  return {
    kind: 'verified',
    principal,
    roles,
    isAdmin: isAdminRole(roles, opts),
    revealFlag: payload[opts.revealClaim] === true,
    iss: payload.iss as string,
    ...(typeof payload.jti === 'string' ? { jti: payload.jti } : {}),
    claims: payload,
  };
}

/**
 * A cached token still holds only while the key that verified it is the key
 * the current key set gives for its header: a JWKS refetch that dropped or
 * replaced the key (new key objects) sends the token through full
 * verification again. Resolving the key is a lookup, not a signature check.
 */
async function stillKeyed(source: JWTVerifyGetKey, c: Cached, token: string): Promise<boolean> {
  try {
    const [protectedHeader, payload, signature] = token.split('.');
    return (await source(c.header, { protected: protectedHeader, payload, signature })) === c.key;
  } catch {
    return false;
  }
}

/** Never throws; a closed verifier answers a token with 'unavailable'. */
async function verifyHeaders(p: VerifierParts, headers: IncomingHttpHeaders, closed: boolean): Promise<IdentityResult> {
  const found = extractBearer(headers[p.headerName]);
  if (found.kind !== 'token') return found;
  if (closed) return { kind: 'unavailable' };
  const hit = p.cache?.get(found.token);
  if (hit !== undefined && (await stillKeyed(p.keys.source, hit, found.token))) return hit.result;
  try {
    const { payload, protectedHeader, key } = await verifyToken(found.token, p.getKey, p.verifyOptions);
    const result = toResult(payload, p.opts, p.clock.now());
    if (result.kind === 'verified' && p.cache !== null && key !== undefined) {
      Object.freeze(result.roles);
      p.cache.set(found.token, { result: Object.freeze(result), key, header: protectedHeader }, payload.exp);
    }
    return result;
  } catch (err) {
    if (err instanceof KeySourceUnavailable) return { kind: 'unavailable' };
    return { kind: 'invalid', reason: reasonOf(err) };
  }
}

/** A local key set is always ready; a remote one once its keys are fresh or reload. */
async function keysReady(keys: KeySet): Promise<boolean> {
  if (!keys.remote || keys.remote.fresh) return true;
  try {
    await keys.remote.reload();
    return true;
  } catch {
    return false;
  }
}
