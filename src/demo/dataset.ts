/**
 * Deterministic synthetic Defender for Cloud Apps-like activities for the demo
 * and the end-to-end tests. Pure: no I/O, no Math.random (own PRNG), so the
 * same (count, seed) always yields byte-identical records.
 *
 * Conventions are shared with config/demo.yaml (see the constants below):
 * change them in both places or not at all.
 */

export const MANAGED_DOMAIN = 'contoso.com';
export const TAG_EXTERNAL_USERS = '000000200000000000000000';
export const TAG_APPLICATION = '0000003b0000000000000000';
/** A tag that belongs to no private group: noise the gateway must ignore. */
export const TAG_NEUTRAL = '5e6a3ab3c2a7b0d7a5f4c3e1';

export const PRINCIPALS = {
  alice: 'alice@contoso.com', // security admin, permitted to reveal
  dave: 'dave@contoso.com', // admin, not permitted
  erin: 'erin@contoso.com', // not an admin
  bob: 'bob@contoso.com', // hr via static directory
  carol: 'carol@contoso.com', // hr via static directory
  frank: 'frank@contoso.com', // hr only via the record's tags
  heidi: 'heidi@contoso.com', // legal via static directory
  grace: 'grace@eu.contoso.com', // managed subdomain, ordinary
  ivan: 'ivan@contoso.com',
  judy: 'judy@contoso.com',
  mallory: 'mallory@fabrikam.com', // external
  partner: 'partner@adatum.com', // external
} as const;

export const USER_PRINCIPALS: readonly string[] = Object.values(PRINCIPALS);
export const EXTERNAL_PRINCIPALS: readonly string[] = [PRINCIPALS.mallory, PRINCIPALS.partner];
export const PERMITTED_ADMINS: readonly string[] = [PRINCIPALS.alice];
export const ADMINS: readonly string[] = [PRINCIPALS.alice, PRINCIPALS.dave];

/** Static directory of config/demo.yaml (frank is NOT here: his records carry "hr"). */
export const STATIC_DIRECTORY: Readonly<Record<string, readonly string[]>> = {
  hr: [PRINCIPALS.bob, PRINCIPALS.carol],
  legal: [PRINCIPALS.heidi],
};

/**
 * The demo's HTTP directory (served by the sample API, read by config/demo.yaml's
 * directory.http): hr and legal as in the static directory, finance (not private until an
 * admin makes it so), and the groups the demo's admin rules name.
 */
export const HTTP_DIRECTORY_GROUPS: readonly { id: string; name: string; members: readonly string[] }[] = [
  { id: 'hr', name: 'Human Resources', members: [PRINCIPALS.bob, PRINCIPALS.carol] },
  { id: 'legal', name: 'Legal', members: [PRINCIPALS.heidi] },
  { id: 'finance', name: 'Finance', members: [PRINCIPALS.ivan, PRINCIPALS.judy] },
  { id: 'security-admins', name: 'Security administrators', members: [PRINCIPALS.alice, PRINCIPALS.dave, 'dpo@contoso.com'] },
  { id: 'privacy-officers', name: 'Privacy officers', members: ['dpo@contoso.com'] },
];

export interface Application {
  name: string;
  appId: number;
}

export const APPLICATIONS: readonly Application[] = [
  { name: 'Microsoft Exchange Online', appId: 20893 },
  { name: 'Microsoft SharePoint Online', appId: 20892 },
  { name: 'Microsoft Teams', appId: 28375 },
  { name: 'Microsoft Power Automate', appId: 26137 },
];

export interface DemoGroup {
  id: string;
  name: string;
  privateSince: string;
  privateUntil: string | null;
  /** epoch ms of privateSince / privateUntil */
  sinceMs: number;
  untilMs: number | null;
}

function group(id: string, name: string, since: string, until: string | null): DemoGroup {
  return { id, name, privateSince: since, privateUntil: until, sinceMs: Date.parse(since), untilMs: until === null ? null : Date.parse(until) };
}

/** privacy.groups of config/demo.yaml. builtin:application is deliberately not private. */
export const DEMO_GROUPS: readonly DemoGroup[] = [
  group('hr', 'Human Resources', '2026-03-01T00:00:00Z', null),
  group('builtin:external-users', 'External users', '2026-06-01T00:00:00Z', null),
  group('legal', 'Legal', '2026-02-01T00:00:00Z', '2026-05-01T00:00:00Z'),
];

/** Timestamps are uniform over [start, end). */
export const TIME_RANGE = { start: Date.parse('2025-12-01T00:00:00Z'), end: Date.parse('2026-11-01T00:00:00Z') } as const;

