import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { normalizePath, splitTarget } from '../../../src/http/normalize.js';
import type { RouteConfig } from '../../../src/config/schema.js';
import { compileRoutes } from '../../../src/routes/table.js';

/** [input, expected normalised path | rejection reason prefixed with '!'] */
const CASES: Array<[string, string]> = [
  // plain and trailing slash
  ['/api/v1/activities/', '/api/v1/activities/'],
  ['/api/v1/activities', '/api/v1/activities'],
  ['/', '/'],
  ['/API/V1/Activities/', '/API/V1/Activities/'], // case preserved (matching folds it)
  // '//' runs
  ['//api/v1/activities/', '/api/v1/activities/'],
  ['/api//v1///activities//', '/api/v1/activities/'],
  ['//', '/'],
  ['///evil.example/x', '/evil.example/x'],
  // dot segments
  ['/api/./v1/activities/', '/api/v1/activities/'],
  ['/api/v1/x/../activities/', '/api/v1/activities/'],
  ['/api/v1/activities/abc/..', '/api/v1/activities/'],
  ['/api/v1/activities/.', '/api/v1/activities/'],
  ['/api/v1/activities/abc/../', '/api/v1/activities/'],
  ['/api/v1/activities/export/../123/', '/api/v1/activities/123/'],
  ['/./', '/'],
  ['/a/..', '/'],
  ['/..', '!climbs_above_root'],
  ['/../api/v1/activities/', '!climbs_above_root'],
  ['/api/../../etc/passwd', '!climbs_above_root'],
  ['/a/../..', '!climbs_above_root'],
  // percent-encoded dots are dot segments
  ['/api/v1/x/%2e%2e/activities/', '/api/v1/activities/'],
  ['/api/v1/x/%2E%2E/activities/', '/api/v1/activities/'],
  ['/api/v1/x/%2E%2e/activities/', '/api/v1/activities/'],
  ['/api/v1/x/.%2e/activities/', '/api/v1/activities/'],
  ['/api/v1/x/%2e./activities/', '/api/v1/activities/'],
  ['/api/%2e/v1/activities/', '/api/v1/activities/'],
  ['/%2e%2e/api/', '!climbs_above_root'],
  ['/a%2eb/', '/a.b/'],
  // encoded separators
  ['/api/v1/activities%2fexport/', '!encoded_slash'],
  ['/api/v1/activities%2Fexport/', '!encoded_slash'],
  ['/api/v1/x/..%2f..%2factivities/', '!encoded_slash'],
  ['/api/v1/x/..%2factivities/', '!encoded_slash'],
  ['/api/v1/activities%5cexport/', '!encoded_backslash'],
  ['/api/v1/activities%5Cexport/', '!encoded_backslash'],
  ['/api/v1/x/..%5c..%5cactivities/', '!encoded_backslash'],
  // double encoding
  ['/api/v1/x/%25%32%65%25%32%65/activities/', '!double_encoding'],
  ['/api/v1/activities%252fexport/', '!double_encoding'],
  ['/api/%25/', '!double_encoding'],
  // raw backslash
  ['/api/v1/activities\\export/', '!backslash'],
  ['/api/v1/x\\..\\activities/', '!backslash'],
  ['\\api\\v1', '!not_origin_form'],
  // matrix params
  ['/api/v1/activities/;jsessionid=abc', '!semicolon'],
  ['/api/v1/activities;/export/', '!semicolon'],
  ['/api/v1/..;/activities/', '!semicolon'],
  ['/api/v1/activities%3bx/', '!semicolon'],
  // control characters, raw and encoded
  ['/api/v1/activities/%00', '!control_char'],
  ['/api/v1/activities/%00.json', '!control_char'],
  ['/api/v1/activities/\u0000', '!control_char'],
  ['/api/v1/activities/%0a', '!control_char'],
  ['/api/v1/activities/%0D%0ASet-Cookie:x', '!control_char'],
  ['/api/v1/activities/\n', '!control_char'],
  ['/api/v1/activities/a%09', '!control_char'],
  ['/api/v1/activities/%1f', '!control_char'],
  ['/api/v1/activities/%7F', '!control_char'],
  ['/api/v1/activities/\u007f', '!control_char'],
  ['/api/v1/activities/%C2%85', '!control_char'], // C1 NEL via UTF-8
  // malformed percent-encoding
  ['/api/v1/activities/%', '!bad_percent'],
  ['/api/v1/activities/%G1', '!bad_percent'],
  ['/api/v1/activities/%1', '!bad_percent'],
  ['/api/v1/activities/%1/', '!bad_percent'],
  ['/api/v1/activities/%u002e%u002e/', '!bad_percent'],
  ['/api/v1/activities/%%32%65', '!bad_percent'],
  // invalid UTF-8: overlong '.', '/', lone continuation, truncated, surrogate
  ['/api/v1/x/%c0%ae%c0%ae/activities/', '!bad_utf8'],
  ['/api/v1/x/%c0%af/', '!bad_utf8'],
  ['/api/v1/x/%e0%80%ae/', '!bad_utf8'],
  ['/api/v1/%80/', '!bad_utf8'],
  ['/api/v1/%C3/', '!bad_utf8'],
  ['/api/v1/%ED%A0%80/', '!bad_utf8'],
  // trailing dot / whitespace segments
  ['/api/v1/activities./', '!trailing_dot_or_space'],
  ['/api/v1/activities.', '!trailing_dot_or_space'],
  ['/api/v1/activities%2e/', '!trailing_dot_or_space'],
  ['/api/v1/.../activities/', '!trailing_dot_or_space'],
  ['/api/v1/..../', '!trailing_dot_or_space'],
  ['/api/v1/activities%20/', '!trailing_dot_or_space'],
  ['/api/v1/%20/', '!trailing_dot_or_space'],
  ['/api/v1/activities/export%20', '!trailing_dot_or_space'],
  ['/api/v1/activities/export%c2%a0', '!trailing_dot_or_space'], // NBSP
  ['/api/v1/activities/export%E3%80%80/', '!trailing_dot_or_space'], // ideographic space
  ['/api/v1/a%20b/', '/api/v1/a%20b/'], // inner space is fine
  ['/api/v1/.hidden/', '/api/v1/.hidden/'],
  // Unicode that folds (NFKC) into separators or dots
  ['/api/v1/x/%EF%BC%8E%EF%BC%8E/activities/', '!confusable'], // fullwidth '..'
  ['/api/v1/activities%EF%BC%8Fexport/', '!confusable'], // fullwidth '/'
  ['/api/v1/activities%EF%BC%BCexport/', '!confusable'], // fullwidth '\'
  // percent-encoded unreserved characters are decoded; others keep upper-case hex
  ['/api/v1/%61ctivities/', '/api/v1/activities/'],
  ['/api/v1/%61%63%74%69%76%69%74%69%65%73/', '/api/v1/activities/'],
  ['/%41PI/v1/', '/API/v1/'],
  ['/api/v1/activities/%7e%2d%5f%30', '/api/v1/activities/~-_0'],
  ['/api/v1/activities/a%3fb', '/api/v1/activities/a%3Fb'],
  ['/api/v1/activities/a%23b', '/api/v1/activities/a%23b'],
  ['/api/v1/activities/user%40contoso.com', '/api/v1/activities/user%40contoso.com'],
  ['/api/v1/activities/user@contoso.com', '/api/v1/activities/user@contoso.com'],
  ["/api/v1/activities/a:b!$&'()*+,=", "/api/v1/activities/a:b!$&'()*+,="],
  // unicode
  ['/api/v1/caf%c3%a9/', '/api/v1/caf%C3%A9/'],
  ['/api/v1/%E2%82%AC', '/api/v1/%E2%82%AC'],
  ['/api/v1/café/', '!bad_char'],
  ['/api/v1/\u2024\u2024/', '!bad_char'],
  // characters that are not pchars
  ['/api/v1/activities/#/../x', '!bad_char'],
  ['/api/v1/activities/a b', '!bad_char'],
  ['/api/v1/activities/<script>', '!bad_char'],
  ['/api/v1/activities/{x}', '!bad_char'],
  ['/api/v1/activities/a|b', '!bad_char'],
  ['/api/v1/activities/a`b', '!bad_char'],
  ['/api/v1/activities/[x]', '!bad_char'],
  // not origin-form
  ['', '!not_origin_form'],
  ['*', '!not_origin_form'],
  ['api/v1/activities/', '!not_origin_form'],
  ['http://evil/x', '!not_origin_form'], // raw: splitTarget reduces absolute-form first
  ['%2fapi', '!not_origin_form'],
  // a query is ignored by normalizePath
  ['/api/v1/activities/?a=%2f..;', '/api/v1/activities/'],
  ['/api/v1/activities?x', '/api/v1/activities'],
  // priority: several problems -> the earliest reason in the documented order
  ['/a;b\\c%2f', '!encoded_slash'],
  ['/a\\b;', '!backslash'],
];

