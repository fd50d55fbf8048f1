import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { systemClock } from '../clock.js';
import type { RevealRequest } from '../privacy/approval.js';
import type { GroupInterval } from '../privacy/types.js';
import {
  parseState,
  seedState,
  withGroupAdded,
  withGroupRemoved,
  withPermissionGranted,
  withPermissionRevoked,
  withRevealRequestCreated,
  withRevealRequestDecided,
  withChangeCreated,
  withChangeDecided,
  type StateSeed,
} from './mutations.js';
import { StateUnavailableError, type PermissionRecord, type PrivacyChange, type PrivacyState, type StateStore } from './types.js';

/** Writes `data` so that a crash leaves either the old or the new file, never a mix. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  // fsync the directory so the rename itself survives a power loss
  const dh = await fs.open(dir, 'r');
  try {
    await dh.sync();
  } catch {
    /* some filesystems refuse fsync on directories */
  } finally {
    await dh.close();
  }
}

/**
 * Single-instance state store in a JSON file. Mutations are serialised and
 * persisted before they are visible, so a restart never forgets a change that
 * was acknowledged.
 */
/** `now`: when the seed's groups became private if they name no time (the gateway passes its clock's time). */
export async function openFileStateStore(file: string, seed: StateSeed, now: number = systemClock.now()): Promise<StateStore> {
  let state: PrivacyState;
  let text: string | undefined;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text === undefined || text.trim() === '') {
    state = seedState(seed, now);
    await writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n');
  } else {
    state = parseState(JSON.parse(text));
  }

  const listeners = new Set<(s: PrivacyState) => void>();
  let healthy = true;
  let queue: Promise<unknown> = Promise.resolve();

  function mutate<T>(fn: (s: PrivacyState) => [PrivacyState, T]): Promise<T> {
    const run = queue.then(async () => {
      const [next, result] = fn(state);
      try {
        await writeFileAtomic(file, JSON.stringify(next, null, 2) + '\n');
        healthy = true;
      } catch (err) {
        healthy = false;
        throw new StateUnavailableError(`state file cannot be written: ${(err as Error).message}`);
      }
      state = next;
      for (const l of listeners) l(state);
      return result;
    });
    queue = run.catch(() => undefined);
    return run;
  }

  return {
    current: () => state,
    addGroup: (id, name, at, mode) => mutate<GroupInterval>((s) => withGroupAdded(s, id, name, at, mode)),
    removeGroup: (id, at) => mutate<GroupInterval>((s) => withGroupRemoved(s, id, at)),
    grant: (p, by, at, limits) => mutate<PermissionRecord>((s) => withPermissionGranted(s, p, by, at, limits)),
    revoke: (p) => mutate<PermissionRecord>((s) => withPermissionRevoked(s, p)),
    createRevealRequest: (r) => mutate<RevealRequest>((s) => withRevealRequestCreated(s, r)),
    decideRevealRequest: (id, d) => mutate<RevealRequest>((s) => withRevealRequestDecided(s, id, d)),
    createChange: (c) => mutate<PrivacyChange>((s) => withChangeCreated(s, c)),
    decideChange: (id, d) => mutate<PrivacyChange>((s) => withChangeDecided(s, id, d)),
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    healthy: () => healthy,
    close: async () => {
      await queue;
    },
  };
}
