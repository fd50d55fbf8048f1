/** SPEC §9: `api/directory/groups` — the group catalogue admins choose from. */
import express from 'express';
import { GatewayError } from '../../errors.js';
import { sendJson } from '../../http/responder.js';
import { intParam } from '../body.js';
import type { AdminDeps } from '../deps.js';
import { query, type ApiOperation } from '../operations.js';

export function directoryRoutes(deps: Pick<AdminDeps, 'directory'>): express.Router {
  const r = express.Router();
  r.get('/directory/groups', async (req, res) => {
    const unknown = Object.keys(req.query).find((k) => k !== 'search' && k !== 'limit');
    if (unknown !== undefined) throw new GatewayError('bad_request', `Unknown query parameter ${JSON.stringify(unknown)}; use search and limit.`);
    const search = req.query.search;
    if (search !== undefined && (typeof search !== 'string' || search.length > 200))
      throw new GatewayError('bad_request', 'search must be one string of at most 200 characters.');
    const limit = intParam(req.query.limit, 100, 1, 1000);
    if (limit === null) throw new GatewayError('bad_request', 'limit must be an integer from 1 to 1000.');
    const found = await deps.directory().catalogue.search(search ?? '', limit);
    if (found.failed.length > 0)
      throw new GatewayError(
        'directory_unavailable',
        `The group catalogue cannot be loaded now (${found.failed.join(', ')} directory unreachable). Try again later.`,
      );
    sendJson(res, 200, { groups: found.groups.map((g) => ({ id: g.id, name: g.name, source: g.source })) });
  });
  return r;
}

/** The OpenAPI description of these routes (src/admin/openapi.ts). */
export const directoryOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/directory/groups',
    summary: 'The group catalogue admins choose private groups from',
    query: [
      query('search', 'matches id or name, case-insensitively (at most 200 characters)'),
      query('limit', 'at most this many groups (default 100)', { schema: { type: 'integer', minimum: 1, maximum: 1000 } }),
    ],
    responses: { 200: '`{"groups":[{"id","name","source"}]}`', 400: 'an unknown parameter or a bad value', 503: '`directory_unavailable`' },
  },
];
