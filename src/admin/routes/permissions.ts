/** SPEC §7/§10: `api/privacy/permissions` — who may reveal, for which groups, until when. */
import express from 'express';
import { z } from 'zod';
import { GatewayError } from '../../errors.js';
import { sendEmpty, sendJson } from '../../http/responder.js';
import { isPrincipal, normalizePrincipal, parsePrincipal } from '../../principal.js';
import { parseIsoTimestamp } from '../../privacy/time.js';
import { activePermissions, isExpired } from '../../state/mutations.js';
import type { PermissionLimits, PermissionRecord } from '../../state/types.js';
import { parseBody, PLAIN } from '../body.js';
import { checkGrant, refuse } from '../checks.js';
import { contextOf } from '../context.js';
import type { Change } from '../changes.js';
import type { AdminDeps, ChangeTools, PendingChanges } from '../deps.js';
import type { ApiOperation } from '../operations.js';

export const permissionBody = z
  .object({
    principal: z
      .string()
      .refine(isPrincipal, 'must be a UPN or e-mail address')
      .transform((p) => parsePrincipal(p) ?? p),
    // validated here (SPEC §10: catalogue ids, checked by checkGrant); what a scoped permission does is the reveal stage's
    groups: z
      .array(
        z
          .string()
          .trim()
          .min(1, 'must not be empty')
          .max(200)
          .refine(...PLAIN),
      )
      .min(1, 'must name at least one group (omit it for every group)')
      .max(100)
      .optional(),
    expiresAt: z.string().max(64).optional(),
  })
  .strict();
const EXPECTED = '{"principal": "<UPN or e-mail address>", "groups"?: [catalogue group ids], "expiresAt"?: "<ISO-8601 with an offset>"}';

type Deps = Pick<AdminDeps, 'state' | 'directory' | 'config' | 'clock'>;

/** The grant's limits from the body: an expiry in the future, groups without duplicates. */
function limitsOf(body: z.output<typeof permissionBody>, now: number): PermissionLimits {
  const limits: PermissionLimits = {};
  if (body.expiresAt !== undefined) {
    const at = parseIsoTimestamp(body.expiresAt);
    if (at === undefined) throw new GatewayError('bad_request', '"expiresAt" must be an ISO-8601 date-time with an offset, like 2026-12-01T18:00:00+01:00.');
    if (!(Math.floor(at) > now)) throw new GatewayError('bad_request', '"expiresAt" must be in the future.');
    limits.expiresAt = Math.floor(at);
  }
  if (body.groups !== undefined) limits.groups = [...new Set(body.groups)];
  return limits;
}

/** The permission's limits as its governance entry records them. */
function recorded(limits: PermissionLimits): { permission?: { groups?: string[]; expiresAt?: string } } {
  const permission: { groups?: string[]; expiresAt?: string } = {};
  if (limits.groups !== undefined) permission.groups = limits.groups;
  if (limits.expiresAt !== undefined) permission.expiresAt = new Date(limits.expiresAt).toISOString();
  return Object.keys(permission).length > 0 ? { permission } : {};
}

/**
 * A grant, checked exactly as SPEC §10 says (limits, self-grant, known principal, admin
 * membership, catalogue groups, 409 for an active permission) and ready to record; `granter`
 * is who asked for it.
 */
export async function prepareGrant(deps: Deps, granter: string, rawBody: unknown): Promise<Change<PermissionRecord> & { adminChecked: boolean }> {
  const body = parseBody(permissionBody, rawBody, EXPECTED);
  const { principal } = body;
  const limits = limitsOf(body, deps.clock.now());
  const { privacy, directory } = deps.config();
  const by = normalizePrincipal(granter) ?? granter;
  refuse(
    await checkGrant({
      granter: by,
      principal,
      groups: limits.groups,
      directory: deps.directory(),
      adminGroups: privacy.adminGroups,
      staticGroups: directory.groups ?? {},
    }),
  );
  const t = deps.clock.now();
  const existing = deps
    .state()
    .current()
    .permissions.find((p) => p.principal === principal);
  if (existing && !isExpired(existing, t)) throw new GatewayError('conflict', `${principal} already has the permission.`);
  const apply = () => deps.state().grant(principal, granter, t, limits);
  return { action: 'reveal-permission.granted', target: principal, extra: recorded(limits), apply, adminChecked: privacy.adminGroups.length > 0 };
}

/** The 201 body of a grant: the record, and `adminChecked: false` when nothing could tell whether the grantee is an admin. */
export function grantView(rec: PermissionRecord, adminChecked: boolean): PermissionRecord & { adminChecked?: false } {
  return adminChecked ? rec : { ...rec, adminChecked: false };
}

export function permissionRoutes(deps: Deps, tools: ChangeTools, pending: PendingChanges): express.Router {
  const r = express.Router();
  // expired permissions are not listed (SPEC §10); the record stays until granted again or revoked
  r.get('/privacy/permissions', (_req, res) => sendJson(res, 200, { permissions: activePermissions(deps.state().current(), deps.clock.now()) }));

  // granting lets more people see more: with approval on it waits for a second person (SPEC §11 v3)
  r.post('/privacy/permissions', async (req, res) => {
    const ctx = contextOf(res);
    const grant = await prepareGrant(deps, ctx.admin.principal, req.body);
    await tools.serialised(async () => {
      if (deps.config().reveal.approval)
        return sendJson(res, 202, { change: await pending.ask(ctx, 'reveal-permission.grant', grant.target, req.body as Record<string, unknown>) });
      const fresh = await prepareGrant(deps, ctx.admin.principal, req.body);
      sendJson(res, 201, grantView(await tools.record(ctx, fresh), fresh.adminChecked));
    });
  });

  // revoking protects more: it applies at once, with or without approval
  r.delete('/privacy/permissions/:principal', async (req, res) => {
    const principal = normalizePrincipal(String(req.params.principal)) ?? '';
    await tools.serialised(async () => {
      // an expired permission counts as absent, as everywhere else (not listed; granting again is 201)
      const rec = deps
        .state()
        .current()
        .permissions.find((p) => p.principal === principal);
      if (!rec || isExpired(rec, deps.clock.now())) throw new GatewayError('not_found', `${principal} has no permission.`);
      await tools.record(contextOf(res), { action: 'reveal-permission.revoked', target: principal, apply: () => deps.state().revoke(principal) });
      sendEmpty(res, 204);
    });
  });
  return r;
}

/** The OpenAPI description of these routes (src/admin/openapi.ts). */
export const permissionOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/privacy/permissions',
    summary: 'Who may reveal private activities (expired permissions are not listed)',
    responses: { 200: '`{"permissions":[{"principal","grantedAt","grantedBy","groups"?,"expiresAt"?}]}`' },
  },
  {
    method: 'post',
    path: '/privacy/permissions',
    summary: 'Grant the reveal permission, optionally for some groups and until a time',
    description: 'With four-eyes approval on the grant waits for a second person: 202 with the pending change.',
    body: permissionBody,
    responses: {
      201: 'the permission (`adminChecked: false` when nothing could tell whether the grantee is an admin)',
      202: '`{"change":{...}}`: pending approval',
      400: 'not a UPN / e-mail address, a bad `expiresAt`, an unknown key',
      403: '`self_grant`',
      409: 'an active permission exists',
      422: '`unknown_principal`, `not_an_admin` or `unknown_group`',
      503: '`directory_unavailable`',
    },
  },
  {
    method: 'delete',
    path: '/privacy/permissions/:principal',
    summary: 'Revoke a permission (applies at once, with or without approval)',
    responses: { 204: 'revoked', 404: 'no (unexpired) permission' },
  },
];
