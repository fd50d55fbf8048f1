/**
 * SPEC §15: reports over the governance log — for a person (who saw my activities, when,
 * why) and for the works council (how the power to reveal was used). Both read the sink
 * itself through `stream`, entry by entry, so every instance answers the same and memory
 * does not grow with the log.
 *
 * A subject report tells about a person: it needs a reason (the reveal reason header) and
 * writes `report.created` (target = the person) before anything is read. Every check runs
 * first, so a refused request writes nothing.
 */
import express from 'express';
import { GatewayError } from '../../errors.js';
import { changeEntry } from '../../governance/entries.js';
import {
  BUCKETS,
  SUBJECT_ACTIONS,
  SUMMARY_ACTIONS,
  subjectCsvHeader,
  subjectCsvRow,
  subjectItem,
  subjectReport,
  summaryReport,
  type BucketKind,
  type SubjectOptions,
} from '../../governance/reports.js';
import type { GovernanceAction, GovernanceEntry, GovernanceSink, QueryFilter } from '../../governance/types.js';
import { sendJson } from '../../http/responder.js';
import { parsePrincipal } from '../../principal.js';
import { parseReason } from '../../privacy/revealInput.js';
import { parseTimestamp } from '../../privacy/time.js';
import { contextOf } from '../context.js';
import { query, type ApiOperation } from '../operations.js';
import type { AdminDeps } from '../deps.js';
import { streamRows } from '../governanceStream.js';

type Params = Map<string, string>;

/** Query parameters, each known and given at most once (400 bad_request naming it otherwise). */
function params(rawQuery: string, known: readonly string[]): Params {
  const out: Params = new Map();
  for (const [k, v] of new URLSearchParams(rawQuery)) {
    if (!known.includes(k)) throw new GatewayError('bad_request', `Unknown query parameter "${k}". Known: ${known.join(', ')}.`);
    if (out.has(k)) throw new GatewayError('bad_request', `Query parameter "${k}" may be given only once.`);
    out.set(k, v);
  }
  return out;
}

/** since (inclusive) and until (exclusive), ISO-8601 with an offset, as a filter and as the answer echoes them. */
function range(p: Params): { filter: QueryFilter; since?: string; until?: string } {
  const filter: QueryFilter = {};
  const shown: { since?: string; until?: string } = {};
  for (const k of ['since', 'until'] as const) {
    const v = p.get(k);
    if (v === undefined) continue;
    const t = parseTimestamp(v);
    if (t === undefined)
      throw new GatewayError('bad_request', `Query parameter "${k}" must be an ISO-8601 date-time with an offset, like 2026-11-26T10:00:00Z.`);
    filter[k] = t;
    shown[k] = new Date(t).toISOString();
  }
  if (filter.since !== undefined && filter.until !== undefined && filter.until < filter.since)
    throw new GatewayError('bad_request', 'Query parameter "until" must not be before "since".');
  return { filter, ...shown };
}

/** The actions a report reads, as the sinks' filter takes them (the pseudonym actions may be unknown to this version). */
const actions = (names: readonly string[]): GovernanceAction[] => names as GovernanceAction[];

