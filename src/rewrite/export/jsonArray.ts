/**
 * JSON export framing: the envelope passes through byte for byte (validated
 * on the fly), the elements of the array at `items` are buffered one at a
 * time and decided. Every occurrence of the path is filtered, since a
 * duplicated key is read as its last occurrence by consumers.
 *
 * An element's unit is its leading whitespace, the element and — when a comma
 * follows — its trailing whitespace; the whitespace before `]` stays with the
 * envelope. Commas are rewritten by the filter between kept units only.
 *
 * The envelope before the first target array is held back (up to
 * maxRecordBytes): if the path is missing — say upstream renamed the key —
 * the export is cut off before any of its activities could leak.
 *
 * A number at the optional `total` path (SPEC §4 export `json`, v3) must not tell how many
 * private activities exist: one before the first target array (its correction cannot be
 * known yet) is replaced by `null`; one after it becomes a `total` op the filter reduces by
 * the number removed so far. Its bytes are collected like a key, so memory stays constant.
 */
import { isUtf8 } from 'node:buffer';
import type { ActivityFacts } from '../../privacy/types.js';
import { isDigit, isHex, isWs, MAX_DEPTH } from '../../engine/jsonBytes.js';
import { Carry, safely } from './framing.js';
import type { ByteReader } from './ndjson.js';
import { scanSlotsFast, type SlotsView } from '../../engine/wasmScan.js';
import type { ScanOptions } from '../../engine/types.js';
import { FRAME_TOO_DEEP, forgetFrame, frameElement, type FrameResult, type FrameState } from '../../engine/wasmFrame.js';
import { BodyInvalidError } from '../../engine/errors.js';
import type { Op, RecordParser } from './types.js';

export const DEFAULT_MAX_DEPTH = MAX_DEPTH;

// envelope states
const VALUE = 0;
const ARR_FIRST = 1;
const OBJ_FIRST = 2;
const KEY = 3;
const COLON = 4;
const AFTER = 5;
const STR = 6;
const NUM = 7;
const LIT = 8;
const END = 9;
// target array states
const T_FIRST = 10;
const T_NEXT = 11;
const T_ELEM = 12;
const T_AFTER = 13;

// number grammar states; the ones marked * may end the number
const N_MINUS = 0;
const N_ZERO = 1; // *
const N_INT = 2; // *
const N_DOT = 3;
const N_FRAC = 4; // *
const N_E = 5;
const N_ESIGN = 6;
const N_EXP = 7; // *

/** bytes a scalar element (number, true, false, null) may hold; JSON.parse checks the rest */
const isScalarByte = (c: number): boolean => isDigit(c) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2b || c === 0x2d || c === 0x2e;

const NULL = Buffer.from('null');

function fail(what: string): never {
  throw new SyntaxError(`malformed JSON export: ${what}`);
}

export function jsonArrayParser(o: {
  extract: (record: unknown) => ActivityFacts;
  /** optional byte-level reader equal to extract(JSON.parse(element)): the engine validates and locates in one scan */
  read?: ByteReader;
  items: string;
  /** dot path of a count in the envelope (optional) */
  total?: string;
  maxRecordBytes: number;
  maxDepth?: number;
  /** false: elements are framed by the byte loop alone (the reference the engine's framer is tested against) */
  engineFraming?: boolean;
}): RecordParser {
  const parser = new JsonArrayParser(o.extract, o.items, o.maxRecordBytes, o.maxDepth ?? DEFAULT_MAX_DEPTH, o.read, o.engineFraming ?? true);
  if (o.total) parser.countAt(o.total);
  return parser;
}

class JsonArrayParser implements RecordParser {
  private readonly path: string[];
  private st = VALUE;
  /** envelope containers: object or array */
  private readonly isObj: boolean[] = [];
  /** per container: path segments matched to reach it, -1 when off the path */
  private readonly match: number[] = [];
  /** path position of the value about to start, -1 when off the path */
  private pending = 0;
  /** the `total` path (empty: none), per container its match as for `match`, and its pending position */
  private totalPath: string[] = [];
  private readonly tmatch: number[] = [];
  private tpending = -1;
  /** where the number at `total` began in the current chunk (-1: not inside it), and its bytes so far */
  private totalStart = -1;
  private readonly totalBytes = new Carry();
  private found = false;
  /** envelope before the first target array: held back, so a missing path leaks nothing */
  private readonly held = new Carry();

