/**
 * The engine's JSON-array element framer (src/engine/wasmFrame.ts) against the
 * byte loop it stands in for: the same end, the same state when a chunk ends
 * first, the same depth failure — on random bytes full of brackets, quotes and
 * backslashes, from random states, across the engine's copy windows; and the
 * whole JSON-array parser with and without it on generated exports in random
 * chunk splits (same operations, same errors).
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { FRAME_MORE, FRAME_TOO_DEEP, forgetFrame, frameElement, type FrameResult, type FrameState } from '../../../src/engine/wasmFrame.js';
import { jsonArrayParser } from '../../../src/rewrite/export/jsonArray.js';
import type { Op } from '../../../src/rewrite/export/types.js';
import type { ActivityFacts } from '../../../src/privacy/types.js';
import { hostile } from '../../helpers/exportHarness.js';

/** The reference: jsonArray.ts's byte loop for a non-scalar element (strings and nesting only). */
function referenceFrame(b: Buffer, p: number, st: FrameState, limit: number): number {
  for (; p < b.length; p++) {
    const c = b[p];
    if (st.inStr) {
      if (st.esc) st.esc = false;
      else if (c === 0x5c) st.esc = true;
      else if (c === 0x22) {
        st.inStr = false;
        if (st.depth === 0) return p + 1;
      }
      continue;
    }
    if (c === 0x22) st.inStr = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++st.depth > limit) return FRAME_TOO_DEEP;
    } else if ((c === 0x7d || c === 0x5d) && --st.depth === 0) return p + 1;
  }
  return FRAME_MORE;
}

/** The engine, finishing by hand where it hands an element back (as jsonArray.ts does). */
function engineFrame(b: Buffer, p: number, st: FrameState, limit: number): number {
  const r: FrameResult = { at: 0, resume: false };
  frameElement(b, p, st, limit, r);
  return r.resume ? referenceFrame(b, r.at, st, limit) : r.at;
}

const byteArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0x7b, 0x7d, 0x5b, 0x5d, 0x22, 0x5c, 0x2c, 0x3a) },
  { weight: 6, arbitrary: fc.constantFrom(0x61, 0x20, 0x31, 0x0a, 0x75) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
/** mostly-balanced text with long strings, so ends fall anywhere in a 64-byte block */
const textArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 400 }).map((a) => Buffer.from(a)),
  fc.array(byteArb, { maxLength: 600 }).map((a) => Buffer.from(a)),
  fc
    .array(
      fc.oneof(
        fc.constant('{"k":'),
        fc.constant('}'),
        fc.constant('['),
        fc.constant(']'),
        fc.constant(','),
        hostile.map((s) => JSON.stringify(s)),
        fc.constant('"a\\\\"'),
        fc.constant('\\"'),
      ),
      { maxLength: 80 },
    )
    .map((a) => Buffer.from(a.join(''))),
);
const stateArb = fc.record({ depth: fc.integer({ min: 0, max: 6 }), inStr: fc.boolean(), esc: fc.boolean() }).map((s): FrameState => {
  // depth 0 is a string element: always inside its string; an escape only inside a string
  const inStr = s.depth === 0 ? true : s.inStr;
  return { depth: s.depth, inStr, esc: inStr && s.esc };
});

