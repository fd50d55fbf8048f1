/** The directory's parts: combining the sources' answers, and the catalogue's local names from plain data. */
import { describe, expect, it } from 'vitest';
import { combineAnswers, createDirectory, localGroupNames } from '../../../src/directory/index.js';

describe('combineAnswers', () => {
  it('unions the groups; only sources that know users decide `exists`', () => {
    const r = combineAnswers(
      [true, false],
      [
        { exists: false, groups: new Set(['a']) },
        { exists: true, groups: new Set(['b']) },
      ],
    );
    expect(r).toEqual({ failed: false, checkable: true, exists: false, groups: new Set(['a', 'b']) });
  });

  it('a failed source marks the lookup failed and keeps the other groups', () => {
    const r = combineAnswers([true, true], ['failed', { exists: true, groups: new Set(['g']) }]);
    expect(r).toEqual({ failed: true, checkable: true, exists: true, groups: new Set(['g']) });
  });

  it('no source that knows users: not checkable', () => {
    expect(combineAnswers([false], [{ exists: undefined, groups: new Set() }]).checkable).toBe(false);
    expect(combineAnswers([], [])).toEqual({ failed: false, checkable: false, exists: false, groups: new Set() });
  });
});

describe('createDirectory without remote sources', () => {
  it('answers from settings as data: no sources, static and known groups in the catalogue', async () => {
    const d = createDirectory({ groups: { hr: ['bob@x.com'] }, knownGroups: [{ id: 'legal', name: 'Legal' }] });
    expect(d.sources).toEqual([]);
    expect([...((await d.prefetch(['bob@x.com']))('bob@x.com') as ReadonlySet<string>)]).toEqual([]);
    expect(await d.user('bob@x.com')).toEqual({ failed: false, checkable: false, exists: false, groups: new Set() });
    const ids = (await d.catalogue.view()).groups.map((g) => g.id);
    expect(ids).toEqual(expect.arrayContaining(['hr', 'legal']));
    d.close();
  });
});

describe('localGroupNames', () => {
  it('takes privacy.groups as plain data; the state name wins when it is not the id', () => {
    const names = localGroupNames({ privacy: { groups: [{ id: 'a', name: 'Alpha' }, { id: 'b' }, { id: 'c', name: 'Gamma' }] } }, [
      { id: 'a', name: 'A (renamed)' },
      { id: 'c', name: 'c' },
      { id: 'd', name: 'Delta' },
    ]);
    expect(Object.fromEntries(names)).toEqual({ a: 'A (renamed)', c: 'Gamma', d: 'Delta' });
  });
});
