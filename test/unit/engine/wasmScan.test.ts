/**
 * The WebAssembly engine against its oracles: the JavaScript scanner (same
 * accept/reject, same element ranges, totals and field slots) and JSON.parse
 * (same accept/reject), on generated, styled and mutated documents, every
 * prefix of valid ones, the scanner's adversarial corpus, and inputs shaped
 * against the engine itself (64-byte block and 32 KiB window boundaries,
 * backslash runs across blocks, deep nesting).
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BodyInvalidError } from '../../../src/engine/errors.js';
import { MAX_DEPTH } from '../../../src/engine/jsonBytes.js';
import { scanJson } from '../../../src/engine/jsonScan.js';
import type { FastScanResult, ScanOptions } from '../../../src/engine/types.js';
import { RETAIN_BYTES, engineInstance, engineStats, scanJsonFast, scanSlotsFast, type SlotsView } from '../../../src/engine/wasmScan.js';
import { compileFieldPlan } from '../../../src/rewrite/fieldReader.js';
import { MUTATION_BYTES, jsonish, prng, styled, trickyString, write, ws } from '../../helpers/jsonStyle.js';

const plan = compileFieldPlan(['_id', 'user.userName', 'user.userTags', 'data', 'a.b.c', '']);
const planNoRoot = compileFieldPlan(['_id', 'user.userName', 'user.userTags', 'data', 'a.b.c', 'total']);

const OPTION_SETS: ScanOptions[] = [
  {},
  { items: '' },
  { items: 'data', total: 'total' },
  { fields: planNoRoot },
  { fields: plan },
  { items: '', fields: planNoRoot },
  { items: 'data', total: 'total', fields: planNoRoot },
  { items: 'outer.list', total: 'outer.total', fields: planNoRoot },
];

type Outcome = { ok: true; value: FastScanResult } | { ok: false };

function run(f: (b: Buffer, o: ScanOptions) => FastScanResult, buf: Buffer, opts: ScanOptions): Outcome {
  try {
    return { ok: true, value: f(buf, opts) };
  } catch (e) {
    if (e instanceof BodyInvalidError) return { ok: false };
    throw e; // anything else is an engine bug
  }
}

const plain = (r: FastScanResult) => ({ ...r, slots: r.slots === undefined ? undefined : Array.from(r.slots) });

function referenceAccepts(buf: Buffer): boolean {
  if (!isUtf8(buf)) return false;
  try {
    JSON.parse(buf.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

let compared = 0;
let documents = 0;

/** The engine and the JavaScript scanner agree on buf under every option set. */
function agree(buf: Buffer, sets: readonly ScanOptions[] = OPTION_SETS): void {
  documents++;
  for (const opts of sets) {
    const ref = run(scanJson, buf, opts);
    const got = run(scanJsonFast, buf, opts);
    compared++;
    expect(got.ok).toBe(ref.ok);
    if (got.ok && ref.ok) expect(plain(got.value)).toEqual(plain(ref.value));
    if (opts.fields && opts.items === undefined && opts.total === undefined) slotsAgree(buf, opts, ref);
  }
  // and both agree with JSON.parse about the bare document
  expect(run(scanJsonFast, buf, {}).ok).toBe(referenceAccepts(buf));
}

const view: SlotsView = { slots: [], at: 0 };

/** scanSlotsFast (a record's slots, no result built) answers what the JavaScript scanner does. */
function slotsAgree(buf: Buffer, opts: ScanOptions, ref: Outcome): void {
  let got: number[] | null;
  try {
    const v = scanSlotsFast(buf, opts, false, view);
    got = Array.from({ length: 2 * opts.fields!.size }, (_, i) => v.slots[v.at + i]);
  } catch (e) {
    if (!(e instanceof BodyInvalidError)) throw e;
    got = null;
  }
  expect(got).toEqual(ref.ok ? Array.from(ref.value.slots!) : null);
}

function mutate(src: Buffer, op: string, at: number, b: number, rb: number): Buffer {
  if (src.length === 0) return src;
  const i = at % src.length;
  if (op === 'truncate') return src.subarray(0, i);
  if (op === 'delete') return Buffer.concat([src.subarray(0, i), src.subarray(i + 1)]);
  if (op === 'insert') return Buffer.concat([src.subarray(0, i), Buffer.of(MUTATION_BYTES[b]), src.subarray(i)]);
  const out = Buffer.from(src);
  out[i] = op === 'flip' ? MUTATION_BYTES[b] : rb;
  return out;
}

