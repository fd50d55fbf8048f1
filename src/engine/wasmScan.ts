/**
 * The WebAssembly SIMD scanning engine (assembly/scan.ts, built by `npm run
 * build` into dist/engine/scan.wasm): the contract of types.ts, exactly as
 * scanJson in jsonScan.ts answers it — same accept/reject, same element
 * ranges, totals and field slots — in about half its CPU time. The JavaScript
 * scanner is its production fallback (and, in test/unit/engine/, the second
 * implementation it is compared with):
 *   - a configured path segment that is not well-formed Unicode (a lone
 *     surrogate has no UTF-8 form to compare raw key bytes with) → the
 *     JavaScript scanner;
 *   - a body larger than MAX_ENGINE_BYTES (the gateway never buffers one:
 *     maxBufferedBytes) → the JavaScript scanner.
 *
 * UTF-8 is validated here with node:buffer isUtf8 (simdutf) before the bytes
 * are copied into the instance's memory; the engine validates everything else.
 *
 * Memory: the instance grows to the largest body scanned (plus its result
 * table); when that passes RETAIN_BYTES the instance is dropped after the scan
 * and a fresh one is made on the next call, so one large body does not pin
 * its memory for the life of the process.
 *
 * Pure and synchronous (no I/O after the module is loaded once).
 */
import { readFileSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { BodyInvalidError } from './errors.js';
import { scanJson } from './jsonScan.js';
import type { ArrayHit, ByteRange, ElementHit, FastScanResult, FieldPlan, JsonKind, PlanNode, ScanOptions } from './types.js';

/** Bodies above this go to the JavaScript scanner (the gateway's own limit is maxBufferedBytes). */
export const MAX_ENGINE_BYTES = 256 * 1024 * 1024;
/** Slot tables up to this many entries are returned as plain arrays (see collect). */
const SMALL_SLOTS = 256;
/** An instance whose memory grew past this is dropped after the scan. */
export const RETAIN_BYTES = 16 * 1024 * 1024;

interface Exports {
  memory: WebAssembly.Memory;
  CFG: WebAssembly.Global;
  INPUT: WebAssembly.Global;
  STATUS: WebAssembly.Global;
  errCode: WebAssembly.Global;
  errPos: WebAssembly.Global;
  root: WebAssembly.Global;
  outCount: WebAssembly.Global;
  slotCount: WebAssembly.Global;
  scan(len: number, outBase: number, outEnd: number, slotBase: number, slotEnd: number): number;
  reset(): void;
  // the JSON-array export framer (assembly/frame.ts, used by wasmFrame.ts)
  FRAME: WebAssembly.Global;
  FRAME_BYTES: WebAssembly.Global;
  frameDepth: WebAssembly.Global;
  frameInStr: WebAssembly.Global;
  frameEsc: WebAssembly.Global;
  frameStop: WebAssembly.Global;
  frame(p: number, end: number, depth: number, inStr: number, esc: number, limit: number): number;
  // stage 1's byte classification of the 64 bytes at p, as masks (for the tests)
  classify(p: number): void;
  frameClassify(p: number): void;
}

export type EngineExports = Exports;

const REASONS = [
  'invalid JSON',
  'unterminated string',
  'control character in string',
  'bad escape',
  'expected key',
  'expected colon',
  'unexpected end',
  'items path is not an array',
  'nesting too deep',
  'bad number',
  'bad literal',
  'unexpected byte',
  'trailing data',
  'expected comma or closing bracket',
];
const KINDS: JsonKind[] = ['null', 'object', 'array', 'string', 'number', 'boolean', 'null'];

let module: WebAssembly.Module | null = null;
let inst: Exports | null = null;
let CFG = 0;
let INPUT = 0;
/** i32 index of the STATUS block: outCount, slotCount, root, errCode, errPos */
let ST = 0;

/** Where the built module is: next to this file in dist/, or dist/engine/ when running from src/ (tests). */
function wasmBytes(): Uint8Array<ArrayBuffer> {
  const here = new URL('./scan.wasm', import.meta.url);
  try {
    return new Uint8Array(readFileSync(here));
  } catch {
    return new Uint8Array(readFileSync(new URL('../../dist/engine/scan.wasm', import.meta.url)));
  }
}

/**
 * Compiles and instantiates the engine now (the gateway calls it at start, so
 * a missing or broken dist/engine/scan.wasm stops the start with a clear error
 * instead of failing the first filtered request).
 */
export function loadEngine(): void {
  try {
    instance();
  } catch (err) {
    throw new Error(`the scanning engine (dist/engine/scan.wasm) cannot be loaded: run npm run build (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
}

function instance(): Exports {
  if (inst !== null) return inst;
  module ??= new WebAssembly.Module(wasmBytes());
  const e = new WebAssembly.Instance(module, {}).exports as unknown as Exports;
  CFG = e.CFG.value as number;
  INPUT = e.INPUT.value as number;
  ST = (e.STATUS.value as number) >> 2;
  grow(e.memory, INPUT + 65536);
  e.reset();
  inst = e;
  engineStats.instances++;
  return e;
}

/**
 * The current instance for the engine's other entry points (wasmFrame.ts).
 * An instance may be replaced after any scan (see release): callers that keep
 * bytes in its memory across calls compare the instance, not just the bytes.
 */
export function engineInstance(): EngineExports {
  return instance();
}

function grow(mem: WebAssembly.Memory, bytes: number): void {
  const have = mem.buffer.byteLength;
  if (bytes > have) mem.grow(Math.ceil((bytes - have) / 65536));
}

/** Counters for tests and metrics: how often the JavaScript scanner had to take over. */
export const engineStats = { scans: 0, fallbacks: 0, instances: 0 };

// ---- config encoding (paths and the field plan), cached per options ----

interface Encoded {
  words: Int32Array;
  /** every path segment is well-formed Unicode (its UTF-8 bytes say what its text says) */
  wellFormed: boolean;
}
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const encodedCache = new Map<string, WeakMap<object, Encoded> | Encoded>();
const NO_PLAN = {};

function encode(items: string | undefined, total: string | undefined, plan: FieldPlan | undefined): Encoded {
  const key = `${items === undefined ? '\u0000' : items}\u0001${total === undefined ? '\u0000' : total}`;
  let byPlan = encodedCache.get(key) as WeakMap<object, Encoded> | undefined;
  if (byPlan === undefined) {
    if (encodedCache.size > 64) encodedCache.clear();
    byPlan = new WeakMap();
    encodedCache.set(key, byPlan);
  }
  const pk = plan ?? NO_PLAN;
  let enc = byPlan.get(pk);
  if (enc === undefined) {
    enc = build(items, total, plan);
    byPlan.set(pk, enc);
  }
  return enc;
}

function build(items: string | undefined, total: string | undefined, plan: FieldPlan | undefined): Encoded {
  const words: number[] = [0, 0, 0, 0, 0, 0];
  const bytes: Buffer[] = [];
  let byteLen = 0;
  const deferred: [number, Buffer][] = []; // word index of a byte offset, and the bytes
  let wellFormed = true;
  const text = (t: string): Buffer => {
    if (LONE_SURROGATE.test(t)) wellFormed = false;
    return Buffer.from(t, 'utf8');
  };
  const seg = (b: Buffer): void => {
    deferred.push([words.length, b]);
    words.push(0, b.length);
  };
  const segs = (path: string | undefined): number => {
    if (path === undefined) return -2;
    if (path === '') return 0;
    const parts = path.split('.');
    for (const p of parts) seg(text(p));
    return parts.length;
  };
  words[3] = words.length;
  words[0] = segs(items);
  words[4] = words.length;
  words[1] = segs(total);
  words[5] = words.length;
  if (plan) {
    words[2] = plan.size;
    const nodes: PlanNode[] = new Array<PlanNode>(plan.size);
    const visit = (n: PlanNode): void => {
      nodes[n.id] = n;
      for (const k of n.keys) visit(k.node);
    };
    visit(plan.root);
    const nodeBase = words.length;
    for (let i = 0; i < plan.size; i++) words.push(0, 0, 0, 0, 0);
    for (let i = 0; i < plan.size; i++) {
      const n = nodes[i];
      const at = nodeBase + 5 * i;
      words[at] = n.whole ? 1 : 0;
      words[at + 1] = n.keys.length;
      words[at + 2] = words.length;
      words[at + 3] = n.last;
      // the byte lengths of its keys (bit 31: 31 bytes or more), so a key of another length is passed over
      words[at + 4] = n.keys.reduce((m, k) => m | (1 << Math.min(k.bytes.length, 31)), 0);
      for (const k of n.keys) {
        text(k.text);
        deferred.push([words.length, k.bytes]);
        words.push(0, k.bytes.length, k.node.id);
      }
    }
  }
  const byteStart = words.length * 4;
  for (const [w, b] of deferred) {
    words[w] = byteStart + byteLen;
    bytes.push(b);
    byteLen += b.length;
  }
  const out = new Int32Array(words.length + Math.ceil(byteLen / 4));
  out.set(words);
  Buffer.concat(bytes).copy(Buffer.from(out.buffer), byteStart);
  return { words: out, wellFormed };
}

let lastConfig: Encoded | null = null;
let memo: { items?: string; total?: string; fields?: FieldPlan; cfg: Encoded } | null = null;

/** Views of the instance memory, remade only when it grew (a grown memory has a new buffer). */
let u8: Uint8Array | null = null;
let i32: Int32Array | null = null;
function bytesOf(e: Exports): Uint8Array {
  if (u8 === null || u8.buffer !== e.memory.buffer) {
    u8 = new Uint8Array(e.memory.buffer);
    i32 = new Int32Array(e.memory.buffer);
  }
  return u8;
}
function wordsOf(e: Exports): Int32Array {
  bytesOf(e);
  return i32!;
}

/**
 * Validates `buf` as one JSON text and locates the items arrays, total numbers
 * and field slots: exactly scanJson(buf, opts), faster.
 */
export function scanJsonFast(buf: Buffer, opts: ScanOptions = {}, utf8Checked = false): FastScanResult {
  const e = runEngine(buf, opts, utf8Checked);
  if (e === null) return fallback(buf, opts);
  const result = collect(e, lastOut, lastSlots, lastS > 0, opts.items !== undefined);
  release(e);
  return result;
}

/** Where the engine's last successful scan left its record table and slots, and the slots per element. */
let lastOut = 0;
let lastSlots = 0;
let lastS = 0;

/** The field slots of one record, where scanSlotsFast put them. */
export interface SlotsView {
  /** the slots are slots[at], slots[at + 1], … (as FieldReader.fromSlots reads them) */
  slots: ArrayLike<number>;
  at: number;
}

/**
 * The field slots of one record (an NDJSON line, a JSON export element):
 * scanJsonFast(buf, opts, utf8Checked).slots — same validation, same errors —
 * without building its result. `out` gets a view of the engine's memory and
 * the slots' index in it, valid until the next scan: no result object, arrays
 * or slot table allocated per record. opts: fields, no items or total.
 */
export function scanSlotsFast(buf: Buffer, opts: ScanOptions, utf8Checked: boolean, out: SlotsView): SlotsView {
  const e = runEngine(buf, opts, utf8Checked);
  if (e === null) {
    out.slots = fallback(buf, opts).slots ?? [];
    out.at = 0;
    return out;
  }
  out.slots = wordsOf(e);
  out.at = lastSlots >> 2;
  release(e);
  return out;
}

/**
 * Scans buf in the engine: its instance, with the tables at lastOut and
 * lastSlots (the caller reads them, then calls release), or null when the
 * JavaScript scanner must answer instead. Throws BodyInvalidError.
 */
function runEngine(buf: Buffer, opts: ScanOptions, utf8Checked: boolean): Exports | null {
  if (buf.length > MAX_ENGINE_BYTES) return null;
  // utf8Checked: the caller validated a span that holds all of buf (an NDJSON chunk's complete lines)
  if (!utf8Checked && !isUtf8(buf)) throw new BodyInvalidError('invalid UTF-8');
  const e = instance();
  // the same options as the previous scan (an NDJSON stream, line after line): no lookup
  let cfg: Encoded;
  if (memo !== null && memo.items === opts.items && memo.total === opts.total && memo.fields === opts.fields) cfg = memo.cfg;
  else {
    cfg = encode(opts.items, opts.total, opts.fields);
    memo = { items: opts.items, total: opts.total, fields: opts.fields, cfg };
  }
  if (!cfg.wellFormed) return null;
  if (cfg !== lastConfig) {
    new Int32Array(e.memory.buffer, CFG, cfg.words.length).set(cfg.words);
    lastConfig = cfg;
  }
  engineStats.scans++;
  const len = buf.length;
  const padded = ((len + 63) & ~63) + 64;
  const S = opts.fields ? 2 * opts.fields.size : 0;
  let outCap = 16 * (64 + (len >> 7));
  let slotCap = S === 0 ? 0 : 4 * S * (4 + (len >> 9));
  for (;;) {
    const outBase = INPUT + padded;
    const slotBase = outBase + outCap;
    grow(e.memory, slotBase + slotCap);
    const mem = bytesOf(e);
    mem.set(buf, INPUT);
    mem.fill(0x20, INPUT + len, INPUT + padded);
    const status = e.scan(len, outBase, slotBase, slotBase, slotBase + slotCap);
    if (status === 0) {
      lastOut = outBase;
      lastSlots = slotBase;
      lastS = S;
      return e;
    }
    e.reset();
    if (status === 1) {
      const w = wordsOf(e);
      const reason = REASONS[w[ST + 3]] ?? REASONS[0];
      const pos = w[ST + 4];
      release(e);
      throw new BodyInvalidError(`${reason} at byte ${pos}`);
    }
    // 3: the result table did not fit; make room and scan again
    outCap *= 4;
    slotCap = S === 0 ? 0 : slotCap * 4;
  }
}

function fallback(buf: Buffer, opts: ScanOptions): FastScanResult {
  engineStats.fallbacks++;
  return scanJson(buf, opts);
}

function release(e: Exports): void {
  if (e.memory.buffer.byteLength > RETAIN_BYTES) {
    inst = null;
    lastConfig = null;
    u8 = null;
    i32 = null;
  }
}

function collect(e: Exports, outBase: number, slotBase: number, withSlots: boolean, itemsGiven: boolean): FastScanResult {
  const t = wordsOf(e);
  const n = t[ST];
  const arrays: ArrayHit[] = [];
  const totals: ByteRange[] = [];
  let cur: ElementHit[] = [];
  let arr: ArrayHit | null = null;
  for (let i = outBase >> 2, end = i + 4 * n; i < end; i += 4) {
    const tag = t[i];
    if (tag === 1) cur.push(withSlots ? { start: t[i + 1], end: t[i + 2], slot: t[i + 3] } : { start: t[i + 1], end: t[i + 2] });
    else if (tag === 2) {
      cur = [];
      arr = { start: t[i + 1], end: -1, elements: cur };
      arrays.push(arr);
    } else if (tag === 3) arr!.end = t[i + 1];
    else totals.push({ start: t[i + 1], end: t[i + 2] });
  }
  const root = KINDS[t[ST + 2]];
  if (itemsGiven && arrays.length === 0) throw new BodyInvalidError('items path not found');
  if (!withSlots) return { root, arrays, totals };
  const s0 = slotBase >> 2;
  const count = t[ST + 1];
  const w = wordsOf(e);
  // one record (an NDJSON line, an item): a plain array stays on the JS heap; a typed
  // array above 64 bytes would get an off-heap backing store per line (external memory, GC pressure)
  let slots: ArrayLike<number>;
  if (count <= SMALL_SLOTS) {
    const a = new Array<number>(count);
    for (let i = 0; i < count; i++) a[i] = w[s0 + i];
    slots = a;
  } else slots = w.slice(s0, s0 + count);
  return { root, arrays, totals, slots };
}
