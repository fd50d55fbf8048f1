/**
 * Issue 21 item 6 (input part), SPEC §10 "Input rules (v3)": principals (grants, scope actors,
 * approvers, query parameters), group ids and names, reasons and comments never contain
 * control characters (U+0000–U+001F, U+007F–U+009F) or bidirectional controls
 * (U+202A–U+202E, U+2066–U+2069): 400 with the field's code, never a 5xx. A reason's minimum
 * length counts only characters that are neither white space nor format characters (Cf).
 *
 * An adversarial table: every field × every character, over real sockets, file stores (and
 * the PostgreSQL state store for the grant principal).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { demoLikeConfig, get, tempDir, validConfig, type Fetched } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
import { freshDatabase } from '../helpers/postgres.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const CHARS: Array<[string, string]> = [
  ['U+0000', '\u0000'],
  ['BEL', '\u0007'],
  ['U+007F', '\u007f'],
  ['U+0085', '\u0085'],
  ['U+202E', '\u202e'],
  ['U+2066', '\u2066'],
];
const ZWJ12 = '\u200d'.repeat(12);

const db = await freshDatabase();
if (!db) console.warn('\n##### test/e2e/controlChars.test.ts: no PostgreSQL, the PostgreSQL grant case is SKIPPED #####\n');

interface Stack {
  gw: Gateway;
  close(): Promise<void>;
}

let key: TestKey;
let idp: TestIdp;
let api: SampleApi;
let upstream: string;
const stacks: Stack[] = [];

const bearer = (upn: string) => {
  const now = Math.floor(Date.now() / 1000);
  return signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 3600, jti: `j-${Math.random()}`, upn, roles: ['SecurityAdministrator'] });
};

async function stack(extra: Record<string, unknown>, postgresUrl?: string): Promise<Stack> {
  const t = await tempDir();
  const cfg = demoLikeConfig(upstream, t.dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl }, ...extra });
  if (postgresUrl) cfg.state = { store: 'postgres', postgresUrl };
  const gw = await startGateway(validConfig(cfg), { port: 0, host: '127.0.0.1', instance: 'ctl', logger: createLogger('error', 'test') });
  const s = {
    gw,
    async close() {
      await gw.close(500);
      await t.cleanup();
    },
  };
  stacks.push(s);
  return s;
}

const admin = async (s: Stack, as: string, method: string, p: string, body?: unknown): Promise<Fetched> =>
  get(`${s.gw.url}/_gateway/api/${p}`, {
    method,
    headers: { authorization: `Bearer ${await bearer(as)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

function expectRefused(r: Fetched, code: string, what: string): void {
  expect(r.status, `${what}: ${r.text}`).toBe(400);
  expect(r.json().error.code, what).toBe(code);
}

beforeAll(async () => {
  key = await generateTestKey('ES256');
  idp = await startIdp([key]);
  api = createSampleApi();
  upstream = await api.listen(0, '127.0.0.1');
});
afterAll(async () => {
  for (const s of stacks) await s.close();
  await api?.close();
  await idp?.close();
});

describe('control and bidi characters: admin API and reveal headers (file store)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await stack({ reveal: { requireReason: true, minReasonLength: 10 } });
  });

  it.each(CHARS)('%s in a grant principal, a permission group, a group id or name: 400 bad_request', async (_n, c) => {
    const cases: Array<[string, string, string, unknown]> = [
      ['grant principal', 'POST', 'privacy/permissions', { principal: `eve${c}x@contoso.com` }],
      ['grant principal (end)', 'POST', 'privacy/permissions', { principal: `eve@contoso.com${c}` }],
      ['permission group', 'POST', 'privacy/permissions', { principal: 'frank@contoso.com', groups: [`h${c}r`] }],
      ['group id', 'POST', 'privacy/groups', { id: `h${c}r` }],
      ['group name', 'POST', 'privacy/groups', { id: 'legal', name: `Legal ${c}team` }],
    ];
    for (const [what, method, p, body] of cases) expectRefused(await admin(s, 'root@contoso.com', method, p, body), 'bad_request', what);
    expect((await admin(s, 'root@contoso.com', 'GET', 'privacy/permissions')).json().permissions.map((x: any) => x.principal)).toEqual(['alice@contoso.com']);
  });

  it.each(CHARS)('%s in the governance query principal: 400 bad_request, never 500', async (_n, c) => {
    const r = await admin(s, 'root@contoso.com', 'GET', `governance?principal=${encodeURIComponent(`a${c}b@contoso.com`)}`);
    expectRefused(r, 'bad_request', 'principal query parameter');
  });

  it.each(CHARS)('%s in a reveal reason or scope: 400 bad_reason / bad_scope', async (_n, c) => {
    const reveal = async (h: Record<string, string>) =>
      get(`${s.gw.url}/api/v1/activities/?limit=5`, {
        headers: { authorization: `Bearer ${await bearer('alice@contoso.com')}`, 'x-show-private-activities': 'confirm', ...h },
      });
    const reason = { 'x-reveal-reason': encodeURIComponent(`Case 4711 ${c} review`) };
    expectRefused(await reveal(reason), 'bad_reason', 'reason header');
    const ok = { 'x-reveal-reason': 'Case 4711 review' };
    expectRefused(await reveal({ ...ok, 'x-reveal-scope': `actor:${encodeURIComponent(`bob${c}@contoso.com`)}` }), 'bad_scope', 'scope actor');
    expectRefused(await reveal({ ...ok, 'x-reveal-scope': `group:${encodeURIComponent(`h${c}r`)}` }), 'bad_scope', 'scope group');
  });

  it('a reason of twelve zero-width joiners (or format characters and spaces) is no reason', async () => {
    const reveal = async (reason: string) =>
      get(`${s.gw.url}/api/v1/activities/?limit=5`, {
        headers: {
          authorization: `Bearer ${await bearer('alice@contoso.com')}`,
          'x-show-private-activities': 'confirm',
          'x-reveal-reason': encodeURIComponent(reason),
        },
      });
    expect((await reveal(ZWJ12)).json().error.code).toBe('reason_required');
    expect((await reveal('a\u200b b\u200c c\u200d d\ufeff e\u2060')).json().error.code).toBe('reason_required');
    expect((await reveal('abcdefghi\u200d')).json().error.code).toBe('reason_required');
    expect((await reveal('Case 4711 review')).status).toBe(200);
  });
});

describe('control and bidi characters: four-eyes requests, decisions and approvers', () => {
  let s: Stack;
  let pendingId: string;
  beforeAll(async () => {
    s = await stack({ reveal: { approval: { approvers: ['dpo@contoso.com'], maxDurationMin: 60 } } });
    const created = await admin(s, 'alice@contoso.com', 'POST', 'reveal-requests', { reason: 'Case 4711 review', durationMin: 30 });
    expect(created.status).toBe(201);
    pendingId = created.json().id;
  });

  it.each(CHARS)('%s in a request reason, scope or a decision comment: 400 bad_request', async (_n, c) => {
    const cases: Array<[string, string, string, unknown]> = [
      ['request reason', 'POST', 'reveal-requests', { reason: `Case 4711 ${c} review`, durationMin: 5 }],
      ['request scope actor', 'POST', 'reveal-requests', { reason: 'Case 4711 review', durationMin: 5, scope: { actors: [`bob${c}@contoso.com`] } }],
      ['request scope group', 'POST', 'reveal-requests', { reason: 'Case 4711 review', durationMin: 5, scope: { groups: [`h${c}r`] } }],
    ];
    for (const [what, method, p, body] of cases) expectRefused(await admin(s, 'alice@contoso.com', method, p, body), 'bad_request', what);
    expectRefused(await admin(s, 'dpo@contoso.com', 'POST', `reveal-requests/${pendingId}/deny`, { comment: `no ${c}way` }), 'bad_request', 'comment');
  });

  it('a request reason of twelve zero-width joiners is refused', async () => {
    expectRefused(await admin(s, 'alice@contoso.com', 'POST', 'reveal-requests', { reason: ZWJ12, durationMin: 5 }), 'bad_request', 'zwj reason');
  });

  it.each(CHARS)('%s in a configured approver (principal or group id) is a config error', (_n, c) => {
    for (const approvers of [[`dpo${c}@contoso.com`], [`group:privacy${c}officers`]]) {
      const cfg = { upstream: { url: 'http://127.0.0.1:1' }, reveal: { approval: { approvers, maxDurationMin: 60 } } };
      const r = parseConfig(JSON.stringify(cfg), {});
      expect(r.ok, JSON.stringify(approvers)).toBe(false);
    }
  });
});

describe.skipIf(!db)('control and bidi characters: grant principal on the PostgreSQL state store', () => {
  it.each(CHARS)('%s in a grant principal: 400 bad_request, never 503', async (_n, c) => {
    const s = stacks.find((x) => (x as Stack & { pg?: boolean }).pg) ?? Object.assign(await stack({}, db!.url), { pg: true });
    expectRefused(await admin(s, 'root@contoso.com', 'POST', 'privacy/permissions', { principal: `eve${c}x@contoso.com` }), 'bad_request', 'grant principal');
  });
});
