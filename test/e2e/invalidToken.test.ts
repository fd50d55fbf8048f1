/**
 * SPEC §5: a 401 for a sent token that does not verify says why, in
 * `WWW-Authenticate: Bearer error="invalid_token", error_description="<why>"`, on reveal
 * requests and on the admin API alike, and the access line records the same why word
 * (never the token).
 */
import { PassThrough } from 'node:stream';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { flatten } from '../../src/log.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';

describe('401 reasons', () => {
  let idp: TestIdp;
  let key: TestKey;
  let gw: Gateway;
  let cleanup: () => Promise<void>;
  let logText = '';

  beforeAll(async () => {
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const t = await tempDir();
    cleanup = t.cleanup;
    const sink = new PassThrough();
    sink.on('data', (d) => {
      logText += d;
    });
    const logger = winston.createLogger({
      level: 'info',
      format: winston.format.combine(flatten(), winston.format.json()),
      transports: [new winston.transports.Stream({ stream: sink })],
    });
    // the upstream is never reached: every request here ends at the reveal decision
    gw = await startGateway(validConfig(demoLikeConfig('http://127.0.0.1:9', t.dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } })), {
      port: 0,
      host: '127.0.0.1',
      logger,
      instance: 'why-test',
    });
  });
  afterAll(async () => {
    await gw?.close(500);
    await idp?.close();
    await cleanup?.();
  });

  const now = () => Math.floor(Date.now() / 1000);
  const base = () => ({ iss: ISS, aud: AUD, iat: now(), exp: now() + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });

  it.each([
    ['expired', async () => signToken(key, { ...base(), iat: now() - 7200, exp: now() - 3600 })],
    ['not yet valid', async () => signToken(key, { ...base(), nbf: now() + 3600 })],
    ['wrong issuer', async () => signToken(key, { ...base(), iss: 'https://evil.example.com/' })],
    ['wrong audience', async () => signToken(key, { ...base(), aud: 'someone-else' })],
    ['bad signature', async () => signToken(await generateTestKey('ES256'), base(), { header: { kid: key.kid } })],
    ['unknown key', async () => signToken(await generateTestKey('ES256', 'kid-nobody-knows'), base())],
  ])('%s', async (why, make) => {
    const token = await make();
    const id = `why-${why.replace(/ /g, '-')}`;
    const reveal = await get(`${gw.url}/api/v1/activities/`, {
      headers: { authorization: `Bearer ${token}`, 'x-show-private-activities': 'confirm', 'x-request-id': id },
    });
    expect(reveal.status).toBe(401);
    expect(reveal.headers.get('www-authenticate')).toBe(`Bearer error="invalid_token", error_description="${why}"`);
    expect(reveal.json().error.code).toBe('unauthenticated');
    const admin = await get(`${gw.url}/_gateway/api/privacy/groups`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': `${id}-admin` } });
    expect(admin.status).toBe(401);
    expect(admin.headers.get('www-authenticate')).toBe(`Bearer error="invalid_token", error_description="${why}"`);

    const lines = logText
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'access');
    for (const rid of [id, `${id}-admin`]) {
      const line = lines.find((l) => l.requestId === rid);
      expect(line, rid).toMatchObject({ status: 401, tokenError: why });
    }
    expect(logText).not.toContain(token);
  });
});
