/**
 * The governance hash chain (SPEC §6): pure functions, no I/O.
 * hash = SHA-256 hex of prevHash + "\n" + canonical(entry without hash).
 */
import { createHash, randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { canonicalJson } from './canonical.js';
import { GOVERNANCE_ACTIONS, MAX_ACTORS, MAX_IDS, type GovernanceEntry, type GovernanceEntryInput } from './types.js';

export const GENESIS = '0'.repeat(64);

const HEX64 = /^[0-9a-f]{64}$/;

export function computeHash(prevHash: string, entryWithoutHash: object): string {
  const { hash: _ignored, ...rest } = entryWithoutHash as Record<string, unknown>;
  return createHash('sha256')
    .update(prevHash + '\n' + canonicalJson(rest))
    .digest('hex');
}

/** Rejects inputs that would write a malformed entry; a programming error, not an outage. */
export function validateInput(input: GovernanceEntryInput): void {
  if (!input || typeof input !== 'object') throw new TypeError('governance entry input must be an object');
  if (!GOVERNANCE_ACTIONS.includes(input.action)) throw new TypeError('governance entry: unknown action');
  if (typeof input.principal !== 'string' || input.principal === '') {
    throw new TypeError('governance entry: principal must be a non-empty string');
  }
  const pa = input.privateActivities;
  if (pa !== undefined) {
    if (!Number.isSafeInteger(pa.count) || pa.count < 0) throw new TypeError('governance entry: bad privateActivities.count');
    if (!Array.isArray(pa.ids) || pa.ids.some((id) => typeof id !== 'string')) {
      throw new TypeError('governance entry: privateActivities.ids must be strings');
    }
    if (
      pa.actors !== undefined &&
      (!Array.isArray(pa.actors) || pa.actors.some((a) => typeof a.principal !== 'string' || !Number.isSafeInteger(a.count) || a.count < 1))
    ) {
      throw new TypeError('governance entry: privateActivities.actors must be {principal, count} items');
    }
  }
  if (input.reason !== undefined && typeof input.reason !== 'string') throw new TypeError('governance entry: reason must be a string');
  if (input.denial !== undefined && (typeof input.denial.code !== 'string' || typeof input.denial.message !== 'string')) {
    throw new TypeError('governance entry: denial needs code and message');
  }
}

/**
 * Builds the entry with the key order of SPEC §6 (seq, id, time, action,
 * principal, via, request, privateActivities|target, reason, scope, permission,
 * denial, token, instance,
 * prevHash, hash); undefined fields are left out. The hash does not depend on
 * key order (canonical form), the order is for human readers.
 */
export function buildEntry(
  input: GovernanceEntryInput,
  meta: { seq: number; prevHash: string; instance: string; time?: string; id?: string; clock?: Clock },
): GovernanceEntry {
  const e: Record<string, unknown> = {};
  e.seq = meta.seq;
  e.id = meta.id ?? randomUUID();
  e.time = meta.time ?? new Date((meta.clock ?? systemClock).now()).toISOString();
  e.action = input.action;
  e.principal = input.principal;
  if (input.via !== undefined) e.via = input.via;
  if (input.request !== undefined) {
    const r = input.request;
    e.request = { id: r.id, method: r.method, path: r.path, query: r.query, clientIp: r.clientIp, userAgent: r.userAgent };
  }
  if (input.privateActivities !== undefined) {
    const { count, ids, actors } = input.privateActivities;
    const pa: Record<string, unknown> = { count, ids: ids.slice(0, MAX_IDS), idsTruncated: ids.length > MAX_IDS };
    // v3: absent when not given, so entries of the previous version hash the same
    if (actors !== undefined) {
      pa.actors = actors.slice(0, MAX_ACTORS).map((a) => ({ principal: a.principal, count: a.count }));
      pa.actorsTruncated = actors.length > MAX_ACTORS;
    }
    e.privateActivities = pa;
  }
  if (input.target !== undefined) e.target = input.target;
  // SPEC §10 fields: present only when they apply (never null), so entries of the previous version hash the same
  if (input.reason !== undefined) e.reason = input.reason;
  if (input.scope !== undefined) e.scope = { groups: [...input.scope.groups], actors: [...input.scope.actors] };
  if (input.permission !== undefined) {
    const p: Record<string, unknown> = {};
    if (input.permission.groups !== undefined) p.groups = [...input.permission.groups];
    if (input.permission.expiresAt !== undefined) p.expiresAt = input.permission.expiresAt;
    e.permission = p;
  }
  if (input.denial !== undefined) e.denial = { code: input.denial.code, message: input.denial.message };
  if (input.revealRequest !== undefined) e.revealRequest = input.revealRequest;
  // SPEC §14: only a pseudonymising group's entry carries its mode
  if (input.mode !== undefined) e.mode = input.mode;
  if (input.token !== undefined) {
    const t: Record<string, string> = {};
    if (input.token.iss !== undefined) t.iss = input.token.iss;
    if (input.token.jti !== undefined) t.jti = input.token.jti;
    e.token = t;
  }
  e.instance = meta.instance;
  e.prevHash = meta.prevHash;
  e.hash = computeHash(meta.prevHash, e);
  return e as unknown as GovernanceEntry;
}

/**
 * Incremental chain check: feed entries in file order; the first failure is
 * remembered. Pure, so the file sink, the CLI and the Postgres sink share it.
 */
export class ChainChecker {
  private expectedSeq = 1;
  private prevHash = GENESIS;
  private broken: number | undefined;

  /** Number of entries that checked out before any break. */
  get count(): number {
    return this.expectedSeq - 1;
  }

  get brokenAtSeq(): number | undefined {
    return this.broken;
  }

  /** `entry` is the parsed line, or undefined when the line is not a JSON object. Returns false once broken. */
  feed(entry: unknown): boolean {
    if (this.broken !== undefined) return false;
    if (!isEntryLike(entry) || entry.seq !== this.expectedSeq || entry.prevHash !== this.prevHash || computeHash(this.prevHash, entry) !== entry.hash) {
      this.broken = this.expectedSeq;
      return false;
    }
    this.prevHash = entry.hash;
    this.expectedSeq++;
    return true;
  }

  result(): { ok: true; count: number } | { ok: false; count: number; brokenAtSeq: number } {
    return this.broken === undefined ? { ok: true, count: this.count } : { ok: false, count: this.count, brokenAtSeq: this.broken };
  }
}

/** A parsed line that looks like an entry: a plain object with an integer seq and 64-hex hashes. */
export function isEntryLike(v: unknown): v is { seq: number; prevHash: string; hash: string } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return Number.isSafeInteger(o.seq) && typeof o.hash === 'string' && HEX64.test(o.hash) && typeof o.prevHash === 'string' && HEX64.test(o.prevHash);
}
