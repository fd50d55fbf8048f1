/**
 * The parts unit tests of the stages and admin routes are built from: real modules with
 * in-memory state, a real file governance sink in a temp dir, a real static directory, a
 * manual clock, a capturing logger, and loopback servers (the gateway's side and the
 * upstream's). Nothing here replaces a module of src/.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { Clock } from '../../src/clock.js';
import type { GatewayConfig } from '../../src/config/index.js';
import type { ConsoleParts } from '../../src/console/index.js';
import type { Directory } from '../../src/directory/index.js';
import type { KnownGroups } from '../../src/directory/knownGroups.js';
import { openFileSink, type FileGovernanceSink } from '../../src/governance/fileSink.js';
import type { GovernanceSink } from '../../src/governance/types.js';
import { buildRuntime, engineOptions, makeDirectory, stateSeed } from '../../src/gatewayParts.js';
import { createDispatcher, type ExchangeHandler } from '../../src/http/dispatch.js';
import { createPipeline, type Pipeline } from '../../src/http/pipeline.js';
import type { Runtime } from '../../src/http/runtime.js';
import { flatten, type Logger } from '../../src/log.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import type { RevealRequest } from '../../src/privacy/approval.js';
import { PrivacyEngine } from '../../src/privacy/engine.js';
import { createMemoryStateStore } from '../../src/state/memoryStore.js';
import { seedState } from '../../src/state/mutations.js';
import { createAdminApp } from '../../src/admin/app.js';
import type { AdminDeps, RequestEvent } from '../../src/admin/deps.js';
import { demoLikeConfig, tempDir, validConfig } from './gateway.js';

/** A clock the test moves; nothing sleeps. */
export interface ManualClock extends Clock {
  set(ms: number): void;
  advance(ms: number): void;
}

export const T0 = Date.parse('2026-07-01T12:00:00Z');

