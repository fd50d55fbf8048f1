/**
 * The privacy decision (pure, no I/O): is one activity public, private or undecidable?
 *
 * compilePolicy turns the interval history into a piecewise-constant timeline: the
 * interval end points split time into segments, and each segment carries the set G of
 * groups private throughout it. decide() then costs one binary search plus a few set
 * look-ups, and nothing at all when no group was ever private.
 */
import { isIncomplete } from './membership.js';
import {
  BUILTIN_APPLICATION,
  BUILTIN_EXTERNAL,
  type ActivityFacts,
  type GroupInterval,
  type HideAnswer,
  type HideBatch,
  type Membership,
  type PolicySnapshot,
  type Verdict,
} from './types.js';

/** The groups private throughout one segment of time. */
interface Segment {
  ids: ReadonlySet<string>;
  idList: readonly string[];
  /** G has an id other than builtin:application, so the actor matters */
  needsActor: boolean;
  external: boolean;
  application: boolean;
  /** SPEC §14: the ids among them that pseudonymise (empty: every one hides) */
  pseudo: ReadonlySet<string>;
}

export interface CompiledPolicy {
  readonly snapshot: PolicySnapshot;
  /** no interval at all: everything is public */
  readonly empty: boolean;
  /** sorted distinct end points; segment i+1 starts at bounds[i], segment 0 is before bounds[0] */
  readonly bounds: readonly number[];
  readonly segments: readonly (Segment | null)[]; // null = nothing private in that segment
  /** managed domains, lower-cased, trailing dot removed, and the same with a leading '.' */
  readonly domains: readonly string[];
  readonly dotDomains: readonly string[];
}

function normalizeDomain(d: string): string {
  let s = d.trim().toLowerCase();
  while (s.endsWith('.')) s = s.slice(0, -1);
  return s.normalize('NFC');
}

/** Fail closed on malformed intervals: an unreadable start means "private since always", an unreadable end "still private". */
function since(iv: GroupInterval): number {
  return typeof iv.privateSince === 'number' && !Number.isNaN(iv.privateSince) ? iv.privateSince : -Infinity;
}
function until(iv: GroupInterval): number {
  return typeof iv.privateUntil === 'number' && !Number.isNaN(iv.privateUntil) ? iv.privateUntil : Infinity;
}

function segmentAt(t: number, intervals: readonly GroupInterval[]): Segment | null {
  const ids = new Set<string>();
  const hiding = new Set<string>();
  for (const iv of intervals) {
    if (!(since(iv) <= t && t < until(iv))) continue;
    ids.add(iv.id);
    if (iv.mode !== 'pseudonymise') hiding.add(iv.id);
  }
  if (ids.size === 0) return null;
  const idList = [...ids];
  return {
    ids,
    idList,
    pseudo: new Set(idList.filter((id) => !hiding.has(id))),
    needsActor: idList.some((id) => id !== BUILTIN_APPLICATION),
    external: ids.has(BUILTIN_EXTERNAL),
    application: ids.has(BUILTIN_APPLICATION),
  };
}

export function compilePolicy(policy: PolicySnapshot): CompiledPolicy {
  const intervals = policy.intervals.filter((iv) => since(iv) < until(iv));
  const points = new Set<number>();
  for (const iv of intervals) {
    if (Number.isFinite(since(iv))) points.add(since(iv));
    if (Number.isFinite(until(iv))) points.add(until(iv));
  }
  const bounds = [...points].sort((a, b) => a - b);
  const segments = [segmentAt(-Infinity, intervals), ...bounds.map((b) => segmentAt(b, intervals))];
  const domains = policy.managedDomains.map(normalizeDomain).filter((d) => d !== '');
  return {
    snapshot: policy,
    empty: segments.every((s) => s === null),
    bounds,
    segments,
    domains,
    dotDomains: domains.map((d) => '.' + d),
  };
}

const compiledCache = new WeakMap<PolicySnapshot, CompiledPolicy>();

function compiled(policy: PolicySnapshot | CompiledPolicy): CompiledPolicy {
  if ('segments' in policy) return policy;
  let c = compiledCache.get(policy);
  if (c === undefined) {
    c = compilePolicy(policy);
    compiledCache.set(policy, c);
  }
  return c;
}

