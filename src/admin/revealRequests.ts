/**
 * Four-eyes approval (SPEC §11): `api/reveal-requests`. A permitted admin asks
 * (reason, duration, optional scope); an approver other than the requester
 * approves or denies; the approved request opens a window in which that admin,
 * and only that admin, may reveal (checked in src/http/accountableReveal.ts).
 * Every change is audited before it is applied, like every admin change.
 */
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { GatewayConfig } from '../config/index.js';
import { unknownGroups, type KnownGroups } from '../directory/knownGroups.js';
import { GatewayError } from '../errors.js';
import type { GovernanceAction, GovernanceEntryInput } from '../governance/types.js';
import type { RevealRequest } from '../privacy/approval.js';
import { normalizePrincipal } from '../principal.js';
import { permissionExpired, type PermissionFacts } from '../privacy/grant.js';
import { parseReason, RevealInputError, MAX_SCOPE_ITEMS } from '../privacy/revealInput.js';
import { StateConflictError } from '../state/types.js';
import type { StateStore } from '../state/types.js';

export type RequestEvent = 'created' | 'approved' | 'denied';

export interface RevealRequestsDeps {
  state: () => StateStore;
  reveal: () => GatewayConfig['reveal'];
  permission: (principal: string) => PermissionFacts | undefined;
  memberOfAny: (principal: string, groups: readonly string[]) => Promise<boolean | 'unknown'>;
  knownGroups: KnownGroups;
  now: () => number;
  notify: (event: RequestEvent, request: RevealRequest) => void;
  audit: (req: Request, res: Response, action: GovernanceAction, target: string, extra: Pick<GovernanceEntryInput, 'reason' | 'scope'>) => Promise<void>;
  serialised: <T>(fn: () => Promise<T>) => Promise<T>;
  adminOf: (res: http.ServerResponse) => string;
  queryOf: (res: http.ServerResponse) => string;
  badBody: (error: z.ZodError, expected: string) => GatewayError;
}

const createBody = z
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
const decideBody = z.object({ comment: z.string().max(1000).optional() }).strict();
const STATUSES = new Set(['pending', 'approved', 'denied']);
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

function approvalOf(deps: RevealRequestsDeps): NonNullable<GatewayConfig['reveal']['approval']> {
  const a = deps.reveal().approval;
  if (!a) throw new GatewayError('not_found', 'Four-eyes approval is not configured (reveal.approval).');
  return a;
}

