import { ERRORS, GatewayError } from '../errors.js';
import type { RevealRequest } from '../privacy/approval.js';
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
  /** SPEC §11 reveal requests, oldest first (absent = none) */
  revealRequests?: RevealRequest[];
}

/** SPEC §11: the decision on a pending reveal request. */
export interface RevealRequestDecision {
  status: 'approved' | 'denied';
  by: string;
  /** epoch ms */
  at: number;
  comment?: string;
}

/** The change contradicts the current state (already private, already granted): 409. */
export class StateConflictError extends GatewayError {
  constructor(message?: string, options?: { cause?: unknown }) {
    super('conflict', message, options);
  }
}

/** The change names something that is not there (not private, no permission): 404. */
export class StateNotFoundError extends GatewayError {
  constructor(message?: string, options?: { cause?: unknown }) {
    super('not_found', message, options);
  }
}

/** The store cannot take the change now; nothing was applied: 503 `state_unavailable`. Its message is for operators only. */
export class StateUnavailableError extends GatewayError {
  constructor(message?: string, options?: { cause?: unknown }) {
    super('state_unavailable', message, { ...options, publicMessage: ERRORS.state_unavailable.message });
  }
}

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
  /** SPEC §11: conflict when the id exists */
  createRevealRequest(request: RevealRequest): Promise<RevealRequest>;
  /** SPEC §11: not found when unknown, conflict when no longer pending (exactly one decision wins) */
  decideRevealRequest(id: string, decision: RevealRequestDecision): Promise<RevealRequest>;
  /** subscribe to changes (from this instance or, for shared stores, from others) */
  onChange(listener: (state: PrivacyState) => void): () => void;
  healthy(): boolean;
  close(): Promise<void>;
}
