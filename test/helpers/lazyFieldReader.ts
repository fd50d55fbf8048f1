/**
 * The lazy field reader, kept for tests only: it walks the bytes of one record
 * itself (skipping every value off the configured paths) and prunes it to those
 * paths, with no fused scan. Production reads the slots the validating scan
 * records (src/rewrite/fieldReader.ts); this independent walk is a second
 * implementation the tests compare against JSON.parse and the fused form.
 *
 * Precondition: [start, end) is ONE valid JSON value in valid UTF-8 (validated
 * by scanJson). Malformed input gives unspecified facts.
 */
import { compileExtractor } from '../../src/privacy/extract.js';
import type { ActivitiesSpec, ActivityFacts } from '../../src/privacy/types.js';
import { specPaths } from '../../src/privacy/extract.js';
import type { PlanNode } from '../../src/engine/types.js';
import { compileFieldPlan } from '../../src/rewrite/fieldReader.js';

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/*
 * Reader state for the record in progress (the reader is synchronous, so it is
 * never shared): the last string scanned had an escape.
 */
let hadEscape = false;

/** p at the opening quote; returns the offset past the closing quote. */
function skipString(buf: Buffer, p: number): number {
  hadEscape = false;
  p++;
  for (;;) {
    const c = buf[p];
    if (c === 0x22) return p + 1;
    if (c === 0x5c) {
      hadEscape = true;
      p += 2;
    } else p++;
  }
}

/**
 * Same as skipString for values, whose contents are never looked at: the
 * closing quote is found with a native search (memchr), then confirmed not to
 * be escaped (an even run of backslashes before it).
 */
function skipLongString(buf: Buffer, p: number): number {
  // short strings (most keys): a plain loop beats the native call
  const stop = p + 24;
  for (let i = p + 1; i < stop; i++) {
    const c = buf[i];
    if (c === 0x22) return i + 1;
    if (c === 0x5c) break;
  }
  for (;;) {
    const q = buf.indexOf(0x22, p + 1);
    let b = q - 1;
    while (buf[b] === 0x5c) b--;
    if (((q - 1 - b) & 1) === 0) return q + 1;
    p = q;
  }
}

/** p at the first byte of a value; returns the offset just past it. */
function skipValue(buf: Buffer, p: number): number {
  const c = buf[p];
  if (c === 0x22) return skipLongString(buf, p);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (;;) {
      const b = buf[p];
      if (b === 0x22) {
        p = skipLongString(buf, p);
        continue;
      }
      if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) {
        if (--depth === 0) return p + 1;
      }
      p++;
    }
  }
  // number / true / false / null: up to the next delimiter
  for (;;) {
    const b = buf[p];
    if (b === 0x2c || b === 0x7d || b === 0x5d || isWs(b) || p >= buf.length) return p;
    p++;
  }
}

function skipWs(buf: Buffer, p: number): number {
  while (isWs(buf[p])) p++;
  return p;
}

function keyMatch(buf: Buffer, q0: number, q1: number, node: PlanNode): { text: string; node: PlanNode } | undefined {
  if (hadEscape) {
    const text = JSON.parse(buf.toString('utf8', q0, q1)) as string;
    return node.keys.find((k) => k.text === text);
  }
  const n = q1 - q0 - 2;
  outer: for (const k of node.keys) {
    if (k.bytes.length !== n) continue;
    for (let i = 0; i < n; i++) if (buf[q0 + 1 + i] !== k.bytes[i]) continue outer;
    return k;
  }
  return undefined;
}

/** p at `{`; the object pruned to the keys on paths, and the offset past its `}`. */
function readObject(buf: Buffer, p: number, node: PlanNode, out: { end: number }): Record<string, unknown> {
  const obj = Object.create(null) as Record<string, unknown>;
  p = skipWs(buf, p + 1);
  if (buf[p] === 0x7d) {
    out.end = p + 1;
    return obj;
  }
  for (;;) {
    const q0 = p;
    p = skipString(buf, p);
    const hit = keyMatch(buf, q0, p, node);
    p = skipWs(buf, p);
    p = skipWs(buf, p + 1); // past ':'
    if (hit) {
      if (!hit.node.whole && buf[p] === 0x7b) {
        obj[hit.text] = readObject(buf, p, hit.node, out);
        p = out.end;
      } else {
        const e = skipValue(buf, p);
        obj[hit.text] = JSON.parse(buf.toString('utf8', p, e));
        p = e;
      }
    } else {
      p = skipValue(buf, p);
    }
    p = skipWs(buf, p);
    if (buf[p] === 0x2c) {
      p = skipWs(buf, p + 1);
      continue;
    }
    out.end = p + 1; // '}'
    return obj;
  }
}

/**
 * The configured paths' record, pruned: pass it to the extractor of the same
 * spec. Non-object records (and a '' path) are JSON.parse'd whole.
 */
export function compilePruner(paths: readonly string[]): (buf: Buffer, start: number, end: number) => unknown {
  const root = compileFieldPlan(paths).root;
  const out = { end: 0 };
  return (buf, start, end) => {
    const p = skipWs(buf, start);
    if (root.whole || buf[p] !== 0x7b) return JSON.parse(buf.toString('utf8', start, end));
    return readObject(buf, p, root, out);
  };
}

/**
 * The lazy reader: facts of the record in buf[start, end), equal to
 * compileExtractor(spec)(JSON.parse(those bytes)), read without the fused scan.
 */
export function compileLazyFieldReader(
  spec: ActivitiesSpec,
  extract: (record: unknown) => ActivityFacts = compileExtractor(spec),
): (buf: Buffer, start: number, end: number) => ActivityFacts {
  const prune = compilePruner(specPaths(spec));
  return (buf, start, end) => extract(prune(buf, start, end));
}
