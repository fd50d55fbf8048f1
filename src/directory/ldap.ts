/**
 * Membership from Active Directory / OpenLDAP (SPEC §9 `directory.ldap`), with ldapts.
 *
 * - One bound connection is reused by every lookup (LDAP multiplexes requests by message
 *   id): ldapConnection.ts (lazy open, failover over the URLs, no silent reconnects).
 * - A user is found by `userFilter` under `userBaseDN` ({principal}/{local} escaped per
 *   RFC 4515, ldapFilter.ts). No entry: no groups. Two or more entries: the lookup fails
 *   (ambiguous: fail closed).
 * - Groups: the user's `memberOfAttribute` values, each read (base scope, `groupFilter`)
 *   for its id; or, with `memberOfAttribute: null` or a user entry that carries no
 *   memberOfAttribute value at all (a server without the memberof overlay), the groups
 *   under `groupBaseDN` whose `memberAttribute` holds the user's DN. With `nested`, the same step from the groups
 *   found, breadth first, until nothing new appears (a visited set makes cycles harmless);
 *   more than `maxGroups` groups fails the lookup instead of running on.
 * - A group's id is its `groupIdAttribute` (guid.ts); a malformed or missing value is
 *   skipped with a warning that names the attribute only.
 * Errors never carry directory data: DirectoryError messages are fixed texts.
 */
import { ResultCodeError, NoSuchObjectError, type Client, type Entry } from 'ldapts';
import { groupIdFrom } from './guid.js';
import { LdapConnection, type LdapConnectionOptions } from './ldapConnection.js';
import { idFilterValue, memberFilter, userFilterFor } from './ldapFilter.js';
import { DirectoryError, type CatalogueEntry, type DirectorySource, type LdapSearchSettings, type UserAnswer } from './types.js';

export interface LdapOptions extends LdapConnectionOptions, LdapSearchSettings {
  /** a user in more groups than this (nested included) fails the lookup (default 10000) */
  maxGroups?: number;
  /** the catalogue listing may take this long (default 10 × timeoutMs) */
  listTimeoutMs?: number;
  /** warnings without directory data (malformed ids) */
  warn?: (message: string, fields: Record<string, string | number>) => void;
}

/** What the searches need: the options, the shared connection's `run`, the group bound and the warning sink. */
export interface LdapSearch {
  opts: LdapOptions;
  run: <T>(signal: AbortSignal, op: (c: Client) => Promise<T>) => Promise<T>;
  maxGroups: number;
  warn: (message: string, fields: Record<string, string | number>) => void;
}

const DN_CHUNK = 32;
const READ_CONCURRENCY = 16;
const PAGE_SIZE = 1000;

/** Case-insensitive attribute read; always a list. */
export function values(entry: Entry, attribute: string): Array<Buffer | string> {
  const want = attribute.toLowerCase();
  for (const key of Object.keys(entry)) {
    if (key.toLowerCase() !== want || key === 'dn') continue;
    const v = entry[key];
    return Array.isArray(v) ? v : [v];
  }
  return [];
}

/** DNs compare case-insensitively and without blanks around separators (good enough for a visited set). */
export function dnKey(dn: string): string {
  return dn
    .toLowerCase()
    .replace(/\s*([,=+])\s*/g, '$1')
    .trim();
}

export async function inChunks<T, R>(items: readonly T[], size: number, fn: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await fn(items.slice(i, i + size))));
  return out;
}

export function ldapSource(opts: LdapOptions): DirectorySource {
  if (opts.urls.length === 0) throw new TypeError('ldap: at least one url');
  const connection = new LdapConnection(opts);
  const search: LdapSearch = {
    opts,
    run: (signal, op) => connection.run(signal, op),
    maxGroups: opts.maxGroups ?? 10_000,
    warn: opts.warn ?? (() => {}),
  };
  return {
    name: 'ldap',
    knowsUsers: true,
    lookup: (principal, signal) => lookupUser(search, principal, signal),
    person: async (principal, signal) => {
      const user = await findUser(search, principal, signal);
      return user === undefined ? null : dnKey(user.dn);
    },
    members: (groupId, limit, signal) => groupMembers(search, groupId, limit, signal),
    listGroups: (signal) => listGroups(search, signal),
    close: () => connection.close(),
  };
}

/** Any failure as a DirectoryError with a fixed message (an LDAP result code at most). */
export function fail(err: unknown): never {
  if (err instanceof DirectoryError) throw err;
  if (err instanceof ResultCodeError) throw new DirectoryError(`LDAP error ${err.code}`);
  throw new DirectoryError('LDAP operation failed');
}

/** A group's id from groupIdAttribute; a missing or malformed value warns (the attribute name only) and is skipped. */
export function idOf(s: Pick<LdapSearch, 'opts' | 'warn'>, entry: Entry): string | undefined {
  const attribute = s.opts.groupIdAttribute;
  const vs = values(entry, attribute);
  const id = vs.length === 1 ? groupIdFrom(attribute, vs[0]) : undefined;
  if (id === undefined) s.warn('ldap: a group without a well-formed id value was skipped', { attribute, values: vs.length });
  return id;
}

