/**
 * The export paths on the WebAssembly engine against the JSON.parse path
 * (the oracle: the same filter without a byte-level reader), on generated and
 * mutated NDJSON and JSON-array exports, cut into chunks at every position
 * (and at random multi-splits): same bytes out, same error or none, and
 * hide() asked about the same facts in the same order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileExtractor } from '../../../src/privacy/extract.js';
import type { ActivitiesSpec, ActivityFacts } from '../../../src/privacy/types.js';
import { ExportStructureError, type ExportFilterOptions, type ExportFormat } from '../../../src/rewrite/export/index.js';
import { compileFieldReader } from '../../../src/rewrite/fieldReader.js';
import { chunked, hostile, run } from '../../helpers/exportHarness.js';
import { MUTATION_BYTES, jsonish, prng, write } from '../../helpers/jsonStyle.js';

const spec: ActivitiesSpec = {
  id: '_id',
  timestamp: 'timestamp',
  actor: ['user.userName', 'failedUserData.userName'],
  groups: ['user.userTags', 'resolvedActor.tags'],
  application: { path: 'actorType', equals: ['APPLICATION'] },
  builtinTags: {},
};
const extract = compileExtractor(spec);
const read = compileFieldReader(spec);

function options(format: ExportFormat, engine: boolean, seen: ActivityFacts[]): ExportFilterOptions {
  return {
    format,
    items: 'data',
    extract,
    read: engine ? read : undefined,
    fromFields: () => {
      throw new Error('not used');
    },
    csvColumns: { actor: [], timestamp: '', groups: [] },
    hide: (fs) => {
      seen.push(...fs);
      return fs.map((f) => f.actor === undefined || f.actor.includes('private') || f.groups.includes('secret'));
    },
  };
}

async function same(format: ExportFormat, chunks: Buffer[]): Promise<void> {
  const seenRef: ActivityFacts[] = [];
  const seenEng: ActivityFacts[] = [];
  const ref = await run(options(format, false, seenRef), chunks);
  const eng = await run(options(format, true, seenEng), chunks);
  expect(eng.out.equals(ref.out)).toBe(true);
  expect(eng.err === null).toBe(ref.err === null);
  if (ref.err !== null) expect(eng.err).toBeInstanceOf(ExportStructureError);
  expect(seenEng).toEqual(seenRef);
}

const record = fc
  .record({
    id: fc.oneof(hostile, fc.integer()),
    who: fc.oneof(fc.constantFrom('alice@contoso.com', 'bob@private.example', 'BOB@Private.example'), hostile),
    tags: fc.array(fc.constantFrom('secret', 'open', 'x\\y', '\u00e9'), { maxLength: 3 }),
    extra: jsonish,
    app: fc.boolean(),
    dupUser: fc.boolean(),
  })
  .map(({ id, who, tags, extra, app, dupUser }) => {
    const r: Record<string, unknown> = {
      _id: id,
      timestamp: 1700000000000,
      user: { userName: who, userTags: tags },
      extra,
      actorType: app ? 'APPLICATION' : 'USER',
    };
    if (dupUser) r.failedUserData = { userName: 'carol@private.example' };
    return r;
  });

const ndjsonDoc = fc
  .tuple(fc.array(record, { maxLength: 6 }), fc.integer(), fc.boolean(), fc.nat(), fc.nat(MUTATION_BYTES.length - 1))
  .map(([rs, seed, mutate, at, b]) => {
    const r = prng(seed);
    let text = rs.map((x) => write(x, r).replace(/\n/g, ' ')).join(r() < 0.5 ? '\n' : '\r\n') + (r() < 0.5 ? '\n' : '');
    if (r() < 0.3) text = '\ufeff' + text;
    const buf = Buffer.from(text, 'utf8');
    if (mutate && buf.length > 0) buf[at % buf.length] = MUTATION_BYTES[b];
    return buf;
  });

const jsonDoc = fc
  .tuple(fc.array(record, { maxLength: 5 }), fc.integer(), fc.boolean(), fc.nat(), fc.nat(MUTATION_BYTES.length - 1))
  .map(([rs, seed, mutate, at, b]) => {
    const r = prng(seed);
    const buf = Buffer.from(write({ total: rs.length, data: rs, next: null }, r), 'utf8');
    if (mutate && buf.length > 0) buf[at % buf.length] = MUTATION_BYTES[b];
    return buf;
  });

describe('export filters on the engine ≡ the JSON.parse path', () => {
  it('UTF-8 is checked per chunk: a bad element or line among good ones, at every two-chunk split', async () => {
    const good = (id: string): string => JSON.stringify({ _id: id, timestamp: 1700000000000, user: { userName: 'é€😀@contoso.com' } });
    const bad = Buffer.concat([Buffer.from('{"_id":"bad","s":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]);
    const docs: [ExportFormat, Buffer][] = [
      ['json', Buffer.concat([Buffer.from(`{"data":[${good('1')},`), bad, Buffer.from(`,${good('2')}]}`)])],
      ['ndjson', Buffer.concat([Buffer.from(`${good('1')}\n`), bad, Buffer.from(`\n${good('2')}\n`)])],
    ];
    for (const [format, doc] of docs) {
      await same(format, [doc]);
      for (let at = 1; at < doc.length; at++) await same(format, [doc.subarray(0, at), doc.subarray(at)]);
    }
  });

  it('NDJSON: random documents, valid and mutated, at random chunk splits', async () => {
    await fc.assert(
      fc.asyncProperty(ndjsonDoc, fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 4 }), async (buf, sizes) => same('ndjson', chunked(buf, sizes))),
      { numRuns: 600 },
    );
  });

  it('JSON array: random documents, valid and mutated, at random chunk splits', async () => {
    await fc.assert(
      fc.asyncProperty(jsonDoc, fc.array(fc.integer({ min: 1, max: 97 }), { maxLength: 4 }), async (buf, sizes) => same('json', chunked(buf, sizes))),
      { numRuns: 600 },
    );
  });

  it('every two-chunk split of some documents', async () => {
    const docs = [
      ...fc.sample(ndjsonDoc, { numRuns: 6, seed: 7 }).map((b) => ['ndjson', b] as const),
      ...fc.sample(jsonDoc, { numRuns: 6, seed: 11 }).map((b) => ['json', b] as const),
    ];
    let splits = 0;
    for (const [format, buf] of docs) {
      const src = buf.subarray(0, 600);
      for (let i = 0; i <= src.length; i++) {
        await same(format, [src.subarray(0, i), src.subarray(i)]);
        splits++;
      }
    }
    expect(splits).toBeGreaterThan(500);
  });
});
