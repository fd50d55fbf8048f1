/**
 * Byte-preserving filter for list responses (SPEC §4 step 6, route kind `list`).
 *
 * The body is validated and scanned once (the scanning engine, src/engine/);
 * each activity is parsed
 * only to decide, and the output is spliced from the original bytes: kept
 * activities, the whitespace around them and the whole envelope are exactly
 * what upstream sent. Only the removed elements (with one adjacent comma each)
 * disappear, and the number at `total` is rewritten.
 *
 * `total` rule: new = max(kept, old - removed). A total that is not a
 * non-negative safe integer (a string, a fraction, negative, huge, …) is left
 * unchanged: we cannot know what it counts. `1e3` or `5.0` are integers and
 * are rewritten in plain decimal form.
 *
 * Fail closed: a hide() answer that is not exactly `false` hides the activity.
 */
import type { ActivityFacts, HideBatch } from '../privacy/types.js';
import type { ArrayHit, ByteRange } from '../engine/types.js';
import { scanJsonFast } from '../engine/wasmScan.js';
import type { FieldReader } from './fieldReader.js';
import { replaceInJson, type PseudonymTarget, type Replacement } from './pseudonymise.js';

export interface ListFilterOptions {
  /** dot path of the activity array; '' = top-level array */
  items: string;
  /** dot path of the count, optional */
  total?: string;
  extract: (record: unknown) => ActivityFacts;
  /**
   * optional byte-level reader with the same result as extract(JSON.parse(element))
   * (fieldReader.ts): no whole-record parse; the fields are located by the
   * validating scan itself (one pass over the body).
   */
  read?: FieldReader;
  hide: HideBatch;
  /** false = reveal granted: keep everything, but still report the private ones */
  remove: boolean;
  /** SPEC §14: the actor's pseudonym target; absent = a pseudonymised activity is removed (fail closed) */
  pseudonyms?: PseudonymTargets;
}

/** The compiled pseudonym of an actor (principal as the facts read it). */
export type PseudonymTargets = (actor: string) => PseudonymTarget;

export interface ListFilterResult {
  /** when nothing is removed, the ORIGINAL buffer object (no copy) */
  body: Buffer;
  removed: number;
  /** activities for which hide() said true */
  privateCount: number;
  /** facts.id of those (when present) */
  privateIds: string[];
  /** activities found in the array(s) */
  total: number;
}

interface Edit {
  start: number;
  end: number;
  /** bytes that replace [start,end); null = delete */
  with: Buffer | null;
}

/** What one activity's answer does here: keep, remove, or keep pseudonymised (only with targets and an actor). */
export function answerKind(answer: unknown, facts: ActivityFacts, pseudonyms: PseudonymTargets | undefined): 'keep' | 'remove' | 'pseudonymise' {
  if (answer === false) return 'keep';
  if (answer === 'pseudonymise' && pseudonyms !== undefined && facts.actor !== undefined && facts.actor !== '') return 'pseudonymise';
  return 'remove';
}

