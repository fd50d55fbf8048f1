/**
 * Reading a principal and roles from verified token claims (SPEC §3 `identity`). Shared by the
 * bearer-token verifier and the console's sign-in (SPEC §13: the same claim settings apply to
 * the ID token). Pure.
 */
import { normalizePrincipal } from '../principal.js';

export interface ClaimSettings {
  principalClaims: string[];
  rolesClaim: string;
  adminRoles: string[];
}

/** The identity settings' defaults, used by the console when no `identity` section is configured. */
export const DEFAULT_CLAIM_SETTINGS: ClaimSettings = {
  principalClaims: ['upn', 'preferred_username', 'email'],
  rolesClaim: 'roles',
  adminRoles: ['SecurityAdministrator', 'GlobalAdministrator'],
};

/** First principal claim that holds a usable principal, normalised (src/principal.ts); undefined when none does. */
export function principalOf(claims: Record<string, unknown>, settings: Pick<ClaimSettings, 'principalClaims'>): string | undefined {
  for (const claim of settings.principalClaims) {
    const v = claims[claim];
    const p = typeof v === 'string' ? normalizePrincipal(v) : undefined;
    if (p !== undefined) return p;
  }
  return undefined;
}

/** The roles claim as a list of strings (a single string counts as one role). */
export function rolesOf(claims: Record<string, unknown>, settings: Pick<ClaimSettings, 'rolesClaim'>): string[] {
  const raw = claims[settings.rolesClaim];
  return typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw.filter((r): r is string => typeof r === 'string') : [];
}

/** Admin roles match exactly and case-sensitively, as Entra app-role values are compared. */
export function isAdminRole(roles: readonly string[], settings: Pick<ClaimSettings, 'adminRoles'>): boolean {
  return roles.some((r) => settings.adminRoles.includes(r));
}
