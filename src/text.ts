/**
 * The one character rule for text people type into the gateway (SPEC §10 "Input rules
 * (v3)"): principals (grants, scope actors, approvers, query parameters), group ids and
 * names, reasons and comments. Imports nothing, so every layer may use it.
 */

/**
 * Control characters (Unicode Cc: U+0000–U+001F, U+007F–U+009F, NUL, tab, CR and LF
 * included), the line and paragraph separators (U+2028, U+2029: they break an audit line as
 * a newline does) and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
 * U+2066–U+2069: they make a line read differently from what it says).
 */
const CONTROL_OR_BIDI = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** true when the text holds a character no typed input may hold */
export function hasControlOrBidi(text: string): boolean {
  return CONTROL_OR_BIDI.test(text);
}

/** white space and format characters (Cf: zero-width joiners, BOM, …): they carry no meaning of their own */
const INVISIBLE = /[\s\p{Cf}]/u;

/**
 * The characters (code points) that count toward a minimum length: neither white space nor
 * format characters, so twelve zero-width joiners are no reason.
 */
export function visibleLength(text: string): number {
  let n = 0;
  for (const ch of text) if (!INVISIBLE.test(ch)) n++;
  return n;
}
