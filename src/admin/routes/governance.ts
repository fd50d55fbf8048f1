/** SPEC §7/§12: reading the governance log — entries (JSON, NDJSON, CSV), the chain's verification, a checkpoint. */
import express from 'express';
import { GatewayError } from '../../errors.js';
import type { GovernanceSink } from '../../governance/types.js';
import { sendJson } from '../../http/responder.js';
import { contextOf } from '../context.js';
import type { AdminDeps } from '../deps.js';
import { parseGovernanceQuery } from '../governanceQuery.js';
import { streamEntries } from '../governanceStream.js';
import { query, type ApiOperation } from '../operations.js';

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

const TIME = { type: 'string', format: 'date-time' };

/** The OpenAPI description of these routes (src/admin/openapi.ts). */
export const governanceOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/governance',
    summary: 'Governance entries: a page, or with `format` a stream of every matching entry',
    query: [
      query('afterSeq', 'entries with a larger seq (default 0)', { schema: { type: 'integer', minimum: 0 } }),
      query('limit', 'page size (default 100); with `format`, an optional cap', { schema: { type: 'integer', minimum: 1, maximum: 1000 } }),
      query('action', 'any of the given actions', { repeats: true }),
      query('principal', 'who acted (case-insensitive)'),
      query('since', 'ISO-8601 with an offset, inclusive', { schema: TIME }),
      query('until', 'ISO-8601 with an offset, exclusive', { schema: TIME }),
      query('format', 'stream instead of a page', { schema: { enum: ['ndjson', 'csv'] } }),
    ],
    content: ['application/json', 'application/x-ndjson', 'text/csv'],
    responses: {
      200: '`{"entries":[...],"nextAfterSeq":n}`, or the stream',
      400: 'an unknown or repeated parameter, a bad value',
      503: '`governance_unavailable`',
    },
  },
  {
    method: 'get',
    path: '/governance/verify',
    summary: 'Re-compute the hash chain',
    responses: { 200: '`{"ok":true,"count":n}` or `{"ok":false,"brokenAtSeq":n,"count":n}`', 503: '`governance_unavailable`' },
  },
  {
    method: 'get',
    path: '/governance/checkpoint',
    summary: 'A freshly signed checkpoint of the chain head',
    responses: { 200: '`{"checkpoint":"<compact JWS>"}`', 404: 'no checkpoint key configured', 503: '`governance_unavailable`' },
  },
];
