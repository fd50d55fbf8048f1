/** Shared deadlines against a model: a deadline fires once, within 1 ms after it is due (never earlier), unless cleared. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Deadlines, type DeadlineTimers } from '../../../src/http/deadlines.js';

/** Injected time: timers run when the test moves time past them, in due order. */
function fakeTimers() {
  let now = 0;
  let seq = 0;
  const queue = new Map<number, { at: number; fn: () => void }>();
  const timers: DeadlineTimers = {
    now: () => now,
    setTimer: (fn, ms) => {
      queue.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimer: (h) => void queue.delete(h as number),
  };
  const advanceTo = (to: number): void => {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of queue) if (e[1].at <= to && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      queue.delete(next[0]);
      now = Math.max(now, next[1].at);
      next[1].fn();
    }
    now = Math.max(now, to);
  };
  return { timers, advanceTo, pending: () => queue.size, now: () => now };
}

type Op = { t: 'set'; ms: number } | { t: 'clear'; i: number } | { t: 'advance'; by: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('set' as const), ms: fc.constantFrom(100, 250, 30.5) }),
  fc.record({ t: fc.constant('clear' as const), i: fc.nat(60) }),
  fc.record({ t: fc.constant('advance' as const), by: fc.oneof(fc.nat(40), fc.constant(0), fc.nat(400)) }),
);

describe('Deadlines', () => {
  it('fires exactly the uncleared deadlines that are due, each once, never early', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
        const f = fakeTimers();
        const dl = new Deadlines(f.timers);
        const model: { due: number; cleared: boolean; firedAt: number[] }[] = [];
        const handles: ReturnType<Deadlines['set']>[] = [];
        for (const op of ops) {
          if (op.t === 'set') {
            const m = { due: f.now() + op.ms, cleared: false, firedAt: [] as number[] };
            model.push(m);
            handles.push(dl.set(op.ms, () => m.firedAt.push(f.now())));
          } else if (op.t === 'clear' && op.i < handles.length) {
            dl.clear(handles[op.i]);
            if (model[op.i].firedAt.length === 0) model[op.i].cleared = true;
          } else if (op.t === 'advance') {
            f.advanceTo(f.now() + op.by);
          }
          for (const m of model) {
            // timers take whole milliseconds: a deadline fires within 1 ms after it is due
            if (m.cleared || f.now() < m.due) expect(m.firedAt).toEqual([]);
            else if (f.now() >= m.due + 1) expect(m.firedAt).toHaveLength(1);
            else expect(m.firedAt.length).toBeLessThanOrEqual(1);
            for (const at of m.firedAt) expect(at >= m.due && at <= m.due + 1).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('arms one timer per duration, not one per deadline', () => {
    const f = fakeTimers();
    const dl = new Deadlines(f.timers);
    const fired: number[] = [];
    for (let i = 0; i < 100; i++) dl.set(1000, () => fired.push(i));
    expect(f.pending()).toBe(1);
    f.advanceTo(1000);
    expect(fired).toHaveLength(100);
    expect(f.pending()).toBe(0);
  });

  it('a deadline set while others fire is kept', () => {
    const f = fakeTimers();
    const dl = new Deadlines(f.timers);
    const fired: string[] = [];
    dl.set(10, () => {
      fired.push('a');
      dl.set(10, () => fired.push('b'));
    });
    f.advanceTo(10);
    expect(fired).toEqual(['a']);
    f.advanceTo(19);
    expect(fired).toEqual(['a']);
    f.advanceTo(20);
    expect(fired).toEqual(['a', 'b']);
  });

  it('close stops the timers; later deadlines still fire', () => {
    const f = fakeTimers();
    const dl = new Deadlines(f.timers);
    const fired: string[] = [];
    dl.set(10, () => fired.push('closed'));
    dl.close();
    expect(f.pending()).toBe(0);
    dl.set(10, () => fired.push('after'));
    f.advanceTo(100);
    expect(fired).toEqual(['after']);
  });
});
