/**
 * The gateway, assembled once: stores and forwarding (I/O), the live configuration
 * (live.ts), the engine, the proxy pipeline and the admin application — two peers behind
 * one dispatcher (http/dispatch.ts) on one HTTP server. One clock is made here and handed
 * to everything that reads time.
 */
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { createAdminApp } from './admin/app.js';
import { SWEEP_EVERY_MS } from './admin/expiry.js';
import { clockOf, type Clock } from './clock.js';
import type { GatewayConfig } from './config/index.js';
import { openConsole, type ConsoleParts } from './console/index.js';
import type { KnownGroups } from './directory/knownGroups.js';
import type { Serialise } from './admin/changes.js';
import type { Summarise } from './admin/deps.js';
import type { SessionStore } from './console/sessions.js';
import { loadEngine } from './engine/wasmScan.js';
import { approvalNotifier, buildRuntime, engineOptions, makeDirectory, notifyOnAppend, openStores, type Stores } from './gatewayParts.js';
import { startForwarding, type Forwarding } from './governance/forward/index.js';
import type { GovernanceSink } from './governance/types.js';
import { createDispatcher } from './http/dispatch.js';
import { createPipeline } from './http/pipeline.js';
import { Live } from './live.js';
import { createLogger, flushLines, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { PrivacyEngine } from './privacy/engine.js';
import type { StateStore } from './state/types.js';

export { openStores, stateSeed } from './gatewayParts.js';

/** What a worker of `server.workers` uses instead of its own (the primary's, over IPC: src/cluster/). */
export interface SharedParts {
  stores: Stores;
  forwarding: Forwarding;
  /** the console's sessions, when they are not in PostgreSQL */
  sessions?: SessionStore;
  /** the Prometheus text of every process, summed */
  scrape: () => Promise<string>;
  /** one admin change at a time across the processes */
  serialise: Serialise;
  /** the summary report, counted beside the sink */
  summarise: Summarise;
}

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
  stores?: Stores;
  /** the clock of permission expiry, approval windows, console sessions and entries (tests move it); default Date.now */
  now?: () => number;
  /** where the built console app lives; default dist/ui */
  uiDir?: string;
  /** forwarding knobs for tests: clock, poll and lease intervals */
  forwarding?: { now?: () => number; pollMs?: number; leaseRetryMs?: number };
  /** a worker's parts owned by the primary (stores, forwarding, sessions, metrics sum, admin lock) */
  shared?: SharedParts;
  /** how often pending reveal requests and changes are checked for expiry; default 60 s (tests shorten it) */
  expirySweepMs?: number;
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
  /** SPEC §11 v3: records the expiry of every pending request and change past its time to live (also run on a timer) */
  sweepExpired(): Promise<void>;
}

/** What every part is built with. */
interface Base {
  instance: string;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
}

/** The I/O edges: stores, and forwarding woken by every committed entry. */
interface Io {
  state: StateStore;
  governance: GovernanceSink;
  forwarding: Forwarding;
}

async function openIo(initial: GatewayConfig, opts: GatewayOptions, base: Base): Promise<Io> {
  if (opts.shared) return { ...opts.shared.stores, forwarding: opts.shared.forwarding };
  const stores = opts.stores ?? (await openStores(initial, base.instance, base.logger, base.clock));
  let forwarding: Forwarding;
  try {
    const { logger, metrics, instance } = base;
    forwarding = await startForwarding({ config: initial.governance, sink: stores.governance, instance, logger, metrics, ...opts.forwarding });
  } catch (err) {
    await stores.governance.close();
    await stores.state.close();
    throw err;
  }
  // every committed entry wakes the forwarders; they read it back from the sink, never delaying the request
  return { state: stores.state, governance: notifyOnAppend(stores.governance, (seq) => forwarding.wake(seq)), forwarding };
}

function readiness(io: Io, live: Live) {
  return async () => {
    const checks: Record<string, boolean> = { config: true, state: io.state.healthy(), governance: io.governance.healthy() };
    const identity = live.runtime.identity;
    if (identity) checks.identity = await identity.ready().catch(() => false);
    return { ready: Object.values(checks).every(Boolean), checks };
  };
}

