/**
 * SPEC §15 reports against real gateways over real sockets, on both sinks: a known
 * sequence of events (a log begun by the previous version, unscoped, scoped and approved
 * reveals, a refused reveal, a grant, reveal requests) with the clock injected, then the
 * summary's counts per bucket and viewer, and subject reports (JSON, CSV, viewers only when
 * asked, reason required, `report.created` written first, nothing written when refused).
 */
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import type { GovernanceEntry } from '../../src/governance/types.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
import { freshDatabase, sql, type FreshDatabase } from '../helpers/postgres.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/governance-v0.jsonl');
const T = (s: string) => Date.parse(s);
const rec = (id: string, user: string | undefined, ts: string | undefined, tags: string[] = []) => {
  const r: Record<string, unknown> = { _id: id, user: { userTags: tags }, description: `activity ${id}` };
  if (user !== undefined) (r.user as Record<string, unknown>).userName = user;
  if (ts !== undefined) r.timestamp = T(ts);
  return r;
};
// demo policy: hr (bob, carol) since 2026-03-01, external users since 2026-06-01, legal (heidi) 2026-02-01..2026-05-01
const DATASET = [
  rec('p1', 'paul@contoso.com', '2026-07-01T00:00:00Z'),
  rec('h1', 'bob@contoso.com', '2026-07-01T00:00:00Z'), // hr
  rec('h2', 'carol@contoso.com', '2026-07-01T00:00:00Z'), // hr
  rec('l1', 'heidi@contoso.com', '2026-03-01T00:00:00Z'), // legal
  rec('x1', 'mallory@fabrikam.com', '2026-07-01T00:00:00Z'), // external users
  rec('hl', 'Bob@Contoso.com', '2026-04-01T00:00:00Z', ['legal']), // hr AND legal
  rec('u1', 'judy@contoso.com', undefined), // undecidable: no time
  rec('p2', 'heidi@contoso.com', '2026-07-01T00:00:00Z'), // legal no longer private
];
const LIST = '/api/v1/activities/';
const REVEAL = { 'x-show-private-activities': 'confirm' };
const APPROVAL = { approvers: ['dpo@contoso.com'], maxDurationMin: 60, webhookUrl: null };

const db = await freshDatabase();
if (!db) console.warn('\n##### test/e2e/reports.test.ts: no PostgreSQL, the PostgreSQL half is SKIPPED #####\n');

