/**
 * CEF framing: one event a line, `[syslog prefix] CEF:Version|Vendor|Product|
 * Version|SignatureID|Name|Severity|Extension`.
 *
 * Read from the extension: actor `suser`, time `rt` (else `start`), id
 * `externalId`. Groups: CEF has no standard field for them, so only an
 * explicit one is read — an extension key `userTags`, or a custom string
 * `csN` whose `csNLabel` is `userTags` (case-insensitive) — as ids separated
 * by `;`. Likewise the actor type (for the application matcher): an extension
 * key `actorType` or a `csN` labelled `actorType`. Nothing else is guessed. A line that is not a readable CEF event is
 * withheld, and so is a line that gives a decision key twice or a decision value
 * with an unescaped `=` (readCefEvent). Times: epoch ms, ISO-8601 with an offset, or
 * the CEF date forms `MMM dd yyyy HH:mm:ss[.SSS][ zone]` (no zone = UTC). A time that
 * reads as before 2000-01-01 (an epoch in seconds read as milliseconds lands in 1970,
 * before any `privateSince`) is no time: the event is undecidable (SPEC §4, v3).
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { parseCefDate } from '../../privacy/time.js';
import type { ActivityFacts } from '../../privacy/types.js';
import { Carry, safely } from './framing.js';
import type { ExportFields, Op, RecordParser } from './types.js';

const BACKSLASH = 0x5c;

/** Keys the decision reads: suser, rt, start, externalId, userTags, actorType and every csN / csNLabel. */
const enum Key {
  None,
  Suser,
  Rt,
  Start,
  ExternalId,
  UserTags,
  ActorType,
  Cs,
  CsLabel,
}

/** `[A-Za-z0-9_.]`: the characters of an extension key */
const KEY_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.') KEY_CHAR[c.charCodeAt(0)] = 1;

const SPACE = 0x20;

