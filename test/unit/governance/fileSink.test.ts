import { constants } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nodeFs, openFileSink, type SinkFileHandle, type SinkFs } from '../../../src/governance/fileSink.js';
import { mulberry32 } from '../../../src/demo/dataset.js';
import { GENESIS } from '../../../src/governance/chain.js';
import { GovernanceUnavailableError, type GovernanceEntry, type GovernanceEntryInput } from '../../../src/governance/types.js';
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

/** What one call of the log file's write does under a fault. */
type WriteFault =
  | Error // fails before writing anything
  | 'short' // writes the first half and reports just that (the sink must write the rest)
  | 'zero' // reports 0 bytes written
  | 'partial' // writes the first half, then fails (EIO)
  | 'half' // writes the first half and reports it; the next call fails (ENOSPC)
  | Promise<void>; // waits, then writes

/** Wraps the real fs to count calls and inject faults into the log file's handle (and opens). */
interface Faults {
  datasyncs: number;
  writes: number;
  truncates: number;
  /** flags of every open of the log file */
  logOpens: number[];
  onLogOpen?: (flags: number) => Error | undefined;
  /** called before each write of the log file */
  onWrite?: (n: number) => WriteFault | undefined;
  onDatasync?: (n: number) => Error | Promise<void> | undefined;
  onTruncate?: (n: number) => Error | undefined;
  onClose?: () => Error | undefined;
  onProbeOpen?: () => Error | undefined;
}
const newFaults = (): Faults => ({ datasyncs: 0, writes: 0, truncates: 0, logOpens: [] });
const errno = (code: string) => Object.assign(new Error(`${code}: injected`), { code });

function faultyFs(f: Faults): SinkFs {
  return {
    ...nodeFs,
    async open(path, flags, mode) {
      if (path.endsWith('.probe')) {
        const e = f.onProbeOpen?.();
        if (e) throw e;
      }
      if (path.endsWith('.log')) {
        f.logOpens.push(Number(flags));
        const e = f.onLogOpen?.(Number(flags));
        if (e) throw e;
      }
      const h = await nodeFs.open(path, flags, mode);
      return path.endsWith('.log') ? faultyHandle(f, h) : h;
    },
  };
}

