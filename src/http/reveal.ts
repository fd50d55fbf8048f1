/**
 * Stage 3–4: identity and the reveal decision (SPEC §4.3–4.4).
 *
 * `decideReveal` takes explicit inputs and returns a decision; a refusal is
 * returned (not thrown) so the caller can still record who asked, and so a
 * refusal can later be audited like a grant.
 */
import type http from 'node:http';
import type { GatewayConfig } from '../config/index.js';
import { GatewayError } from '../errors.js';
import { unauthenticated, type IdentityResult, type IdentityVerifier } from '../identity/index.js';
import type { Metrics } from '../metrics.js';
import type { RouteKind } from '../routes/table.js';
import type { GrantedReveal } from './accountableReveal.js';
import type { VouchedIdentity } from './vouchedIdentity.js';

export type VerifiedIdentity = Extract<IdentityResult, { kind: 'verified' }>;

export interface RevealDecision {
  granted: boolean;
  /** reveal was asked for (header or token flag), granted or not */
  requested: boolean;
  via?: 'header' | 'token' | 'console';
  /** the verified caller, when a token verified */
  identity?: VerifiedIdentity;
  /** why the request must be refused (400, 401, 403, 503); absent = go on */
  refusal?: GatewayError;
  /** a granted reveal's reason, scope and limits (SPEC §10) */
  grant?: GrantedReveal;
}

export const NO_REVEAL: RevealDecision = Object.freeze({ granted: false, requested: false });

export interface RevealInput {
  headers: http.IncomingHttpHeaders;
  routeKind: RouteKind;
  reveal: GatewayConfig['reveal'];
  identity: IdentityVerifier | null;
  /** an identity the gateway vouches for (the console's session); replaces the bearer token */
  vouched?: VouchedIdentity;
}

export interface RevealDeps {
  /**
   * SPEC §10 for a verified caller: permission (admin role, list, expiry), reason,
   * scope, and the record of a refusal. Resolves with what the reveal may show;
   * throws a GatewayError (403, 400, 503) to refuse. Counts its own refusals.
   */
  authorize(identity: VerifiedIdentity, via: 'header' | 'token' | 'console'): Promise<GrantedReveal>;
  metrics: Pick<Metrics, 'reveals'>;
}

/** Verifies the caller's token, if any (anonymous without an identity config). */
export async function identify(identity: IdentityVerifier | null, headers: http.IncomingHttpHeaders): Promise<IdentityResult> {
  return identity ? identity.verify(headers) : { kind: 'anonymous' };
}

/** The reveal decision for a filtered route (list, item, export). */
export async function decideReveal(input: RevealInput, deps: RevealDeps): Promise<RevealDecision> {
  const cfg = input.reveal;
  const raw = input.headers[cfg.header.toLowerCase()];
  let viaHeader = false;
  if (raw !== undefined) {
    if (input.routeKind !== 'export' && (Array.isArray(raw) || raw.trim() !== cfg.value)) {
      return { ...NO_REVEAL, refusal: new GatewayError('bad_reveal_header', `${cfg.header} accepts only the value "${cfg.value}".`) };
    }
    viaHeader = true;
  }
  const v = input.vouched;
  const id: IdentityResult = v
    ? {
        kind: 'verified',
        principal: v.principal,
        roles: v.roles,
        isAdmin: v.isAdmin,
        revealFlag: false,
        iss: v.iss,
        ...(v.jti ? { jti: v.jti } : {}),
        claims: {},
      }
    : await identify(input.identity, input.headers);
  const identity = id.kind === 'verified' ? id : undefined;
  const requested = viaHeader || (identity?.revealFlag ?? false);
  if (!requested) return { granted: false, requested: false, identity };
  // exports never reveal: the request goes on, marked as ignored
  if (input.routeKind === 'export') return { granted: false, requested: true, identity };
  const refuse = (outcome: string, refusal: GatewayError): RevealDecision => {
    deps.metrics.reveals.inc({ outcome });
    return { granted: false, requested: true, identity, refusal };
  };
  if (id.kind === 'unavailable') return refuse('identity_unavailable', new GatewayError('identity_unavailable'));
  if (id.kind !== 'verified') return refuse('unauthenticated', unauthenticated(id));
  const via = v ? v.via : viaHeader ? 'header' : 'token';
  let grant: GrantedReveal;
  try {
    grant = await deps.authorize(id, via);
  } catch (err) {
    if (err instanceof GatewayError) return { granted: false, requested: true, identity, refusal: err };
    throw err;
  }
  deps.metrics.reveals.inc({ outcome: grant.scope !== undefined || grant.limits.permissionGroups !== undefined ? 'granted_narrowed' : 'granted' });
  return { granted: true, requested: true, via, identity: id, grant };
}
