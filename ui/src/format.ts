/**
 * Pure helpers of the console app (no DOM, no imports): unit-tested from test/unit/ui/.
 */

export const CSV_COLUMNS = ['seq', 'time', 'action', 'principal', 'via', 'target', 'count', 'reason', 'requestId', 'instance', 'hash'] as const;

/** The governance entry fields the CSV holds (SPEC §7 columns). */
export interface CsvEntry {
  seq: number;
  time: string;
  action: string;
  principal: string;
  via?: string;
  target?: string;
  reason?: string;
  privateActivities?: { count: number };
  request?: { id?: string };
  instance?: string;
  hash?: string;
}

/** Reads a dot path (`user.userName`) from a record; undefined when absent. */
export function readPath(record: unknown, path: string): unknown {
  if (path === '') return record;
  let cur: unknown = record;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

/** Reason header value: non-ASCII characters (and %) percent-encoded as UTF-8 (SPEC §10). */
export function encodeReason(reason: string): string {
  return reason.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

export function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  // a leading =, +, - or @ would be a formula in a spreadsheet
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(entries: CsvEntry[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const e of entries) {
    lines.push(
      [e.seq, e.time, e.action, e.principal, e.via, e.target, e.privateActivities?.count, e.reason, e.request?.id, e.instance, e.hash].map(csvCell).join(','),
    );
  }
  return lines.join('\r\n') + '\r\n';
}

/** A datetime-local value (local time) as ISO-8601 with an offset; '' stays undefined. */
export function localToIso(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function formatTime(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  const textOf = typeof value === 'string' ? value : JSON.stringify(value);
  const d = typeof value === 'number' ? new Date(value) : new Date(textOf);
  if (Number.isNaN(d.getTime())) return textOf;
  return d
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

/** SPEC §14: shaped like a pseudonym (p-<token>@<domain>); whether a key made it, only the gateway knows. */
export function isPseudonym(value: string): boolean {
  return /^p-[a-z2-7]{28,}@[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/.test(value);
}
