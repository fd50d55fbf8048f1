import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nodeFs, openFileSink, type SinkFileHandle, type SinkFs } from '../../../src/governance/fileSink.js';
import { GovernanceUnavailableError, type GovernanceEntryInput } from '../../../src/governance/types.js';
import { verifyFile } from '../../../src/governance/verify.js';
import { entryHash, verifyChainFile } from '../../helpers/chainVerifier.js';

const viewed = (n: number): GovernanceEntryInput => ({
  action: 'private-activities.viewed',
  principal: 'alice@contoso.com',
  via: 'header',
  request: { id: `r${n}`, method: 'GET', path: '/api/v1/activities/', query: '', clientIp: '127.0.0.1', userAgent: 'test' },
  privateActivities: { count: 2, ids: [`a${n}`, `b${n}`] },
  token: { iss: 'https://idp.example.com/', jti: `j${n}` },
});
const added = (g: string): GovernanceEntryInput => ({ action: 'privacy-group.added', principal: 'admin@contoso.com', via: 'admin-api', target: g });

/** Wraps the real fs to count syncs and inject faults into the log file's handle. */
interface Faults {
  datasyncs: number;
  writes: number;
  /** called before each write; return an error to fail it, 'half' to write half and then fail the next call */
  onWrite?: (n: number) => Error | 'half' | undefined;
  onDatasync?: (n: number) => Error | Promise<void> | undefined;
  onProbeOpen?: () => Error | undefined;
}
function faultyFs(f: Faults): SinkFs {
  return {
    ...nodeFs,
    async open(path, flags, mode) {
      if (path.endsWith('.probe')) {
        const e = f.onProbeOpen?.();
        if (e) throw e;
      }
      const h = await nodeFs.open(path, flags, mode);
      if (!path.endsWith('.log')) return h;
      let failNext = false;
      const wrapped: SinkFileHandle = {
        read: (b, o, l, p) => h.read(b, o, l, p),
        stat: () => h.stat(),
        truncate: (l) => h.truncate(l),
        sync: () => h.sync(),
        close: () => h.close(),
        async write(b, o, l, p) {
          const n = ++f.writes;
          if (failNext) {
            failNext = false;
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          }
          const fault = f.onWrite?.(n);
          if (fault === 'half') {
            failNext = true;
            return h.write(b, o, Math.max(1, l >> 1), p);
          }
          if (fault) throw fault;
          return h.write(b, o, l, p);
        },
        async datasync() {
          const n = ++f.datasyncs;
          const fault = f.onDatasync?.(n);
          if (fault instanceof Promise) await fault;
          else if (fault) throw fault;
          return h.datasync();
        },
      };
      return wrapped;
    },
  };
}

let dir: string;
let file: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'apg-gov-'));
  file = join(dir, 'nested', 'deeper', 'governance.log');
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

describe('file sink: appends and group commit', () => {
  it('200 concurrent appends get seq 1..200, a valid chain, and fewer syncs than entries', async () => {
    const f: Faults = { datasyncs: 0, writes: 0 };
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f) });
    const syncsAfterOpen = f.datasyncs;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => sink.append(viewed(i))));
    expect(results.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const batches = f.datasyncs - syncsAfterOpen;
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(200);
    expect(f.writes).toBe(batches); // one write per batch
    expect(sink.healthy()).toBe(true);
    expect(await sink.verify()).toEqual({ ok: true, count: 200 });
    await sink.close();

    const report = verifyChainFile(file);
    expect(report.reason).toBeUndefined();
    expect(report).toMatchObject({ ok: true, count: 200 });
    // each caller got exactly the entry that is on disk
    const bySeq = new Map(report.entries.map((e) => [e.seq, e]));
    for (const r of results) expect(bySeq.get(r.seq)).toEqual(JSON.parse(JSON.stringify(r)));
    expect(report.entries[0].prevHash).toBe('0'.repeat(64));
    expect(await verifyFile(file)).toEqual({ ok: true, count: 200 });
  });

  it('creates parent directories and a file only the owner can read', async () => {
    const sink = await openFileSink({ file, instance: 'gw-1' });
    await sink.append(added('g1'));
    await sink.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const line = JSON.parse((await readFile(file, 'utf8')).trim());
    expect(line).toMatchObject({ seq: 1, action: 'privacy-group.added', target: 'g1', instance: 'gw-1', via: 'admin-api' });
  });

  it('stamps entries with the time of its clock', async () => {
    const sink = await openFileSink({ file, instance: 'gw-1', clock: { now: () => Date.parse('2031-05-06T07:08:09.010Z') } });
    expect((await sink.append(added('g1'))).time).toBe('2031-05-06T07:08:09.010Z');
    await sink.close();
    expect(verifyChainFile(file).entries[0].time).toBe('2031-05-06T07:08:09.010Z');
  });

  it('continues seq and prevHash across a restart', async () => {
    let sink = await openFileSink({ file, instance: 'gw-1' });
    await Promise.all([1, 2, 3].map((n) => sink.append(viewed(n))));
    const last = await sink.append(added('g'));
    await sink.close();
    sink = await openFileSink({ file, instance: 'gw-2' });
    const next = await sink.append(viewed(9));
    expect(next.seq).toBe(5);
    expect(next.prevHash).toBe(last.hash);
    await sink.close();
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 5 });
  });

  it('rejects a malformed input without writing or consuming a seq', async () => {
    const sink = await openFileSink({ file, instance: 'gw-1' });
    await expect(sink.append({ action: 'nope' as never, principal: 'p' })).rejects.toThrow(TypeError);
    await expect(sink.append({ action: 'privacy-group.added', principal: '' })).rejects.toThrow(TypeError);
    expect((await sink.append(added('g'))).seq).toBe(1);
    await sink.close();
    await expect(sink.append(added('g'))).rejects.toBeInstanceOf(GovernanceUnavailableError);
  });
});

