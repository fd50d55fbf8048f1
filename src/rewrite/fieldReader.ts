/**
 * Lazy field reader: ActivityFacts straight from the bytes of one JSON record,
 * without JSON.parse of the whole record (the hot path of list pages and NDJSON
 * exports, where records are ~2 KB and the decision reads 4–6 fields).
 *
 * It walks only the objects on a configured path (id, timestamp, actor, groups,
 * application) and skips every other value by its bytes; the values at the
 * path ends are JSON.parse'd (small: a string, a number, a tag array). The
 * result is a pruned copy of the record holding just those keys, handed to the
 * ordinary extractor — so the facts are exactly what compileExtractor would
 * read from JSON.parse(record):
 *   - duplicate keys: the last occurrence wins and replaces the whole value (no merge);
 *   - keys are compared as JSON.parse decodes them (escapes like "d\u0061ta");
 *   - "__proto__" is an ordinary own key (the pruned objects have no prototype);
 *   - an array or scalar on the way is parsed whole, and dotpath reads it as usual.
 *
 * Precondition: [start, end) is ONE valid JSON value in valid UTF-8 (validated
 * by scanJson). Malformed input gives unspecified facts, so never skip validation.
 * Pure: no I/O.
 */
import { compileExtractor, type ActivitiesSpec } from '../privacy/extract.js';
import type { ActivityFacts } from '../privacy/types.js';

/** A node of the path trie: `whole` = some path ends here, so the value is parsed whole. */
interface PathNode {
  whole: boolean;
  keys: { text: string; bytes: Buffer; node: PathNode }[];
}

function specPaths(spec: ActivitiesSpec): string[] {
  const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  const paths = [spec.id, spec.timestamp, ...list(spec.actor), ...list(spec.groups)];
  if (spec.application) paths.push(spec.application.path);
  return paths;
}

function buildTrie(paths: readonly string[]): PathNode {
  const root: PathNode = { whole: false, keys: [] };
  for (const p of paths) {
    let node = root;
    if (p === '') {
      root.whole = true;
      continue;
    }
    for (const seg of p.split('.')) {
      let next = node.keys.find((k) => k.text === seg);
      if (!next) {
        next = { text: seg, bytes: Buffer.from(seg, 'utf8'), node: { whole: false, keys: [] } };
        node.keys.push(next);
      }
      node = next.node;
    }
    node.whole = true;
  }
  return root;
}

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

function keyMatch(buf: Buffer, q0: number, q1: number, node: PathNode): { text: string; node: PathNode } | undefined {
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
function readObject(buf: Buffer, p: number, node: PathNode, out: { end: number }): Record<string, unknown> {
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
  const root = buildTrie(paths);
  const out = { end: 0 };
  return (buf, start, end) => {
    const p = skipWs(buf, start);
    if (root.whole || buf[p] !== 0x7b) return JSON.parse(buf.toString('utf8', start, end));
    return readObject(buf, p, root, out);
  };
}

/**
 * Compiled paths for the fused scan (jsonScan records the byte range of the
 * last value at every trie node while it validates). Nodes are numbered in
 * depth-first preorder, so a node's subtree is the id range [id, last].
 * Slot layout of one record from its offset `at`: slots[at+2*id] = start,
 * slots[at+2*id+1] = end, -1 = absent.
 */
export interface FieldPlan {
  /** number of nodes, root included (id 0) */
  size: number;
  root: PlanNode;
}

export interface PlanNode {
  id: number;
  /** last id of this node's subtree */
  last: number;
  /** some path ends here: the value is parsed whole, never descended */
  whole: boolean;
  keys: PlanKey[];
}

export interface PlanKey {
  text: string;
  bytes: Buffer;
  node: PlanNode;
}

export function compileFieldPlan(paths: readonly string[]): FieldPlan {
  let next = 0;
  const number = (t: PathNode): PlanNode => {
    const node: PlanNode = { id: next++, last: 0, whole: t.whole, keys: [] };
    for (const k of t.keys) node.keys.push({ text: k.text, bytes: k.bytes, node: number(k.node) });
    node.last = next - 1;
    return node;
  };
  const root = number(buildTrie(paths));
  return { size: next, root };
}

/**
 * The pruned record from the slots the fused scan recorded for the element
 * buf[start, end): for each key on a path, its last value, descended when it
 * is an object on the way to a deeper path end, else JSON.parse'd whole.
 * Same result as compilePruner on the same bytes.
 */
export function prunedFromSlots(plan: FieldPlan, buf: Buffer, start: number, end: number, slots: ArrayLike<number>, at = 0): unknown {
  const root = plan.root;
  start = skipWs(buf, start);
  if (root.whole || buf[start] !== 0x7b) return JSON.parse(buf.toString('utf8', start, end));
  return buildObject(root, buf, slots, at);
}

function buildObject(node: PlanNode, buf: Buffer, slots: ArrayLike<number>, at: number): Record<string, unknown> {
  const obj = Object.create(null) as Record<string, unknown>;
  for (const k of node.keys) {
    const c = k.node;
    const s = slots[at + 2 * c.id];
    if (s < 0) continue;
    obj[k.text] = !c.whole && buf[s] === 0x7b ? buildObject(c, buf, slots, at) : parseSlice(buf, s, slots[at + 2 * c.id + 1]);
  }
  return obj;
}

/**
 * JSON.parse of one validated value. A string without a backslash is its raw
 * bytes (valid UTF-8, no control characters: the scan checked), decoded
 * directly; everything else goes through JSON.parse.
 */
function parseSlice(buf: Buffer, s: number, e: number): unknown {
  if (buf[s] === 0x22) {
    let i = s + 1;
    while (i < e - 1 && buf[i] !== 0x5c) i++;
    if (i === e - 1) return buf.toString('utf8', s + 1, e - 1);
  }
  return JSON.parse(buf.toString('utf8', s, e));
}

/**
 * Facts of the record in buf[start, end), equal to extract(JSON.parse(those bytes)).
 * `plan` + `fromSlots` is the fused form: scanJson({ fields: plan }) records the
 * slots while validating, and fromSlots turns them into the same facts.
 */
export interface FieldReader {
  (buf: Buffer, start: number, end: number): ActivityFacts;
  plan?: FieldPlan;
  fromSlots?: (buf: Buffer, start: number, end: number, slots: ArrayLike<number>, at?: number) => ActivityFacts;
}

/** Facts of the record in buf[start, end), equal to compileExtractor(spec)(JSON.parse(those bytes)). */
export function compileFieldReader(spec: ActivitiesSpec, extract: (record: unknown) => ActivityFacts = compileExtractor(spec)): FieldReader {
  const paths = specPaths(spec);
  const prune = compilePruner(paths);
  const plan = compileFieldPlan(paths);
  const reader: FieldReader = (buf, start, end) => extract(prune(buf, start, end));
  reader.plan = plan;
  reader.fromSlots = (buf, start, end, slots, at = 0) => extract(prunedFromSlots(plan, buf, start, end, slots, at));
  return reader;
}