export function revealRequestsRouter(deps: RevealRequestsDeps): express.Router {
  const r = express.Router();

  r.post('/reveal-requests', async (req, res) => {
    const approval = approvalOf(deps);
    const me = deps.adminOf(res);
    const perm = deps.permission(me);
    if (!perm || permissionExpired(perm, deps.now()))
      throw new GatewayError('forbidden', 'Only admins on the permission list (not expired) may ask for a reveal.');
    const body = createBody.safeParse(req.body);
    if (!body.success) throw deps.badBody(body.error, '{"reason": string, "durationMin": integer, "scope"?: {"groups"?: [ids], "actors"?: [principals]}}');
    let reason: string;
    try {
      reason = parseReason(undefined, body.data.reason, { requireReason: true, minReasonLength: deps.reveal().minReasonLength })!;
    } catch (err) {
      if (err instanceof RevealInputError) throw new GatewayError('bad_request', `"reason": ${err.message}`);
      throw err;
    }
    const d = body.data.durationMin;
    if (!Number.isInteger(d) || d < 1 || d > approval.maxDurationMin)
      throw new GatewayError('bad_request', `"durationMin" must be an integer from 1 to ${approval.maxDurationMin}.`);
    let scope: RevealRequest['scope'];
    if (body.data.scope !== undefined) {
      const groups = [...new Set(body.data.scope.groups ?? [])];
      const actors = [...new Set((body.data.scope.actors ?? []).map((a) => normalizePrincipal(a)!))];
      if (groups.length + actors.length === 0) throw new GatewayError('bad_request', '"scope" must name at least one group or actor (omit it for no scope).');
      if (groups.length + actors.length > MAX_SCOPE_ITEMS)
        throw new GatewayError('bad_request', `"scope" may name at most ${MAX_SCOPE_ITEMS} groups and actors.`);
      if ([...groups, ...actors].some((v) => CONTROL.test(v))) throw new GatewayError('bad_request', '"scope" must not contain control characters.');
      const unknown = await unknownGroups(deps.knownGroups, groups);
      if (unknown.length > 0) throw new GatewayError('bad_request', `"scope.groups": not in the group catalogue: ${unknown.join(', ')}.`);
      scope = { groups, actors };
    }
    const request: RevealRequest = {
      id: randomUUID(),
      status: 'pending',
      requester: me,
      reason,
      durationMin: d,
      createdAt: new Date(deps.now()).toISOString(),
    };
    if (scope) request.scope = scope;
    await deps.serialised(async () => {
      await deps.audit(req, res, 'reveal-request.created', request.id, scope ? { reason, scope } : { reason });
      const stored = await deps.state().createRevealRequest(request);
      res.status(201).json(view(stored));
      deps.notify('created', stored);
    });
  });

  r.get('/reveal-requests', (_req, res) => {
    const params = new URLSearchParams(deps.queryOf(res));
    let status: string | undefined;
    for (const [k, v] of params) {
      if (k !== 'status') throw new GatewayError('bad_request', `Unknown query parameter "${k}". Known: status.`);
      if (status !== undefined || !STATUSES.has(v))
        throw new GatewayError('bad_request', 'Query parameter "status" must be given once: pending, approved or denied.');
      status = v;
    }
    const all = deps.state().current().revealRequests ?? [];
    const requests = all
      .filter((x) => status === undefined || x.status === status)
      .slice()
      .reverse()
      .map(view);
    res.json({ requests });
  });

  const decide = (status: 'approved' | 'denied') => async (req: Request, res: Response) => {
    const approval = approvalOf(deps);
    const id = String(req.params.id);
    const me = deps.adminOf(res);
    const current = (deps.state().current().revealRequests ?? []).find((x) => x.id === id);
    if (!current) throw new GatewayError('not_found', 'No such reveal request.');
    if (current.requester === me.toLowerCase())
      throw new GatewayError('self_approval', 'The requester cannot approve or deny their own reveal request; another approver must.');
    const direct = approval.approvers.filter((a) => !a.startsWith('group:'));
    const groups = approval.approvers.filter((a) => a.startsWith('group:')).map((a) => a.slice('group:'.length));
    if (!direct.includes(me.toLowerCase())) {
      const member = await deps.memberOfAny(me, groups);
      if (member === 'unknown')
        throw new GatewayError('directory_unavailable', 'The directory cannot say whether this principal is an approver; try again later.');
      if (!member) throw new GatewayError('forbidden', 'Only the configured approvers may approve or deny reveal requests.');
    }
    const body = decideBody.safeParse(req.body ?? {});
    if (!body.success) throw deps.badBody(body.error, '{"comment"?: string}');
    if (body.data.comment !== undefined && CONTROL.test(body.data.comment))
      throw new GatewayError('bad_request', '"comment" must not contain control characters.');
    await deps.serialised(async () => {
      const fresh = (deps.state().current().revealRequests ?? []).find((x) => x.id === id);
      if (fresh?.status !== 'pending') throw new GatewayError('conflict', `The reveal request is already ${fresh?.status}.`);
      await deps.audit(req, res, status === 'approved' ? 'reveal-request.approved' : 'reveal-request.denied', id, {});
      let decided: RevealRequest;
      try {
        decided = await deps
          .state()
          .decideRevealRequest(id, { status, by: me, at: deps.now(), ...(body.data.comment !== undefined ? { comment: body.data.comment } : {}) });
      } catch (err) {
        // another replica decided it between our check and our write: its decision stands
        if (err instanceof StateConflictError) throw new GatewayError('conflict', 'The reveal request was decided by someone else meanwhile.');
        throw err;
      }
      res.status(200).json(view(decided));
      deps.notify(status, decided);
    });
  };
  r.post('/reveal-requests/:id/approve', decide('approved'));
  r.post('/reveal-requests/:id/deny', decide('denied'));
  return r;
}

/** The request as the API shows it (the stored record, fields that do not apply absent). */
function view(r: RevealRequest): RevealRequest {
  return { ...r };
}
