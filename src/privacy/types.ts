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
}

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
export type HideBatch = (facts: readonly ActivityFacts[]) => boolean[] | Promise<boolean[]>;

/**
 * What the privacy engine reads of the runtime state: the group intervals and the
 * principals permitted to reveal, and a way to hear of changes. The state stores
 * (src/state/) provide it; privacy/ never imports them.
 */
export interface PrivacyStateView {
  groups: readonly GroupInterval[];
  permissions: ReadonlyArray<{ principal: string }>;
}

export interface PrivacyStateSource {
  current(): PrivacyStateView;
  /** returns the unsubscribe function */
  onChange(listener: (state: PrivacyStateView) => void): () => void;
}
