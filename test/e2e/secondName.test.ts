/**
 * Issue 21 item 3, from the attacker's side: one person with two names in the directory (a
 * second `mail` value on their LDAP entry) cannot act as two people. Self-approval of a
 * reveal request or of a privacy change, and self-grant, compare persons, not strings
 * (SPEC §9 v3) — against a real slapd and a real gateway.
 */
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
import { contosoLdapSettings, requireSlapd, startSlapd, userDn, type Slapd } from '../helpers/slapd.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const enabled = requireSlapd('e2e/secondName.test.ts');

describe.skipIf(!enabled)('one person, two names: never two people (real slapd)', () => {
  let slapd: Slapd;
  let api: SampleApi;
  let idp: TestIdp;
  let key: TestKey;
  let gw: Gateway;
  let cleanup: () => Promise<void>;

  const call = async (upn: string, method: string, p: string, body?: unknown) => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, upn, roles: ['SecurityAdministrator'] });
    return get(`${gw.url}/_gateway/api/${p}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  };

  beforeAll(async () => {
    slapd = await startSlapd();
    // erin is an approver as erin@contoso.com and holds the permission under her second address
    await slapd.modify(`dn: ${userDn('erin')}\nchangetype: modify\nadd: mail\nmail: erin.two@contoso.com\n`);
    await slapd.modify(`dn: ${userDn('dave')}\nchangetype: modify\nreplace: mail\nmail: dave@contoso.com\n`);
    api = createSampleApi({ dataset: [] });
    const upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const t = await tempDir();
    cleanup = t.cleanup;
    const cfg = demoLikeConfig(upstream, t.dir, {
      identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
      reveal: { approval: { approvers: ['erin@contoso.com', 'dave@contoso.com'], maxDurationMin: 60 } },
      directory: { groups: { hr: ['bob@contoso.com'] }, ldap: contosoLdapSettings(slapd.url, { userFilter: '(mail={principal})' }) },
    });
    (cfg.privacy as { permissions: string[] }).permissions = ['erin.two@contoso.com'];
    gw = await startGateway(validConfig(cfg), { port: 0, host: '127.0.0.1', logger: winston.createLogger({ silent: true }) });
  }, 60_000);
  afterAll(async () => {
    await gw?.close(500);
    await api?.close();
    await idp?.close();
    await slapd?.close();
    await cleanup?.();
  });

  it('a reveal request asked under one name cannot be approved under the other', async () => {
    const created = await call('erin.two@contoso.com', 'POST', 'reveal-requests', { reason: 'Case 5000 – second name', durationMin: 10 });
    expect(created.status).toBe(201);
    const self = await call('erin@contoso.com', 'POST', `reveal-requests/${created.json().id}/approve`, {});
    expect(self.status).toBe(403);
    expect(self.json().error.code).toBe('self_approval');
    // another person may
    expect((await call('dave@contoso.com', 'POST', `reveal-requests/${created.json().id}/approve`, {})).status).toBe(200);
  });

  it('a privacy change asked under one name cannot be approved under the other', async () => {
    const asked = await call('erin.two@contoso.com', 'DELETE', 'privacy/groups/hr');
    expect(asked.status).toBe(202);
    const self = await call('erin@contoso.com', 'POST', `privacy/changes/${asked.json().change.id}/approve`, {});
    expect(self.json().error.code).toBe('self_approval');
    expect((await call('dave@contoso.com', 'GET', 'privacy/groups')).json().groups.find((g: any) => g.id === 'hr').privateUntil).toBeNull();
  });

  it('nobody grants the permission to their own second name', async () => {
    const r = await call('erin.two@contoso.com', 'POST', 'privacy/permissions', { principal: 'erin@contoso.com' });
    expect(r.status).toBe(403);
    expect(r.json().error.code).toBe('self_grant');
  });
});
