/**
 * Turns one activity (a JSON record, or the fields of a CSV row / CEF line) into the
 * ActivityFacts the decision needs. Paths are compiled once per spec; the per-record
 * functions allocate only the facts and their groups array.
 */
import { normalizePrincipal } from '../principal.js';
import { compilePath, type PathReader } from './dotpath.js';
import { parseTimestamp } from './time.js';
import { BUILTIN_APPLICATION, BUILTIN_EXTERNAL, type ActivitiesSpec, type ActivityFacts } from './types.js';

/** Fields already located in a CSV row or CEF line: text as those formats carry it, or epoch ms already read. */
export interface ActivityFields {
  id?: string;
  actor?: string;
  timestamp?: string | number;
  groups?: string[];
  application?: string;
}

const DIGITS = /^[0-9]+$/;

/** Per-spec data shared by both extractors. */
interface Compiled {
  externalTag: string | undefined;
  applicationTag: string | undefined;
  /** lower-cased values that mean "application" at activities.application.path */
  appEquals: ReadonlySet<string> | undefined;
}

function compileCommon(spec: ActivitiesSpec): Compiled {
  return {
    externalTag: spec.builtinTags['external-users'] || undefined,
    applicationTag: spec.builtinTags.application || undefined,
    appEquals: spec.application ? new Set(spec.application.equals.map((e) => e.trim().toLowerCase())) : undefined,
  };
}

const asList = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);

/** One group entry: strings (trimmed) and finite numbers count; anything else is ignored. */
function groupId(v: unknown): string | undefined {
  if (typeof v === 'string') {
    const s = v.trim();
    return s === '' ? undefined : s;
  }
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Adds a group id, plus the builtin id its tag stands for. Returns true when it is the application tag. */
function addGroup(out: string[], g: string, c: Compiled): boolean {
  out.push(g);
  if (g === c.externalTag) out.push(BUILTIN_EXTERNAL);
  if (g === c.applicationTag) {
    out.push(BUILTIN_APPLICATION);
    return true;
  }
  return false;
}

function matchesApplication(v: unknown, c: Compiled): boolean {
  if (c.appEquals === undefined) return false;
  if (typeof v === 'string') return c.appEquals.has(v.trim().toLowerCase());
  if (typeof v === 'number' || typeof v === 'boolean') return c.appEquals.has(String(v).toLowerCase());
  return false;
}

function readId(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Facts for a value that is not a record: nothing readable (undecidable if anything is private). */
function emptyFacts(): ActivityFacts {
  return { groups: [], isApplication: false };
}

/**
 * The dot paths a spec reads, in this order: id, timestamp, the actor paths,
 * the group paths, then the application path if any. compileFactsReader's
 * `valueAt(source, i)` is the value at specPaths(spec)[i].
 */
export function specPaths(spec: ActivitiesSpec): string[] {
  const paths = [spec.id, spec.timestamp, ...asList(spec.actor), ...asList(spec.groups)];
  if (spec.application) paths.push(spec.application.path);
  return paths;
}

/**
 * The facts of a record given the values at its spec paths: `valueAt(source, i)`
 * returns the value at specPaths(spec)[i] (undefined when absent), read as
 * dotpath reads it from JSON.parse(record). valueAt must be pure: it is called
 * only for the paths the decision needs (the second actor path only when the
 * first is not a string, the application path only when no group is the
 * application tag), so any source of values (a parsed record, the slots of the
 * validating scan) gives the same facts.
 */
export function compileFactsReader<S>(spec: ActivitiesSpec, valueAt: (source: S, i: number) => unknown): (source: S) => ActivityFacts {
  const c = compileCommon(spec);
  const ID = 0;
  const TIME = 1;
  const actor0 = 2;
  const actorEnd = actor0 + asList(spec.actor).length;
  const groupsEnd = actorEnd + asList(spec.groups).length;
  const app = spec.application ? groupsEnd : -1;

  return (source) => {
    let actor: string | undefined;
    for (let i = actor0; i < actorEnd && actor === undefined; i++) {
      const v = valueAt(source, i);
      if (typeof v === 'string') actor = normalizePrincipal(v);
    }

    const groups: string[] = [];
    let isApplication = false;
    for (let i = actorEnd; i < groupsEnd; i++) {
      const v = valueAt(source, i);
      if (Array.isArray(v)) {
        for (let j = 0; j < v.length; j++) {
          const g = groupId(v[j]);
          if (g !== undefined && addGroup(groups, g, c)) isApplication = true;
        }
      } else {
        const g = groupId(v);
        if (g !== undefined && addGroup(groups, g, c)) isApplication = true;
      }
    }
    if (!isApplication && app >= 0) isApplication = matchesApplication(valueAt(source, app), c);

    return {
      id: readId(valueAt(source, ID)),
      actor,
      timestamp: parseTimestamp(valueAt(source, TIME)),
      groups,
      isApplication,
    };
  };
}

/** The facts of a JSON.parse'd record (anything that is not an object or array has none). */
export function compileExtractor(spec: ActivitiesSpec): (record: unknown) => ActivityFacts {
  const readers: PathReader[] = specPaths(spec).map(compilePath);
  const facts = compileFactsReader<object>(spec, (record, i) => readers[i](record));
  return (record) => (record === null || typeof record !== 'object' ? emptyFacts() : facts(record));
}

/** Text timestamps of CSV/CEF: only digits = epoch ms; otherwise ISO-8601 with offset. */
function fieldTimestamp(v: string | number | undefined): number | undefined {
  if (typeof v !== 'string') return parseTimestamp(v);
  const s = v.trim();
  return DIGITS.test(s) ? parseTimestamp(Number(s)) : parseTimestamp(s);
}

/** Same normalisation as compileExtractor, for already-located text fields. Compile once per spec. */
export function compileFieldsExtractor(spec: ActivitiesSpec): (fields: ActivityFields) => ActivityFacts {
  const c = compileCommon(spec);
  return (fields) => {
    const groups: string[] = [];
    let isApplication = false;
    if (Array.isArray(fields.groups)) {
      for (let j = 0; j < fields.groups.length; j++) {
        const g = groupId(fields.groups[j]);
        if (g !== undefined && addGroup(groups, g, c)) isApplication = true;
      }
    }
    if (!isApplication) isApplication = matchesApplication(fields.application, c);
    return {
      id: readId(fields.id),
      actor: typeof fields.actor === 'string' ? normalizePrincipal(fields.actor) : undefined,
      timestamp: fieldTimestamp(fields.timestamp),
      groups,
      isApplication,
    };
  };
}

const fieldsCache = new WeakMap<ActivitiesSpec, (fields: ActivityFields) => ActivityFacts>();

/** Convenience form of compileFieldsExtractor; the compiled form is cached per spec object. */
export function factsFromFields(fields: ActivityFields, spec: ActivitiesSpec): ActivityFacts {
  let fn = fieldsCache.get(spec);
  if (fn === undefined) {
    fn = compileFieldsExtractor(spec);
    fieldsCache.set(spec, fn);
  }
  return fn(fields);
}
