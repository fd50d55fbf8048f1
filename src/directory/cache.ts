/**
 * The per-principal cache in front of every remote source (SPEC §9): answers are kept for
 * ttlSec (at most maxEntries principals, least recently used evicted); while the source
 * fails, an answer is still served for staleSec past its TTL; otherwise the principal's
 * lookup has failed ('failed' → undecidable, withheld by default).
 *
 * lru-cache does the bookkeeping: `fetch()` de-duplicates concurrent lookups of one key,
 * keeps an expired entry while it is being refreshed and hands it back when the refresh
 * rejects (allowStaleOnFetchRejection). It does not know the staleSec bound, so every
 * entry carries the time it was fetched and the bound is checked here.
 *
 * Every source call runs under `timeoutMs` (withDeadline), waiting for one of the
 * `maxInFlight` slots included: a lookup never waits longer. Nothing here logs: the
 * principal and its groups are private; stats() and the observer are the observable surface.
 */
import { setMaxListeners } from 'node:events';
import { LRUCache } from 'lru-cache';
import { normalizePrincipal } from '../principal.js';
import type { Membership } from '../privacy/types.js';
import { withDeadline } from './deadline.js';
import { DirectoryError, NO_OBSERVER, reasonOf, type DirectoryObserver, type DirectorySource, type UserAnswer } from './types.js';

export interface CacheOptions {
  ttlSec: number;
  /** how long past its ttl an answer may still be served while the source fails */
  staleSec: number;
  maxEntries: number;
  timeoutMs: number;
  /** at most this many source calls in flight (default 16); further lookups wait for a slot */
  maxInFlight?: number;
  /** monotonic clock in ms (default performance.now); injectable so tests need not sleep */
  now?: () => number;
  observer?: DirectoryObserver;
}

export interface CacheStats {
  /** principals answered from a fresh cache entry */
  hits: number;
  /** principals that needed the source (including joining a lookup already in flight) */
  misses: number;
  /** lookups that produced no fresh answer (served stale or failed) */
  failures: number;
  /** of the failures, those served from an expired entry still within staleSec */
  stale: number;
}

export interface CachedSource {
  readonly source: DirectorySource;
  /** `principal` as read from a record or a request; normalised here. Never rejects. */
  resolve(principal: string): Promise<UserAnswer | 'failed'>;
  /** Never rejects. The Membership answers for the given principals only; others are 'unknown'. */
  prefetch(principals: readonly string[]): Promise<Membership>;
  stats(): CacheStats;
  /** Aborts calls in flight and empties the cache; later lookups fail. */
  close(): void;
}

interface Entry {
  answer: UserAnswer;
  /** clock time of the source's answer */
  at: number;
}

const DEFAULT_MAX_IN_FLIGHT = 16;

/** Counting semaphore; a waiter whose signal aborts leaves the queue; drain() releases every waiter. */
export class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(n: number) {
    this.free = n;
  }
  acquire(signal?: AbortSignal): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new DirectoryError('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
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

export function checkCacheOptions(what: string, o: CacheOptions): void {
  const positive = (name: string, v: number, allowZero = false) => {
    if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
      throw new RangeError(`${what}: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
    }
  };
  positive('ttlSec', o.ttlSec);
  positive('timeoutMs', o.timeoutMs);
  positive('staleSec', o.staleSec, true);
  if (!Number.isInteger(o.maxEntries) || o.maxEntries < 1) throw new RangeError(`${what}: maxEntries must be a positive integer`);
}

export function cachedSource(source: DirectorySource, opts: CacheOptions): CachedSource {
  checkCacheOptions(`${source.name} directory`, opts);
  const ttlMs = opts.ttlSec * 1000;
  const staleMs = opts.staleSec * 1000;
  const now = opts.now ?? (() => performance.now());
  const observer = opts.observer ?? NO_OBSERVER;
  const slots = new Slots(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  const closing = new AbortController();
  setMaxListeners(0, closing.signal); // one listener per lookup in flight
  const counts: CacheStats = { hits: 0, misses: 0, failures: 0, stale: 0 };

  /** One source call; timeoutMs covers waiting for a slot too, so a lookup never waits longer. */
  async function lookup(principal: string): Promise<Entry> {
    try {
      const answer = await withDeadline(
        opts.timeoutMs,
        async (signal) => {
          await slots.acquire(signal);
          const started = performance.now();
          // the slot is free again when the call settles or its deadline fires, whichever is first,
          // so a source that ignored the signal could not hold slots for ever
          let held = true;
          const release = () => {
            if (!held) return;
            held = false;
            signal.removeEventListener('abort', release);
            slots.release();
          };
          signal.addEventListener('abort', release, { once: true });
          try {
            if (closing.signal.aborted) throw new DirectoryError('closed');
            return await source.lookup(principal, signal);
          } finally {
            observer.latency(source.name, (performance.now() - started) / 1000);
            release();
          }
        },
        closing.signal,
      );
      return { answer, at: now() };
    } catch (err) {
      if (!closing.signal.aborted) observer.failed(source.name, reasonOf(err));
      throw err;
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
    // a lookup whose placeholder was evicted (a batch larger than maxEntries) still
    // answers its caller; only the cache is not updated
    ignoreFetchAbort: true,
    fetchMethod: (key) => lookup(key),
  });

  function failed(): 'failed' {
    counts.failures++;
    observer.lookup(source.name, 'failure');
    return 'failed';
  }

  async function resolveKey(key: string): Promise<UserAnswer | 'failed'> {
    const status: LRUCache.Status<string, Entry> = {};
    let entry: Entry | undefined;
    try {
      entry = await cache.fetch(key, { status });
    } catch {
      entry = undefined; // not expected with allowStaleOnFetchRejection; a failure all the same
    }
    if (closing.signal.aborted) return 'failed';
    if (status.fetch === 'hit' && entry !== undefined) {
      counts.hits++;
      observer.lookup(source.name, 'hit');
      return entry.answer;
    }
    counts.misses++;
    if (entry === undefined) return failed();
    const age = now() - entry.at;
    if (age < ttlMs) {
      observer.lookup(source.name, 'miss');
      return entry.answer; // a fresh answer (ours or one we joined)
    }
    // the refresh failed and lru-cache gave back the expired entry
    if (age <= ttlMs + staleMs) {
      counts.failures++;
      counts.stale++;
      observer.lookup(source.name, 'stale');
      return entry.answer;
    }
    if (cache.peek(key, { allowStale: true }) === entry) cache.delete(key);
    return failed();
  }

  const resolve = async (principal: string): Promise<UserAnswer | 'failed'> => {
    const key = normalizePrincipal(principal);
    if (key === undefined || closing.signal.aborted) return 'failed';
    return resolveKey(key).catch(() => 'failed' as const);
  };

  return {
    source,
    resolve,
    async prefetch(principals) {
      const answers = new Map<string, ReadonlySet<string> | 'unknown'>();
      const keys = new Set<string>();
      for (const p of principals) {
        const k = typeof p === 'string' ? normalizePrincipal(p) : undefined;
        if (k !== undefined) keys.add(k);
      }
      await Promise.all(
        [...keys].map(async (k) => {
          const r = await resolve(k);
          answers.set(k, r === 'failed' ? 'unknown' : r.groups);
        }),
      );
      return (principal) => {
        const k = normalizePrincipal(principal);
        return (k !== undefined && answers.get(k)) || 'unknown';
      };
    },
    stats: () => ({ ...counts }),
    close() {
      if (closing.signal.aborted) return;
      closing.abort(new DirectoryError('closed'));
      slots.drain();
      cache.clear();
      source.close();
    },
  };
}
