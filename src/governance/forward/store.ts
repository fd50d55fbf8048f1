/**
 * Where forwarding keeps its progress and the checkpoints waiting for delivery
 * (SPEC §12), beside the governance sink: files next to governance.file, or the
 * tables governance_forward / governance_checkpoint in PostgreSQL.
 */
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname } from 'node:path';
import type pg from 'pg';
import { boundedQuery } from '../../db/pool.js';
import { parseLine, scanLines } from '../verify.js';

/** How far a target got: the last delivered entry seq and the last delivered checkpoint seq. */
export interface ForwardPosition {
  seq: number;
  checkpointSeq: number;
}

export interface StoredCheckpoint {
  seq: number;
  jws: string;
}

export interface ForwardStore {
  load(target: string): Promise<ForwardPosition>;
  save(target: string, pos: ForwardPosition): Promise<void>;
  /** keeps the first checkpoint made for a seq */
  addCheckpoint(cp: StoredCheckpoint): Promise<void>;
  /** checkpoints with seq > afterSeq, ascending, at most `limit` */
  checkpointsAfter(afterSeq: number, limit: number): Promise<StoredCheckpoint[]>;
  lastCheckpointSeq(): Promise<number>;
  close(): Promise<void>;
}

const START: ForwardPosition = { seq: 0, checkpointSeq: 0 };

function isPosition(v: unknown): v is ForwardPosition {
  const o = v as ForwardPosition | null;
  return !!o && Number.isSafeInteger(o.seq) && o.seq >= 0 && Number.isSafeInteger(o.checkpointSeq) && o.checkpointSeq >= 0;
}

// ---------- files next to governance.file ----------

export function progressFileOf(governanceFile: string): string {
  return `${governanceFile}.forward.json`;
}
export function checkpointFileOf(governanceFile: string): string {
  return `${governanceFile}.checkpoints.jsonl`;
}

export async function openFileForwardStore(governanceFile: string): Promise<ForwardStore> {
  const progressFile = progressFileOf(governanceFile);
  await fsp.mkdir(dirname(progressFile), { recursive: true });
  let positions: Record<string, ForwardPosition> = {};
  try {
    const parsed = JSON.parse(await fsp.readFile(progressFile, 'utf8')) as { targets?: Record<string, unknown> };
    for (const [k, v] of Object.entries(parsed.targets ?? {})) if (isPosition(v)) positions[k] = { seq: v.seq, checkpointSeq: v.checkpointSeq };
  } catch (err) {
    // missing: nothing delivered yet. Unreadable: written atomically, so only by hand; start over (at least once)
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') positions = {};
  }
  const cpFile = checkpointFileOf(governanceFile);
  const cp = await fsp.open(cpFile, constants.O_RDWR | constants.O_CREAT, 0o600);
  const index: Array<{ seq: number; offset: number }> = [];
  let end = 0;
  try {
    const { size } = await cp.stat();
    for await (const line of scanLines(cp, 0, size)) {
      if (!line.terminated) break; // a torn tail (crash mid-append): cut below
      end = line.offset + line.bytes.length + 1;
      const v = parseLine(line.bytes) as StoredCheckpoint | undefined;
      if (!v || !Number.isSafeInteger(v.seq) || typeof v.jws !== 'string') continue; // damaged: passed over, kept
      if (index.length === 0 || v.seq > index[index.length - 1].seq) index.push({ seq: v.seq, offset: line.offset });
    }
    if (end < size) await cp.truncate(end);
  } catch (err) {
    await cp.close();
    throw err;
  }
  return new FileForwardStore(progressFile, positions, cp, index, end);
}

class FileForwardStore implements ForwardStore {
  private writing: Promise<void> = Promise.resolve();
  private cpWriting: Promise<void> = Promise.resolve();

  constructor(
    private readonly progressFile: string,
    private readonly positions: Record<string, ForwardPosition>,
    private readonly cp: fsp.FileHandle,
    private readonly index: Array<{ seq: number; offset: number }>,
    private end: number,
  ) {}

  load(target: string): Promise<ForwardPosition> {
    return Promise.resolve({ ...(this.positions[target] ?? START) });
  }

