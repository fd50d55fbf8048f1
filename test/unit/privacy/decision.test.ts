import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePolicy, decide, hides, makeHideBatch } from '../../../src/privacy/decision.js';
import { compileExtractor } from '../../../src/privacy/extract.js';
import { combineMembership, staticMembership } from '../../../src/privacy/membership.js';
import {
  BUILTIN_APPLICATION as APP,
  BUILTIN_EXTERNAL as EXT,
  type ActivityFacts,
  type GroupInterval,
  type Membership,
  type PolicySnapshot,
  type Verdict,
  type ActivitiesSpec,
} from '../../../src/privacy/types.js';

const ms = (iso: string) => Date.parse(iso);
const HR = ms('2026-03-01T00:00:00Z');
const EXT_SINCE = ms('2026-06-01T00:00:00Z');
const LEGAL = ms('2026-02-01T00:00:00Z');
const LEGAL_END = ms('2026-05-01T00:00:00Z');

/** The demo policy (config/demo.yaml). */
const demo: PolicySnapshot = {
  intervals: [
    { id: 'hr', name: 'Human Resources', privateSince: HR, privateUntil: null },
    { id: EXT, name: 'External users', privateSince: EXT_SINCE, privateUntil: null },
    { id: 'legal', name: 'Legal', privateSince: LEGAL, privateUntil: LEGAL_END },
  ],
  managedDomains: ['contoso.com'],
  undecidable: 'withhold',
};
const directory = staticMembership({
  hr: ['bob@contoso.com', 'carol@contoso.com'],
  legal: ['heidi@contoso.com'],
});
const down: Membership = () => 'unknown';

function facts(p: Partial<ActivityFacts> & { t?: number }): ActivityFacts {
  return { actor: p.actor, timestamp: 't' in p ? p.t : p.timestamp, groups: p.groups ?? [], isApplication: p.isApplication ?? false, id: p.id };
}
const policy = (intervals: GroupInterval[], extra: Partial<PolicySnapshot> = {}): PolicySnapshot => ({
  intervals,
  managedDomains: ['contoso.com'],
  undecidable: 'withhold',
  ...extra,
});

describe('rule 1: no private interval at all', () => {
  it('is public without reading anything', () => {
    const empty = policy([]);
    const trap = new Proxy({} as ActivityFacts, {
      get() {
        throw new Error('facts read');
      },
    });
    const noLookup: Membership = () => {
      throw new Error('membership read');
    };
    expect(decide(trap, empty, noLookup)).toBe('public');
    expect(decide(facts({}), empty, down)).toBe('public');
  });
  it('an interval that ends where it starts is no interval', () => {
    expect(decide(facts({}), policy([{ id: 'hr', privateSince: HR, privateUntil: HR }]), down)).toBe('public');
  });
});

describe('rules 2-3: time', () => {
  it.each<[string, number | undefined, Verdict]>([
    ['no time', undefined, 'undecidable'],
    ['NaN time', NaN, 'undecidable'],
    ['before every interval', LEGAL - 1, 'public'],
    ['in no interval for an ordinary user', HR, 'public'],
  ])('%s', (_n, t, want) => {
    expect(decide(facts({ actor: 'ivan@contoso.com', t }), demo, directory)).toBe(want);
  });
  it('no time is undecidable even for a record carrying a private group', () => {
    expect(decide(facts({ actor: 'bob@contoso.com', groups: ['hr'] }), demo, directory)).toBe('undecidable');
  });
});

describe('interval boundaries (hr via directory, hr via record, legal ended)', () => {
  const cases: [string, ActivityFacts, Verdict][] = [
    ['hr member 1 ms before privateSince', facts({ actor: 'bob@contoso.com', t: HR - 1 }), 'public'],
    ['hr member exactly at privateSince', facts({ actor: 'bob@contoso.com', t: HR }), 'private'],
    ['hr member 1 ms after privateSince', facts({ actor: 'bob@contoso.com', t: HR + 1 }), 'private'],
    ['hr member 0.5 ms before privateSince', facts({ actor: 'bob@contoso.com', t: HR - 0.5 }), 'public'],
    ['hr via record tag, before', facts({ actor: 'frank@contoso.com', groups: ['hr'], t: HR - 1 }), 'public'],
    ['hr via record tag, at', facts({ actor: 'frank@contoso.com', groups: ['hr'], t: HR }), 'private'],
    ['legal member 1 ms before privateSince', facts({ actor: 'heidi@contoso.com', t: LEGAL - 1 }), 'public'],
    ['legal member at privateSince', facts({ actor: 'heidi@contoso.com', t: LEGAL }), 'private'],
    ['legal member 1 ms before privateUntil', facts({ actor: 'heidi@contoso.com', t: LEGAL_END - 1 }), 'private'],
    ['legal member exactly at privateUntil', facts({ actor: 'heidi@contoso.com', t: LEGAL_END }), 'public'],
    ['legal member 1 ms after privateUntil', facts({ actor: 'heidi@contoso.com', t: LEGAL_END + 1 }), 'public'],
    ['legal member long after', facts({ actor: 'heidi@contoso.com', t: ms('2026-10-01T00:00:00Z') }), 'public'],
    ['ordinary user inside every interval', facts({ actor: 'ivan@contoso.com', t: EXT_SINCE }), 'public'],
    ['subdomain user inside every interval', facts({ actor: 'grace@eu.contoso.com', t: EXT_SINCE }), 'public'],
  ];
  it.each(cases)('%s', (_n, f, want) => {
    expect(decide(f, demo, directory)).toBe(want);
  });
});

