/**
 * Chain verification of the PostgreSQL governance log (SPEC §6). Streams the
 * table in seq order and recomputes the chain from the exact chained text
 * (`line`); the other columns are cross-checked against it, so editing any
 * of them (or the jsonb copy) also counts as tampering.
 */
import type pg from 'pg';
import { boundedQuery, createPool } from '../db/pool.js';
import { canonicalJson } from './canonical.js';
import { ChainChecker } from './chain.js';
import { searchableCopy } from './searchable.js';
import type { VerifyResult } from './types.js';

const BATCH = 1000;

interface Row {
  seq: string;
  id: string;
  time: Date;
  action: string;
  entry: unknown;
  line: string;
  prev_hash: string;
  hash: string;
}

export async function verifyGovernanceTable(pool: pg.Pool, batchSize = BATCH): Promise<VerifyResult> {
  const checker = new ChainChecker();
  let after = '0';
  for (;;) {
    const { rows } = await boundedQuery<Row>(
      pool,
      `SELECT seq::text AS seq, id::text AS id, time, action, entry, line, prev_hash, hash
         FROM governance_log WHERE governance_log.seq > $1::bigint ORDER BY governance_log.seq LIMIT $2`,
      [after, batchSize],
    );
    for (const row of rows) {
      const parsed = parseEntry(row.line);
      if (!checker.feed(parsed !== undefined && columnsAgree(row, parsed) ? parsed : undefined)) return checker.result();
    }
    if (rows.length < batchSize) return checker.result();
    after = rows[rows.length - 1].seq;
  }
}

function parseEntry(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function columnsAgree(row: Row, e: Record<string, unknown>): boolean {
  if (String(e.seq) !== row.seq || e.id !== row.id || e.action !== row.action) return false;
  if (e.prevHash !== row.prev_hash || e.hash !== row.hash) return false;
  if (typeof e.time !== 'string' || new Date(e.time).getTime() !== row.time.getTime()) return false;
  try {
    // the jsonb copy stands in for U+0000 (searchable.ts); rows written before that hold the strings as they are
    const copy = canonicalJson(row.entry);
    return copy === canonicalJson(searchableCopy(e)) || copy === canonicalJson(e);
  } catch {
    return false;
  }
}

/** CLI `apg governance verify` with governance.sink postgres: read-only, no migration. */
export async function verifyPostgres(url: string): Promise<VerifyResult> {
  const pool = createPool({ url, max: 1, applicationName: 'apg-governance-verify' });
  try {
    return await verifyGovernanceTable(pool);
  } finally {
    await pool.end();
  }
}

/** seq and hash of every row of governance_log in seq order, in batches (CLI checkpoint verification). */
export async function* postgresChainHeads(url: string, batchSize = BATCH): AsyncGenerator<{ seq: number; hash: string }> {
  const pool = createPool({ url, max: 1, applicationName: 'apg-governance-verify' });
  try {
    let after = '0';
    for (;;) {
      const { rows } = await boundedQuery<{ seq: string; hash: string }>(
        pool,
        'SELECT seq::text AS seq, hash FROM governance_log WHERE seq > $1::bigint ORDER BY governance_log.seq LIMIT $2',
        [after, batchSize],
      );
      for (const r of rows) yield { seq: Number(r.seq), hash: r.hash };
      if (rows.length < batchSize) return;
      after = rows[rows.length - 1].seq;
    }
  } finally {
    await pool.end();
  }
}