function isDigits(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Which decision key s[k, e) is (DECISION_KEY of the reference reader, test/helpers/cefReference.ts). */
function decisionKey(s: string, k: number, e: number): Key {
  switch (e - k) {
    case 2:
      if (s.startsWith('rt', k)) return Key.Rt;
      break;
    case 5:
      if (s.startsWith('suser', k)) return Key.Suser;
      if (s.startsWith('start', k)) return Key.Start;
      break;
    case 8:
      if (s.startsWith('userTags', k)) return Key.UserTags;
      break;
    case 9:
      if (s.startsWith('actorType', k)) return Key.ActorType;
      break;
    case 10:
      if (s.startsWith('externalId', k)) return Key.ExternalId;
      break;
  }
  if (e - k < 3 || s.charCodeAt(k) !== 0x63 /* c */ || s.charCodeAt(k + 1) !== 0x73 /* s */) return Key.None;
  if (isDigits(s, k + 2, e)) return Key.Cs;
  if (e - k >= 8 && s.startsWith('Label', e - 5) && isDigits(s, k + 2, e - 5)) return Key.CsLabel;
  return Key.None;
}

/**
 * SPEC §14: where a CEF line's extension starts (after the header's seven unescaped pipes),
 * in bytes; the line's length when it has none (nothing is then pseudonymised in it).
 */
export function cefExtensionStart(line: Buffer): number {
  const at = line.indexOf('CEF:');
  if (at < 0) return line.length;
  let pipes = 0;
  for (let i = at + 4; i < line.length; i++) {
    const c = line[i];
    if (c === 0x5c) i++;
    else if (c === 0x7c && ++pipes === 7) return i + 1;
  }
  return line.length;
}

/**
 * The decision fields of the CEF line s[from, to) (no terminator), or null when it cannot
 * be decided on: not CEF, a decision key given twice (`suser=a … suser=b`: consumers
 * disagree on which counts), or a decision value holding an unescaped `=` (where it ends
 * is a guess). `t` is the text s belongs to (a chunk's lines: cefParser).
 *
 * One pass over the line: the header's seven unescaped pipes, then the extension keys
 * (the key grammar `(?:^| )([A-Za-z0-9_.]+)=`: a key starts the extension or follows a space, and its value
 * runs to the next key); only the decision keys' values are cut out and unescaped.
 * Decides exactly as the previous reader, cefFields(parseCefExtension(line)) with the
 * checks above (kept as the oracle in test/helpers/cefReference.ts).
 */
export function readCefEvent(s: string, from = 0, to = s.length, t: CefText = new CefText(s)): ExportFields | null {
  const at = t.cef.in(s, from);
  if (at + 4 > to) return null;
  t.line(from);
  // seven unescaped pipes end the header (`\|` and `\\` are escapes there)
  let i = at + 4;
  let pipes = 0;
  let bs = t.bs.in(s, i);
  for (;;) {
    const p = t.pipe.in(s, i);
    if (p >= to) return null;
    if (bs < p) {
      i = bs + 2;
      bs = t.bs.in(s, i);
      continue;
    }
    i = p + 1;
    if (++pipes === 7) break;
  }
  const ext = i;

  FROM.fill(-1);
  CS_LEN = 0;
  // the current entry: key [k, kEnd), value from v; it ends where the next key's match starts
  let key = Key.None;
  let k = 0;
  let kEnd = 0;
  let v = -1;

  // Keys end in `=`: from each `=`, back over the key's characters. A key starts the
  // extension (`^`) or follows a space (` `); its match starts there (at the space).
  // Every other `=` lies in the value of the entry before it: `bare` records one not
  // escaped by a backslash (BARE_EQUALS; the backslashes are counted back to the value's start).
  let first = -1; // where the first key's match starts
  let bare = false;
  for (let e = t.eq.in(s, ext); e < to; e = t.eq.in(s, e + 1)) {
    let j = e;
    // s[ext - 1] is the seventh pipe: the walk stops there at the latest
    for (; j > ext; j--) {
      const c = s.charCodeAt(j - 1);
      if (c >= 128 || KEY_CHAR[c] === 0) break;
    }
    let at = -1;
    if (j === ext && j < e) at = ext;
    else if (j < e && s.charCodeAt(j - 1) === SPACE) at = j - 1;
    if (at < 0) {
      if (!bare && key !== Key.None && j === e) {
        let b = e;
        while (b > v && s.charCodeAt(b - 1) === BACKSLASH) b--;
        bare = ((e - b) & 1) === 0;
      } else bare = true;
      continue;
    }
    if (first < 0) first = at;
    else if (key !== Key.None && (bare || !keep(t, key, k, kEnd, v, at))) return null;
    k = j;
    kEnd = e;
    key = decisionKey(s, k, kEnd);
    v = e + 1;
    bare = false;
  }
  // text before the first key would be a value without a key: not a readable event
  const head = first < 0 ? to : first;
  if (head > ext && t.text(ext, head).trim() !== '') return null;
  if (first >= 0 && key !== Key.None && (bare || !keep(t, key, k, kEnd, v, to))) return null;

  const groups: string[] = [];
  if (FROM[Key.UserTags] >= 0) addGroupIds(t.value(FROM[Key.UserTags], TO[Key.UserTags]), groups);
  let application = FROM[Key.ActorType] < 0 ? undefined : t.value(FROM[Key.ActorType], TO[Key.ActorType]);
  for (let c = 0; c < CS_LEN; c++) {
    const label = CS[c];
    if (!label.label) continue;
    const l = labelOf(t, label.from, label.to);
    if (l === Label.UserTags) {
      const g = csValue(t, label.n, label.nEnd);
      if (g !== undefined) addGroupIds(g, groups);
    }
    if (l === Label.ActorType) application = csValue(t, label.n, label.nEnd);
  }
  return {
    id: trimmedAt(t, Key.ExternalId),
    actor: own(trimmedAt(t, Key.Suser)),
    timestamp: cefTime(trimmedAt(t, Key.Rt) ?? trimmedAt(t, Key.Start)),
    groups,
    application: application?.trim() || undefined,
  };
}

/**
 * The first occurrence of a needle at or after a position, remembered: the last search
 * started at `from` and found `at` (the text's length: none), so a later search from
 * anywhere in [from, at] is answered without scanning again.
 */
class Next {
  private from = Infinity;
  private at = 0;

  constructor(private readonly needle: string) {}

  in(s: string, q: number): number {
    if (this.from <= q && q <= this.at) return this.at;
    let a = s.indexOf(this.needle, q);
    if (a < 0) a = s.length;
    this.from = q;
    this.at = a;
    return a;
  }
}

/** a latin1 char that is a byte of a multi-byte UTF-8 character */
const HIGH = /[\u0080-\u00ff]/g;

/**
 * The text readCefEvent reads: one line (a string), or a chunk's complete lines decoded
 * once as latin1 (string offsets are byte offsets; every delimiter is ASCII, and UTF-8
 * never uses an ASCII byte inside a character), where the values the decision reads are
 * decoded from the bytes as UTF-8 when they hold a non-ASCII byte. The next occurrence of
 * each delimiter is remembered (Next), so a chunk of lines costs one search per occurrence, never a
 * search per line across the rest of the chunk.
 */
export class CefText {
  readonly bs = new Next('\\');
  readonly pipe = new Next('|');
  readonly eq = new Next('=');
  readonly cef = new Next('CEF:');
  /** the last search for a non-ASCII byte started at highFrom and found highAt (s.length: none) */
  private highFrom = Infinity;
  private highAt = 0;
  /** the first non-ASCII byte at or after the start of the line being read */
  private lineHigh = 0;

  constructor(
    readonly s: string,
    /** the bytes s is the latin1 decoding of (null: s is the text itself) */
    private readonly bytes: Buffer | null = null,
    /** the bytes are all ASCII: every latin1 slice is the UTF-8 text */
    private readonly ascii = true,
  ) {}

  /** The text of s[from, to) (UTF-8 decoded from the bytes where s is their latin1 view). */
  text(from: number, to: number): string {
    const v = this.s.slice(from, to);
    if (this.ascii || this.bytes === null || this.lineHigh >= to) return v;
    for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) >= 0x80) return this.bytes.toString('utf8', from, to);
    return v;
  }

  /** The line read next starts at q: where its first non-ASCII byte is, if any. */
  line(q: number): void {
    if (!this.ascii && this.bytes !== null) this.lineHigh = this.high(q);
  }

  /** The first non-ASCII byte at or after q (s.length: none). */
  private high(q: number): number {
    if (this.highFrom <= q && q <= this.highAt) return this.highAt;
    HIGH.lastIndex = q;
    const m = HIGH.exec(this.s);
    this.highFrom = q;
    this.highAt = m === null ? this.s.length : m.index;
    return this.highAt;
  }

  /** The unescaped value s[from, to). */
  value(from: number, to: number): string {
    const v = this.text(from, to);
    return v.indexOf('\\') < 0 ? v : unescapeValue(v);
  }
}

