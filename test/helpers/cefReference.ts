/**
 * Reference oracle: the CEF export framer as it was before the single-pass
 * reader (src/rewrite/export/cef.ts, commit b23d19d), kept verbatim so
 * property tests can check the new reader decides and writes exactly the same.
 * Do not optimise this file.
 */
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
 * the CEF date forms `MMM dd yyyy HH:mm:ss[.SSS][ zone]` (no zone = UTC).
 */
import { isUtf8 } from 'node:buffer';
import { parseCefDate } from '../../src/privacy/time.js';
import type { ActivityFacts } from '../../src/privacy/types.js';
import { LineFramer, isBlank, safely } from '../../src/rewrite/export/framing.js';
import type { ExportFields, Op, RecordParser } from '../../src/rewrite/export/types.js';

const PIPE = 0x7c;
const BACKSLASH = 0x5c;
const KEY = /(?:^| )([A-Za-z0-9_.]+)=/g;

/** The extension of a CEF line as [key, raw (still escaped) value] in line order, or null when the line is not CEF. */
export function parseCefEntries(line: string): Array<[string, string]> | null {
  const at = line.indexOf('CEF:');
  if (at < 0) return null;
  // seven unescaped pipes end the header (`\|` and `\\` are escapes there)
  let pipes = 0;
  let i = at + 4;
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === PIPE && ++pipes === 7) break;
  }
  if (pipes < 7) return null;
  const ext = line.slice(i + 1);
  const keys = [...ext.matchAll(KEY)];
  // text before the first key would be a value without a key: not a readable event
  const head = keys.length ? ext.slice(0, keys[0].index) : ext;
  if (head.trim() !== '') return null;
  const entries: Array<[string, string]> = [];
  for (let k = 0; k < keys.length; k++) {
    const m = keys[k];
    const from = m.index + m[0].length;
    const to = k + 1 < keys.length ? keys[k + 1].index : ext.length;
    entries.push([m[1], ext.slice(from, to)]);
  }
  return entries;
}

/** The extension of a CEF line as key -> unescaped value (a repeated key: the last), or null when the line is not CEF. */
export function parseCefExtension(line: string): Map<string, string> | null {
  const entries = parseCefEntries(line);
  return entries && new Map(entries.map(([k, v]) => [k, unescapeValue(v)]));
}

/** Keys the decision reads: suser, rt, start, externalId, userTags, actorType and every csN / csNLabel. */
const DECISION_KEY = /^(?:suser|rt|start|externalId|userTags|actorType|cs\d+(?:Label)?)$/;
/** an `=` not escaped by a backslash */
const BARE_EQUALS = /(?:^|[^\\])(?:\\\\)*=/;

/**
 * The decision fields of a CEF line, or null when it cannot be decided on: not CEF, a
 * decision key given twice (`suser=a … suser=b`: consumers disagree on which counts), or
 * a decision value holding an unescaped `=` (where it ends is a guess).
 */
export function readCefEvent(line: string): ExportFields | null {
  const entries = parseCefEntries(line);
  if (!entries) return null;
  const seen = new Set<string>();
  for (const [key, raw] of entries) {
    if (!DECISION_KEY.test(key)) continue;
    if (seen.has(key) || BARE_EQUALS.test(raw)) return null;
    seen.add(key);
  }
  return cefFields(new Map(entries.map(([k, v]) => [k, unescapeValue(v)])));
}

function unescapeValue(v: string): string {
  return v.replace(/\\([\\=nr])/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c));
}

/** A CEF date form as epoch ms; other forms (epoch ms, ISO-8601) stay text for the shared reader. */
function cefTime(v: string | undefined): string | number | undefined {
  return v === undefined ? undefined : (parseCefDate(v) ?? v);
}

/** The fields the decision needs, from a parsed extension. */
export function cefFields(ext: Map<string, string>): ExportFields {
  const groups: string[] = [];
  const addGroups = (v: string | undefined): void => {
    if (v === undefined) return;
    for (const g of v.split(';')) if (g.trim()) groups.push(g.trim());
  };
  addGroups(ext.get('userTags'));
  let application = ext.get('actorType');
  for (const [k, label] of ext) {
    const m = /^(cs\d+)Label$/.exec(k);
    const l = label.trim().toLowerCase();
    if (m && l === 'usertags') addGroups(ext.get(m[1]));
    if (m && l === 'actortype') application = ext.get(m[1]);
  }
  const trimmed = (k: string): string | undefined => {
    const v = ext.get(k)?.trim();
    return v ? v : undefined;
  };
  return {
    id: trimmed('externalId'),
    actor: trimmed('suser'),
    timestamp: cefTime(trimmed('rt') ?? trimmed('start')),
    groups,
    application: application?.trim() || undefined,
  };
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

function readLine(line: Buffer, fromFields: (f: ExportFields) => ActivityFacts): ActivityFacts | null {
  if (!isUtf8(line)) return null;
  const fields = readCefEvent(line.toString('utf8').replace(/\r?\n$/, ''));
  return fields ? safely(fromFields, fields) : null;
}
