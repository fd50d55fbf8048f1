/**
 * Two gateways sharing PostgreSQL state: a console session opened on one is good on the
 * other (no sticky load balancing needed), and signing out on either ends it on both.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PREFIX, signIn, startConsoleStack, type ConsoleStack } from '../helpers/console.js';
import { demoLikeConfig, startTestGateway, tempDir } from '../helpers/gateway.js';
import { freshDatabase, startTcpProxy } from '../helpers/postgres.js';
import type { Gateway } from '../../src/gateway.js';

const db = await freshDatabase();
const db2 = db ? await freshDatabase() : null;

describe.skipIf(!db)('console sessions across replicas (PostgreSQL)', { timeout: 90_000 }, () => {
  let a: ConsoleStack;
  let b: Gateway;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const shared = { state: { store: 'postgres', postgresUrl: db!.url }, governance: { sink: 'postgres', postgresUrl: db!.url } };
    a = await startConsoleStack(shared);
    const t = await tempDir();
    cleanup = t.cleanup;
    b = await startTestGateway(demoLikeConfig(a.upstream, t.dir, { ...shared, console: a.gw.config().console }));
  }, 180_000);
  afterAll(async () => {
    await b?.close(1000);
    await a?.close();
    await cleanup?.();
    await db?.drop();
  });

  test('signed in on A, working on B (CSRF included), signed out on B, refused on A', async () => {
    const alice = await signIn(a, 'alice');
    expect(alice.res.status).toBe(303);
    const onB = await fetch(`${b.url}${PREFIX}/console/session`, { headers: { cookie: alice.cookie } });
    expect(onB.status).toBe(200);
    expect((await onB.json()).principal).toBe('alice@contoso.com');
    const add = await fetch(`${b.url}${PREFIX}/api/privacy/permissions`, {
      method: 'POST',
      headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf!, 'content-type': 'application/json' },
      body: JSON.stringify({ principal: 'dave@contoso.com' }),
    });
    expect(add.status).toBe(201);
    const out = await fetch(`${b.url}${PREFIX}/console/logout`, { method: 'POST', headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf! } });
    expect(out.status).toBe(204);
    expect((await fetch(`${a.gw.url}${PREFIX}/api/privacy/groups`, { headers: { cookie: alice.cookie } })).status).toBe(401);
  });
});

describe.skipIf(!db2)('console sessions with the database away (fail closed)', { timeout: 90_000 }, () => {
  test('a session cannot be read: 503, nothing answered as that admin; sign-in cannot be stored: 503 page; back when the database is', async () => {
    const proxy = await startTcpProxy(db2!.url);
    const url = proxy.via(db2!.url);
    const s = await startConsoleStack({ state: { store: 'postgres', postgresUrl: url }, governance: { sink: 'postgres', postgresUrl: url } });
    try {
      const alice = await signIn(s, 'alice');
      expect(alice.res.status).toBe(303);
      await proxy.stop();
      const api = await fetch(`${s.gw.url}${PREFIX}/api/privacy/groups`, { headers: { cookie: alice.cookie } });
      expect(api.status).toBe(503);
      expect((await api.json()).error.code).toBe('identity_unavailable');
      const login = await fetch(`${s.gw.url}${PREFIX}/console/login`, { redirect: 'manual' });
      expect(login.status).toBe(503);
      expect(login.headers.getSetCookie()).toEqual([]);
      await proxy.start();
      await expect
        .poll(async () => (await fetch(`${s.gw.url}${PREFIX}/api/privacy/groups`, { headers: { cookie: alice.cookie } })).status, {
          timeout: 20_000,
          interval: 250,
        })
        .toBe(200);
    } finally {
      await s.close();
      await proxy.stop();
      await db2!.drop();
    }
  });
});
