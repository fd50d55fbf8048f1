import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePath } from '../../../src/privacy/dotpath.js';
import { compileExtractor, specPaths } from '../../../src/privacy/extract.js';
import type { ActivitiesSpec } from '../../../src/privacy/types.js';
import { compileFieldPlan, compileFieldReader, compileSlotReader, parseValue } from '../../../src/rewrite/fieldReader.js';
import { compilePrunedFieldReader, prunedFromSlots } from '../../helpers/prunedFromSlots.js';
import { compileLazyFieldReader, compilePruner } from '../../helpers/lazyFieldReader.js';
import { scanJson } from '../../../src/engine/jsonScan.js';
import { scanJsonFast } from '../../../src/engine/wasmScan.js';

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
const read = compileFieldReader(SPEC);

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
  '"1"',
  '"01"',
  '""',
  '"groups"',
  '"gr\\u006fups"',
  '"users"',
  '"name"',
  '"id"',
  '"__pr\\u006fto__"',
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
  '"é@contoso.com"',
  '"\\u00e9x@Contoso.com"',
  '"Ünïcödé 🙂"',
  '"\\ud83d\\ude42"',
  '"  "',
  '"\\t"',
  '"12"',
];
const SCALAR_TEXTS = [
  '1772000000000',
  '-0',
  '1e3',
  '12.5',
  'true',
  'false',
  'null',
  '0',
  '-12',
  '7',
  '123456789012345',
  '-999999999999999',
  '1234567890123456',
  '12345678901234567890',
  '0.5',
  '-1E+2',
  '[]',
  '[ ]',
  '{}',
];

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

// ---------- direct reader: the values at the spec paths straight from the slots ----------

/** Specs whose paths share prefixes, end inside others, index arrays, cross __proto__, have empty segments or read the root. */
const SPECS: ActivitiesSpec[] = [
  SPEC,
  {
    id: 'user.userName',
    timestamp: 'user.timestamp',
    actor: ['user', 'user.userName', 'users.0.name'],
    groups: ['groups.0', 'groups', 'user.userTags.1', 'user.userTags'],
    application: { path: 'user.actorType', equals: ['application', 'True'] },
    builtinTags: { application: 'hr', 'external-users': '000000200000000000000000' },
  },
  {
    id: 'resolvedActor.id',
    timestamp: '0',
    actor: ['__proto__.userName', 'users.1', 'resolvedActor.name'],
    groups: ['resolvedActor.tags', 'resolvedActor', '01', 'users.0.tags'],
    application: { path: 'actorType', equals: ['APPLICATION', '7'] },
    builtinTags: { 'external-users': '12' },
  },
  {
    id: 'id',
    timestamp: 'timestamp',
    actor: ['.name', 'user..userName', 'failedUserData.userName.', 'user.userName'],
    groups: ['tags', 'user.userTags.0', 'groups.0.0'],
    application: null,
    builtinTags: {},
  },
  { id: '_id', timestamp: 'timestamp', actor: 'user.userName', groups: ['', 'user.userTags'], application: { path: '', equals: ['x'] }, builtinTags: {} },
];
const ALL_PATHS = [...new Set(SPECS.flatMap(specPaths))].filter((p) => p !== '');

const STRINGS = fc.constantFrom(...STRING_TEXTS);
const GROUP_LIST = fc
  .array(fc.constantFrom(...STRING_TEXTS, '5', '12', '-0', '1.5', 'null', '{}', '[]', '["hr"]'), { maxLength: 4 })
  .map((a) => `[${a.join(', ')}]`);
