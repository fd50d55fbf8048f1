/**
 * The pruned-object field reader, kept for tests only as the reference oracle
 * of src/rewrite/fieldReader.ts (which now reads the value at each spec path
 * straight from the slots). From the slots the validating scan recorded, it
 * builds a prototype-less copy of the record holding just the plan's keys
 * (descending objects on the way to a deeper path end, JSON.parse'ing
 * everything else whole) and hands it to the ordinary extractor.
 *
 * Precondition: the slots come from the scan that validated [start, end) as
 * ONE valid JSON value in valid UTF-8.
 */
import { compileExtractor, specPaths } from '../../src/privacy/extract.js';
import type { ActivitiesSpec, ActivityFacts } from '../../src/privacy/types.js';
import type { FieldPlan, PlanNode } from '../../src/engine/types.js';
import { compileFieldPlan } from '../../src/rewrite/fieldReader.js';

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipWs(buf: Buffer, p: number): number {
  while (isWs(buf[p])) p++;
  return p;
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

/** JSON.parse of one validated value; a string without a backslash is decoded from its bytes. */
function parseSlice(buf: Buffer, s: number, e: number): unknown {
  if (buf[s] === 0x22) {
    let i = s + 1;
    while (i < e - 1 && buf[i] !== 0x5c) i++;
    if (i === e - 1) return buf.toString('utf8', s + 1, e - 1);
  }
  return JSON.parse(buf.toString('utf8', s, e));
}

/** The former production reader: the pruned record handed to compileExtractor. */
export function compilePrunedFieldReader(spec: ActivitiesSpec, extract: (record: unknown) => ActivityFacts = compileExtractor(spec)) {
  const plan = compileFieldPlan(specPaths(spec));
  return {
    plan,
    fromSlots: (buf: Buffer, start: number, end: number, slots: ArrayLike<number>, at = 0): ActivityFacts =>
      extract(prunedFromSlots(plan, buf, start, end, slots, at)),
  };
}
