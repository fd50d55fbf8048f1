/**
 * Reference oracle: the CSV export framer as it was before the single-pass
 * reader (src/rewrite/export/csv.ts, commit b23d19d), kept verbatim so
 * property tests can check the new reader decides and writes exactly the same.
 * Do not optimise this file.
 */
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
import type { ActivityFacts } from '../../src/privacy/types.js';
import { LineFramer, safely } from '../../src/rewrite/export/framing.js';
import type { CsvColumns, ExportFields, Op, RecordParser } from '../../src/rewrite/export/types.js';

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
interface Layout {
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

function rowFields(row: string[], l: Layout): ExportFields {
  const first = (idx: number[]): string | undefined => {
    for (const i of idx) if (row[i] !== '') return row[i];
    return undefined;
  };
  const groups: string[] = [];
  for (const i of l.groups) {
    for (const g of row[i].split(';')) if (g.trim()) groups.push(g.trim());
  }
  return {
    id: first(l.id),
    actor: first(l.actor),
    timestamp: first(l.timestamp),
    groups,
    application: first(l.application),
  };
}

export function csvParser(o: { fromFields: (f: ExportFields) => ActivityFacts; columns: CsvColumns; maxRecordBytes: number }): RecordParser {
  const framer = new LineFramer(o.maxRecordBytes, QUOTE);
  let cols: Layout | null = null;

  const frame = (line: Buffer): Op => {
    if (!cols) {
      const header = isUtf8(line) ? parseCsvRecord(recordText(line).replace(/^\uFEFF/, '')) : null;
      if (!header) throw new SyntaxError('the CSV header row is not well-formed');
      // no actor / time column: every row is undecidable and `hide` decides
      cols = layout(header, o.columns);
      return { kind: 'raw', bytes: line };
    }
    // an empty line holds no record (a line of spaces is a one-field record)
    if (isEmptyLine(line)) return { kind: 'raw', bytes: line };
    const row = isUtf8(line) ? parseCsvRecord(recordText(line)) : null;
    const facts = row && row.length === cols.width ? safely(o.fromFields, rowFields(row, cols)) : null;
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