/** The attributes read from a group: its id, and its memberOf when nested groups are followed that way. */
export function groupAttributes(o: Pick<LdapOptions, 'groupIdAttribute' | 'memberOfAttribute' | 'nested'>): string[] {
  return [o.groupIdAttribute, ...(o.memberOfAttribute && o.nested ? [o.memberOfAttribute] : [])];
}

/** memberOf mode: read the groups at these DNs (those matching groupFilter). */
async function readGroups(s: LdapSearch, signal: AbortSignal, dns: readonly string[]): Promise<Entry[]> {
  const options = {
    scope: 'base' as const,
    filter: s.opts.groupFilter,
    attributes: groupAttributes(s.opts),
    explicitBufferAttributes: [s.opts.groupIdAttribute],
    sizeLimit: 1,
  };
  const readOne = (dn: string): Promise<Entry[]> =>
    s
      .run(signal, (c) => c.search(dn, { ...options }))
      .then((r) => r.searchEntries)
      .catch((err: unknown) => {
        if (err instanceof NoSuchObjectError) return []; // a dangling memberOf value
        return fail(err);
      });
  return inChunks(dns, READ_CONCURRENCY, (chunk) => Promise.all(chunk.map(readOne)).then((lists) => lists.flat()));
}

/** search mode: the groups under groupBaseDN whose memberAttribute holds one of these DNs. */
async function searchGroups(s: LdapSearch, signal: AbortSignal, dns: readonly string[]): Promise<Entry[]> {
  const o = s.opts;
  return inChunks(dns, DN_CHUNK, async (chunk) => {
    const r = await s
      .run(signal, (c) =>
        c.search(o.groupBaseDN, {
          scope: 'sub',
          filter: memberFilter(o.groupFilter, o.memberAttribute, chunk),
          attributes: [o.groupIdAttribute],
          explicitBufferAttributes: [o.groupIdAttribute],
          sizeLimit: s.maxGroups + 1,
        }),
      )
      .catch(fail);
    return r.searchEntries;
  });
}

/** The one entry userFilter finds under userBaseDN; undefined when none; two or more fail (ambiguous: fail closed). */
async function findUser(s: LdapSearch, principal: string, signal: AbortSignal): Promise<Entry | undefined> {
  const o = s.opts;
  const users = await s
    .run(signal, (c) =>
      c.search(o.userBaseDN, {
        scope: 'sub',
        filter: userFilterFor(o.userFilter, principal),
        attributes: o.memberOfAttribute ? [o.memberOfAttribute] : ['objectClass'],
        sizeLimit: 2,
      }),
    )
    .catch(fail);
  const found = users.searchEntries;
  if (found.length > 1) throw new DirectoryError('userFilter matches more than one entry');
  return found[0];
}

/**
 * The DNs not seen before, marked seen. More than `maxGroups` groups (the user's own DN is
 * the first visited) fails: a visited set makes cycles harmless, the bound makes size finite.
 */
export function visitor(firstDn: string, maxGroups: number): (dns: Iterable<string>) => string[] {
  const visited = new Set<string>([dnKey(firstDn)]);
  return (dns) => {
    const out: string[] = [];
    for (const dn of dns) {
      const k = dnKey(dn);
      if (visited.has(k)) continue;
      visited.add(k);
      out.push(dn);
    }
    if (visited.size > maxGroups + 1) throw new DirectoryError(`more than ${maxGroups} groups`);
    return out;
  };
}

/**
 * How a user's groups are found: through its memberOfAttribute values, or (null) by searching
 * the groups whose memberAttribute holds its DN. A user entry with no memberOfAttribute value
 * at all is searched for too: on a server that does not maintain memberOf (OpenLDAP without
 * the memberof overlay) every user would otherwise look group-less, so nobody private (SPEC §9).
 */
export function membershipAttribute(configured: string | null, user: Entry): string | null {
  return configured !== null && values(user, configured).length > 0 ? configured : null;
}

/** The user's group ids: one step (memberOf reads or member searches), then, with `nested`, breadth first until nothing new. */
async function groupsOf(s: LdapSearch, user: Entry, signal: AbortSignal): Promise<Set<string>> {
  const memberOf = membershipAttribute(s.opts.memberOfAttribute, user);
  const groups = new Set<string>();
  const fresh = visitor(user.dn, s.maxGroups);
  const dnsOf = (e: Entry) => (memberOf ? values(e, memberOf).map(String) : []);
  let frontier = memberOf ? fresh(dnsOf(user)) : [user.dn];
  while (frontier.length > 0) {
    const entries = memberOf ? await readGroups(s, signal, frontier) : await searchGroups(s, signal, frontier);
    const next: string[] = [];
    for (const e of entries) {
      const id = idOf(s, e);
      if (id !== undefined) groups.add(id);
      if (!s.opts.nested) continue;
      if (memberOf) next.push(...dnsOf(e));
      else next.push(e.dn);
    }
    if (!s.opts.nested) break;
    frontier = fresh(next);
  }
  return groups;
}

