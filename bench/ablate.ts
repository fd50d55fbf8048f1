/**
 * Ablation of the gateway's per-request cost (issue 13): where does the CPU
 * go on the list route and on a passthrough route, beyond what a bare
 * http-proxy-3 spends on the same bytes?
 *
 * Each variant is a copy of dist/ with ONE piece removed by a textual patch
 * of the compiled JavaScript (never shipped: the copies live in dist-ablate/
 * and are deleted afterwards), run as its own gateway process. All variants
 * and the bare proxy are measured in alternating rounds of the same run, and
 * the figure is the proxy process's CPU time (utime+stime) per request.
 * A patch that no longer applies (the code moved) is reported, not guessed.
 *
 *   node dist-bench/bench/ablate.js [list|page|small|reveal] [--rounds N] [--seconds S] [--only a,b] [--before DIR] (alias --base)
 *
 * `--before DIR[,DIR…]` adds one variant per directory (named by its base name): another
 * build of dist/ (e.g. the previous commit's, copied aside inside the repository),
 * measured in the same alternating rounds as the current build, for before/after
 * comparisons of a change. `--undici` adds the prototype bare proxy whose upstream leg is
 * an undici Pool (bench/children/undiciProxy.ts).
 *
 * `reveal` also measures the same gateway on the plain list request (no reveal
 * headers) in the same alternating rounds, as the row "gateway, list".
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { wrkGenerator, nodeGenerator } from './load.js';
import { procCpu, startChild, stopAll, stopProc, track, waitFor200, type Child } from './procs.js';
import { freePort, writeGatewayConfig, writeIdentity } from './setup.js';
import { fmt, median, table } from './stats.js';
import { ensureWrk } from './tools.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    only: { type: 'string' },
    before: { type: 'string' },
    base: { type: 'string' },
    undici: { type: 'boolean' },
  },
});
const SCENARIO = positionals[0] ?? 'list';
const ROUNDS = Number(args.rounds ?? 4);
const SECONDS = Number(args.seconds ?? 3);
const PATHS: Record<string, string> = {
  list: '/api/v1/activities/?skip=5300&limit=100',
  page: '/api/v1/raw-activities/?skip=5300&limit=100',
  small: '/api/v1/small/',
  // the list page with an admin token and the reveal header: one fsync'd governance entry per request
  reveal: '/api/v1/activities/?skip=5300&limit=100',
};
const log = (s: string) => process.stderr.write(s + '\n');

interface Patch {
  file: string;
  from: string;
  to: string;
}
interface Variant {
  name: string;
  what: string;
  patches: Patch[];
  nodeArgs?: string[];
  /** extra environment for the gateway process */
  env?: Record<string, string>;
  /** build to copy instead of dist/ */
  from?: string;
}

const NO_LOG: Patch = { file: 'http/accessLog.js', from: '        write(line);', to: '        ;' };
const NO_METRICS: Patch[] = [
  { file: 'http/upstream.js', from: 'deps.metrics.upstreamLatency.observe(', to: 'void (' },
  { file: 'http/accessLog.js', from: 'deps.metrics.requests.inc(', to: 'void (' },
  { file: 'http/passUpstream.js', from: 'deps.metrics.upstreamLatency.observe(', to: 'void (' },
];
const NO_TIMER: Patch = { file: 'http/exchange.js', from: 'this.deadline = this.deadlines.set(', to: 'this.deadline = void (' };
const NO_FILTER: Patch = {
  file: 'http/rewrite.js',
  from: 'const r = await filterList(body, {',
  to: 'const r = await (async (b) => ({ body: b, removed: 0, privateIds: [], privateCount: 0 }))(body, {',
};
const NO_DECIDE: Patch = { file: 'rewrite/list.js', from: 'const answer = await opts.hide(facts);', to: 'const answer = facts.map(() => false);' };
/** the log opened without O_DSYNC and no fdatasync after the batch's write */
const NO_FSYNC: Patch[] = [
  { file: 'governance/fileSink.js', from: 'const O_DSYNC = constants.O_DSYNC ?? 0;', to: 'const O_DSYNC = 0;' },
  {
    file: 'governance/fileSink.js',
    from: "if (this.mode === 'datasync')\n                await this.handle.datasync();",
    to: ';',
  },
];
const NO_CASE: Patch = { file: 'http/upstream.js', from: 'preserveHeaderKeyCase: true', to: 'preserveHeaderKeyCase: false' };
const NO_WATCH: Patch = {
  file: 'http/relay.js',
  from: '    cutOffWhenUpstreamDies(ex, upstream);\n    idleTimeout(ex, upstream);\n}',
  to: '    ex.clearDeadline();\n}',
};
const NO_GOVERNANCE: Patch = {
  file: 'http/governance.js',
  from: 'const entry = await deps.sink.append(viewedEntry(ex, identity, via, grant, shown));',
  to: "const entry = (viewedEntry(ex, identity, via, grant, shown), { id: 'ablated' });",
};
const COMMIT_DELAY: Patch = {
  file: 'governance/fileSink.js',
  from: '        void this.pump();\n        return done;',
  to: '        if (!this.busy && !this.delayed) { this.delayed = true; setTimeout(() => { this.delayed = false; void this.pump(); }, 2); }\n        return done;',
};
const WRITE_64K: Patch = {
  file: 'http/respond.js',
  from: 'res.end(ex.headOnly ? undefined : rewritten.body);',
  to: 'if (ex.headOnly) res.end(); else { const b = rewritten.body; for (let i = 0; i + 65536 < b.length; i += 65536) res.write(b.subarray(i, i + 65536)); res.end(b.subarray(Math.floor((b.length - 1) / 65536) * 65536)); }',
};
const NO_SPLICE: Patch = { file: 'http/rewrite.js', from: 'hide, remove: true });', to: 'hide, remove: false });' };
const JS_SCAN: Patch = {
  file: 'rewrite/list.js',
  from: "import { scanJsonFast } from '../engine/wasmScan.js';",
  to: "import { scanJson as scanJsonFast } from '../engine/jsonScan.js';",
};