/**
 * readCefEvent's per-line scratch (it is synchronous and never re-entered): the value
 * range of each fixed decision key by Key (FROM -1: absent), and the first CS_LEN csN /
 * csNLabel entries in line order (the entries are reused from line to line).
 */
const FROM = new Int32Array(Key.CsLabel + 1);
const TO = new Int32Array(Key.CsLabel + 1);
const CS: Array<{ n: number; nEnd: number; label: boolean; from: number; to: number }> = [];
let CS_LEN = 0;

/** Records a decision key's value s[v, to); false when the line must be withheld (key given twice). */
function keep(t: CefText, key: Key, k: number, kEnd: number, v: number, to: number): boolean {
  if (key === Key.Cs || key === Key.CsLabel) {
    const label = key === Key.CsLabel;
    const n = k + 2;
    const nEnd = label ? kEnd - 5 : kEnd;
    for (let c = 0; c < CS_LEN; c++) if (CS[c].label === label && sameRange(t.s, CS[c].n, CS[c].nEnd, n, nEnd)) return false;
    if (CS_LEN === CS.length) CS.push({ n, nEnd, label, from: v, to });
    else {
      const e = CS[CS_LEN];
      e.n = n;
      e.nEnd = nEnd;
      e.label = label;
      e.from = v;
      e.to = to;
    }
    CS_LEN++;
    return true;
  }
  if (FROM[key] >= 0) return false;
  FROM[key] = v;
  TO[key] = to;
  return true;
}

