/**
 * A worker of `server.workers` (SPEC §8 v3): the whole gateway journey, with the primary's
 * stores, forwarding, console sessions and admin lock reached over IPC (remote.ts). A call
 * the primary cannot answer fails closed (503 `governance_unavailable` / `state_unavailable`);
 * when the primary is gone, node:cluster ends the worker at once: no reveal is answered
 * without its durable entry.
 */
import cluster from 'node:cluster';
import os from 'node:os';
import type { GatewayConfig } from '../config/index.js';
import { startGateway, type Gateway, type SharedParts } from '../gateway.js';
import { GovernanceUnavailableError } from '../governance/types.js';
import { StateUnavailableError } from '../state/types.js';
import { reloadOnHangup, untilStopped } from './lifecycle.js';
import {
  remoteForwarding,
  remoteGovernance,
  remoteSerialiser,
  remoteSessions,
  remoteState,
  remoteSummarise,
  type Health,
  type Hello,
  type RemoteState,
} from './remote.js';
import { createPeer, type Channel, type Peer } from './rpc.js';

function processChannel(): Channel {
  return { send: (m) => process.send?.(m), onMessage: (l) => process.on('message', l), connected: () => process.connected };
}

/** The worker's end of the protocol; `gateway` is there once started (metrics before that are empty). */
function connect(view: { gateway?: Gateway; state?: RemoteState; health: Health }): Peer {
  return createPeer({
    channel: processChannel(),
    handlers: { 'metrics.json': () => view.gateway?.metrics.registry.getMetricsAsJSON() ?? [] },
    onPush: (topic, value) => {
      if (topic === 'state') view.state?.update(value as Hello['state']);
      if (topic === 'health') view.health = value as Health;
    },
    lost: (message, method) => (method.startsWith('state.') ? new StateUnavailableError(message) : new GovernanceUnavailableError(message)),
  });
}

function sharedParts(config: GatewayConfig, peer: Peer, hello: Hello, view: { state?: RemoteState; health: Health }): SharedParts {
  const up = () => process.connected;
  view.state = remoteState(peer, hello.state, () => up() && view.health.state);
  return {
    stores: { state: view.state, governance: remoteGovernance(peer, () => up() && view.health.governance) },
    forwarding: remoteForwarding(peer, hello.checkpoints),
    // sessions live with the state: in PostgreSQL when the state does, else in the primary's memory
    sessions: config.console && config.state.store !== 'postgres' ? remoteSessions(peer) : undefined,
    scrape: () => peer.call<string>('metrics.scrape'),
    serialise: remoteSerialiser(peer),
    // counted beside the sink: only the buckets cross, not every entry
    summarise: remoteSummarise(peer),
  };
}

/** Runs one worker until it is told to stop (0) or loses the primary (1). */
export async function runWorker(config: GatewayConfig, file: string): Promise<number> {
  const view: { gateway?: Gateway; state?: RemoteState; health: Health } = { health: { state: false, governance: false } };
  const peer = connect(view);
  const hello = await peer.call<Hello>('hello');
  view.health = hello.health;
  // the worker's log lines name the process: "<instance>/<worker id>" (entries name the primary's instance)
  const instance = `${process.env.APG_INSTANCE ?? os.hostname()}/${cluster.worker?.id ?? process.pid}`;
  const gateway = await startGateway(config, { instance, shared: sharedParts(config, peer, hello, view) });
  view.gateway = gateway;
  reloadOnHangup(gateway, file);
  let stopping = false;
  // node:cluster ends a worker at once when its primary is gone (in-flight requests are cut,
  // pending appends never answered): say so on the way out
  process.once('exit', () => {
    if (!stopping) gateway.logger.error({ msg: 'the primary process is gone: this worker stops with it' });
  });
  return untilStopped(gateway, () => (stopping = true));
}
