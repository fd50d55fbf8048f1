/** The Graph source's parts: page parsing, the token and its clock, and the Retry-After loop. */
import { describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/clock.js';
import { nextLink, parsePage, throttledCall } from '../../../src/directory/graph.js';
import { GraphTokens, parseTokenAnswer, tokenForm, type Call } from '../../../src/directory/graphToken.js';
import type { HttpsClient, HttpsResponse } from '../../../src/directory/https.js';

const ORIGIN = 'https://graph.example';
const signal = () => new AbortController().signal;
const ok = (body: unknown): HttpsResponse => ({ status: 200, headers: {}, body: JSON.stringify(body) });

describe('parsePage', () => {
  it('reads ids and names (the id when there is no name) and the next link', () => {
    const p = parsePage(JSON.stringify({ value: [{ id: 'a', displayName: 'A' }, { id: 'b' }], '@odata.nextLink': `${ORIGIN}/next` }), ORIGIN);
    expect(p).toEqual({
      entries: [
        { id: 'a', name: 'A' },
        { id: 'b', name: 'b' },
      ],
      next: `${ORIGIN}/next`,
    });
    expect(parsePage('{"value":[]}', ORIGIN)).toEqual({ entries: [], next: undefined });
  });

  it('anything not shaped like Graph fails', () => {
    expect(() => parsePage('<html>', ORIGIN)).toThrow('not JSON');
    expect(() => parsePage('{"value":{}}', ORIGIN)).toThrow('no value array');
    expect(() => parsePage('{"value":[1]}', ORIGIN)).toThrow('not an object');
    expect(() => parsePage('{"value":[{"id":""}]}', ORIGIN)).toThrow('without id');
  });

  it('nextLink refuses another origin and non-URLs', () => {
    expect(nextLink(null, ORIGIN)).toBeUndefined();
    expect(() => nextLink('https://evil.example/x', ORIGIN)).toThrow('another origin');
    expect(() => nextLink('not a url', ORIGIN)).toThrow('bad @odata.nextLink');
    expect(() => nextLink(42, ORIGIN)).toThrow('bad @odata.nextLink');
  });
});

describe('the token', () => {
  it('parseTokenAnswer renews 5 minutes early, or a tenth of a short lifetime', () => {
    expect(parseTokenAnswer('{"access_token":"t","expires_in":3600}', 1000)).toEqual({ value: 't', renewAt: 1000 + 3_300_000 });
    expect(parseTokenAnswer('{"access_token":"t","expires_in":"100"}', 0)).toEqual({ value: 't', renewAt: 90_000 });
    expect(() => parseTokenAnswer('{"access_token":"t"}', 0)).toThrow('no access_token/expires_in');
    expect(() => parseTokenAnswer('nope', 0)).toThrow('not JSON');
  });

  it('tokenForm with a client secret', async () => {
    const form = await tokenForm({ clientId: 'app', tokenUrl: 'https://login/t', scope: `${ORIGIN}/.default`, clientSecret: 's' }, 0);
    expect(Object.fromEntries(form)).toEqual({ client_id: 'app', scope: `${ORIGIN}/.default`, grant_type: 'client_credentials', client_secret: 's' });
  });

  it('GraphTokens reuses a token until renewAt on the injected clock, shares one fetch, and drops a refused token', async () => {
    let t = 0;
    const clock: Clock = { now: () => t };
    let fetched = 0;
    const call: Call = () => Promise.resolve(ok({ access_token: `tok${++fetched}`, expires_in: 3600 }));
    const tokens = new GraphTokens({ clientId: 'app', tokenUrl: 'https://login/t', scope: 's', clientSecret: 'x' }, call, clock);
    expect(await Promise.all([tokens.get(signal(), Infinity), tokens.get(signal(), Infinity)])).toEqual(['tok1', 'tok1']);
    t = 3_299_999;
    expect(await tokens.get(signal(), Infinity)).toBe('tok1');
    t = 3_300_000;
    expect(await tokens.get(signal(), Infinity)).toBe('tok2');
    tokens.refused('tok1'); // an older token: keeps the current one
    expect(await tokens.get(signal(), Infinity)).toBe('tok2');
    tokens.refused('tok2');
    expect(await tokens.get(signal(), Infinity)).toBe('tok3');
  });

  it('a token endpoint error fails with its status only', async () => {
    const call: Call = () => Promise.resolve({ status: 400, headers: {}, body: '{"error":"secret detail"}' });
    const tokens = new GraphTokens({ clientId: 'app', tokenUrl: 'https://login/t', scope: 's', clientSecret: 'x' }, call, { now: () => 0 });
    await expect(tokens.get(signal(), Infinity)).rejects.toThrow(/^token endpoint answered 400$/);
  });
});

describe('throttledCall', () => {
  function client(answers: HttpsResponse[]): HttpsClient & { calls: number } {
    const c = {
      calls: 0,
      request: () => Promise.resolve(answers[c.calls++]),
      close() {},
    };
    return c;
  }

  it('waits for Retry-After and asks again', async () => {
    const c = client([{ status: 429, headers: { 'retry-after': '0' }, body: '' }, ok({ value: [] })]);
    const res = await throttledCall(c, { now: () => 0 })('https://g/x', {}, signal(), performance.now() + 5000);
    expect(res.status).toBe(200);
    expect(c.calls).toBe(2);
  });

  it('reads an HTTP-date Retry-After against the injected clock; past the deadline it fails', async () => {
    const at = Date.parse('2030-01-01T00:00:00Z');
    const c = client([{ status: 503, headers: { 'retry-after': new Date(at + 30_000).toUTCString() }, body: '' }]);
    const call = throttledCall(c, { now: () => at });
    await expect(call('https://g/x', {}, signal(), performance.now() + 1000)).rejects.toThrow('throttled (503) beyond the timeout');
  });
});
