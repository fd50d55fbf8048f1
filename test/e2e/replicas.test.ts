/**
 * Three real gateway processes (dist/cli.js) sharing one PostgreSQL database
 * for the governance log and the privacy state, behind nothing but the test:
 * they migrate safely when started together, enforce each other's privacy
 * changes within 2 s, write one chain, fail closed while the database is
 * away and recover when it returns. The replicas reach the database through
 * a TCP relay (startTcpProxy) so the test can take it away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { CLI, ensureBuilt } from '../helpers/build.js';
import { verifyChainFile } from '../helpers/chainVerifier.js';
import { demoLikeConfig, get, tempDir } from '../helpers/gateway.js';
import { generateTestKey, signToken } from '../helpers/idp.js';
import { freePort, freshDatabase, sql, startTcpProxy, type FreshDatabase, type TcpProxy } from '../helpers/postgres.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const LIST = '/api/v1/activities/?limit=100';
const REVEAL = { 'x-show-private-activities': 'confirm' };

const db = await freshDatabase();
if (!db) console.warn('\n##### test/e2e/replicas.test.ts SKIPPED: no PostgreSQL (see the message above) #####\n');

// The fixture: public activities, activities of hr (private by the seed since
// long ago) and of ops (not private yet; in the future, so a group made
// private during the run covers them).
const NOW = Date.now();
const HOUR = 3_600_000;
const act = (id: string, user: string, timestamp: number) => ({ _id: id, timestamp, user: { userName: user, userTags: [] }, description: `activity ${id}` });
const PUBLIC_IDS = ['pub00000000000000000001', 'pub00000000000000000002', 'pub00000000000000000003'];
const HR_IDS = ['hr000000000000000000001', 'hr000000000000000000002'];
const OPS_IDS = ['ops00000000000000000001', 'ops00000000000000000002', 'ops00000000000000000003'];
const DATASET = [
  ...PUBLIC_IDS.map((id) => act(id, 'paul@contoso.com', NOW - HOUR)),
  ...HR_IDS.map((id) => act(id, 'bob@contoso.com', NOW - 24 * HOUR)),
  ...OPS_IDS.map((id) => act(id, 'oscar@contoso.com', NOW + HOUR)),
];
const PRIVATE_MARKERS = [...HR_IDS, ...OPS_IDS, 'bob@contoso.com', 'oscar@contoso.com'];

interface Replica {
  name: string;
  url: string;
  configFile: string;
  child: ChildProcess;
  output: () => string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check() is true; resolves with the elapsed ms, rejects after timeoutMs. */
