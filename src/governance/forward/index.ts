/**
 * Forwarding of the governance log and its signed checkpoints (SPEC §12),
 * wired from the configuration: one Forwarder per target, one Checkpointer,
 * progress beside the sink, one forwarding replica at a time on PostgreSQL.
 * Runs beside request handling: nothing here is awaited by a request.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
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
  isLeader(): boolean;
  /** delivered (handed over) position per target */
  positions(): Record<string, number>;
  /** makes due checkpoints now (tests with an injected clock) */
  tickCheckpoints(): Promise<number>;
  close(): Promise<void>;
}

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
  if (u.protocol === 'udp:') {
    return new UdpTransport({ host, port, timeoutMs: t.timeoutMs, origin, onOversize: (m, bytes) => onOversize(m.seq, bytes) });
  }
  return new StreamTransport({
    host,
    port,
    tls: u.protocol === 'tls:' ? tlsFiles : null,
    connectTimeoutMs: t.connectTimeoutMs,
    timeoutMs: t.timeoutMs,
    settleMs: t.settleMs,
    origin,
  });
}

export async function startForwarding(opts: ForwardingOptions): Promise<Forwarding> {
  const { config, sink, logger, metrics } = opts;
  const now = opts.now ?? Date.now;
  const pollMs = opts.pollMs ?? 1000;
  const signer: CheckpointSigner | null = config.checkpoint ? await loadCheckpointSigner(config.checkpoint.keyFile, opts.instance) : null;
  const targets = config.forward;
  if (targets.length === 0) {
    return {
      wake: () => {},
      checkpoint: () => (signer ? sink.head().then((h) => signer.sign(h, new Date(now()))) : null),
      isLeader: () => false,
      positions: () => ({}),
      tickCheckpoints: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    };
  }

  const onDbError = (err: unknown) =>
    logger.warn({ msg: 'governance forward database error', code: (err as { code?: string })?.code, error: (err as Error)?.message });
  let store: ForwardStore;
  let lease: Lease;
  let pool: ReturnType<typeof createPool> | undefined;
  // reads of pending entries: with PostgreSQL on forwarding's own pool, so they never take a connection an append needs
  let source: ForwarderSource = sink;
  if (config.sink === 'postgres') {
    const p = createPool({ url: config.postgresUrl!, max: 3, applicationName: `apg-forward-${opts.instance}`, onError: onDbError });
    pool = p;
    source = { readRange: (after, limit) => readRangeOn(p, after, limit), head: () => headOn(p) };
    store = postgresForwardStore(p);
    lease = new PgLease({ url: config.postgresUrl!, instance: opts.instance, retryMs: opts.leaseRetryMs, onError: onDbError });
  } else {
    store = await openFileForwardStore(config.file);
    lease = soleLease();
  }

  const origin: SyslogOrigin = { hostname: os.hostname(), procid: String(process.pid) };
  const forwarders = new Map<string, Forwarder>();
  for (const t of targets) {
    metrics.forwardFailures.inc({ target: t.name }, 0);
    metrics.forwardLag.set({ target: t.name }, 0);
    const transport = createTransport(t, origin, (seq, bytes) => {
      metrics.forwardFailures.inc({ target: t.name });
      logger.error({ msg: 'governance entry too large for a UDP datagram; not sent to this target (use tcp:// or tls://)', target: t.name, seq, bytes });
    });
    forwarders.set(
      t.name,
      new Forwarder({
        target: t.name,
        transport,
        source,
        store,
        isLeader: () => lease.isLeader(),
        checkpoints: signer !== null,
        batchSize: t.batchSize,
        retry: t.retry,
        pollMs,
        now,
        onFailure: (err, attempt) => {
          metrics.forwardFailures.inc({ target: t.name });
          logger.warn({
            msg: 'governance forward failed; retrying with back-off',
            target: t.name,
            attempt,
            code: err instanceof DeliveryError ? err.code : (err as { code?: string }).code,
            error: err.message,
          });
        },
        onLag: (lag) => metrics.forwardLag.set({ target: t.name }, lag),
        onReset: (stored, head) =>
          logger.error({
            msg: 'forward progress is beyond the end of the governance log (was it replaced?); delivering it from seq 1',
            target: t.name,
            stored,
            head,
          }),
      }),
    );
  }

  const checkpointer =
    signer && config.checkpoint
      ? new Checkpointer({ signer, source, store, everyEntries: config.checkpoint.everyEntries, everySec: config.checkpoint.everySec, now })
      : null;
  const wakeAll = (committedSeq?: number) => {
    for (const f of forwarders.values()) f.wake(committedSeq);
  };
  const tickCheckpoints = async (): Promise<number> => {
    if (!checkpointer || !lease.isLeader()) return 0;
    const made = await checkpointer.tick();
    if (made > 0) wakeAll();
    return made;
  };
  const tickSafely = () => {
    tickCheckpoints().catch((err) => logger.warn({ msg: 'governance checkpoint not made; retrying', error: (err as Error).message }));
  };
  const timer = setInterval(tickSafely, checkpointer ? Math.min(pollMs, config.checkpoint!.everySec * 1000) : pollMs);
  timer.unref();
  lease.onChange = (leader) => {
    logger.info({ msg: leader ? 'this instance now forwards the governance log' : 'this instance no longer forwards the governance log' });
    if (!leader) return;
    // a new leader makes the checkpoints that are due at once, not at its next timer tick
    if (checkpointer) tickSafely();
    wakeAll();
  };
  for (const f of forwarders.values()) f.start();

  let closing: Promise<void> | undefined;
  return {
    wake(committedSeq) {
      if (checkpointer && config.checkpoint && lease.isLeader()) tickSafely();
      wakeAll(committedSeq);
    },
    checkpoint: () => (signer ? sink.head().then((h) => signer.sign(h, new Date(now()))) : null),
    isLeader: () => lease.isLeader(),
    positions: () => Object.fromEntries([...forwarders].map(([k, f]) => [k, f.position().seq])),
    tickCheckpoints,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await Promise.all([...forwarders.values()].map((f) => f.stop()));
        await lease.close();
        await store.close();
        await pool?.end().catch(() => {});
      })();
      return closing;
    },
  };
}
