/**
 * The parts `startGateway` (gateway.ts) is assembled from, each built from the parsed
 * configuration: stores, the runtime a reload swaps, the directory and its observer, the
 * engine's options, the webhook of SPEC §11.
 */
import http from 'node:http';
import { Pool } from 'undici';
import type { Clock } from './clock.js';
import { readPseudonymKey, type GatewayConfig } from './config/index.js';
import { createDirectory, localGroupNames, type Directory } from './directory/index.js';
import type { DirectoryObserver } from './directory/types.js';
import { openFileSink } from './governance/fileSink.js';
import { openPostgresSink } from './governance/postgresSink.js';
import type { GovernanceSink } from './governance/types.js';
import type { Runtime } from './http/runtime.js';
import { createIdentityVerifier } from './identity/index.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { EngineOptions } from './privacy/engine.js';
import { compileExtractor, factsFromFields } from './privacy/extract.js';
import type { RevealRequest } from './privacy/approval.js';
import { createPseudonymiser, type Pseudonymiser } from './privacy/pseudonym.js';
import { normalizePrincipal } from './principal.js';
import { compileFieldReader } from './rewrite/fieldReader.js';
import type { PseudonymTargets } from './rewrite/list.js';
import { pseudonymTarget, type PseudonymTarget } from './rewrite/pseudonymise.js';
import { compileRoutes } from './routes/table.js';
import { openFileStateStore } from './state/fileStore.js';
import type { StateSeed } from './state/mutations.js';
import { openPostgresStateStore } from './state/postgresStore.js';
import type { StateStore } from './state/types.js';
import { createWebhook, type Webhook } from './notify/webhook.js';

export interface Stores {
  state: StateStore;
  governance: GovernanceSink;
}

export async function buildRuntime(config: GatewayConfig, previous?: Runtime): Promise<Runtime> {
  const spec = config.activities;
  const target = new URL(config.upstream.url);
  const sameTarget = previous && previous.target.origin === target.origin;
  const pseudonymiser = makePseudonymiser(config);
  return {
    pseudonymiser,
    pseudonyms: pseudonymiser ? pseudonymTargets(pseudonymiser) : undefined,
    config,
    routes: compileRoutes(config.routes),
    extract: compileExtractor(spec),
    read: compileFieldReader(spec),
    fromFields: (fields) => factsFromFields(fields, spec),
    identity: config.identity ? await createIdentityVerifier({ ...config.identity }) : null,
    target,
    // A keep-alive agent roughly triples throughput to a local upstream; reused across reloads to the same origin.
    agent: sameTarget ? previous.agent : new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo' }),
    // passthrough routes' upstream leg (passUpstream.ts), for a target without a path of its own
    pool: target.pathname !== '/' ? undefined : sameTarget && previous.pool ? previous.pool : new Pool(target.origin, { connections: 512, pipelining: 1 }),
  };
}

/** SPEC §14: the current key first, then the previous ones; null without a key file. */
function makePseudonymiser(config: GatewayConfig): Pseudonymiser | null {
  const p = config.pseudonyms;
  if (p.keyFile === null) return null;
  return createPseudonymiser([p.keyFile, ...p.previousKeyFiles].map(readPseudonymKey), p.domain);
}

/** The rewriters' compiled targets, one per actor, remembered while the runtime lives (bounded). */
function pseudonymTargets(pz: Pseudonymiser): PseudonymTargets {
  const cache = new Map<string, PseudonymTarget>();
  return (actor) => {
    let t = cache.get(actor);
    if (t === undefined) {
      const principal = normalizePrincipal(actor) ?? actor;
      t = pseudonymTarget(principal, pz.pseudonym(principal));
      if (cache.size >= 10_000) cache.clear();
      cache.set(actor, t);
    }
    return t;
  };
}