describe('history: several intervals of one group', () => {
  // hr private Jan..Feb, public Feb..Apr, private again from Apr (removed, then re-added)
  const J = ms('2026-01-01T00:00:00Z');
  const F = ms('2026-02-01T00:00:00Z');
  const A = ms('2026-04-01T00:00:00Z');
  const p = policy([
    { id: 'hr', privateSince: A, privateUntil: null }, // unsorted on purpose
    { id: 'hr', privateSince: J, privateUntil: F },
  ]);
  it.each<[number, Verdict]>([
    [J - 1, 'public'],
    [J, 'private'],
    [F - 1, 'private'],
    [F, 'public'],
    [A - 1, 'public'],
    [A, 'private'],
    [ms('2030-01-01T00:00:00Z'), 'private'],
  ])('t=%d -> %s', (t, want) => {
    expect(decide(facts({ actor: 'bob@contoso.com', t }), p, directory)).toBe(want);
    expect(decide(facts({ actor: 'x@contoso.com', groups: ['hr'], t }), p, directory)).toBe(want);
  });
  it('overlapping intervals of one group and of different groups', () => {
    const q = policy([
      { id: 'hr', privateSince: J, privateUntil: A },
      { id: 'hr', privateSince: F, privateUntil: null },
      { id: 'legal', privateSince: F, privateUntil: A },
    ]);
    expect(decide(facts({ actor: 'bob@contoso.com', t: A + 1 }), q, directory)).toBe('private');
    expect(decide(facts({ actor: 'heidi@contoso.com', t: A - 1 }), q, directory)).toBe('private');
    expect(decide(facts({ actor: 'heidi@contoso.com', t: A }), q, directory)).toBe('public');
  });
});

describe('rule 4 vs rule 8: record tags vs directory', () => {
  it.each<[string, ActivityFacts, Membership, Verdict]>([
    ['tag only (not in directory)', facts({ actor: 'frank@contoso.com', groups: ['hr'], t: HR }), directory, 'private'],
    ['directory only', facts({ actor: 'carol@contoso.com', groups: [], t: HR }), directory, 'private'],
    ['tag of a non-private group', facts({ actor: 'ivan@contoso.com', groups: ['sales'], t: HR }), directory, 'public'],
    ['tag decides even when the directory is down', facts({ actor: 'frank@contoso.com', groups: ['hr'], t: HR }), down, 'private'],
    ['tag decides even without an actor', facts({ groups: ['hr'], t: HR }), directory, 'private'],
    ['directory down, no tag', facts({ actor: 'ivan@contoso.com', t: HR }), down, 'undecidable'],
    ['directory down outside every interval', facts({ actor: 'ivan@contoso.com', t: LEGAL - 1 }), down, 'public'],
    ['group ids are exact (HR is not hr)', facts({ actor: 'ivan@contoso.com', groups: ['HR'], t: HR }), directory, 'public'],
  ])('%s', (_n, f, m, want) => {
    expect(decide(f, demo, m)).toBe(want);
  });
  it('a combined directory with one part down: a known hit is private, no hit is undecidable', () => {
    const m = combineMembership(directory, down);
    expect(decide(facts({ actor: 'bob@contoso.com', t: HR }), demo, m)).toBe('private');
    expect(decide(facts({ actor: 'ivan@contoso.com', t: HR }), demo, m)).toBe('undecidable');
    // heidi is in legal, which is not private at HR + 70 days
    expect(decide(facts({ actor: 'heidi@contoso.com', t: LEGAL_END }), demo, m)).toBe('undecidable');
  });
  it('the membership lookup sees the actor and is not called when the record decides', () => {
    const seen: string[] = [];
    const spy: Membership = (p) => (seen.push(p), new Set());
    decide(facts({ actor: 'bob@contoso.com', groups: ['hr'], t: HR }), demo, spy);
    expect(seen).toEqual([]);
    decide(facts({ actor: 'bob@contoso.com', t: HR }), demo, spy);
    expect(seen).toEqual(['bob@contoso.com']);
  });
});

