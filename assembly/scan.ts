/**
 * The scanning engine (AssemblyScript → WebAssembly SIMD), see src/engine/wasmScan.ts.
 *
 * Stage 1 (simdjson-style structural indexing) runs over 64-byte blocks: each
 * byte classified by two i8x16.swizzle table lookups (low and high nibble,
 * ANDed; simd.ts nibbleClass), then one i8x16.bitmask per class — quotes,
 * backslashes, operators, the bytes that end a scalar — and control bytes by a
 * saturating add; escaped characters from the backslash runs; the in-string
 * mask as the prefix XOR of the unescaped quotes; control bytes inside strings
 * and invalid escapes rejected per block. It writes the positions of every
 * operator, every unescaped quote (opening and closing) and every scalar start
 * into a bounded index window (WINDOW input bytes at a time), refilled on demand.
 *
 * Stage 2 walks the index: the RFC 8259 grammar with an explicit depth stack
 * (MAX_DEPTH), numbers and literals byte by byte, and the same path tracking
 * as src/rewrite/jsonScan.ts (items arrays, total numbers, the fused field
 * plan). Results go to a record table JS reads. UTF-8 is validated by the
 * caller (node:buffer isUtf8, simdutf) before the bytes are copied in.
 *
 * Memory layout (JS owns it; all offsets fixed except the output regions):
 *   CFG     config written by JS (paths, plan trie)
 *   STK     container kinds, plan nodes, pending slot ids
 *   STATUS  scan's counts, root kind and error, for JS
 *   IDX     index window
 *   FRAME   the JSON-array export framer's window (frame.ts)
 *   INPUT   the document, padded with spaces to a 64-byte block + 64
 *   out     record table at outBase (4 i32 per record) up to outEnd
 *   slots   at slotBase up to slotEnd (i32, -1 = absent)
 *
 * Status: 0 ok, 1 invalid (errCode/errPos), 3 output full (the caller grows
 * the output regions and scans again).
 */

import { eqMask, mask64, nibbleClass, noneMask, prefixXor, shl1 } from './simd';

export { frame, frameClassify, frameDepth, frameInStr, frameEsc, frameStop, FRAME, FRAME_BYTES } from './frame';

export const CFG: u32 = 65536;
const STK_KIND: u32 = 131072; // u8[MAX_DEPTH]
const STK_NODE: u32 = 132096; // i32[MAX_DEPTH]
const STK_PEND: u32 = 135168; // i32[MAX_DEPTH + 1]
/** scan's results for JS: outCount, slotCount, root, errCode, errPos (i32 each), after STK_PEND */
export const STATUS: u32 = 138240;
export const IDX: u32 = 139264;
const WINDOW: u32 = 32768;
// FRAME (278528) holds the JSON-array framer's window: FRAME_BYTES + 64, see frame.ts
export const INPUT: u32 = 344192; // FRAME + FRAME_BYTES + 128 (64-byte aligned)

const MAX_DEPTH: i32 = 512;
const ARR: u8 = 1;
const OBJ: u8 = 2;

// record tags in the output table
const T_ELEM: i32 = 1; // start, end, slot
const T_OPEN: i32 = 2; // start
const T_CLOSE: i32 = 3; // end
const T_TOTAL: i32 = 4; // start, end

// error codes (messages in wasmScan.ts)
const E_UNTERMINATED: i32 = 1;
const E_CONTROL: i32 = 2;
const E_ESCAPE: i32 = 3;
const E_KEY: i32 = 4;
const E_COLON: i32 = 5;
const E_END: i32 = 6;
const E_NOT_ARRAY: i32 = 7;
const E_DEPTH: i32 = 8;
const E_NUMBER: i32 = 9;
const E_LITERAL: i32 = 10;
const E_BYTE: i32 = 11;
const E_TRAILING: i32 = 12;
const E_COMMA: i32 = 13;

export let errCode: i32 = 0;
export let errPos: i32 = 0;
export let root: i32 = 0; // 1 object 2 array 3 string 4 number 5 boolean 6 null
export let outCount: i32 = 0; // records written
export let slotCount: i32 = 0; // slots written

