/**
 * Forwarding of the governance log and its signed checkpoints (SPEC §12),
 * wired from the configuration: one Forwarder per target, one Checkpointer,
 * progress beside the sink, one forwarding replica at a time on PostgreSQL.
 * Runs beside request handling: nothing here is awaited by a request.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type pg from 'pg';
import { clockOf, type Clock } from '../../clock.js';
import type { GovernanceConfig, ForwardTargetConfig } from '../../config/index.js';
import { createPool } from '../../db/pool.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { loadCheckpointSigner, type CheckpointSigner } from '../checkpoint.js';
import { headOn, readRangeOn } from '../postgresSink.js';
import type { GovernanceSink } from '../types.js';
import { Checkpointer } from './checkpointer.js';
import { Forwarder, type ForwarderSource } from './forwarder.js';
import { PgLease, soleLease, type Lease } from './lease.js';
import { openFileForwardStore, postgresForwardStore, type ForwardStore } from './store.js';
import { RelpTransport } from './relpTransport.js';
import { StreamTransport } from './streamTransport.js';
import type { SyslogOrigin } from './syslog.js';
import { DeliveryError, type Transport } from './types.js';
import { UdpTransport } from './udpTransport.js';
import { WebhookTransport } from './webhook.js';

export interface ForwardingOptions {
  config: GovernanceConfig;
  sink: GovernanceSink;
  instance: string;
  logger: Logger;
  metrics: Metrics;
  /** the time of checkpoints, resend marks and progress saves (default: the system clock) */
  clock?: Clock;
  /** the older shape of `clock` (the gateway's `forwarding.now`); used when no clock is given */
  now?: () => number;
  /** how often to look for entries appended by other replicas and for due checkpoints (default 1000 ms) */
  pollMs?: number;
  /** PostgreSQL: how often a replica tries to become the forwarder (default 2000 ms) */
  leaseRetryMs?: number;
}

export interface Forwarding {
  /** an entry was committed here (its seq, when known): deliver it soon */
  wake(committedSeq?: number): void;
  /** a fresh signed checkpoint of the chain head; null when checkpoints are not configured */
  checkpoint(): Promise<string> | null;
  /** makes due checkpoints now (tests with an injected clock) */
  tickCheckpoints(): Promise<number>;
  close(): Promise<void>;
}

/** Forwarding in the process that runs it, with what its tests and diagnostics read. */
export interface LocalForwarding extends Forwarding {
  /** this process holds the forwarding lease (always, with the file sink) */
  isLeader(): boolean;
  /** delivered (handed over) position per target */
  positions(): Record<string, number>;
}

const DEFAULT_POLL_MS = 1000;

function readPem(file: string | null): string | undefined {
  return file === null ? undefined : readFileSync(file, 'utf8');
}

export function createTransport(t: ForwardTargetConfig, origin: SyslogOrigin, onOversize: (seq: number, bytes: number) => void): Transport {
  const tlsFiles = { ca: readPem(t.caFile), cert: readPem(t.certFile), key: readPem(t.keyFile) };
  if (t.type === 'webhook') {
    return new WebhookTransport({ url: t.url, headers: t.headers, timeoutMs: t.timeoutMs, connectTimeoutMs: t.connectTimeoutMs, tls: tlsFiles });
  }
  const u = new URL(t.url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port);
  if (u.protocol === 'relp:') {
    return new RelpTransport({ host, port, connectTimeoutMs: t.connectTimeoutMs, timeoutMs: t.timeoutMs, origin });
  }
  if (u.protocol === 'udp:') {
    return new UdpTransport({ host, port, timeoutMs: t.timeoutMs, origin, onOversize: (m, bytes) => onOversize(m.seq, bytes) });
  }
  return new StreamTransport({
    host,
    port,
    tls: u.protocol === 'tls:' ? tlsFiles : null,
    connectTimeoutMs: t.connectTimeoutMs,
    timeoutMs: t.timeoutMs,
    resendMs: t.resendSec * 1000,
    origin,
  });
}

export async function startForwarding(opts: ForwardingOptions): Promise<LocalForwarding> {
  const clock = opts.clock ?? clockOf(opts.now);
  const { config } = opts;
  const signer = config.checkpoint ? await loadCheckpointSigner(config.checkpoint.keyFile, opts.instance) : null;
  const checkpoint = signedHead(opts.sink, signer, clock);
  if (config.forward.length === 0) return idleForwarding(checkpoint);
  const progress = await openProgress(opts);
  const forwarders = createForwarders(opts, progress, signer !== null, clock);
  const wakeAll = (committedSeq?: number) => {
    for (const f of forwarders.values()) f.wake(committedSeq);
  };
  const checkpoints = startCheckpointing(opts, progress, signer, wakeAll, clock);
  for (const f of forwarders.values()) f.start();
  let closing: Promise<void> | undefined;
  return {
    wake(committedSeq) {
      checkpoints.tickIfLeader();
      wakeAll(committedSeq);
    },
    checkpoint,
    isLeader: () => progress.lease.isLeader(),
    positions: () => Object.fromEntries([...forwarders].map(([k, f]) => [k, f.position().seq])),
    tickCheckpoints: checkpoints.tick,
    close() {
      closing ??= stopAll(forwarders, checkpoints, progress);
      return closing;
    },
  };
}

/** A fresh signed checkpoint of the sink's head, or null without a signing key. */
function signedHead(sink: GovernanceSink, signer: CheckpointSigner | null, clock: Clock): Forwarding['checkpoint'] {
  return () => (signer ? sink.head().then((h) => signer.sign(h, new Date(clock.now()))) : null);
}