/** glibc: serve 128 KiB–4 MiB blocks from the heap and keep freed memory, instead of a fresh mmap (page faults) per large Buffer */
const MALLOC_REUSE = { MALLOC_MMAP_THRESHOLD_: String(4 << 20), MALLOC_TRIM_THRESHOLD_: String(64 << 20) };

const MALLOC_REUSE_SMALL = { MALLOC_MMAP_THRESHOLD_: String(1 << 20), MALLOC_TRIM_THRESHOLD_: String(8 << 20) };

const VARIANTS: Variant[] = [
  { name: 'gateway', what: 'as built', patches: [] },
  { name: 'js-scanner', what: 'list scan by the JavaScript scanner instead of the engine', patches: [JS_SCAN] },
  { name: 'no-access-line', what: 'no access log line', patches: [NO_LOG] },
  { name: 'no-metrics', what: 'no request counter / upstream latency histogram', patches: NO_METRICS },
  { name: 'no-timer', what: 'no per-request upstream deadline timer', patches: [NO_TIMER] },
  { name: 'no-decision', what: 'hide() not called: nothing private, nothing spliced', patches: [NO_DECIDE] },
  { name: 'no-filter', what: 'body collected and sent back, no scan / decision / splice', patches: [NO_FILTER] },
  { name: 'bare-bones', what: 'no-filter + no access line + no metrics + no timer', patches: [NO_FILTER, NO_LOG, ...NO_METRICS, NO_TIMER] },
  { name: 'malloc-reuse', what: 'as built, glibc keeps freed large blocks (MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_)', patches: [], env: MALLOC_REUSE },
  { name: 'malloc-reuse-8m', what: 'as malloc-reuse, mmap above 1 MiB, trim above 8 MiB', patches: [], env: MALLOC_REUSE_SMALL },
  { name: 'no-filter-malloc-reuse', what: 'no-filter + malloc-reuse', patches: [NO_FILTER], env: MALLOC_REUSE },
  { name: 'no-header-case', what: 'http-proxy-3 preserveHeaderKeyCase off (response header names lower-cased)', patches: [NO_CASE] },
  { name: 'no-watch', what: 'passthrough: no idle timeout, no cut-off listeners on the upstream answer', patches: [NO_WATCH] },
  { name: 'no-pass-extras', what: 'no access line, metrics, timer, header case, idle watch', patches: [NO_LOG, ...NO_METRICS, NO_TIMER, NO_CASE, NO_WATCH] },
  { name: 'no-governance', what: 'reveal: the governance entry is built but never appended (diagnostic only)', patches: [NO_GOVERNANCE] },
  { name: 'commit-delay-2ms', what: 'reveal: a governance batch starts 2 ms after its first entry (group commit window)', patches: [COMMIT_DELAY] },
  { name: 'write-64k', what: 'list: the filtered body written in 64 KiB pieces instead of one res.end(buf)', patches: [WRITE_64K] },
  { name: 'no-splice', what: 'list: hide() decides, but nothing is cut out (the body is sent as received; diagnostic only)', patches: [NO_SPLICE] },
  { name: 'no-fsync', what: 'reveal: the governance batch is written, neither O_DSYNC nor fdatasync’d (diagnostic only)', patches: NO_FSYNC },
  { name: 'semi-space-64', what: 'as built, node --max-semi-space-size=64', patches: [], nodeArgs: ['--max-semi-space-size=64'] },
];

function buildVariant(root: string, v: Variant): string | null {
  const dir = path.join(root, v.name);
  cpSync(v.from ?? path.join(REPO, 'dist'), dir, { recursive: true });
  for (const p of v.patches) {
    const f = path.join(dir, p.file);
    const src = readFileSync(f, 'utf8');
    if (!src.includes(p.from)) return `patch no longer applies: ${p.file}: ${p.from}`;
    writeFileSync(f, src.replace(p.from, p.to));
  }
  return null;
}

