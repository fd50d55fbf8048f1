import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseConfig, type GatewayConfig } from '../../src/config/index.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };

/** The demo's privacy settings, as a plain config object (validated through the real schema). */
export function demoLikeConfig(upstreamUrl: string, dir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    upstream: { url: upstreamUrl, timeoutMs: 5000 },
    privacy: {
      managedDomains: ['contoso.com'],
      groups: [
        { id: 'hr', name: 'Human Resources', privateSince: '2026-03-01T00:00:00Z' },
        { id: 'builtin:external-users', name: 'External users', privateSince: '2026-06-01T00:00:00Z' },
        { id: 'legal', name: 'Legal', privateSince: '2026-02-01T00:00:00Z', privateUntil: '2026-05-01T00:00:00Z' },
      ],
      permissions: ['alice@contoso.com'],
    },
    directory: { groups: { hr: ['bob@contoso.com', 'carol@contoso.com'], legal: ['heidi@contoso.com'] } },
    activities: {
      id: '_id',
      timestamp: 'timestamp',
      actor: ['user.userName', 'failedUserData.userName'],
      groups: ['user.userTags', 'resolvedActor.tags'],
      application: { path: 'actorType', equals: ['APPLICATION'] },
    },
    routes: [
      { path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data', total: 'total' },
      { path: '/api/v1/activities/export/ndjson/', kind: 'export', format: 'ndjson' },
      { path: '/api/v1/activities/export/json/', kind: 'export', format: 'json', items: 'data' },
      { path: '/api/v1/activities/export/cef/', kind: 'export', format: 'cef' },
      { path: '/api/v1/activities/export/', kind: 'export', format: 'csv' },
      { path: '/api/v1/activities/:id/', methods: ['GET'], kind: 'item' },
      { path: '/api/v1/**', kind: 'passthrough' },
      { path: '/**', kind: 'deny' },
    ],
    governance: { sink: 'file', file: path.join(dir, 'governance.jsonl') },
    state: { store: 'file', file: path.join(dir, 'state.json') },
    logging: { level: 'error' },
    ...extra,
  };
}

export function validConfig(obj: Record<string, unknown>): GatewayConfig {
  const r = parseConfig(JSON.stringify(obj), {});
  if (!r.ok) throw new Error('test config invalid:\n' + r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return r.config;
}

export async function tempDir(prefix = 'apg-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function startTestGateway(obj: Record<string, unknown>, opts: GatewayOptions = {}): Promise<Gateway> {
  const config = validConfig(obj);
  return startGateway(config, { port: 0, host: '127.0.0.1', instance: 'test', logger: createLogger(process.env.APG_TEST_LOG ?? 'error', 'test'), ...opts });
}

export interface Fetched {
  status: number;
  headers: Headers;
  body: Buffer;
  text: string;
  json: () => any;
}

/** fetch over a real socket, returning the whole body */
export async function get(url: string, init: RequestInit = {}): Promise<Fetched> {
  const r = await fetch(url, { ...init, redirect: 'manual' });
  const body = Buffer.from(await r.arrayBuffer());
  const text = body.toString('utf8');
  return { status: r.status, headers: r.headers, body, text, json: () => JSON.parse(text) };
}

/** The sample API and a gateway with the demo's policy in front of it, in this process. */
export interface DemoStack {
  api: import('../../src/demo/sampleApi.js').SampleApi;
  upstream: string;
  gw: Gateway;
  close(): Promise<void>;
}

export async function startDemoStack(
  extra: Record<string, unknown> = {},
  opts: GatewayOptions = {},
  apiOpts: import('../../src/demo/sampleApi.js').SampleApiOptions = {},
): Promise<DemoStack> {
  const { createSampleApi } = await import('../../src/demo/sampleApi.js');
  const api = createSampleApi(apiOpts);
  const upstream = await api.listen(0, '127.0.0.1');
  const t = await tempDir();
  const gw = await startTestGateway(demoLikeConfig(upstream, t.dir, extra), opts);
  return {
    api,
    upstream,
    gw,
    async close() {
      await gw.close(1000);
      await api.close();
      await t.cleanup();
    },
  };
}
