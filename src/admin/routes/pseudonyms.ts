/**
 * SPEC §14 re-identification: `api/pseudonyms/resolve` (pseudonym → principal) and
 * `api/pseudonyms/lookup` (principal → pseudonym, to search a SIEM for one known person).
 *
 * Only a permitted admin (the reveal permission of SPEC §10, not expired), always with a
 * reason (section 10's rules, whatever `reveal.requireReason` says) and, with approval on,
 * inside an approved reveal request of the caller's (section 11). The entry
 * (`pseudonym.resolved` / `pseudonym.looked-up`) is durable before the answer; a pseudonym
 * no key produced is recorded too, then 404. Anyone else: 403 `reveal_forbidden` and a
 * `private-activities.denied` entry. A scoped permission resolves only its groups' members.
 * No message, log line or metric here carries a principal that a pseudonym stands for.
 */
import type { ApiOperation } from '../operations.js';
import express from 'express';
import { z } from 'zod';
import { GatewayError } from '../../errors.js';
import { deniedEntry, type RevealFacts } from '../../governance/entries.js';
import { sendJson } from '../../http/responder.js';
import { parsePrincipal } from '../../principal.js';
import { checkApproval } from '../../privacy/approval.js';
import { decideGrant } from '../../privacy/grant.js';
import { parseReason } from '../../privacy/revealInput.js';
import { parseBody } from '../body.js';
import type { AdminContext } from '../context.js';
import { contextOf } from '../context.js';
import type { AdminDeps } from '../deps.js';
import { auditWith } from '../changes.js';
import type { GovernanceAction } from '../../governance/types.js';

type Deps = Pick<AdminDeps, 'config' | 'state' | 'permission' | 'memberOfAny' | 'clock' | 'governance' | 'metrics' | 'logger' | 'pseudonymiser'>;

export const resolveBody = z
  .object({ pseudonym: z.string().max(1000), reason: z.unknown().optional(), revealRequest: z.string().max(200).optional() })
  .strict();
export const lookupBody = z.object({ principal: z.string().max(1000), reason: z.unknown().optional(), revealRequest: z.string().max(200).optional() }).strict();

/** What a granted re-identification carries into its entry. */
interface Granted {
  reason: string;
  revealRequest?: string;
  /** a scoped permission's groups: the principal must be a member of one */
  groups?: readonly string[];
}

/** The `private-activities.denied` entry, before the refusal; its own failure is logged by kind only. */
async function deny(deps: Deps, ctx: AdminContext, code: 'reveal_forbidden' | 'approval_required', message: string, facts: RevealFacts): Promise<never> {
  try {
    const sink = deps.governance();
    if (!sink) throw new Error('no governance sink');
    await sink.append(deniedEntry(ctx.actor, ctx.ex, { code, message }, facts));
  } catch (err) {
    deps.metrics.governanceFailures.inc();
    deps.logger.warn({ msg: 'denied re-identification could not be recorded', requestId: ctx.ex.id, error: err instanceof Error ? err.name : 'error' });
  }
  throw new GatewayError(code, message);
}

/** Permission, reason, approval, in that order (as a reveal). */
async function authorize(deps: Deps, ctx: AdminContext, rawReason: unknown, revealRequest: string | undefined): Promise<Granted> {
  const now = deps.clock.now();
  const cfg = deps.config().reveal;
  const decision = decideGrant(true, deps.permission(ctx.admin.principal), now);
  if (!decision.granted) return deny(deps, ctx, 'reveal_forbidden', decision.message, {});
  const reason = parseReason(undefined, rawReason ?? null, { requireReason: true, minReasonLength: cfg.minReasonLength })!;
  const groups = decision.limits.permissionGroups;
  if (!cfg.approval) return groups === undefined ? { reason } : { reason, groups };
  const id = revealRequest?.trim();
  const request = id ? (deps.state().current().revealRequests ?? []).find((r) => r.id === id) : undefined;
  const check = checkApproval(id, request, ctx.admin.principal, now);
  if (!check.ok) return deny(deps, ctx, 'approval_required', check.message.replace('in X-Reveal-Request', 'in "revealRequest"'), { reason });
  const out: Granted = { reason, revealRequest: check.request.id };
  if (groups !== undefined) out.groups = groups;
  return out;
}

