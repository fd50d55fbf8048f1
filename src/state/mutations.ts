import type { RevealRequest } from '../privacy/approval.js';
import { normalizePrincipal } from '../principal.js';
import type { GroupInterval, GroupMode, RevealRequestStatus, RevealScope } from '../privacy/types.js';
import {
  StateConflictError,
  StateNotFoundError,
  type PermissionLimits,
  type PermissionRecord,
  type ChangeDecision,
  type PrivacyChange,
  type PrivacyState,
  type RevealRequestDecision,
} from './types.js';

/**
 * Pure state transitions shared by every store, so the file and PostgreSQL
 * stores cannot disagree on what "add" or "remove" means.
 */
export function openInterval(state: PrivacyState, id: string): GroupInterval | undefined {
  return state.groups.find((g) => g.id === id && g.privateUntil === null);
}

export function withGroupAdded(
  state: PrivacyState,
  id: string,
  name: string | undefined,
  now: number,
  mode: GroupMode = 'hide',
): [PrivacyState, GroupInterval] {
  if (openInterval(state, id)) throw new StateConflictError(`group ${id} is already private`);
  const previous = [...state.groups].reverse().find((g) => g.id === id);
  const interval: GroupInterval = { id, name: name ?? previous?.name ?? id, privateSince: now, privateUntil: null };
  if (mode === 'pseudonymise') interval.mode = mode;
  return [{ ...state, groups: [...state.groups, interval] }, interval];
}

export function withGroupRemoved(state: PrivacyState, id: string, now: number): [PrivacyState, GroupInterval] {
  const open = openInterval(state, id);
  if (!open) throw new StateNotFoundError(`group ${id} is not private`);
  // An interval removed in the same millisecond it began would be empty; keep it 1 ms wide
  // so that the activity at exactly privateSince stays private as promised.
  const closed: GroupInterval = { ...open, privateUntil: Math.max(now, open.privateSince + 1) };
  return [{ ...state, groups: state.groups.map((g) => (g === open ? closed : g)) }, closed];
}

/** A permission whose expiresAt is at or before `now` has stopped (SPEC §10: it stops AT that instant). */
export function isExpired(rec: PermissionRecord, now: number): boolean {
  return rec.expiresAt !== undefined && !(Date.parse(rec.expiresAt) > now);
}

/** The permissions in force at `now` (what the admin API lists). */
export function activePermissions(state: PrivacyState, now: number): PermissionRecord[] {
  return state.permissions.filter((p) => !isExpired(p, now));
}

export function withPermissionGranted(
  state: PrivacyState,
  principal: string,
  by: string,
  now: number,
  limits: PermissionLimits = {},
): [PrivacyState, PermissionRecord] {
  const p = normalizePrincipal(principal) ?? principal;
  const existing = state.permissions.find((x) => x.principal === p);
  if (existing && !isExpired(existing, now)) throw new StateConflictError(`${p} already has the permission`);
  const rec: PermissionRecord = { principal: p, grantedAt: new Date(now).toISOString(), grantedBy: by };
  if (limits.groups !== undefined) rec.groups = [...new Set(limits.groups)];
  if (limits.expiresAt !== undefined) rec.expiresAt = new Date(limits.expiresAt).toISOString();
  // an expired permission is replaced by the new grant
  return [{ ...state, permissions: [...state.permissions.filter((x) => x !== existing), rec] }, rec];
}

export function withPermissionRevoked(state: PrivacyState, principal: string): [PrivacyState, PermissionRecord] {
  const p = normalizePrincipal(principal) ?? principal;
  const rec = state.permissions.find((x) => x.principal === p);
  if (!rec) throw new StateNotFoundError(`${p} has no permission`);
  return [{ ...state, permissions: state.permissions.filter((x) => x !== rec) }, rec];
}

export function withRevealRequestCreated(state: PrivacyState, request: RevealRequest): [PrivacyState, RevealRequest] {
  const requests = state.revealRequests ?? [];
  if (requests.some((r) => r.id === request.id)) throw new StateConflictError(`reveal request ${request.id} exists`);
  return [{ ...state, revealRequests: [...requests, request] }, request];
}

/** Which status a request must have for a decision: revoking ends an approved window, the rest decide a pending one. */
export function requiredStatus(d: RevealRequestDecision | ChangeDecision): 'pending' | 'approved' {
  return d.status === 'revoked' ? 'approved' : 'pending';
}

