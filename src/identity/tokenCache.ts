/**
 * Verified bearer tokens, remembered until they expire, so a request carrying
 * a token does not pay a signature check every time (issue 13).
 *
 * Only a successful verification is cached (an invalid token is checked again
 * every time: nothing about a bad token is worth remembering), keyed by the
 * token itself, until its `exp` (the verifier requires one) — never longer.
 * Bounded with lru-cache by entry count and by total token bytes. The cache
 * lives inside one verifier (a configuration reload starts empty), and the
 * verifier answers from it only while the key that verified the token is
 * still the key its key set resolves for the token's header: a JWKS refetch
 * that dropped or replaced the key sends the token through full verification
 * again (verifier.ts, stillKeyed).
 *
 * Time is injected (`clock`, or the older `now`: epoch ms; default systemClock);
 * entries are checked against it on every read, so an expired token is never answered from the cache.
 */
import { LRUCache } from 'lru-cache';
import { clockOf, type Clock } from '../clock.js';

export interface TokenCacheOptions {
  /** most tokens held; default 10,000 */
  maxEntries?: number;
  /** most token bytes held (keys are the tokens); default 8 MiB */
  maxBytes?: number;
  /** wall clock of token expiry; default systemClock */
  clock?: Clock;
  /** the older shape of `clock` */
  now?: () => number;
}

interface Entry<T> {
  value: T;
  /** epoch ms at which the token expires */
  expMs: number;
}

export class TokenCache<T extends object> {
  private readonly lru: LRUCache<string, Entry<T>>;
  private readonly clock: Clock;

  constructor(o: TokenCacheOptions = {}) {
    this.clock = o.clock ?? clockOf(o.now);
    this.lru = new LRUCache<string, Entry<T>>({
      max: o.maxEntries ?? 10_000,
      maxSize: o.maxBytes ?? 8 * 1024 * 1024,
      sizeCalculation: (_v, key) => Math.max(1, key.length),
    });
  }

  /** The verified result for this token, when it was verified before and has not expired. */
  get(token: string): T | undefined {
    const e = this.lru.get(token);
    if (e === undefined) return undefined;
    if (this.clock.now() >= e.expMs) {
      this.lru.delete(token);
      return undefined;
    }
    return e.value;
  }

  /** Remembers a verified token until `expSec` (the JWT `exp`, epoch seconds); a past or absent exp is not cached. */
  set(token: string, value: T, expSec: unknown): void {
    if (typeof expSec !== 'number' || !Number.isFinite(expSec)) return;
    const expMs = expSec * 1000;
    if (expMs <= this.clock.now()) return;
    this.lru.set(token, { value: Object.freeze(value), expMs });
  }

  get size(): number {
    return this.lru.size;
  }
}
