/**
 * State store shared by many replicas through PostgreSQL. Mutations run in a
 * transaction serialised by an advisory lock and reuse the pure transitions
 * of mutations.ts, so they mean exactly what the file store means; each one
 * ends with NOTIFY apg_state. Every instance LISTENs on a dedicated
 * connection and reloads the whole (small) state on a notification, polls as
 * a safety net, and keeps serving the last known state while the database is
 * away — filtering never waits for the database.
 */
import { systemClock } from '../clock.js';
import pg from 'pg';
import type { RevealRequest } from '../privacy/approval.js';
import type { GroupInterval, GroupMode } from '../privacy/types.js';
import { LOCK_KEYS, migrate, SEEDED_KEY } from '../db/migrate.js';
import { boundedQuery, createPool, CONNECT_TIMEOUT_MS } from '../db/pool.js';
import {
  parseState,
  seedState,
  withGroupAdded,
  withGroupRemoved,
  withPermissionGranted,
  withPermissionRevoked,
  withRevealRequestCreated,
  withRevealRequestDecided,
  withChangeCreated,
  withChangeDecided,
  requiredStatus,
  type StateSeed,
} from './mutations.js';
import {
  StateConflictError,
  StateNotFoundError,
  StateUnavailableError,
  type PermissionLimits,
  type PermissionRecord,
  type PrivacyState,
  type RevealRequestDecision,
  type ChangeDecision,
  type PrivacyChange,
  type StateStore,
} from './types.js';

export interface PostgresStateOptions {
  /** one of url / pool; a pool passed in is not ended by close() */
  url?: string;
  pool?: pg.Pool;
  /** written once in the database's life (marker state_meta.seeded), even if replicas start together */
  seed: StateSeed;
  /** names this instance's connections in pg_stat_activity */
  instance?: string;
  /** safety-net reload interval (default 5000 ms) */
  pollIntervalMs?: number;
  /** listener reconnect backoff (default 250 ms doubling to 5000 ms) */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** a mutation not committed within this many ms fails (default 5000) */
  mutationTimeoutMs?: number;
  now?: number;
  onError?: (err: unknown) => void;
}

export const STATE_CHANNEL = 'apg_state';

/** Runs one statement; mutations bind it to their transaction's client and deadline. */
type Exec = (text: string, values?: unknown[]) => Promise<pg.QueryResult>;

/** The whole state in one statement, so groups and permissions come from one snapshot. */
const LOAD_STATE = `
  SELECT json_build_object(
    'groups', (SELECT coalesce(json_agg(json_build_object(
                 'id', id, 'name', name, 'privateSince', private_since, 'privateUntil', private_until, 'mode', mode) ORDER BY pk), '[]'::json)
               FROM privacy_groups),
    'permissions', (SELECT coalesce(json_agg(json_build_object(
                 'principal', principal,
                 'grantedAt', to_char(granted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                 'grantedBy', granted_by,
                 'groups', groups,
                 'expiresAt', to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) ORDER BY granted_at, principal), '[]'::json)
               FROM privacy_permissions),
    'revealRequests', (SELECT coalesce(json_agg(doc ORDER BY created_at, id), '[]'::json) FROM reveal_requests),
    'changes', (SELECT coalesce(json_agg(doc ORDER BY created_at, id), '[]'::json) FROM privacy_changes)) AS doc`;

async function loadState(exec: Exec): Promise<PrivacyState> {
  const { rows } = await exec(LOAD_STATE);
  return parseState((rows[0] as { doc: unknown }).doc);
}

async function writeState(client: pg.PoolClient, state: PrivacyState): Promise<void> {
  for (const g of state.groups) {
    await client.query('INSERT INTO privacy_groups (id, name, private_since, private_until, mode) VALUES ($1, $2, $3, $4, $5)', [
      g.id,
      g.name ?? g.id,
      g.privateSince,
      g.privateUntil,
      g.mode ?? 'hide',
    ]);
  }
  for (const p of state.permissions) {
    await client.query('INSERT INTO privacy_permissions (principal, granted_at, granted_by, groups, expires_at) VALUES ($1, $2, $3, $4::jsonb, $5)', [
      p.principal,
      p.grantedAt,
      p.grantedBy,
      p.groups === undefined ? null : JSON.stringify(p.groups),
      p.expiresAt ?? null,
    ]);
  }
}

