import { ERRORS, GatewayError } from '../errors.js';
import type { RevealRequest } from '../privacy/approval.js';
import type { GroupInterval, GroupMode } from '../privacy/types.js';

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
  /** SPEC §11 v3 changes that weaken privacy, waiting for a second person, oldest first (absent = none) */
  changes?: PrivacyChange[];
}

export type PrivacyChangeKind = 'privacy-group.remove' | 'reveal-permission.grant';
export type PrivacyChangeStatus = 'pending' | 'approved' | 'denied' | 'expired';

/** A change that lets more people see more, asked while approval is on (SPEC §11 v3). */
export interface PrivacyChange {
  id: string;
  status: PrivacyChangeStatus;
  kind: PrivacyChangeKind;
  /** the group id or the grantee */
  target: string;
  /** lower-cased principal */
  requester: string;
  /** ISO-8601 */
  createdAt: string;
  /** the body of the call, as validated */
  body: Record<string, unknown>;
  decidedBy?: string;
  decidedAt?: string;
  comment?: string;
}

/** SPEC §11 v3: the decision on a pending change (approved, denied, or expired by time). */
export interface ChangeDecision {
  status: 'approved' | 'denied' | 'expired';
  /** absent for expiry */
  by?: string;
  /** epoch ms */
  at: number;
  comment?: string;
}

/** SPEC §11: the decision on a reveal request: approved / denied / expired while pending, revoked while approved. */
export interface RevealRequestDecision {
  status: 'approved' | 'denied' | 'revoked' | 'expired';
  /** absent for expiry */
  by?: string;
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
  /** SPEC §14: `mode` defaults to 'hide' */
  addGroup(id: string, name: string | undefined, now: number, mode?: GroupMode): Promise<GroupInterval>;
  removeGroup(id: string, now: number): Promise<GroupInterval>;
  /** Conflict when an active (unexpired at `now`) permission exists; an expired one is replaced. */
  grant(principal: string, by: string, now: number, limits?: PermissionLimits): Promise<PermissionRecord>;
  revoke(principal: string): Promise<PermissionRecord>;
  /** SPEC §11: conflict when the id exists */
  createRevealRequest(request: RevealRequest): Promise<RevealRequest>;
  /** SPEC §11: not found when unknown, conflict when the transition is not allowed now (exactly one decision wins) */
  decideRevealRequest(id: string, decision: RevealRequestDecision): Promise<RevealRequest>;
  /** SPEC §11 v3: conflict when the id exists */
  createChange(change: PrivacyChange): Promise<PrivacyChange>;
  /** SPEC §11 v3: not found when unknown, conflict when no longer pending */
  decideChange(id: string, decision: ChangeDecision): Promise<PrivacyChange>;
  /** subscribe to changes (from this instance or, for shared stores, from others) */
  onChange(listener: (state: PrivacyState) => void): () => void;
  healthy(): boolean;
  close(): Promise<void>;
}
