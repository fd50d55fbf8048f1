/** Slot metrics against prom-client's own Counter and Histogram (the oracle): same exposition after any calls. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import client from 'prom-client';
import { SlotCounter, SlotHistogram } from '../../src/metricSlots.js';

const KINDS = ['list', 'item', 'passthrough', 'export'];
const STATUSES = ['200', '404', '502', '0'];
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

function pair() {
  const plain = new client.Registry();
  const slots = new client.Registry();
  const counterConfig = { name: 'apg_requests_total', help: 'Requests', labelNames: ['kind', 'status'] as const };
  const histogramConfig = { name: 'apg_upstream_response_seconds', help: 'Latency', labelNames: ['kind'] as const, buckets: BUCKETS };
  return {
    plain,
    slots,
    oracle: { c: new client.Counter({ ...counterConfig, registers: [plain] }), h: new client.Histogram({ ...histogramConfig, registers: [plain] }) },
    fast: { c: new SlotCounter({ ...counterConfig, registers: [slots] }), h: new SlotHistogram({ ...histogramConfig, registers: [slots] }) },
  };
}

type Op = { t: 'inc'; kind: string; status: string; n?: number } | { t: 'observe'; kind: string; v: number } | { t: 'scrape' };

// dyadic values (k/1024) add up exactly in any order, so the text must match to the last digit
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    t: fc.constant('inc' as const),
    kind: fc.constantFrom(...KINDS),
    status: fc.constantFrom(...STATUSES),
    n: fc.option(fc.nat(5), { nil: undefined }),
  }),
  fc.record({ t: fc.constant('observe' as const), kind: fc.constantFrom(...KINDS), v: fc.nat(2048).map((k) => k / 1024) }),
  fc.constant({ t: 'scrape' as const }),
);

describe('SlotCounter and SlotHistogram', () => {
  it('expose exactly what prom-client would, scraped at any point', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 200 }), async (ops) => {
        const p = pair();
        for (const op of ops) {
          if (op.t === 'inc') {
            const labels = { kind: op.kind, status: op.status };
            if (op.n === undefined) {
              p.oracle.c.inc(labels);
              p.fast.c.inc(labels);
            } else {
              p.oracle.c.inc(labels, op.n);
              p.fast.c.inc(labels, op.n);
            }
          } else if (op.t === 'observe') {
            p.oracle.h.observe({ kind: op.kind }, op.v);
            p.fast.h.observe({ kind: op.kind }, op.v);
          } else {
            expect(await p.slots.metrics()).toBe(await p.plain.metrics());
          }
        }
        expect(await p.slots.metrics()).toBe(await p.plain.metrics());
        expect(await p.slots.getMetricsAsJSON()).toEqual(await p.plain.getMetricsAsJSON());
      }),
      { numRuns: 300 },
    );
  });

  it('keeps prom-client errors for bad labels and values', () => {
    const p = pair();
    expect(() => p.fast.c.inc({ kind: 'list', status: '200', principal: 'x' } as never)).toThrow();
    expect(() => p.fast.c.inc({ kind: 'list', status: '200' }, -1)).toThrow();
    expect(() => p.fast.h.observe({ kind: 'list' }, NaN)).toThrow();
    expect(() => p.fast.h.observe({ kind: 'list', bad: 'x' } as never, 1)).toThrow();
  });

  it('reset drops what the slots hold', async () => {
    const p = pair();
    p.fast.c.inc({ kind: 'list', status: '200' });
    p.fast.c.inc({ kind: 'list', status: '200' });
    p.fast.h.observe({ kind: 'list' }, 0.002);
    p.fast.h.observe({ kind: 'list' }, 0.002);
    p.fast.c.reset();
    p.fast.h.reset();
    p.fast.c.inc({ kind: 'item', status: '404' }, 3);
    p.fast.h.observe({ kind: 'item' }, 0.5);
    p.oracle.c.inc({ kind: 'item', status: '404' }, 3);
    p.oracle.h.observe({ kind: 'item' }, 0.5);
    expect(await p.slots.metrics()).toBe(await p.plain.metrics());
  });

  it('bucket counts and counts match for arbitrary latencies (sums to rounding)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...KINDS), fc.double({ min: 0, max: 20, noNaN: true })), { maxLength: 300 }), async (obs) => {
        const p = pair();
        for (const [kind, v] of obs) {
          p.oracle.h.observe({ kind }, v);
          p.fast.h.observe({ kind }, v);
        }
        const a = (await p.fast.h.get()).values;
        const b = (await p.oracle.h.get()).values;
        expect(a.map((x) => [x.metricName, x.labels])).toEqual(b.map((x) => [x.metricName, x.labels]));
        a.forEach((x, i) => {
          if (x.metricName?.endsWith('_sum')) expect(x.value).toBeCloseTo(b[i].value, 9);
          else expect(x.value).toBe(b[i].value);
        });
      }),
      { numRuns: 200 },
    );
  });
});
