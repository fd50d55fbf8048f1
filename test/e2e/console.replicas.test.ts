/**
 * Two gateways sharing PostgreSQL state: a console session opened on one is good on the
 * other (no sticky load balancing needed), and signing out on either ends it on both.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { PREFIX, signIn, startConsoleStack, type ConsoleStack } from '../helpers/console.js';
import { demoLikeConfig, startTestGateway, tempDir } from '../helpers/gateway.js';
import { freshDatabase } from '../helpers/postgres.js';
import type { Gateway } from '../../src/gateway.js';

const db = await freshDatabase();

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
      method: 'POST', headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf!, 'content-type': 'application/json' },
      body: JSON.stringify({ principal: 'dave@contoso.com' }),
    });
    expect(add.status).toBe(201);
    const out = await fetch(`${b.url}${PREFIX}/console/logout`, { method: 'POST', headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf! } });
    expect(out.status).toBe(204);
    expect((await fetch(`${a.gw.url}${PREFIX}/api/privacy/groups`, { headers: { cookie: alice.cookie } })).status).toBe(401);
  });
});
