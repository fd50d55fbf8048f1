/**
 * Suggestions for an id that is not in the group catalogue (SPEC §9 `unknown_group`): up to
 * five entries whose id or name is closest. An id differing only in case, a display name
 * given as the id (`Human Resources` → hr) and a built-in's name (`Application` →
 * builtin:application) always rank first. Pure.
 */

export interface Named {
  id: string;
  name: string;
}

/** Lower-cased and squashed forms of an entry, computed once per catalogue merge. */
export interface Prepared {
  id: string;
  name: string;
  squashedId: string;
  squashedName: string;
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\u0000-\u007f]/;
/** Lower case, letters and digits only (`Human Resources` → humanresources). */
function squash(s: string): string {
  const l = s.toLowerCase();
  return NON_ASCII.test(l) ? l.normalize('NFKC').replace(/[^\p{L}\p{N}]+/gu, '') : l.replace(/[^a-z0-9]+/g, '');
}

export function prepare(e: Named): Prepared {
  return { id: e.id.toLowerCase(), name: e.name.toLowerCase(), squashedId: squash(e.id), squashedName: squash(e.name) };
}

let rowA = new Int32Array(64);
let rowB = new Int32Array(64);

/** Levenshtein distance, giving up (returning max + 1) once it must exceed `max`. */
export function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (rowA.length <= b.length) {
    rowA = new Int32Array(b.length + 1);
    rowB = new Int32Array(b.length + 1);
  }
  let prev = rowA;
  let cur = rowB;
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    let rowMin = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca === b.charCodeAt(j - 1) ? 0 : 1));
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    const t = prev;
    prev = cur;
    cur = t;
  }
  return prev[b.length];
}

/**
 * Levenshtein distance of a pattern of at most 32 characters to `t`, bit-parallel (Myers 1999,
 * Hyyrö's formulation): O(|t|) word operations, so 50,000 names take a few milliseconds.
 */
export class Pattern32 {
  private readonly peq = new Map<number, number>();
  private readonly last: number;
  constructor(readonly p: string) {
    if (p.length === 0 || p.length > 32) throw new RangeError('pattern length 1..32');
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      this.peq.set(c, (this.peq.get(c) ?? 0) | (1 << i));
    }
    this.last = 1 << (p.length - 1);
  }
  distance(t: string): number {
    let pv = this.p.length === 32 ? -1 : (1 << this.p.length) - 1;
    let mv = 0;
    let score = this.p.length;
    for (let j = 0; j < t.length; j++) {
      const eq = this.peq.get(t.charCodeAt(j)) ?? 0;
      const xv = eq | mv;
      const xh = (((eq & pv) + pv) ^ pv) | eq;
      let ph = mv | ~(xh | pv);
      let mh = pv & xh;
      if (ph & this.last) score++;
      else if (mh & this.last) score--;
      ph = (ph << 1) | 1;
      mh <<= 1;
      pv = mh | ~(xv | ph);
      mv = ph & xv;
    }
    return score;
  }
}

interface Query {
  q: string;
  qs: string;
  max: number;
  dist: (t: string) => number;
}

/** Lower is closer; undefined = not worth suggesting. */
function score(query: Query, e: Prepared): number | undefined {
  const { q, qs, max } = query;
  const { id, name, squashedId: ids, squashedName: names } = e;
  if (id === q || name === q) return 0;
  const local = id.startsWith('builtin:') ? id.slice(8) : undefined;
  if (qs !== '' && (ids === qs || names === qs || local === q || (local !== undefined && squash(local) === qs))) return 1;
  if (qs.length >= 2 && (ids.startsWith(qs) || names.startsWith(qs))) return 2 + (Math.min(ids.length, names.length) - qs.length) / 1000;
  if (qs.length >= 3 && (ids.includes(qs) || names.includes(qs))) return 3;
  if (qs === '') return undefined;
  const d = Math.min(
    Math.abs(ids.length - qs.length) > max ? max + 1 : query.dist(ids),
    Math.abs(names.length - qs.length) > max ? max + 1 : query.dist(names),
  );
  return d <= max ? 4 + d : undefined;
}

/** `prepared[i]` = prepare(entries[i]); computed here when not given. */
export function suggest<T extends Named>(given: string, entries: readonly T[], limit = 5, prepared: readonly Prepared[] = entries.map(prepare)): T[] {
  const q = given.trim().toLowerCase();
  const qs = squash(given).slice(0, 200);
  const max = Math.max(1, Math.floor(qs.length / 3));
  const pattern = qs.length >= 1 && qs.length <= 32 ? new Pattern32(qs) : undefined;
  const query: Query = { q, qs, max, dist: pattern ? (t) => pattern.distance(t) : (t) => distance(qs, t, max) };
  const best: Array<{ s: number; e: T; i: number }> = [];
  for (let i = 0; i < entries.length; i++) {
    const s = score(query, prepared[i]);
    if (s === undefined) continue;
    if (best.length === limit && s >= best[best.length - 1].s) continue;
    best.push({ s, e: entries[i], i });
    best.sort((a, b) => a.s - b.s || a.i - b.i);
    if (best.length > limit) best.pop();
  }
  return best.map((b) => b.e);
}
