/**
 * Generators shared by the differential tests (static and directory-sourced membership):
 * policies, activity records with every field shape the gateway must read, and a renderer
 * that serialises a list page with random whitespace so byte preservation is really tested.
 */
import fc from 'fast-check';

export const T0 = Date.parse('2026-01-01T00:00:00Z');
export const SPAN = 300 * 86_400_000;
const DEFAULT_TAGS = ['hr', 'legal', 'ops', 'other', '000000200000000000000000', '0000003b0000000000000000'];

export const intervalArb = (groups: readonly string[]) =>
  fc.record({
    id: fc.constantFrom(...groups),
    since: fc.integer({ min: T0, max: T0 + SPAN }),
    len: fc.option(fc.integer({ min: 1, max: SPAN }), { nil: undefined }),
  });

const timestampArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: T0 - SPAN / 4, max: T0 + SPAN + SPAN / 4 }) },
  { weight: 2, arbitrary: fc.integer({ min: T0, max: T0 + SPAN }).map((t) => new Date(t).toISOString()) },
  { weight: 1, arbitrary: fc.integer({ min: T0, max: T0 + SPAN }).map((t) => new Date(t + 5.5 * 3_600_000).toISOString().replace('Z', '+05:30')) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 'yesterday', null, '2026-05-01') },
);

export const activityArb = (actors: readonly string[], tags: readonly string[] = DEFAULT_TAGS) =>
  fc
    .record({
      id: fc.string({ minLength: 1, maxLength: 6 }),
      timestamp: timestampArb,
      actor: fc.option(fc.constantFrom(...actors), { nil: undefined, freq: 10 }),
      failed: fc.boolean(),
      tags: fc.uniqueArray(fc.constantFrom(...tags), { maxLength: 3 }),
      resolvedTags: fc.uniqueArray(fc.constantFrom(...tags), { maxLength: 2 }),
      app: fc.boolean(),
      text: fc.string({ maxLength: 20, unit: 'grapheme' }),
      n: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    })
    .map((a) => {
      const rec: Record<string, unknown> = { _id: a.id, timestamp: a.timestamp };
      if (a.actor !== undefined) rec[a.failed ? 'failedUserData' : 'user'] = { userName: a.actor, userTags: a.tags };
      else rec.user = { userTags: a.tags };
      rec.resolvedActor = { tags: a.resolvedTags, note: '[{"\\' };
      if (a.app) rec.actorType = 'APPLICATION';
      rec.description = a.text;
      rec.metric = a.n;
      if (rec.timestamp === undefined) delete rec.timestamp;
      return rec;
    });

export const wsArb = fc.constantFrom('', ' ', '\n', '\t', '\r\n  ');

/** Serialises the page with random whitespace so byte preservation is really tested. */
export function render(page: { data: Record<string, unknown>[]; total: number }, ws: string[], pretty: boolean): { body: Buffer; elements: string[] } {
  const w = (i: number) => ws[i % ws.length];
  const elements = page.data.map((a, i) => (pretty && i % 2 ? JSON.stringify(a, null, i % 4) : JSON.stringify(a)));
  const body = `${w(0)}{${w(1)}"hasNext"${w(2)}:${w(3)}true,${w(4)}"data"${w(5)}:${w(6)}[${elements.map((e, i) => w(i + 7) + e + w(i + 8)).join(',')}]${w(9)},"total":${w(10)}${page.total}${w(11)},"max":100}${w(12)}`;
  return { body: Buffer.from(body), elements };
}
