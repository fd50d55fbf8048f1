/**
 * The admin's choices, checked before anything changes (SPEC §9, §10 separation of duties):
 * a group made private must be in the catalogue; a reveal permission is never granted to
 * oneself, only to a principal an LDAP/Graph directory knows (when one is configured), only
 * to a member of `privacy.adminGroups` (when set; static and directory membership, nested
 * included), and only for catalogue groups. A directory that cannot be asked refuses the
 * change (503) rather than guessing. Kept apart from app.ts so the routes stay small.
 */
import type { Catalogue } from '../directory/catalogue.js';
import type { Directory } from '../directory/index.js';
import { GatewayError, type ErrorCode } from '../errors.js';

export type CheckResult = { ok: true; name?: string } | { ok: false; code: ErrorCode; message: string; details?: Record<string, unknown> };

const OK: CheckResult = { ok: true };

function unavailable(what: string): CheckResult {
  return {
    ok: false,
    code: 'directory_unavailable',
    message: `${what} cannot be checked now: the directory cannot be asked. Nothing was changed; try again later.`,
  };
}

/** POST api/privacy/groups: the id must be in the catalogue; the catalogue's name is returned for the record. */
export async function checkGroupChoice(catalogue: Catalogue, id: string): Promise<CheckResult> {
  const c = await catalogue.choose(id);
  if (c.kind === 'known') return { ok: true, name: c.group.name };
  if (c.kind === 'unavailable') return unavailable('The group');
  const hint = c.suggestions.length ? ` Did you mean ${c.suggestions.map((s) => s.id).join(', ')}?` : '';
  return {
    ok: false,
    code: 'unknown_group',
    message: `Group ${JSON.stringify(id)} is not in the group catalogue (GET api/directory/groups).${hint} Nothing was changed.`,
    details: { suggestions: c.suggestions },
  };
}

export interface GrantCheck {
  /** the admin granting (verified principal, lower-cased) */
  granter: string;
  /** the grantee (lower-cased) */
  principal: string;
  /** `groups` of the body, when given */
  groups?: readonly string[];
  directory: Directory;
  /** privacy.adminGroups */
  adminGroups: readonly string[];
  /** directory.groups (static membership): group id → members (lower-cased) */
  staticGroups: Readonly<Record<string, readonly string[]>>;
}

/** POST api/privacy/permissions, in SPEC order: self_grant, unknown_principal, not_an_admin, unknown_group. */
export async function checkGrant(c: GrantCheck): Promise<CheckResult> {
  // a person, not a string (SPEC §9 v3): a second mail, a UPN and a mail, {local} across domains
  const same = await c.directory.samePerson(c.principal, c.granter);
  if (same === 'unknown') return unavailable('Whether the grantee is you');
  if (same) {
    return { ok: false, code: 'self_grant', message: 'Nobody can grant the reveal permission to themselves; ask another administrator. Nothing was changed.' };
  }
  const askDirectory = c.directory.sources.length > 0 && (c.directory.sources.some((s) => s.source.knowsUsers) || c.adminGroups.length > 0);
  const user = askDirectory ? await c.directory.user(c.principal) : undefined;
  if (user?.failed) return unavailable('The grantee');
  if (user?.checkable && !user.exists) {
    return { ok: false, code: 'unknown_principal', message: `The directory has no user ${c.principal}. Nothing was changed.` };
  }
  if (c.adminGroups.length > 0) {
    const member = c.adminGroups.some((g) => user?.groups.has(g) || (c.staticGroups[g] ?? []).includes(c.principal));
    if (!member) {
      return {
        ok: false,
        code: 'not_an_admin',
        message: `${c.principal} is not a member of any admin group (privacy.adminGroups), so it cannot be granted the permission. Nothing was changed.`,
      };
    }
  }
  for (const id of c.groups ?? []) {
    const r = await checkGroupChoice(c.directory.catalogue, id);
    if (!r.ok) return r;
  }
  return OK;
}

/** A refused check (SPEC §9, §10) as the error the client gets; nothing has been changed. */
export function refuse(r: CheckResult): void {
  if (!r.ok) throw new GatewayError(r.code, r.message, r.details ? { details: r.details } : {});
}
