/**
 * In-process CPU of per-request bookkeeping (issue 26), old and new side by side in
 * alternating rounds: what end-to-end rounds on a shared machine cannot resolve.
 *
 *   node dist-bench/bench/fixedCost.js [--rounds N] [--ops N]
 *
 * - metrics: one `apg_requests_total` inc and one `apg_upstream_response_seconds`
 *   observe per request (5 route kinds × 3 statuses), prom-client's Counter/Histogram
 *   vs SlotCounter/SlotHistogram (src/metricSlots.ts), with a scrape every 100,000
 *   requests (the scrape's cost is included);
 * - deadline: 50 requests in flight, each sets a 30 s deadline and clears it when it
 *   ends: setTimeout/clearTimeout (with the closure the Exchange made) vs Deadlines
 *   (src/http/deadlines.ts).
 *
 * Figures are CPU ns per request (process.cpuUsage), medians of the rounds.
 */
import { parseArgs } from 'node:util';
import client from 'prom-client';
import { Deadlines } from '../src/http/deadlines.js';
import { SlotCounter, SlotHistogram } from '../src/metricSlots.js';
import { median } from './stats.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, ops: { type: 'string' } } });
const ROUNDS = Number(args.rounds ?? 15);
const OPS = Number(args.ops ?? 300_000);
const KINDS = ['passthrough', 'list', 'item', 'export', 'deny'];
const STATUSES = ['200', '404', '502'];
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

type Case = { name: string; run: (ops: number) => void };

function metricsCase(name: string, slots: boolean): Case {
  const registry = new client.Registry();
  const cfgC = { name: 'apg_requests_total', help: 'r', labelNames: ['kind', 'status'] as const, registers: [registry] };
  const cfgH = { name: 'apg_upstream_response_seconds', help: 'u', labelNames: ['kind'] as const, buckets: BUCKETS, registers: [registry] };
  const requests = slots ? new SlotCounter(cfgC) : new client.Counter(cfgC);
  const latency = slots ? new SlotHistogram(cfgH) : new client.Histogram(cfgH);
  let i = 0;
  return {
    name,
    run: (ops) => {
      for (let n = 0; n < ops; n++, i++) {
        const kind = KINDS[i % 5];
        latency.observe({ kind }, ((i * 7919) % 20000) / 1e6);
        requests.inc({ kind, status: STATUSES[i % 3] });
        if (i % 100_000 === 0) void registry.metrics();
      }
    },
  };
}

function timerCase(name: string, shared: boolean): Case {
  const deadlines = new Deadlines();
  const inFlight: unknown[] = new Array(50);
  let ended = false;
  let i = 0;
  const onExpire = (): void => undefined;
  return {
    name,
    run: (ops) => {
      for (let n = 0; n < ops; n++, i++) {
        const slot = i % 50;
        const old = inFlight[slot];
        if (old) {
          if (shared) deadlines.clear(old as ReturnType<Deadlines['set']>);
          else clearTimeout(old as NodeJS.Timeout);
        }
        inFlight[slot] = shared
          ? deadlines.set(30_000, () => {
              if (!ended) onExpire();
            })
          : setTimeout(() => {
              if (!ended) onExpire();
            }, 30_000);
      }
      ended = false;
    },
  };
}

function measure(cases: Case[]): void {
  for (const c of cases) c.run(OPS); // warm-up
  const per = new Map(cases.map((c) => [c.name, [] as number[]]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) {
      const t0 = process.cpuUsage();
      c.run(OPS);
      const t = process.cpuUsage(t0);
      per.get(c.name)!.push(((t.user + t.system) * 1000) / OPS);
    }
  }
  for (const c of cases) {
    const xs = per.get(c.name)!;
    const sorted = [...xs].sort((a, b) => a - b);
    process.stdout.write(
      `${c.name.padEnd(34)} ${median(xs).toFixed(0).padStart(6)} ns/request  (min ${sorted[0].toFixed(0)}, max ${sorted[sorted.length - 1].toFixed(0)}, ${ROUNDS} rounds)\n`,
    );
  }
}

process.stdout.write(`In-process CPU per request, ${ROUNDS} alternating rounds of ${OPS} requests\n`);
measure([metricsCase('metrics: prom-client', false), metricsCase('metrics: slots', true)]);
measure([timerCase('deadline: setTimeout/clearTimeout', false), timerCase('deadline: shared Deadlines', true)]);
process.exit(0);
