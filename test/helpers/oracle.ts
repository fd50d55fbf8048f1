/**
 * An independent, deliberately naive statement of the demo policy, written
 * without the gateway's decision code: the tests compare the gateway with it.
 */
const T = (s: string) => Date.parse(s);
export const DEMO_INTERVALS = [
  { id: 'hr', since: T('2026-03-01T00:00:00Z'), until: Infinity },
  { id: 'builtin:external-users', since: T('2026-06-01T00:00:00Z'), until: Infinity },
  { id: 'legal', since: T('2026-02-01T00:00:00Z'), until: T('2026-05-01T00:00:00Z') },
];
export const DEMO_DIRECTORY: Record<string, string[]> = { 'bob@contoso.com': ['hr'], 'carol@contoso.com': ['hr'], 'heidi@contoso.com': ['legal'] };
const EXTERNAL_TAG = '000000200000000000000000';
const APP_TAG = '0000003b0000000000000000';

function time(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string' && /(Z|[+-]\d\d:?\d\d)$/.test(v) && /^\d{4}-\d\d-\d\dT/.test(v)) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/** true when the demo policy hides this record from ordinary consumers */
export function demoHides(
  rec: any,
  intervals: { id: string; since: number; until: number }[] = DEMO_INTERVALS,
  directory: Record<string, string[]> = DEMO_DIRECTORY,
): boolean {
  const t = time(rec?.timestamp);
  if (intervals.length === 0) return false;
  if (t === undefined) return true; // undecidable → withhold
  const active = new Set(intervals.filter((i) => i.since <= t && t < i.until).map((i) => i.id));
  if (active.size === 0) return false;
  const tags: string[] = [...(rec?.user?.userTags ?? []), ...(rec?.resolvedActor?.tags ?? [])].filter((x) => typeof x === 'string');
  const isApp = String(rec?.actorType ?? '').toUpperCase() === 'APPLICATION' || tags.includes(APP_TAG);
  for (const tag of tags) {
    if (active.has(tag)) return true;
    if (tag === EXTERNAL_TAG && active.has('builtin:external-users')) return true;
    if (tag === APP_TAG && active.has('builtin:application')) return true;
  }
  if (isApp && active.has('builtin:application')) return true;
  if ([...active].every((g) => g === 'builtin:application')) return false;
  const actorRaw =
    typeof rec?.user?.userName === 'string' && rec.user.userName.trim()
      ? rec.user.userName
      : typeof rec?.failedUserData?.userName === 'string' && rec.failedUserData.userName.trim()
        ? rec.failedUserData.userName
        : undefined;
  if (actorRaw === undefined) return true; // undecidable → withhold
  const actor = actorRaw.trim().toLowerCase();
  if (active.has('builtin:external-users') && !isApp) {
    const domain = actor.includes('@') ? actor.slice(actor.lastIndexOf('@') + 1).replace(/\.+$/, '') : '';
    if (!(domain === 'contoso.com' || domain.endsWith('.contoso.com'))) return true;
  }
  return (directory[actor] ?? []).some((g) => active.has(g));
}

/**
 * Which private groups make the record private, stated as naively as demoHides
 * (not with the gateway's code): `hidden` is demoHides' answer, `groups` every
 * group private at the record's time that applies to it, `actor` the lower-cased
 * actor when readable.
 */
export function demoPrivateGroups(
  rec: any,
  intervals: { id: string; since: number; until: number }[] = DEMO_INTERVALS,
  directory: Record<string, string[]> = DEMO_DIRECTORY,
): { hidden: boolean; groups: string[]; actor?: string } {
  const hidden = demoHides(rec, intervals, directory);
  const actorRaw =
    typeof rec?.user?.userName === 'string' && rec.user.userName.trim()
      ? rec.user.userName
      : typeof rec?.failedUserData?.userName === 'string' && rec.failedUserData.userName.trim()
        ? rec.failedUserData.userName
        : undefined;
  const actor = actorRaw === undefined ? undefined : String(actorRaw).trim().toLowerCase();
  const t = time(rec?.timestamp);
  if (!hidden || t === undefined) return { hidden, groups: [], actor };
  const groups = new Set<string>();
  // one group at a time: private through g when the policy made of g's intervals alone hides it decidably
  for (const g of new Set(intervals.map((i) => i.id))) {
    const only = intervals.filter((i) => i.id === g);
    if (!only.some((i) => i.since <= t && t < i.until)) continue;
    // "decidably": with the record's actor known. A missing actor makes demoHides say true for any actor-dependent group
    const tags: string[] = [...(rec?.user?.userTags ?? []), ...(rec?.resolvedActor?.tags ?? [])].filter((x) => typeof x === 'string');
    const isApp = String(rec?.actorType ?? '').toUpperCase() === 'APPLICATION' || tags.includes(APP_TAG);
    if (tags.includes(g)) {
      groups.add(g);
      continue;
    }
    if (g === 'builtin:external-users' && tags.includes(EXTERNAL_TAG)) {
      groups.add(g);
      continue;
    }
    if (g === 'builtin:application' && isApp) {
      groups.add(g);
      continue;
    }
    if (g === 'builtin:application' || actor === undefined) continue;
    if (g === 'builtin:external-users') {
      if (isApp) continue;
      const domain = actor.includes('@') ? actor.slice(actor.lastIndexOf('@') + 1).replace(/\.+$/, '') : '';
      if (!(domain === 'contoso.com' || domain.endsWith('.contoso.com'))) groups.add(g);
      continue;
    }
    if ((directory[actor] ?? []).includes(g)) groups.add(g);
  }
  return { hidden, groups: [...groups], actor };
}

/** SPEC §10 oracle: is a hidden record shown by a reveal with this scope and permission groups? */
export function demoShown(
  p: { hidden: boolean; groups: string[]; actor?: string },
  scope?: { groups: string[]; actors: string[] },
  permissionGroups?: string[],
): boolean {
  if (!p.hidden) return false;
  if (permissionGroups && !p.groups.some((g) => permissionGroups.includes(g))) return false;
  if (scope && !(p.actor !== undefined && scope.actors.map((a) => a.toLowerCase()).includes(p.actor)) && !p.groups.some((g) => scope.groups.includes(g)))
    return false;
  return true;
}

/**
 * The `actors` a viewed entry should record for these shown records (SPEC §6 v3), stated
 * naively: one item per lower-cased readable actor, counted, in order of first appearance.
 */
export function demoActors(shown: readonly any[]): { principal: string; count: number }[] {
  const out: { principal: string; count: number }[] = [];
  for (const rec of shown) {
    const actor = demoPrivateGroups(rec).actor;
    if (actor === undefined) continue;
    const item = out.find((a) => a.principal === actor);
    if (item) item.count++;
    else out.push({ principal: actor, count: 1 });
  }
  return out;
}