/** A scoped permission reaches only its groups' members (unknown membership: refused, fail closed). */
async function requireInScope(deps: Deps, ctx: AdminContext, g: Granted, principal: string): Promise<void> {
  if (g.groups === undefined) return;
  if ((await deps.memberOfAny(principal, g.groups)) === true) return;
  await deny(deps, ctx, 'reveal_forbidden', 'The permission to view private activities does not cover this person.', { reason: g.reason });
}

function extraOf(g: Granted): { reason: string; revealRequest?: string } {
  return g.revealRequest === undefined ? { reason: g.reason } : { reason: g.reason, revealRequest: g.revealRequest };
}

/** The entry, durably written; its id (and seq) go out as `X-Governance-Entry` headers, as a reveal's do. */
async function recordFirst(deps: Deps, ctx: AdminContext, res: express.Response, action: GovernanceAction, target: string, g: Granted): Promise<void> {
  const entry = await auditWith(deps.governance)(ctx, action, target, extraOf(g));
  res.setHeader('X-Governance-Entry', entry.id);
  res.setHeader('X-Governance-Entry-Seq', String(entry.seq));
}

export function pseudonymRoutes(deps: Deps): express.Router {
  const r = express.Router();

  r.post('/pseudonyms/resolve', async (req, res) => {
    const body = parseBody(resolveBody, req.body, '{"pseudonym": string, "reason": string, "revealRequest"?: string}');
    const ctx = contextOf(res);
    const granted = await authorize(deps, ctx, body.reason, body.revealRequest);
    const pz = deps.pseudonymiser();
    const pseudonym = body.pseudonym.trim().toLowerCase();
    const found = pz ? pz.resolve(pseudonym) : { kind: 'unknown' as const };
    if (found.kind === 'malformed') throw new GatewayError('bad_request', `"pseudonym" is not shaped like a pseudonym (p-<token>@${pz?.domain ?? 'domain'}).`);
    if (found.kind === 'principal') await requireInScope(deps, ctx, granted, found.principal);
    await recordFirst(deps, ctx, res, 'pseudonym.resolved', pseudonym, granted);
    if (found.kind === 'unknown') throw new GatewayError('not_found', 'No current or previous pseudonym key produced this pseudonym.');
    sendJson(res, 200, { pseudonym, principal: found.principal });
  });

  r.post('/pseudonyms/lookup', async (req, res) => {
    const body = parseBody(lookupBody, req.body, '{"principal": string, "reason": string, "revealRequest"?: string}');
    const ctx = contextOf(res);
    const granted = await authorize(deps, ctx, body.reason, body.revealRequest);
    const principal = parsePrincipal(body.principal);
    if (principal === undefined) throw new GatewayError('bad_request', '"principal" is not a principal (local@domain).');
    const pz = deps.pseudonymiser();
    if (!pz) throw new GatewayError('bad_request', 'No pseudonym key is configured (pseudonyms.keyFile).');
    await requireInScope(deps, ctx, granted, principal);
    await recordFirst(deps, ctx, res, 'pseudonym.looked-up', principal, granted);
    sendJson(res, 200, { principal, pseudonym: pz.pseudonym(principal) });
  });
  return r;
}

/** SPEC §14 re-identification, for the OpenAPI description (src/admin/openapi.ts). */
export const pseudonymOperations: ApiOperation[] = [
  {
    method: 'post',
    path: '/pseudonyms/resolve',
    summary: 'Turn a pseudonym back into the person (written as `pseudonym.resolved` first)',
    body: resolveBody,
    responses: {
      200: '`{"pseudonym","principal"}`',
      400: 'a malformed pseudonym, `reason_required`, `bad_reason`',
      403: '`reveal_forbidden` (recorded as `private-activities.denied`), `approval_required`',
      404: 'no current or previous key produced it (the attempt is recorded)',
      503: '`governance_unavailable`',
    },
  },
  {
    method: 'post',
    path: '/pseudonyms/lookup',
    summary: "A person's pseudonym, to search a SIEM (written as `pseudonym.looked-up` first)",
    body: lookupBody,
    responses: {
      200: '`{"principal","pseudonym"}`',
      400: 'not a principal, `reason_required`, `bad_reason`',
      403: '`reveal_forbidden` (recorded as `private-activities.denied`), `approval_required`',
      503: '`governance_unavailable`',
    },
  },
];
