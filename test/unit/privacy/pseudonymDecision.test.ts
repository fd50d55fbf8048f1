import { describe, expect, it } from 'vitest';
import { makeHideBatch } from '../../../src/privacy/decision.js';
import { staticMembership } from '../../../src/privacy/membership.js';
import { hideForReveal, makeRevealBatch } from '../../../src/privacy/revealFilter.js';
import type { ActivityFacts, GroupInterval, Membership, PolicySnapshot } from '../../../src/privacy/types.js';

const T = Date.parse('2026-04-01T00:00:00Z');
const groups: GroupInterval[] = [
  { id: 'staff', privateSince: 0, privateUntil: null, mode: 'pseudonymise' },
  { id: 'council', privateSince: 0, privateUntil: null },
];
const policy: PolicySnapshot = { intervals: groups, managedDomains: ['contoso.com'], undecidable: 'withhold' };
const members = staticMembership({ staff: ['bob@contoso.com', 'carol@contoso.com'], council: ['carol@contoso.com'] });
const facts = (actor: string | undefined, extra: Partial<ActivityFacts> = {}): ActivityFacts => ({
  id: actor,
  actor,
  timestamp: T,
  groups: [],
  isApplication: false,
  ...extra,
});

describe('pseudonymising groups in the decision (SPEC §14)', () => {
  it('private only through pseudonymising groups: pseudonymise; any hide group: hide; public stays', async () => {
    const hide = makeHideBatch(policy, members);
    expect(await hide([facts('bob@contoso.com'), facts('carol@contoso.com'), facts('dave@contoso.com')])).toEqual(['pseudonymise', true, false]);
  });

  it('the record naming a hide group wins; no readable actor or an unknown membership hides', async () => {
    const unknown: Membership = () => 'unknown';
    expect(await makeHideBatch(policy, members)([facts('bob@contoso.com', { groups: ['council'] })])).toEqual([true]);
    expect(await makeHideBatch(policy, members)([facts(undefined, { groups: ['staff'] })])).toEqual([true]);
    expect(await makeHideBatch(policy, unknown)([facts('bob@contoso.com', { groups: ['staff'] })])).toEqual([true]);
  });

  it('a reveal shows them as sent and counts them; outside its scope they stay pseudonymised', async () => {
    const all = hideForReveal(makeRevealBatch(policy, members, {}));
    expect(await all.hide([facts('bob@contoso.com'), facts('dave@contoso.com')])).toEqual([false, false]);
    expect(all.shown).toEqual({ count: 1, ids: ['bob@contoso.com'], actors: new Map([['bob@contoso.com', 1]]) });
    const scoped = hideForReveal(makeRevealBatch(policy, members, { scope: { groups: ['council'], actors: [] } }));
    expect(await scoped.hide([facts('bob@contoso.com'), facts('carol@contoso.com')])).toEqual(['pseudonymise', false]);
    expect(scoped.shown.count).toBe(1);
    const permission = hideForReveal(makeRevealBatch(policy, members, { permissionGroups: ['council'] }));
    expect(await permission.hide([facts('bob@contoso.com')])).toEqual(['pseudonymise']);
  });
});
