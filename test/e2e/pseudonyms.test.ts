/**
 * SPEC §14 over real sockets: a pseudonymising group's activities stay in list, item and
 * every export format with the actor replaced, byte for byte otherwise; the same pseudonym
 * on two instances and after a restart; a hide group still removes.
 */
import http from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import winston from 'winston';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { createPseudonymiser } from '../../src/privacy/pseudonym.js';
import { flatten } from '../../src/log.js';
import { demoLikeConfig, get, startTestGateway, tempDir } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp } from '../helpers/idp.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';

const KEY = Buffer.alloc(32, 5);
const P_BOB = createPseudonymiser([KEY], 'pseudonym.invalid').pseudonym('bob@contoso.com');
const P_BOB_PCT = P_BOB.replace('@', '%40');

// bob and carol are in hr (pseudonymise, private since 2026-03-01); heidi in legal (hide, 2026-02..05)
const rec = (id: string, user: string, extra = '') =>
  `{"_id":"${id}", "timestamp":"2026-04-02T10:00:00Z","user":{"userName":"${user}","userTags":[]},"description":"${user} did it"${extra}}`;
const BOB = rec('a1', 'Bob@Contoso.com', ',"url":"https://x/?who=bob%40contoso.com&n=1","peer":"dave@contoso.com","k":"xbob@contoso.com"');
const HEIDI = rec('a2', 'heidi@contoso.com');
const DAVE = rec('a3', 'dave@contoso.com', ',"note":"met bob@contoso.com"');
const LIST = `{"data":[${BOB},\n ${HEIDI}, ${DAVE}],"total":3,"hasNext":false}`;
const CSV =
  '_id,timestamp,userName,description\r\na1,2026-04-02T10:00:00Z,bob@contoso.com,"bob@contoso.com, said ""hi"""\r\na2,2026-04-02T10:00:00Z,heidi@contoso.com,x\r\n';
const CEF =
  '<134>CEF:0|V|P|1|sig|bob@contoso.com login|3|suser=bob@contoso.com rt=1775124000000 externalId=a1 msg=user bob@contoso.com ok\n' +
  'CEF:0|V|P|1|sig|n|3|suser=heidi@contoso.com rt=1775124000000 externalId=a2\n';

function upstream(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const u = req.url ?? '';
    const send = (type: string, body: string): void => void res.writeHead(200, { 'content-type': type }).end(body);
    if (u.startsWith('/api/v1/activities/export/ndjson/')) return send('application/x-ndjson', `${BOB}\n${HEIDI}\n${DAVE}\n`);
    if (u.startsWith('/api/v1/activities/export/json/')) return send('application/json', LIST);
    if (u.startsWith('/api/v1/activities/export/cef/')) return send('text/plain', CEF);
    if (u.startsWith('/api/v1/activities/export/')) return send('text/csv', CSV);
    if (u.startsWith('/api/v1/activities/a1/')) return send('application/json', BOB);
    if (u.startsWith('/api/v1/activities/a2/')) return send('application/json', HEIDI);
    if (u.startsWith('/api/v1/activities/')) return send('application/json', LIST);
    return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address() as { port: number };
      resolve({ url: `http://127.0.0.1:${a.port}`, close: () => new Promise((r) => server.close(() => r())) });
    }),
  );
}

const BOB_OUT = BOB.replace('Bob@Contoso.com', P_BOB).replace('Bob@Contoso.com did it', `${P_BOB} did it`).replace('bob%40contoso.com', P_BOB_PCT);