const envelope = fc
  .tuple(fc.array(jsonish, { maxLength: 6 }), fc.dictionary(trickyString, jsonish, { maxKeys: 3 }), fc.oneof(fc.nat(), fc.constant('x')), fc.integer())
  .map(([arr, extra, total, seed]) => {
    const r = prng(seed);
    const records = arr.map((x, i) => (i % 2 === 0 ? { _id: `a${i}`, user: { userName: x, userTags: [x] }, a: { b: { c: x } }, x } : x));
    return write({ ...extra, total, data: records, outer: { list: records, total }, after: extra }, r);
  });

describe('engine ≡ JavaScript scanner ≡ JSON.parse (property, ≥ 10,000 documents)', () => {
  it('fc.json() texts', () => {
    fc.assert(
      fc.property(fc.json(), (text) => agree(Buffer.from(text, 'utf8'))),
      { numRuns: 1000 },
    );
  });

  it('styled documents and envelopes, valid and mutated (truncate, flip, insert, delete, random byte)', () => {
    fc.assert(
      fc.property(
        fc.oneof(styled(fc.array(jsonish, { maxLength: 8 })), styled(jsonish), envelope),
        fc.boolean(),
        fc.nat(),
        fc.constantFrom('truncate', 'flip', 'insert', 'delete', 'randomByte'),
        fc.nat(MUTATION_BYTES.length - 1),
        fc.nat(255),
        (text, doMutate, at, op, b, rb) => {
          const src = Buffer.from(text, 'utf8');
          agree(doMutate ? mutate(src, op, at, b, rb) : src);
        },
      ),
      { numRuns: 6000 },
    );
  });

  it('every prefix of a valid document', () => {
    fc.assert(
      fc.property(envelope, (text) => {
        const src = Buffer.from(text, 'utf8');
        for (let i = 0; i <= src.length; i += 1 + (i >> 6)) agree(src.subarray(0, i), [{}, { items: 'data', total: 'total', fields: planNoRoot }]);
      }),
      { numRuns: 120 },
    );
  });

  it('documents padded so strings, escapes and numbers straddle 64-byte blocks', () => {
    fc.assert(
      fc.property(styled(fc.array(jsonish, { maxLength: 4 })), fc.nat(130), fc.nat(), fc.nat(MUTATION_BYTES.length - 1), (text, pad, at, b) => {
        const src = Buffer.from(' '.repeat(pad) + text, 'utf8');
        agree(src, [{}, { items: '', fields: planNoRoot }]);
        agree(mutate(src, 'flip', at, b, 0), [{}, { items: '', fields: planNoRoot }]);
      }),
      { numRuns: 800 },
    );
  });

  it('compared at least 10,000 documents, and the fallback stayed rare', () => {
    expect(documents).toBeGreaterThanOrEqual(10_000);
    expect(compared).toBeGreaterThanOrEqual(documents * 2);
    // the engine decided every one of them itself (escaped keys included): no JavaScript fallback
    expect(engineStats.fallbacks).toBe(0);
  });
});

const b = (s: string) => Buffer.from(s, 'utf8');

