import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { createAdminApp } from './admin/app.js';
import { createWebhook, type Webhook } from './notify/webhook.js';
import { openConsole, type ConsoleForward } from './console/index.js';
import type { GatewayConfig } from './config/index.js';
import { openFileSink } from './governance/fileSink.js';
import { startForwarding, type Forwarding } from './governance/forward/index.js';
import { openPostgresSink } from './governance/postgresSink.js';
import { openPostgresStateStore } from './state/postgresStore.js';
import type { GovernanceSink } from './governance/types.js';
import { createPipeline } from './http/pipeline.js';
import type { Runtime } from './http/runtime.js';
import { createIdentityVerifier, type IdentityVerifier } from './identity/index.js';
import { loadEngine } from './engine/wasmScan.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { PrivacyEngine, type EngineOptions } from './privacy/engine.js';
import { createDirectory, localGroupNames, type Directory } from './directory/index.js';
import type { KnownGroups } from './directory/knownGroups.js';
import type { DirectoryObserver } from './directory/types.js';
import { compileExtractor, factsFromFields } from './privacy/extract.js';
import type { ActivitiesSpec } from './privacy/types.js';
import { compileFieldReader } from './rewrite/fieldReader.js';
import { compileRoutes } from './routes/table.js';
import { openFileStateStore } from './state/fileStore.js';
import type { StateSeed } from './state/mutations.js';
import type { StateStore } from './state/types.js';

export interface GatewayOptions {
  logger?: Logger;
  /** name written into governance entries; default $APG_INSTANCE or the host name */
  instance?: string;
  /** override listen port (tests use 0) */
  port?: number;
  host?: string;
  /** monotonic clock (ms) of the directory caches and the catalogue; tests advance it instead of sleeping */
  directoryClock?: () => number;
  /** use these stores instead of the configured ones (tests, embedding) */
  stores?: { state: StateStore; governance: GovernanceSink };
  /** the clock of permission expiry, approval windows and console sessions (tests move it); default Date.now */
  now?: () => number;
  /** where the built console app lives; default dist/ui */
  uiDir?: string;
  /** forwarding knobs for tests: clock, poll and lease intervals */
  forwarding?: { now?: () => number; pollMs?: number; leaseRetryMs?: number };
}

export interface Gateway {
  server: http.Server;
  url: string;
  port: number;
  metrics: Metrics;
  state: StateStore;
  governance: GovernanceSink;
  /** delivery of the governance log to SIEM targets and its checkpoints (SPEC §12) */
  forwarding: Forwarding;
  engine: PrivacyEngine;
  logger: Logger;
  config(): GatewayConfig;
  /** validates nothing: pass an already validated config; swaps routes, policy and identity atomically */
  reload(config: GatewayConfig): Promise<void>;
  /** stop accepting, let in-flight requests finish (up to drainMs), flush stores */
  close(drainMs?: number): Promise<void>;
}

async function buildRuntime(config: GatewayConfig, previous?: Runtime): Promise<Runtime> {
  const spec: ActivitiesSpec = config.activities;
  const identity: IdentityVerifier | null = config.identity ? await createIdentityVerifier({ ...config.identity }) : null;
  const target = new URL(config.upstream.url);
  const sameTarget = previous && previous.target.origin === target.origin;
  const extract = compileExtractor(spec);
  return {
    config,
    routes: compileRoutes(config.routes),
    extract,
    read: compileFieldReader(spec),
    fromFields: (fields) => factsFromFields(fields, spec),
    identity,
    target,
    // A keep-alive agent roughly triples throughput to a local upstream; reused across reloads to the same origin.
    agent: sameTarget ? previous.agent : new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo' }),
  };
}

/** Directory metrics, and a warning per failing source at most once a minute (the reason is a fixed text, never directory data). */
function directoryObserver(metrics: Metrics, logger: Logger): DirectoryObserver {
  const lastWarned = new Map<string, number>();
  return {
    lookup: (source, outcome) => metrics.directoryLookups.inc({ source, outcome }),
    latency: (source, seconds) => metrics.directoryLatency.observe({ source }, seconds),
    catalogue: (source, outcome) => metrics.directoryCatalogue.inc({ source, outcome }),
    failed: (source, reason) => {
      const now = Date.now();
      if (now - (lastWarned.get(source) ?? -Infinity) < 60_000) return;
      lastWarned.set(source, now);
      logger.warn({ msg: 'directory source failing; its lookups are undecidable unless cached', source, reason });
    },
  };
}

