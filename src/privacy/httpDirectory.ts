/**
 * Group membership from an HTTP directory (SPEC §3 `directory.http`), cached per principal.
 *
 * GET url-with-{principal} answers:
 *   200 + JSON array of strings → the principal's group ids (cached for ttlSec)
 *   404                         → "no groups": an empty set, cached like any answer (the
 *                                 directory does not know the principal, so it is in no group)
 *   anything else (other status, redirect, not JSON, not an array of strings, timeout,
 *   network error)              → a failed look-up; nothing is cached for it
 *
 * A failed look-up falls back to the cached answer if it expired less than staleSec ago
 * (directory outage); otherwise the principal is 'unknown' and the undecidable rule applies.
 *
 * lru-cache does the bookkeeping: `fetch()` de-duplicates concurrent look-ups of one key,
 * keeps an expired entry while it is being refreshed and hands it back when the refresh
 * rejects (allowStaleOnFetchRejection). It does not know the staleSec bound, so every
 * entry carries the time it was fetched and the bound is checked here.
 *
 * Principals are normalised (normalizePrincipal) for the cache key and the URL, so
 * "Bob@X" and "bob@x" are one look-up. Nothing here logs: the principal and its groups
 * are private; stats() is the observable surface.
 */
import { LRUCache } from 'lru-cache';
import { normalizePrincipal } from '../principal.js';
import type { Membership } from './types.js';

export interface HttpDirectoryOptions {
  /** contains {principal}, which is replaced by encodeURIComponent(normalised principal) */
  url: string;
  ttlSec: number;
  maxEntries: number;
  /** per request, including reading the body; measured from when the request starts, not from queueing */
  timeoutMs: number;
  /** how long past its ttl an answer may still be served while the directory fails */
  staleSec: number;
  headers?: Record<string, string>;
  fetchImpl?: typeof fetch;
  /** at most this many requests in flight (default 16); further look-ups wait for a slot */
  maxInFlight?: number;
  /** monotonic clock in ms (default performance.now); injectable so tests need not sleep */
  now?: () => number;
}

export interface HttpDirectoryStats {
  /** principals answered from a fresh cache entry */
  hits: number;
  /** principals that needed the directory (including joining a look-up already in flight) */
  misses: number;
  /** look-ups that produced no fresh answer (served stale or 'unknown') */
  failures: number;
  /** of the failures, those served from an expired entry still within staleSec */
  stale: number;
}

export interface HttpDirectory {
  /** Never rejects. The returned Membership answers for the given principals only; others are 'unknown'. */
  prefetch(principals: string[]): Promise<Membership>;
  stats(): HttpDirectoryStats;
  /** Aborts requests in flight and empties the cache; later prefetches answer 'unknown'. */
  close(): void;
}

interface Entry {
  groups: ReadonlySet<string>;
  /** clock time of the directory's answer */
  at: number;
}

const DEFAULT_MAX_IN_FLIGHT = 16;
/** A list of group ids is small; anything bigger is not a sane answer. */
const MAX_BODY_BYTES = 1 << 20;

class LookupError extends Error {}