  /** Atomic replace (temp file, fsync, rename): a crash leaves the old or the new progress, never a torn one. */
  save(target: string, pos: ForwardPosition): Promise<void> {
    this.positions[target] = { ...pos };
    const run = this.writing.then(async () => {
      const tmp = `${this.progressFile}.tmp`;
      const h = await fsp.open(tmp, 'w', 0o600);
      try {
        await h.writeFile(JSON.stringify({ targets: this.positions }) + '\n');
        await h.datasync();
      } finally {
        await h.close();
      }
      await fsp.rename(tmp, this.progressFile);
    });
    this.writing = run.catch(() => {});
    return run;
  }

  addCheckpoint(c: StoredCheckpoint): Promise<void> {
    const run = this.cpWriting.then(async () => {
      if (this.index.length > 0 && c.seq <= this.index[this.index.length - 1].seq) return;
      const buf = Buffer.from(JSON.stringify({ seq: c.seq, jws: c.jws }) + '\n', 'utf8');
      let done = 0;
      while (done < buf.length) done += (await this.cp.write(buf, done, buf.length - done, this.end + done)).bytesWritten;
      await this.cp.datasync();
      this.index.push({ seq: c.seq, offset: this.end });
      this.end += buf.length;
    });
    this.cpWriting = run.catch(() => {});
    return run;
  }

  async checkpointsAfter(afterSeq: number, limit: number): Promise<StoredCheckpoint[]> {
    let lo = 0;
    let hi = this.index.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.index[mid].seq <= afterSeq) lo = mid + 1;
      else hi = mid;
    }
    const out: StoredCheckpoint[] = [];
    if (lo >= this.index.length) return out;
    for await (const line of scanLines(this.cp, this.index[lo].offset, this.end)) {
      const v = parseLine(line.bytes) as StoredCheckpoint | undefined;
      if (v && Number.isSafeInteger(v.seq) && typeof v.jws === 'string' && v.seq > afterSeq) out.push({ seq: v.seq, jws: v.jws });
      if (out.length >= limit) break;
    }
    return out;
  }

  lastCheckpointSeq(): Promise<number> {
    return Promise.resolve(this.index.length ? this.index[this.index.length - 1].seq : 0);
  }

  async close(): Promise<void> {
    await this.writing;
    await this.cpWriting;
    await this.cp.close();
  }
}

// ---------- PostgreSQL ----------

/** The tables exist once the sink has migrated (schema version 3). */
export function postgresForwardStore(pool: pg.Pool): ForwardStore {
  return {
    async load(target) {
      const { rows } = await boundedQuery<{ seq: string; cp: string }>(
        pool,
        'SELECT seq::text AS seq, checkpoint_seq::text AS cp FROM governance_forward WHERE target = $1',
        [target],
      );
      return rows[0] ? { seq: Number(rows[0].seq), checkpointSeq: Number(rows[0].cp) } : { ...START };
    },
    async save(target, pos) {
      await boundedQuery(
        pool,
        `INSERT INTO governance_forward (target, seq, checkpoint_seq, updated_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (target) DO UPDATE SET seq = EXCLUDED.seq, checkpoint_seq = EXCLUDED.checkpoint_seq, updated_at = now()`,
        [target, pos.seq, pos.checkpointSeq],
      );
    },
    async addCheckpoint(c) {
      await boundedQuery(pool, 'INSERT INTO governance_checkpoint (seq, jws) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING', [c.seq, c.jws]);
    },
    async checkpointsAfter(afterSeq, limit) {
      const { rows } = await boundedQuery<{ seq: string; jws: string }>(
        pool,
        'SELECT seq::text AS seq, jws FROM governance_checkpoint WHERE seq > $1::bigint ORDER BY governance_checkpoint.seq LIMIT $2',
        [afterSeq, limit],
      );
      return rows.map((r) => ({ seq: Number(r.seq), jws: r.jws }));
    },
    async lastCheckpointSeq() {
      const { rows } = await boundedQuery<{ seq: string }>(pool, 'SELECT coalesce(max(seq), 0)::text AS seq FROM governance_checkpoint');
      return Number(rows[0].seq);
    },
    close: () => Promise.resolve(),
  };
}
