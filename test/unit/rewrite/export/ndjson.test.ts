import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { ExportStructureError, type ExportFilterOptions } from '../../../../src/rewrite/export/index.js';
import type { ActivitiesSpec, ActivityFacts } from '../../../../src/privacy/types.js';
import { compileExtractor } from '../../../../src/privacy/extract.js';
import { compileFieldReader } from '../../../../src/rewrite/fieldReader.js';
import { ndjsonParser } from '../../../../src/rewrite/export/ndjson.js';
import type { Op } from '../../../../src/rewrite/export/index.js';

import { run, chunked, hostile } from '../../../helpers/exportHarness.js';

const facts = (r: unknown): ActivityFacts => {
  const rec = r as { id?: string; user?: { userName?: string } };
  return { id: rec.id, actor: rec.user?.userName, groups: [], isApplication: false };
};
function options(hideAsync: boolean, removed?: number[]): ExportFilterOptions {
  return {
    format: 'ndjson',
    extract: facts,
    fromFields: () => {
      throw new Error('not used');
    },
    csvColumns: { actor: [], timestamp: '', groups: [] },
    hide: (fs) => {
      const v = fs.map((f) => f.actor === 'bob@private');
      return hideAsync ? Promise.resolve(v) : v;
    },
    onRemoved: removed ? (n) => removed.push(n) : undefined,
  };
}

type Line = { kind: 'rec'; hidden: boolean; note: string; crlf: boolean } | { kind: 'blank'; text: string } | { kind: 'garbage'; text: string };
const lineArb: fc.Arbitrary<Line> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('rec' as const), hidden: fc.boolean(), note: hostile, crlf: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('blank' as const), text: fc.constantFrom('', '  ', '\r', ' \t') }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('garbage' as const),
      text: fc.oneof(
        fc.constant('{"id":"g","user":{"userName":"bob@private"}'),
        hostile.map((s) => 'x' + s.replace(/\n/g, '')),
      ),
    }),
  },
);

/** The source, the oracle (source without hidden / unreadable lines) and how many lines the oracle drops. */
function build(lines: Line[], finalNewline: boolean): { src: Buffer; want: Buffer; dropped: number } {
  let src = '';
  let want = '';
  let dropped = 0;
  lines.forEach((l, i) => {
    const last = i === lines.length - 1;
    let text: string;
    let keep: boolean;
    if (l.kind === 'rec') {
      const rec = { id: `r${i}`, user: { userName: l.hidden ? 'bob@private' : 'alice@contoso.com' }, note: l.note, mark: l.hidden ? 'PRIVATE' : 'ok' };
      text = JSON.stringify(rec) + (l.crlf ? '\r' : '');
      keep = !l.hidden;
    } else if (l.kind === 'blank') {
      text = l.text;
      keep = true;
    } else {
      text = l.text;
      keep = false;
    }
    const line = text + (last && !finalNewline ? '' : '\n');
    // a last line that is blank and unterminated is still passed through
    src += line;
    if (keep) want += line;
    else dropped++;
  });
  return { src: Buffer.from(src), want: Buffer.from(want), dropped };
}