  // envelope string / number / literal
  private strIsKey = false;
  private keyOnPath = false;
  private esc = 0; // 0 none, 1 after '\', 2..5: hex digits of \u still to read, plus one
  private readonly key = new Carry();
  private num = 0;
  private lit = '';
  private litAt = 0;

  // target array element
  private readonly unit = new Carry();
  private elemLen = 0;
  private depth = 0;
  /** scanElement's native-search cache: the chunk searched, and the next quote / backslash at or after the last search (n = none) */
  private searched: Buffer | null = null;
  private nextQuote = -1;
  private nextBs = -1;
  private inStr = false;
  private elemEsc = false;
  private scalar = false;
  /** the engine's framer (src/engine/wasmFrame.ts): its state and answer, reused per call */
  private readonly fs: FrameState = { depth: 0, inStr: false, esc: false };
  private readonly fr: FrameResult = { at: 0, resume: false };
  /** the current chunk is valid UTF-8 as a whole */
  private chunkUtf8 = false;
  /** decide's scan options and slots view, made once (nothing allocated per element for the scan) */
  private readonly scanOpts: ScanOptions;
  private readonly view: SlotsView = { slots: [], at: 0 };

  // per push
  private chunk: Buffer = Buffer.alloc(0);
  private out: Op[] = [];
  private rawStart = -1;
  private unitStart = -1;
  private keyStart = -1;

  constructor(
    private readonly extract: (record: unknown) => ActivityFacts,
    private readonly items: string,
    private readonly maxRecordBytes: number,
    private readonly maxDepth: number,
    private readonly read: ByteReader | undefined,
    private readonly engineFraming: boolean,
  ) {
    this.path = items === '' ? [] : items.split('.');
    this.scanOpts = { fields: read?.plan };
  }

  countAt(total: string): void {
    this.totalPath = total.split('.');
    this.tpending = 0;
  }

  push(chunk: Buffer, out: Op[]): void {
    this.chunk = chunk;
    this.searched = null; // a new chunk: nothing searched yet
    if (this.engineFraming) forgetFrame();
    // UTF-8 of the whole chunk in one native call; an element inside it then needs no check of its own
    // (a chunk that ends inside a character fails this, and its elements are checked one by one)
    this.chunkUtf8 = this.read !== undefined && isUtf8(chunk);
    this.out = out;
    const inTarget = this.st >= T_FIRST;
    const inTotal = this.totalStart >= 0;
    this.rawStart = inTarget || inTotal ? -1 : 0;
    if (inTotal) this.totalStart = 0;
    this.unitStart = inTarget ? 0 : -1;
    this.keyStart = this.st === STR && this.strIsKey && this.keyOnPath ? 0 : -1;
    this.scan(chunk);
    const n = chunk.length;
    this.flushRaw(n);
    if (this.unitStart >= 0) {
      this.unit.push(chunk.subarray(this.unitStart));
      if (this.unit.length > this.maxRecordBytes) fail(`an element is longer than ${this.maxRecordBytes} bytes`);
    }
    if (this.keyStart >= 0) {
      this.key.push(chunk.subarray(this.keyStart));
      if (this.key.length > this.maxRecordBytes) fail('a key is too long');
    }
    if (this.totalStart >= 0) {
      this.totalBytes.push(chunk.subarray(this.totalStart));
      if (this.totalBytes.length > this.maxRecordBytes) fail('a number is too long');
    }
    this.out = [];
  }

  end(): void {
    const complete = this.st === END || (this.st === AFTER && this.isObj.length === 0);
    if (!complete) fail('the export ends before its JSON value is complete');
    if (!this.found) fail(`no array at "${this.items}"`);
  }