describe('normalizePath table', () => {
  it('has at least 60 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CASES)('%j -> %j', (input, expected) => {
    const r = normalizePath(input);
    if (expected.startsWith('!')) {
      expect(r).toEqual({ ok: false, reason: expected.slice(1) });
    } else {
      expect(r).toEqual({ ok: true, path: expected });
    }
  });
});

describe('splitTarget', () => {
  it.each([
    ['/api/v1/activities/', '/api/v1/activities/', ''],
    ['/api/v1/activities/?limit=10&skip=0', '/api/v1/activities/', 'limit=10&skip=0'],
    ['/api/v1/activities/?', '/api/v1/activities/', ''],
    ['/a?b?c=%2f', '/a', 'b?c=%2f'], // query verbatim, only the first '?' splits
    ['/a?x=1#frag', '/a', 'x=1#frag'],
    ['http://evil/x', '/x', ''],
    ['http://evil/api/v1/activities/?a=1', '/api/v1/activities/', 'a=1'],
    ['HTTPS://user:pw@evil:8443/x/y', '/x/y', ''],
    ['http://evil', '/', ''],
    ['http://evil?q=1', '/', 'q=1'],
    ['*', '*', ''],
    ['', '', ''],
    ['//evil/x', '//evil/x', ''], // origin-form with '//' (collapsed by normalizePath)
  ])('%j', (url, path, query) => {
    expect(splitTarget(url)).toEqual({ path, query });
  });

  it('feeds normalizePath: absolute-form and * end up accepted/rejected as expected', () => {
    expect(normalizePath(splitTarget('http://evil/x/../api/v1/activities/').path)).toEqual({
      ok: true,
      path: '/api/v1/activities/',
    });
    expect(normalizePath(splitTarget('*').path)).toEqual({ ok: false, reason: 'not_origin_form' });
    expect(normalizePath(splitTarget('http://evil#x').path)).toEqual({ ok: false, reason: 'bad_char' });
    expect(normalizePath(splitTarget('/a/%2e%2e/b?x=%2f').path)).toEqual({ ok: true, path: '/b' });
  });
});

