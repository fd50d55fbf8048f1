import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify, decide, hides } from '../../../src/privacy/decision.js';
import { combineMembership, staticMembership } from '../../../src/privacy/membership.js';
import { hideForReveal, makeRevealBatch, type RevealLimits } from '../../../src/privacy/revealFilter.js';
import {
  BUILTIN_APPLICATION as APP,
  BUILTIN_EXTERNAL as EXT,
  type ActivityFacts,
  type GroupInterval,
  type Membership,
  type PolicySnapshot,
} from '../../../src/privacy/types.js';

const ms = (iso: string) => Date.parse(iso);
const T0 = ms('2026-01-01T00:00:00Z');
const T1 = ms('2027-01-01T00:00:00Z');
const directory = staticMembership({
  hr: ['bob@contoso.com', 'carol@contoso.com'],
  legal: ['heidi@contoso.com', 'bob@contoso.com'],
  sales: ['ivan@contoso.com'],
});
const down: Membership = () => 'unknown';
const policy = (intervals: GroupInterval[], undecidable: 'withhold' | 'show' = 'withhold'): PolicySnapshot => ({
  intervals,
  managedDomains: ['contoso.com'],
  undecidable,
});
const f = (p: Partial<ActivityFacts>): ActivityFacts => ({ groups: [], isApplication: false, ...p });

describe('classify: which private groups make an activity private', () => {
  const p = policy([
    { id: 'hr', privateSince: T0, privateUntil: null },
    { id: 'legal', privateSince: T0, privateUntil: ms('2026-06-01T00:00:00Z') },
    { id: EXT, privateSince: T0, privateUntil: null },
    { id: APP, privateSince: T0, privateUntil: null },
  ]);
  const t = ms('2026-03-01T00:00:00Z');
  it('lists every group, not just the first hit', () => {
    expect(new Set(classify(f({ actor: 'bob@contoso.com', timestamp: t }), p, directory).groups)).toEqual(new Set(['hr', 'legal']));
    expect(new Set(classify(f({ actor: 'bob@contoso.com', timestamp: t, groups: ['sales', 'hr'] }), p, directory).groups)).toEqual(new Set(['hr', 'legal']));
    expect(new Set(classify(f({ actor: 'mallory@fabrikam.com', timestamp: t, groups: ['hr'] }), p, directory).groups)).toEqual(new Set(['hr', EXT]));
    expect(classify(f({ actor: 'svc', timestamp: t, isApplication: true }), p, directory)).toEqual({ verdict: 'private', groups: [APP] });
  });
  it('only groups private at the activity time count', () => {
    const later = ms('2026-07-01T00:00:00Z');
    expect(classify(f({ actor: 'bob@contoso.com', timestamp: later }), p, directory).groups).toEqual(['hr']);
    expect(classify(f({ actor: 'bob@contoso.com', timestamp: T0 - 1 }), p, directory)).toEqual({ verdict: 'public', groups: [] });
  });
  it('undecidable has no groups; a known hit survives a failed lookup', () => {
    expect(classify(f({ actor: 'judy@contoso.com', timestamp: t }), p, down)).toEqual({ verdict: 'undecidable', groups: [] });
    expect(classify(f({ actor: 'judy@contoso.com', timestamp: t, groups: ['hr'] }), p, down)).toEqual({ verdict: 'private', groups: ['hr'] });
    expect(classify(f({ timestamp: t, groups: ['legal'] }), p, directory)).toEqual({ verdict: 'private', groups: ['legal'] });
    expect(classify(f({ actor: 'bob@contoso.com' }), p, directory).verdict).toBe('undecidable');
  });
});

