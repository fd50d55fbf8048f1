/**
 * Forwarding over RELP (SPEC §12 v3, `relp://host:port`): an entry is delivered
 * when the receiver acknowledged it (`rsp 200`), not when it was written. Against
 * a real rsyslogd with imrelp, and against a RELP receiver that takes the
 * messages but does not acknowledge them.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encodeFrame, RelpParser } from '../../src/governance/forward/relp.js';
import { appendAndWake, startRig, writeEd25519Key, type ForwardRig } from '../helpers/forwarding.js';
import { tempDir } from '../helpers/gateway.js';
import { parseSyslog, relpAvailable, startRsyslog, waitFor, type Rsyslog } from '../helpers/rsyslog.js';

const haveRelp = relpAvailable();

function storedProgress(rig: ForwardRig, target: string): number {
  try {
    const p = JSON.parse(readFileSync(`${rig.file}.forward.json`, 'utf8')) as { targets: Record<string, { seq: number }> };
    return p.targets[target]?.seq ?? 0;
  } catch {
    return 0;
  }
}

/**
 * A RELP receiver in the test: answers `open`, reads every `syslog` command, and
 * acknowledges them only while `ack` is true (held ones are answered when it turns true).
 */
async function relpReceiver() {
  const state = { ack: false };
  const received: Array<{ seq: number; id: string }> = [];
  const held: Array<{ socket: net.Socket; txnr: number }> = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    const parser = new RelpParser();
    s.on('data', (d: Buffer) => {
      for (const f of parser.push(d)) {
        if (f.command === 'open') s.write(encodeFrame(f.txnr, 'rsp', '200 OK\nrelp_version=0\nrelp_software=test\ncommands=syslog'));
        else if (f.command === 'close') s.end(encodeFrame(f.txnr, 'rsp', ''));
        else if (f.command === 'syslog') {
          const msg = f.data.toString('utf8');
          const e = JSON.parse(msg.slice(msg.indexOf(' - ') + 3)) as { seq: number; id: string };
          received.push({ seq: e.seq, id: e.id });
          if (state.ack) s.write(encodeFrame(f.txnr, 'rsp', '200 OK'));
          else held.push({ socket: s, txnr: f.txnr });
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    state,
    received,
    held,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('forwarding over RELP: delivered means acknowledged', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let rig: ForwardRig | undefined;
  let rx: Awaited<ReturnType<typeof relpReceiver>>;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('apg-relp-'));
    rx = await relpReceiver();
  });
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    await rx.close();
    await cleanup();
  });

  it('messages received but not acknowledged stay in the lag and are not stored as progress; the receiver dies; they go again and count once acknowledged', async () => {
    rig = await startRig(dir, {
      forward: [{ name: 'relp', type: 'syslog', url: `relp://127.0.0.1:${rx.port}`, timeoutMs: 60_000, retry: { minMs: 10, maxMs: 20 } }],
    });
    await appendAndWake(rig, 60, 1);
    await waitFor(() => rx.received.length >= 60, 5000, 'the 60 received');
    await new Promise((r) => setTimeout(r, 300));
    // received by the socket, never acknowledged: not delivered
    expect(await rig.lag('relp')).toBe(60);
    expect(storedProgress(rig, 'relp')).toBe(0);
    // the receiver dies without acknowledging; the next one acknowledges
    rx.state.ack = true;
    for (const s of rx.sockets) s.destroy();
    await waitFor(() => rx.received.length >= 120, 5000, 'the 60 sent again');
    expect(rx.received.slice(60)).toEqual(rx.received.slice(0, 60));
    expect(rx.received.slice(60).map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    await waitFor(async () => (await rig!.lag('relp')) === 0, 5000, 'lag 0 once acknowledged');
    await waitFor(() => storedProgress(rig!, 'relp') === 60, 5000, 'progress 60 stored');
  }, 30_000);

  it('an acknowledgement that does not come within timeoutMs is a counted failure; what was acknowledged counts, the rest goes again', async () => {
    rig = await startRig(dir, {
      forward: [{ name: 'relp', type: 'syslog', url: `relp://127.0.0.1:${rx.port}`, timeoutMs: 300, retry: { minMs: 10, maxMs: 20 } }],
    });
    rx.state.ack = true;
    await appendAndWake(rig, 10, 1);
    await waitFor(() => storedProgress(rig!, 'relp') === 10, 5000, '1..10 acknowledged');
    expect(await rig.lag('relp')).toBe(0);
    rx.state.ack = false;
    await appendAndWake(rig, 10, 11);
    await waitFor(async () => (await rig!.failures('relp')) >= 1, 5000, 'a counted timeout');
    expect(await rig.lag('relp')).toBe(10);
    rx.state.ack = true;
    await waitFor(async () => (await rig!.lag('relp')) === 0, 5000, '11..20 acknowledged after the retry');
    const seqs = rx.received.map((e) => e.seq);
    expect(seqs.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(new Set(seqs)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => i + 1)));
    expect(rig.log.lines.some((l) => l.target === 'relp' && l.code === 'ETIMEDOUT')).toBe(true);
  }, 30_000);
});

