/**
 * Property / differential test of the privacy decision with directory-sourced membership:
 * random private intervals, random per-source answers (LDAP, Graph, HTTP: groups or a
 * failure), static membership and records, run through the real path (per-source caches →
 * union → combined with static membership → decide) and compared with a naive oracle of
 * SPEC §9: an actor is private when any answer or the static list puts them in a group
 * private at the activity's time; otherwise, when some source failed, the activity is
 * undecidable (withheld unless `undecidable: show`); otherwise public.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cachedSource } from '../../../src/directory/cache.js';
import { unionOf } from '../../../src/directory/index.js';
import { DirectoryError, type DirectorySource, type SourceName } from '../../../src/directory/types.js';
import { makeHideBatch } from '../../../src/privacy/decision.js';
import { combineMembership, staticMembership } from '../../../src/privacy/membership.js';
import type { ActivityFacts, GroupInterval } from '../../../src/privacy/types.js';

const GROUPS = ['g1', 'g2', 'g3', 'g4'];
const ACTORS = ['a@contoso.com', 'b@contoso.com', 'c@contoso.com', 'd@contoso.com'];
const T0 = 1_000;
const T1 = 10_000;

type Answer = string[] | 'fail';
interface Scenario {
  intervals: GroupInterval[];
  sources: Array<{ name: SourceName; answers: Record<string, Answer> }>;
  staticGroups: Record<string, string[]>;
  facts: ActivityFacts[];
  undecidable: 'withhold' | 'show';
}

const answer: fc.Arbitrary<Answer> = fc.oneof({ weight: 4, arbitrary: fc.subarray(GROUPS) }, { weight: 1, arbitrary: fc.constant('fail' as const) });
const sourceArb = (name: SourceName) => fc.record({ name: fc.constant(name), answers: fc.record(Object.fromEntries(ACTORS.map((a) => [a, answer]))) });
const scenario: fc.Arbitrary<Scenario> = fc.record({
  intervals: fc.array(
    fc
      .record({ id: fc.constantFrom(...GROUPS), since: fc.integer({ min: T0, max: T1 }), len: fc.option(fc.integer({ min: 1, max: T1 }), { nil: null }) })
      .map(({ id, since, len }) => ({ id, privateSince: since, privateUntil: len === null ? null : since + len })),
    { maxLength: 4 },
  ),
  sources: fc.subarray(['ldap', 'graph', 'http'] as SourceName[], { minLength: 1 }).chain((names) => fc.tuple(...names.map(sourceArb))),
  staticGroups: fc.record(Object.fromEntries(GROUPS.map((g) => [g, fc.subarray(ACTORS, { maxLength: 2 })]))),
  facts: fc.array(
    fc.record({
      actor: fc.constantFrom(...ACTORS),
      timestamp: fc.integer({ min: T0, max: T1 * 2 }),
      groups: fc.constant([] as string[]),
      isApplication: fc.constant(false),
    }),
    { minLength: 1, maxLength: 8 },
  ),
  undecidable: fc.constantFrom('withhold' as const, 'show' as const),
});

function oracle(s: Scenario, f: ActivityFacts): boolean {
  const t = f.timestamp!;
  const active = new Set(s.intervals.filter((i) => i.privateSince <= t && (i.privateUntil === null || t < i.privateUntil)).map((i) => i.id));
  if (active.size === 0) return false;
  const actor = f.actor!;
  const known = new Set<string>(
    Object.entries(s.staticGroups)
      .filter(([, m]) => m.includes(actor))
      .map(([g]) => g),
  );
  let failed = false;
  for (const src of s.sources) {
    const a = src.answers[actor];
    if (a === 'fail') failed = true;
    else for (const g of a) known.add(g);
  }
  if ([...known].some((g) => active.has(g))) return true;
  if (failed) return s.undecidable === 'withhold';
  return false;
}

function fakeSource(name: SourceName, answers: Record<string, Answer>): DirectorySource {
  return {
    name,
    knowsUsers: name !== 'http',
    async lookup(principal) {
      const a = answers[principal];
      if (a === undefined || a === 'fail') throw new DirectoryError('down');
      return { exists: true, groups: new Set(a) };
    },
    close() {},
  };
}

describe('privacy decision with directory membership (property)', () => {
  it('the real path agrees with the SPEC §9 oracle', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const cached = s.sources.map((src) => cachedSource(fakeSource(src.name, src.answers), { ttlSec: 60, staleSec: 0, maxEntries: 100, timeoutMs: 1000 }));
        const principals = s.facts.map((f) => f.actor!);
        const parts = await Promise.all(cached.map((c) => c.prefetch(principals)));
        const membership = combineMembership(staticMembership(s.staticGroups), unionOf(parts));
        const hide = makeHideBatch({ intervals: s.intervals, managedDomains: ['contoso.com'], undecidable: s.undecidable }, membership);
        const got = await hide(s.facts);
        expect(got).toEqual(s.facts.map((f) => oracle(s, f)));
        for (const c of cached) c.close();
      }),
      { numRuns: 400 },
    );
  });

  it('withhold: a failing source never lets an actor through who is private per another source or not', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        s.undecidable = 'withhold';
        const cached = s.sources.map((src) => cachedSource(fakeSource(src.name, src.answers), { ttlSec: 60, staleSec: 0, maxEntries: 100, timeoutMs: 1000 }));
        const parts = await Promise.all(cached.map((c) => c.prefetch(s.facts.map((f) => f.actor!))));
        const hide = makeHideBatch(
          { intervals: s.intervals, managedDomains: ['contoso.com'], undecidable: 'withhold' },
          combineMembership(staticMembership(s.staticGroups), unionOf(parts)),
        );
        const got = await hide(s.facts);
        s.facts.forEach((f, i) => {
          const t = f.timestamp!;
          const anyActive = s.intervals.some((iv) => iv.privateSince <= t && (iv.privateUntil === null || t < iv.privateUntil));
          const anyFailed = s.sources.some((src) => src.answers[f.actor!] === 'fail');
          if (anyActive && anyFailed) expect(got[i]).toBe(true);
        });
        for (const c of cached) c.close();
      }),
      { numRuns: 300 },
    );
  });
});
