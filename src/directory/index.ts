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
import { readFileSync } from 'node:fs';
import type { DirectoryConfig, GatewayConfig } from '../config/index.js';
import { IncompleteGroups } from '../privacy/membership.js';
import type { Membership, MembershipSource } from '../privacy/types.js';
import { cachedSource, type CachedSource } from './cache.js';
import { Catalogue, type RemoteList } from './catalogue.js';
import { graphSource } from './graph.js';
import { httpSource } from './http.js';
import { ldapSource } from './ldap.js';
import { NO_OBSERVER, type DirectoryObserver } from './types.js';

export interface DirectoryDeps {
  observer?: DirectoryObserver;
  warn?: (message: string, fields: Record<string, string | number>) => void;
  /** privacy.groups and state names by id, for the catalogue */
  localNames?: () => ReadonlyMap<string, string>;
  /** monotonic clock in ms (tests) */
  now?: () => number;
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

export function createDirectory(config: DirectoryConfig, deps: DirectoryDeps = {}): Directory {
  const observer = deps.observer ?? NO_OBSERVER;
  const sources: CachedSource[] = [];
  const remotes: RemoteList[] = [];
  const cacheOf = (c: { ttlSec: number; staleSec: number; maxEntries: number; timeoutMs: number }) => ({
    ttlSec: c.ttlSec,
    staleSec: c.staleSec,
    maxEntries: c.maxEntries,
    timeoutMs: c.timeoutMs,
    observer,
    now: deps.now,
  });
  const listOf = (c: { ttlSec: number; staleSec: number; timeoutMs: number }) => ({ ttlSec: c.ttlSec, staleSec: c.staleSec, timeoutMs: c.timeoutMs * 10 });

  if (config.ldap) {
    const l = config.ldap;
    const src = ldapSource({
      urls: l.url,
      bindDN: l.bindDN,
      bindPassword: l.bindPassword,
      startTLS: l.startTLS,
      ca: l.tls.caFile ? readFileSync(l.tls.caFile, 'utf8') : undefined,
      rejectUnauthorized: l.tls.rejectUnauthorized,
      userBaseDN: l.userBaseDN,
      userFilter: l.userFilter,
      groupBaseDN: l.groupBaseDN,
      groupFilter: l.groupFilter,
      groupIdAttribute: l.groupIdAttribute,
      groupNameAttribute: l.groupNameAttribute,
      memberAttribute: l.memberAttribute,
      memberOfAttribute: l.memberOfAttribute,
      nested: l.nested,
      timeoutMs: l.timeoutMs,
      warn: deps.warn,
    });
    sources.push(cachedSource(src, cacheOf(l)));
    remotes.push({ name: 'ldap', ...listOf(l), list: (signal) => src.listGroups!(signal) });
  }
  if (config.graph) {
    const g = config.graph;
    const src = graphSource({
      tenantId: g.tenantId,
      clientId: g.clientId,
      clientSecret: g.clientSecret,
      certificate: g.certificate ? { cert: readFileSync(g.certificate.certFile, 'utf8'), key: readFileSync(g.certificate.keyFile, 'utf8') } : null,
      authorityHost: g.authorityHost,
      graphUrl: g.graphUrl,
      timeoutMs: g.timeoutMs,
      ca: g.tls.caFile ? readFileSync(g.tls.caFile, 'utf8') : undefined,
    });
    sources.push(cachedSource(src, cacheOf(g)));
    remotes.push({ name: 'graph', ...listOf(g), list: (signal) => src.listGroups!(signal) });
  }
  if (config.http) {
    const h = config.http;
    const src = httpSource({ url: h.url, headers: h.headers, groupsUrl: h.groupsUrl });
    sources.push(cachedSource(src, cacheOf(h)));
    const list = src.listGroups;
    if (list) remotes.push({ name: 'http', ...listOf(h), list });
  }

  const catalogue = new Catalogue({
    staticIds: Object.keys(config.groups ?? {}),
    known: config.knownGroups ?? [],
    localNames: deps.localNames ?? (() => new Map()),
    remotes,
    now: deps.now,
    observer,
  });

  return {
    sources,
    catalogue,
    async prefetch(principals) {
      if (sources.length === 0) return () => NONE;
      const parts = await Promise.all(sources.map((s) => s.prefetch(principals)));
      return unionOf(parts);
    },
    async user(principal) {
      const answers = await Promise.all(sources.map((s) => s.resolve(principal)));
      const groups = new Set<string>();
      let failed = false;
      let exists = false;
      answers.forEach((a, i) => {
        if (a === 'failed') {
          failed = true;
          return;
        }
        if (sources[i].source.knowsUsers && a.exists === true) exists = true;
        for (const g of a.groups) groups.add(g);
      });
      return { failed, checkable: sources.some((s) => s.source.knowsUsers), exists, groups };
    },
    close() {
      for (const s of sources) s.close();
    },
  };
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

/** privacy.groups names, overridden by the state's latest name per id. */
export function localGroupNames(config: GatewayConfig, stateGroups: ReadonlyArray<{ id: string; name?: string }>): Map<string, string> {
  const m = new Map<string, string>();
  for (const g of config.privacy.groups) if (g.name) m.set(g.id, g.name);
  for (const g of stateGroups) if (g.name && g.name !== g.id) m.set(g.id, g.name);
  return m;
}