/** Counting semaphore; close() releases every waiter so nothing hangs after shutdown. */
class Slots {
  private free: number;
  private waiting: Array<() => void> = [];
  constructor(n: number) {
    this.free = n;
  }
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
  drain(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

function assertPositive(name: string, v: number, allowZero = false): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new RangeError(`httpDirectory: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
  }
}

/** Reads at most MAX_BODY_BYTES of the body; larger bodies are a failed look-up. */
async function readBody(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > MAX_BODY_BYTES) throw new LookupError('body too large');
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_BODY_BYTES) {
      await reader.cancel().catch(() => {});
      throw new LookupError('body too large');
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
    throw new LookupError('not JSON');
  }
  if (!Array.isArray(v) || !v.every((g) => typeof g === 'string')) {
    throw new LookupError('not an array of strings');
  }
  return new Set(v as string[]);
}

export function createHttpDirectory(opts: HttpDirectoryOptions): HttpDirectory {
  if (!opts.url.includes('{principal}')) throw new TypeError('httpDirectory: url must contain {principal}');
  assertPositive('ttlSec', opts.ttlSec);
  assertPositive('timeoutMs', opts.timeoutMs);
  assertPositive('staleSec', opts.staleSec, true);
  if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) {
    throw new RangeError('httpDirectory: maxEntries must be a positive integer');
  }

  const ttlMs = opts.ttlSec * 1000;
  const staleMs = opts.staleSec * 1000;
  const now = opts.now ?? (() => performance.now());
  const fetchImpl = opts.fetchImpl ?? fetch;
  const headers = { accept: 'application/json', ...opts.headers };
  const slots = new Slots(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  /** requests in flight, aborted by close() */
  const active = new Set<AbortController>();
  const counts: HttpDirectoryStats = { hits: 0, misses: 0, failures: 0, stale: 0 };
  let closed = false;

  const urlFor = (principal: string) => opts.url.split('{principal}').join(encodeURIComponent(principal));

  async function lookup(principal: string): Promise<Entry> {
    await slots.acquire();
    // own controller and timer rather than AbortSignal.any/timeout: nothing outlives the request
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new LookupError('timeout')), opts.timeoutMs);
    active.add(ac);
    try {
      if (closed) throw new LookupError('closed');
      // redirects are "anything else": following one could carry the headers to another host
      const res = await fetchImpl(urlFor(principal), { headers, signal: ac.signal, redirect: 'manual' });
      if (res.status === 404) {
        await res.body?.cancel().catch(() => {});
        return { groups: new Set(), at: now() };
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw new LookupError(`status ${res.status}`);
      }
      return { groups: parseGroups(await readBody(res)), at: now() };
    } finally {
      clearTimeout(timer);
      active.delete(ac);
      slots.release();
    }
  }

  const cache = new LRUCache<string, Entry>({
    max: opts.maxEntries,
    ttl: ttlMs,
    // read the clock on every check: the default 1 ms debounce would hide an injected clock's steps
    ttlResolution: 0,
    perf: { now },
    // an expired entry is not an answer by itself: wait for the refresh ...
    allowStale: false,
    // ... but keep it, and get it back, when the refresh fails (bounded by staleSec below)
    noDeleteOnFetchRejection: true,
    allowStaleOnFetchRejection: true,
    // a look-up whose placeholder was evicted (a batch larger than maxEntries) still
    // answers its caller; only the cache is not updated
    ignoreFetchAbort: true,
    fetchMethod: (key) => lookup(key),
  });

  async function resolve(key: string): Promise<ReadonlySet<string> | 'unknown'> {
    const status: LRUCache.Status<string, Entry> = {};
    let entry: Entry | undefined;
    try {
      entry = await cache.fetch(key, { status });
    } catch {
      entry = undefined; // not expected with allowStaleOnFetchRejection; a failure all the same
    }
    if (closed) return 'unknown';
    if (status.fetch === 'hit' && entry !== undefined) {
      counts.hits++;
      return entry.groups;
    }
    counts.misses++;
    if (entry === undefined) {
      counts.failures++;
      return 'unknown';
    }
    const age = now() - entry.at;
    if (age < ttlMs) return entry.groups; // a fresh answer (ours or one we joined)
    // the refresh failed and lru-cache gave back the expired entry
    counts.failures++;
    if (age <= ttlMs + staleMs) {
      counts.stale++;
      return entry.groups;
    }
    if (cache.peek(key, { allowStale: true }) === entry) cache.delete(key);
    return 'unknown';
  }

  return {
    async prefetch(principals) {
      const answers = new Map<string, ReadonlySet<string> | 'unknown'>();
      const keys = new Set<string>();
      for (const p of principals) {
        const k = typeof p === 'string' ? normalizePrincipal(p) : undefined;
        if (k !== undefined) keys.add(k);
      }
      await Promise.all(
        [...keys].map(async (k) => {
          answers.set(k, closed ? 'unknown' : await resolve(k).catch(() => 'unknown' as const));
        }),
      );
      return (principal) => {
        const k = normalizePrincipal(principal);
        return (k !== undefined && answers.get(k)) || 'unknown';
      };
    },
    stats: () => ({ ...counts }),
    close() {
      if (closed) return;
      closed = true;
      for (const ac of active) ac.abort(new LookupError('closed'));
      slots.drain();
      cache.clear();
    },
  };
}
