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

export interface Entry {
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

/** What a source call needs: the source, its slots and deadline, the closing signal and the observer. */
export interface CallDeps {
  source: DirectorySource;
  slots: Slots;
  timeoutMs: number;
  closing: AbortSignal;
  observer: DirectoryObserver;
}

/**
 * Holds one slot until `signal` aborts or the returned release is called, whichever is
 * first, so a source that ignored the signal could not hold slots for ever.
 */
export function holdSlot(slots: Slots, signal: AbortSignal): () => void {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    signal.removeEventListener('abort', release);
    slots.release();
  };
  signal.addEventListener('abort', release, { once: true });
  return release;
}

/** One source call; timeoutMs covers waiting for a slot too, so a lookup never waits longer. */
export async function callSource(d: CallDeps, principal: string): Promise<UserAnswer> {
  try {
    return await withDeadline(
      d.timeoutMs,
      async (signal) => {
        await d.slots.acquire(signal);
        const started = performance.now();
        const release = holdSlot(d.slots, signal);
        try {
          if (d.closing.aborted) throw new DirectoryError('closed');
          return await d.source.lookup(principal, signal);
        } finally {
          d.observer.latency(d.source.name, (performance.now() - started) / 1000);
          release();
        }
      },
      d.closing,
    );
  } catch (err) {
    if (!d.closing.aborted) d.observer.failed(d.source.name, reasonOf(err));
    throw err;
  }
}

/** The LRU of answers: ttl on the injected clock, an expired entry kept (and handed back) when its refresh fails. */
function answerCache(opts: CacheOptions, now: () => number, fetch: (key: string) => Promise<Entry>): LRUCache<string, Entry> {
  return new LRUCache<string, Entry>({
    max: opts.maxEntries,
    ttl: opts.ttlSec * 1000,
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
    fetchMethod: (key) => fetch(key),
  });
}

export type Outcome = 'hit' | 'miss' | 'stale' | 'failure';

/**
 * Pure: what a fetch from the cache means. A fresh entry is a hit; an entry fetched now
 * (or joined) a miss; an expired one handed back after a failed refresh is stale within
 * staleSec, a failure past it (`drop`: remove it); no entry at all is a failure.
 */
export function outcomeOf(
  fetchStatus: string | undefined,
  entry: Entry | undefined,
  age: number,
  ttlMs: number,
  staleMs: number,
): { outcome: Outcome; drop?: true } {
  if (entry === undefined) return { outcome: 'failure' };
  if (fetchStatus === 'hit') return { outcome: 'hit' };
  if (age < ttlMs) return { outcome: 'miss' };
  if (age <= ttlMs + staleMs) return { outcome: 'stale' };
  return { outcome: 'failure', drop: true };
}

/** Counts an outcome in the stats (hits; misses, failures and stale answers are all misses). */
export function count(counts: CacheStats, outcome: Outcome): void {
  if (outcome === 'hit') {
    counts.hits++;
    return;
  }
  counts.misses++;
  if (outcome === 'failure' || outcome === 'stale') counts.failures++;
  if (outcome === 'stale') counts.stale++;
}

/** The Membership of a batch: each distinct normalised principal resolved once; others are 'unknown'. */
export async function prefetchWith(resolve: (key: string) => Promise<UserAnswer | 'failed'>, principals: readonly string[]): Promise<Membership> {
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
}

export function cachedSource(source: DirectorySource, opts: CacheOptions): CachedSource {
  checkCacheOptions(`${source.name} directory`, opts);
  const now = opts.now ?? (() => performance.now());
  const observer = opts.observer ?? NO_OBSERVER;
  const slots = new Slots(opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  const closing = new AbortController();
  setMaxListeners(0, closing.signal); // one listener per lookup in flight
  const counts: CacheStats = { hits: 0, misses: 0, failures: 0, stale: 0 };
  const call: CallDeps = { source, slots, timeoutMs: opts.timeoutMs, closing: closing.signal, observer };
  const cache = answerCache(opts, now, async (key) => ({ answer: await callSource(call, key), at: now() }));
  const ttlMs = opts.ttlSec * 1000;
  const staleMs = opts.staleSec * 1000;

  async function resolveKey(key: string): Promise<UserAnswer | 'failed'> {
    const status: LRUCache.Status<string, Entry> = {};
    // a rejection is not expected with allowStaleOnFetchRejection; a failure all the same
    const entry = await cache.fetch(key, { status }).catch(() => undefined);
    if (closing.signal.aborted) return 'failed';
    const { outcome, drop } = outcomeOf(status.fetch, entry, entry ? now() - entry.at : 0, ttlMs, staleMs);
    count(counts, outcome);
    observer.lookup(source.name, outcome);
    if (drop && cache.peek(key, { allowStale: true }) === entry) cache.delete(key);
    return outcome === 'failure' ? 'failed' : entry!.answer;
  }

  const resolve = async (principal: string): Promise<UserAnswer | 'failed'> => {
    const key = normalizePrincipal(principal);
    if (key === undefined || closing.signal.aborted) return 'failed';
    return resolveKey(key).catch(() => 'failed' as const);
  };

  return {
    source,
    resolve,
    prefetch: (principals) => prefetchWith(resolve, principals),
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
