/**
 * File sink of the governance log (SPEC §6): one JSON line per entry, a single
 * writer with group commit, a hard deadline on every append, and torn-tail
 * recovery on open. The file is opened with O_DSYNC, so the one write of a
 * batch is durable when it returns (one thread-pool trip per batch); where the
 * filesystem refuses O_DSYNC, each batch is a write + fdatasync, and a notice
 * says so.
 *
 * Invariant: `goodOffset` is the end of the last durable batch; the file never
 * keeps bytes beyond it that a later batch relies on. A failed batch consumes
 * no seq: the file is truncated back to `goodOffset` before anything else is
 * written, so seq stays gap-free and the chain valid.
 */
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from '../clock.js';
import { BatchQueue } from './batchQueue.js';
import { buildEntry, GENESIS, isEntryLike } from './chain.js';
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
import { clampLimit, compileFilter, matches } from './query.js';
import { subjectLineHint } from './reports.js';
import { isTornTail, MAX_TORN_LINES, parseLine, scanLines, verifyRange, type Line, type ReadableHandle } from './verify.js';

/** The file operations the sink uses; node's fs/promises fits, tests inject faults. */
export interface SinkFileHandle extends ReadableHandle {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(len: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

export interface SinkFs {
  open(path: string, flags: number | string, mode?: number): Promise<SinkFileHandle>;
  mkdir(path: string, opts: { recursive: true }): Promise<unknown>;
  unlink(path: string): Promise<void>;
}

export const nodeFs: SinkFs = {
  open: (path, flags, mode) => fsp.open(path, flags, mode),
  mkdir: (path, opts) => fsp.mkdir(path, opts),
  unlink: (path) => fsp.unlink(path),
};

export interface FileSinkOptions {
  file: string;
  instance: string;
  /** an append not durable within this many ms rejects (default 2000, SPEC §6) */
  deadlineMs?: number;
  fs?: SinkFs;
  /** while unhealthy, probe the disk this often (default 1000 ms; 0 = never) */
  probeIntervalMs?: number;
  /** told about I/O failures (for logs/metrics); messages carry no entry content */
  onError?: (err: unknown) => void;
  /** the time of entries and deadlines (default: the system clock) */
  clock?: Clock;
  /** told when the sink falls back from O_DSYNC to write + fdatasync (default: a process warning) */
  onNotice?: (msg: string) => void;
}

export interface FileGovernanceSink extends GovernanceSink {
  /** Checks that the disk takes and syncs a small write; healthy() follows the answer. */
  probe(): Promise<boolean>;
}

const DEFAULT_DEADLINE_MS = 2000;
const MAX_BATCH_ENTRIES = 512;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** every INDEX_EVERY-th entry's offset is kept, so read() can seek without holding the file */
const INDEX_EVERY = 1024;

/**
 * How a batch becomes durable: 'dsync', the file is open with O_DSYNC and the
 * write itself is; 'datasync', a write and then an fdatasync.
 */
export type SyncMode = 'dsync' | 'datasync';

/** 0 where the platform has no O_DSYNC (then every batch is write + fdatasync) */
const O_DSYNC: number = constants.O_DSYNC ?? 0;

export async function openFileSink(opts: FileSinkOptions): Promise<FileGovernanceSink> {
  const fs = opts.fs ?? nodeFs;
  const notice = opts.onNotice ?? ((msg: string) => process.emitWarning(msg, 'GovernanceLogWarning'));
  const { handle, created, mode } = await openLog(fs, opts.file, notice);
  try {
    const state = await recover(handle);
    if (created) await syncDir(fs, dirname(opts.file));
    return new FileSink(opts, fs, handle, state, mode);
  } catch (err) {
    await handle.close().catch(() => {});
    throw err;
  }
}

/** Opens the log with O_DSYNC; where that flag is refused, without it (and says so: durability then takes an fdatasync). */
async function openLog(fs: SinkFs, file: string, notice: (msg: string) => void): Promise<Opened & { mode: SyncMode }> {
  if (O_DSYNC !== 0) {
    try {
      return { ...(await openOrCreate(fs, file, O_DSYNC)), mode: 'dsync' };
    } catch (err) {
      if (!refusesDsync(err)) throw err;
      notice(`governance log: the filesystem refused O_DSYNC (${(err as NodeJS.ErrnoException).code}); each batch is written and then fdatasync'd`);
    }
  } else notice("governance log: no O_DSYNC on this platform; each batch is written and then fdatasync'd");
  return { ...(await openOrCreate(fs, file, 0)), mode: 'datasync' };
}

/** The errors open(2) gives for a flag the filesystem does not support. */
function refusesDsync(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EINVAL' || code === 'ENOTSUP' || code === 'EOPNOTSUPP';
}

interface Opened {
  handle: SinkFileHandle;
  created: boolean;
}

async function openOrCreate(fs: SinkFs, file: string, extra: number): Promise<Opened> {
  try {
    return { handle: await fs.open(file, constants.O_RDWR | extra), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.mkdir(dirname(file), { recursive: true });
  // 0600: the log holds private activity ids
  return { handle: await fs.open(file, constants.O_RDWR | constants.O_CREAT | extra, 0o600), created: true };
}

/** Makes a new file's directory entry durable too (best effort: not every fs allows it). */
async function syncDir(fs: SinkFs, dir: string): Promise<void> {
  try {
    const d = await fs.open(dir, constants.O_RDONLY);
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    /* ignored: durability of the entries themselves does not depend on it */
  }
}

interface RecoveredState {
  goodOffset: number;
  nextSeq: number;
  lastHash: string;
  checkpoints: Array<{ seq: number; offset: number }>;
}

/** Scans the file once: builds the sparse index, cuts a torn tail, finds where the chain continues. */
async function recover(handle: SinkFileHandle): Promise<RecoveredState> {
  const { size } = await handle.stat();
  const checkpoints: Array<{ seq: number; offset: number }> = [];
  const tail: Line[] = []; // last lines, to cut a torn suffix
  let lineNo = 0;
  for await (const line of scanLines(handle, 0, size)) {
    if (lineNo % INDEX_EVERY === 0) {
      const parsed = parseLine(line.bytes);
      if (isEntryLike(parsed)) checkpoints.push({ seq: parsed.seq, offset: line.offset });
    }
    lineNo++;
    tail.push(line);
    if (tail.length > MAX_TORN_LINES + 1) tail.shift();
  }
  let goodOffset = size;
  let last: { seq: number; hash: string } | undefined;
  let cut = 0;
  for (let i = tail.length - 1; i >= 0; i--) {
    const parsed = tail[i].terminated ? parseLine(tail[i].bytes) : undefined;
    if (!isTornTail(tail[i], parsed)) {
      last = parsed as { seq: number; hash: string };
      break;
    }
    goodOffset = tail[i].offset;
    if (++cut > MAX_TORN_LINES) {
      // More garbage than a crash mid-batch can leave: not ours to delete.
      throw new Error(`governance file ends with more than ${MAX_TORN_LINES} unreadable lines; inspect it before restarting`);
    }
  }
  if (goodOffset < size) {
    await handle.truncate(goodOffset);
    await handle.datasync();
  }
  while (checkpoints.length > 0 && checkpoints[checkpoints.length - 1].offset >= goodOffset) checkpoints.pop();
  return { goodOffset, nextSeq: last ? last.seq + 1 : 1, lastHash: last ? last.hash : GENESIS, checkpoints };
}

class FileSink implements FileGovernanceSink {
  private readonly probeIntervalMs: number;
  private readonly queue: BatchQueue;
  private goodOffset: number;
  private nextSeq: number;
  private lastHash: string;
  private readonly checkpoints: Array<{ seq: number; offset: number }>;
  /** a failed batch may have left bytes past goodOffset */
  private needsTruncate = false;
  private ok = true;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: FileSinkOptions,
    private readonly fs: SinkFs,
    private readonly handle: SinkFileHandle,
    state: RecoveredState,
    private readonly mode: SyncMode,
  ) {
    this.probeIntervalMs = opts.probeIntervalMs ?? 1000;
    // the writer (or a probe, through queue.exclusive) owns the file tail
    this.queue = new BatchQueue({
      deadlineMs: opts.deadlineMs ?? DEFAULT_DEADLINE_MS,
      maxEntries: MAX_BATCH_ENTRIES,
      promise: 'durable',
      clock: opts.clock,
      write: (batch) => this.writeBatch(batch),
      onExpire: () => this.markUnhealthy(),
    });
    this.goodOffset = state.goodOffset;
    this.nextSeq = state.nextSeq;
    this.lastHash = state.lastHash;
    this.checkpoints = state.checkpoints;
  }

  private get closed(): boolean {
    return this.queue.closed;
  }

  append(input: GovernanceEntryInput): Promise<GovernanceEntry> {
    return this.queue.add(input);
  }

  /**
   * One write for the batch (up to MAX_BATCH_BYTES; the rest goes back, in
   * order), durable when it returns (O_DSYNC), else followed by one fdatasync.
   */
  private async writeBatch(batch: Pending[]): Promise<void> {
    const chunk = this.chainChunk(batch);
    const taken = batch.slice(0, chunk.entries.length);
    this.queue.requeue(batch.slice(taken.length));
    try {
      await this.cutFailedTail();
      await writeAll(this.handle, Buffer.concat(chunk.lines), this.goodOffset);
      if (this.mode === 'datasync') await this.handle.datasync();
    } catch (err) {
      await this.batchFailed(err);
      const failure = new GovernanceUnavailableError('governance log write failed', { cause: err });
      for (const p of taken) p.reject(failure);
      return;
    }
    this.advance(chunk);
    this.markHealthy();
    taken.forEach((p, i) => p.resolve(chunk.entries[i]));
  }

  /** The batch's entries chained onto the durable head, and their lines, up to the byte cap. */
  private chainChunk(batch: Pending[]): Chunk {
    const entries: GovernanceEntry[] = [];
    const lines: Buffer[] = [];
    let seq = this.nextSeq;
    let prevHash = this.lastHash;
    let bytes = 0;
    for (const p of batch) {
      if (bytes >= MAX_BATCH_BYTES) break;
      const entry = buildEntry(p.input, { seq, prevHash, instance: this.opts.instance, time: p.time });
      const line = Buffer.from(JSON.stringify(entry) + '\n', 'utf8');
      entries.push(entry);
      lines.push(line);
      bytes += line.length;
      prevHash = entry.hash;
      seq++;
    }
    return { entries, lines };
  }

  /**
   * Cuts what an earlier failed batch may have left past goodOffset, durably:
   * with O_DSYNC that batch's bytes may be on disk, and a later write only
   * makes its own bytes durable, not the shorter size.
   */
  private async cutFailedTail(): Promise<void> {
    if (!this.needsTruncate) return;
    await this.handle.truncate(this.goodOffset);
    await this.handle.datasync();
    this.needsTruncate = false;
  }

  private async batchFailed(err: unknown): Promise<void> {
    this.needsTruncate = true;
    // Cut a partial write now, so the space it took is free again; if this
    // fails too, the next batch (or probe) retries it before writing.
    try {
      await this.cutFailedTail();
    } catch {
      /* retried before the next write */
    }
    this.opts.onError?.(err);
    this.markUnhealthy();
  }

  /** The chunk is durable: the head, the sparse index and goodOffset move past it. */
  private advance(chunk: Chunk): void {
    let offset = this.goodOffset;
    for (let i = 0; i < chunk.entries.length; i++) {
      if ((chunk.entries[i].seq - 1) % INDEX_EVERY === 0) this.checkpoints.push({ seq: chunk.entries[i].seq, offset });
      offset += chunk.lines[i].length;
    }
    this.goodOffset = offset;
    this.nextSeq += chunk.entries.length;
    this.lastHash = chunk.entries.at(-1)?.hash ?? this.lastHash;
  }

  private markUnhealthy(): void {
    this.ok = false;
    if (this.probeTimer || this.closed || this.probeIntervalMs <= 0) return;
    this.probeTimer = setInterval(() => {
      if (!this.queue.busy) void this.probe();
    }, this.probeIntervalMs);
    this.probeTimer.unref();
  }

  private markHealthy(): void {
    this.ok = true;
    this.stopProbing();
  }

  private stopProbing(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = undefined;
  }

  healthy(): boolean {
    return this.ok && !this.closed && !this.queue.stuck();
  }

  async probe(): Promise<boolean> {
    if (this.closed) return false;
    return (await this.queue.exclusive(() => this.probeDisk())) ?? this.healthy();
  }

  /** Writes a small file beside the log as durably as the log's batches (with the file tail held). */
  private async probeDisk(): Promise<boolean> {
    const probeFile = this.opts.file + '.probe';
    const dsync = this.mode === 'dsync' ? O_DSYNC : 0;
    try {
      await this.cutFailedTail();
      const h = await this.fs.open(probeFile, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | dsync, 0o600);
      try {
        await writeAll(h, Buffer.alloc(4096), 0);
        if (this.mode === 'datasync') await h.datasync();
      } finally {
        await h.close();
      }
      this.markHealthy();
      return true;
    } catch (err) {
      this.opts.onError?.(err);
      this.ok = false;
      return false;
    } finally {
      await this.fs.unlink(probeFile).catch(() => {});
    }
  }

  async read(opts: ReadOptions): Promise<ReadResult> {
    if (this.closed) throw new Error('governance log is closed');
    const filter = compileFilter(opts);
    const afterSeq = filter.afterSeq;
    const limit = clampLimit(opts.limit);
    // Snapshot: only durable entries are served.
    const end = this.goodOffset;
    const lastSeq = this.nextSeq - 1;
    const entries: GovernanceEntry[] = [];
    for await (const line of scanLines(this.handle, this.seekOffset(afterSeq + 1), end)) {
      const parsed = parseLine(line.bytes);
      if (!isEntryLike(parsed) || parsed.seq <= afterSeq) continue;
      const entry = parsed as unknown as GovernanceEntry;
      if (!matches(filter, entry)) continue;
      entries.push(entry);
      if (entries.length >= limit) return { entries, nextAfterSeq: entry.seq };
    }
    // Everything up to the snapshot was scanned: the caller may continue from its end.
    return { entries, nextAfterSeq: Math.max(afterSeq, lastSeq, entries.at(-1)?.seq ?? 0) };
  }

  async *stream(opts: QueryFilter): AsyncIterable<GovernanceEntry> {
    if (this.closed) throw new Error('governance log is closed');
    const filter = compileFilter(opts);
    // Snapshot of the durable part; lines are read a chunk at a time, so memory stays flat for any log size.
    const end = this.goodOffset;
    const hint = opts.subject ? subjectLineHint(opts.subject) : undefined;
    for await (const line of scanLines(this.handle, this.seekOffset(filter.afterSeq + 1), end)) {
      if (hint && !hint(line.bytes)) continue;
      const parsed = parseLine(line.bytes);
      if (!isEntryLike(parsed)) continue;
      const entry = parsed as unknown as GovernanceEntry;
      if (matches(filter, entry)) yield entry;
    }
  }

  async readRange(afterSeq: number, limit: number): Promise<RawEntry[]> {
    if (this.closed) throw new Error('governance log is closed');
    const after = Number.isSafeInteger(afterSeq) && afterSeq > 0 ? afterSeq : 0;
    const out: RawEntry[] = [];
    if (limit < 1 || after >= this.nextSeq - 1) return out;
    // Snapshot: only durable entries are served.
    for await (const line of scanLines(this.handle, this.seekOffset(after + 1), this.goodOffset)) {
      const seq = lineSeq(line.bytes);
      if (seq === undefined || seq <= after) continue;
      out.push({ seq, line: line.bytes.toString('utf8') });
      if (out.length >= limit) break;
    }
    return out;
  }

  head(): Promise<ChainHead> {
    return Promise.resolve({ seq: this.nextSeq - 1, hash: this.lastHash });
  }

  /** Offset of the last indexed entry at or before `seq` (0 when none). */
  private seekOffset(seq: number): number {
    let lo = 0;
    let hi = this.checkpoints.length - 1;
    let best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.checkpoints[mid].seq <= seq) {
        best = this.checkpoints[mid].offset;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  async verify(): Promise<VerifyResult> {
    if (this.closed) throw new Error('governance log is closed');
    const r = await verifyRange(this.handle, this.goodOffset);
    return r.ok ? { ok: true, count: r.count } : { ok: false, count: r.count, brokenAtSeq: r.brokenAtSeq };
  }

  /** Lets the running batch finish (bounded by the deadline), refuses what is queued, releases the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.stopProbing();
    await this.queue.close();
    await this.handle.close();
  }
}

interface Chunk {
  entries: GovernanceEntry[];
  lines: Buffer[];
}

const SEQ_PREFIX = Buffer.from('{"seq":');

/** The seq of an entry line: read from the prefix the writer always puts first, else by parsing. */
function lineSeq(bytes: Buffer): number | undefined {
  if (bytes.subarray(0, SEQ_PREFIX.length).equals(SEQ_PREFIX)) {
    let n = 0;
    let i = SEQ_PREFIX.length;
    for (; i < bytes.length && i < SEQ_PREFIX.length + 16; i++) {
      const c = bytes[i];
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + (c - 0x30);
    }
    if (i > SEQ_PREFIX.length && bytes[i] === 0x2c && Number.isSafeInteger(n)) return n;
  }
  const parsed = parseLine(bytes);
  return isEntryLike(parsed) ? parsed.seq : undefined;
}

async function writeAll(h: SinkFileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await h.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('short write');
    done += bytesWritten;
  }
}
