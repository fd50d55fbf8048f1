import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePath } from '../../../src/privacy/dotpath.js';
import { parseTimestamp } from '../../../src/privacy/time.js';
import { compileExtractor, compileFieldsExtractor, factsFromFields } from '../../../src/privacy/extract.js';
import type { ActivitiesSpec } from '../../../src/privacy/types.js';
import { normalizePrincipal } from '../../../src/principal.js';

const EXT_TAG = '000000200000000000000000';
const APP_TAG = '0000003b0000000000000000';
const spec: ActivitiesSpec = {
  id: '_id',
  timestamp: 'timestamp',
  actor: ['user.userName', 'failedUserData.userName'],
  groups: ['user.userTags', 'resolvedActor.tags'],
  application: { path: 'actorType', equals: ['APPLICATION'] },
  builtinTags: { 'external-users': EXT_TAG, application: APP_TAG },
};
const extract = compileExtractor(spec);
const T = Date.UTC(2026, 2, 1); // 2026-03-01T00:00:00Z

describe('compilePath', () => {
  const rec = { a: { b: [10, { c: 'x' }], '0': 'zero' }, n: null, s: 'str' };
  it.each([
    ['a.b.0', 10],
    ['a.b.1.c', 'x'],
    ['a.0', 'zero'], // numeric key on an object is a normal key
    ['a.b.2', undefined],
    ['a.b.01', undefined], // not a canonical index
    ['a.b.-1', undefined],
    ['a.b.length', undefined], // arrays are read by index only
    ['n.x', undefined],
    ['s.length', undefined], // strings are not traversed
    ['missing.deeper', undefined],
  ])('%s -> %j', (path, want) => {
    expect(compilePath(path)(rec)).toEqual(want);
  });
  it("'' returns the value itself", () => {
    expect(compilePath('')(rec)).toBe(rec);
    expect(compilePath('')(42)).toBe(42);
  });
  it('never reads the prototype chain', () => {
    const obj = { a: {} };
    for (const p of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a.__proto__', 'a.constructor.name', '__proto__.polluted']) {
      expect(compilePath(p)(obj)).toBeUndefined();
    }
    expect(compilePath('map')([1, 2])).toBeUndefined();
  });
  it('reads an own "__proto__" key as JSON.parse creates it', () => {
    const rec2 = JSON.parse('{"__proto__": {"userName": "mallory@fabrikam.com"}}');
    expect(compilePath('__proto__.userName')(rec2)).toBe('mallory@fabrikam.com');
  });
  it('works on null-prototype objects', () => {
    const o = Object.create(null) as Record<string, unknown>;
    o.x = { y: 1 };
    expect(compilePath('x.y')(o)).toBe(1);
  });
});

describe('parseTimestamp', () => {
  it.each<[unknown, number | undefined]>([
    [1767225600000, 1767225600000],
    [1767225600000.5, 1767225600000.5],
    [0, 0],
    [-1, undefined], // pre-1970: corrupt, fail closed
    [NaN, undefined],
    [Infinity, undefined],
    [8.64e15 + 1, undefined],
    ['2026-03-01T00:00:00Z', T],
    ['2026-03-01T00:00:00z', T],
    ['2026-03-01t00:00:00Z', T],
    ['2026-03-01 00:00:00Z', T],
    ['2026-03-01T00:00Z', T],
    ['2026-03-01T00:00:00.000Z', T],
    ['2026-03-01T00:00:00.001Z', T + 1],
    ['2026-02-28T23:59:59.999Z', T - 1],
    ['2026-03-01T05:30:00+05:30', T],
    ['2026-03-01T05:30:00+0530', T],
    ['2026-02-28T16:00:00-08:00', T],
    ['2026-03-01T01:00:00+01', T],
    ['2026-03-01T00:00:00.0005Z', T + 0.5],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2026-03-01', undefined], // date only
    ['2026-03-01T00:00:00', undefined], // no offset
    ['1767225600000', undefined], // numeric string (JSON records carry numbers as numbers)
    ['2026-02-30T00:00:00Z', undefined],
    ['2026-02-29T00:00:00Z', undefined],
    ['2026-13-01T00:00:00Z', undefined],
    ['2026-03-01T24:00:00Z', undefined],
    ['2026-03-01T23:60:00Z', undefined],
    ['2026-03-01T23:59:60Z', undefined],
    ['2026-03-01T00:00:00+24:00', undefined],
    ['2026-03-01T00:00:00+05:60', undefined],
    [' 2026-03-01T00:00:00Z', undefined],
    ['2026-03-01T00:00:00Z ', undefined],
    ['0099-03-01T00:00:00Z', undefined], // would be 1999 through Date.UTC
    ['Sun, 01 Mar 2026 00:00:00 GMT', undefined],
    ['', undefined],
    [null, undefined],
    [true, undefined],
    [{}, undefined],
    [[T], undefined],
  ])('%j -> %j', (v, want) => {
    expect(parseTimestamp(v)).toBe(want);
  });
});

