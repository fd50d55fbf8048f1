/**
 * The engine's JavaScript scanner: strict RFC 8259 validator and scanner over
 * the raw bytes of a JSON body, the same contract (types.ts) as the
 * WebAssembly engine (wasmScan.ts). Production runs it only where the engine
 * hands a scan over (wasmScan.ts: a path segment that is not well-formed
 * Unicode, a body above MAX_ENGINE_BYTES); the engine's tests use it as the
 * second implementation to compare with (test/unit/engine/).
 *
 * Why not JSON.parse + JSON.stringify: kept activities must leave the gateway
 * as the exact bytes upstream sent. So we validate the whole body and report
 * byte ranges: every element of the array(s) at the `items` dot path and every
 * number at the `total` dot path. Callers cut and splice the original Buffer.
 *
 * Strictness matches JSON.parse (same accept/reject on valid UTF-8), plus:
 * invalid UTF-8 is rejected (JSON.parse would silently see U+FFFD), and
 * nesting deeper than MAX_DEPTH is rejected (records that deep are not
 * activities, and downstream code may recurse). The scanner itself is
 * iterative: no recursion, so no stack overflow whatever the input.
 *
 * Duplicate keys: JSON.parse keeps the last, other consumers may keep the
 * first, so EVERY occurrence of the items path is reported (and must be an
 * array) and every numeric occurrence of the total path is reported.
 * Path segments only traverse objects (never array indices); keys are
 * compared as JSON.parse decodes them, so `"d\u0061ta"` matches `data`.
 *
 * Pure: no I/O. Errors are BodyInvalidError with a reason and byte offset only.
 */
import { isUtf8 } from 'node:buffer';
import { BodyInvalidError } from './errors.js';
import { MAX_DEPTH } from './jsonBytes.js';
import type { ArrayHit, ByteRange, JsonKind, PlanNode, ScanOptions, ScanResult } from './types.js';

const ARR = 1;
const OBJ = 2;

/** String byte classes: 0 = plain, 1 = quote, 2 = backslash, 3 = control (invalid). */
const STR_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STR_CLASS[c] = 3;
STR_CLASS[0x22] = 1;
STR_CLASS[0x5c] = 2;

const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

interface Segment {
  bytes: Buffer;
  text: string;
}

function compilePath(path: string | undefined): Segment[] | null {
  if (path === undefined) return null;
  if (path === '') return [];
  return path.split('.').map((text) => ({ text, bytes: Buffer.from(text, 'utf8') }));
}

function fail(reason: string, pos: number): never {
  throw new BodyInvalidError(`${reason} at byte ${pos}`);
}

function skipWs(buf: Buffer, p: number, len: number): number {
  while (p < len) {
    const c = buf[p];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
    else break;
  }
  return p;
}

/*
 * Module state for the scan in progress (scanJson is synchronous, so this is
 * never shared between two scans): whether the last string had an escape, and
 * an Int32 view of the aligned middle of the buffer for word-at-a-time string
 * skipping. W[i] holds bytes [W0 + 4i, W0 + 4i + 4).
 */
let lastHadEscape = false;
const NO_WORDS: Int32Array<ArrayBufferLike> = new Int32Array(0);
let W = NO_WORDS;
let W0 = 0;
let WN = 0;

/**
 * p is at the opening quote; returns the offset just past the closing quote.
 * String contents are the bulk of a page, so whole 4-byte words that hold no
 * quote, backslash or control byte are skipped with SWAR bit tests (exact:
 * a word is flagged iff one of its bytes is < 0x20, == 0x22 or == 0x5c);
 * flagged words are then examined byte by byte.
 */
