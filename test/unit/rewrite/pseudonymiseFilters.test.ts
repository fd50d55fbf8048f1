/**
 * SPEC §14 through the filters: list pages and NDJSON / JSON-array exports (streamed in random
 * chunks) with a random mix of kept, removed and pseudonymised records, against the
 * JSON.parse-based oracle; kept records and the envelope byte for byte, total unchanged by
 * pseudonymised records.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPseudonymiser } from '../../../src/privacy/pseudonym.js';
import type { ActivityFacts, HideAnswer } from '../../../src/privacy/types.js';
import { createExportFilter } from '../../../src/rewrite/export/index.js';
import { filterList } from '../../../src/rewrite/list.js';
import { pseudonymTarget, type PseudonymTarget } from '../../../src/rewrite/pseudonymise.js';
import { oracleRewrite } from '../../helpers/pseudonymOracle.js';

const pz = createPseudonymiser([new Uint8Array(32).fill(2)], 'pseudonym.invalid');
const targets = (actor: string): PseudonymTarget => pseudonymTarget(actor, pz.pseudonym(actor));
const PEOPLE = ['henry@contoso.com', 'eve@contoso.com', 'a.b+c@eu.contoso.com'];
const WORDS = [...PEOPLE, ...PEOPLE.map((p) => p.toUpperCase()), ...PEOPLE.map((p) => p.replace('@', '%40')), 'x', ' ', '.', '"', '\\', 'é', '/'];

const text = fc.array(fc.constantFrom(...WORDS), { maxLength: 6 }).map((w) => w.join(''));
const record = fc.record({
  id: fc.uuid(),
  actor: fc.constantFrom(...PEOPLE),
  note: text,
  nested: fc.array(fc.record({ k: text, n: fc.integer() }), { maxLength: 3 }),
  answer: fc.constantFrom<HideAnswer>(false, true, 'pseudonymise'),
});
type Rec = { id: string; actor: string; note: string; nested: unknown[]; answer: HideAnswer };

const json = (r: Rec): string => JSON.stringify({ _id: r.id, user: { userName: r.actor }, note: r.note, nested: r.nested });
const extract = (v: unknown): ActivityFacts => {
  const o = v as { _id: string; user: { userName: string } };
  return { id: o._id, actor: o.user.userName, timestamp: 0, groups: [], isApplication: false };
};
const answerOf = (recs: Rec[]) => (facts: readonly ActivityFacts[]) => facts.map((f) => recs.find((r) => r.id === f.id)!.answer);
const expected = (recs: Rec[]) =>
  recs
    .filter((r) => r.answer !== true)
    .map((r) => (r.answer === false ? JSON.parse(json(r)) : oracleRewrite(JSON.parse(json(r)), r.actor, pz.pseudonym(r.actor))));

async function stream(format: 'ndjson' | 'json', body: Buffer, cuts: number[], recs: Rec[]): Promise<string> {
  const points = [...new Set(cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const p of [...points, body.length]) {
    if (p > at) chunks.push(body.subarray(at, p));
    at = Math.max(at, p);
  }
  const filter = createExportFilter({
    format,
    items: 'data',
    extract,
    fromFields: () => ({ groups: [], isApplication: false }),
    csvColumns: { actor: ['actor'], timestamp: 't', groups: [] },
    hide: answerOf(recs),
    pseudonyms: targets,
  });
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(filter)) out.push(c as Buffer);
  return Buffer.concat(out).toString();
}

const uniqueIds = (recs: Rec[]) => new Set(recs.map((r) => r.id)).size === recs.length;

describe('pseudonymised records through the filters, against the oracle', () => {
  it('list: kept records byte for byte, pseudonymised ones as the oracle, total reduced only by removed ones', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 8 }).filter(uniqueIds), async (recs) => {
        const body = Buffer.from(`{"data":[${recs.map(json).join(',\n ')}],"total":${recs.length}}`);
        const r = await filterList(body, { items: 'data', total: 'total', extract, hide: answerOf(recs), remove: true, pseudonyms: targets });
        const out = JSON.parse(r.body.toString()) as { data: unknown[]; total: number };
        expect(out.data).toEqual(expected(recs));
        expect(out.total).toBe(recs.filter((x) => x.answer !== true).length);
        for (const x of recs.filter((y) => y.answer === false)) expect(r.body.toString()).toContain(json(x));
      }),
      { numRuns: 150 },
    );
  });

  it('NDJSON and JSON-array exports in random chunks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 8 }).filter(uniqueIds), fc.array(fc.nat(), { maxLength: 6 }), async (recs, cuts) => {
        const nd = await stream('ndjson', Buffer.from(recs.map((r) => json(r) + '\n').join('')), cuts, recs);
        expect(
          nd
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as unknown),
        ).toEqual(expected(recs));
        const arr = await stream('json', Buffer.from(`{"data":[${recs.map(json).join(',')}]}`), cuts, recs);
        expect((JSON.parse(arr) as { data: unknown[] }).data).toEqual(expected(recs));
      }),
      { numRuns: 150 },
    );
  });
});