describe.skipIf(!haveRelp)('forwarding to rsyslog over RELP (imrelp)', () => {
  let rs: Rsyslog;
  let dir: string;
  let cleanup: () => Promise<void>;
  let rig: ForwardRig | undefined;

  beforeAll(async () => {
    rs = await startRsyslog();
  }, 30_000);
  afterAll(async () => {
    await rs?.close();
  });
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('apg-relp-rs-'));
  });
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    await cleanup();
  });

  it('entries and checkpoints arrive in seq order as RFC 5424; acknowledged progress is stored and the lag is 0; rsyslog restarted: none skipped', async () => {
    const { keyFile } = writeEd25519Key(dir);
    rig = await startRig(dir, {
      forward: [{ name: 'relp', type: 'syslog', url: `relp://127.0.0.1:${rs.relpPort}`, retry: { minMs: 20, maxMs: 200 } }],
      checkpoint: { keyFile, everyEntries: 100, everySec: 3600 },
    });
    await appendAndWake(rig, 300, 1);
    const entries = () =>
      rs
        .messages('relp')
        .map((l) => parseSyslog(l))
        .filter((m) => m.msgid !== 'checkpoint');
    await waitFor(() => entries().length >= 300, 20_000, '300 over RELP');
    const lines = rs.messages('relp').map((l) => parseSyslog(l));
    for (const m of lines) {
      expect(m.pri).toBe('<110>');
      expect(m.app).toBe('apg');
    }
    expect(entries().map((m) => (JSON.parse(m.msg) as { seq: number }).seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    // each checkpoint after the entry it covers
    let maxSeq = 0;
    let cps = 0;
    for (const m of lines) {
      if (m.msgid === 'checkpoint') {
        cps++;
        const payload = JSON.parse(Buffer.from(m.msg.split('.')[1], 'base64url').toString('utf8')) as { seq: number };
        expect(payload.seq).toBeLessThanOrEqual(maxSeq);
      } else maxSeq = Math.max(maxSeq, (JSON.parse(m.msg) as { seq: number }).seq);
    }
    expect(cps).toBeGreaterThanOrEqual(1);
    // acknowledged is delivered: no resend window to wait out
    await waitFor(async () => (await rig!.lag('relp')) === 0, 5000, 'lag 0');
    await waitFor(() => storedProgress(rig!, 'relp') === 300, 5000, 'progress 300');

    await rs.stop();
    await appendAndWake(rig, 100, 301);
    await waitFor(async () => (await rig!.failures('relp')) >= 1, 10_000, 'a counted failure while rsyslog is down');
    expect(await rig.lag('relp')).toBe(100);
    await rs.start();
    await waitFor(() => new Set(entries().map((m) => (JSON.parse(m.msg) as { seq: number }).seq)).size >= 400, 30_000, 'all 400');
    let max = 0;
    for (const m of entries()) {
      const seq = (JSON.parse(m.msg) as { seq: number }).seq;
      expect(seq).toBeLessThanOrEqual(max + 1); // never skips ahead
      max = Math.max(max, seq);
    }
    await waitFor(async () => (await rig!.lag('relp')) === 0, 5000, 'lag 0 after the restart');
  }, 90_000);
});
