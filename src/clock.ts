/**
 * The one source of time. `startGateway` builds one `Clock` (the system's, or the test's)
 * and passes it to everything that reads time: stores, sinks, forwarding, the engine,
 * the admin app, the console. Nothing below `gateway.ts` calls `Date.now()` itself, so
 * tests move time instead of sleeping.
 */
export interface Clock {
  /** wall-clock milliseconds since the epoch (entry timestamps, expiry, windows) */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock from a bare `() => number` (the older option shape), or the system clock. */
export function clockOf(now?: () => number): Clock {
  return now ? { now } : systemClock;
}
