/**
 * Directory membership sources (pure). A Membership answers "which groups is this
 * principal in?" with a set, or 'unknown' when its lookup failed.
 *
 * Combining sources: one source saying "member of a private group" is enough to hide,
 * even when another source failed. So a combination cannot collapse a partial failure
 * to 'unknown' up front — whether the known part already decides depends on which
 * groups are private at the activity's time. combineMembership therefore returns the
 * union of the known answers as an IncompleteGroups (a Set flagged "some source
 * failed"); decide() treats it as: overlap with the private groups → private, no
 * overlap → undecidable. Only when every source failed is the answer 'unknown'.
 * IncompleteGroups is a ReadonlySet<string>, so the shared Membership type is unchanged.
 */
import { normalizePrincipal } from '../principal.js';
import type { Membership } from './types.js';

/** Union of the answers of the sources that answered; at least one source failed. */
export class IncompleteGroups extends Set<string> {
  readonly incomplete = true;
}

export function isIncomplete(groups: ReadonlySet<string>): boolean {
  return groups instanceof IncompleteGroups;
}

const NONE: ReadonlySet<string> = new Set<string>();

/** Static `directory.groups` (group id -> principals); principals compare case-insensitively. */
export function staticMembership(groups: Record<string, readonly string[]>): Membership {
  const byPrincipal = new Map<string, Set<string>>();
  for (const [groupId, members] of Object.entries(groups)) {
    if (!Array.isArray(members)) continue;
    for (const m of members) {
      if (typeof m !== 'string') continue;
      const p = normalizePrincipal(m);
      if (p === undefined) continue;
      let set = byPrincipal.get(p);
      if (set === undefined) byPrincipal.set(p, (set = new Set()));
      set.add(groupId);
    }
  }
  return (principal) => {
    const p = normalizePrincipal(principal);
    return (p !== undefined && byPrincipal.get(p)) || NONE;
  };
}

/** Union of several sources; see the module comment for how failures combine. No parts = nobody is a member. */
export function combineMembership(...parts: Membership[]): Membership {
  if (parts.length === 0) return () => NONE;
  if (parts.length === 1) return parts[0];
  return (principal) => {
    let known: ReadonlySet<string> | undefined;
    let union: Set<string> | undefined;
    let failed = false;
    for (const part of parts) {
      const r = part(principal);
      if (r === 'unknown') {
        failed = true;
        continue;
      }
      if (r instanceof IncompleteGroups) failed = true;
      if (known === undefined) {
        known = r;
      } else if (r.size > 0) {
        if (union === undefined) union = new Set(known);
        for (const g of r) union.add(g);
      }
    }
    if (known === undefined) return 'unknown';
    const groups = union ?? known;
    if (!failed) return groups;
    return groups instanceof IncompleteGroups ? groups : new IncompleteGroups(groups);
  };
}
