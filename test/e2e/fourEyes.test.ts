/**
 * SPEC §11 four-eyes approval against real gateways over real sockets: one
 * gateway with file stores and an injected clock (the whole case from request
 * to closed window, bad input, webhook retries), and two replicas on one
 * PostgreSQL (an approval on one is honoured by the other within 2 s; racing
 * decisions resolve to exactly one outcome).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { GovernanceEntry } from '../../src/governance/types.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
import { freshDatabase, type FreshDatabase } from '../helpers/postgres.js';
import { waitFor } from '../helpers/rsyslog.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const T = (s: string) => Date.parse(s);
const rec = (id: string, user: string, ts: string, tags: string[] = []) => ({
  _id: id,
  timestamp: T(ts),
  user: { userName: user, userTags: tags },
  description: `activity ${id}`,
});
const DATASET = [
  rec('p1', 'paul@contoso.com', '2026-07-01T00:00:00Z'),
  rec('h1', 'bob@contoso.com', '2026-07-01T00:00:00Z'), // hr
  rec('l1', 'heidi@contoso.com', '2026-03-01T00:00:00Z'), // legal
  rec('x1', 'mallory@fabrikam.com', '2026-07-01T00:00:00Z'), // external users
  rec('hl', 'bob@contoso.com', '2026-04-01T00:00:00Z', ['legal']), // hr and legal
];
const LIST = '/api/v1/activities/';
const REVEAL = { 'x-show-private-activities': 'confirm' };
const ids = (r: { json: () => any }) => (r.json().data as Array<{ _id: string }>).map((a) => a._id);
const DIRECTORY = { groups: { hr: ['bob@contoso.com', 'carol@contoso.com'], legal: ['heidi@contoso.com'], 'privacy-officers': ['Olga@Contoso.com'] } };
const APPROVAL = (webhookUrl: string | null) => ({ approvers: ['dpo@contoso.com', 'group:privacy-officers'], maxDurationMin: 60, webhookUrl });

const db = await freshDatabase();
if (!db) console.warn('\n##### test/e2e/fourEyes.test.ts: no PostgreSQL, the two-replica tests are SKIPPED #####\n');

interface Hook {
  url: string;
  events: Array<{ event: string; request: any; attempt: number }>;
  attempts: Map<string, number>;
  close(): Promise<void>;
}

/** A webhook receiver: fails the first two attempts of each `created` event, hangs on `denied` (never blocks the gateway). */
async function startHook(): Promise<Hook> {
  const events: Hook['events'] = [];
  const attempts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const msg = JSON.parse(body);
      const key = `${msg.event}:${msg.request.id}`;
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      if (msg.event === 'denied') return; // hangs
      if (msg.event === 'created' && n < 3) {
        res.writeHead(500).end();
        return;
      }
      events.push({ ...msg, attempt: n });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    events,
    attempts,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('four-eyes approval (one gateway, file stores, injected clock)', () => {
  let api: SampleApi;
  let idp: TestIdp;
  let key: TestKey;
  let gw: Gateway;
  let hook: Hook;
  let cleanup: () => Promise<void>;
  let clock = Date.now();

  const tok = (upn: string, roles = ['SecurityAdministrator']) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 3600, jti: `j-${Math.random()}`, upn, roles });
  };
  const call = async (as: string, method: string, p: string, body?: unknown) =>
    get(`${gw.url}/_gateway/api/${p}`, {
      method,
      headers: { authorization: `Bearer ${await tok(as)}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const reveal = async (as: string, extra: Record<string, string> = {}) =>
    get(`${gw.url}${LIST}`, { headers: { authorization: `Bearer ${await tok(as)}`, ...REVEAL, ...extra } });
  const entries = async (): Promise<GovernanceEntry[]> => {
    const out: GovernanceEntry[] = [];
    for await (const e of gw.governance.stream({})) out.push(e);
    return out;
  };

  beforeAll(async () => {
    api = createSampleApi({ dataset: DATASET });
    const upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    hook = await startHook();
    const t = await tempDir();
    cleanup = t.cleanup;
    const cfg = demoLikeConfig(upstream, t.dir, {
      identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
      directory: DIRECTORY,
      reveal: { approval: APPROVAL(hook.url) },
    });
    (cfg.privacy as { permissions: string[] }).permissions = ['alice@contoso.com', 'carl@contoso.com'];
    gw = await startGateway(validConfig(cfg), {
      port: 0,
      host: '127.0.0.1',
      instance: 'four-eyes',
      logger: winston.createLogger({ silent: true }),
      now: () => clock,
    });
  });
  afterAll(async () => {
    await gw?.close(500);
    await api?.close();
    await idp?.close();
    await hook?.close();
    await cleanup?.();
  });

  it('one complete case: created → approved → viewed → window closed → approval_required', async () => {
    const start = (await entries()).length;
    clock = T('2026-12-01T09:00:00Z');
    // no request named: refused, on the record
    const none = await reveal('alice@contoso.com');
    expect(none.status).toBe(403);
    expect(none.json().error.code).toBe('approval_required');

    const created = await call('alice@contoso.com', 'POST', 'reveal-requests', {
      reason: 'Case 4711 – complaint review',
      durationMin: 30,
      scope: { groups: ['hr'] },
    });
    expect(created.status).toBe(201);
    const req = created.json();
    expect(req).toMatchObject({
      status: 'pending',
      requester: 'alice@contoso.com',
      reason: 'Case 4711 – complaint review',
      scope: { groups: ['hr'], actors: [] },
      durationMin: 30,
      createdAt: '2026-12-01T09:00:00.000Z',
    });
    expect(req.id).toMatch(/^[0-9a-f-]{36}$/);
    const pending = await reveal('alice@contoso.com', { 'x-reveal-request': req.id });
    expect(pending.status).toBe(403);
    expect(pending.json().error.message).toMatch(/pending/);

    // four eyes: not the requester (whatever the case), not a non-approver
    expect((await call('alice@contoso.com', 'POST', `reveal-requests/${req.id}/approve`, {})).json().error.code).toBe('self_approval');
    expect((await call('ALICE@contoso.com', 'POST', `reveal-requests/${req.id}/approve`, {})).json().error.code).toBe('self_approval');
    const notApprover = await call('dave@contoso.com', 'POST', `reveal-requests/${req.id}/approve`, {});
    expect(notApprover.status).toBe(403);
    expect(notApprover.json().error.code).toBe('forbidden');

    clock = T('2026-12-01T09:05:00Z');
    const approved = await call('olga@contoso.com', 'POST', `reveal-requests/${req.id}/approve`, { comment: 'ok for case 4711' });
    expect(approved.status).toBe(200);
    expect(approved.json()).toMatchObject({
      status: 'approved',
      approvedBy: 'olga@contoso.com',
      validFrom: '2026-12-01T09:05:00.000Z',
      validUntil: '2026-12-01T09:35:00.000Z',
    });
    expect((await call('dpo@contoso.com', 'POST', `reveal-requests/${req.id}/approve`, {})).status).toBe(409);
    expect((await call('dpo@contoso.com', 'POST', `reveal-requests/${req.id}/deny`, {})).status).toBe(409);

    // inside the window: the request's reason and scope apply, the headers' are ignored
    clock = T('2026-12-01T09:20:00Z');
    const viewed = await reveal('alice@contoso.com', { 'x-reveal-request': req.id, 'x-reveal-scope': 'group:legal', 'x-reveal-reason': 'something else' });
    expect(viewed.status).toBe(200);
    expect(ids(viewed)).toEqual(['p1', 'h1', 'hl']);
    expect(viewed.headers.get('vary')?.toLowerCase()).toContain('x-reveal-request');
    // someone else's approved request does not open anything
    const other = await reveal('carl@contoso.com', { 'x-reveal-request': req.id });
    expect(other.status).toBe(403);
    expect(other.json().error.message).toMatch(/someone else/);

    // the window closes at validUntil exactly
    clock = T('2026-12-01T09:35:00Z') - 1;
    expect((await reveal('alice@contoso.com', { 'x-reveal-request': req.id })).status).toBe(200);
    clock = T('2026-12-01T09:35:00Z');
    const closed = await reveal('alice@contoso.com', { 'x-reveal-request': req.id });
    expect(closed.status).toBe(403);
    expect(closed.json().error).toMatchObject({ code: 'approval_required', message: expect.stringMatching(/closed/) });

    const caseEntries = (await entries()).slice(start);
    const shape = caseEntries.map((e) => `${e.action}${e.denial ? `:${e.denial.code}` : ''}`);
    expect(shape).toEqual([
      'private-activities.denied:approval_required',
      'reveal-request.created',
      'private-activities.denied:approval_required',
      'reveal-request.approved',
      'private-activities.viewed',
      'private-activities.denied:approval_required',
      'private-activities.viewed',
      'private-activities.denied:approval_required',
    ]);
    expect(caseEntries[1]).toMatchObject({
      principal: 'alice@contoso.com',
      via: 'admin-api',
      target: req.id,
      reason: 'Case 4711 – complaint review',
      scope: { groups: ['hr'], actors: [] },
    });
    expect(caseEntries[3]).toMatchObject({ principal: 'olga@contoso.com', target: req.id });
    expect(caseEntries[4]).toMatchObject({
      principal: 'alice@contoso.com',
      revealRequest: req.id,
      reason: 'Case 4711 – complaint review',
      scope: { groups: ['hr'], actors: [] },
      privateActivities: { count: 2, ids: ['h1', 'hl'] },
    });
    expect(caseEntries[5]).toMatchObject({ principal: 'carl@contoso.com', revealRequest: req.id });
    expect(caseEntries[7]).toMatchObject({ revealRequest: req.id, denial: { message: expect.stringMatching(/closed/) } });
    console.log('[four-eyes case]\n' + caseEntries.map((e) => JSON.stringify(e)).join('\n'));
    const v = await call('dpo@contoso.com', 'GET', 'governance/verify');
    expect(v.json().ok).toBe(true);
  });

  it('bad input: durationMin, reason, scope, unknown ids and path tricks, unknown parameters; only permitted admins ask', async () => {
    const before = (await entries()).length;
    for (const body of [
      { reason: 'a good reason here', durationMin: 0 },
      { reason: 'a good reason here', durationMin: -5 },
      { reason: 'a good reason here', durationMin: 61 },
      { reason: 'a good reason here', durationMin: 1.5 },
      { reason: 'a good reason here', durationMin: '10' },
      { reason: 'short', durationMin: 10 },
      { reason: 'two\nlines of reason', durationMin: 10 },
      { durationMin: 10 },
      { reason: 'a good reason here', durationMin: 10, scope: { groups: ['no-such-group'] } },
      { reason: 'a good reason here', durationMin: 10, scope: {} },
      { reason: 'a good reason here', durationMin: 10, extra: true },
    ]) {
      const r = await call('alice@contoso.com', 'POST', 'reveal-requests', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json().error.code).toBe('bad_request');
    }
    expect((await call('dave@contoso.com', 'POST', 'reveal-requests', { reason: 'a good reason here', durationMin: 10 })).status).toBe(403);
    expect((await call('olga@contoso.com', 'POST', 'reveal-requests/00000000-0000-4000-8000-000000000000/approve', {})).status).toBe(404);
    expect((await call('olga@contoso.com', 'POST', 'reveal-requests/nope/deny', {})).status).toBe(404);
    const trick = await call('olga@contoso.com', 'POST', 'reveal-requests/..%2F..%2Fprivacy%2Fpermissions/approve', {});
    expect([400, 404]).toContain(trick.status);
    expect((await call('olga@contoso.com', 'GET', 'reveal-requests?state=pending')).status).toBe(400);
    expect((await entries()).length).toBe(before);
  });

  it('deny, replay after deny, listing newest first with a status filter', async () => {
    const a = (await call('carl@contoso.com', 'POST', 'reveal-requests', { reason: 'first request of carl', durationMin: 5 })).json();
    const b = (
      await call('carl@contoso.com', 'POST', 'reveal-requests', { reason: 'second request of carl', durationMin: 5, scope: { actors: ['Bob@Contoso.com'] } })
    ).json();
    expect(b.scope).toEqual({ groups: [], actors: ['bob@contoso.com'] });
    const t0 = performance.now();
    const denied = await call('dpo@contoso.com', 'POST', `reveal-requests/${a.id}/deny`, { comment: 'no case number' });
    // the webhook receiver hangs on "denied": the answer does not wait for it
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(denied.json()).toMatchObject({ status: 'denied', deniedBy: 'dpo@contoso.com', comment: 'no case number' });
    expect((await call('dpo@contoso.com', 'POST', `reveal-requests/${a.id}/approve`, {})).status).toBe(409);
    expect((await reveal('carl@contoso.com', { 'x-reveal-request': a.id })).json().error.message).toMatch(/denied/);
    const list = (await call('dave@contoso.com', 'GET', 'reveal-requests')).json().requests.map((r: any) => r.id);
    expect(list.indexOf(b.id)).toBeLessThan(list.indexOf(a.id));
    const pendingOnly = (await call('dave@contoso.com', 'GET', 'reveal-requests?status=pending')).json().requests;
    expect(pendingOnly.map((r: any) => r.id)).toContain(b.id);
    expect(pendingOnly.every((r: any) => r.status === 'pending')).toBe(true);
    expect((await entries()).filter((e) => e.action === 'reveal-request.denied').at(-1)).toMatchObject({ principal: 'dpo@contoso.com', target: a.id });
  });

  it('revoke ends an approved window early (requester or approver, nobody else); a pending request expires after pendingTtlMin', async () => {
    clock = T('2026-12-02T09:00:00Z');
    const req = (await call('alice@contoso.com', 'POST', 'reveal-requests', { reason: 'Case 4712 – review', durationMin: 60 })).json();
    expect((await call('dpo@contoso.com', 'POST', `reveal-requests/${req.id}/revoke`, {})).status).toBe(409); // not approved yet
    expect((await call('dpo@contoso.com', 'POST', `reveal-requests/${req.id}/approve`, {})).status).toBe(200);
    expect((await reveal('alice@contoso.com', { 'x-reveal-request': req.id })).status).toBe(200);
    const stranger = await call('dave@contoso.com', 'POST', `reveal-requests/${req.id}/revoke`, {});
    expect(stranger.status).toBe(403);
    const revoked = await call('alice@contoso.com', 'POST', `reveal-requests/${req.id}/revoke`, { comment: 'case closed' });
    expect(revoked.status).toBe(200);
    expect(revoked.json()).toMatchObject({ status: 'revoked', revokedBy: 'alice@contoso.com', comment: 'case closed' });
    const after = await reveal('alice@contoso.com', { 'x-reveal-request': req.id });
    expect(after.status).toBe(403);
    expect(after.json().error.code).toBe('approval_required');
    expect((await entries()).filter((e) => e.action === 'reveal-request.revoked').at(-1)).toMatchObject({ principal: 'alice@contoso.com', target: req.id });

    const stale = (await call('alice@contoso.com', 'POST', 'reveal-requests', { reason: 'Case 4713 – forgotten', durationMin: 5 })).json();
    clock += 1440 * 60_000; // the default pendingTtlMin
    const late = await call('dpo@contoso.com', 'POST', `reveal-requests/${stale.id}/approve`, {});
    expect(late.status).toBe(409);
    const listed = (await call('dave@contoso.com', 'GET', 'reveal-requests?status=expired')).json().requests;
    expect(listed.map((r: any) => r.id)).toContain(stale.id);
    const expired = (await entries()).filter((e) => e.action === 'reveal-request.expired' && e.target === stale.id);
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ principal: 'apg' });
    expect(expired[0]).not.toHaveProperty('via');
  });

  it('nobody looks: the gateway itself records what expired (no request; expiredAt = the instant the time to live ran out)', async () => {
    clock = T('2026-12-02T12:00:00Z');
    const asked = (await call('alice@contoso.com', 'POST', 'reveal-requests', { reason: 'Case 4714 – never looked at', durationMin: 5 })).json();
    const change = (await call('dave@contoso.com', 'DELETE', 'privacy/groups/builtin:external-users')).json().change;
    const createdAt = Date.parse(asked.createdAt);
    const since = (await entries()).length;
    clock = createdAt + 1440 * 60_000 - 1;
    await gw.sweepExpired();
    expect((await entries()).length).toBe(since); // one millisecond early: nothing

    clock = createdAt + 1440 * 60_000 + 30_000;
    await gw.sweepExpired();
    await gw.sweepExpired(); // twice: still one entry each
    const fresh = (await entries()).slice(since);
    expect(fresh.map((e) => [e.action, e.target])).toEqual([
      ['reveal-request.expired', asked.id],
      ['privacy-change.expired', change.id],
    ]);
    for (const e of fresh) {
      expect(e).toMatchObject({ principal: 'apg' });
      expect(e).not.toHaveProperty('request');
      expect(e).not.toHaveProperty('via');
    }
    const stored = gw.state.current().revealRequests!.find((r) => r.id === asked.id)!;
    expect(stored).toMatchObject({ status: 'expired', expiredAt: new Date(createdAt + 1440 * 60_000).toISOString() });
    expect(gw.state.current().changes!.find((c) => c.id === change.id)).toMatchObject({ status: 'expired' });
    expect((await call('dpo@contoso.com', 'POST', `reveal-requests/${asked.id}/approve`, {})).status).toBe(409);
    expect((await entries()).length).toBe(since + 2); // the late approve wrote nothing more
  });

  it('the sweep runs on its own timer: a request that outlived its time to live is on the record without any call', async () => {
    const t = await tempDir();
    let own = T('2026-12-02T15:00:00Z');
    const cfg = demoLikeConfig(`http://127.0.0.1:1`, t.dir, { reveal: { approval: APPROVAL(null) } });
    const quick = await startGateway(validConfig(cfg), {
      port: 0,
      host: '127.0.0.1',
      logger: winston.createLogger({ silent: true }),
      now: () => own,
      expirySweepMs: 20,
    });
    try {
      const createdAt = new Date(own).toISOString();
      await quick.state.createRevealRequest({
        id: 'r-timer',
        status: 'pending',
        requester: 'alice@contoso.com',
        reason: 'Case 4715 – timer',
        durationMin: 5,
        createdAt,
      });
      const expiredEntries = async () => {
        const out: GovernanceEntry[] = [];
        for await (const e of quick.governance.stream({ action: ['reveal-request.expired'] })) out.push(e);
        return out;
      };
      await new Promise((r) => setTimeout(r, 100)); // several sweeps before the time to live: nothing
      expect(await expiredEntries()).toEqual([]);
      own += 1440 * 60_000;
      await waitFor(() => quick.state.current().revealRequests![0].status === 'expired', 5_000, 'the sweep to expire r-timer');
      expect(quick.state.current().revealRequests![0]).toMatchObject({ status: 'expired' });
      // recorded before it was stored, and once, however many sweeps ran
      expect((await expiredEntries()).map((e) => e.target)).toEqual(['r-timer']);
    } finally {
      await quick.close(100);
      await t.cleanup();
    }
  });

  it("attacker: with approval on, one admin cannot end a group's privacy or grant the permission alone", async () => {
    clock = T('2026-12-03T09:00:00Z');
    const anonymous = async () => ids(await get(`${gw.url}${LIST}`));
    const exported = async () => (await get(`${gw.url}/api/v1/activities/export/ndjson/`)).body.toString();
    expect(await anonymous()).not.toContain('h1');
    // dave holds no permission; he asks to end HR's privacy: nothing happens yet
    const asked = await call('dave@contoso.com', 'DELETE', 'privacy/groups/hr');
    expect(asked.status).toBe(202);
    const change = asked.json().change;
    expect(change).toMatchObject({ status: 'pending', kind: 'privacy-group.remove', target: 'hr', requester: 'dave@contoso.com', body: {} });
    clock += 4_000;
    expect(await anonymous()).not.toContain('h1');
    expect(await exported()).not.toContain('"h1"');
    expect((await call('dave@contoso.com', 'GET', 'privacy/groups')).json().groups.find((g: any) => g.id === 'hr').privateUntil).toBeNull();
    expect((await entries()).at(-1)).toMatchObject({ action: 'privacy-change.requested', principal: 'dave@contoso.com', target: change.id });
    // nor may he approve it himself, under any spelling; a non-approver may not either
    expect((await call('dave@contoso.com', 'POST', `privacy/changes/${change.id}/approve`, {})).json().error.code).toBe('self_approval');
    expect((await call('DAVE@contoso.com', 'POST', `privacy/changes/${change.id}/approve`, {})).json().error.code).toBe('self_approval');
    expect((await call('carl@contoso.com', 'POST', `privacy/changes/${change.id}/approve`, {})).json().error.code).toBe('forbidden');
    // granting himself through another admin is a change too
    const grant = await call('dave@contoso.com', 'POST', 'privacy/permissions', { principal: 'erin@contoso.com' });
    expect(grant.status).toBe(202);
    expect((await call('dave@contoso.com', 'GET', 'privacy/permissions')).json().permissions.map((p: any) => p.principal)).not.toContain('erin@contoso.com');
    expect((await call('dave@contoso.com', 'GET', 'privacy/changes?status=pending')).json().changes.map((c: any) => c.id)).toEqual([
      grant.json().change.id,
      change.id,
    ]);
    // a second person denies the grant and approves the removal: it applies exactly as the direct call would
    const deny = await call('dpo@contoso.com', 'POST', `privacy/changes/${grant.json().change.id}/deny`, { comment: 'no' });
    expect(deny.json().change).toMatchObject({ status: 'denied', decidedBy: 'dpo@contoso.com' });
    const approved = await call('olga@contoso.com', 'POST', `privacy/changes/${change.id}/approve`, {});
    expect(approved.status).toBe(200);
    expect(approved.json().change).toMatchObject({ status: 'approved', decidedBy: 'olga@contoso.com' });
    expect((await call('dpo@contoso.com', 'POST', `privacy/changes/${change.id}/approve`, {})).status).toBe(409);
    const tail = (await entries()).slice(-3).map((e) => [e.action, e.principal, e.target]);
    expect(tail).toEqual([
      ['privacy-change.denied', 'dpo@contoso.com', grant.json().change.id],
      ['privacy-change.approved', 'olga@contoso.com', change.id],
      ['privacy-group.removed', 'dave@contoso.com', 'hr'],
    ]);
    // making private again protects more: applies at once
    expect((await call('dave@contoso.com', 'POST', 'privacy/groups', { id: 'hr' })).status).toBe(201);
  });

  it('a change whose checks fail at approval stays pending; a pending change expires and approving it then is 409', async () => {
    clock = T('2026-12-04T09:00:00Z');
    const ask = async () => (await call('dave@contoso.com', 'POST', 'privacy/permissions', { principal: 'frank@contoso.com' })).json().change;
    const first = await ask();
    const second = await ask();
    expect((await call('dave@contoso.com', 'POST', 'privacy/permissions', { principal: 'carl@contoso.com' })).status).toBe(409); // checked when asked, too
    const applied = await call('dpo@contoso.com', 'POST', `privacy/changes/${first.id}/approve`, {});
    expect(applied.json().result).toMatchObject({ principal: 'frank@contoso.com', grantedBy: 'dave@contoso.com' });
    // the second asks for what now exists: the approve call answers the check's error, nothing is written
    const before = (await entries()).length;
    const again = await call('dpo@contoso.com', 'POST', `privacy/changes/${second.id}/approve`, {});
    expect(again.status).toBe(409);
    expect((await entries()).length).toBe(before);
    expect((await call('dpo@contoso.com', 'GET', 'privacy/changes?status=pending')).json().changes.map((c: any) => c.id)).toContain(second.id);
    clock += 1440 * 60_000;
    expect((await call('dpo@contoso.com', 'POST', `privacy/changes/${second.id}/approve`, {})).status).toBe(409);
    const now = (await call('dpo@contoso.com', 'GET', 'privacy/changes')).json().changes;
    expect(now.find((c: any) => c.id === second.id).status).toBe('expired');
    expect((await entries()).filter((e) => e.action === 'privacy-change.expired').map((e) => e.target)).toContain(second.id);
    expect((await call('dpo@contoso.com', 'DELETE', 'privacy/permissions/frank%40contoso.com')).status).toBe(204);
  });

  it('webhook: created / approved delivered as {"event","request"}, a failing receiver retried (3 tries)', async () => {
    await expect.poll(() => hook.events.filter((e) => e.event === 'created').length, { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(3);
    const created = hook.events.find((e) => e.event === 'created')!;
    expect(created.attempt).toBe(3);
    expect(created.request).toMatchObject({ status: 'pending', requester: expect.any(String), reason: expect.any(String) });
    expect(hook.events.some((e) => e.event === 'approved' && e.request.status === 'approved' && e.attempt === 1)).toBe(true);
    expect([...hook.attempts.entries()].some(([k, n]) => k.startsWith('denied:') && n >= 1)).toBe(true);
  }, 20_000);
});

describe.skipIf(!db)('four-eyes approval on two replicas sharing PostgreSQL', () => {
  let api: SampleApi;
  let idp: TestIdp;
  let key: TestKey;
  const gws: Gateway[] = [];
  let database: FreshDatabase | null = null;
  let cleanup: () => Promise<void>;

  const tok = (upn: string) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 3600, upn, roles: ['SecurityAdministrator'] });
  };
  const call = async (g: Gateway, as: string, method: string, p: string, body?: unknown) =>
    get(`${g.url}/_gateway/api/${p}`, {
      method,
      headers: { authorization: `Bearer ${await tok(as)}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    api = createSampleApi({ dataset: DATASET });
    const upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    database = await freshDatabase();
    const t = await tempDir();
    cleanup = t.cleanup;
    const cfg = validConfig(
      demoLikeConfig(upstream, t.dir, {
        identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
        directory: DIRECTORY,
        reveal: { approval: APPROVAL(null) },
        governance: { sink: 'postgres', postgresUrl: database!.url },
        state: { store: 'postgres', postgresUrl: database!.url },
      }),
    );
    const quiet = winston.createLogger({ silent: true });
    gws.push(await startGateway(cfg, { port: 0, host: '127.0.0.1', instance: 'fe-a', logger: quiet }));
    gws.push(await startGateway(cfg, { port: 0, host: '127.0.0.1', instance: 'fe-b', logger: quiet }));
  }, 60_000);
  afterAll(async () => {
    for (const g of gws) await g.close(500);
    await api?.close();
    await idp?.close();
    await database?.drop();
    await cleanup?.();
  });

  it('a request created on A and approved on B opens the window on A within 2 s', async () => {
    const [a, b] = gws;
    const created = await call(a, 'alice@contoso.com', 'POST', 'reveal-requests', { reason: 'replica case 1234', durationMin: 10 });
    expect(created.status).toBe(201);
    const id = created.json().id;
    await expect
      .poll(async () => (await call(b, 'dpo@contoso.com', 'POST', `reveal-requests/${id}/approve`, {})).status, { timeout: 2000, interval: 50 })
      .toBe(200);
    const t0 = Date.now();
    await expect
      .poll(
        async () =>
          (await get(`${a.url}${LIST}`, { headers: { authorization: `Bearer ${await tok('alice@contoso.com')}`, ...REVEAL, 'x-reveal-request': id } })).status,
        { timeout: 2000, interval: 20 },
      )
      .toBe(200);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('racing decisions on two replicas (approve on A, deny on B, a second approver): exactly one outcome', async () => {
    const [a, b] = gws;
    for (let i = 0; i < 5; i++) {
      const id = (await call(a, 'alice@contoso.com', 'POST', 'reveal-requests', { reason: `racing case number ${i}`, durationMin: 10 })).json().id;
      await expect.poll(() => b.state.current().revealRequests?.some((r) => r.id === id), { timeout: 2000, interval: 20 }).toBe(true);
      const answers = await Promise.all([
        call(a, 'dpo@contoso.com', 'POST', `reveal-requests/${id}/approve`, {}),
        call(b, 'olga@contoso.com', 'POST', `reveal-requests/${id}/deny`, {}),
        call(b, 'dpo@contoso.com', 'POST', `reveal-requests/${id}/approve`, {}),
      ]);
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 409)).toHaveLength(2);
      const winner = answers.find((r) => r.status === 200)!.json().status;
      for (const g of gws) await expect.poll(() => g.state.current().revealRequests?.find((r) => r.id === id)?.status, { timeout: 2000 }).toBe(winner);
    }
  });
});
