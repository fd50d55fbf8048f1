/**
 * `server.workers` > 1 (SPEC §8 v3): the primary process. It owns the stores (one governance
 * writer, one state owner: the file sink keeps one chain and one fsync per batch), forwarding
 * and the console's in-memory sessions; it forks the workers that share the listening port
 * (node:cluster hands them connections in turn), answers their calls, replaces a worker that
 * dies, passes SIGHUP on to every worker and stops them all on SIGTERM before closing the
 * stores. It serves no HTTP itself.
 */
import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { systemClock } from '../clock.js';
import type { GatewayConfig } from '../config/index.js';
import { createMemorySessionStore } from '../console/sessions.js';
import { notifyOnAppend, openStores } from '../gatewayParts.js';
import { startForwarding } from '../governance/forward/index.js';
import { createLogger, type Logger } from '../log.js';
import { createMetrics, type Metrics } from '../metrics.js';
import { AdminLock, Streams, workerHandlers, type Owned, type Shared } from './host.js';
import type { Health } from './remote.js';
import { createPeer, type Channel, type Peer } from './rpc.js';
import { GovernanceUnavailableError } from '../governance/types.js';

/** A worker that dies this soon after its start counts towards a crash loop. */
const CRASH_WINDOW_MS = 30_000;
const MAX_CRASHES = 5;
/** how long SIGTERM waits for the workers to drain (their own drain is 10 s) */
const STOP_GRACE_MS = 12_000;

export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? Math.max(1, os.availableParallelism()) : setting;
}

async function openOwned(config: GatewayConfig, instance: string, logger: Logger, metrics: Metrics): Promise<Owned & { close(): Promise<void> }> {
  const stores = await openStores(config, instance, logger, systemClock);
  const forwarding = await startForwarding({ config: config.governance, sink: stores.governance, instance, logger, metrics }).catch(async (err: unknown) => {
    await stores.governance.close();
    await stores.state.close();
    throw err;
  });
  const sessions = config.console && config.state.store !== 'postgres' ? createMemorySessionStore() : null;
  const owned = {
    governance: notifyOnAppend(stores.governance, (seq) => forwarding.wake(seq)),
    state: stores.state,
    sessions,
    forwarding,
    checkpoints: config.governance.checkpoint !== null,
    close: async () => {
      await forwarding.close();
      await stores.governance.close();
      await stores.state.close();
      await sessions?.close();
    },
  };
  return owned;
}

function workerChannel(w: Worker): Channel {
  return { send: (m) => w.send(m as object), onMessage: (l) => w.on('message', l), connected: () => w.isConnected() };
}

/** The workers: forked, greeted, replaced when they die (unless stopping), told of state and health. */
class Fleet {
  readonly peers = new Map<number, Peer>();
  private readonly shared: Shared;
  private readonly streams = new Map<number, Streams>();
  private crashes: number[] = [];
  stopping = false;
  /** false until every first worker listens: a worker that cannot start is not replaced */
  replacing = false;
  private health: Health;

  constructor(
    private readonly owned: Owned,
    metrics: Metrics,
    private readonly logger: Logger,
    private readonly onCrashLoop: () => void,
  ) {
    this.shared = { lock: new AdminLock(), scrape: scraper(this.peers, metrics) };
    this.health = this.readHealth();
    owned.state.onChange((s) => this.pushAll('state', s));
  }

  fork(): Worker {
    const w = cluster.fork({ APG_WORKER: '1' });
    const streams = new Streams();
    this.streams.set(w.id, streams);
    const lost = (msg: string) => new GovernanceUnavailableError(msg);
    this.peers.set(w.id, createPeer({ channel: workerChannel(w), handlers: workerHandlers(this.owned, this.shared, w.id, streams), lost }));
    const started = systemClock.now();
    w.on('exit', (code, signal) => this.exited(w, started, code, signal));
    return w;
  }

