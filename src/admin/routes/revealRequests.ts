/**
 * Four-eyes approval (SPEC §11): `api/reveal-requests`. A permitted admin asks
 * (reason, duration, optional scope); an approver other than the requester
 * approves or denies; the approved request opens a window in which that admin,
 * and only that admin, may reveal (checked in src/http/accountableReveal.ts).
 * Every change is audited before it is applied, like every admin change.
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { unknownGroups } from '../../directory/knownGroups.js';
import { GatewayError } from '../../errors.js';
import type { RevealRequest } from '../../privacy/approval.js';
import { normalizePrincipal } from '../../principal.js';
import { permissionExpired } from '../../privacy/grant.js';
import { parseReason, RevealInputError, MAX_SCOPE_ITEMS } from '../../privacy/revealInput.js';
import { StateConflictError } from '../../state/types.js';
import { sendJson } from '../../http/responder.js';
import { hasControlOrBidi } from '../../text.js';
import { parseBody } from '../body.js';
import { contextOf } from '../context.js';
import type { AdminDeps, ChangeTools } from '../deps.js';
import { approvalOf, isSamePerson, requireApprover, requireOtherApprover } from '../approvers.js';
import { expireRequests } from '../expiry.js';
import { query, type ApiOperation } from '../operations.js';

type Deps = Pick<AdminDeps, 'state' | 'config' | 'permission' | 'memberOfAny' | 'samePerson' | 'knownGroups' | 'clock' | 'notify'>;

export const revealRequestBody = z
  .object({
    reason: z.string().max(4000),
    durationMin: z.number(),
    scope: z
      .object({
        groups: z.array(z.string().trim().min(1).max(200)).max(MAX_SCOPE_ITEMS).optional(),
        actors: z.array(z.string().trim().min(1).max(320)).max(MAX_SCOPE_ITEMS).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
const CREATE_EXPECTED = '{"reason": string, "durationMin": integer, "scope"?: {"groups"?: [ids], "actors"?: [principals]}}';
export const revealDecisionBody = z.object({ comment: z.string().max(1000).optional() }).strict();
const STATUSES = new Set(['pending', 'approved', 'denied', 'revoked', 'expired']);
function reasonOf(raw: string, minReasonLength: number): string {
  try {
    return parseReason(undefined, raw, { requireReason: true, minReasonLength })!;
  } catch (err) {
    if (err instanceof RevealInputError) throw new GatewayError('bad_request', `"reason": ${err.message}`);
    throw err;
  }
}

async function scopeOf(deps: Deps, raw: z.output<typeof revealRequestBody>['scope']): Promise<RevealRequest['scope']> {
  if (raw === undefined) return undefined;
  const groups = [...new Set(raw.groups ?? [])];
  const actors = [...new Set((raw.actors ?? []).map((a) => normalizePrincipal(a)!))];
  if (groups.length + actors.length === 0) throw new GatewayError('bad_request', '"scope" must name at least one group or actor (omit it for no scope).');
  if (groups.length + actors.length > MAX_SCOPE_ITEMS) throw new GatewayError('bad_request', `"scope" may name at most ${MAX_SCOPE_ITEMS} groups and actors.`);
  if ([...groups, ...actors].some(hasControlOrBidi)) throw new GatewayError('bad_request', '"scope" must not contain control characters.');
  const unknown = await unknownGroups(deps.knownGroups, groups);
  if (unknown.length > 0) throw new GatewayError('bad_request', `"scope.groups": not in the group catalogue: ${unknown.join(', ')}.`);
  return { groups, actors };
}

/** A new pending request from the body of a permitted admin. */
async function newRequest(deps: Deps, me: string, rawBody: unknown): Promise<RevealRequest> {
  const approval = approvalOf(deps);
  const perm = deps.permission(me);
  if (!perm || permissionExpired(perm, deps.clock.now()))
    throw new GatewayError('forbidden', 'Only admins on the permission list (not expired) may ask for a reveal.');
  const body = parseBody(revealRequestBody, rawBody, CREATE_EXPECTED);
  const reason = reasonOf(body.reason, deps.config().reveal.minReasonLength);
  const d = body.durationMin;
  if (!Number.isInteger(d) || d < 1 || d > approval.maxDurationMin)
    throw new GatewayError('bad_request', `"durationMin" must be an integer from 1 to ${approval.maxDurationMin}.`);
  const scope = await scopeOf(deps, body.scope);
  const request: RevealRequest = {
    id: randomUUID(),
    status: 'pending',
    requester: me,
    reason,
    durationMin: d,
    createdAt: new Date(deps.clock.now()).toISOString(),
  };
  if (scope) request.scope = scope;
  return request;
}

function listed(deps: Deps, query: string): RevealRequest[] {
  let status: string | undefined;
  for (const [k, v] of new URLSearchParams(query)) {
    if (k !== 'status') throw new GatewayError('bad_request', `Unknown query parameter "${k}". Known: status.`);
    if (status !== undefined || !STATUSES.has(v))
      throw new GatewayError('bad_request', 'Query parameter "status" must be given once: pending, approved or denied.');
    status = v;
  }
  const all = deps.state().current().revealRequests ?? [];
  return all.filter((x) => status === undefined || x.status === status).reverse();
}

