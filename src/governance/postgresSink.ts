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
import { LOCK_KEYS, migrate } from '../db/migrate.js';
import { boundedQuery, createPool, isConnectionError } from '../db/pool.js';
import { buildEntry, GENESIS, validateInput } from './chain.js';
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
import { enqueue, type Pending } from './pending.js';
import { compileFilter, sqlFilter } from './query.js';

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
}

const DEFAULT_DEADLINE_MS = 2000;
const MAX_BATCH_ENTRIES = 256;
/** below this much time left, an entry is not started (its timer rejects it) */
const MIN_BUDGET_MS = 30;
/** server-side timeouts fire this much before the client-side deadline */
const SERVER_MARGIN_MS = 100;
/** a batch that failed on a lost connection before COMMIT is retried once, on a fresh connection */
const MAX_ATTEMPTS = 2;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const STREAM_PAGE = 500;

class DeadlineExceeded extends Error {}

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
  private readonly deadlineMs: number;
  private readonly queue: Pending[] = [];
  private busy = false;
  private batchStartedAt: number | undefined;
  private ok = true;
  private closed = false;
  private probing = false;
  private readonly probeTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly opts: PostgresSinkOptions,
    private readonly pool: pg.Pool,
    private readonly ownPool: boolean,
  ) {
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_DEADLINE_MS;
    const every = opts.probeIntervalMs ?? 1000;
    if (every > 0) {
      this.probeTimer = setInterval(() => void this.probe(), every);
      this.probeTimer.unref();
    }
  }

  append(input: GovernanceEntryInput): Promise<GovernanceEntry> {
    try {
      validateInput(input);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.closed) return Promise.reject(new GovernanceUnavailableError('governance log is closed'));
    const done = enqueue(this.queue, input, this.deadlineMs, (p) => this.expire(p));
    void this.pump();
    return done;
  }

  /**
   * Deadline passed. Still queued: dropped, no seq used. In a transaction:
   * the writer rolls back instead of committing; only a COMMIT already on
   * the wire can still land, and then the log records an access that was
   * refused, never the reverse.
   */
  private expire(p: Pending): void {
    const i = this.queue.indexOf(p);
    if (i >= 0) this.queue.splice(i, 1);
    this.ok = false;
    p.reject(new GovernanceUnavailableError(`governance entry not committed within ${this.deadlineMs} ms`));
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        if (batch.length > 0) await this.writeBatch(batch);
      }
    } finally {
      this.busy = false;
      this.batchStartedAt = undefined;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const now = Date.now();
    while (this.queue.length > 0 && batch.length < MAX_BATCH_ENTRIES) {
      const p = this.queue.shift()!;
      // nearly expired entries are left to their timers rather than started
      if (!p.settled && p.deadlineAt - now > MIN_BUDGET_MS) batch.push(p);
    }
    return batch;
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    this.batchStartedAt = Date.now();
    for (const p of batch) p.attempts++;
    // FIFO with one deadline length: the first entry has the least time left
    const budget = Math.min(...batch.map((p) => p.deadlineAt)) - Date.now();
    const serverTimeout = Math.max(10, budget - SERVER_MARGIN_MS);
    let client: pg.PoolClient | undefined;
    let timedOut = false;
    let commitSent = false;
    let timer: NodeJS.Timeout | undefined;
    const abort = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        // a hung connection is dropped: the server rolls back what did not commit
        client?.release(true);
        client = undefined;
        reject(new DeadlineExceeded());
      }, budget);
    });
    abort.catch(() => {});
    const bounded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, abort]);
    try {
      const connecting = this.pool.connect();
      // a connection that arrives after the deadline goes straight back
      connecting.then(
        (c) => {
          if (timedOut) c.release();
        },
        () => {},
      );
      const c = await bounded(connecting);
      client = c;
      const head = (await bounded(
        c.query(
          `BEGIN; SET LOCAL statement_timeout = ${serverTimeout}; SET LOCAL lock_timeout = ${serverTimeout};
         SET LOCAL synchronous_commit = on;
         SELECT pg_advisory_xact_lock(${LOCK_KEYS.governance});
         SELECT seq::text AS seq, hash FROM governance_log ORDER BY governance_log.seq DESC LIMIT 1`,
        ),
      )) as unknown as pg.QueryResult[];
      const last = head[head.length - 1].rows[0] as { seq: string; hash: string } | undefined;
      let seq = last ? Number(last.seq) + 1 : 1;
      let prevHash = last ? last.hash : GENESIS;
      const entries: GovernanceEntry[] = [];
      for (const p of batch) {
        const entry = buildEntry(p.input, { seq, prevHash, instance: this.opts.instance, time: p.time });
        entries.push(entry);
        prevHash = entry.hash;
        seq++;
      }
      await bounded(
        c.query(
          `INSERT INTO governance_log (seq, id, time, action, entry, line, prev_hash, hash)
         SELECT s, i, t, a, l::jsonb, l, p, h
           FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[])
             AS u(s, i, t, a, l, p, h)`,
          [
            entries.map((e) => e.seq),
            entries.map((e) => e.id),
            entries.map((e) => e.time),
            entries.map((e) => e.action),
            entries.map((e) => JSON.stringify(e)),
            entries.map((e) => e.prevHash),
            entries.map((e) => e.hash),
          ],
        ),
      );
      if (batch.some((p) => p.settled)) {
        // someone's deadline passed meanwhile: do not record what was refused; the rest go again
        await bounded(c.query('ROLLBACK'));
        clearTimeout(timer);
        c.release();
        client = undefined;
        this.requeue(batch);
        return;
      }
      commitSent = true;
      await bounded(c.query('COMMIT'));
      clearTimeout(timer);
      c.release();
      client = undefined;
      this.ok = true;
      batch.forEach((p, i) => p.resolve(entries[i]));
    } catch (err) {
      clearTimeout(timer);
      client?.release(true);
      client = undefined;
      if (!timedOut) this.report(err);
      this.ok = false;
      if (!timedOut && !commitSent && isConnectionError(err) && batch.every((p) => p.attempts < MAX_ATTEMPTS)) {
        // e.g. a pooled connection the server had closed: nothing was written, try a fresh one
        this.requeue(batch);
        return;
      }
      const failure = timedOut
        ? new GovernanceUnavailableError(`governance entry not committed within ${this.deadlineMs} ms`)
        : new GovernanceUnavailableError('governance log write failed', { cause: err });
      for (const p of batch) p.reject(failure);
    }
  }

  /** Puts unsettled entries back at the front of the queue, in their order. */
  private requeue(batch: Pending[]): void {
    this.queue.unshift(...batch.filter((p) => !p.settled));
  }

  private report(err: unknown): void {
    try {
      this.opts.onError?.(err);
    } catch {
      /* reporting must not break the writer */
    }
  }

  healthy(): boolean {
    if (!this.ok || this.closed) return false;
    // a batch stuck past the deadline means the store hangs, even before anyone times out
    return this.batchStartedAt === undefined || Date.now() - this.batchStartedAt <= this.deadlineMs;
  }

  /** Checks the database answers; healthy() follows the answer. */
  async probe(): Promise<boolean> {
    if (this.closed || this.probing) return this.healthy();
    this.probing = true;
    try {
      // connect is bounded by the pool's connect timeout, the query by query_timeout
      await boundedQuery(this.pool, 'SELECT 1', [], this.deadlineMs);
      if (!this.busy) this.ok = true;
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
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    if (this.busy) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.deadlineMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    for (const p of this.queue.splice(0)) p.reject(new GovernanceUnavailableError('governance log is closed'));
    if (this.ownPool) await this.pool.end().catch(() => {});
  }
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(1, Math.floor(limit)));
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
