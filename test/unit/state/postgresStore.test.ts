/**
 * PostgreSQL state store against a real server: seeding once when replicas
 * start together, the same semantics as the in-memory store, conflicts,
 * propagation by NOTIFY, and life without the database.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { migrate } from '../../../src/db/migrate.js';
import { createPool } from '../../../src/db/pool.js';
import { seedState, type StateSeed } from '../../../src/state/mutations.js';
import { createMemoryStateStore } from '../../../src/state/memoryStore.js';
import { openPostgresStateStore, type PostgresStateOptions } from '../../../src/state/postgresStore.js';
import { StateConflictError, StateNotFoundError, StateUnavailableError, type PrivacyState, type StateStore } from '../../../src/state/types.js';
import { freshDatabase, sql, startTcpProxy } from '../../helpers/postgres.js';

const db = await freshDatabase();

const T0 = Date.parse('2026-01-01T00:00:00Z');
const seed: StateSeed = {
  groups: [{ id: 'hr', name: 'Human Resources', privateSince: T0 }],
  permissions: ['Alice@Contoso.com'],
};

describe.skipIf(!db)('PostgreSQL state store', () => {
  const url = db?.url ?? '';
  const stores: StateStore[] = [];
  const open = async (o: Partial<PostgresStateOptions> = {}) => {
    const s = await openPostgresStateStore({ url, seed, now: T0, pollIntervalMs: 60_000, ...o });
    stores.push(s);
    return s;
  };
  const groupIds = (s: PrivacyState) => s.groups.filter((g) => g.privateUntil === null).map((g) => g.id);

  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {});
    await db?.drop();
  });

  it('seeds exactly once when four replicas open at the same time', async () => {
    const opened = await Promise.all(Array.from({ length: 4 }, (_, i) => open({ instance: `seed${i}` })));
    const expected = seedState(seed, T0);
    for (const s of opened) expect(s.current()).toEqual(expected);
    expect(expected.permissions[0]).toEqual({ principal: 'alice@contoso.com', grantedAt: '2026-01-01T00:00:00.000Z', grantedBy: 'config' });
    expect(await sql(url, 'SELECT count(*)::int AS n FROM privacy_groups')).toEqual([{ n: 1 }]);
    expect(await sql(url, 'SELECT count(*)::int AS n FROM privacy_permissions')).toEqual([{ n: 1 }]);
    // a non-empty store is not seeded again, whatever the config says now
    const later = await open({ seed: { groups: [{ id: 'finance', privateSince: T0 }], permissions: ['bob@contoso.com'] } });
    expect(later.current()).toEqual(expected);
    for (const s of [...opened, later]) expect(s.healthy()).toBe(true);
  });

  it('means exactly what the in-memory store means, and persists across reopen', async () => {
    const pgStore = await open({ instance: 'same' });
    const mem = createMemoryStateStore(pgStore.current());
    const steps: Array<(s: StateStore) => Promise<unknown>> = [
      (s) => s.addGroup('finance', 'Finance', T0 + 1000),
      (s) => s.grant('Bob@Contoso.com', 'admin@contoso.com', T0 + 2000),
      (s) => s.removeGroup('finance', T0 + 1000), // same millisecond it began: kept 1 ms wide
      (s) => s.addGroup('finance', undefined, T0 + 5000), // name taken from the earlier interval
      (s) => s.grant('carol@contoso.com', 'admin@contoso.com', T0 + 6000),
      (s) => s.revoke('BOB@contoso.com'),
      (s) => s.removeGroup('hr', T0 + 7000),
      // SPEC §10: scoped and time-boxed; granting again after the expiry replaces the record
      (s) => s.grant('Quinn@contoso.com', 'admin@contoso.com', T0 + 8000, { groups: ['hr', 'builtin:external-users', 'hr'], expiresAt: T0 + 60_000.5 }),
      (s) => s.grant('frank@contoso.com', 'admin@contoso.com', T0 + 8500, { expiresAt: T0 + 9000 }),
      (s) => s.grant('quinn@contoso.com', 'admin@contoso.com', T0 + 60_001, { groups: ['legal'] }),
      // SPEC §11 reveal requests
      (s) =>
        s.createRevealRequest({
          id: 'rq-1',
          status: 'pending',
          requester: 'quinn@contoso.com',
          reason: 'case 12 review',
          scope: { groups: ['hr'], actors: [] },
          durationMin: 30,
          createdAt: new Date(T0 + 70_000).toISOString(),
        }),
      (s) =>
        s.createRevealRequest({
          id: 'rq-2',
          status: 'pending',
          requester: 'quinn@contoso.com',
          reason: 'case 13 review',
          scope: { groups: [], actors: ['bob@contoso.com'] },
          durationMin: 5,
          createdAt: new Date(T0 + 71_000).toISOString(),
        }),
      (s) => s.decideRevealRequest('rq-1', { status: 'approved', by: 'dpo@contoso.com', at: T0 + 80_000, comment: 'ok' }),
      (s) => s.decideRevealRequest('rq-2', { status: 'denied', by: 'dpo@contoso.com', at: T0 + 81_000 }),
    ];
    for (const step of steps) {
      const [a, b] = [await step(pgStore), await step(mem)];
      expect(a).toEqual(b);
      expect(pgStore.current()).toEqual(mem.current());
    }
    expect(pgStore.current().groups.find((g) => g.id === 'finance' && g.privateUntil !== null)?.privateUntil).toBe(T0 + 1001);
    expect(pgStore.current().groups.at(-1)).toEqual({ id: 'finance', name: 'Finance', privateSince: T0 + 5000, privateUntil: null });
    expect(pgStore.current().permissions.find((p) => p.principal === 'quinn@contoso.com')).toEqual({
      principal: 'quinn@contoso.com',
      grantedAt: new Date(T0 + 60_001).toISOString(),
      grantedBy: 'admin@contoso.com',
      groups: ['legal'],
    });
    expect(pgStore.current().permissions.find((p) => p.principal === 'frank@contoso.com')?.expiresAt).toBe(new Date(T0 + 9000).toISOString());
    // active at T0 + 8999: a second grant is a conflict in both stores
    await expect(pgStore.grant('frank@contoso.com', 'admin@contoso.com', T0 + 8999)).rejects.toBeInstanceOf(StateConflictError);
    await expect(mem.grant('frank@contoso.com', 'admin@contoso.com', T0 + 8999)).rejects.toBeInstanceOf(StateConflictError);

    await pgStore.close();
    const reopened = await open({ instance: 'reopened' });
    expect(reopened.current()).toEqual(mem.current());
  });

  it('two replicas deciding the same reveal request at once: exactly one decision wins', async () => {
    const a = await open({ instance: 'rq-a' });
    const b = await open({ instance: 'rq-b' });
    for (let i = 0; i < 5; i++) {
      const id = `race-${i}`;
      await a.createRevealRequest({
        id,
        status: 'pending',
        requester: 'x@contoso.com',
        reason: 'racing approvals',
        scope: { groups: [], actors: [] },
        durationMin: 10,
        createdAt: new Date().toISOString(),
      });
      const outcome = await Promise.allSettled([
        a.decideRevealRequest(id, { status: 'approved', by: 'dpo@contoso.com', at: Date.now() }),
        b.decideRevealRequest(id, { status: 'denied', by: 'officer@contoso.com', at: Date.now() }),
      ]);
      expect(outcome.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect((outcome.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(StateConflictError);
      const winner = (outcome.find((o) => o.status === 'fulfilled') as PromiseFulfilledResult<{ status: string }>).value.status;
      await expect.poll(() => b.current().revealRequests?.find((r) => r.id === id)?.status, { timeout: 2000 }).toBe(winner);
      expect(a.current().revealRequests?.find((r) => r.id === id)?.status).toBe(winner);
    }
    await expect(a.decideRevealRequest('nope', { status: 'approved', by: 'x', at: 0 })).rejects.toBeInstanceOf(StateNotFoundError);
  });

  it('reports conflicts and missing entries, also between replicas racing', async () => {
    const a = await open({ instance: 'race-a' });
    const b = await open({ instance: 'race-b' });
    await expect(a.addGroup('finance', undefined, Date.now())).rejects.toBeInstanceOf(StateConflictError);
    await expect(a.removeGroup('nope', Date.now())).rejects.toBeInstanceOf(StateNotFoundError);
    await expect(a.grant('carol@contoso.com', 'x', Date.now())).rejects.toBeInstanceOf(StateConflictError);
    await expect(a.revoke('nobody@contoso.com')).rejects.toBeInstanceOf(StateNotFoundError);

    const now = Date.now();
    const outcome = await Promise.allSettled([a.addGroup('legal', 'Legal', now), b.addGroup('legal', 'Legal', now)]);
    expect(outcome.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const refused = outcome.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(StateConflictError);
    const revokes = await Promise.allSettled([a.revoke('carol@contoso.com'), b.revoke('carol@contoso.com')]);
    expect(revokes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect((revokes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(StateNotFoundError);
    // both replicas end up agreeing on what the database holds
    await expect.poll(() => JSON.stringify(b.current()), { timeout: 2000 }).toBe(JSON.stringify(a.current()));
    // the database itself refuses a second open interval
    await expect(sql(url, `INSERT INTO privacy_groups (id, name, private_since) VALUES ('legal', 'x', 1)`)).rejects.toMatchObject({ code: '23505' });
  });

  it('delivers a change made through one instance to another within 2 s by NOTIFY', async () => {
    const writer = await open({ instance: 'writer' });
    const reader = await open({ instance: 'reader' }); // polls only every 60 s: NOTIFY must do it
    const seen: PrivacyState[] = [];
    reader.onChange((s) => seen.push(s));

    await writer.addGroup('security', 'Security', Date.now());
    await expect.poll(() => groupIds(reader.current()), { timeout: 2000, interval: 20 }).toContain('security');
    await writer.grant('dave@contoso.com', 'admin@contoso.com', Date.now());
    await expect.poll(() => reader.current().permissions.map((p) => p.principal), { timeout: 2000, interval: 20 }).toContain('dave@contoso.com');
    await writer.removeGroup('security', Date.now());
    await expect.poll(() => groupIds(reader.current()), { timeout: 2000, interval: 20 }).not.toContain('security');
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen.at(-1)).toEqual(reader.current());
    expect(reader.current()).toEqual(writer.current());
  });

  it('does not call onChange when a reload finds nothing new', async () => {
    const s = await open({ instance: 'quiet' });
    let calls = 0;
    s.onChange(() => calls++);
    // what each poll does, run to completion (causal, no waiting on the poll timer)
    for (let i = 0; i < 3; i++) await s.reload();
    expect(calls).toBe(0);
    const other = await open({ instance: 'noisy' });
    await other.grant('erin@contoso.com', 'admin@contoso.com', Date.now());
    await expect.poll(() => calls, { timeout: 2000 }).toBe(1);
  });

  it('keeps serving the last state while the database is away, then reconnects and catches up', async () => {
    const proxy = await startTcpProxy(url);
    const viaProxy = proxy.via(url);
    const away = await open({ url: viaProxy, instance: 'away' });
    const direct = await open({ instance: 'direct' });
    const before = away.current();
    expect(away.healthy()).toBe(true);

    await proxy.stop();
    await expect.poll(() => away.healthy(), { timeout: 3000, interval: 20 }).toBe(false);
    expect(away.current()).toBe(before);
    const refused = await away.addGroup('ops', 'Ops', Date.now()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StateUnavailableError);
    // promptly, shown causally rather than by a stopwatch: the closed port refused the
    // connection (an immediate answer), so no connect or mutation timer had to run out
    expect((refused as Error).message).toBe('state database unavailable');
    expect((refused as Error & { cause?: NodeJS.ErrnoException }).cause?.code).toBe('ECONNREFUSED');

    // changed while this instance could not hear the notification
    await direct.addGroup('ops', 'Ops', Date.now());
    expect(groupIds(away.current())).not.toContain('ops');

    await proxy.start();
    await expect.poll(() => away.healthy(), { timeout: 8000, interval: 50 }).toBe(true);
    await expect.poll(() => groupIds(away.current()), { timeout: 2000 }).toContain('ops');
    expect(away.current()).toEqual(direct.current());
    await proxy.stop();
  });

  it('recovers after pg_terminate_backend and hears notifications again', async () => {
    const victim = await open({ instance: 'victim', reconnectMinMs: 800 });
    const other = await open({ instance: 'bystander' });
    const listenerPid = async () =>
      (await sql<{ pid: number }>(url, `SELECT pid FROM pg_stat_activity WHERE application_name = 'apg-state-listen-victim'`)).map((r) => r.pid);
    const [oldPid] = await listenerPid();
    expect(oldPid).toBeTypeOf('number');
    const last = victim.current();

    const killed = await sql(url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'apg-state-%victim'`);
    expect(killed.length).toBeGreaterThan(0);
    await expect.poll(() => victim.healthy(), { timeout: 2000, interval: 10 }).toBe(false);
    expect(victim.current()).toBe(last);

    await expect.poll(() => victim.healthy(), { timeout: 5000, interval: 50 }).toBe(true);
    const pids = await listenerPid();
    expect(pids).toHaveLength(1);
    expect(pids[0]).not.toBe(oldPid);

    await other.grant('frank@contoso.com', 'admin@contoso.com', Date.now());
    await expect.poll(() => victim.current().permissions.map((p) => p.principal), { timeout: 2000, interval: 20 }).toContain('frank@contoso.com');
    // its pool lost connections too; mutations work again
    await victim.revoke('frank@contoso.com');
    await expect.poll(() => other.current().permissions.map((p) => p.principal), { timeout: 2000, interval: 20 }).not.toContain('frank@contoso.com');
  });

  it('bounds a mutation when the database stops answering, and works again afterwards', async () => {
    const proxy = await startTcpProxy(url);
    const hung = await open({ url: proxy.via(url), instance: 'hung', mutationTimeoutMs: 600 });
    const before = hung.current();
    proxy.hang(true);
    const err = await hung.grant('gina@contoso.com', 'admin@contoso.com', Date.now()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateUnavailableError);
    // bounded, shown causally rather than by a stopwatch: the mutation's own 600 ms timer
    // ended it (the hung server never answers, so nothing else could)
    expect((err as Error & { cause?: Error }).cause?.message).toBe('state change not committed within 600 ms');
    expect(hung.current()).toBe(before);
    proxy.hang(false);
    const rec = await hung.grant('gina@contoso.com', 'admin@contoso.com', Date.now());
    expect(rec.principal).toBe('gina@contoso.com');
    expect(await sql(url, `SELECT count(*)::int AS n FROM privacy_permissions WHERE principal = 'gina@contoso.com'`)).toEqual([{ n: 1 }]);
    await proxy.stop();
  });

  it('works on a pool it was given, and leaves that pool open on close', async () => {
    const pool = createPool({ url, max: 2 });
    try {
      const s = await openPostgresStateStore({ pool, seed, instance: 'pooled', pollIntervalMs: 60_000 });
      const other = await open({ instance: 'pool-writer' });
      await other.addGroup('pooled-group', undefined, Date.now());
      await expect.poll(() => groupIds(s.current()), { timeout: 2000, interval: 20 }).toContain('pooled-group');
      expect(s.healthy()).toBe(true);
      await s.close();
      expect(s.healthy()).toBe(false);
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });
});

describe.skipIf(!db)("PostgreSQL state store: the seed is applied once in the database's life", () => {
  const dbs: Array<NonNullable<typeof db>> = [];
  const stores: StateStore[] = [];
  const openOn = async (url: string, s: StateSeed, instance: string) => {
    const store = await openPostgresStateStore({ url, seed: s, now: T0, instance, pollIntervalMs: 60_000 });
    stores.push(store);
    return store;
  };
  const fresh = async () => {
    const d = (await freshDatabase())!;
    dbs.push(d);
    return d.url;
  };

  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {});
    for (const d of dbs) await d.drop().catch(() => {});
  });

  it('does not bring back a revoked permission when every permission was revoked and no group recorded', async () => {
    const url = await fresh();
    const onlyPermission: StateSeed = { groups: [], permissions: ['alice@contoso.com'] };
    const first = await openOn(url, onlyPermission, 'first');
    expect(first.current().permissions.map((p) => p.principal)).toEqual(['alice@contoso.com']);
    await first.revoke('alice@contoso.com');
    expect(first.current()).toEqual({ groups: [], permissions: [], revealRequests: [], changes: [] });
    await first.close();

    // both tables are empty now; the restart (same seed, and a different one) must not re-seed
    const again = await openOn(url, onlyPermission, 'again');
    expect(again.current()).toEqual({ groups: [], permissions: [], revealRequests: [], changes: [] });
    const otherSeed = await openOn(url, { groups: [{ id: 'hr', privateSince: T0 }], permissions: ['bob@contoso.com'] }, 'other');
    expect(otherSeed.current()).toEqual({ groups: [], permissions: [], revealRequests: [], changes: [] });
    expect(await sql(url, 'SELECT count(*)::int AS n FROM privacy_permissions')).toEqual([{ n: 0 }]);
    expect(await sql(url, `SELECT key FROM state_meta`)).toEqual([{ key: 'seeded' }]);
  });

  it('seeds exactly once and writes one marker when replicas open an empty database together', async () => {
    const url = await fresh();
    const opened = await Promise.all(['a', 'b', 'c'].map((i) => openOn(url, seed, `together-${i}`)));
    for (const s of opened) expect(s.current()).toEqual(seedState(seed, T0));
    expect(await sql(url, 'SELECT count(*)::int AS n FROM state_meta')).toEqual([{ n: 1 }]);
    expect(await sql(url, 'SELECT count(*)::int AS n FROM privacy_permissions')).toEqual([{ n: 1 }]);
  });

  it('upgrades a schema version 1 database: rows present means seeded (marker set, no seed)', async () => {
    const url = await fresh();
    const s = await openOn(url, seed, 'v1-writer');
    await s.grant('dave@contoso.com', 'admin@contoso.com', T0 + 1);
    await s.close();
    // turn it back into what version 1 left behind: no marker table, version 1 only
    await sql(url, 'DROP TABLE state_meta');
    await sql(url, 'DELETE FROM schema_version WHERE version > 1');
    const before = await sql(url, 'SELECT principal FROM privacy_permissions ORDER BY principal');

    const upgraded = await openOn(url, { groups: [{ id: 'finance', privateSince: T0 }], permissions: ['erin@contoso.com'] }, 'v2');
    expect(upgraded.current().permissions.map((p) => p.principal)).toEqual(['alice@contoso.com', 'dave@contoso.com']);
    expect(upgraded.current().groups.map((g) => g.id)).toEqual(['hr']);
    expect(await sql(url, 'SELECT principal FROM privacy_permissions ORDER BY principal')).toEqual(before);
    expect(await sql(url, 'SELECT key, value FROM state_meta')).toEqual([{ key: 'seeded', value: 'before schema version 2' }]);
    expect(await sql(url, 'SELECT version FROM schema_version ORDER BY version')).toEqual([
      { version: 1 },
      { version: 2 },
      { version: 3 },
      { version: 4 },
      { version: 5 },
      { version: 6 },
      { version: 7 },
    ]);

    // and from then on an emptied state stays empty
    await upgraded.revoke('alice@contoso.com');
    await upgraded.revoke('dave@contoso.com');
    await upgraded.removeGroup('hr', T0 + 10);
    await upgraded.close();
    const reopened = await openOn(url, seed, 'v2-again');
    expect(reopened.current().permissions).toEqual([]);
  });

  it('upgrades a schema version 3 database: permissions get groups/expires_at columns, old rows mean "every group, forever"', async () => {
    const url = await fresh();
    const s = await openOn(url, seed, 'v2-writer');
    await s.grant('dave@contoso.com', 'admin@contoso.com', T0 + 1);
    await s.close();
    await sql(url, 'DROP INDEX governance_log_principal_seq');
    await sql(url, 'DROP INDEX governance_log_time');
    await sql(url, 'ALTER TABLE privacy_permissions DROP COLUMN groups, DROP COLUMN expires_at');
    await sql(url, 'DELETE FROM schema_version WHERE version > 3');
    const upgraded = await openOn(url, seed, 'v3');
    expect(upgraded.current().permissions).toEqual([
      { principal: 'alice@contoso.com', grantedAt: new Date(T0).toISOString(), grantedBy: 'config' },
      { principal: 'dave@contoso.com', grantedAt: new Date(T0 + 1).toISOString(), grantedBy: 'admin@contoso.com' },
    ]);
    expect(await sql(url, 'SELECT version FROM schema_version ORDER BY version')).toEqual([
      { version: 1 },
      { version: 2 },
      { version: 3 },
      { version: 4 },
      { version: 5 },
      { version: 6 },
      { version: 7 },
    ]);
    const rec = await upgraded.grant('erin@contoso.com', 'admin@contoso.com', T0 + 2, { groups: ['hr'], expiresAt: T0 + 3_600_000 });
    expect(upgraded.current().permissions.at(-1)).toEqual(rec);
    expect(await sql(url, "SELECT groups, expires_at FROM privacy_permissions WHERE principal = 'erin@contoso.com'")).toEqual([
      { groups: ['hr'], expires_at: new Date(T0 + 3_600_000) },
    ]);
    await upgraded.close();
  });

  it('an empty version 1 database is seeded when the state store first opens it', async () => {
    const url = await fresh();
    // the governance sink migrates without seeding (it may start first)
    const pool = createPool({ url, max: 1 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
    expect(await sql(url, 'SELECT count(*)::int AS n FROM state_meta')).toEqual([{ n: 0 }]);
    const s = await openOn(url, seed, 'after-sink');
    expect(s.current()).toEqual(seedState(seed, T0));
    expect(await sql(url, 'SELECT count(*)::int AS n FROM state_meta')).toEqual([{ n: 1 }]);
  });
});