function engineOptions(config: GatewayConfig, directory: Directory): EngineOptions {
  return {
    managedDomains: config.privacy.managedDomains,
    undecidable: config.privacy.undecidable,
    directoryGroups: config.directory.groups ?? {},
    // only a remote source makes the decision wait for I/O; static membership stays synchronous
    directory: directory.sources.length > 0 ? directory : undefined,
  };
}

export function stateSeed(config: GatewayConfig): StateSeed {
  return {
    groups: config.privacy.groups.map((g) => ({ id: g.id, name: g.name, privateSince: g.privateSince, privateUntil: g.privateUntil ?? null })),
    permissions: config.privacy.permissions,
  };
}

export async function openStores(config: GatewayConfig, instance: string, logger?: Logger): Promise<{ state: StateStore; governance: GovernanceSink }> {
  // Database errors are logged by kind only: messages never carry entry content or principals.
  const onError = (what: string) => (err: unknown) =>
    logger?.warn({ msg: `${what} database error`, code: (err as { code?: string })?.code, error: (err as Error)?.message });
  const state =
    config.state.store === 'postgres'
      ? await openPostgresStateStore({ url: config.state.postgresUrl!, seed: stateSeed(config), instance, onError: onError('state') })
      : await openFileStateStore(config.state.file, stateSeed(config));
  try {
    const governance =
      config.governance.sink === 'postgres'
        ? await openPostgresSink({ url: config.governance.postgresUrl!, instance, onError: onError('governance') })
        : await openFileSink({ file: config.governance.file, instance });
    return { state, governance };
  } catch (err) {
    await state.close();
    throw err;
  }
}

