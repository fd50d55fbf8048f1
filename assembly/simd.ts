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

/**
 * simdjson-style byte classification: the byte's low nibble and high nibble
 * each look up a 16-entry table (i8x16.swizzle); the two lookups ANDed give
 * the byte's class bits. A class is a bit set in the low-nibble table at every
 * low nibble of its bytes and in the high-nibble table at every high nibble,
 * so that only its own bytes have both (a class whose bytes are not such a
 * rectangle is split over several bits). Bytes 0x80–0xff have no class (the
 * high-nibble tables are zero there).
 */
@inline export function nibbleClass(v: v128, loTable: v128, hiTable: v128): v128 {
  const lo = v128.and(v, i8x16.splat(0x0f));
  const hi = v128.and(i16x8.shr_u(v, 4), i8x16.splat(0x0f));
  return v128.and(i8x16.swizzle(loTable, lo), i8x16.swizzle(hiTable, hi));
}

/** Bit i set when byte i has none of the class bits in `bits`. */
@inline export function noneMask(c0: v128, c1: v128, c2: v128, c3: v128, bits: i8): u64 {
  const m = i8x16.splat(bits);
  const z = i8x16.splat(0);
  return mask64(
    i8x16.eq(v128.and(c0, m), z),
    i8x16.eq(v128.and(c1, m), z),
    i8x16.eq(v128.and(c2, m), z),
    i8x16.eq(v128.and(c3, m), z),
  );
}

/** Each byte shifted left by one (bit 6 to bit 7). */
@inline export function shl1(c: v128): v128 {
  return i8x16.add(c, c);
}
