/**
 * SPEC §14: replaces the actor's principal by its pseudonym in one record's raw bytes,
 * without parsing the record into objects. Every other byte stays as the upstream sent it.
 *
 * An occurrence is the principal compared case-insensitively, with `@` also written `%40`
 * (the pseudonym is then written with `%40` too) and with any character JSON-escaped, not
 * touching a character that can continue an address (letter, digit, `.`, `-`, `_`, `+`).
 * In JSON only string values count (object keys stay); in CSV and CEF text every
 * character does (the callers choose the part of the line).
 *
 * The matcher walks the text as units (one decoded character and the bytes it spans) and
 * tries the principal at each unit start; the first unit of a try almost always differs,
 * so the cost is one pass over the record's string bytes.
 */

import { isAscii } from 'node:buffer';

/** bytes [start, end) of the record are replaced by `with` */
export interface Replacement {
  start: number;
  end: number;
  with: Buffer;
}

/** The compiled principal: its lower-cased code points and the two pseudonym spellings. */
export interface PseudonymTarget {
  readonly points: readonly number[];
  /** the local part's length when the whole principal is ASCII (the fast path of ASCII text), else -1 */
  readonly asciiLocal: number;
  readonly plain: Buffer;
  readonly percent: Buffer;
}

const AT = 0x40;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;

export function pseudonymTarget(principal: string, pseudonym: string): PseudonymTarget {
  const points = [...principal.toLowerCase()].map((ch) => ch.codePointAt(0)!);
  const asciiLocal = points.every((p) => p < 0x80) ? principal.indexOf('@') : -1;
  return { points, asciiLocal, plain: Buffer.from(pseudonym, 'utf8'), percent: Buffer.from(pseudonym.replace('@', '%40'), 'utf8') };
}

/** the unit decoded last: the code point of an escape and the index after the unit */
let unitCp = 0;
let unitNext = 0;

/** Decodes one unit at i (< end): a UTF-8 character, or in JSON an escape sequence; returns its code point. */
function readUnit(b: Buffer, i: number, end: number, json: boolean): number {
  const c = b[i];
  if (c < 0x80) {
    if (json && c === BACKSLASH) {
      readEscape(b, i, end);
      return unitCp;
    }
    unitNext = i + 1;
    return c;
  }
  const n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  if (n === 1 || i + n > end) {
    unitNext = i + 1;
    return 0xfffd;
  }
  let cp = n === 2 ? c & 0x1f : n === 3 ? c & 0x0f : c & 0x07;
  for (let k = 1; k < n; k++) cp = (cp << 6) | (b[i + k] & 0x3f);
  unitNext = i + n;
  return cp;
}

const SIMPLE: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9 };

function hex4(b: Buffer, i: number): number {
  return parseInt(b.toString('latin1', i, i + 4), 16);
}

function readEscape(b: Buffer, i: number, end: number): void {
  const e = b[i + 1];
  if (e !== 0x75) {
    unitCp = SIMPLE[e] ?? e;
    unitNext = i + 2;
    return;
  }
  let cp = hex4(b, i + 2);
  unitNext = i + 6;
  // a surrogate pair written as two escapes is one character
  if (cp >= 0xd800 && cp < 0xdc00 && unitNext + 6 <= end && b[unitNext] === BACKSLASH && b[unitNext + 1] === 0x75) {
    const lo = hex4(b, unitNext + 2);
    if (lo >= 0xdc00 && lo < 0xe000) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      unitNext += 6;
    }
  }
  unitCp = cp;
}

const WORDISH = /[\p{L}\p{N}]/u;

/** letter, digit, `.`, `-`, `_`, `+`: a character that continues an address */
export function continuesAddress(cp: number): boolean {
  if (cp < 0x80) {
    return (cp >= 0x30 && cp <= 0x39) || ((cp | 0x20) >= 0x61 && (cp | 0x20) <= 0x7a) || cp === 0x2e || cp === 0x2d || cp === 0x5f || cp === 0x2b;
  }
  return WORDISH.test(String.fromCodePoint(cp));
}

function lower(cp: number): number {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp | 0x20 : cp;
  const s = String.fromCodePoint(cp).toLowerCase();
  return s.length === String.fromCodePoint(cp).length ? s.codePointAt(0)! : -1;
}

/** the end of a try that matched (and whether `@` was `%40`), or -1 */
let matchPercent = false;

function tryMatch(b: Buffer, i: number, end: number, t: PseudonymTarget, json: boolean): number {
  matchPercent = false;
  const pts = t.points;
  for (let k = 0; k < pts.length; k++) {
    if (i >= end) return -1;
    const cp = readUnit(b, i, end, json);
    const want = pts[k];
    if (lower(cp) === want) {
      i = unitNext;
      continue;
    }
    if (want !== AT || cp !== PERCENT) return -1;
    // `%40`: two more units, '4' and '0'
    let j = unitNext;
    if (j >= end || readUnit(b, j, end, json) !== 0x34) return -1;
    j = unitNext;
    if (j >= end || readUnit(b, j, end, json) !== 0x30) return -1;
    i = unitNext;
    matchPercent = true;
  }
  return i;
}

