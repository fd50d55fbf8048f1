/**
 * Parsing of what a reveal request says about itself (SPEC §10), pure:
 * the reason (header, else token claim) and the scope header.
 *
 * Reason rules:
 * - the header value is percent-decoded as UTF-8 (`%C3%A9` → "é"); a `%` not
 *   followed by two hex digits is kept as it is; bytes that are not valid UTF-8
 *   after decoding are `bad_reason`;
 * - the token claim is taken as it is (JSON already carries Unicode); a claim
 *   that is not a string is `bad_reason`;
 * - control characters (Unicode Cc, including NUL, tab, CR and LF), the line and
 *   paragraph separators and the bidirectional overrides (which can make an
 *   audit line read differently from what it says) are `bad_reason` (the one
 *   rule of src/text.ts);
 * - the reason is stored trimmed; more than 500 characters (code points) after
 *   trimming is `bad_reason`;
 * - with requireReason, a missing reason or one shorter than minReasonLength
 *   characters is `reason_required`; only characters that are neither white
 *   space nor format characters (Cf: zero-width joiners, …) count, so twelve
 *   zero-width joiners are no reason (SPEC §10, v3). Without it, a reason with
 *   no such character is no reason.
 *
 * Scope rules: comma-separated `group:<id>` and `actor:<principal>` items (the
 * kind is case-insensitive, the value is trimmed and percent-decoded like a
 * reason, so an id holding a comma is written `%2C`); at most 100 items; an
 * empty header, an empty item, an unknown kind, an empty value or a control
 * character is `bad_scope`. Duplicates are dropped. Whether a group is in the
 * catalogue is checked by the caller (I/O).
 */
import { GatewayError } from '../errors.js';
import { normalizePrincipal } from '../principal.js';
import { hasControlOrBidi, visibleLength } from '../text.js';
import type { RevealScope } from './revealFilter.js';

export type RevealInputCode = 'reason_required' | 'bad_reason' | 'bad_scope';

/** A reveal whose reason or scope is not acceptable: 400 with `code` (src/errors.ts imports nothing, so pure code may use it). */
export class RevealInputError extends GatewayError {
  declare readonly code: RevealInputCode;
  constructor(code: RevealInputCode, message: string) {
    super(code, message);
  }
}

export const MAX_REASON_LENGTH = 500;
export const MAX_SCOPE_ITEMS = 100;

export interface ReasonRules {
  requireReason: boolean;
  minReasonLength: number;
}

/** Percent-decodes a header value as UTF-8; undefined when the bytes are not UTF-8. */
export function percentDecode(value: string): string | undefined {
  if (!value.includes('%') && !/[\u0080-\uffff]/.test(value)) return value;
  // node hands header bytes over as latin1: one char per byte
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (ch === 0x25 && i + 2 < value.length && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch > 0xff) {
      // not a raw header (a string from elsewhere): keep the character as UTF-8
      const cp = value.codePointAt(i)!;
      bytes.push(...new TextEncoder().encode(String.fromCodePoint(cp)));
      if (cp > 0xffff) i++;
    } else bytes.push(ch);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

function headerValue(raw: string | readonly string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  return typeof raw === 'string' ? raw : raw.join(', ');
}

/**
 * The reveal's reason: the header if it holds anything, else the claim.
 * Returns undefined when there is none (and none is required).
 */
export function parseReason(header: string | readonly string[] | undefined, claim: unknown, rules: ReasonRules): string | undefined {
  let text: string | undefined;
  const h = headerValue(header);
  if (h !== undefined && h.trim() !== '') {
    text = percentDecode(h);
    if (text === undefined) throw new RevealInputError('bad_reason', 'The reveal reason is not valid percent-encoded UTF-8.');
  } else if (claim !== undefined && claim !== null) {
    if (typeof claim !== 'string') throw new RevealInputError('bad_reason', 'The reveal reason claim must be a string.');
    text = claim;
  }
  if (text !== undefined) {
    if (hasControlOrBidi(text)) throw new RevealInputError('bad_reason', 'The reveal reason must not contain control characters (line breaks, NUL, tabs).');
    text = text.trim();
    if (codePoints(text) > MAX_REASON_LENGTH) throw new RevealInputError('bad_reason', `The reveal reason is longer than ${MAX_REASON_LENGTH} characters.`);
    if (visibleLength(text) === 0) text = undefined;
  }
  if (rules.requireReason) {
    if (text === undefined)
      throw new RevealInputError('reason_required', 'A reveal needs a reason: send it in the reason header (percent-encoded UTF-8) or the reason claim.');
    if (visibleLength(text) < rules.minReasonLength) {
      throw new RevealInputError(
        'reason_required',
        `The reveal reason must be at least ${rules.minReasonLength} characters long (white space and invisible characters do not count).`,
      );
    }
  }
  return text;
}

/** The scope header, or undefined when it was not sent. Throws RevealInputError('bad_scope'). */
export function parseScope(header: string | readonly string[] | undefined): RevealScope | undefined {
  const raw = headerValue(header);
  if (raw === undefined) return undefined;
  const bad = (why: string): never => {
    throw new RevealInputError(
      'bad_scope',
      `The reveal scope is not valid: ${why}. Expected comma-separated group:<id> and actor:<principal> items, at most ${MAX_SCOPE_ITEMS}.`,
    );
  };
  const items = raw.split(',');
  if (raw.trim() === '') bad('it is empty');
  if (items.length > MAX_SCOPE_ITEMS) bad(`more than ${MAX_SCOPE_ITEMS} items`);
  const groups: string[] = [];
  const actors: string[] = [];
  for (const item of items) {
    const t = item.trim();
    if (t === '') bad('an item is empty');
    const colon = t.indexOf(':');
    if (colon < 0) bad('an item has no kind (group: or actor:)');
    const kind = t.slice(0, colon).trim().toLowerCase();
    const value = percentDecode(t.slice(colon + 1).trim());
    if (value === undefined) bad('an item is not valid percent-encoded UTF-8');
    const v = value!.trim();
    if (v === '') bad('an item has an empty value');
    if (hasControlOrBidi(v)) bad('an item contains control characters');
    if (kind === 'group') {
      if (!groups.includes(v)) groups.push(v);
    } else if (kind === 'actor') {
      const p = normalizePrincipal(v)!;
      if (!actors.includes(p)) actors.push(p);
    } else bad('an item has an unknown kind (only group: and actor:)');
  }
  return { groups, actors };
}
