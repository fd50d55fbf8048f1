import type { RevealRequest } from '../privacy/approval.js';
import { normalizePrincipal } from '../principal.js';
import type { GroupInterval, RevealRequestStatus, RevealScope } from '../privacy/types.js';
import {
  StateConflictError,
  StateNotFoundError,
  type PermissionLimits,
  type PermissionRecord,
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

export function withGroupAdded(state: PrivacyState, id: string, name: string | undefined, now: number): [PrivacyState, GroupInterval] {
  if (openInterval(state, id)) throw new StateConflictError(`group ${id} is already private`);
  const previous = [...state.groups].reverse().find((g) => g.id === id);
  const interval: GroupInterval = { id, name: name ?? previous?.name ?? id, privateSince: now, privateUntil: null };
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

/** pending → approved (window [at, at + durationMin)) or denied; anything else is a conflict: one decision wins. */
export function withRevealRequestDecided(state: PrivacyState, id: string, d: RevealRequestDecision): [PrivacyState, RevealRequest] {
  const requests = state.revealRequests ?? [];
  const current = requests.find((r) => r.id === id);
  if (!current) throw new StateNotFoundError(`reveal request ${id} does not exist`);
  if (current.status !== 'pending') throw new StateConflictError(`reveal request ${id} is already ${current.status}`);
  const decidedAt = new Date(d.at).toISOString();
  const next: RevealRequest =
    d.status === 'approved'
      ? {
          ...current,
          status: 'approved',
          approvedBy: d.by,
          validFrom: decidedAt,
          validUntil: new Date(d.at + current.durationMin * 60_000).toISOString(),
          decidedAt,
        }
      : { ...current, status: 'denied', deniedBy: d.by, decidedAt };
  if (d.comment !== undefined) next.comment = d.comment;
  return [{ ...state, revealRequests: requests.map((r) => (r === current ? next : r)) }, next];
}

/* Type guards for a stored document (JSON from disk or the database): no casts on unknown. */
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isList = (v: unknown): v is unknown[] => Array.isArray(v);
const isStringList = (v: unknown): v is string[] => isList(v) && v.every((x) => typeof x === 'string');
const isStatus = (v: unknown): v is RevealRequestStatus => v === 'pending' || v === 'approved' || v === 'denied';

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
  for (const k of ['approvedBy', 'validFrom', 'validUntil', 'deniedBy', 'decidedAt', 'comment'] as const) {
    const v = r[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export interface StateSeed {
  groups: { id: string; name?: string; privateSince: number; privateUntil?: number | null }[];
  permissions: string[];
}

export function seedState(seed: StateSeed, now: number): PrivacyState {
  return {
    groups: seed.groups.map((g) => ({ id: g.id, name: g.name ?? g.id, privateSince: g.privateSince, privateUntil: g.privateUntil ?? null })),
    permissions: seed.permissions.map((p) => ({ principal: normalizePrincipal(p) ?? p, grantedAt: new Date(now).toISOString(), grantedBy: 'config' })),
    revealRequests: [],
  };
}

/** A text field of a stored document (older documents may hold numbers). */
function text(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

/** Validates a state document read from disk or a database; throws on anything unexpected. */
export function parseState(doc: unknown): PrivacyState {
  if (!isRecord(doc)) return fail('not an object');
  const { groups: groupDocs, permissions: permissionDocs, revealRequests: requestDocs } = doc;
  if (!isList(groupDocs) || !isList(permissionDocs)) return fail('groups/permissions missing');
  const groups = groupDocs.map((g): GroupInterval => {
    if (!isRecord(g)) return fail('bad group');
    const { id, name, privateSince, privateUntil } = g;
    if (typeof id !== 'string' || typeof privateSince !== 'number') return fail('bad group');
    if (privateUntil !== null && typeof privateUntil !== 'number') return fail('bad privateUntil');
    return { id, name: typeof name === 'string' ? name : id, privateSince, privateUntil };
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
  return { groups, permissions, revealRequests };
}
