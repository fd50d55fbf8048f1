/**
 * Reports over the governance log (SPEC §15), pure: fed one entry at a time in seq order
 * (from a sink's `stream`), so a report over any log needs memory only for its answer —
 * the views of one person, or one row per bucket and per viewer — never for the log.
 *
 * Pseudonym resolutions (`pseudonym.resolved`, `pseudonym.looked-up`, SPEC §14) are
 * matched by action name as strings: a log written before pseudonymisation has none, and
 * the resolutions list is then empty.
 */
import { normalizePrincipal } from '../principal.js';
import { csvCell } from './query.js';
import type { GovernanceEntry } from './types.js';

/** The actions a report reads (strings: the pseudonym actions may not be in GOVERNANCE_ACTIONS). */
export const VIEWED = 'private-activities.viewed';
export const DENIED = 'private-activities.denied';
export const RESOLUTION_ACTIONS: readonly string[] = ['pseudonym.resolved', 'pseudonym.looked-up'];
const GROUP_CHANGES: readonly string[] = ['privacy-group.added', 'privacy-group.removed'];
const PERMISSION_CHANGES: readonly string[] = ['reveal-permission.granted', 'reveal-permission.revoked'];
const REQUEST_EVENTS = ['created', 'approved', 'denied', 'expired', 'revoked'] as const;
type RequestEvent = (typeof REQUEST_EVENTS)[number];

/** Every action the subject report reads. */
export const SUBJECT_ACTIONS: readonly string[] = [VIEWED, ...RESOLUTION_ACTIONS];
/** Every action the summary counts. */
export const SUMMARY_ACTIONS: readonly string[] = [
  VIEWED,
  DENIED,
  ...RESOLUTION_ACTIONS,
  ...GROUP_CHANGES,
  ...PERMISSION_CHANGES,
  ...REQUEST_EVENTS.map((e) => `reveal-request.${e}`),
];

// ---- the subject report ----

export interface SubjectView {
  time: string;
  reason?: string;
  scope?: { groups: readonly string[]; actors: readonly string[] };
  revealRequest?: string;
  activities: number;
  viewer?: string;
}

export interface SubjectResolution {
  time: string;
  action: string;
  reason?: string;
  viewer?: string;
}

export interface SubjectOptions {
  /** normalised principal of the person */
  principal: string;
  /** the person's pseudonyms (lower-cased), when pseudonymisation knows them: `pseudonym.resolved` names one */
  pseudonyms?: ReadonlySet<string>;
  includeViewers: boolean;
}

/** What one entry tells about the person; undefined when nothing. */
export type SubjectItem = { kind: 'view'; view: SubjectView } | { kind: 'resolution'; resolution: SubjectResolution } | { kind: 'unattributable' };

/**
 * Reads one entry for the subject report:
 * - a viewed entry whose `actors` holds the person is a view (`activities` = their count);
 * - a viewed entry without `actors` (written before v3) cannot be attributed; nor can one
 *   whose list was cut at 1000 (`actorsTruncated`) and does not hold the person: both are
 *   counted in `entriesWithoutActors`, never guessed;
 * - a `pseudonym.looked-up` of the person or a `pseudonym.resolved` of one of their pseudonyms.
 */