/** The PostgreSQL store: a StateStore that can also be told to reload now (what a notification or a poll does). */
export type PostgresStateStoreApi = StateStore & { reload(): Promise<void> };

export async function openPostgresStateStore(opts: PostgresStateOptions): Promise<PostgresStateStoreApi> {
  if (!opts.pool && !opts.url) throw new TypeError('openPostgresStateStore: url or pool is required');
  const instance = opts.instance ?? 'apg';
  const ownPool = !opts.pool;
  const pool = opts.pool ?? createPool({ url: opts.url!, applicationName: `apg-state-${instance}`, onError: opts.onError });
  try {
    await migrate(pool, {
      // inside the migration lock: replicas starting together seed exactly once, and
      // the marker (same transaction) keeps a later restart from re-seeding a state
      // that was emptied on purpose (every permission revoked)
      then: async (client) => {
        const { rows } = await client.query('SELECT 1 FROM state_meta WHERE key = $1', [SEEDED_KEY]);
        if (rows.length > 0) return;
        await writeState(client, seedState(opts.seed, opts.now ?? systemClock.now()));
        await client.query('INSERT INTO state_meta (key, value) VALUES ($1, $2)', [SEEDED_KEY, new Date(opts.now ?? systemClock.now()).toISOString()]);
      },
    });
    const initial = await loadState((t, v) => boundedQuery(pool, t, v));
    const store = new PostgresStateStore(opts, pool, ownPool, initial, instance);
    await store.start();
    return store;
  } catch (err) {
    if (ownPool) await pool.end().catch(() => {});
    throw err;
  }
}

class PostgresStateStore implements StateStore {
  private state: PrivacyState;
  private stateKey: string;
  private readonly listeners = new Set<(s: PrivacyState) => void>();
  /** orders results: a load issued earlier never overwrites one issued (or committed) later */
  private ticket = 0;
  private appliedTicket = 0;
  private lastLoadOk = true;
  private listener: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  private pollTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private reloadAgain = false;
  private closed = false;

  constructor(
    private readonly opts: PostgresStateOptions,
    private readonly pool: pg.Pool,
    private readonly ownPool: boolean,
    initial: PrivacyState,
    private readonly instance: string,
  ) {
    this.state = initial;
    this.stateKey = JSON.stringify(initial);
    this.backoff = opts.reconnectMinMs ?? 250;
  }

  async start(): Promise<void> {
    try {
      await this.connectListener();
    } catch (err) {
      this.report(err);
      this.scheduleReconnect();
    }
    this.pollTimer = setInterval(() => this.poll(), this.opts.pollIntervalMs ?? 5000);
    this.pollTimer.unref();
  }

  current(): PrivacyState {
    return this.state;
  }

  healthy(): boolean {
    return !this.closed && this.listener !== undefined && this.lastLoadOk;
  }

