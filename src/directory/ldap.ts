/**
 * Membership from Active Directory / OpenLDAP (SPEC §9 `directory.ldap`), with ldapts.
 *
 * - One bound connection is reused by every lookup (LDAP multiplexes requests by message
 *   id). It is opened lazily against the first URL of the list that connects, upgrades
 *   (StartTLS) and binds; a connection that fails is dropped and the next lookup opens a
 *   new one, trying the URLs in order again (failover). A dropped connection is never
 *   reopened behind our back: ldapts would reconnect without StartTLS and unbound, so the
 *   socket factories refuse a second connection per client.
 * - A user is found by `userFilter` under `userBaseDN` ({principal}/{local} escaped per
 *   RFC 4515, ldapFilter.ts). No entry: no groups. Two or more entries: the lookup fails
 *   (ambiguous: fail closed).
 * - Groups: the user's `memberOfAttribute` values, each read (base scope, `groupFilter`)
 *   for its id; or, with `memberOfAttribute: null`, the groups under `groupBaseDN` whose
 *   `memberAttribute` holds the user's DN. With `nested`, the same step from the groups
 *   found, breadth first, until nothing new appears (a visited set makes cycles harmless);
 *   more than `maxGroups` groups fails the lookup instead of running on.
 * - A group's id is its `groupIdAttribute` (guid.ts); a malformed or missing value is
 *   skipped with a warning that names the attribute only.
 * Errors never carry directory data: DirectoryError messages are fixed texts.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Client, ResultCodeError, NoSuchObjectError, type Entry } from 'ldapts';
import { abortable } from './deadline.js';
import { groupIdFrom } from './guid.js';
import { memberFilter, userFilterFor } from './ldapFilter.js';
import { DirectoryError, type CatalogueEntry, type DirectorySource, type UserAnswer } from './types.js';

export interface LdapOptions {
  /** tried in order */
  urls: readonly string[];
  bindDN: string | null;
  bindPassword: string | null;
  startTLS: boolean;
  /** PEM of the CA(s) to trust (tls.caFile read by the caller); undefined = Node's default CAs */
  ca?: string;
  rejectUnauthorized: boolean;
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
  timeoutMs: number;
  /** a user in more groups than this (nested included) fails the lookup (default 10000) */
  maxGroups?: number;
  /** the catalogue listing may take this long (default 10 × timeoutMs) */
  listTimeoutMs?: number;
  /** warnings without directory data (malformed ids) */
  warn?: (message: string, fields: Record<string, string | number>) => void;
}

const DN_CHUNK = 32;
const READ_CONCURRENCY = 16;
const PAGE_SIZE = 1000;

/** Case-insensitive attribute read; always a list. */
function values(entry: Entry, attribute: string): Array<Buffer | string> {
  const want = attribute.toLowerCase();
  for (const key of Object.keys(entry)) {
    if (key.toLowerCase() !== want || key === 'dn') continue;
    const v = entry[key];
    return Array.isArray(v) ? v : [v];
  }
  return [];
}

/** DNs compare case-insensitively and without blanks around separators (good enough for a visited set). */
function dnKey(dn: string): string {
  return dn
    .toLowerCase()
    .replace(/\s*([,=+])\s*/g, '$1')
    .trim();
}

async function inChunks<T, R>(items: readonly T[], size: number, fn: (chunk: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await fn(items.slice(i, i + size))));
  return out;
}

