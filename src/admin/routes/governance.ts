/** SPEC §7/§12: reading the governance log — entries (JSON, NDJSON, CSV), the chain's verification, a checkpoint. */
import express from 'express';
import { GatewayError } from '../../errors.js';
import type { GovernanceSink } from '../../governance/types.js';
import { sendJson } from '../../http/responder.js';
import { contextOf } from '../context.js';
import type { AdminDeps } from '../deps.js';
import { parseGovernanceQuery } from '../governanceQuery.js';
import { streamEntries } from '../governanceStream.js';

export function governanceRoutes(deps: Pick<AdminDeps, 'governance' | 'checkpoint'>): express.Router {
  const r = express.Router();
  const sink = (): GovernanceSink => {
    const s = deps.governance();
    if (!s) throw new GatewayError('governance_unavailable');
    return s;
  };

  r.get('/governance', async (_req, res) => {
    const parsed = parseGovernanceQuery(contextOf(res).ex.query);
    if (!parsed.ok) throw new GatewayError('bad_request', parsed.message);
    const { filter, limit, format } = parsed.query;
    if (format === 'json') return sendJson(res, 200, await sink().read({ ...filter, limit }));
    await streamEntries(res, sink().stream(filter), format, limit);
  });

  r.get('/governance/verify', async (_req, res) => {
    const v = await sink().verify();
    sendJson(res, 200, v.ok ? { ok: true, count: v.count } : { ok: false, brokenAtSeq: v.brokenAtSeq, count: v.count });
  });

  r.get('/governance/checkpoint', async (_req, res) => {
    const made = deps.checkpoint();
    if (!made) throw new GatewayError('not_found', 'No checkpoint key is configured (governance.checkpoint).');
    const checkpoint = await made.catch(() => {
      throw new GatewayError('governance_unavailable', 'The head of the governance log cannot be read now.');
    });
    sendJson(res, 200, { checkpoint });
  });
  return r;
}