// ---- stage 1 state ----
let len: u32 = 0;
let blockPos: u32 = 0; // next block to index
let idxN: u32 = 0; // entries in the window
let idxP: u32 = IDX; // address of the next entry to hand out
let idxEnd: u32 = IDX; // address past the window's last entry
let prevInString: u64 = 0; // all ones when the previous block ended inside a string
let prevEscaped: u64 = 0; // 1 when the first byte of the next block is escaped
let prevScalar: u64 = 0; // 1 when the previous block ended in a scalar byte
let failed: bool = false;

@inline function fail(code: i32, pos: u32): void {
  if (!failed) {
    failed = true;
    errCode = code;
    errPos = <i32>pos;
  }
}


// stage 1 byte classes (nibbleClass in simd.ts): bit 0 ',' · bit 1 ':' · bit 2 '[' ']' '{' '}'
// (the operators, bits 0–2) · bit 3 ' ' · bit 4 TAB LF CR (whitespace, bits 3–4) · bit 6
// backslash · bit 7 quote (then mask64 reads it as is)
const OPS: i8 = 0x07;
const SEPS: i8 = <i8>0x9f; // operators, whitespace, quote: what ends a scalar
/** by low nibble: 0 ' ', 2 '"', 9 TAB, a ':' LF, b '[' '{', c ',' '\\', d ']' '}' CR */
@inline function loTable(): v128 {
  return i8x16(0x08, 0, <i8>0x80, 0, 0, 0, 0, 0, 0, 0x10, 0x12, 0x04, 0x41, 0x14, 0, 0);
}
/** by high nibble: 0 TAB LF CR, 2 ' ' '"' ',', 3 ':', 5 '[' ']' '\\', 7 '{' '}' */
@inline function hiTable(): v128 {
  return i8x16(0x10, 0, <i8>0x89, 0x02, 0, 0x44, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0);
}

/**
 * The block's class masks at STATUS + 32 (u64 each: quoteRaw, backslash,
 * control, operator, scalar-ending), for the tests: the classification
 * block() uses, compared there with a byte-by-byte definition.
 */
export function classify(p: u32): void {
  const v0 = v128.load(p);
  const v1 = v128.load(p, 16);
  const v2 = v128.load(p, 32);
  const v3 = v128.load(p, 48);
  const lt = loTable();
  const ht = hiTable();
  const c0 = nibbleClass(v0, lt, ht);
  const c1 = nibbleClass(v1, lt, ht);
  const c2 = nibbleClass(v2, lt, ht);
  const c3 = nibbleClass(v3, lt, ht);
  store<u64>(STATUS, mask64(c0, c1, c2, c3), 32);
  store<u64>(STATUS, mask64(shl1(c0), shl1(c1), shl1(c2), shl1(c3)), 40);
  store<u64>(STATUS, ctrlMask(v0, v1, v2, v3), 48);
  store<u64>(STATUS, ~noneMask(c0, c1, c2, c3, OPS), 56);
  store<u64>(STATUS, ~noneMask(c0, c1, c2, c3, SEPS), 64);
}

/** Bytes below 0x20: the only ones a saturating + 0x60 leaves below 0x80. */
@inline function ctrlMask(v0: v128, v1: v128, v2: v128, v3: v128): u64 {
  const k = i8x16.splat(0x60);
  return ~mask64(i8x16.add_sat_u(v0, k), i8x16.add_sat_u(v1, k), i8x16.add_sat_u(v2, k), i8x16.add_sat_u(v3, k));
}

@inline function isHex(c: u32): bool {
  return (c - 0x30 < 10) || ((c | 0x20) - 0x61 < 6);
}