export async function startGateway(initial: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const instance = opts.instance ?? process.env.APG_INSTANCE ?? os.hostname();
  loadEngine();
  const logger = opts.logger ?? createLogger(initial.logging.level, instance);
  const metrics = createMetrics();
  const stores = opts.stores ?? (await openStores(initial, instance, logger));
  const { state } = stores;
  let forwarding: Forwarding;
  try {
    forwarding = await startForwarding({ config: initial.governance, sink: stores.governance, instance, logger, metrics, ...opts.forwarding });
  } catch (err) {
    await stores.governance.close();
    await state.close();
    throw err;
  }
  // every committed entry wakes the forwarders; they read it back from the sink, never delaying the request
  const governance = notifyOnAppend(stores.governance, (seq) => forwarding.wake(seq));
  let runtime = await buildRuntime(initial);
  const makeDirectory = (config: GatewayConfig): Directory =>
    createDirectory(config.directory, {
      observer: directoryObserver(metrics, logger),
      // no directory data in the log: the attribute name and a count only
      warn: (msg, fields) => logger.warn({ msg, ...fields }),
      localNames: localNamesMemo(),
      now: opts.directoryClock,
    });
  /** the catalogue re-merges only when the names change: one Map per (config, state) pair */
  function localNamesMemo(): () => ReadonlyMap<string, string> {
    let memo: { config: GatewayConfig; groups: unknown; names: ReadonlyMap<string, string> } | undefined;
    return () => {
      const config = runtime.config;
      const groups = state.current().groups;
      if (memo?.config !== config || memo.groups !== groups) memo = { config, groups, names: localGroupNames(config, groups) };
      return memo.names;
    };
  }
  let directory = makeDirectory(initial);
  const retiredDirectories = new Set<Directory>();
  const engine = new PrivacyEngine(engineOptions(initial, directory), state);

  const ready = async () => {
    const checks: Record<string, boolean> = {
      config: true,
      state: state.healthy(),
      governance: governance.healthy(),
    };
    if (runtime.identity) checks.identity = await runtime.identity.ready().catch(() => false);
    return { ready: Object.values(checks).every(Boolean), checks };
  };

  const now = opts.now ?? Date.now;
  // SPEC §10: reveal scopes and scoped permissions name catalogue groups (the directory of the current configuration)
  const knownGroups: KnownGroups = { isKnownGroup: (id) => directory.catalogue.isKnownGroup(id) };
  // SPEC §11 notifications: one webhook per configured URL, never blocking a request
  let webhook: { url: string; hook: Webhook } | undefined;
  const notify = (event: string, request: unknown): void => {
    const url = runtime.config.reveal.approval?.webhookUrl;
    if (!url) return;
    if (webhook?.url !== url)
      webhook = {
        url,
        hook: createWebhook({
          url,
          onFailure: (e, err) => logger.warn({ msg: 'webhook delivery failed', event: e, error: err instanceof Error ? err.message : String(err) }),
        }),
      };
    webhook.hook.notify(event, request);
  };
  // The admin console (SPEC §13); its activity log calls are handed to the pipeline below.
  let forward: ConsoleForward = () => {
    throw new Error('pipeline not ready');
  };
  const consoleHandler = initial.console
    ? await openConsole(initial.console, initial, instance, {
        config: () => runtime.config,
        forward: (req, res, identity) => forward(req, res, identity),
        now,
        logger,
        metrics,
        uiDir: opts.uiDir,
      })
    : null;

  const admin = createAdminApp({
    state: () => state,
    reveal: () => runtime.config.reveal,
    permission: (p) => engine.permission(p),
    memberOfAny: (p, g) => engine.memberOfAny(p, g),
    notify,
    knownGroups,
    now,
    governance: () => governance,
    identity: () => runtime.identity,
    metrics,
    ready,
    logger,
    console: () => consoleHandler,
    checkpoint: () => forwarding.checkpoint(),
    directory: () => directory,
    privacy: () => ({ adminGroups: runtime.config.privacy.adminGroups, staticGroups: runtime.config.directory.groups ?? {} }),
  });

  const pipeline = createPipeline({
    runtime: () => runtime,
    engine,
    governance: () => governance,
    logger,
    metrics,
    instance,
    admin,
    knownGroups,
    now,
  });
  forward = pipeline.handleVouched;

  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => pipeline.handle(req, res));
  const port = opts.port ?? initial.server.port;
  const host = opts.host ?? initial.server.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: unknown) => {
    await forwarding.close(); // its loops and timers would keep a failed start alive
    throw err;
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
  logger.info({ msg: 'listening', port: addr.port, upstream: new URL(initial.upstream.url).origin });

  let closing: Promise<void> | undefined;
  return {
    server,
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    metrics,
    state,
    governance,
    forwarding,
    engine,
    logger,
    config: () => runtime.config,
    async reload(config) {
      // an unchanged directory keeps its caches and connections; a new one is built before anything is swapped
      const sameDirectory = JSON.stringify(config.directory) === JSON.stringify(runtime.config.directory);
      const nextDirectory = sameDirectory ? directory : makeDirectory(config);
      let next: Runtime;
      try {
        next = await buildRuntime(config, runtime);
      } catch (err) {
        if (nextDirectory !== directory) nextDirectory.close();
        throw err;
      }
      const old = runtime;
      runtime = next;
      const oldDirectory = directory;
      directory = nextDirectory;
      engine.reconfigure(engineOptions(config, directory));
      if (oldDirectory !== directory) {
        // requests in flight finish their lookups on the old directory
        retiredDirectories.add(oldDirectory);
        setTimeout(() => {
          oldDirectory.close();
          retiredDirectories.delete(oldDirectory);
        }, 30_000).unref();
      }
      if (old.identity && old.identity !== next.identity) old.identity.close();
      if (old.agent !== next.agent) setTimeout(() => old.agent.destroy(), 30_000).unref();
      metrics.reloads.inc({ result: 'ok' });
      logger.info({ msg: 'config reloaded' });
      const g = (c: GatewayConfig) => JSON.stringify([c.governance.forward, c.governance.checkpoint]);
      if (g(config) !== g(old.config)) logger.warn({ msg: 'governance.forward / governance.checkpoint changes take effect at the next restart' });
    },
    close(drainMs = 10_000) {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          // keep-alive connections that go idle after their in-flight request would otherwise hold close() for the whole drainMs
          const idle = setInterval(() => server.closeIdleConnections(), 100);
          idle.unref();
          const t = setTimeout(() => {
            clearInterval(idle);
            server.closeAllConnections();
            resolve();
          }, drainMs);
          t.unref();
          server.close(() => {
            clearTimeout(t);
            clearInterval(idle);
            resolve();
          });
          server.closeIdleConnections();
        });
        pipeline.close();
        runtime.agent.destroy();
        runtime.identity?.close();
        engine.close();
        directory.close();
        for (const d of retiredDirectories) d.close();
        await consoleHandler?.close();
        await forwarding.close();
        await governance.close();
        await state.close();
      })();
      return closing;
    },
  };
}

/** The sink, with `onCommitted` told after each append that resolved. */
function notifyOnAppend(sink: GovernanceSink, onCommitted: (seq: number) => void): GovernanceSink {
  return {
    append: (input) =>
      sink.append(input).then((entry) => {
        try {
          onCommitted(entry.seq);
        } catch {
          /* forwarding never fails a request */
        }
        return entry;
      }),
    read: (o) => sink.read(o),
    stream: (f) => sink.stream(f),
    verify: () => sink.verify(),
    readRange: (a, l) => sink.readRange(a, l),
    head: () => sink.head(),
    healthy: () => sink.healthy(),
    close: () => sink.close(),
  };
}
