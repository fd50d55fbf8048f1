/**
 * In-process CPU per governance entry of the file sink (issue 26): N appends
 * kept in flight (each finished append starts the next), CPU time of the whole
 * process (`process.cpuUsage`, so the thread pool's write / fdatasync kernel
 * time counts) divided by the entries. Several builds of dist/ are measured in
 * alternating rounds of one run; the log files live in the OS temp directory
 * (put TMPDIR on the filesystem of interest).
 *
 *   node dist-bench/bench/sinkCpu.js [--rounds N] [--entries N] [--inflight 1,2,50] [dist …]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, median } from './stats.js';

interface Sink {
  append(input: unknown): Promise<unknown>;
  close(): Promise<void>;
}
type OpenSink = (opts: { file: string; instance: string }) => Promise<Sink>;

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string' }, entries: { type: 'string' }, inflight: { type: 'string' } },
});
const ROUNDS = Number(args.rounds ?? 5);
const ENTRIES = Number(args.entries ?? 2000);
const INFLIGHT = (args.inflight ?? '1,2,50').split(',').map(Number);
const DISTS = positionals.length > 0 ? positionals : ['dist'];

/** ~900 bytes on disk, like a reveal's entry. */
const entry = (i: number) => ({
  action: 'private-activities.viewed',
  principal: 'alice@contoso.com',
  via: 'header',
  request: { id: `req-${i}`, method: 'GET', path: '/api/v1/activities/', query: 'skip=5300&limit=100', clientIp: '127.0.0.1', userAgent: 'wrk' },
  privateActivities: { count: 8, ids: Array.from({ length: 8 }, (_, k) => `activity-${i}-${k}`) },
  token: { iss: 'https://idp.example.com/', jti: `jti-${i}` },
});

/** µs of process CPU per entry for `entries` appends with `inflight` in flight. */
async function measure(open: OpenSink, dir: string, inflight: number, entries: number): Promise<number> {
  const sink = await open({ file: path.join(dir, `gov-${inflight}.log`), instance: 'bench' });
  for (let i = 0; i < 50; i++) await sink.append(entry(i)); // warm-up
  let next = 0;
  const c0 = process.cpuUsage();
  const loop = async () => {
    while (next < entries) await sink.append(entry(next++));
  };
  await Promise.all(Array.from({ length: inflight }, loop));
  const c = process.cpuUsage(c0);
  await sink.close();
  return (c.user + c.system) / entries;
}

async function main(): Promise<void> {
  const opens: OpenSink[] = [];
  for (const d of DISTS) {
    const mod = (await import(pathToFileURL(path.resolve(d, 'governance/fileSink.js')).href)) as { openFileSink: OpenSink };
    opens.push(mod.openFileSink);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apg-sinkcpu-'));
  const per = new Map<string, number[]>();
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const n of INFLIGHT) {
        for (let d = 0; d < DISTS.length; d++) {
          const us = await measure(opens[d], dir, n, n === 1 ? ENTRIES / 4 : ENTRIES);
          const key = `${DISTS[d]} @${n}`;
          per.set(key, [...(per.get(key) ?? []), us]);
          process.stderr.write(`  round ${r + 1}/${ROUNDS} ${key.padEnd(28)} ${fmt(us)} µs CPU/entry\n`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('| build | in flight | CPU µs/entry (median) | per round |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const n of INFLIGHT) {
    for (const d of DISTS) {
      const xs = per.get(`${d} @${n}`)!;
      console.log(`| ${d} | ${n} | ${fmt(median(xs))} | ${xs.map((x) => fmt(x)).join(' / ')} |`);
    }
  }
  if (DISTS.length === 2) {
    // each round's second build against its first, measured back to back: the least noisy comparison
    console.log(`\n| in flight | ${DISTS[1]} ÷ ${DISTS[0]}, median of the rounds | min – max |`);
    console.log('| ---: | ---: | ---: |');
    for (const n of INFLIGHT) {
      const a = per.get(`${DISTS[0]} @${n}`)!;
      const rs = per.get(`${DISTS[1]} @${n}`)!.map((x, i) => x / a[i]);
      console.log(`| ${n} | ${median(rs).toFixed(2)} | ${Math.min(...rs).toFixed(2)} – ${Math.max(...rs).toFixed(2)} |`);
    }
  }
}

await main();
