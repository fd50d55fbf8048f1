/**
 * Request-target normalisation (SPEC §4 step 1). Pure, no I/O.
 *
 * The gateway matches routes on the normalised path and forwards that same path,
 * so anything a lenient upstream could resolve differently from us is rejected
 * rather than guessed at: encoded separators, double encoding, matrix params,
 * control characters, trailing dots/whitespace (Windows/IIS-style trimming),
 * invalid UTF-8 (overlong `%C0%AE`), and Unicode that NFKC-folds into separators.
 */

export type NormalizeResult = { ok: true; path: string } | { ok: false; reason: string };

// Reject reasons in priority order: when one path has several problems the
// earliest listed wins, so the reported reason does not depend on position.
const REASONS = [
  'not_origin_form',
  'encoded_slash',
  'encoded_backslash',
  'double_encoding',
  'backslash',
  'semicolon',
  'control_char',
  'bad_char',
  'bad_percent',
  'bad_utf8',
  'climbs_above_root',
  'trailing_dot_or_space',
  'confusable',
] as const;
type Reason = (typeof REASONS)[number];
const BIT = Object.fromEntries(REASONS.map((r, i) => [r, 1 << i])) as Record<Reason, number>;

function fail(flags: number): NormalizeResult {
  for (const r of REASONS) if (flags & BIT[r]) return { ok: false, reason: r };
  /* c8 ignore next */
  return { ok: false, reason: 'bad_path' };
}

// Per ASCII code: 0 = allowed raw pchar, 1 = unreserved (also decoded when %-encoded), else a reason bit.
const UNRESERVED = new Uint8Array(128);
const RAW_CLASS = new Int32Array(128);
{
  for (let c = 0; c < 128; c++) RAW_CLASS[c] = BIT.bad_char;
  for (let c = 0; c < 0x20; c++) RAW_CLASS[c] = BIT.control_char;
  RAW_CLASS[0x7f] = BIT.control_char;
  const unreserved = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
  for (const ch of unreserved) {
    UNRESERVED[ch.charCodeAt(0)] = 1;
    RAW_CLASS[ch.charCodeAt(0)] = 0;
  }
  // RFC 3986 pchar sub-delims plus ':' '@' and the separator '/'; ';' is rejected below.
  for (const ch of "!$&'()*+,=:@/") RAW_CLASS[ch.charCodeAt(0)] = 0;
  RAW_CLASS[0x5c] = BIT.backslash;
  RAW_CLASS[0x3b] = BIT.semicolon;
  RAW_CLASS[0x25] = -1; // '%': handled separately
}

const HEX = '0123456789ABCDEF';

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Reason bits for one percent-encoded byte that must never reach an upstream. */
function encodedByteFlags(b: number): number {
  if (b === 0x2f) return BIT.encoded_slash;
  if (b === 0x5c) return BIT.encoded_backslash;
  if (b === 0x25) return BIT.double_encoding;
  if (b === 0x3b) return BIT.semicolon; // `%3B`: some servers decode before stripping matrix params
  if (b < 0x20 || b === 0x7f) return BIT.control_char;
  return 0;
}

// Trailing characters that lenient servers trim: '.', Unicode whitespace, NEL (.NET trims it).
const TRIMMABLE_END = /[.\s\u0085]$/u;
const CONTROL = /\p{Cc}/u;

