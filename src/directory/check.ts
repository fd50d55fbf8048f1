/**
 * `apg directory check` (SPEC §9 "Checking the directory", v3): for every private group an
 * LDAP or Graph source lists, up to 20 of its members are read from that source and each
 * member's principal is looked up exactly as an activity's actor is (`prefetch`, every source,
 * cached); the group must be among the groups that lookup answers. A misconfigured
 * `userFilter` or membership strategy is found before a private activity is shown.
 *
 * One line per group: `ok <id> <name> (<n> members checked)` or `FAIL <id> <name>: <member>
 * does not resolve to it`; a source that cannot be asked is a FAIL too. A group no LDAP or
 * Graph source lists is `skip`ped. The lines name members: they are for the operator's
 * terminal, never for the log.
 */
import { withDeadline } from './deadline.js';
import type { CachedSource } from './cache.js';
import { reasonOf } from './types.js';
import type { Membership } from '../privacy/types.js';

/** At most this many members of each group are checked (SPEC §9). */
export const MEMBERS_CHECKED = 20;

export interface PrivateGroup {
  id: string;
  name: string;
}

export interface CheckDeps {
  sources: readonly CachedSource[];
  /** the actor lookup of the privacy engine (Directory.prefetch) */
  prefetch(principals: readonly string[]): Promise<Membership>;
  /** reading one group's members from one source may take this long (default 30 s) */
  timeoutMs?: number;
}

export interface CheckReport {
  lines: string[];
  /** a group failed or a source could not be asked */
  failed: boolean;
}

type Members = { kind: 'members'; principals: string[] } | { kind: 'unlisted' } | { kind: 'failed'; line: string };

/** The members of one group from every LDAP / Graph source that lists it (the first 20 in all). */
async function membersOf(deps: CheckDeps, g: PrivateGroup): Promise<Members> {
  const principals: string[] = [];
  let listed = false;
  for (const s of deps.sources) {
    const read = s.source.members;
    if (!read) continue;
    let r: string[] | 'not_listed';
    try {
      r = await withDeadline(deps.timeoutMs ?? 30_000, (signal) => read(g.id, MEMBERS_CHECKED, signal));
    } catch (err) {
      return { kind: 'failed', line: `FAIL ${g.id} ${g.name}: the ${s.source.name} directory cannot be asked (${reasonOf(err)})` };
    }
    if (r === 'not_listed') continue;
    listed = true;
    principals.push(...r);
  }
  if (!listed) return { kind: 'unlisted' };
  return { kind: 'members', principals: [...new Set(principals)].slice(0, MEMBERS_CHECKED) };
}

/** One group's line: every member must resolve to the group; a failed lookup is a FAIL. */
export async function checkGroup(deps: CheckDeps, g: PrivateGroup): Promise<{ line: string; failed: boolean }> {
  const m = await membersOf(deps, g);
  if (m.kind === 'failed') return { line: m.line, failed: true };
  if (m.kind === 'unlisted') return { line: `skip ${g.id} ${g.name}: no LDAP or Graph source lists it`, failed: false };
  const membership = await deps.prefetch(m.principals);
  for (const p of m.principals) {
    const groups = membership(p);
    if (groups !== 'unknown' && groups.has(g.id)) continue;
    const why = groups === 'unknown' || 'incomplete' in groups ? 'cannot be looked up (a directory source failed)' : 'does not resolve to it';
    return { line: `FAIL ${g.id} ${g.name}: ${p} ${why}`, failed: true };
  }
  return { line: `ok ${g.id} ${g.name} (${m.principals.length} members checked)`, failed: false };
}

/** Checks every group in turn (one at a time: a check must not load the directory like an outage). */
export async function checkDirectory(deps: CheckDeps, groups: readonly PrivateGroup[]): Promise<CheckReport> {
  const lines: string[] = [];
  let failed = false;
  if (!deps.sources.some((s) => s.source.members)) {
    return { lines: ['no LDAP or Graph source is configured: nothing to check'], failed: false };
  }
  for (const g of groups) {
    const r = await checkGroup(deps, g);
    lines.push(r.line);
    failed ||= r.failed;
  }
  return { lines, failed };
}
