/** The per-principal cache's deadline: waiting for a slot counts, and a source that ignores its signal cannot hold slots. */
import { describe, expect, it } from 'vitest';
import { cachedSource } from '../../../src/directory/cache.js';
import type { DirectorySource } from '../../../src/directory/types.js';

function source(): DirectorySource & { calls: string[] } {
  const calls: string[] = [];
  return {
    name: 'ldap',
    knowsUsers: true,
    calls,
    lookup(principal) {
      calls.push(principal);
      if (principal.startsWith('hang')) return new Promise(() => {}); // ignores its signal
      return Promise.resolve({ exists: true, groups: new Set([`g-${principal}`]) });
    },
    close() {},
  };
}

describe('cache deadlines', () => {
  it('a lookup queued behind a hung one fails at timeoutMs, not later; the slot is not lost', async () => {
    const src = source();
    const c = cachedSource(src, { ttlSec: 60, staleSec: 0, maxEntries: 10, timeoutMs: 300, maxInFlight: 1 });
    const t0 = performance.now();
    const [hung, queued] = await Promise.all([c.resolve('hang@x.com'), c.resolve('hang-too@x.com')]);
    const took = performance.now() - t0;
    expect(hung).toBe('failed');
    expect(queued).toBe('failed'); // its 300 ms included the wait for the slot
    expect(took).toBeLessThan(560); // 300 + 300 if the wait did not count
    const later = await c.resolve('later@x.com');
    expect(later !== 'failed' && [...later.groups]).toEqual(['g-later@x.com']);
    expect(c.stats()).toMatchObject({ failures: 2, hits: 0 });
    c.close();
  });

  it('many hung lookups never exhaust the slots for good', async () => {
    const c = cachedSource(source(), { ttlSec: 60, staleSec: 0, maxEntries: 100, timeoutMs: 50, maxInFlight: 2 });
    const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => c.resolve(`hang${i}@x.com`)));
    expect(rs.every((r) => r === 'failed')).toBe(true);
    expect(await c.resolve('ok@x.com')).not.toBe('failed');
    c.close();
  });
});