describe('ndjson export filter', () => {
  test('property: output = source minus hidden and unreadable lines, any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 25 }),
        fc.boolean(),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 6 }),
        fc.boolean(),
        async (lines, finalNl, sizes, hideAsync) => {
          const { src, want, dropped } = build(lines, finalNl);
          const removed: number[] = [];
          const r = await run(options(hideAsync, removed), chunked(src, sizes));
          expect(r.err).toBeNull();
          expect(r.out.toString('hex')).toBe(want.toString('hex'));
          expect(removed.reduce((a, b) => a + b, 0)).toBe(dropped);
          const ones = await run(options(hideAsync), chunked(src, [1]));
          expect(ones.out.equals(want)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('property: every single split point of small inputs', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(lineArb, { maxLength: 5 }), fc.boolean(), async (lines, finalNl) => {
        const { src, want } = build(lines, finalNl);
        for (let k = 0; k <= src.length; k++) {
          const r = await run(options(false), [src.subarray(0, k), src.subarray(k)]);
          expect(r.err).toBeNull();
          expect(r.out.equals(want)).toBe(true);
        }
      }),
      { numRuns: 25 },
    );
  });

  test('hide is called once per chunk with every record completed in it, in order', async () => {
    const batches: (string | undefined)[][] = [];
    const opts = {
      ...options(false),
      hide: (fs: readonly ActivityFacts[]) => {
        batches.push(fs.map((f) => f.id));
        return fs.map(() => false);
      },
    };
    const a = '{"id":"1"}\n{"id":"2"}\n{"id":';
    const b = '"3"}\n{"id":"4"}';
    const r = await run(opts, [Buffer.from(a), Buffer.from(b)]);
    expect(r.out.toString()).toBe(a + b);
    expect(batches).toEqual([['1', '2'], ['3'], ['4']]);
  });

  test('kept records are the exact upstream bytes (escapes, spacing, CRLF, invalid-looking unicode escapes)', async () => {
    const src = '{ "id" : "1", "s":"\\u00e9\\ud83d\\ude00" ,"user":{"userName":"a@b.c"}}\r\n';
    const r = await run(options(false), [Buffer.from(src)]);
    expect(r.out.toString()).toBe(src);
  });

  test('a line that is not JSON or not UTF-8 is withheld whatever hide says', async () => {
    const seen: number[] = [];
    const opts = {
      ...options(false),
      hide: (fs: readonly ActivityFacts[]) => {
        seen.push(fs.length);
        return fs.map(() => false);
      },
    };
    const bad = Buffer.concat([Buffer.from('{"id":"x","s":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')]);
    const r = await run(opts, [Buffer.from('{"id":1}\nnot json\n'), bad, Buffer.from('{"id":2}')]);
    expect(r.out.toString()).toBe('{"id":1}\n{"id":2}');
    expect(seen.reduce((a, b) => a + b, 0)).toBe(2);
  });

  test('UTF-8 checked once per chunk: a bad line among good ones is withheld alone, a character split across chunks is read', async () => {
    const good = (id: string) => `{"id":"${id}","s":"é€😀"}\n`;
    const bad = Buffer.concat([Buffer.from('{"id":"bad","s":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]);
    const whole = Buffer.concat([Buffer.from(good('1')), Buffer.from(good('2')), bad, Buffer.from(good('3')), Buffer.from(good('4'))]);
    const want = good('1') + good('2') + good('3') + good('4');
    // the engine path (a field reader): UTF-8 is checked per chunk, not by JSON.parse per line
    const spec: ActivitiesSpec = { id: 'id', timestamp: 'timestamp', actor: ['user.userName'], groups: ['user.userTags'], application: null, builtinTags: {} };
    const opts = { ...options(false), extract: compileExtractor(spec), read: compileFieldReader(spec) };
    // one chunk (the span holds the bad line), and every two-chunk split (splits inside é, € and 😀 too)
    expect((await run(opts, [whole])).out.toString()).toBe(want);
    for (let at = 1; at < whole.length; at++) {
      const r = await run(opts, [whole.subarray(0, at), whole.subarray(at)]);
      expect(r.out.toString()).toBe(want);
    }
  });

  test('a UTF-8 BOM on the first line is kept and does not make it unreadable', async () => {
    const src = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"id":"1","user":{"userName":"bob@private"}}\n{"id":"2"}\n')]);
    const r = await run(options(false), [src]);
    expect(r.out.toString()).toBe('{"id":"2"}\n');
  });

  test('records framed before a fault in the same chunk are still passed on, then the error', async () => {
    const long = JSON.stringify({ id: 'l', pad: 'x'.repeat(500) }) + '\n';
    const hidden = JSON.stringify({ id: 'h', user: { userName: 'bob@private' }, mark: 'PRIVATE' }) + '\n';
    const r = await run({ ...options(false), maxRecordBytes: 200 }, [Buffer.from('{"id":"1"}\n' + hidden + '{"id":"3"}\n' + long + '{"id":"4"}\n')]);
    expect(r.err).toBeInstanceOf(ExportStructureError);
    expect(r.out.toString()).toBe('{"id":"1"}\n{"id":"3"}\n');
  });

  test('a line longer than maxRecordBytes cuts the stream off with ExportStructureError', async () => {
    const hidden = JSON.stringify({ id: 'h', user: { userName: 'bob@private' }, mark: 'PRIVATE' }) + '\n';
    const long = JSON.stringify({ id: 'l', pad: 'x'.repeat(500) }) + '\n';
    for (const sizes of [[1000], [7], [1]]) {
      const src = Buffer.from('{"id":"1"}\n' + hidden + long + '{"id":"2"}\n');
      const r = await run({ ...options(false), maxRecordBytes: 200 }, chunked(src, sizes));
      expect(r.err).toBeInstanceOf(ExportStructureError);
      expect(r.out.toString()).not.toContain('PRIVATE');
      expect(r.out.toString()).not.toContain('"2"');
    }
    // unterminated at end of stream: the same
    const r = await run({ ...options(false), maxRecordBytes: 200 }, [Buffer.from('{"id":"1"}\n' + long.trim())]);
    expect(r.err).toBeInstanceOf(ExportStructureError);
    // exactly maxRecordBytes (terminator not counted) is fine
    const exact = '{"a":"' + 'x'.repeat(192) + '"}';
    expect(exact.length).toBe(200);
    const ok = await run({ ...options(false), maxRecordBytes: 200 }, chunked(Buffer.from(exact + '\r\n' + exact), [3]));
    expect(ok.err).toBeNull();
    expect(ok.out.toString()).toBe(exact + '\r\n' + exact);
  });

  test('hide failing or answering the wrong length cuts the stream off', async () => {
    const src = [Buffer.from('{"id":"1"}\n'), Buffer.from('{"id":"2"}\n')];
    const rejecting = await run({ ...options(false), hide: () => Promise.reject(new Error('directory down')) }, src);
    expect((rejecting.err as Error).message).toBe('directory down');
    expect(rejecting.out.length).toBe(0);
    const short = await run({ ...options(false), hide: () => [] }, src);
    expect(short.err).toBeInstanceOf(Error);
    expect(short.out.length).toBe(0);
    const truthy = await run({ ...options(false), hide: (fs) => fs.map(() => undefined as unknown as boolean) }, src);
    expect(truthy.out.length).toBe(0); // anything but an explicit false hides
  });

  test('an extractor that throws withholds the record', async () => {
    const opts = {
      ...options(false),
      extract: (r: unknown) => {
        if ((r as { id: string }).id === 'x') throw new Error('boom');
        return facts(r);
      },
    };
    const r = await run(opts, [Buffer.from('{"id":"x"}\n{"id":"y"}\n')]);
    expect(r.out.toString()).toBe('{"id":"y"}\n');
  });
});

