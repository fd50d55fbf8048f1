/**
 * The sinks' shared writer queue, with a storage double: batching (group commit),
 * deadlines while queued and in flight, requeue order, exclusive tasks, close.
 * Deadlines run on fake timers and a test clock, so nothing here sleeps.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchQueue, type BatchQueueOptions } from '../../../src/governance/batchQueue.js';
import type { Pending } from '../../../src/governance/pending.js';
import { GovernanceUnavailableError, type GovernanceEntry, type GovernanceEntryInput } from '../../../src/governance/types.js';

const added = (target: string): GovernanceEntryInput => ({ action: 'privacy-group.added', principal: 'admin@contoso.com', via: 'admin-api', target });
const targetOf = (p: Pending) => p.input.target;
/** what a storage would acknowledge: the input's target stands in for the entry */
const ack = (p: Pending, seq: number) => p.resolve({ seq, target: p.input.target } as GovernanceEntry);
const tick = () => new Promise((r) => setImmediate(r));

/** A storage double: records every batch; each write waits for `release()` unless `auto`. */
function storage(auto = true) {
  const batches: string[][] = [];
  let seq = 0;
  let gate: (() => void) | undefined;
  const write = async (batch: Pending[]) => {
    batches.push(batch.map(targetOf) as string[]);
    if (!auto) await new Promise<void>((r) => (gate = r));
    for (const p of batch) ack(p, ++seq);
  };
  return { batches, write, release: () => gate?.() };
}

