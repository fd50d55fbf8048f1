/** The per-principal cache's parts: outcomes, counting, slots held at most until the deadline, prefetch. */
import { describe, expect, it } from 'vitest';
import { callSource, count, holdSlot, outcomeOf, prefetchWith, Slots, type CacheStats, type Entry } from '../../../src/directory/cache.js';
import { DirectoryError, NO_OBSERVER, type DirectoryObserver, type DirectorySource, type UserAnswer } from '../../../src/directory/types.js';

const answer: UserAnswer = { exists: true, groups: new Set(['g']) };
const entry: Entry = { answer, at: 0 };

describe('outcomeOf', () => {
  it('hit, miss, stale within staleSec, failure past it (dropped) or without an entry', () => {
    expect(outcomeOf('hit', entry, 999_999, 1000, 0)).toEqual({ outcome: 'hit' });
    expect(outcomeOf('miss', entry, 999, 1000, 500)).toEqual({ outcome: 'miss' });
    expect(outcomeOf('stale', entry, 1500, 1000, 500)).toEqual({ outcome: 'stale' });
    expect(outcomeOf('stale', entry, 1501, 1000, 500)).toEqual({ outcome: 'failure', drop: true });
    expect(outcomeOf('hit', undefined, 0, 1000, 500)).toEqual({ outcome: 'failure' });
  });
});

describe('count', () => {
  it('every non-hit is a miss; stale answers are failures too', () => {
    const c: CacheStats = { hits: 0, misses: 0, failures: 0, stale: 0 };
    for (const o of ['hit', 'miss', 'stale', 'failure'] as const) count(c, o);
    expect(c).toEqual({ hits: 1, misses: 3, failures: 2, stale: 1 });
  });
});

describe('holdSlot', () => {
  it('releases once, on abort or on release, whichever is first', async () => {
    const slots = new Slots(1);
    const ac = new AbortController();
    await slots.acquire();
    const release = holdSlot(slots, ac.signal);
    ac.abort();
    release(); // no second release
    await slots.acquire();
    let second = false;
    void slots.acquire().then(() => (second = true));
    await Promise.resolve();
    expect(second).toBe(false);
    slots.drain();
  });
});

describe('callSource', () => {
  function observer(): DirectoryObserver & { failures: string[]; latencies: number } {
    const o = { ...NO_OBSERVER, failures: [] as string[], latencies: 0 };
    o.failed = (_s, reason) => void o.failures.push(reason);
    o.latency = () => void o.latencies++;
    return o;
  }
  const source = (lookup: DirectorySource['lookup']): DirectorySource => ({ name: 'http', knowsUsers: false, lookup, close() {} });

  it('answers through a slot and observes the latency', async () => {
    const obs = observer();
    const slots = new Slots(1);
    const r = await callSource(
      { source: source(() => Promise.resolve(answer)), slots, timeoutMs: 1000, closing: new AbortController().signal, observer: obs },
      'p',
    );
    expect(r).toBe(answer);
    expect(obs.latencies).toBe(1);
    await slots.acquire(); // the slot came back
  });

  it('a failure is observed with its fixed reason; a closed cache observes nothing', async () => {
    const obs = observer();
    const failing = source(() => Promise.reject(new DirectoryError('status 500')));
    const deps = { source: failing, slots: new Slots(1), timeoutMs: 1000, closing: new AbortController().signal, observer: obs };
    await expect(callSource(deps, 'p')).rejects.toThrow('status 500');
    expect(obs.failures).toEqual(['status 500']);
    const closed = new AbortController();
    closed.abort(new DirectoryError('closed'));
    await expect(callSource({ ...deps, closing: closed.signal }, 'p')).rejects.toThrow('closed');
    expect(obs.failures).toEqual(['status 500']);
  });
});

describe('prefetchWith', () => {
  it('resolves each normalised principal once; failures and others are unknown', async () => {
    const asked: string[] = [];
    const m = await prefetchWith(
      (k) => {
        asked.push(k);
        return Promise.resolve(k === 'bad@x.com' ? 'failed' : answer);
      },
      ['Bob@X.com', ' bob@x.com', 'bad@x.com'],
    );
    expect(asked).toEqual(['bob@x.com', 'bad@x.com']);
    expect(m('BOB@x.com')).toBe(answer.groups);
    expect(m('bad@x.com')).toBe('unknown');
    expect(m('other@x.com')).toBe('unknown');
  });
});
