/** The passthrough leg's header rules (the socket behaviour: test/e2e/passthrough.test.ts). */
import { describe, expect, it } from 'vitest';
import { passRequestHeaders, passResponseHeaders } from '../../../src/http/passUpstream.js';

describe('passRequestHeaders', () => {
  it('drops hop-by-hop and undici-owned headers, keeps the rest, Host is the target', () => {
    const out = passRequestHeaders(
      {
        host: 'gateway.example',
        connection: 'keep-alive',
        'keep-alive': '300',
        'proxy-connection': 'keep-alive',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        trailer: 'x-t',
        upgrade: 'h2c',
        expect: '100-continue',
        authorization: 'Token t',
        'x-multi': ['a', 'b'],
        'content-length': '12',
        absent: undefined,
      },
      'upstream:8080',
    );
    expect(out).toEqual({ authorization: 'Token t', 'x-multi': ['a', 'b'], 'content-length': '12', host: 'upstream:8080' });
  });
});

describe('passResponseHeaders', () => {
  const raw = (...xs: string[]) => xs.map((x) => Buffer.from(x, 'latin1'));

  it('keeps names in the upstream case and order, repeated ones together, latin1 values; drops hop-by-hop', () => {
    const out = passResponseHeaders(
      raw(
        'Content-Type',
        'application/json',
        'Set-Cookie',
        'a=1',
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Transfer-Encoding',
        'chunked',
        'Set-Cookie',
        'b=2',
        'X-Odd',
        'caf\u00e9',
      ),
      'rid',
    );
    expect(out).toEqual(['Content-Type', 'application/json', 'Set-Cookie', ['a=1', 'b=2'], 'X-Odd', 'caf\u00e9']);
  });

  it("replaces the upstream's X-Request-Id by the gateway's, in the upstream's case", () => {
    expect(passResponseHeaders(raw('X-REQUEST-ID', 'theirs', 'x-other', '1', 'X-Request-Id', 'again'), 'ours')).toEqual([
      'X-REQUEST-ID',
      'ours',
      'x-other',
      '1',
    ]);
    expect(passResponseHeaders(raw('A', '1', 'a', '2', 'A', '3'), 'ours')).toEqual(['A', ['1', '2', '3']]);
  });
});
