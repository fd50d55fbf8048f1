/**
 * Random-style JSON writer and arbitraries (whitespace, escapes, number forms,
 * strings full of punctuation), shared by the scanner equivalence tests.
 * Same generator as test/unit/jsonScan.test.ts.
 */
import fc from 'fast-check';
import { mulberry32 } from '../../src/demo/dataset.js';

export type Rnd = () => number;
export const prng: (seed: number) => Rnd = mulberry32;
const pick = <T>(r: Rnd, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

const WS = ['', '', '', ' ', '  ', '\n', '\t', '\r\n', ' \n\t ', '\r'];
export const ws = (r: Rnd) => pick(r, WS);
const hex4 = (r: Rnd, u: number) => {
  const h = u.toString(16).padStart(4, '0');
  return '\\u' + (r() < 0.5 ? h : h.toUpperCase());
};
const SHORT: Record<string, string> = { '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function writeString(s: string, r: Rnd): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += r() < 0.8 ? '\\"' : hex4(r, cp);
    else if (ch === '\\') out += r() < 0.8 ? '\\\\' : hex4(r, cp);
    else if (cp < 0x20) out += SHORT[ch] !== undefined && r() < 0.7 ? SHORT[ch] : hex4(r, cp);
    else if (cp >= 0xd800 && cp <= 0xdfff)
      out += hex4(r, cp); // lone surrogate: only escaped form survives UTF-8
    else if (ch === '/' && r() < 0.5) out += '\\/';
    else if (r() < 0.1) out += cp > 0xffff ? hex4(r, ch.charCodeAt(0)) + hex4(r, ch.charCodeAt(1)) : hex4(r, cp);
    else out += ch;
  }
  return out + '"';
}

function writeNumber(x: number, r: Rnd): string {
  if (Object.is(x, -0)) return pick(r, ['-0', '-0.0', '-0e0', '-0E+00']);
  const forms = [String(x), x.toExponential(), x.toExponential().toUpperCase(), x.toExponential().replace('e+', 'e')];
  if (Number.isInteger(x) && Math.abs(x) < 1e15) forms.push(`${x}.0`, `${x}.000`, `${x}e0`, `${x}E+0`);
  if (Number.isInteger(x) && x !== 0 && Math.abs(x) < 1e15) forms.push(`${x}0E-1`);
  return pick(r, forms);
}

export function write(v: unknown, r: Rnd): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return writeNumber(v, r);
  if (typeof v === 'string') return writeString(v, r);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[' + ws(r) + ']';
    return '[' + v.map((x) => ws(r) + write(x, r) + ws(r)).join(',') + ']';
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '{' + ws(r) + '}';
  return '{' + entries.map(([k, x]) => ws(r) + writeString(k, r) + ws(r) + ':' + ws(r) + write(x, r) + ws(r)).join(',') + '}';
}

// strings full of JSON punctuation, escapes and unicode (astral, BMP, lone surrogates, controls)
export const trickyString = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '[',
        ']',
        '{',
        '}',
        '"',
        ',',
        ':',
        '\\',
        '\\"',
        '\\\\"',
        '/',
        '\u0000',
        '\u001f',
        '\u007f',
        '\u2028',
        '\ud800',
        '\udfff',
        '\ud83d\ude00',
        'é',
        '€',
        'data',
        'total',
      ),
      fc.string({ unit: 'binary', maxLength: 4 }),
      fc.string({ maxLength: 6 }),
    ),
    { maxLength: 6 },
  )
  .map((xs) => xs.join(''));
const trickyNumber = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 1e5, 1e-5, 0.5, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 123456789012),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
export const { value: jsonish } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false),
    trickyNumber,
    trickyString,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(trickyString, tie('value'), { maxKeys: 5 }),
  ),
}));

export const styled = (arb: fc.Arbitrary<unknown>): fc.Arbitrary<string> =>
  fc.tuple(arb, fc.integer()).map(([v, seed]) => {
    const r = prng(seed);
    return ws(r) + write(v, r) + ws(r);
  });

export const MUTATION_BYTES = [...'{}[]",:\\ 0123456789eE.-+tfnu\t\n/'].map((c) => c.charCodeAt(0)).concat([0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xed, 0xef, 0xff]);
