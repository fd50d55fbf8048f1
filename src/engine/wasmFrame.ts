/**
 * The JSON-array export's element framer in the engine (assembly/frame.ts):
 * given an element that continues at b[p] in a framing state, where does it
 * end? Exactly what the byte loop in src/rewrite/export/jsonArray.ts
 * (scanElement) answers, at SIMD speed. That loop is production code too: it
 * frames scalar elements and finishes the rare element the engine hands back
 * (resume); with engineFraming off it is what the tests compare the engine with.
 *
 * The chunk is copied into the instance's FRAME window once (a window of
 * FRAME_BYTES at a time) and reused by the following calls on the same chunk.
 * Pure and synchronous.
 */
import { engineInstance, type EngineExports } from './wasmScan.js';

export interface FrameState {
  /** open brackets of the element; 0 = a string element (inStr) */
  depth: number;
  inStr: boolean;
  /** the next byte is escaped */
  esc: boolean;
}

/** frameElement: an opening bracket took the element past its depth limit */
export const FRAME_TOO_DEEP = -2;
/** frameElement: the chunk ended first; the state says where the element stands */
export const FRAME_MORE = -1;

/** What FRAME holds: a window of which chunk, in which instance. */
let held: { e: EngineExports; buf: Buffer; start: number; end: number } | null = null;

export interface FrameResult {
  /** the offset just past the element, FRAME_MORE or FRAME_TOO_DEEP; or, with `resume`, where the caller goes on by itself */
  at: number;
  /** true: the engine stopped early (a backslash outside a string); frame by hand from `at` with the state */
  resume: boolean;
}

/**
 * Frames the element from b[p] in `st` (updated in place). `limit` is the
 * deepest the element may nest (the JavaScript framer's checkDepth).
 */
export function frameElement(b: Buffer, p: number, st: FrameState, limit: number, out: FrameResult): FrameResult {
  const e = engineInstance();
  const n = b.length;
  const window = e.FRAME_BYTES.value as number;
  const base = e.FRAME.value as number;
  out.resume = false;
  while (p < n) {
    if (held === null || held.e !== e || held.buf !== b || p < held.start || p >= held.end) {
      const end = Math.min(n, p + window);
      new Uint8Array(e.memory.buffer, base, end - p).set(b.subarray(p, end));
      held = { e, buf: b, start: p, end };
    }
    const r = e.frame(p - held.start, held.end - held.start, st.depth, st.inStr ? 1 : 0, st.esc ? 1 : 0, limit);
    if (r >= 0) {
      st.depth = 0;
      st.inStr = false;
      st.esc = false;
      out.at = held.start + r;
      return out;
    }
    if (r === FRAME_TOO_DEEP) {
      out.at = FRAME_TOO_DEEP;
      return out;
    }
    st.depth = e.frameDepth.value as number;
    st.inStr = (e.frameInStr.value as number) !== 0;
    st.esc = (e.frameEsc.value as number) !== 0;
    if (r === -3) {
      out.at = held.start + (e.frameStop.value as number);
      out.resume = true;
      return out;
    }
    p = held.end;
  }
  out.at = FRAME_MORE;
  return out;
}

/** Forgets the copied window (tests; a chunk buffer reused with new bytes). */
export function forgetFrame(): void {
  held = null;
}
