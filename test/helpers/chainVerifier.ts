/**
 * Independent verifier of the governance log format (SPEC §6), written apart
 * from src/governance on purpose: tests check the sink against this, so a
 * shared mistake cannot make both agree. Do not import src/governance here.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const ZERO = '0000000000000000000000000000000000000000000000000000000000000000';
const KEY_ORDER = [
  'seq',
  'id',
  'time',
  'action',
  'principal',
  'via',
  'request',
  'privateActivities',
  'target',
  'reason',
  'scope',
  'permission',
  'denial',
  'revealRequest',
  'token',
  'instance',
  'prevHash',
  'hash',
];

/** Canonical JSON built by hand: keys compared by UTF-16 code units, no whitespace. */
export function canonical(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) {
      if (i > 0) s += ',';
      s += v[i] === undefined ? 'null' : canonical(v[i]);
    }
    return s + ']';
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined);
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonical(o[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

export function entryHash(prevHash: string, entry: Record<string, unknown>): string {
  const copy: Record<string, unknown> = { ...entry };
  delete copy.hash;
  return createHash('sha256')
    .update(`${prevHash}\n${canonical(copy)}`, 'utf8')
    .digest('hex');
}

export interface ChainReport {
  ok: boolean;
  count: number;
  brokenAtSeq?: number;
  reason?: string;
  entries: Array<Record<string, unknown>>;
}

/** Checks a whole file: complete lines only, seq 1..n, prevHash links, hashes, key order. */
export function verifyChainFile(file: string): ChainReport {
  const text = readFileSync(file, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) {
    return { ok: false, count: 0, brokenAtSeq: 0, reason: 'file does not end with a newline', entries: [] };
  }
  const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n');
  const entries: Array<Record<string, unknown>> = [];
  let prev = ZERO;
  for (let i = 0; i < lines.length; i++) {
    const want = i + 1;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(lines[i]);
    } catch {
      return { ok: false, count: i, brokenAtSeq: want, reason: 'not JSON', entries };
    }
    const fail = (reason: string): ChainReport => ({ ok: false, count: i, brokenAtSeq: want, reason, entries });
    if (e.seq !== want) return fail(`seq ${String(e.seq)} != ${want}`);
    if (e.prevHash !== prev) return fail('prevHash does not link');
    if (e.hash !== entryHash(prev, e)) return fail('hash mismatch');
    const order = Object.keys(e);
    const expected = KEY_ORDER.filter((k) => k in e);
    if (order.join() !== expected.join()) return fail(`key order ${order.join()}`);
    prev = e.hash;
    entries.push(e);
  }
  return { ok: true, count: entries.length, entries };
}
