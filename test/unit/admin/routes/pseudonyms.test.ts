import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudonymRoutes } from '../../../../src/admin/routes/pseudonyms.js';
import { createPseudonymiser } from '../../../../src/privacy/pseudonym.js';
import { call, mountRoute, type Mounted } from '../../../helpers/adminRoute.js';
import { entries, makeParts, type Parts } from '../../../helpers/units.js';

const ADMIN = 'alice@contoso.com'; // on the permission list
const KEY = Buffer.alloc(32, 4);
const OLD = Buffer.alloc(32, 8);
const REASON = 'case 4711: works council approved';
let parts: Parts;
let app: Mounted;

beforeEach(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'apg-pz-'));
  await writeFile(path.join(dir, 'k'), KEY);
  await writeFile(path.join(dir, 'old'), OLD.toString('base64'));
  parts = await makeParts('http://127.0.0.1:9', { pseudonyms: { keyFile: path.join(dir, 'k'), previousKeyFiles: [path.join(dir, 'old')] } });
  app = await mountRoute(pseudonymRoutes(parts.adminDeps()), parts);
});
afterEach(async () => {
  await app.close();
  await parts.close();
});

const current = createPseudonymiser([KEY], 'pseudonym.invalid');
const previous = createPseudonymiser([OLD], 'pseudonym.invalid');

describe('POST /pseudonyms/resolve (SPEC §14)', () => {
  it('a permitted admin with a reason: the entry first, then the principal', async () => {
    const p = current.pseudonym('bob@contoso.com');
    const r = await call(app.url, '/pseudonyms/resolve', { as: ADMIN, body: { pseudonym: p, reason: REASON } });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ pseudonym: p, principal: 'bob@contoso.com' });
    const log = await entries(parts);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ action: 'pseudonym.resolved', target: p, reason: REASON, principal: ADMIN });
    expect(r.headers.get('x-governance-entry')).toBe(log[0].id);
  });

  it('a previous key still resolves (key rotation)', async () => {
    const r = await call(app.url, '/pseudonyms/resolve', { as: ADMIN, body: { pseudonym: previous.pseudonym('carol@contoso.com'), reason: REASON } });
    expect(r.json().principal).toBe('carol@contoso.com');
  });

  it('404 for a pseudonym no key produced, recorded the same way', async () => {
    const stranger = createPseudonymiser([Buffer.alloc(32, 1)], 'pseudonym.invalid').pseudonym('bob@contoso.com');
    const r = await call(app.url, '/pseudonyms/resolve', { as: ADMIN, body: { pseudonym: stranger, reason: REASON } });
    expect(r.status).toBe(404);
    expect(r.json().error.code).toBe('not_found');
    expect((await entries(parts))[0]).toMatchObject({ action: 'pseudonym.resolved', target: stranger });
  });

  it('400 bad_request for a string not shaped like a pseudonym; 400 reason_required / bad_reason always', async () => {
    const bad = await call(app.url, '/pseudonyms/resolve', { as: ADMIN, body: { pseudonym: 'bob@contoso.com', reason: REASON } });
    expect(bad.status).toBe(400);
    expect(bad.json().error.code).toBe('bad_request');
    const p = current.pseudonym('bob@contoso.com');
    const none = await call(app.url, '/pseudonyms/resolve', { as: ADMIN, body: { pseudonym: p } });
    expect(none.status).toBe(400);
    expect(none.json().error.code).toBe('reason_required');
    const ctl = await call(app.url, '/pseudonyms/resolve', { as: ADMIN, body: { pseudonym: p, reason: 'line\nbreak in the reason' } });
    expect(ctl.json().error.code).toBe('bad_reason');
    expect(await entries(parts)).toHaveLength(0);
  });

  it('403 reveal_forbidden and a denied entry for an admin without the permission; no principal in the answer', async () => {
    const p = current.pseudonym('bob@contoso.com');
    const r = await call(app.url, '/pseudonyms/resolve', { as: 'dave@contoso.com', body: { pseudonym: p, reason: REASON } });
    expect(r.status).toBe(403);
    expect(r.json().error.code).toBe('reveal_forbidden');
    expect(r.text).not.toContain('bob@contoso.com');
    expect((await entries(parts))[0]).toMatchObject({ action: 'private-activities.denied', principal: 'dave@contoso.com' });
  });
});

describe('POST /pseudonyms/lookup (SPEC §14)', () => {
  it('principal → pseudonym, recorded with the principal as target', async () => {
    const r = await call(app.url, '/pseudonyms/lookup', { as: ADMIN, body: { principal: 'Bob@Contoso.com', reason: REASON } });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ principal: 'bob@contoso.com', pseudonym: current.pseudonym('bob@contoso.com') });
    expect((await entries(parts))[0]).toMatchObject({ action: 'pseudonym.looked-up', target: 'bob@contoso.com', reason: REASON });
  });

  it('403 for others, with the denied entry', async () => {
    const r = await call(app.url, '/pseudonyms/lookup', { as: 'dave@contoso.com', body: { principal: 'bob@contoso.com', reason: REASON } });
    expect(r.status).toBe(403);
    expect((await entries(parts))[0].action).toBe('private-activities.denied');
  });
});

describe('with four-eyes approval on (SPEC §11, §14)', () => {
  it('no approved request: 403 approval_required and a denied entry; an approved one of the caller: resolved, the entry names it', async () => {
    await app.close();
    await parts.close();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'apg-pz-'));
    await writeFile(path.join(dir, 'k'), KEY);
    parts = await makeParts('http://127.0.0.1:9', {
      pseudonyms: { keyFile: path.join(dir, 'k') },
      reveal: { approval: { approvers: ['dpo@contoso.com'] } },
    });
    app = await mountRoute(pseudonymRoutes(parts.adminDeps()), parts);
    const p = current.pseudonym('bob@contoso.com');
    const refused = await call(app.url, '/pseudonyms/resolve', { as: ADMIN, body: { pseudonym: p, reason: REASON } });
    expect(refused.status).toBe(403);
    expect(refused.json().error.code).toBe('approval_required');
    expect((await entries(parts))[0].action).toBe('private-activities.denied');
    const now = parts.clock.now();
    await parts.state.createRevealRequest({
      id: 'rr-1',
      status: 'approved',
      requester: ADMIN,
      reason: REASON,
      durationMin: 60,
      createdAt: new Date(now).toISOString(),
      approvedBy: 'dpo@contoso.com',
      validFrom: new Date(now).toISOString(),
      validUntil: new Date(now + 3_600_000).toISOString(),
    });
    const ok = await call(app.url, '/pseudonyms/resolve', { as: ADMIN, body: { pseudonym: p, reason: REASON, revealRequest: 'rr-1' } });
    expect(ok.status).toBe(200);
    expect((await entries(parts))[1]).toMatchObject({ action: 'pseudonym.resolved', target: p, revealRequest: 'rr-1' });
  });
});