describe('normalizePrincipal', () => {
  it('trims, lower-cases and NFC-normalises', () => {
    expect(normalizePrincipal('  Bob@Contoso.COM ')).toBe('bob@contoso.com');
    expect(normalizePrincipal('JOSE\u0301@contoso.com')).toBe('jos\u00e9@contoso.com');
    expect(normalizePrincipal('ÄLICE@contoso.com')).toBe('älice@contoso.com');
    expect(normalizePrincipal('   ')).toBeUndefined();
  });
});

describe('compileExtractor', () => {
  it('reads a Defender-shaped record', () => {
    const rec = JSON.parse(
      '{"_id":"65f0a1b2c3d4e5f600000001","timestamp":1772323200000,"description":"Datei \\"Gehälter.xlsx\\" geöffnet",' +
        '"actorType":"USER","user":{"userName":" Bob@Contoso.com ","userTags":["hr",7,null,{"x":1},""]},' +
        '"resolvedActor":{"id":"1","name":"Bob","tags":["legal"]}}',
    );
    expect(extract(rec)).toEqual({
      id: '65f0a1b2c3d4e5f600000001',
      actor: 'bob@contoso.com',
      timestamp: 1772323200000,
      groups: ['hr', '7', 'legal'],
      isApplication: false,
    });
  });
  it('numeric id becomes a string; empty or object id is absent', () => {
    expect(extract({ _id: 42 }).id).toBe('42');
    expect(extract({ _id: '' }).id).toBeUndefined();
    expect(extract({ _id: { $oid: 'x' } }).id).toBeUndefined();
  });
  it('actor: first path with a non-empty string wins', () => {
    expect(extract({ user: { userName: 'a@x.com' }, failedUserData: { userName: 'b@x.com' } }).actor).toBe('a@x.com');
    expect(extract({ failedUserData: { userName: 'B@X.com' } }).actor).toBe('b@x.com');
    expect(extract({ user: { userName: '  ' }, failedUserData: { userName: 'b@x.com' } }).actor).toBe('b@x.com');
    expect(extract({ user: { userName: 12 }, failedUserData: { userName: 'b@x.com' } }).actor).toBe('b@x.com');
    expect(extract({ user: {} }).actor).toBeUndefined();
    expect(extract({ user: { userName: ['a@x.com'] } }).actor).toBeUndefined();
  });
  it('a duplicated key reads as JSON.parse reads it: the last wins', () => {
    const rec = JSON.parse(
      '{"user":{"userName":"mallory@fabrikam.com","userName":"bob@contoso.com","userTags":["hr"],"userTags":[]},' +
        '"timestamp":"bad","timestamp":1772323200000}',
    );
    const f = extract(rec);
    expect(f.actor).toBe('bob@contoso.com');
    expect(f.groups).toEqual([]);
    expect(f.timestamp).toBe(1772323200000);
  });
  it('groups: union of all paths; a single string counts', () => {
    expect(extract({ user: { userTags: 'hr' }, resolvedActor: { tags: ['legal', 'hr'] } }).groups).toEqual(['hr', 'legal', 'hr']);
    expect(extract({ user: { userTags: { hr: true } } }).groups).toEqual([]);
  });
  it('builtin tags map to builtin ids and keep the raw tag', () => {
    const f = extract({ user: { userName: 'mallory@fabrikam.com', userTags: [EXT_TAG] } });
    expect(f.groups).toEqual([EXT_TAG, 'builtin:external-users']);
    expect(f.isApplication).toBe(false);
    const a = extract({ actorType: 'USER', resolvedActor: { tags: [APP_TAG] } });
    expect(a.groups).toEqual([APP_TAG, 'builtin:application']);
    expect(a.isApplication).toBe(true);
  });
  it('application matcher compares case-insensitively', () => {
    expect(extract({ actorType: 'APPLICATION' }).isApplication).toBe(true);
    expect(extract({ actorType: 'application' }).isApplication).toBe(true);
    expect(extract({ actorType: 'USER' }).isApplication).toBe(false);
    expect(extract({ actorType: ['APPLICATION'] }).isApplication).toBe(false);
    const noMatcher = compileExtractor({ ...spec, application: null });
    expect(noMatcher({ actorType: 'APPLICATION' }).isApplication).toBe(false);
  });
  it('ISO timestamps with offsets', () => {
    expect(extract({ timestamp: '2026-03-01T05:30:00+05:30' }).timestamp).toBe(T);
    expect(extract({ timestamp: '2026-03-01' }).timestamp).toBeUndefined();
    expect(extract({ timestamp: '1772323200000' }).timestamp).toBeUndefined();
  });
  it.each([null, undefined, 0, 'str', true])('a non-object record (%j) yields nothing', (v) => {
    expect(extract(v)).toEqual({ groups: [], isApplication: false });
  });
  it('__proto__ in the config paths never reaches the prototype', () => {
    const evil = compileExtractor({ ...spec, actor: '__proto__.constructor.name', groups: ['constructor', '__proto__'] });
    const f = evil({ user: { userName: 'x@y.com' } });
    expect(f.actor).toBeUndefined();
    expect(f.groups).toEqual([]);
  });
  it('property: extraction never throws on arbitrary input', () => {
    const other = compileExtractor({ ...spec, id: '', actor: ['', 'a.0', '__proto__'], groups: ['', 'a', 'b.c'] });
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true, withMap: true, withSet: true }), (v) => {
        for (const ex of [extract, other]) {
          const f = ex(v);
          expect(Array.isArray(f.groups)).toBe(true);
          expect(typeof f.isApplication).toBe('boolean');
          if (f.actor !== undefined) expect(typeof f.actor).toBe('string');
          if (f.timestamp !== undefined) expect(Number.isFinite(f.timestamp)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
  it('property: records wrapping arbitrary values never throw', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), (a, b, c) => {
        const f = extract({ _id: a, timestamp: b, user: { userName: c, userTags: a }, resolvedActor: { tags: b }, actorType: c });
        expect(f.groups.every((g) => typeof g === 'string')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('factsFromFields', () => {
  it('normalises CSV/CEF text fields', () => {
    expect(factsFromFields({ id: 'a1', actor: ' Carol@Contoso.com', timestamp: '1772323200000', groups: [' hr', '', EXT_TAG] }, spec)).toEqual({
      id: 'a1',
      actor: 'carol@contoso.com',
      timestamp: 1772323200000,
      groups: ['hr', EXT_TAG, 'builtin:external-users'],
      isApplication: false,
    });
  });
  it.each<[string | number | undefined, number | undefined]>([
    ['1772323200000', 1772323200000],
    [' 1772323200000 ', 1772323200000],
    [1772323200000, 1772323200000],
    ['2026-03-01T00:00:00Z', T],
    ['2026-03-01T00:00:00', undefined],
    ['-5', undefined],
    ['1.5e12', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('timestamp %j -> %j', (ts, want) => {
    expect(factsFromFields({ timestamp: ts }, spec).timestamp).toBe(want);
  });
  it('application by field value or by tag', () => {
    expect(factsFromFields({ application: 'Application' }, spec).isApplication).toBe(true);
    expect(factsFromFields({ application: 'USER' }, spec).isApplication).toBe(false);
    expect(factsFromFields({ groups: [APP_TAG] }, spec)).toMatchObject({ isApplication: true, groups: [APP_TAG, 'builtin:application'] });
  });
  it('empty fields yield nothing; compiled form agrees', () => {
    expect(factsFromFields({}, spec)).toEqual({ id: undefined, actor: undefined, timestamp: undefined, groups: [], isApplication: false });
    const f = { id: 'x', actor: 'A@B.C', timestamp: '2026-03-01T00:00:00Z', groups: ['hr'] };
    expect(compileFieldsExtractor(spec)(f)).toEqual(factsFromFields(f, spec));
  });
});
