/**
 * The scanning engine's contract: what a scan is asked (ScanOptions, with the
 * compiled field plan) and what it answers (ScanResult). Both scanners
 * implement it — the WebAssembly engine (wasmScan.ts, assembly/scan.ts) and
 * its JavaScript fallback (jsonScan.ts) — and rewrite/ builds on it (the list
 * and item filters, the export framers, fieldReader.ts compiles the plan and
 * reads facts from the slots). Plain data: no imports.
 */

export interface ByteRange {
  /** offset of the first byte */
  start: number;
  /** offset just past the last byte */
  end: number;
}

/** One element (record) of an items array. */
export interface ElementHit extends ByteRange {
  /** with `fields`: where this element's slots start in ScanResult.slots */
  slot?: number;
}

/** One array found at the items path: [start,end) spans `[` … `]`. */
export interface ArrayHit extends ByteRange {
  elements: ElementHit[];
}

export type JsonKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

/**
 * Compiled paths for the fused field read (rewrite/fieldReader.ts
 * compileFieldPlan builds it from the activity paths): the scan records the
 * byte range of the last value at every trie node while it validates. Nodes
 * are numbered in depth-first preorder, so a node's subtree is the id range
 * [id, last]. Slot layout of one record from its offset `at`:
 * slots[at+2*id] = start, slots[at+2*id+1] = end, -1 = absent.
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

export interface ScanOptions {
  /** dot path of the array(s) to report; '' = the top-level value. Absent = validate only. */
  items?: string;
  /** dot path of the number(s) to report; non-number values there are ignored. */
  total?: string;
  /**
   * Fused field read: while validating each record (each element of the items
   * arrays, or the top-level value when no items path is given), record the
   * byte range of the LAST value of every plan node, as JSON.parse would keep it
   * (a later duplicate key replaces the whole earlier value, so it clears the
   * ranges recorded under it). Only objects are descended.
   */
  fields?: FieldPlan;
}

export interface ScanResult {
  /** kind of the top-level value */
  root: JsonKind;
  /** every array at the items path, in body order (empty when no items path was given) */
  arrays: ArrayHit[];
  /** every number at the total path, in body order */
  totals: ByteRange[];
  /**
   * with `fields`: the byte ranges of the last value at each plan node, per
   * record (FieldPlan slot layout from the record's offset: ElementHit.slot, or
   * 0 for the top-level value when no items path is given)
   */
  slots?: number[];
}

/** The engine's answer: a ScanResult whose field slots may be a typed array (a copy, owned by the caller). */
export interface FastScanResult extends Omit<ScanResult, 'slots'> {
  slots?: ArrayLike<number>;
}
