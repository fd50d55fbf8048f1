/**
 * Streaming export filters: a node:stream Transform that removes private
 * activities from an export body (NDJSON, JSON, CSV, CEF) in constant memory.
 *
 * The format modules only frame bytes into operations (raw bytes to pass,
 * records to decide); this module asks `hide` about every record completed in
 * a chunk (one batch per chunk), then writes the kept bytes in order. The
 * Transform's own backpressure does the rest: the next chunk is not taken
 * before the current one has been decided and pushed.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { ExportFormat } from '../../config/schema.js';
import type { ActivityFacts, HideAnswer, HideBatch } from '../../privacy/types.js';
import { answerKind, type PseudonymTargets } from '../list.js';
import { pseudonymiseJsonRecord, pseudonymiseTextRecord } from '../pseudonymise.js';
import { ExportStructureError } from '../errors.js';
import { DEFAULT_MAX_RECORD_BYTES, type CsvColumns, type ExportFields, type Op, type RecordParser } from './types.js';
import { ndjsonParser, type ByteReader } from './ndjson.js';
import { jsonArrayParser } from './jsonArray.js';
import { csvParser } from './csv.js';
import { cefExtensionStart, cefParser } from './cef.js';

export interface ExportFilterOptions {
  format: ExportFormat;
  /** json: dot path of the array ('' = top-level array); default 'data' */
  items?: string;
  /** json: dot path of a count in the envelope: reduced after the array, `null` before it (SPEC §4, v3) */
  total?: string;
  /** json / ndjson records */
  extract: (record: unknown) => ActivityFacts;
  /** ndjson / json: optional byte-level reader equal to extract(JSON.parse(record)) (fieldReader.ts), after validation */
  read?: ByteReader;
  /** csv / cef records */
  fromFields: (fields: ExportFields) => ActivityFacts;
  csvColumns: CsvColumns;
  /** called once per chunk with all records completed in it; true = hide, 'pseudonymise' = keep pseudonymised */
  hide: HideBatch;
  /** SPEC §14: the actor's pseudonym target; absent = a pseudonymised record is removed (fail closed) */
  pseudonyms?: PseudonymTargets;
  /** default 4 MiB: a longer line / record is a structural error */
  maxRecordBytes?: number;
  onRemoved?: (n: number) => void;
}

export { ExportStructureError };
export { DEFAULT_MAX_RECORD_BYTES, type CsvColumns, type ExportFields, type ExportFormat, type Op, type RecordParser };

const COMMA = Buffer.from(',');

export function createExportFilter(opts: ExportFilterOptions): Transform {
  return new ExportFilter(opts, makeParser(opts));
}

function makeParser(opts: ExportFilterOptions): RecordParser {
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  switch (opts.format) {
    case 'ndjson':
      return ndjsonParser({ extract: opts.extract, read: opts.read, maxRecordBytes });
    case 'json':
      return jsonArrayParser({ extract: opts.extract, read: opts.read, items: opts.items ?? 'data', total: opts.total, maxRecordBytes });
    case 'csv':
      return csvParser({ fromFields: opts.fromFields, columns: opts.csvColumns, maxRecordBytes });
    case 'cef':
      return cefParser({ fromFields: opts.fromFields, maxRecordBytes });
    default:
      throw new Error(`unknown export format: ${String(opts.format)}`);
  }
}

class ExportFilter extends Transform {
  /** json: a kept element has already been written in the current array */
  private needComma = false;
  /** records kept and removed so far (a json export's `total` is corrected by them) */
  private kept = 0;
  private removed = 0;

