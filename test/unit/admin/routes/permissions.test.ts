import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { permissionRoutes } from '../../../../src/admin/routes/permissions.js';
import { pendingChanges } from '../../../../src/admin/routes/changes.js';
import { call, changeTools, mountRoute, type Mounted } from '../../../helpers/adminRoute.js';
import { entries, makeParts, type Parts } from '../../../helpers/units.js';

const ADMIN = 'alice@contoso.com';
let parts: Parts;
let app: Mounted;

/** The module as app.ts mounts it: its change tools and the pending changes of SPEC §11 v3. */
function withPending<R>(
  make: (deps: ReturnType<Parts['adminDeps']>, tools: ReturnType<typeof changeTools>, pending: ReturnType<typeof pendingChanges>) => R,
): R {
  const tools = changeTools(parts.governance);
  return make(parts.adminDeps(), tools, pendingChanges(parts.adminDeps(), tools));
}

beforeEach(async () => {
  parts = await makeParts('http://127.0.0.1:9');
  app = await mountRoute(withPending(permissionRoutes), parts);
});
afterEach(async () => {
  await app.close();
  await parts.close();
});

const grant = (body: unknown, as = ADMIN) => call(app.url, '/privacy/permissions', { as, body });
const iso = (ms: number) => new Date(ms).toISOString();

describe('POST /privacy/permissions', () => {
  it('grants, normalising the principal, and records the limits in the entry first', async () => {
    const expiresAt = iso(parts.clock.now() + 3_600_000);
    const r = await grant({ principal: ' Dave@Contoso.com ', groups: ['hr', 'hr'], expiresAt });
    expect(r.status).toBe(201);
    expect(r.json()).toMatchObject({ principal: 'dave@contoso.com', grantedBy: ADMIN, groups: ['hr'], expiresAt, grantedAt: iso(parts.clock.now()) });
    const log = await entries(parts);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({
      action: 'reveal-permission.granted',
      target: 'dave@contoso.com',
      principal: ADMIN,
      permission: { groups: ['hr'], expiresAt },
    });
  });

  it('an unlimited grant records no permission object', async () => {
    expect((await grant({ principal: 'dave@contoso.com' })).status).toBe(201);
    const [e] = await entries(parts);
    expect('permission' in e).toBe(false);
  });

  it('403 self_grant, even written differently; nothing recorded', async () => {
    const r = await grant({ principal: 'ALICE@contoso.com' });
    expect(r.status).toBe(403);
    expect(r.json().error.code).toBe('self_grant');
    expect(await entries(parts)).toHaveLength(0);
  });

  it.each([
    ['not a timestamp', 'tomorrow', 'ISO-8601'],
    ['no offset', '2026-12-01T18:00:00', 'ISO-8601'],
    ['in the past', '2026-07-01T11:59:59Z', 'in the future'],
    ['exactly now', '2026-07-01T12:00:00Z', 'in the future'],
  ])('400 for expiresAt %s', async (_what, expiresAt, words) => {
    const r = await grant({ principal: 'dave@contoso.com', expiresAt });
    expect(r.status).toBe(400);
    expect(r.json().error.message).toContain(words);
    expect(parts.state.current().permissions.map((p) => p.principal)).not.toContain('dave@contoso.com');
  });

  it('400 for a principal that is not one, an empty groups list or an unknown key', async () => {
    for (const body of [{ principal: 'dave' }, { principal: 'dave@contoso.com', groups: [] }, { principal: 'dave@contoso.com', role: 'x' }]) {
      const r = await grant(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json().error.code).toBe('bad_request');
    }
  });

  it('422 unknown_group for a group outside the catalogue', async () => {
    const r = await grant({ principal: 'dave@contoso.com', groups: ['hr', 'payroll'] });
    expect(r.status).toBe(422);
    expect(r.json().error.code).toBe('unknown_group');
    expect(await entries(parts)).toHaveLength(0);
  });

  it('409 for an active permission; an expired one is granted again', async () => {
    expect((await grant({ principal: 'dave@contoso.com', expiresAt: iso(parts.clock.now() + 60_000) })).status).toBe(201);
    expect((await grant({ principal: 'dave@contoso.com' })).status).toBe(409);
    parts.clock.advance(60_000);
    const again = await grant({ principal: 'dave@contoso.com' });
    expect(again.status).toBe(201);
    expect(again.json().expiresAt).toBeUndefined();
    expect((await entries(parts)).map((e) => e.action)).toEqual(['reveal-permission.granted', 'reveal-permission.granted']);
  });
});

describe('GET and DELETE /privacy/permissions', () => {
  it('an expired permission is neither listed nor revocable', async () => {
    await grant({ principal: 'dave@contoso.com', expiresAt: iso(parts.clock.now() + 60_000) });
    const listed = async () => (await call(app.url, '/privacy/permissions', { as: ADMIN })).json().permissions.map((p: { principal: string }) => p.principal);
    expect(await listed()).toEqual(['alice@contoso.com', 'dave@contoso.com']);
    parts.clock.advance(60_000);
    expect(await listed()).toEqual(['alice@contoso.com']);
    const r = await call(app.url, '/privacy/permissions/dave@contoso.com', { as: ADMIN, method: 'DELETE' });
    expect(r.status).toBe(404);
    expect(r.json().error.code).toBe('not_found');
  });

  it('revokes (the principal normalised) after writing the entry', async () => {
    await grant({ principal: 'dave@contoso.com' });
    const r = await call(app.url, '/privacy/permissions/DAVE@contoso.com', { as: ADMIN, method: 'DELETE' });
    expect(r.status).toBe(204);
    expect(parts.state.current().permissions.map((p) => p.principal)).toEqual(['alice@contoso.com']);
    expect((await entries(parts)).map((e) => [e.action, e.target])).toEqual([
      ['reveal-permission.granted', 'dave@contoso.com'],
      ['reveal-permission.revoked', 'dave@contoso.com'],
    ]);
  });

  it('503 without a sink: the permission stays', async () => {
    parts.sink = null;
    const r = await call(app.url, '/privacy/permissions/alice@contoso.com', { as: 'carol@contoso.com', method: 'DELETE' });
    expect(r.status).toBe(503);
    expect(parts.state.current().permissions.map((p) => p.principal)).toEqual(['alice@contoso.com']);
  });
});
