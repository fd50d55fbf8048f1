/**
 * SPEC §12 against a REAL syslog receiver (Debian's rsyslogd): RFC 5424 over
 * TCP (octet counting), TLS and UDP, in seq order, with valid hashes and the
 * signed checkpoints after the entries they cover; an outage of the receiver
 * loses nothing.
 */
import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { compactVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entryHash } from '../helpers/chainVerifier.js';
import { appendAndWake, appendMany, startRig, writeEd25519Key, type ForwardRig } from '../helpers/forwarding.js';
import { tempDir } from '../helpers/gateway.js';
import { parseSyslog, rsyslogAvailable, startRsyslog, waitFor, type Rsyslog } from '../helpers/rsyslog.js';

const ZERO = '0'.repeat(64);
const haveRsyslog = rsyslogAvailable();

interface Received {
  kind: 'entry' | 'checkpoint';
  seq: number;
  line: ReturnType<typeof parseSyslog>;
  entry?: Record<string, any>;
  jws?: string;
}

function received(rs: Rsyslog, input: 'tcp' | 'tls' | 'udp'): Received[] {
  return rs.messages(input).map((raw) => {
    const line = parseSyslog(raw);
    if (line.msgid === 'checkpoint') {
      const payload = JSON.parse(Buffer.from(line.msg.split('.')[1], 'base64url').toString('utf8')) as { seq: number };
      return { kind: 'checkpoint', seq: payload.seq, line, jws: line.msg };
    }
    const entry = JSON.parse(line.msg) as Record<string, any>;
    return { kind: 'entry', seq: entry.seq as number, line, entry };
  });
}

/** Every entry 1..n arrived; the stream never skips ahead (a repeat restarts lower and continues); duplicates are the same entry. */
function assertNoGaps(msgs: Received[], n: number): { duplicates: number } {
  const entries = msgs.filter((m) => m.kind === 'entry');
  let max = 0;
  const byId = new Map<number, string>();
  let duplicates = 0;
  for (const m of entries) {
    expect(m.seq, `entry ${m.seq} arrived after ${max}: a gap`).toBeLessThanOrEqual(max + 1);
    max = Math.max(max, m.seq);
    const seen = byId.get(m.seq);
    if (seen !== undefined) {
      duplicates++;
      expect(m.entry!.id).toBe(seen);
    } else byId.set(m.seq, m.entry!.id as string);
  }
  expect(byId.size).toBe(n);
  expect(max).toBe(n);
  return { duplicates };
}

/** The entries, in first-arrival order, form the valid hash chain 1..n. */
function assertChain(msgs: Received[], n: number): void {
  const firsts = new Map<number, Record<string, any>>();
  for (const m of msgs) if (m.kind === 'entry' && !firsts.has(m.seq)) firsts.set(m.seq, m.entry!);
  let prev = ZERO;
  for (let s = 1; s <= n; s++) {
    const e = firsts.get(s)!;
    expect(e.prevHash).toBe(prev);
    expect(entryHash(prev, e)).toBe(e.hash);
    prev = e.hash as string;
  }
}

