/**
 * What the gateway's JSON readers agree on about JSON bytes (RFC 8259): the
 * nesting limit and the byte classes. The JavaScript scanner (jsonScan.ts),
 * the field reader and the JSON-array export framer (rewrite/) use these;
 * assembly/scan.ts has its own MAX_DEPTH, which the engine's tests pin to this one.
 */

/** Deepest nesting of arrays and objects accepted; one more is a malformed body. */
export const MAX_DEPTH = 512;

/** JSON whitespace: space, LF, CR, tab (nothing else, not even a BOM or NBSP). */
export const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

export const isHex = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