function decided(current: RevealRequest, d: RevealRequestDecision): RevealRequest {
  const at = new Date(d.at).toISOString();
  const by = d.by ?? '';
  switch (d.status) {
    case 'approved':
      return {
        ...current,
        status: 'approved',
        approvedBy: by,
        validFrom: at,
        validUntil: new Date(d.at + current.durationMin * 60_000).toISOString(),
        decidedAt: at,
      };
    case 'denied':
      return { ...current, status: 'denied', deniedBy: by, decidedAt: at };
    case 'revoked':
      return { ...current, status: 'revoked', revokedBy: by, revokedAt: at };
    case 'expired':
      return { ...current, status: 'expired', expiredAt: at };
  }
}

/**
 * pending → approved (window [at, at + durationMin)), denied or expired; approved → revoked.
 * Anything else is a conflict: exactly one decision wins.
 */
export function withRevealRequestDecided(state: PrivacyState, id: string, d: RevealRequestDecision): [PrivacyState, RevealRequest] {
  const requests = state.revealRequests ?? [];
  const current = requests.find((r) => r.id === id);
  if (!current) throw new StateNotFoundError(`reveal request ${id} does not exist`);
  if (current.status !== requiredStatus(d)) throw new StateConflictError(`reveal request ${id} is already ${current.status}`);
  const next = decided(current, d);
  if (d.comment !== undefined) next.comment = d.comment;
  return [{ ...state, revealRequests: requests.map((r) => (r === current ? next : r)) }, next];
}

export function withChangeCreated(state: PrivacyState, change: PrivacyChange): [PrivacyState, PrivacyChange] {
  const changes = state.changes ?? [];
  if (changes.some((c) => c.id === change.id)) throw new StateConflictError(`privacy change ${change.id} exists`);
  return [{ ...state, changes: [...changes, change] }, change];
}

/** pending → approved, denied or expired; anything else is a conflict. */
export function withChangeDecided(state: PrivacyState, id: string, d: ChangeDecision): [PrivacyState, PrivacyChange] {
  const changes = state.changes ?? [];
  const current = changes.find((c) => c.id === id);
  if (!current) throw new StateNotFoundError(`privacy change ${id} does not exist`);
  if (current.status !== 'pending') throw new StateConflictError(`privacy change ${id} is already ${current.status}`);
  const next: PrivacyChange = { ...current, status: d.status, decidedAt: new Date(d.at).toISOString() };
  if (d.by !== undefined) next.decidedBy = d.by;
  if (d.comment !== undefined) next.comment = d.comment;
  return [{ ...state, changes: changes.map((c) => (c === current ? next : c)) }, next];
}

/* Type guards for a stored document (JSON from disk or the database): no casts on unknown. */
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isList = (v: unknown): v is unknown[] => Array.isArray(v);
const isStringList = (v: unknown): v is string[] => isList(v) && v.every((x) => typeof x === 'string');
const REQUEST_STATUSES: readonly string[] = ['pending', 'approved', 'denied', 'revoked', 'expired'];
const isStatus = (v: unknown): v is RevealRequestStatus => typeof v === 'string' && REQUEST_STATUSES.includes(v);
const CHANGE_STATUSES: readonly string[] = ['pending', 'approved', 'denied', 'expired'];
const CHANGE_KINDS: readonly string[] = ['privacy-group.remove', 'reveal-permission.grant'];

function fail(why: string): never {
  throw new Error(`invalid state document: ${why}`);
}

