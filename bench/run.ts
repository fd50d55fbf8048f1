/**
 * `npm run bench`: where the gateway stands against the upstream itself, a bare
 * http-proxy-3 and nginx, on one machine in one run (issue #7).
 *
 * Every server is its own child process (upstream, bare proxy, nginx, gateway)
 * and the load generator is wrk (or the built-in Node fallback), so no two of
 * them share an event loop. Nothing is pinned to a core. References and the
 * gateway are measured in alternating rounds (A B A B …) so drift cancels;
 * the tables show medians over rounds.
 *
 *   node dist-bench/bench/run.js [--quick] [--json] [--no-install] [--rounds N] [--seconds S] [--export-mib N]
 *        [--only passthrough,page,list,item,reveal,workers,export,pseudo,cold] [--formats ndjson,json,csv,cef]
 *
 * The primary figure of every load scenario is the proxy process's CPU time
 * (utime+stime from /proc) per request, next to req/s: on a shared 2-core
 * machine req/s moves ±15 % with the neighbours, CPU per request far less.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeGenerator, wrkGenerator, type LoadGenerator, type LoadResult } from './load.js';
import { startNginx } from './nginx.js';
import { procCpu, procMem, startChild, stopAll, stopProc, track, waitFor200, withDescendants, type Child } from './procs.js';
import { freePort, writeGatewayConfig, writeIdentity } from './setup.js';
import { fmt, fmtRatio, median, mib, ratio, table } from './stats.js';
import { streamCount } from './stream.js';
import { ensureNginx, ensureWrk, nginxVersion, wrkVersion } from './tools.js';
import { spawn } from 'node:child_process';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const CHILDREN = path.join(HERE, 'children');
const CLI = path.join(REPO, 'dist', 'cli.js');

const SMALL_PATH = '/api/v1/small/';
/** A page of 100 activities of which 20 are private under the bench policy (checked at run time). */
const LIST_PATH = '/api/v1/activities/?skip=5300&limit=100';
/** The same page on a passthrough route (the bench upstream serves it under this alias too). */
const PAGE_PATH = '/api/v1/raw-activities/?skip=5300&limit=100';
const CONNECTIONS = 50;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    'export-mib': { type: 'string' },
    only: { type: 'string' },
    formats: { type: 'string' },
  },
});
const QUICK = args.quick;
const ROUNDS = Number(args.rounds ?? (QUICK ? 2 : 4));
const SECONDS = Number(args.seconds ?? (QUICK ? 2 : 4));
const EXPORT_MIB = Number(args['export-mib'] ?? (QUICK ? 128 : 1024));
const EXPORT_ROUNDS = QUICK ? 1 : 2;
const COLD_ROUNDS = QUICK ? 2 : 5;
const ONLY = new Set((args.only ?? 'passthrough,page,list,item,reveal,workers,export,pseudo,cold').split(','));
const EXPORT_FORMATS = (args.formats ?? 'ndjson,json,csv,cef').split(',') as ExportFmt[];
type ExportFmt = 'ndjson' | 'json' | 'csv' | 'cef';
const log = (s: string) => process.stderr.write(s + '\n');

interface Target {
  name: string;
  url: string;
  /** processes whose CPU counts as the proxy's (empty for direct) */
  pids: () => number[];
}

interface Row {
  target: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  /** cores used by the proxy process(es) during the rounds (median) */
  proxyCpu: number;
  /** proxy CPU time (utime+stime) per request in µs, median over rounds: the primary figure */
  cpuUs: number;
  upstreamCpu: number;
  errors: number;
  perRound: number[];
}

const cpuOf = (pids: number[]) => pids.reduce((s, p) => s + procCpu(p), 0);

