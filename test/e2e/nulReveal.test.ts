/**
 * A private upstream record whose `_id` holds U+0000 (SPEC §6 v3): the reveal of its
 * page is answered, its entry is stored by either sink, read back unchanged through
 * `api/governance` (by principal too) and the chain verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
import { freshDatabase, type FreshDatabase } from '../helpers/postgres.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const NUL_ID = 'hr\u0000000000000000000001';
const ts = Date.parse('2026-07-01T00:00:00Z');
const DATASET = [
  { _id: 'pub0000000000000000001', timestamp: ts, user: { userName: 'paul@contoso.com', userTags: [] }, description: 'public' },
  { _id: NUL_ID, timestamp: ts, user: { userName: 'bob@contoso.com', userTags: [] }, description: 'private (hr)' },
];

const probe = await freshDatabase();
await probe?.drop();

describe.each(['file', 'postgres'] as const)('U+0000 in a private activity id, %s sink', (kind) => {
  const skip = kind === 'postgres' && !probe;
  let api: SampleApi;
  let idp: TestIdp;
  let key: TestKey;
  let gw: Gateway;
  let database: FreshDatabase | null = null;
  let cleanup: () => Promise<void> = () => Promise.resolve();

  const auth = async (upn: string) => {
    const now = Math.floor(Date.now() / 1000);
    const t = await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 3600, jti: `jti-${Math.random()}`, upn, roles: ['SecurityAdministrator'] });
    return { authorization: `Bearer ${t}` };
  };

  beforeAll(async () => {
    if (skip) return;
    api = createSampleApi({ dataset: DATASET });
    const upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const t = await tempDir('apg-nul-e2e-');
    cleanup = t.cleanup;
    const extra: Record<string, unknown> = { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } };
    if (kind === 'postgres') {
      database = await freshDatabase();
      extra.governance = { sink: 'postgres', postgresUrl: database!.url };
    }
    gw = await startGateway(validConfig(demoLikeConfig(upstream, t.dir, extra)), {
      port: 0,
      host: '127.0.0.1',
      instance: `nul-${kind}`,
      logger: createLogger('error', 'test'),
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.close(500);
    await api?.close();
    await idp?.close();
    await cleanup();
    await database?.drop();
  });

  it.skipIf(skip)('the reveal is answered, the entry reads back unchanged through api/governance, the chain verifies', async () => {
    const hidden = await get(`${gw.url}/api/v1/activities/`, { headers: await auth('alice@contoso.com') });
    expect(hidden.status).toBe(200);
    expect((hidden.json().data as Array<{ _id: string }>).map((a) => a._id)).toEqual(['pub0000000000000000001']);

    const r = await get(`${gw.url}/api/v1/activities/`, { headers: { ...(await auth('alice@contoso.com')), 'x-show-private-activities': 'confirm' } });
    expect(r.status).toBe(200);
    expect((r.json().data as Array<{ _id: string }>).map((a) => a._id)).toEqual(['pub0000000000000000001', NUL_ID]);
    const entryId = r.headers.get('x-governance-entry');
    expect(entryId).toMatch(/^[0-9a-f-]{36}$/);

    const q = await get(`${gw.url}/_gateway/api/governance?principal=alice@contoso.com&action=private-activities.viewed`, {
      headers: await auth('root@contoso.com'),
    });
    expect(q.status).toBe(200);
    const entries = q.json().entries as Array<{ id: string; privateActivities: { ids: string[] } }>;
    const e = entries.find((x) => x.id === entryId);
    expect(e?.privateActivities.ids).toEqual([NUL_ID]);

    const v = await get(`${gw.url}/_gateway/api/governance/verify`, { headers: await auth('root@contoso.com') });
    expect(v.json()).toMatchObject({ ok: true });
  });
});