describe('ndjson parser with the fused field reader', () => {
  const SPEC: ActivitiesSpec = {
    id: '_id',
    timestamp: 'timestamp',
    actor: ['user.userName', 'failedUserData.userName'],
    groups: ['user.userTags', 'resolvedActor.tags'],
    application: { path: 'actorType', equals: ['APPLICATION'] },
    builtinTags: {},
  };
  const extract = compileExtractor(SPEC);
  const read = compileFieldReader(SPEC);
  const recordLine = fc
    .tuple(
      fc.constantFrom('"_id"', '"\\u005fid"'),
      fc.constantFrom('"a"', '"b\\"c"', '7'),
      fc.constantFrom('"user"', '"us\\u0065r"'),
      fc.constantFrom('{"userName":"Bob@X.com","userTags":["hr"]}', '{}', '"s"', '[{"userName":"y"}]', '{"userName":"a","userName":"c@x.com"}'),
      fc.boolean(),
    )
    .map(([k1, v1, k2, v2, dup]) => `{${k1}:${v1},${k2}:${v2}${dup ? ',"user":{"userTags":["legal"]}' : ''},"timestamp":1772000000000}`);
  // malformed lines, some cut in the middle of a configured field (a failed scan must not leak state into the next line)
  const badLine = recordLine.chain((l) => fc.nat(l.length - 1).map((i) => l.slice(0, i) + (i % 2 ? '' : '\u0001')));
  const line = fc.oneof(recordLine, badLine, fc.constantFrom('[1,2]', '"x"', 'null', '{"user":{"userName":"é@x.com"}}'));

  const factsOfAll = (lines: string[], r?: typeof read) => {
    const p = ndjsonParser({ extract, read: r, maxRecordBytes: 1 << 20 });
    const out: Op[] = [];
    p.push(Buffer.from(lines.join('\n') + '\n'), out);
    p.end(out);
    return out.map((o) => (o.kind === 'record' ? o.facts : 'raw'));
  };

  test('reads the same facts (or withholds the same lines) as JSON.parse + extract', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), (lines) => {
        const want = factsOfAll(lines);
        expect(factsOfAll(lines, read)).toEqual(want);
        // the oracle is JSON.parse: malformed lines are withheld (null)
        lines.forEach((l, i) => {
          let ok = true;
          try {
            JSON.parse(l);
          } catch {
            ok = false;
          }
          if (!ok) expect(want[i]).toBeNull();
        });
      }),
      { numRuns: 500 },
    );
  });
});