const named = obj(
  fc.oneof(
    pair(fc.constantFrom('"name"', '"userName"', '"id"', '"n\\u0061me"'), fc.oneof(STRINGS, fc.constantFrom('12', '7', 'null'))),
    pair(fc.constantFrom('"tags"', '"userTags"', '"timestamp"'), fc.oneof(GROUP_LIST, STRINGS, fc.constantFrom('1772000000000'))),
    pair(fc.constantFrom(...KEY_TEXTS), jsonText),
  ),
  4,
);
/** Records shaped for SPECS: index paths, __proto__, numeric keys, the empty key, arrays and scalars where objects are expected. */
const shapedRecord = obj(
  fc.oneof(
    pair(
      fc.constantFrom('"users"', '"groups"', '"gr\\u006fups"'),
      fc.oneof(
        fc.array(fc.oneof(named, GROUP_LIST, STRINGS), { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
        named,
        jsonText,
      ),
    ),
    pair(fc.constantFrom('"user"', '"us\\u0065r"', '"resolvedActor"', '"__proto__"', '""', '"failedUserData"'), fc.oneof(named, named, GROUP_LIST, jsonText)),
    pair(
      fc.constantFrom('"0"', '"01"', '"timestamp"', '"id"', '"_id"', '"tags"', '"actorType"'),
      fc.oneof(STRINGS, GROUP_LIST, fc.constantFrom(...SCALAR_TEXTS)),
    ),
    pair(fc.constantFrom(...KEY_TEXTS), jsonText),
  ),
  9,
);

/** An activity as the bench page has them (noise around the configured fields). */
const ACTIVITY = JSON.stringify({
  _id: '69fc67927d015d6e0aa52596',
  timestamp: 1778149266151,
  eventType: 'EVENT_CLOUDAPP_SIGN_IN',
  description: 'Sign in to "Office 365" from 10.0.0.1 — ok',
  actorType: 'USER',
  device: { clientIP: '10.0.0.1', userAgent: 'Mozilla/5.0' },
  rawDataJson: { user: { userName: 'decoy@contoso.com' }, tags: ['x'] },
  user: { userName: 'Bob@Contoso.com', userTags: ['000000200000000000000000', 'hr'] },
  resolvedActor: { id: 'e328e2e5c217440453a192ac', name: 'bob@contoso.com', tags: [] },
  users: [{ name: 'Ünïcödé@contoso.com' }],
  groups: [['g'], 'h'],
});

/** The value that starts at t[i] (valid JSON) ends at the returned offset. */
function skipValue(t: string, i: number): number {
  const c = t[i];
  if (c === '"') {
    i++;
    while (t[i] !== '"') i += t[i] === '\\' ? 2 : 1;
    return i + 1;
  }
  if (c === '{' || c === '[') {
    let depth = 0;
    for (;;) {
      const d = t[i];
      if (d === '"') {
        i = skipValue(t, i);
        continue;
      }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') if (--depth === 0) return i + 1;
      i++;
    }
  }
  while (i < t.length && !/[,\]}\s]/.test(t[i])) i++;
  return i;
}

const skipWsText = (t: string, i: number) => {
  while (/\s/.test(t[i] ?? '')) i++;
  return i;
};

/** Structural positions of a valid JSON text: object openings, object closings, member values [start, end). */
function structureOf(t: string): { opens: number[]; closes: number[]; values: [number, number][] } {
  const opens: number[] = [];
  const closes: number[] = [];
  const values: [number, number][] = [];
  for (let i = 0; i < t.length;) {
    const c = t[i];
    if (c === '"') i = skipValue(t, i);
    else {
      if (c === '{') opens.push(i);
      else if (c === '}') closes.push(i);
      else if (c === ':') {
        const s = skipWsText(t, i + 1);
        values.push([s, skipValue(t, s)]);
      }
      i++;
    }
  }
  return { opens, closes, values };
}

type Mutation = { kind: 'first' | 'last' | 'replace'; at: number; key: string; value: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('first', 'last', 'replace'),
  at: fc.nat(),
  key: fc.constantFrom(...KEY_TEXTS),
  value: fc.oneof(jsonText, named, GROUP_LIST, STRINGS, fc.constantFrom(...SCALAR_TEXTS)),
});

/** Inserts members before / after the existing ones of some object (duplicates, escaped keys) or replaces a member's value. */
function mutate(text: string, ms: Mutation[]): string {
  let t = text;
  for (const m of ms) {
    const st = structureOf(t);
    if (m.kind === 'replace') {
      if (st.values.length === 0) continue;
      const [s, e] = st.values[m.at % st.values.length];
      t = t.slice(0, s) + m.value + t.slice(e);
    } else if (m.kind === 'first') {
      if (st.opens.length === 0) continue;
      const o = st.opens[m.at % st.opens.length] + 1;
      const empty = t[skipWsText(t, o)] === '}';
      t = `${t.slice(0, o)}${m.key}:${m.value}${empty ? '' : ','}${t.slice(o)}`;
    } else {
      if (st.closes.length === 0) continue;
      const c = st.closes[m.at % st.closes.length];
      let p = c - 1;
      while (/\s/.test(t[p])) p--;
      const empty = t[p] === '{';
      t = `${t.slice(0, c)}${empty ? '' : ','}${m.key}:${m.value}${t.slice(c)}`;
    }
  }
  return t;
}

const generated = fc.oneof(randomRecord, plausibleRecord, plausibleRecord, shapedRecord, shapedRecord, shapedRecord);
const mutated = fc
  .tuple(fc.oneof(fc.constant(ACTIVITY), plausibleRecord, shapedRecord), fc.array(mutation, { minLength: 1, maxLength: 6 }))
  .map(([t, ms]) => mutate(t, ms));

