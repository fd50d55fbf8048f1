/**
 * What a granted reveal may show (SPEC §10), pure. Two independent limits narrow
 * a reveal, and both must allow an activity for it to be shown:
 *
 * - the reveal's scope (header): `group:<id>` items and `actor:<principal>` items;
 *   an activity is in scope when its actor is named, or when it is private through
 *   a named group;
 * - a scoped permission's `groups`: the activity must be private through one of them.
 *
 * "Private through" comes from classify(): an activity private through several
 * groups is shown when any one of them is allowed. An activity withheld because it
 * is undecidable is private through no known group, so only an `actor:` item naming
 * its (readable) actor can show it, and never under a scoped permission.
 * Everything not shown is withheld exactly as for an ordinary consumer.
 */
import { classify, compilePolicy, decide, pseudonymises, type CompiledPolicy } from './decision.js';
import { normalizePrincipal } from '../principal.js';
import type { ActivityFacts, HideBatch, Membership, PolicySnapshot, RevealScope } from './types.js';

export type { RevealScope } from './types.js';

export interface RevealLimits {
  /** the reveal's own scope; undefined = no scope header */
  scope?: RevealScope;
  /** the permission's groups; undefined = the permission covers every group */
  permissionGroups?: readonly string[];
}

/**
 * public: not private at all; shown: private and allowed; withheld: removed as for an ordinary
 * consumer; pseudonymised: outside the reveal's limits and pseudonymised as for an ordinary consumer
 */
export type RevealAnswer = 'public' | 'shown' | 'withheld' | 'pseudonymised';

export type RevealBatch = (facts: readonly ActivityFacts[]) => RevealAnswer[] | Promise<RevealAnswer[]>;

/** true when neither limit applies: every private activity is shown */
export function unlimited(limits: RevealLimits): boolean {
  return limits.scope === undefined && limits.permissionGroups === undefined;
}

interface CompiledLimits {
  scopeGroups?: ReadonlySet<string>;
  scopeActors?: ReadonlySet<string>;
  permissionGroups?: ReadonlySet<string>;
}

function compileLimits(limits: RevealLimits): CompiledLimits {
  const out: CompiledLimits = {};
  if (limits.scope) {
    out.scopeGroups = new Set(limits.scope.groups);
    out.scopeActors = new Set(limits.scope.actors.map((a) => normalizePrincipal(a)).filter((a): a is string => a !== undefined));
  }
  if (limits.permissionGroups) out.permissionGroups = new Set(limits.permissionGroups);
  return out;
}

function anyIn(groups: readonly string[], allowed: ReadonlySet<string>): boolean {
  for (const g of groups) if (allowed.has(g)) return true;
  return false;
}

/** Does every limit allow this private (or withheld-undecidable) activity? */
function allowed(l: CompiledLimits, facts: ActivityFacts, through: readonly string[]): boolean {
  if (l.permissionGroups && !anyIn(through, l.permissionGroups)) return false;
  if (l.scopeGroups && l.scopeActors) {
    const actor = facts.actor === undefined ? undefined : normalizePrincipal(facts.actor);
    const byActor = actor !== undefined && l.scopeActors.has(actor);
    if (!byActor && !anyIn(through, l.scopeGroups)) return false;
  }
  return true;
}

/** Synchronous reveal classifier for a fixed policy snapshot and an in-memory membership. */
export function makeRevealBatch(policy: PolicySnapshot | CompiledPolicy, membership: Membership, limits: RevealLimits): RevealBatch {
  const c = 'segments' in policy ? policy : compilePolicy(policy);
  const show = c.snapshot.undecidable === 'show';
  const l = compileLimits(limits);
  if (unlimited(limits)) {
    // nothing narrows the reveal: the verdict alone decides, no need to know which groups
    return (facts) =>
      facts.map((f) => {
        const v = decide(f, c, membership);
        return v === 'public' || (v === 'undecidable' && show) ? 'public' : 'shown';
      });
  }
  return (facts) => {
    const out = new Array<RevealAnswer>(facts.length);
    for (let i = 0; i < facts.length; i++) {
      const k = classify(facts[i], c, membership);
      if (k.verdict === 'public' || (k.verdict === 'undecidable' && show)) out[i] = 'public';
      else if (allowed(l, facts[i], k.groups)) out[i] = 'shown';
      else out[i] = k.verdict === 'private' && pseudonymises(facts[i], c, membership) ? 'pseudonymised' : 'withheld';
    }
    return out;
  };
}

/** The private activities a reveal showed: what its governance entry records. */
export interface ShownTally {
  count: number;
  ids: string[];
  /** shown private activities per actor (normalised principal, as the facts carry it), in order of first appearance (SPEC §6 `actors`) */
  actors: Map<string, number>;
}

/**
 * Adapts a RevealBatch to the HideBatch the rewriters take (true = remove), and
 * tallies the shown activities. Fail closed: an answer that is not exactly
 * 'public' or 'shown' removes the activity.
 */
export function hideForReveal(batch: RevealBatch): { hide: HideBatch; shown: ShownTally } {
  const shown: ShownTally = { count: 0, ids: [], actors: new Map() };
  const hide: HideBatch = async (facts) => {
    const answers = await batch(facts);
    if (!Array.isArray(answers) || answers.length !== facts.length) throw new Error('reveal batch returned a result of the wrong length');
    return answers.map((a, i) => {
      if (a === 'public') return false;
      if (a === 'shown') {
        shown.count++;
        const id = facts[i].id;
        if (id !== undefined) shown.ids.push(id);
        const actor = facts[i].actor === undefined ? undefined : normalizePrincipal(facts[i].actor);
        if (actor !== undefined) shown.actors.set(actor, (shown.actors.get(actor) ?? 0) + 1);
        return false;
      }
      return a === 'pseudonymised' ? 'pseudonymise' : true;
    });
  };
  return { hide, shown };
}