/** Directory metrics, and a warning per failing source at most once a minute (the reason is a fixed text, never directory data). */
export function directoryObserver(metrics: Metrics, logger: Logger, clock: Clock): DirectoryObserver {
  const lastWarned = new Map<string, number>();
  return {
    lookup: (source, outcome) => metrics.directoryLookups.inc({ source, outcome }),
    latency: (source, seconds) => metrics.directoryLatency.observe({ source }, seconds),
    catalogue: (source, outcome) => metrics.directoryCatalogue.inc({ source, outcome }),
    failed: (source, reason) => {
      const now = clock.now();
      if (now - (lastWarned.get(source) ?? -Infinity) < 60_000) return;
      lastWarned.set(source, now);
      logger.warn({ msg: 'directory source failing; its lookups are undecidable unless cached', source, reason });
    },
  };
}

export interface DirectoryParts {
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  /** monotonic ms of the caches and the catalogue (tests move it) */
  directoryClock?: () => number;
  /** the live configuration and state, for the catalogue's local group names */
  config: () => GatewayConfig;
  state: StateStore;
}

/** The directory of a configuration; the catalogue re-merges local names only when config or state changed. */
export function makeDirectory(config: GatewayConfig, parts: DirectoryParts): Directory {
  let memo: { config: GatewayConfig; groups: unknown; names: ReadonlyMap<string, string> } | undefined;
  const localNames = (): ReadonlyMap<string, string> => {
    const live = parts.config();
    const groups = parts.state.current().groups;
    if (memo?.config !== live || memo.groups !== groups) memo = { config: live, groups, names: localGroupNames(live, groups) };
    return memo.names;
  };
  return createDirectory(config.directory, {
    observer: directoryObserver(parts.metrics, parts.logger, parts.clock),
    // no directory data in the log: the attribute name and a count only
    warn: (msg, fields) => parts.logger.warn({ msg, ...fields }),
    localNames,
    now: parts.directoryClock,
    clock: parts.clock,
  });
}

export function engineOptions(config: GatewayConfig, directory: Directory): EngineOptions {
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
    groups: config.privacy.groups.map((g) => ({ id: g.id, name: g.name, privateSince: g.privateSince, privateUntil: g.privateUntil ?? null, mode: g.mode })),
    permissions: config.privacy.permissions,
  };
}

export async function openStores(config: GatewayConfig, instance: string, logger?: Logger, clock?: Clock): Promise<Stores> {
  // Database errors are logged by kind only: messages never carry entry content or principals.
  const onError = (what: string) => (err: unknown) =>
    logger?.warn({ msg: `${what} database error`, code: (err as { code?: string })?.code, error: (err as Error)?.message });
  const state =
    config.state.store === 'postgres'
      ? await openPostgresStateStore({
          url: config.state.postgresUrl!,
          seed: stateSeed(config),
          instance,
          onError: onError('state'),
          ...(clock ? { now: clock.now() } : {}),
        })
      : await openFileStateStore(config.state.file, stateSeed(config), clock?.now());
  try {
    const governance =
      config.governance.sink === 'postgres'
        ? await openPostgresSink({ url: config.governance.postgresUrl!, instance, onError: onError('governance'), ...(clock ? { clock } : {}) })
        : await openFileSink({
            file: config.governance.file,
            instance,
            ...(logger ? { onNotice: (msg: string) => logger.warn({ msg }) } : {}),
            ...(clock ? { clock } : {}),
          });
    return { state, governance };
  } catch (err) {
    await state.close();
    throw err;
  }
}

/** The sink, with `onCommitted` told after each append that resolved. */
export function notifyOnAppend(sink: GovernanceSink, onCommitted: (seq: number) => void): GovernanceSink {
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

/** SPEC §11 notifications: one webhook per configured URL (made again when the URL changes), never blocking a request. */
export function approvalNotifier(config: () => GatewayConfig, logger: Logger): (event: string, request: RevealRequest) => void {
  let webhook: { url: string; hook: Webhook } | undefined;
  return (event, request) => {
    const url = config().reveal.approval?.webhookUrl;
    if (!url) return;
    if (webhook?.url !== url) {
      const onFailure = (e: string, err: unknown) =>
        logger.warn({ msg: 'webhook delivery failed', event: e, error: err instanceof Error ? err.message : String(err) });
      webhook = { url, hook: createWebhook({ url, onFailure }) };
    }
    webhook.hook.notify(event, request);
  };
}
