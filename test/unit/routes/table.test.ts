import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { compileRoutes as compileValidated } from '../../../src/routes/table.js';

/** The table of routes as the config schema (their only validator) accepts them. */
function compileRoutes(routes: unknown[]) {
  const r = parseConfig(JSON.stringify({ upstream: { url: 'http://127.0.0.1:1' }, routes }), {});
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return compileValidated(r.config.routes);
}

// The SPEC §3 default table.
const DEFAULT = [
  { path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data', total: 'total' },
  { path: '/api/v1/activities/export/', kind: 'export', format: 'csv' },
  { path: '/api/v1/activities/:id/', methods: ['GET'], kind: 'item' },
  { path: '/api/v1/**', kind: 'passthrough' },
  { path: '/**', kind: 'deny' },
];

const table = compileRoutes(DEFAULT);
const kindOf = (method: string, path: string) => table.match(method, path)?.route.kind ?? null;

describe('compileRoutes: default table', () => {
  it('keeps order, index, pattern and the spec fields', () => {
    expect(table.routes.map((r) => [r.index, r.pattern, r.kind])).toEqual([
      [0, '/api/v1/activities/', 'list'],
      [1, '/api/v1/activities/export/', 'export'],
      [2, '/api/v1/activities/:id/', 'item'],
      [3, '/api/v1/**', 'passthrough'],
      [4, '/**', 'deny'],
    ]);
    expect(table.routes[0]).toMatchObject({ kind: 'list', items: 'data', total: 'total' });
    expect(table.routes[1]).toMatchObject({ kind: 'export', format: 'csv' });
  });

  it.each([
    ['GET', '/api/v1/activities/', 'list'],
    ['POST', '/api/v1/activities/', 'list'],
    ['GET', '/api/v1/activities', 'list'], // trailing slash optional on the request
    ['GET', '/api/v1/activities/export/', 'export'], // export listed before :id wins
    ['GET', '/api/v1/activities/export', 'export'],
    ['POST', '/api/v1/activities/export/', 'export'], // no methods = all
    ['DELETE', '/api/v1/activities/export/', 'export'],
    ['GET', '/api/v1/activities/abc123/', 'item'],
    ['GET', '/api/v1/activities/abc123', 'item'],
    ['GET', '/api/v1/activities/abc/def/', 'passthrough'], // :id is exactly one segment
    ['DELETE', '/api/v1/activities/abc123/', 'passthrough'], // item is GET only: falls through
    ['PUT', '/api/v1/activities/', 'passthrough'], // list is GET/POST only
    ['GET', '/api/v1/alerts/', 'passthrough'],
    ['GET', '/api/v1', 'passthrough'], // ** matches zero segments
    ['GET', '/api/v1/', 'passthrough'],
    ['GET', '/api/v1/a/b/c/d', 'passthrough'],
    ['GET', '/api/v10/x', 'deny'], // literal segment boundary, not a string prefix
    ['GET', '/api/v1x', 'deny'],
    ['GET', '/', 'deny'],
    ['GET', '/admin', 'deny'],
  ])('%s %s -> %s', (method, path, kind) => {
    expect(kindOf(method, path)).toBe(kind);
  });

  it('matches paths case-insensitively', () => {
    expect(kindOf('GET', '/API/V1/ACTIVITIES/')).toBe('list');
    expect(kindOf('GET', '/Api/v1/Activities/EXPORT')).toBe('export');
    expect(kindOf('GET', '/api/v1/activities/ExPoRt/')).toBe('export');
  });

  it('matches methods case-insensitively and sends HEAD where GET goes', () => {
    expect(kindOf('get', '/api/v1/activities/')).toBe('list');
    expect(kindOf('pOsT', '/api/v1/activities/')).toBe('list');
    expect(kindOf('HEAD', '/api/v1/activities/')).toBe('list');
    expect(kindOf('head', '/api/v1/activities/x/')).toBe('item');
    expect(kindOf('HEAD', '/api/v1/activities/export/')).toBe('export');
  });

  it('captures :id as it appears and ** as the rest', () => {
    expect(table.match('GET', '/api/v1/activities/AbC%20x/')?.params).toEqual({ id: 'AbC%20x' });
    expect(table.match('GET', '/api/v1/activities/42')?.params).toEqual({ id: '42' });
    expect(table.match('GET', '/api/v1/alerts/7/comments')?.params).toEqual({ '**': 'alerts/7/comments' });
    expect(table.match('GET', '/api/v1')?.params).toEqual({ '**': '' });
    expect(table.match('GET', '/elsewhere')?.params).toEqual({ '**': 'elsewhere' });
  });

  it('returns null when nothing matches', () => {
    const t = compileRoutes([{ path: '/api/v1/activities/', methods: ['GET'], kind: 'list' }]);
    expect(t.match('GET', '/api/v1/other/')).toBeNull();
    expect(t.match('POST', '/api/v1/activities/')).toBeNull();
    expect(t.match('GET', '/api/v1/activities/x')).toBeNull();
    expect(t.match('GET', '/api/v1/activitiesx')).toBeNull();
    expect(compileValidated([]).match('GET', '/')).toBeNull();
  });
});

describe('compileRoutes: precedence and patterns', () => {
  it('first match wins: an item route before the export route swallows export', () => {
    const t = compileRoutes([
      { path: '/api/v1/activities/:id/', kind: 'item' },
      { path: '/api/v1/activities/export/', kind: 'export', format: 'ndjson' },
    ]);
    expect(t.match('GET', '/api/v1/activities/export/')?.route.kind).toBe('item');
    expect(t.match('GET', '/api/v1/activities/export/')?.route.index).toBe(0);
  });

  it('a route without trailing slash also matches a path with one', () => {
    const t = compileRoutes([{ path: '/api/v1/activities', kind: 'list' }]);
    expect(t.match('GET', '/api/v1/activities/')?.route.kind).toBe('list');
    expect(t.match('GET', '/api/v1/activities')?.route.kind).toBe('list');
    expect(t.match('GET', '/api/v1/activities//')).toBeNull(); // normalised paths never carry '//'
  });

  it('supports several params and a ** after params', () => {
    const t = compileRoutes([
      { path: '/t/:tenant/a/:id', kind: 'item' },
      { path: '/t/:tenant/**', kind: 'passthrough' },
    ]);
    expect(t.match('GET', '/t/acme/a/9')).toMatchObject({ route: { index: 0 }, params: { tenant: 'acme', id: '9' } });
    expect(t.match('GET', '/t/acme/b/c/')).toMatchObject({ route: { index: 1 }, params: { tenant: 'acme', '**': 'b/c/' } });
    expect(t.match('GET', '/t//a/9')).toBeNull(); // :name needs a non-empty segment
  });

  it('treats regex metacharacters in literal segments literally', () => {
    const t = compileRoutes([{ path: '/a.b/c+d/(x)/$', kind: 'passthrough' }]);
    expect(t.match('GET', '/a.b/c+d/(x)/$')).not.toBeNull();
    expect(t.match('GET', '/aXb/c+d/(x)/$')).toBeNull();
    expect(t.match('GET', '/a.b/cccd/x/$')).toBeNull();
  });

  it('a route listing HEAD does not accept GET', () => {
    const t = compileRoutes([{ path: '/x', methods: ['HEAD'], kind: 'passthrough' }]);
    expect(t.match('HEAD', '/x')).not.toBeNull();
    expect(t.match('GET', '/x')).toBeNull();
  });

  it('does not mutate the specs and returns copies with index/pattern', () => {
    const specs = [{ path: '/x/', methods: ['get'], kind: 'deny' }];
    const t = compileRoutes(specs);
    expect(specs[0]).toEqual({ path: '/x/', methods: ['get'], kind: 'deny' });
    expect(t.routes[0]).toMatchObject({ path: '/x/', methods: ['GET'], pattern: '/x/', index: 0, kind: 'deny' });
    expect(t.match('GET', '/x')?.route.kind).toBe('deny');
  });

  it.each([
    ['no leading slash', { path: 'api/v1', kind: 'list' }, /start with/],
    ['** not last', { path: '/api/**/x', kind: 'passthrough' }, /last segment/],
    ['single *', { path: '/api/*', kind: 'passthrough' }, /last segment/],
    ['partial **', { path: '/api/a**', kind: 'passthrough' }, /last segment/],
    ['empty param name', { path: '/api/:/x', kind: 'item' }, /parameter/],
    ['bad param name', { path: '/api/:a-b', kind: 'item' }, /parameter/],
    ['__proto__ param', { path: '/api/:__proto__', kind: 'item' }, /parameter/],
    ['duplicate param', { path: '/a/:id/b/:id', kind: 'item' }, /duplicate/],
    ['empty segment', { path: '/api//v1', kind: 'list' }, /empty segment/],
    ['dot segment', { path: '/api/../v1', kind: 'list' }, /\. or \.\. segments/],
    ['semicolon', { path: '/api;x', kind: 'list' }, /invalid characters/],
    ['backslash', { path: '/api\\x', kind: 'list' }, /must not contain/],
    ['unknown kind', { path: '/api', kind: 'filter' }, /kind/],
    ['unknown format', { path: '/api', kind: 'export', format: 'xml' }, /format/],
    ['empty methods', { path: '/api', kind: 'list', methods: [] }, /must not be empty/],
    ['bad method', { path: '/api', kind: 'list', methods: ['GE T'] }, /HTTP method/],
  ])('the config schema rejects %s (its only validator)', (_name, spec, message) => {
    expect(() => compileRoutes([{ path: '/ok', kind: 'deny' }, spec])).toThrow(message);
    expect(() => compileRoutes([{ path: '/ok', kind: 'deny' }, spec])).toThrow(/routes\.1/);
  });
});
