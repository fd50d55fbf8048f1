/**
 * The accountable part of the reveal decision (SPEC §10), for a request that
 * asked for a reveal and carries a verified token: reason, scope, permission
 * (with its groups and expiry), and the record of a refusal.
 *
 * Order, chosen so that nobody learns about the catalogue or the permission
 * list without being on the record:
 *  1. reason and scope are parsed (their errors held back);
 *  2. the grant is decided (admin role, permission, expiry); a refusal writes a
 *     `private-activities.denied` entry (best effort: if it cannot be written the
 *     403 still goes out) and answers 403 `reveal_forbidden` saying why;
 *  3. a held-back reason/scope error answers 400;
 *  4. scope groups outside the catalogue answer 400 `bad_scope` (503
 *     `directory_unavailable` when the catalogue cannot be consulted).
 */
import type http from 'node:http';
import type { GatewayConfig } from '../config/index.js';
import { unknownGroups, type KnownGroups } from '../directory/knownGroups.js';
import { GatewayError } from '../errors.js';
import { deniedEntry, type EntryActor, type RevealFacts } from '../governance/entries.js';
import type { GovernanceSink } from '../governance/types.js';
import type { IdentityResult } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { checkApproval, type RevealRequest } from '../privacy/approval.js';
import { decideGrant, type PermissionFacts } from '../privacy/grant.js';
import type { RevealLimits, RevealScope } from '../privacy/revealFilter.js';
import { parseReason, parseScope, RevealInputError } from '../privacy/revealInput.js';

type VerifiedCaller = Extract<IdentityResult, { kind: 'verified' }>;

/** What this stage reads of the request's Exchange (src/http/exchange.ts), and the one fact it writes. */
export interface RevealExchange {
  readonly req: http.IncomingMessage;
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** whether the reveal carried a valid reason (access line) */
  reason?: boolean;
}

export interface AccountableRevealDeps {
  config: GatewayConfig;
  permission: (principal: string) => PermissionFacts | undefined;
  /** SPEC §11: reveal requests by id (the state this instance last saw) */
  revealRequest: (id: string) => RevealRequest | undefined;
  now: () => number;
  knownGroups: KnownGroups;
  governance: () => GovernanceSink | null;
  metrics: Metrics;
  logger: Logger;
}

export interface GrantedReveal {
  reason?: string;
  scope?: RevealScope;
  limits: RevealLimits;
  /** SPEC §11: the approved request the reveal happens under */
  revealRequest?: string;
}

/** SPEC §11: the header naming the approved reveal request. */
export const REVEAL_REQUEST_HEADER = 'x-reveal-request';

/** The caller of a reveal as its governance entries name it. */
export function revealActor(caller: VerifiedCaller, via: 'header' | 'token' | 'console'): EntryActor {
  return { principal: caller.principal, via, token: caller.jti === undefined ? { iss: caller.iss } : { iss: caller.iss, jti: caller.jti } };
}

/** Steps 1–4 above. Throws GatewayError (403 / 400 / 503); resolves with what the granted reveal may show. */
export async function authorizeReveal(
  deps: AccountableRevealDeps,
  ctx: RevealExchange,
  caller: VerifiedCaller,
  via: 'header' | 'token' | 'console',
): Promise<GrantedReveal> {
  const cfg = deps.config.reveal;
  const { req } = ctx;
  if (cfg.approval) return authorizeApproved(deps, ctx, caller, via);
  let inputError: RevealInputError | undefined;
  let reason: string | undefined;
  let scope: RevealScope | undefined;
  try {
    reason = parseReason(req.headers[cfg.reasonHeader], caller.claims[cfg.reasonClaim], cfg);
  } catch (err) {
    if (!(err instanceof RevealInputError)) throw err;
    inputError = err;
  }
  try {
    scope = parseScope(req.headers[cfg.scopeHeader]);
  } catch (err) {
    if (!(err instanceof RevealInputError)) throw err;
    inputError ??= err;
  }
  ctx.reason = reason !== undefined;

  const decision = decideGrant(caller.isAdmin, deps.permission(caller.principal), deps.now(), scope);
  if (!decision.granted) {
    deps.metrics.reveals.inc({ outcome: decision.why === 'expired' ? 'expired' : 'forbidden' });
    await recordDenial(deps, ctx, revealActor(caller, via), { code: 'reveal_forbidden', message: decision.message }, { reason, scope });
    throw new GatewayError('reveal_forbidden', decision.message);
  }
  if (inputError) {
    deps.metrics.reveals.inc({ outcome: inputError.code });
    throw inputError;
  }
  if (scope && scope.groups.length > 0) {
    let unknown: string[];
    try {
      unknown = await unknownGroups(deps.knownGroups, scope.groups);
    } catch {
      deps.metrics.reveals.inc({ outcome: 'directory_unavailable' });
      throw new GatewayError('directory_unavailable', 'The group catalogue cannot be consulted, so the reveal scope cannot be checked; nothing was revealed.');
    }
    if (unknown.length > 0) {
      deps.metrics.reveals.inc({ outcome: 'bad_scope' });
      throw new GatewayError('bad_scope', `The reveal scope names groups that are not in the catalogue: ${unknown.join(', ')}.`);
    }
  }
  const out: GrantedReveal = { limits: decision.limits };
  if (reason !== undefined) out.reason = reason;
  if (scope !== undefined) out.scope = scope;
  return out;
}

