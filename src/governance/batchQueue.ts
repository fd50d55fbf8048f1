/**
 * The single writer of a governance sink (SPEC §6), shared by the file and the
 * PostgreSQL sink: appends wait in one FIFO queue, each with its own deadline; one
 * drain loop hands them to the sink's storage a batch at a time (group commit). The
 * storage only says how a batch is written; it settles each entry of the batch or
 * hands some back with `requeue`, in order. Nothing here knows files or SQL.
 *
 * Fail closed: an entry resolves only when the storage resolves it (after it is
 * durable); its deadline rejects it otherwise, queued or in flight.
 */
import { systemClock, type Clock } from '../clock.js';
import { validateInput } from './chain.js';
import { enqueue, type Pending } from './pending.js';
import { GovernanceUnavailableError, type GovernanceEntry, type GovernanceEntryInput } from './types.js';

export interface BatchQueueOptions {
  /** an append not acknowledged within this many ms rejects */
  deadlineMs: number;
  /** at most this many entries a batch */
  maxEntries: number;
  /** an entry with no more than this many ms left is not started: its timer rejects it (default: none left out) */
  minBudgetMs?: number;
  /** what the storage promises, for the deadline error: "durable" (file), "committed" (PostgreSQL) */
  promise: string;
  clock?: Clock;
  /** Writes one batch. Settles each entry or hands it back with `requeue`; does not throw. */
  write(batch: Pending[]): Promise<void>;
  /** an entry's deadline passed before it was acknowledged */
  onExpire(): void;
}

export class BatchQueue {
  readonly deadlineMs: number;
  readonly clock: Clock;
  private readonly queue: Pending[] = [];
  /** the writer (or an exclusive task such as a probe) runs */
  private running = false;
  private batchStartedAt: number | undefined;
  private isClosed = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: BatchQueueOptions) {
    this.deadlineMs = opts.deadlineMs;
    this.clock = opts.clock ?? systemClock;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** a batch or an exclusive task is running */
  get busy(): boolean {
    return this.running;
  }

  /** Validates and queues one append; it settles once, by the storage or by its deadline. */
  add(input: GovernanceEntryInput): Promise<GovernanceEntry> {
    try {
      validateInput(input);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.isClosed) return Promise.reject(closedError());
    const done = enqueue(this.queue, input, this.deadlineMs, (p) => this.expire(p), this.clock);
    void this.drain();
    return done;
  }

  /** Puts unsettled entries back at the front of the queue, in their order. */
  requeue(entries: Pending[]): void {
    this.queue.unshift(...entries.filter((p) => !p.settled));
  }

  /** The error of an entry whose deadline passed. */
  deadlineError(): GovernanceUnavailableError {
    return new GovernanceUnavailableError(`governance entry not ${this.opts.promise} within ${this.deadlineMs} ms`);
  }

  /** A batch running past the deadline: the store hangs, even before anyone times out. */
  stuck(): boolean {
    return this.batchStartedAt !== undefined && this.clock.now() - this.batchStartedAt > this.deadlineMs;
  }

  /**
   * Runs `task` while no batch runs and keeps batches out until it ends (the file
   * sink's probe owns the file tail); undefined when a batch or task already runs.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> | undefined {
    if (this.running) return undefined;
    this.running = true;
    return task().finally(() => {
      this.running = false;
      this.wakeIdleWaiters();
      if (this.queue.length > 0) void this.drain();
    });
  }

  /** Lets the running batch finish (bounded by the deadline), then refuses what is queued. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.running) await this.idleOrDeadline();
    for (const p of this.queue.splice(0)) p.reject(closedError());
  }

  /**
   * Deadline passed. Still queued: dropped, no seq used. Already in a batch: the
   * caller is told it failed (and sends nothing private); the storage may still
   * land it, and then the log records an access that was refused, never the reverse.
   */
  private expire(p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i >= 0) this.queue.splice(i, 1);
    this.opts.onExpire();
    p.reject(this.deadlineError());
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        if (batch.length === 0) continue;
        this.batchStartedAt = this.clock.now();
        for (const p of batch) p.attempts++;
        await this.opts.write(batch);
      }
    } finally {
      this.running = false;
      this.batchStartedAt = undefined;
      this.wakeIdleWaiters();
    }
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const minBudget = this.opts.minBudgetMs;
    const now = this.clock.now();
    while (this.queue.length > 0 && batch.length < this.opts.maxEntries) {
      const p = this.queue.shift()!;
      // nearly expired entries are left to their timers rather than started
      if (!p.settled && (minBudget === undefined || p.deadlineAt - now > minBudget)) batch.push(p);
    }
    return batch;
  }

  private idleOrDeadline(): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.deadlineMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wakeIdleWaiters(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

function closedError(): GovernanceUnavailableError {
  return new GovernanceUnavailableError('governance log is closed');
}
