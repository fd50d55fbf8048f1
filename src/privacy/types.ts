/**
 * Shared vocabulary of the privacy decision. Everything here is plain data:
 * the decision code (src/privacy/decision.ts) is pure and does no I/O.
 */

/** One interval during which a group was (or is) private. A group may have several (history). */
export interface GroupInterval {
  id: string;
  name?: string;
  /** epoch ms, inclusive: an activity at exactly privateSince is private */
  privateSince: number;
  /** epoch ms, exclusive: an activity at exactly privateUntil is not; null = still private */
  privateUntil: number | null;
  /** SPEC §14: absent = 'hide'; 'pseudonymise' keeps the activities with the actor replaced by a pseudonym */
  mode?: GroupMode;
}

/** SPEC §14: what a private group does to its members' activities */
export type GroupMode = 'hide' | 'pseudonymise';

export interface PolicySnapshot {
  intervals: readonly GroupInterval[];
  /** lower-cased; a domain or any subdomain of it is managed */
  managedDomains: readonly string[];
  undecidable: 'withhold' | 'show';
}

/** What the decision needs to know about one activity, extracted from a JSON record, a CSV row or a CEF line. */
export interface ActivityFacts {
  /** activity id (for the governance entry); undefined when absent */
  id?: string;
  /** lower-cased principal; undefined when it cannot be read */
  actor?: string;
  /** epoch ms; undefined when missing or unreadable */
  timestamp?: number;
  /** group ids carried by the record itself (builtin tags already mapped to builtin:… ids, raw tags kept too) */
  groups: readonly string[];
  /** the record says the actor is an application (matcher or tag) */
  isApplication: boolean;
}

/**
 * Where the decision's fields are in a record: the paths privacy/extract.ts reads
 * (one path or several for actor and groups) and the builtin tags. Plain data handed
 * in by the caller; the validated `activities` config section (config/schema.ts
 * ActivitiesConfig) satisfies it, and privacy/ never imports the config.
 */
export interface ActivitiesSpec {
  /** dot path of the activity id */
  id: string;
  /** dot path of the timestamp */
  timestamp: string;
  /** dot path(s) of the actor: the first that holds a string wins */
  actor: string | string[];
  /** dot path(s) of group tags: all are read */
  groups: string | string[];
  /** the record is an application's when the value at `path` is one of `equals` (case-insensitive); null = no such field */
  application: { path: string; equals: string[] } | null;
  /** group tags that stand for the builtin groups; absent = no such tag */
  builtinTags: { 'external-users'?: string; application?: string };
}

export const BUILTIN_EXTERNAL = 'builtin:external-users';
export const BUILTIN_APPLICATION = 'builtin:application';

/**
 * Directory membership of a principal: the set of group ids, or 'unknown'
 * when the lookup failed (the undecidable rule then applies).
 */
export type Membership = (principal: string) => ReadonlySet<string> | 'unknown';

/**
 * A dynamic membership source (the directory edge, src/directory/): resolved once per batch,
 * before the pure decision runs. Never rejects; a failed lookup is 'unknown' in the result.
 */
export interface MembershipSource {
  prefetch(principals: string[]): Promise<Membership>;
}

export type Verdict = 'public' | 'private' | 'undecidable';

/**
 * Classifies a batch of activities: true = hide (private, or undecidable under
 * `withhold`). May be async because directory look-ups over HTTP are.
 * Implementations must return an array of the same length as the input.
 */
export type HideBatch = (facts: readonly ActivityFacts[]) => HideAnswer[] | Promise<HideAnswer[]>;

/**
 * One activity's answer: false = keep as is, true = remove, 'pseudonymise' = keep with the
 * actor's principal replaced by its pseudonym (SPEC §14). Anything but exactly `false`
 * removes in a rewriter that does not know pseudonyms (fail closed).
 */
export type HideAnswer = boolean | 'pseudonymise';

/**
 * What the privacy engine reads of the runtime state: the group intervals and the
 * principals permitted to reveal, and a way to hear of changes. The state stores
 * (src/state/) provide it; privacy/ never imports them.
 */
/** SPEC §10: the private activities one reveal is narrowed to (groups by catalogue id, actors lower-cased). */
export interface RevealScope {
  groups: readonly string[];
  actors: readonly string[];
}

export type RevealRequestStatus = 'pending' | 'approved' | 'denied' | 'revoked' | 'expired';

/** SPEC §11: a reveal request and its decision. */
export interface RevealRequest {
  id: string;
  status: RevealRequestStatus;
  /** lower-cased principal */
  requester: string;
  reason: string;
  /** absent: the reveal is not narrowed beyond the requester's permission */
  scope?: RevealScope;
  durationMin: number;
  /** ISO-8601 */
  createdAt: string;
  /** approved: who and the window [validFrom, validUntil) */
  approvedBy?: string;
  validFrom?: string;
  validUntil?: string;
  /** denied: who */
  deniedBy?: string;
  /** when it was approved or denied */
  decidedAt?: string;
  comment?: string;
  /** revoked: who ended the approved window early, and when */
  revokedBy?: string;
  revokedAt?: string;
  /** expired: when it was found still pending after its time to live */
  expiredAt?: string;
}

export interface PrivacyStateView {
  groups: readonly GroupInterval[];
  /** SPEC §10: `groups` limits the permission, `expiresAt` (ISO-8601) ends it */
  permissions: ReadonlyArray<{ principal: string; groups?: readonly string[]; expiresAt?: string }>;
  revealRequests?: readonly RevealRequest[];
}

export interface PrivacyStateSource {
  current(): PrivacyStateView;
  /** returns the unsubscribe function */
  onChange(listener: (state: PrivacyStateView) => void): () => void;
}