function scanString(buf: Buffer, p: number, len: number): number {
  p++;
  lastHadEscape = false;
  for (;;) {
    if (p >= W0 && ((p - W0) & 3) === 0) {
      let w = (p - W0) >> 2;
      while (w < WN) {
        const x = W[w];
        const q = x ^ 0x22222222;
        const s = x ^ 0x5c5c5c5c;
        if ((((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) break;
        w++;
      }
      p = W0 + (w << 2);
    }
    if (p >= len) fail('unterminated string', p);
    const cls = STR_CLASS[buf[p]];
    if (cls === 0) {
      p++;
      continue;
    }
    if (cls === 1) return p + 1;
    if (cls === 3) fail('control character in string', p);
    // backslash escape
    lastHadEscape = true;
    if (p + 1 >= len) fail('unterminated escape', p);
    const e = buf[p + 1];
    if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
      p += 2;
    } else if (e === 0x75) {
      if (p + 6 > len) fail('unterminated escape', p);
      if (!(HEX[buf[p + 2]] & HEX[buf[p + 3]] & HEX[buf[p + 4]] & HEX[buf[p + 5]])) fail('bad \\u escape', p);
      p += 6;
    } else {
      fail('bad escape', p);
    }
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** p is at '-' or a digit; returns the offset just past the number. */
function scanNumber(buf: Buffer, p: number, len: number): number {
  if (buf[p] === 0x2d) p++;
  if (p >= len) fail('bad number', p);
  const c = buf[p];
  if (c === 0x30) {
    p++;
  } else if (c >= 0x31 && c <= 0x39) {
    p++;
    while (p < len && isDigit(buf[p])) p++;
  } else {
    fail('bad number', p);
  }
  if (p < len && buf[p] === 0x2e) {
    p++;
    if (p >= len || !isDigit(buf[p])) fail('bad number', p);
    while (p < len && isDigit(buf[p])) p++;
  }
  if (p < len && (buf[p] === 0x65 || buf[p] === 0x45)) {
    p++;
    if (p < len && (buf[p] === 0x2b || buf[p] === 0x2d)) p++;
    if (p >= len || !isDigit(buf[p])) fail('bad number', p);
    while (p < len && isDigit(buf[p])) p++;
  }
  return p;
}

function scanLiteral(buf: Buffer, p: number, len: number, lit: readonly number[]): number {
  if (p + lit.length > len) fail('bad literal', p);
  for (let i = 0; i < lit.length; i++) if (buf[p + i] !== lit[i]) fail('bad literal', p);
  return p + lit.length;
}

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

/** The plan child whose key equals the key string [q0,q1) as JSON.parse decodes it, or null. */
function keyNode(buf: Buffer, q0: number, q1: number, hadEscape: boolean, node: PlanNode): PlanNode | null {
  const keys = node.keys;
  if (hadEscape) {
    const text = JSON.parse(buf.toString('utf8', q0, q1)) as string;
    for (let j = 0; j < keys.length; j++) if (keys[j].text === text) return keys[j].node;
    return null;
  }
  const n = q1 - q0 - 2;
  outer: for (let j = 0; j < keys.length; j++) {
    const b = keys[j].bytes;
    if (b.length !== n) continue;
    for (let i = 0; i < n; i++) if (buf[q0 + 1 + i] !== b[i]) continue outer;
    return keys[j].node;
  }
  return null;
}

/* Scratch reused across scans (NDJSON scans one short line at a time): container kinds, and the fused read's. */
const STACK = new Uint8Array(MAX_DEPTH);
const NODES: PlanNode[] = new Array<PlanNode>(MAX_DEPTH);
const PEND = new Int32Array(MAX_DEPTH + 1).fill(-1);

/** Whether the key string spanning [q0,q1) (quotes included) equals seg, as JSON.parse decodes it. */
function keyEquals(buf: Buffer, q0: number, q1: number, hadEscape: boolean, seg: Segment): boolean {
  if (hadEscape) return JSON.parse(buf.toString('utf8', q0, q1)) === seg.text;
  const b = seg.bytes;
  const n = b.length;
  if (q1 - q0 - 2 !== n) return false;
  for (let i = 0; i < n; i++) if (buf[q0 + 1 + i] !== b[i]) return false;
  return true;
}

/**
 * Validates `buf` as one JSON text and locates the items arrays and total numbers.
 * Throws BodyInvalidError on any malformation, when an occurrence of the items
 * path is not an array, or when `items` is given and the path is absent.
 */
export function scanJson(buf: Buffer, opts: ScanOptions = {}): ScanResult {
  if (!isUtf8(buf)) throw new BodyInvalidError('invalid UTF-8');
  W0 = (4 - (buf.byteOffset & 3)) & 3;
  WN = buf.length > W0 ? (buf.length - W0) >> 2 : 0;
  W = WN > 0 ? new Int32Array(buf.buffer, buf.byteOffset + W0, WN) : NO_WORDS;
  try {
    return scan(buf, opts);
  } catch (e) {
    if (opts.fields) PEND.fill(-1); // a failed scan may leave entries set (a complete one clears each)
    throw e;
  } finally {
    W = NO_WORDS; // do not keep the body alive
    WN = 0;
  }
}

function scan(buf: Buffer, opts: ScanOptions): ScanResult {
  const len = buf.length;
  const iPath = compilePath(opts.items);
  const tPath = compilePath(opts.total);
  // -2 disables a path: no depth D satisfies D === n or D === n + 1.
  const n = iPath === null ? -2 : iPath.length;
  const m = tPath === null ? -2 : tPath.length;

  const stack = STACK;
  let D = 0; // open containers
  // On-path containers form a prefix of the stack: iOn/tOn = its length.
  // The container at index j is on the path when the keys leading to it equal path[0..j).
  let iOn = 0;
  let tOn = 0;
  let iKey = false; // the key just read leads further along the items path
  let tKey = false;
  let expectKey = false;
  let elemStart = 0;
  let cur: ArrayHit | null = null;
  const arrays: ArrayHit[] = [];
  const totals: ByteRange[] = [];
  let root: JsonKind = 'null';

  // Fused field read. Records are the values at depth E; the on-plan objects
  // form a stack prefix of length fOn above index E, nodes[j] = plan node of
  // the object at index j. pend[d] = node id of the field value open at depth d.
  const plan = opts.fields ?? null;
  const E = plan === null ? -1 : iPath === null ? 0 : n + 1;
  const S = plan === null ? 0 : 2 * plan.size; // slots per record
  const slots: number[] = []; // a plain array: cheaper to create than a typed one for one short line
  let base = 0; // offset of the current record's slots
  const nodes = NODES;
  const pend = PEND;
  let fOn = 0;
  let fKey: PlanNode | null = null;

  let pos = skipWs(buf, 0, len);
  value: for (;;) {
    if (expectKey) {
      // every way back to `value` sets expectKey again, so it needs no reset here
      if (pos >= len || buf[pos] !== 0x22) fail('expected key', pos);
      const q0 = pos;
      pos = scanString(buf, pos, len);
      // The object at index D-1 is on a path iff xOn === D; its keys are compared to path[D-1].
      iKey = iOn === D && keyEquals(buf, q0, pos, lastHadEscape, iPath![D - 1]);
      tKey = tOn === D && keyEquals(buf, q0, pos, lastHadEscape, tPath![D - 1]);
      fKey = plan !== null && fOn === D && D > E ? keyNode(buf, q0, pos, lastHadEscape, nodes[D - 1]) : null;
      pos = skipWs(buf, pos, len);
      if (pos >= len || buf[pos] !== 0x3a) fail('expected colon', pos);
      pos = skipWs(buf, pos + 1, len);
    }

    if (pos >= len) fail('unexpected end', pos);
    const c = buf[pos];
    const start = pos;
    const iVal = D === 0 ? n >= 0 : iKey && iOn === D && stack[D - 1] === OBJ;
    const tVal = D === 0 ? m >= 0 : tKey && tOn === D && stack[D - 1] === OBJ;
    if (D === n + 1 && iOn === D) elemStart = pos; // parent is an items array
    if (iVal && D === n && c !== 0x5b) fail('items path is not an array', pos);
    if (plan !== null) {
      if (D === E && iOn === D) {
        // a record starts: nothing recorded yet
        base = slots.length;
        for (let i = 0; i < S; i++) slots.push(-1);
        if (c === 0x7b && !plan.root.whole) {
          nodes[D] = plan.root;
          fOn = D + 1;
        }
      } else if (fKey !== null) {
        // a later duplicate replaces the whole earlier value: forget what was under it
        const k = fKey;
        fKey = null;
        for (let i = base + 2 * k.id, e = base + 2 * k.last + 2; i < e; i++) slots[i] = -1;
        slots[base + 2 * k.id] = pos;
        pend[D] = k.id;
        if (c === 0x7b && !k.whole) {
          nodes[D] = k;
          fOn = D + 1;
        }
      }
    }

    if (c === 0x7b || c === 0x5b) {
      if (D === MAX_DEPTH) fail('nesting too deep', pos);
      if (D === 0) root = c === 0x7b ? 'object' : 'array';
      if (c === 0x5b) {
        if (iVal && D === n) {
          cur = { start, end: -1, elements: [] };
          arrays.push(cur);
          iOn = D + 1;
        }
        stack[D++] = ARR;
      } else {
        if (iVal && D < n) iOn = D + 1;
        if (tVal && D < m) tOn = D + 1;
        stack[D++] = OBJ;
      }
      pos = skipWs(buf, pos + 1, len);
      const close = c + 2; // '{'+2 = '}', '['+2 = ']'
      if (pos < len && buf[pos] === close) {
        pos++;
        if (D === n + 1 && iOn === D && c === 0x5b) cur!.end = pos;
        D--;
        if (iOn > D) iOn = D;
        if (tOn > D) tOn = D;
        if (fOn > D) fOn = D;
      } else {
        expectKey = c === 0x7b;
        continue value;
      }
    } else if (c === 0x22) {
      pos = scanString(buf, pos, len);
      if (D === 0) root = 'string';
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      pos = scanNumber(buf, pos, len);
      if (tVal && D === m) totals.push({ start, end: pos });
      if (D === 0) root = 'number';
    } else if (c === 0x74) {
      pos = scanLiteral(buf, pos, len, TRUE);
      if (D === 0) root = 'boolean';
    } else if (c === 0x66) {
      pos = scanLiteral(buf, pos, len, FALSE);
      if (D === 0) root = 'boolean';
    } else if (c === 0x6e) {
      pos = scanLiteral(buf, pos, len, NULL);
      if (D === 0) root = 'null';
    } else {
      fail('unexpected byte', pos);
    }

    // A value just ended at pos; close as many containers as the input says.
    for (;;) {
      if (plan !== null) {
        const id = pend[D];
        if (id >= 0) {
          slots[base + 2 * id + 1] = pos;
          pend[D] = -1;
        }
      }
      if (D === n + 1 && iOn === D) {
        cur!.elements.push(plan === null ? { start: elemStart, end: pos } : { start: elemStart, end: pos, slot: base });
      }
      if (D === 0) {
        pos = skipWs(buf, pos, len);
        if (pos !== len) fail('trailing data', pos);
        break value;
      }
      pos = skipWs(buf, pos, len);
      if (pos >= len) fail('unexpected end', pos);
      const s = buf[pos];
      const ctx = stack[D - 1];
      if (s === 0x2c) {
        pos = skipWs(buf, pos + 1, len);
        expectKey = ctx === OBJ;
        continue value;
      }
      if ((s === 0x5d && ctx === ARR) || (s === 0x7d && ctx === OBJ)) {
        pos++;
        if (D === n + 1 && iOn === D && ctx === ARR) cur!.end = pos;
        D--;
        if (iOn > D) iOn = D;
        if (tOn > D) tOn = D;
        if (fOn > D) fOn = D;
        continue;
      }
      fail('expected comma or closing bracket', pos);
    }
  }

  if (iPath !== null && arrays.length === 0) throw new BodyInvalidError('items path not found');
  return plan === null ? { root, arrays, totals } : { root, arrays, totals, slots };
}