/** No targets: nothing is forwarded, but checkpoints can still be asked for. */
function idleForwarding(checkpoint: Forwarding['checkpoint']): LocalForwarding {
  return {
    wake: () => {},
    checkpoint,
    isLeader: () => false,
    positions: () => ({}),
    tickCheckpoints: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
}

/** Where forwarding reads entries and keeps its progress, and who may forward. */
interface Progress {
  source: ForwarderSource;
  store: ForwardStore;
  lease: Lease;
  /** forwarding's own PostgreSQL pool, if any */
  pool?: pg.Pool;
}

async function openProgress(opts: ForwardingOptions): Promise<Progress> {
  const { config, logger } = opts;
  if (config.sink !== 'postgres') return { source: opts.sink, store: await openFileForwardStore(config.file), lease: soleLease() };
  const onError = (err: unknown) =>
    logger.warn({ msg: 'governance forward database error', code: (err as { code?: string })?.code, error: (err as Error)?.message });
  // reads of pending entries on forwarding's own pool, so they never take a connection an append needs
  const pool = createPool({ url: config.postgresUrl!, max: 3, applicationName: `apg-forward-${opts.instance}`, onError });
  return {
    source: { readRange: (after, limit) => readRangeOn(pool, after, limit), head: () => headOn(pool) },
    store: postgresForwardStore(pool),
    lease: new PgLease({ url: config.postgresUrl!, instance: opts.instance, retryMs: opts.leaseRetryMs, onError }),
    pool,
  };
}

/** One Forwarder per target, with its metrics and logs. */
function createForwarders(opts: ForwardingOptions, progress: Progress, checkpoints: boolean, clock: Clock): Map<string, Forwarder> {
  const origin: SyslogOrigin = { hostname: os.hostname(), procid: String(process.pid) };
  const forwarders = new Map<string, Forwarder>();
  for (const t of opts.config.forward) {
    const reports = targetReports(t.name, opts.logger, opts.metrics);
    forwarders.set(
      t.name,
      new Forwarder({
        target: t.name,
        transport: createTransport(t, origin, reports.onOversize),
        source: progress.source,
        store: progress.store,
        isLeader: () => progress.lease.isLeader(),
        checkpoints,
        batchSize: t.batchSize,
        retry: t.retry,
        pollMs: opts.pollMs ?? DEFAULT_POLL_MS,
        clock,
        onFailure: reports.onFailure,
        onLag: reports.onLag,
        onReset: reports.onReset,
      }),
    );
  }
  return forwarders;
}

/** What a target's forwarder tells metrics and logs (seq and sizes only, never entry content). */
function targetReports(target: string, logger: Logger, metrics: Metrics) {
  metrics.forwardFailures.inc({ target }, 0);
  metrics.forwardLag.set({ target }, 0);
  return {
    onOversize(seq: number, bytes: number) {
      metrics.forwardFailures.inc({ target });
      logger.error({ msg: 'governance entry too large for a UDP datagram; not sent to this target (use tcp:// or tls://)', target, seq, bytes });
    },
    onFailure(err: DeliveryError | Error, attempt: number) {
      metrics.forwardFailures.inc({ target });
      logger.warn({
        msg: 'governance forward failed; retrying with back-off',
        target,
        attempt,
        code: err instanceof DeliveryError ? err.code : (err as { code?: string }).code,
        error: err.message,
      });
    },
    onLag: (lag: number) => metrics.forwardLag.set({ target }, lag),
    onReset: (stored: number, head: number) =>
      logger.error({ msg: 'forward progress is beyond the end of the governance log (was it replaced?); delivering it from seq 1', target, stored, head }),
  };
}

interface Checkpointing {
  /** makes due checkpoints now (on the forwarding replica); answers how many */
  tick(): Promise<number>;
  /** an entry was committed: on the forwarding replica, see whether a checkpoint is due */
  tickIfLeader(): void;
  stop(): void;
}

/** The Checkpointer on a timer, and on becoming the forwarding replica. */
function startCheckpointing(
  opts: ForwardingOptions,
  { source, store, lease }: Progress,
  signer: CheckpointSigner | null,
  wakeAll: () => void,
  clock: Clock,
): Checkpointing {
  const { config, logger } = opts;
  const pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
  const every = config.checkpoint;
  const checkpointer = signer && every ? new Checkpointer({ signer, source, store, everyEntries: every.everyEntries, everySec: every.everySec, clock }) : null;
  const tick = async (): Promise<number> => {
    if (!checkpointer || !lease.isLeader()) return 0;
    const made = await checkpointer.tick();
    if (made > 0) wakeAll();
    return made;
  };
  const tickSafely = () => {
    tick().catch((err) => logger.warn({ msg: 'governance checkpoint not made; retrying', error: (err as Error).message }));
  };
  const timer = setInterval(tickSafely, checkpointer && every ? Math.min(pollMs, every.everySec * 1000) : pollMs);
  timer.unref();
  lease.onChange = (leader) => {
    logger.info({ msg: leader ? 'this instance now forwards the governance log' : 'this instance no longer forwards the governance log' });
    if (!leader) return;
    // a new leader makes the checkpoints that are due at once, not at its next timer tick
    if (checkpointer) tickSafely();
    wakeAll();
  };
  return {
    tick,
    tickIfLeader: () => {
      if (checkpointer && lease.isLeader()) tickSafely();
    },
    stop: () => clearInterval(timer),
  };
}

async function stopAll(forwarders: Map<string, Forwarder>, checkpoints: Checkpointing, progress: Progress): Promise<void> {
  checkpoints.stop();
  await Promise.all([...forwarders.values()].map((f) => f.stop()));
  await progress.lease.close();
  await progress.store.close();
  await progress.pool?.end().catch(() => {});
}