/** Indexes one 64-byte block at INPUT + b; false on a stage 1 error. */
function block(b: u32): bool {
  const p = INPUT + b;
  const v0 = v128.load(p);
  const v1 = v128.load(p, 16);
  const v2 = v128.load(p, 32);
  const v3 = v128.load(p, 48);

  const lt = loTable();
  const ht = hiTable();
  const c0 = nibbleClass(v0, lt, ht);
  const c1 = nibbleClass(v1, lt, ht);
  const c2 = nibbleClass(v2, lt, ht);
  const c3 = nibbleClass(v3, lt, ht);
  const quoteRaw = mask64(c0, c1, c2, c3);
  const bs = mask64(shl1(c0), shl1(c1), shl1(c2), shl1(c3));

  // escaped characters: the byte after each backslash that is not itself escaped
  let escaped: u64 = 0;
  if ((bs | prevEscaped) != 0) {
    let m = bs;
    if (prevEscaped != 0) {
      escaped = 1;
      m &= ~(<u64>1);
    }
    prevEscaped = 0;
    while (m != 0) {
      const i = ctz<u64>(m);
      if (i == 63) {
        prevEscaped = 1;
        m = 0;
      } else {
        escaped |= (<u64>1) << (i + 1);
        m &= ~((<u64>3) << i); // this backslash, and the escaped byte (maybe a backslash)
      }
    }
  }
  const quote = quoteRaw & ~escaped;

  // in-string mask: prefix XOR of the quotes (opening quote in, closing quote out)
  const inString = prefixXor(quote) ^ prevInString;
  prevInString = <u64>(<i64>inString >> 63);

  const bad = ctrlMask(v0, v1, v2, v3) & inString;
  if (bad != 0) {
    fail(E_CONTROL, b + <u32>ctz<u64>(bad));
    return false;
  }
  const esc = escaped & inString;
  if (esc != 0) {
    // valid escapes: " \ / b f n r t u; \u needs four hex digits
    const ok = quoteRaw | bs
      | eqMask(v0, v1, v2, v3, 0x2f) | eqMask(v0, v1, v2, v3, 0x62) | eqMask(v0, v1, v2, v3, 0x66)
      | eqMask(v0, v1, v2, v3, 0x6e) | eqMask(v0, v1, v2, v3, 0x72) | eqMask(v0, v1, v2, v3, 0x74);
    const u = esc & eqMask(v0, v1, v2, v3, 0x75);
    const wrong = esc & ~ok & ~u;
    if (wrong != 0) {
      fail(E_ESCAPE, b + <u32>ctz<u64>(wrong) - 1);
      return false;
    }
    let m = u;
    while (m != 0) {
      const i = <u32>ctz<u64>(m);
      m &= m - 1;
      const q = p + i;
      // the digits must lie inside the input (the padding is spaces, never hex, but be explicit)
      if (b + i + 4 >= len) {
        fail(E_UNTERMINATED, b + i - 1);
        return false;
      }
      if (!(isHex(load<u8>(q + 1)) && isHex(load<u8>(q + 2)) && isHex(load<u8>(q + 3)) && isHex(load<u8>(q + 4)))) {
        fail(E_ESCAPE, b + i - 1);
        return false;
      }
    }
  }

  // operators { } [ ] : , and the bytes that end a scalar (operators, whitespace and
  // unescaped quotes: an escaped one continues it), one bitmask per vector each
  const op = ~noneMask(c0, c1, c2, c3, OPS);
  const notSep = noneMask(c0, c1, c2, c3, SEPS) | (quoteRaw & escaped);

  const scalar = notSep & ~inString;
  const scalarStart = scalar & ~((scalar << 1) | prevScalar);
  prevScalar = scalar >> 63;

  let s = (op & ~inString) | quote | scalarStart;
  // four entries per iteration (fewer mispredicted loop exits on dense blocks); the
  // up to three written past the last real one are garbage inside the window's slack
  // (IDX holds WINDOW + 64 entries, a window at most WINDOW), never counted
  let w = IDX + (idxN << 2);
  idxN += <u32>popcnt<u64>(s);
  while (s != 0) {
    store<u32>(w, b + <u32>ctz<u64>(s));
    s &= s - 1;
    store<u32>(w, b + <u32>ctz<u64>(s), 4);
    s &= s - 1;
    store<u32>(w, b + <u32>ctz<u64>(s), 8);
    s &= s - 1;
    store<u32>(w, b + <u32>ctz<u64>(s), 12);
    s &= s - 1;
    w += 16;
  }
  return true;
}

/** The next structural position, or len at the end (and on a stage 1 error). */
@inline function next(): u32 {
  const p = idxP;
  if (p < idxEnd) {
    idxP = p + 4;
    return load<u32>(p);
  }
  return refill();
}