async function until(check: () => Promise<boolean>, timeoutMs: number, from = Date.now()): Promise<number> {
  const deadline = from + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - from;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function visibleIds(base: string, headers: Record<string, string> = {}): Promise<string[]> {
  const r = await get(`${base}${LIST}`, { headers });
  if (r.status !== 200) throw new Error(`list answered ${r.status}`);
  return (r.json().data as Array<{ _id: string }>).map((a) => a._id);
}

async function waitReady(rep: Replica, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (rep.child.exitCode !== null) throw new Error(`${rep.name} exited with ${rep.child.exitCode}:\n${rep.output()}`);
    const r = await fetch(`${rep.url}/_gateway/readyz`).catch(() => undefined);
    if (r?.status === 200) return;
    await sleep(100);
  }
  throw new Error(`${rep.name} not ready in ${timeoutMs} ms:\n${rep.output()}`);
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!db)('three gateway replicas on one PostgreSQL behave as one gateway', () => {
  const database = db as FreshDatabase;
  let api: SampleApi;
  let proxy: TcpProxy;
  let dir: string;
  let cleanup: () => Promise<void>;
  let tokens: { alice: string; dave: string };
  const replicas: Replica[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    api = createSampleApi({ dataset: DATASET });
    await api.listen(0, '127.0.0.1');
    proxy = await startTcpProxy(database.url);
    ({ dir, cleanup } = await tempDir('apg-replicas-'));
    const key = await generateTestKey('ES256');
    await writeFile(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [key.publicJwk] }));
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const admin = (upn: string) => signToken(key, { iss: ISS, aud: AUD, exp, upn, roles: ['SecurityAdministrator'] });
    tokens = { alice: await admin('alice@contoso.com'), dave: await admin('dave@contoso.com') };
  }, 180_000);

  afterAll(async () => {
    await Promise.all(
      replicas.map(
        (r) =>
          new Promise<void>((resolve) => {
            if (r.child.exitCode !== null || r.child.signalCode !== null) return resolve();
            const t = setTimeout(() => r.child.kill('SIGKILL'), 12_000);
            r.child.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            r.child.kill('SIGTERM');
          }),
      ),
    );
    await proxy?.stop();
    await api?.close();
    await database.drop().catch(() => {});
    await cleanup?.();
  }, 60_000);

  const auth = (token: string, reveal = false) => ({ authorization: `Bearer ${token}`, ...(reveal ? REVEAL : {}) });

  it('three replicas started at the same moment on an empty database all migrate, seed once and become ready', async () => {
    const dbUrl = proxy.via(database.url);
    const setups = await Promise.all(
      ['gw-1', 'gw-2', 'gw-3'].map(async (name) => {
        const port = await freePort();
        const config = demoLikeConfig(api.url, dir, {
          server: { host: '127.0.0.1', port },
          identity: { issuer: ISS, audience: AUD, jwksFile: path.join(dir, 'jwks.json') },
          privacy: {
            managedDomains: ['contoso.com'],
            groups: [{ id: 'hr', name: 'Human Resources', privateSince: '2026-03-01T00:00:00Z' }],
            permissions: ['alice@contoso.com'],
          },
          directory: { groups: { hr: ['bob@contoso.com'], ops: ['oscar@contoso.com'] }, knownGroups: [{ id: 'legal', name: 'Legal' }] },
          governance: { sink: 'postgres', postgresUrl: dbUrl },
          state: { store: 'postgres', postgresUrl: dbUrl },
          logging: { level: 'warn' },
        });
        const configFile = path.join(dir, `${name}.json`);
        await writeFile(configFile, JSON.stringify(config));
        return { name, port, configFile };
      }),
    );
    // all three spawned in the same tick: their migrations race on the empty database
    for (const s of setups) {
      const child = spawn(process.execPath, [CLI, 'serve', '--config', s.configFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, APG_INSTANCE: s.name },
      });
      let out = '';
      const keep = (d: Buffer) => {
        out = (out + d.toString()).slice(-8000);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      replicas.push({ name: s.name, url: `http://127.0.0.1:${s.port}`, configFile: s.configFile, child, output: () => out });
    }
    await Promise.all(replicas.map((r) => waitReady(r)));

    const tables = await sql<{ table_name: string }>(
      database.url,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.map((t) => t.table_name)).toEqual([
      'governance_checkpoint',
      'governance_forward',
      'governance_log',
      'privacy_changes',
      'privacy_groups',
      'privacy_permissions',
      'reveal_requests',
      'schema_version',
      'state_meta',
    ]);
    expect(await sql(database.url, 'SELECT version FROM schema_version ORDER BY version')).toEqual([
      { version: 1 },
      { version: 2 },
      { version: 3 },
      { version: 4 },
      { version: 5 },
      { version: 6 },
      { version: 7 },
    ]);
    expect(await sql(database.url, 'SELECT key FROM state_meta')).toEqual([{ key: 'seeded' }]);
    expect(await sql(database.url, 'SELECT id FROM privacy_groups')).toEqual([{ id: 'hr' }]);
    expect(await sql(database.url, 'SELECT principal FROM privacy_permissions')).toEqual([{ principal: 'alice@contoso.com' }]);
    for (const r of replicas) {
      expect(r.child.exitCode).toBeNull();
      // every replica serves the seeded state: hr hidden, ops not (yet)
      expect((await visibleIds(r.url)).sort()).toEqual([...PUBLIC_IDS, ...OPS_IDS].sort());
    }
  }, 90_000);

  it('a privacy change through one replica is enforced by the others within 2 s', async () => {
    const [a, b, c] = replicas;
    const others = [b, c];

    // group made private through gw-1 -> gw-2 and gw-3 hide its members' activities
    let t0 = Date.now();
    const added = await get(`${a.url}/_gateway/api/privacy/groups`, {
      method: 'POST',
      headers: { ...auth(tokens.alice), 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'ops', name: 'Operations' }),
    });
    expect(added.status).toBe(201);
    const hideTimes = await Promise.all(
      others.map((r) =>
        until(
          async () => {
            const ids = await visibleIds(r.url);
            return OPS_IDS.every((id) => !ids.includes(id));
          },
          5000,
          t0,
        ),
      ),
    );
    for (const ms of hideTimes) expect(ms).toBeLessThan(2000);
    for (const r of replicas) expect((await visibleIds(r.url)).sort()).toEqual([...PUBLIC_IDS].sort());

    // dave is an admin without permission everywhere; granted through gw-2, gw-3 and gw-1 reveal for him
    for (const r of replicas) expect((await get(`${r.url}${LIST}`, { headers: auth(tokens.dave, true) })).status).toBe(403);
    t0 = Date.now();
    const granted = await get(`${b.url}/_gateway/api/privacy/permissions`, {
      method: 'POST',
      headers: { ...auth(tokens.alice), 'content-type': 'application/json' },
      body: JSON.stringify({ principal: 'dave@contoso.com' }),
    });
    expect(granted.status).toBe(201);
    const revealTimes = await Promise.all(
      [c, a].map((r) => until(async () => (await get(`${r.url}${LIST}`, { headers: auth(tokens.dave, true) })).status === 200, 5000, t0)),
    );
    for (const ms of revealTimes) expect(ms).toBeLessThan(2000);
    const shown = await get(`${c.url}${LIST}`, { headers: auth(tokens.dave, true) });
    expect(shown.headers.get('x-private-activities')).toBe('shown');
    expect((shown.json().data as Array<{ _id: string }>).map((x) => x._id).sort()).toEqual(DATASET.map((x) => x._id).sort());

    // revoked through gw-3 -> gw-1 and gw-2 refuse within 2 s
    t0 = Date.now();
    const revoked = await get(`${c.url}/_gateway/api/privacy/permissions/dave%40contoso.com`, { method: 'DELETE', headers: auth(tokens.alice) });
    expect(revoked.status).toBe(204);
    const refuseTimes = await Promise.all(
      [a, b].map((r) => until(async () => (await get(`${r.url}${LIST}`, { headers: auth(tokens.dave, true) })).status === 403, 5000, t0)),
    );
    for (const ms of refuseTimes) expect(ms).toBeLessThan(2000);
    const refused = await get(`${b.url}${LIST}`, { headers: auth(tokens.dave, true) });
    expect(refused.json().error.code).toBe('reveal_forbidden');
  }, 60_000);

  it('250 concurrent reveals spread over the replicas give one contiguous, valid chain holding every acknowledged entry', async () => {
    const results = await Promise.all(
      Array.from({ length: 250 }, (_, i) => get(`${replicas[i % replicas.length].url}${LIST}`, { headers: auth(tokens.alice, true) })),
    );
    const acknowledged: string[] = [];
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.headers.get('x-private-activities')).toBe('shown');
      acknowledged.push(r.headers.get('x-governance-entry')!);
    }
    expect(new Set(acknowledged).size).toBe(250);

    const rows = await sql<{ line: string }>(database.url, 'SELECT line FROM governance_log ORDER BY seq');
    const file = path.join(dir, 'chain.jsonl');
    await writeFile(file, rows.map((r) => `${r.line}\n`).join(''));
    const chain = verifyChainFile(file);
    expect(chain.ok, chain.reason).toBe(true);
    expect(chain.count).toBe(rows.length);
    expect(chain.entries.map((e) => e.seq)).toEqual(Array.from({ length: chain.count }, (_, i) => i + 1));
    const byId = new Map(chain.entries.map((e) => [e.id as string, e]));
    for (const id of acknowledged) {
      const e = byId.get(id);
      expect(e?.action).toBe('private-activities.viewed');
      expect(e?.principal).toBe('alice@contoso.com');
    }
    // one chain written by all three instances, admin changes included
    expect(new Set(chain.entries.map((e) => e.instance))).toEqual(new Set(['gw-1', 'gw-2', 'gw-3']));
    expect(chain.entries.filter((e) => e.action !== 'private-activities.viewed').map((e) => e.action)).toEqual(
      expect.arrayContaining(['privacy-group.added', 'reveal-permission.granted', 'reveal-permission.revoked']),
    );
    // and each replica's own verification agrees
    for (const r of replicas) {
      const v = await get(`${r.url}/_gateway/api/governance/verify`, { headers: auth(tokens.alice) });
      expect(v.status).toBe(200);
      expect(v.json().ok).toBe(true);
      expect(v.json().count).toBeGreaterThanOrEqual(chain.count);
    }
  }, 90_000);

  it('with PostgreSQL gone: reveals 503 with nothing private, ordinary traffic filtered with the last state, readyz 503; then recovery', async () => {
    const publicSorted = [...PUBLIC_IDS].sort();
    // ordinary traffic runs throughout the outage and the recovery
    let running = true;
    const ordinary: Array<{ status: number; ids?: string[]; error?: string }> = [];
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        const r = await get(`${replicas[i % replicas.length].url}${LIST}`).catch((err) => ({ status: 0, error: String(err) }) as const);
        if ('json' in r)
          ordinary.push({ status: r.status, ids: r.status === 200 ? (r.json().data as Array<{ _id: string }>).map((x) => x._id).sort() : undefined });
        else ordinary.push(r);
        await sleep(10);
      }
    })();

    await sleep(200);
    await proxy.stop();
    const downAt = Date.now();
    try {
      for (const r of replicas) {
        await until(async () => (await get(`${r.url}/_gateway/readyz`)).status === 503, 5000);
      }
      for (const r of replicas) {
        const t = Date.now();
        const refused = await get(`${r.url}${LIST}`, { headers: auth(tokens.alice, true) });
        expect(Date.now() - t).toBeLessThan(5000); // bounded by the 2 s deadline (plus the upstream round trip)
        expect(refused.status).toBe(503);
        expect(refused.json().error.code).toBe('governance_unavailable');
        expect(refused.headers.get('x-private-activities')).toBeNull();
        expect(refused.headers.get('x-governance-entry')).toBeNull();
        for (const marker of PRIVATE_MARKERS) expect(refused.text).not.toContain(marker);
        // an admin asking without reveal is ordinary traffic: filtered, still served
        expect((await visibleIds(r.url, auth(tokens.alice))).sort()).toEqual(publicSorted);
      }
      // a change cannot be stored now, and says so
      const change = await get(`${replicas[0].url}/_gateway/api/privacy/groups`, {
        method: 'POST',
        headers: { ...auth(tokens.alice), 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'legal' }),
      });
      expect(change.status).toBe(503);
      expect(change.json().error.code).toBe('governance_unavailable');
      // keep the database away a while longer with ordinary traffic flowing
      await sleep(Math.max(0, downAt + 2000 - Date.now()));
    } finally {
      await proxy.start();
    }

    const upAt = Date.now();
    const recovery = await Promise.all(
      replicas.map((r) =>
        until(
          async () =>
            (await get(`${r.url}/_gateway/readyz`)).status === 200 && (await get(`${r.url}${LIST}`, { headers: auth(tokens.alice, true) })).status === 200,
          15_000,
          upAt,
        ),
      ),
    );
    for (const ms of recovery) expect(ms).toBeLessThan(10_000);
    running = false;
    await traffic;

    // every ordinary request was answered, and filtered with the state from before the outage (hr and ops hidden)
    expect(ordinary.length).toBeGreaterThan(20);
    for (const o of ordinary) {
      expect(o.status, o.error).toBe(200);
      expect(o.ids).toEqual(publicSorted);
    }
    // the chain is still one valid chain after the outage
    const v = await get(`${replicas[1].url}/_gateway/api/governance/verify`, { headers: auth(tokens.alice) });
    expect(v.json().ok).toBe(true);
  }, 90_000);

  it('apg governance verify reads the postgres sink: count and exit 0; a tampered row -> exit 1 with its seq', async () => {
    const [{ n }] = await sql<{ n: number }>(database.url, 'SELECT count(*)::int AS n FROM governance_log');
    expect(n).toBeGreaterThan(250);
    const ok = await runCli(['governance', 'verify', '--config', replicas[0].configFile]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`${n} entries`);

    const victim = 42;
    const changed = await sql(
      database.url,
      `UPDATE governance_log SET line = replace(line, '"alice@contoso.com"', '"mallory@contoso.com"') WHERE seq = $1 AND line LIKE '%alice@contoso.com%' RETURNING seq`,
      [victim],
    );
    expect(changed).toHaveLength(1);
    const broken = await runCli(['governance', 'verify', '--config', replicas[0].configFile]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain(`BROKEN at seq ${victim}`);
  }, 60_000);
});