async function startGateway(dir: string, v: Variant, cli: string, upstream: string, jwksFile: string): Promise<Child> {
  const port = await freePort();
  const config = writeGatewayConfig(dir, v.name, { port, upstream, jwksFile });
  const out = openSync(path.join(dir, `${v.name}.log`), 'a');
  const proc = spawn(process.execPath, [...(v.nodeArgs ?? []), cli, 'serve', '--config', config], {
    stdio: ['ignore', out, out],
    cwd: dir,
    env: { ...process.env, ...v.env },
  });
  closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(url + '/_gateway/readyz', 30_000);
  return track({ name: v.name, proc, pid: proc.pid!, url, stop: () => stopProc(proc) });
}

async function main(): Promise<void> {
  const only = args.only ? new Set(args.only.split(',')) : null;
  const variants = VARIANTS.filter((v) => !only || only.has(v.name) || v.name === 'gateway');
  const before = args.before ?? args.base;
  for (const dir of before ? before.split(',') : [])
    variants.push({ name: path.basename(dir), what: `the build in ${dir}`, patches: [], from: path.resolve(dir) });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'apg-ablate-'));
  const root = path.join(REPO, 'dist-ablate'); // inside the repo, so node_modules resolves
  mkdirSync(root, { recursive: true });
  const urlPath = PATHS[SCENARIO];
  if (!urlPath) throw new Error(`unknown scenario ${SCENARIO}`);
  try {
    const upstream = await startChild('upstream', process.execPath, [path.join(HERE, 'children', 'upstream.js')]);
    const bare = await startChild('bare proxy', process.execPath, [path.join(HERE, 'children', 'bareProxy.js'), upstream.url]);
    const { jwksFile, adminToken } = await writeIdentity(tmp);
    const headers = SCENARIO === 'reveal' ? { authorization: `Bearer ${adminToken}`, 'x-show-private-activities': 'confirm' } : undefined;
    const targets: { name: string; what: string; url: string; pid: number; headers?: Record<string, string> }[] = [
      { name: 'bare http-proxy-3', what: 'reference', url: bare.url, pid: bare.pid },
    ];
    if (args.undici) {
      const u = await startChild('bare undici', process.execPath, [path.join(HERE, 'children', 'undiciProxy.js'), upstream.url]);
      targets.push({ name: 'bare undici', what: 'prototype: the bare proxy with an undici Pool upstream', url: u.url, pid: u.pid });
    }
    const skipped: string[] = [];
    for (const v of variants) {
      const err = buildVariant(root, v);
      if (err) {
        skipped.push(`${v.name}: ${err}`);
        continue;
      }
      const gw = await startGateway(tmp, v, path.join(root, v.name, 'cli.js'), upstream.url, jwksFile);
      targets.push({ name: v.name, what: v.what, url: gw.url, pid: gw.pid, headers });
      if (headers && v.name === 'gateway') targets.push({ name: 'gateway, list', what: 'the same process, no reveal headers', url: gw.url, pid: gw.pid });
    }
    const wrk = ensureWrk(false, log);
    const gen = wrk ? wrkGenerator(wrk) : nodeGenerator();
    for (const t of targets) await gen.run({ url: t.url + urlPath, connections: 50, durationSec: 1, headers: t.headers });
    const per = new Map(targets.map((t) => [t.name, [] as { us: number; rps: number }[]]));
    for (let i = 0; i < ROUNDS; i++) {
      for (const t of targets) {
        const c0 = procCpu(t.pid);
        const r = await gen.run({ url: t.url + urlPath, connections: 50, durationSec: SECONDS, headers: t.headers });
        const us = ((procCpu(t.pid) - c0) / r.requests) * 1e6;
        per.get(t.name)!.push({ us, rps: r.rps });
        log(`  round ${i + 1}/${ROUNDS} ${t.name.padEnd(18)} ${fmt(us)} µs CPU/req  ${fmt(r.rps)} req/s${r.errors ? `  errors ${r.errors}` : ''}`);
      }
    }
    const med = (n: string) => median(per.get(n)!.map((x) => x.us));
    const bareUs = med('bare http-proxy-3');
    const base = med('gateway');
    const rows = targets.map((t) => {
      const us = med(t.name);
      return [
        t.name,
        t.what,
        fmt(us),
        t.name === 'bare http-proxy-3' ? '' : fmt(us - base),
        fmt(us - bareUs),
        (bareUs / us).toFixed(2) + '×',
        per
          .get(t.name)!
          .map((x) => fmt(x.us))
          .join(' / '),
      ];
    });
    process.stdout.write(
      `Ablation, ${SCENARIO} (GET ${urlPath}), ${ROUNDS} alternating rounds of ${SECONDS} s, wrk -t1 -c50; CPU µs per request of the proxy process (median)\n\n`,
    );
    process.stdout.write(table(['variant', 'what is removed', 'CPU µs/req', 'Δ vs gateway', 'Δ vs bare', 'bare/variant', 'per round'], rows) + '\n');
    if (skipped.length) process.stdout.write('\nSkipped: ' + skipped.join('; ') + '\n');
  } finally {
    await stopAll();
    rmSync(root, { recursive: true, force: true });
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(async (err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  await stopAll();
  process.exit(1);
});
