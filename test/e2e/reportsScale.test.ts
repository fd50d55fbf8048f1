/**
 * SPEC §15 at scale: a subject report and the summary over a large file log answer in
 * seconds with flat memory. The log is a valid chain made with the sink's own buildEntry.
 * 20,000 entries by default; the figure in docs/reports.md is
 * `APG_REPORTS_ENTRIES=1000000 npx vitest run test/e2e/reportsScale.test.ts`.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { buildEntry, GENESIS } from '../../src/governance/chain.js';
import type { GovernanceEntryInput } from '../../src/governance/types.js';
import { demoLikeConfig, tempDir, validConfig } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';
const ENTRIES = Number(process.env.APG_REPORTS_ENTRIES ?? 20_000);
const T0 = Date.parse('2026-01-01T00:00:00Z');
const SUBJECT = 'bob@contoso.com';

/** Every 1000th entry shows Bob's activities; the rest is a mix of reveals of others, refusals and requests. */
function input(seq: number): GovernanceEntryInput {
  const request = { id: `req-${seq}`, method: 'GET', path: '/api/v1/activities/', query: 'limit=100', clientIp: '10.0.0.7', userAgent: 'siem/1.0' };
  const viewer = `admin${seq % 7}@contoso.com`;
  if (seq % 10 === 3)
    return { action: 'private-activities.denied', principal: viewer, via: 'header', request, denial: { code: 'reveal_forbidden', message: 'No permission.' } };
  if (seq % 10 === 7) return { action: 'reveal-request.created', principal: viewer, via: 'admin-api', request, target: `r-${seq}`, reason: `case ${seq}` };
  const actors = [
    { principal: `user${seq % 5000}@contoso.com`, count: 2 },
    { principal: `user${(seq * 7) % 5000}@contoso.com`, count: 1 },
  ];
  if (seq % 1000 === 0) actors.push({ principal: SUBJECT, count: 3 });
  const n = actors.reduce((s, a) => s + a.count, 0);
  return {
    action: 'private-activities.viewed',
    principal: viewer,
    via: 'header',
    request,
    privateActivities: { count: n, ids: Array.from({ length: n }, (_, i) => `act-${seq}-${i}`), actors },
    reason: `Incident ${seq % 997}, reviewed by the SOC`,
    token: { iss: ISS, jti: `jti-${seq}` },
  };
}

function fetchText(url: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe(`reports over a ${ENTRIES}-entry file log`, () => {
  let idp: TestIdp;
  let key: TestKey;
  let gw: Gateway;
  let auth: Record<string, string>;
  let cleanup: () => Promise<void>;
  let fileBytes = 0;

  beforeAll(async () => {
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const now = Math.floor(Date.now() / 1000);
    auth = {
      authorization: `Bearer ${await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 3600, upn: 'dpo@contoso.com', roles: ['SecurityAdministrator'] })}`,
      'x-reveal-reason': 'Art. 15 request, scale test',
    };
    const t = await tempDir();
    cleanup = t.cleanup;
    const file = path.join(t.dir, 'governance.jsonl');
    const out = createWriteStream(file);
    const g0 = performance.now();
    let prevHash = GENESIS;
    for (let seq = 1; seq <= ENTRIES; seq++) {
      // one entry a minute: about two years at 1,000,000 entries
      const e = buildEntry(input(seq), { seq, prevHash, instance: 'gw-1', time: new Date(T0 + seq * 60_000).toISOString() });
      prevHash = e.hash;
      if (!out.write(JSON.stringify(e) + '\n')) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    fileBytes = (await stat(file)).size;
    console.log(
      `[reports scale] generated ${ENTRIES} chained entries (${(fileBytes / 1024 ** 2).toFixed(0)} MiB) in ${((performance.now() - g0) / 1000).toFixed(1)} s`,
    );
    const s0 = performance.now();
    gw = await startGateway(validConfig(demoLikeConfig('http://127.0.0.1:9', t.dir, { identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl } })), {
      port: 0,
      host: '127.0.0.1',
      logger: winston.createLogger({ silent: true }),
    });
    console.log(`[reports scale] gateway opened the log in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
  }, 1_800_000);
  afterAll(async () => {
    await gw?.close(500);
    await idp?.close();
    await cleanup?.();
  });

  const measure = async (name: string, url: string) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(typeof gc).toBe('function');
    gc!();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    // RSS as it is, no forced collection while the report runs: the time is the report's own
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);
    const t0 = performance.now();
    const r = await fetchText(url, auth);
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const growth = (peak - rss0) / 1024 ** 2;
    console.log(
      `[reports scale] ${name}: ${ENTRIES} entries in ${seconds.toFixed(2)} s; RSS before ${(rss0 / 1024 ** 2).toFixed(0)} MB, peak growth ${growth.toFixed(1)} MB`,
    );
    expect(r.status).toBe(200);
    expect(growth).toBeLessThan(64);
    return r;
  };

  it('a subject report (JSON and CSV) and the monthly summary: complete, flat memory', async () => {
    const json = await measure('subject JSON', `${gw.url}/_gateway/api/reports/subject?principal=${SUBJECT}`);
    const report = JSON.parse(json.text);
    expect(report.views).toHaveLength(Math.floor(ENTRIES / 1000));
    expect(report.views.every((v: { activities: number }) => v.activities === 3)).toBe(true);
    expect(report.entriesWithoutActors).toBe(0);
    const csv = await measure('subject CSV', `${gw.url}/_gateway/api/reports/subject?principal=${SUBJECT}&format=csv&includeViewers=true`);
    expect(csv.text.split('\r\n')).toHaveLength(Math.floor(ENTRIES / 1000) + 2);
    const summary = await measure('summary by month', `${gw.url}/_gateway/api/reports/summary?bucket=month`);
    const buckets = JSON.parse(summary.text).buckets as { reveals: number; revealsDenied: number; requests: { created: number } }[];
    const viewed = Array.from({ length: ENTRIES }, (_, i) => (i + 1) % 10).filter((r) => r !== 3 && r !== 7).length;
    expect(buckets.reduce((n, b) => n + b.reveals, 0)).toBe(viewed);
    expect(buckets.reduce((n, b) => n + b.revealsDenied + b.requests.created, 0)).toBe(ENTRIES - viewed);
  }, 1_800_000);
});