export function manualClock(start = T0): ManualClock {
  let t = start;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

/** A winston logger with the gateway's flat fields, whose lines are kept as objects (no fast access-line path: that needs createLogger). */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    objectMode: true,
    write(info: Record<string, unknown>, _enc, cb) {
      lines.push(info);
      cb();
    },
  });
  const logger = winston.createLogger({ level: 'info', format: flatten(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, lines };
}

export interface Listening {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/** A loopback server for `handler` on a free port. */
export async function listen(handler: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** The activity-log API: a local server answering with `reply` (settable), remembering what it was sent. */
export interface TestUpstream extends Listening {
  seen: SeenRequest[];
  reply: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

export async function startUpstream(reply: TestUpstream['reply'] = (_req, res) => res.end()): Promise<TestUpstream> {
  const up = { seen: [] as SeenRequest[], reply } as TestUpstream;
  const l = await listen((req, res) => {
    up.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    req.resume();
    req.on('end', () => up.reply(req, res));
  });
  return Object.assign(up, l);
}

/** A JSON answer of the upstream. */
export function json(status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): TestUpstream['reply'] {
  return (_req, res) => {
    const bytes = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...headers });
    res.end(bytes);
  };
}

/** Activities of the demo's policy: bob is in `hr` (private since 2026-03-01); dave is in no private group. */
export const PUBLIC_ACTIVITY = { _id: 'a-public', timestamp: '2026-06-10T10:00:00Z', user: { userName: 'dave@contoso.com', userTags: [] } };
export const PRIVATE_ACTIVITY = { _id: 'a-private', timestamp: '2026-06-10T11:00:00Z', user: { userName: 'bob@contoso.com', userTags: [] } };

/**
 * Everything the pipeline and the admin app are made of, from the demo's policy: config,
 * runtime, in-memory state seeded from it, a file sink in a temp dir, the static directory,
 * the engine — all real, on one manual clock.
 */
export interface Parts {
  dir: string;
  config: GatewayConfig;
  rt: Runtime;
  clock: ManualClock;
  state: ReturnType<typeof createMemoryStateStore>;
  /** the sink the parts see; set it to null to take governance away */
  sink: FileGovernanceSink | null;
  fileSink: FileGovernanceSink;
  directory: Directory;
  engine: PrivacyEngine;
  knownGroups: KnownGroups;
  metrics: Metrics;
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  governance: () => GovernanceSink | null;
  notified: Array<[RequestEvent, RevealRequest]>;
  /** AdminDeps of these parts, with the given proxy, console and checkpoint */
  adminDeps(o?: {
    proxy?: ExchangeHandler;
    console?: ConsoleParts | null;
    checkpoint?: AdminDeps['checkpoint'];
    pseudonymiser?: AdminDeps['pseudonymiser'];
  }): AdminDeps;
  close(): Promise<void>;
}

export async function makeParts(upstreamUrl: string, extra: Record<string, unknown> = {}, clock = manualClock()): Promise<Parts> {
  const t = await tempDir('apg-unit-');
  const config = validConfig(demoLikeConfig(upstreamUrl, t.dir, extra));
  const rt = await buildRuntime(config);
  const state = createMemoryStateStore(seedState(stateSeed(config), clock.now()));
  const fileSink = await openFileSink({ file: path.join(t.dir, 'governance.jsonl'), instance: 'unit', clock });
  const metrics = createMetrics();
  const { logger, lines } = captureLogger();
  const directory = makeDirectory(config, { metrics, logger, clock, config: () => config, state });
  const engine = new PrivacyEngine(engineOptions(config, directory), state, clock);
  const knownGroups: KnownGroups = { isKnownGroup: (id) => directory.catalogue.isKnownGroup(id) };
  const parts: Parts = {
    dir: t.dir,
    config,
    rt,
    clock,
    state,
    sink: fileSink,
    fileSink,
    directory,
    engine,
    knownGroups,
    metrics,
    logger,
    lines,
    governance: () => parts.sink,
    notified: [],
    adminDeps: (o = {}) => ({
      clock,
      config: () => config,
      state: () => state,
      governance: () => parts.sink,
      identity: () => rt.identity,
      directory: () => directory,
      samePerson: async (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase(),
      knownGroups,
      permission: (p) => engine.permission(p),
      memberOfAny: (p, g) => engine.memberOfAny(p, g),
      notify: (event, request) => parts.notified.push([event, request]),
      metrics,
      logger,
      ready: async () => {
        const checks = { config: true, state: state.healthy(), governance: parts.sink?.healthy() ?? false };
        return { ready: Object.values(checks).every(Boolean), checks };
      },
      checkpoint: o.checkpoint ?? (() => null),
      pseudonymiser: o.pseudonymiser ?? (() => rt.pseudonymiser),
      console: o.console ?? null,
      proxy: o.proxy ?? { handle: () => undefined },
    }),
    async close() {
      engine.close();
      directory.close();
      rt.agent.destroy();
      await fileSink.close();
      await t.cleanup();
    },
  };
  return parts;
}

/** The entries the sink holds now. */
export async function entries(parts: Pick<Parts, 'fileSink'>): Promise<Array<Record<string, any>>> {
  return (await parts.fileSink.read({ limit: 1000 })).entries as Array<Record<string, any>>;
}

/** A raw HTTP/1.1 request over a socket, for targets fetch would normalise (`..`, `%2F`). */
export function rawRequest(
  url: string,
  o: { method?: string; path: string; headers?: http.OutgoingHttpHeaders; body?: string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: o.method ?? 'GET', path: o.path, headers: o.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

/** The gateway's two peers behind the real dispatcher, from `parts`: the real pipeline and the real admin app. */
export interface ProxyServer extends Listening {
  pipeline: Pipeline;
}

export async function startDispatcher(parts: Parts): Promise<ProxyServer> {
  const pipeline = createPipeline({
    engine: parts.engine,
    governance: parts.governance,
    logger: parts.logger,
    metrics: parts.metrics,
    knownGroups: parts.knownGroups,
    clock: parts.clock,
  });
  const admin = createAdminApp(parts.adminDeps({ proxy: pipeline }));
  const l = await listen(createDispatcher({ runtime: () => parts.rt, admin, proxy: pipeline, metrics: parts.metrics, logger: parts.logger }));
  return {
    ...l,
    pipeline,
    close: async () => {
      await l.close();
      pipeline.close();
    },
  };
}
