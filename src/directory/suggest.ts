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

const squash = (s: string) => s.toLowerCase().normalize('NFKC').replace(/[^\p{L}\p{N}]+/gu, '');

/** Levenshtein distance, giving up (returning max + 1) once it must exceed `max`. */
export function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    prev = cur;
  }
  return prev[b.length];
}

/** Lower is closer; undefined = not worth suggesting. */
function score(q: string, qs: string, e: Named): number | undefined {
  const id = e.id.toLowerCase();
  const name = e.name.toLowerCase();
  if (id === q || name === q) return 0;
  const ids = squash(e.id);
  const names = squash(e.name);
  const local = id.startsWith('builtin:') ? id.slice(8) : undefined;
  if (qs !== '' && (ids === qs || names === qs || local === q || (local !== undefined && squash(local) === qs))) return 1;
  if (qs.length >= 2 && (ids.startsWith(qs) || names.startsWith(qs))) return 2 + (Math.min(ids.length, names.length) - qs.length) / 1000;
  if (qs.length >= 3 && (ids.includes(qs) || names.includes(qs))) return 3;
  const max = Math.max(1, Math.floor(qs.length / 3));
  const d = Math.min(distance(qs, ids, max), distance(qs, names, max));
  return d <= max ? 4 + d : undefined;
}

export function suggest<T extends Named>(given: string, entries: readonly T[], limit = 5): T[] {
  const q = given.trim().toLowerCase();
  const qs = squash(given).slice(0, 200);
  const best: Array<{ s: number; e: T; i: number }> = [];
  for (let i = 0; i < entries.length; i++) {
    const s = score(q, qs, entries[i]);
    if (s === undefined) continue;
    if (best.length === limit && s >= best[best.length - 1].s) continue;
    best.push({ s, e: entries[i], i });
    best.sort((a, b) => a.s - b.s || a.i - b.i);
    if (best.length > limit) best.pop();
  }
  return best.map((b) => b.e);
}