  private scan(b: Buffer): void {
    const n = b.length;
    let p = 0;
    while (p < n) {
      const c = b[p];
      switch (this.st) {
        case VALUE:
          if (!isWs(c)) this.startValue(c, p);
          p++;
          break;
        case ARR_FIRST:
          if (c === 0x5d) this.pop();
          else if (!isWs(c)) {
            this.pending = -1;
            this.tpending = -1;
            this.startValue(c, p);
          }
          p++;
          break;
        case OBJ_FIRST:
        case KEY:
          if (c === 0x22) this.startKey(p);
          else if (c === 0x7d && this.st === OBJ_FIRST) this.pop();
          else if (!isWs(c)) fail('expected a key');
          p++;
          break;
        case COLON:
          if (c === 0x3a) this.st = VALUE;
          else if (!isWs(c)) fail("expected ':'");
          p++;
          break;
        case AFTER:
          p = this.stepAfter(c, p);
          break;
        case END:
          if (!isWs(c)) fail('data after the JSON value');
          p++;
          break;
        case STR:
          p = this.scanString(b, p);
          break;
        case NUM:
          if (this.stepNumber(c)) p++;
          else if (this.totalStart >= 0) this.endTotal(p);
          break;
        case LIT:
          if (c !== this.lit.charCodeAt(this.litAt)) fail('bad literal');
          if (++this.litAt === this.lit.length) this.st = AFTER;
          p++;
          break;
        case T_FIRST:
        case T_NEXT:
          if (c === 0x5d && this.st === T_FIRST) {
            // empty array: its inner whitespace is envelope
            this.out.push({ kind: 'raw', bytes: this.unit.take(b.subarray(this.unitStart, p)) });
            this.closeTarget(p);
          } else if (!isWs(c)) this.startElement(c);
          p++;
          break;
        case T_ELEM:
          p = this.scanElement(b, p);
          break;
        case T_AFTER:
          if (c === 0x2c) {
            this.completeUnit(p, false);
            this.unitStart = p + 1;
            this.st = T_NEXT;
          } else if (c === 0x5d) {
            this.completeUnit(p, true);
            this.closeTarget(p);
          } else if (!isWs(c)) fail("expected ',' or ']' after an element");
          p++;
          break;
      }
    }
  }

  /** After an envelope value: a separator, the container's end, or (at the top) the end of the document. */
  private stepAfter(c: number, p: number): number {
    if (isWs(c)) return p + 1;
    if (this.isObj.length === 0) {
      this.st = END;
      return p; // reread c
    }
    const obj = this.isObj[this.isObj.length - 1];
    if (c === 0x2c) {
      this.st = obj ? KEY : VALUE;
      this.pending = -1;
      this.tpending = -1;
    } else if (c === (obj ? 0x7d : 0x5d)) this.pop();
    else fail(`unexpected '${String.fromCharCode(c)}'`);
    return p + 1;
  }

  private startValue(c: number, at: number): void {
    if (this.pending === this.path.length) {
      if (c !== 0x5b) fail(`the value at "${this.items}" is not an array`);
      this.checkDepth(this.isObj.length + 1);
      this.flushRaw(at + 1); // '[' is envelope; the first unit starts after it
      if (!this.found) this.out.push({ kind: 'raw', bytes: this.held.take() });
      this.found = true;
      this.unitStart = at + 1;
      this.out.push({ kind: 'list' });
      this.st = T_FIRST;
      return;
    }
    if (this.tpending === this.totalPath.length && (c === 0x2d || isDigit(c))) this.startTotal(at);
    switch (c) {
      case 0x7b:
        this.open(true, this.pending);
        this.st = OBJ_FIRST;
        return;
      case 0x5b:
        this.open(false, -1);
        this.st = ARR_FIRST;
        return;
      case 0x22:
        this.strIsKey = false;
        this.esc = 0;
        this.st = STR;
        return;
      case 0x2d:
        this.num = N_MINUS;
        this.st = NUM;
        return;
      case 0x74:
        return this.startLiteral('rue');
      case 0x66:
        return this.startLiteral('alse');
      case 0x6e:
        return this.startLiteral('ull');
    }
    if (!isDigit(c)) fail(`unexpected '${String.fromCharCode(c)}'`);
    this.num = c === 0x30 ? N_ZERO : N_INT;
    this.st = NUM;
  }

  private startLiteral(rest: string): void {
    this.lit = rest;
    this.litAt = 0;
    this.st = LIT;
  }

  private open(obj: boolean, match: number): void {
    this.checkDepth(this.isObj.length + 1);
    this.isObj.push(obj);
    this.match.push(obj ? match : -1);
    this.tmatch.push(obj && this.tpending < this.totalPath.length ? this.tpending : -1);
  }

  private pop(): void {
    this.isObj.pop();
    this.match.pop();
    this.tmatch.pop();
    this.st = AFTER;
  }

  /** A number at `total` starts at `at`: the envelope before it goes out, the number is collected. */
  private startTotal(at: number): void {
    this.flushRaw(at);
    this.totalStart = at;
  }

  /** The number at `total` ended before `end`: `null` before the target array, a `total` op after it. */
  private endTotal(end: number): void {
    const bytes = this.totalBytes.take(this.chunk.subarray(this.totalStart, end));
    this.totalStart = -1;
    this.rawStart = end;
    if (!this.found) this.held.push(NULL);
    else this.out.push({ kind: 'total', bytes });
  }

