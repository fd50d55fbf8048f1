/**
 * Vocabulary of the directory edge (SPEC §9): the remote membership sources (LDAP, Graph,
 * HTTP) and what they answer. Sources do I/O; the privacy decision only ever sees the
 * resulting Membership (src/privacy/types.ts).
 */

export type SourceName = 'ldap' | 'graph' | 'http';

/** One source's answer about one principal. */
export interface UserAnswer {
  /** the directory has this user (LDAP: a user entry; Graph: not 404); undefined = the source cannot tell (HTTP) */
  exists: boolean | undefined;
  /** group ids (never DNs or names) */
  groups: ReadonlySet<string>;
}

/** One group of a source's catalogue listing. */
export interface CatalogueEntry {
  id: string;
  name: string;
}

/** A remote source of membership. Every call honours the signal (aborted at timeoutMs). */
export interface DirectorySource {
  readonly name: SourceName;
  /** answers `exists` (LDAP and Graph), so it takes part in the unknown_principal check */
  readonly knowsUsers: boolean;
  /** `principal` is already normalised (trimmed, lower-cased). Rejects with DirectoryError on any failure. */
  lookup(principal: string, signal: AbortSignal): Promise<UserAnswer>;
  /**
   * The directory entry `principal` resolves to (SPEC §9 "One person, several names"): a key
   * stable for that entry within this source (LDAP: the normalised DN of the entry userFilter
   * finds; Graph: the user's object id), null when there is no such user. LDAP and Graph only.
   */
  person?: (principal: string, signal: AbortSignal) => Promise<string | null>;
  /**
   * Up to `limit` member principals of the group with this id, read from the source (SPEC §9
   * "Checking the directory"); 'not_listed' when the source has no such group. LDAP and Graph only.
   */
  members?: (groupId: string, limit: number, signal: AbortSignal) => Promise<string[] | 'not_listed'>;
  /** every group the source offers for the catalogue; undefined when the source lists none (HTTP without groupsUrl) */
  listGroups?: (signal: AbortSignal) => Promise<CatalogueEntry[]>;
  close(): void;
}

/**
 * A failed directory operation. `message` never carries directory data (no principal, DN,
 * group or answer body): it is safe to log and to count.
 */
export class DirectoryError extends Error {
  readonly code = 'directory_error';
}

/** Per-source observations (metrics); labels are the source name and an outcome only. */
export interface DirectoryObserver {
  lookup(source: SourceName, outcome: 'hit' | 'miss' | 'stale' | 'failure'): void;
  latency(source: SourceName, seconds: number): void;
  catalogue(source: SourceName, outcome: 'ok' | 'failure'): void;
  /** a call to the source failed; `reason` is a DirectoryError message (fixed text, no directory data) */
  failed(source: SourceName, reason: string): void;
}

export const NO_OBSERVER: DirectoryObserver = { lookup() {}, latency() {}, catalogue() {}, failed() {} };

/** The loggable reason of a failure: DirectoryError messages only, anything else generic. */
export function reasonOf(err: unknown): string {
  return err instanceof DirectoryError ? err.message : 'failed';
}

/**
 * The directory's slice of the configuration, as data (SPEC §9 `directory`). Structural:
 * the validated config (src/config) fits these shapes, but the directory never imports it,
 * so the layer below config knows only what it reads.
 */
export interface CacheSettings {
  ttlSec: number;
  staleSec: number;
  maxEntries: number;
  timeoutMs: number;
}

/** Where users and groups are found, and how membership is read (SPEC §9): shared by the settings and the source. */
export interface LdapSearchSettings {
  userBaseDN: string;
  userFilter: string;
  groupBaseDN: string;
  groupFilter: string;
  groupIdAttribute: string;
  groupNameAttribute: string;
  memberAttribute: string;
  /** null: the server does not maintain it; groups are searched by member */
  memberOfAttribute: string | null;
  nested: boolean;
}

/** `directory.ldap` */
export interface LdapSettings extends CacheSettings, LdapSearchSettings {
  /** tried in order */
  url: readonly string[];
  bindDN: string | null;
  bindPassword: string | null;
  startTLS: boolean;
  tls: { caFile: string | null; rejectUnauthorized: boolean };
}

/** `directory.graph` */
export interface GraphSettings extends CacheSettings {
  tenantId: string;
  clientId: string;
  clientSecret: string | null;
  certificate: { certFile: string; keyFile: string } | null;
  authorityHost: string;
  graphUrl: string;
  tls: { caFile: string | null };
}

/** `directory.http` */
export interface HttpSettings extends CacheSettings {
  url: string;
  headers?: Record<string, string>;
  groupsUrl?: string | null;
}

/** `directory`: static membership, known groups and the remote sources (null = not configured). */
export interface DirectorySettings {
  groups?: Readonly<Record<string, readonly string[]>>;
  knownGroups?: ReadonlyArray<{ id: string; name?: string }>;
  ldap?: LdapSettings | null;
  graph?: GraphSettings | null;
  http?: HttpSettings | null;
}
