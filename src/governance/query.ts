/**
 * Governance log queries (SPEC §7 `GET api/governance`), pure: the filter every
 * sink applies, and the CSV rendering of an entry. The file sink applies
 * matches() line by line; the PostgreSQL sink puts the same conditions in SQL
 * (sqlFilter) — tests run both against the same log.
 */
import { searchableString } from './searchable.js';
import type { GovernanceAction, GovernanceEntry, QueryFilter } from './types.js';

export interface CompiledFilter {
  afterSeq: number;
  /** undefined = every action */
  actions?: ReadonlySet<string>;
  principal?: string;
  /** epoch ms; whole milliseconds (entry times have millisecond precision) */
  since?: number;
  until?: number;
}

export function compileFilter(f: QueryFilter): CompiledFilter {
  const out: CompiledFilter = { afterSeq: Number.isSafeInteger(f.afterSeq) && f.afterSeq! > 0 ? f.afterSeq! : 0 };
  if (f.action !== undefined) out.actions = new Set<GovernanceAction>(typeof f.action === 'string' ? [f.action] : f.action);
  if (f.principal !== undefined) out.principal = f.principal.toLowerCase();
  // t >= since ⇔ t >= ceil(since) and t < until ⇔ t < ceil(until) for whole-ms t
  if (f.since !== undefined) out.since = Math.ceil(f.since);
  if (f.until !== undefined) out.until = Math.ceil(f.until);
  return out;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** A page size for read(): 100 when not given, otherwise a whole number in 1..1000. */
export function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT;
  return Math.min(MAX_LIMIT, Math.max(1, Math.floor(limit)));
}

/** Does a parsed entry match? (seq > afterSeq is checked too.) */
export function matches(c: CompiledFilter, e: GovernanceEntry): boolean {
  if (!(e.seq > c.afterSeq)) return false;
  if (c.actions && !c.actions.has(e.action)) return false;
  if (c.principal !== undefined && (typeof e.principal !== 'string' || e.principal.toLowerCase() !== c.principal)) return false;
  if (c.since !== undefined || c.until !== undefined) {
    const t = Date.parse(e.time);
    if (Number.isNaN(t)) return false;
    if (c.since !== undefined && t < c.since) return false;
    if (c.until !== undefined && t >= c.until) return false;
  }
  return true;
}

/** WHERE conditions (after `seq > $1 AND seq <= $2`) and their parameters, numbered from `first`. */
export function sqlFilter(c: CompiledFilter, first: number): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  const next = (v: unknown): string => {
    params.push(v);
    return `$${first + params.length - 1}`;
  };
  if (c.actions) parts.push(`action = ANY(${next([...c.actions])}::text[])`);
  if (c.principal !== undefined) parts.push(`lower(entry->>'principal') = ${next(searchableString(c.principal))}::text`);
  if (c.since !== undefined) parts.push(`time >= ${next(new Date(c.since).toISOString())}::timestamptz`);
  if (c.until !== undefined) parts.push(`time < ${next(new Date(c.until).toISOString())}::timestamptz`);
  return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
}

export const CSV_COLUMNS = ['seq', 'time', 'action', 'principal', 'via', 'target', 'count', 'reason', 'requestId', 'instance', 'hash'] as const;

/**
 * One RFC 4180 cell. A text cell that a spreadsheet would run as a formula
 * (starting with = + - @, tab or CR) gets a leading apostrophe: reasons are free
 * text typed by people, and the CSV is meant to be opened by other people.
 */
export function csvCell(v: unknown, text: boolean): string {
  if (v === undefined || v === null) return '';
  let s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : (JSON.stringify(v) ?? '');
  if (text && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',') + '\r\n';
}

export function csvRow(e: GovernanceEntry): string {
  return (
    [
      csvCell(e.seq, false),
      csvCell(e.time, false),
      csvCell(e.action, true),
      csvCell(e.principal, true),
      csvCell(e.via, true),
      csvCell(e.target, true),
      csvCell(e.privateActivities?.count, false),
      csvCell(e.reason, true),
      csvCell(e.request?.id, true),
      csvCell(e.instance, true),
      csvCell(e.hash, false),
    ].join(',') + '\r\n'
  );
}
