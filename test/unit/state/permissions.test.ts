import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileStateStore } from '../../../src/state/fileStore.js';
import { activePermissions, isExpired, parseState } from '../../../src/state/mutations.js';
import { StateConflictError } from '../../../src/state/types.js';
import { tempDir } from '../../helpers/gateway.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

describe('scoped and time-boxed permissions in the file state store', () => {
  it('stores groups and expiresAt, persists them, and replaces an expired permission on a new grant', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const file = path.join(t.dir, 'state.json');
    const s = await openFileStateStore(file, { groups: [], permissions: [] }, T0);
    const rec = await s.grant('Dana@Contoso.com', 'root@contoso.com', T0, { groups: ['hr'], expiresAt: T0 + 1000 });
    expect(rec).toEqual({
      principal: 'dana@contoso.com',
      grantedAt: new Date(T0).toISOString(),
      grantedBy: 'root@contoso.com',
      groups: ['hr'],
      expiresAt: new Date(T0 + 1000).toISOString(),
    });
    // active until the very instant it expires
    await expect(s.grant('dana@contoso.com', 'root@contoso.com', T0 + 999)).rejects.toBeInstanceOf(StateConflictError);
    expect(isExpired(rec, T0 + 999)).toBe(false);
    expect(isExpired(rec, T0 + 1000)).toBe(true);
    expect(activePermissions(s.current(), T0 + 999)).toHaveLength(1);
    expect(activePermissions(s.current(), T0 + 1000)).toHaveLength(0);
    const again = await s.grant('dana@contoso.com', 'root@contoso.com', T0 + 1000);
    expect(s.current().permissions).toEqual([again]);
    expect(again.groups).toBeUndefined();
    await s.close();
    const reopened = await openFileStateStore(file, { groups: [], permissions: ['x@contoso.com'] }, T0);
    expect(reopened.current().permissions).toEqual([again]);
    expect(JSON.parse(await readFile(file, 'utf8')).permissions[0]).not.toHaveProperty('expiresAt');
  });

  it('refuses a state document whose limits cannot be read (fail closed: never "forever")', () => {
    const base = { principal: 'a@contoso.com', grantedAt: '', grantedBy: '' };
    expect(() => parseState({ groups: [], permissions: [{ ...base, expiresAt: 'soon' }] })).toThrow(/expiresAt/);
    expect(() => parseState({ groups: [], permissions: [{ ...base, groups: 'hr' }] })).toThrow(/groups/);
    expect(parseState({ groups: [], permissions: [{ ...base, groups: null, expiresAt: null }] }).permissions[0]).toEqual(base);
  });
});
