import { systemClock, type Clock } from '../clock.js';
import type { GovernanceEntry, GovernanceEntryInput } from './types.js';

/** An append waiting for its batch: settles once, and its deadline timer goes with it. */
export interface Pending {
  input: GovernanceEntryInput;
  /** the entry's time: when append() was called */
  time: string;
  deadlineAt: number;
  /** how many batches it was handed to (PostgreSQL retries a batch once on a lost connection) */
  attempts: number;
  settled: boolean;
  resolve(e: GovernanceEntry): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Queues one append for a sink's writer. `onExpire` runs when the deadline passes
 * before the entry was acknowledged; the queue and the sink decide what that means
 * for a batch already in flight. Used by `BatchQueue`, so both sinks keep the same
 * "settle exactly once" rule.
 */
export function enqueue(
  queue: Pending[],
  input: GovernanceEntryInput,
  deadlineMs: number,
  onExpire: (p: Pending) => void,
  clock: Clock = systemClock,
): Promise<GovernanceEntry> {
  return new Promise<GovernanceEntry>((resolve, reject) => {
    const now = clock.now();
    const p: Pending = {
      input,
      time: new Date(now).toISOString(),
      deadlineAt: now + deadlineMs,
      attempts: 0,
      settled: false,
      resolve: (e) => {
        if (p.settled) return;
        p.settled = true;
        clearTimeout(p.timer);
        resolve(e);
      },
      reject: (err) => {
        if (p.settled) return;
        p.settled = true;
        clearTimeout(p.timer);
        reject(err);
      },
      timer: setTimeout(() => onExpire(p), deadlineMs),
    };
    queue.push(p);
  });
}