/** Indexes the next window and hands out its first entry. */
function refill(): u32 {
  for (;;) {
    if (failed || blockPos >= len) return len;
    idxN = 0;
    const stop = min<u32>(blockPos + WINDOW, len);
    while (blockPos < stop) {
      if (!block(blockPos)) return len;
      blockPos += 64;
    }
    if (blockPos >= len && prevInString != 0) {
      fail(E_UNTERMINATED, len);
      return len;
    }
    if (idxN > 0) {
      idxEnd = IDX + (idxN << 2);
      idxP = IDX + 4;
      return load<u32>(IDX);
    }
  }
  return len; // not reached
}

@inline function byteAt(p: u32): u32 {
  return <u32>load<u8>(INPUT + p);
}

@inline function isDigit(c: u32): bool {
  return c - 0x30 < 10;
}

/** A scalar must end where whitespace, an operator, a quote or the input ends. */
@inline function delimited(p: u32): bool {
  if (p >= len) return true;
  const c = byteAt(p);
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 || c == 0x2c || c == 0x3a
    || c == 0x5d || c == 0x7d || c == 0x5b || c == 0x7b || c == 0x22;
}

/** p at '-' or a digit; the offset past the number, or 0xffffffff when malformed. */
function scanNumber(p: u32): u32 {
  if (byteAt(p) == 0x2d) p++;
  if (p >= len) return -1;
  const c = byteAt(p);
  if (c == 0x30) p++;
  else if (c - 0x31 < 9) {
    p++;
    while (p < len && isDigit(byteAt(p))) p++;
  } else return -1;
  if (p < len && byteAt(p) == 0x2e) {
    p++;
    if (p >= len || !isDigit(byteAt(p))) return -1;
    while (p < len && isDigit(byteAt(p))) p++;
  }
  if (p < len && (byteAt(p) | 0x20) == 0x65) {
    p++;
    if (p < len && (byteAt(p) == 0x2b || byteAt(p) == 0x2d)) p++;
    if (p >= len || !isDigit(byteAt(p))) return -1;
    while (p < len && isDigit(byteAt(p))) p++;
  }
  return p;
}

/** true / false / null at p (first byte already known); the offset past it, or -1. */
function scanLiteral(p: u32, c: u32): u32 {
  if (c == 0x74) {
    if (p + 4 > len || load<u32>(INPUT + p) != 0x65757274) return -1;
    return p + 4;
  }
  if (c == 0x66) {
    if (p + 5 > len || load<u32>(INPUT + p + 1) != 0x65736c61) return -1;
    return p + 5;
  }
  if (p + 4 > len || load<u32>(INPUT + p) != 0x6c6c756e) return -1;
  return p + 4;
}

// ---- config (written by JS at CFG, i32 words) ----
// [0] n: items path length (-2 = none)   [1] m: total path length (-2 = none)
// [2] plan node count (0 = no plan)      [3] word offset of the items segments
// [4] word offset of the total segments  [5] word offset of the plan nodes
// segment: byteOffset (from CFG), byteLength
// plan node (5 words): whole, keyCount, firstKey (word offset), last, lengths (bit k: a key of k
//   bytes, k < 31; bit 31: one of 31 bytes or more)
// plan key (3 words): byteOffset, byteLength, child node id

@inline function cfg(i: u32): i32 {
  return load<i32>(CFG + (i << 2));
}

/**
 * 1 = equal, 0 = not. A key holding an escaped lone surrogate never equals a
 * segment: the caller only configures well-formed segments (else it falls back).
 */
function keyEq(q0: u32, q1: u32, segOff: u32, segLen: u32, esc: bool): i32 {
  if (esc) return keyEqEscaped(q0 + 1, q1 - 1, CFG + segOff, segLen);
  const n = q1 - q0 - 2;
  if (n != segLen) return 0;
  const a = INPUT + q0 + 1;
  const b = CFG + segOff;
  for (let i: u32 = 0; i < n; i++) if (load<u8>(a + i) != load<u8>(b + i)) return 0;
  return 1;
}

/**
 * Whether the key [q0, q1) holds a backslash (then it is decoded before
 * comparing): 16 bytes at a time. A load may read up to 15 bytes past the
 * key's closing quote: the input is padded by at least 64 bytes, and only the
 * lanes before the closing quote count.
 */