/**
 * SPEC §11: with four-eyes approval on, a reveal happens only inside an approved
 * request of the caller's, named in X-Reveal-Request; the request's reason and
 * scope apply (the reveal's own reason and scope headers are ignored). The
 * permission is checked first, exactly as without approval.
 */
async function authorizeApproved(
  deps: AccountableRevealDeps,
  ctx: RevealExchange,
  caller: VerifiedCaller,
  via: 'header' | 'token' | 'console',
): Promise<GrantedReveal> {
  const raw = ctx.req.headers[REVEAL_REQUEST_HEADER];
  const id = typeof raw === 'string' ? raw.trim() : undefined;
  const request = id === undefined || id === '' ? undefined : deps.revealRequest(id);
  const now = deps.now();
  const decision = decideGrant(caller.isAdmin, deps.permission(caller.principal), now, request?.scope);
  ctx.reason = request?.reason !== undefined;
  if (!decision.granted) {
    deps.metrics.reveals.inc({ outcome: decision.why === 'expired' ? 'expired' : 'forbidden' });
    await recordDenial(deps, ctx, revealActor(caller, via), { code: 'reveal_forbidden', message: decision.message }, { revealRequest: request?.id });
    throw new GatewayError('reveal_forbidden', decision.message);
  }
  const check = checkApproval(id, request, caller.principal, now);
  if (!check.ok) {
    ctx.reason = false;
    deps.metrics.reveals.inc({ outcome: 'approval_required' });
    await recordDenial(deps, ctx, revealActor(caller, via), { code: 'approval_required', message: check.message }, { revealRequest: request?.id });
    throw new GatewayError('approval_required', check.message);
  }
  const out: GrantedReveal = { limits: decision.limits, reason: check.request.reason, revealRequest: check.request.id };
  if (check.request.scope) out.scope = check.request.scope;
  return out;
}

/**
 * The `private-activities.denied` entry, before the 403 goes out. Its failure is
 * logged and counted, never turned into another answer: the caller was refused
 * either way, and a refused caller must not learn about the audit store.
 */
async function recordDenial(
  deps: AccountableRevealDeps,
  ctx: RevealExchange,
  actor: EntryActor,
  denial: { code: string; message: string },
  facts: { reason?: string; scope?: RevealScope; revealRequest?: string },
): Promise<void> {
  const present: RevealFacts = {};
  if (facts.reason !== undefined) present.reason = facts.reason;
  if (facts.scope !== undefined) present.scope = facts.scope;
  if (facts.revealRequest !== undefined) present.revealRequest = facts.revealRequest;
  try {
    const sink = deps.governance();
    if (!sink) throw new Error('no governance sink');
    await sink.append(deniedEntry(actor, ctx, denial, present));
  } catch (err) {
    deps.metrics.governanceFailures.inc();
    deps.logger.warn({ msg: 'denied reveal could not be recorded', requestId: ctx.id, error: err instanceof Error ? err.name : 'error' });
  }
}
