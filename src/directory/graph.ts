/**
 * Membership from Microsoft Entra ID through Microsoft Graph (SPEC §9 `directory.graph`).
 *
 * - An app-only token (graphToken.ts: client credentials with a secret or a certificate,
 *   reused until shortly before it expires); a 401 from Graph drops it and the call is
 *   retried once.
 * - A user's groups: `GET {graphUrl}/users/{principal}/transitiveMemberOf/microsoft.graph.group
 *   ?$select=id,displayName`, following every `@odata.nextLink` (same origin as graphUrl,
 *   or the lookup fails); 404 = the user does not exist: no groups. A principal without `@`
 *   is not a Graph user name: no groups, not asked. A principal beginning with `$` is
 *   addressed as `/users('{principal}')` (userUrl).
 * - 429 and 503 are retried after Retry-After (1 s when absent) while the deadline allows.
 * - Anything not shaped like Graph's JSON fails the lookup (withhold).
 * Nothing here logs; errors carry no directory data.
 */
import { clockOf, type Clock } from '../clock.js';
import { sleep } from './deadline.js';
import { GraphTokens, signerOf, type Call } from './graphToken.js';
import { httpsClient, retryAfterMs, type HttpsClient, type HttpsResponse } from './https.js';
import { DirectoryError, type CatalogueEntry, type DirectorySource, type UserAnswer } from './types.js';

export interface GraphOptions {
  tenantId: string;
  clientId: string;
  /** one of clientSecret / certificate */
  clientSecret?: string | null;
  /** PEM texts (read by the caller from certFile / keyFile) */
  certificate?: { cert: string; key: string } | null;
  authorityHost: string;
  graphUrl: string;
  timeoutMs: number;
  /** extra CA (PEM) to trust for the authority and Graph */
  ca?: string;
  /** the catalogue listing may take this long (default 10 × timeoutMs) */
  listTimeoutMs?: number;
  /** wall clock, for token expiry and Retry-After dates; default systemClock */
  clock?: Clock;
  /** the older shape of `clock`: wall clock in ms */
  now?: () => number;
}

const DEFAULT_RETRY_MS = 1000;
const MAX_PAGES = 10_000;

function trimSlash(u: string): string {
  return u.replace(/\/+$/, '');
}

/** One page of a Graph collection: its groups and the next page's URL (same origin only). */
export interface GraphPage {
  entries: CatalogueEntry[];
  next: string | undefined;
}

export function graphSource(opts: GraphOptions, client: HttpsClient = httpsClient({ ca: opts.ca })): DirectorySource {
  if (!opts.clientSecret === !opts.certificate) throw new TypeError('graph: exactly one of clientSecret / certificate');
  const clock = opts.clock ?? clockOf(opts.now);
  const graphUrl = trimSlash(opts.graphUrl);
  const graphOrigin = new URL(graphUrl).origin;
  const call = throttledCall(client, clock);
  const tokens = new GraphTokens(
    {
      clientId: opts.clientId,
      tokenUrl: `${trimSlash(opts.authorityHost)}/${encodeURIComponent(opts.tenantId)}/oauth2/v2.0/token`,
      scope: `${graphOrigin}/.default`,
      clientSecret: opts.clientSecret,
      signer: opts.certificate ? signerOf(opts.certificate) : undefined,
    },
    call,
    clock,
  );
  const get = (url: string, signal: AbortSignal, deadline: number) => graphGet(tokens, call, url, signal, deadline);
  const collectFrom = (url: string, signal: AbortSignal, deadline: number) => collect(get, graphOrigin, url, signal, deadline);
  const listDeadline = () => performance.now() + (opts.listTimeoutMs ?? opts.timeoutMs * 10);
  return {
    name: 'graph',
    knowsUsers: true,
    lookup: (principal, signal) => lookupUser({ collectFrom, get }, graphUrl, principal, signal, performance.now() + opts.timeoutMs),
    person: (principal, signal) => personOf(get, graphUrl, principal, signal, performance.now() + opts.timeoutMs),
    members: (groupId, limit, signal) => groupMembers({ get, graphUrl, graphOrigin }, groupId, limit, signal, listDeadline()),
    listGroups: (signal) => listGroups(collectFrom, graphUrl, signal, listDeadline()),
    close() {
      client.close();
    },
  };
}

