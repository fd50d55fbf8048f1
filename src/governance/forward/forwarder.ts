/**
 * Delivery of the governance chain to one target (SPEC §12): entries in seq
 * order, each followed by the checkpoints that cover it, at least once. Pending
 * entries are read back from the sink a batch at a time; only the position is
 * kept. Delivered means received: acknowledged (RELP, webhook), or for tcp:// and
 * tls:// written resendMs ago on a connection that has not broken since (what was
 * written later is sent again after a break, and counts in the lag meanwhile).
 * Progress is stored (beside the sink) once delivery is settled, so a
 * restart or an outage of the target resumes where it stopped; a repeat carries
 * the same seq and id. Failures back off with jitter and never reach a request.
 */
import { clockOf, type Clock } from '../../clock.js';
import type { ChainHead, RawEntry } from '../types.js';
import type { ForwardPosition, ForwardStore, StoredCheckpoint } from './store.js';
import { Signal } from './signal.js';
import { DeliveryError, type ForwardMessage, type Transport } from './types.js';

export interface ForwarderSource {
  readRange(afterSeq: number, limit: number): Promise<RawEntry[]>;
  head(): Promise<ChainHead>;
}

export interface ForwarderOptions {
  target: string;
  transport: Transport;
  source: ForwarderSource;
  store: ForwardStore;
  isLeader: () => boolean;
  /** checkpoints are configured: look for them in the store */
  checkpoints: boolean;
  batchSize: number;
  /** bytes handed to the transport per send (at least one message) */
  maxBatchBytes?: number;
  retry: { minMs: number; maxMs: number };
  /** how often to look for entries other replicas appended (default 1000 ms) */
  pollMs?: number;
  /** progress is written at most this often (default 200 ms) and when idle */
  saveEveryMs?: number;
  /** the time of resend marks and progress saves (default: the system clock) */
  clock?: Clock;
  /** the older shape of `clock`; used when no clock is given */
  now?: () => number;
  random?: () => number;
  onFailure: (err: DeliveryError | Error, attempt: number) => void;
  onLag: (lag: number) => void;
  /** the stored progress was beyond the chain's end (the log was replaced): starting over */
  onReset?: (stored: number, head: number) => void;
}

interface Mark extends ForwardPosition {
  at: number;
}

const DEFAULT_MAX_BATCH_BYTES = 1024 * 1024;
/** unsettled batches kept apart at most; beyond it the newest mark takes the next batch in (resent a little more, never less) */
const MAX_MARKS = 1000;

export class Forwarder {
  private readonly signal = new Signal();
  private readonly clock: Clock;
  private readonly random: () => number;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** handed over (next read starts after it) */
  private sent: ForwardPosition = { seq: 0, checkpointSeq: 0 };
  /** settled, and what is stored (or being stored) */
  private confirmed: ForwardPosition = { seq: 0, checkpointSeq: 0 };
  private saved: ForwardPosition = { seq: 0, checkpointSeq: 0 };
  private lastSaveAt = 0;
  private marks: Mark[] = [];
  private failures = 0;
  private leading = false;
  private head = 0;
  private cancelSleep: (() => void) | undefined;

