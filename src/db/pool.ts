/**
 * PostgreSQL connection pools for the governance sink and the state store.
 * A lost connection must never crash the process: pg emits 'error' on idle
 * and on checked-out clients, and an unhandled 'error' event would throw.
 */
import pg from 'pg';

export interface PoolSettings {
  url: string;
  /** connections per pool (default 5: one writer plus readers; replicas share max_connections) */
  max?: number;
  /** shows up in pg_stat_activity, so operators can tell the gateway's connections apart */
  applicationName?: string;
  /** told about connection errors; messages carry no entry content */
  onError?: (err: Error) => void;
}

export const CONNECT_TIMEOUT_MS = 2000;
const IDLE_TIMEOUT_MS = 30_000;

export function createPool(settings: PoolSettings): pg.Pool {
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: settings.max ?? 5,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    keepAlive: true,
    application_name: settings.applicationName ?? 'activity-privacy-gateway',
  });
  const report = (err: Error) => {
    try {
      settings.onError?.(err);
    } catch {
      /* a faulty reporter must not turn a lost connection into a crash */
    }
  };
  // idle clients: the pool removes the broken client and emits here
  pool.on('error', report);
  // checked-out clients: pg-pool detaches its own listener while a client is out
  pool.on('connect', (client) => client.on('error', report));
  return pool;
}

/** Connection-level failures (server gone, connection cut, refused, timed out). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  const msg = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(msg);
}

/** Client-side bound for reads: a hung connection is dropped (pg-pool discards it) instead of waited on forever. */
export const READ_TIMEOUT_MS = 10_000;

export function boundedQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: unknown[] = [],
  timeoutMs = READ_TIMEOUT_MS,
): Promise<pg.QueryResult<R>> {
  // query_timeout is a pg per-query option that @types/pg's QueryConfig does not list
  return pool.query<R>({ text, values, query_timeout: timeoutMs } as pg.QueryConfig);
}
