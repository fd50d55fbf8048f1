import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { groupRoutes } from '../../../../src/admin/routes/groups.js';
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
  app = await mountRoute(withPending(groupRoutes), parts);
});
afterEach(async () => {
  await app.close();
  await parts.close();
});

const openGroups = () =>
  parts.state
    .current()
    .groups.filter((g) => g.privateUntil === null)
    .map((g) => g.id);

describe('GET /privacy/groups', () => {
  it('lists every interval with ISO times and null for open ones', async () => {
    const r = await call(app.url, '/privacy/groups', { as: ADMIN });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const groups = r.json().groups;
    expect(groups).toContainEqual({ id: 'hr', name: 'Human Resources', privateSince: '2026-03-01T00:00:00.000Z', privateUntil: null, mode: 'hide' });
    expect(groups).toContainEqual({
      id: 'legal',
      name: 'Legal',
      privateSince: '2026-02-01T00:00:00.000Z',
      privateUntil: '2026-05-01T00:00:00.000Z',
      mode: 'hide',
    });
  });
});

describe('POST /privacy/groups', () => {
  it('adds a catalogue group at the clock time, the entry written before the state changed', async () => {
    const seenAtChange: number[] = [];
    parts.state.onChange(() => void parts.fileSink.head().then((h) => seenAtChange.push(h.seq)));
    const r = await call(app.url, '/privacy/groups', { as: ADMIN, body: { id: 'legal' } });
    expect(r.status).toBe(201);
    expect(r.json()).toEqual({ id: 'legal', name: 'Legal', privateSince: new Date(parts.clock.now()).toISOString(), privateUntil: null, mode: 'hide' });
    expect(openGroups()).toContain('legal');
    const log = await entries(parts);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ action: 'privacy-group.added', target: 'legal', principal: ADMIN, via: 'admin-api' });
    expect(log[0]).not.toHaveProperty('mode');
    expect(log[0].request).toMatchObject({ method: 'POST', path: '/privacy/groups' });
    // the state listener ran after the entry was in the log (head already at seq 1)
    expect(seenAtChange).toEqual([1]);
  });

  it('takes the name from the body over the catalogue', async () => {
    const r = await call(app.url, '/privacy/groups', { as: ADMIN, body: { id: 'legal', name: 'Legal dept' } });
    expect(r.json().name).toBe('Legal dept');
  });

  it('409 conflict for a group already private, nothing written', async () => {
    const r = await call(app.url, '/privacy/groups', { as: ADMIN, body: { id: 'hr' } });
    expect(r.status).toBe(409);
    expect(r.json().error.code).toBe('conflict');
    expect(await entries(parts)).toHaveLength(0);
  });

  it('422 unknown_group for an id outside the catalogue, with suggestions and no entry', async () => {
    const r = await call(app.url, '/privacy/groups', { as: ADMIN, body: { id: 'hrr' } });
    expect(r.status).toBe(422);
    const e = r.json().error;
    expect(e.code).toBe('unknown_group');
    expect(e.message).toContain('"hrr"');
    expect(Array.isArray(e.details.suggestions)).toBe(true);
    expect(e.details.suggestions.map((s: { id: string }) => s.id)).toContain('hr');
    expect(await entries(parts)).toHaveLength(0);
    expect(openGroups()).not.toContain('hrr');
  });

  it('400 bad_request for an unknown key or a malformed body; the request id is in the error', async () => {
    const r = await call(app.url, '/privacy/groups', { as: ADMIN, body: { id: 'legal', colour: 'red' }, headers: { 'x-request-id': 'req-1' } });
    expect(r.status).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'bad_request', requestId: 'req-1' });
    expect(r.json().error.message).toContain('unknown key "colour"');
    const bad = await call(app.url, '/privacy/groups', { as: ADMIN, body: '{"id":' });
    expect(bad.status).toBe(400);
    expect(bad.json().error.message).toBe('The body must be a small JSON object.');
  });

  it('503 governance_unavailable without a sink: the group stays as it was', async () => {
    parts.sink = null;
    const r = await call(app.url, '/privacy/groups', { as: ADMIN, body: { id: 'legal' } });
    expect(r.status).toBe(503);
    expect(r.json().error.code).toBe('governance_unavailable');
    expect(openGroups()).not.toContain('legal');
    expect((await parts.metrics.governanceFailures.get()).values[0]?.value).toBe(1);
  });
});

describe('DELETE /privacy/groups/:id', () => {
  it('closes the interval at the clock time after writing the entry', async () => {
    parts.clock.advance(60_000);
    const r = await call(app.url, '/privacy/groups/hr', { as: ADMIN, method: 'DELETE' });
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    const hr = parts.state.current().groups.find((g) => g.id === 'hr')!;
    expect(hr.privateUntil).toBe(parts.clock.now());
    expect((await entries(parts)).map((e) => [e.action, e.target])).toEqual([['privacy-group.removed', 'hr']]);
  });

  it('404 not_found for a group that is not private (closed or unknown), no entry', async () => {
    for (const id of ['legal', 'nope']) {
      const r = await call(app.url, `/privacy/groups/${id}`, { as: ADMIN, method: 'DELETE' });
      expect(r.status).toBe(404);
      expect(r.json().error.code).toBe('not_found');
    }
    expect(await entries(parts)).toHaveLength(0);
  });
});

describe('POST /privacy/groups with a mode (SPEC §14)', () => {
  it('pseudonymise needs the key: 400 without pseudonyms.keyFile, nothing written', async () => {
    const r = await call(app.url, '/privacy/groups', { as: ADMIN, body: { id: 'legal', mode: 'pseudonymise' } });
    expect(r.status).toBe(400);
    expect(await entries(parts)).toHaveLength(0);
  });

  it('with a key: the group pseudonymises, the list shows it and the entry records the mode', async () => {
    await app.close();
    await parts.close();
    const t = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await t.mkdtemp(path.join(os.tmpdir(), 'apg-key-'));
    const keyFile = path.join(dir, 'k');
    await t.writeFile(keyFile, Buffer.alloc(32, 3).toString('base64'));
    parts = await makeParts('http://127.0.0.1:9', { pseudonyms: { keyFile } });
    app = await mountRoute(withPending(groupRoutes), parts);
    const r = await call(app.url, '/privacy/groups', { as: ADMIN, body: { id: 'legal', mode: 'pseudonymise' } });
    expect(r.status).toBe(201);
    expect(r.json().mode).toBe('pseudonymise');
    const list = (await call(app.url, '/privacy/groups', { as: ADMIN })).json().groups;
    expect(list.find((g: { id: string; privateUntil: string | null }) => g.id === 'legal' && g.privateUntil === null).mode).toBe('pseudonymise');
    const log = await entries(parts);
    expect(log[0]).toMatchObject({ action: 'privacy-group.added', target: 'legal', mode: 'pseudonymise' });
  });
});
