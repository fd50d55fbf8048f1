import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyInvalidError } from '../../../src/engine/errors.js';
import { MAX_DEPTH } from '../../../src/engine/jsonBytes.js';
import { scanJson } from '../../../src/engine/jsonScan.js';
import type { ScanOptions, ScanResult } from '../../../src/engine/types.js';
import { compileFieldPlan } from '../../../src/rewrite/fieldReader.js';
import { MUTATION_BYTES, jsonish, prng, styled, trickyString, write, ws } from '../../helpers/jsonStyle.js';

// the JSON writer with random style (whitespace, escapes, number forms) is shared with the engine's tests
// ---------- oracle helpers ----------

function scanOrError(buf: Buffer, opts?: ScanOptions): ScanResult | BodyInvalidError {
  try {
    return scanJson(buf, opts);
  } catch (e) {
    if (e instanceof BodyInvalidError) return e;
    throw e; // anything else (TypeError, RangeError) is a scanner bug
  }
}

/** The reference: JSON.parse on the decoded text; invalid UTF-8 is rejected on top (JSON.parse would see U+FFFD). */
function referenceAccepts(buf: Buffer): boolean {
  if (!isUtf8(buf)) return false;
  try {
    JSON.parse(buf.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function expectElementsMatch(buf: Buffer, items: string, expected: unknown[]): void {
  const res = scanJson(buf, { items });
  expect(res.arrays.length).toBe(1);
  const els = res.arrays[0].elements;
  expect(els.map((e) => JSON.parse(buf.toString('utf8', e.start, e.end)))).toEqual(expected);
  // ranges are trimmed values, in order, inside the array brackets
  const arr = res.arrays[0];
  expect(buf[arr.start]).toBe(0x5b);
  expect(buf[arr.end - 1]).toBe(0x5d);
  let last = arr.start;
  for (const e of els) {
    expect(e.start).toBeGreaterThan(last);
    expect(e.end).toBeGreaterThan(e.start);
    expect(' \t\r\n'.includes(String.fromCharCode(buf[e.start]))).toBe(false);
    last = e.end;
  }
}

// ---------- property tests ----------

describe('scanJson against JSON.parse (property)', () => {
  it('accepts every fc.json() text and reports the top-level array elements exactly', () => {
    fc.assert(
      fc.property(fc.json(), (text) => {
        const buf = Buffer.from(text, 'utf8');
        const value = JSON.parse(text);
        const res = scanJson(buf);
        expect(res.root).toBe(value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);
        if (Array.isArray(value)) expectElementsMatch(buf, '', value);
      }),
      { numRuns: 1500 },
    );
  });

  it('accepts styled JSON (whitespace, escapes, number forms) and finds the elements of a top-level array', () => {
    fc.assert(
      fc.property(fc.array(jsonish, { maxLength: 8 }), fc.integer(), (arr, seed) => {
        const r = prng(seed);
        const text = ws(r) + write(arr, r) + ws(r);
        const buf = Buffer.from(text, 'utf8');
        const expected = JSON.parse(text) as unknown[]; // the writer only writes valid JSON
        expectElementsMatch(buf, '', expected);
      }),
      { numRuns: 2500 },
    );
  });

  it('finds the elements of the array at a nested path inside styled envelopes', () => {
    fc.assert(
      fc.property(
        fc.array(jsonish, { maxLength: 6 }),
        fc.dictionary(
          trickyString.filter((k) => k !== 'outer'),
          jsonish,
          { maxKeys: 3 },
        ),
        fc.integer(),
        (arr, extra, seed) => {
          const r = prng(seed);
          const inner = { ...extra, list: arr };
          const text = write({ outer: inner, after: extra }, r);
          const buf = Buffer.from(text, 'utf8');
          expectElementsMatch(buf, 'outer.list', (JSON.parse(text) as { outer: { list: unknown[] } }).outer.list);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('rejects exactly when JSON.parse rejects, on random truncations, byte flips, insertions and deletions', () => {
    fc.assert(
      fc.property(
        styled(jsonish),
        fc.nat(),
        fc.constantFrom('truncate', 'flip', 'insert', 'delete', 'randomByte'),
        fc.nat(MUTATION_BYTES.length - 1),
        fc.nat(255),
        (text, at, op, b, rb) => {
          const src = Buffer.from(text, 'utf8');
          if (src.length === 0) return;
          const i = at % src.length;
          let buf: Buffer;
          if (op === 'truncate') buf = src.subarray(0, i);
          else if (op === 'delete') buf = Buffer.concat([src.subarray(0, i), src.subarray(i + 1)]);
          else if (op === 'insert') buf = Buffer.concat([src.subarray(0, i), Buffer.of(MUTATION_BYTES[b]), src.subarray(i)]);
          else {
            buf = Buffer.from(src);
            buf[i] = op === 'flip' ? MUTATION_BYTES[b] : rb;
          }
          const res = scanOrError(buf);
          expect(res instanceof BodyInvalidError).toBe(!referenceAccepts(buf));
          // with an items path: accepted exactly when the reference parses it and it is an array
          if (referenceAccepts(buf)) {
            const value = JSON.parse(buf.toString('utf8'));
            const withItems = scanOrError(buf, { items: '' });
            expect(withItems instanceof BodyInvalidError).toBe(!Array.isArray(value));
            if (Array.isArray(value)) expectElementsMatch(buf, '', value);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('gives the same answer whatever the byte alignment of the buffer (word-at-a-time string skipping)', () => {
    fc.assert(
      fc.property(styled(fc.array(jsonish, { maxLength: 4 })), fc.nat(), fc.nat(MUTATION_BYTES.length - 1), (text, at, b) => {
        const valid = Buffer.from(text, 'utf8');
        const broken = Buffer.from(valid);
        broken[at % broken.length] = MUTATION_BYTES[b];
        for (const src of [valid, broken]) {
          const ref = scanOrError(src, { items: '' });
          for (let k = 0; k < 8; k++) {
            const shifted = Buffer.concat([Buffer.alloc(k), src]).subarray(k);
            const res = scanOrError(shifted, { items: '' });
            if (ref instanceof BodyInvalidError) expect(res).toBeInstanceOf(BodyInvalidError);
            else expect(res).toEqual(ref);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rejects every strict prefix of a valid document that JSON.parse rejects', () => {
    fc.assert(
      fc.property(styled(fc.array(jsonish, { maxLength: 4 })), (text) => {
        const src = Buffer.from(text, 'utf8');
        for (let i = 0; i < src.length; i++) {
          const buf = src.subarray(0, i);
          expect(scanOrError(buf) instanceof BodyInvalidError).toBe(!referenceAccepts(buf));
        }
      }),
      { numRuns: 150 },
    );
  });
});

// ---------- fused field read: the `fields` option never changes what is accepted or where elements are ----------

describe('scanJson with a field plan (property)', () => {
  const plan = compileFieldPlan(['_id', 'user.userName', 'user.userTags', 'data', 'a.b.c', '']);
  const planNoRoot = compileFieldPlan(['_id', 'user.userName', 'user.userTags', 'data', 'a.b.c']);

  it('accepts and rejects exactly as without it, with the same element ranges, on mutated inputs', () => {
    fc.assert(
      fc.property(styled(fc.array(jsonish, { maxLength: 5 })), fc.nat(), fc.nat(MUTATION_BYTES.length - 1), fc.boolean(), (text, at, b, mutate) => {
        const buf = Buffer.from(text, 'utf8');
        if (mutate && buf.length > 0) buf[at % buf.length] = MUTATION_BYTES[b];
        for (const opts of [{}, { items: '' }] as ScanOptions[]) {
          const ref = scanOrError(buf, opts);
          for (const p of [plan, planNoRoot]) {
            const res = scanOrError(buf, { ...opts, fields: p });
            expect(res instanceof BodyInvalidError).toBe(ref instanceof BodyInvalidError);
            if (!(ref instanceof BodyInvalidError) && !(res instanceof BodyInvalidError)) {
              expect(res.root).toBe(ref.root);
              expect(res.arrays.map((a) => a.elements.map((e) => [e.start, e.end]))).toEqual(ref.arrays.map((a) => a.elements.map((e) => [e.start, e.end])));
              // every recorded range is one whole JSON value
              for (const x of res.slots!.keys()) {
                if (x % 2 === 0 && res.slots![x] >= 0) expect(() => JSON.parse(buf.toString('utf8', res.slots![x], res.slots![x + 1]))).not.toThrow();
              }
            }
          }
        }
        expect(referenceAccepts(buf)).toBe(!(scanOrError(buf, { fields: plan }) instanceof BodyInvalidError));
      }),
      { numRuns: 1500 },
    );
  });
});

// ---------- adversarial table ----------

const b = (s: string) => Buffer.from(s, 'utf8');
const elementTexts = (buf: Buffer, res: ScanResult) => res.arrays.map((a) => a.elements.map((e) => buf.toString('utf8', e.start, e.end)));

describe('scanJson adversarial cases', () => {
  it.each([
    ['brackets and commas inside strings', '{"data":["]", "[", "},{", ",", {"k]":"]}"}]}', [['"]"', '"["', '"},{"', '","', '{"k]":"]}"}']]],
    ['escaped quote at string end', '{"data":["a\\"", "b\\\\", "c\\\\\\"" ,"\\\\"]}', [['"a\\""', '"b\\\\"', '"c\\\\\\""', '"\\\\"']]],
    ['quote-backslash key trickery', '{"data\\"":[1],"data":[2]}', [['2']]],
    ['escaped key decodes to the path', '{"d\\u0061ta":[1,2]}', [['1', '2']]],
    ['duplicated data key: both arrays', '{"data":[1,{"a":1}],"x":0,"data":[ 3 ]}', [['1', '{"a":1}'], ['3']]],
    ['empty array', '{"data":[ \n ]}', [[]]],
    ['data inside elements is not the path', '{"data":[{"data":[9]}]}', [['{"data":[9]}']]],
    ['nested objects with the key elsewhere', '{"meta":{"data":5},"data":[true,null]}', [['true', 'null']]],
  ])('%s', (_name, text, expected) => {
    const buf = b(text);
    expect(elementTexts(buf, scanJson(buf, { items: 'data' }))).toEqual(expected);
  });

  it('top-level array with items ""', () => {
    const buf = b(' [ {"_id":"a"} ,\n{"_id":"b"} ] ');
    expect(elementTexts(buf, scanJson(buf, { items: '' }))).toEqual([['{"_id":"a"}', '{"_id":"b"}']]);
  });

  it('reports every numeric total, ignores non-numbers at the total path', () => {
    const buf = b('{"total":12,"data":[],"total":"x","total":-3e2,"meta":{"total":7}}');
    const res = scanJson(buf, { items: 'data', total: 'total' });
    expect(res.totals.map((t) => buf.toString('utf8', t.start, t.end))).toEqual(['12', '-3e2']);
    const nested = scanJson(buf, { items: 'data', total: 'meta.total' });
    expect(nested.totals.map((t) => buf.toString('utf8', t.start, t.end))).toEqual(['7']);
  });

  it.each([
    ['data not an array', '{"data":{"0":1}}'],
    ['data is a string', '{"data":"[1,2]"}'],
    ['data null', '{"data":null}'],
    ['one duplicate not an array', '{"data":[1],"data":5}'],
    ['missing data', '{"items":[1,2]}'],
    ['data only nested deeper', '{"x":{"data":[1]}}'],
    ['top-level array when items is data', '[1,2]'],
    ['empty object', '{}'],
  ])('rejects %s', (_name, text) => {
    expect(() => scanJson(b(text), { items: 'data' })).toThrow(BodyInvalidError);
  });

  it.each([
    ['trailing garbage', '{"data":[]} x'],
    ['two documents', '{"data":[]}{}'],
    ['trailing comma in array', '{"data":[1,]}'],
    ['trailing comma in object', '{"data":[1],}'],
    ['leading comma', '{"data":[,1]}'],
    ['missing comma', '{"data":[1 2]}'],
    ['missing colon', '{"data" [1]}'],
    ['single quotes', "{'data':[1]}"],
    ['unquoted key', '{data:[1]}'],
    ['BOM', '\ufeff{"data":[]}'],
    ['NUL after document', '{"data":[]}\u0000'],
    ['raw NUL in a string', '{"data":["a\u0000b"]}'],
    ['raw newline in a string', '{"data":["a\nb"]}'],
    ['raw tab in a string', '{"data":["a\tb"]}'],
    ['unterminated string', '{"data":["abc]}'],
    ['unterminated escape', '{"data":["abc\\'],
    ['bad escape', '{"data":["\\x41"]}'],
    ['short unicode escape', '{"data":["\\u12"]}'],
    ['non-hex unicode escape', '{"data":["\\u12g4"]}'],
    ['leading zero', '{"data":[01]}'],
    ['bare dot fraction', '{"data":[.5]}'],
    ['trailing dot', '{"data":[1.]}'],
    ['plus sign', '{"data":[+1]}'],
    ['empty exponent', '{"data":[1e]}'],
    ['signed empty exponent', '{"data":[1e+]}'],
    ['NaN', '{"data":[NaN]}'],
    ['Infinity', '{"data":[Infinity]}'],
    ['minus only', '{"data":[-]}'],
    ['hex number', '{"data":[0x10]}'],
    ['truncated literal', '{"data":[tru]}'],
    ['capitalised literal', '{"data":[True]}'],
    ['unclosed array', '{"data":[1'],
    ['unclosed object', '{"data":[1]'],
    ['mismatched brackets', '{"data":[1}]'],
    ['empty body', ''],
    ['whitespace only', ' \n'],
    ['vertical tab whitespace', '{"data":[]\u000b}'],
    ['non-breaking space whitespace', '{"data":[]\u00a0}'],
  ])('rejects %s', (_name, text) => {
    const buf = b(text);
    expect(() => JSON.parse(text)).toThrow(); // the reference agrees
    expect(() => scanJson(buf, { items: 'data' })).toThrow(BodyInvalidError);
    expect(() => scanJson(buf)).toThrow(BodyInvalidError);
  });

  it('rejects invalid UTF-8 (overlong, lone continuation, truncated sequence, encoded surrogate)', () => {
    for (const bad of [[0xc0, 0xaf], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xff]]) {
      const buf = Buffer.concat([b('{"data":["'), Buffer.from(bad), b('"]}')]);
      expect(() => scanJson(buf, { items: 'data' })).toThrow(BodyInvalidError);
    }
  });

  it('accepts escaped lone surrogates and raw multi-byte UTF-8, as JSON.parse does', () => {
    const text = '{"data":["\\ud800","\\udc00x","😀é€","\\uD83D\\uDE00"]}';
    const buf = b(text);
    const res = scanJson(buf, { items: 'data' });
    expect(res.arrays[0].elements.map((e) => JSON.parse(buf.toString('utf8', e.start, e.end)))).toEqual(JSON.parse(text).data);
  });

  it('accepts every number form JSON.parse accepts', () => {
    const forms = ['-0', '0', '0.0', '1e5', '1E-5', '1e+5', '-1.25E+10', '123456789012345678901234567890', '0e0', '9.99e-400', '1e400'];
    const buf = b(`{"data":[${forms.join(',')}]}`);
    expect(elementTexts(buf, scanJson(buf, { items: 'data' }))).toEqual([forms]);
  });

  it('survives 10,000 levels of nesting: rejected cleanly, no stack overflow', () => {
    const deepArrays = b('{"data":[' + '['.repeat(10_000) + ']'.repeat(10_000) + ']}');
    const deepObjects = b('{"data":[' + '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000) + ']}');
    const deepUnclosed = b('['.repeat(10_000));
    for (const buf of [deepArrays, deepObjects, deepUnclosed]) {
      expect(() => scanJson(buf, { items: 'data' })).toThrow(BodyInvalidError);
      expect(() => scanJson(buf)).toThrow(/nesting too deep/);
    }
  });

  it('accepts nesting up to MAX_DEPTH and rejects one level more', () => {
    const nest = (d: number) => b('['.repeat(d) + ']'.repeat(d));
    expect(scanJson(nest(MAX_DEPTH)).root).toBe('array');
    expect(() => scanJson(nest(MAX_DEPTH + 1))).toThrow(BodyInvalidError);
  });

  it('error messages carry no body content', () => {
    try {
      scanJson(b('{"data":["secret-token-abc\u0001"]}'), { items: 'data' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BodyInvalidError);
      expect(String((e as Error).message)).not.toContain('secret');
    }
  });
});

describe('one JSON byte vocabulary', () => {
  it('the scanner and the export framer share the nesting limit', async () => {
    const { DEFAULT_MAX_DEPTH } = await import('../../../src/rewrite/export/jsonArray.js');
    expect(DEFAULT_MAX_DEPTH).toBe(MAX_DEPTH);
  });
});
