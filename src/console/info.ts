/** What the console app learns about the gateway at start (SPEC §13 `console/session`). */
import type { GatewayConfig } from '../config/index.js';
import { decideGrant, type PermissionFacts } from '../privacy/grant.js';
import type { SessionData } from './sessions.js';

/** The first list route the console can page through with GET (no path parameters, not under the admin prefix). */
export function consoleListRoute(config: GatewayConfig): { path: string; items: string; total: string | null } | null {
  const prefix = config.server.adminPrefix.toLowerCase();
  for (const r of config.routes) {
    if (r.kind !== 'list') continue;
    const p = r.path.toLowerCase();
    if (p === prefix || p.startsWith(`${prefix}/`)) continue;
    if (r.methods && !r.methods.includes('GET')) continue;
    if (/[:*]/.test(r.path)) continue;
    return { path: r.path, items: r.items, total: r.total ?? null };
  }
  return null;
}

/** Reveal settings of SPEC §10/§11 the console needs, straight from the parsed config. */
export function revealInfo(config: GatewayConfig) {
  const r = config.reveal;
  return {
    header: r.header,
    value: r.value,
    reasonHeader: r.reasonHeader,
    requireReason: r.requireReason,
    minReasonLength: r.minReasonLength,
    approval: r.approval !== null && r.approval !== undefined,
  };
}

/**
 * SPEC §13 v3: whether this admin may reveal now, and if not why (the words of the 403 the
 * gateway would answer): the console shows "Show private activities" disabled with it.
 */
export function revealPermission(permission: PermissionFacts | undefined, now: number) {
  const d = decideGrant(true, permission, now);
  if (!d.granted) return { canReveal: false, why: d.why, message: d.message };
  return {
    canReveal: true,
    ...(permission?.groups ? { groups: [...permission.groups] } : {}),
    ...(permission?.expiresAt ? { expiresAt: permission.expiresAt } : {}),
  };
}

/** The body of `GET console/session`. */
export function sessionInfo(config: GatewayConfig, session: SessionData, permission: PermissionFacts | undefined, now: number) {
  const a = config.activities;
  const c = config.console;
  return {
    principal: session.principal,
    roles: session.roles,
    csrfToken: session.csrf,
    expiresAt: new Date(session.expiresAt).toISOString(),
    adminPrefix: config.server.adminPrefix,
    listRoute: consoleListRoute(config),
    activities: { id: a.id, timestamp: a.timestamp, actor: a.actor },
    reveal: { ...revealInfo(config), windowMin: c?.revealWindowMin ?? 10 },
    permission: revealPermission(permission, now),
    // the list route's query parameters for the Activity log filters (null: not offered)
    filters: { user: c?.filters.user ?? null, since: c?.filters.since ?? null, until: c?.filters.until ?? null },
    // SPEC §10 v3: without privacy.adminGroups nothing can tell whether a grantee is an admin
    adminMembershipChecked: config.privacy.adminGroups.length > 0,
  };
}