export interface Activity {
  _id: string;
  /** epoch ms, or (rarely) an ISO-8601 string with an offset */
  timestamp: number | string;
  eventType: number;
  eventTypeName: string;
  description: string;
  actorType: 'USER' | 'APPLICATION';
  user?: { userName: string; userTags: string[] };
  /** failed logons name the principal here instead of in `user` */
  failedUserData?: { userName: string; reason: string };
  resolvedActor?: { id: string; name: string; tags: string[] };
  device: { clientIP: string; userAgent: string; deviceType: string };
  location: { countryCode: string; city: string; latitude: number; longitude: number };
  appName: string;
  appId: number;
  severity: string;
  rawDataJson: Record<string, unknown>;
}

export interface DatasetOptions {
  count?: number;
  seed?: number;
}

/** mulberry32: tiny, fast, good enough for synthetic data. Returns [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const hex = (rng: Rng, digits: number): string => {
  let s = '';
  for (let i = 0; i < digits; i++) s += Math.floor(rng() * 16).toString(16);
  return s;
};

interface EventKind {
  eventType: number;
  eventTypeName: string;
  descriptions: readonly string[];
}

// Descriptions deliberately contain commas, quotes, newlines, `|`, `=`, `\` and
// non-ASCII so CSV / CEF / JSON escaping is exercised end to end.
const EVENTS: readonly EventKind[] = [
  { eventType: 233580, eventTypeName: 'EVENT_CATEGORY_LOGIN', descriptions: ['Log on', 'Log on (MFA)'] },
  {
    eventType: 233600,
    eventTypeName: 'EVENT_CATEGORY_DOWNLOAD_FILE',
    descriptions: ['Download file: Q3 report, final.docx', 'Download file: Budget 2026.xlsx', 'Datei "Gehälter.xlsx" geöffnet'],
  },
  { eventType: 233610, eventTypeName: 'EVENT_CATEGORY_UPLOAD_FILE', descriptions: ['Upload file: notes.txt', 'Fichier « résumé » partagé – 日本語'] },
  {
    eventType: 233620,
    eventTypeName: 'EVENT_CATEGORY_SHARE_FILE',
    descriptions: ['Share item "Org chart, draft" with external user', 'Share item: Offboarding checklist'],
  },
  {
    eventType: 233630,
    eventTypeName: 'EVENT_CATEGORY_SEND_MAIL',
    descriptions: ['Send mail: subject "Ärger | Budget"', 'Send mail: Re: salary review\nsecond line'],
  },
  {
    eventType: 233640,
    eventTypeName: 'EVENT_CATEGORY_RUN_COMMAND',
    descriptions: ['Run command: Set-Mailbox -Identity x=1 -Path C:\\share\\hr', 'Run command: Get-User | Format-List'],
  },
  { eventType: 233650, eventTypeName: 'EVENT_CATEGORY_UPDATE_USER', descriptions: ['Update user: "Müller, Jürgen"', 'Reset password'] },
];
const LOGIN = EVENTS[0];
const FAILED_LOGIN: EventKind = {
  eventType: 233590,
  eventTypeName: 'EVENT_CATEGORY_FAILED_LOGIN',
  descriptions: ['Failed log on', 'Failed log on: wrong password, 3rd attempt'],
};

const LOCATIONS = [
  { countryCode: 'DE', city: 'Berlin', latitude: 52.5, longitude: 13.4 },
  { countryCode: 'US', city: 'Seattle', latitude: 47.6, longitude: -122.3 },
  { countryCode: 'GB', city: 'London', latitude: 51.5, longitude: -0.1 },
  { countryCode: 'FR', city: 'Paris', latitude: 48.9, longitude: 2.35 },
  { countryCode: 'JP', city: 'Tokyo', latitude: 35.7, longitude: 139.7 },
  { countryCode: 'AT', city: 'Wien', latitude: 48.2, longitude: 16.4 },
] as const;

const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17726; Pro)',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
];
const DEVICE_TYPES = ['DESKTOP', 'DESKTOP', 'MOBILE', 'TABLET'];
const ISO_OFFSETS = [120, -300, 330, 0, 60];

/** ISO-8601 with an explicit numeric offset, denoting exactly `ms`. */
export function isoWithOffset(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Who acts in a record, before it is rendered. */
type ActorSpec = { kind: 'user'; principal: string; failed?: boolean } | { kind: 'app'; app: Application } | { kind: 'none' };

interface Spec {
  actor: ActorSpec;
  ms: number;
  iso?: number; // offset in minutes when the timestamp is rendered as ISO
}

// Relative weights of principals in random records (applications as one bucket).
const WEIGHTS: ReadonlyArray<[string, number]> = [
  [PRINCIPALS.alice, 6],
  [PRINCIPALS.dave, 6],
  [PRINCIPALS.erin, 8],
  [PRINCIPALS.bob, 8],
  [PRINCIPALS.carol, 8],
  [PRINCIPALS.frank, 6],
  [PRINCIPALS.heidi, 6],
  [PRINCIPALS.grace, 6],
  [PRINCIPALS.ivan, 8],
  [PRINCIPALS.judy, 8],
  [PRINCIPALS.mallory, 5],
  [PRINCIPALS.partner, 5],
  ['@app', 10],
];
const WEIGHT_SUM = WEIGHTS.reduce((s, [, w]) => s + w, 0);

function randomSpec(rng: Rng): Spec {
  const ms = TIME_RANGE.start + Math.floor(rng() * (TIME_RANGE.end - TIME_RANGE.start));
  const iso = rng() < 0.005 ? pick(rng, ISO_OFFSETS) : undefined;
  if (rng() < 0.002) return { actor: { kind: 'none' }, ms, iso };
  let r = rng() * WEIGHT_SUM;
  let who = WEIGHTS[WEIGHTS.length - 1][0];
  for (const [p, w] of WEIGHTS) {
    if ((r -= w) < 0) {
      who = p;
      break;
    }
  }
  if (who === '@app') return { actor: { kind: 'app', app: pick(rng, APPLICATIONS) }, ms, iso };
  return { actor: { kind: 'user', principal: who, failed: rng() < 0.01 }, ms, iso };
}

/**
 * Hand-placed records so every case exists even in small datasets: each
 * principal in every period between interval boundaries, records at exactly
 * the boundaries, failed logons, actor-less records, ISO timestamps (one of
 * them denoting exactly hr's privateSince).
 */
function fixtureSpecs(): Spec[] {
  const d = (iso: string) => Date.parse(iso);
  const periods = ['2025-12-15T09:00:00Z', '2026-02-15T09:00:00Z', '2026-04-15T09:00:00Z', '2026-05-15T09:00:00Z', '2026-08-15T09:00:00Z'].map(d);
  const specs: Spec[] = [];
  periods.forEach((ms, i) => {
    USER_PRINCIPALS.forEach((p, j) => specs.push({ actor: { kind: 'user', principal: p }, ms: ms + j * 60_000 }));
    specs.push({ actor: { kind: 'app', app: APPLICATIONS[i % APPLICATIONS.length] }, ms: ms + 3_600_000 });
  });
  const [hr, ext, legal] = DEMO_GROUPS;
  specs.push(
    { actor: { kind: 'user', principal: PRINCIPALS.bob }, ms: hr.sinceMs }, // private (inclusive)
    { actor: { kind: 'user', principal: PRINCIPALS.frank }, ms: hr.sinceMs - 1 }, // public
    { actor: { kind: 'user', principal: PRINCIPALS.carol }, ms: hr.sinceMs, iso: 60 }, // "…T01:00:00.000+01:00"
    { actor: { kind: 'user', principal: PRINCIPALS.heidi }, ms: legal.sinceMs },
    { actor: { kind: 'user', principal: PRINCIPALS.heidi }, ms: legal.untilMs! }, // public (exclusive)
    { actor: { kind: 'user', principal: PRINCIPALS.heidi }, ms: legal.untilMs! - 1 },
    { actor: { kind: 'user', principal: PRINCIPALS.mallory }, ms: ext.sinceMs },
    { actor: { kind: 'user', principal: PRINCIPALS.partner }, ms: ext.sinceMs - 1 },
    { actor: { kind: 'user', principal: PRINCIPALS.frank, failed: true }, ms: d('2026-07-01T08:00:00Z') },
    { actor: { kind: 'user', principal: PRINCIPALS.bob, failed: true }, ms: d('2026-07-02T08:00:00Z') },
    { actor: { kind: 'user', principal: PRINCIPALS.ivan, failed: true }, ms: d('2026-01-02T08:00:00Z') },
    { actor: { kind: 'none' }, ms: d('2026-01-10T10:00:00Z') },
    { actor: { kind: 'none' }, ms: d('2026-07-10T10:00:00Z') },
    { actor: { kind: 'user', principal: PRINCIPALS.judy }, ms: d('2026-04-01T12:00:00Z'), iso: -300 },
  );
  return specs;
}

/** Occasionally spell the principal in mixed case: comparisons must be case-insensitive. */
function spell(rng: Rng, principal: string): string {
  if (rng() >= 0.02) return principal;
  const [local, domain] = principal.split('@');
  return `${local[0].toUpperCase()}${local.slice(1)}@${domain.toUpperCase()}`;
}

function render(rng: Rng, spec: Spec): Activity {
  const { actor } = spec;
  const failed = actor.kind === 'user' && actor.failed === true;
  const ev = failed ? FAILED_LOGIN : actor.kind === 'app' ? pick(rng, EVENTS.slice(1)) : rng() < 0.3 ? LOGIN : pick(rng, EVENTS);
  const app = actor.kind === 'app' ? actor.app : pick(rng, APPLICATIONS);
  const ms = spec.ms;
  const id =
    Math.floor(ms / 1000)
      .toString(16)
      .padStart(8, '0') + hex(rng, 16);
  const a: Activity = {
    _id: id,
    timestamp: spec.iso === undefined ? ms : isoWithOffset(ms, spec.iso),
    eventType: ev.eventType,
    eventTypeName: ev.eventTypeName,
    description: pick(rng, ev.descriptions),
    actorType: actor.kind === 'app' ? 'APPLICATION' : 'USER',
    device: {
      clientIP: `10.${Math.floor(rng() * 256)}.${Math.floor(rng() * 256)}.${1 + Math.floor(rng() * 254)}`,
      userAgent: pick(rng, USER_AGENTS),
      deviceType: pick(rng, DEVICE_TYPES),
    },
    location: { ...pick(rng, LOCATIONS) },
    appName: app.name,
    appId: app.appId,
    severity: failed ? 'LOW' : 'INFO',
    rawDataJson: { RecordType: 15, Workload: app.name.replace('Microsoft ', ''), ResultStatus: failed ? 'Failed' : 'Succeeded' },
  };
  if (actor.kind === 'user') {
    const name = spell(rng, actor.principal);
    const tags: string[] = [];
    if (actor.principal === PRINCIPALS.frank) tags.push('hr');
    if (EXTERNAL_PRINCIPALS.includes(actor.principal) && rng() < 0.5) tags.push(TAG_EXTERNAL_USERS);
    if (rng() < 0.2) tags.push(TAG_NEUTRAL);
    if (failed) {
      // No `user` object: the principal is only in failedUserData; frank's
      // membership then comes from resolvedActor.tags.
      a.failedUserData = { userName: name, reason: 'InvalidPassword' };
      a.resolvedActor = { id: hex(rng, 24), name, tags };
    } else {
      a.user = { userName: name, userTags: tags };
      a.resolvedActor = { id: hex(rng, 24), name, tags: [] };
    }
  } else if (actor.kind === 'app') {
    const tags = rng() < 0.5 ? [TAG_APPLICATION] : [];
    a.user = { userName: actor.app.name, userTags: tags };
    a.resolvedActor = { id: String(actor.app.appId), name: actor.app.name, tags: [] };
  }
  return a;
}

/** Epoch ms of a record's timestamp (numbers as is, strings parsed), undefined if unreadable. */
export function activityTime(a: { timestamp?: unknown }): number | undefined {
  const t = a.timestamp;
  if (typeof t === 'number' && Number.isFinite(t)) return t;
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** The principal as config/demo.yaml reads it (user.userName, else failedUserData.userName), lower-cased. */
export function activityActor(a: Activity): string | undefined {
  return (a.user?.userName ?? a.failedUserData?.userName)?.toLowerCase();
}

/** Union of user.userTags and resolvedActor.tags, as config/demo.yaml reads groups. */
export function activityTags(a: Activity): string[] {
  return [...(a.user?.userTags ?? []), ...(a.resolvedActor?.tags ?? [])];
}

/**
 * `count` records (default 10000), newest first like the real API, from
 * hand-placed fixtures plus seeded random records. Ids are 24 hex digits,
 * ObjectId-style (creation seconds first), unique within the dataset.
 */
export function generateDataset(opts: DatasetOptions = {}): Activity[] {
  const count = Math.max(0, Math.floor(opts.count ?? 10_000));
  const rng = mulberry32(opts.seed ?? 1);
  const fixtures = fixtureSpecs();
  const specs = fixtures.slice(0, count);
  while (specs.length < count) specs.push(randomSpec(rng));
  const seen = new Set<string>();
  const out = specs.map((s) => {
    let a = render(rng, s);
    while (seen.has(a._id)) a = render(rng, s); // astronomically rare; keeps ids unique
    seen.add(a._id);
    return a;
  });
  // Stable sort: equal times keep generation order, so the output stays deterministic.
  return out.sort((x, y) => activityTime(y)! - activityTime(x)!);
}

/**
 * The demo's live feed: activity number `index` of a feed started at `startMs`, happening
 * at startMs + index / perSecond seconds. Content depends only on (seed, index), so a
 * feed is deterministic per seed; the clock only decides how many are due.
 */
export function liveActivity(seed: number, index: number, startMs: number, perSecond: number): Activity {
  const rng = mulberry32((Math.imul(seed, 0x9e3779b1) ^ index) >>> 0);
  const ms = startMs + Math.floor((index * 1000) / perSecond);
  const spec = randomSpec(rng);
  return render(rng, { actor: spec.actor, ms });
}