describe('file sink: torn tail on open', () => {
  async function threeEntries(): Promise<number> {
    const sink = await openFileSink({ file, instance: 'gw-1' });
    for (const n of [1, 2, 3]) await sink.append(viewed(n));
    await sink.close();
    return (await stat(file)).size;
  }

  it('cuts a partial last line and continues the seq', async () => {
    const size = await threeEntries();
    await appendFile(file, '{"seq":4,"id":"abc","time":"2026');
    const sink = await openFileSink({ file, instance: 'gw-1' });
    expect((await stat(file)).size).toBe(size);
    expect((await sink.append(viewed(4))).seq).toBe(4);
    await sink.close();
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 4 });
  });

  it('cuts a terminated garbage line (and a partial one after it)', async () => {
    const size = await threeEntries();
    await appendFile(file, '\u0000\u0000garbage\n{"seq":');
    expect(await verifyFile(file)).toEqual({ ok: true, count: 3, tornTail: { bytes: 17, afterSeq: 3 } });
    const sink = await openFileSink({ file, instance: 'gw-1' });
    expect((await stat(file)).size).toBe(size);
    expect((await sink.append(viewed(4))).seq).toBe(4);
    await sink.close();
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 4 });
  });

  it('cuts a complete entry that lacks its newline (it was never acknowledged)', async () => {
    const size = await threeEntries();
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, -1));
    const sink = await openFileSink({ file, instance: 'gw-1' });
    expect((await stat(file)).size).toBe(size - (text.length - text.slice(0, -1).lastIndexOf('\n') - 1));
    expect((await sink.append(viewed(3))).seq).toBe(3);
    await sink.close();
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 3 });
  });

  it('refuses a file ending in more garbage than a crash can leave', async () => {
    await threeEntries();
    await appendFile(file, 'junk\n'.repeat(100));
    await expect(openFileSink({ file, instance: 'gw-1' })).rejects.toThrow(/unreadable lines/);
    // verify reports it as what it is, bytes after the last entry (the CLI fails on it with --strict)
    expect(await verifyFile(file)).toEqual({ ok: true, count: 3, tornTail: { bytes: 500, afterSeq: 3 } });
  });

  it('verifyFile: an empty file is a valid empty chain, a missing file is an error', async () => {
    const sink = await openFileSink({ file, instance: 'gw-1' });
    await sink.close();
    expect(await verifyFile(file)).toEqual({ ok: true, count: 0 });
    await expect(verifyFile(join(dir, 'missing.log'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('file sink: read', () => {
  it('pages with afterSeq/limit, filters by action, clamps limit, and uses the index after reopen', async () => {
    let sink = await openFileSink({ file, instance: 'gw-1' });
    const inputs = Array.from({ length: 2100 }, (_, i) => (i % 7 === 0 ? added(`g${i}`) : viewed(i)));
    await Promise.all(inputs.map((x) => sink.append(x)));

    const first = await sink.read({});
    expect(first.entries.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(first.nextAfterSeq).toBe(100);
    const page = await sink.read({ afterSeq: 1500, limit: 10 });
    expect(page.entries.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 1501 + i));
    expect(page.nextAfterSeq).toBe(1510);
    expect((await sink.read({ limit: 5000 })).entries).toHaveLength(1000);
    expect((await sink.read({ limit: 0 })).entries).toHaveLength(1);

    const groups = await sink.read({ action: 'privacy-group.added', afterSeq: 2000, limit: 1000 });
    expect(groups.entries.every((e) => e.action === 'privacy-group.added')).toBe(true);
    // inputs index i has seq i+1; added() at i % 7 === 0
    expect(groups.entries.map((e) => e.seq)).toEqual(Array.from({ length: 2100 }, (_, i) => i + 1).filter((s) => s > 2000 && (s - 1) % 7 === 0));
    expect(groups.nextAfterSeq).toBe(2100); // scanned to the end
    const tail = await sink.read({ afterSeq: 2100 });
    expect(tail).toEqual({ entries: [], nextAfterSeq: 2100 });
    await sink.close();

    sink = await openFileSink({ file, instance: 'gw-1' });
    const again = await sink.read({ afterSeq: 2047, limit: 3 });
    expect(again.entries.map((e) => e.seq)).toEqual([2048, 2049, 2050]);
    expect(again.entries[0]).toMatchObject({ principal: 'alice@contoso.com', request: { id: 'r2047' } });
    await sink.close();
  });
});

describe('file sink: failures', () => {
  it('a partial write (ENOSPC) is cut back, consumes no seq, and the next append continues the chain', async () => {
    const f: Faults = { datasyncs: 0, writes: 0 };
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 0 });
    await sink.append(viewed(1));
    await sink.append(viewed(2));
    const size = (await stat(file)).size;
    f.onWrite = () => 'half';
    const err = await sink.append(viewed(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GovernanceUnavailableError);
    expect((err as Error & { cause?: { code?: string } }).cause?.code).toBe('ENOSPC');
    expect(sink.healthy()).toBe(false);
    expect((await stat(file)).size).toBe(size);
    f.onWrite = undefined;
    const next = await sink.append(viewed(4));
    expect(next.seq).toBe(3);
    expect(sink.healthy()).toBe(true);
    expect(await sink.verify()).toEqual({ ok: true, count: 3 });
    await sink.close();
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 3 });
  });

  it('a failed fdatasync rejects the whole batch and removes its bytes', async () => {
    const f: Faults = { datasyncs: 0, writes: 0 };
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 0 });
    await sink.append(viewed(1));
    const size = (await stat(file)).size;
    f.onDatasync = () => Object.assign(new Error('EIO'), { code: 'EIO' });
    const outcomes = await Promise.allSettled([sink.append(viewed(2)), sink.append(viewed(3)), sink.append(viewed(4))]);
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason instanceof GovernanceUnavailableError)).toBe(true);
    expect((await stat(file)).size).toBe(size);
    f.onDatasync = undefined;
    expect((await sink.append(viewed(5))).seq).toBe(2);
    await sink.close();
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 2 });
  });

  it('a stalled fdatasync rejects after the deadline and makes the sink unhealthy', async () => {
    // the deadline runs on a fake clock (file I/O stays real): exact, and immune to load
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const f: Faults = { datasyncs: 0, writes: 0 };
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), deadlineMs: 150, probeIntervalMs: 0 });
    await sink.append(viewed(1));
    f.onDatasync = () => new Promise<void>(() => {}); // never resolves
    let settled = 0;
    const a = sink
      .append(viewed(2))
      .catch((e: unknown) => e)
      .finally(() => settled++);
    const b = sink
      .append(viewed(3))
      .catch((e: unknown) => e)
      .finally(() => settled++);
    await new Promise((r) => setImmediate(r));
    vi.advanceTimersByTime(149);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(0); // not before the deadline
    expect(sink.healthy()).toBe(true);
    vi.advanceTimersByTime(1);
    const [ea, eb] = await Promise.all([a, b]);
    expect(ea).toBeInstanceOf(GovernanceUnavailableError);
    expect(eb).toBeInstanceOf(GovernanceUnavailableError);
    expect(sink.healthy()).toBe(false);
    const closing = sink.close(); // returns despite the stuck writer, after at most the deadline
    vi.advanceTimersByTime(150);
    await closing;
  });

  it('an entry that times out while queued is dropped without using a seq', async () => {
    // the deadline runs on a fake clock: the test says when it passes, so load cannot make
    // the later, healthy append miss it (file I/O and setImmediate stay real)
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const f: Faults = { datasyncs: 0, writes: 0 };
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), deadlineMs: 100, probeIntervalMs: 0 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    f.onDatasync = () => gate;
    const inFlight = sink.append(viewed(1)).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r)); // let the first batch start
    const queued = sink.append(viewed(2)).catch((e: unknown) => e);
    vi.advanceTimersByTime(99);
    await new Promise((r) => setImmediate(r));
    expect(sink.healthy()).toBe(true); // not yet
    vi.advanceTimersByTime(1);
    expect(await inFlight).toBeInstanceOf(GovernanceUnavailableError);
    expect(await queued).toBeInstanceOf(GovernanceUnavailableError);
    f.onDatasync = undefined;
    release();
    // The in-flight batch still lands (a refused access is recorded, never the reverse);
    // the queued entry was never written, so the next one takes seq 2.
    const next = await sink.append(added('g'));
    expect(next.seq).toBe(2);
    expect(sink.healthy()).toBe(true);
    await sink.close();
    const report = verifyChainFile(file);
    expect(report).toMatchObject({ ok: true, count: 2 });
    expect(report.entries.map((e) => (e.request as { id: string } | undefined)?.id ?? e.target)).toEqual(['r1', 'g']);
  });

  it('probe() restores health once the disk takes writes again', async () => {
    const f: Faults = { datasyncs: 0, writes: 0 };
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 0 });
    f.onWrite = () => Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
    await expect(sink.append(viewed(1))).rejects.toBeInstanceOf(GovernanceUnavailableError);
    expect(sink.healthy()).toBe(false);
    f.onProbeOpen = () => Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
    expect(await sink.probe()).toBe(false);
    expect(sink.healthy()).toBe(false);
    f.onProbeOpen = undefined;
    f.onWrite = undefined;
    expect(await sink.probe()).toBe(true);
    expect(sink.healthy()).toBe(true);
    await sink.close();
  });

  it('probes on its own while unhealthy', async () => {
    const f: Faults = { datasyncs: 0, writes: 0 };
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 20 });
    f.onWrite = () => Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
    await expect(sink.append(viewed(1))).rejects.toBeInstanceOf(GovernanceUnavailableError);
    expect(sink.healthy()).toBe(false);
    f.onWrite = undefined;
    for (let i = 0; i < 100 && !sink.healthy(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(sink.healthy()).toBe(true);
    await sink.close();
  });
});