describe('pseudonymised groups over real sockets (SPEC §14)', () => {
  let up: { url: string; close: () => Promise<void> };
  let dir: { dir: string; cleanup: () => Promise<void> };
  let gws: Gateway[] = [];
  let config: Record<string, unknown>;
  let idp: TestIdp;
  let token: string;
  let logText = '';

  beforeAll(async () => {
    up = await upstream();
    dir = await tempDir();
    const key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    token = await signToken(key, { iss: ISS, aud: AUD, exp: Math.floor(Date.now() / 1000) + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    const keyFile = path.join(dir.dir, 'pseudonym.key');
    await writeFile(keyFile, KEY.toString('base64') + '\n');
    const base = demoLikeConfig(up.url, dir.dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } }) as {
      privacy: { groups: Array<Record<string, unknown>> };
    };
    base.privacy.groups[0].mode = 'pseudonymise';
    config = { ...base, pseudonyms: { keyFile } };
    const sink = new PassThrough();
    sink.on('data', (d) => {
      logText += d;
    });
    const logger = winston.createLogger({
      level: 'debug',
      format: winston.format.combine(flatten(), winston.format.json()),
      transports: [new winston.transports.Stream({ stream: sink })],
    });
    gws = [
      await startTestGateway(config, { logger }),
      await startTestGateway({ ...config, governance: { sink: 'file', file: path.join(dir.dir, 'g2.jsonl') } }),
    ];
  });
  afterAll(async () => {
    for (const g of gws) await g.close();
    await idp?.close();
    await up?.close();
    await dir?.cleanup();
  });

  it('list: the actor is replaced everywhere in the record, other records and the envelope byte for byte, total unchanged', async () => {
    const r = await get(`${gws[0].url}/api/v1/activities/`);
    expect(r.status).toBe(200);
    expect(BOB_OUT).toContain(P_BOB);
    expect(BOB_OUT).not.toMatch(/(?<!x)bob(@|%40)contoso/i);
    expect(BOB_OUT).toContain('"k":"xbob@contoso.com"');
    // heidi's (hide group) is removed, dave's kept as is (the bob he names is not the actor: stays)
    expect(r.text).toBe(`{"data":[${BOB_OUT}, ${DAVE}],"total":2,"hasNext":false}`);
  });

  it('item: pseudonymised, not withheld; a hide group still withholds', async () => {
    const r = await get(`${gws[0].url}/api/v1/activities/a1/`);
    expect(r.status).toBe(200);
    expect(r.text).toBe(BOB_OUT);
    expect(Number(r.headers.get('content-length'))).toBe(Buffer.byteLength(BOB_OUT));
    expect((await get(`${gws[0].url}/api/v1/activities/a2/`)).status).toBe(404);
  });

  it('ndjson and json exports', async () => {
    expect((await get(`${gws[0].url}/api/v1/activities/export/ndjson/`)).text).toBe(`${BOB_OUT}\n${DAVE}\n`);
    // this route names no total: the envelope passes as sent
    expect((await get(`${gws[0].url}/api/v1/activities/export/json/`)).text).toBe(`{"data":[${BOB_OUT}, ${DAVE}],"total":3,"hasNext":false}`);
  });

  it('csv cells and cef extension values (the header stays)', async () => {
    const csv = (await get(`${gws[0].url}/api/v1/activities/export/`)).text;
    expect(csv).toBe(`_id,timestamp,userName,description\r\na1,2026-04-02T10:00:00Z,${P_BOB},"${P_BOB}, said ""hi"""\r\n`);
    const cef = (await get(`${gws[0].url}/api/v1/activities/export/cef/`)).text;
    expect(cef).toBe(`<134>CEF:0|V|P|1|sig|bob@contoso.com login|3|suser=${P_BOB} rt=1775124000000 externalId=a1 msg=user ${P_BOB} ok\n`);
  });

  it('the same pseudonym on a second instance and after a restart', async () => {
    const a = (await get(`${gws[0].url}/api/v1/activities/a1/`)).text;
    expect((await get(`${gws[1].url}/api/v1/activities/a1/`)).text).toBe(a);
    await gws[1].close();
    gws[1] = await startTestGateway({ ...config, governance: { sink: 'file', file: path.join(dir.dir, 'g3.jsonl') } });
    expect((await get(`${gws[1].url}/api/v1/activities/a1/`)).text).toBe(a);
  });

  it('a granted reveal shows the original bytes and counts the pseudonymised activity', async () => {
    const r = await get(`${gws[0].url}/api/v1/activities/`, { headers: { authorization: `Bearer ${token}`, 'x-show-private-activities': 'confirm' } });
    expect(r.status).toBe(200);
    expect(r.text).toBe(LIST);
    const log = (await readFile(path.join(dir.dir, 'governance.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const viewed = log.filter((e) => e.action === 'private-activities.viewed').pop();
    expect(viewed.privateActivities).toMatchObject({ count: 2, ids: ['a1', 'a2'] });
  });

  it('resolve and lookup over the admin API; no log line or metric carries the principal behind a pseudonym', async () => {
    const admin = (p: string, body: unknown) =>
      get(`${gws[0].url}/_gateway/api/pseudonyms/${p}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const reason = 'incident 4711, works council informed';
    const resolved = await admin('resolve', { pseudonym: P_BOB, reason });
    expect(resolved.status).toBe(200);
    expect(resolved.json()).toEqual({ pseudonym: P_BOB, principal: 'bob@contoso.com' });
    expect((await admin('lookup', { principal: 'bob@contoso.com', reason })).json().pseudonym).toBe(P_BOB);
    expect((await admin('resolve', { pseudonym: 'bob@contoso.com', reason })).status).toBe(400);
    // the person asking who saw them learns of the resolution and the lookup (SPEC §15)
    const report = await get(`${gws[0].url}/_gateway/api/reports/subject?principal=bob%40contoso.com`, {
      headers: { authorization: `Bearer ${token}`, 'x-reveal-reason': 'data-subject request 17' },
    });
    expect(report.status).toBe(200);
    expect(report.json().resolutions.map((r: { action: string }) => r.action)).toEqual(['pseudonym.resolved', 'pseudonym.looked-up']);
    for (const p of ['', 'a1/', 'export/', 'export/cef/', 'export/ndjson/', 'export/json/']) await get(`${gws[0].url}/api/v1/activities/${p}`);
    const metrics = (await get(`${gws[0].url}/_gateway/metrics`)).text;
    expect(logText.length).toBeGreaterThan(0);
    for (const text of [logText, metrics]) {
      expect(text).not.toMatch(/(?<!x)bob(@|%40)contoso/i);
      expect(text).not.toContain(P_BOB.slice(2, 20));
    }
  });
});