function parseRevealRequest(r: unknown): RevealRequest {
  if (!isRecord(r)) return fail('bad reveal request');
  const { id, status, requester, reason, createdAt, durationMin, scope } = r;
  if (
    typeof id !== 'string' ||
    !isStatus(status) ||
    typeof requester !== 'string' ||
    typeof reason !== 'string' ||
    typeof createdAt !== 'string' ||
    typeof durationMin !== 'number' ||
    !Number.isSafeInteger(durationMin)
  )
    return fail('bad reveal request');
  let scoped: RevealScope | undefined;
  if (scope !== undefined && scope !== null) {
    if (!isRecord(scope) || !isList(scope.groups) || !isList(scope.actors)) return fail('bad reveal request scope');
    scoped = { groups: scope.groups.map(String), actors: scope.actors.map(String) };
  }
  // an approved request without a readable window would be unbounded: refuse the document (fail closed)
  if (status === 'approved' && (Number.isNaN(Date.parse(String(r.validFrom))) || Number.isNaN(Date.parse(String(r.validUntil)))))
    fail('bad reveal request window');
  const out: RevealRequest = { id, status, requester: normalizePrincipal(requester) ?? '', reason, durationMin, createdAt };
  if (scoped) out.scope = scoped;
  for (const k of ['approvedBy', 'validFrom', 'validUntil', 'deniedBy', 'decidedAt', 'comment', 'revokedBy', 'revokedAt', 'expiredAt'] as const) {
    const v = r[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

function parseChange(c: unknown): PrivacyChange {
  if (!isRecord(c)) return fail('bad privacy change');
  const { id, status, kind, target, requester, createdAt, body } = c;
  if (typeof id !== 'string' || typeof status !== 'string' || !CHANGE_STATUSES.includes(status)) return fail('bad privacy change');
  if (typeof kind !== 'string' || !CHANGE_KINDS.includes(kind) || typeof target !== 'string' || typeof requester !== 'string')
    return fail('bad privacy change');
  if (typeof createdAt !== 'string' || !isRecord(body)) return fail('bad privacy change');
  const out = { id, status, kind, target, requester: normalizePrincipal(requester) ?? '', createdAt, body } as PrivacyChange;
  for (const k of ['decidedBy', 'decidedAt', 'comment'] as const) {
    const v = c[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export interface StateSeed {
  groups: { id: string; name?: string; privateSince: number; privateUntil?: number | null; mode?: GroupMode }[];
  permissions: string[];
}

export function seedState(seed: StateSeed, now: number): PrivacyState {
  return {
    groups: seed.groups.map((g) => withMode({ id: g.id, name: g.name ?? g.id, privateSince: g.privateSince, privateUntil: g.privateUntil ?? null }, g.mode)),
    permissions: seed.permissions.map((p) => ({ principal: normalizePrincipal(p) ?? p, grantedAt: new Date(now).toISOString(), grantedBy: 'config' })),
    revealRequests: [],
    changes: [],
  };
}

/** SPEC §14: the interval carries `mode` only when it pseudonymises (absent = hide). */
function withMode(g: GroupInterval, mode: unknown): GroupInterval {
  return mode === 'pseudonymise' ? { ...g, mode } : g;
}

/** A text field of a stored document (older documents may hold numbers). */
function text(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

/** Validates a state document read from disk or a database; throws on anything unexpected. */
export function parseState(doc: unknown): PrivacyState {
  if (!isRecord(doc)) return fail('not an object');
  const { groups: groupDocs, permissions: permissionDocs, revealRequests: requestDocs, changes: changeDocs } = doc;
  if (!isList(groupDocs) || !isList(permissionDocs)) return fail('groups/permissions missing');
  const groups = groupDocs.map((g): GroupInterval => {
    if (!isRecord(g)) return fail('bad group');
    const { id, name, privateSince, privateUntil, mode } = g;
    if (typeof id !== 'string' || typeof privateSince !== 'number') return fail('bad group');
    if (privateUntil !== null && typeof privateUntil !== 'number') return fail('bad privateUntil');
    if (mode !== undefined && mode !== null && mode !== 'hide' && mode !== 'pseudonymise') return fail('bad group mode');
    return withMode({ id, name: typeof name === 'string' ? name : id, privateSince, privateUntil }, mode);
  });
  const permissions = permissionDocs.map((p): PermissionRecord => {
    if (!isRecord(p) || typeof p.principal !== 'string') return fail('bad permission');
    const rec: PermissionRecord = { principal: normalizePrincipal(p.principal) ?? '', grantedAt: text(p.grantedAt), grantedBy: text(p.grantedBy) };
    const { groups: limitGroups, expiresAt } = p;
    // absent and null both mean "no limit" (a database row has NULL columns)
    if (limitGroups !== undefined && limitGroups !== null) {
      if (!isStringList(limitGroups)) return fail('bad permission groups');
      rec.groups = limitGroups;
    }
    if (expiresAt !== undefined && expiresAt !== null) {
      // fail closed: an unreadable expiry would otherwise mean "forever"
      if (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt))) return fail('bad permission expiresAt');
      rec.expiresAt = expiresAt;
    }
    return rec;
  });
  if (requestDocs !== undefined && requestDocs !== null && !isList(requestDocs)) return fail('revealRequests is not a list');
  const revealRequests = isList(requestDocs) ? requestDocs.map(parseRevealRequest) : [];
  if (changeDocs !== undefined && changeDocs !== null && !isList(changeDocs)) return fail('changes is not a list');
  const changes = isList(changeDocs) ? changeDocs.map(parseChange) : [];
  return { groups, permissions, revealRequests, changes };
}
