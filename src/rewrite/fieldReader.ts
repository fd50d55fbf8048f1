/**
 * Field reader: ActivityFacts straight from the bytes of one JSON record,
 * without JSON.parse of the whole record (the hot path of list pages and NDJSON
 * exports, where records are ~2 KB and the decision reads 4–6 fields).
 *
 * The configured paths (id, timestamp, actor, groups, application) compile to a
 * plan; the validating scan (jsonScan / the wasm engine) records the byte range
 * of the last value at every plan node, and the values at the path ends are
 * JSON.parse'd (small: a string, a number, a tag array). The result is a pruned
 * copy of the record holding just those keys, handed to the ordinary extractor —
 * so the facts are exactly what compileExtractor would read from JSON.parse(record):
 *   - duplicate keys: the last occurrence wins and replaces the whole value (no merge);
 *   - keys are compared as JSON.parse decodes them (escapes like "d\u0061ta");
 *   - "__proto__" is an ordinary own key (the pruned objects have no prototype);
 *   - an array or scalar on the way is parsed whole, and dotpath reads it as usual.
 *
 * Precondition: the slots come from the scan that validated [start, end) as
 * ONE valid JSON value in valid UTF-8. Pure: no I/O.
 */
import { compileExtractor, type ActivitiesSpec } from '../privacy/extract.js';
import type { ActivityFacts } from '../privacy/types.js';

/** A node of the path trie: `whole` = some path ends here, so the value is parsed whole. */
interface PathNode {
  whole: boolean;
  keys: { text: string; bytes: Buffer; node: PathNode }[];
}

/** The dot paths a spec reads (id, timestamp, actor, groups, application). */
export function specPaths(spec: ActivitiesSpec): string[] {
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

function skipWs(buf: Buffer, p: number): number {
  while (isWs(buf[p])) p++;
  return p;
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
 * Same result as JSON.parse of those bytes pruned to the plan's paths.
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
 * Facts of the record in buf[start, end), equal to extract(JSON.parse(those bytes)),
 * in the fused form: scanJson({ fields: plan }) records the slots while it
 * validates, and fromSlots turns them into the facts.
 */
export interface FieldReader {
  readonly plan: FieldPlan;
  fromSlots(buf: Buffer, start: number, end: number, slots: ArrayLike<number>, at?: number): ActivityFacts;
}

/** The fused reader of a spec: facts equal to compileExtractor(spec)(JSON.parse(record)). */
export function compileFieldReader(spec: ActivitiesSpec, extract: (record: unknown) => ActivityFacts = compileExtractor(spec)): FieldReader {
  const plan = compileFieldPlan(specPaths(spec));
  return { plan, fromSlots: (buf, start, end, slots, at = 0) => extract(prunedFromSlots(plan, buf, start, end, slots, at)) };
}
