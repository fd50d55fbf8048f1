/**
 * A principal (a person or service as the identity provider names it: a UPN or an
 * e-mail address), one home for its form and its canonical spelling. Config, admin
 * API, identity, the privacy engine and the directory all compare principals in
 * this canonical form. Imports only the other leaf `text.ts`, so every layer may use it.
 */
import { hasControlOrBidi } from './text.js';

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * `local@domain.tld`: no whitespace, no second `@`, no `/` or `\` (a principal is also a
 * URL path segment of the admin API), a domain of dot-separated non-empty labels.
 */
const PRINCIPAL = /^[^\s@/\\]+@[^\s@/\\.]+(?:\.[^\s@/\\.]+)+$/;

/**
 * Canonical spelling: trimmed, lower-cased, NFC for non-ASCII (so a composed and a
 * decomposed "é" are the same person). undefined when empty.
 */
export function normalizePrincipal(value: string): string | undefined {
  let s = value.trim();
  if (s === '') return undefined;
  s = s.toLowerCase();
  return NON_ASCII.test(s) ? s.normalize('NFC') : s;
}

/**
 * true when the value, once normalised, has the form of a principal; never with a control or
 * bidirectional character (SPEC §10, v3: `\s` does not cover NUL, U+0085 or U+202E).
 */
export function isPrincipal(value: string): boolean {
  return parsePrincipal(value) !== undefined;
}

/** The canonical principal, or undefined when the value does not have the form of one. */
export function parsePrincipal(value: string): string | undefined {
  // checked before trimming: "eve@contoso.com\n" is not eve@contoso.com
  if (hasControlOrBidi(value)) return undefined;
  const p = normalizePrincipal(value);
  return p !== undefined && PRINCIPAL.test(p) ? p : undefined;
}