describe('rule 6: actor needed', () => {
  it.each<[string, ActivityFacts, Verdict]>([
    ['no actor inside hr', facts({ t: HR }), 'undecidable'],
    ['empty actor inside hr', facts({ actor: '', t: HR }), 'undecidable'],
    ['no actor outside every interval', facts({ t: LEGAL - 1 }), 'public'],
  ])('%s', (_n, f, want) => {
    expect(decide(f, demo, directory)).toBe(want);
  });
  it('only builtin:application private: the actor is not needed', () => {
    const p = policy([{ id: APP, privateSince: 0, privateUntil: null }]);
    expect(decide(facts({ t: HR }), p, down)).toBe('public');
    expect(decide(facts({ t: HR, isApplication: true }), p, down)).toBe('private');
  });
});

describe('rule 7: external users and managed domains', () => {
  const t = EXT_SINCE;
  it.each<[string, Verdict]>([
    ['mallory@fabrikam.com', 'private'],
    ['partner@adatum.com', 'private'],
    ['ivan@contoso.com', 'public'],
    ['ivan@CONTOSO.COM', 'public'],
    ['ivan@contoso.com.', 'public'],
    ['grace@eu.contoso.com', 'public'],
    ['grace@a.b.eu.contoso.com', 'public'],
    ['x@contoso.com.evil.com', 'private'],
    ['x@evilcontoso.com', 'private'],
    ['x@contoso.co', 'private'],
    ['x@ontoso.com', 'private'],
    ['x@.contoso.com', 'private'], // empty label: not a real domain
    ['x@eu..contoso.com', 'private'],
    ['x@contoso.com..', 'public'], // trailing dots are ignored
    ['contoso.com', 'private'], // no '@': no domain
    ['contoso\\bob', 'private'],
    ['x@', 'private'],
    ['x@.', 'private'],
    ['a@contoso.com@fabrikam.com', 'private'], // the last '@' counts
    ['a@fabrikam.com@contoso.com', 'public'],
    ['ünïcødé@contoso.com', 'public'],
    ['ünïcødé@cöntoso.com', 'private'],
  ])('%s -> %s', (actor, want) => {
    expect(decide(facts({ actor, t }), demo, directory)).toBe(want);
  });
  it('before the external-users interval externals are public', () => {
    expect(decide(facts({ actor: 'mallory@fabrikam.com', t: EXT_SINCE - 1 }), demo, directory)).toBe('public');
  });
  it('the external-users tag makes even a managed actor private', () => {
    expect(decide(facts({ actor: 'ivan@contoso.com', groups: ['000000200000000000000000', EXT], t }), demo, directory)).toBe('private');
    expect(decide(facts({ actor: 'ivan@contoso.com', groups: ['000000200000000000000000', EXT], t: t - 1 }), demo, directory)).toBe('public');
  });
  it('managed domains are normalised: case, trailing dot, whitespace', () => {
    const p = policy([{ id: EXT, privateSince: 0, privateUntil: null }], { managedDomains: [' Contoso.COM. ', 'Fabrikam.com'] });
    expect(decide(facts({ actor: 'a@contoso.com', t }), p, directory)).toBe('public');
    expect(decide(facts({ actor: 'a@sub.fabrikam.com', t }), p, directory)).toBe('public');
    expect(decide(facts({ actor: 'a@adatum.com', t }), p, directory)).toBe('private');
  });
  it('no managed domains: every user is external', () => {
    const p = policy([{ id: EXT, privateSince: 0, privateUntil: null }], { managedDomains: [] });
    expect(decide(facts({ actor: 'a@contoso.com', t }), p, directory)).toBe('private');
  });
  it('an external user in a directory group is private through either rule', () => {
    const m = staticMembership({ hr: ['mallory@fabrikam.com'] });
    expect(decide(facts({ actor: 'mallory@fabrikam.com', t: HR }), demo, m)).toBe('private');
  });
});