function hasEscape(q0: u32, q1: u32): bool {
  const bs = i8x16.splat(0x5c);
  let p = INPUT + q0 + 1;
  const e = INPUT + q1 - 1;
  while (p < e) {
    let m = <u32>i8x16.bitmask(i8x16.eq(v128.load(p), bs));
    const rest = e - p;
    if (rest < 16) m &= (<u32>1 << rest) - 1;
    if (m != 0) return true;
    p += 16;
  }
  return false;
}

@inline function hexVal(c: u32): u32 {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

@inline function hex4At(p: u32): u32 {
  return (hexVal(byteAt(p)) << 12) | (hexVal(byteAt(p + 1)) << 8) | (hexVal(byteAt(p + 2)) << 4) | hexVal(byteAt(p + 3));
}

/**
 * The key [p, e) (contents, validated by stage 1) decoded as JSON.parse does,
 * compared byte by byte with the UTF-8 segment at seg. Escapes become their
 * UTF-8 bytes; \uD8xx\uDCxx pairs one astral code point.
 */
function keyEqEscaped(p: u32, e: u32, seg: u32, segLen: u32): i32 {
  let j: u32 = 0;
  while (p < e) {
    const c = byteAt(p);
    if (c != 0x5c) {
      if (j >= segLen || load<u8>(seg + j) != <u8>c) return 0;
      j++;
      p++;
      continue;
    }
    const x = byteAt(p + 1);
    let cp: u32 = 0;
    if (x == 0x75) {
      cp = hex4At(p + 2);
      p += 6;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (p + 6 <= e && byteAt(p) == 0x5c && byteAt(p + 1) == 0x75) {
          const lo = hex4At(p + 2);
          if (lo < 0xdc00 || lo > 0xdfff) return 0;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          p += 6;
        } else return 0;
      } else if (cp >= 0xdc00 && cp <= 0xdfff) return 0;
    } else {
      p += 2;
      cp = x == 0x62 ? 8 : x == 0x66 ? 0x0c : x == 0x6e ? 0x0a : x == 0x72 ? 0x0d : x == 0x74 ? 0x09 : x;
    }
    // UTF-8 bytes of cp, compared in order
    const k: u32 = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (j + k > segLen) return 0;
    if (k == 1) {
      if (load<u8>(seg + j) != <u8>cp) return 0;
    } else {
      const lead: u32 = k == 2 ? 0xc0 : k == 3 ? 0xe0 : 0xf0;
      if (<u32>load<u8>(seg + j) != (lead | (cp >> (6 * (k - 1))))) return 0;
      for (let i: u32 = 1; i < k; i++) {
        if (<u32>load<u8>(seg + j + i) != (0x80 | ((cp >> (6 * (k - 1 - i))) & 0x3f))) return 0;
      }
    }
    j += k;
  }
  return j == segLen ? 1 : 0;
}

/** Child node id of `node` whose key equals [q0,q1), or -1. */
function keyNode(q0: u32, q1: u32, node: i32, esc: bool): i32 {
  const nb = <u32>cfg(5) + <u32>node * 5;
  const count = <u32>cfg(nb + 1);
  const first = <u32>cfg(nb + 2);
  const rawLen = q1 - q0 - 2;
  // an unescaped key of a length no key of the node has: no compare at all
  if (!esc && ((<u32>cfg(nb + 4) >>> min<u32>(rawLen, 31)) & 1) == 0) return -1;
  for (let j: u32 = 0; j < count; j++) {
    const k = first + j * 3;
    // an unescaped key of another length cannot be equal: skip the call
    if (!esc && <u32>cfg(k + 1) != rawLen) continue;
    if (keyEq(q0, q1, <u32>cfg(k), <u32>cfg(k + 1), esc) == 1) return cfg(k + 2);
  }
  return -1;
}

let outP: u32 = 0;
let outEnd: u32 = 0;
let slotBase: u32 = 0;
let slotEnd: u32 = 0;
let full: bool = false;