/** Alternating rounds over targets with the same path; one warm-up per target first. */
async function rounds(gen: LoadGenerator, targets: Target[], urlPath: string, upstreamPid: number, headers?: Record<string, string>): Promise<Row[]> {
  for (const t of targets) await gen.run({ url: t.url + urlPath, connections: CONNECTIONS, durationSec: 1, headers });
  const per = new Map<string, { r: LoadResult; pcpu: number; ucpu: number }[]>(targets.map((t) => [t.name, []]));
  for (let i = 0; i < ROUNDS; i++) {
    for (const t of targets) {
      const pids = t.pids();
      const c0 = cpuOf(pids);
      const u0 = procCpu(upstreamPid);
      const t0 = performance.now();
      const r = await gen.run({ url: t.url + urlPath, connections: CONNECTIONS, durationSec: SECONDS, headers });
      const sec = (performance.now() - t0) / 1000;
      per.get(t.name)!.push({ r, pcpu: pids.length ? (cpuOf(pids) - c0) / sec : NaN, ucpu: (procCpu(upstreamPid) - u0) / sec });
      const last = per.get(t.name)!.at(-1)!;
      const cpuNote = Number.isFinite(last.pcpu) ? `  ${fmt((last.pcpu / r.rps) * 1e6)} µs CPU/req` : '';
      log(
        `  round ${i + 1}/${ROUNDS} ${t.name.padEnd(22)} ${fmt(r.rps)} req/s${cpuNote}  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms${r.errors ? `  errors ${r.errors}` : ''}`,
      );
    }
  }
  return targets.map((t) => {
    const xs = per.get(t.name)!;
    return {
      target: t.name,
      rps: median(xs.map((x) => x.r.rps)),
      p50ms: median(xs.map((x) => x.r.p50ms)),
      p99ms: median(xs.map((x) => x.r.p99ms)),
      proxyCpu: median(xs.map((x) => x.pcpu)),
      cpuUs: median(xs.map((x) => (x.pcpu / x.r.rps) * 1e6)),
      upstreamCpu: median(xs.map((x) => x.ucpu)),
      errors: xs.reduce((s, x) => s + x.r.errors, 0),
      perRound: xs.map((x) => Math.round(x.r.rps)),
    };
  });
}

function loadTable(rows: Row[], ref: (r: Row) => string): string {
  return table(
    ['target', 'CPU µs/req', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU', 'upstream CPU', 'ratio', 'req/s per round'],
    rows.map((r) => [
      r.target,
      fmt(r.cpuUs),
      fmt(r.rps),
      r.p50ms.toFixed(2),
      r.p99ms.toFixed(2),
      Number.isFinite(r.proxyCpu) ? `${Math.round(r.proxyCpu * 100)}%` : '–',
      `${Math.round(r.upstreamCpu * 100)}%`,
      ref(r),
      r.perRound.join(' / '),
    ]),
  );
}

/** Bare's CPU per request over the gateway's (≥ 1 = the gateway is as cheap), and req/s gateway over bare. */
function ratios(rows: Row[]): { cpu: number; rps: number; text: string } {
  const g = rows.find((r) => r.target === 'gateway')!;
  const b = rows.find((r) => r.target === 'bare http-proxy-3')!;
  const cpu = ratio(b.cpuUs, g.cpuUs);
  const rps = ratio(g.rps, b.rps);
  return { cpu, rps, text: `CPU ${fmtRatio(cpu)} bare, req/s ${fmtRatio(rps)}` };
}

interface ExportRow {
  target: string;
  format: string;
  mibPerSec: number;
  /** proxy CPU seconds (utime+stime) per GiB of upstream bytes, median over rounds */
  cpuSecPerGiB: number;
  seconds: number;
  inBytes: number;
  outBytes: number;
  /** VmHWM after − VmHWM before this format's transfers */
  hwmGrowth: number;
  perRound: number[];
}

interface Target2 {
  name: string;
  url: string;
  pid: number;
}

const EXPORT_PATHS: Record<ExportFmt, string> = { ndjson: 'ndjson/', json: 'json/', csv: '', cef: 'cef/' };

async function exportRounds(targets: Target2[], format: ExportFmt): Promise<ExportRow[]> {
  const bytes = EXPORT_MIB * 1048576;
  const pathFor = (b: number) => `/api/v1/activities/export/${EXPORT_PATHS[format]}?bytes=${b}`;
  // warm-up (JIT, buffers, sockets) before the baseline is read
  for (const t of targets) await streamCount(t.url + pathFor(16 * 1048576));
  const before = new Map(targets.map((t) => [t.name, procMem(t.pid, 'VmHWM')]));
  const per = new Map<string, { mibps: number; sec: number; out: number; cpu: number }[]>(targets.map((t) => [t.name, []]));
  let inBytes = NaN;
  for (let i = 0; i < EXPORT_ROUNDS; i++) {
    for (const t of targets) {
      const c0 = procCpu(t.pid);
      const r = await streamCount(t.url + pathFor(bytes));
      const cpu = procCpu(t.pid) - c0;
      if (r.status !== 200 || !r.complete) throw new Error(`${t.name} ${format} export: status ${r.status}, complete ${r.complete}`);
      // the proxies' output = their input; the gateway's input is what the references carried
      if (!t.name.startsWith('gateway')) inBytes = r.bytes;
      per.get(t.name)!.push({ mibps: NaN, sec: r.seconds, out: r.bytes, cpu });
      log(
        `  round ${i + 1}/${EXPORT_ROUNDS} ${format} ${t.name.padEnd(18)} ${mib(r.bytes).toFixed(0)} MiB out in ${r.seconds.toFixed(2)} s, ${cpu.toFixed(2)} s CPU`,
      );
    }
  }
  return targets.map((t) => {
    const xs = per.get(t.name)!;
    for (const x of xs) x.mibps = mib(inBytes) / x.sec;
    return {
      target: t.name,
      format,
      mibPerSec: median(xs.map((x) => x.mibps)),
      cpuSecPerGiB: median(xs.map((x) => x.cpu / (inBytes / 2 ** 30))),
      seconds: median(xs.map((x) => x.sec)),
      inBytes,
      outBytes: xs[0].out,
      hwmGrowth: procMem(t.pid, 'VmHWM') - before.get(t.name)!,
      perRound: xs.map((x) => Math.round(x.mibps)),
    };
  });
}

async function startGatewayChild(dir: string, name: string, upstream: string, jwksFile: string, pseudonymKeyFile?: string, workers?: number): Promise<Child> {
  const port = await freePort();
  const config = writeGatewayConfig(dir, name, { port, upstream, jwksFile, pseudonymKeyFile, workers });
  // the access log goes to a file, as in production; a pipe to the bench would tax the bench's own loop
  const out = openSync(path.join(dir, `${name}.log`), 'a');
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', out, out], cwd: dir });
  closeSync(out);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor200(url + '/_gateway/readyz', 30_000);
  } catch (err) {
    await stopProc(proc, 'SIGKILL');
    throw err;
  }
  return track({ name, proc, pid: proc.pid!, url, stop: () => stopProc(proc) });
}