function faultyHandle(f: Faults, h: SinkFileHandle): SinkFileHandle {
  let failNext = false;
  return {
    read: (b, o, l, p) => h.read(b, o, l, p),
    stat: () => h.stat(),
    sync: () => h.sync(),
    async truncate(l) {
      const e = f.onTruncate?.(++f.truncates);
      if (e) throw e;
      return h.truncate(l);
    },
    async close() {
      await h.close();
      const e = f.onClose?.();
      if (e) throw e;
    },
    async write(b, o, l, p) {
      const n = ++f.writes;
      if (failNext) {
        failNext = false;
        throw errno('ENOSPC');
      }
      const fault = f.onWrite?.(n);
      if (fault instanceof Promise) await fault;
      else if (fault instanceof Error) throw fault;
      else if (fault === 'zero') return { bytesWritten: 0 };
      else if (fault !== undefined) {
        const { bytesWritten } = await h.write(b, o, Math.max(1, l >> 1), p);
        if (fault === 'partial') throw errno('EIO');
        if (fault === 'half') failNext = true;
        return { bytesWritten };
      }
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
}

/** The filesystem refuses O_DSYNC (as some FUSE and network filesystems do): the sink falls back to write + fdatasync. */
const refuseDsync = (f: Faults): Faults => {
  f.onLogOpen = (flags) => (flags & constants.O_DSYNC ? errno('EINVAL') : undefined);
  return f;
};

/** The file holds exactly the acknowledged entries, in seq order from 1, as a valid chain. */
function expectExactly(acked: GovernanceEntry[]): void {
  const report = verifyChainFile(file);
  expect(report.reason).toBeUndefined();
  expect(report.ok).toBe(true);
  const want = [...acked].sort((a, b) => a.seq - b.seq).map((e) => JSON.parse(JSON.stringify(e)));
  expect(report.entries).toEqual(want);
  expect(want.map((e) => e.seq)).toEqual(want.map((_, i) => i + 1));
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
  it('200 concurrent appends get seq 1..200, a valid chain, and fewer writes than entries, each durable by O_DSYNC', async () => {
    const f = newFaults();
    const notices: string[] = [];
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), onNotice: (m) => notices.push(m) });
    expect(f.logOpens.every((flags) => (flags & constants.O_DSYNC) !== 0)).toBe(true);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => sink.append(viewed(i))));
    expect(results.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const batches = f.writes; // one write per batch, durable when it returns
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThan(200);
    expect(f.datasyncs).toBe(0);
    expect(notices).toEqual([]);
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

  it('where the filesystem refuses O_DSYNC: says so, and fdatasyncs each batch after its one write', async () => {
    const f = refuseDsync(newFaults());
    const notices: string[] = [];
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), onNotice: (m) => notices.push(m) });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/refused O_DSYNC \(EINVAL\).*fdatasync/);
    expect(f.logOpens.at(-1)! & constants.O_DSYNC).toBe(0);
    const syncsAfterOpen = f.datasyncs;
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => sink.append(viewed(i))));
    expect(f.writes).toBeLessThan(100);
    expect(f.datasyncs - syncsAfterOpen).toBe(f.writes);
    await sink.close();
    expectExactly(results);
  });

  it("any other error opening the log is the caller's (no fallback hides it)", async () => {
    const f = newFaults();
    f.onLogOpen = () => errno('EACCES');
    const notices: string[] = [];
    await expect(openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), onNotice: (m) => notices.push(m) })).rejects.toMatchObject({ code: 'EACCES' });
    expect(notices).toEqual([]);
    expect(f.logOpens).toHaveLength(1);
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

const MODES = [
  { mode: 'O_DSYNC', setup: (f: Faults) => f },
  { mode: 'fdatasync fallback', setup: refuseDsync },
];

/** A fault held on every call of one step until it is cleared, and what the failed appends carry as cause. */
interface FaultCase {
  name: string;
  inject: (f: Faults) => void;
  /** the cause's code, or its message when it has none (alternatives split by |); undefined: the appends succeed */
  cause?: string;
}
const FAULTS: FaultCase[] = [
  { name: 'write fails before writing anything', inject: (f) => (f.onWrite = () => errno('EIO')), cause: 'EIO' },
  { name: 'write fails after writing part of the batch', inject: (f) => (f.onWrite = () => 'partial'), cause: 'EIO' },
  { name: 'a short write, then the disk is full', inject: (f) => (f.onWrite = () => 'half'), cause: 'ENOSPC' },
  { name: 'write reports zero bytes', inject: (f) => (f.onWrite = () => 'zero'), cause: 'short write' },
  { name: 'short writes (completed by further writes)', inject: (f) => (f.onWrite = () => 'short') },
  {
    name: 'a partial write whose cut fails too (truncate)',
    inject: (f) => {
      f.onWrite = () => 'partial';
      f.onTruncate = () => errno('EROFS');
    },
    cause: 'EIO|EROFS', // a later batch fails on the cut it has to make first
  },
  {
    name: 'a partial write whose cut is not made durable (fdatasync)',
    inject: (f) => {
      f.onWrite = () => 'partial';
      f.onDatasync = () => errno('EIO');
    },
    cause: 'EIO',
  },
];
const clearFaults = (f: Faults) => {
  f.onWrite = f.onTruncate = f.onDatasync = f.onClose = undefined;
};
const causeOf = (e: unknown) => {
  const c = (e as { cause?: { code?: string; message?: string } }).cause;
  return c?.code ?? c?.message;
};

