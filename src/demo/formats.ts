/**
 * Serialisers of the sample API's export formats. Pure (no I/O).
 *
 * Each record is serialised once into a `Line` that remembers where its id's
 * bytes are, so a later cycle of a `?bytes=`/`?count=` export can emit the
 * same bytes with a fresh id spliced in, without re-serialising the record.
 */

import type { ExportFormat } from '../config/schema.js';

export type { ExportFormat };

export interface Line {
  /** the record's full serialisation (including any line terminator) */
  buf: Buffer;
  /** byte range of the encoded id inside `buf`; both -1 when the record has no id */
  idStart: number;
  idEnd: number;
  /** the raw id, when the record has a string `_id` */
  id?: string;
}

export const CSV_COLUMNS = ['_id', 'timestamp', 'userName', 'userTags', 'actorType', 'eventTypeName', 'description', 'clientIP'] as const;
export const CSV_HEADER = CSV_COLUMNS.join(',') + '\r\n';

type Rec = Record<string, unknown>;
const asRec = (v: unknown): Rec | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** Principal as the demo config reads it: user.userName, else failedUserData.userName. */
export function userNameOf(rec: unknown): string | undefined {
  const r = asRec(rec);
  return str(asRec(r?.user)?.userName) ?? str(asRec(r?.failedUserData)?.userName);
}

/** All group tags the record carries (user.userTags ∪ resolvedActor.tags), de-duplicated. */
export function tagsOf(rec: unknown): string[] {
  const r = asRec(rec);
  return [...new Set([...strList(asRec(r?.user)?.userTags), ...strList(asRec(r?.resolvedActor)?.tags)])];
}

/** Epoch ms of `timestamp` (number or ISO string), undefined when unreadable. */
export function timeOf(rec: unknown): number | undefined {
  const t = asRec(rec)?.timestamp;
  if (typeof t === 'number' && Number.isFinite(t)) return t;
  if (typeof t === 'string') {
    const ms = Date.parse(t);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

/** A fresh id for cycle `cycle` (≥1) of a repeated export: 24-hex ids stay 24-hex. */
export function freshId(id: string, cycle: number): string {
  if (/^[0-9a-f]{24}$/i.test(id)) return cycle.toString(16).padStart(8, '0').slice(-8) + id.slice(8);
  return `${id}~${cycle}`;
}

/** RFC 4180: quote a field holding a comma, quote, CR or LF; double inner quotes. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** CEF header fields escape `\` and `|`; newlines are not allowed there, so they become spaces. */
export function cefHeader(v: string): string {
  return v
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ');
}

/** CEF extension values escape `\` and `=`, and encode newlines as \n / \r. */
export function cefExt(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/=/g, '\\=').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

const ID_SENTINEL = '\u0001apg-sample-id\u0001';
const ID_SENTINEL_JSON = JSON.stringify(ID_SENTINEL);

function lineOf(before: string, encodedId: string, after: string, id: string | undefined): Line {
  if (id === undefined) return { buf: Buffer.from(before + encodedId + after), idStart: -1, idEnd: -1 };
  const idStart = Buffer.byteLength(before);
  return { buf: Buffer.from(before + encodedId + after), idStart, idEnd: idStart + Buffer.byteLength(encodedId), id };
}

/** JSON serialisation of a record (`terminator` '\n' for NDJSON, '' for arrays). */
export function jsonLine(rec: unknown, terminator = ''): Line {
  const r = asRec(rec);
  const id = str(r?._id);
  if (id === undefined) return lineOf(JSON.stringify(rec) + terminator, '', '', undefined);
  // Serialise with a sentinel in place of the id (spread keeps key order), then split around it.
  const text = JSON.stringify({ ...r, _id: ID_SENTINEL });
  const at = text.indexOf(ID_SENTINEL_JSON);
  return lineOf(text.slice(0, at), JSON.stringify(id), text.slice(at + ID_SENTINEL_JSON.length) + terminator, id);
}

export function csvLine(rec: unknown): Line {
  const r = asRec(rec) ?? {};
  const id = str(r._id);
  const ts = typeof r.timestamp === 'number' || typeof r.timestamp === 'string' ? String(r.timestamp) : '';
  const rest = [
    ts,
    userNameOf(r) ?? '',
    tagsOf(r).join(';'),
    str(r.actorType) ?? '',
    str(r.eventTypeName) ?? '',
    str(r.description) ?? '',
    str(asRec(r.device)?.clientIP) ?? '',
  ].map(csvField);
  return lineOf('', csvField(id ?? ''), ',' + rest.join(',') + '\r\n', id);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** BSD syslog prefix, e.g. `<134>Nov 26 10:00:00 mcas ` (UTC). */
export function syslogPrefix(ms: number): string {
  const d = new Date(ms);
  const hms = d.toISOString().slice(11, 19);
  return `<134>${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${hms} mcas `;
}

/** One CEF event line; `withSyslog` adds a syslog prefix as relays do for some lines. */
export function cefLine(rec: unknown, withSyslog: boolean): Line {
  const r = asRec(rec) ?? {};
  const id = str(r._id);
  const ms = timeOf(r);
  const user = userNameOf(r);
  const description = str(r.description) ?? '';
  const head =
    (withSyslog && ms !== undefined ? syslogPrefix(ms) : '') +
    `CEF:0|Microsoft|MCAS|1.0|${cefHeader(str(r.eventTypeName) ?? 'EVENT')}|${cefHeader(description)}|3|`;
  const ext: string[] = [];
  if (ms !== undefined) ext.push(`rt=${ms}`);
  if (user !== undefined) ext.push(`suser=${cefExt(user)}`);
  if (ms !== undefined) ext.push(`start=${ms}`);
  const before = head + ext.map((e) => e + ' ').join('') + 'externalId=';
  const after: string[] = [];
  const ip = str(asRec(r.device)?.clientIP);
  if (ip !== undefined) after.push(`src=${cefExt(ip)}`);
  after.push(`cs1Label=userTags cs1=${cefExt(tagsOf(r).join(';'))}`);
  if (typeof r.actorType === 'string') after.push(`cs2Label=actorType cs2=${cefExt(r.actorType)}`);
  after.push(`msg=${cefExt(description)}`);
  return lineOf(before, cefExt(id ?? ''), ' ' + after.join(' ') + '\n', id);
}

/** Encodes an id the way `format` writes it (used when splicing a fresh id). */
export function encodeId(format: ExportFormat, id: string): string {
  switch (format) {
    case 'csv':
      return csvField(id);
    case 'cef':
      return cefExt(id);
    default:
      return JSON.stringify(id);
  }
}

/** The record's bytes for cycle `cycle` of a repeated export (cycle 0: as is). */
export function lineBytes(line: Line, format: ExportFormat, cycle: number): Buffer[] {
  if (cycle === 0 || line.id === undefined) return [line.buf];
  return [line.buf.subarray(0, line.idStart), Buffer.from(encodeId(format, freshId(line.id, cycle))), line.buf.subarray(line.idEnd)];
}
