import type { GroupInterval } from '../privacy/types.js';

export interface PermissionRecord {
  principal: string;
  grantedAt: string;
  grantedBy: string;
  /** SPEC §10: reveals show only activities private through one of these groups; absent = every group */
  groups?: string[];
  /** SPEC §10: ISO-8601 (UTC, ms) instant the permission stops; absent = never */
  expiresAt?: string;
}

/** The optional limits of a grant (SPEC §10). */
export interface PermissionLimits {
  groups?: string[];
  /** epoch ms */
  expiresAt?: number;
}

export interface PrivacyState {
  /** every interval ever recorded, oldest first; an open interval has privateUntil null */
  groups: GroupInterval[];
  permissions: PermissionRecord[];
}

export class StateConflictError extends Error {}
export class StateNotFoundError extends Error {}
export class StateUnavailableError extends Error {}

/**
 * The runtime privacy settings. Readers use `current()` (synchronous, always the
 * last known state, so filtering keeps working while a shared store is away);
 * writers go through the mutation methods, which persist before resolving.
 */
export interface StateStore {
  current(): PrivacyState;
  addGroup(id: string, name: string | undefined, now: number): Promise<GroupInterval>;
  removeGroup(id: string, now: number): Promise<GroupInterval>;
  /** Conflict when an active (unexpired at `now`) permission exists; an expired one is replaced. */
  grant(principal: string, by: string, now: number, limits?: PermissionLimits): Promise<PermissionRecord>;
  revoke(principal: string): Promise<PermissionRecord>;
  /** subscribe to changes (from this instance or, for shared stores, from others) */
  onChange(listener: (state: PrivacyState) => void): () => void;
  healthy(): boolean;
  close(): Promise<void>;
}