@inline function rec(tag: i32, a: i32, b: i32, c: i32): void {
  if (outP + 16 > outEnd) {
    full = true;
    return;
  }
  store<i32>(outP, tag);
  store<i32>(outP, a, 4);
  store<i32>(outP, b, 8);
  store<i32>(outP, c, 12);
  outP += 16;
  outCount++;
}

@inline function setSlot(i: i32, v: i32): void {
  store<i32>(slotBase + (<u32>i << 2), v);
}

/**
 * Scans INPUT[0, length) (padded by the caller). Output records from outBase_
 * (capacity to outEnd_), slots from slotBase_ (capacity to slotEnd_).
 */
export function scan(length: u32, outBase_: u32, outEnd_: u32, slotBase_: u32, slotEnd_: u32): i32 {
  len = length;
  blockPos = 0;
  idxN = 0;
  idxP = IDX;
  idxEnd = IDX;
  prevInString = 0;
  prevEscaped = 0;
  prevScalar = 0;
  failed = false;
  errCode = 0;
  errPos = 0;
  root = 6;
  outP = outBase_;
  outEnd = outEnd_;
  outCount = 0;
  slotBase = slotBase_;
  slotEnd = slotEnd_;
  slotCount = 0;
  full = false;
  const r = stage2();
  // the results JS reads, in one place (a memory read is cheaper there than five Global reads)
  store<i32>(STATUS, outCount);
  store<i32>(STATUS, slotCount, 4);
  store<i32>(STATUS, root, 8);
  store<i32>(STATUS, errCode, 12);
  store<i32>(STATUS, errPos, 16);
  if (full) return 3;
  if (failed) return 1;
  return r;
}

