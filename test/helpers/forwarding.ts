/**
 * Forwarding tests' plumbing: a real file (or PostgreSQL) sink, forwarding built
 * from a configuration validated by the real schema, entries appended in bulk,
 * and a logger whose lines the test can read.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { openFileSink } from '../../src/governance/fileSink.js';
import { startForwarding, type LocalForwarding, type ForwardingOptions } from '../../src/governance/forward/index.js';
import type { GovernanceEntryInput, GovernanceSink } from '../../src/governance/types.js';
import { flatten } from '../../src/log.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { demoLikeConfig, validConfig } from './gateway.js';

export interface CapturedLog {
  logger: winston.Logger;
  lines: Array<Record<string, unknown>>;
}

export function captureLogger(): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(flatten(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}

/** An Ed25519 key pair written as PEM files (what `openssl genpkey -algorithm ed25519` makes). */
export function writeEd25519Key(dir: string): { keyFile: string; publicKeyFile: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = path.join(dir, 'checkpoint.pem');
  const publicKeyFile = path.join(dir, 'checkpoint.pub.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  return { keyFile, publicKeyFile };
}

export function entryInput(i: number, ids = 2): GovernanceEntryInput {
  return {
    action: i % 7 === 0 ? 'privacy-group.added' : 'private-activities.viewed',
    principal: 'alice@contoso.com',
    via: 'header',
    ...(i % 7 === 0 ? { target: `group-${i}` } : { privateActivities: { count: ids, ids: Array.from({ length: ids }, (_, k) => `act-${i}-${k}`) } }),
  };
}

/** Appends n entries, `parallel` at a time (group commit makes this fast). */
export async function appendMany(sink: GovernanceSink, n: number, from = 1, parallel = 256, ids = 2): Promise<void> {
  for (let i = 0; i < n; i += parallel) {
    const k = Math.min(parallel, n - i);
    await Promise.all(Array.from({ length: k }, (_, j) => sink.append(entryInput(from + i + j, ids))));
  }
}

export interface ForwardRig {
  sink: GovernanceSink;
  forwarding: LocalForwarding;
  metrics: Metrics;
  log: CapturedLog;
  file: string;
  /** metric value for a target */
  failures(target: string): Promise<number>;
  lag(target: string): Promise<number>;
  close(): Promise<void>;
}

/** governance: the `governance` config section (forward targets, checkpoint); validated by the real schema. */
export async function startRig(
  dir: string,
  governance: Record<string, unknown>,
  extra: Partial<ForwardingOptions> = {},
  sink?: GovernanceSink,
): Promise<ForwardRig> {
  const file = path.join(dir, 'governance.jsonl');
  const config = validConfig(demoLikeConfig('http://127.0.0.1:9', dir, { governance: { sink: 'file', file, ...governance } }));
  const s = sink ?? (await openFileSink({ file, instance: 'fwd-test' }));
  const metrics = createMetrics();
  const log = captureLogger();
  const forwarding = await startForwarding({ config: config.governance, sink: s, instance: 'fwd-test', logger: log.logger, metrics, pollMs: 100, ...extra });
  const value = async (name: string, target: string) => {
    const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
    return Number(m?.values.find((v) => v.labels.target === target)?.value ?? NaN);
  };
  return {
    sink: s,
    forwarding,
    metrics,
    log,
    file,
    failures: (t) => value('apg_governance_forward_failures_total', t),
    lag: (t) => value('apg_governance_forward_lag', t),
    async close() {
      await forwarding.close();
      await s.close();
    },
  };
}

/** Appends through the sink and wakes forwarding, as the gateway does after each commit. */
export async function appendAndWake(rig: ForwardRig, n: number, from: number, parallel = 256, ids = 2): Promise<void> {
  for (let i = 0; i < n; i += parallel) {
    const k = Math.min(parallel, n - i);
    await Promise.all(Array.from({ length: k }, (_, j) => rig.sink.append(entryInput(from + i + j, ids))));
    rig.forwarding.wake();
  }
}
