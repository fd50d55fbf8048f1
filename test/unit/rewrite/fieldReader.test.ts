import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePath } from '../../../src/privacy/dotpath.js';
import { compileExtractor, type ActivitiesSpec } from '../../../src/privacy/extract.js';
import { compileFieldPlan, compileFieldReader, prunedFromSlots } from '../../../src/rewrite/fieldReader.js';
import { compileLazyFieldReader, compilePruner } from '../../helpers/lazyFieldReader.js';
import { scanJson } from '../../../src/rewrite/jsonScan.js';

const SPEC: ActivitiesSpec = {
  id: '_id',
  timestamp: 'timestamp',
  actor: ['user.userName', 'failedUserData.userName'],
  groups: ['user.userTags', 'resolvedActor.tags'],
  application: { path: 'actorType', equals: ['APPLICATION'] },
  builtinTags: { 'external-users': '000000200000000000000000', application: '0000003b0000000000000000' },
};
const PATHS = ['_id', 'timestamp', 'user.userName', 'failedUserData.userName', 'user.userTags', 'resolvedActor.tags', 'actorType'];
const extract = compileExtractor(SPEC);
const lazy = compileLazyFieldReader(SPEC, extract);
const read = compileFieldReader(SPEC, extract);

const viaParse = (text: string) => extract(JSON.parse(text));
const viaBytes = (text: string) => {
  const b = Buffer.from(text, 'utf8');
  return lazy(b, 0, b.length);
};

// Keys the paths use, spelled raw and with escapes, plus noise and the prototype trap.
const KEY_TEXTS = [
  '"_id"',
  '"timestamp"',
  '"user"',
  '"userName"',
  '"userTags"',
  '"failedUserData"',
  '"resolvedActor"',
  '"tags"',
  '"actorType"',
  '"\\u005fid"',
  '"us\\u0065r"',
  '"user\\u004eame"',
  '"t\\u0061gs"',
  '"actor\\u0054ype"',
  '"__proto__"',
  '"constructor"',
  '"rawDataJson"',
  '"x"',
  '"user "',
  '"User"',
  '"userName\\\\"',
  '"é"',
  '"0"',
];
const STRING_TEXTS = [
  '"bob@contoso.com"',
  '" Carol@Contoso.COM "',
  '"a\\"b"',
  '"back\\\\"',
  '"\\\\\\""',
  '"hr"',
  '"000000200000000000000000"',
  '"0000003b0000000000000000"',
  '"APPLICATION"',
  '"2026-03-05T10:00:00Z"',
  '"{[\\"]}"',
  '"日本語"',
  '""',
  '"\\u0041PPLICATION"',
  '"' + 'long value '.repeat(8) + '"',
];
const SCALAR_TEXTS = ['1772000000000', '-0', '1e3', '12.5', 'true', 'false', 'null', '0'];

const ws = fc.constantFrom('', ' ', '\n', '\t ', '\r\n  ');

/** Raw JSON text (so duplicate keys and escaped keys can occur). */
const { value: jsonText } = fc.letrec<{ value: string; object: string; array: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.constantFrom(...STRING_TEXTS, ...SCALAR_TEXTS), tie('object'), tie('array')),
  object: fc
    .array(fc.tuple(ws, fc.constantFrom(...KEY_TEXTS), ws, ws, tie('value'), ws), { maxLength: 7 })
    .chain((members) => ws.map((w) => (members.length === 0 ? `{${w}}` : `{${members.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(',')}}`))),
  array: fc.array(fc.tuple(ws, tie('value'), ws), { maxLength: 5 }).map((els) => `[${els.map(([a, v, b]) => `${a}${v}${b}`).join(',')}]`),
}));
const randomRecord = fc.letrec<{ object: string }>((tie) => ({
  object: fc
    .array(fc.tuple(fc.constantFrom(...KEY_TEXTS), fc.oneof(jsonText, tie('object'))), { maxLength: 9 })
    .map((ms) => `{${ms.map(([k, v]) => `${k}:${v}`).join(',')}}`),
})).object;