  private checkDepth(d: number): void {
    if (d > this.maxDepth) fail(`nesting deeper than ${this.maxDepth}`);
  }

  private startKey(at: number): void {
    this.strIsKey = true;
    this.keyOnPath = this.match[this.match.length - 1] >= 0 || this.tmatch[this.tmatch.length - 1] >= 0;
    this.keyStart = this.keyOnPath ? at : -1;
    this.esc = 0;
    this.st = STR;
  }

  /** Envelope string: validated, passed through; a key on the path is also read. */
  private scanString(b: Buffer, p: number): number {
    const n = b.length;
    for (; p < n; p++) {
      const c = b[p];
      if (this.esc === 0) {
        if (c === 0x22) {
          this.endString(p + 1);
          return p + 1;
        }
        if (c === 0x5c) this.esc = 1;
        else if (c < 0x20) fail('control character in a string');
      } else if (this.esc === 1) {
        if (c === 0x75) this.esc = 5;
        else if (c === 0x22 || c === 0x5c || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74) {
          this.esc = 0;
        } else fail('bad escape');
      } else {
        if (!isHex(c)) fail('bad \\u escape');
        if (--this.esc === 1) this.esc = 0;
      }
    }
    return p;
  }

  private endString(end: number): void {
    if (!this.strIsKey) {
      this.st = AFTER;
      return;
    }
    this.st = COLON;
    this.pending = -1;
    this.tpending = -1;
    if (!this.keyOnPath) return;
    const raw = this.key.take(this.chunk.subarray(this.keyStart, end));
    this.keyStart = -1;
    const m = this.match[this.match.length - 1];
    const t = this.tmatch[this.tmatch.length - 1];
    // keys are compared as JSON.parse reads them: "d\u0061ta" is data
    const key = JSON.parse(raw.toString('utf8')) as string;
    if (m >= 0 && key === this.path[m]) this.pending = m + 1;
    if (t >= 0 && key === this.totalPath[t]) this.tpending = t + 1;
  }

  /** One byte of a number; false when the byte ends it (and must be read again). */
  private stepNumber(c: number): boolean {
    const s = this.num;
    if (isDigit(c)) {
      if (s === N_ZERO) fail('leading zero');
      this.num = s === N_MINUS ? (c === 0x30 ? N_ZERO : N_INT) : s === N_DOT ? N_FRAC : s === N_E || s === N_ESIGN ? N_EXP : s;
      return true;
    }
    if (c === 0x2e && (s === N_ZERO || s === N_INT)) this.num = N_DOT;
    else if ((c === 0x65 || c === 0x45) && (s === N_ZERO || s === N_INT || s === N_FRAC)) this.num = N_E;
    else if ((c === 0x2b || c === 0x2d) && s === N_E) this.num = N_ESIGN;
    else {
      if (s !== N_ZERO && s !== N_INT && s !== N_FRAC && s !== N_EXP) fail('bad number');
      this.st = AFTER;
      return false;
    }
    return true;
  }

  private startElement(c: number): void {
    this.inStr = false;
    this.elemEsc = false;
    this.scalar = false;
    this.depth = 0;
    if (c === 0x7b || c === 0x5b) {
      this.depth = 1;
      this.checkDepth(this.isObj.length + 2);
    } else if (c === 0x22) this.inStr = true;
    else if (c === 0x2d || isDigit(c) || c === 0x74 || c === 0x66 || c === 0x6e) this.scalar = true;
    else fail(`unexpected '${String.fromCharCode(c)}' in the array`);
    this.st = T_ELEM;
  }

