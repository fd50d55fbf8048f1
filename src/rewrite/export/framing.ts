/**
 * Framing shared by the export formats: bytes of a record that spans chunks
 * (Carry), lines with or without quoted newlines (LineFramer: NDJSON plain, CSV
 * quote-aware; CEF frames a chunk at a time in cef.ts), blank lines, and the
 * fail-closed read of a record.
 */
import type { ActivityFacts } from '../../privacy/types.js';

const LF = 0x0a;
const EMPTY = Buffer.alloc(0);
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
    if (this.length === 0) return tail ?? EMPTY; // nothing carried (most records): no copy, no allocation
    if (tail) this.push(tail);
    const out = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.length);
    this.parts.length = 0;
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