function stage2(): i32 {
  const n = cfg(0);
  const m = cfg(1);
  const planSize = cfg(2);
  const hasPlan = planSize > 0;
  const segI = <u32>cfg(3);
  const segT = <u32>cfg(4);
  const E: i32 = !hasPlan ? -1 : n == -2 ? 0 : n + 1;
  const S: i32 = hasPlan ? 2 * planSize : 0;

  let D: i32 = 0;
  let iOn: i32 = 0;
  let tOn: i32 = 0;
  let iKey = false;
  let tKey = false;
  let expectKey = false;
  let elemStart: u32 = 0;
  let base: i32 = 0;
  let fOn: i32 = 0;
  let fKey: i32 = -1;

  let pos = next();
  for (;;) {
    // ---- value loop ----
    if (expectKey) {
      expectKey = false;
      if (pos >= len || byteAt(pos) != 0x22) { fail(E_KEY, pos); return 1; }
      const q0 = pos;
      const qc = next();
      if (qc >= len) { fail(E_UNTERMINATED, len); return 1; }
      const q1 = qc + 1;
      iKey = false;
      tKey = false;
      fKey = -1;
      const fCmp = hasPlan && fOn == D && D > E;
      if (iOn == D || tOn == D || fCmp) {
        const esc = hasEscape(q0, q1);
        if (iOn == D) {
          const s = segI + <u32>(D - 1) * 2;
          iKey = keyEq(q0, q1, <u32>cfg(s), <u32>cfg(s + 1), esc) == 1;
        }
        if (tOn == D) {
          const s = segT + <u32>(D - 1) * 2;
          tKey = keyEq(q0, q1, <u32>cfg(s), <u32>cfg(s + 1), esc) == 1;
        }
        if (fCmp) fKey = keyNode(q0, q1, load<i32>(STK_NODE + (<u32>(D - 1) << 2)), esc);
      }
      const colon = next();
      if (colon >= len || byteAt(colon) != 0x3a) { fail(E_COLON, colon); return 1; }
      pos = next();
    }

    if (pos >= len) { fail(E_END, pos); return 1; }
    const c = byteAt(pos);
    const start = pos;
    const parentObj = D > 0 && load<u8>(STK_KIND + <u32>(D - 1)) == OBJ;
    const iVal = D == 0 ? n >= 0 : iKey && iOn == D && parentObj;
    const tVal = D == 0 ? m >= 0 : tKey && tOn == D && parentObj;
    if (D == n + 1 && iOn == D) elemStart = pos;
    if (iVal && D == n && c != 0x5b) { fail(E_NOT_ARRAY, pos); return 1; }
    if (hasPlan) {
      if (D == E && iOn == D) {
        base = slotCount;
        if (slotBase + (<u32>(slotCount + S) << 2) > slotEnd) { full = true; return 3; }
        memory.fill(slotBase + (<u32>slotCount << 2), 0xff, <u32>S << 2);
        slotCount += S;
        if (c == 0x7b) {
          const nb = <u32>cfg(5);
          if (cfg(nb) == 0) {
            store<i32>(STK_NODE + (<u32>D << 2), 0);
            fOn = D + 1;
          }
        }
      } else if (fKey >= 0) {
        const k = fKey;
        fKey = -1;
        const nb = <u32>cfg(5) + <u32>k * 5;
        const last = cfg(nb + 3);
        for (let i = base + 2 * k, e = base + 2 * last + 2; i < e; i++) setSlot(i, -1);
        setSlot(base + 2 * k, <i32>pos);
        store<i32>(STK_PEND + (<u32>D << 2), k);
        if (c == 0x7b && cfg(nb) == 0) {
          store<i32>(STK_NODE + (<u32>D << 2), k);
          fOn = D + 1;
        }
      }
    }

    let done = false; // the value ends at pos
    if (c == 0x7b || c == 0x5b) {
      if (D == MAX_DEPTH) { fail(E_DEPTH, pos); return 1; }
      if (D == 0) root = c == 0x7b ? 1 : 2;
      if (c == 0x5b) {
        if (iVal && D == n) {
          rec(T_OPEN, <i32>start, 0, 0);
          iOn = D + 1;
        }
        store<u8>(STK_KIND + <u32>D, ARR);
        D++;
      } else {
        if (iVal && D < n) iOn = D + 1;
        if (tVal && D < m) tOn = D + 1;
        store<u8>(STK_KIND + <u32>D, OBJ);
        D++;
      }
      const nx = next();
      if (nx < len && byteAt(nx) == c + 2) {
        pos = nx + 1;
        if (D == n + 1 && iOn == D && c == 0x5b) rec(T_CLOSE, <i32>pos, 0, 0);
        D--;
        if (iOn > D) iOn = D;
        if (tOn > D) tOn = D;
        if (fOn > D) fOn = D;
        done = true;
      } else if (iOn < D && tOn < D && fOn < D) {
        // no path reaches into this container: validate it without the bookkeeping
        pos = skipInside(D, nx, c == 0x7b);
        if (failed) return 1;
        D--;
        done = true;
      } else {
        expectKey = c == 0x7b;
        pos = nx;
      }
    } else if (c == 0x22) {
      const qc = next();
      if (qc >= len) { fail(E_UNTERMINATED, len); return 1; }
      pos = qc + 1;
      if (D == 0) root = 3;
      done = true;
    } else if (c == 0x2d || isDigit(c)) {
      const e = scanNumber(pos);
      if (e == <u32>-1 || !delimited(e)) { fail(E_NUMBER, pos); return 1; }
      pos = e;
      if (tVal && D == m) rec(T_TOTAL, <i32>start, <i32>pos, 0);
      if (D == 0) root = 4;
      done = true;
    } else if (c == 0x74 || c == 0x66 || c == 0x6e) {
      const e = scanLiteral(pos, c);
      if (e == <u32>-1 || !delimited(e)) { fail(E_LITERAL, pos); return 1; }
      pos = e;
      if (D == 0) root = c == 0x6e ? 6 : 5;
      done = true;
    } else {
      fail(E_BYTE, pos);
      return 1;
    }
    if (failed) return 1;
    if (!done) continue;

    // ---- a value ended at pos: close as many containers as the input says ----
    for (;;) {
      if (hasPlan) {
        const pa = STK_PEND + (<u32>D << 2);
        const id = load<i32>(pa);
        if (id >= 0) {
          setSlot(base + 2 * id + 1, <i32>pos);
          store<i32>(pa, -1);
        }
      }
      if (D == n + 1 && iOn == D) rec(T_ELEM, <i32>elemStart, <i32>pos, base);
      if (D == 0) {
        const t = next();
        if (t != len) { fail(E_TRAILING, t); return 1; }
        return failed ? 1 : 0;
      }
      const sp = next();
      if (sp >= len) { fail(E_END, sp); return 1; }
      const s = byteAt(sp);
      const ctx = load<u8>(STK_KIND + <u32>(D - 1));
      if (s == 0x2c) {
        pos = next();
        expectKey = ctx == OBJ;
        break;
      }
      if ((s == 0x5d && ctx == ARR) || (s == 0x7d && ctx == OBJ)) {
        pos = sp + 1;
        if (D == n + 1 && iOn == D && ctx == ARR) rec(T_CLOSE, <i32>pos, 0, 0);
        D--;
        if (iOn > D) iOn = D;
        if (tOn > D) tOn = D;
        if (fOn > D) fOn = D;
        continue;
      }
      fail(E_COMMA, sp);
      return 1;
    }
  }
  return 1; // not reached: every path through the loop returns or continues
}

