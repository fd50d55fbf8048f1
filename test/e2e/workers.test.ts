/**
 * `server.workers` (SPEC §8 v3) through the real CLI: a primary owning the stores and two
 * workers sharing the port. Requests split between the workers, privacy holds on both, the
 * metrics are the sum, reveals from both workers make one chain, and the failure rules:
 * a killed worker is replaced and loses nothing it acknowledged, a killed writer makes
 * reveals fail closed and stops the workers, SIGHUP reaches every worker, SIGTERM stops
 * them all, a worker that cannot start stops the gateway.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/demo/dataset.js';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { ensureBuilt } from '../helpers/build.js';
import { verifyChainFile } from '../helpers/chainVerifier.js';
import { children, spawnGateway, tryConnect, type GatewayProcess } from '../helpers/cliProcess.js';
import { demoLikeConfig, tempDir } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const PRIVATE_ACTORS = ['bob@contoso.com', 'carol@contoso.com'];

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One request on its own connection (so node:cluster hands it to the next worker); `null` when
 * the connection failed, or hung for 5 s (a connection handed to a worker as it was killed).
 */
function once(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer | null> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      res.on('error', () => resolve(null));
    });
    req.on('error', () => resolve(null));
    req.setTimeout(5_000, () => req.destroy());
    req.end(init.body);
  });
}

/** The processes whose parent is `pid` (from /proc: no tool needed). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return out.sort();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `cond` every 20 ms for at most `ms` (for what another process does: its exit, its replacement). */
async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (await cond()) return true;
  return cond();
}

/** The chain file's durable entries: a line torn by a killed writer (never acknowledged) is cut first. */
function durableChain(file: string) {
  const text = readFileSync(file, 'utf8');
  const copy = `${file}.durable`;
  writeFileSync(copy, text.slice(0, text.lastIndexOf('\n') + 1));
  return verifyChainFile(copy);
}

