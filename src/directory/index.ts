/**
 * The directory edge (SPEC §9): builds the configured remote sources (LDAP, Graph, HTTP),
 * each behind its own per-principal cache, and answers
 * - `prefetch` for the privacy engine: the union of every source's groups per principal;
 *   when one source fails with no usable cached answer the principal's groups are
 *   incomplete (decide(): private if the known groups already make it so, else undecidable);
 * - `user` for the admin checks (SPEC §10): does an LDAP/Graph directory know the principal,
 *   and its groups from every source (failed if any source failed);
 * - `personOf` / `samePerson` (SPEC §9 "One person, several names"): which directory entry a
 *   principal names, so self-grant and self-approval compare persons, not strings;
 * - `catalogue`: the group catalogue.
 * The pure decision never sees this module, only the Membership it hands over.
 */
import type { Clock } from '../clock.js';
import { normalizePrincipal } from '../principal.js';
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

/**
 * A person key (`ldap:<normalised DN>`, `graph:<object id>`: always holding a colon, so never
 * the word 'unknown'), null when no LDAP / Graph source knows the principal, or 'unknown'.
 */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- 'unknown' names the third answer; keys hold a colon
export type PersonKey = string | null | 'unknown';

export interface Directory extends MembershipSource {
  readonly sources: readonly CachedSource[];
  user(principal: string): Promise<UserLookup>;
  /**
   * The person `principal` names (SPEC §9 "One person, several names"): a stable key of the
   * directory entry it resolves to in the first LDAP / Graph source that has it
   * (`ldap:<normalised DN>`, `graph:<object id>`); null when no such source knows it (or none
   * is configured); 'unknown' when one of them cannot be asked. Cached per source like the
   * membership lookups.
   */
  personOf(principal: string): Promise<PersonKey>;
  /**
   * Are `a` and `b` one person? true when they are equal once normalised, or when some LDAP /
   * Graph source resolves both to the same entry; 'unknown' when not shown to be the same and a
   * source that might could not be asked; else false.
   */
  samePerson(a: string, b: string): Promise<boolean | 'unknown'>;
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
    personOf: (principal) => personOf(sources, principal),
    samePerson: (a, b) => samePerson(sources, a, b),
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

/** One source's answer: the person key `<source>:<key>`, null (no such user), or false (the source failed). */
export type SourceAnswer = string | null | false;

/** Every person-capable source's answer about one principal, in source order. */
async function personsOf(sources: readonly CachedSource[], principal: string): Promise<SourceAnswer[]> {
  return Promise.all(
    sources.map(async (s): Promise<SourceAnswer | undefined> => {
      if (!s.person) return undefined;
      const r = await s.person(principal);
      if (r === 'failed') return false;
      return r.key === null ? null : `${s.source.name}:${r.key}`;
    }),
  ).then((all) => all.filter((a): a is SourceAnswer => a !== undefined));
}

/** SPEC §9 v3: the first entry an LDAP / Graph source resolves `principal` to; 'unknown' when one cannot be asked. */
export async function personOf(sources: readonly CachedSource[], principal: string): Promise<PersonKey> {
  const answers = await personsOf(sources, principal);
  if (answers.includes(false)) return 'unknown';
  return answers.find((a) => typeof a === 'string') ?? null;
}

/** Pure: one person when some source resolved both to one entry; else 'unknown' if a source failed for either; else not. */
export function samePersonOf(a: readonly SourceAnswer[], b: readonly SourceAnswer[]): boolean | 'unknown' {
  if (a.some((x, i) => typeof x === 'string' && x === b[i])) return true;
  return a.includes(false) || b.includes(false) ? 'unknown' : false;
}

/** SPEC §9 v3 "One person, several names": compares persons, not strings. */
export async function samePerson(sources: readonly CachedSource[], a: string, b: string): Promise<boolean | 'unknown'> {
  const na = normalizePrincipal(a);
  const nb = normalizePrincipal(b);
  if (na === undefined || nb === undefined) return false;
  if (na === nb) return true;
  const [pa, pb] = await Promise.all([personsOf(sources, na), personsOf(sources, nb)]);
  return samePersonOf(pa, pb);
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
