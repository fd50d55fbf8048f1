/**
 * The 64-byte-block primitives shared by the scanner (scan.ts) and the
 * JSON-array element framer (frame.ts): four i8x16 compare results folded into
 * one 64-bit mask, a byte compared against all 64, and the prefix XOR that
 * turns unescaped quotes into an in-string mask (no carry-less multiply in
 * WebAssembly, so a shift-XOR ladder).
 */

@inline export function mask64(a: v128, b: v128, c: v128, d: v128): u64 {
  return <u64><u32>i8x16.bitmask(a)
    | (<u64><u32>i8x16.bitmask(b) << 16)
    | (<u64><u32>i8x16.bitmask(c) << 32)
    | (<u64><u32>i8x16.bitmask(d) << 48);
}

@inline export function eqMask(v0: v128, v1: v128, v2: v128, v3: v128, ch: i8): u64 {
  const s = i8x16.splat(ch);
  return mask64(i8x16.eq(v0, s), i8x16.eq(v1, s), i8x16.eq(v2, s), i8x16.eq(v3, s));
}

/** Bit i set when an odd number of bits at or below i are set in q (opening quote in, closing quote out). */
@inline export function prefixXor(q: u64): u64 {
  let x = q;
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}
