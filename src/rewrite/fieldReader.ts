/**
 * Field reader: ActivityFacts straight from the bytes of one JSON record,
 * without JSON.parse of the whole record (the hot path of list pages and NDJSON
 * exports, where records are ~2 KB and the decision reads 4–6 fields).
 *
 * The configured paths (id, timestamp, actor, groups, application) compile to a
 * plan; the validating scan (the engine, src/engine/) records the byte range
 * of the last value at every plan node. The value at each spec path is read
 * straight from those slots (descending through objects, parsing only the value
 * where the path ends or leaves the plan: a string, a number, a tag array) and
 * fed to the extractor's own facts logic (compileFactsReader) — so the facts are
 * exactly what compileExtractor would read from JSON.parse(record):
 *   - duplicate keys: the last occurrence wins and replaces the whole value (no merge);
 *   - keys are compared as JSON.parse decodes them (escapes like "d\u0061ta");
 *   - "__proto__" is an ordinary key (it has its own slot; JSON.parse makes it an
 *     own property of a parsed value, and dotpath reads own keys only);
 *   - an array or scalar on the way is parsed whole, and dotpath reads the rest of
 *     the path in it as usual (arrays by canonical index only, own keys only).
 *
 * Precondition: the slots come from the scan that validated [start, end) as
 * ONE valid JSON value in valid UTF-8. Pure: no I/O.
 */
import { isWs } from '../engine/jsonBytes.js';
import type { FieldPlan, PlanNode } from '../engine/types.js';
import { compileSegments, type PathReader } from '../privacy/dotpath.js';
import { compileExtractor, compileFactsReader, specPaths } from '../privacy/extract.js';
import type { ActivitiesSpec, ActivityFacts } from '../privacy/types.js';

/** A node of the path trie: `whole` = some path ends here, so the value is parsed whole. */
interface PathNode {
  whole: boolean;
  keys: { text: string; bytes: Buffer; node: PathNode }[];
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

function skipWs(buf: Buffer, p: number): number {
  while (isWs(buf[p])) p++;
  return p;
}

/** The engine's FieldPlan (engine/types.ts) of these dot paths: the scan records the last value at each node. */
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

/** One spec path over the plan: its nodes, and what to do where the bytes leave the plan. */
interface SlotPath {
  /** slot index (2 * node id) of the node of each segment */
  slot: Int32Array;
  /** per segment: the node is only on the way (not whole), so an object value is descended */
  open: Uint8Array;
  /** per segment but the last: dotpath's reader of the remaining segments, for a value parsed whole */
  rest: PathReader[];
}

function compileSlotPath(plan: FieldPlan, path: string): SlotPath {
  const segs = path.split('.');
  const slot = new Int32Array(segs.length);
  const open = new Uint8Array(segs.length);
  const rest: PathReader[] = [];
  let node = plan.root;
  segs.forEach((seg, k) => {
    const key = node.keys.find((x) => x.text === seg);
    if (key === undefined) throw new Error('fieldReader: path not in plan');
    node = key.node;
    slot[k] = 2 * node.id;
    open[k] = node.whole ? 0 : 1;
    rest.push(compileSegments(segs.slice(k + 1)));
  });
  return { slot, open, rest };
}

/**
 * The value at a spec path, from the slots of the record at `at` whose root is
 * an object (so the first segment's slot is the root's own key): equal to
 * dotpath's reader of that path over JSON.parse(record).
 */
function valueAtSlots(p: SlotPath, buf: Buffer, slots: ArrayLike<number>, at: number): unknown {
  const slot = p.slot;
  const last = slot.length - 1;
  for (let k = 0; ; k++) {
    const j = at + slot[k];
    const s = slots[j];
    // absent in the (last) object value of the parent: as Object.hasOwn → undefined
    if (s < 0) return undefined;
    if (k === last) return parseValue(buf, s, slots[j + 1]);
    if (p.open[k] === 1 && buf[s] === 0x7b) continue;
    // an array or scalar (or an object some other path reads whole): dotpath on its parsed value
    return p.rest[k](parseValue(buf, s, slots[j + 1]));
  }
}

/**
 * The reader of one path of the plan over the slots (the tests compare it with
 * dotpath over JSON.parse): the record at `at` must be an object and the plan
 * root not whole.
 */
export function compileSlotReader(plan: FieldPlan, path: string): (buf: Buffer, slots: ArrayLike<number>, at?: number) => unknown {
  const p = compileSlotPath(plan, path);
  return (buf, slots, at = 0) => valueAtSlots(p, buf, slots, at);
}

/**
 * Buffer's own decoder behind toString('utf8', start, end), without that call's
 * argument and encoding handling (a Buffer method since Node's first
 * releases, not in its typings); start and end must lie inside the buffer.
 */
interface Utf8Slicing {
  utf8Slice(start: number, end: number): string;
}

/**
 * JSON.parse of one validated value buf[s, e) (no surrounding whitespace).
 * Literals, integers of up to 15 digits (exact in a double), empty arrays and
 * strings without a backslash (valid UTF-8, no control characters: the scan
 * checked) are read from the bytes; everything else goes through JSON.parse.
 */
export function parseValue(buf: Buffer, s: number, e: number): unknown {
  const c = buf[s];
  if (c === 0x22) {
    let i = s + 1;
    const q = e - 1;
    while (i < q && buf[i] !== 0x5c) i++;
    if (i === q) return (buf as unknown as Utf8Slicing).utf8Slice(s + 1, q);
  } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
    let i = c === 0x2d ? s + 1 : s;
    if (e - i <= 15) {
      let v = 0;
      for (; i < e; i++) {
        const d = buf[i] - 0x30;
        if (d < 0 || d > 9) break;
        v = v * 10 + d;
      }
      if (i === e) return c === 0x2d ? -v : v;
    }
  } else if (c === 0x74) return true;
  else if (c === 0x66) return false;
  else if (c === 0x6e) return null;
  else if (c === 0x5b && buf[s + 1] === 0x5d) return [];
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

/**
 * The fused reader of a spec: facts equal to compileExtractor(spec)(JSON.parse(record)).
 * The values at the spec paths are read from the slots (valueAtSlots) into the
 * extractor's facts logic; a record whose root is not an object (or a spec that
 * reads the root itself) is JSON.parse'd whole.
 */
const NO_SLOTS: ArrayLike<number> = [];

export function compileFieldReader(spec: ActivitiesSpec): FieldReader {
  const paths = specPaths(spec);
  const plan = compileFieldPlan(paths);
  const extract = compileExtractor(spec);
  const byPath = plan.root.whole ? [] : paths.map((p) => compileSlotPath(plan, p));
  /* The record being read (the reader is synchronous, so this is never shared); cleared after each call. */
  const cur: { buf: Buffer | undefined; slots: ArrayLike<number>; at: number } = { buf: undefined, slots: [], at: 0 };
  const facts = compileFactsReader<typeof cur>(spec, (r, i) => valueAtSlots(byPath[i], r.buf!, r.slots, r.at));
  return {
    plan,
    fromSlots(buf, start, end, slots, at = 0) {
      start = skipWs(buf, start);
      if (plan.root.whole || buf[start] !== 0x7b) return extract(JSON.parse(buf.toString('utf8', start, end)));
      cur.buf = buf;
      cur.slots = slots;
      cur.at = at;
      try {
        return facts(cur);
      } finally {
        cur.buf = undefined;
        cur.slots = NO_SLOTS;
      }
    },
  };
}
