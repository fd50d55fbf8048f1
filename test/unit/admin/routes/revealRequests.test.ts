import { afterEach, describe, expect, it } from 'vitest';
import { revealRequestRoutes } from '../../../../src/admin/routes/revealRequests.js';
import { call, changeTools, mountRoute, type Mounted } from '../../../helpers/adminRoute.js';
import { entries, makeParts, type Parts } from '../../../helpers/units.js';

const REQUESTER = 'alice@contoso.com'; // on the permission list (config)
const DPO = 'dpo@contoso.com'; // a direct approver
const HEIDI = 'heidi@contoso.com'; // an approver through group:legal
const REASON = 'Investigating incident 4711';
let parts: Parts;
let app: Mounted;

async function start(approval: Record<string, unknown> | null = { approvers: [DPO, 'group:legal'], maxDurationMin: 60 }) {
  parts = await makeParts('http://127.0.0.1:9', { reveal: { approval } });
  app = await mountRoute(revealRequestRoutes(parts.adminDeps(), changeTools(parts.governance)), parts);
}
afterEach(async () => {
  await app.close();
  await parts.close();
});

const create = (body: unknown, as = REQUESTER) => call(app.url, '/reveal-requests', { as, body });
const decide = (id: string, how: 'approve' | 'deny', as: string, body?: unknown) =>
  call(app.url, `/reveal-requests/${id}/${how}`, { as, method: 'POST', body });

describe('POST /reveal-requests', () => {
  it('creates a pending request at the clock time, audited first, and notifies', async () => {
    await start();
    const r = await create({ reason: `  ${REASON}  `, durationMin: 30, scope: { groups: ['hr'], actors: ['Bob@Contoso.com'] } });
    expect(r.status).toBe(201);
    const req = r.json();
    expect(req).toMatchObject({
      status: 'pending',
      requester: REQUESTER,
      reason: REASON,
      durationMin: 30,
      createdAt: new Date(parts.clock.now()).toISOString(),
      scope: { groups: ['hr'], actors: ['bob@contoso.com'] },
    });
    const log = await entries(parts);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ action: 'reveal-request.created', target: req.id, reason: REASON, scope: { groups: ['hr'], actors: ['bob@contoso.com'] } });
    expect(parts.notified.map(([e, x]) => [e, x.id])).toEqual([['created', req.id]]);
  });

  it('without a scope the entry has no scope key', async () => {
    await start();
    await create({ reason: REASON, durationMin: 5 });
    const [e] = await entries(parts);
    expect('scope' in e).toBe(false);
  });

  it('403 forbidden for an admin without permission; 400 for bad duration, reason or scope', async () => {
    await start();
    const notPermitted = await create({ reason: REASON, durationMin: 5 }, 'carol@contoso.com');
    expect(notPermitted.status).toBe(403);
    expect(notPermitted.json().error.code).toBe('forbidden');
    for (const body of [
      { reason: REASON, durationMin: 61 },
      { reason: REASON, durationMin: 1.5 },
      { reason: REASON, durationMin: 0 },
      { reason: 'short', durationMin: 5 },
      { reason: REASON, durationMin: 5, scope: {} },
      { reason: REASON, durationMin: 5, scope: { groups: ['payroll'] } },
      { reason: REASON, durationMin: 5, extra: true },
    ]) {
      const r = await create(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json().error.code).toBe('bad_request');
    }
    expect(await entries(parts)).toHaveLength(0);
    expect(parts.state.current().revealRequests ?? []).toHaveLength(0);
  });

  it('404 not_found when four-eyes approval is not configured', async () => {
    await start(null);
    const r = await create({ reason: REASON, durationMin: 5 });
    expect(r.status).toBe(404);
    expect(r.json().error.message).toContain('reveal.approval');
  });
});

describe('approve and deny', () => {
  it('403 self_approval for the requester, forbidden for a non-approver; nothing recorded', async () => {
    await start();
    const { id } = (await create({ reason: REASON, durationMin: 5 })).json();
    const self = await decide(id, 'approve', 'ALICE@contoso.com');
    expect(self.status).toBe(403);
    expect(self.json().error.code).toBe('self_approval');
    const stranger = await decide(id, 'deny', 'bob@contoso.com');
    expect(stranger.status).toBe(403);
    expect(stranger.json().error.code).toBe('forbidden');
    expect((await entries(parts)).map((e) => e.action)).toEqual(['reveal-request.created']);
  });

  it('a direct approver approves (with comment); a second decision is 409', async () => {
    await start();
    const { id } = (await create({ reason: REASON, durationMin: 5 })).json();
    parts.clock.advance(5000);
    const r = await decide(id, 'approve', DPO, { comment: 'ok for 5 min' });
    expect(r.status).toBe(200);
    const at = new Date(parts.clock.now()).toISOString();
    expect(r.json()).toMatchObject({ id, status: 'approved', approvedBy: DPO, comment: 'ok for 5 min', decidedAt: at, validFrom: at });
    expect(Date.parse(r.json().validUntil) - parts.clock.now()).toBe(5 * 60_000);
    const again = await decide(id, 'deny', HEIDI);
    expect(again.status).toBe(409);
    expect(again.json().error.code).toBe('conflict');
    expect((await entries(parts)).map((e) => [e.action, e.target])).toEqual([
      ['reveal-request.created', id],
      ['reveal-request.approved', id],
    ]);
    expect(parts.notified.map(([e]) => e)).toEqual(['created', 'approved']);
  });

  it('a group approver denies; unknown ids are 404; a control character in the comment is 400', async () => {
    await start();
    const { id } = (await create({ reason: REASON, durationMin: 5 })).json();
    expect((await decide('no-such-id', 'deny', HEIDI)).status).toBe(404);
    expect((await decide(id, 'deny', HEIDI, { comment: 'no\u202e' })).status).toBe(400);
    const r = await decide(id, 'deny', HEIDI);
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ status: 'denied', deniedBy: HEIDI });
    expect((await entries(parts)).at(-1)).toMatchObject({ action: 'reveal-request.denied', principal: HEIDI });
  });

  it('503 without a sink: the request stays pending', async () => {
    await start();
    const { id } = (await create({ reason: REASON, durationMin: 5 })).json();
    parts.sink = null;
    expect((await decide(id, 'approve', DPO)).status).toBe(503);
    expect(parts.state.current().revealRequests?.[0].status).toBe('pending');
    parts.sink = parts.fileSink;
  });
});

describe('GET /reveal-requests', () => {
  it('newest first, filtered by status; unknown or repeated parameters are 400', async () => {
    await start();
    const a = (await create({ reason: `${REASON} a`, durationMin: 5 })).json();
    const b = (await create({ reason: `${REASON} b`, durationMin: 5 })).json();
    await decide(a.id, 'approve', DPO);
    const list = async (q: string) => (await call(app.url, `/reveal-requests${q}`, { as: DPO })).json().requests.map((x: { id: string }) => x.id);
    expect(await list('')).toEqual([b.id, a.id]);
    expect(await list('?status=pending')).toEqual([b.id]);
    expect(await list('?status=approved')).toEqual([a.id]);
    expect(await list('?status=denied')).toEqual([]);
    for (const q of ['?status=open', '?status=pending&status=approved', '?state=pending']) {
      const r = await call(app.url, `/reveal-requests${q}`, { as: DPO });
      expect(r.status, q).toBe(400);
    }
  });
});