describe('rule 5 and 7: applications', () => {
  const appPolicy = policy([{ id: APP, privateSince: HR, privateUntil: null }]);
  const both = policy([
    { id: APP, privateSince: HR, privateUntil: null },
    { id: EXT, privateSince: HR, privateUntil: null },
  ]);
  it.each<[string, PolicySnapshot, ActivityFacts, Verdict]>([
    ['app, application private', appPolicy, facts({ actor: 'microsoft exchange online', isApplication: true, t: HR }), 'private'],
    ['app by tag, application private', appPolicy, facts({ groups: ['0000003b0000000000000000', APP], isApplication: true, t: HR }), 'private'],
    ['app before the interval', appPolicy, facts({ isApplication: true, t: HR - 1 }), 'public'],
    ['user, application private', appPolicy, facts({ actor: 'mallory@fabrikam.com', t: HR }), 'public'],
    ['app is not an external user', demo, facts({ actor: 'microsoft exchange online', isApplication: true, t: EXT_SINCE }), 'public'],
    ['app without actor, externals private', demo, facts({ isApplication: true, t: EXT_SINCE }), 'undecidable'],
    ['app when both private', both, facts({ actor: 'microsoft exchange online', isApplication: true, t: HR }), 'private'],
    ['non-app without @ when both private', both, facts({ actor: 'microsoft exchange online', t: HR }), 'private'],
    ['app carrying the external-users tag', demo, facts({ actor: 'svc', groups: [EXT], isApplication: true, t: EXT_SINCE }), 'private'],
  ])('%s', (_n, p, f, want) => {
    expect(decide(f, p, directory)).toBe(want);
  });
});

describe('case and unicode of principals', () => {
  it('directory and decision agree case-insensitively', () => {
    const m = staticMembership({ hr: ['Ärger@Contoso.com'] });
    expect(decide(facts({ actor: 'ärger@contoso.com', t: HR }), demo, m)).toBe('private');
    expect(decide(facts({ actor: 'ÄRGER@CONTOSO.COM', t: HR }), demo, m)).toBe('private');
    expect(decide(facts({ actor: 'BOB@contoso.com', t: HR }), demo, directory)).toBe('private');
  });
});

describe('hides', () => {
  it.each<[Verdict, PolicySnapshot['undecidable'], boolean]>([
    ['private', 'withhold', true],
    ['private', 'show', true],
    ['public', 'withhold', false],
    ['public', 'show', false],
    ['undecidable', 'withhold', true],
    ['undecidable', 'show', false],
  ])('%s under %s -> %s', (v, u, want) => {
    const p = { ...demo, undecidable: u };
    expect(hides(v, p)).toBe(want);
    expect(hides(v, compilePolicy(p))).toBe(want);
  });
  it('an unexpected undecidable setting fails closed', () => {
    expect(hides('undecidable', { ...demo, undecidable: 'maybe' as 'show' })).toBe(true);
  });
});

describe('makeHideBatch and end-to-end with the demo extractor', () => {
  const spec: ActivitiesSpec = {
    id: '_id',
    timestamp: 'timestamp',
    actor: ['user.userName', 'failedUserData.userName'],
    groups: ['user.userTags', 'resolvedActor.tags'],
    application: { path: 'actorType', equals: ['APPLICATION'] },
    builtinTags: { 'external-users': '000000200000000000000000', application: '0000003b0000000000000000' },
  };
  const extract = compileExtractor(spec);
  const records = [
    { _id: '1', timestamp: HR, user: { userName: 'Bob@contoso.com' } }, // private (directory)
    { _id: '2', timestamp: HR - 1, user: { userName: 'bob@contoso.com' } }, // public (before)
    { _id: '3', timestamp: '2026-03-01T05:30:00+05:30', user: { userName: 'frank@contoso.com', userTags: ['hr'] } }, // private (tag, at the boundary)
    { _id: '4', timestamp: '2026-02-28T23:59:59.999Z', user: { userName: 'frank@contoso.com', userTags: ['hr'] } }, // public
    { _id: '5', timestamp: EXT_SINCE, actorType: 'APPLICATION', user: { userName: 'Microsoft Exchange Online' } }, // public
    { _id: '6', timestamp: EXT_SINCE, user: { userName: 'mallory@fabrikam.com' } }, // private (external)
    { _id: '7', timestamp: HR, failedUserData: { userName: 'carol@contoso.com' } }, // private (failed logon)
    { _id: '8', timestamp: HR }, // undecidable (no actor)
    { _id: '9', user: { userName: 'ivan@contoso.com' } }, // undecidable (no time)
    { _id: '10', timestamp: HR, user: { userName: 'ivan@contoso.com' } }, // public
  ];
  const f = records.map(extract);
  it('withhold', () => {
    const out = makeHideBatch(demo, directory)(f);
    expect(out).toEqual([true, false, true, false, false, true, true, true, true, false]);
  });
  it('show', () => {
    const out = makeHideBatch({ ...demo, undecidable: 'show' }, directory)(f);
    expect(out).toEqual([true, false, true, false, false, true, true, false, false, false]);
  });
  it('empty batch', () => {
    expect(makeHideBatch(demo, directory)([])).toEqual([]);
  });
  it('decide on a snapshot and on its compiled form agree', () => {
    const c = compilePolicy(demo);
    for (const x of f) expect(decide(x, c, directory)).toBe(decide(x, demo, directory));
  });
});