describe('engine adversarial corpus', () => {
  const REJECT = [
    '{"data":[]} x',
    '{"data":[]}{}',
    '{"data":[1,]}',
    '{"data":[1],}',
    '{"data":[,1]}',
    '{"data":[1 2]}',
    '{"data" [1]}',
    "{'data':[1]}",
    '{data:[1]}',
    '\ufeff{"data":[]}',
    '{"data":[]}\u0000',
    '{"data":["a\u0000b"]}',
    '{"data":["a\nb"]}',
    '{"data":["a\tb"]}',
    '{"data":["abc]}',
    '{"data":["abc\\',
    '{"data":["\\x41"]}',
    '{"data":["\\u12"]}',
    '{"data":["\\u12g4"]}',
    '{"data":[01]}',
    '{"data":[.5]}',
    '{"data":[1.]}',
    '{"data":[+1]}',
    '{"data":[1e]}',
    '{"data":[1e+]}',
    '{"data":[NaN]}',
    '{"data":[Infinity]}',
    '{"data":[-]}',
    '{"data":[0x10]}',
    '{"data":[tru]}',
    '{"data":[True]}',
    '{"data":[1',
    '{"data":[1]',
    '{"data":[1}]',
    '',
    ' \n',
    '{"data":[]\u000b}',
    '{"data":[]\u00a0}',
    '"abc',
    '"\\',
    '"\\u00',
    'truex',
    'nul',
    'falsey',
    '1.5e',
    '-',
    '[1]]',
    '{"a"}',
    '{"a":}',
    '{,}',
    '[1,,2]',
    '["a"b]',
    '[1"a"]',
    '[true"a"]',
    '{"a":1"b":2}',
    '\\"a"',
    '[\\]',
    '{"a\\":1}',
    '["\\"]',
  ];
  it.each(REJECT)('rejects %j like the JavaScript scanner and JSON.parse', (text) => {
    const buf = b(text);
    expect(referenceAccepts(buf)).toBe(false);
    for (const opts of OPTION_SETS) expect(() => scanJsonFast(buf, opts)).toThrow(BodyInvalidError);
  });

  const AGREE = [
    '{"data":["]", "[", "},{", ",", {"k]":"]}"}]}',
    '{"data":["a\\"", "b\\\\", "c\\\\\\"" ,"\\\\"]}',
    '{"data\\"":[1],"data":[2]}',
    '{"d\\u0061ta":[1,2]}',
    '{"data":[1,{"a":1}],"x":0,"data":[ 3 ]}',
    '{"data":[ \n ]}',
    '{"data":[{"data":[9]}]}',
    '{"meta":{"data":5},"data":[true,null]}',
    ' [ {"_id":"a"} ,\n{"_id":"b"} ] ',
    '{"total":12,"data":[],"total":"x","total":-3e2,"meta":{"total":7}}',
    '{"data":["\\ud800","\\udc00x","😀é€","\\uD83D\\uDE00"]}',
    '{"data":[-0,0,0.0,1e5,1E-5,1e+5,-1.25E+10,123456789012345678901234567890,0e0,9.99e-400,1e400]}',
    '{"data":[{"_id":"a","user":{"userName":"x","userTags":["t"]},"user":{"userName":"y"}}]}',
    '{"data":[{"__proto__":{"userName":"p"},"user":{"__proto__":1,"userName":"u"}}]}',
    '{"data":[{"_id":"\\u0041","u\\u0073er":{"userName":"esc"}}]}',
    '{"data":[{"a":{"b":{"c":[1,{"c":2}]}},"a":{"b":5}}]}',
    '"x"',
    '1',
    '-0.5e-7',
    'true',
    'false',
    'null',
    '[]',
    '{}',
    '[[[]]]',
    '{"":{"":""}}',
  ];
  it.each(AGREE)('agrees on %j', (text) => agree(b(text)));

  it('invalid UTF-8 (overlong, lone continuation, truncated, encoded surrogate) is rejected', () => {
    for (const bad of [[0xc0, 0xaf], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xff]]) {
      const buf = Buffer.concat([b('{"data":["'), Buffer.from(bad), b('"]}')]);
      for (const opts of OPTION_SETS) expect(() => scanJsonFast(buf, opts)).toThrow(BodyInvalidError);
    }
  });

  it('nesting: MAX_DEPTH accepted, one more rejected, 10,000 rejected without recursion', () => {
    const nest = (d: number) => b('['.repeat(d) + ']'.repeat(d));
    expect(scanJsonFast(nest(MAX_DEPTH)).root).toBe('array');
    expect(() => scanJsonFast(nest(MAX_DEPTH + 1))).toThrow(/nesting too deep/);
    const objs = (d: number) => b('{"a":'.repeat(d) + '1' + '}'.repeat(d));
    agree(objs(MAX_DEPTH));
    // deeper than MAX_DEPTH is rejected on purpose (JSON.parse would accept it)
    for (const opts of OPTION_SETS) expect(() => scanJsonFast(objs(MAX_DEPTH + 1), opts)).toThrow(BodyInvalidError);
    expect(() => scanJsonFast(objs(MAX_DEPTH + 1))).toThrow(/nesting too deep/);
    for (const buf of [b('{"data":[' + '['.repeat(10_000) + ']'.repeat(10_000) + ']}'), objs(10_000), b('['.repeat(10_000))]) {
      expect(() => scanJsonFast(buf, { items: 'data' })).toThrow(BodyInvalidError);
    }
  });

  it('backslash runs of every length ending at every offset of a 64-byte block', () => {
    for (let pad = 0; pad < 66; pad++) {
      for (let run = 0; run < 6; run++) {
        const esc = '\\'.repeat(run);
        agree(b(`[${' '.repeat(pad)}"${esc}", 1]`), [{}, { items: '' }]); // odd runs escape the quote: rejected
        agree(b(`[${' '.repeat(pad)}"${esc}\\n", "x"]`), [{}, { items: '' }]);
        agree(b(`[${' '.repeat(pad)}"a${esc}u00e9"]`), [{}, { items: '' }]);
      }
    }
  });

  it('bodies across several 32 KiB index windows: long strings, many small values, a string spanning a window', () => {
    const many = JSON.stringify({ total: 9, data: Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? { _id: `r${i}`, user: { userName: 'u' } } : i)) });
    const long = JSON.stringify({ data: ['x'.repeat(100_000), 'y\\"'.repeat(30_000), { _id: 'z' }] });
    for (const text of [many, long]) {
      agree(b(text));
      const broken = b(text);
      broken[Math.floor(broken.length * 0.77)] = 0x01;
      agree(broken);
    }
  });

  it('keys with escapes (astral pairs, lone surrogates) are decoded as JSON.parse does; a path that is not well-formed goes to the JavaScript scanner', () => {
    const p = compileFieldPlan(['😀.é', 'a\u0000b']);
    for (const text of [
      '{"data":[{"\ud83d\ude00":{"\u00e9":1}},{"😀":{"é":2}},{"\ud83d":{"é":3}},{"\ude00\ud83d":{"é":4}},{"a\u0000b":5}]}',
      '{"\u0064ata":[1],"dat\u0061":[2],"d\ud800ata":[3]}',
    ])
      agree(b(text), [
        { items: 'data', fields: p },
        { items: 'data', total: '😀' },
      ]);
    const before = engineStats.fallbacks;
    const lone = b('{"d\ud800":[1],"d\ufffd":[2],"d�":[3]}');
    expect(plain(scanJsonFast(lone, { items: 'd\ud800' }))).toEqual(plain(scanJson(lone, { items: 'd\ud800' })));
    expect(engineStats.fallbacks).toBe(before + 1);
  });

  it('keys of 0 to 40 bytes with one escape at every position (or none), at block offsets: matched as JSON.parse does', () => {
    // the engine looks for a key's backslashes 16 bytes at a time: keys around 16 and 32 bytes,
    // escapes in every lane, and keys ending just before the end of the input
    const p = compileFieldPlan(Array.from({ length: 40 }, (_, i) => `x.${'a'.repeat(i + 1)}`));
    // and a node with keys of a few lengths only (a key of another length is passed over unless escaped)
    const sparse = compileFieldPlan(['x.aaaaa', `x.${'a'.repeat(16)}`, `x.${'a'.repeat(33)}`, 'a'.repeat(31)]);
    const sets: ScanOptions[] = [{ items: 'data', fields: p }, { fields: p }, { fields: sparse }, { items: 'data', total: 'a'.repeat(17) }];
    for (let n = 0; n <= 40; n++) {
      for (let e = -1; e < n; e++) {
        for (const esc of ['\\u0061', '\\n', '\\"']) {
          const key = e < 0 ? 'a'.repeat(n) : `${'a'.repeat(e)}${esc}${'a'.repeat(n - e - 1)}`;
          const pad = ' '.repeat((n * 7 + e + 1) % 17);
          agree(b(`{"data":[{"x":{${pad}"${key}":1}}],${pad}"${key}":2}`), sets);
          agree(b(`{"x":{"${key}":[3]}}`), sets);
        }
      }
    }
  });

  it('a body that grows the instance past RETAIN_BYTES is scanned, then the instance is dropped and the next scan gets a fresh one', () => {
    const big = b(JSON.stringify({ total: 1, data: Array.from({ length: 4_000 }, (_, i) => ({ _id: `r${i}`, pad: 'x'.repeat(4_500) })) }));
    expect(big.length).toBeGreaterThan(RETAIN_BYTES);
    agree(big, [{ items: 'data', total: 'total', fields: planNoRoot }]);
    const before = engineStats.instances;
    agree(b('{"data":[{"_id":"a"}],"total":1}'), [{ items: 'data', total: 'total', fields: planNoRoot }]);
    expect(engineStats.instances).toBe(before + 1);
  });

  it('error messages carry no body content', () => {
    try {
      scanJsonFast(b('{"data":["secret-token-abc\u0001"]}'), { items: 'data' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BodyInvalidError);
      expect(String((e as Error).message)).not.toContain('secret');
    }
  });

  it('a result table that does not fit the first estimate is grown and the scan repeated', () => {
    // 1-byte elements: far more records than the estimate of one per 128 bytes
    agree(b('[' + Array.from({ length: 50_000 }, () => '1').join(',') + ']'), [{ items: '' }, { items: '', fields: planNoRoot }]);
    agree(b('[' + Array.from({ length: 30_000 }, () => '{}').join(',') + ']'), [{ items: '', fields: plan }]);
  });
});

