/**
 * Profiles the gateway under one bench scenario with `node --cpu-prof` and
 * prints the top functions by self time (how docs/benchmarks.md's bounds were found).
 *
 *   node dist-bench/bench/profile.js <passthrough|page|list|item|reveal|ndjson|json|csv|cef> [seconds]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeGenerator, wrkGenerator } from './load.js';
import { startChild, stopAll, stopProc, waitFor200 } from './procs.js';
import { freePort, writeGatewayConfig, writeIdentity } from './setup.js';
import { streamCount } from './stream.js';
import { ensureWrk } from './tools.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '..', '..', 'dist', 'cli.js');
const scenario = process.argv[2] ?? 'list';
const seconds = Number(process.argv[3] ?? 8);

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

function summarise(file: string, top = Number(process.env.APG_PROFILE_TOP ?? 30)): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id)!;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  // inclusive time of the gateway's own functions and the libraries it calls (a function counted once per sample)
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (!/\/(dist|node_modules)\//.test(f.url)) continue;
      const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
    }
  });
  const rows = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return `self time:\n${rows(self)}\n\ninclusive (gateway and library code):\n${rows(incl)}`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apg-prof-'));
  try {
    const upstream = await startChild('upstream', process.execPath, [path.join(HERE, 'children', 'upstream.js')]);
    const { jwksFile, adminToken } = await writeIdentity(dir);
    const port = await freePort();
    const config = writeGatewayConfig(dir, 'gw', { port, upstream: upstream.url, jwksFile });
    const gw = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}/prof`, CLI, 'serve', '--config', config], { stdio: 'ignore', cwd: dir });
    const url = `http://127.0.0.1:${port}`;
    await waitFor200(url + '/_gateway/readyz');
    const wrk = ensureWrk(false, () => undefined);
    const gen = wrk ? wrkGenerator(wrk) : nodeGenerator();
    const list = '/api/v1/activities/?skip=5300&limit=100';
    const exportPath: Record<string, string> = { ndjson: 'ndjson/', json: 'json/', csv: '', cef: 'cef/' };
    if (scenario in exportPath) {
      const r = await streamCount(`${url}/api/v1/activities/export/${exportPath[scenario]}?bytes=${512 * 1048576}`);
      process.stdout.write(`${scenario}: ${(r.bytes / 1048576).toFixed(0)} MiB out in ${r.seconds.toFixed(2)} s\n`);
    } else {
      const headers = scenario === 'reveal' ? { authorization: `Bearer ${adminToken}`, 'x-show-private-activities': 'confirm' } : undefined;
      let target = scenario === 'passthrough' ? '/api/v1/small/' : scenario === 'page' ? list.replace('/activities/', '/raw-activities/') : list;
      if (scenario === 'item') {
        const page = (await (await fetch(url + list)).json()) as { data: { _id: string }[] };
        target = `/api/v1/activities/${encodeURIComponent(page.data[0]._id)}/`;
      }
      const r = await gen.run({ url: url + target, connections: 50, durationSec: seconds, headers });
      process.stdout.write(`${scenario}: ${r.rps.toFixed(0)} req/s p50 ${r.p50ms.toFixed(2)} ms p99 ${r.p99ms.toFixed(2)} ms\n`);
    }
    await stopProc(gw, 'SIGINT');
    const prof = readdirSync(path.join(dir, 'prof')).find((f) => f.endsWith('.cpuprofile'));
    if (!prof) throw new Error('no profile written');
    process.stdout.write(summarise(path.join(dir, 'prof', prof)) + '\n');
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  await stopAll();
  process.exit(1);
});