describe('server.workers: one gateway on every core (SPEC §8 v3)', () => {
  let api: SampleApi;
  let upstream: string;
  let key: TestKey;
  let idp: TestIdp;
  let admin: Record<string, string>;

  beforeAll(async () => {
    await ensureBuilt();
    api = createSampleApi({ dataset: generateDataset({ count: 300 }) });
    upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const now = Math.floor(Date.now() / 1000);
    const t = await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 3600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    admin = { authorization: `Bearer ${t}`, 'content-type': 'application/json' };
  }, 240_000);
  afterEach(() => {
    for (const c of children) c.kill('SIGKILL'); // only if a test failed midway
  });
  afterAll(async () => {
    await api?.close();
    await idp?.close();
  });

  const REVEAL = () => ({ ...admin, 'x-show-private-activities': 'confirm' });

  async function start(
    extra: Record<string, unknown> = {},
    port = 0,
  ): Promise<{ gw: GatewayProcess; dir: string; file: string; cleanup: () => Promise<void> }> {
    const { dir, cleanup } = await tempDir('apg-workers-');
    const file = path.join(dir, 'gateway.json');
    const obj = demoLikeConfig(upstream, dir, {
      server: { host: '127.0.0.1', port, workers: 2 },
      logging: { level: 'info' },
      identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
      directory: { groups: { hr: PRIVATE_ACTORS }, knownGroups: [{ id: 'made-private' }] },
      ...extra,
    });
    await writeFile(file, JSON.stringify(obj, null, 2));
    const gw = await spawnGateway(file, { APG_INSTANCE: 'wk' });
    const ready = await gw.waitForLog((l) => l.msg === 'workers listening');
    expect(ready.workers).toBe(2);
    return { gw, dir, file, cleanup };
  }

  /** Reveals on fresh connections, `n` at a time: the answers (null = the connection failed). */
  const reveals = (url: string, n: number) => Promise.all(Array.from({ length: n }, () => once(`${url}/api/v1/activities/?limit=50`, { headers: REVEAL() })));

  it('two workers share the port: requests split evenly, privacy holds on both, /metrics is the sum, a change reaches both', async () => {
    const { gw, cleanup } = await start();
    try {
      expect(childPids(gw.proc.pid!)).toHaveLength(2);
      const answers = await Promise.all(Array.from({ length: 40 }, () => once(`${gw.url}/api/v1/activities/?limit=100`)));
      for (const a of answers) {
        expect(a?.status).toBe(200);
        for (const actor of PRIVATE_ACTORS) expect(a!.text).not.toContain(actor);
      }
      await gw.waitForLog(() => gw.logs.filter((l: any) => l.msg === 'access' && l.kind === 'list').length === 40);
      const served = () => {
        const byWorker = new Map<string, number>();
        for (const l of gw.logs as any[]) if (l.msg === 'access' && l.kind === 'list') byWorker.set(l.instance, (byWorker.get(l.instance) ?? 0) + 1);
        return byWorker;
      };
      // 40 at once: a busy machine may hand most of them to whichever worker is free first, but both serve
      const burst = served();
      expect([...burst.keys()].sort()).toEqual(['wk/1', 'wk/2']);
      // one fresh connection after another: node:cluster's round robin hands each to the next free worker in
      // turn, so the split is even (a worker that has not yet taken its last connection is passed over once)
      for (let i = 0; i < 30; i++) expect((await once(`${gw.url}/api/v1/activities/?limit=100`))?.status).toBe(200);
      await gw.waitForLog(() => gw.logs.filter((l: any) => l.msg === 'access' && l.kind === 'list').length === 70);
      const total = served();
      for (const w of ['wk/1', 'wk/2']) expect(total.get(w)! - burst.get(w)!).toBeGreaterThanOrEqual(12);
      // both workers write to one stdout: every line is still one whole JSON object
      expect(gw.logs.filter((l: any) => 'notJson' in l)).toEqual([]);

      // whichever worker serves the scrape answers the sum over both
      for (let i = 0; i < 4; i++) {
        const m = await once(`${gw.url}/_gateway/metrics`);
        expect(m!.text).toMatch(/^apg_requests_total\{kind="list",status="200"\} 70$/m);
      }

      // an admin change made through one worker is what both workers answer (SPEC §7: within 2 s)
      expect((await once(`${gw.url}/_gateway/api/privacy/groups`, { method: 'POST', headers: admin, body: '{"id":"made-private"}' }))!.status).toBe(201);
      const everywhere = await until(async () => {
        const lists = await Promise.all(Array.from({ length: 6 }, () => once(`${gw.url}/_gateway/api/privacy/groups`, { headers: admin })));
        return lists.every((l) => l?.status === 200 && JSON.parse(l.text).groups.some((g: { id: string }) => g.id === 'made-private'));
      }, 2_000);
      expect(everywhere).toBe(true);
    } finally {
      gw.proc.kill('SIGKILL');
      await cleanup();
    }
  });

  it('reveals from both workers are one chain; a killed worker is replaced and loses nothing it acknowledged', async () => {
    const { gw, dir, cleanup } = await start();
    try {
      const first = await reveals(gw.url, 30);
      const seqs = first.map((a) => Number(a?.headers['x-governance-entry-seq']));
      expect(first.every((a) => a?.status === 200)).toBe(true);
      expect(new Set(seqs).size).toBe(30);
      // the works council's summary, counted beside the primary's sink, whichever worker answers it
      for (let i = 0; i < 2; i++) {
        const summary = await once(`${gw.url}/_gateway/api/reports/summary?bucket=day`, { headers: admin });
        expect(summary?.status).toBe(200);
        expect(JSON.parse(summary!.text).byViewer).toEqual([{ principal: 'alice@contoso.com', reveals: 30, activitiesShown: expect.any(Number) }]);
      }

      const [victim, survivor] = childPids(gw.proc.pid!);
      const during = reveals(gw.url, 40);
      process.kill(victim, 'SIGKILL');
      const second = await during;
      // never a reveal without its entry: every 200 names a durable entry; the rest failed (503 or a cut connection)
      for (const a of second) if (a !== null) expect([200, 503]).toContain(a.status);
      const acked = [...first, ...second].filter((a) => a?.status === 200).map((a) => Number(a!.headers['x-governance-entry-seq']));

      await gw.waitForLog((l) => l.msg === 'worker exited; starting another' && l.signal === 'SIGKILL');
      expect(await until(() => childPids(gw.proc.pid!).length === 2 && !childPids(gw.proc.pid!).includes(victim))).toBe(true);
      expect(childPids(gw.proc.pid!)).toContain(survivor);
      await gw.waitForLog((l) => l.msg === 'listening' && l.instance === 'wk/3');
      const after = await reveals(gw.url, 10);
      expect(after.every((a) => a?.status === 200)).toBe(true);
      acked.push(...after.map((a) => Number(a!.headers['x-governance-entry-seq'])));

      gw.proc.kill('SIGTERM');
      expect((await gw.exited).code).toBe(0);
      const chain = verifyChainFile(path.join(dir, 'governance.jsonl'));
      expect(chain.ok).toBe(true);
      const stored = new Map(chain.entries.map((e: any) => [e.seq, e]));
      for (const s of acked) expect(stored.get(s)?.action).toBe('private-activities.viewed');
      expect(new Set(chain.entries.map((e: any) => e.instance))).toEqual(new Set(['wk'])); // one writer
    } finally {
      gw.proc.kill('SIGKILL');
      await cleanup();
    }
  });

  it('a killed writer: no reveal without its entry, no acknowledged entry lost, the workers stop with it', async () => {
    const { gw, dir, cleanup } = await start();
    const port = Number(new URL(gw.url).port);
    try {
      const workers = childPids(gw.proc.pid!);
      const acked: number[] = [];
      const failed: (number | null)[] = [];
      let killed = false;
      // 8 clients revealing in a loop until their reveal fails
      const loops = Array.from({ length: 8 }, async () => {
        for (;;) {
          const a = await once(`${gw.url}/api/v1/activities/?limit=20`, { headers: REVEAL() });
          if (a?.status === 200) acked.push(Number(a.headers['x-governance-entry-seq']));
          else {
            failed.push(a?.status ?? null);
            if (killed) return;
          }
          if (acked.length >= 40 && !killed) {
            killed = true;
            gw.proc.kill('SIGKILL');
          }
        }
      });
      await Promise.all(loops);
      for (const f of failed) expect(f === null || f === 503).toBe(true);
      expect(await until(() => workers.every((p) => !alive(p)))).toBe(true);
      expect(await tryConnect(port)).toBe('ECONNREFUSED');
      await gw.waitForLog((l) => l.msg === 'the primary process is gone: this worker stops with it');

      const chain = durableChain(path.join(dir, 'governance.jsonl'));
      expect(chain.ok).toBe(true);
      const stored = new Set(chain.entries.map((e: any) => e.seq));
      for (const s of acked) expect(stored.has(s)).toBe(true);
    } finally {
      gw.proc.kill('SIGKILL');
      await cleanup();
    }
  });

  it('SIGHUP reaches every worker; SIGTERM stops them all after the in-flight request, exit 0', async () => {
    const { gw, file, cleanup } = await start();
    try {
      const workers = childPids(gw.proc.pid!);
      expect((await once(`${gw.url}/api/v1/alerts/`))!.status).toBe(200);
      const base = JSON.parse(readFileSync(file, 'utf8'));
      await writeFile(file, JSON.stringify({ ...base, routes: [{ path: '/api/v1/alerts/', kind: 'deny' }, ...base.routes] }));
      gw.proc.kill('SIGHUP');
      await gw.waitForLog(() => new Set(gw.logs.filter((l: any) => l.msg === 'config reloaded').map((l: any) => l.instance)).size === 2);
      for (let i = 0; i < 6; i++) expect((await once(`${gw.url}/api/v1/alerts/`))!.status).toBe(404);

      const seen = api.requests.length;
      const inflight = once(`${gw.url}/api/v1/activities/?limit=20&delayMs=1500`);
      expect(await until(() => api.requests.length > seen, 5_000)).toBe(true);
      gw.proc.kill('SIGTERM');
      const r = await inflight;
      expect(r?.status).toBe(200);
      expect(JSON.parse(r!.text).data.length).toBeGreaterThan(0);
      expect(await gw.exited).toEqual({ code: 0, signal: null });
      expect(workers.some(alive)).toBe(false);
      expect(
        gw.logs
          .filter((l: any) => l.msg === 'shutting down')
          .map((l: any) => l.instance)
          .sort(),
      ).toEqual(['wk', 'wk/1', 'wk/2']);
    } finally {
      gw.proc.kill('SIGKILL');
      await cleanup();
    }
  });

  it('a worker that cannot start (the port is taken) stops the gateway with exit 1', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    const { dir, cleanup } = await tempDir('apg-workers-');
    try {
      const file = path.join(dir, 'gateway.json');
      await writeFile(file, JSON.stringify(demoLikeConfig(upstream, dir, { server: { host: '127.0.0.1', port, workers: 2 } })));
      await expect(spawnGateway(file)).rejects.toThrow(/exited \(1\)/);
    } finally {
      blocker.close();
      await cleanup();
    }
  });
});
