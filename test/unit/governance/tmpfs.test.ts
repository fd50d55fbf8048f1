/**
 * Full disk for real: a 64 KiB tmpfs (needs root / CAP_SYS_ADMIN; skipped with
 * a message otherwise). Filling it must make appends fail fast with
 * GovernanceUnavailableError, and freeing it must let the chain continue gap-free.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileSink } from '../../../src/governance/fileSink.js';
import { GovernanceUnavailableError, type GovernanceEntryInput } from '../../../src/governance/types.js';
import { verifyChainFile } from '../../helpers/chainVerifier.js';

let mountDir = '';
let mounted = false;
let skipReason = '';

beforeAll(async () => {
  mountDir = await mkdtemp(join(tmpdir(), 'apg-gov-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountDir], { stdio: 'pipe' });
    mounted = true;
  } catch (err) {
    skipReason = `cannot mount a tmpfs here (needs root): ${String((err as Error).message).split('\n')[0]}`;
    console.warn(`[governance.tmpfs] SKIPPED full-disk test: ${skipReason}`);
  }
});

afterAll(async () => {
  if (mounted) execFileSync('umount', [mountDir], { stdio: 'pipe' });
  await rm(mountDir, { recursive: true, force: true });
});

const big = (n: number): GovernanceEntryInput => ({
  action: 'private-activities.viewed',
  principal: 'alice@contoso.com',
  via: 'token',
  // ~9 KB: always needs fresh pages, so it cannot fit in the log's last partly-used page
  privateActivities: { count: 200, ids: Array.from({ length: 200 }, (_, i) => `activity-${n}-${String(i).padStart(30, '0')}`) },
});

/** Writes until ENOSPC; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const path = join(dir, 'filler');
  const h = await open(path, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) await h.write(chunk);
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    await h.close();
  }
  return path;
}

describe('file sink on a full disk (tmpfs)', () => {
  it('rejects promptly while full, then continues the chain without gaps once space returns', async (ctx) => {
    if (!mounted) ctx.skip(skipReason);
    const file = join(mountDir, 'gov', 'governance.log');
    const sink = await openFileSink({ file, instance: 'gw-1', probeIntervalMs: 0, deadlineMs: 2000 });
    expect((await sink.append(big(1))).seq).toBe(1);
    expect((await sink.append(big(2))).seq).toBe(2);

    const filler = await fill(mountDir);
    const err = await sink.append(big(3)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GovernanceUnavailableError);
    // Promptly, shown causally rather than by a stopwatch: an append settles once, and
    // its 2 s deadline timer would have rejected it with "not durable within 2000 ms"
    // and no cause. This error is the disk's own, so it came before the deadline.
    expect((err as Error).message).toBe('governance log write failed');
    expect((err as Error & { cause?: NodeJS.ErrnoException }).cause?.code).toBe('ENOSPC');
    expect(sink.healthy()).toBe(false);
    // still full: still refused, and a probe agrees
    await expect(sink.append(big(4))).rejects.toBeInstanceOf(GovernanceUnavailableError);
    expect(await sink.probe()).toBe(false);
    // the failed batches left nothing behind
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 2 });

    await unlink(filler);
    const next = await sink.append(big(5));
    expect(next.seq).toBe(3);
    expect(sink.healthy()).toBe(true);
    expect((await sink.append(big(6))).seq).toBe(4);
    expect(await sink.verify()).toEqual({ ok: true, count: 4 });
    await sink.close();
    const report = verifyChainFile(file);
    expect(report.reason).toBeUndefined();
    expect(report.entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(report.entries.map((e) => (e.privateActivities as { ids: string[] }).ids[0].split('-')[1])).toEqual(['1', '2', '5', '6']);
  });
});