  private exited(w: Worker, started: number, code: number | null, signal: string | null): void {
    this.peers.get(w.id)?.fail();
    this.peers.delete(w.id);
    this.shared.lock.drop(w.id);
    void this.streams.get(w.id)?.close();
    this.streams.delete(w.id);
    if (this.stopping || !this.replacing) return;
    this.logger.warn({ msg: 'worker exited; starting another', pid: w.process.pid, code, signal });
    const now = systemClock.now();
    this.crashes = [...this.crashes.filter((t) => now - t < CRASH_WINDOW_MS), ...(now - started < CRASH_WINDOW_MS ? [now] : [])];
    if (this.crashes.length >= MAX_CRASHES) return this.onCrashLoop();
    this.fork();
  }

  private readHealth(): Health {
    return { state: this.owned.state.healthy(), governance: this.owned.governance.healthy() };
  }

  /** pushes the stores' health when it changed (called on a timer) */
  watchHealth(): void {
    const h = this.readHealth();
    if (h.state === this.health.state && h.governance === this.health.governance) return;
    this.health = h;
    this.pushAll('health', h);
  }

  pushAll(topic: string, value: unknown): void {
    for (const p of this.peers.values()) p.push(topic, value);
  }

  signalAll(signal: NodeJS.Signals): void {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  }
}

/** Every process's metrics summed (SPEC §8 v3): the primary's own and each worker's that answers within 2 s. */
function scraper(peers: ReadonlyMap<number, Peer>, metrics: Metrics): () => Promise<string> {
  return async () => {
    const ask = [...peers.values()].map((p) =>
      Promise.race([p.call<object[]>('metrics.json'), new Promise<null>((r) => setTimeout(() => r(null), 2_000).unref())]).catch(() => null),
    );
    const parts = [await metrics.registry.getMetricsAsJSON(), ...(await Promise.all(ask)).filter((x): x is object[] => x !== null)];
    return AggregatorRegistry.aggregate(parts).metrics();
  };
}

/** Forks the workers and waits until each listens; false when one exits first (a bad port, a bad key file). */
function startAll(fleet: Fleet, count: number): Promise<number | null> {
  return new Promise((resolve) => {
    let listening = 0;
    for (let i = 0; i < count; i++) {
      const w = fleet.fork();
      const onExit = () => resolve(null);
      w.once('exit', onExit);
      w.once('listening', (address) => {
        w.off('exit', onExit);
        if (++listening === count) resolve(address.port);
      });
    }
  });
}

function waitForWorkers(graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const left = () => Object.values(cluster.workers ?? {}).filter((w) => w && !w.isDead()).length;
    if (left() === 0) return resolve();
    const t = setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      resolve();
    }, graceMs);
    cluster.on('exit', () => {
      if (left() > 0) return;
      clearTimeout(t);
      resolve();
    });
  });
}

/** Runs the primary until SIGTERM/SIGINT (0), a crash loop or a failed start (1). */
export async function runPrimary(config: GatewayConfig, count: number): Promise<number> {
  const instance = process.env.APG_INSTANCE ?? os.hostname();
  const logger = createLogger(config.logging.level, instance);
  const metrics = createMetrics();
  const owned = await openOwned(config, instance, logger, metrics);
  return new Promise<number>((resolve) => {
    let stopped: Promise<void> | undefined;
    const stop = (code: number, why: string) => {
      stopped ??= (async () => {
        fleet.stopping = true;
        logger.info({ msg: 'shutting down', signal: why, workers: count });
        fleet.signalAll('SIGTERM');
        await waitForWorkers(STOP_GRACE_MS);
        clearInterval(healthTimer);
        await owned.close();
        resolve(code);
      })();
    };
    const fleet = new Fleet(owned, metrics, logger, () => {
      logger.error({ msg: 'workers keep dying right after their start; stopping' });
      stop(1, 'crash loop');
    });
    const healthTimer = setInterval(() => fleet.watchHealth(), 500);
    process.on('SIGHUP', () => fleet.signalAll('SIGHUP'));
    process.on('SIGTERM', () => stop(0, 'SIGTERM'));
    process.on('SIGINT', () => stop(0, 'SIGINT'));
    void startAll(fleet, count).then((port) => {
      if (port === null) return stop(1, 'a worker could not start');
      fleet.replacing = true;
      logger.info({ msg: 'workers listening', workers: count, port });
    });
  });
}
