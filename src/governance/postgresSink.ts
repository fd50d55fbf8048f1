/**
 * PostgreSQL sink of the governance log (SPEC §6): one chain for all
 * replicas in table governance_log. Every batch runs in one transaction that
 * first takes a transaction-scoped advisory lock, then reads the head and
 * inserts head+1.. — so seq is computed under the lock (no gaps, no
 * duplicates) and an aborted transaction consumes nothing. Within a process
 * appends are group-committed by a single writer. An append resolves only
 * after COMMIT returns; it rejects with GovernanceUnavailableError when that
 * does not happen within the deadline (server-side timeouts just below the
 * deadline, plus a client-side timer that drops a hung connection).
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import { migrate } from '../db/migrate.js';
import { boundedQuery, createPool, isConnectionError } from '../db/pool.js';
import { BatchQueue } from './batchQueue.js';
import { buildEntry, GENESIS } from './chain.js';
import { BatchTransaction } from './postgresBatch.js';
import { verifyGovernanceTable } from './postgresVerify.js';
import {
  GovernanceUnavailableError,
  type ChainHead,
  type GovernanceEntry,
  type GovernanceEntryInput,
  type GovernanceSink,
  type QueryFilter,
  type ReadOptions,
  type RawEntry,
  type ReadResult,
  type VerifyResult,
} from './types.js';
import type { Pending } from './pending.js';
import { clampLimit, compileFilter, sqlFilter } from './query.js';

export interface PostgresSinkOptions {
  /** one of url / pool; a pool passed in is not ended by close() */
  url?: string;
  pool?: pg.Pool;
  instance: string;
  /** an append not committed within this many ms rejects (default 2000, SPEC §6) */
  deadlineMs?: number;
  /** how often the database is probed for healthy() (default 1000 ms; 0 = never) */
  probeIntervalMs?: number;
  /** told about database failures (for logs/metrics); messages carry no entry content */
  onError?: (err: unknown) => void;
  /** the time of entries and deadlines (default: the system clock) */
  clock?: Clock;
}

const DEFAULT_DEADLINE_MS = 2000;
const MAX_BATCH_ENTRIES = 256;
/** below this much time left, an entry is not started (its timer rejects it) */
const MIN_BUDGET_MS = 30;
/** a batch that failed on a lost connection before COMMIT is retried once, on a fresh connection */
const MAX_ATTEMPTS = 2;
const STREAM_PAGE = 500;

export async function openPostgresSink(opts: PostgresSinkOptions): Promise<GovernanceSink> {
  if (!opts.pool && !opts.url) throw new TypeError('openPostgresSink: url or pool is required');
  const ownPool = !opts.pool;
  const pool = opts.pool ?? createPool({ url: opts.url!, applicationName: `apg-governance-${opts.instance}`, onError: opts.onError });
  try {
    await migrate(pool);
  } catch (err) {
    if (ownPool) await pool.end().catch(() => {});
    throw err;
  }
  return new PostgresSink(opts, pool, ownPool);
}