export function subjectItem(e: GovernanceEntry, o: SubjectOptions): SubjectItem | undefined {
  if (e.action === VIEWED) {
    const pa = e.privateActivities;
    if (!pa || !Array.isArray(pa.actors)) return { kind: 'unattributable' };
    const mine = pa.actors.find((a) => normalizePrincipal(a.principal) === o.principal);
    if (!mine) return pa.actorsTruncated === true ? { kind: 'unattributable' } : undefined;
    // key order as SPEC §15 lists them: time, reason, scope, revealRequest, activities, viewer
    const view = { time: e.time } as SubjectView;
    if (e.reason !== undefined) view.reason = e.reason;
    if (e.scope !== undefined) view.scope = { groups: [...e.scope.groups], actors: [...e.scope.actors] };
    if (e.revealRequest !== undefined) view.revealRequest = e.revealRequest;
    view.activities = mine.count;
    if (o.includeViewers) view.viewer = e.principal;
    return { kind: 'view', view };
  }
  const action: string = e.action;
  if (RESOLUTION_ACTIONS.includes(action) && typeof e.target === 'string') {
    const t = normalizePrincipal(e.target);
    const about = action === 'pseudonym.looked-up' ? t === o.principal : t !== undefined && (o.pseudonyms?.has(t) === true || t === o.principal);
    if (!about) return undefined;
    const resolution: SubjectResolution = { time: e.time, action };
    if (e.reason !== undefined) resolution.reason = e.reason;
    if (o.includeViewers) resolution.viewer = e.principal;
    return { kind: 'resolution', resolution };
  }
  return undefined;
}

const VIEWED_KEY = Buffer.from(`"action":"${VIEWED}"`);
const ACTORS_KEY = Buffer.from('"actors":');
const ACTORS_CUT = Buffer.from('"actorsTruncated":true');

/**
 * A superset test on a stored line for the subject report, so that a sink need not parse
 * the lines that cannot be about the person: a line is kept when it holds the person's
 * principal or one of their pseudonyms as JSON writes them (the writer stores actors
 * normalised), or when it is a reveal without `actors` (unattributable) or with its actors cut.
 */
export function subjectLineHint(o: { principal: string; pseudonyms?: Iterable<string>; includeViewers?: boolean }): (line: Buffer) => boolean {
  const needles = [o.principal, ...(o.pseudonyms ?? [])].map((s) => Buffer.from(JSON.stringify(s).slice(1, -1)));
  return (line) => needles.some((n) => line.includes(n)) || (line.includes(VIEWED_KEY) && (!line.includes(ACTORS_KEY) || line.includes(ACTORS_CUT)));
}

export interface SubjectReport {
  principal: string;
  since?: string;
  until?: string;
  views: SubjectView[];
  resolutions: SubjectResolution[];
  entriesWithoutActors: number;
}

/** The JSON subject report from a stream of entries (oldest first). */
export async function subjectReport(entries: AsyncIterable<GovernanceEntry>, o: SubjectOptions & { since?: string; until?: string }): Promise<SubjectReport> {
  const report = { principal: o.principal } as SubjectReport;
  if (o.since !== undefined) report.since = o.since;
  if (o.until !== undefined) report.until = o.until;
  report.views = [];
  report.resolutions = [];
  report.entriesWithoutActors = 0;
  for await (const e of entries) {
    const item = subjectItem(e, o);
    if (item?.kind === 'view') report.views.push(item.view);
    else if (item?.kind === 'resolution') report.resolutions.push(item.resolution);
    else if (item?.kind === 'unattributable') report.entriesWithoutActors++;
  }
  return report;
}

/** The CSV columns of the subject report's views (SPEC §15). */
export function subjectCsvColumns(includeViewers: boolean): string[] {
  return ['time', 'reason', 'scope', 'revealRequest', 'activities', ...(includeViewers ? ['viewer'] : [])];
}

/** A scope as the scope header writes it: `group:hr, actor:bob@contoso.com`. */
export function scopeText(scope: { groups: readonly string[]; actors: readonly string[] }): string {
  return [...scope.groups.map((g) => `group:${g}`), ...scope.actors.map((a) => `actor:${a}`)].join(', ');
}

export function subjectCsvHeader(includeViewers: boolean): string {
  return subjectCsvColumns(includeViewers).join(',') + '\r\n';
}

export function subjectCsvRow(v: SubjectView, includeViewers: boolean): string {
  const cells = [
    csvCell(v.time, false),
    csvCell(v.reason, true),
    csvCell(v.scope === undefined ? undefined : scopeText(v.scope), true),
    csvCell(v.revealRequest, true),
    csvCell(v.activities, false),
  ];
  if (includeViewers) cells.push(csvCell(v.viewer, true));
  return cells.join(',') + '\r\n';
}