const pair = (k: fc.Arbitrary<string>, v: fc.Arbitrary<string>) => fc.tuple(k, v).map(([a, b]) => `${a}:${b}`);
const obj = (members: fc.Arbitrary<string>, max: number) => fc.array(members, { maxLength: max }).map((ms) => `{${ms.join(',')}}`);
const tags = fc.array(fc.constantFrom(...STRING_TEXTS, '5', 'null', '{}'), { maxLength: 3 }).map((a) => `[${a.join(',')}]`);
/** Activity-shaped records: the configured fields (raw and escaped spellings, duplicates, odd types) among noise. */
const plausibleRecord = obj(
  fc.oneof(
    pair(fc.constantFrom('"_id"', '"\\u005fid"'), fc.oneof(fc.constantFrom(...STRING_TEXTS, '12', 'null'), jsonText)),
    pair(fc.constant('"timestamp"'), fc.constantFrom('1772000000000', '"2026-03-05T10:00:00Z"', '"bad"', '-5', 'null')),
    pair(
      fc.constantFrom('"user"', '"us\\u0065r"', '"failedUserData"', '"resolvedActor"'),
      fc.oneof(
        obj(
          fc.oneof(
            pair(fc.constantFrom('"userName"', '"user\\u004eame"'), fc.constantFrom(...STRING_TEXTS, '7')),
            pair(fc.constantFrom('"userTags"', '"tags"', '"t\\u0061gs"'), fc.oneof(tags, fc.constantFrom(...STRING_TEXTS))),
            pair(fc.constantFrom(...KEY_TEXTS), jsonText),
          ),
          4,
        ),
        jsonText,
      ),
    ),
    pair(fc.constant('"actorType"'), fc.constantFrom('"APPLICATION"', '" application "', '"USER"', 'true', '[]')),
    pair(fc.constantFrom(...KEY_TEXTS), jsonText),
  ),
  8,
);
const recordText = fc.oneof(randomRecord, plausibleRecord);