  constructor(private readonly opts: ForwarderOptions) {
    this.clock = opts.clock ?? clockOf(opts.now);
    this.random = opts.random ?? Math.random;
    opts.transport.onBroken = () => {
      this.rewind();
      this.signal.wake();
    };
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * New entries may be there. With the committed seq, the lag is reported at once, so it grows
   * while a target is stuck inside a delivery (the loop only reports it between rounds).
   */
  wake(committedSeq?: number): void {
    if (committedSeq !== undefined && committedSeq > this.head) {
      this.head = committedSeq;
      if (this.leading) this.reportLag();
    }
    this.signal.wake();
  }

  /** The last seq handed over (for tests and metrics). */
  position(): ForwardPosition {
    return { ...this.sent };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.signal.wake();
    this.cancelSleep?.();
    this.opts.transport.close();
    await this.loop;
    // only what has settled is stored: the rest is sent again after the restart (at least once)
    this.settle();
    if (this.leading) await this.save(true).catch(() => {});
  }

  /** Forget what is not settled: it is sent again. */
  private rewind(): void {
    this.settle(); // written longer than resendMs before the break: read by the receiver
    this.marks = [];
    this.sent = { ...this.confirmed };
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 1000;
    while (!this.stopped) {
      let waitMs = pollMs;
      try {
        if (!this.opts.isLeader()) {
          if (this.leading) this.opts.onLag(0); // the new leader reports it
          this.leading = false;
          await this.signal.wait(pollMs);
          continue;
        }
        if (!this.leading) {
          // (re)gaining leadership: the previous leader may have moved on
          const pos = await this.opts.store.load(this.opts.target);
          this.sent = { ...pos };
          this.confirmed = { ...pos };
          this.saved = { ...pos };
          this.marks = [];
          this.leading = true;
        }
        const sentSomething = await this.round();
        this.failures = 0;
        this.settle();
        this.reportLag();
        await this.save(!sentSomething);
        if (sentSomething) continue;
        if (this.marks.length > 0) waitMs = Math.min(waitMs, this.marks[0].at + this.opts.transport.resendMs - this.clock.now() + 1);
      } catch (err) {
        if (this.stopped) break;
        this.failures++;
        this.rewind();
        this.opts.onFailure(err instanceof Error ? err : new Error(String(err)), this.failures);
        const cap = Math.min(this.opts.retry.maxMs, this.opts.retry.minMs * 2 ** Math.min(this.failures - 1, 30));
        // equal jitter: at least half the step, so replicas and targets do not retry in lockstep
        waitMs = cap / 2 + this.random() * (cap / 2);
        await this.sleep(waitMs);
        continue;
      }
      await this.signal.wait(waitMs);
    }
  }

  /** A back-off: new entries do not cut it short, stop() does. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.cancelSleep = undefined;
        resolve();
      }, ms);
      this.cancelSleep = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** One batch: read, merge in checkpoints, send. Answers whether anything was sent. */
  private async round(): Promise<boolean> {
    const head = await this.opts.source.head();
    this.head = head.seq;
    if (this.sent.seq > head.seq) {
      // the chain is shorter than what was delivered: the log was replaced; deliver the new one from its start
      this.opts.onReset?.(this.sent.seq, head.seq);
      this.sent = { seq: 0, checkpointSeq: 0 };
      this.confirmed = { seq: 0, checkpointSeq: 0 };
      this.marks = [];
    }
    this.reportLag();
    const entries = this.sent.seq < head.seq ? await this.opts.source.readRange(this.sent.seq, this.opts.batchSize) : [];
    const upTo = entries.length ? entries[entries.length - 1].seq : this.sent.seq;
    const cps = this.opts.checkpoints
      ? (await this.opts.store.checkpointsAfter(this.sent.checkpointSeq, this.opts.batchSize)).filter((c) => c.seq <= upTo)
      : [];
    const messages = this.merge(entries, cps);
    if (messages.length === 0) return false;
    const positions: ForwardPosition[] = [];
    let pos = { ...this.sent };
    for (const m of messages) {
      pos = m.kind === 'entry' ? { seq: m.seq, checkpointSeq: pos.checkpointSeq } : { seq: pos.seq, checkpointSeq: m.seq };
      positions.push(pos);
    }
    let last: ForwardPosition | undefined;
    try {
      await this.opts.transport.send(messages, (i) => {
        last = positions[i];
        this.sent = positions[i];
        if (this.opts.transport.resendMs <= 0) this.confirmed = positions[i];
      });
    } finally {
      if (last && this.opts.transport.resendMs > 0) this.mark(last);
    }
    this.reportLag();
    return true;
  }

  /**
   * Entries in seq order; a checkpoint right after the entry it covers (one made
   * after that entry was sent goes out with the next batch, still after it).
   * Stops at maxBatchBytes.
   */
  private merge(entries: RawEntry[], cps: StoredCheckpoint[]): ForwardMessage[] {
    const out: ForwardMessage[] = [];
    const max = this.opts.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES;
    let bytes = 0;
    let ci = 0;
    const takeCheckpoints = (upTo: number) => {
      while (ci < cps.length && cps[ci].seq <= upTo) {
        const cp = cps[ci++];
        out.push({ kind: 'checkpoint', seq: cp.seq, msgid: 'checkpoint', time: checkpointTime(cp.jws), text: cp.jws });
        bytes += cp.jws.length;
      }
    };
    takeCheckpoints(this.sent.seq);
    for (const e of entries) {
      if (out.length > 0 && bytes + e.line.length > max) break;
      const { action, time } = entryMeta(e.line);
      out.push({ kind: 'entry', seq: e.seq, msgid: action, time, text: e.line });
      bytes += e.line.length;
      takeCheckpoints(e.seq);
    }
    return out;
  }

  /** Entries committed but not yet delivered (written within resendMs counts as not yet). */
  private reportLag(): void {
    this.opts.onLag(Math.max(0, this.head - this.confirmed.seq));
  }

  /** Remembers when a batch was written; a full list folds it into the newest mark (later, so never too early). */
  private mark(pos: ForwardPosition): void {
    const m = { seq: pos.seq, checkpointSeq: pos.checkpointSeq, at: this.clock.now() };
    if (this.marks.length >= MAX_MARKS) this.marks[this.marks.length - 1] = m;
    else this.marks.push(m);
  }

  /** Marks older than resendMs on a connection that has not broken are settled. */
  private settle(): void {
    const cutoff = this.clock.now() - this.opts.transport.resendMs;
    while (this.marks.length > 0 && this.marks[0].at <= cutoff) {
      const m = this.marks.shift()!;
      this.confirmed = { seq: m.seq, checkpointSeq: m.checkpointSeq };
    }
  }

  private async save(force: boolean): Promise<void> {
    const c = this.confirmed;
    if (c.seq === this.saved.seq && c.checkpointSeq === this.saved.checkpointSeq) return;
    if (!force && this.clock.now() - this.lastSaveAt < (this.opts.saveEveryMs ?? 200)) return;
    if (!this.leading && !force) return;
    this.lastSaveAt = this.clock.now();
    await this.opts.store.save(this.opts.target, c);
    this.saved = { ...c };
  }
}

/** action and time of a stored entry line (what syslog puts in MSGID and TIMESTAMP). */
function entryMeta(line: string): { action: string; time: string } {
  try {
    const v = JSON.parse(line) as { action?: unknown; time?: unknown };
    return { action: typeof v.action === 'string' ? v.action : '-', time: typeof v.time === 'string' ? v.time : '-' };
  } catch {
    return { action: '-', time: '-' };
  }
}

function checkpointTime(jws: string): string {
  try {
    const p = JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8')) as { time?: unknown };
    return typeof p.time === 'string' ? p.time : '-';
  } catch {
    return '-';
  }
}
