import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { activityActor, activityTime, type Activity } from '../../../src/demo/dataset.js';
import { createSampleApi } from '../../../src/demo/sampleApi.js';
import { tokensEnv } from '../../../src/demo/tokensEnv.js';

describe('the sample API keeps producing activities (demo)', () => {
  const T0 = Date.parse('2026-11-26T10:00:00Z');

  async function page(url: string, limit = 50): Promise<Activity[]> {
    const r = await fetch(`${url}/api/v1/activities/?limit=${limit}`);
    return ((await r.json()) as { data: Activity[] }).data;
  }

  it('a few a second with current timestamps, newest first, deterministic per seed', async () => {
    let now = T0;
    const a = createSampleApi({ count: 200, live: { perSecond: 3, seed: 7, now: () => now } });
    const b = createSampleApi({ count: 200, live: { perSecond: 3, seed: 7, now: () => now } });
    const c = createSampleApi({ count: 200, live: { perSecond: 3, seed: 8, now: () => now } });
    const [ua, ub, uc] = [await a.listen(), await b.listen(), await c.listen()];
    try {
      const before = await page(ua);
      expect(before.every((x) => activityTime(x)! < T0)).toBe(true);
      now = T0 + 2_000;
      const after = await page(ua);
      const fresh = after.filter((x) => activityTime(x)! >= T0);
      expect(fresh).toHaveLength(6);
      expect(fresh.map((x) => activityTime(x))).toEqual([5, 4, 3, 2, 1, 0].map((i) => T0 + Math.floor((i * 1000) / 3)));
      expect(after.slice(6, 56 - 6)).toEqual(before.slice(0, 44));
      expect(new Set(fresh.map((x) => x._id)).size).toBe(6);
      // same seed, same feed; another seed, another one
      expect(await page(ub)).toEqual(after);
      const other = (await page(uc)).filter((x) => activityTime(x)! >= T0);
      expect(other).toHaveLength(6);
      expect(other.map((x) => x._id)).not.toEqual(fresh.map((x) => x._id));
      // every actor kind of the static dataset can appear: over a minute, several principals act
      now = T0 + 60_000;
      const minute = (await page(ua, 200)).filter((x) => activityTime(x)! >= T0);
      expect(minute).toHaveLength(180);
      expect(new Set(minute.map((x) => activityActor(x))).size).toBeGreaterThan(5);
      // the new activities are items as well
      const item = await fetch(`${ua}/api/v1/activities/${minute[0]._id}/`);
      expect(item.status).toBe(200);
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });

  it('without the live option the dataset does not change', async () => {
    const api = createSampleApi({ count: 100 });
    const url = await api.listen();
    try {
      const first = await page(url, 100);
      await new Promise((r) => setImmediate(r));
      expect(await page(url, 100)).toEqual(first);
      expect(api.dataset).toHaveLength(100);
    } finally {
      await api.close();
    }
  });
});

describe('.demo/tokens.env', () => {
  it('`source`-able: the tokens reach the shell and the commands it starts', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'apg-tokens-'));
    try {
      const file = path.join(dir, 'tokens.env');
      await writeFile(file, tokensEnv({ ALICE: 'eyJhbGciOi.eyJ1cG4iOi.sig-_x', ERIN: "odd'value" }));
      const out = execFileSync('bash', ['-c', `source "${file}" && node -e 'console.log(process.env.ALICE + "|" + process.env.ERIN)'`], { encoding: 'utf8' });
      expect(out.trim()).toBe("eyJhbGciOi.eyJ1cG4iOi.sig-_x|odd'value");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