// --- properties -----------------------------------------------------------

/** Building blocks that exercise every rule: separators, dots, escapes, junk. */
const TOKENS = [
  '/',
  '/',
  '/',
  '//',
  '.',
  '..',
  '...',
  '%2e',
  '%2E',
  '%2e%2e',
  'a',
  'B',
  'api',
  'v1',
  'activities',
  'export',
  '%61',
  '%41',
  '%7e',
  '%7E',
  '%2d',
  '%5f',
  '%3f',
  '%3F',
  '%20',
  '%c3%a9',
  '%C3%A9',
  '%2f',
  '%5c',
  '%25',
  '%00',
  '%0a',
  '%',
  '%g1',
  '%1',
  ';',
  '\\',
  '~',
  '-',
  '_',
  '@',
  ':',
  '!',
  '+',
  '*',
  '=',
  '%40',
  '%ef%bc%8e',
  '%c0%ae',
  'é',
  ' ',
  '#',
];
const pathArb = fc.array(fc.constantFrom(...TOKENS), { maxLength: 14 }).map((parts) => '/' + parts.join(''));

// Like pathArb, but also anything-goes strings, so the scanner sees arbitrary input.
const anyArb = fc.oneof(
  pathArb,
  fc.string({ maxLength: 20 }).map((s) => '/' + s),
  fc.string({ maxLength: 10 }),
);

const TABLE = compileRoutes([
  { path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data' },
  { path: '/api/v1/activities/export/', kind: 'export', format: 'csv' },
  { path: '/api/v1/activities/:id/', methods: ['GET'], kind: 'item' },
  { path: '/api/v1/**', kind: 'passthrough' },
  { path: '/**', kind: 'deny' },
] satisfies RouteConfig[]);

describe('normalizePath properties', () => {
  it('a successful result is a clean fixed point and matches the same route', () => {
    let okCount = 0;
    fc.assert(
      fc.property(anyArb, (input) => {
        const r = normalizePath(input);
        if (!r.ok) {
          expect(typeof r.reason).toBe('string');
          return;
        }
        okCount++;
        const p = r.path;
        expect(p.startsWith('/')).toBe(true);
        expect(p).not.toContain('//');
        expect(p).not.toContain('/./');
        expect(p).not.toContain('/../');
        expect(p.endsWith('/.') || p.endsWith('/..')).toBe(false);
        expect(p).not.toContain('\\');
        expect(p).not.toContain(';');
        // no encoded unreserved char left; remaining escapes upper-case
        expect(p).not.toMatch(/%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2[DE]|5F|7E)/i);
        expect(p).not.toMatch(/%(?:[a-f][0-9a-fA-F]|[0-9A-F][a-f])/);
        // fixed point
        expect(normalizePath(p)).toEqual({ ok: true, path: p });
        // same route for the path and its re-normalised form, for every method
        for (const m of ['GET', 'POST', 'HEAD', 'DELETE']) {
          const again = normalizePath(p);
          expect(again.ok && TABLE.match(m, again.path)?.route.index).toBe(TABLE.match(m, p)?.route.index);
        }
      }),
      { numRuns: 3000 },
    );
    // the generator must actually reach the success branch often enough to mean something
    expect(okCount).toBeGreaterThan(300);
  });

  it('percent-encoding unreserved characters or changing hex case does not change the result', () => {
    const seg = fc.stringMatching(/^[A-Za-z0-9._~-]{1,8}$/);
    fc.assert(
      fc.property(fc.array(seg, { minLength: 1, maxLength: 5 }), fc.boolean(), (segs, lower) => {
        const plain = '/' + segs.join('/');
        const encoded =
          '/' +
          segs
            .map((s) =>
              [...s]
                .map((ch) => {
                  const h = ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
                  return '%' + (lower ? h.toLowerCase() : h);
                })
                .join(''),
            )
            .join('/');
        expect(normalizePath(encoded)).toEqual(normalizePath(plain));
      }),
      { numRuns: 500 },
    );
  });

  it('a .. is accepted only while there is a segment left to remove', () => {
    // '/x/<k times ..>' succeeds only for k <= 1
    for (let k = 0; k < 4; k++) {
      const r = normalizePath('/x' + '/..'.repeat(k) + '/y');
      expect(r.ok).toBe(k <= 1);
    }
  });
});