describe.each(MODES)('file sink: failures ($mode)', ({ mode, setup }) => {
  it.each(FAULTS)('$name: nothing unacknowledged is served or kept, nothing acknowledged is lost', async (c) => {
    const f = setup(newFaults());
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 0, onNotice: () => {} });
    const acked = [await sink.append(viewed(1)), await sink.append(viewed(2))];
    const size = (await stat(file)).size;
    c.inject(f);
    const outcomes = await Promise.allSettled([3, 4, 5].map((n) => sink.append(viewed(n))));
    if (c.cause === undefined) {
      for (const o of outcomes) acked.push((o as PromiseFulfilledResult<GovernanceEntry>).value);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect(sink.healthy()).toBe(true);
    } else {
      for (const o of outcomes) {
        expect(o.status).toBe('rejected');
        expect((o as PromiseRejectedResult).reason).toBeInstanceOf(GovernanceUnavailableError);
        expect(c.cause.split('|')).toContain(causeOf((o as PromiseRejectedResult).reason));
      }
      expect(sink.healthy()).toBe(false);
      expect(await sink.head()).toEqual({ seq: 2, hash: acked[1].hash });
      expect((await sink.readRange(0, 100)).map((r) => r.seq)).toEqual([1, 2]);
      expect((await sink.read({})).entries.map((e) => e.seq)).toEqual([1, 2]);
    }
    clearFaults(f);
    const next = await sink.append(added('g'));
    expect(next.seq).toBe(acked.length + 1);
    acked.push(next);
    expect(sink.healthy()).toBe(true);
    if (c.cause !== undefined) expect((await stat(file)).size).toBeGreaterThan(size);
    expect(await sink.verify()).toEqual({ ok: true, count: acked.length });
    await sink.close();
    expectExactly(acked);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])(
    'random faults at every step (seed %i): the sink serves and keeps exactly what it acknowledged; a crash image keeps it too',
    async (seed) => {
      const r = mulberry32(seed * 7919);
      const f = setup(newFaults());
      const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 0, onNotice: () => {} });
      f.onWrite = () => {
        const x = r();
        return x < 0.12 ? errno('EIO') : x < 0.24 ? 'partial' : x < 0.32 ? 'short' : x < 0.36 ? 'zero' : x < 0.4 ? 'half' : undefined;
      };
      f.onTruncate = () => (r() < 0.25 ? errno('EIO') : undefined);
      f.onDatasync = () => (r() < 0.2 ? errno('EIO') : undefined);
      const acked: GovernanceEntry[] = [];
      let rejected = 0;
      for (let wave = 0; wave < 16; wave++) {
        const k = 1 + Math.floor(r() * 4);
        const outs = await Promise.allSettled(Array.from({ length: k }, (_, i) => sink.append(viewed(wave * 10 + i))));
        for (const o of outs) {
          if (o.status === 'fulfilled') acked.push(o.value);
          else {
            expect(o.reason).toBeInstanceOf(GovernanceUnavailableError);
            rejected++;
          }
        }
        expect(acked.map((e) => e.seq)).toEqual(acked.map((_, i) => i + 1));
        expect(await sink.head()).toEqual({ seq: acked.length, hash: acked.at(-1)?.hash ?? GENESIS });
        expect((await sink.readRange(0, 1000)).map((x) => x.seq)).toEqual(acked.map((e) => e.seq));
      }
      expect(rejected).toBeGreaterThan(0);
      // A crash now leaves the file as it is: reopening keeps every acknowledged entry and a valid chain
      // (a rejected batch whose cut failed may be kept too: a refused access on record, never the reverse).
      const image = join(dir, 'crash-image.log');
      await writeFile(image, await readFile(file));
      const after = await openFileSink({ file: image, instance: 'gw-2', onNotice: () => {} });
      const kept = await after.readRange(0, 1000);
      expect(kept.slice(0, acked.length).map((x) => JSON.parse(x.line))).toEqual(JSON.parse(JSON.stringify(acked)));
      expect(await after.verify()).toEqual({ ok: true, count: kept.length });
      await after.close();

      clearFaults(f);
      acked.push(await sink.append(added('last')));
      expect(acked.at(-1)!.seq).toBe(acked.length);
      await sink.close();
      expectExactly(acked);
      expect(await verifyFile(file)).toEqual({ ok: true, count: acked.length });
    },
  );

  it('a failing close loses nothing acknowledged', async () => {
    const f = setup(newFaults());
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 0, onNotice: () => {} });
    const acked = await Promise.all([1, 2, 3].map((n) => sink.append(viewed(n))));
    f.onClose = () => errno('EIO');
    await expect(sink.close()).rejects.toMatchObject({ code: 'EIO' });
    expectExactly(acked);
    const again = await openFileSink({ file, instance: 'gw-1', onNotice: () => {} });
    expect((await again.append(added('g'))).seq).toBe(4);
    await again.close();
  });

  it(`a stalled ${mode === 'O_DSYNC' ? 'write' : 'fdatasync'} rejects after the deadline and makes the sink unhealthy`, async () => {
    // the deadline runs on a fake clock (file I/O stays real): exact, and immune to load
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const f = setup(newFaults());
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), deadlineMs: 150, probeIntervalMs: 0, onNotice: () => {} });
    await sink.append(viewed(1));
    const stall = new Promise<void>(() => {}); // never resolves
    if (mode === 'O_DSYNC') f.onWrite = () => stall;
    else f.onDatasync = () => stall;
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
    const f = setup(newFaults());
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), deadlineMs: 100, probeIntervalMs: 0, onNotice: () => {} });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    if (mode === 'O_DSYNC') f.onWrite = () => gate;
    else f.onDatasync = () => gate;
    const inFlight = sink.append(viewed(1)).catch((e: unknown) => e);
    await new Promise((r) => setImmediate(r)); // let the first batch start
    const queued = sink.append(viewed(2)).catch((e: unknown) => e);
    vi.advanceTimersByTime(99);
    await new Promise((r) => setImmediate(r));
    expect(sink.healthy()).toBe(true); // not yet
    vi.advanceTimersByTime(1);
    expect(await inFlight).toBeInstanceOf(GovernanceUnavailableError);
    expect(await queued).toBeInstanceOf(GovernanceUnavailableError);
    clearFaults(f);
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
    const f = setup(newFaults());
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 0, onNotice: () => {} });
    f.onWrite = () => errno('ENOSPC');
    await expect(sink.append(viewed(1))).rejects.toBeInstanceOf(GovernanceUnavailableError);
    expect(sink.healthy()).toBe(false);
    f.onProbeOpen = () => errno('ENOSPC');
    expect(await sink.probe()).toBe(false);
    expect(sink.healthy()).toBe(false);
    f.onProbeOpen = undefined;
    clearFaults(f);
    expect(await sink.probe()).toBe(true);
    expect(sink.healthy()).toBe(true);
    await sink.close();
  });

  it('probes on its own while unhealthy', async () => {
    const f = setup(newFaults());
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 20, onNotice: () => {} });
    f.onWrite = () => errno('ENOSPC');
    await expect(sink.append(viewed(1))).rejects.toBeInstanceOf(GovernanceUnavailableError);
    expect(sink.healthy()).toBe(false);
    clearFaults(f);
    for (let i = 0; i < 100 && !sink.healthy(); i++) await new Promise((r) => setTimeout(r, 20));
    expect(sink.healthy()).toBe(true);
    await sink.close();
  });
});

describe('file sink: O_DSYNC batches', () => {
  it('never fdatasync a batch: a failing fdatasync does not touch the write path', async () => {
    const f = newFaults();
    const sink = await openFileSink({ file, instance: 'gw-1', fs: faultyFs(f), probeIntervalMs: 0 });
    f.onDatasync = () => errno('EIO');
    const acked = await Promise.all([1, 2, 3, 4].map((n) => sink.append(viewed(n))));
    expect(f.datasyncs).toBe(0);
    expect(sink.healthy()).toBe(true);
    await sink.close();
    expectExactly(acked);
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
