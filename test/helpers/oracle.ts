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
export function demoHides(rec: any, intervals: { id: string; since: number; until: number }[] = DEMO_INTERVALS, directory: Record<string, string[]> = DEMO_DIRECTORY): boolean {
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
  const actorRaw = typeof rec?.user?.userName === 'string' && rec.user.userName.trim() ? rec.user.userName
    : typeof rec?.failedUserData?.userName === 'string' && rec.failedUserData.userName.trim() ? rec.failedUserData.userName : undefined;
  if (actorRaw === undefined) return true; // undecidable → withhold
  const actor = actorRaw.trim().toLowerCase();
  if (active.has('builtin:external-users') && !isApp) {
    const domain = actor.includes('@') ? actor.slice(actor.lastIndexOf('@') + 1).replace(/\.+$/, '') : '';
    if (!(domain === 'contoso.com' || domain.endsWith('.contoso.com'))) return true;
  }
  return (directory[actor] ?? []).some((g) => active.has(g));
}
