/** NDJSON framing: one activity a line (line framing: framing.ts). */
import { isUtf8 } from 'node:buffer';
import type { ActivityFacts } from '../../privacy/types.js';
import type { FieldReader } from '../fieldReader.js';
import { scanJsonFast } from '../../engine/wasmScan.js';
import { LineFramer, isBlank, safely } from './framing.js';
import type { Op, RecordParser } from './types.js';

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
 * The line is validated and its fields located in one scan (fieldReader.ts).
 */
export type ByteReader = FieldReader;

/** A line that is not UTF-8 JSON is withheld (null), not a structural error. */
function readLine(line: Buffer, extract: (record: unknown) => ActivityFacts, read?: ByteReader): ActivityFacts | null {
  if (read) {
    // validate (the engine also checks UTF-8) and locate the fields in the same pass
    let slots: ArrayLike<number> | undefined;
    try {
      slots = scanJsonFast(line, { fields: read.plan }).slots;
    } catch {
      return null;
    }
    const s = slots!;
    return safely((l: Buffer) => read.fromSlots(l, 0, l.length, s), line);
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