describe('malformed intervals fail closed', () => {
  it('a NaN privateSince counts as private since always; a NaN privateUntil as still private', () => {
    const p = policy([
      { id: 'hr', privateSince: NaN, privateUntil: HR },
      { id: 'legal', privateSince: LEGAL, privateUntil: NaN },
    ]);
    expect(decide(facts({ actor: 'bob@contoso.com', t: 0 }), p, directory)).toBe('private');
    expect(decide(facts({ actor: 'bob@contoso.com', t: HR }), p, directory)).toBe('public');
    expect(decide(facts({ actor: 'heidi@contoso.com', t: ms('2099-01-01T00:00:00Z') }), p, directory)).toBe('private');
  });
});

// ---- properties ----

const ids = ['hr', 'legal', 'sales', EXT, APP];
const actors = ['bob@contoso.com', 'heidi@contoso.com', 'ivan@contoso.com', 'grace@eu.contoso.com', 'mallory@fabrikam.com', 'svc app', undefined];
const T0 = ms('2026-01-01T00:00:00Z');
const T1 = ms('2027-01-01T00:00:00Z');
const time = fc.integer({ min: T0, max: T1 });
const intervalArb: fc.Arbitrary<GroupInterval> = fc
  .record({ id: fc.constantFrom(...ids), a: time, len: fc.option(fc.integer({ min: 0, max: T1 - T0 }), { nil: undefined }) })
  .map(({ id, a, len }) => ({ id, privateSince: a, privateUntil: len === undefined ? null : a + len }));
const factsArb: fc.Arbitrary<ActivityFacts> = fc.record({
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

describe('properties', () => {
  it('(a) monotone: adding a private interval never turns private into public (or undecidable)', () => {
    fc.assert(
      fc.property(fc.array(intervalArb, { maxLength: 6 }), intervalArb, factsArb, membershipArb, (ivs, extra, f, m) => {
        const before = decide(f, policy(ivs), m);
        const after = decide(f, policy([...ivs, extra]), m);
        if (before === 'private') expect(after).toBe('private');
        // hiding is monotone too, under either undecidable setting
        for (const u of ['withhold', 'show'] as const) {
          if (hides(before, policy([], { undecidable: u }))) expect(hides(after, policy([], { undecidable: u }))).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
  it('(b) an activity outside every interval is public, whatever else is true', () => {
    fc.assert(
      fc.property(fc.array(intervalArb, { maxLength: 6 }), factsArb, membershipArb, time, (ivs, f, m, t) => {
        const inside = ivs.some((iv) => iv.privateSince <= t && (iv.privateUntil === null || t < iv.privateUntil));
        fc.pre(!inside);
        expect(decide({ ...f, timestamp: t }, policy(ivs), m)).toBe('public');
      }),
      { numRuns: 1000 },
    );
  });
  it('the compiled timeline agrees with a direct scan of the intervals', () => {
    // reference: G computed naively per call
    const ref = (f: ActivityFacts, ivs: GroupInterval[]): Set<string> | null => {
      if (f.timestamp === undefined) return null;
      const t = f.timestamp;
      return new Set(ivs.filter((iv) => iv.privateSince <= t && (iv.privateUntil === null || t < iv.privateUntil)).map((iv) => iv.id));
    };
    fc.assert(
      fc.property(fc.array(intervalArb, { minLength: 1, maxLength: 8 }), factsArb, (ivs, f) => {
        const g = ref(f, ivs);
        fc.pre(g !== null);
        // a record carrying every id is private exactly when G is non-empty
        const v = decide({ ...f, groups: ids }, policy(ivs), directory);
        expect(v).toBe(g.size > 0 ? 'private' : 'public');
      }),
      { numRuns: 1000 },
    );
  });
});