describe('fieldReader', () => {
  it('reads the same facts as JSON.parse + the extractor on generated records', () => {
    let informative = 0;
    fc.assert(
      fc.property(recordText, (text) => {
        const f = viaParse(text);
        if (f.actor !== undefined || f.groups.length > 0 || f.id !== undefined) informative++;
        expect(viaBytes(text)).toEqual(f);
      }),
      { numRuns: 1200 },
    );
    // the generator must reach the configured fields, or the property says little
    expect(informative).toBeGreaterThan(150);
  });

  it('prunes to values equal to those dotpath reads from JSON.parse, for every configured path', () => {
    const prune = compilePruner(PATHS);
    const readers = PATHS.map(compilePath);
    fc.assert(
      fc.property(fc.oneof(recordText, jsonText), (text) => {
        const b = Buffer.from(text);
        const pruned = prune(b, 0, b.length);
        const full = JSON.parse(text);
        for (const r of readers) expect(r(pruned)).toEqual(r(full));
      }),
      { numRuns: 800 },
    );
  });

  it('reads a record in the middle of a larger buffer (offsets, surrounding bytes)', () => {
    fc.assert(
      fc.property(fc.array(recordText, { minLength: 1, maxLength: 5 }), ws, (records, w) => {
        const body = Buffer.from(`{"data":[${records.map((r) => w + r + w).join(',')}],"total":1}`);
        let p = 9;
        for (const r of records) {
          const start = p + Buffer.byteLength(w);
          const end = start + Buffer.byteLength(r);
          expect(lazy(body, start, end)).toEqual(viaParse(r));
          p = end + Buffer.byteLength(w) + 1;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('takes the last duplicate, whole (no merge of duplicate objects)', () => {
    const text = '{"user":{"userName":"bob@contoso.com","userTags":["hr"]},"_id":"a","user":{"userName":"erin@contoso.com"},"_id":"b"}';
    const f = viaBytes(text);
    expect(f).toEqual(viaParse(text));
    expect(f.actor).toBe('erin@contoso.com');
    expect(f.groups).toEqual([]);
    expect(f.id).toBe('b');
  });

  it('decodes escaped keys and skips strings with escaped quotes and backslashes', () => {
    const text = '{"x":"a\\\\","y":"\\"}{[","us\\u0065r":{"user\\u004eame":"Frank@Contoso.com","userTags":["hr"]},"timestamp":1772000000000}';
    const f = viaBytes(text);
    expect(f).toEqual(viaParse(text));
    expect(f.actor).toBe('frank@contoso.com');
    expect(f.groups).toEqual(['hr']);
    expect(f.timestamp).toBe(1772000000000);
  });

  it('treats __proto__ as an ordinary key, never as the prototype', () => {
    const spec: ActivitiesSpec = { ...SPEC, actor: ['__proto__.userName'] };
    const r = compileLazyFieldReader(spec);
    const text = '{"__proto__":{"userName":"mallory@fabrikam.com"}}';
    const b = Buffer.from(text);
    expect(r(b, 0, b.length)).toEqual(compileExtractor(spec)(JSON.parse(text)));
    expect(r(b, 0, b.length).actor).toBe('mallory@fabrikam.com');
    const none = Buffer.from('{"userName":"x@contoso.com"}');
    expect(r(none, 0, none.length).actor).toBeUndefined();
  });

  it('handles records that are not objects, and array-index paths', () => {
    for (const text of ['[]', '[{"_id":"x"}]', '"s"', '12', 'null', ' true ']) expect(viaBytes(text)).toEqual(viaParse(text));
    const spec: ActivitiesSpec = { ...SPEC, actor: 'users.0.name' };
    const r = compileLazyFieldReader(spec);
    const text = '{"users":[{"name":"Bob@contoso.com"},{"name":"x"}],"timestamp":5}';
    const b = Buffer.from(text);
    expect(r(b, 0, b.length).actor).toBe('bob@contoso.com');
  });

  // ---------- fused: the validating scan records the field ranges (one pass) ----------

  const plan = read.plan;
  const viaFusedRoot = (text: string) => {
    const b = Buffer.from(text, 'utf8');
    const res = scanJson(b, { fields: plan });
    return read.fromSlots(b, 0, b.length, res.slots!);
  };

  it('fused scan of a whole record (NDJSON line) gives the facts of JSON.parse + the extractor', () => {
    let informative = 0;
    fc.assert(
      fc.property(recordText, ws, ws, (text, a, z) => {
        const f = viaParse(text);
        if (f.actor !== undefined || f.groups.length > 0 || f.id !== undefined) informative++;
        expect(viaFusedRoot(a + text + z + '\n')).toEqual(f);
      }),
      { numRuns: 1500 },
    );
    expect(informative).toBeGreaterThan(200);
  });

  it('fused scan of the items elements gives, per element, the facts of JSON.parse + the extractor (slots reset per element)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(recordText, jsonText), { maxLength: 6 }), ws, recordText, (records, w, env) => {
        // the envelope itself carries configured keys at the top: they must not leak into elements
        const body = Buffer.from(`{"_id":"env","user":{"userName":"env@x.com"},"data":[${records.map((r) => w + r + w).join(',')}],"meta":${env}}`);
        const res = scanJson(body, { items: 'data', fields: plan });
        const els = res.arrays[0].elements;
        expect(els.length).toBe(records.length);
        els.forEach((el, i) => {
          expect(read.fromSlots(body, el.start, el.end, res.slots!, el.slot)).toEqual(viaParse(records[i]));
        });
      }),
      { numRuns: 600 },
    );
  });

  it('fused slots prune to the values dotpath reads from JSON.parse, for every configured path', () => {
    const p = compileFieldPlan(PATHS);
    const readers = PATHS.map(compilePath);
    fc.assert(
      fc.property(fc.oneof(recordText, jsonText), (text) => {
        const b = Buffer.from(text);
        const pruned = prunedFromSlots(p, b, 0, b.length, scanJson(b, { fields: p }).slots!);
        const full = JSON.parse(text);
        for (const r of readers) expect(r(pruned)).toEqual(r(full));
      }),
      { numRuns: 800 },
    );
  });

  it.each([
    ['later duplicate object without the field', '{"user":{"userName":"a@x.com","userTags":["hr"]},"user":{}}'],
    ['later duplicate scalar', '{"user":{"userName":"a@x.com"},"user":5}'],
    ['later duplicate array', '{"user":{"userName":"a@x.com"},"user":[{"userName":"b@x.com"}]}'],
    ['earlier scalar, later object', '{"user":"s","user":{"userName":"c@x.com"}}'],
    ['escaped duplicate', '{"user":{"userName":"a@x.com"},"us\\u0065r":{"user\\u004eame":"d@x.com"}}'],
    ['nested duplicate keys', '{"user":{"userName":"a@x.com","userName":"e@x.com","userTags":["x"],"userTags":"hr"}}'],
    ['__proto__ noise', '{"__proto__":{"userName":"m@x.com"},"user":{"__proto__":{"userName":"n@x.com"}}}'],
  ])('fused: %s', (_name, text) => {
    expect(viaFusedRoot(text)).toEqual(viaParse(text));
  });

  it('fused: a later duplicate object hides the earlier fields entirely', () => {
    const f = viaFusedRoot('{"user":{"userName":"a@x.com","userTags":["hr"]},"_id":"1","user":{}}');
    expect(f.actor).toBeUndefined();
    expect(f.groups).toEqual([]);
    expect(f.id).toBe('1');
  });

  it('fused: __proto__ path and array-index paths behave as with JSON.parse', () => {
    for (const spec of [
      { ...SPEC, actor: ['__proto__.userName'] },
      { ...SPEC, actor: 'users.0.name' },
    ] as ActivitiesSpec[]) {
      const r = compileFieldReader(spec);
      for (const text of [
        '{"__proto__":{"userName":"mallory@fabrikam.com"}}',
        '{"users":[{"name":"Bob@contoso.com"}],"timestamp":5}',
        '{"userName":"x@contoso.com"}',
      ]) {
        const b = Buffer.from(text);
        expect(r.fromSlots(b, 0, b.length, scanJson(b, { fields: r.plan }).slots!)).toEqual(compileExtractor(spec)(JSON.parse(text)));
      }
    }
  });
});
