/** SPEC §7/§9: `api/privacy/groups` — the private groups, chosen from the directory's catalogue. */
import express from 'express';
import { z } from 'zod';
import { GatewayError } from '../../errors.js';
import { sendEmpty, sendJson } from '../../http/responder.js';
import type { GroupInterval } from '../../privacy/types.js';
import { parseBody, PLAIN } from '../body.js';
import { checkGroupChoice, refuse } from '../checks.js';
import { contextOf } from '../context.js';
import type { AdminDeps, ChangeTools } from '../deps.js';

const groupBody = z
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
  })
  .strict();

/** A group as the API shows it. */
export function groupView(g: GroupInterval): { id: string; name: string; privateSince: string; privateUntil: string | null } {
  return {
    id: g.id,
    name: g.name ?? g.id,
    privateSince: new Date(g.privateSince).toISOString(),
    privateUntil: g.privateUntil === null ? null : new Date(g.privateUntil).toISOString(),
  };
}

export function groupRoutes(deps: Pick<AdminDeps, 'state' | 'directory' | 'clock'>, tools: ChangeTools): express.Router {
  const r = express.Router();
  const isPrivate = (id: string) =>
    deps
      .state()
      .current()
      .groups.some((g) => g.id === id && g.privateUntil === null);

  r.get('/privacy/groups', (_req, res) => sendJson(res, 200, { groups: deps.state().current().groups.map(groupView) }));

  r.post('/privacy/groups', async (req, res) => {
    const { id, name } = parseBody(groupBody, req.body, '{"id": string, "name"?: string}');
    const choice = await checkGroupChoice(deps.directory().catalogue, id);
    refuse(choice);
    await tools.serialised(async () => {
      if (isPrivate(id)) throw new GatewayError('conflict', `Group ${id} is already private.`);
      await tools.audit(contextOf(res), 'privacy-group.added', id);
      const g = await deps.state().addGroup(id, name ?? (choice.ok ? choice.name : undefined), deps.clock.now());
      sendJson(res, 201, groupView(g));
    });
  });

  r.delete('/privacy/groups/:id', async (req, res) => {
    const id = String(req.params.id);
    await tools.serialised(async () => {
      if (!isPrivate(id)) throw new GatewayError('not_found', `Group ${id} is not private.`);
      await tools.audit(contextOf(res), 'privacy-group.removed', id);
      await deps.state().removeGroup(id, deps.clock.now());
      sendEmpty(res, 204);
    });
  });
  return r;
}