class PostgresSink implements GovernanceSink {
  private readonly queue: BatchQueue;
  private ok = true;
  private probing = false;
  private readonly probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: PostgresSinkOptions,
    private readonly pool: pg.Pool,
    private readonly ownPool: boolean,
  ) {
    // In a transaction an expired entry makes the writer roll back instead of committing;
    // only a COMMIT already on the wire can still land (a refused access recorded, never the reverse).
    this.queue = new BatchQueue({
      deadlineMs: opts.deadlineMs ?? DEFAULT_DEADLINE_MS,
      maxEntries: MAX_BATCH_ENTRIES,
      minBudgetMs: MIN_BUDGET_MS,
      promise: 'committed',
      clock: opts.clock,
      write: (batch) => this.writeBatch(batch),
      onExpire: () => (this.ok = false),
    });
    const every = opts.probeIntervalMs ?? 1000;
    if (every > 0) {
      this.probeTimer = setInterval(() => void this.probe(), every);
      this.probeTimer.unref();
    }
  }

  private get closed(): boolean {
    return this.queue.closed;
  }

  append(input: GovernanceEntryInput): Promise<GovernanceEntry> {
    return this.queue.add(input);
  }

  /** One transaction for the batch: lock, read the head, insert head+1.., COMMIT. */
  private async writeBatch(batch: Pending[]): Promise<void> {
    // FIFO with one deadline length: the first entry has the least time left
    const tx = new BatchTransaction(Math.min(...batch.map((p) => p.deadlineAt)) - this.queue.clock.now());
    try {
      await tx.connect(this.pool);
      const entries = chainOnto(await tx.lockHead(), batch, this.opts.instance);
      await tx.insert(entries);
      if (batch.some((p) => p.settled)) {
        // someone's deadline passed meanwhile: do not record what was refused; the rest go again
        await tx.rollback();
        this.queue.requeue(batch);
        return;
      }
      await tx.commit();
      this.ok = true;
      batch.forEach((p, i) => p.resolve(entries[i]));
    } catch (err) {
      tx.drop();
      this.batchFailed(batch, tx, err);
    }
  }

  /** Nothing of the batch committed (or it may have, with COMMIT sent): retry once or refuse it. */
  private batchFailed(batch: Pending[], tx: BatchTransaction, err: unknown): void {
    if (!tx.timedOut) this.report(err);
    this.ok = false;
    if (!tx.timedOut && !tx.commitSent && isConnectionError(err) && batch.every((p) => p.attempts < MAX_ATTEMPTS)) {
      // e.g. a pooled connection the server had closed: nothing was written, try a fresh one
      this.queue.requeue(batch);
      return;
    }
    const failure = tx.timedOut ? this.queue.deadlineError() : new GovernanceUnavailableError('governance log write failed', { cause: err });
    for (const p of batch) p.reject(failure);
  }

  private report(err: unknown): void {
    try {
      this.opts.onError?.(err);
    } catch {
      /* reporting must not break the writer */
    }
  }

  healthy(): boolean {
    return this.ok && !this.closed && !this.queue.stuck();
  }

  /** Checks the database answers; healthy() follows the answer. */
  async probe(): Promise<boolean> {
    if (this.closed || this.probing) return this.healthy();
    this.probing = true;
    try {
      // connect is bounded by the pool's connect timeout, the query by query_timeout
      await boundedQuery(this.pool, 'SELECT 1', [], this.queue.deadlineMs);
      if (!this.queue.busy) this.ok = true;
      return true;
    } catch (err) {
      this.ok = false;
      this.report(err);
      return false;
    } finally {
      this.probing = false;
    }
  }

  async read(opts: ReadOptions): Promise<ReadResult> {
    if (this.closed) throw new Error('governance log is closed');
    const filter = compileFilter(opts);
    const afterSeq = filter.afterSeq;
    const limit = clampLimit(opts.limit);
    // Snapshot: the page never reaches past the head read first, so nextAfterSeq is safe to continue from.
    const head = await this.headSeq();
    const where = sqlFilter(filter, 4);
    const { rows } = await boundedQuery<{ line: string }>(
      this.pool,
      `SELECT line FROM governance_log
        WHERE seq > $1::bigint AND seq <= $2::bigint${where.sql}
        ORDER BY seq LIMIT $3`,
      [afterSeq, head, limit, ...where.params],
    );
    const entries = rows.map((r) => JSON.parse(r.line) as GovernanceEntry);
    const lastSeq = entries.at(-1)?.seq ?? 0;
    if (entries.length >= limit) return { entries, nextAfterSeq: lastSeq };
    return { entries, nextAfterSeq: Math.max(afterSeq, head, lastSeq) };
  }

  private async headSeq(): Promise<number> {
    const {
      rows: [h],
    } = await boundedQuery<{ head: string }>(this.pool, 'SELECT coalesce(max(seq), 0)::text AS head FROM governance_log');
    return Number(h.head);
  }

  /** Keyset pages of STREAM_PAGE rows up to the head read first: constant memory, no long-held connection. */
  async *stream(opts: QueryFilter): AsyncIterable<GovernanceEntry> {
    if (this.closed) throw new Error('governance log is closed');
    const filter = compileFilter(opts);
    const head = await this.headSeq();
    const where = sqlFilter(filter, 4);
    let after = filter.afterSeq;
    for (;;) {
      const { rows } = await boundedQuery<{ seq: string; line: string }>(
        this.pool,
        // ORDER BY the column, not the text alias (which would sort "10" before "2")
        `SELECT governance_log.seq::text AS seq, line FROM governance_log
          WHERE governance_log.seq > $1::bigint AND governance_log.seq <= $2::bigint${where.sql}
          ORDER BY governance_log.seq LIMIT $3`,
        [after, head, STREAM_PAGE, ...where.params],
      );
      for (const r of rows) yield JSON.parse(r.line) as GovernanceEntry;
      if (rows.length < STREAM_PAGE) return;
      after = Number(rows[rows.length - 1].seq);
    }
  }

  async readRange(afterSeq: number, limit: number): Promise<RawEntry[]> {
    if (this.closed) throw new Error('governance log is closed');
    return readRangeOn(this.pool, afterSeq, limit);
  }

  async head(): Promise<ChainHead> {
    if (this.closed) throw new Error('governance log is closed');
    return headOn(this.pool);
  }

  async verify(): Promise<VerifyResult> {
    if (this.closed) throw new Error('governance log is closed');
    return verifyGovernanceTable(this.pool);
  }

  /** Lets the running batch finish (bounded by the deadline), refuses what is queued, releases the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.probeTimer) clearInterval(this.probeTimer);
    await this.queue.close();
    if (this.ownPool) await this.pool.end().catch(() => {});
  }
}

/** The batch's entries chained onto the head read under the lock. */
function chainOnto(head: { nextSeq: number; prevHash: string }, batch: Pending[], instance: string): GovernanceEntry[] {
  let { nextSeq: seq, prevHash } = head;
  return batch.map((p) => {
    const entry = buildEntry(p.input, { seq: seq++, prevHash, instance, time: p.time });
    prevHash = entry.hash;
    return entry;
  });
}

/** Committed entries with seq > afterSeq, in seq order, as chained (forwarding reads with its own pool). */
export async function readRangeOn(pool: pg.Pool, afterSeq: number, limit: number): Promise<RawEntry[]> {
  const after = Number.isSafeInteger(afterSeq) && afterSeq > 0 ? afterSeq : 0;
  if (limit < 1) return [];
  const { rows } = await boundedQuery<{ seq: string; line: string }>(
    pool,
    'SELECT seq::text AS seq, line FROM governance_log WHERE seq > $1::bigint ORDER BY governance_log.seq LIMIT $2',
    [after, Math.floor(limit)],
  );
  return rows.map((r) => ({ seq: Number(r.seq), line: r.line }));
}

export async function headOn(pool: pg.Pool): Promise<ChainHead> {
  const {
    rows: [h],
  } = await boundedQuery<{ seq: string; hash: string }>(pool, 'SELECT seq::text AS seq, hash FROM governance_log ORDER BY governance_log.seq DESC LIMIT 1');
  return h ? { seq: Number(h.seq), hash: h.hash } : { seq: 0, hash: GENESIS };
}