describe.each(['file', 'postgres'] as const)('reports with a %s sink', (kind) => {
  const skip = kind === 'postgres' && !db;
  let api: SampleApi;
  let idp: TestIdp;
  let key: TestKey;
  let first: Gateway | undefined;
  let gw: Gateway;
  let database: FreshDatabase | null = null;
  let cleanup: () => Promise<void>;
  let clock = T('2026-12-02T10:00:00Z');
  let requestId = '';

  const token = (upn: string) => {
    const now = Math.floor(Date.now() / 1000);
    return signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 3600, jti: `j-${Math.random()}`, upn, roles: ['SecurityAdministrator'] });
  };
  const reveal = async (g: Gateway, as: string, extra: Record<string, string> = {}) =>
    get(`${g.url}${LIST}`, { headers: { authorization: `Bearer ${await token(as)}`, ...REVEAL, ...extra } });
  const call = async (g: Gateway, as: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}) =>
    get(`${g.url}/_gateway/api/${p}`, {
      method,
      headers: { authorization: `Bearer ${await token(as)}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const entries = async (): Promise<GovernanceEntry[]> => {
    const out: GovernanceEntry[] = [];
    for await (const e of gw.governance.stream({})) out.push(e);
    return out;
  };
  const start = (cfg: Record<string, unknown>, instance: string) =>
    startGateway(validConfig(cfg), { port: 0, host: '127.0.0.1', instance, logger: winston.createLogger({ silent: true }), now: () => clock });

  beforeAll(async () => {
    if (skip) return;
    api = createSampleApi({ dataset: DATASET });
    const upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const t = await tempDir();
    cleanup = t.cleanup;
    const extra: Record<string, unknown> = { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } };
    // the log was begun by the previous version: two reveals without actors
    if (kind === 'file') await copyFile(FIXTURE, path.join(t.dir, 'governance.jsonl'));
    else {
      database = await freshDatabase();
      const pool = createPool({ url: database!.url, max: 1 });
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
      for (const line of (await readFile(FIXTURE, 'utf8')).trim().split('\n')) {
        const e = JSON.parse(line);
        await sql(
          database!.url,
          'INSERT INTO governance_log (seq, id, time, action, entry, line, prev_hash, hash) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)',
          [e.seq, e.id, e.time, e.action, line, line, e.prevHash, e.hash],
        );
      }
      extra.governance = { sink: 'postgres', postgresUrl: database!.url };
      extra.state = { store: 'postgres', postgresUrl: database!.url };
    }
    const plain = demoLikeConfig(upstream, t.dir, extra);
    const g1 = await start(plain, `reports-${kind}-1`);

    // December, week of Monday 2026-11-30
    clock = T('2026-12-02T10:00:00Z');
    expect((await reveal(g1, 'alice@contoso.com', { 'x-reveal-reason': 'Case A unscoped' })).status).toBe(200); // 6 shown: bob 2
    clock = T('2026-12-03T10:00:00Z');
    expect((await reveal(g1, 'alice@contoso.com', { 'x-reveal-reason': 'Case B bob', 'x-reveal-scope': 'actor:bob@contoso.com' })).status).toBe(200); // bob 2
    clock = T('2026-12-03T11:00:00Z');
    expect((await reveal(g1, 'alice@contoso.com', { 'x-reveal-reason': 'Case B legal', 'x-reveal-scope': 'group:legal' })).status).toBe(200); // heidi 1, bob 1
    // week of Monday 2026-12-07
    clock = T('2026-12-08T09:00:00Z');
    expect((await reveal(g1, 'root@contoso.com')).status).toBe(403); // denied, on the record
    clock = T('2026-12-08T09:05:00Z');
    expect((await call(g1, 'root@contoso.com', 'POST', 'privacy/permissions', { principal: 'carl@contoso.com' })).status).toBe(201);
    clock = T('2026-12-08T09:10:00Z');
    expect((await reveal(g1, 'carl@contoso.com', { 'x-reveal-reason': 'Case D carl' })).status).toBe(200); // 6 shown: bob 2

    // January 2027, with four-eyes approval on
    if (kind === 'file') await g1.close(500);
    else first = g1; // PostgreSQL: both instances stay up and must answer the same
    gw = await start({ ...plain, reveal: { approval: APPROVAL } }, `reports-${kind}-2`);
    clock = T('2027-01-05T09:00:00Z');
    const created = await call(gw, 'alice@contoso.com', 'POST', 'reveal-requests', { reason: 'Case C approved', durationMin: 30, scope: { groups: ['hr'] } });
    expect(created.status).toBe(201);
    requestId = created.json().id;
    expect((await call(gw, 'dpo@contoso.com', 'POST', `reveal-requests/${requestId}/approve`, {})).status).toBe(200);
    clock = T('2027-01-05T09:10:00Z');
    expect((await reveal(gw, 'alice@contoso.com', { 'x-reveal-request': requestId })).status).toBe(200); // hr: bob 2, carol 1
    const other = await call(gw, 'alice@contoso.com', 'POST', 'reveal-requests', { reason: 'Case E not needed', durationMin: 30 });
    expect((await call(gw, 'dpo@contoso.com', 'POST', `reveal-requests/${other.json().id}/deny`, {})).status).toBe(200);
    clock = T('2027-01-10T12:00:00Z');
  }, 60_000);
  afterAll(async () => {
    await first?.close(500);
    await gw?.close(500);
    await api?.close();
    await idp?.close();
    await cleanup?.();
    await database?.drop();
  });

  const requests = (o: Partial<Record<'created' | 'approved' | 'denied' | 'expired' | 'revoked', number>> = {}) => ({
    created: 0,
    approved: 0,
    denied: 0,
    expired: 0,
    revoked: 0,
    ...o,
  });
  const bucket = (start: string, o: Record<string, unknown>) => ({
    start,
    reveals: 0,
    revealsDenied: 0,
    activitiesShown: 0,
    resolutions: 0,
    groupChanges: 0,
    permissionChanges: 0,
    requests: requests(),
    ...o,
  });

  it.skipIf(skip)('summary by month, week and day: the counts of the known sequence, and by viewer', async () => {
    const month = await call(gw, 'root@contoso.com', 'GET', 'reports/summary?bucket=month');
    expect(month.status).toBe(200);
    const byViewer = [
      { principal: 'alice@contoso.com', reveals: 6, activitiesShown: 2 + 6 + 2 + 2 + 3 },
      { principal: 'carl@contoso.com', reveals: 1, activitiesShown: 6 },
    ];
    expect(month.json()).toEqual({
      buckets: [
        // the previous version's log: group added and removed, granted and revoked, two reveals (2 and 0 shown)
        bucket('2026-12-01T00:00:00.000Z', { reveals: 6, revealsDenied: 1, activitiesShown: 18, groupChanges: 2, permissionChanges: 3 }),
        bucket('2027-01-01T00:00:00.000Z', { reveals: 1, activitiesShown: 3, requests: requests({ created: 2, approved: 1, denied: 1 }) }),
      ],
      byViewer,
    });
    const week = await call(gw, 'root@contoso.com', 'GET', 'reports/summary?bucket=week');
    expect(week.json().buckets).toEqual([
      bucket('2026-11-30T00:00:00.000Z', { reveals: 5, activitiesShown: 12, groupChanges: 2, permissionChanges: 2 }),
      bucket('2026-12-07T00:00:00.000Z', { reveals: 1, revealsDenied: 1, activitiesShown: 6, permissionChanges: 1 }),
      bucket('2027-01-04T00:00:00.000Z', { reveals: 1, activitiesShown: 3, requests: requests({ created: 2, approved: 1, denied: 1 }) }),
    ]);
    const day = await call(gw, 'root@contoso.com', 'GET', 'reports/summary?bucket=day&since=2026-12-02T00:00:00Z&until=2026-12-04T00:00:00%2B00:00');
    expect(day.json()).toEqual({
      buckets: [bucket('2026-12-02T00:00:00.000Z', { reveals: 1, activitiesShown: 6 }), bucket('2026-12-03T00:00:00.000Z', { reveals: 2, activitiesShown: 4 })],
      byViewer: [{ principal: 'alice@contoso.com', reveals: 3, activitiesShown: 10 }],
    });
    // every instance answers the same (PostgreSQL: the first gateway is still up)
    if (first) expect((await call(first, 'root@contoso.com', 'GET', 'reports/summary?bucket=month')).json()).toEqual(month.json());
    const bad = await call(gw, 'root@contoso.com', 'GET', 'reports/summary?bucket=year');
    expect(bad.status).toBe(400);
    expect(bad.json().error.code).toBe('bad_request');
    expect((await call(gw, 'root@contoso.com', 'GET', 'reports/summary?bucket=day&foo=1')).status).toBe(400);
  });

  it.skipIf(skip)('subject report: unscoped, scoped and approved reveals of one person, oldest first; report.created first', async () => {
    const before = (await entries()).length;
    const r = await call(gw, 'root@contoso.com', 'GET', 'reports/subject?principal=Bob@Contoso.com', undefined, {
      'x-reveal-reason': 'Art.%2015%20request%20of%20Bob%20%E2%80%93%20ticket%2042',
    });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({
      principal: 'bob@contoso.com',
      views: [
        { time: '2026-12-02T10:00:00.000Z', reason: 'Case A unscoped', activities: 2 },
        { time: '2026-12-03T10:00:00.000Z', reason: 'Case B bob', scope: { groups: [], actors: ['bob@contoso.com'] }, activities: 2 },
        { time: '2026-12-03T11:00:00.000Z', reason: 'Case B legal', scope: { groups: ['legal'], actors: [] }, activities: 1 },
        { time: '2026-12-08T09:10:00.000Z', reason: 'Case D carl', activities: 2 },
        { time: '2027-01-05T09:10:00.000Z', reason: 'Case C approved', scope: { groups: ['hr'], actors: [] }, revealRequest: requestId, activities: 2 },
      ],
      resolutions: [],
      entriesWithoutActors: 2,
    });
    // report.created, with the reason, before the report was read (it is not among the views)
    const after = await entries();
    expect(after.length).toBe(before + 1);
    expect(after.at(-1)).toMatchObject({
      action: 'report.created',
      principal: 'root@contoso.com',
      via: 'admin-api',
      target: 'bob@contoso.com',
      reason: 'Art. 15 request of Bob – ticket 42',
      time: '2027-01-10T12:00:00.000Z',
    });
    expect((await call(gw, 'root@contoso.com', 'GET', 'governance/verify')).json()).toMatchObject({ ok: true });

    // viewers only when asked; a range
    const withViewers = await call(
      gw,
      'root@contoso.com',
      'GET',
      'reports/subject?principal=bob@contoso.com&includeViewers=true&since=2026-12-03T00:00:00Z&until=2026-12-09T00:00:00Z',
      undefined,
      {
        'x-reveal-reason': 'DPO review of case 42',
      },
    );
    expect(withViewers.json()).toMatchObject({
      principal: 'bob@contoso.com',
      since: '2026-12-03T00:00:00.000Z',
      until: '2026-12-09T00:00:00.000Z',
      entriesWithoutActors: 0,
    });
    expect(withViewers.json().views.map((v: { viewer: string; activities: number }) => [v.viewer, v.activities])).toEqual([
      ['alice@contoso.com', 2],
      ['alice@contoso.com', 1],
      ['carl@contoso.com', 2],
    ]);
    // a person seen only in the unscoped and the scoped-by-group reveals
    const heidi = await call(gw, 'root@contoso.com', 'GET', 'reports/subject?principal=heidi@contoso.com', undefined, {
      'x-reveal-reason': 'Art. 15 request of Heidi',
    });
    expect(heidi.json().views.map((v: { reason: string; activities: number }) => [v.reason, v.activities])).toEqual([
      ['Case A unscoped', 1],
      ['Case B legal', 1],
      ['Case D carl', 1],
    ]);
    const nobody = await call(gw, 'root@contoso.com', 'GET', 'reports/subject?principal=paul@contoso.com', undefined, {
      'x-reveal-reason': 'Art. 15 request of Paul',
    });
    expect(nobody.json()).toEqual({ principal: 'paul@contoso.com', views: [], resolutions: [], entriesWithoutActors: 2 });
    if (first)
      expect(
        (
          await call(first, 'root@contoso.com', 'GET', 'reports/subject?principal=bob@contoso.com', undefined, { 'x-reveal-reason': 'Same on every instance' })
        ).json(),
      ).toEqual(r.json());
  });

  it.skipIf(skip)('subject report as CSV: a header row and one row per view; the viewer column only when asked', async () => {
    const csv = await call(gw, 'root@contoso.com', 'GET', 'reports/subject?principal=bob@contoso.com&format=csv', undefined, {
      'x-reveal-reason': 'Art. 15 request, CSV',
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(csv.text.split('\r\n')).toEqual([
      'time,reason,scope,revealRequest,activities',
      '2026-12-02T10:00:00.000Z,Case A unscoped,,,2',
      '2026-12-03T10:00:00.000Z,Case B bob,actor:bob@contoso.com,,2',
      '2026-12-03T11:00:00.000Z,Case B legal,group:legal,,1',
      '2026-12-08T09:10:00.000Z,Case D carl,,,2',
      `2027-01-05T09:10:00.000Z,Case C approved,group:hr,${requestId},2`,
      '',
    ]);
    const viewers = await call(gw, 'root@contoso.com', 'GET', 'reports/subject?principal=bob@contoso.com&format=csv&includeViewers=true', undefined, {
      'x-reveal-reason': 'Art. 15 request, CSV',
    });
    const lines = viewers.text.split('\r\n');
    expect(lines[0]).toBe('time,reason,scope,revealRequest,activities,viewer');
    expect(lines.slice(1, -1).map((l) => l.split(',').at(-1))).toEqual([
      'alice@contoso.com',
      'alice@contoso.com',
      'alice@contoso.com',
      'carl@contoso.com',
      'alice@contoso.com',
    ]);
  });

  it.skipIf(skip)('a refused subject report writes nothing: no reason, a short reason, a bad principal, a bad parameter', async () => {
    const before = (await entries()).length;
    const none = await call(gw, 'root@contoso.com', 'GET', 'reports/subject?principal=bob@contoso.com');
    expect(none.status).toBe(400);
    expect(none.json().error.code).toBe('reason_required');
    const short = await call(gw, 'root@contoso.com', 'GET', 'reports/subject?principal=bob@contoso.com', undefined, { 'x-reveal-reason': 'why' });
    expect(short.json().error.code).toBe('reason_required');
    for (const q of [
      'principal=not-a-principal',
      'principal=bob@contoso.com&includeViewers=yes',
      'principal=bob@contoso.com&format=xml',
      'principal=bob@contoso.com&since=yesterday',
      'principal=bob@contoso.com&x=1',
    ]) {
      const r = await call(gw, 'root@contoso.com', 'GET', `reports/subject?${q}`, undefined, { 'x-reveal-reason': 'A valid reason here' });
      expect(r.status, q).toBe(400);
      expect(r.json().error.code, q).toBe('bad_request');
    }
    const anonymous = await get(`${gw.url}/_gateway/api/reports/subject?principal=bob@contoso.com`, { headers: { 'x-reveal-reason': 'A valid reason here' } });
    expect(anonymous.status).toBe(401);
    expect((await entries()).length).toBe(before);
  });
});