const find = (deps: Deps, id: string) => (deps.state().current().revealRequests ?? []).find((x) => x.id === id);

type Transition = 'approved' | 'denied' | 'revoked';
const ACTION: Record<Transition, 'reveal-request.approved' | 'reveal-request.denied' | 'reveal-request.revoked'> = {
  approved: 'reveal-request.approved',
  denied: 'reveal-request.denied',
  revoked: 'reveal-request.revoked',
};

/** Who may do it: approve/deny — an approver other than the requester; revoke — the requester or an approver. */
async function mayDecide(deps: Deps, current: RevealRequest, me: string, status: Transition): Promise<void> {
  const approval = approvalOf(deps);
  if (status !== 'revoked') return requireOtherApprover(deps, approval, current.requester, me, 'reveal request');
  if (!(await isSamePerson(deps, current.requester, me))) await requireApprover(deps, approval, me);
}

function decideHandler(deps: Deps, tools: ChangeTools, status: Transition) {
  return async (req: Request, res: Response) => {
    approvalOf(deps);
    const id = String(req.params.id);
    const ctx = contextOf(res);
    const me = ctx.admin.principal;
    const current = find(deps, id);
    if (!current) throw new GatewayError('not_found', 'No such reveal request.');
    await mayDecide(deps, current, me, status);
    const { comment } = parseBody(revealDecisionBody, req.body ?? {}, '{"comment"?: string}');
    if (comment !== undefined && hasControlOrBidi(comment)) throw new GatewayError('bad_request', '"comment" must not contain control characters.');
    await tools.serialised(async () => {
      await expireRequests(deps, tools, ctx);
      const fresh = find(deps, id);
      const from = status === 'revoked' ? 'approved' : 'pending';
      if (fresh?.status !== from) throw new GatewayError('conflict', `The reveal request is ${fresh?.status}, not ${from}.`);
      const apply = () =>
        deps
          .state()
          .decideRevealRequest(id, { status, by: me, at: deps.clock.now(), ...(comment !== undefined ? { comment } : {}) })
          .catch((err: unknown) => {
            // another replica decided it between our check and our write: its decision stands
            if (err instanceof StateConflictError) throw new GatewayError('conflict', 'The reveal request was decided by someone else meanwhile.');
            throw err;
          });
      const decided = await tools.record(ctx, { action: ACTION[status], target: id, apply });
      sendJson(res, 200, { ...decided });
      if (status !== 'revoked') deps.notify(status, decided);
    });
  };
}

export function revealRequestRoutes(deps: Deps, tools: ChangeTools): express.Router {
  const r = express.Router();

  r.post('/reveal-requests', async (req, res) => {
    const ctx = contextOf(res);
    const request = await newRequest(deps, ctx.admin.principal, req.body);
    await tools.serialised(async () => {
      const extra = request.scope ? { reason: request.reason, scope: request.scope } : { reason: request.reason };
      const apply = () => deps.state().createRevealRequest(request);
      const stored = await tools.record(ctx, { action: 'reveal-request.created', target: request.id, extra, apply });
      sendJson(res, 201, { ...stored });
      deps.notify('created', stored);
    });
  });

  r.get('/reveal-requests', async (_req, res) => {
    const ctx = contextOf(res);
    await tools.serialised(() => expireRequests(deps, tools, ctx));
    sendJson(res, 200, { requests: listed(deps, ctx.ex.query).map((x) => ({ ...x })) });
  });

  r.post('/reveal-requests/:id/approve', decideHandler(deps, tools, 'approved'));
  r.post('/reveal-requests/:id/deny', decideHandler(deps, tools, 'denied'));
  r.post('/reveal-requests/:id/revoke', decideHandler(deps, tools, 'revoked'));
  return r;
}

/** The OpenAPI description of these routes (src/admin/openapi.ts). */
export const revealRequestOperations: ApiOperation[] = [
  {
    method: 'post',
    path: '/reveal-requests',
    summary: 'Ask for a reveal window (four-eyes approval)',
    body: revealRequestBody,
    responses: { 201: 'the pending request', 400: '`bad_request` naming the key', 403: 'not on the permission list', 404: 'approval is off' },
  },
  {
    method: 'get',
    path: '/reveal-requests',
    summary: 'Reveal requests, newest first',
    query: [query('status', 'only requests with this status', { schema: { enum: [...STATUSES] } })],
    responses: { 200: '`{"requests":[...]}`', 400: 'an unknown or repeated parameter' },
  },
  ...(['approve', 'deny', 'revoke'] as const).map((verb): ApiOperation => ({
    method: 'post',
    path: `/reveal-requests/:id/${verb}`,
    summary: `${verb[0].toUpperCase()}${verb.slice(1)} a reveal request`,
    description: verb === 'revoke' ? 'By the requester or an approver: ends an approved window at once.' : 'By an approver other than the requester.',
    body: revealDecisionBody,
    responses: {
      200: 'the request',
      403: '`self_approval` or `forbidden`',
      404: 'unknown id, or approval is off',
      409: verb === 'revoke' ? 'not approved' : 'no longer pending',
    },
  })),
];
