/**
 * Governance log vocabulary (SPEC §6). Shared by the file sink, the Postgres
 * sink and the admin API that reads the log.
 */
import { ERRORS, GatewayError } from '../errors.js';

export const GOVERNANCE_ACTIONS = [
  'private-activities.viewed',
  'privacy-group.added',
  'privacy-group.removed',
  'reveal-permission.granted',
  'reveal-permission.revoked',
  'private-activities.denied',
  'reveal-request.created',
  'reveal-request.approved',
  'reveal-request.denied',
  'reveal-request.revoked',
  'reveal-request.expired',
  'privacy-change.requested',
  'privacy-change.approved',
  'privacy-change.denied',
  'privacy-change.expired',
  'privacy-change.failed',
  // SPEC §14: re-identification
  'pseudonym.resolved',
  'pseudonym.looked-up',
  'report.created',
] as const;

export type GovernanceAction = (typeof GOVERNANCE_ACTIONS)[number];

/** At most this many activity ids are recorded per entry (SPEC §6). */
export const MAX_IDS = 1000;

/** At most this many actors are recorded per entry (SPEC §6, v3). */
export const MAX_ACTORS = 1000;

/** One person whose private activities a reveal showed, and how many (SPEC §6, §15). */
export interface ActorCount {
  principal: string;
  count: number;
}

export interface GovernanceRequestInfo {
  id: string;
  method: string;
  path: string;
  query: string;
  clientIp: string;
  userAgent: string;
}

export interface GovernanceEntryInput {
  action: GovernanceAction;
  principal: string;
  via?: 'header' | 'token' | 'admin-api' | 'console';
  request?: GovernanceRequestInfo;
  privateActivities?: { count: number; ids: string[]; actors?: ActorCount[] };
  target?: string;
  /** SPEC §10: the reveal's reason, trimmed */
  reason?: string;
  /** SPEC §10: the reveal's scope header */
  scope?: { groups: readonly string[]; actors: readonly string[] };
  /** SPEC §10: a granted permission's limits, each only when given */
  permission?: { groups?: string[]; expiresAt?: string };
  /** SPEC §10: why a reveal was refused */
  denial?: { code: string; message: string };
  /** SPEC §11: the approved reveal request a reveal used */
  revealRequest?: string;
  /** SPEC §14: `privacy-group.added` of a pseudonymising group */
  mode?: 'pseudonymise';
  token?: { iss?: string; jti?: string };
}

export interface GovernanceEntry extends GovernanceEntryInput {
  seq: number;
  id: string;
  time: string;
  instance: string;
  prevHash: string;
  hash: string;
  /** `actors` and `actorsTruncated` are absent in entries written before v3 */
  privateActivities?: { count: number; ids: string[]; idsTruncated: boolean; actors?: ActorCount[]; actorsTruncated?: boolean };
}

export type VerifyResult = { ok: true; count: number } | { ok: false; count: number; brokenAtSeq: number };

export interface ReadOptions {
  afterSeq?: number;
  limit?: number;
  /** one action, or any of several (an empty list matches nothing) */
  action?: GovernanceAction | readonly GovernanceAction[];
  /** lower-cased principal; compared case-insensitively */
  principal?: string;
  /** epoch ms, inclusive */
  since?: number;
  /** epoch ms, exclusive */
  until?: number;
  /**
   * The subject report's person (SPEC §15): a sink may skip stored lines that cannot be about
   * them without parsing (the file sink does; an optimisation a sink may ignore). Data, not a
   * function, so that it crosses to the primary of server.workers as it is.
   */
  subject?: { principal: string; pseudonyms: readonly string[] };
}

/** The filters of ReadOptions without paging: what stream() takes. */
export type QueryFilter = Omit<ReadOptions, 'limit'>;

export interface ReadResult {
  entries: GovernanceEntry[];
  nextAfterSeq: number;
}

/** One stored entry exactly as it was chained: its seq and its JSON text (one line). */
export interface RawEntry {
  seq: number;
  line: string;
}

/** The newest durable entry: seq 0 and 64 zeros while the log is empty. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export interface GovernanceSink {
  /** Resolves only after the entry is durable; rejects with GovernanceUnavailableError after the deadline or on any I/O error. */
  append(input: GovernanceEntryInput): Promise<GovernanceEntry>;
  read(opts: ReadOptions): Promise<ReadResult>;
  /** Every matching entry after afterSeq, in seq order, in constant memory (a snapshot of the durable log). */
  stream(filter: QueryFilter): AsyncIterable<GovernanceEntry>;
  verify(): Promise<VerifyResult>;
  /** Durable entries with seq > afterSeq in seq order, at most `limit`, as stored (forwarding reads pending entries with it). */
  readRange(afterSeq: number, limit: number): Promise<RawEntry[]>;
  head(): Promise<ChainHead>;
  /** false after a failed write until a later write (or a probe) succeeds */
  healthy(): boolean;
  close(): Promise<void>;
}

/** The audit store cannot take the entry now; callers answer 503 governance_unavailable. */
export class GovernanceUnavailableError extends GatewayError {
  constructor(message = 'governance log unavailable', options?: { cause?: unknown }) {
    super('governance_unavailable', message, { ...options, publicMessage: ERRORS.governance_unavailable.message });
  }
}
