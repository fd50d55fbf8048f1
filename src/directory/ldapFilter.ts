/**
 * LDAP search filters built from the configured templates (SPEC §9). Pure.
 *
 * `{principal}` is the actor (trimmed, lower-cased); `{local}` its local part: after the
 * last `\` of `DOMAIN\user`, else before the last `@` of a UPN or address, else the whole
 * principal (`user`). Both are escaped per RFC 4515 §3 before they are put into the filter,
 * so a principal such as `*)(uid=*` or one holding NUL can only ever match itself.
 */
import { FilterParser } from 'ldapts';
import { guidBytes, isBinaryGuidAttribute } from './guid.js';

/** RFC 4515 value escaping: `\` `*` `(` `)` NUL and every other control character as `\XX`. */
export function escapeFilterValue(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\\*()\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The `{local}` part of a principal: `DOMAIN\user` → user, `user@contoso.com` → user, `user` → user. */
export function localPart(principal: string): string {
  const bs = principal.lastIndexOf('\\');
  if (bs >= 0) return principal.slice(bs + 1);
  const at = principal.lastIndexOf('@');
  return at > 0 ? principal.slice(0, at) : principal;
}

/** The user filter for one principal, every substituted value escaped. */
export function userFilterFor(template: string, principal: string): string {
  const p = principal.trim().toLowerCase();
  return template.replace(/\{(principal|local)\}/g, (_, name: string) => escapeFilterValue(name === 'local' ? localPart(p) : p));
}

/** Why a filter template does not parse as an LDAP filter (placeholders filled in), or undefined when it does. */
export function filterProblem(template: string): string | undefined {
  const sample = userFilterFor(template, 'sample@example.com');
  const trimmed = sample.trim();
  if (!trimmed.startsWith('(')) return 'must be an LDAP filter in parentheses, e.g. (uid={local})';
  let depth = 0;
  for (let i = 0; i < trimmed.length; i++) {
    const c = trimmed[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth <= 0) {
      if (depth < 0) break;
      if (i < trimmed.length - 1) return 'has text after the filter; combine several filters with (&...) or (|...)';
    }
  }
  if (depth !== 0) return 'has unbalanced parentheses';
  if (!trimmed.endsWith(')')) return 'must be an LDAP filter in parentheses, e.g. (uid={local})';
  try {
    FilterParser.parseString(trimmed);
    return undefined;
  } catch (err) {
    return `is not a valid LDAP filter (${err instanceof Error ? err.message : 'parse error'})`;
  }
}

/** `(&<base>(<attribute>=<dn>))` — or, for several DNs, `(&<base>(|(a=dn1)(a=dn2)…))`. */
export function memberFilter(base: string, attribute: string, dns: readonly string[]): string {
  const terms = dns.map((dn) => `(${attribute}=${escapeFilterValue(dn)})`);
  return `(&${base}${terms.length === 1 ? terms[0] : `(|${terms.join('')})`})`;
}

/**
 * A group id as an assertion value for `attribute`: objectGUID ids are their 16 bytes, each
 * `\XX` (the text form is Microsoft's mixed-endian layout, guid.ts); anything else escaped
 * text. undefined when an objectGUID id is not a GUID.
 */
export function idFilterValue(attribute: string, id: string): string | undefined {
  if (!isBinaryGuidAttribute(attribute)) return escapeFilterValue(id);
  const bytes = guidBytes(id);
  return bytes && [...bytes].map((b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
}