/** The proxy pipeline and the admin application, and the one dispatcher in front of them. */
function handlers(base: Base, io: Io, live: Live, engine: PrivacyEngine, consoleParts: ConsoleParts | null, shared?: SharedParts) {
  const { logger, metrics, clock } = base;
  // SPEC §10: reveal scopes and scoped permissions name catalogue groups (the directory of the current configuration)
  const knownGroups: KnownGroups = { isKnownGroup: (id) => live.directory.catalogue.isKnownGroup(id) };
  const governance = () => io.governance;
  const proxy = createPipeline({ engine, governance, logger, metrics, knownGroups, clock });
  const admin = createAdminApp({
    clock,
    config: () => live.config,
    state: () => io.state,
    governance,
    identity: () => live.runtime.identity,
    directory: () => live.directory,
    knownGroups,
    permission: (p) => engine.permission(p),
    memberOfAny: (p, g) => engine.memberOfAny(p, g),
    // SPEC §9 v3: one directory entry is one person, whatever name it is called by
    samePerson: (a, b) => live.directory.samePerson(a, b),
    notify: approvalNotifier(() => live.config, logger),
    metrics,
    logger,
    ready: readiness(io, live),
    checkpoint: () => io.forwarding.checkpoint(),
    pseudonymiser: () => live.runtime.pseudonymiser,
    console: consoleParts,
    proxy,
    scrape: shared?.scrape,
    serialise: shared?.serialise,
    summarise: shared?.summarise,
  });
  return { proxy, admin, dispatch: createDispatcher({ runtime: () => live.runtime, admin, proxy, metrics, logger }) };
}

async function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

export async function startGateway(initial: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const instance = opts.instance ?? process.env.APG_INSTANCE ?? os.hostname();
  loadEngine();
  const logger = opts.logger ?? createLogger(initial.logging.level, instance);
  const base: Base = { instance, logger, metrics: createMetrics(), clock: clockOf(opts.now) };
  const io = await openIo(initial, opts, base);
  const directoryParts = { ...base, directoryClock: opts.directoryClock, config: () => live.config, state: io.state };
  const live: Live = new Live(await buildRuntime(initial), makeDirectory(initial, directoryParts), (c) => makeDirectory(c, directoryParts));
  const engine = new PrivacyEngine(engineOptions(initial, live.directory), io.state, base.clock);
  const consoleParts = initial.console
    ? await openConsole(initial.console, initial, instance, {
        clock: base.clock,
        logger,
        metrics: base.metrics,
        uiDir: opts.uiDir,
        sessions: opts.shared?.sessions,
      })
    : null;
  const { proxy, admin, dispatch } = handlers(base, io, live, engine, consoleParts, opts.shared);
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0, headersTimeout: 60_000 }, dispatch);
  const addr = await listen(server, opts.port ?? initial.server.port, opts.host ?? initial.server.host).catch(async (err: unknown) => {
    await io.forwarding.close(); // its loops and timers would keep a failed start alive
    throw err;
  });
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address === '0.0.0.0' ? '127.0.0.1' : addr.address;
  logger.info({ msg: 'listening', port: addr.port, upstream: new URL(initial.upstream.url).origin });
  const sweep = expirySweep(admin.sweepExpired, opts.expirySweepMs ?? SWEEP_EVERY_MS, logger);
  const close = closer(server, async () => {
    clearInterval(sweep);
    proxy.close();
    live.close();
    engine.close();
    await consoleParts?.close();
    await io.forwarding.close();
    await io.governance.close();
    await io.state.close();
    flushLines(); // the access lines of the last requests
  });
  return {
    server,
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    ...base,
    ...io,
    engine,
    config: () => live.config,
    reload: reloader(base, live, engine),
    close,
    sweepExpired: admin.sweepExpired,
  };
}

/** SPEC §11 v3: pending requests and changes expire on the record even when nobody lists them. */
function expirySweep(sweepExpired: () => Promise<void>, everyMs: number, logger: Logger): NodeJS.Timeout {
  const timer = setInterval(() => {
    sweepExpired().catch((err: unknown) => logger.warn({ msg: 'expiry sweep failed; retried on the next', error: err instanceof Error ? err.name : 'error' }));
  }, everyMs);
  timer.unref();
  return timer;
}

function reloader(base: Base, live: Live, engine: PrivacyEngine): (config: GatewayConfig) => Promise<void> {
  return async (config) => {
    const old = await live.reload(config, engine);
    base.metrics.reloads.inc({ result: 'ok' });
    base.logger.info({ msg: 'config reloaded' });
    const g = (c: GatewayConfig) => JSON.stringify([c.governance.forward, c.governance.checkpoint]);
    if (g(config) !== g(old.config)) base.logger.warn({ msg: 'governance.forward / governance.checkpoint changes take effect at the next restart' });
  };
}

/** Stop accepting, let in-flight requests finish (up to drainMs), then release everything once. */
function closer(server: http.Server, release: () => Promise<void>): (drainMs?: number) => Promise<void> {
  let closing: Promise<void> | undefined;
  return (drainMs = 10_000) => {
    closing ??= drain(server, drainMs).then(release);
    return closing;
  };
}

function drain(server: http.Server, drainMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
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
}