describe.skipIf(!haveRsyslog)('governance forwarding to a real rsyslogd', () => {
  let rs: Rsyslog;
  let dir: string;
  let cleanup: () => Promise<void>;
  let rig: ForwardRig | undefined;

  beforeEach(async () => {
    rs = await startRsyslog();
    ({ dir, cleanup } = await tempDir('apg-fwd-'));
  }, 30_000);
  afterEach(async () => {
    await rig?.close();
    rig = undefined;
    await rs?.close();
    await cleanup?.();
  }, 30_000);

  it('1,000 entries arrive over TCP, TLS and UDP in seq order, RFC 5424, valid hashes, checkpoints after their entries', async () => {
    const { keyFile, publicKeyFile } = writeEd25519Key(dir);
    rig = await startRig(dir, {
      forward: [
        { name: 'tcp', type: 'syslog', url: `tcp://127.0.0.1:${rs.tcpPort}`, resendSec: 1 },
        { name: 'tls', type: 'syslog', url: `tls://127.0.0.1:${rs.tlsPort}`, caFile: rs.pki.caFile, resendSec: 1 },
        { name: 'udp', type: 'syslog', url: `udp://127.0.0.1:${rs.udpPort}` },
      ],
      checkpoint: { keyFile, everyEntries: 100, everySec: 3600 },
    });
    await appendAndWake(rig, 1000, 1);
    for (const input of ['tcp', 'tls', 'udp'] as const) {
      const count = (k: string) => received(rs, input).filter((m) => m.kind === k).length;
      await waitFor(() => count('entry') >= 1000 && count('checkpoint') >= 10, 30_000, `1000 entries and 10 checkpoints over ${input}`).catch((err: Error) => {
        throw new Error(
          `${err.message}: got ${count('entry')} entries, ${count('checkpoint')} checkpoints; positions ${JSON.stringify(rig!.forwarding.positions())}; log ${JSON.stringify(rig!.log.lines.slice(-3))}`,
        );
      });
    }
    const publicKey = createPublicKey(readFileSync(publicKeyFile, 'utf8'));
    for (const input of ['tcp', 'tls', 'udp'] as const) {
      const msgs = received(rs, input);
      const entries = msgs.filter((m) => m.kind === 'entry');
      // in order, each exactly once (no outage here)
      expect(entries.map((m) => m.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      assertChain(msgs, 1000);
      for (const m of msgs) {
        expect(m.line.pri).toBe('<110>');
        expect(m.line.version).toBe('1');
        expect(m.line.app).toBe('apg');
        expect(m.line.sd).toBe('-');
        expect(m.line.procid).toBe(String(process.pid));
        if (m.kind === 'entry') {
          expect(m.line.msgid).toBe(m.entry!.action);
          expect(m.line.time).toBe(m.entry!.time);
          expect(Object.keys(m.entry!)).toContain('hash');
        }
      }
      // checkpoints at 100, 200, ... each right after the entry it covers, signed by the key
      const cps = msgs.map((m, i) => ({ m, i })).filter((x) => x.m.kind === 'checkpoint');
      expect(cps.map((x) => x.m.seq)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
      for (const { m, i } of cps) {
        const before = msgs
          .slice(0, i)
          .filter((x) => x.kind === 'entry')
          .map((x) => x.seq);
        expect(Math.max(...before)).toBeGreaterThanOrEqual(m.seq);
        const { payload, protectedHeader } = await compactVerify(m.jws!, publicKey);
        const p = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
        expect(protectedHeader.alg).toBe('EdDSA');
        expect(p).toMatchObject({ type: 'apg.checkpoint', seq: m.seq, hash: entries[m.seq - 1].entry!.hash, instance: 'fwd-test' });
      }
    }
    await waitFor(async () => (await rig!.lag('tcp')) === 0, 5000, 'lag 0');
    expect(await rig.failures('tcp')).toBe(0);
  }, 60_000);

  it('rsyslog stopped for a while, then restarted: every entry arrives, none skipped', async () => {
    rig = await startRig(dir, {
      forward: [{ name: 'siem', type: 'syslog', url: `tcp://127.0.0.1:${rs.tcpPort}`, retry: { minMs: 20, maxMs: 200 }, resendSec: 1 }],
    });
    // delivering continuously while the receiver goes away
    const writer = (async () => {
      for (let i = 0; i < 30; i++) {
        await appendAndWake(rig, 100, i * 100 + 1, 50);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await waitFor(() => received(rs, 'tcp').length >= 300, 20_000, 'first 300');
    await rs.stop();
    const stoppedAt = Date.now();
    const arrivedBefore = received(rs, 'tcp').length;
    await waitFor(async () => (await rig!.failures('siem')) >= 3, 10_000, 'counted failures while down');
    await new Promise((r) => setTimeout(r, 500));
    const lagWhileDown = await rig.lag('siem');
    expect(lagWhileDown).toBeGreaterThan(0);
    await rs.start();
    const downMs = Date.now() - stoppedAt;
    await writer;
    const restartedAt = Date.now();
    await waitFor(() => new Set(received(rs, 'tcp').map((m) => m.seq)).size >= 3000, 30_000, 'all 3000 after the restart');
    const catchUpMs = Date.now() - restartedAt;
    const msgs = received(rs, 'tcp');
    const { duplicates } = assertNoGaps(msgs, 3000);
    assertChain(msgs, 3000);
    await waitFor(async () => (await rig!.lag('siem')) === 0, 5000, 'lag 0');
    console.log(
      `[forward] outage: ${arrivedBefore} arrived before rsyslog stopped, down ${downMs} ms, lag while down ${lagWhileDown}, ` +
        `${await rig.failures('siem')} failed attempts, all 3000 arrived ${catchUpMs} ms after the restart, ${duplicates} repeats`,
    );
  }, 90_000);

  it('throughput to rsyslog over TCP (default batchSize 200, and 1000)', async () => {
    const N = 20_000;
    rig = await startRig(dir, { forward: [] });
    await appendMany(rig.sink, N, 1, 512);
    await rig.close();
    const figures: string[] = [];
    let expected = 0;
    const count = rs.counter('tcp');
    for (const [name, batch] of [
      ['default', undefined],
      ['big', 1000],
    ] as const) {
      rig = await startRig(dir, { forward: [{ name, type: 'syslog', url: `tcp://127.0.0.1:${rs.tcpPort}`, ...(batch ? { batchSize: batch } : {}) }] });
      expected += N;
      const t0 = Date.now();
      rig.forwarding.wake();
      await waitFor(() => count() >= expected, 120_000, `${N} entries to ${name}`);
      const ms = Date.now() - t0;
      await rig.close();
      rig = undefined;
      figures.push(`batchSize ${batch ?? 200}: ${N} in ${ms} ms = ${Math.round(N / (ms / 1000))} entries/s`);
    }
    const msgs = received(rs, 'tcp');
    expect(msgs.map((m) => m.seq)).toEqual([...Array.from({ length: N }, (_, i) => i + 1), ...Array.from({ length: N }, (_, i) => i + 1)]);
    const avg = Math.round(rs.messages('tcp').reduce((n, l) => n + Buffer.byteLength(l), 0) / (2 * N));
    console.log(`[forward] throughput to rsyslog over TCP (file sink, ${avg}-byte syslog messages): ${figures.join('; ')}`);
  }, 180_000);
});
