/**
 * Test oracle for SPEC §14 rewriting, on parsed values: JSON.parse the record, replace the
 * actor's principal in every string value (not in keys) with a regular expression, and
 * compare the rewritten record's parse with it. Never imported by src/.
 */
const ADDRESS = '[\\p{L}\\p{N}._+\\-]';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** the principal in one decoded string: case-insensitive, `@` also `%40`, not touching an address character */
export function oracleReplace(text: string, principal: string, pseudonym: string): string {
  const at = principal.indexOf('@');
  const local = escapeRe(principal.slice(0, at));
  const domain = escapeRe(principal.slice(at + 1));
  const re = new RegExp(`(?<!${ADDRESS})${local}(@|%40)${domain}(?!${ADDRESS})`, 'giu');
  return text.replace(re, (_m, sep: string) => (sep === '@' ? pseudonym : pseudonym.replace('@', '%40')));
}

/** every string value of a parsed JSON value, rewritten */
export function oracleRewrite(value: unknown, principal: string, pseudonym: string): unknown {
  if (typeof value === 'string') return oracleReplace(value, principal, pseudonym);
  if (Array.isArray(value)) return value.map((v) => oracleRewrite(v, principal, pseudonym));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = oracleRewrite(v, principal, pseudonym);
    return out;
  }
  return value;
}