const enum Label {
  Other,
  UserTags,
  ActorType,
}

/** ASCII whitespace as String.prototype.trim sees it: tab, LF, VT, FF, CR, space */
const isAsciiSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);

/**
 * What a csNLabel value s[from, to) names: its unescaped, trimmed, lower-cased text is
 * `usertags` or `actortype`. Plain ASCII labels are compared in place; a label with an
 * escape or a non-ASCII character goes through the string functions.
 */
function labelOf(t: CefText, from: number, to: number): Label {
  const s = t.s;
  let a = from;
  let b = to;
  while (a < b && isAsciiSpace(s.charCodeAt(a))) a++;
  while (b > a && isAsciiSpace(s.charCodeAt(b - 1))) b--;
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80 || c === BACKSLASH) return labelNamed(t.value(from, to).trim().toLowerCase());
  }
  if (b - a === 8 && lowerIs(s, a, 'usertags')) return Label.UserTags;
  if (b - a === 9 && lowerIs(s, a, 'actortype')) return Label.ActorType;
  return Label.Other;
}

function labelNamed(l: string): Label {
  return l === 'usertags' ? Label.UserTags : l === 'actortype' ? Label.ActorType : Label.Other;
}

/** s from `at` is `want` (lower-case ASCII letters) but for the case of its ASCII letters. */
function lowerIs(s: string, at: number, want: string): boolean {
  for (let i = 0; i < want.length; i++) if ((s.charCodeAt(at + i) | 0x20) !== want.charCodeAt(i)) return false;
  return true;
}

/** s[a, aEnd) and s[b, bEnd) hold the same characters. */
function sameRange(s: string, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i++) if (s.charCodeAt(a + i) !== s.charCodeAt(b + i)) return false;
  return true;
}

/** The unescaped value of the `csN` whose N is s[n, nEnd), if the line has one. */
function csValue(t: CefText, n: number, nEnd: number): string | undefined {
  for (let c = 0; c < CS_LEN; c++) {
    const e = CS[c];
    if (!e.label && sameRange(t.s, e.n, e.nEnd, n, nEnd)) return t.value(e.from, e.to);
  }
  return undefined;
}

/** A fixed decision key's unescaped, trimmed value; undefined when absent or blank. */
function trimmedAt(t: CefText, key: Key): string | undefined {
  if (FROM[key] < 0) return undefined;
  const v = t.value(FROM[key], TO[key]).trim();
  return v ? v : undefined;
}

/**
 * The actor as a string of its own: it may outlive the chunk (directory and pseudonym
 * caches are keyed by principal), and V8 makes a slice of 13 or more characters a view of
 * its parent, here the whole chunk's text. Flattening `' ' + v` copies it. (Ids, times,
 * groups and the actor type are read while the chunk is decided, then dropped.)
 */
function own<T extends string | undefined>(v: T): T {
  return v === undefined || v.length < 13 ? v : ((' ' + v).slice(1) as T);
}

/** Adds the `;`-separated ids of a value (trimmed, empty ones skipped) to groups. */
function addGroupIds(g: string, groups: string[]): void {
  for (let from = 0; ;) {
    const semi = g.indexOf(';', from);
    const x = (semi < 0 ? g.slice(from) : g.slice(from, semi)).trim();
    if (x) groups.push(x);
    if (semi < 0) return;
    from = semi + 1;
  }
}

