/**
 * SPEC §12 through the real gateway: a gateway process SIGKILLed mid-delivery
 * resumes without gaps after the restart (real rsyslogd), GET
 * api/governance/checkpoint, `apg check-config` on bad forward/checkpoint
 * settings, and `apg governance verify --checkpoints` catching a truncated or
 * rewritten file sink and a forged checkpoint.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, compactVerify, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileSink } from '../../src/governance/fileSink.js';
import { CLI, ensureBuilt } from '../helpers/build.js';
import { entryHash } from '../helpers/chainVerifier.js';
import { appendMany, writeEd25519Key } from '../helpers/forwarding.js';
import { demoLikeConfig, get, startTestGateway, tempDir } from '../helpers/gateway.js';
import { generateTestKey, signToken } from '../helpers/idp.js';
import { freePort } from '../helpers/postgres.js';
import { parseSyslog, rsyslogAvailable, startRsyslog, waitFor, type Rsyslog } from '../helpers/rsyslog.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const haveRsyslog = rsyslogAvailable();

function cli(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

async function waitReady(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${stderr()}`);
    try {
      if ((await fetch(`${url}/_gateway/readyz`)).status === 200) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gateway not ready in 30 s: ${stderr()}`);
}

describe('forwarding and checkpoints through the gateway', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    await ensureBuilt();
    ({ dir, cleanup } = await tempDir('apg-fwdg-'));
  }, 180_000);
  afterAll(async () => {
    await cleanup?.();
  });

  it.skipIf(!haveRsyslog)(
    'a gateway SIGKILLed mid-delivery resumes without gaps after the restart',
    async () => {
      const rs: Rsyslog = await startRsyslog();
      try {
        const sub = path.join(dir, 'crash');
        const file = path.join(sub, 'governance.jsonl');
        // a backlog the gateway has to deliver after it starts, in batches of 5: slow enough that the
        // progress (stored only after resendSec) exists long before the last entry arrives, even on
        // a fast machine (with batches of 50, Node 24 once delivered all 60,000 within that second)
        const N = 60_000;
        const sink = await openFileSink({ file, instance: 'prefill' });
        await appendMany(sink, N, 1, 512);
        await sink.close();
        const port = await freePort();
        const configFile = path.join(sub, 'gateway.yaml');
        writeFileSync(
          configFile,
          JSON.stringify(
            demoLikeConfig('http://127.0.0.1:9', sub, {
              server: { host: '127.0.0.1', port },
              governance: {
                sink: 'file',
                file,
                forward: [{ name: 'siem', type: 'syslog', url: `tcp://127.0.0.1:${rs.tcpPort}`, batchSize: 5, resendSec: 1 }],
              },
            }),
          ),
        );
        const url = `http://127.0.0.1:${port}`;
        const seqs = () => rs.messages('tcp').map((l) => (JSON.parse(parseSyslog(l).msg) as { seq: number }).seq);
        const run = async (killAt: number | null) => {
          let stderr = '';
          const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
          child.stderr.on('data', (d) => {
            stderr += d;
          });
          await waitReady(url, child, () => stderr);
          if (killAt === null) return child;
          // killed mid-delivery, once some progress is stored (it is stored only after resendSec: on a
          // fast machine the first 10,000 can arrive before anything has settled)
          await waitFor(() => rs.messages('tcp').length >= killAt && existsSync(`${file}.forward.json`), 60_000, `${killAt} delivered, progress stored`);
          child.kill('SIGKILL');
          await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
          expect(child.signalCode).toBe('SIGKILL');
          return child;
        };
        await run(10_000);
        await new Promise((r) => setTimeout(r, 300));
        const atKill = seqs();
        const maxAtKill = Math.max(...atKill);
        // it really was mid-delivery
        expect(maxAtKill).toBeLessThan(N);
        const progress = JSON.parse(readFileSync(`${file}.forward.json`, 'utf8')) as { targets: { siem: { seq: number } } };
        const restartAt = Date.now();
        const child = await run(null);
        try {
          await waitFor(() => new Set(seqs()).size >= N, 120_000, `all ${N} after the restart`);
          const afterMs = Date.now() - restartAt;
          const all = seqs();
          let max = 0;
          for (const s of all) {
            expect(s).toBeLessThanOrEqual(max + 1); // never skips ahead
            max = Math.max(max, s);
          }
          expect(new Set(all).size).toBe(N);
          const repeats = all.length - N;
          // resumed from the stored progress, not from the start
          expect(repeats).toBeLessThanOrEqual(maxAtKill - progress.targets.siem.seq + 1);
          expect(progress.targets.siem.seq).toBeGreaterThan(0);
          // delivered once resendSec has passed on the live connection
          await waitFor(async () => /apg_governance_forward_lag\{target="siem"\} 0/.test((await get(`${url}/_gateway/metrics`)).text), 10_000, 'lag 0');
          console.log(
            `[forward] SIGKILL: ${atKill.length} of ${N} delivered at the kill (stored progress ${progress.targets.siem.seq}), ` +
              `restart resumed and delivered the rest in ${afterMs} ms with ${repeats} repeats, no gaps`,
          );
        } finally {
          child.kill('SIGTERM');
          await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
        }
      } finally {
        await rs.close();
      }
    },
    240_000,
  );

  it('GET api/governance/checkpoint signs the head (kid = RFC 7638 thumbprint); 404 without a key', async () => {
    const key = await generateTestKey('ES256');
    const jwksFile = path.join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
    const now = Math.floor(Date.now() / 1000);
    const token = await signToken(key, { iss: ISS, aud: AUD, exp: now + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    const auth = { authorization: `Bearer ${token}` };
    const sub = path.join(dir, 'endpoint');
    const { keyFile, publicKeyFile } = writeEd25519Key(dir);
    const gw = await startTestGateway(
      demoLikeConfig('http://127.0.0.1:9', sub, {
        identity: { issuer: ISS, audience: AUD, jwksFile },
        governance: { sink: 'file', file: path.join(sub, 'governance.jsonl'), checkpoint: { keyFile } },
      }),
    );
    try {
      const empty = await get(`${gw.url}/_gateway/api/governance/checkpoint`, { headers: auth });
      expect(empty.status).toBe(200);
      await appendMany(gw.governance, 7);
      const r = await get(`${gw.url}/_gateway/api/governance/checkpoint`, { headers: auth });
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('no-store');
      const jws = r.json().checkpoint as string;
      const pub = createPublicKey(readFileSync(publicKeyFile, 'utf8'));
      const { payload, protectedHeader } = await compactVerify(jws, pub);
      expect(protectedHeader).toEqual({ alg: 'EdDSA', kid: await calculateJwkThumbprint(await exportJWK(pub)) });
      const p = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
      const head = (await gw.governance.read({ afterSeq: 6 })).entries[0];
      expect(p).toEqual({ type: 'apg.checkpoint', seq: 7, hash: head.hash, time: expect.any(String), instance: 'test' });
      expect(Object.keys(p)).toEqual(['type', 'seq', 'hash', 'time', 'instance']);
      expect((await get(`${gw.url}/_gateway/api/governance/checkpoint`)).status).toBe(401);
    } finally {
      await gw.close(1000);
    }
    const plain = await startTestGateway(demoLikeConfig('http://127.0.0.1:9', path.join(dir, 'nokey'), { identity: { issuer: ISS, audience: AUD, jwksFile } }));
    try {
      const r = await get(`${plain.url}/_gateway/api/governance/checkpoint`, { headers: auth });
      expect(r.status).toBe(404);
      expect(r.json().error.code).toBe('not_found');
    } finally {
      await plain.close(1000);
    }
  }, 60_000);

  it('requests are never delayed or failed by forwarding: a receiver that never reads and a webhook that hangs', async () => {
    const net = await import('node:net');
    const http = await import('node:http');
    const stuck: import('node:net').Socket[] = [];
    const tcp = net.createServer((s) => {
      s.pause();
      stuck.push(s);
    });
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    let hanging = 0;
    const hang = http.createServer(() => {
      hanging += 1; /* never answers */
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()));
    const key = await generateTestKey('ES256');
    const jwksFile = path.join(dir, 'jwks-hang.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
    const now = Math.floor(Date.now() / 1000);
    const token = await signToken(key, { iss: ISS, aud: AUD, exp: now + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    const { startDemoStack } = await import('../helpers/gateway.js');
    const stack = await startDemoStack({
      identity: { issuer: ISS, audience: AUD, jwksFile },
      governance: {
        sink: 'file',
        file: path.join(dir, 'hang', 'governance.jsonl'),
        forward: [
          // timeouts far beyond the test: while the requests run, both targets are stuck for good
          {
            name: 'stuck',
            type: 'syslog',
            url: `tcp://127.0.0.1:${(tcp.address() as import('node:net').AddressInfo).port}`,
            timeoutMs: 120_000,
            retry: { minMs: 50, maxMs: 100 },
          },
          {
            name: 'hang',
            type: 'webhook',
            url: `http://127.0.0.1:${(hang.address() as import('node:net').AddressInfo).port}/`,
            timeoutMs: 120_000,
            retry: { minMs: 50, maxMs: 100 },
          },
        ],
      },
    });
    try {
      for (let i = 0; i < 60; i++) {
        const r = await get(`${stack.gw.url}/api/v1/activities/?limit=50&skip=${i * 50}`, {
          headers: { authorization: `Bearer ${token}`, 'x-show-private-activities': 'confirm' },
        });
        expect(r.status).toBe(200);
        expect(r.headers.get('x-governance-entry')).toMatch(/^[0-9a-f-]{36}$/);
      }
      // Causal, not timed: every reveal was answered while none of the 60 entries had reached
      // the webhook (it never answers), so no request waited on a target ...
      const metrics = (await get(`${stack.gw.url}/_gateway/metrics`)).text;
      const lag = (target: string): number => Number(new RegExp(`apg_governance_forward_lag\\{target="${target}"\\} (\\d+)`).exec(metrics)?.[1] ?? -1);
      expect(lag('hang')).toBeGreaterThanOrEqual(60);
      // ... and the forwarder really was trying: the webhook holds a delivery it never answers
      await waitFor(() => hanging >= 1, 10_000, 'a delivery reached the hanging webhook');
    } finally {
      await stack.close();
      for (const s of stuck) s.destroy();
      hang.closeAllConnections();
      await new Promise<void>((r) => tcp.close(() => r()));
      await new Promise<void>((r) => hang.close(() => r()));
    }
  }, 60_000);

  it('apg check-config reports an unknown target scheme, a duplicate name and a checkpoint key that is not Ed25519', () => {
    const sub = path.join(dir, 'badcfg');
    const ecKey = path.join(dir, 'ec.pem');
    writeFileSync(ecKey, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const cfg = (governance: Record<string, unknown>) => {
      const f = path.join(dir, `cfg-${Math.random()}.yaml`);
      writeFileSync(
        f,
        JSON.stringify(demoLikeConfig('http://127.0.0.1:9', sub, { governance: { sink: 'file', file: path.join(sub, 'g.jsonl'), ...governance } })),
      );
      return f;
    };
    const scheme = cli([
      'check-config',
      '--config',
      cfg({
        forward: [
          { name: 'a', type: 'syslog', url: 'ftp://siem:514' },
          { name: 'a', type: 'webhook', url: 'tcp://hooks:80' },
        ],
      }),
    ]);
    expect(scheme.code).toBe(1);
    expect(scheme.out).toMatch(/governance\.forward\.0\.url: unknown scheme ftp:/);
    expect(scheme.out).toMatch(/governance\.forward\.1\.url: unknown scheme tcp:.*webhook/);
    expect(scheme.out).toMatch(/governance\.forward\.1\.name: duplicate target name a/);
    const ec = cli(['check-config', '--config', cfg({ checkpoint: { keyFile: ecKey } })]);
    expect(ec.code).toBe(1);
    expect(ec.out).toMatch(/governance\.checkpoint\.keyFile: .*ec\.pem is a ec key; checkpoints need an Ed25519 key/);
    const missing = cli(['check-config', '--config', cfg({ checkpoint: { keyFile: path.join(dir, 'nope.pem') } })]);
    expect(missing.out).toMatch(/governance\.checkpoint\.keyFile: cannot read .*nope\.pem \(ENOENT\)/);
    const garbage = path.join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a key');
    expect(cli(['check-config', '--config', cfg({ checkpoint: { keyFile: garbage } })]).out).toMatch(/keyFile: .*is not a PEM private key/);
    const { keyFile } = writeEd25519Key(dir);
    const ok = cli([
      'check-config',
      '--config',
      cfg({ checkpoint: { keyFile }, forward: [{ name: 'siem', type: 'syslog', url: 'tls://siem.contoso.com:6514' }] }),
    ]);
    expect(ok.code, ok.out + ok.err).toBe(0);
  }, 60_000);

  it('apg governance verify --checkpoints: a truncated tail, a rewritten entry and a forged checkpoint, each with its seq (file sink)', async () => {
    const sub = path.join(dir, 'verify');
    const file = path.join(sub, 'governance.jsonl');
    mkdirSync(sub, { recursive: true });
    const { keyFile, publicKeyFile } = writeEd25519Key(sub);
    const gw = await startTestGateway(demoLikeConfig('http://127.0.0.1:9', sub, { governance: { sink: 'file', file, checkpoint: { keyFile } } }));
    const checkpoints: string[] = [];
    try {
      for (const n of [50, 50, 50]) {
        await appendMany(gw.governance, n);
        checkpoints.push((await gw.forwarding.checkpoint())!); // heads 50, 100, 150
      }
    } finally {
      await gw.close(1000);
    }
    const cpFile = path.join(sub, 'checkpoints.txt');
    // one a line, as collected from the SIEM: a bare JWS, a webhook body and a syslog line
    writeFileSync(cpFile, `${checkpoints[0]}\n{"checkpoint":"${checkpoints[1]}"}\n<110>1 2026-01-01T00:00:00Z h apg 1 checkpoint - ${checkpoints[2]}\n`);
    const configFile = path.join(sub, 'gateway.yaml');
    writeFileSync(configFile, JSON.stringify(demoLikeConfig('http://127.0.0.1:9', sub, { governance: { sink: 'file', file, checkpoint: { keyFile } } })));
    const verify = () => cli(['governance', 'verify', '--config', configFile, '--checkpoints', cpFile, '--public-key', publicKeyFile]);

    const good = verify();
    expect(good.code, good.out + good.err).toBe(0);
    expect(good.out).toMatch(/checkpoints OK: 3 checked/);

    // truncation: the last 20 lines cut by hand; the chain itself is still valid
    const original = readFileSync(file, 'utf8');
    const lines = original.trimEnd().split('\n');
    writeFileSync(file, lines.slice(0, 130).join('\n') + '\n');
    const cut = verify();
    expect(cut.code).toBe(1);
    expect(cut.out).toMatch(/governance log OK: 130 entries/);
    expect(cut.out).toMatch(/checkpoint seq 150 \(line 3\): truncated: the chain ends at seq 130$/m);
    expect(cut.out).not.toMatch(/checkpoint seq 100/);

    // rewrite: entry 80 changed and the chain re-hashed from there, so the chain verifies but not the checkpoints after it
    const entries = lines.map((l) => JSON.parse(l) as Record<string, any>);
    entries[79].principal = 'mallory@contoso.com';
    let prev = entries[78].hash as string;
    for (let i = 79; i < entries.length; i++) {
      entries[i].prevHash = prev;
      delete entries[i].hash;
      entries[i].hash = entryHash(prev, entries[i]);
      prev = entries[i].hash as string;
    }
    writeFileSync(file, entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const rewritten = verify();
    expect(rewritten.code).toBe(1);
    expect(rewritten.out).toMatch(/governance log OK: 150 entries/);
    expect(rewritten.out).toMatch(/checkpoint seq 100 \(line 2\): rewritten/);
    expect(rewritten.out).toMatch(/checkpoint seq 150 \(line 3\): rewritten/);
    expect(rewritten.out).not.toMatch(/checkpoint seq 50 /);

    // a forged checkpoint (payload changed, signature kept) and one signed by another key
    writeFileSync(file, original);
    const [h, , s] = checkpoints[0].split('.');
    const forgedPayload = Buffer.from(
      JSON.stringify({ type: 'apg.checkpoint', seq: 42, hash: '0'.repeat(64), time: new Date().toISOString(), instance: 'x' }),
    ).toString('base64url');
    mkdirSync(path.join(dir, 'otherkey'), { recursive: true });
    const other = writeEd25519Key(path.join(dir, 'otherkey'));
    const gw2 = await startTestGateway(
      demoLikeConfig('http://127.0.0.1:9', path.join(dir, 'other'), {
        governance: { sink: 'file', file: path.join(dir, 'other', 'g.jsonl'), checkpoint: { keyFile: other.keyFile } },
      }),
    );
    const foreign = (await gw2.forwarding.checkpoint())!;
    await gw2.close(1000);
    writeFileSync(cpFile, `${h}.${forgedPayload}.${s}\n${foreign}\nnot a checkpoint\n`);
    const forged = verify();
    expect(forged.code).toBe(1);
    expect(forged.out).toMatch(/checkpoint seq 42 \(line 1\): bad-signature/);
    expect(forged.out).toMatch(/checkpoint seq 0 \(line 2\): bad-signature/);
    expect(forged.out).toMatch(/checkpoint seq \? \(line 3\): malformed/);
  }, 90_000);
});
