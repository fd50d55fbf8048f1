/**
 * CSV framing (RFC 4180). The header row passes through and names the
 * columns; each later record is decided on its actor / time / groups cells.
 *
 * Only well-formed records are ever written: a record that does not parse
 * strictly (a stray quote, a bare CR, a field count other than the header's)
 * is withheld, so whatever a lenient consumer makes of odd bytes, it only
 * sees records this parser read the same way.
 */
import { isUtf8 } from 'node:buffer';
import type { ActivityFacts } from '../../privacy/types.js';
import { LineFramer, safely } from './framing.js';
import type { CsvColumns, ExportFields, Op, RecordParser } from './types.js';

const QUOTE = 0x22;

/** Fields of one record (terminator already removed), or null when it is not strict RFC 4180. */
export function parseCsvRecord(text: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return null;
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== ',') return null;
      i++;
    } else {
      const comma = text.indexOf(',', i);
      const value = text.slice(i, comma < 0 ? text.length : comma);
      if (value.includes('"') || value.includes('\r')) return null;
      fields.push(value);
      if (comma < 0) return fields;
      i = comma + 1;
    }
  }
}

/** The record's text without its `\n` / `\r\n` terminator (a lone final `\r` too). */
function recordText(line: Buffer): string {
  let end = line.length;
  if (line[end - 1] === 0x0a) end--;
  if (line[end - 1] === 0x0d) end--;
  return line.toString('utf8', 0, end);
}

function isEmptyLine(line: Buffer): boolean {
  return (line.length === 1 && line[0] === 0x0a) || (line.length === 2 && line[0] === 0x0d && line[1] === 0x0a);
}

/** Column indexes of the header, per field of the decision. */
export interface Layout {
  width: number;
  id: number[];
  actor: number[];
  timestamp: number[];
  groups: number[];
  application: number[];
}

function layout(header: string[], c: CsvColumns): Layout {
  const lower = header.map((h) => h.toLowerCase());
  const find = (names: readonly string[]): number[] => {
    const out: number[] = [];
    for (const name of names) {
      const want = name.toLowerCase();
      lower.forEach((h, i) => {
        if (h === want) out.push(i);
      });
    }
    return out;
  };
  return {
    width: header.length,
    id: c.id ? find([c.id]) : [],
    actor: find(c.actor),
    timestamp: find([c.timestamp]),
    groups: find(c.groups),
    application: c.application ? find([c.application]) : [],
  };
}

/** Where each layout column's cell goes while a row is read: the column's index, or -1 for a column no field needs. */
function wantedColumns(l: Layout): Int8Array {
  const want = new Int8Array(l.width);
  for (const idx of [l.id, l.actor, l.timestamp, l.groups, l.application]) for (const i of idx) want[i] = 1;
  return want;
}

/** The first non-empty cell of the columns, in order. */
function firstOf(cells: string[], idx: number[]): string | undefined {
  for (let k = 0; k < idx.length; k++) {
    const c = cells[idx[k]];
    if (c !== '') return c;
  }
  return undefined;
}

/** Adds the `;`-separated ids of a cell (trimmed, empty ones skipped) to groups. */
function addGroups(cell: string, groups: string[]): void {
  let from = 0;
  for (;;) {
    const semi = cell.indexOf(';', from);
    const g = (semi < 0 ? cell.slice(from) : cell.slice(from, semi)).trim();
    if (g) groups.push(g);
    if (semi < 0) return;
    from = semi + 1;
  }
}

function fieldsOf(cells: string[], l: Layout): ExportFields {
  const groups: string[] = [];
  for (let k = 0; k < l.groups.length; k++) {
    const cell = cells[l.groups[k]];
    if (cell !== '') addGroups(cell, groups);
  }
  return {
    id: firstOf(cells, l.id),
    actor: firstOf(cells, l.actor),
    timestamp: firstOf(cells, l.timestamp),
    groups,
    application: firstOf(cells, l.application),
  };
}

const COMMA = 0x2c;

/**
 * The decision fields of one record (terminator already removed), or null when the
 * record is not strict RFC 4180 or has other than `l.width` fields. One pass; only the
 * cells of the layout's columns become strings (in `cells`, reused between rows).
 * Decides exactly as parseCsvRecord + a field count check + the layout would.
 */
export function readCsvRow(text: string, l: Layout, want: Int8Array, cells: string[]): ExportFields | null {
  const n = text.length;
  const width = l.width;
  // next quote / CR at or after i (n + 1: none)
  let q = text.indexOf('"');
  if (q < 0) q = n + 1;
  let cr = text.indexOf('\r');
  if (cr < 0) cr = n + 1;
  let i = 0;
  let col = 0;
  for (;;) {
    if (col === width) return null; // more fields than the header
    if (q === i) {
      let j = i + 1;
      let doubled = false;
      let close: number;
      for (;;) {
        close = text.indexOf('"', j);
        if (close < 0) return null;
        if (text.charCodeAt(close + 1) !== QUOTE) break;
        doubled = true;
        j = close + 2;
      }
      if (want[col] === 1) {
        const v = text.slice(i + 1, close);
        cells[col] = doubled ? v.replace(/""/g, '"') : v;
      }
      col++;
      i = close + 1;
      if (i === n) break;
      if (text.charCodeAt(i) !== COMMA) return null;
      i++;
      q = text.indexOf('"', i);
      if (q < 0) q = n + 1;
      if (cr < i) {
        cr = text.indexOf('\r', i);
        if (cr < 0) cr = n + 1;
      }
    } else {
      const comma = text.indexOf(',', i);
      const end = comma < 0 ? n : comma;
      // a quote or CR inside an unquoted field
      if (q < end || cr < end) return null;
      if (want[col] === 1) cells[col] = text.slice(i, end);
      col++;
      if (comma < 0) break;
      i = comma + 1;
    }
  }
  return col === width ? fieldsOf(cells, l) : null;
}

export function csvParser(o: { fromFields: (f: ExportFields) => ActivityFacts; columns: CsvColumns; maxRecordBytes: number }): RecordParser {
  const framer = new LineFramer(o.maxRecordBytes, QUOTE);
  let cols: Layout | null = null;
  let want: Int8Array = new Int8Array(0);
  let cells: string[] = [];

  const frame = (line: Buffer): Op => {
    if (!cols) {
      const header = isUtf8(line) ? parseCsvRecord(recordText(line).replace(/^\uFEFF/, '')) : null;
      if (!header) throw new SyntaxError('the CSV header row is not well-formed');
      // no actor / time column: every row is undecidable and `hide` decides
      cols = layout(header, o.columns);
      want = wantedColumns(cols);
      cells = new Array<string>(cols.width).fill('');
      return { kind: 'raw', bytes: line };
    }
    // an empty line holds no record (a line of spaces is a one-field record)
    if (isEmptyLine(line)) return { kind: 'raw', bytes: line };
    const fields = isUtf8(line) ? readCsvRow(recordText(line), cols, want, cells) : null;
    const facts = fields ? safely(o.fromFields, fields) : null;
    return { kind: 'record', bytes: line, facts };
  };

  return {
    push(chunk, out) {
      framer.push(chunk, (line) => out.push(frame(line)));
    },
    end(out) {
      if (framer.quoted) throw new SyntaxError('unclosed quote at the end of the CSV export');
      const line = framer.end();
      if (line) out.push(frame(line));
    },
  };
}
