/**
 * Reading the governance file line by line and checking its chain. Used by the
 * file sink (read / verify / recovery on open) and by the CLI
 * `apg governance verify`, which opens the file read-only.
 */
import { open } from 'node:fs/promises';
import { ChainChecker, isEntryLike } from './chain.js';

/** The part of a file handle line scanning needs (node's FileHandle fits). */
export interface ReadableHandle {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

export interface Line {
  /** byte offset of the line's first byte */
  offset: number;
  /** the line's bytes without the newline */
  bytes: Buffer;
  /** false only for a final line with no trailing newline */
  terminated: boolean;
}

const CHUNK = 64 * 1024;

/** The most trailing unreadable lines the sink cuts on open (a crash mid-batch); more, and it refuses to start. */
export const MAX_TORN_LINES = 64;

/** Streams the lines in [start, end) with bounded memory (one chunk plus the longest line). */
export async function* scanLines(handle: ReadableHandle, start: number, end: number): AsyncGenerator<Line> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = start;
  let carry: Buffer | undefined; // bytes of an unfinished line from earlier chunks
  let lineStart = start;
  while (pos < end) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, end - pos), pos);
    if (bytesRead === 0) break; // file shorter than expected (truncated under us)
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, from);
      if (nl === -1 || nl >= bytesRead) break;
      const piece = buf.subarray(from, nl);
      const bytes = carry ? Buffer.concat([carry, piece]) : Buffer.from(piece);
      carry = undefined;
      yield { offset: lineStart, bytes, terminated: true };
      from = nl + 1;
      lineStart = pos + from;
    }
    if (from < bytesRead) {
      const rest = Buffer.from(buf.subarray(from, bytesRead));
      carry = carry ? Buffer.concat([carry, rest]) : rest;
    }
    pos += bytesRead;
  }
  if (carry && carry.length > 0) yield { offset: lineStart, bytes: carry, terminated: false };
}

/**
 * A final line a crash mid-write can leave: no newline, or not a JSON entry.
 * The sink cuts it on open; verification does not count it.
 */
export function isTornTail(line: Line, parsed: unknown): boolean {
  return !line.terminated || !isEntryLike(parsed);
}

/** JSON.parse that answers undefined instead of throwing. */
export function parseLine(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Bytes after the last complete entry that are not an entry: what a crash mid-write leaves, or garbage appended. */
export interface TornTail {
  bytes: number;
  /** the seq of the last complete entry before them (0: none) */
  afterSeq: number;
}

export type FileVerifyResult = { ok: true; count: number; tornTail?: TornTail } | { ok: false; count: number; brokenAtSeq: number; tornTail?: TornTail };

/**
 * Recomputes the chain over [0, end): seq 1..n contiguous, prevHash links,
 * hash matches. Unreadable lines (no newline, or not a JSON entry) after the last
 * complete entry are what a crash mid-write leaves and what the sink cuts on open,
 * so they are reported as `tornTail` (their size) and not counted rather than as
 * tampering; an unreadable line with an entry after it is a break.
 */
export async function verifyRange(handle: ReadableHandle, end: number): Promise<FileVerifyResult> {
  const checker = new ChainChecker();
  let tornFrom = -1; // offset of the first of the unreadable lines in a row, judged once we know whether anything good follows
  for await (const line of scanLines(handle, 0, end)) {
    const parsed = line.terminated ? parseLine(line.bytes) : undefined;
    if (isTornTail(line, parsed)) {
      if (tornFrom < 0) tornFrom = line.offset;
      continue;
    }
    // an unreadable line followed by a good one is damage, not a torn tail
    checker.feed(tornFrom >= 0 ? undefined : parsed);
    if (checker.brokenAtSeq !== undefined) return checker.result();
  }
  if (tornFrom < 0) return checker.result();
  return { ...checker.result(), tornTail: { bytes: end - tornFrom, afterSeq: checker.count } };
}

/** Verifies a governance file without opening it for writing (CLI `apg governance verify`). */
export async function verifyFile(file: string): Promise<FileVerifyResult> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    return await verifyRange(handle, size);
  } finally {
    await handle.close();
  }
}

/** seq and hash of every readable entry line of a governance file, in file order (read-only). */
export async function* fileChainHeads(file: string): AsyncGenerator<{ seq: number; hash: string }> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    for await (const line of scanLines(handle, 0, size)) {
      const parsed = line.terminated ? parseLine(line.bytes) : undefined;
      if (isEntryLike(parsed)) yield { seq: parsed.seq, hash: parsed.hash };
    }
  } finally {
    await handle.close();
  }
}