/**
 * The occurrences of the target in the text bytes [start, end) (a JSON string's inside
 * when `json`, else plain text), appended to `out`.
 */
export function replaceInText(b: Buffer, start: number, end: number, t: PseudonymTarget, json: boolean, out: Replacement[]): void {
  if (t.points.length === 0) return;
  const first = t.points[0];
  let prevContinues = false;
  let i = start;
  while (i < end) {
    const cp = readUnit(b, i, end, json);
    const next = unitNext;
    if (!prevContinues && lower(cp) === first) {
      const stop = tryMatch(b, i, end, t, json);
      if (stop >= 0) {
        const percent = matchPercent;
        let after = false;
        if (stop < end) after = continuesAddress(readUnit(b, stop, end, json));
        if (!after) {
          out.push({ start: i, end: stop, with: percent ? t.percent : t.plain });
          // the pseudonym ends in a letter; what follows the match is not an address character
          prevContinues = false;
          i = stop;
          continue;
        }
      }
    }
    prevContinues = continuesAddress(cp);
    i = next;
  }
}

/** The index of the quote that closes the string whose inside starts at i. */
function stringEnd(b: Buffer, i: number, end: number): number {
  for (;;) {
    const q = b.indexOf(QUOTE, i);
    if (q < 0 || q >= end) return end;
    // an odd run of backslashes before it escapes the quote
    let k = q - 1;
    while (k >= i && b[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q;
    i = q + 1;
  }
}

function isKey(b: Buffer, q: number, end: number): boolean {
  for (let k = q + 1; k < end; k++) {
    const c = b[k];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x3a;
  }
  return false;
}

/**
 * Can the string inside [s, e) hold an occurrence at all? Every spelling has an `@`, a `%`
 * (of `%40`) or a backslash (an escape); most strings of a record (ids, times, types) have none.
 */
function mayHold(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c === AT || c === PERCENT || c === BACKSLASH) return true;
  }
  return false;
}

/**
 * The occurrences in the string values of one valid JSON text (a record) at [start, end).
 * Only strings at least as long as the principal's shortest spelling that may hold one are tried.
 */
export function replaceInJson(b: Buffer, start: number, end: number, t: PseudonymTarget, out: Replacement[]): void {
  const min = t.points.length;
  let i = start;
  for (;;) {
    const open = b.indexOf(QUOTE, i);
    if (open < 0 || open >= end) return;
    const close = stringEnd(b, open + 1, end);
    if (close - open - 1 >= min && mayHold(b, open + 1, close) && !isKey(b, close, end)) replaceInText(b, open + 1, close, t, true, out);
    i = close + 1;
  }
}

/** Applies sorted, non-overlapping replacements of [start, end) and returns the record's new bytes. */
export function applyReplacements(b: Buffer, start: number, end: number, reps: readonly Replacement[]): Buffer {
  if (reps.length === 0) return start === 0 && end === b.length ? b : b.subarray(start, end);
  const parts: Buffer[] = [];
  let at = start;
  for (const r of reps) {
    parts.push(b.subarray(at, r.start), r.with);
    at = r.end;
  }
  parts.push(b.subarray(at, end));
  return Buffer.concat(parts);
}

/** One JSON record's bytes with the actor pseudonymised. */
export function pseudonymiseJsonRecord(b: Buffer, t: PseudonymTarget): Buffer {
  const reps: Replacement[] = [];
  replaceInJson(b, 0, b.length, t, reps);
  return applyReplacements(b, 0, b.length, reps);
}

/**
 * ASCII text and an ASCII principal (the usual CSV row or CEF line): an occurrence has an `@`
 * or a `%40` exactly the local part's length after its start, so only those places are tried
 * (found natively) — the same answers as replaceInText, without walking every character.
 */
function replaceInAsciiText(b: Buffer, start: number, end: number, t: PseudonymTarget, out: Replacement[]): void {
  const view = b.subarray(start, end);
  const at: number[] = [];
  for (let k = view.indexOf(AT); k >= 0; k = view.indexOf(AT, k + 1)) at.push(start + k);
  for (let k = view.indexOf('%40'); k >= 0; k = view.indexOf('%40', k + 1)) at.push(start + k);
  if (at.length === 0) return;
  at.sort((x, y) => x - y);
  let done = start;
  for (const a of at) {
    const s = a - t.asciiLocal;
    if (s < done || (s > start && continuesAddress(b[s - 1]))) continue;
    const stop = tryMatch(b, s, end, t, false);
    if (stop < 0 || (stop < end && continuesAddress(b[stop]))) continue;
    out.push({ start: s, end: stop, with: matchPercent ? t.percent : t.plain });
    done = stop;
  }
}

/** One text record's bytes (a CSV row, a CEF line from `from` on) with the actor pseudonymised. */
export function pseudonymiseTextRecord(b: Buffer, t: PseudonymTarget, from = 0): Buffer {
  const reps: Replacement[] = [];
  if (t.asciiLocal > 0 && isAscii(b.subarray(from))) replaceInAsciiText(b, from, b.length, t, reps);
  else replaceInText(b, from, b.length, t, false, reps);
  return applyReplacements(b, 0, b.length, reps);
}