describe('engine element framer', () => {
  test('agrees with the byte loop on random bytes, states and limits (10,000 cases)', () => {
    fc.assert(
      fc.property(textArb, stateArb, fc.integer({ min: 1, max: 12 }), fc.nat(), (b, st0, extra, at) => {
        const limit = st0.depth + extra;
        const p = b.length === 0 ? 0 : at % (b.length + 1);
        const a = { ...st0 };
        const e = { ...st0 };
        forgetFrame();
        const want = referenceFrame(b, p, a, limit);
        const got = engineFrame(b, p, e, limit);
        expect(got).toBe(want);
        if (want === FRAME_MORE) expect(e).toEqual(a);
      }),
      { numRuns: 10_000 },
    );
  });

  test('across copy windows: elements of up to 300 KB, from every kind of start', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const parts: string[] = [];
      let size = 0;
      let i = seed;
      while (size < 20_000 * (seed % 16)) {
        const s = `{"a":[${i},"${'x'.repeat((i * 7919) % 5000)}\\\\\\"",{"b":"]}["}],"c":"${'\\"'.repeat(i % 5)}"}`;
        parts.push(s);
        size += s.length;
        i++;
      }
      const b = Buffer.from(`[${parts.join('')}]]]`);
      for (const p of [0, 1, 63, 64, 65535, 65536, 65537]) {
        if (p > b.length) continue;
        const st0: FrameState = { depth: 1, inStr: false, esc: false };
        forgetFrame();
        const a = { ...st0 };
        const e = { ...st0 };
        expect(engineFrame(b, p, e, 1000)).toBe(referenceFrame(b, p, a, 1000));
        expect(e).toEqual(a);
      }
    }
  });

  test('a depth past the limit inside a block it would otherwise count', () => {
    const b = Buffer.from('[[[[[[[[' + ']'.repeat(8));
    expect(engineFrame(b, 0, { depth: 1, inStr: false, esc: false }, 8)).toBe(FRAME_TOO_DEEP);
    expect(engineFrame(b, 0, { depth: 1, inStr: false, esc: false }, 9)).toBe(referenceFrame(b, 0, { depth: 1, inStr: false, esc: false }, 9));
  });
});

const facts = (r: unknown): ActivityFacts => ({
  id: undefined,
  actor: JSON.stringify(r).includes('PRIVATE') ? 'bob@private' : 'alice@contoso.com',
  groups: [],
  isApplication: false,
});

function parse(chunks: Buffer[], engineFraming: boolean): { ops: unknown[]; error: string | null } {
  const parser = jsonArrayParser({ extract: facts, items: 'data', maxRecordBytes: 1 << 20, maxDepth: 24, engineFraming });
  const ops: Op[] = [];
  let error: string | null = null;
  try {
    for (const c of chunks) parser.push(c, ops);
    parser.end(ops);
  } catch (err) {
    error = (err as Error).message;
  }
  return {
    ops: ops.map((o) => (o.kind === 'list' ? o : { kind: o.kind, bytes: o.bytes.toString('latin1'), facts: o.kind === 'record' ? o.facts : undefined })),
    error,
  };
}

describe('JSON-array parser with and without the engine framer', () => {
  const valueArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
    v: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      hostile,
      fc.integer(),
      fc.constant(null),
      fc.array(tie('v'), { maxLength: 4 }),
      fc.dictionary(hostile, tie('v'), { maxKeys: 4 }),
    ),
  })).v;
  const docArb = fc
    .tuple(fc.array(fc.tuple(valueArb, fc.boolean()), { maxLength: 12 }), fc.constantFrom('', ' ', '\n  '))
    .map(([els, w]) => Buffer.from(`{"meta":{"n":1},"data":[${els.map(([v, priv]) => w + JSON.stringify(priv ? { v, m: 'PRIVATE' } : v) + w).join(',')}]}`));
  /** a generated export, sometimes with one byte replaced (a backslash outside a string, a stray bracket, …) */
  const inputArb = fc.tuple(docArb, fc.nat(), fc.constantFrom(0x5c, 0x22, 0x7b, 0x5d, 0x2c, -1)).map(([b, at, byte]) => {
    if (byte < 0 || b.length === 0) return b;
    const c = Buffer.from(b);
    c[at % c.length] = byte;
    return c;
  });

  test('same operations and errors on generated and mutated exports in random chunk splits (3,000 cases)', () => {
    fc.assert(
      fc.property(inputArb, fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 5 }), (b, sizes) => {
        const chunks: Buffer[] = [];
        for (let at = 0, i = 0; at < b.length; i++) {
          chunks.push(b.subarray(at, at + sizes[i % sizes.length]));
          at += sizes[i % sizes.length];
        }
        expect(parse(chunks, true)).toEqual(parse(chunks, false));
      }),
      { numRuns: 3_000 },
    );
  });
});
