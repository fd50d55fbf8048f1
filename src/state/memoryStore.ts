import type { RevealRequest } from '../privacy/approval.js';
import type { GroupInterval } from '../privacy/types.js';
import {
  withGroupAdded,
  withGroupRemoved,
  withPermissionGranted,
  withPermissionRevoked,
  withRevealRequestCreated,
  withRevealRequestDecided,
  withChangeCreated,
  withChangeDecided,
} from './mutations.js';
import type { PermissionRecord, PrivacyChange, PrivacyState, StateStore } from './types.js';

/** A state store held in memory only: for tests and for embedding; nothing survives a restart. */
export function createMemoryStateStore(initial: PrivacyState = { groups: [], permissions: [] }): StateStore & { set(state: PrivacyState): void } {
  let state = initial;
  const listeners = new Set<(s: PrivacyState) => void>();
  const apply = <T>([next, result]: [PrivacyState, T]): T => {
    state = next;
    for (const l of listeners) l(state);
    return result;
  };
  return {
    current: () => state,
    set(next) {
      apply([next, undefined]);
    },
    addGroup: async (id, name, now, mode) => apply<GroupInterval>(withGroupAdded(state, id, name, now, mode)),
    removeGroup: async (id, now) => apply<GroupInterval>(withGroupRemoved(state, id, now)),
    grant: async (p, by, now, limits) => apply<PermissionRecord>(withPermissionGranted(state, p, by, now, limits)),
    revoke: async (p) => apply<PermissionRecord>(withPermissionRevoked(state, p)),
    createRevealRequest: async (r) => apply<RevealRequest>(withRevealRequestCreated(state, r)),
    decideRevealRequest: async (id, d) => apply<RevealRequest>(withRevealRequestDecided(state, id, d)),
    createChange: async (c) => apply<PrivacyChange>(withChangeCreated(state, c)),
    decideChange: async (id, d) => apply<PrivacyChange>(withChangeDecided(state, id, d)),
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    healthy: () => true,
    close: async () => undefined,
  };
}
