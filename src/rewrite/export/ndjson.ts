/**
 * NDJSON framing: one activity a line. Also home of the line framing shared
 * with CEF (plain lines) and CSV (lines whose quoted newlines do not count).
 */
import { isUtf8 } from 'node:buffer';
import type { ActivityFacts } from '../../privacy/types.js';
import type { FieldReader } from '../fieldReader.js';
import { scanJson } from '../jsonScan.js';
import type { Op, RecordParser } from './index.js';

const LF = 0x0a;
const CR = 0x0d;

/** Bytes of a record that spans chunks. Holds views, copies once when the record completes. */
export class Carry {
  private parts: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }

  /** Everything carried plus `tail` as one buffer; the carry is emptied. */
  take(tail?: Buffer): Buffer {
    if (tail) this.push(tail);
    const out = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    return out;
  }
}

/**
 * Splits a byte stream into lines ending in `\n` (a `\r\n` ending stays with
 * its line). With `quote` set, a `\n` between an odd number of quote bytes
 * does not end the line (CSV). Lines are handed out with their terminator.
 */
export class LineFramer {
  private readonly carry = new Carry();
  /** inside a quoted section (quote mode only) */
  quoted = false;

  constructor(
    private readonly maxRecordBytes: number,
    private readonly quote?: number,
  ) {}

  push(chunk: Buffer, onLine: (line: Buffer) => void): void {
    const n = chunk.length;
    const q = this.quote;
    let start = 0;
    let pos = 0;
    let nl = -1; // next LF at or after pos (n = none), cached so quotes do not rescan
    let nq = -1; // next quote at or after pos (n = none)
    while (pos < n) {
      if (this.quoted) {
        const close = chunk.indexOf(q!, pos);
        if (close < 0) break;
        this.quoted = false;
        pos = close + 1;
        continue;
      }
      if (nl < pos) {
        nl = chunk.indexOf(LF, pos);
        if (nl < 0) nl = n;
      }
      if (q !== undefined) {
        if (nq < pos) {
          nq = chunk.indexOf(q, pos);
          if (nq < 0) nq = n;
        }
        if (nq < nl) {
          this.quoted = true;
          pos = nq + 1;
          continue;
        }
      }
      if (nl === n) break;
      const end = nl + 1;
      const line = this.carry.length ? this.carry.take(chunk.subarray(start, end)) : chunk.subarray(start, end);
      this.check(contentLength(line, true));
      onLine(line);
      start = pos = end;
    }
    this.carry.push(chunk.subarray(start));
    // the carried part may still lose one byte to a `\r\n` ending
    if (this.carry.length - 1 > this.maxRecordBytes) this.tooLong();
  }

  /** The final line without a trailing newline, if any. */
  end(): Buffer | null {
    if (this.carry.length === 0) return null;
    const line = this.carry.take();
    this.check(contentLength(line, false));
    return line;
  }

  private check(len: number): void {
    if (len > this.maxRecordBytes) this.tooLong();
  }

  private tooLong(): never {
    throw new SyntaxError(`a record is longer than ${this.maxRecordBytes} bytes`);
  }
}

function contentLength(line: Buffer, terminated: boolean): number {
  if (!terminated) return line.length;
  const n = line.length - 1;
  return n > 0 && line[n - 1] === CR ? n - 1 : n;
}

/** Only spaces, tabs, CR and LF: a blank line, passed through as is. */
export function isBlank(line: Buffer): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c !== 0x20 && c !== 0x09 && c !== CR && c !== LF) return false;
  }
  return true;
}

/** Facts of a record, or null (withheld) when the reader throws: never guess. */
export function safely<T>(read: (x: T) => ActivityFacts, x: T): ActivityFacts | null {
  try {
    return read(x);
  } catch {
    return null;
  }
}

export function ndjsonParser(o: { extract: (record: unknown) => ActivityFacts; read?: ByteReader; maxRecordBytes: number }): RecordParser {
  const framer = new LineFramer(o.maxRecordBytes);
  let first = true;
  const frame = (line: Buffer): Op => {
    const bom = first && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf;
    first = false;
    if (isBlank(line)) return { kind: 'raw', bytes: line };
    return { kind: 'record', bytes: line, facts: readLine(bom ? line.subarray(3) : line, o.extract, o.read) };
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

/**
 * Facts from a record's bytes, same as extract(JSON.parse(bytes)); the bytes must be valid JSON.
 * With a plan (fieldReader.ts), the line is validated and its fields located in one scan.
 */
export type ByteReader = FieldReader;

/** A line that is not UTF-8 JSON is withheld (null), not a structural error. */
function readLine(line: Buffer, extract: (record: unknown) => ActivityFacts, read?: ByteReader): ActivityFacts | null {
  if (read) {
    // validate (scanJson also checks UTF-8) and, with a plan, locate the fields in the same pass
    const plan = read.plan;
    const fromSlots = read.fromSlots;
    let slots: number[] | undefined;
    try {
      slots = scanJson(line, plan && fromSlots ? { fields: plan } : {}).slots;
    } catch {
      return null;
    }
    if (slots !== undefined && fromSlots) return safely((l: Buffer) => fromSlots(l, 0, l.length, slots), line);
    return safely((l: Buffer) => read(l, 0, l.length), line);
  }
  if (!isUtf8(line)) return null;
  let record: unknown;
  try {
    record = JSON.parse(line.toString('utf8'));
  } catch {
    return null;
  }
  return safely(extract, record);
}
