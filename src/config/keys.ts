/**
 * "Did you mean": the keys the schema knows at a path, read from the zod schema itself, and
 * the closest of them to an unknown key (case only, or a Levenshtein distance of at most 2,
 * 1 for short keys). Pure.
 */
import type * as z from 'zod';
import { distance } from '../directory/suggest.js';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas a value at this schema may be (wrappers, pipes and unions looked through). */
function objectsOf(s: z.ZodType, depth = 0): Array<Record<string, z.ZodType>> {
  if (depth > 20) return [];
  const d = defOf(s);
  if (d.type === 'object' && d.shape) return [d.shape];
  const next = [d.innerType, d.in, d.out, ...(d.options ?? [])].filter((x): x is z.ZodType => x !== undefined);
  return next.flatMap((n) => objectsOf(n, depth + 1));
}

/** The schema of the value at `path` under `s` (a list index or a record key goes into the element). */
function childAt(s: z.ZodType, key: PropertyKey, depth = 0): z.ZodType | undefined {
  if (depth > 20) return undefined;
  const d = defOf(s);
  if (d.type === 'object' && d.shape) return d.shape[String(key)];
  if (d.type === 'array' && d.element) return d.element;
  if (d.type === 'record' && d.valueType) return d.valueType;
  for (const n of [d.innerType, d.in, d.out, ...(d.options ?? [])]) {
    if (n === undefined) continue;
    const c = childAt(n, key, depth + 1);
    if (c) return c;
  }
  return undefined;
}

/** Every key the schema allows on the object at `path` (empty when it cannot tell). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  for (const key of path) {
    s = childAt(s, key);
    if (!s) return [];
  }
  return [...new Set(objectsOf(s).flatMap((shape) => Object.keys(shape)))];
}

/** The known key an unknown one most likely meant, or undefined. */
export function closestKey(unknown: string, known: readonly string[]): string | undefined {
  const u = unknown.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === u);
  if (sameCase) return sameCase;
  const max = u.length <= 4 ? 1 : 2;
  let best: { key: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(u, k.toLowerCase(), max);
    if (d <= max && (!best || d < best.d)) best = { key: k, d };
  }
  return best?.key;
}
