/**
 * The real CLI as a child process (`node dist/cli.js serve --config <file>`):
 * SIGHUP with a good and a bad config, SIGTERM draining an in-flight request,
 * and a restart keeping admin changes and the governance chain.
 */
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateDataset } from '../../src/demo/dataset.js';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { ensureBuilt } from '../helpers/build.js';
import { children, spawnGateway, tryConnect } from '../helpers/cliProcess.js';
import { verifyChainFile } from '../helpers/chainVerifier.js';
import { demoLikeConfig, get, tempDir } from '../helpers/gateway.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';

describe('the CLI process: reload, shutdown, restart', () => {
  let api: SampleApi;
  let upstream: string;
  let key: TestKey;
  let idp: TestIdp;

  beforeAll(async () => {
    await ensureBuilt();
    // plus one external user's activity (no tags) after builtin:external-users became private
    api = createSampleApi({
      dataset: [...generateDataset({ count: 300 }), { _id: 'ext-fabrikam-1', timestamp: '2026-07-01T00:00:00Z', user: { userName: 'mallory@fabrikam.com' } }],
    });
    upstream = await api.listen(0, '127.0.0.1');
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
  }, 240_000);
  afterEach(() => {
    for (const c of children) c.kill('SIGKILL'); // only if a test failed midway
  });
  afterAll(async () => {
    await api?.close();
    await idp?.close();
  });

  const configObj = (dir: string, extra: Record<string, unknown> = {}) =>
    demoLikeConfig(upstream, dir, { logging: { level: 'info' }, identity: { issuer: ISS, audience: AUD, jwksUrl: idp.jwksUrl }, ...extra });
  // JSON is YAML: the file is written as JSON to keep the test independent of YAML quirks
  const writeConfig = (file: string, obj: Record<string, unknown>) => writeFile(file, JSON.stringify(obj, null, 2));

  it('SIGHUP with a good config swaps it without a restart; a bad one is rejected, logged as JSON and the old config kept', async () => {
    const { dir, cleanup } = await tempDir('apg-life-hup-');
    const file = path.join(dir, 'gateway.yaml');
    const base = configObj(dir);
    await writeConfig(file, base);
    const gw = await spawnGateway(file);
    try {
      // before: alerts pass through, external users' activities are hidden
      expect((await get(`${gw.url}/api/v1/alerts/`)).status).toBe(200);
      expect((await get(`${gw.url}/api/v1/activities/ext-fabrikam-1/`)).status).toBe(404);

      // good config: a new route in front and the external domain managed
      const routes = [{ path: '/api/v1/alerts/', kind: 'deny' }, ...(base.routes as unknown[])];
      const privacy = { ...(base.privacy as object), managedDomains: ['contoso.com', 'fabrikam.com'] };
      await writeConfig(file, { ...base, routes, privacy });
      gw.proc.kill('SIGHUP');
      await gw.waitForLog((l) => l.msg === 'config reloaded');
      const denied = await get(`${gw.url}/api/v1/alerts/`);
      expect(denied.status).toBe(404);
      expect(denied.json().error.code).toBe('route_denied');
      expect((await get(`${gw.url}/api/v1/activities/ext-fabrikam-1/`)).status).toBe(200);

      // bad config: several problems; the process keeps running with the previous config
      await writeConfig(file, { ...base, routes, upstream: { url: 'ftp://nope', timeoutMs: -1 }, surprise: true });
      gw.proc.kill('SIGHUP');
      const line = await gw.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('config reload rejected'));
      expect(line.level).toBe('error');
      const paths = (line.problems as Array<{ path: string }>).map((p) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['upstream.url', 'upstream.timeoutMs']));
      expect(paths.some((p) => p.includes('surprise'))).toBe(true);
      expect(gw.proc.exitCode).toBeNull();
      expect((await get(`${gw.url}/_gateway/healthz`)).status).toBe(200);
      expect((await get(`${gw.url}/api/v1/alerts/`)).status).toBe(404); // still the reloaded config
      expect((await get(`${gw.url}/api/v1/activities/?limit=5`)).status).toBe(200); // still the same upstream

      const metrics = (await get(`${gw.url}/_gateway/metrics`)).text;
      expect(metrics).toMatch(/^apg_config_reloads_total\{result="ok"\} 1$/m);
      expect(metrics).toMatch(/^apg_config_reloads_total\{result="rejected"\} 1$/m);
      // every stdout line is a JSON log line
      expect(gw.logs.filter((l: any) => 'notJson' in l)).toEqual([]);
      // the access line (src/log.ts fastInfo, the real CLI's stdout): one flat object, winston's sorted keys
      const access = await gw.waitForLog((l) => l.msg === 'access' && l.path === '/api/v1/alerts/' && l.status === 404);
      expect(access).toMatchObject({ level: 'info', message: 'access', method: 'GET', kind: 'deny', removed: 0, reveal: 'none' });
      expect(Object.keys(access).sort()).toEqual([
        'instance',
        'kind',
        'level',
        'message',
        'method',
        'ms',
        'msg',
        'path',
        'removed',
        'requestId',
        'reveal',
        'status',
        'timestamp',
      ]);
      expect(Number.isNaN(Date.parse(access.timestamp))).toBe(false);
      const raw = gw.rawLines.find((r) => r.includes('"msg":"access"'))!;
      expect(Object.keys(JSON.parse(raw))).toEqual(Object.keys(JSON.parse(raw)).sort());

      gw.proc.kill('SIGTERM');
      expect((await gw.exited).code).toBe(0);
    } finally {
      gw.proc.kill('SIGKILL');
      await cleanup();
    }
  });

  it('SIGTERM: the in-flight slow request completes with 200, new connections are refused, exit code 0', async () => {
    const { dir, cleanup } = await tempDir('apg-life-term-');
    const file = path.join(dir, 'gateway.yaml');
    await writeConfig(file, configObj(dir));
    const gw = await spawnGateway(file);
    try {
      const port = Number(new URL(gw.url).port);
      const seen = api.requests.length;
      // a keep-alive client, as real consumers use
      const agent = new http.Agent({ keepAlive: true });
      const inflight = new Promise<{ status: number; body: string }>((resolve, reject) => {
        http
          .get(`${gw.url}/api/v1/activities/?limit=20&delayMs=1500`, { agent }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => {
              body += d;
            });
            res.on('end', () => resolve({ status: res.statusCode!, body }));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      // wait until the upstream has the request, so it is really in flight
      for (let i = 0; i < 200 && api.requests.length === seen; i++) await new Promise((r) => setTimeout(r, 10));
      expect(api.requests.length).toBeGreaterThan(seen);

      gw.proc.kill('SIGTERM');
      await gw.waitForLog((l) => l.msg === 'shutting down');
      let refused = '';
      for (let i = 0; i < 50 && refused !== 'ECONNREFUSED'; i++) {
        refused = await tryConnect(port);
        if (refused !== 'ECONNREFUSED') await new Promise((r) => setTimeout(r, 20));
      }
      expect(refused).toBe('ECONNREFUSED');
      expect(gw.proc.exitCode).toBeNull(); // still draining

      const r = await inflight;
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body).data.length).toBeGreaterThan(0);
      const exit = await gw.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      agent.destroy();
    } finally {
      gw.proc.kill('SIGKILL');
      await cleanup();
    }
  });

  it('restart: admin changes and the governance chain survive the process', async () => {
    const { dir, cleanup } = await tempDir('apg-life-restart-');
    const file = path.join(dir, 'gateway.yaml');
    // restart-grp is a catalogue group (SPEC §9: only those can be made private)
    await writeConfig(file, configObj(dir, { directory: { groups: { hr: ['bob@contoso.com', 'carol@contoso.com'] }, knownGroups: [{ id: 'restart-grp' }] } }));
    const now = Math.floor(Date.now() / 1000);
    const t = await signToken(key, { iss: ISS, aud: AUD, iat: now, exp: now + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    const h = { authorization: `Bearer ${t}`, 'content-type': 'application/json' };
    let gw = await spawnGateway(file);
    try {
      expect((await get(`${gw.url}/_gateway/api/privacy/groups`, { method: 'POST', headers: h, body: '{"id":"restart-grp"}' })).status).toBe(201);
      expect((await get(`${gw.url}/_gateway/api/privacy/permissions`, { method: 'POST', headers: h, body: '{"principal":"judy@contoso.com"}' })).status).toBe(
        201,
      );
      const groups = (await get(`${gw.url}/_gateway/api/privacy/groups`, { headers: h })).json();
      gw.proc.kill('SIGTERM');
      expect((await gw.exited).code).toBe(0);

      gw = await spawnGateway(file);
      expect((await get(`${gw.url}/_gateway/api/privacy/groups`, { headers: h })).json()).toEqual(groups);
      const perms = (await get(`${gw.url}/_gateway/api/privacy/permissions`, { headers: h })).json().permissions.map((p: any) => p.principal);
      expect(perms.sort()).toEqual(['alice@contoso.com', 'judy@contoso.com']);
      expect((await get(`${gw.url}/_gateway/api/privacy/groups/restart-grp`, { method: 'DELETE', headers: h })).status).toBe(204);
      gw.proc.kill('SIGTERM');
      expect((await gw.exited).code).toBe(0);

      const chain = verifyChainFile(path.join(dir, 'governance.jsonl'));
      expect(chain.ok).toBe(true);
      expect(chain.entries.map((e: any) => [e.seq, e.action, e.target, e.instance])).toEqual([
        [1, 'privacy-group.added', 'restart-grp', 'lifecycle'],
        [2, 'reveal-permission.granted', 'judy@contoso.com', 'lifecycle'],
        [3, 'privacy-group.removed', 'restart-grp', 'lifecycle'],
      ]);
      // the token never reaches the logs
      expect(gw.rawLines.join('\n')).not.toContain(t.split('.')[2]);
    } finally {
      gw.proc.kill('SIGKILL');
      await cleanup();
    }
  });
});