/** HTTPS calls with the 429/503 Retry-After loop (1 s when absent) inside the deadline (performance.now() ms). */
export function throttledCall(client: HttpsClient, clock: Clock): Call {
  return async (url, init, signal, deadline) => {
    for (;;) {
      const res = await client.request(url, { ...init, signal });
      if (res.status !== 429 && res.status !== 503) return res;
      const wait = retryAfterMs(res.headers['retry-after'], clock.now()) ?? DEFAULT_RETRY_MS;
      if (performance.now() + wait >= deadline) throw new DirectoryError(`throttled (${res.status}) beyond the timeout`);
      await sleep(wait, signal);
    }
  };
}

/** GET with the token; a 401 renews the token once. */
async function graphGet(tokens: GraphTokens, call: Call, url: string, signal: AbortSignal, deadline: number): Promise<HttpsResponse> {
  for (let attempt = 0; ; attempt++) {
    const t = await tokens.get(signal, deadline);
    const res = await call(url, { headers: { authorization: `Bearer ${t}` } }, signal, deadline);
    if (res.status !== 401 || attempt > 0) return res;
    tokens.refused(t);
  }
}

type Get = (url: string, signal: AbortSignal, deadline: number) => Promise<HttpsResponse>;
type Collect = (url: string, signal: AbortSignal, deadline: number) => Promise<CatalogueEntry[] | 'not_found'>;

/** All pages of a Graph collection; a 404 on the first page is 'not_found'. */
async function collect(get: Get, graphOrigin: string, url: string, signal: AbortSignal, deadline: number): Promise<CatalogueEntry[] | 'not_found'> {
  const out: CatalogueEntry[] = [];
  let next: string | undefined = url;
  for (let page = 0; next !== undefined; page++) {
    if (page >= MAX_PAGES) throw new DirectoryError('too many pages');
    const res = await get(next, signal, deadline);
    if (res.status === 404 && page === 0) return 'not_found';
    if (res.status !== 200) throw new DirectoryError(`Graph answered ${res.status}`);
    const p = parsePage(res.body, graphOrigin);
    out.push(...p.entries);
    next = p.next;
  }
  return out;
}

/** Pure: one page of `{value: [{id, displayName}], @odata.nextLink}`; anything else fails (withhold). */
export function parsePage(body: string, graphOrigin: string): GraphPage {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new DirectoryError('Graph answer is not JSON');
  }
  if (typeof v !== 'object' || v === null || !Array.isArray((v as { value?: unknown }).value)) throw new DirectoryError('Graph answer has no value array');
  const entries: CatalogueEntry[] = [];
  for (const g of (v as { value: unknown[] }).value) {
    if (typeof g !== 'object' || g === null) throw new DirectoryError('Graph answer: not an object in value');
    const { id, displayName } = g as Record<string, unknown>;
    if (typeof id !== 'string' || id === '') throw new DirectoryError('Graph answer: a group without id');
    entries.push({ id, name: typeof displayName === 'string' && displayName !== '' ? displayName : id });
  }
  return { entries, next: nextLink((v as Record<string, unknown>)['@odata.nextLink'], graphOrigin) };
}

/** The next page's URL; the token must never travel to another host. */
export function nextLink(link: unknown, graphOrigin: string): string | undefined {
  if (link === undefined || link === null) return undefined;
  if (typeof link !== 'string') throw new DirectoryError('Graph answer: bad @odata.nextLink');
  let u: URL;
  try {
    u = new URL(link);
  } catch {
    throw new DirectoryError('Graph answer: bad @odata.nextLink');
  }
  if (u.origin !== graphOrigin) throw new DirectoryError('Graph answer: @odata.nextLink to another origin');
  return link;
}

/**
 * The URL of a user: `{graphUrl}/users/{principal}`, or, for a principal beginning with `$`,
 * `{graphUrl}/users('{principal}')`: Graph reads a path segment beginning with `$` as a
 * system segment and answers 400 (SPEC §9, v3). Inside the quotes a quote is doubled (OData).
 */
