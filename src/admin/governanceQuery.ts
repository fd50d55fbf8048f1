/**
 * Query parameters of `GET api/governance` (SPEC §7), pure. Every parameter is
 * checked; an unknown one, a repeated one other than `action`, or a bad value
 * is refused with a message that names it (400 bad_request), so a typo never
 * silently answers the unfiltered log.
 */
import { GOVERNANCE_ACTIONS, type GovernanceAction, type QueryFilter } from '../governance/types.js';
import { parseTimestamp } from '../privacy/time.js';
import { hasControlOrBidi } from '../text.js';

export type GovernanceFormat = 'json' | 'ndjson' | 'csv';

export interface GovernanceQuery {
  filter: QueryFilter;
  /** page size for json (default 100, at most 1000); for streams a cap only when given */
  limit?: number;
  format: GovernanceFormat;
}

const KNOWN = new Set(['afterSeq', 'limit', 'action', 'principal', 'since', 'until', 'format']);
const FORMATS: readonly GovernanceFormat[] = ['json', 'ndjson', 'csv'];
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export type ParsedQuery = { ok: true; query: GovernanceQuery } | { ok: false; message: string };

function integer(v: string, min: number, max: number): number | undefined {
  if (!/^\d{1,16}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max && Number.isSafeInteger(n) ? n : undefined;
}

export function parseGovernanceQuery(rawQuery: string): ParsedQuery {
  const params = new URLSearchParams(rawQuery);
  const seen = new Map<string, string[]>();
  for (const [k, v] of params) {
    if (!KNOWN.has(k)) return { ok: false, message: `Unknown query parameter "${k}". Known: ${[...KNOWN].join(', ')}.` };
    const list = seen.get(k) ?? [];
    list.push(v);
    seen.set(k, list);
  }
  const one = (k: string): string | undefined | null => {
    const l = seen.get(k);
    if (l === undefined) return undefined;
    return l.length === 1 ? l[0] : null;
  };
  for (const k of seen.keys()) if (k !== 'action' && one(k) === null) return { ok: false, message: `Query parameter "${k}" may be given only once.` };

  const format = (one('format') ?? 'json') as GovernanceFormat;
  if (!FORMATS.includes(format)) return { ok: false, message: `Query parameter "format" must be ndjson or csv (or json, the default).` };
  const filter: QueryFilter = {};

  const afterSeq = one('afterSeq');
  if (afterSeq !== undefined) {
    const n = integer(afterSeq!, 0, Number.MAX_SAFE_INTEGER);
    if (n === undefined) return { ok: false, message: 'Query parameter "afterSeq" must be an integer >= 0.' };
    filter.afterSeq = n;
  }
  let limit: number | undefined;
  const rawLimit = one('limit');
  if (rawLimit !== undefined) {
    const max = format === 'json' ? MAX_PAGE : Number.MAX_SAFE_INTEGER;
    limit = integer(rawLimit!, 1, max);
    if (limit === undefined)
      return { ok: false, message: `Query parameter "limit" must be an integer from 1 to ${format === 'json' ? MAX_PAGE : 'any size for streams'}.` };
  } else if (format === 'json') limit = DEFAULT_PAGE;

  const actions = seen.get('action');
  if (actions !== undefined) {
    for (const a of actions) {
      if (!(GOVERNANCE_ACTIONS as readonly string[]).includes(a))
        return { ok: false, message: `Query parameter "action" must be one of ${GOVERNANCE_ACTIONS.join(', ')}; got "${a}".` };
    }
    filter.action = [...new Set(actions)] as GovernanceAction[];
  }
  const principal = one('principal');
  if (principal !== undefined) {
    const p = principal!.trim().toLowerCase();
    if (p === '' || p.length > 320 || hasControlOrBidi(p))
      return { ok: false, message: 'Query parameter "principal" must be a principal (UPN or e-mail address).' };
    filter.principal = p;
  }
  for (const k of ['since', 'until'] as const) {
    const v = one(k);
    if (v === undefined) continue;
    const t = parseTimestamp(v);
    if (t === undefined) return { ok: false, message: `Query parameter "${k}" must be an ISO-8601 date-time with an offset, like 2026-11-26T10:00:00Z.` };
    filter[k] = t;
  }
  return { ok: true, query: limit === undefined ? { filter, format } : { filter, format, limit } };
}
