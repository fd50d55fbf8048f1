/**
 * The vocabulary between the export filter (index.ts) and the format framers
 * (ndjson, json, csv, cef): framers turn bytes into operations, the filter
 * decides and writes them.
 */
import type { ExportFormat } from '../../config/schema.js';
import type { ActivityFields } from '../../privacy/extract.js';
import type { ActivityFacts } from '../../privacy/types.js';

export type { ExportFormat };
/** The fields a CSV row or CEF line yields (text, or epoch ms already read from a CEF date form). */
export type ExportFields = ActivityFields;

export interface CsvColumns {
  id?: string;
  /** first column present in the header (with a non-empty cell) wins */
  actor: string[];
  timestamp: string;
  /** every column present in the header is used (union) */
  groups: string[];
  application?: string;
}

/**
 * One framed piece of the stream, in stream order.
 * `record.facts === null` means the record could not be read: always withheld.
 */
export type Op =
  | { kind: 'raw'; bytes: Buffer }
  | { kind: 'record'; bytes: Buffer; facts: ActivityFacts | null; comma?: boolean }
  /** json: a filtered array begins; comma bookkeeping restarts */
  | { kind: 'list' }
  /** json: the number at `total` after the array (its bytes): reduced by the number removed so far */
  | { kind: 'total'; bytes: Buffer };

/**
 * A format's framer. It throws SyntaxError when the stream is not of its
 * format in a way that makes filtering unsafe; the filter turns that into an
 * ExportStructureError.
 */
export interface RecordParser {
  push(chunk: Buffer, out: Op[]): void;
  end(out: Op[]): void;
}

/** default limit of one record's bytes: a longer line / record is a structural error */
export const DEFAULT_MAX_RECORD_BYTES = 4 * 1024 * 1024;
