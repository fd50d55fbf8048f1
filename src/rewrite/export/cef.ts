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
import { isUtf8 } from 'node:buffer';
import { parseCefDate } from '../../privacy/time.js';
import type { ActivityFacts } from '../../privacy/types.js';
import { LineFramer, isBlank, safely } from './framing.js';
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

/** An `=` in s[from, to) not escaped by a backslash (BARE_EQUALS). */
function hasBareEquals(s: string, from: number, to: number): boolean {
  for (let at = s.indexOf('=', from); at >= 0 && at < to; at = s.indexOf('=', at + 1)) {
    let b = at;
    while (b > from && s.charCodeAt(b - 1) === BACKSLASH) b--;
    if (((at - b) & 1) === 0) return true;
  }
  return false;
}

/** The unescaped value s[from, to). */
function valueAt(s: string, from: number, to: number): string {
  const v = s.slice(from, to);
  return v.indexOf('\\') < 0 ? v : unescapeValue(v);
}

/**
 * The decision fields of a CEF line, or null when it cannot be decided on: not CEF, a
 * decision key given twice (`suser=a … suser=b`: consumers disagree on which counts), or
 * a decision value holding an unescaped `=` (where it ends is a guess).
 *
 * One pass over the line: the header's seven unescaped pipes, then the extension keys
 * (the key grammar `(?:^| )([A-Za-z0-9_.]+)=`: a key starts the extension or follows a space, and its value
 * runs to the next key); only the decision keys' values are cut out and unescaped.
 * Decides exactly as the previous reader, cefFields(parseCefExtension(line)) with the
 * checks above (kept as the oracle in test/helpers/cefReference.ts).
 */
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

export function readCefEvent(s: string): ExportFields | null {
  const at = s.indexOf('CEF:');
  if (at < 0) return null;
  // seven unescaped pipes end the header (`\|` and `\\` are escapes there)
  const n = s.length;
  let i = at + 4;
  let pipes = 0;
  let bs = s.indexOf('\\', i);
  if (bs < 0) bs = n + 1;
  for (;;) {
    const p = s.indexOf('|', i);
    if (p < 0) return null;
    if (bs < p) {
      i = bs + 2;
      if (bs < i) {
        bs = s.indexOf('\\', i);
        if (bs < 0) bs = n + 1;
      }
      continue;
    }
    i = p + 1;
    if (++pipes === 7) break;
  }
  const ext = i;

  FROM.fill(-1);
  CS.length = 0;
  // the current entry: key [k, kEnd), value from v; it ends where the next key's match starts
  let key = Key.None;
  let k = 0;
  let kEnd = 0;
  let v = -1;

  // Keys end in `=`: from each `=`, back over the key's characters. A key starts the
  // extension (`^`) or follows a space (` `); its match starts there (at the space).
  let first = -1; // where the first key's match starts
  for (let e = s.indexOf('=', ext); e >= 0; e = s.indexOf('=', e + 1)) {
    let j = e;
    // s[ext - 1] is the seventh pipe: the walk stops there at the latest
    for (; j > ext; j--) {
      const c = s.charCodeAt(j - 1);
      if (c >= 128 || KEY_CHAR[c] === 0) break;
    }
    if (j === e) continue;
    let at: number;
    if (j === ext) at = ext;
    else if (s.charCodeAt(j - 1) === SPACE) at = j - 1;
    else continue;
    if (first < 0) first = at;
    else if (key !== Key.None && !keep(s, key, k, kEnd, v, at)) return null;
    k = j;
    kEnd = e;
    key = decisionKey(s, k, kEnd);
    v = e + 1;
  }
  // text before the first key would be a value without a key: not a readable event
  const head = first < 0 ? n : first;
  if (head > ext && s.slice(ext, head).trim() !== '') return null;
  if (first >= 0 && key !== Key.None && !keep(s, key, k, kEnd, v, n)) return null;

  const groups: string[] = [];
  if (FROM[Key.UserTags] >= 0) addGroupIds(valueAt(s, FROM[Key.UserTags], TO[Key.UserTags]), groups);
  let application = FROM[Key.ActorType] < 0 ? undefined : valueAt(s, FROM[Key.ActorType], TO[Key.ActorType]);
  for (let c = 0; c < CS.length; c++) {
    const label = CS[c];
    if (!label.label) continue;
    const l = valueAt(s, label.from, label.to).trim().toLowerCase();
    if (l === 'usertags') {
      const g = csValue(s, label.n);
      if (g !== undefined) addGroupIds(g, groups);
    }
    if (l === 'actortype') application = csValue(s, label.n);
  }
  return {
    id: trimmedAt(s, Key.ExternalId),
    actor: trimmedAt(s, Key.Suser),
    timestamp: cefTime(trimmedAt(s, Key.Rt) ?? trimmedAt(s, Key.Start)),
    groups,
    application: application?.trim() || undefined,
  };
}