/** Checks one non-dot segment (unreserved already decoded); returns reason bits. */
function segmentFlags(seg: string): number {
  const last = seg.charCodeAt(seg.length - 1);
  if (last === 0x2e) return BIT.trailing_dot_or_space;
  if (seg.indexOf('%') < 0) return 0; // raw ASCII pchars only: nothing else to decode
  let decoded: string;
  try {
    decoded = decodeURIComponent(seg);
  } catch {
    return BIT.bad_utf8; // overlong (%C0%AE), surrogates, truncated sequences
  }
  if (CONTROL.test(decoded)) return BIT.control_char; // C1 controls arrive as %C2%80..%C2%9F
  if (TRIMMABLE_END.test(decoded)) return BIT.trailing_dot_or_space;
  // Servers that apply NFKC would turn e.g. U+FF0E / U+FF0F into '.' / '/'.
  const folded = decoded.normalize('NFKC');
  if (folded !== decoded) {
    if (folded === '.' || folded === '..' || folded.includes('/') || folded.includes('\\') || folded.includes(';') || TRIMMABLE_END.test(folded))
      return BIT.confusable;
  }
  return 0;
}

/**
 * Normalises the path of a request target. Anything from the first '?' on is
 * ignored (use splitTarget for the query). The result has unreserved characters
 * decoded, remaining percent-escapes in upper-case hex, dot-segments resolved,
 * `//` runs collapsed and the trailing slash kept as sent. Case is preserved.
 */
export function normalizePath(rawPath: string): NormalizeResult {
  const q = rawPath.indexOf('?');
  const raw = q >= 0 ? rawPath.slice(0, q) : rawPath;
  if (raw.length === 0 || raw.charCodeAt(0) !== 0x2f) return fail(BIT.not_origin_form);

  let flags = 0;
  let out = '';
  let runStart = 0; // start of the pending run of characters copied verbatim
  const n = raw.length;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 128) {
      flags |= BIT.bad_char; // raw non-ASCII: clients must percent-encode it
      continue;
    }
    const cls = RAW_CLASS[c];
    if (cls === 0) continue;
    if (cls > 0) {
      flags |= cls;
      continue;
    }
    // '%'
    const h = i + 2 < n ? hexVal(raw.charCodeAt(i + 1)) : -1;
    const l = i + 2 < n ? hexVal(raw.charCodeAt(i + 2)) : -1;
    if (h < 0 || l < 0) {
      flags |= BIT.bad_percent;
      continue;
    }
    const b = (h << 4) | l;
    flags |= encodedByteFlags(b);
    out += raw.slice(runStart, i);
    out += b < 128 && UNRESERVED[b] ? String.fromCharCode(b) : '%' + HEX[h] + HEX[l];
    i += 2;
    runStart = i + 1;
  }
  if (flags) return fail(flags);
  out += raw.slice(runStart);

  // RFC 3986 remove_dot_segments over '/'-separated segments, with empty
  // segments dropped (collapses '//') and climbing above '/' an error.
  const segs = out.split('/');
  const kept: string[] = [];
  let trailing = false;
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i];
    const isLast = i === segs.length - 1;
    if (seg === '' || seg === '.') {
      if (isLast) trailing = true;
      continue;
    }
    if (seg === '..') {
      if (kept.length === 0) {
        flags |= BIT.climbs_above_root;
        break;
      }
      kept.pop();
      if (isLast) trailing = true;
      continue;
    }
    flags |= segmentFlags(seg);
    kept.push(seg);
  }
  if (flags) return fail(flags);
  if (kept.length === 0) return { ok: true, path: '/' };
  return { ok: true, path: '/' + kept.join('/') + (trailing ? '/' : '') };
}

const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * Splits req.url into the raw path and the raw query (verbatim, without '?';
 * '' when absent). Absolute-form targets (http://host/path) are reduced to their
 * path ('/' when empty); the authority is dropped since the gateway always
 * forwards to its configured upstream. '*' and other non-origin forms are left
 * for normalizePath to reject.
 */
export function splitTarget(url: string): { path: string; query: string } {
  let target = url;
  const abs = ABSOLUTE_FORM.exec(target);
  if (abs) {
    target = target.slice(abs[0].length);
    if (target === '' || target.charCodeAt(0) !== 0x2f) target = '/' + target;
  }
  const q = target.indexOf('?');
  if (q < 0) return { path: target, query: '' };
  return { path: target.slice(0, q), query: target.slice(q + 1) };
}