function queue(over: Partial<BatchQueueOptions> & Pick<BatchQueueOptions, 'write'>) {
  const expired = { count: 0 };
  const q = new BatchQueue({ deadlineMs: 100, maxEntries: 3, promise: 'durable', onExpire: () => expired.count++, ...over });
  return { q, expired };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('BatchQueue', () => {
  it('hands appends of the same moment over as batches of at most maxEntries, in order', async () => {
    const s = storage();
    const { q } = queue({ write: s.write });
    const done = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((t) => q.add(added(t))));
    expect(done.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // the first append starts a batch of its own; the rest waited for it
    expect(s.batches).toEqual([['a'], ['b', 'c', 'd'], ['e', 'f', 'g']]);
  });

  it('while a batch is in flight, the next appends wait and go together', async () => {
    const s = storage(false);
    const { q } = queue({ write: s.write, maxEntries: 10 });
    const first = q.add(added('a'));
    await tick();
    const rest = ['b', 'c', 'd'].map((t) => q.add(added(t)));
    expect(q.busy).toBe(true);
    s.release();
    await first;
    await tick();
    s.release();
    await Promise.all(rest);
    expect(s.batches).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('rejects malformed input before queueing it', async () => {
    const s = storage();
    const { q } = queue({ write: s.write });
    await expect(q.add({ action: 'nope' } as unknown as GovernanceEntryInput)).rejects.toBeInstanceOf(TypeError);
    expect(s.batches).toEqual([]);
  });

  it('an entry whose deadline passes while queued is dropped: never written, onExpire told', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const s = storage(false);
    const { q, expired } = queue({ write: s.write });
    const inFlight = q.add(added('a'));
    await tick();
    const queued = q.add(added('b')).catch((e: unknown) => e);
    vi.advanceTimersByTime(99);
    expect(expired.count).toBe(0);
    vi.advanceTimersByTime(1);
    const err = await queued;
    expect(err).toBeInstanceOf(GovernanceUnavailableError);
    expect((err as Error).message).toBe('governance entry not durable within 100 ms');
    expect(await inFlight.catch((e: unknown) => e)).toBeInstanceOf(GovernanceUnavailableError);
    expect(expired.count).toBe(2);
    s.release();
    await tick();
    expect(s.batches).toEqual([['a']]); // b never reached the storage
    const next = q.add(added('c'));
    await tick();
    s.release();
    expect((await next).target).toBe('c');
  });

  it('leaves out entries with no more than minBudgetMs left (their timers reject them)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let now = 1_000_000;
    const s = storage(false);
    const { q } = queue({ write: s.write, minBudgetMs: 30, clock: { now: () => now } });
    const a = q.add(added('a'));
    await tick();
    const late = q.add(added('b')).catch((e: unknown) => e);
    now += 70; // b has 30 ms left when the writer comes back to the queue
    s.release();
    await a;
    await tick();
    expect(s.batches).toEqual([['a']]);
    vi.advanceTimersByTime(100);
    expect(await late).toBeInstanceOf(GovernanceUnavailableError);
  });

  it('requeue puts unsettled entries back at the front, in their order, and counts attempts', async () => {
    const attempts: number[][] = [];
    let retried = false;
    const { q } = queue({
      maxEntries: 2,
      write: (batch) => {
        attempts.push(batch.map((p) => p.attempts));
        if (!retried) {
          retried = true;
          batch[0].reject(new Error('refused'));
          q.requeue(batch); // a settled entry is not requeued
          return Promise.resolve();
        }
        batch.forEach((p, i) => ack(p, i));
        return Promise.resolve();
      },
    });
    const a = q.add(added('a')).catch((e: unknown) => e);
    const bcd = ['b', 'c', 'd'].map((t) => q.add(added(t)));
    expect(await a).toBeInstanceOf(Error);
    const order: string[] = [];
    await Promise.all(bcd.map((p) => p.then((e) => order.push(e.target!))));
    expect(order).toEqual(['b', 'c', 'd']);
    // a alone (attempt 1), then b, c (1 each), then d
    expect(attempts).toEqual([[1], [1, 1], [1]]);
  });

  it('requeued entries go before later ones and count a second attempt', async () => {
    const seen: string[][] = [];
    let first = true;
    const { q } = queue({
      maxEntries: 5,
      write: (batch) => {
        seen.push(batch.map((p) => `${p.input.target}${p.attempts}`));
        if (first) {
          first = false;
          q.requeue(batch);
        } else batch.forEach((p, i) => ack(p, i));
        return Promise.resolve();
      },
    });
    await Promise.all([q.add(added('a')), q.add(added('b'))]);
    expect(seen).toEqual([['a1'], ['a2', 'b1']]);
  });

  it('stuck(): a batch running past the deadline, on the queue clock', async () => {
    let now = 0;
    const s = storage(false);
    const { q } = queue({ write: s.write, clock: { now: () => now } });
    expect(q.stuck()).toBe(false);
    const a = q.add(added('a'));
    await tick();
    now = 100;
    expect(q.stuck()).toBe(false);
    now = 101;
    expect(q.stuck()).toBe(true);
    s.release();
    await a;
    await tick();
    expect(q.stuck()).toBe(false);
  });

  it('the entry time and deadline come from the clock', async () => {
    const at = Date.parse('2030-01-02T03:04:05.678Z');
    let seen: Pending | undefined;
    const { q } = queue({
      clock: { now: () => at },
      write: (batch) => {
        seen = batch[0];
        ack(batch[0], 1);
        return Promise.resolve();
      },
    });
    await q.add(added('a'));
    expect(seen?.time).toBe('2030-01-02T03:04:05.678Z');
    expect(seen?.deadlineAt).toBe(at + 100);
  });

  it('exclusive() keeps batches out while it runs, then drains what waited', async () => {
    const s = storage();
    const { q } = queue({ write: s.write });
    let end!: () => void;
    const task = q.exclusive(() => new Promise<string>((r) => (end = () => r('probed'))));
    expect(task).toBeDefined();
    expect(q.exclusive(() => Promise.resolve('x'))).toBeUndefined(); // one at a time
    const a = q.add(added('a'));
    await tick();
    expect(s.batches).toEqual([]);
    end();
    expect(await task).toBe('probed');
    expect((await a).target).toBe('a');
    expect(s.batches).toEqual([['a']]);
  });

  it('close() lets the writer finish what it holds and refuses later appends', async () => {
    const s = storage(false);
    const { q } = queue({ write: s.write, maxEntries: 1 });
    const a = q.add(added('a'));
    await tick();
    const b = q.add(added('b'));
    let closed = false;
    const closing = q.close().then(() => (closed = true));
    expect(q.closed).toBe(true);
    await expect(q.add(added('c'))).rejects.toThrow('governance log is closed');
    s.release();
    expect((await a).target).toBe('a');
    await tick();
    expect(closed).toBe(false); // the writer is still draining: b was queued before close
    s.release();
    expect((await b).target).toBe('b');
    await closing;
    expect(s.batches).toEqual([['a'], ['b']]);
  });

  it('close() waits at most the deadline for a hung batch', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { q } = queue({ write: () => new Promise<void>(() => {}), deadlineMs: 50 });
    const a = q.add(added('a')).catch((e: unknown) => e);
    await tick();
    const b = q.add(added('b')).catch((e: unknown) => e);
    let closed = false;
    const closing = q.close().then(() => (closed = true));
    vi.advanceTimersByTime(49);
    await tick();
    expect(closed).toBe(false);
    vi.advanceTimersByTime(1);
    await closing;
    // nothing acknowledged: a timed out in flight, b never reached the storage
    expect(await a).toBeInstanceOf(GovernanceUnavailableError);
    expect(await b).toBeInstanceOf(GovernanceUnavailableError);
  });
});
