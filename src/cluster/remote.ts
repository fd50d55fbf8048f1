/**
 * A worker's view of what the primary owns (SPEC §8 v3): the governance sink, the privacy
 * state, the console's sessions, forwarding's checkpoints and the admin lock — each the
 * same interface the gateway uses in one process, answered over IPC. Nothing here decides:
 * an append resolves only when the primary says the entry is durable, and a lost primary
 * fails every call closed (503 `governance_unavailable` / `state_unavailable`).
 */
import type { Serialise } from '../admin/changes.js';
import type { Summarise } from '../admin/deps.js';
import type { SessionStore } from '../console/sessions.js';
import type { Forwarding } from '../governance/forward/index.js';
import type { Summary } from '../governance/reports.js';
import type { GovernanceEntry, GovernanceSink, QueryFilter } from '../governance/types.js';
import type { PrivacyState, StateStore } from '../state/types.js';
import type { Peer } from './rpc.js';

/** What the primary says of its stores (pushed whenever it changes). */
export interface Health {
  state: boolean;
  governance: boolean;
}

/** The primary's greeting to a starting worker. */
export interface Hello {
  state: PrivacyState;
  health: Health;
  /** whether `governance.checkpoint` is configured (SPEC §12) */
  checkpoints: boolean;
}

export function remoteGovernance(peer: Peer, healthy: () => boolean): GovernanceSink {
  return {
    append: (input) => peer.call('governance.append', input),
    read: (opts) => peer.call('governance.read', opts),
    stream: (filter) => remoteStream(peer, filter),
    verify: () => peer.call('governance.verify'),
    readRange: (afterSeq, limit) => peer.call('governance.readRange', { afterSeq, limit }),
    head: () => peer.call('governance.head'),
    healthy,
    close: async () => undefined,
  };
}

/** The primary's stream of the sink, pulled a page at a time (constant memory on both sides). */
async function* remoteStream(peer: Peer, filter: QueryFilter): AsyncGenerator<GovernanceEntry> {
  const id = await peer.call<number>('governance.streamOpen', filter);
  let done = false;
  try {
    for (;;) {
      const page = await peer.call<GovernanceEntry[] | null>('governance.streamNext', id);
      if (page === null) {
        done = true;
        return;
      }
      yield* page;
    }
  } finally {
    if (!done) await peer.call('governance.streamClose', id).catch(() => undefined);
  }
}

/** The state store whose `current()` is the last state the primary pushed (before it answers a change). */
export interface RemoteState extends StateStore {
  /** a state pushed by the primary */
  update(state: PrivacyState): void;
}

export function remoteState(peer: Peer, initial: PrivacyState, healthy: () => boolean): RemoteState {
  let state = initial;
  const listeners = new Set<(s: PrivacyState) => void>();
  const call = <T>(method: string, ...args: unknown[]) => peer.call<T>(`state.${method}`, args);
  return {
    current: () => state,
    update(next) {
      state = next;
      for (const l of listeners) l(state);
    },
    addGroup: (id, name, now, mode) => call('addGroup', id, name, now, mode),
    removeGroup: (id, now) => call('removeGroup', id, now),
    grant: (principal, by, now, limits) => call('grant', principal, by, now, limits),
    revoke: (principal) => call('revoke', principal),
    createRevealRequest: (request) => call('createRevealRequest', request),
    decideRevealRequest: (id, decision) => call('decideRevealRequest', id, decision),
    createChange: (change) => call('createChange', change),
    decideChange: (id, decision) => call('decideChange', id, decision),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    healthy,
    close: async () => undefined,
  };
}

export function remoteSessions(peer: Peer): SessionStore {
  return {
    put: (kind, id, data, expiresAt) => peer.call('sessions.put', [kind, id, data, expiresAt]),
    get: (kind, id, now) => peer.call('sessions.get', [kind, id, now]),
    take: (kind, id, now) => peer.call('sessions.take', [kind, id, now]),
    delete: (kind, id) => peer.call('sessions.delete', [kind, id]),
    close: async () => undefined,
  };
}

/** Forwarding runs in the primary, beside the sink; a worker only asks it for checkpoints. */
export function remoteForwarding(peer: Peer, checkpoints: boolean): Forwarding {
  return {
    wake: () => undefined,
    checkpoint: () => (checkpoints ? peer.call<string>('forwarding.checkpoint') : null),
    tickCheckpoints: () => peer.call<number>('forwarding.tickCheckpoints'),
    close: async () => undefined,
  };
}

/** SPEC §7: one admin change at a time across every worker (the primary holds the lock). */
export function remoteSerialiser(peer: Peer): Serialise {
  return async (fn) => {
    const token = await peer.call<number>('lock.acquire');
    try {
      return await fn();
    } finally {
      await peer.call('lock.release', token).catch(() => undefined);
    }
  };
}

/** SPEC §15's summary, counted beside the primary's sink: the buckets cross, not every entry. */
export function remoteSummarise(peer: Peer): Summarise {
  return (filter, kind) => peer.call<Summary>('reports.summary', [filter, kind]);
}