/**
 * readCefEvent's per-line scratch (it is synchronous and never re-entered): the value
 * range of each fixed decision key by Key (FROM -1: absent), and the csN / csNLabel entries in line order.
 */
const FROM = new Int32Array(Key.CsLabel + 1);
const TO = new Int32Array(Key.CsLabel + 1);
const CS: Array<{ n: string; label: boolean; from: number; to: number }> = [];

/** Records a decision key's value s[v, to); false when the line must be withheld (key given twice, unescaped `=`). */
function keep(s: string, key: Key, k: number, kEnd: number, v: number, to: number): boolean {
  if (hasBareEquals(s, v, to)) return false;
  if (key === Key.Cs || key === Key.CsLabel) {
    const label = key === Key.CsLabel;
    const num = s.slice(k + 2, label ? kEnd - 5 : kEnd);
    for (let c = 0; c < CS.length; c++) if (CS[c].label === label && CS[c].n === num) return false;
    CS.push({ n: num, label, from: v, to });
    return true;
  }
  if (FROM[key] >= 0) return false;
  FROM[key] = v;
  TO[key] = to;
  return true;
}

/** The unescaped value of `csN` (N = num), if the line has one. */
function csValue(s: string, num: string): string | undefined {
  for (let c = 0; c < CS.length; c++) if (!CS[c].label && CS[c].n === num) return valueAt(s, CS[c].from, CS[c].to);
  return undefined;
}

/** A fixed decision key's unescaped, trimmed value; undefined when absent or blank. */
function trimmedAt(s: string, key: Key): string | undefined {
  if (FROM[key] < 0) return undefined;
  const t = valueAt(s, FROM[key], TO[key]).trim();
  return t ? t : undefined;
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
  return v === undefined ? undefined : (parseCefDate(v) ?? v);
}

export function cefParser(o: { fromFields: (f: ExportFields) => ActivityFacts; maxRecordBytes: number }): RecordParser {
  const framer = new LineFramer(o.maxRecordBytes);
  const frame = (line: Buffer): Op => {
    if (isBlank(line)) return { kind: 'raw', bytes: line };
    return { kind: 'record', bytes: line, facts: readLine(line, o.fromFields) };
  };
  return {
    push(chunk, out) {
      framer.push(chunk, (line) => out.push(frame(line)));
    },
    end(out) {
      const line = framer.end();
      if (line) out.push(frame(line));
    },
  };
}

/** The earliest time a CEF event is believed to carry; anything before it is a misread unit. */
export const PLAUSIBLE_CEF_TIME_MS = Date.UTC(2000, 0, 1);

/** An implausible time is no time: the decision finds the event undecidable. */
function plausible(facts: ActivityFacts | null): ActivityFacts | null {
  const t = facts?.timestamp;
  return facts && typeof t === 'number' && !(t >= PLAUSIBLE_CEF_TIME_MS) ? { ...facts, timestamp: undefined } : facts;
}

function readLine(line: Buffer, fromFields: (f: ExportFields) => ActivityFacts): ActivityFacts | null {
  if (!isUtf8(line)) return null;
  // without its `\n` / `\r\n` terminator
  let end = line.length;
  if (line[end - 1] === 0x0a) {
    end--;
    if (line[end - 1] === 0x0d) end--;
  }
  const fields = readCefEvent(line.toString('utf8', 0, end));
  return fields ? plausible(safely(fromFields, fields)) : null;
}
