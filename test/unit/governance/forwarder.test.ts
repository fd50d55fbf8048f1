/**
 * The resend window of stream targets, with an injected clock and a real TCP
 * receiver that parses the octet-counted frames: what was written less than
 * resendSec before the connection broke is sent again, what had settled is not,
 * and only settled progress is stored.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAndWake, startRig, type ForwardRig } from '../../helpers/forwarding.js';
import { tempDir } from '../../helpers/gateway.js';
import { waitFor } from '../../helpers/rsyslog.js';

/**
 * Collects the seq (and id) of every octet-counted syslog frame received, across connections.
 * While `deaf`, a connection is accepted and never read (a receiver that is stuck, then dies).
 */
async function frameReceiver() {
  const seqs: number[] = [];
  const ids: string[] = [];
  const sockets: net.Socket[] = [];
  const state = { deaf: false };
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    if (state.deaf) {
      s.pause();
      return;
    }
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString('ascii'));
        if (buf.length < sp + 1 + len) break;
        const msg = buf.subarray(sp + 1, sp + 1 + len).toString('utf8');
        buf = buf.subarray(sp + 1 + len);
        const e = JSON.parse(msg.slice(msg.indexOf(' - ') + 3)) as { seq: number; id: string };
        seqs.push(e.seq);
        ids.push(e.id);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    seqs,
    ids,
    sockets,
    state,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('Forwarder resend window (injected clock)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let rig: ForwardRig | undefined;
  let rx: Awaited<ReturnType<typeof frameReceiver>>;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('apg-settle-'));
    rx = await frameReceiver();
  });
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    await rx.close();
    await cleanup();
  });

  it('re-sends only what was written within resendSec of the break; stores only settled progress', async () => {
    let clock = 1_000_000;
    rig = await startRig(
      dir,
      { forward: [{ name: 'siem', type: 'syslog', url: `tcp://127.0.0.1:${rx.port}`, resendSec: 2, retry: { minMs: 10, maxMs: 20 } }] },
      { now: () => clock },
    );
    const progress = () => {
      try {
        return (JSON.parse(readFileSync(`${rig!.file}.forward.json`, 'utf8')) as { targets: { siem?: { seq: number } } }).targets.siem?.seq ?? 0;
      } catch {
        return 0;
      }
    };
    await appendAndWake(rig, 10, 1);
    await waitFor(() => rx.seqs.length >= 10, 5000, '1..10');
    // not settled yet (the clock has not moved): nothing stored
    await new Promise((r) => setTimeout(r, 300));
    expect(progress()).toBe(0);
    clock += 2001;
    rig.forwarding.wake();
    await waitFor(() => progress() === 10, 5000, 'progress 10 stored once settled');

    await appendAndWake(rig, 10, 11);
    await waitFor(() => rx.seqs.length >= 20, 5000, '11..20');
    clock += 500; // the connection breaks 0.5 s after 11..20 were written
    for (const s of rx.sockets) s.destroy();
    await waitFor(() => rx.seqs.length >= 30, 5000, 'the unsettled window again');
    expect(rx.seqs).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), ...Array.from({ length: 10 }, (_, i) => i + 11)]);
    expect(progress()).toBe(10);
    clock += 2001;
    rig.forwarding.wake();
    await waitFor(() => progress() === 20, 5000, 'progress 20');
    await new Promise((r) => setTimeout(r, 200));
    expect(rx.seqs.length).toBe(30);
  }, 30_000);
});

describe('Forwarder over TCP: written is not received (issue 21.4)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let rig: ForwardRig | undefined;
  let rx: Awaited<ReturnType<typeof frameReceiver>>;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('apg-resend-'));
    rx = await frameReceiver();
  });
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    await rx.close();
    await cleanup();
  });

  it('60 entries a receiver accepted but never read are sent again after it dies (same seq and id); they count in the lag until resendSec', async () => {
    let clock = 1_000_000;
    // resendSec left at its default (60)
    rig = await startRig(
      dir,
      { forward: [{ name: 'siem', type: 'syslog', url: `tcp://127.0.0.1:${rx.port}`, retry: { minMs: 10, maxMs: 20 } }] },
      { now: () => clock },
    );
    rx.state.deaf = true;
    await appendAndWake(rig, 60, 1);
    await waitFor(() => rig!.forwarding.positions().siem === 60, 5000, 'all 60 written to the socket');
    // written, not received: still lagging
    expect(await rig.lag('siem')).toBe(60);
    // the receiver sits on them for 3 s (longer than the old 2 s settle window), then dies unread
    clock += 3000;
    rig.forwarding.wake();
    await new Promise((r) => setTimeout(r, 300));
    expect(await rig.lag('siem')).toBe(60);
    expect(rx.seqs).toEqual([]);
    rx.state.deaf = false;
    for (const s of rx.sockets) s.destroy();
    await waitFor(() => rx.seqs.length >= 60, 5000, 'the 60 sent again after the reconnect');
    expect(rx.seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const stored = (await rig.sink.read({ limit: 100 })).entries;
    expect(rx.ids).toEqual(stored.map((e) => e.id));
    // on a live connection, still in the lag until resendSec has passed
    expect(await rig.lag('siem')).toBe(60);
    clock += 61_000;
    rig.forwarding.wake();
    await waitFor(async () => (await rig!.lag('siem')) === 0, 5000, 'lag 0 once resendSec has passed');
  }, 30_000);
});