async function lookupUser(s: LdapSearch, principal: string, signal: AbortSignal): Promise<UserAnswer> {
  const user = await findUser(s, principal, signal);
  if (user === undefined) return { exists: false, groups: new Set() };
  return { exists: true, groups: await groupsOf(s, user, signal) };
}

/** A catalogue entry of a group entry: its id and name (the id when the name is missing or empty). */
export function catalogueEntry(s: Pick<LdapSearch, 'opts' | 'warn'>, e: Entry): CatalogueEntry | undefined {
  const id = idOf(s, e);
  if (id === undefined) return undefined;
  const name = values(e, s.opts.groupNameAttribute)[0];
  return { id, name: name === undefined || String(name) === '' ? id : String(name) };
}

/** Every group under groupBaseDN matching groupFilter, page by page (a retried run starts over). */
async function listGroups(s: LdapSearch, signal: AbortSignal): Promise<CatalogueEntry[]> {
  const o = s.opts;
  const out: CatalogueEntry[] = [];
  await s
    .run(signal, async (c) => {
      out.length = 0;
      for await (const page of c.searchPaginated(o.groupBaseDN, {
        scope: 'sub',
        filter: o.groupFilter,
        attributes: [o.groupIdAttribute, o.groupNameAttribute],
        explicitBufferAttributes: [o.groupIdAttribute],
        paged: { pageSize: PAGE_SIZE },
      })) {
        for (const e of page.searchEntries) {
          const entry = catalogueEntry(s, e);
          if (entry) out.push(entry);
        }
      }
    })
    .catch(fail);
  return out;
}

/** Attributes that name a member as a principal, in order (SPEC §9 "Checking the directory"). */
export const MEMBER_PRINCIPAL_ATTRIBUTES = ['mail', 'userPrincipalName'] as const;
/** A member check reads at most this many entries per wanted principal (groups inside groups, services). */
const READS_PER_MEMBER = 5;

/** The group entry with this id under groupBaseDN (matching groupFilter); undefined when none. */
async function groupById(s: LdapSearch, groupId: string, signal: AbortSignal): Promise<Entry | undefined> {
  const o = s.opts;
  const value = idFilterValue(o.groupIdAttribute, groupId);
  if (value === undefined) return undefined;
  const r = await s
    .run(signal, (c) =>
      c.search(o.groupBaseDN, { scope: 'sub', filter: `(&${o.groupFilter}(${o.groupIdAttribute}=${value}))`, attributes: [o.memberAttribute], sizeLimit: 2 }),
    )
    .catch(fail);
  if (r.searchEntries.length > 1) throw new DirectoryError('more than one group has this id');
  return r.searchEntries[0];
}

/** One member entry: its principal (the first of mail, userPrincipalName), and its own members (a group inside). */
async function readMember(s: LdapSearch, dn: string, signal: AbortSignal): Promise<{ principal?: string; members: string[] }> {
  const o = s.opts;
  const r = await s
    .run(signal, (c) =>
      c.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: [...MEMBER_PRINCIPAL_ATTRIBUTES, o.memberAttribute], sizeLimit: 1 }),
    )
    .catch((err: unknown) => (err instanceof NoSuchObjectError ? undefined : fail(err)));
  const e = r?.searchEntries[0];
  if (!e) return { members: [] };
  const principal = MEMBER_PRINCIPAL_ATTRIBUTES.map((a) => values(e, a)[0]).find((v) => v !== undefined && String(v) !== '');
  return { principal: principal === undefined ? undefined : String(principal), members: values(e, o.memberAttribute).map(String) };
}

/**
 * Up to `limit` principals of the group's members (memberAttribute), breadth first; with
 * `nested`, the members of a member that has no principal (a group inside) count too.
 */
async function groupMembers(s: LdapSearch, groupId: string, limit: number, signal: AbortSignal): Promise<string[] | 'not_listed'> {
  const group = await groupById(s, groupId, signal);
  if (group === undefined) return 'not_listed';
  const fresh = visitor(group.dn, s.maxGroups);
  const queue = fresh(values(group, s.opts.memberAttribute).map(String));
  const out: string[] = [];
  for (let reads = 0; queue.length > 0 && out.length < limit && reads < limit * READS_PER_MEMBER; reads++) {
    const m = await readMember(s, queue.shift()!, signal);
    if (m.principal !== undefined) out.push(m.principal);
    else if (s.opts.nested) queue.push(...fresh(m.members));
  }
  return out;
}
