/**
 * The configured remote sources (SPEC §9), built from the directory's settings as data:
 * each source (LDAP, Graph, HTTP, in that order) behind its own per-principal cache, plus
 * its catalogue listing when it has one. The PEM files the settings name are read here,
 * through `readText`, once per build.
 */
import { readFileSync } from 'node:fs';
import type { Clock } from '../clock.js';
import { cachedSource, type CachedSource, type CacheOptions } from './cache.js';
import type { RemoteList } from './catalogue.js';
import { graphSource, type GraphOptions } from './graph.js';
import { httpSource } from './http.js';
import { ldapSource, type LdapOptions } from './ldap.js';
import type { CacheSettings, DirectoryObserver, DirectorySettings, DirectorySource, GraphSettings, LdapSettings } from './types.js';

export type Warn = (message: string, fields: Record<string, string | number>) => void;

export interface SourceDeps {
  observer: DirectoryObserver;
  warn?: Warn;
  /** monotonic clock in ms of the caches */
  now?: () => number;
  /** wall clock (Graph token expiry, Retry-After dates); default systemClock */
  clock?: Clock;
  /** reads a file the settings name (CA, certificate, key); default: UTF-8 from disk */
  readText?: (path: string) => string;
}

export interface BuiltSources {
  sources: CachedSource[];
  remotes: RemoteList[];
}

const readUtf8 = (path: string): string => readFileSync(path, 'utf8');

/** The cache knobs of a source's settings, with the shared observer and clock. */
export function cacheOptions(c: CacheSettings, deps: Pick<SourceDeps, 'observer' | 'now'>): CacheOptions {
  return { ttlSec: c.ttlSec, staleSec: c.staleSec, maxEntries: c.maxEntries, timeoutMs: c.timeoutMs, observer: deps.observer, now: deps.now };
}

/** A catalogue listing: refreshed like the cache, with ten times a lookup's timeout. */
export function remoteList(source: DirectorySource, c: CacheSettings): RemoteList | undefined {
  if (!source.listGroups) return undefined;
  return { name: source.name, ttlSec: c.ttlSec, staleSec: c.staleSec, timeoutMs: c.timeoutMs * 10, list: (signal) => source.listGroups!(signal) };
}

export function ldapOptions(l: LdapSettings, readText: (path: string) => string = readUtf8, warn?: Warn): LdapOptions {
  return {
    urls: l.url,
    bindDN: l.bindDN,
    bindPassword: l.bindPassword,
    startTLS: l.startTLS,
    ca: l.tls.caFile ? readText(l.tls.caFile) : undefined,
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
    warn,
  };
}

export function graphOptions(g: GraphSettings, readText: (path: string) => string = readUtf8, clock?: Clock): GraphOptions {
  return {
    tenantId: g.tenantId,
    clientId: g.clientId,
    clientSecret: g.clientSecret,
    certificate: g.certificate ? { cert: readText(g.certificate.certFile), key: readText(g.certificate.keyFile) } : null,
    authorityHost: g.authorityHost,
    graphUrl: g.graphUrl,
    timeoutMs: g.timeoutMs,
    ca: g.tls.caFile ? readText(g.tls.caFile) : undefined,
    clock,
  };
}

/** The remote sources the settings configure, each made once (the same `DirectorySource` serves lookups and listing). */
export function remoteSources(
  settings: DirectorySettings,
  deps: Pick<SourceDeps, 'warn' | 'readText' | 'clock'> = {},
): Array<{ source: DirectorySource; settings: CacheSettings }> {
  const readText = deps.readText ?? readUtf8;
  const out: Array<{ source: DirectorySource; settings: CacheSettings }> = [];
  if (settings.ldap) out.push({ source: ldapSource(ldapOptions(settings.ldap, readText, deps.warn)), settings: settings.ldap });
  if (settings.graph) out.push({ source: graphSource(graphOptions(settings.graph, readText, deps.clock)), settings: settings.graph });
  if (settings.http) {
    const h = settings.http;
    out.push({ source: httpSource({ url: h.url, headers: h.headers, groupsUrl: h.groupsUrl }), settings: h });
  }
  return out;
}

/** Every configured source behind its cache, and the catalogue listings of those that list groups. */
export function buildSources(settings: DirectorySettings, deps: SourceDeps): BuiltSources {
  const sources: CachedSource[] = [];
  const remotes: RemoteList[] = [];
  for (const r of remoteSources(settings, deps)) {
    sources.push(cachedSource(r.source, cacheOptions(r.settings, deps)));
    const list = remoteList(r.source, r.settings);
    if (list) remotes.push(list);
  }
  return { sources, remotes };
}
