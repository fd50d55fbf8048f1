/**
 * Who forwards (SPEC §12): with a file sink the one gateway that owns the file;
 * with PostgreSQL the replica holding a session-level advisory lock on its own
 * connection. When that replica dies its connection goes and the server
 * releases the lock; another replica's next attempt takes it over.
 */
import pg from 'pg';
import { LOCK_KEYS } from '../../db/migrate.js';
import { CONNECT_TIMEOUT_MS } from '../../db/pool.js';

export interface Lease {
  isLeader(): boolean;
  /** told when leadership is gained or lost */
  onChange: ((leader: boolean) => void) | undefined;
  close(): Promise<void>;
}

export function soleLease(): Lease {
  return { isLeader: () => true, onChange: undefined, close: () => Promise.resolve() };
}

export interface PgLeaseOptions {
  url: string;
  instance: string;
  /** how often a non-leader tries to take the lock and a leader checks its connection (default 2000 ms) */
  retryMs?: number;
  onError?: (err: unknown) => void;
}

export class PgLease implements Lease {
  onChange: ((leader: boolean) => void) | undefined;
  private leader = false;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private closed = false;

  constructor(private readonly opts: PgLeaseOptions) {
    const every = opts.retryMs ?? 2000;
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    void this.tick();
  }

  isLeader(): boolean {
    return this.leader;
  }

  private setLeader(v: boolean): void {
    if (this.leader === v) return;
    this.leader = v;
    this.onChange?.(v);
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.end().catch(() => {});
    this.setLeader(false);
  }

  /** One attempt: take the lock if we do not hold it; check the connection if we do. */
  async tick(): Promise<void> {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      if (!this.client) {
        const c = new pg.Client({
          connectionString: this.opts.url,
          connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
          query_timeout: 5000,
          keepAlive: true,
          application_name: `apg-forward-${this.opts.instance}`,
        });
        c.on('error', (err) => {
          this.opts.onError?.(err);
          this.lost(c);
        });
        c.on('end', () => this.lost(c));
        this.client = c;
        await c.connect();
      }
      const c = this.client;
      if (this.leader) {
        await c.query('SELECT 1');
        return;
      }
      const { rows } = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [LOCK_KEYS.forward]);
      if (this.closed) return;
      if (rows[0]?.ok) this.setLeader(true);
    } catch (err) {
      this.opts.onError?.(err);
      if (this.client) this.lost(this.client);
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const c = this.client;
    this.client = undefined;
    this.setLeader(false);
    // ending the session releases the lock
    if (c) await c.end().catch(() => {});
  }
}
