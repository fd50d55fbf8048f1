/**
 * Issue 21, property: with four-eyes approval on, no sequence of admin calls by ONE person —
 * under any spelling of their name — makes a private activity visible to an ordinary consumer
 * (list route and NDJSON export, no token). Generated sequences of every admin call that
 * could weaken privacy (end a group's privacy, grant the permission, approve or deny changes,
 * create, approve and revoke reveal requests), each against a fresh gateway.
 */
import fc from 'fast-check';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { startGateway } from '../../src/gateway.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const T = (s: string) => Date.parse(s);
const rec = (id: string, user: string, ts: string) => ({ _id: id, timestamp: T(ts), user: { userName: user, userTags: [] } });
const DATASET = [
  rec('p1', 'paul@contoso.com', '2026-07-01T00:00:00Z'),
  rec('h1', 'bob@contoso.com', '2026-07-01T00:00:00Z'), // hr
  rec('x1', 'mallory@fabrikam.com', '2026-07-01T00:00:00Z'), // external users
];
const PRIVATE = ['h1', 'x1'];
const ALIASES = ['dave@contoso.com', 'DAVE@contoso.com', ' Dave@Contoso.COM ', 'dave@CONTOSO.com'];
const GROUPS = ['hr', 'builtin:external-users', 'legal'];

type Cmd =
  | { kind: 'end-group'; as: number; group: string }
  | { kind: 'grant'; as: number; to: number }
  | { kind: 'decide-change'; as: number; pick: number; approve: boolean }
  | { kind: 'request'; as: number }
  | { kind: 'decide-request'; as: number; pick: number; how: 'approve' | 'deny' | 'revoke' }
  | { kind: 'make-private'; as: number; group: string };

const as = fc.nat(ALIASES.length - 1);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ kind: fc.constant('end-group' as const), as, group: fc.constantFrom(...GROUPS) }),
  fc.record({ kind: fc.constant('grant' as const), as, to: as }),
  fc.record({ kind: fc.constant('decide-change' as const), as, pick: fc.nat(5), approve: fc.boolean() }),
  fc.record({ kind: fc.constant('request' as const), as }),
  fc.record({
    kind: fc.constant('decide-request' as const),
    as,
    pick: fc.nat(5),
    how: fc.constantFrom('approve' as const, 'deny' as const, 'revoke' as const),
  }),
  fc.record({ kind: fc.constant('make-private' as const), as, group: fc.constantFrom(...GROUPS) }),
);

describe('attacker property: one person cannot weaken privacy alone while approval is on', () => {
  let api: SampleApi;
  let upstream: string;
  let idp: TestIdp;
  let key: TestKey;

  beforeAll(async () => {
    api = createSampleApi({ dataset: DATASET });
    upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
  });
  afterAll(async () => {
    await api?.close();
    await idp?.close();
  });

  it("no sequence of one admin's calls shows a private activity to an ordinary consumer", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 8 }), async (cmds) => {
        const t = await tempDir();
        const cfg = demoLikeConfig(upstream, t.dir, {
          identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
          reveal: { approval: { approvers: ['dpo@contoso.com'], maxDurationMin: 60 } },
        });
        // the attacker is an approver-less admin who already holds the permission
        (cfg.privacy as { permissions: string[] }).permissions = ['dave@contoso.com'];
        const gw = await startGateway(validConfig(cfg), { port: 0, host: '127.0.0.1', logger: winston.createLogger({ silent: true }) });
        try {
          const now = Math.floor(Date.now() / 1000);
          const tok = (upn: string) => signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, upn, roles: ['SecurityAdministrator'] });
          const call = async (who: number, method: string, p: string, body?: unknown) =>
            get(`${gw.url}/_gateway/api/${p}`, {
              method,
              headers: { authorization: `Bearer ${await tok(ALIASES[who])}`, 'content-type': 'application/json' },
              body: body === undefined ? undefined : JSON.stringify(body),
            });
          const changeIds: string[] = [];
          const requestIds: string[] = [];
          for (const c of cmds) {
            if (c.kind === 'end-group') {
              const r = await call(c.as, 'DELETE', `privacy/groups/${encodeURIComponent(c.group)}`);
              if (r.status === 202) changeIds.push(r.json().change.id);
            } else if (c.kind === 'grant') {
              const r = await call(c.as, 'POST', 'privacy/permissions', {
                principal: ALIASES[c.to].trim() === 'dave@contoso.com' ? 'erin@contoso.com' : ALIASES[c.to],
              });
              if (r.status === 202) changeIds.push(r.json().change.id);
            } else if (c.kind === 'decide-change' && changeIds.length > 0) {
              await call(c.as, 'POST', `privacy/changes/${changeIds[c.pick % changeIds.length]}/${c.approve ? 'approve' : 'deny'}`, {});
            } else if (c.kind === 'request') {
              const r = await call(c.as, 'POST', 'reveal-requests', { reason: 'looking into something', durationMin: 30 });
              if (r.status === 201) requestIds.push(r.json().id);
            } else if (c.kind === 'decide-request' && requestIds.length > 0) {
              await call(c.as, 'POST', `reveal-requests/${requestIds[c.pick % requestIds.length]}/${c.how}`, {});
            } else if (c.kind === 'make-private') {
              await call(c.as, 'POST', 'privacy/groups', { id: c.group });
            }
          }
          const list = (await get(`${gw.url}/api/v1/activities/`)).json().data.map((a: { _id: string }) => a._id);
          const ndjson = (await get(`${gw.url}/api/v1/activities/export/ndjson/`)).body.toString();
          for (const id of PRIVATE) {
            expect(list, `list after ${JSON.stringify(cmds)}`).not.toContain(id);
            expect(ndjson, `export after ${JSON.stringify(cmds)}`).not.toContain(`"${id}"`);
          }
          expect(list).toContain('p1');
          // and nothing weakening was applied: every private group still private, no new permission
          const groups = (await call(0, 'GET', 'privacy/groups')).json().groups;
          for (const id of ['hr', 'builtin:external-users']) expect(groups.some((g: any) => g.id === id && g.privateUntil === null)).toBe(true);
          const perms = (await call(0, 'GET', 'privacy/permissions')).json().permissions.map((p: any) => p.principal);
          expect(perms).toEqual(['dave@contoso.com']);
        } finally {
          await gw.close(200);
          await t.cleanup();
        }
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
