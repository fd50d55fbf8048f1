import { describe, expect, it } from 'vitest';
import type { ActivityFacts, HideBatch } from '../../../src/privacy/types.js';
import { BodyInvalidError } from '../../../src/engine/errors.js';
import { classifyItem } from '../../../src/rewrite/item.js';

const b = (s: string) => Buffer.from(s, 'utf8');
const extract = (r: unknown): ActivityFacts => {
  const rec = r as { _id?: unknown; user?: { userName?: string } };
  return { id: typeof rec._id === 'string' ? rec._id : undefined, actor: rec.user?.userName, groups: [], isApplication: false };
};
const hideActor =
  (actor: string): HideBatch =>
  (facts) =>
    facts.map((f) => f.actor === actor);

describe('classifyItem', () => {
  it('hides a private activity and reports its id', async () => {
    const body = b('{"_id":"x1","user":{"userName":"bob@contoso.com"}}');
    expect(await classifyItem(body, extract, hideActor('bob@contoso.com'))).toEqual({ hidden: true, id: 'x1' });
  });

  it('shows a public one', async () => {
    const body = b(' {\n "_id" : "x2", "user": {"userName": "eve@contoso.com"} }\n');
    expect(await classifyItem(body, extract, hideActor('bob@contoso.com'))).toEqual({ hidden: false, id: 'x2' });
  });

  it('omits id when the record has none', async () => {
    expect(await classifyItem(b('{"user":{"userName":"bob@contoso.com"}}'), extract, hideActor('bob@contoso.com'))).toEqual({ hidden: true });
  });

  it('reads fields as JSON.parse does: the last duplicate wins', async () => {
    const body = b('{"_id":"x3","user":{"userName":"eve@contoso.com"},"user":{"userName":"bob@contoso.com"}}');
    expect((await classifyItem(body, extract, hideActor('bob@contoso.com'))).hidden).toBe(true);
  });

  it('calls hide exactly once with exactly one fact, and accepts an async answer', async () => {
    const calls: (readonly ActivityFacts[])[] = [];
    const hide: HideBatch = async (facts) => (calls.push(facts), [false]);
    expect(await classifyItem(b('{"_id":"x4"}'), extract, hide)).toEqual({ hidden: false, id: 'x4' });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual([{ id: 'x4', actor: undefined, groups: [], isApplication: false }]);
  });

  it('fails closed: an answer other than false hides; a wrong-length answer is an error', async () => {
    const odd = (() => [undefined]) as unknown as HideBatch;
    expect((await classifyItem(b('{"_id":"x5"}'), extract, odd)).hidden).toBe(true);
    await expect(classifyItem(b('{"_id":"x5"}'), extract, () => [])).rejects.toThrow(/wrong length/);
  });

  it.each([
    ['an array', '[{"_id":"x"}]'],
    ['a string', '"x"'],
    ['a number', '42'],
    ['null', 'null'],
    ['empty body', ''],
    ['truncated object', '{"_id":"x"'],
    ['trailing garbage', '{"_id":"x"} {}'],
    ['BOM', '\ufeff{"_id":"x"}'],
    ['control character in a string', '{"_id":"a\u0001"}'],
    ['bad number', '{"n":01}'],
    ['single quotes', "{'_id':'x'}"],
  ])('rejects %s with BodyInvalidError without calling extract or hide', async (_n, text) => {
    let called = false;
    const spyExtract = (r: unknown) => ((called = true), extract(r));
    const spyHide: HideBatch = (f) => ((called = true), f.map(() => false));
    await expect(classifyItem(b(text), spyExtract, spyHide)).rejects.toBeInstanceOf(BodyInvalidError);
    expect(called).toBe(false);
  });

  it('rejects invalid UTF-8 inside the object', async () => {
    const body = Buffer.concat([b('{"_id":"'), Buffer.of(0xc3, 0x28), b('"}')]);
    await expect(classifyItem(body, extract, () => [false])).rejects.toBeInstanceOf(BodyInvalidError);
  });
});
