/**
 * Compiled dot-path readers ("user.userName", "data.0.id") over JSON-parsed values.
 * Only own properties are read, so a path can never reach the prototype chain
 * (`__proto__`, `constructor`, `toString` on a plain object read as absent).
 * A JSON.parse'd own key named "__proto__" is a normal own data property and is read.
 */

/** canonical array index: "0", "7", "12" (not "01", "-1", "1e2") */
const INDEX = /^(?:0|[1-9][0-9]*)$/;

type Step = { key: string; index: number }; // index = -1 when the segment is not an array index

export type PathReader = (obj: unknown) => unknown;

function step(cur: unknown, s: Step): unknown {
  if (cur === null || typeof cur !== 'object') return undefined;
  if (Array.isArray(cur)) {
    // arrays are read by index only (never `length` or methods)
    return s.index >= 0 && s.index < cur.length ? cur[s.index] : undefined;
  }
  return Object.hasOwn(cur, s.key) ? (cur as Record<string, unknown>)[s.key] : undefined;
}

function identity(obj: unknown): unknown {
  return obj;
}

/** Compile once, call per record. '' reads the value itself. */
export function compilePath(path: string): PathReader {
  return path === '' ? identity : compileSegments(path.split('.'));
}

/**
 * The reader of a path given as its segments (what compilePath reads after
 * splitting at the dots); no segments reads the value itself.
 */
export function compileSegments(keys: readonly string[]): PathReader {
  if (keys.length === 0) return identity;
  const steps: Step[] = keys.map((key) => ({
    key,
    index: INDEX.test(key) && key.length < 16 ? Number(key) : -1,
  }));
  if (steps.length === 1) {
    const only = steps[0];
    return (obj) => step(obj, only);
  }
  return (obj) => {
    let cur = obj;
    for (let i = 0; i < steps.length; i++) {
      cur = step(cur, steps[i]);
      if (cur === undefined) return undefined;
    }
    return cur;
  };
}
