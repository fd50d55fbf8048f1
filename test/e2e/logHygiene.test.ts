import { PassThrough } from 'node:stream';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { flatten } from '../../src/log.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp } from '../helpers/idp.js';
import { demoHides } from '../helpers/oracle.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';

/** SPEC §8: never an activity body, a token, or a private activity's id outside the governance log. */
describe('logs and metrics carry no private data', () => {
  let api: SampleApi;
  let idp: TestIdp;
  let gw: Gateway;
  let cleanup: () => Promise<void>;
  let logText = '';

  beforeAll(async () => {
    api = createSampleApi();
    const upstream = await api.listen(0, '127.0.0.1');
    const key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const t = await tempDir();
    cleanup = t.cleanup;
    const sink = new PassThrough();
    sink.on('data', (d) => {
      logText += d;
    });
    const logger = winston.createLogger({
      level: 'debug',
      format: winston.format.combine(flatten(), winston.format.json()),
      transports: [new winston.transports.Stream({ stream: sink })],
    });
    gw = await startGateway(validConfig(demoLikeConfig(upstream, t.dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } })), {
      port: 0,
      host: '127.0.0.1',
      logger,
      instance: 'log-test',
    });
    (globalThis as any).__token = await signToken(key, {
      iss: ISS,
      aud: AUD,
      exp: Math.floor(Date.now() / 1000) + 600,
      upn: 'alice@contoso.com',
      roles: ['SecurityAdministrator'],
    });
  });
  afterAll(async () => {
    await gw?.close(500);
    await api?.close();
    await idp?.close();
    await cleanup?.();
  });

  it('after lists, items, reveals, exports and errors, no private id, token or body appears in the log', async () => {
    const token = (globalThis as any).__token as string;
    const privateRecs = api.dataset.filter((a: any) => demoHides(a)).slice(0, 40) as any[];
    for (const a of privateRecs.slice(0, 10)) {
      await get(`${gw.url}/api/v1/activities/${a._id}/`);
      await get(`${gw.url}/api/v1/activities/${a._id}/`, { headers: { authorization: `Bearer ${token}`, 'x-show-private-activities': 'confirm' } });
    }
    for (let skip = 0; skip < 3000; skip += 500) {
      await get(`${gw.url}/api/v1/activities/?skip=${skip}&limit=100`);
      await get(`${gw.url}/api/v1/activities/?skip=${skip}&limit=100`, {
        headers: { authorization: `Bearer ${token}`, 'x-show-private-activities': 'confirm' },
      });
    }
    await get(`${gw.url}/api/v1/activities/export/ndjson/?count=3000`);
    await get(`${gw.url}/api/v1/activities/`, { headers: { authorization: `Bearer ${token}x`, 'x-show-private-activities': 'confirm' } });
    await get(`${gw.url}/api/v1/activities/`, { headers: { authorization: `Bearer ${token}`, 'x-show-private-activities': 'nope' } });
    await get(`${gw.url}/api/v1/activities/%2e%2e/%2fsecret`);
    const metrics = (await get(`${gw.url}/_gateway/metrics`)).text;

    expect(logText).toContain('"msg":"access"');
    // one flat JSON object per line, with the access fields at the top level (SPEC §8)
    const access = logText
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'access');
    expect(access[0]).toMatchObject({
      requestId: expect.any(String),
      method: 'GET',
      kind: expect.any(String),
      status: expect.any(Number),
      ms: expect.any(Number),
      removed: expect.any(Number),
      reveal: expect.any(String),
    });
    expect(logText.split('\n').filter((l) => l.includes('"msg":"access"')).length).toBeGreaterThan(30);
    // the principal of an admin is logged (SPEC §8), nothing else personal
    expect(logText).toContain('alice@contoso.com');
    for (const part of token.split('.')) expect(logText).not.toContain(part);
    const allPrivate = api.dataset.filter((a: any) => demoHides(a)) as any[];
    for (const a of allPrivate) {
      expect(logText).not.toContain(a._id);
      expect(metrics).not.toContain(a._id);
    }
    // no activity body fragments either
    expect(logText).not.toContain('userName');
    expect(logText).not.toContain('bob@contoso.com');
    expect(metrics).not.toMatch(/@contoso\.com|@fabrikam\.com/);
    // item routes log the route pattern, not the raw path with the id
    expect(logText).toContain('/api/v1/activities/:id/');
  });
});
