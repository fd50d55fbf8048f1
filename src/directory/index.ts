/**
 * The directory edge (SPEC §9): builds the configured remote sources (LDAP, Graph, HTTP),
 * each behind its own per-principal cache, and answers
 * - `prefetch` for the privacy engine: the union of every source's groups per principal;
 *   when one source fails with no usable cached answer the principal's groups are
 *   incomplete (decide(): private if the known groups already make it so, else undecidable);
 * - `user` for the admin checks (SPEC §10): does an LDAP/Graph directory know the principal,
 *   and its groups from every source (failed if any source failed);
 * - `catalogue`: the group catalogue.
 * The pure decision never sees this module, only the Membership it hands over.
 */
import type { Clock } from '../clock.js';
import { IncompleteGroups } from '../privacy/membership.js';
import type { Membership, MembershipSource } from '../privacy/types.js';
import type { CachedSource } from './cache.js';
import { Catalogue, type RemoteList } from './catalogue.js';
import { buildSources, type Warn } from './sources.js';
import { NO_OBSERVER, type DirectoryObserver, type DirectorySettings, type UserAnswer } from './types.js';

export type { DirectorySettings } from './types.js';

export interface DirectoryDeps {
  observer?: DirectoryObserver;
  warn?: Warn;
  /** privacy.groups and state names by id, for the catalogue */
  localNames?: () => ReadonlyMap<string, string>;
  /** monotonic clock in ms of the caches and the catalogue (tests) */
  now?: () => number;
  /** wall clock of the sources (Graph token expiry, Retry-After dates); default systemClock */
  clock?: Clock;
  /** reads a file the settings name (CA, certificate, key); default: UTF-8 from disk */
  readText?: (path: string) => string;
}

export interface UserLookup {
  /** some source could not answer (and had nothing usable cached) */
  failed: boolean;
  /** an LDAP or Graph source is configured (they know which users exist) */
  checkable: boolean;
  /** an LDAP or Graph source has this user */
  exists: boolean;
  /** union of every source's groups (static membership not included) */
  groups: ReadonlySet<string>;
}

export interface Directory extends MembershipSource {
  readonly sources: readonly CachedSource[];
  user(principal: string): Promise<UserLookup>;
  readonly catalogue: Catalogue;
  close(): void;
}

const NONE: ReadonlySet<string> = new Set<string>();

/** `settings` is the `directory` slice of the configuration, as data (types.ts). */
export function createDirectory(settings: DirectorySettings, deps: DirectoryDeps = {}): Directory {
  const observer = deps.observer ?? NO_OBSERVER;
  const { sources, remotes } = buildSources(settings, { observer, warn: deps.warn, now: deps.now, clock: deps.clock, readText: deps.readText });
  const catalogue = catalogueOf(settings, remotes, { ...deps, observer });
  return {
    sources,
    catalogue,
    prefetch: (principals) => prefetchAll(sources, principals),
    user: (principal) => lookupUser(sources, principal),
    close() {
      for (const s of sources) s.close();
    },
  };
}

function catalogueOf(settings: DirectorySettings, remotes: readonly RemoteList[], deps: DirectoryDeps & { observer: DirectoryObserver }): Catalogue {
  return new Catalogue({
    staticIds: Object.keys(settings.groups ?? {}),
    known: settings.knownGroups ?? [],
    localNames: deps.localNames ?? (() => new Map()),
    remotes,
    now: deps.now,
    observer: deps.observer,
  });
}

/** The union of every source's groups for these principals (no source: nobody has remote groups). */
export async function prefetchAll(sources: readonly CachedSource[], principals: readonly string[]): Promise<Membership> {
  if (sources.length === 0) return () => NONE;
  const parts = await Promise.all(sources.map((s) => s.prefetch(principals)));
  return unionOf(parts);
}

/** Asks every source about one principal (admin checks, SPEC §10). */
export async function lookupUser(sources: readonly CachedSource[], principal: string): Promise<UserLookup> {
  const answers = await Promise.all(sources.map((s) => s.resolve(principal)));
  return combineAnswers(
    sources.map((s) => s.source.knowsUsers),
    answers,
  );
}

/** Pure: one UserLookup from the sources' answers; `knowsUsers[i]` says whether source i can tell that a user exists. */
export function combineAnswers(knowsUsers: readonly boolean[], answers: ReadonlyArray<UserAnswer | 'failed'>): UserLookup {
  const groups = new Set<string>();
  let failed = false;
  let exists = false;
  answers.forEach((a, i) => {
    if (a === 'failed') {
      failed = true;
      return;
    }
    if (knowsUsers[i] && a.exists === true) exists = true;
    for (const g of a.groups) groups.add(g);
  });
  return { failed, checkable: knowsUsers.some(Boolean), exists, groups };
}

/** Union of the sources' answers; a failed source makes the answer incomplete (or 'unknown' when all failed). */
export function unionOf(parts: readonly Membership[]): Membership {
  if (parts.length === 1) return parts[0];
  return (principal) => {
    const union = new Set<string>();
    let failed = 0;
    for (const part of parts) {
      const r = part(principal);
      if (r === 'unknown') failed++;
      else for (const g of r) union.add(g);
    }
    if (failed === parts.length) return 'unknown';
    return failed > 0 ? new IncompleteGroups(union) : union;
  };
}

/** The part of the configuration localGroupNames reads: `privacy.groups`. */
export interface LocalNamesSettings {
  privacy: { groups: ReadonlyArray<{ id: string; name?: string }> };
}

/** privacy.groups names, overridden by the state's latest name per id. */
export function localGroupNames(config: LocalNamesSettings, stateGroups: ReadonlyArray<{ id: string; name?: string }>): Map<string, string> {
  const m = new Map<string, string>();
  for (const g of config.privacy.groups) if (g.name) m.set(g.id, g.name);
  for (const g of stateGroups) if (g.name && g.name !== g.id) m.set(g.id, g.name);
  return m;
}
