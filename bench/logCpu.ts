/**
 * In-process CPU per access line (issue 26): K lines written through
 * `fastInfo` per event-loop turn (then a setImmediate ends the turn), for
 * several builds of dist/ in alternating rounds of one run. stdout must go to
 * a file, as the gateway's does in the bench (results go to stderr):
 *
 *   node dist-bench/bench/logCpu.js [--rounds N] [--turns N] [--per-turn 1,2,4,8] dist-a dist-b > /tmp/lines.log
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { fmt, median } from './stats.js';

type Fast = (fields: Record<string, unknown>) => void;
interface LogModule {
  createLogger(level: string, instance: string): unknown;
  fastInfo(logger: unknown): Fast | undefined;
}

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string' }, turns: { type: 'string' }, 'per-turn': { type: 'string' } },
});
const ROUNDS = Number(args.rounds ?? 9);
const TURNS = Number(args.turns ?? 4000);
const PER_TURN = (args['per-turn'] ?? '1,2,4,8').split(',').map(Number);
const DISTS = positionals.length > 0 ? positionals : ['dist'];

const fields = (i: number) => ({
  msg: 'access',
  requestId: `0f6c1d2e-${i}`,
  method: 'GET',
  path: '/api/v1/small/',
  kind: 'passthrough',
  status: 200,
  ms: 1.3,
  removed: 0,
  reveal: 'none',
});
const turn = () => new Promise<void>((r) => setImmediate(r));

/** µs of process CPU per line, and per turn without lines subtracted (the setImmediate itself). */
async function measure(fast: Fast, perTurn: number): Promise<number> {
  const c0 = process.cpuUsage();
  for (let t = 0; t < TURNS; t++) {
    for (let k = 0; k < perTurn; k++) fast(fields(t * perTurn + k));
    await turn();
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / (TURNS * perTurn);
}

async function main(): Promise<void> {
  if (process.stdout.isTTY) throw new Error('send stdout to a file: node dist-bench/bench/logCpu.js … > /tmp/lines.log');
  const fasts: Fast[] = [];
  for (const d of DISTS) {
    const mod = (await import(pathToFileURL(path.resolve(d, 'log.js')).href)) as LogModule;
    fasts.push(mod.fastInfo(mod.createLogger('info', 'bench'))!);
  }
  const per = new Map<string, number[]>();
  for (let r = -1; r < ROUNDS; r++) {
    for (const k of PER_TURN) {
      for (let d = 0; d < DISTS.length; d++) {
        const us = await measure(fasts[d], k);
        if (r < 0) continue; // warm-up
        const key = `${DISTS[d]} ${k}`;
        per.set(key, [...(per.get(key) ?? []), us]);
      }
    }
  }
  const out: string[] = ['| build | lines per turn | CPU µs/line (median) | per round |', '| --- | ---: | ---: | ---: |'];
  for (const k of PER_TURN) {
    for (const d of DISTS) {
      const xs = per.get(`${d} ${k}`)!;
      out.push(`| ${d} | ${k} | ${fmt(median(xs), 1)} | ${xs.map((x) => fmt(x, 1)).join(' / ')} |`);
    }
  }
  process.stderr.write(out.join('\n') + '\n');
}

await main();
