/**
 * Element framing for the JSON-array export (src/rewrite/export/jsonArray.ts,
 * through src/engine/wasmFrame.ts): where does the array element that
 * continues at FRAME[p] end? The same rules as the JavaScript framer it
 * stands in for — strings and nesting only, a backslash escapes the next byte
 * inside a string; the element is validated separately once it is complete —
 * over 64-byte blocks (bytes classified by two nibble table lookups, simd.ts)
 * instead of one byte at a time:
 *
 *   quotes and backslashes → escaped bytes (backslash runs, carried across
 *   blocks) → the in-string mask (prefix XOR of the unescaped quotes) →
 *   brackets outside strings. A block whose closing brackets cannot bring the
 *   depth to zero, and whose opening ones cannot pass the depth limit, is
 *   counted with two popcounts; otherwise its brackets are walked in order.
 *
 * A backslash outside a string (never valid JSON) is where the JavaScript
 * framer and this one would part ways, so the call stops at the start of that
 * block and hands the rest of the element back to JavaScript (-3).
 *
 * JS copies (a window of) the chunk to FRAME; bytes past `end` are ignored.
 */

import { mask64, nibbleClass, prefixXor, shl1 } from './simd';

export const FRAME: u32 = 278528;
/** the window JS may copy to FRAME; the 64 bytes after it are the last block's over-read */
export const FRAME_BYTES: u32 = 65536;

// the framer's state after a call that did not find the end (-1) or handed back (-3)
export let frameDepth: i32 = 0;
export let frameInStr: i32 = 0;
export let frameEsc: i32 = 0;
/** -3: the offset JS resumes at, with the state above */
export let frameStop: i32 = 0;


// framer byte classes (nibbleClass in simd.ts), each read as the top bit after shifting:
// bit 7 quote, bit 6 backslash, bit 5 '[' '{', bit 4 ']' '}'
/** by low nibble: 2 '"', b '[' '{', c '\\', d ']' '}' */
@inline function loTable(): v128 {
  return i8x16(0, 0, <i8>0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x40, 0x10, 0, 0);
}
/** by high nibble: 2 '"', 5 '[' '\\' ']', 7 '{' '}' */
@inline function hiTable(): v128 {
  return i8x16(0, 0, <i8>0x80, 0, 0, 0x70, 0, 0x30, 0, 0, 0, 0, 0, 0, 0, 0);
}

/**
 * The block's class masks at FRAME + FRAME_BYTES + 64 (u64 each: quote,
 * backslash, opening and closing brackets), for the tests: the classification
 * frame() uses, compared there with a byte-by-byte definition.
 */
export function frameClassify(p: u32): void {
  const lt = loTable();
  const ht = hiTable();
  const c0 = nibbleClass(v128.load(p), lt, ht);
  const c1 = nibbleClass(v128.load(p, 16), lt, ht);
  const c2 = nibbleClass(v128.load(p, 32), lt, ht);
  const c3 = nibbleClass(v128.load(p, 48), lt, ht);
  const out = FRAME + FRAME_BYTES + 64;
  const b0 = shl1(c0), b1 = shl1(c1), b2 = shl1(c2), b3 = shl1(c3);
  const o0 = shl1(b0), o1 = shl1(b1), o2 = shl1(b2), o3 = shl1(b3);
  store<u64>(out, mask64(c0, c1, c2, c3));
  store<u64>(out, mask64(b0, b1, b2, b3), 8);
  store<u64>(out, mask64(o0, o1, o2, o3), 16);
  store<u64>(out, mask64(shl1(o0), shl1(o1), shl1(o2), shl1(o3)), 24);
}

/**
 * Frames from FRAME[p] up to FRAME[end) in the state (depth, inStr, esc):
 * depth 0 means a string element (it ends at its closing quote). Returns the
 * offset just past the element, -1 when the window ends first (state in the
 * globals), -2 when an opening bracket takes the depth past `limit`, -3 when
 * JS must go on from frameStop (state in the globals).
 */
export function frame(p: u32, end: u32, depth: i32, inStr: i32, esc: i32, limit: i32): i32 {
  let d = depth;
  let prevIn: u64 = inStr != 0 ? ~(<u64>0) : 0;
  let prevEsc: u64 = esc != 0 ? 1 : 0;
  let q = p;
  const lt = loTable();
  const ht = hiTable();
  while (q < end) {
    const at = FRAME + q;
    const v0 = v128.load(at);
    const v1 = v128.load(at, 16);
    const v2 = v128.load(at, 32);
    const v3 = v128.load(at, 48);
    const n = end - q;
    const valid: u64 = n >= 64 ? ~(<u64>0) : ((<u64>1) << n) - 1;
    const lim: u32 = n >= 64 ? 64 : n;

    const c0 = nibbleClass(v0, lt, ht);
    const c1 = nibbleClass(v1, lt, ht);
    const c2 = nibbleClass(v2, lt, ht);
    const c3 = nibbleClass(v3, lt, ht);
    const b0 = shl1(c0), b1 = shl1(c1), b2 = shl1(c2), b3 = shl1(c3);
    const quoteRaw = mask64(c0, c1, c2, c3) & valid;
    const bs = mask64(b0, b1, b2, b3) & valid;
    let escaped: u64 = 0;
    let carry: u64 = 0;
    if ((bs | prevEsc) != 0) {
      let m = bs;
      if (prevEsc != 0) {
        escaped = 1;
        m &= ~(<u64>1);
      }
      while (m != 0) {
        const i = <u32>ctz<u64>(m);
        if (i + 1 >= lim) {
          carry = 1; // the escaped byte is the next block's (or the next window's) first
          m = 0;
        } else {
          escaped |= (<u64>1) << (i + 1);
          m &= ~((<u64>3) << i);
        }
      }
    }
    const quote = quoteRaw & ~escaped;
    const inString = prefixXor(quote) ^ prevIn;

    // a backslash outside a string: JavaScript reads this element from the block's start
    if ((bs & ~inString) != 0) {
      frameStop = <i32>q;
      frameDepth = d;
      frameInStr = prevIn != 0 ? 1 : 0;
      frameEsc = <i32>prevEsc;
      return -3;
    }

    if (d == 0) {
      // a string element: its first unescaped quote closes it
      if (quote != 0) return <i32>(q + <u32>ctz<u64>(quote) + 1);
    } else {
      const o0 = shl1(b0), o1 = shl1(b1), o2 = shl1(b2), o3 = shl1(b3);
      const opens = mask64(o0, o1, o2, o3) & ~inString & valid;
      const closes = mask64(shl1(o0), shl1(o1), shl1(o2), shl1(o3)) & ~inString & valid;
      const no = <i32>popcnt<u64>(opens);
      const nc = <i32>popcnt<u64>(closes);
      if (nc < d && d + no <= limit) d += no - nc;
      else {
        let m = opens | closes;
        while (m != 0) {
          const i = <u32>ctz<u64>(m);
          m &= m - 1;
          if (((opens >> i) & 1) != 0) {
            d++;
            if (d > limit) return -2;
          } else {
            d--;
            if (d == 0) return <i32>(q + i + 1);
          }
        }
      }
    }
    prevIn = <u64>(<i64>inString >> 63);
    prevEsc = carry;
    q += 64;
  }
  frameDepth = d;
  frameInStr = prevIn != 0 ? 1 : 0;
  frameEsc = <i32>prevEsc;
  return -1;
}