function segmentFor(c: CompiledPolicy, t: number): Segment | null {
  // largest i with bounds[i] <= t; segment index is i + 1 (0 when t precedes every bound)
  let lo = 0;
  let hi = c.bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (c.bounds[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return c.segments[lo];
}

/** An actor is internal when its domain (after the last '@') is a managed domain or under one. */
function isManaged(actor: string, c: CompiledPolicy): boolean {
  const at = actor.lastIndexOf('@');
  if (at < 0) return false; // no domain at all: external
  let domain = actor.slice(at + 1).toLowerCase();
  while (domain.endsWith('.')) domain = domain.slice(0, -1);
  // an empty label ("x@.contoso.com", "eu..contoso.com") is not a real domain: external
  if (domain === '' || domain.charCodeAt(0) === 46 || domain.includes('..')) return false;
  for (let i = 0; i < c.domains.length; i++) {
    if (domain === c.domains[i] || domain.endsWith(c.dotDomains[i])) return true;
  }
  return false;
}

/**
 * The verdict for one activity. Accepts a snapshot (compiled once and cached per
 * snapshot object) or an already compiled policy.
 */
export function decide(facts: ActivityFacts, policy: PolicySnapshot | CompiledPolicy, membership: Membership): Verdict {
  const c = compiled(policy);
  // 1. nothing was ever private
  if (c.empty) return 'public';
  // 2. no readable time
  const t = facts.timestamp;
  if (typeof t !== 'number' || Number.isNaN(t)) return 'undecidable';
  // 3. G = groups private at t
  const g = segmentFor(c, t);
  if (g === null) return 'public';
  // 4. the record itself names a private group
  for (let i = 0; i < facts.groups.length; i++) if (g.ids.has(facts.groups[i])) return 'private';
  // 5. applications
  if (g.application && facts.isApplication) return 'private';
  // 6. everything else is about the actor
  if (!g.needsActor) return 'public';
  const actor = facts.actor;
  if (actor === undefined || actor === '') return 'undecidable';
  // 7. external users (an application is not an external user)
  if (g.external && !facts.isApplication && !isManaged(actor, c)) return 'private';
  // 8. directory membership
  const m = membership(actor);
  if (m === 'unknown') return 'undecidable';
  for (let i = 0; i < g.idList.length; i++) if (m.has(g.idList[i])) return 'private';
  if (isIncomplete(m)) return 'undecidable'; // a source failed and the others do not settle it
  // 9.
  return 'public';
}

/** private → hide; undecidable → hide unless the policy says 'show' (anything else fails closed). */
export function hides(verdict: Verdict, policy: PolicySnapshot | CompiledPolicy): boolean {
  if (verdict === 'private') return true;
  if (verdict === 'public') return false;
  const p = 'segments' in policy ? policy.snapshot : policy;
  return p.undecidable !== 'show';
}

/**
 * SPEC §14: does a private activity stay, pseudonymised? Only when every group that makes
 * it private (at its time) pseudonymises, all of them are known (no failed or incomplete
 * membership that might add a hiding group) and the actor can be read (it is what gets
 * replaced). Anything else hides, as before.
 */
export function pseudonymises(facts: ActivityFacts, policy: PolicySnapshot | CompiledPolicy, membership: Membership): boolean {
  const c = compiled(policy);
  const t = facts.timestamp;
  if (c.empty || typeof t !== 'number' || Number.isNaN(t)) return false;
  const g = segmentFor(c, t);
  if (g === null || g.pseudo.size === 0) return false;
  const actor = facts.actor;
  if (actor === undefined || actor === '') return false;
  const k = classify(facts, c, membership);
  if (k.verdict !== 'private') return false;
  for (const id of k.groups) if (!g.pseudo.has(id)) return false;
  if (!g.needsActor) return true;
  const m = membership(actor);
  return m !== 'unknown' && !isIncomplete(m);
}

/** Synchronous HideBatch for a fixed policy snapshot and an in-memory membership. */
export function makeHideBatch(policy: PolicySnapshot | CompiledPolicy, membership: Membership): HideBatch {
  const c = compiled(policy);
  const show = c.snapshot.undecidable === 'show';
  return (facts) => {
    const out = new Array<HideAnswer>(facts.length);
    for (let i = 0; i < facts.length; i++) {
      const v = decide(facts[i], c, membership);
      if (v === 'private' && pseudonymises(facts[i], c, membership)) out[i] = 'pseudonymise';
      else out[i] = v === 'private' || (v === 'undecidable' && !show);
    }
    return out;
  };
}

/**
 * The verdict and WHICH private groups make the activity private: every group
 * private at the activity's time that applies to it (the record names it, the
 * built-in rules match, or the actor is a member). An activity private through
 * several groups lists them all, so a scoped reveal can show it when any one of
 * them is allowed. `verdict` always equals decide()'s; `groups` is empty unless
 * the verdict is 'private'.
 *
 * Unlike decide(), this does not stop at the first hit, so it is used only for
 * reveals that are narrowed (scope header or scoped permission).
 */
export interface Classification {
  verdict: Verdict;
  groups: readonly string[];
}

const PUBLIC: Classification = Object.freeze({ verdict: 'public', groups: Object.freeze([]) });
const UNDECIDABLE: Classification = Object.freeze({ verdict: 'undecidable', groups: Object.freeze([]) });

export function classify(facts: ActivityFacts, policy: PolicySnapshot | CompiledPolicy, membership: Membership): Classification {
  const c = compiled(policy);
  if (c.empty) return PUBLIC;
  const t = facts.timestamp;
  if (typeof t !== 'number' || Number.isNaN(t)) return UNDECIDABLE;
  const g = segmentFor(c, t);
  if (g === null) return PUBLIC;
  const through = new Set<string>();
  for (let i = 0; i < facts.groups.length; i++) if (g.ids.has(facts.groups[i])) through.add(facts.groups[i]);
  if (g.application && facts.isApplication) through.add(BUILTIN_APPLICATION);
  const done = (): Classification => (through.size > 0 ? { verdict: 'private', groups: [...through] } : PUBLIC);
  if (!g.needsActor) return done();
  const actor = facts.actor;
  // what is known already makes it private; what the unreadable actor might add cannot be known
  if (actor === undefined || actor === '') return through.size > 0 ? done() : UNDECIDABLE;
  if (g.external && !facts.isApplication && !isManaged(actor, c)) through.add(BUILTIN_EXTERNAL);
  const m = membership(actor);
  if (m === 'unknown') return through.size > 0 ? done() : UNDECIDABLE;
  for (let i = 0; i < g.idList.length; i++) if (m.has(g.idList[i])) through.add(g.idList[i]);
  if (through.size === 0 && isIncomplete(m)) return UNDECIDABLE;
  return done();
}