export function reportRoutes(deps: Pick<AdminDeps, 'governance' | 'config' | 'pseudonymiser' | 'summarise'>): express.Router {
  const r = express.Router();
  const sink = (): GovernanceSink => {
    const s = deps.governance();
    if (!s) throw new GatewayError('governance_unavailable');
    return s;
  };
  // counted where the entries are: in this process, or beside the primary's sink (server.workers)
  const summarise = deps.summarise ?? ((filter: QueryFilter, kind: BucketKind) => summaryReport(sink().stream(filter), kind));

  r.get('/reports/subject', async (req, res) => {
    const ctx = contextOf(res);
    const p = params(ctx.ex.query, ['principal', 'since', 'until', 'includeViewers', 'format']);
    const raw = p.get('principal');
    const principal = raw === undefined ? undefined : parsePrincipal(raw);
    if (principal === undefined) throw new GatewayError('bad_request', 'Query parameter "principal" must be a principal (UPN or e-mail address).');
    const { filter, since, until } = range(p);
    const viewers = p.get('includeViewers') ?? 'false';
    if (viewers !== 'true' && viewers !== 'false') throw new GatewayError('bad_request', 'Query parameter "includeViewers" must be true or false.');
    const format = p.get('format') ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new GatewayError('bad_request', 'Query parameter "format" must be json or csv.');
    const reveal = deps.config().reveal;
    // the report tells about a person: a reason is always required (SPEC §10's rules for it)
    const reason = parseReason(req.headers[reveal.reasonHeader.toLowerCase()], undefined, { requireReason: true, minReasonLength: reveal.minReasonLength });
    const s = sink();
    // on the record before a byte of the report is read (a failure here is 503 governance_unavailable)
    await s.append(changeEntry('report.created', ctx.actor, ctx.ex, principal, { reason }));

    // resolutions name the person's pseudonym: under every key, so one made before a rotation is found too
    const known = deps.pseudonymiser()?.every(principal) ?? [];
    const o: SubjectOptions = { principal, includeViewers: viewers === 'true', ...(known.length > 0 ? { pseudonyms: new Set(known) } : {}) };
    const entries = s.stream({ ...filter, action: actions(SUBJECT_ACTIONS), subject: { principal: o.principal, pseudonyms: [...(o.pseudonyms ?? [])] } });
    if (format === 'json') return sendJson(res, 200, await subjectReport(entries, { ...o, since, until }));
    await streamRows(res, csvRows(entries, o), {
      contentType: 'text/csv; charset=utf-8',
      filename: 'subject-report.csv',
      first: subjectCsvHeader(o.includeViewers),
    });
  });

  r.get('/reports/summary', async (_req, res) => {
    const p = params(contextOf(res).ex.query, ['since', 'until', 'bucket']);
    const { filter } = range(p);
    const bucket = (p.get('bucket') ?? 'month') as BucketKind;
    if (!BUCKETS.includes(bucket)) throw new GatewayError('bad_request', 'Query parameter "bucket" must be day, week or month.');
    sendJson(res, 200, await summarise({ ...filter, action: actions(SUMMARY_ACTIONS) }, bucket));
  });
  return r;
}

async function* csvRows(entries: AsyncIterable<GovernanceEntry>, o: SubjectOptions): AsyncIterable<string> {
  for await (const e of entries) {
    const item = subjectItem(e, o);
    if (item?.kind === 'view') yield subjectCsvRow(item.view, o.includeViewers);
  }
}

const TIME = { type: 'string', format: 'date-time' };

/** SPEC §15, for the OpenAPI description (src/admin/openapi.ts). */
export const reportOperations: ApiOperation[] = [
  {
    method: 'get',
    path: '/reports/subject',
    summary: "Who saw a person's private activities, when and why (written as `report.created` first)",
    description: 'The reason comes from the `reveal.reasonHeader` header (required).',
    query: [
      query('principal', 'the person (UPN or e-mail address)', { required: true }),
      query('since', 'ISO-8601 with an offset, inclusive', { schema: TIME }),
      query('until', 'ISO-8601 with an offset, exclusive', { schema: TIME }),
      query('includeViewers', 'name who saw', { schema: { enum: ['true', 'false'] } }),
      query('format', 'stream the views as CSV', { schema: { enum: ['json', 'csv'] } }),
    ],
    content: ['application/json', 'text/csv'],
    responses: {
      200: '`{"principal","since"?,"until"?,"views":[...],"resolutions":[...],"entriesWithoutActors":n}`, or the CSV',
      400: '`reason_required`, `bad_reason`, an unknown parameter or a bad value',
      503: '`governance_unavailable`',
    },
  },
  {
    method: 'get',
    path: '/reports/summary',
    summary: 'How the power to reveal was used, per day, week or month, and by viewer',
    query: [
      query('since', 'ISO-8601 with an offset, inclusive', { schema: TIME }),
      query('until', 'ISO-8601 with an offset, exclusive', { schema: TIME }),
      query('bucket', 'UTC days, ISO weeks or calendar months (default month)', { schema: { enum: ['day', 'week', 'month'] } }),
    ],
    responses: { 200: '`{"buckets":[...],"byViewer":[...]}`', 400: 'an unknown parameter or a bad value', 503: '`governance_unavailable`' },
  },
];