// keep `ws` referenced for generators that style their own envelopes
void ws;

/** Bit i of the u64 at `at` (little-endian) as a boolean per byte. */
function bits(mem: Buffer, at: number): boolean[] {
  const m = mem.readBigUInt64LE(at);
  return Array.from({ length: 64 }, (_, i) => ((m >> BigInt(i)) & 1n) === 1n);
}

const OPERATOR = new Set([0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d]);
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * The engine's stage 1 classification of one 64-byte block (nibble table
 * lookups) against the byte-by-byte definitions the compare chains it
 * replaced implemented: the scanner's quote, backslash, control byte,
 * operator and scalar-ending masks, and the framer's quote, backslash,
 * opening and closing bracket masks.
 */
function classifiesLikeTheDefinitions(block: Buffer): void {
  const e = engineInstance();
  const mem = Buffer.from(e.memory.buffer);
  const at = e.INPUT.value as number;
  block.copy(mem, at);
  e.classify(at);
  const st = e.STATUS.value as number;
  const scan = [0, 8, 16, 24, 32].map((o) => bits(mem, st + 32 + o));
  e.frameClassify(at);
  const fr = (e.FRAME.value as number) + (e.FRAME_BYTES.value as number) + 64;
  const frame = [0, 8, 16, 24].map((o) => bits(mem, fr + o));
  const got = (i: number) => [...scan.map((m) => m[i]), ...frame.map((m) => m[i])];
  for (let i = 0; i < 64; i++) {
    const c = block[i];
    const op = OPERATOR.has(c);
    const want = [
      c === 0x22,
      c === 0x5c,
      c < 0x20,
      op,
      op || WHITESPACE.has(c) || c === 0x22,
      c === 0x22,
      c === 0x5c,
      c === 0x5b || c === 0x7b,
      c === 0x5d || c === 0x7d,
    ];
    if (got(i).join() !== want.join()) expect({ byte: c, at: i, got: got(i) }).toEqual({ byte: c, at: i, got: want });
  }
}

