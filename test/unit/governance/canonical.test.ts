import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/governance/canonical.js';
import { buildEntry, ChainChecker, computeHash, GENESIS } from '../../../src/governance/chain.js';
import { canonical as independentCanonical, entryHash } from '../../helpers/chainVerifier.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    const v = { b: 1, a: { d: [3, { z: true, y: null }], c: 'x' }, A: 0 };
    expect(canonicalJson(v)).toBe('{"A":0,"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
  });

  it('sorts by UTF-16 code units, not numerically or by locale', () => {
    const v = { '10': 'a', '9': 'b', é: 1, z: 2, Z: 3, '😀': 4, ﬀ: 5 };
    // code units: '1' < '9' < 'Z' < 'z' < 'é' (0xE9) < '😀' (high surrogate 0xD83D) < 'ﬀ' (0xFB00)
    expect(canonicalJson(v)).toBe('{"10":"a","9":"b","Z":3,"z":2,"é":1,"😀":4,"ﬀ":5}');
  });

  it('serialises strings and numbers as JSON.stringify does', () => {
    expect(canonicalJson({ s: 'line\n"q"\\ \u0001 ü 😀' })).toBe('{"s":"line\\n\\"q\\"\\\\ \\u0001 ü 😀"}');
    expect(canonicalJson([1, -0, 1.5, 1e21, 1e-7, 0.1 + 0.2, NaN, Infinity])).toBe('[1,0,1.5,1e+21,1e-7,0.30000000000000004,null,null]');
    expect(canonicalJson('\u2028')).toBe(JSON.stringify('\u2028'));
  });

  it('omits undefined members and writes null for undefined array items', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, 1], c: { d: undefined } })).toBe('{"b":[null,1],"c":{}}');
  });

  it('handles empty containers and scalars at the top', () => {
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(true)).toBe('true');
  });

  it('agrees with the independent implementation on a mixed value', () => {
    const v = { seq: 7, request: { userAgent: 'curl/8.0', clientIp: '127.0.0.1' }, ids: ['a1', 'a2'], x: { '': 1, ' ': 2 } };
    expect(canonicalJson(v)).toBe(independentCanonical(v));
  });
});

describe('chain', () => {
  it('GENESIS is 64 zeros', () => {
    expect(GENESIS).toBe('0'.repeat(64));
  });

  it('computeHash = sha256(prevHash + "\\n" + canonical(entry without hash))', () => {
    const entry = { seq: 1, b: 'x', a: [1, 2] };
    const expected = createHash('sha256')
      .update(GENESIS + '\n' + '{"a":[1,2],"b":"x","seq":1}')
      .digest('hex');
    expect(computeHash(GENESIS, entry)).toBe(expected);
    // a hash member present on the object does not take part
    expect(computeHash(GENESIS, { ...entry, hash: 'f'.repeat(64) })).toBe(expected);
  });

  it('buildEntry writes the spec key order, truncates ids and hashes like the independent verifier', () => {
    const ids = Array.from({ length: 1001 }, (_, i) => `id${i}`);
    const e = buildEntry(
      {
        token: { jti: 'j', iss: 'https://idp/' },
        privateActivities: { count: 1001, ids },
        request: { userAgent: 'ua', clientIp: '::1', query: 'a=1', path: '/api/v1/activities/', method: 'GET', id: 'r1' },
        via: 'header',
        principal: 'alice@contoso.com',
        action: 'private-activities.viewed',
      },
      { seq: 3, prevHash: 'a'.repeat(64), instance: 'gw-1' },
    );
    expect(Object.keys(e)).toEqual([
      'seq',
      'id',
      'time',
      'action',
      'principal',
      'via',
      'request',
      'privateActivities',
      'token',
      'instance',
      'prevHash',
      'hash',
    ]);
    expect(Object.keys(e.request!)).toEqual(['id', 'method', 'path', 'query', 'clientIp', 'userAgent']);
    expect(Object.keys(e.token!)).toEqual(['iss', 'jti']);
    expect(e.privateActivities).toEqual({ count: 1001, ids: ids.slice(0, 1000), idsTruncated: true });
    expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(e.hash).toBe(entryHash('a'.repeat(64), JSON.parse(JSON.stringify(e))));
  });

  it('buildEntry keeps ids untruncated at exactly 1000 and omits absent fields', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `x${i}`);
    const e = buildEntry(
      { action: 'private-activities.viewed', principal: 'p@x', privateActivities: { count: 1000, ids } },
      { seq: 1, prevHash: GENESIS, instance: 'i' },
    );
    expect(e.privateActivities!.idsTruncated).toBe(false);
    expect(e.privateActivities!.ids).toHaveLength(1000);
    const g = buildEntry({ action: 'privacy-group.added', principal: 'admin@x', via: 'admin-api', target: 'g1' }, { seq: 2, prevHash: e.hash, instance: 'i' });
    expect(Object.keys(g)).toEqual(['seq', 'id', 'time', 'action', 'principal', 'via', 'target', 'instance', 'prevHash', 'hash']);
  });

  it('ChainChecker reports the first broken seq', () => {
    const a = buildEntry({ action: 'privacy-group.added', principal: 'p', target: 'g' }, { seq: 1, prevHash: GENESIS, instance: 'i' });
    const b = buildEntry({ action: 'privacy-group.removed', principal: 'p', target: 'g' }, { seq: 2, prevHash: a.hash, instance: 'i' });
    const ok = new ChainChecker();
    expect([ok.feed(a), ok.feed(b)]).toEqual([true, true]);
    expect(ok.result()).toEqual({ ok: true, count: 2 });
    const bad = new ChainChecker();
    bad.feed(a);
    bad.feed({ ...b, target: 'other' });
    expect(bad.result()).toEqual({ ok: false, count: 1, brokenAtSeq: 2 });
  });
});