describe('tamper detection', () => {
  let lines: string[];
  let hashes: string[];
  beforeEach(async () => {
    const sink = await openFileSink({ file, instance: 'gw-1' });
    for (let i = 1; i <= 10; i++) await sink.append(i % 3 === 0 ? added(`g${i}`) : viewed(i));
    await sink.close();
    lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    hashes = lines.map((l) => JSON.parse(l).hash as string);
  });
  const write = (ls: string[]) => writeFile(file, ls.join('\n') + '\n');
  const edit = (i: number, f: (e: Record<string, unknown>) => void): string => {
    const e = JSON.parse(lines[i]);
    f(e);
    return JSON.stringify(e);
  };

  async function expectBroken(at: number): Promise<void> {
    expect(await verifyFile(file)).toMatchObject({ ok: false, brokenAtSeq: at, count: at - 1 });
    expect(verifyChainFile(file)).toMatchObject({ ok: false, brokenAtSeq: at });
    const sink = await openFileSink({ file, instance: 'gw-1' });
    expect(await sink.verify()).toMatchObject({ ok: false, brokenAtSeq: at });
    await sink.close();
  }

  it('the untouched file verifies', async () => {
    expect(await verifyFile(file)).toEqual({ ok: true, count: 10 });
  });

  it('detects a changed field', async () => {
    const ls = [...lines];
    ls[4] = edit(4, (e) => ((e.principal as string) = 'mallory@contoso.com'));
    await write(ls);
    await expectBroken(5);
  });

  it('detects a changed nested field and an added field', async () => {
    const ls = [...lines];
    ls[6] = edit(6, (e) => ((e.privateActivities as { ids: string[] }).ids = ['a7']));
    await write(ls);
    await expectBroken(7);
    const ls2 = [...lines];
    ls2[1] = edit(1, (e) => (e.extra = 1));
    await write(ls2);
    await expectBroken(2);
  });

  it('detects a deleted line', async () => {
    await write(lines.filter((_, i) => i !== 3));
    await expectBroken(4);
  });

  it('detects reordered lines', async () => {
    const ls = [...lines];
    [ls[5], ls[6]] = [ls[6], ls[5]];
    await write(ls);
    await expectBroken(6);
  });

  it('detects an edited hash', async () => {
    const ls = [...lines];
    ls[7] = edit(7, (e) => (e.hash = 'f'.repeat(64)));
    await write(ls);
    await expectBroken(8);
  });

  it('detects an edit whose own hash was recomputed, at the next entry', async () => {
    const ls = [...lines];
    ls[2] = edit(2, (e) => {
      e.target = 'innocent';
      e.hash = entryHash(e.prevHash as string, e);
    });
    expect(JSON.parse(ls[2]).hash).not.toBe(hashes[2]);
    await write(ls);
    await expectBroken(4);
  });

  it('detects a garbage line in the middle', async () => {
    const ls = [...lines];
    ls[1] = 'not json';
    await write(ls);
    await expectBroken(2);
  });
});
