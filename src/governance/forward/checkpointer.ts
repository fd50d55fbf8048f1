/**
 * Makes the periodic checkpoints that are delivered to every forward target
 * (SPEC §12): one after every `everyEntries` entries (at seq N, 2N, ...) and
 * one every `everySec` seconds when entries were added since the last one.
 * Runs on the forwarding replica only; checkpoints are stored beside the sink
 * until every target has them. Time comes from an injected clock.
 */
import { clockOf, type Clock } from '../../clock.js';
import type { CheckpointSigner } from '../checkpoint.js';
import type { ForwarderSource } from './forwarder.js';
import type { ForwardStore } from './store.js';

export interface CheckpointerOptions {
  signer: CheckpointSigner;
  source: ForwarderSource;
  store: ForwardStore;
  everyEntries: number;
  everySec: number;
  /** the time of checkpoints and of `everySec` (default: the system clock) */
  clock?: Clock;
  /** the older shape of `clock`; used when no clock is given */
  now?: () => number;
  /** at most this many count checkpoints are made per tick (a long backlog catches up over several) */
  maxPerTick?: number;
}

/** count checkpoints made for entries that existed before checkpoints were configured */
const BACKFILL = 10;

export class Checkpointer {
  private readonly clock: Clock;
  private last: number | undefined;
  private lastTimeAt: number;
  private running: Promise<number> | undefined;

  constructor(private readonly opts: CheckpointerOptions) {
    this.clock = opts.clock ?? clockOf(opts.now);
    this.lastTimeAt = this.clock.now();
  }

  /** Makes whatever checkpoints are due; answers how many. Concurrent calls share one run. */
  tick(): Promise<number> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<number> {
    const { store, source, signer, everyEntries } = this.opts;
    const head = await source.head();
    if (this.last === undefined) {
      this.last = await store.lastCheckpointSeq();
      // first start with checkpoints on a long existing chain: back-fill only its recent history
      if (this.last === 0) this.last = Math.max(0, (Math.floor(head.seq / everyEntries) - BACKFILL) * everyEntries);
    }
    let made = 0;
    const max = this.opts.maxPerTick ?? 100;
    for (let m = (Math.floor(this.last / everyEntries) + 1) * everyEntries; m <= head.seq && made < max; m += everyEntries) {
      const [entry] = await source.readRange(m - 1, 1);
      if (!entry || entry.seq !== m) break;
      const hash = (JSON.parse(entry.line) as { hash: string }).hash;
      await store.addCheckpoint({ seq: m, jws: await signer.sign({ seq: m, hash }, new Date(this.clock.now())) });
      this.last = m;
      made++;
    }
    const now = this.clock.now();
    if (now - this.lastTimeAt >= this.opts.everySec * 1000) {
      if (head.seq > this.last) {
        await store.addCheckpoint({ seq: head.seq, jws: await signer.sign(head, new Date(now)) });
        this.last = head.seq;
        made++;
      }
      this.lastTimeAt = now;
    }
    return made;
  }
}
