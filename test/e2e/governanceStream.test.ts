/**
 * `GET api/governance?format=ndjson|csv` streams the whole log in constant
 * memory (SPEC §7): a file log much larger than the memory the gateway may
 * grow by is sent completely, and a PostgreSQL log longer than one page of the
 * keyset stream comes out complete and in order.
 */
import { createWriteStream } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { demoLikeConfig, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
import { freshDatabase, sql } from '../helpers/postgres.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const ENTRIES = Number(process.env.APG_GOVERNANCE_STREAM_ENTRIES ?? 150_000);
const HEX = 'ab'.repeat(32);
const db = await freshDatabase();
if (!db) console.warn('\n##### test/e2e/governanceStream.test.ts: no PostgreSQL, the PostgreSQL stream test is SKIPPED #####\n');

function entryLine(seq: number): string {
  return JSON.stringify({
    seq,
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    time: new Date(Date.parse('2026-01-01T00:00:00Z') + seq * 1000).toISOString(),
    action: seq % 3 === 0 ? 'private-activities.denied' : 'private-activities.viewed',
    principal: `user${seq % 7}@contoso.com`,
    via: 'header',
    request: { id: `req-${seq}`, method: 'GET', path: '/api/v1/activities/', query: 'limit=100', clientIp: '127.0.0.1', userAgent: 'load/1.0' },
    privateActivities: { count: 3, ids: [`a${seq}`, `b${seq}`, `c${seq}`], idsTruncated: false },
    reason: `case ${seq}, reviewed`,
    instance: 'gw-1',
    prevHash: HEX,
    hash: HEX,
  });
}

async function download(url: string, headers: Record<string, string>): Promise<{ status: number; bytes: number; lines: number; last: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        let bytes = 0;
        let lines = 0;
        let tail = '';
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          for (let i = c.indexOf(10); i !== -1; i = c.indexOf(10, i + 1)) lines++;
          tail = (tail + c.toString('utf8')).slice(-2000);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, lines, last: tail.trimEnd().split('\n').at(-1) ?? '' }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('governance streams', () => {
  let idp: TestIdp;
  let key: TestKey;
  let auth: Record<string, string>;
  beforeAll(async () => {
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const now = Math.floor(Date.now() / 1000);
    auth = {
      authorization: `Bearer ${await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 3600, upn: 'root@contoso.com', roles: ['SecurityAdministrator'] })}`,
    };
  });
  afterAll(async () => {
    await idp?.close();
  });

  it(`streams a ${ENTRIES}-entry file log as NDJSON and CSV with bounded memory`, async () => {
    const t = await tempDir();
    let gw: Gateway | undefined;
    try {
      const file = path.join(t.dir, 'governance.jsonl');
      const out = createWriteStream(file);
      for (let seq = 1; seq <= ENTRIES; seq++) {
        if (!out.write(entryLine(seq) + '\n')) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      gw = await startGateway(validConfig(demoLikeConfig('http://127.0.0.1:9', t.dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } })), {
        port: 0,
        host: '127.0.0.1',
        logger: winston.createLogger({ silent: true }),
      });
      const gc = (globalThis as { gc?: () => void }).gc;
      expect(typeof gc).toBe('function');
      for (const format of ['ndjson', 'csv'] as const) {
        gc!();
        const rss0 = process.memoryUsage().rss;
        let peak = rss0;
        const sampler = setInterval(() => {
          gc!();
          peak = Math.max(peak, process.memoryUsage().rss);
        }, 200);
        const r = await download(`${gw.url}/_gateway/api/governance?format=${format}`, auth);
        clearInterval(sampler);
        const growth = (peak - rss0) / 1024 / 1024;
        console.log(`[governance ${format}] ${ENTRIES} entries, ${(r.bytes / 1024 ** 2).toFixed(0)} MiB streamed; RSS growth ${growth.toFixed(1)} MB`);
        expect(r.status).toBe(200);
        expect(r.lines).toBe(format === 'csv' ? ENTRIES + 1 : ENTRIES);
        expect(r.last.startsWith(format === 'csv' ? `${ENTRIES},` : `{"seq":${ENTRIES},`)).toBe(true);
        expect(r.bytes).toBeGreaterThan(ENTRIES * 150);
        expect(growth).toBeLessThan(48);
      }
      // filters apply to the stream too
      const denied = await download(`${gw.url}/_gateway/api/governance?format=ndjson&action=private-activities.denied&principal=user0@contoso.com`, auth);
      expect(denied.lines).toBe(Array.from({ length: ENTRIES }, (_, i) => i + 1).filter((s) => s % 3 === 0 && s % 7 === 0).length);
    } finally {
      await gw?.close(500);
      await t.cleanup();
    }
  }, 300_000);

  it.skipIf(!db)(
    'streams a PostgreSQL log longer than one keyset page, complete and in seq order',
    async () => {
      const t = await tempDir();
      let gw: Gateway | undefined;
      try {
        const url = db!.url;
        gw = await startGateway(
          validConfig(
            demoLikeConfig('http://127.0.0.1:9', t.dir, {
              identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl },
              governance: { sink: 'postgres', postgresUrl: url },
            }),
          ),
          { port: 0, host: '127.0.0.1', logger: winston.createLogger({ silent: true }) },
        );
        const n = 1234;
        await sql(
          url,
          `INSERT INTO governance_log (seq, id, time, action, entry, line, prev_hash, hash)
        SELECT s, gen_random_uuid(), '2026-01-01T00:00:00Z'::timestamptz + s * interval '1 second', 'private-activities.viewed',
               jsonb_build_object('seq', s), json_build_object('seq', s, 'time', '2026-01-01T00:00:00Z', 'action', 'private-activities.viewed', 'principal', 'p@contoso.com')::text, '', ''
          FROM generate_series(1, ${n}) AS s`,
        );
        const r = await download(`${gw.url}/_gateway/api/governance?format=ndjson&afterSeq=2`, auth);
        expect(r.lines).toBe(n - 2);
        expect(JSON.parse(r.last).seq).toBe(n);
        const csv = await download(`${gw.url}/_gateway/api/governance?format=csv&since=${encodeURIComponent('2026-01-01T00:10:00Z')}&limit=5000`, auth);
        expect(csv.lines).toBe(1 + n - 599);
      } finally {
        await gw?.close(500);
        await db?.drop();
        await t.cleanup();
      }
    },
    120_000,
  );
});
