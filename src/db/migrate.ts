/**
 * Schema for the PostgreSQL governance sink and state store. Idempotent and
 * safe when several replicas start at once: everything runs in one
 * transaction under a transaction-scoped advisory lock, so concurrent
 * CREATE ... IF NOT EXISTS cannot race on the catalog.
 */
import type pg from 'pg';

/** Advisory lock keys (fixed, so every replica agrees). */
export const LOCK_KEYS = {
  migration: '7041650001',
  governance: '7041650002',
  state: '7041650003',
  /** session lock held by the one replica that forwards the governance log (SPEC §12) */
  forward: '7041650004',
} as const;

/**
 * 1: governance log and state tables; 2: state_meta (the "seeded" marker);
 * 3: forwarding progress and checkpoints; 4: scoped and time-boxed permissions,
 * indexes for governance queries; 5: reveal requests (four-eyes approval);
 * 6: pending privacy changes; 7: a private group's mode (SPEC §14)
 */
export const SCHEMA_VERSION = 7;

/** state_meta key whose presence means the state tables have been seeded from config once */
export const SEEDED_KEY = 'seeded';

const SCHEMA_V1 = [
  `CREATE TABLE IF NOT EXISTS schema_version (
     version integer PRIMARY KEY,
     applied_at timestamptz NOT NULL DEFAULT now())`,
  // jsonb reorders keys, so `line` keeps the exact JSON text that was chained
  `CREATE TABLE IF NOT EXISTS governance_log (
     seq bigint PRIMARY KEY,
     id uuid UNIQUE NOT NULL,
     time timestamptz NOT NULL,
     action text NOT NULL,
     entry jsonb NOT NULL,
     line text NOT NULL,
     prev_hash text NOT NULL,
     hash text NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS governance_log_action_seq ON governance_log (action, seq)`,
  // pk keeps insertion order: intervals are listed oldest first
  `CREATE TABLE IF NOT EXISTS privacy_groups (
     pk bigserial PRIMARY KEY,
     id text NOT NULL,
     name text NOT NULL,
     private_since bigint NOT NULL,
     private_until bigint NULL)`,
  // at most one open interval per group, whatever the replicas do
  `CREATE UNIQUE INDEX IF NOT EXISTS privacy_groups_open ON privacy_groups (id) WHERE private_until IS NULL`,
  `CREATE TABLE IF NOT EXISTS privacy_permissions (
     principal text PRIMARY KEY,
     granted_at timestamptz NOT NULL,
     granted_by text NOT NULL)`,
];

const SCHEMA_V2 = [
  // Empty state tables are not proof of a fresh database (everything may have
  // been revoked); this marker is: seeding happens only while it is absent.
  `CREATE TABLE IF NOT EXISTS state_meta (
     key text PRIMARY KEY,
     value text NOT NULL)`,
  // upgrade from version 1: state that already has rows was seeded back then
  `INSERT INTO state_meta (key, value)
     SELECT '${SEEDED_KEY}', 'before schema version 2'
      WHERE EXISTS (SELECT 1 FROM privacy_groups) OR EXISTS (SELECT 1 FROM privacy_permissions)
     ON CONFLICT (key) DO NOTHING`,
];

const SCHEMA_V3 = [
  // SPEC §12: the last delivered seq (and checkpoint seq) per forward target
  `CREATE TABLE IF NOT EXISTS governance_forward (
     target text PRIMARY KEY,
     seq bigint NOT NULL,
     checkpoint_seq bigint NOT NULL DEFAULT 0,
     updated_at timestamptz NOT NULL DEFAULT now())`,
  // signed checkpoints waiting to be (or already) delivered, one per covered seq
  `CREATE TABLE IF NOT EXISTS governance_checkpoint (
     seq bigint PRIMARY KEY,
     jws text NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now())`,
];

const SCHEMA_V4 = [
  // SPEC §10: NULL = the permission covers every group / never expires
  `ALTER TABLE privacy_permissions ADD COLUMN IF NOT EXISTS groups jsonb NULL`,
  `ALTER TABLE privacy_permissions ADD COLUMN IF NOT EXISTS expires_at timestamptz NULL`,
  // SPEC §7 governance queries by principal and time
  `CREATE INDEX IF NOT EXISTS governance_log_principal_seq ON governance_log ((lower(entry->>'principal')), seq)`,
  `CREATE INDEX IF NOT EXISTS governance_log_time ON governance_log (time)`,
];

const SCHEMA_V5 = [
  // SPEC §11: one row per request; `doc` is the whole request, `status` lets a decision
  // be a conditional UPDATE (exactly one of two racing decisions wins)
  `CREATE TABLE IF NOT EXISTS reveal_requests (
     id text PRIMARY KEY,
     created_at timestamptz NOT NULL,
     status text NOT NULL,
     doc jsonb NOT NULL)`,
];

const SCHEMA_V6 = [
  // SPEC §11 v3: changes that weaken privacy, pending a second person; the same shape as reveal_requests
  `CREATE TABLE IF NOT EXISTS privacy_changes (
     id text PRIMARY KEY,
     created_at timestamptz NOT NULL,
     status text NOT NULL,
     doc jsonb NOT NULL)`,
];

const SCHEMA_V7 = [
  // SPEC §14: hide or pseudonymise; existing groups hide, as they always did. Altered only when the
  // column is missing: ALTER TABLE locks the table exclusively even when it does nothing, and a
  // replica already reading the state (groups first) would deadlock with it
  `DO $$ BEGIN
     IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'privacy_groups' AND column_name = 'mode') THEN
       ALTER TABLE privacy_groups ADD COLUMN mode text NOT NULL DEFAULT 'hide';
     END IF;
   END $$`,
];

export interface MigrateOptions {
  /** runs inside the same locked transaction after the schema exists (used to seed state exactly once) */
  then?: (client: pg.PoolClient) => Promise<void>;
}

export async function migrate(pool: pg.Pool, opts: MigrateOptions = {}): Promise<void> {
  const client = await pool.connect();
  let broken: unknown;
  try {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEYS.migration]);
      for (const stmt of [...SCHEMA_V1, ...SCHEMA_V2, ...SCHEMA_V3, ...SCHEMA_V4, ...SCHEMA_V5, ...SCHEMA_V6, ...SCHEMA_V7]) await client.query(stmt);
      for (let v = 1; v <= SCHEMA_VERSION; v++) {
        await client.query('INSERT INTO schema_version (version) VALUES ($1) ON CONFLICT DO NOTHING', [v]);
      }
      if (opts.then) await opts.then(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  } catch (err) {
    broken = err;
    throw err;
  } finally {
    // after a failure the connection may be broken: do not return it to the pool
    client.release(broken !== undefined);
  }
}