/** Spawn → readyz 200, in ms (a fresh config, state and governance file each time). */
async function coldStart(dir: string, upstream: string, jwksFile: string, i: number): Promise<number> {
  const port = await freePort();
  const config = writeGatewayConfig(dir, `cold-${i}`, { port, upstream, jwksFile, logLevel: 'warn' });
  const t0 = performance.now();
  const proc = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: 'ignore', cwd: dir });
  try {
    await waitFor200(`http://127.0.0.1:${port}/_gateway/readyz`, 30_000, 2);
    return performance.now() - t0;
  } finally {
    await stopProc(proc);
  }
}

async function countItems(url: string, headers: Record<string, string> = {}): Promise<{ status: number; items: number; bytes: number; entry: string | null }> {
  const r = await fetch(url, { headers });
  const buf = Buffer.from(await r.arrayBuffer());
  const items = r.status === 200 ? (JSON.parse(buf.toString('utf8')) as { data: unknown[] }).data.length : 0;
  return { status: r.status, items, bytes: buf.length, entry: r.headers.get('x-governance-entry') };
}

function machine() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    pinning: 'none: load generator, upstream and proxy share all cores',
  };
}

interface Check {
  scenario: string;
  target: string;
  measured: string;
  met: boolean;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apg-bench-'));
  const results: Record<string, unknown> = {
    machine: machine(),
    quick: QUICK,
    rounds: ROUNDS,
    secondsPerRound: SECONDS,
    connections: CONNECTIONS,
    exportMiB: EXPORT_MIB,
  };
  const md: string[] = [];
  const checks: Check[] = [];
  const check = (scenario: string, target: string, value: number, ok: boolean, unit: string) =>
    checks.push({
      scenario,
      target,
      measured: Number.isFinite(value) ? `${unit === '×' ? value.toFixed(2) : fmt(value, value < 100 ? 1 : 0)}${unit}` : 'n/a',
      met: Number.isFinite(value) && ok,
    });