/**
 * The rest of a container no path reaches into (nothing inside it is
 * recorded): the grammar of stage2's value loop with the same errors at the
 * same positions, without any of its path bookkeeping — most of a record's
 * bytes (audit payloads, entity data) are validated here. Entered with the
 * container already on the stack at depth d0 (D inside it) and `first`, its
 * first structural position (not its closing bracket: stage2 handles the
 * empty container); returns the position after its closing bracket, or len
 * with `failed` set.
 */
function skipInside(d0: i32, first: u32, key: bool): u32 {
  let D = d0;
  let pos = first;
  let expectKey = key;
  // the kind of the innermost open container (STK_KIND[D - 1]), kept in a local
  let ctx: u8 = key ? OBJ : ARR;
  for (;;) {
    if (expectKey) {
      if (pos >= len || byteAt(pos) != 0x22) { fail(E_KEY, pos); return len; }
      const qc = next();
      if (qc >= len) { fail(E_UNTERMINATED, len); return len; }
      const colon = next();
      if (colon >= len || byteAt(colon) != 0x3a) { fail(E_COLON, colon); return len; }
      pos = next();
    }
    if (pos >= len) { fail(E_END, pos); return len; }
    const c = byteAt(pos);
    if (c == 0x22) {
      const qc = next();
      if (qc >= len) { fail(E_UNTERMINATED, len); return len; }
      pos = qc + 1;
    } else if (c == 0x7b || c == 0x5b) {
      if (D == MAX_DEPTH) { fail(E_DEPTH, pos); return len; }
      const k: u8 = c == 0x7b ? OBJ : ARR;
      const nx = next();
      if (nx < len && byteAt(nx) == c + 2) {
        pos = nx + 1;
      } else {
        store<u8>(STK_KIND + <u32>D, k);
        D++;
        ctx = k;
        expectKey = c == 0x7b;
        pos = nx;
        continue;
      }
    } else if (c == 0x2d || isDigit(c)) {
      const e = scanNumber(pos);
      if (e == <u32>-1 || !delimited(e)) { fail(E_NUMBER, pos); return len; }
      pos = e;
    } else if (c == 0x74 || c == 0x66 || c == 0x6e) {
      const e = scanLiteral(pos, c);
      if (e == <u32>-1 || !delimited(e)) { fail(E_LITERAL, pos); return len; }
      pos = e;
    } else {
      fail(E_BYTE, pos);
      return len;
    }
    // a value ended at pos (every stage 1 failure surfaced above as a position >= len):
    // a comma, or close as many containers as the input says
    for (;;) {
      const sp = next();
      if (sp >= len) { fail(E_END, sp); return len; }
      const s = byteAt(sp);
      if (s == 0x2c) {
        pos = next();
        expectKey = ctx == OBJ;
        break;
      }
      if ((s == 0x5d && ctx == ARR) || (s == 0x7d && ctx == OBJ)) {
        pos = sp + 1;
        D--;
        if (D < d0) return pos;
        ctx = load<u8>(STK_KIND + <u32>(D - 1));
        continue;
      }
      fail(E_COMMA, sp);
      return len;
    }
  }
  return len; // not reached
}

/** Clears the pending slot ids (after a failed scan; a complete one leaves them all -1). */
export function reset(): void {
  memory.fill(STK_PEND, 0xff, <u32>(MAX_DEPTH + 1) << 2);
}
