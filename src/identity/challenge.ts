/**
 * The 401 a caller gets when a reveal or the admin API needs a valid admin
 * token (SPEC §5): `WWW-Authenticate: Bearer`, and when a token was sent but
 * did not verify, `error="invalid_token"` with a short why word. The why word
 * never carries token content; the access line records the same word.
 */
import { GatewayError } from '../errors.js';
import type { IdentityResult } from './verifier.js';

export type InvalidTokenWhy =
  'expired' | 'not yet valid' | 'bad signature' | 'wrong issuer' | 'wrong audience' | 'unknown key' | 'algorithm not allowed' | 'malformed';

const WHY: Readonly<Record<string, InvalidTokenWhy>> = {
  expired: 'expired',
  claim_nbf: 'not yet valid',
  claim_iat: 'not yet valid',
  bad_signature: 'bad signature',
  claim_iss: 'wrong issuer',
  claim_aud: 'wrong audience',
  unknown_key: 'unknown key',
  ambiguous_key: 'unknown key',
  alg_not_allowed: 'algorithm not allowed',
  unsupported: 'algorithm not allowed',
};

/** The SPEC's why word for a verifier reason (anything else about the token: `malformed`). */
export function invalidTokenWhy(reason: string): InvalidTokenWhy {
  return WHY[reason] ?? 'malformed';
}

/** 401 `unauthenticated`; `why` is set when a token was sent and did not verify. */
export class UnauthenticatedError extends GatewayError {
  constructor(
    readonly why?: InvalidTokenWhy,
    message?: string,
  ) {
    super(
      'unauthenticated',
      message,
      why === undefined
        ? {}
        : {
            headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${why}"` },
          },
    );
  }
}

/** The 401 for an identity result that is not a verified one. */
export function unauthenticated(result: IdentityResult, message?: string): UnauthenticatedError {
  return new UnauthenticatedError(result.kind === 'invalid' ? invalidTokenWhy(result.reason) : undefined, message);
}
