/** NDJSON framing: one activity a line (line framing: framing.ts). */
import { isUtf8 } from 'node:buffer';
import type { ActivityFacts } from '../../privacy/types.js';
import type { FieldReader } from '../fieldReader.js';
import { scanSlotsFast, type SlotsView } from '../../engine/wasmScan.js';
import type { ScanOptions } from '../../engine/types.js';
import { LineFramer, isBlank, safely } from './framing.js';
import type { Op, RecordParser } from './types.js';

export function ndjsonParser(o: { extract: (record: unknown) => ActivityFacts; read?: ByteReader; maxRecordBytes: number }): RecordParser {
  const framer = new LineFramer(o.maxRecordBytes);
  // made once: nothing is allocated per line for the scan (its options, its slots)
  const line_: LineReading = { extract: o.extract, read: o.read, opts: { fields: o.read?.plan }, view: { slots: [], at: 0 } };
  let first = true;
  let spanOk = false;
  let spanBuf: ArrayBufferLike | null = null;
  let spanStart = 0;
  let spanEnd = 0;
  const inCheckedSpan = (line: Buffer): boolean =>
    spanOk && line.buffer === spanBuf && line.byteOffset >= spanStart && line.byteOffset + line.length <= spanEnd;
  const frame = (line: Buffer): Op => {
    const bom = first && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf;
    first = false;
    if (isBlank(line)) return { kind: 'raw', bytes: line };
    return { kind: 'record', bytes: line, facts: readLine(bom ? line.subarray(3) : line, line_, inCheckedSpan(line)) };
  };
  return {
    push(chunk, out) {
      // UTF-8 of the chunk's complete lines in one native call (a span from line start to
      // line end never splits a character); a line outside it, or any line when the span
      // is not valid UTF-8, is checked on its own by the scan
      const first = chunk.indexOf(0x0a);
      const last = first < 0 ? -1 : chunk.lastIndexOf(0x0a);
      spanOk = first < last && isUtf8(chunk.subarray(first + 1, last + 1));
      spanBuf = chunk.buffer;
      spanStart = chunk.byteOffset + first + 1;
      spanEnd = chunk.byteOffset + last + 1;
      framer.push(chunk, (line) => out.push(frame(line)));
      spanOk = false;
    },
    end(out) {
      const line = framer.end();
      if (line) out.push(frame(line));
    },
  };
}

/**
 * Facts from a record's bytes, same as extract(JSON.parse(bytes)); the bytes must be valid JSON.
 * The line is validated and its fields located in one scan (fieldReader.ts).
 */
export type ByteReader = FieldReader;

interface LineReading {
  extract: (record: unknown) => ActivityFacts;
  read: ByteReader | undefined;
  opts: ScanOptions;
  view: SlotsView;
}

/** A line that is not UTF-8 JSON is withheld (null), not a structural error. */
function readLine(line: Buffer, r: LineReading, utf8Checked: boolean): ActivityFacts | null {
  const read = r.read;
  if (read) {
    // validate (UTF-8 too, unless the chunk's span was) and locate the fields in the same pass
    let v: SlotsView;
    try {
      v = scanSlotsFast(line, r.opts, utf8Checked, r.view);
    } catch {
      return null;
    }
    try {
      return read.fromSlots(line, 0, line.length, v.slots, v.at);
    } catch {
      return null; // never guess (framing.ts safely)
    }
  }
  if (!isUtf8(line)) return null;
  let record: unknown;
  try {
    record = JSON.parse(line.toString('utf8'));
  } catch {
    return null;
  }
  return safely(r.extract, record);
}
