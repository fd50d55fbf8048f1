/**
 * May this verified principal reveal, and within which limits? (SPEC §4.4, §10), pure.
 * The refusal says which condition failed: the message of the 403 and the
 * `denial` of the governance entry name it.
 */
import type { RevealLimits, RevealScope } from './revealFilter.js';

/** What the decision needs of a permission record (src/state keeps the full one). */
export interface PermissionFacts {
  groups?: readonly string[];
  /** ISO-8601; the permission stops AT this instant */
  expiresAt?: string;
}

export type RefusalReason = 'no_admin_role' | 'not_permitted' | 'expired';

export type GrantDecision = { granted: true; limits: RevealLimits } | { granted: false; why: RefusalReason; message: string };

export function permissionExpired(p: PermissionFacts, now: number): boolean {
  if (p.expiresAt === undefined) return false;
  const at = Date.parse(p.expiresAt);
  // an unreadable expiry is treated as already expired: fail closed
  return !(at > now);
}

export function decideGrant(isAdmin: boolean, permission: PermissionFacts | undefined, now: number, scope?: RevealScope): GrantDecision {
  if (!isAdmin) return { granted: false, why: 'no_admin_role', message: 'Revealing private activities needs an admin role in the token (no admin role).' };
  if (permission === undefined)
    return {
      granted: false,
      why: 'not_permitted',
      message: 'This principal is not on the permission list for viewing private activities. Ask an administrator for the permission.',
    };
  if (permissionExpired(permission, now)) {
    return {
      granted: false,
      why: 'expired',
      message: `The permission to view private activities expired at ${permission.expiresAt}. Ask an administrator to grant it again.`,
    };
  }
  const limits: RevealLimits = {};
  if (scope !== undefined) limits.scope = scope;
  if (permission.groups !== undefined) limits.permissionGroups = permission.groups;
  return { granted: true, limits };
}