  onChange(listener: (state: PrivacyState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  addGroup(id: string, name: string | undefined, now: number, mode?: GroupMode): Promise<GroupInterval> {
    return this.mutate(
      (s) => withGroupAdded(s, id, name, now, mode),
      async (exec, g) => {
        await exec('INSERT INTO privacy_groups (id, name, private_since, private_until, mode) VALUES ($1, $2, $3, NULL, $4)', [
          g.id,
          g.name ?? g.id,
          g.privateSince,
          g.mode ?? 'hide',
        ]);
      },
    );
  }

  removeGroup(id: string, now: number): Promise<GroupInterval> {
    return this.mutate(
      (s) => withGroupRemoved(s, id, now),
      async (exec, g) => {
        const r = await exec('UPDATE privacy_groups SET private_until = $2 WHERE id = $1 AND private_until IS NULL', [g.id, g.privateUntil]);
        if (r.rowCount !== 1) throw new StateNotFoundError(`group ${id} is not private`);
      },
    );
  }

  grant(principal: string, by: string, now: number, limits?: PermissionLimits): Promise<PermissionRecord> {
    return this.mutate(
      (s) => withPermissionGranted(s, principal, by, now, limits),
      async (exec, p) => {
        // the transition allowed the grant, so a row still there is an expired permission: replaced
        await exec('DELETE FROM privacy_permissions WHERE principal = $1', [p.principal]);
        await exec('INSERT INTO privacy_permissions (principal, granted_at, granted_by, groups, expires_at) VALUES ($1, $2, $3, $4::jsonb, $5)', [
          p.principal,
          p.grantedAt,
          p.grantedBy,
          p.groups === undefined ? null : JSON.stringify(p.groups),
          p.expiresAt ?? null,
        ]);
      },
    );
  }

  revoke(principal: string): Promise<PermissionRecord> {
    return this.mutate(
      (s) => withPermissionRevoked(s, principal),
      async (exec, p) => {
        const r = await exec('DELETE FROM privacy_permissions WHERE principal = $1', [p.principal]);
        if (r.rowCount !== 1) throw new StateNotFoundError(`${p.principal} has no permission`);
      },
    );
  }

  createRevealRequest(request: RevealRequest): Promise<RevealRequest> {
    return this.mutate(
      (s) => withRevealRequestCreated(s, request),
      async (exec, r) => {
        await exec('INSERT INTO reveal_requests (id, created_at, status, doc) VALUES ($1, $2, $3, $4::jsonb)', [
          r.id,
          r.createdAt,
          r.status,
          JSON.stringify(r),
        ]);
      },
    );
  }

  decideRevealRequest(id: string, decision: RevealRequestDecision): Promise<RevealRequest> {
    return this.mutate(
      (s) => withRevealRequestDecided(s, id, decision),
      async (exec, r) => {
        const res = await exec('UPDATE reveal_requests SET status = $2, doc = $3::jsonb WHERE id = $1 AND status = $4', [
          r.id,
          r.status,
          JSON.stringify(r),
          requiredStatus(decision),
        ]);
        if (res.rowCount !== 1) throw new StateConflictError(`reveal request ${id} is no longer ${requiredStatus(decision)}`);
      },
    );
  }

  createChange(change: PrivacyChange): Promise<PrivacyChange> {
    return this.mutate(
      (s) => withChangeCreated(s, change),
      async (exec, c) => {
        await exec('INSERT INTO privacy_changes (id, created_at, status, doc) VALUES ($1, $2, $3, $4::jsonb)', [
          c.id,
          c.createdAt,
          c.status,
          JSON.stringify(c),
        ]);
      },
    );
  }

  decideChange(id: string, decision: ChangeDecision): Promise<PrivacyChange> {
    return this.mutate(
      (s) => withChangeDecided(s, id, decision),
      async (exec, c) => {
        const res = await exec("UPDATE privacy_changes SET status = $2, doc = $3::jsonb WHERE id = $1 AND status = 'pending'", [
          c.id,
          c.status,
          JSON.stringify(c),
        ]);
        if (res.rowCount !== 1) throw new StateConflictError(`privacy change ${id} is no longer pending`);
      },
    );
  }

  /**
   * Loads the state under the state lock, applies the pure transition, writes
   * its effect, notifies and commits; the state re-read inside the
   * transaction (own writes included) becomes current() once committed.
   */
  private async mutate<T>(transition: (s: PrivacyState) => [PrivacyState, T], write: (exec: Exec, result: T) => Promise<void>): Promise<T> {
    if (this.closed) throw new StateUnavailableError('state store is closed');
    const timeout = this.opts.mutationTimeoutMs ?? 5000;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.report(err);
      throw new StateUnavailableError('state database unavailable', { cause: err });
    }
    let released = false;
    const release = (destroy: boolean) => {
      if (released) return;
      released = true;
      client.release(destroy);
    };
    // the server gives up first (statement/lock timeout); this timer covers a connection that hangs
    let timer: NodeJS.Timeout | undefined;
    const abort = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        release(true);
        reject(new Error(`state change not committed within ${timeout} ms`));
      }, timeout);
    });
    abort.catch(() => {});
    const exec: Exec = (text, values) => Promise.race([client.query(text, values), abort]);
    const serverTimeout = Math.max(10, timeout - 200);
    let failed = false;
    let before: PrivacyState | undefined;
    try {
      await exec(`BEGIN; SET LOCAL statement_timeout = ${serverTimeout}; SET LOCAL lock_timeout = ${serverTimeout}`);
      await exec('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEYS.state]);
      before = await loadState(exec);
      const [, result] = transition(before);
      await write(exec, result);
      await exec(`NOTIFY ${STATE_CHANNEL}`);
      const after = await loadState(exec);
      await exec('COMMIT');
      this.apply(after, ++this.ticket);
      return result;
    } catch (err) {
      failed = true;
      if (!released) await exec('ROLLBACK').catch(() => {});
      if (err instanceof StateConflictError || err instanceof StateNotFoundError) {
        // the refusal was decided on the database's state: make sure this instance shows it too
        if (before) this.apply(before, ++this.ticket);
        throw err;
      }
      // another replica got there first despite the lock (e.g. a manual insert): same meaning
      if ((err as { code?: string }).code === '23505') throw new StateConflictError('conflicting change', { cause: err });
      this.report(err);
      throw new StateUnavailableError('state change could not be stored', { cause: err });
    } finally {
      clearTimeout(timer);
      // a failed transaction may have lost its connection: do not pool it again
      release(failed);
    }
  }

  private apply(next: PrivacyState, ticket: number): void {
    if (ticket <= this.appliedTicket) return;
    this.appliedTicket = ticket;
    const key = JSON.stringify(next);
    if (key === this.stateKey) return;
    this.state = next;
    this.stateKey = key;
    for (const l of this.listeners) {
      try {
        l(next);
      } catch (err) {
        this.report(err);
      }
    }
  }

  /** Coalesces reload requests: one runs at a time, and a request during a run causes one more run. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        const ticket = ++this.ticket;
        try {
          const next = await loadState((t, v) => boundedQuery(this.pool, t, v, CONNECT_TIMEOUT_MS * 2));
          this.lastLoadOk = true;
          this.apply(next, ticket);
        } catch (err) {
          this.lastLoadOk = false;
          this.report(err);
        }
      } while (this.reloadAgain && !this.closed);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private poll(): void {
    if (this.closed) return;
    void this.reload();
    // a listener connection that died silently (no FIN) is only noticed by using it
    const l = this.listener;
    l?.query({ text: 'SELECT 1', query_timeout: CONNECT_TIMEOUT_MS } as pg.QueryConfig).catch((err) => this.lost(l, err));
  }

  private listenerConfig(): pg.ClientConfig {
    const base: pg.ClientConfig = this.opts.url ? { connectionString: this.opts.url } : { ...(this.pool.options as pg.ClientConfig) };
    return { ...base, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, application_name: `apg-state-listen-${this.instance}` };
  }

  private async connectListener(): Promise<void> {
    const c = new pg.Client(this.listenerConfig());
    c.on('error', (err) => this.lost(c, err));
    c.on('end', () => this.lost(c));
    c.on('notification', (n) => {
      if (n.channel === STATE_CHANNEL) void this.reload();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${STATE_CHANNEL}`);
    } catch (err) {
      c.removeAllListeners('end');
      c.on('error', () => {});
      await c.end().catch(() => {});
      throw err;
    }
    if (this.closed) {
      await c.end().catch(() => {});
      return;
    }
    this.listener = c;
    this.backoff = this.opts.reconnectMinMs ?? 250;
    // catch up on whatever changed while nobody was listening
    await this.reload();
  }

  private lost(c: pg.Client, err?: unknown): void {
    if (this.listener !== c) return;
    this.listener = undefined;
    if (err) this.report(err);
    c.removeAllListeners('end');
    c.on('error', () => {});
    c.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.reconnectMaxMs ?? 5000);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connectListener().catch((err) => {
        this.report(err);
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }

  private report(err: unknown): void {
    try {
      this.opts.onError?.(err);
    } catch {
      /* reporting must not break the store */
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = undefined;
    if (l) {
      l.removeAllListeners('end');
      await l.end().catch(() => {});
    }
    await this.reloading;
    if (this.ownPool) await this.pool.end().catch(() => {});
  }
}
