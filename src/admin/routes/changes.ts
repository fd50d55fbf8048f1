/**
 * SPEC §11 v3: changes that let more people see more — ending a group's privacy, granting
 * the reveal permission — wait for a second person while four-eyes approval is on.
 * `ask` records `privacy-change.requested` and stores the pending change; approving runs
 * the direct call's own checks again and then applies it exactly as the direct call would
 * (its own entry), after `privacy-change.approved`; a check that fails now answers the
 * approve call and leaves the change pending. Pending changes expire like reveal requests.
 */
import { randomUUID } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { GatewayError } from '../../errors.js';
import { sendJson } from '../../http/responder.js';
import type { PrivacyChange } from '../../state/types.js';
import { approvalOf, requireOtherApprover } from '../approvers.js';
import { expireChanges } from '../expiry.js';
import { parseBody } from '../body.js';
import type { Change } from '../changes.js';
import { contextOf } from '../context.js';
import type { AdminDeps, ChangeTools, PendingChanges } from '../deps.js';
import { prepareRemoval } from './groups.js';
import { grantView, prepareGrant } from './permissions.js';
import { query, type ApiOperation } from '../operations.js';

type Deps = Pick<AdminDeps, 'state' | 'config' | 'clock' | 'directory' | 'memberOfAny' | 'samePerson'>;

export const changeDecisionBody = z.object({ comment: z.string().max(1000).optional() }).strict();
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const STATUSES = new Set(['pending', 'approved', 'denied', 'expired']);

export function pendingChanges(deps: Deps, tools: ChangeTools): PendingChanges {
  return {
    ask: (ctx, kind, target, body) => {
      const change: PrivacyChange = {
        id: randomUUID(),
        status: 'pending',
        kind,
        target,
        requester: ctx.admin.principal.toLowerCase(),
        createdAt: new Date(deps.clock.now()).toISOString(),
        body,
      };
      return tools.record(ctx, { action: 'privacy-change.requested', target: change.id, apply: () => deps.state().createChange(change) });
    },
  };
}

const find = (deps: Deps, id: string) => (deps.state().current().changes ?? []).find((c) => c.id === id);

/** The change as the direct call would make it, checked now; the entry names the requester, who asked for it. */
async function prepared(deps: Deps, change: PrivacyChange): Promise<{ run: Change<unknown>; answer: (result: unknown) => unknown }> {
  const actor = { principal: change.requester, via: 'admin-api' as const };
  if (change.kind === 'privacy-group.remove') return { run: { ...prepareRemoval(deps, change.target), actor }, answer: () => undefined };
  const grant = await prepareGrant(deps, change.requester, change.body);
  return { run: { ...grant, actor }, answer: (rec) => grantView(rec as Parameters<typeof grantView>[0], grant.adminChecked) };
}

function decideHandler(deps: Deps, tools: ChangeTools, status: 'approved' | 'denied') {
  return async (req: Request, res: Response) => {
    const approval = approvalOf(deps);
    const ctx = contextOf(res);
    const current = find(deps, String(req.params.id));
    if (!current) throw new GatewayError('not_found', 'No such privacy change.');
    await requireOtherApprover(deps, approval, current.requester, ctx.admin.principal, 'privacy change');
    const { comment } = parseBody(changeDecisionBody, req.body ?? {}, '{"comment"?: string}');
    if (comment !== undefined && CONTROL.test(comment)) throw new GatewayError('bad_request', '"comment" must not contain control characters.');
    await tools.serialised(async () => {
      await expireChanges(deps, tools, ctx);
      const fresh = find(deps, current.id);
      if (fresh?.status !== 'pending') throw new GatewayError('conflict', `The privacy change is ${fresh?.status}, not pending.`);
      // approving: the direct call's checks first — a failing check leaves the change pending
      const effect = status === 'approved' ? await prepared(deps, fresh) : undefined;
      const decision = { status, by: ctx.admin.principal, at: deps.clock.now(), ...(comment !== undefined ? { comment } : {}) };
      const apply = () => deps.state().decideChange(fresh.id, decision);
      const decided = await tools.record(ctx, { action: status === 'approved' ? 'privacy-change.approved' : 'privacy-change.denied', target: fresh.id, apply });
      const result = effect ? effect.answer(await tools.record(ctx, effect.run)) : undefined;
      sendJson(res, 200, result === undefined ? { change: decided } : { change: decided, result });
    });
  };
}

export function changeRoutes(deps: Deps, tools: ChangeTools): express.Router {
  const r = express.Router();
  r.get('/privacy/changes', async (_req, res) => {
    const ctx = contextOf(res);
    let status: string | undefined;
    for (const [k, v] of new URLSearchParams(ctx.ex.query)) {
      if (k !== 'status') throw new GatewayError('bad_request', `Unknown query parameter "${k}". Known: status.`);
      if (status !== undefined || !STATUSES.has(v))
        throw new GatewayError('bad_request', 'Query parameter "status" must be given once: pending, approved, denied or expired.');
      status = v;
    }
    await tools.serialised(() => expireChanges(deps, tools, ctx));
    const all = deps.state().current().changes ?? [];
    sendJson(res, 200, { changes: all.filter((c) => status === undefined || c.status === status).reverse() });
  });
  r.post('/privacy/changes/:id/approve', decideHandler(deps, tools, 'approved'));
  r.post('/privacy/changes/:id/deny', decideHandler(deps, tools, 'denied'));
  return r;
}

/** The OpenAPI description of these routes (src/admin/openapi.ts). */
export const changeOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/privacy/changes',
    summary: 'Privacy changes waiting for (or decided by) a second person, newest first',
    query: [query('status', 'only changes with this status', { schema: { enum: [...STATUSES] } })],
    responses: { 200: '`{"changes":[...]}`', 400: 'an unknown or repeated parameter' },
  },
  ...(['approve', 'deny'] as const).map((verb): ApiOperation => ({
    method: 'post',
    path: `/privacy/changes/:id/${verb}`,
    summary: `${verb === 'approve' ? 'Approve (and apply)' : 'Deny'} a pending privacy change`,
    body: changeDecisionBody,
    responses: {
      200: '`{"change":{...},"result"?:{...}}`',
      403: '`self_approval` or `forbidden`',
      404: 'unknown id, or approval is off',
      409: 'no longer pending',
    },
  })),
];
