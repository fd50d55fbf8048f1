/** What the console app learns about the gateway at start (SPEC §13 `console/session`). */
import type { GatewayConfig } from '../config/index.js';
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

/** The body of `GET console/session`. */
export function sessionInfo(config: GatewayConfig, session: SessionData) {
  const a = config.activities;
  return {
    principal: session.principal,
    roles: session.roles,
    csrfToken: session.csrf,
    expiresAt: new Date(session.expiresAt).toISOString(),
    adminPrefix: config.server.adminPrefix,
    listRoute: consoleListRoute(config),
    activities: { id: a.id, timestamp: a.timestamp, actor: a.actor },
    reveal: revealInfo(config),
    // SPEC §10 v3: without privacy.adminGroups nothing can tell whether a grantee is an admin
    adminMembershipChecked: config.privacy.adminGroups.length > 0,
  };
}