function unescapeValue(v: string): string {
  return v.replace(/\\([\\=nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/** A CEF date form as epoch ms; other forms (epoch ms, ISO-8601) stay text for the shared reader. */
function cefTime(v: string | undefined): string | number | undefined {
  // a CEF date starts with the month's letters: epoch ms and ISO-8601 skip the pattern
  if (v === undefined || !isLetter(v.charCodeAt(0))) return v;
  return parseCefDate(v) ?? v;
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * CEF framing a chunk at a time: the chunk's complete lines are checked for UTF-8 in one
 * call and decoded once (latin1, CefText); lines are found with indexOf on that text and
 * each is handed out as a view of the chunk (kept bytes pass byte for byte). A line that
 * spans chunks is carried and read on its own when it completes.
 */
export function cefParser(o: { fromFields: (f: ExportFields) => ActivityFacts; maxRecordBytes: number }): RecordParser {
  const max = o.maxRecordBytes;
  const carry = new Carry();
  return {
    push(chunk, out) {
      let start = 0;
      if (carry.length) {
        const nl = chunk.indexOf(LF);
        if (nl < 0) {
          carry.push(chunk);
          // the carried part may still lose one byte to a `\r\n` ending
          if (carry.length - 1 > max) tooLong(max);
          return;
        }
        start = nl + 1;
        readLines(carry.take(chunk.subarray(0, start)), out, o);
      }
      const last = chunk.lastIndexOf(LF);
      if (last >= start) readLines(start === 0 && last === chunk.length - 1 ? chunk : chunk.subarray(start, last + 1), out, o);
      carry.push(chunk.subarray(Math.max(start, last + 1)));
      if (carry.length - 1 > max) tooLong(max);
    },
    end(out) {
      if (carry.length === 0) return;
      const line = carry.take();
      if (line.length > max) tooLong(max);
      readLines(line, out, o);
    },
  };
}

function tooLong(max: number): never {
  throw new SyntaxError(`a record is longer than ${max} bytes`);
}

/**
 * Frames and reads buf's lines: each ends in `\n` but the last may not (the end of the
 * stream). One UTF-8 check for all of them (a line is checked on its own only when the
 * whole is not UTF-8), one latin1 decode, one op a line.
 */
function readLines(buf: Buffer, out: Op[], o: { fromFields: (f: ExportFields) => ActivityFacts; maxRecordBytes: number }): void {
  const n = buf.length;
  const s = buf.toString('latin1');
  const utf8 = isUtf8(buf);
  const t = new CefText(s, buf, utf8 && isAscii(buf));
  for (let a = 0; a < n;) {
    const nl = s.indexOf('\n', a);
    const b = nl < 0 ? n : nl + 1;
    // without its `\n` / `\r\n` terminator
    let e = b;
    if (nl >= 0) {
      e = nl;
      if (e > a && s.charCodeAt(e - 1) === CR) e--;
    }
    if (e - a > o.maxRecordBytes) tooLong(o.maxRecordBytes);
    const line = a === 0 && b === n ? buf : buf.subarray(a, b);
    if (isBlankAt(s, a, b)) out.push({ kind: 'raw', bytes: line });
    else {
      const fields = utf8 || isUtf8(line) ? readCefEvent(s, a, e, t) : null;
      out.push({ kind: 'record', bytes: line, facts: fields ? plausible(safely(o.fromFields, fields)) : null });
    }
    a = b;
  }
}

/** Only spaces, tabs, CR and LF in s[from, to): a blank line, passed through as is. */
function isBlankAt(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== CR && c !== LF) return false;
  }
  return true;
}

/** The earliest time a CEF event is believed to carry; anything before it is a misread unit. */
export const PLAUSIBLE_CEF_TIME_MS = Date.UTC(2000, 0, 1);

/** An implausible time is no time: the decision finds the event undecidable. */
function plausible(facts: ActivityFacts | null): ActivityFacts | null {
  const t = facts?.timestamp;
  return facts && typeof t === 'number' && !(t >= PLAUSIBLE_CEF_TIME_MS) ? { ...facts, timestamp: undefined } : facts;
}
