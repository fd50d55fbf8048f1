/** SPEC §7/§9: `api/privacy/groups` — the private groups, chosen from the directory's catalogue. */
import express from 'express';
import { z } from 'zod';
import { GatewayError } from '../../errors.js';
import { sendEmpty, sendJson } from '../../http/responder.js';
import type { GroupInterval, GroupMode } from '../../privacy/types.js';
import { parseBody, PLAIN } from '../body.js';
import { checkGroupChoice, refuse } from '../checks.js';
import { contextOf } from '../context.js';
import type { Change } from '../changes.js';
import type { AdminDeps, ChangeTools, PendingChanges } from '../deps.js';
import type { ApiOperation } from '../operations.js';

export const groupBody = z
  .object({
    id: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(...PLAIN),
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(...PLAIN)
      .optional(),
    mode: z.enum(['hide', 'pseudonymise']).optional(),
  })
  .strict();

/** A group as the API shows it. */
export function groupView(g: GroupInterval): { id: string; name: string; privateSince: string; privateUntil: string | null; mode: GroupMode } {
  return {
    id: g.id,
    name: g.name ?? g.id,
    privateSince: new Date(g.privateSince).toISOString(),
    privateUntil: g.privateUntil === null ? null : new Date(g.privateUntil).toISOString(),
    mode: g.mode ?? 'hide',
  };
}

type Deps = Pick<AdminDeps, 'state' | 'directory' | 'clock' | 'config'>;

const isPrivate = (deps: Deps, id: string) =>
  deps
    .state()
    .current()
    .groups.some((g) => g.id === id && g.privateUntil === null);

/** Ending a group's privacy, checked (404 when it is not private) and ready to record. */
export function prepareRemoval(deps: Deps, id: string): Change<GroupInterval> {
  if (!isPrivate(deps, id)) throw new GatewayError('not_found', `Group ${id} is not private.`);
  return { action: 'privacy-group.removed', target: id, apply: () => deps.state().removeGroup(id, deps.clock.now()) };
}

export function groupRoutes(deps: Deps, tools: ChangeTools, pending: PendingChanges): express.Router {
  const r = express.Router();

  r.get('/privacy/groups', (_req, res) => sendJson(res, 200, { groups: deps.state().current().groups.map(groupView) }));

  // making a group private protects more: it applies at once, with or without approval
  r.post('/privacy/groups', async (req, res) => {
    const { id, name, mode } = parseBody(groupBody, req.body, '{"id": string, "name"?: string, "mode"?: "hide" | "pseudonymise"}');
    // SPEC §14: pseudonyms need the key
    if (mode === 'pseudonymise' && deps.config().pseudonyms.keyFile === null) {
      throw new GatewayError('bad_request', 'A group can pseudonymise only when pseudonyms.keyFile is configured.');
    }
    const choice = await checkGroupChoice(deps.directory().catalogue, id);
    refuse(choice);
    await tools.serialised(async () => {
      if (isPrivate(deps, id)) throw new GatewayError('conflict', `Group ${id} is already private.`);
      const apply = () => deps.state().addGroup(id, name ?? (choice.ok ? choice.name : undefined), deps.clock.now(), mode);
      const extra = mode === 'pseudonymise' ? { mode } : {};
      sendJson(res, 201, groupView(await tools.record(contextOf(res), { action: 'privacy-group.added', target: id, apply, extra })));
    });
  });

  // ending privacy lets more people see more: with approval on it waits for a second person (SPEC §11 v3)
  r.delete('/privacy/groups/:id', async (req, res) => {
    const id = String(req.params.id);
    const ctx = contextOf(res);
    await tools.serialised(async () => {
      const change = prepareRemoval(deps, id);
      if (deps.config().reveal.approval) return sendJson(res, 202, { change: await pending.ask(ctx, 'privacy-group.remove', id, {}) });
      await tools.record(ctx, change);
      sendEmpty(res, 204);
    });
  });
  return r;
}

/** The OpenAPI description of these routes (src/admin/openapi.ts). */
export const groupOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/privacy/groups',
    summary: 'Every private-group interval, history included',
    responses: { 200: '`{"groups":[{"id","name","privateSince","privateUntil"}]}`' },
  },
  {
    method: 'post',
    path: '/privacy/groups',
    summary: 'Make a group of the catalogue private from now on',
    body: groupBody,
    responses: {
      201: 'the group interval',
      409: 'already private',
      422: '`unknown_group`: not in the group catalogue (`details.suggestions`)',
      503: '`directory_unavailable`, `governance_unavailable` or `state_unavailable`',
    },
  },
  {
    method: 'delete',
    path: '/privacy/groups/:id',
    summary: "End a group's privacy now",
    description: 'With four-eyes approval on (`reveal.approval`) the change waits for a second person: 202 with the pending change.',
    responses: { 202: '`{"change":{...}}`: pending approval', 204: 'privacy ended', 404: 'the group is not private' },
  },
];
