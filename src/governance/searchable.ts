/**
 * The searchable copy of an entry in PostgreSQL (column `entry`, jsonb). jsonb and
 * text cannot hold U+0000, yet any string of an entry may (SPEC §6), so the copy
 * stands U+0000 in as U+FFFF "0" and U+FFFF itself as U+FFFF U+FFFF: one-to-one,
 * and every string without either character is unchanged. The chained text
 * (column `line`) keeps the original strings; it is what is read and hashed.
 */
// U+0000 is the point here, so the regular expression names it
// eslint-disable-next-line no-control-regex
const ESCAPED = /[\u0000\uffff]/g;

export function searchableString(s: string): string {
  return s.replace(ESCAPED, (c) => (c === '\u0000' ? '\uffff0' : '\uffff\uffff'));
}

/** The entry (or any JSON value) with every string, keys included, made searchable. */
export function searchableCopy(v: unknown): unknown {
  if (typeof v === 'string') return searchableString(v);
  if (Array.isArray(v)) return v.map(searchableCopy);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[searchableString(k)] = searchableCopy(x);
    return out;
  }
  return v;
}