export function userUrl(graphUrl: string, principal: string): string {
  if (!principal.startsWith('$')) return `${graphUrl}/users/${encodeURIComponent(principal)}`;
  const quoted = encodeURIComponent(principal.replace(/'/g, "''")).replace(/%24/g, '$');
  return `${graphUrl}/users('${quoted}')`;
}

/**
 * A principal without `@` is not a Graph user name: no groups, not asked. A 404 on the
 * principal as a user name is not yet "no such user": an actor logged by a mail or proxy
 * address that is not the UPN is found by address (as `personOf` finds it) and its groups are
 * read by object id; only when no user has the address is it "does not exist" (no groups).
 */
async function lookupUser(
  g: { collectFrom: Collect; get: Get },
  graphUrl: string,
  principal: string,
  signal: AbortSignal,
  deadline: number,
): Promise<UserAnswer> {
  const none: UserAnswer = { exists: false, groups: new Set() };
  if (!principal.includes('@')) return none;
  const groupsOf = (user: string) => g.collectFrom(`${user}/transitiveMemberOf/microsoft.graph.group?$select=id,displayName`, signal, deadline);
  let r = await groupsOf(userUrl(graphUrl, principal));
  if (r === 'not_found') {
    const id = await personOf(g.get, graphUrl, principal, signal, deadline);
    if (id === null) return none;
    r = await groupsOf(`${graphUrl}/users/${encodeURIComponent(id)}`);
    if (r === 'not_found') return none;
  }
  return { exists: true, groups: new Set(r.map((x) => x.id)) };
}

async function listGroups(collectFrom: Collect, graphUrl: string, signal: AbortSignal, deadline: number): Promise<CatalogueEntry[]> {
  const r = await collectFrom(`${graphUrl}/groups?$select=id,displayName`, signal, deadline);
  if (r === 'not_found') throw new DirectoryError('Graph answered 404 for /groups');
  return r;
}

/** The `value` array of a Graph answer whose status must be 200. */
function valueOf(res: HttpsResponse): unknown[] {
  if (res.status !== 200) throw new DirectoryError(`Graph answered ${res.status}`);
  let v: unknown;
  try {
    v = JSON.parse(res.body);
  } catch {
    throw new DirectoryError('Graph answer is not JSON');
  }
  if (typeof v !== 'object' || v === null || !Array.isArray((v as { value?: unknown }).value)) throw new DirectoryError('Graph answer has no value array');
  return (v as { value: unknown[] }).value;
}

/** The object id of one user object (`{id}`), lower-cased. */
export function objectIdOf(item: unknown): string {
  const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
  if (typeof id !== 'string' || id === '') throw new DirectoryError('Graph answer: a user without id');
  return id.toLowerCase();
}

/** An OData string literal's inside: a quote doubled. */
const odataString = (s: string) => s.replace(/'/g, "''");

/**
 * The object id of the user `principal` names (SPEC §9 "One person, several names"): by UPN
 * (`/users/{principal}`), else by mail or proxy address (`$filter`), so a mail and a UPN of
 * one user are one person. null when no user has it; two users with that address fail.
 */
async function personOf(get: Get, graphUrl: string, principal: string, signal: AbortSignal, deadline: number): Promise<string | null> {
  if (!principal.includes('@')) return null;
  const byName = await get(`${userUrl(graphUrl, principal)}?$select=id`, signal, deadline);
  if (byName.status === 200) {
    try {
      return objectIdOf(JSON.parse(byName.body));
    } catch {
      throw new DirectoryError('Graph answer: a user without id');
    }
  }
  if (byName.status !== 404) throw new DirectoryError(`Graph answered ${byName.status}`);
  const p = odataString(principal);
  const filter = `mail eq '${p}' or proxyAddresses/any(x:x eq 'smtp:${p}')`;
  const found = valueOf(await get(`${graphUrl}/users?$filter=${encodeURIComponent(filter)}&$select=id`, signal, deadline)).map(objectIdOf);
  const ids = [...new Set(found)];
  if (ids.length > 1) throw new DirectoryError('more than one user has this address');
  return ids[0] ?? null;
}

/** Up to `limit` userPrincipalNames of a group's direct members (`/groups/{id}/members`), page by page; members without one are skipped. */
async function groupMembers(
  g: { get: Get; graphUrl: string; graphOrigin: string },
  groupId: string,
  limit: number,
  signal: AbortSignal,
  deadline: number,
): Promise<string[] | 'not_listed'> {
  const out: string[] = [];
  let next: string | undefined = `${g.graphUrl}/groups/${encodeURIComponent(groupId)}/members?$select=id,userPrincipalName`;
  for (let page = 0; next !== undefined && out.length < limit; page++) {
    if (page >= MAX_PAGES) throw new DirectoryError('too many pages');
    const res = await g.get(next, signal, deadline);
    if (res.status === 404 && page === 0) return 'not_listed';
    for (const m of valueOf(res)) {
      const upn = typeof m === 'object' && m !== null ? (m as { userPrincipalName?: unknown }).userPrincipalName : undefined;
      if (typeof upn === 'string' && upn !== '' && out.length < limit) out.push(upn);
    }
    next = nextLink((JSON.parse(res.body) as Record<string, unknown>)['@odata.nextLink'], g.graphOrigin);
  }
  return out;
}