export function ldapSource(opts: LdapOptions): DirectorySource {
  if (opts.urls.length === 0) throw new TypeError('ldap: at least one url');
  const maxGroups = opts.maxGroups ?? 10_000;
  const warn = opts.warn ?? (() => {});
  const tlsBase: tls.ConnectionOptions = { rejectUnauthorized: opts.rejectUnauthorized, ...(opts.ca ? { ca: opts.ca } : {}) };
  const connectTimeout = Math.max(200, Math.floor(opts.timeoutMs / opts.urls.length));
  let current: Promise<Client> | null = null;
  let closed = false;

  /** A client that may connect exactly once (no silent, unencrypted, unbound reconnects). */
  function newClient(url: string): Client {
    const u = new URL(url);
    let opened = 0;
    const guard = () => {
      if (opened++ > 0) throw new DirectoryError('connection lost');
    };
    return new Client({
      url,
      timeout: opts.timeoutMs,
      connectTimeout,
      strictDN: false,
      // ldapts treats any tlsOptions as "connect with TLS": only for ldaps:// URLs
      ...(u.protocol === 'ldaps:' ? { tlsOptions: { ...tlsBase, servername: net.isIP(u.hostname) ? undefined : u.hostname } } : {}),
      createConnection: ((port: number, host: string) => {
        guard();
        return net.connect(port, host);
      }) as typeof net.connect,
      createSecureConnection: (...args: unknown[]) => {
        // ldaps:// (port, host, options) or the StartTLS upgrade (options with the socket)
        if (typeof args[0] === 'number') {
          guard();
          return tls.connect(args[0], String(args[1]), args[2] as tls.ConnectionOptions);
        }
        return tls.connect(args[0] as tls.ConnectionOptions);
      },
    });
  }

  async function open(): Promise<Client> {
    for (const url of opts.urls) {
      if (closed) break;
      const client = newClient(url);
      try {
        if (opts.startTLS) {
          const host = new URL(url).hostname;
          await client.startTLS({ ...tlsBase, host, servername: net.isIP(host) ? undefined : host });
        }
        if (opts.bindDN !== null) {
          await client.bind(opts.bindDN, opts.bindPassword ?? '');
        } else {
          // anonymous: connect now with a "Who am I?" (a server that refuses the operation still answered)
          await client.exop('1.3.6.1.4.1.4203.1.11.3').catch((err: unknown) => {
            if (!(err instanceof ResultCodeError)) throw err;
          });
        }
        if (!client.isConnected) throw new DirectoryError('connection lost');
        return client;
      } catch {
        await client.unbind().catch(() => undefined);
      }
    }
    throw new DirectoryError('no LDAP server could be reached and bound');
  }

  async function client(signal: AbortSignal): Promise<Client> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (closed) throw new DirectoryError('closed');
      const p = (current ??= open());
      let c: Client;
      try {
        c = await abortable(p, signal);
      } catch (err) {
        if (current === p) current = null;
        throw err;
      }
      if (c.isConnected && (opts.bindDN === null || c.isBound)) return c;
      // the shared connection went away since it was opened: open a new one (once)
      if (current === p) current = null;
      void c.unbind().catch(() => undefined);
    }
    throw new DirectoryError('connection lost');
  }

  function drop(c: Client): void {
    if (current !== null) {
      void current.then(
        (cur) => {
          if (cur === c) current = null;
        },
        () => undefined,
      );
    }
    void c.unbind().catch(() => undefined);
  }

  /** Runs one operation; a transport failure drops the connection and is retried once on a new one. */
  async function run<T>(signal: AbortSignal, op: (c: Client) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await client(signal);
      try {
        return await abortable(op(c), signal);
      } catch (err) {
        if (err instanceof ResultCodeError) throw err; // the server answered; the connection is fine
        drop(c);
        if (attempt >= 1 || signal.aborted || closed) throw err instanceof DirectoryError ? err : new DirectoryError('LDAP operation failed');
      }
    }
  }

  const fail = (err: unknown): never => {
    if (err instanceof DirectoryError) throw err;
    if (err instanceof ResultCodeError) throw new DirectoryError(`LDAP error ${err.code}`);
    throw new DirectoryError('LDAP operation failed');
  };

  function idOf(entry: Entry): string | undefined {
    const vs = values(entry, opts.groupIdAttribute);
    const id = vs.length === 1 ? groupIdFrom(opts.groupIdAttribute, vs[0]) : undefined;
    if (id === undefined) warn('ldap: a group without a well-formed id value was skipped', { attribute: opts.groupIdAttribute, values: vs.length });
    return id;
  }

  const groupAttrs = [opts.groupIdAttribute, ...(opts.memberOfAttribute && opts.nested ? [opts.memberOfAttribute] : [])];
  const buffers = [opts.groupIdAttribute];

  /** memberOf mode: read the groups at these DNs (those matching groupFilter). */
  async function readGroups(signal: AbortSignal, dns: readonly string[]): Promise<Entry[]> {
    return inChunks(dns, READ_CONCURRENCY, (chunk) =>
      Promise.all(
        chunk.map((dn) =>
          run(signal, (c) => c.search(dn, { scope: 'base', filter: opts.groupFilter, attributes: groupAttrs, explicitBufferAttributes: buffers, sizeLimit: 1 }))
            .then((r) => r.searchEntries)
            .catch((err: unknown) => {
              if (err instanceof NoSuchObjectError) return []; // a dangling memberOf value
              return fail(err);
            }),
        ),
      ).then((lists) => lists.flat()),
    );
  }

  /** search mode: the groups under groupBaseDN whose memberAttribute holds one of these DNs. */
  async function searchGroups(signal: AbortSignal, dns: readonly string[]): Promise<Entry[]> {
    return inChunks(dns, DN_CHUNK, async (chunk) => {
      const r = await run(signal, (c) =>
        c.search(opts.groupBaseDN, {
          scope: 'sub',
          filter: memberFilter(opts.groupFilter, opts.memberAttribute, chunk),
          attributes: [opts.groupIdAttribute],
          explicitBufferAttributes: buffers,
          sizeLimit: maxGroups + 1,
        }),
      ).catch(fail);
      return r.searchEntries;
    });
  }

  async function lookup(principal: string, signal: AbortSignal): Promise<UserAnswer> {
    const users = await run(signal, (c) =>
      c.search(opts.userBaseDN, {
        scope: 'sub',
        filter: userFilterFor(opts.userFilter, principal),
        attributes: opts.memberOfAttribute ? [opts.memberOfAttribute] : ['objectClass'],
        sizeLimit: 2,
      }),
    ).catch(fail);
    const found = users.searchEntries;
    if (found.length === 0) return { exists: false, groups: new Set() };
    if (found.length > 1) throw new DirectoryError('userFilter matches more than one entry');
    const user = found[0];

    const groups = new Set<string>();
    const visited = new Set<string>([dnKey(user.dn)]);
    const fresh = (dns: Iterable<string>): string[] => {
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
    const dnsOf = (e: Entry) => (opts.memberOfAttribute ? values(e, opts.memberOfAttribute).map(String) : []);

    let frontier = opts.memberOfAttribute ? fresh(dnsOf(user)) : [user.dn];
    while (frontier.length > 0) {
      const entries = opts.memberOfAttribute ? await readGroups(signal, frontier) : await searchGroups(signal, frontier);
      const next: string[] = [];
      for (const e of entries) {
        const id = idOf(e);
        if (id !== undefined) groups.add(id);
        if (!opts.nested) continue;
        if (opts.memberOfAttribute) next.push(...dnsOf(e));
        else next.push(e.dn);
      }
      if (!opts.nested) break;
      frontier = fresh(next);
    }
    return { exists: true, groups };
  }

  return {
    name: 'ldap',
    knowsUsers: true,
    lookup,
    async listGroups(signal) {
      const out: CatalogueEntry[] = [];
      await run(signal, async (c) => {
        out.length = 0;
        for await (const page of c.searchPaginated(opts.groupBaseDN, {
          scope: 'sub',
          filter: opts.groupFilter,
          attributes: [opts.groupIdAttribute, opts.groupNameAttribute],
          explicitBufferAttributes: buffers,
          paged: { pageSize: PAGE_SIZE },
        })) {
          for (const e of page.searchEntries) {
            const id = idOf(e);
            if (id === undefined) continue;
            const name = values(e, opts.groupNameAttribute)[0];
            out.push({ id, name: name === undefined || String(name) === '' ? id : String(name) });
          }
        }
      }).catch(fail);
      return out;
    },
    close() {
      closed = true;
      const p = current;
      current = null;
      void p
        ?.then(
          (c) => c.unbind(),
          () => undefined,
        )
        .catch(() => undefined);
    },
  };
}
