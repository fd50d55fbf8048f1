/**
 * SPEC §12 bad input on the delivery side: each is a counted, logged delivery
 * failure, never a crash, never a blocked request path. Real servers on
 * loopback: an HTTP receiver that fails then recovers, one that answers too
 * slowly, a TCP receiver that accepts and never reads, rsyslogd over TLS with
 * a certificate from another CA.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAndWake, startRig, writeEd25519Key, type ForwardRig } from '../helpers/forwarding.js';
import { tempDir } from '../helpers/gateway.js';
import { rsyslogAvailable, startRsyslog, waitFor, type Rsyslog } from '../helpers/rsyslog.js';

interface Hook {
  url: string;
  bodies: Array<{ body: string; auth: string | undefined; type: string | undefined }>;
  statuses: number[];
  close(): Promise<void>;
}

/** A webhook receiver: `answer(n)` decides the status of the n-th request (0-based) and how long to wait first. */
async function startHook(answer: (n: number) => { status: number; delayMs?: number }): Promise<Hook> {
  const bodies: Hook['bodies'] = [];
  const statuses: number[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answer(n++);
      setTimeout(() => {
        if (res.destroyed) return;
        statuses.push(a.status);
        if (a.status >= 200 && a.status < 300) {
          bodies.push({ body: Buffer.concat(chunks).toString('utf8'), auth: req.headers.authorization, type: req.headers['content-type'] });
        }
        res.writeHead(a.status, { 'content-type': 'text/plain' }).end('x'.repeat(a.status >= 500 ? 100_000 : 2));
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/apg`,
    bodies,
    statuses,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('forwarding faults', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let rig: ForwardRig | undefined;
  const closers: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('apg-fwdf-'));
  });
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    for (const c of closers.splice(0)) await c();
    await cleanup();
  }, 30_000);

  it('a webhook answering 500 then 200: retried with back-off and delivered in order, with the headers; checkpoints as {"checkpoint": jws}', async () => {
    const hook = await startHook((n) => ({ status: n < 3 ? 500 : 200 }));
    closers.push(hook.close);
    const { keyFile } = writeEd25519Key(dir);
    rig = await startRig(dir, {
      forward: [{ name: 'hooks', type: 'webhook', url: hook.url, headers: { Authorization: 'Bearer hook-token' }, retry: { minMs: 10, maxMs: 50 } }],
      checkpoint: { keyFile, everyEntries: 5, everySec: 3600 },
    });
    await appendAndWake(rig, 12, 1, 4);
    await waitFor(() => hook.bodies.filter((b) => !b.body.includes('"checkpoint"')).length >= 12, 10_000, '12 entries');
    await waitFor(() => hook.bodies.filter((b) => b.body.includes('"checkpoint"')).length >= 2, 10_000, '2 checkpoints');
    expect(hook.statuses.slice(0, 3)).toEqual([500, 500, 500]);
    const msgs = hook.bodies.map((b) => JSON.parse(b.body) as { seq?: number; checkpoint?: string });
    expect(msgs.filter((m) => m.seq !== undefined).map((m) => m.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // each checkpoint after the entry it covers
    const order = msgs.map((m) => (m.checkpoint ? `cp${JSON.parse(Buffer.from(m.checkpoint.split('.')[1], 'base64url').toString()).seq}` : `e${m.seq}`));
    expect(order.indexOf('cp5')).toBeGreaterThan(order.indexOf('e5'));
    expect(order.indexOf('cp10')).toBeGreaterThan(order.indexOf('e10'));
    for (const b of hook.bodies) {
      expect(b.auth).toBe('Bearer hook-token');
      expect(b.type).toBe('application/json');
    }
    expect(await rig.failures('hooks')).toBe(3);
    const warns = rig.log.lines.filter((l) => l.msg === 'governance forward failed; retrying with back-off');
    expect(warns.length).toBe(3);
    expect(warns[0]).toMatchObject({ target: 'hooks', code: 'HTTP_500' });
    // nothing from the entries in the log lines
    expect(JSON.stringify(rig.log.lines)).not.toContain('act-');
  }, 30_000);

  it('a webhook answering too slowly: a counted timeout, then delivered once it is fast again', async () => {
    const hook = await startHook((n) => ({ status: 200, delayMs: n < 2 ? 1500 : 0 }));
    closers.push(hook.close);
    rig = await startRig(dir, { forward: [{ name: 'slow', type: 'webhook', url: hook.url, timeoutMs: 200, retry: { minMs: 10, maxMs: 20 } }] });
    const t0 = Date.now();
    await appendAndWake(rig, 3, 1);
    const appendMs = Date.now() - t0;
    await waitFor(() => new Set(hook.bodies.map((b) => (JSON.parse(b.body) as { seq: number }).seq)).size >= 3, 10_000, '3 entries');
    expect(await rig.failures('slow')).toBeGreaterThanOrEqual(2);
    expect(rig.log.lines.some((l) => l.code === 'ETIMEDOUT' && l.target === 'slow')).toBe(true);
    // the slow receiver never slowed the appends down
    expect(appendMs).toBeLessThan(1000);
  }, 30_000);

  it('a receiver that accepts and never reads: bounded memory, appends not blocked, counted timeouts, reconnects', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => {
      s.pause();
      sockets.push(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    closers.push(
      () =>
        new Promise((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    const port = (server.address() as net.AddressInfo).port;
    rig = await startRig(dir, {
      forward: [{ name: 'stuck', type: 'syslog', url: `tcp://127.0.0.1:${port}`, timeoutMs: 300, retry: { minMs: 10, maxMs: 50 }, batchSize: 500 }],
    });
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    // ~40 MB of entries (100 ids each) against a receiver that reads nothing
    let slowest = 0;
    for (let i = 0; i < 40; i++) {
      const t = Date.now();
      await appendAndWake(rig, 250, i * 250 + 1, 250, 100);
      slowest = Math.max(slowest, Date.now() - t);
    }
    await waitFor(async () => (await rig!.failures('stuck')) >= 2, 15_000, 'timeouts counted');
    await waitFor(() => sockets.length >= 2, 15_000, 'a reconnect');
    global.gc?.();
    const growthMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
    expect(rig.log.lines.some((l) => l.code === 'ETIMEDOUT' && l.target === 'stuck')).toBe(true);
    expect(await rig.lag('stuck')).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(2000);
    // the forwarder holds at most one batch; 10 000 entries of ~4 KB were appended
    expect(growthMb).toBeLessThan(30);
    console.log(
      `[forward] never-reading receiver: ${sockets.length} connections, ${await rig.failures('stuck')} counted failures, heap growth ${growthMb.toFixed(1)} MB, slowest append batch ${slowest} ms`,
    );
  }, 60_000);

  it('a receiver gone entirely (connection refused): counted failures with back-off, and appends go on', async () => {
    const port = await new Promise<number>((r) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    rig = await startRig(dir, { forward: [{ name: 'gone', type: 'syslog', url: `tcp://127.0.0.1:${port}`, retry: { minMs: 10, maxMs: 40 } }] });
    await appendAndWake(rig, 10, 1);
    await waitFor(async () => (await rig!.failures('gone')) >= 3, 10_000, 'refusals counted');
    expect(rig.log.lines.some((l) => l.code === 'ECONNREFUSED')).toBe(true);
    // every failed round still reports the lag (it is read before sending)
    await waitFor(async () => (await rig!.lag('gone')) === 10, 10_000, 'lag 10');
  }, 30_000);

  it('closing does not wait out a TLS handshake that hangs', async () => {
    // accepts TCP, never answers the ClientHello: the connection stays in its handshake
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => {
      sockets.push(s);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    closers.push(
      () =>
        new Promise((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    const port = (server.address() as net.AddressInfo).port;
    rig = await startRig(dir, { forward: [{ name: 'mute', type: 'syslog', url: `tls://127.0.0.1:${port}`, connectTimeoutMs: 30_000 }] });
    await appendAndWake(rig, 1, 1);
    await waitFor(() => sockets.length >= 1, 5000, 'the handshake to start');
    const t = Date.now();
    await rig.close();
    rig = undefined;
    expect(Date.now() - t).toBeLessThan(2000);
  }, 30_000);
});

const haveRsyslog = rsyslogAvailable();

describe.skipIf(!haveRsyslog)('TLS to rsyslogd with a certificate the configured CA did not sign', () => {
  let rs: Rsyslog;
  let dir: string;
  let cleanup: () => Promise<void>;
  let rig: ForwardRig | undefined;
  beforeEach(async () => {
    rs = await startRsyslog();
    ({ dir, cleanup } = await tempDir('apg-fwdt-'));
  }, 30_000);
  afterEach(async () => {
    await rig?.close();
    await rs.close();
    await cleanup();
  }, 30_000);

  it('is a counted, logged failure; nothing is sent in the clear; the right CA then delivers', async () => {
    rig = await startRig(dir, {
      forward: [{ name: 'siem', type: 'syslog', url: `tls://127.0.0.1:${rs.tlsPort}`, caFile: rs.pki.otherCaFile, retry: { minMs: 20, maxMs: 50 } }],
    });
    await appendAndWake(rig, 20, 1);
    await waitFor(async () => (await rig!.failures('siem')) >= 2, 10_000, 'TLS failures counted');
    const failure = rig.log.lines.find((l) => l.target === 'siem' && l.msg === 'governance forward failed; retrying with back-off');
    expect(String(failure?.code)).toMatch(/CERT|SIGNATURE|ISSUER|VERIFY/);
    await new Promise((r) => setTimeout(r, 300));
    expect(rs.messages('tls')).toEqual([]);
    await rig.close();
    rig = await startRig(dir, { forward: [{ name: 'siem', type: 'syslog', url: `tls://127.0.0.1:${rs.tlsPort}`, caFile: rs.pki.caFile }] });
    rig.forwarding.wake();
    await waitFor(() => rs.messages('tls').length >= 20, 10_000, '20 entries over TLS');
  }, 30_000);
});