describe('reveal limits (examples)', () => {
  const p = policy([
    { id: 'hr', privateSince: T0, privateUntil: null },
    { id: 'legal', privateSince: T0, privateUntil: null },
    { id: EXT, privateSince: T0, privateUntil: null },
  ]);
  const t = ms('2026-03-01T00:00:00Z');
  const acts = [
    f({ id: 'pub', actor: 'paul@contoso.com', timestamp: t }),
    f({ id: 'bob', actor: 'bob@contoso.com', timestamp: t }), // hr + legal
    f({ id: 'carol', actor: 'Carol@Contoso.com', timestamp: t }), // hr
    f({ id: 'heidi', actor: 'heidi@contoso.com', timestamp: t }), // legal
    f({ id: 'ext', actor: 'mallory@fabrikam.com', timestamp: t }), // external
    f({ id: 'undecidable', actor: 'judy@contoso.com' }), // no time
  ];
  const run = (limits: RevealLimits) => makeRevealBatch(p, directory, limits)(acts) as string[];

  it('no limit: every private (and withheld undecidable) activity is shown', () => {
    expect(run({})).toEqual(['public', 'shown', 'shown', 'shown', 'shown', 'shown']);
  });
  it('scope group:hr shows hr only; an activity private through hr and legal is shown', () => {
    expect(run({ scope: { groups: ['hr'], actors: [] } })).toEqual(['public', 'shown', 'shown', 'withheld', 'withheld', 'withheld']);
  });
  it('scope actor: matches case-insensitively and can show an undecidable activity of that actor', () => {
    expect(run({ scope: { groups: [], actors: ['CAROL@contoso.com', 'judy@contoso.com'] } })).toEqual([
      'public',
      'withheld',
      'shown',
      'withheld',
      'withheld',
      'shown',
    ]);
  });
  it('a scoped permission never shows an undecidable activity', () => {
    expect(run({ permissionGroups: ['legal', EXT] })).toEqual(['public', 'shown', 'withheld', 'shown', 'shown', 'withheld']);
  });
  it('scope and permission combine: both must allow', () => {
    expect(run({ permissionGroups: ['legal'], scope: { groups: ['hr'], actors: ['heidi@contoso.com'] } })).toEqual([
      'public',
      'shown',
      'withheld',
      'shown',
      'withheld',
      'withheld',
    ]);
    expect(run({ permissionGroups: ['hr'], scope: { groups: ['legal'], actors: [] } })).toEqual([
      'public',
      'shown',
      'withheld',
      'withheld',
      'withheld',
      'withheld',
    ]);
  });
  it('undecidable under "show" is public to everyone, so a reveal does not count it', () => {
    expect(makeRevealBatch(policy(p.intervals as GroupInterval[], 'show'), directory, { permissionGroups: ['hr'] })([acts[5]])).toEqual(['public']);
  });
  it('hideForReveal removes only withheld activities and tallies the shown ones', async () => {
    const { hide, shown } = hideForReveal(makeRevealBatch(p, directory, { scope: { groups: ['hr'], actors: [] } }));
    expect(await hide(acts)).toEqual([false, false, false, true, true, true]);
    expect(shown).toEqual({
      count: 2,
      ids: ['bob', 'carol'],
      actors: new Map([
        ['bob@contoso.com', 1],
        ['carol@contoso.com', 1],
      ]),
    });
  });
  it('hideForReveal counts the shown activities per actor, normalised, across batches; actor-less ones count in no actor', async () => {
    const { hide, shown } = hideForReveal(makeRevealBatch(p, directory, {}));
    await hide(acts);
    await hide([f({ id: 'bob2', actor: ' BOB@contoso.com ', timestamp: t }), f({ id: 'noactor', timestamp: t, groups: ['hr'] }), acts[0]]);
    expect(shown.count).toBe(7);
    expect([...shown.actors]).toEqual([
      ['bob@contoso.com', 2],
      ['carol@contoso.com', 1],
      ['heidi@contoso.com', 1],
      ['mallory@fabrikam.com', 1],
      ['judy@contoso.com', 1],
    ]);
  });
  it('hideForReveal fails closed on a wrong-length or unknown answer', async () => {
    await expect(hideForReveal(() => ['public']).hide(acts)).rejects.toThrow(/wrong length/);
    const { hide } = hideForReveal(() => acts.map(() => 'maybe' as never));
    expect(await hide(acts)).toEqual(acts.map(() => true));
  });
});

// ---- properties ----

const ids = ['hr', 'legal', 'sales', EXT, APP];
const actors = [
  'bob@contoso.com',
  'BOB@contoso.com',
  'heidi@contoso.com',
  'ivan@contoso.com',
  'grace@eu.contoso.com',
  'mallory@fabrikam.com',
  'svc app',
  undefined,
];
const time = fc.integer({ min: T0, max: T1 });
const intervalArb: fc.Arbitrary<GroupInterval> = fc
  .record({ id: fc.constantFrom(...ids), a: time, len: fc.option(fc.integer({ min: 0, max: T1 - T0 }), { nil: undefined }) })
  .map(({ id, a, len }) => ({ id, privateSince: a, privateUntil: len === undefined ? null : a + len }));
