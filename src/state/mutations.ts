import type { RevealRequest } from '../privacy/approval.js';
import { normalizePrincipal } from '../principal.js';
import type { GroupInterval } from '../privacy/types.js';
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

const REQUEST_STATUSES = new Set(['pending', 'approved', 'denied']);

function parseRevealRequest(v: unknown, fail: (why: string) => never): RevealRequest {
  const r = v as Record<string, unknown> | null;
  if (typeof r !== 'object' || r === null) return fail('bad reveal request');
  const str = (k: string): boolean => typeof r[k] === 'string';
  if (
    !str('id') ||
    !REQUEST_STATUSES.has(r.status as string) ||
    !str('requester') ||
    !str('reason') ||
    !str('createdAt') ||
    !Number.isSafeInteger(r.durationMin)
  )
    fail('bad reveal request');
  const scope = r.scope as { groups?: unknown; actors?: unknown } | null | undefined;
  if (scope !== undefined && scope !== null && (typeof scope !== 'object' || !Array.isArray(scope.groups) || !Array.isArray(scope.actors)))
    fail('bad reveal request scope');
  // an approved request without a readable window would be unbounded: refuse the document (fail closed)
  if (r.status === 'approved' && (Number.isNaN(Date.parse(String(r.validFrom))) || Number.isNaN(Date.parse(String(r.validUntil)))))
    fail('bad reveal request window');
  const out: RevealRequest = {
    id: r.id as string,
    status: r.status as RevealRequest['status'],
    requester: normalizePrincipal(r.requester as string) ?? '',
    reason: r.reason as string,
    durationMin: r.durationMin as number,
    createdAt: r.createdAt as string,
  };
  if (scope) out.scope = { groups: (scope.groups as unknown[]).map(String), actors: (scope.actors as unknown[]).map(String) };
  for (const k of ['approvedBy', 'validFrom', 'validUntil', 'deniedBy', 'decidedAt', 'comment'] as const) {
    if (typeof r[k] === 'string') out[k] = r[k];
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
  const fail = (why: string): never => {
    throw new Error(`invalid state document: ${why}`);
  };
  if (typeof doc !== 'object' || doc === null) fail('not an object');
  const d = doc as Record<string, unknown>;
  if (!Array.isArray(d.groups) || !Array.isArray(d.permissions)) fail('groups/permissions missing');
  const groups = (d.groups as unknown[]).map((g): GroupInterval => {
    const r = g as Record<string, unknown>;
    if (typeof r.id !== 'string' || typeof r.privateSince !== 'number') fail('bad group');
    if (r.privateUntil !== null && typeof r.privateUntil !== 'number') fail('bad privateUntil');
    return {
      id: r.id as string,
      name: typeof r.name === 'string' ? r.name : (r.id as string),
      privateSince: r.privateSince as number,
      privateUntil: r.privateUntil as number | null,
    };
  });
  const permissions = (d.permissions as unknown[]).map((p): PermissionRecord => {
    const r = p as Record<string, unknown>;
    if (typeof r.principal !== 'string') fail('bad permission');
    const rec: PermissionRecord = { principal: normalizePrincipal(r.principal as string) ?? '', grantedAt: text(r.grantedAt), grantedBy: text(r.grantedBy) };
    // absent and null both mean "no limit" (a database row has NULL columns)
    if (r.groups !== undefined && r.groups !== null) {
      if (!Array.isArray(r.groups) || r.groups.some((g) => typeof g !== 'string')) fail('bad permission groups');
      rec.groups = r.groups as string[];
    }
    if (r.expiresAt !== undefined && r.expiresAt !== null) {
      // fail closed: an unreadable expiry would otherwise mean "forever"
      if (typeof r.expiresAt !== 'string' || Number.isNaN(Date.parse(r.expiresAt))) fail('bad permission expiresAt');
      rec.expiresAt = r.expiresAt as string;
    }
    return rec;
  });
  if (d.revealRequests !== undefined && d.revealRequests !== null && !Array.isArray(d.revealRequests)) fail('revealRequests is not a list');
  const revealRequests = ((d.revealRequests ?? []) as unknown[]).map((r) => parseRevealRequest(r, fail));
  return { groups, permissions, revealRequests };
}
