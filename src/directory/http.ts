/**
 * Group membership from an HTTP directory (SPEC §3/§9 `directory.http`).
 *
 * GET url-with-{principal} (with the configured `headers`) answers:
 *   200 + JSON array of strings → the principal's group ids
 *   404                         → "no groups": an empty set, cached like any answer
 *   anything else (other status, redirect, not JSON, not an array of strings, timeout,
 *   network error)              → a failed lookup; nothing is cached for it
 * GET groupsUrl (optional) answers the catalogue: a JSON array of {"id","name"}.
 *
 * Caching, the stale window and timeouts are the shared per-principal cache (cache.ts).
 * Principals are normalised (lower-cased) for the cache key and the URL. Nothing here logs.
 */
import type { Membership } from '../privacy/types.js';
import { cachedSource, type CacheStats } from './cache.js';
import { DirectoryError, type CatalogueEntry, type DirectoryObserver, type DirectorySource } from './types.js';

export interface HttpDirectoryOptions {
  /** contains {principal}, which is replaced by encodeURIComponent(normalised principal) */
  url: string;
  ttlSec: number;
  maxEntries: number;
  /** per lookup, including waiting for a free slot and reading the body */
  timeoutMs: number;
  /** how long past its ttl an answer may still be served while the directory fails */
  staleSec: number;
  /** sent with every request (a directory behind a login) */
  headers?: Record<string, string>;
  /** returns [{"id","name"}] for the group catalogue */
  groupsUrl?: string | null;
  fetchImpl?: typeof fetch;
  /** at most this many requests in flight (default 16); further lookups wait for a slot */
  maxInFlight?: number;
  /** monotonic clock in ms (default performance.now); injectable so tests need not sleep */
  now?: () => number;
  observer?: DirectoryObserver;
}

export type HttpDirectoryStats = CacheStats;

export interface HttpDirectory {
  /** Never rejects. The returned Membership answers for the given principals only; others are 'unknown'. */
  prefetch(principals: string[]): Promise<Membership>;
  stats(): HttpDirectoryStats;
  /** Aborts requests in flight and empties the cache; later prefetches answer 'unknown'. */
  close(): void;
}

/** A list of group ids is small; anything bigger is not a sane answer. */
const MAX_BODY_BYTES = 1 << 20;
/** A catalogue may hold tens of thousands of groups. */
const MAX_CATALOGUE_BYTES = 64 << 20;

/** Reads at most `max` bytes of the body; larger bodies are a failed lookup. */
export async function readBody(res: Response, max = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) throw new DirectoryError('body too large');
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new DirectoryError('body too large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The group ids of a 200 answer: a JSON array whose every element is a string. */
export function parseGroups(text: string): ReadonlySet<string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new DirectoryError('not JSON');
  }
  if (!Array.isArray(v) || !v.every((g) => typeof g === 'string')) {
    throw new DirectoryError('not an array of strings');
  }
  return new Set<string>(v);
}

/** The catalogue answer of groupsUrl: a JSON array of {id, name?} with string values. */
export function parseCatalogue(text: string): CatalogueEntry[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new DirectoryError('groupsUrl: not JSON');
  }
  if (!Array.isArray(v)) throw new DirectoryError('groupsUrl: not an array');
  const out: CatalogueEntry[] = [];
  for (const g of v) {
    if (typeof g !== 'object' || g === null) throw new DirectoryError('groupsUrl: not an array of {id, name}');
    const { id, name } = g as Record<string, unknown>;
    if (typeof id !== 'string' || id === '' || (name !== undefined && name !== null && typeof name !== 'string')) {
      throw new DirectoryError('groupsUrl: not an array of {id, name}');
    }
    out.push({ id, name: typeof name === 'string' && name !== '' ? name : id });
  }
  return out;
}

export function httpSource(opts: Pick<HttpDirectoryOptions, 'url' | 'headers' | 'groupsUrl' | 'fetchImpl'>): DirectorySource {
  if (!opts.url.includes('{principal}')) throw new TypeError('httpDirectory: url must contain {principal}');
  const fetchImpl = opts.fetchImpl ?? fetch;
  const headers = { accept: 'application/json', ...opts.headers };
  const urlFor = (principal: string) => opts.url.split('{principal}').join(encodeURIComponent(principal));

  async function get(url: string, signal: AbortSignal): Promise<Response> {
    try {
      // redirects are "anything else": following one could carry the headers to another host
      return await fetchImpl(url, { headers, signal, redirect: 'manual' });
    } catch {
      throw new DirectoryError(signal.aborted ? 'timeout' : 'unreachable');
    }
  }

  const source: DirectorySource = {
    name: 'http',
    knowsUsers: false,
    async lookup(principal, signal) {
      const res = await get(urlFor(principal), signal);
      if (res.status === 404) {
        await res.body?.cancel().catch(() => {});
        return { exists: undefined, groups: new Set<string>() };
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw new DirectoryError(`status ${res.status}`);
      }
      return { exists: undefined, groups: parseGroups(await readBody(res)) };
    },
    close() {},
  };
  const groupsUrl = opts.groupsUrl;
  if (groupsUrl) {
    source.listGroups = async (signal) => {
      const res = await get(groupsUrl, signal);
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw new DirectoryError(`groupsUrl: status ${res.status}`);
      }
      return parseCatalogue(await readBody(res, MAX_CATALOGUE_BYTES));
    };
  }
  return source;
}

export function createHttpDirectory(opts: HttpDirectoryOptions): HttpDirectory {
  const cached = cachedSource(httpSource(opts), opts);
  return { prefetch: (principals) => cached.prefetch(principals), stats: cached.stats, close: cached.close };
}
