/**
 * Console sessions shared by every replica through PostgreSQL (table `console_sessions`).
 * Shared rather than sticky: the identity provider's redirect back to the callback, and
 * every later API call, may land on any replica behind a plain load balancer, and signing
 * out on one replica ends the session on all of them at once.
 */
import { systemClock, type Clock } from '../clock.js';
import type pg from 'pg';
import { boundedQuery, createPool } from '../db/pool.js';
import { keyOf, type LoginData, type SessionData, type SessionStore } from './sessions.js';

/** Advisory lock key for creating the table (fixed, so replicas agree; beside db/migrate.ts's keys). */
const LOCK_KEY = '7041650010';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS console_sessions (
     key text PRIMARY KEY,
     data jsonb NOT NULL,
     expires_at bigint NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS console_sessions_expires ON console_sessions (expires_at)`,
];

export interface PostgresSessionOptions {
  url?: string;
  /** a pool passed in is not ended by close() */
  pool?: pg.Pool;
  instance?: string;
  onError?: (err: unknown) => void;
  /** the clock expired rows are swept by (default the system's) */
  clock?: Clock;
}

export async function openPostgresSessionStore(opts: PostgresSessionOptions): Promise<SessionStore> {
  const own = opts.pool === undefined;
  const pool =
    opts.pool ?? createPool({ url: opts.url!, max: 3, applicationName: `apg-console${opts.instance ? `:${opts.instance}` : ''}`, onError: opts.onError });
  try {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEY]);
      for (const stmt of SCHEMA) await client.query(stmt);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  } catch (err) {
    if (own) await pool.end().catch(() => undefined);
    throw err;
  }

  let puts = 0;
  return {
    async put(kind, id, data, expiresAt) {
      await boundedQuery(
        pool,
        `INSERT INTO console_sessions (key, data, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
        [keyOf(kind, id), JSON.stringify(data), expiresAt],
      );
      // expired rows are swept now and then, a bounded batch at a time
      if (++puts % 20 === 1) {
        await boundedQuery(pool, `DELETE FROM console_sessions WHERE key IN (SELECT key FROM console_sessions WHERE expires_at <= $1 LIMIT 1000)`, [
          (opts.clock ?? systemClock).now(),
        ]).catch((err: unknown) => opts.onError?.(err));
      }
    },
    async get(kind, id, now) {
      const { rows } = await boundedQuery<{ data: SessionData }>(pool, 'SELECT data FROM console_sessions WHERE key = $1 AND expires_at > $2', [
        keyOf(kind, id),
        now,
      ]);
      return rows[0]?.data;
    },
    async take(kind, id, now) {
      const { rows } = await boundedQuery<{ data: LoginData; expires_at: string }>(
        pool,
        'DELETE FROM console_sessions WHERE key = $1 RETURNING data, expires_at',
        [keyOf(kind, id)],
      );
      const row = rows[0];
      return row !== undefined && Number(row.expires_at) > now ? row.data : undefined;
    },
    async delete(kind, id) {
      await boundedQuery(pool, 'DELETE FROM console_sessions WHERE key = $1', [keyOf(kind, id)]);
    },
    async close() {
      if (own) await pool.end();
    },
  };
}