  const install = !args['no-install'];
  const wrk = ensureWrk(install, log);
  const gen = wrk ? wrkGenerator(wrk) : nodeGenerator();
  const genName = wrk ? `wrk ${wrkVersion(wrk)} (1 thread)` : `${gen.name} — wrk not available; ratios on large bodies may measure the generator`;
  const nginxBin = ensureNginx(install, log);
  results.generator = genName;
  results.nginx = nginxBin ? nginxVersion(nginxBin) : null;

  try {
    log('bench: starting upstream, bare proxy, nginx and gateway as separate processes');
    const upstream = await startChild('upstream', process.execPath, [path.join(CHILDREN, 'upstream.js')]);
    const bare = await startChild('bare proxy', process.execPath, [path.join(CHILDREN, 'bareProxy.js'), upstream.url]);
    const nginx = nginxBin
      ? await startNginx(nginxBin, dir, upstream.url, SMALL_PATH).catch((e: Error) => {
          log(`bench: nginx did not start (${e.message.split('\n')[0]}); skipped`);
          return null;
        })
      : null;
    const { jwksFile, adminToken } = await writeIdentity(dir);
    const gw = await startGatewayChild(dir, 'gateway', upstream.url, jwksFile);

    const m = results.machine as ReturnType<typeof machine>;
    md.push(
      `# Activity Privacy Gateway — benchmark${QUICK ? ' (--quick)' : ''}`,
      '',
      `Machine: ${m.cores} cores (${m.cpu}), ${m.memGiB} GiB, Node ${m.node}, ${m.kernel}. CPU pinning: ${m.pinning}.`,
      `Load generator: ${genName}, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${SECONDS} s per target (medians).`,
      `nginx: ${results.nginx ?? 'not installed (skipped)'}${nginx ? ', 1 worker, upstream keep-alive, access log on' : ''}. Gateway: dist/cli.js serve, logging at info (one access line per request, to a file).`,
      '',
    );

    const direct: Target = { name: 'direct upstream', url: upstream.url, pids: () => [] };
    const bareT: Target = { name: 'bare http-proxy-3', url: bare.url, pids: () => [bare.pid] };
    const nginxT: Target | null = nginx ? { name: 'nginx', url: nginx.url, pids: () => withDescendants(nginx.pid) } : null;
    const gwT: Target = { name: 'gateway', url: gw.url, pids: () => [gw.pid] };

    if (ONLY.has('passthrough')) {
      log('scenario 1: passthrough, small JSON');
      const size = await countSmall(upstream.url + SMALL_PATH);
      const rows = await rounds(gen, [direct, bareT, ...(nginxT ? [nginxT] : []), gwT], SMALL_PATH, upstream.pid);
      const by = (n: string) => rows.find((r) => r.target === n);
      const q = ratios(rows);
      const gwNginx = nginxT ? ratio(by('gateway')!.rps, by('nginx')!.rps) : NaN;
      md.push(
        `## 1. Passthrough, small JSON (${size} B, GET ${SMALL_PATH})`,
        '',
        loadTable(rows, (r) =>
          r.target === 'gateway'
            ? `${q.text}${nginxT ? `, req/s ${fmtRatio(gwNginx)} nginx` : ''}`
            : r.target === 'bare http-proxy-3' && nginxT
              ? `req/s ${fmtRatio(ratio(r.rps, by('nginx')!.rps))} nginx`
              : '',
        ),
        '',
        `Generator check: the generator drove the upstream directly at ${fmt(by('direct upstream')!.rps)} req/s, ${fmtRatio(ratio(by('direct upstream')!.rps, by('gateway')!.rps))} the gateway's rate.`,
        '',
      );
      check('passthrough small', '≥ 0.80× bare (CPU per request)', q.cpu, q.cpu >= 0.8, '×');
      check('passthrough small', 'req/s vs bare (information)', q.rps, true, '×');
      results.passthrough = { bytes: size, rows, ratios: { cpuVsBare: q.cpu, rpsVsBare: q.rps, gatewayVsNginx: gwNginx } };
    }

    if (ONLY.has('page')) {
      const d = await countItems(upstream.url + PAGE_PATH);
      const g = await countItems(gw.url + PAGE_PATH);
      if (g.status !== 200 || g.items !== d.items) throw new Error(`passthrough page probe: status ${g.status}, ${g.items} of ${d.items} items`);
      log(`scenario 1b: passthrough route, the ${fmt(d.bytes / 1024)} KB list page unfiltered`);
      const rows = await rounds(gen, [direct, bareT, gwT], PAGE_PATH, upstream.pid);
      const q = ratios(rows);
      md.push(
        `## 1b. Passthrough route, the list page (${fmt(d.bytes / 1024)} KB, GET ${PAGE_PATH}: same bytes as the list page, not filtered)`,
        '',
        loadTable(rows, (r) => (r.target === 'gateway' ? q.text : '')),
        '',
      );
      check('passthrough route, list page', '≥ 0.90× bare (CPU per request)', q.cpu, q.cpu >= 0.9, '×');
      results.passthroughPage = { rows, ratios: { cpuVsBare: q.cpu, rpsVsBare: q.rps } };
    }

    let listRps = NaN;
    if (ONLY.has('list') || ONLY.has('reveal') || ONLY.has('item')) {
      const d = await countItems(upstream.url + LIST_PATH);
      const g = await countItems(gw.url + LIST_PATH);
      const removed = d.items - g.items;
      const pageInfo = `${d.items} activities, ${fmt(d.bytes / 1024)} KB, ${removed} private (${Math.round((100 * removed) / d.items)}%) removed by the gateway`;
      results.listPage = { path: LIST_PATH, items: d.items, bytes: d.bytes, private: removed };

      if (ONLY.has('list')) {
        log(`scenario 2: list page (${pageInfo})`);
        const rows = await rounds(gen, [direct, bareT, gwT], LIST_PATH, upstream.pid);
        const by = (n: string) => rows.find((r) => r.target === n)!;
        const q = ratios(rows);
        listRps = by('gateway').rps;
        md.push(
          `## 2. List page filtering (GET ${LIST_PATH}: ${pageInfo})`,
          '',
          loadTable(rows, (r) => (r.target === 'gateway' ? q.text : '')),
          '',
          `Generator check: ${fmt(by('direct upstream').rps)} req/s straight from the upstream, ${fmtRatio(ratio(by('direct upstream').rps, by('gateway').rps))} the gateway's rate.`,
          '',
        );
        check('list route, 226 KB page, 20 % private', '≥ 0.50× bare (CPU per request)', q.cpu, q.cpu >= 0.5, '×');
        check('list route', 'req/s vs bare (information)', q.rps, true, '×');
        results.list = { rows, ratios: { cpuVsBare: q.cpu, rpsVsBare: q.rps } };
      }

      if (ONLY.has('item')) {
        const page = JSON.parse(await (await fetch(gw.url + LIST_PATH)).text()) as { data: { _id: string }[] };
        const itemPath = `/api/v1/activities/${encodeURIComponent(page.data[0]._id)}/`;
        const probe = await fetch(gw.url + itemPath);
        const itemBytes = (await probe.arrayBuffer()).byteLength;
        if (probe.status !== 200) throw new Error(`item probe: status ${probe.status}`);
        log(`scenario 2b: item route (one public activity, ${itemBytes} B)`);
        const rows = await rounds(gen, [direct, bareT, gwT], itemPath, upstream.pid);
        const q = ratios(rows);
        md.push(
          `## 2b. Item route (GET /api/v1/activities/:id/, one public activity of ${fmt(itemBytes)} B)`,
          '',
          loadTable(rows, (r) => (r.target === 'gateway' ? q.text : '')),
          '',
        );
        check('item route', 'CPU per request vs bare (information)', q.cpu, true, '×');
        results.item = { rows, ratios: { cpuVsBare: q.cpu, rpsVsBare: q.rps } };
      }

      if (ONLY.has('reveal')) {
        const headers = { authorization: `Bearer ${adminToken}`, 'x-show-private-activities': 'confirm' };
        const probe = await countItems(gw.url + LIST_PATH, headers);
        if (probe.status !== 200 || !probe.entry || probe.items !== d.items)
          throw new Error(`reveal probe failed: status ${probe.status}, entry ${probe.entry}, items ${probe.items}`);
        log("scenario 3: reveal at 50 concurrent (fsync'd governance log)");
        const rows = await rounds(gen, [gwT], LIST_PATH, upstream.pid, headers);
        const r = rows[0];
        const vsList = ratio(r.rps, listRps);
        md.push(
          `## 3. Reveal at ${CONNECTIONS} concurrent (same page, admin token + X-Show-Private-Activities: confirm; one fsync'd governance entry per request)`,
          '',
          table(
            ['target', 'CPU µs/req', 'req/s', 'p50 ms', 'p99 ms', 'proxy CPU', 'vs list req/s', 'req/s per round'],
            [
              [
                r.target,
                fmt(r.cpuUs),
                fmt(r.rps),
                r.p50ms.toFixed(2),
                r.p99ms.toFixed(2),
                `${Math.round(r.proxyCpu * 100)}%`,
                fmtRatio(vsList),
                r.perRound.join(' / '),
              ],
            ],
          ),
          '',
        );
        check("reveal (fsync'd governance, 50 concurrent)", "≥ 0.95× the list scenario's req/s", vsList, vsList >= 0.95, '×');
        check('reveal at 50 concurrent', 'p99 ≤ 15 ms', r.p99ms, r.p99ms <= 15, ' ms');
        results.reveal = { rows, vsList };
      }
    }

    if (ONLY.has('workers')) {
      const out = await workersScenario(gen, dir, upstream, jwksFile, adminToken, check);
      md.push(...out.md);
      results.workers = out.results;
    }

    if (ONLY.has('export')) {
      // A dedicated gateway process, so the peak-RSS growth is the export's alone.
      const egw = await startGatewayChild(dir, 'gateway-export', upstream.url, jwksFile);
      const rows: ExportRow[] = [];
      for (const format of EXPORT_FORMATS) {
        log(`scenario 4: ${format} export of ${EXPORT_MIB} MiB`);
        rows.push(
          ...(await exportRounds(
            [
              { name: 'bare http-proxy-3', url: bare.url, pid: bare.pid },
              { name: 'gateway', url: egw.url, pid: egw.pid },
            ],
            format,
          )),
        );
      }
      await egw.stop();
      const lines: string[][] = [];
      const TARGET: Record<ExportFmt, number> = { ndjson: 0.6, json: 0.5, csv: 0.6, cef: 0.6 };
      for (const format of EXPORT_FORMATS) {
        const b = rows.find((r) => r.format === format && r.target !== 'gateway')!;
        const g = rows.find((r) => r.format === format && r.target === 'gateway')!;
        const rr = ratio(g.mibPerSec, b.mibPerSec);
        const cr = ratio(b.cpuSecPerGiB, g.cpuSecPerGiB);
        for (const r of [b, g]) {
          lines.push([
            `${format} · ${r.target}`,
            fmt(r.mibPerSec),
            fmt(r.cpuSecPerGiB, 2),
            r.seconds.toFixed(2),
            fmt(mib(r.inBytes)),
            fmt(mib(r.outBytes)),
            fmt(mib(r.hwmGrowth), 1),
            r === g ? `MiB/s ${fmtRatio(rr)}, CPU ${fmtRatio(cr)} bare` : '',
            r.perRound.join(' / '),
          ]);
        }
        const tag = `${format === 'json' ? 'JSON-array' : format.toUpperCase()} export`;
        check(tag, `≥ ${TARGET[format].toFixed(2)}× bare MiB/s`, rr, rr >= TARGET[format], '×');
        check(tag, 'CPU per GiB vs bare (information)', cr, true, '×');
        check(
          tag,
          `peak RSS growth < 32 MiB for ${EXPORT_MIB >= 1024 ? '1 GiB' : `${EXPORT_MIB} MiB (target is for 1 GiB)`}, default settings`,
          mib(g.hwmGrowth),
          mib(g.hwmGrowth) < 32,
          ' MiB',
        );
      }
      md.push(
        `## 4. Exports of ${fmt(EXPORT_MIB)} MiB, streamed into a byte counter (MiB/s of upstream bytes; proxy CPU s per GiB; peak RSS = VmHWM growth)`,
        '',
        table(['format · target', 'MiB/s', 'CPU s/GiB', 's', 'MiB in', 'MiB out', 'peak RSS growth MiB', 'ratio', 'MiB/s per round'], lines),
        '',
      );
      results.exports = rows;
    }

    if (ONLY.has('pseudo')) {
      const out = await pseudonymScenarios(gen, dir, upstream.url, upstream.pid, bare, jwksFile, check);
      md.push(...out.md);
      results.pseudonymise = out.results;
    }

    if (ONLY.has('cold')) {
      log('scenario 5: cold start to readyz');
      const ms: number[] = [];
      for (let i = 0; i < COLD_ROUNDS; i++) ms.push(await coldStart(dir, upstream.url, jwksFile, i));
      md.push(
        '## 5. Cold start (spawn `node dist/cli.js serve` → `/_gateway/readyz` 200)',
        '',
        table(['runs', 'median ms', 'min ms', 'max ms'], [[String(ms.length), fmt(median(ms)), fmt(Math.min(...ms)), fmt(Math.max(...ms))]]),
        '',
      );
      results.coldStart = { ms };
    }

    md.push(
      '## Targets',
      '',
      table(
        ['scenario', 'target', 'measured', 'met'],
        checks.map((c) => [c.scenario, c.target, c.measured, c.target.includes('(information)') ? '–' : c.met ? 'pass' : '**MISS**']),
      ),
      '',
    );
    md.push(`Total bench time: ${((performance.now() - t0) / 1000).toFixed(0)} s.`);
    results.targets = checks;
    results.totalSeconds = (performance.now() - t0) / 1000;
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }

  const text = md.join('\n') + '\n';
  const outDir = path.join(REPO, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'latest.md'), text);
  writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(results, null, 2));
  process.stdout.write(args.json ? JSON.stringify(results, null, 2) + '\n' : text);
}

/**
 * SPEC §8 v3 (issue 26): the list route and reveals through one process and through
 * `server.workers: 2` (a primary and two workers; CPU of all three), alternating rounds.
 * Targets: 2 workers ≥ 1.3× one worker's throughput, CPU per request within 10 %.
 */
async function workersScenario(
  gen: LoadGenerator,
  dir: string,
  upstream: Child,
  jwksFile: string,
  adminToken: string,
  check: (scenario: string, target: string, value: number, ok: boolean, unit: string) => void,
): Promise<{ md: string[]; results: Record<string, unknown> }> {
  // both fresh, started side by side: neither carries the heap of the scenarios before
  const w1 = await startGatewayChild(dir, 'gateway-one', upstream.url, jwksFile, undefined, 1);
  const w2 = await startGatewayChild(dir, 'gateway-workers', upstream.url, jwksFile, undefined, 2);
  const two: Target = { name: 'gateway, 2 workers', url: w2.url, pids: () => withDescendants(w2.pid) };
  const first: Target = { name: 'gateway, 1 process', url: w1.url, pids: () => [w1.pid] };
  const md: string[] = [];
  const results: Record<string, unknown> = {};
  const reveal = { authorization: `Bearer ${adminToken}`, 'x-show-private-activities': 'confirm' };
  for (const [what, headers] of [
    ['list route', undefined],
    ['reveal', reveal],
  ] as const) {
    log(`scenario 3b: ${what}, 1 process vs server.workers: 2`);
    const rows = await rounds(gen, [first, two], LIST_PATH, upstream.pid, headers);
    const [a, b] = rows;
    const scale = ratio(b.rps, a.rps);
    const cpu = ratio(b.cpuUs, a.cpuUs);
    md.push(
      `## 3b. ${what === 'reveal' ? 'Reveal' : 'List route'}: one process vs \`server.workers: 2\` (CPU of the primary and both workers)`,
      '',
      loadTable(rows, (r) => (r === b ? `req/s ${fmtRatio(scale)}, CPU/req ${fmtRatio(cpu)} one process` : '')),
      '',
    );
    check(`2 workers, ${what}`, '≥ 1.3× one process req/s', scale, scale >= 1.3, '×');
    if (what === 'list route') check('2 workers, list route', 'CPU per request ≤ 1.10× one process', cpu, cpu <= 1.1, '×');
    results[what === 'reveal' ? 'reveal' : 'list'] = { rows, scale, cpu };
  }
  const split = workerSplit(path.join(dir, 'gateway-workers.log'));
  md.push(
    `Requests per worker (access lines): ${Object.entries(split)
      .map(([w, n]) => `worker ${w}: ${fmt(n)}`)
      .join(', ')}.`,
    '',
  );
  results.split = split;
  await w2.stop();
  await w1.stop();
  return { md, results };
}