  constructor(
    private readonly opts: ExportFilterOptions,
    private readonly parser: RecordParser,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const ops: Op[] = [];
    try {
      this.parser.push(chunk, ops);
    } catch (err) {
      this.failAfter(ops, structural(err), cb, chunk);
      return;
    }
    this.settle(ops, cb, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const ops: Op[] = [];
    try {
      this.parser.end(ops);
    } catch (err) {
      this.failAfter(ops, structural(err), cb);
      return;
    }
    this.settle(ops, cb);
  }

  /**
   * The stream broke: the records framed before the fault are still decided and
   * passed on (a consumer already streaming keeps them), then the error ends the stream.
   */
  private failAfter(ops: Op[], err: Error, cb: TransformCallback, chunk?: Buffer): void {
    if (ops.length === 0) {
      cb(err);
      return;
    }
    this.settle(ops, (settleErr) => cb(settleErr ?? err), chunk);
  }

  /** Decides the chunk's records in one batch, then pushes what is kept. */
  private settle(ops: Op[], cb: TransformCallback, chunk?: Buffer): void {
    const facts: ActivityFacts[] = [];
    for (const op of ops) if (op.kind === 'record' && op.facts) facts.push(op.facts);
    if (facts.length === 0) {
      this.emit_(ops, [], chunk);
      cb();
      return;
    }
    let verdicts: HideAnswer[] | Promise<HideAnswer[]>;
    try {
      verdicts = this.opts.hide(facts);
    } catch (err) {
      cb(asError(err));
      return;
    }
    const done = (v: HideAnswer[]): void => {
      if (this.destroyed) return;
      if (!Array.isArray(v) || v.length !== facts.length) {
        cb(new Error('hide returned a verdict array of the wrong length'));
        return;
      }
      this.emit_(ops, v, chunk);
      cb();
    };
    if (Array.isArray(verdicts)) done(verdicts);
    else Promise.resolve(verdicts).then(done, (err) => cb(asError(err)));
  }

  /** `chunk`: the input chunk the ops were framed from (a run of its bytes is cut from it) */
  private emit_(ops: Op[], verdicts: HideAnswer[], chunk?: Buffer): void {
    const out = new Parts(chunk);
    let vi = 0;
    let removed = 0;
    for (const op of ops) {
      if (op.kind === 'raw') out.add(op.bytes);
      else if (op.kind === 'list') this.needComma = false;
      else if (op.kind === 'total') out.add(reducedTotal(op.bytes, this.kept, this.removed + removed));
      else {
        // fail closed: only an explicit `false` keeps a record as is
        const kind = op.facts === null ? 'remove' : answerKind(verdicts[vi++], op.facts, this.opts.pseudonyms);
        if (kind === 'remove') {
          removed++;
          continue;
        }
        if (op.comma) {
          if (this.needComma) out.comma(op.bytes);
          this.needComma = true;
        }
        this.kept++;
        out.add(kind === 'keep' ? op.bytes : this.pseudonymise(op.bytes, op.facts!.actor!));
      }
    }
    this.removed += removed;
    if (removed > 0) this.opts.onRemoved?.(removed);
    const b = out.take();
    if (b) this.push(b);
  }

  /** SPEC §14: the record with its actor's principal replaced (JSON string values, CSV cells, CEF extension values) */
  private pseudonymise(bytes: Buffer, actor: string): Buffer {
    const t = this.opts.pseudonyms!(actor);
    switch (this.opts.format) {
      case 'csv':
        return pseudonymiseTextRecord(bytes, t);
      case 'cef':
        return pseudonymiseTextRecord(bytes, t, cefExtensionStart(bytes));
      default:
        return pseudonymiseJsonRecord(bytes, t);
    }
  }
}

/**
 * The bytes a chunk writes, in order. Adjacent views of the same memory merge into one
 * run (the common all-kept case writes the input chunk as is); a run becomes a Buffer
 * only when a piece from elsewhere follows it, not once per record.
 */
class Parts {
  /** `chunk`: the input chunk, handed on as is when one run is all of it */
  constructor(private readonly chunk?: Buffer) {}

  private readonly done: Buffer[] = [];
  private run: Buffer | null = null;
  private runEnd = 0;

  add(b: Buffer): void {
    if (b.length === 0) return;
    const run = this.run;
    if (run !== null && run.buffer === b.buffer && run.byteOffset + this.runEnd === b.byteOffset) {
      this.runEnd += b.length;
      return;
    }
    this.close();
    this.run = b;
    this.runEnd = b.length;
  }

  /**
   * A comma before `next`: the input's own when it lies between the run and `next` in the
   * input chunk (kept neighbours stay one run, as received), else a comma of our own.
   */
  comma(next: Buffer): void {
    const run = this.run;
    const c = this.chunk;
    if (run !== null && c !== undefined && run.buffer === c.buffer && next.buffer === c.buffer) {
      const at = run.byteOffset + this.runEnd - c.byteOffset;
      if (at + 1 === next.byteOffset - c.byteOffset && at >= 0 && at < c.length && c[at] === 0x2c) {
        this.runEnd++;
        return;
      }
    }
    this.add(COMMA);
  }

  /** Everything added, as one Buffer (null: nothing). */
  take(): Buffer | null {
    this.close();
    const d = this.done;
    return d.length === 0 ? null : d.length === 1 ? d[0] : Buffer.concat(d);
  }

  private close(): void {
    const run = this.run;
    if (run === null) return;
    this.done.push(this.runEnd === run.length ? run : this.joined(run));
    this.run = null;
  }

  /** The run's bytes (same memory): the input chunk itself, or a view of it, when they lie in it. */
  private joined(run: Buffer): Buffer {
    const c = this.chunk;
    const start = run.byteOffset;
    const end = start + this.runEnd;
    if (c !== undefined && run.buffer === c.buffer && start >= c.byteOffset && end <= c.byteOffset + c.length) {
      return start === c.byteOffset && end === c.byteOffset + c.length ? c : c.subarray(start - c.byteOffset, end - c.byteOffset);
    }
    return Buffer.from(run.buffer, start, this.runEnd);
  }
}

/** SPEC §4 (the list rule): max(kept, old - removed); a count that is not a non-negative safe integer stays. */
function reducedTotal(bytes: Buffer, kept: number, removed: number): Buffer {
  const old = Number(bytes.toString('latin1'));
  if (!Number.isSafeInteger(old) || old < 0) return bytes;
  return Buffer.from(String(Math.max(kept, old - removed)), 'latin1');
}

function structural(err: unknown): Error {
  if (err instanceof ExportStructureError) return err;
  if (err instanceof SyntaxError || err instanceof RangeError) {
    return new ExportStructureError(err.message, { cause: err });
  }
  return asError(err);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
