/**
 * What the gateway's JSON readers agree on about JSON bytes (RFC 8259): the
 * nesting limit and the byte classes. The streaming export framer uses these;
 * the list scanner (jsonScan.ts) and the field reader (fieldReader.ts) keep
 * their own table-driven copies until the scanning engine is replaced, and
 * must stay equal to these (jsonScan exports MAX_DEPTH; a test pins both).
 */

/** Deepest nesting of arrays and objects accepted; one more is a malformed body. */
export const MAX_DEPTH = 512;

/** JSON whitespace: space, LF, CR, tab (nothing else, not even a BOM or NBSP). */
export const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

export const isHex = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
