/**
 * SPEC §12 with the PostgreSQL sink: two real gateway processes share one
 * database; exactly one forwards (session advisory lock), its progress lives in
 * governance_forward; SIGKILL it mid-delivery and the other takes over without
 * a gap. `apg governance verify --checkpoints` catches a truncated table.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresSink } from '../../src/governance/postgresSink.js';
import { CLI, ensureBuilt } from '../helpers/build.js';
import { appendMany, writeEd25519Key } from '../helpers/forwarding.js';
import { demoLikeConfig, tempDir } from '../helpers/gateway.js';
import { freePort, freshDatabase, sql, type FreshDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/rsyslog.js';

const db: FreshDatabase | null = await freshDatabase();
if (!db) console.warn('\n##### test/e2e/forwardPostgres.test.ts SKIPPED: no PostgreSQL (see the message above) #####\n');

interface Replica {
  name: string;
  child: ChildProcess;
  out: () => string;
  url: string;
}

describe.skipIf(!db)('forwarding with the PostgreSQL sink and two replicas', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  const received: Array<{ seq?: number; id?: string; checkpoint?: string }> = [];
  let hook: http.Server;
  let hookUrl: string;

  beforeAll(async () => {
    await ensureBuilt();
    ({ dir, cleanup } = await tempDir('apg-fwdpg-'));
    hook = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { seq?: number });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/apg`;
  }, 180_000);
  afterAll(async () => {
    await new Promise<void>((r) => {
      hook?.closeAllConnections();
      hook?.close(() => r());
    });
    await db?.drop();
    await cleanup?.();
  });

  it('one replica forwards; SIGKILLed mid-delivery, the other takes over without a gap; verify --checkpoints sees a truncated table', async () => {
    const N = 3000;
    const sink = await openPostgresSink({ url: db!.url, instance: 'prefill' });
    await appendMany(sink, N, 1, 256);
    await sink.close();
    const { keyFile, publicKeyFile } = writeEd25519Key(dir);
    const start = async (name: string): Promise<Replica> => {
      const port = await freePort();
      const sub = path.join(dir, name);
      mkdirSync(sub, { recursive: true });
      const configFile = path.join(sub, 'gateway.yaml');
      writeFileSync(
        configFile,
        JSON.stringify(
          demoLikeConfig('http://127.0.0.1:9', sub, {
            server: { host: '127.0.0.1', port },
            governance: {
              sink: 'postgres',
              postgresUrl: db!.url,
              forward: [{ name: 'hooks', type: 'webhook', url: hookUrl, batchSize: 20 }],
              checkpoint: { keyFile, everyEntries: 500, everySec: 3600 },
            },
            logging: { level: 'info' },
          }),
        ),
      );
      let out = '';
      const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, APG_INSTANCE: name },
      });
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      const url = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`);
          try {
            return (await fetch(`${url}/_gateway/readyz`)).status === 200;
          } catch {
            return false;
          }
        },
        30_000,
        `${name} ready`,
      );
      return { name, child, out: () => out, url };
    };
    const leads = (r: Replica) => r.out().includes('this instance now forwards the governance log');
    const a = await start('gw-a');
    const b = await start('gw-b');
    try {
      await waitFor(() => received.length >= 500, 30_000, '500 delivered');
      const [leader, follower] = leads(a) ? [a, b] : [b, a];
      expect(leads(leader)).toBe(true);
      expect(leads(follower)).toBe(false);
      leader.child.kill('SIGKILL');
      await new Promise<void>((r) => (leader.child.exitCode !== null || leader.child.signalCode !== null ? r() : leader.child.once('exit', () => r())));
      const killedAt = Date.now();
      const atKill = received.filter((m) => m.seq !== undefined).length;
      await waitFor(() => leads(follower), 20_000, 'takeover');
      const takeoverMs = Date.now() - killedAt;
      await waitFor(() => new Set(received.map((m) => m.seq).filter((s) => s !== undefined)).size >= N, 60_000, `all ${N}`).catch((err: Error) => {
        throw new Error(
          `${err.message}: ${new Set(received.map((m) => m.seq)).size} distinct of ${received.length}; follower:\n${follower.out().slice(-3000)}`,
        );
      });
      const seqs = received.map((m) => m.seq).filter((s): s is number => s !== undefined);
      let max = 0;
      for (const s of seqs) {
        expect(s).toBeLessThanOrEqual(max + 1);
        max = Math.max(max, s);
      }
      const progress = await sql<{ target: string; seq: string }>(db!.url, 'SELECT target, seq::text AS seq FROM governance_forward');
      await waitFor(
        async () => Number((await sql<{ seq: string }>(db!.url, 'SELECT seq::text AS seq FROM governance_forward'))[0].seq) === N,
        10_000,
        'progress stored',
      );
      expect(progress.map((p) => p.target)).toEqual(['hooks']);
      // the checkpoints of the backlog are made by the forwarding replica's checkpoint tick, which may
      // come after the last entry was delivered
      const checkpoints = () =>
        sql<{ seq: string; jws: string }>(db!.url, 'SELECT seq::text AS seq, jws FROM governance_checkpoint ORDER BY governance_checkpoint.seq');
      await waitFor(async () => (await checkpoints()).length >= 6, 10_000, 'checkpoints made');
      const cps = await checkpoints();
      expect(cps.map((c) => Number(c.seq))).toEqual([500, 1000, 1500, 2000, 2500, 3000]);
      await waitFor(() => received.filter((m) => m.checkpoint).length >= 6, 10_000, 'checkpoints delivered');
      console.log(
        `[forward] postgres: leader ${leader.name} SIGKILLed after ${atKill} of ${N}; ${follower.name} took over in ${takeoverMs} ms; ` +
          `all delivered, ${seqs.length - N} repeats, no gaps`,
      );

      // anchoring: truncate the table's tail; the checkpoints from the SIEM catch it
      follower.child.kill('SIGTERM');
      await new Promise<void>((r) => (follower.child.exitCode !== null ? r() : follower.child.once('exit', () => r())));
      const cpFile = path.join(dir, 'checkpoints.txt');
      writeFileSync(
        cpFile,
        received
          .filter((m) => m.checkpoint)
          .map((m) => JSON.stringify({ checkpoint: m.checkpoint }))
          .join('\n') + '\n',
      );
      const configFile = path.join(dir, follower.name, 'gateway.yaml');
      const verify = () =>
        spawnSync(process.execPath, [CLI, 'governance', 'verify', '--config', configFile, '--checkpoints', cpFile, '--public-key', publicKeyFile], {
          encoding: 'utf8',
        });
      const ok = verify();
      expect(ok.status, ok.stdout + ok.stderr).toBe(0);
      await sql(db!.url, 'DELETE FROM governance_log WHERE seq > 2200');
      const cut = verify();
      expect(cut.status).toBe(1);
      expect(cut.stdout).toMatch(/governance log OK: 2200 entries/);
      expect(cut.stdout).toMatch(/checkpoint seq 2500 .*truncated/);
      expect(cut.stdout).toMatch(/checkpoint seq 3000 .*truncated/);
      expect(cut.stdout).not.toMatch(/checkpoint seq 2000 /);
    } finally {
      for (const r of [a, b]) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    }
  }, 180_000);
});