describe('fieldReader: direct reader against JSON.parse + compileExtractor and the pruned-object reference', () => {
  const readers = SPECS.map((spec) => ({ spec, extract: compileExtractor(spec), direct: compileFieldReader(spec), pruned: compilePrunedFieldReader(spec) }));

  /** how often the reference found each fact: the generators must reach the configured fields, or the property says little */
  let seen = { actor: 0, groups: 0, id: 0, timestamp: 0, application: 0 };
  const check = (text: string, i: number): boolean => {
    const { extract, direct, pruned } = readers[i % readers.length];
    // the reference: what the gateway did before the engine (must be valid JSON, or the generator is wrong)
    const expected = extract(JSON.parse(text));
    const b = Buffer.from(text, 'utf8');
    const js = scanJson(b, { fields: direct.plan }).slots!;
    const wasm = scanJsonFast(b, { fields: direct.plan }).slots!;
    expect(direct.fromSlots(b, 0, b.length, js)).toStrictEqual(expected);
    expect(direct.fromSlots(b, 0, b.length, wasm)).toStrictEqual(expected);
    expect(pruned.fromSlots(b, 0, b.length, js)).toStrictEqual(expected);
    if (expected.actor !== undefined) seen.actor++;
    if (expected.groups.length > 0) seen.groups++;
    if (expected.id !== undefined) seen.id++;
    if (expected.timestamp !== undefined) seen.timestamp++;
    if (expected.isApplication) seen.application++;
    return expected.actor !== undefined || expected.groups.length > 0 || expected.id !== undefined;
  };

  it('equal facts on 6,000 generated records, for every spec shape', () => {
    seen = { actor: 0, groups: 0, id: 0, timestamp: 0, application: 0 };
    let informative = 0;
    fc.assert(
      fc.property(generated, fc.nat(), (text, i) => {
        if (check(text, i)) informative++;
      }),
      { numRuns: 6000 },
    );
    expect(informative).toBeGreaterThan(800);
    for (const n of Object.values(seen)) expect(n).toBeGreaterThan(100);
  });

  it('equal facts on 4,000 mutated records (members added first and last, values replaced)', () => {
    seen = { actor: 0, groups: 0, id: 0, timestamp: 0, application: 0 };
    let informative = 0;
    fc.assert(
      fc.property(mutated, fc.nat(), (text, i) => {
        if (check(text, i)) informative++;
      }),
      { numRuns: 4000 },
    );
    expect(informative).toBeGreaterThan(1400);
    for (const n of Object.values(seen)) expect(n).toBeGreaterThan(200);
  });

  it('every path read from the slots equals dotpath over JSON.parse (values, not just facts)', () => {
    const plan = compileFieldPlan(ALL_PATHS);
    const pairs = ALL_PATHS.map((p) => ({ slot: compileSlotReader(plan, p), dot: compilePath(p) }));
    let defined = 0;
    fc.assert(
      fc.property(fc.oneof(generated, mutated), ws, (text, w) => {
        const full = JSON.parse(text);
        if (full === null || typeof full !== 'object' || Array.isArray(full)) return;
        // the record inside an items array, after another record: slots at an offset
        const body = Buffer.from(`{"data":[{"_id":1},${w}${text}${w}]}`);
        const res = scanJson(body, { items: 'data', fields: plan });
        const el = res.arrays[0].elements[1];
        for (const { slot, dot } of pairs) {
          const v = dot(full);
          if (v !== undefined) defined++;
          // toEqual: toStrictEqual would compare the own "constructor" keys of parsed objects as constructors
          expect(slot(body, res.slots!, el.slot)).toEqual(v);
        }
      }),
      { numRuns: 3000 },
    );
    expect(defined).toBeGreaterThan(3000);
  });

  it('reads values from their bytes as JSON.parse does', () => {
    for (const text of [...STRING_TEXTS, ...SCALAR_TEXTS, '"\\u0000"', '[1,"a"]', '{"a":1}', '-0', '0', '100000000000000', '999999999999999']) {
      const b = Buffer.from(` ${text} `);
      expect(parseValue(b, 1, b.length - 1)).toStrictEqual(JSON.parse(text));
    }
    expect(Object.is(parseValue(Buffer.from('-0'), 0, 2), -0)).toBe(true);
  });

  it('reads strings of any text, in a view at any offset of a larger buffer, as JSON.parse does (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.nat(70), fc.nat(70), (text, before, after) => {
        const json = JSON.stringify(text);
        const whole = Buffer.from(`${'x'.repeat(before)}${json}${'y'.repeat(after)}`);
        // a view that starts inside its ArrayBuffer: offsets are the view's own
        const view = whole.subarray(before > 0 ? before - 1 : 0);
        const s = before > 0 ? 1 : 0;
        expect(parseValue(view, s, s + Buffer.byteLength(json))).toStrictEqual(JSON.parse(json));
      }),
      { numRuns: 3000 },
    );
  });

  it('a path that is a prefix of another: both read, the longer one from the parsed value', () => {
    const { direct, extract } = readers[1];
    for (const text of [
      '{"user":{"userName":"a@x.com","userTags":["q","hr"],"timestamp":5}}',
      '{"user":"Bob@x.com"}',
      '{"user":{"userName":"a@x.com"},"user":{"userTags":"hr"}}',
      '{"groups":[["g"],"h"],"users":[{"name":"N@x.com"}]}',
    ]) {
      const b = Buffer.from(text);
      expect(direct.fromSlots(b, 0, b.length, scanJson(b, { fields: direct.plan }).slots!)).toStrictEqual(extract(JSON.parse(text)));
    }
  });
});