  /**
   * Finds the end of the element (strings and nesting only: the element is
   * validated whole when it completes). String contents — the bulk of an
   * activity — are skipped with native searches for the next quote and the
   * next backslash (positions cached per chunk, so each is searched once).
   */
  private scanElement(b: Buffer, p: number): number {
    const n = b.length;
    if (this.engineFraming && !this.scalar && p < n) {
      // the engine finds the end (same answer, SIMD); a backslash outside a string hands it back here
      const st = this.fs;
      st.depth = this.depth;
      st.inStr = this.inStr;
      st.esc = this.elemEsc;
      const r = frameElement(b, p, st, this.maxDepth - this.isObj.length - 1, this.fr);
      if (r.at === FRAME_TOO_DEEP) fail(`nesting deeper than ${this.maxDepth}`);
      this.depth = st.depth;
      this.inStr = st.inStr;
      this.elemEsc = st.esc;
      if (!r.resume) return r.at >= 0 ? this.elementEnd(r.at) : n;
      p = r.at;
    }
    if (this.searched === null) {
      this.searched = b;
      this.nextQuote = -1;
      this.nextBs = -1;
    }
    for (; p < n; p++) {
      if (this.inStr) {
        if (this.elemEsc) {
          this.elemEsc = false;
          continue;
        }
        if (this.nextQuote < p) {
          this.nextQuote = b.indexOf(0x22, p);
          if (this.nextQuote < 0) this.nextQuote = n;
        }
        if (this.nextBs < p) {
          this.nextBs = b.indexOf(0x5c, p);
          if (this.nextBs < 0) this.nextBs = n;
        }
        if (this.nextBs < this.nextQuote) {
          p = this.nextBs; // the byte after it is escaped
          this.elemEsc = true;
          continue;
        }
        p = this.nextQuote;
        if (p === n) return n; // the string goes on in the next chunk
        this.inStr = false;
        if (this.depth === 0) return this.elementEnd(p + 1);
        continue;
      }
      const c = b[p];
      if (this.scalar) {
        if (!isScalarByte(c)) return this.elementEnd(p);
      } else if (c === 0x22) this.inStr = true;
      else if (c === 0x7b || c === 0x5b) {
        this.checkDepth(this.isObj.length + 1 + ++this.depth);
      } else if ((c === 0x7d || c === 0x5d) && --this.depth === 0) return this.elementEnd(p + 1);
    }
    return p;
  }

  private elementEnd(end: number): number {
    this.elemLen = this.unit.length + (end - this.unitStart);
    this.st = T_AFTER;
    return end;
  }

  /** The unit ends at the separator at `at`: decide it on the parsed element. */
  private completeUnit(at: number, last: boolean): void {
    const bytes = this.unit.take(this.chunk.subarray(this.unitStart, at));
    this.unitStart = -1;
    if (bytes.length > this.maxRecordBytes) fail(`an element is longer than ${this.maxRecordBytes} bytes`);
    // the unit is the element between whitespace (T_AFTER let only whitespace follow it):
    // decided as it is, so an element needs a view of its own only when the unit ends the array
    const facts = this.decide(bytes);
    if (last) {
      this.out.push({ kind: 'record', bytes: bytes.subarray(0, this.elemLen), facts, comma: true });
      this.out.push({ kind: 'raw', bytes: bytes.subarray(this.elemLen) });
    } else this.out.push({ kind: 'record', bytes, facts, comma: true });
  }

  /** elem is a view of the current chunk's bytes (not a copy joined across chunks) */
  private inChunk(elem: Buffer): boolean {
    const c = this.chunk;
    return elem.buffer === c.buffer && elem.byteOffset >= c.byteOffset && elem.byteOffset + elem.length <= c.byteOffset + c.length;
  }

  /**
   * Facts of one element (null = unreadable, withheld), from its unit (the element
   * between whitespace); a malformed element is a structural error.
   */
  private decide(elem: Buffer): ActivityFacts | null {
    const read = this.read;
    if (read) {
      let v: SlotsView;
      try {
        v = scanSlotsFast(elem, this.scanOpts, this.chunkUtf8 && this.inChunk(elem), this.view);
      } catch (err) {
        if (err instanceof BodyInvalidError) fail(`an element is not valid JSON (${err.reason})`);
        throw err;
      }
      try {
        return read.fromSlots(elem, 0, elem.length, v.slots, v.at);
      } catch {
        return null; // never guess (framing.ts safely)
      }
    }
    if (!isUtf8(elem)) fail('an element is not UTF-8');
    const value: unknown = JSON.parse(elem.toString('utf8')); // a SyntaxError is a structural error
    return safely(this.extract, value);
  }

  /** `]` of the target array at `at`: back to the envelope, which owns the `]`. */
  private closeTarget(at: number): void {
    this.unitStart = -1;
    this.rawStart = at;
    this.st = AFTER;
  }

  private flushRaw(upTo: number): void {
    if (this.rawStart >= 0 && upTo > this.rawStart) {
      const bytes = this.chunk.subarray(this.rawStart, upTo);
      if (this.found) this.out.push({ kind: 'raw', bytes });
      else {
        this.held.push(bytes);
        if (this.held.length > this.maxRecordBytes) fail(`no array at "${this.items}" within the first ${this.maxRecordBytes} bytes`);
      }
    }
    if (this.rawStart >= 0) this.rawStart = -1;
  }
}