/** Access lines per worker id in a gateway's log file ("instance":"<host>/<id>"). */
function workerSplit(file: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of readFileSync(file, 'utf8').matchAll(/"instance":"[^"]*\/(\d+)","kind":"list"/g)) counts[m[1]] = (counts[m[1]] ?? 0) + 1;
  return counts;
}

/**
 * SPEC §14 (issue 22): the same page and the same exports through a gateway whose hr group
 * hides and one whose hr group pseudonymises (one process each, side by side in alternating
 * rounds); target: pseudonymising costs at most 15 % more proxy CPU than hiding.
 */
async function pseudonymScenarios(
  gen: LoadGenerator,
  dir: string,
  upstreamUrl: string,
  upstreamPid: number,
  bare: Child,
  jwksFile: string,
  check: (scenario: string, target: string, value: number, ok: boolean, unit: string) => void,
): Promise<{ md: string[]; results: Record<string, unknown> }> {
  const keyFile = path.join(dir, 'pseudonym.key');
  writeFileSync(keyFile, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'));
  const hide = await startGatewayChild(dir, 'gateway-hide', upstreamUrl, jwksFile);
  const pseudo = await startGatewayChild(dir, 'gateway-pseudonymise', upstreamUrl, jwksFile, keyFile);
  const h = await countItems(hide.url + LIST_PATH);
  const p = await countItems(pseudo.url + LIST_PATH);
  const md: string[] = [];
  log(`scenario 6: list page, hide (${h.items} kept) vs pseudonymise (${p.items} kept)`);
  const rows = await rounds(
    gen,
    [
      { name: 'gateway (hide)', url: hide.url, pids: () => [hide.pid] },
      { name: 'gateway (pseudonymise)', url: pseudo.url, pids: () => [pseudo.pid] },
    ],
    LIST_PATH,
    upstreamPid,
  );
  const listCost = ratio(rows[1].cpuUs, rows[0].cpuUs);
  md.push(
    `## 6. Pseudonymise vs hide (SPEC §14): the list page (hide keeps ${h.items}, pseudonymise keeps ${p.items} of the page's activities)`,
    '',
    loadTable(rows, (r) => (r === rows[1] ? `CPU ${fmtRatio(listCost)} hide` : '')),
    '',
  );
  check('pseudonymise, list route', '≤ 1.15× hide (CPU per request)', listCost, listCost <= 1.15, '×');
  const exportRows: ExportRow[] = [];
  const lines: string[][] = [];
  for (const format of EXPORT_FORMATS) {
    log(`scenario 6: ${format} export of ${EXPORT_MIB} MiB, hide vs pseudonymise`);
    const rs = await exportRounds(
      [
        { name: 'bare http-proxy-3', url: bare.url, pid: bare.pid },
        { name: 'gateway (hide)', url: hide.url, pid: hide.pid },
        { name: 'gateway (pseudonymise)', url: pseudo.url, pid: pseudo.pid },
      ],
      format,
    );
    exportRows.push(...rs);
    const cost = ratio(rs[2].cpuSecPerGiB, rs[1].cpuSecPerGiB);
    for (const r of rs.slice(1)) {
      lines.push([`${format} · ${r.target}`, fmt(r.mibPerSec), fmt(r.cpuSecPerGiB, 2), fmt(mib(r.outBytes)), r === rs[2] ? `CPU ${fmtRatio(cost)} hide` : '']);
    }
    check(`pseudonymise, ${format} export`, '≤ 1.15× hide (CPU per GiB)', cost, cost <= 1.15, '×');
  }
  md.push(
    `## 6b. Pseudonymise vs hide: exports of ${fmt(EXPORT_MIB)} MiB (proxy CPU s per GiB of upstream bytes)`,
    '',
    table(['format · target', 'MiB/s', 'CPU s/GiB', 'MiB out', 'ratio'], lines),
    '',
  );
  await hide.stop();
  await pseudo.stop();
  return { md, results: { list: rows, listCostVsHide: listCost, exports: exportRows } };
}

async function countSmall(url: string): Promise<number> {
  const r = await fetch(url);
  return (await r.arrayBuffer()).byteLength;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    void stopAll().then(() => process.exit(130));
  });

main().catch(async (err) => {
  log(`bench failed: ${(err as Error).stack ?? err}`);
  await stopAll();
  process.exit(1);
});
