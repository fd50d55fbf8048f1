import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { createMemorySessionStore, keyOf, newId, plausibleId, type SessionData, type SessionStore } from '../../../src/console/sessions.js';
import { openPostgresSessionStore } from '../../../src/console/postgresSessions.js';
import { freshDatabase, sql } from '../../helpers/postgres.js';

const session = (expiresAt: number): SessionData => ({
  principal: 'alice@contoso.com',
  roles: ['SecurityAdministrator'],
  csrf: newId(),
  iss: 'https://idp/',
  createdAt: 0,
  expiresAt,
});
const login = { state: 's', nonce: 'n', codeVerifier: 'v', redirectUri: 'http://gw/cb', expiresAt: 1000 };

/** What every store must do, whatever keeps it. */
function contract(name: string, open: () => Promise<{ a: SessionStore; b: SessionStore; done: () => Promise<void> }>) {
  test(`${name}: a session is read until it expires; a sign-in is taken once; deletion is seen by every holder`, async () => {
    const { a, b, done } = await open();
    const T = Date.now();
    try {
      const id = newId();
      await a.put('session', id, session(T + 5000), T + 5000);
      expect((await b.get('session', id, T + 4999))?.principal).toBe('alice@contoso.com');
      // the kinds do not mix: a login id is no session and the other way round
      await a.put('login', id, { ...login, expiresAt: T + 1000 }, T + 1000);
      expect(await b.take('login', id, T + 10)).toMatchObject({ state: 's', nonce: 'n' });
      expect(await a.take('login', id, T + 10)).toBeUndefined();
      expect((await a.get('session', id, T + 10))?.principal).toBe('alice@contoso.com');
      expect(await b.get('session', id, T + 5000)).toBeUndefined();
      await b.delete('session', id);
      expect(await a.get('session', id, T + 10)).toBeUndefined();
      // an expired sign-in cannot be taken
      const late = newId();
      await a.put('login', late, login, T + 1000);
      expect(await b.take('login', late, T + 1000)).toBeUndefined();
    } finally {
      await done();
    }
  });
}

describe('console session ids', () => {
  test('256 random bits, base64url; only such values are looked up; keys are hashes', () => {
    const ids = new Set(Array.from({ length: 200 }, newId));
    expect(ids.size).toBe(200);
    for (const id of ids) expect(plausibleId(id)).toBe(true);
    const id = newId();
    expect(keyOf('session', id)).toMatch(/^session:[0-9a-f]{64}$/);
    expect(keyOf('session', id)).not.toContain(id);
    expect(keyOf('login', id)).not.toBe(keyOf('session', id));
    fc.assert(
      fc.property(fc.string(), (s) => {
        if (plausibleId(s)) expect(s).toMatch(/^[A-Za-z0-9_-]{43}$/);
      }),
    );
  });
});

describe('memory session store', () => {
  contract('memory', async () => {
    const s = createMemorySessionStore();
    return { a: s, b: s, done: () => s.close() };
  });
  test('bounded: the oldest records go first', async () => {
    const s = createMemorySessionStore(3);
    const ids = [newId(), newId(), newId(), newId()];
    for (const id of ids) await s.put('session', id, session(10), 10);
    expect(await s.get('session', ids[0], 0)).toBeUndefined();
    expect(await s.get('session', ids[3], 0)).toBeDefined();
  });
});

const db = await freshDatabase();
describe.skipIf(!db)('PostgreSQL session store (two replicas)', () => {
  contract('postgres', async () => {
    const a = await openPostgresSessionStore({ url: db!.url, instance: 'a' });
    const b = await openPostgresSessionStore({ url: db!.url, instance: 'b' });
    return {
      a,
      b,
      done: async () => {
        await a.close();
        await b.close();
      },
    };
  });
  test('the table holds hashes of the ids, never the ids', async () => {
    const a = await openPostgresSessionStore({ url: db!.url });
    try {
      const id = newId();
      await a.put('session', id, session(Date.now() + 60_000), Date.now() + 60_000);
      const rows = await sql<{ key: string; data: unknown }>(db!.url, 'SELECT key, data FROM console_sessions');
      expect(rows.some((r) => r.key === keyOf('session', id))).toBe(true);
      expect(JSON.stringify(rows)).not.toContain(id);
    } finally {
      await a.close();
      await db!.drop();
    }
  });
});
