/**
 * Who may decide what another admin asked for (SPEC §11): the configured approvers
 * (principals, or members of `group:<id>`), never the person who asked — a person, not a
 * string: two names of one directory entry are one person (SPEC §9 v3).
 */
import type { GatewayConfig } from '../config/index.js';
import { GatewayError } from '../errors.js';
import type { AdminDeps } from './deps.js';

export type Approval = NonNullable<GatewayConfig['reveal']['approval']>;
type Deps = Pick<AdminDeps, 'config' | 'memberOfAny' | 'samePerson'>;

/** The approval settings, or 404 when four-eyes approval is off. */
export function approvalOf(deps: Pick<AdminDeps, 'config'>): Approval {
  const a = deps.config().reveal.approval;
  if (!a) throw new GatewayError('not_found', 'Four-eyes approval is not configured (reveal.approval).');
  return a;
}

/** 503 when the directory cannot say whether two names are one person. */
export async function isSamePerson(deps: Pick<AdminDeps, 'samePerson'>, a: string, b: string): Promise<boolean> {
  const same = await deps.samePerson(a, b);
  if (same === 'unknown') throw new GatewayError('directory_unavailable', 'The directory cannot say whether these are the same person; try again later.');
  return same;
}

/** Throws 403 `forbidden` unless `me` is a configured approver (503 when the directory cannot tell). */
export async function requireApprover(deps: Deps, approval: Approval, me: string): Promise<void> {
  const direct = approval.approvers.filter((a) => !a.startsWith('group:'));
  const groups = approval.approvers.filter((a) => a.startsWith('group:')).map((a) => a.slice('group:'.length));
  for (const d of direct) if (await isSamePerson(deps, d, me)) return;
  const member = await deps.memberOfAny(me, groups);
  if (member === 'unknown') throw new GatewayError('directory_unavailable', 'The directory cannot say whether this principal is an approver; try again later.');
  if (!member) throw new GatewayError('forbidden', 'Only the configured approvers may approve or deny.');
}

/** An approver other than the requester (403 `self_approval`, 403 `forbidden`). */
export async function requireOtherApprover(deps: Deps, approval: Approval, requester: string, me: string, what: string): Promise<void> {
  if (await isSamePerson(deps, requester, me))
    throw new GatewayError('self_approval', `The requester cannot approve or deny their own ${what}; another approver must.`);
  await requireApprover(deps, approval, me);
}