describe('stage 1 classification (two nibble lookups) ≡ the byte-by-byte definitions', () => {
  it('every byte value at every position of a 64-byte block', () => {
    // block k holds (k + 7i) mod 256 at i: over the 256 blocks, every value at every position once
    for (let k = 0; k < 256; k++) classifiesLikeTheDefinitions(Buffer.from(Array.from({ length: 64 }, (_, i) => (k + 7 * i) & 0xff)));
    for (let c = 0; c < 256; c++) classifiesLikeTheDefinitions(Buffer.alloc(64, c));
  });

  it('random blocks of all 256 byte values and of JSON bytes (property)', () => {
    const byte = fc.oneof(fc.nat(255), fc.constantFrom(...MUTATION_BYTES));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.array(byte, { minLength: 64, maxLength: 64 }), (a, j) => {
        classifiesLikeTheDefinitions(Buffer.from(a));
        classifiesLikeTheDefinitions(Buffer.from(j));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('engine ≡ JavaScript scanner on byte strings with any byte at any block position (property)', () => {
  it('a valid document with one byte (any of 256) replaced or inserted at every offset of a block, across block boundaries', () => {
    fc.assert(
      fc.property(envelope, fc.nat(191), fc.nat(255), fc.boolean(), (text, at, c, insert) => {
        const src = b(text);
        if (src.length === 0) return;
        for (let i = at % 64; i < src.length; i += 61) {
          const buf = insert ? Buffer.concat([src.subarray(0, i), Buffer.of(c), src.subarray(i)]) : Buffer.from(src);
          if (!insert) buf[i] = c;
          agree(buf, [{}, { items: 'data', total: 'total', fields: planNoRoot }]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('random byte strings over JSON bytes and all 256 values, 1 to 200 bytes', () => {
    const byte = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...MUTATION_BYTES) }, { weight: 1, arbitrary: fc.nat(255) });
    fc.assert(
      fc.property(fc.array(byte, { minLength: 1, maxLength: 200 }), fc.nat(64), (bytes, pad) => {
        const body = Buffer.from(bytes);
        agree(body, [{}, { items: '' }]);
        agree(Buffer.concat([b('['), Buffer.alloc(pad, 0x20), b('"'), body, b('"]')]), [{}, { items: '' }]);
      }),
      { numRuns: 2000 },
    );
  });
});