const factsArb: fc.Arbitrary<ActivityFacts> = fc.record({
  id: fc.string({ maxLength: 3 }),
  actor: fc.constantFrom(...actors),
  timestamp: fc.option(time, { nil: undefined }),
  groups: fc.subarray(ids),
  isApplication: fc.boolean(),
});
const membershipArb: fc.Arbitrary<Membership> = fc.oneof(
  fc.constant(directory),
  fc.constant(down),
  fc.constant(combineMembership(directory, down)),
  fc.constant(staticMembership({ [EXT]: ['bob@contoso.com'], sales: ['ivan@contoso.com'] })),
);
const limitsArb: fc.Arbitrary<RevealLimits> = fc
  .record({
    scope: fc.option(
      fc.record({ groups: fc.subarray(ids), actors: fc.subarray(['bob@contoso.com', 'Heidi@Contoso.com', 'mallory@fabrikam.com', 'svc app']) }),
      { nil: undefined },
    ),
    permissionGroups: fc.option(fc.subarray(ids), { nil: undefined }),
  })
  .map((l) => {
    const out: RevealLimits = {};
    if (l.scope) out.scope = l.scope;
    if (l.permissionGroups) out.permissionGroups = l.permissionGroups;
    return out;
  });

/** Oracle for "private through X": the activity is private under a policy in which only X was ever private. */
const privateThrough = (x: string, facts: ActivityFacts, p: PolicySnapshot, m: Membership) =>
  decide(facts, { ...p, intervals: p.intervals.filter((iv) => iv.id === x) }, m) === 'private';

describe('properties', () => {
  it('classify agrees with decide, and lists exactly the groups the activity is private through', () => {
    fc.assert(
      fc.property(fc.array(intervalArb, { maxLength: 6 }), factsArb, membershipArb, (ivs, facts, m) => {
        const p = policy(ivs);
        const k = classify(facts, p, m);
        expect(k.verdict).toBe(decide(facts, p, m));
        if (k.verdict !== 'private') expect(k.groups).toEqual([]);
        const expected = ids.filter((x) => privateThrough(x, facts, p, m));
        if (k.verdict === 'private') expect(new Set(k.groups)).toEqual(new Set(expected));
        else if (k.verdict === 'public') expect(expected).toEqual([]);
      }),
      { numRuns: 5000 },
    );
  });

  it('a reveal shows exactly the hidden activities both limits allow, and tallies their actors (oracle: single-group decisions)', async () => {
    let shownSome = 0;
    let withheldSome = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(intervalArb, { maxLength: 6 }),
        fc.array(factsArb, { maxLength: 8 }),
        membershipArb,
        limitsArb,
        fc.constantFrom('withhold' as const, 'show' as const),
        async (ivs, acts, m, limits, und) => {
          const p = policy(ivs, und);
          const out = makeRevealBatch(p, m, limits)(acts) as string[];
          const expectedActors = new Map<string, number>();
          acts.forEach((facts, i) => {
            const hidden = hides(decide(facts, p, m), p);
            if (!hidden) return expect(out[i]).toBe('public');
            const through = ids.filter((x) => privateThrough(x, facts, p, m));
            const permOk = limits.permissionGroups === undefined || through.some((x) => limits.permissionGroups!.includes(x));
            const actor = facts.actor?.trim().toLowerCase();
            const scopeOk =
              limits.scope === undefined ||
              through.some((x) => limits.scope!.groups.includes(x)) ||
              (actor !== undefined && limits.scope.actors.some((a) => a.toLowerCase() === actor));
            expect(out[i]).toBe(permOk && scopeOk ? 'shown' : 'withheld');
            if (permOk && scopeOk) {
              shownSome++;
              if (actor !== undefined && actor !== '') expectedActors.set(actor, (expectedActors.get(actor) ?? 0) + 1);
            } else withheldSome++;
          });
          // the tally's actors: the oracle's shown activities, counted per lower-cased actor
          const tally = hideForReveal(makeRevealBatch(p, m, limits));
          await tally.hide(acts);
          expect(new Map([...tally.shown.actors].sort())).toEqual(new Map([...expectedActors].sort()));
        },
      ),
      { numRuns: 3000 },
    );
    expect(shownSome).toBeGreaterThan(200);
    expect(withheldSome).toBeGreaterThan(200);
  });

  it('narrowing never shows more: a scope or permission only moves activities from shown to withheld', () => {
    fc.assert(
      fc.property(fc.array(intervalArb, { maxLength: 6 }), fc.array(factsArb, { maxLength: 8 }), membershipArb, limitsArb, (ivs, acts, m, limits) => {
        const p = policy(ivs);
        const all = makeRevealBatch(p, m, {})(acts) as string[];
        const narrowed = makeRevealBatch(p, m, limits)(acts) as string[];
        narrowed.forEach((a, i) => {
          if (a === 'shown') expect(all[i]).toBe('shown');
          if (all[i] === 'public') expect(a).toBe('public');
        });
      }),
      { numRuns: 2000 },
    );
  });
});
