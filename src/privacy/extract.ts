/**
 * Turns one activity (a JSON record, or the fields of a CSV row / CEF line) into the
 * ActivityFacts the decision needs. Paths are compiled once per spec; the per-record
 * functions allocate only the facts and their groups array.
 */
import type { ActivitiesConfig } from '../config/schema.js';
import { normalizePrincipal } from '../principal.js';
import { compilePath, type PathReader } from './dotpath.js';
import { parseTimestamp } from './time.js';
import { BUILTIN_APPLICATION, BUILTIN_EXTERNAL, type ActivityFacts } from './types.js';

/**
 * Where the decision's fields are in a record: the `activities` config section
 * (its validated form, SPEC §3), with one path or several for actor and groups.
 */
export type ActivitiesSpec = Omit<ActivitiesConfig, 'actor' | 'groups' | 'builtinTags'> & {
  actor: string | string[];
  groups: string | string[];
  builtinTags: Partial<ActivitiesConfig['builtinTags']>;
};

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

export function compileExtractor(spec: ActivitiesSpec): (record: unknown) => ActivityFacts {
  const c = compileCommon(spec);
  const readIdPath = compilePath(spec.id);
  const readTime = compilePath(spec.timestamp);
  const actorPaths: PathReader[] = asList(spec.actor).map(compilePath);
  const groupPaths: PathReader[] = asList(spec.groups).map(compilePath);
  const readApp = spec.application ? compilePath(spec.application.path) : undefined;

  return (record) => {
    if (record === null || typeof record !== 'object') return emptyFacts();

    let actor: string | undefined;
    for (let i = 0; i < actorPaths.length && actor === undefined; i++) {
      const v = actorPaths[i](record);
      if (typeof v === 'string') actor = normalizePrincipal(v);
    }

    const groups: string[] = [];
    let isApplication = false;
    for (let i = 0; i < groupPaths.length; i++) {
      const v = groupPaths[i](record);
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
    if (!isApplication && readApp !== undefined) isApplication = matchesApplication(readApp(record), c);

    return {
      id: readId(readIdPath(record)),
      actor,
      timestamp: parseTimestamp(readTime(record)),
      groups,
      isApplication,
    };
  };
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
