/**
 * One transaction of the PostgreSQL sink's writer: one connection, every step raced
 * against the batch's budget (the least time any of its entries has left). When the
 * budget runs out the connection is dropped, so the server rolls back whatever did not
 * commit; a connection that arrives too late goes straight back to the pool.
 */
import type pg from 'pg';
import { LOCK_KEYS } from '../db/migrate.js';
import { GENESIS } from './chain.js';
import { searchableCopy } from './searchable.js';
import type { GovernanceEntry } from './types.js';

/** server-side timeouts fire this much before the client-side deadline */
const SERVER_MARGIN_MS = 100;

export class DeadlineExceeded extends Error {}

export class BatchTransaction {
  /** the budget ran out: the connection was dropped */
  timedOut = false;
  /** COMMIT went to the server: the batch may have landed, so it is never retried */
  commitSent = false;
  /** the connection to release (undefined once released or dropped) */
  private client: pg.PoolClient | undefined;
  /** the connection queries run on */
  private conn: pg.PoolClient | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly abort: Promise<never>;

  constructor(private readonly budgetMs: number) {
    let fail!: (err: Error) => void;
    this.abort = new Promise<never>((_, reject) => (fail = reject));
    this.abort.catch(() => {});
    this.timer = setTimeout(() => {
      this.timedOut = true;
      // a hung connection is dropped: the server rolls back what did not commit
      this.client?.release(true);
      this.client = undefined;
      fail(new DeadlineExceeded());
    }, budgetMs);
  }

  async connect(pool: pg.Pool): Promise<void> {
    const connecting = pool.connect();
    // a connection that arrives after the deadline goes straight back
    connecting.then(
      (c) => {
        if (this.timedOut) c.release();
      },
      () => {},
    );
    const c = await this.bounded(connecting);
    this.client = c;
    this.conn = c;
  }

  /** BEGIN with server-side timeouts inside the budget, the chain lock, then the head read under it. */
  async lockHead(): Promise<{ nextSeq: number; prevHash: string }> {
    const serverTimeout = Math.max(10, this.budgetMs - SERVER_MARGIN_MS);
    const results = (await this.bounded(
      this.conn!.query(
        `BEGIN; SET LOCAL statement_timeout = ${serverTimeout}; SET LOCAL lock_timeout = ${serverTimeout};
         SET LOCAL synchronous_commit = on;
         SELECT pg_advisory_xact_lock(${LOCK_KEYS.governance});
         SELECT seq::text AS seq, hash FROM governance_log ORDER BY governance_log.seq DESC LIMIT 1`,
      ),
    )) as unknown as pg.QueryResult[];
    const last = results[results.length - 1].rows[0] as { seq: string; hash: string } | undefined;
    return last ? { nextSeq: Number(last.seq) + 1, prevHash: last.hash } : { nextSeq: 1, prevHash: GENESIS };
  }

  /** All entries of the batch in one statement: the chained text, and its searchable jsonb copy. */
  async insert(entries: GovernanceEntry[]): Promise<void> {
    await this.bounded(
      this.conn!.query(
        `INSERT INTO governance_log (seq, id, time, action, entry, line, prev_hash, hash)
         SELECT s, i, t, a, j::jsonb, l, p, h
           FROM unnest($1::bigint[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
             AS u(s, i, t, a, j, l, p, h)`,
        [
          entries.map((e) => e.seq),
          entries.map((e) => e.id),
          entries.map((e) => e.time),
          entries.map((e) => e.action),
          entries.map((e) => JSON.stringify(searchableCopy(e))),
          entries.map((e) => JSON.stringify(e)),
          entries.map((e) => e.prevHash),
          entries.map((e) => e.hash),
        ],
      ),
    );
  }

  async commit(): Promise<void> {
    this.commitSent = true;
    await this.end('COMMIT');
  }

  async rollback(): Promise<void> {
    await this.end('ROLLBACK');
  }

  /** After a failure: the connection is dropped, never reused. */
  drop(): void {
    clearTimeout(this.timer);
    this.client?.release(true);
    this.client = undefined;
  }

  private async end(statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    await this.bounded(this.conn!.query(statement));
    clearTimeout(this.timer);
    this.conn!.release();
    this.client = undefined;
  }

  private bounded<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.abort]);
  }
}