export async function filterList(body: Buffer, opts: ListFilterOptions): Promise<ListFilterResult> {
  const read = opts.read;
  const scan = scanJsonFast(body, { items: opts.items, total: opts.total, fields: read?.plan });

  const facts: ActivityFacts[] = [];
  for (const arr of scan.arrays) {
    for (const el of arr.elements) {
      facts.push(read ? read.fromSlots(body, el.start, el.end, scan.slots!, el.slot) : opts.extract(JSON.parse(body.toString('utf8', el.start, el.end))));
    }
  }

  const answer = await opts.hide(facts);
  if (!Array.isArray(answer) || answer.length !== facts.length) {
    throw new Error('hide() returned a result of the wrong length');
  }
  const kinds = answer.map((h, i) => answerKind(h, facts[i], opts.pseudonyms));
  const hidden = kinds.map((k) => k !== 'keep');

  const privateIds: string[] = [];
  let privateCount = 0;
  for (let i = 0; i < facts.length; i++) {
    if (!hidden[i]) continue;
    privateCount++;
    const id = facts[i].id;
    if (id !== undefined) privateIds.push(id);
  }

  const result = { privateCount, privateIds, total: facts.length };
  if (!opts.remove || privateCount === 0) return { body, removed: 0, ...result };

  const edits: Edit[] = [];
  const removedFlags = kinds.map((k) => k === 'remove');
  const removed = pseudonymiseKept(body, scan.arrays, kinds, facts, opts.pseudonyms, edits);
  const kept = facts.length - removed;
  let offset = 0;
  for (const arr of scan.arrays) {
    deleteHidden(arr, removedFlags, offset, edits);
    offset += arr.elements.length;
  }
  if (removed > 0) {
    for (const t of scan.totals) {
      const replacement = adjustedTotal(body, t, kept, removed);
      if (replacement !== null) edits.push({ start: t.start, end: t.end, with: replacement });
    }
  }
  edits.sort((a, b) => a.start - b.start);
  return { body: splice(body, edits), removed, ...result };
}

/** The replacements inside the pseudonymised elements (SPEC §14); returns how many are removed. */
function pseudonymiseKept(
  body: Buffer,
  arrays: readonly ArrayHit[],
  kinds: readonly string[],
  facts: readonly ActivityFacts[],
  targets: PseudonymTargets | undefined,
  edits: Edit[],
): number {
  let removed = 0;
  let i = 0;
  const reps: Replacement[] = [];
  for (const arr of arrays) {
    for (const el of arr.elements) {
      if (kinds[i] === 'remove') removed++;
      else if (kinds[i] === 'pseudonymise') replaceInJson(body, el.start, el.end, targets!(facts[i].actor!), reps);
      i++;
    }
  }
  for (const r of reps) edits.push(r);
  return removed;
}

/**
 * Deletions for one array's hidden elements. Each run of removed elements is
 * cut together with the separator on one side, so commas stay correct and the
 * whitespace around kept elements survives:
 *   leading run  [e0.start, firstKept.start)
 *   inner run    [prevKept.end, lastRemoved.end)  (keeps the separator before the next kept)
 *   trailing run [lastKept.end, lastElement.end)
 */
function deleteHidden(arr: ArrayHit, hidden: readonly boolean[], offset: number, edits: Edit[]): void {
  const els = arr.elements;
  let prevKept = -1;
  for (let i = 0; i <= els.length; i++) {
    const isEnd = i === els.length;
    if (!isEnd && hidden[offset + i]) continue;
    // i is kept (or the end); elements prevKept+1 .. i-1 are removed
    if (i - prevKept > 1) {
      const from = prevKept === -1 ? els[0].start : els[prevKept].end;
      const to = prevKept === -1 && !isEnd ? els[i].start : els[i - 1].end;
      edits.push({ start: from, end: to, with: null });
    }
    prevKept = i;
  }
}

function adjustedTotal(body: Buffer, t: ByteRange, kept: number, removed: number): Buffer | null {
  const old = JSON.parse(body.toString('latin1', t.start, t.end)) as number;
  if (!Number.isSafeInteger(old) || old < 0) return null;
  return Buffer.from(String(Math.max(kept, old - removed)), 'latin1');
}

/** Applies sorted, non-overlapping edits to body in one allocation. */
function splice(body: Buffer, edits: readonly Edit[]): Buffer {
  let size = body.length;
  for (const e of edits) size += (e.with?.length ?? 0) - (e.end - e.start);
  const out = Buffer.allocUnsafe(size);
  let src = 0;
  let dst = 0;
  for (const e of edits) {
    dst += body.copy(out, dst, src, e.start);
    if (e.with !== null) dst += e.with.copy(out, dst);
    src = e.end;
  }
  body.copy(out, dst, src);
  return out;
}