// ---- the summary ----

export type BucketKind = 'day' | 'week' | 'month';
export const BUCKETS: readonly BucketKind[] = ['day', 'week', 'month'];

export interface SummaryBucket {
  start: string;
  reveals: number;
  revealsDenied: number;
  activitiesShown: number;
  resolutions: number;
  groupChanges: number;
  permissionChanges: number;
  requests: Record<RequestEvent, number>;
}

export interface ViewerRow {
  principal: string;
  reveals: number;
  activitiesShown: number;
}

export interface Summary {
  buckets: SummaryBucket[];
  byViewer: ViewerRow[];
}

const DAY = 86_400_000;

/** The UTC start of the bucket holding `ms`: a UTC day, an ISO week (Monday) or a calendar month. */
export function bucketStart(ms: number, kind: BucketKind): number {
  const d = new Date(ms);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  if (kind === 'day') return day;
  if (kind === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  // getUTCDay: 0 = Sunday; an ISO week starts on Monday
  return day - ((d.getUTCDay() + 6) % 7) * DAY;
}

function emptyBucket(start: number): SummaryBucket {
  return {
    start: new Date(start).toISOString(),
    reveals: 0,
    revealsDenied: 0,
    activitiesShown: 0,
    resolutions: 0,
    groupChanges: 0,
    permissionChanges: 0,
    requests: { created: 0, approved: 0, denied: 0, expired: 0, revoked: 0 },
  };
}

/** Counts entries into buckets and viewers; memory grows with buckets and viewers only. */
export class SummaryCounter {
  private readonly buckets = new Map<number, SummaryBucket>();
  private readonly viewers = new Map<string, ViewerRow>();

  constructor(private readonly kind: BucketKind) {}

  add(e: GovernanceEntry): void {
    const t = Date.parse(e.time);
    if (Number.isNaN(t)) return;
    const bump = (f: (b: SummaryBucket) => void): void => {
      const start = bucketStart(t, this.kind);
      let b = this.buckets.get(start);
      if (!b) this.buckets.set(start, (b = emptyBucket(start)));
      f(b);
    };
    const a = e.action as string;
    if (a === VIEWED) {
      const shown = e.privateActivities?.count ?? 0;
      bump((b) => {
        b.reveals++;
        b.activitiesShown += shown;
      });
      const who = normalizePrincipal(e.principal) ?? e.principal;
      let v = this.viewers.get(who);
      if (!v) this.viewers.set(who, (v = { principal: who, reveals: 0, activitiesShown: 0 }));
      v.reveals++;
      v.activitiesShown += shown;
    } else if (a === DENIED) bump((b) => b.revealsDenied++);
    else if (RESOLUTION_ACTIONS.includes(a)) bump((b) => b.resolutions++);
    else if (GROUP_CHANGES.includes(a)) bump((b) => b.groupChanges++);
    else if (PERMISSION_CHANGES.includes(a)) bump((b) => b.permissionChanges++);
    else if (a.startsWith('reveal-request.')) {
      const ev = a.slice('reveal-request.'.length) as RequestEvent;
      if ((REQUEST_EVENTS as readonly string[]).includes(ev)) bump((b) => b.requests[ev]++);
    }
  }

  /** Buckets oldest first (none without events); viewers by reveals, then activities shown, then name. */
  result(): Summary {
    const buckets = [...this.buckets.entries()].sort((x, y) => x[0] - y[0]).map(([, b]) => b);
    const byViewer = [...this.viewers.values()].sort(
      (x, y) => y.reveals - x.reveals || y.activitiesShown - x.activitiesShown || (x.principal < y.principal ? -1 : x.principal > y.principal ? 1 : 0),
    );
    return { buckets, byViewer };
  }
}

export async function summaryReport(entries: AsyncIterable<GovernanceEntry>, kind: BucketKind): Promise<Summary> {
  const c = new SummaryCounter(kind);
  for await (const e of entries) c.add(e);
  return c.result();
}
