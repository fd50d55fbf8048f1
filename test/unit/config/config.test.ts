import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_ROUTES,
  expandEnv,
  formatProblems,
  loadConfigFile,
  parseConfig,
  resolveConfigPath,
  type ConfigProblem,
  type GatewayConfig,
} from '../../../src/config/index.js';
import { parseTimestamp } from '../../../src/privacy/time.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MIN = 'upstream:\n  url: http://127.0.0.1:8081\n';
const IDENTITY = 'identity:\n  issuer: https://idp.example.com/\n  jwksFile: jwks.json\n';

function ok(text: string, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  const r = parseConfig(text, env);
  if (!r.ok) throw new Error('unexpected problems:\n' + formatProblems(r.problems));
  return r.config;
}
function problems(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  const r = parseConfig(text, env);
  if (r.ok) throw new Error('expected problems, config was valid');
  return r.problems;
}
/** Parses MIN plus one extra object (as JSON, which is YAML) merged at the top level. */
function withMin(extra: Record<string, unknown>): string {
  return JSON.stringify({ upstream: { url: 'http://127.0.0.1:8081' }, ...extra });
}
const paths = (ps: ConfigProblem[]) => ps.map((p) => p.path);

describe('defaults', () => {
  const c = ok(MIN);

  it('server, upstream, reveal, logging', () => {
    expect(c.server).toEqual({ host: '0.0.0.0', port: 8080, workers: 1, adminPrefix: '/_gateway' });
    expect(ok(withMin({ server: { workers: 'auto' } })).server.workers).toBe('auto');
    expect(ok(withMin({ server: { workers: 4 } })).server.workers).toBe(4);
    expect(c.upstream).toEqual({
      url: 'http://127.0.0.1:8081',
      timeoutMs: 30000,
      maxBufferedBytes: 33554432,
      serviceAuthorization: null,
    });
    expect(c.reveal).toEqual({
      header: 'x-show-private-activities',
      value: 'confirm',
      reasonHeader: 'x-reveal-reason',
      reasonClaim: 'reveal_reason',
      requireReason: false,
      minReasonLength: 10,
      scopeHeader: 'x-reveal-scope',
      approval: null,
    });
    expect(c.logging).toEqual({ level: 'info' });
  });

  it('identity omitted is null (no token verifies)', () => {
    expect(c.identity).toBeNull();
    expect(ok(MIN + 'identity: null\n').identity).toBeNull();
  });

  it('identity defaults', () => {
    expect(ok(MIN + IDENTITY).identity).toEqual({
      header: 'authorization',
      issuer: 'https://idp.example.com/',
      audience: 'activity-privacy-gateway',
      jwksUrl: null,
      jwksFile: 'jwks.json',
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      clockToleranceSec: 30,
      principalClaims: ['upn', 'preferred_username', 'email'],
      rolesClaim: 'roles',
      adminRoles: ['SecurityAdministrator', 'GlobalAdministrator'],
      revealClaim: 'show_private_activities',
    });
  });

  it('privacy, directory, activities', () => {
    expect(c.privacy).toEqual({ managedDomains: [], undecidable: 'withhold', groups: [], permissions: [], adminGroups: [] });
    expect(c.directory).toEqual({ groups: {}, knownGroups: [], http: null, ldap: null, graph: null });
    expect(c.activities).toEqual({
      id: '_id',
      timestamp: 'timestamp',
      actor: ['user.userName', 'failedUserData.userName'],
      groups: ['user.userTags', 'resolvedActor.tags'],
      application: null,
      builtinTags: { 'external-users': '000000200000000000000000', application: '0000003b0000000000000000' },
    });
  });

  it('routes default to the SPEC table', () => {
    expect(c.routes).toEqual([
      { path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data', total: 'total' },
      { path: '/api/v1/activities/export/', kind: 'export', format: 'csv' },
      { path: '/api/v1/activities/:id/', methods: ['GET'], kind: 'item' },
      { path: '/api/v1/**', kind: 'passthrough' },
      { path: '/**', kind: 'deny' },
    ]);
    // the default table is not shared mutable state
    (c.routes[0] as { path: string }).path = '/changed';
    expect(ok(MIN).routes[0].path).toBe('/api/v1/activities/');
    expect(DEFAULT_ROUTES[0].path).toBe('/api/v1/activities/');
  });

  it('governance and state', () => {
    expect(c.governance).toEqual({ sink: 'file', file: 'data/governance.jsonl', postgresUrl: null, forward: [], checkpoint: null });
    expect(c.state).toEqual({ store: 'file', file: 'data/state.json', postgresUrl: null });
  });

  it('directory.http defaults', () => {
    const d = ok(withMin({ directory: { http: { url: 'https://dir.local/users/{principal}/groups' } } }));
    expect(d.directory.http).toEqual({
      url: 'https://dir.local/users/{principal}/groups',
      ttlSec: 300,
      maxEntries: 10000,
      timeoutMs: 2000,
      staleSec: 3600,
      headers: {},
      groupsUrl: null,
    });
  });

  it('route defaults: items for list and json exports only', () => {
    const r = ok(
      withMin({
        routes: [
          { path: '/l', kind: 'list' },
          { path: '/j', kind: 'export', format: 'json' },
          { path: '/n', kind: 'export', format: 'ndjson' },
          { path: '/c', kind: 'export', format: 'csv', columns: { actor: 'User' } },
          { path: '/t', kind: 'list', items: '', methods: ['get', 'Post', 'GET'] },
        ],
      }),
    ).routes;
    expect(r[0]).toEqual({ path: '/l', kind: 'list', items: 'data' });
    expect(r[1]).toEqual({ path: '/j', kind: 'export', format: 'json', items: 'data' });
    expect(r[2]).toEqual({ path: '/n', kind: 'export', format: 'ndjson' });
    expect(r[3]).toEqual({ path: '/c', kind: 'export', format: 'csv', columns: { actor: 'User' } });
    expect(r[4]).toEqual({ path: '/t', kind: 'list', items: '', methods: ['GET', 'POST'] });
  });
});

describe('normalisation', () => {
  it('lower-cases principals, domains and headers; converts timestamps; string-or-list', () => {
    const c = ok(
      withMin({
        identity: { issuer: 'x', jwksUrl: 'https://idp/keys', header: 'X-Admin-Token' },
        reveal: { header: 'X-Reveal' },
        privacy: {
          managedDomains: ['Contoso.COM', 'contoso.com'],
          permissions: ['Alice@Contoso.com', 'alice@contoso.com'],
          groups: [
            { id: 'hr', privateSince: '2026-03-01T00:00:00Z' },
            { id: 'legal', name: 'Legal', privateSince: '2026-02-01T01:00:00+01:00', privateUntil: 1777593600000 },
          ],
        },
        directory: { groups: { hr: ['Bob@Contoso.com'] } },
        activities: { actor: 'user.userName', groups: 'tags', application: { path: 'actorType', equals: 'APPLICATION' } },
      }),
    );
    expect(c.privacy.managedDomains).toEqual(['contoso.com']);
    expect(c.privacy.permissions).toEqual(['alice@contoso.com']);
    expect(c.privacy.groups).toEqual([
      { id: 'hr', privateSince: Date.UTC(2026, 2, 1), privateUntil: null },
      { id: 'legal', name: 'Legal', privateSince: Date.UTC(2026, 1, 1), privateUntil: 1777593600000 },
    ]);
    expect(c.directory.groups).toEqual({ hr: ['bob@contoso.com'] });
    expect(c.identity?.header).toBe('x-admin-token');
    expect(c.reveal.header).toBe('x-reveal');
    expect(c.activities.actor).toEqual(['user.userName']);
    expect(c.activities.groups).toEqual(['tags']);
    expect(c.activities.application).toEqual({ path: 'actorType', equals: ['APPLICATION'] });
  });

  it('accepts epoch ms for privateSince and postgres backends with a URL', () => {
    const c = ok(
      withMin({
        privacy: { groups: [{ id: 'builtin:application', privateSince: 0 }] },
        governance: { sink: 'postgres', postgresUrl: 'postgres://u:p@db/apg' },
        state: { store: 'postgres', postgresUrl: 'postgresql://db/apg' },
      }),
    );
    expect(c.privacy.groups[0].privateSince).toBe(0);
    expect(c.governance.sink).toBe('postgres');
    expect(c.state.postgresUrl).toBe('postgresql://db/apg');
  });

  it('reads timestamps with the one ISO-8601 parser the admin API and activities use', () => {
    const forms = ['2026-03-01T01:00:00+01:00', '2026-03-01 00:00:00Z', '2026-03-01t01:00+0100', '2026-03-01T00:00:00,000Z', '2026-03-01T01:00:00+01'];
    for (const privateSince of forms) {
      const c = ok(withMin({ privacy: { groups: [{ id: 'hr', privateSince }] } }));
      expect(c.privacy.groups[0].privateSince, privateSince).toBe(Date.UTC(2026, 2, 1));
      expect(parseTimestamp(privateSince), privateSince).toBe(Date.UTC(2026, 2, 1));
    }
    for (const privateSince of ['2026-02-30T00:00:00Z', '2026-03-01T00:00:00', '1900-01-01T00:00:00Z'])
      expect(problems(withMin({ privacy: { groups: [{ id: 'hr', privateSince }] } }))[0].path, privateSince).toContain('privateSince');
  });

  it('accepts successive intervals of the same group (history)', () => {
    const c = ok(
      withMin({
        privacy: {
          groups: [
            { id: 'hr', privateSince: '2026-01-01T00:00:00Z', privateUntil: '2026-02-01T00:00:00Z' },
            { id: 'hr', privateSince: '2026-02-01T00:00:00Z' },
          ],
        },
      }),
    );
    expect(c.privacy.groups).toHaveLength(2);
  });
});

/** [description, config text, expected problem path, message fragment] */
const CASES: [string, string, string, RegExp][] = [
  ['upstream missing', '{}', 'upstream', /required/],
  ['upstream.url missing', 'upstream: {}', 'upstream.url', /required/],
  ['upstream.url not http', withMin({ upstream: { url: 'ftp://x/' } }), 'upstream.url', /http/],
  ['upstream.url garbage', withMin({ upstream: { url: 'not a url' } }), 'upstream.url', /http/],
  ['upstream.url with query', withMin({ upstream: { url: 'http://x/?a=1' } }), 'upstream.url', /query/],
  ['upstream.timeoutMs 0', withMin({ upstream: { url: 'http://x', timeoutMs: 0 } }), 'upstream.timeoutMs', />= 1/],
  ['upstream.maxBufferedBytes fraction', withMin({ upstream: { url: 'http://x', maxBufferedBytes: 1.5 } }), 'upstream.maxBufferedBytes', /integer/],
  ['upstream.timeoutMs string', withMin({ upstream: { url: 'http://x', timeoutMs: '30s' } }), 'upstream.timeoutMs', /integer/],
  ['server.port too large', withMin({ server: { port: 65536 } }), 'server.port', /65535/],
  ['server.port negative', withMin({ server: { port: -1 } }), 'server.port', />= 0/],
  ['server.workers 0', withMin({ server: { workers: 0 } }), 'server.workers', /./],
  ['server.workers a word', withMin({ server: { workers: 'many' } }), 'server.workers', /./],
  ['adminPrefix no leading slash', withMin({ server: { adminPrefix: '_gw' } }), 'server.adminPrefix', /start with \//],
  ['adminPrefix trailing slash', withMin({ server: { adminPrefix: '/_gw/' } }), 'server.adminPrefix', /not end with \//],
  ['identity without jwks', withMin({ identity: { issuer: 'x' } }), 'identity.jwksUrl', /one of jwksUrl \/ jwksFile/],
  ['identity with both jwks', withMin({ identity: { issuer: 'x', jwksUrl: 'https://a/k', jwksFile: 'k.json' } }), 'identity.jwksFile', /only one/],
  ['identity.issuer missing', withMin({ identity: { jwksFile: 'k' } }), 'identity.issuer', /required/],
  ['identity.algorithms HS256', withMin({ identity: { issuer: 'x', jwksFile: 'k', algorithms: ['RS256', 'HS256'] } }), 'identity.algorithms.1', /RS256/],
  ['identity.algorithms none', withMin({ identity: { issuer: 'x', jwksFile: 'k', algorithms: ['none'] } }), 'identity.algorithms.0', /one of/],
  ['identity.algorithms empty', withMin({ identity: { issuer: 'x', jwksFile: 'k', algorithms: [] } }), 'identity.algorithms', /empty/],
  ['identity.jwksUrl not a URL', withMin({ identity: { issuer: 'x', jwksUrl: 'keys' } }), 'identity.jwksUrl', /http/],
  ['identity.adminRoles empty', withMin({ identity: { issuer: 'x', jwksFile: 'k', adminRoles: [] } }), 'identity.adminRoles', /empty/],
  ['reveal.value empty', withMin({ reveal: { value: '' } }), 'reveal.value', /empty/],
  ['reveal.header invalid', withMin({ reveal: { header: 'x reveal' } }), 'reveal.header', /header name/],
  ['reveal.minReasonLength above 500', withMin({ reveal: { minReasonLength: 501 } }), 'reveal.minReasonLength', /<= 500/],
  ['reveal.requireReason not a boolean', withMin({ reveal: { requireReason: 'yes' } }), 'reveal.requireReason', /true or false/],
  ['reveal.scopeHeader invalid', withMin({ reveal: { scopeHeader: 'x scope' } }), 'reveal.scopeHeader', /header name/],
  ['privacy.undecidable', withMin({ privacy: { undecidable: 'hide' } }), 'privacy.undecidable', /withhold \| show/],
  ['group without privateSince', withMin({ privacy: { groups: [{ id: 'hr' }] } }), 'privacy.groups.0.privateSince', /required/],
  [
    'group privateSince without offset',
    withMin({ privacy: { groups: [{ id: 'hr', privateSince: '2026-01-01T00:00:00' }] } }),
    'privacy.groups.0.privateSince',
    /offset/,
  ],
  [
    'group privateSince impossible date',
    withMin({ privacy: { groups: [{ id: 'hr', privateSince: '2026-02-30T00:00:00Z' }] } }),
    'privacy.groups.0.privateSince',
    /ISO-8601/,
  ],
  [
    'group privateUntil before since',
    withMin({ privacy: { groups: [{ id: 'hr', privateSince: '2026-02-01T00:00:00Z', privateUntil: '2026-01-01T00:00:00Z' }] } }),
    'privacy.groups.0.privateUntil',
    /after privateSince/,
  ],
  [
    'group privateUntil equal to since',
    withMin({ privacy: { groups: [{ id: 'hr', privateSince: 5, privateUntil: 5 }] } }),
    'privacy.groups.0.privateUntil',
    /after privateSince/,
  ],
  ['group id empty', withMin({ privacy: { groups: [{ id: '', privateSince: 1 }] } }), 'privacy.groups.0.id', /empty/],
  ['unknown builtin group', withMin({ privacy: { groups: [{ id: 'builtin:external', privateSince: 1 }] } }), 'privacy.groups.0.id', /built-in/],
  [
    'overlapping intervals',
    withMin({
      privacy: {
        groups: [
          { id: 'hr', privateSince: 1 },
          { id: 'hr', privateSince: 2 },
        ],
      },
    }),
    'privacy.groups.1.privateSince',
    /overlaps/,
  ],
  ['permission not an email', withMin({ privacy: { permissions: ['alice'] } }), 'privacy.permissions.0', /UPN or email/],
  ['permission without tld', withMin({ privacy: { permissions: ['ok@contoso.com', 'alice@contoso'] } }), 'privacy.permissions.1', /UPN or email/],
  ['managed domain with @', withMin({ privacy: { managedDomains: ['@contoso.com'] } }), 'privacy.managedDomains.0', /domain/],
  ['directory member not an email', withMin({ directory: { groups: { hr: ['bob'] } } }), 'directory.groups.hr.0', /UPN or email/],
  ['directory.http url without placeholder', withMin({ directory: { http: { url: 'https://dir/users' } } }), 'directory.http.url', /\{principal\}/],
  ['directory.http ttlSec 0', withMin({ directory: { http: { url: 'https://dir/{principal}', ttlSec: 0 } } }), 'directory.http.ttlSec', />= 1/],
  ['activities.actor empty list', withMin({ activities: { actor: [] } }), 'activities.actor', /empty/],
  ['activities.id bad dot path', withMin({ activities: { id: 'a..b' } }), 'activities.id', /dot path/],
  ['activities.application without equals', withMin({ activities: { application: { path: 'actorType' } } }), 'activities.application.equals', /required/],
  [
    'builtin tag as number',
    'upstream: {url: "http://x"}\nactivities:\n  builtinTags:\n    application: 0000003\n',
    'activities.builtinTags.application',
    /quote/,
  ],
  ['route path without slash', withMin({ routes: [{ path: 'api', kind: 'deny' }] }), 'routes.0.path', /start with \//],
  ['route ** in the middle', withMin({ routes: [{ path: '/api/**/x', kind: 'deny' }] }), 'routes.0.path', /\*\*/],
  ['route * segment', withMin({ routes: [{ path: '/api/*', kind: 'deny' }] }), 'routes.0.path', /\*\*/],
  ['route bad param', withMin({ routes: [{ path: '/a/x:id/', kind: 'item' }] }), 'routes.0.path', /parameter/],
  [
    'route kind unknown',
    withMin({
      routes: [
        { path: '/a', kind: 'list' },
        { path: '/b', kind: 'drop' },
      ],
    }),
    'routes.1.kind',
    /list \| item/,
  ],
  ['route kind missing', withMin({ routes: [{ path: '/a' }] }), 'routes.0.kind', /required/],
  ['export without format', withMin({ routes: [{ path: '/e', kind: 'export' }] }), 'routes.0.format', /required/],
  ['export format unknown', withMin({ routes: [{ path: '/e', kind: 'export', format: 'xml' }] }), 'routes.0.format', /ndjson/],
  ['format on list', withMin({ routes: [{ path: '/l', kind: 'list', format: 'csv' }] }), 'routes.0.format', /export/],
  ['items on csv export', withMin({ routes: [{ path: '/e', kind: 'export', format: 'csv', items: 'data' }] }), 'routes.0.items', /json exports/],
  ['total on item', withMin({ routes: [{ path: '/i', kind: 'item', total: 'total' }] }), 'routes.0.total', /list routes/],
  ['columns on json export', withMin({ routes: [{ path: '/e', kind: 'export', format: 'json', columns: { actor: 'U' } }] }), 'routes.0.columns', /csv/],
  ['method invalid', withMin({ routes: [{ path: '/a', kind: 'deny', methods: ['G E T'] }] }), 'routes.0.methods.0', /HTTP method/],
  ['methods empty', withMin({ routes: [{ path: '/a', kind: 'deny', methods: [] }] }), 'routes.0.methods', /omit/],
  ['routes empty', withMin({ routes: [] }), 'routes', /empty/],
  ['governance postgres without URL', withMin({ governance: { sink: 'postgres' } }), 'governance.postgresUrl', /required/],
  ['state postgres without URL', withMin({ state: { store: 'postgres' } }), 'state.postgresUrl', /required/],
  ['state postgresUrl not postgres', withMin({ state: { store: 'postgres', postgresUrl: 'mysql://db' } }), 'state.postgresUrl', /postgres:\/\//],
  ['governance sink unknown', withMin({ governance: { sink: 's3' } }), 'governance.sink', /file \| postgres/],
  [
    'forward url unknown scheme',
    withMin({ governance: { forward: [{ name: 's', type: 'syslog', url: 'http://siem:514' }] } }),
    'governance.forward.0.url',
    /unknown scheme http:.*tcp:\/\/, tls:\/\/, udp:\/\/ or relp:\/\//,
  ],
  [
    'forward webhook scheme',
    withMin({ governance: { forward: [{ name: 'h', type: 'webhook', url: 'udp://hooks:514' }] } }),
    'governance.forward.0.url',
    /unknown scheme udp:.*http/,
  ],
  ['forward syslog without port', withMin({ governance: { forward: [{ name: 's', type: 'syslog', url: 'tcp://siem' }] } }), 'governance.forward.0.url', /port/],
  [
    'forward type unknown',
    withMin({ governance: { forward: [{ name: 's', type: 'kafka', url: 'tcp://k:9092' }] } }),
    'governance.forward.0.type',
    /syslog \| webhook/,
  ],
  [
    'forward duplicate name',
    withMin({
      governance: {
        forward: [
          { name: 's', type: 'syslog', url: 'tcp://a:1' },
          { name: 's', type: 'syslog', url: 'tcp://b:1' },
        ],
      },
    }),
    'governance.forward.1.name',
    /duplicate/,
  ],
  [
    'forward caFile on tcp',
    withMin({ governance: { forward: [{ name: 's', type: 'syslog', url: 'tcp://a:1', caFile: '/ca.pem' }] } }),
    'governance.forward.0.caFile',
    /tls/,
  ],
  [
    'forward headers on syslog',
    withMin({ governance: { forward: [{ name: 's', type: 'syslog', url: 'tcp://a:1', headers: { A: 'b' } }] } }),
    'governance.forward.0.headers',
    /webhook/,
  ],
  [
    'forward unknown key',
    withMin({ governance: { forward: [{ name: 's', type: 'syslog', url: 'tcp://a:1', port: 3 }] } }),
    'governance.forward.0.port',
    /unknown key/,
  ],
  [
    'forward retry inverted',
    withMin({ governance: { forward: [{ name: 's', type: 'syslog', url: 'tcp://a:1', retry: { minMs: 100, maxMs: 10 } }] } }),
    'governance.forward.0.retry.maxMs',
    /minMs/,
  ],
  ['checkpoint without keyFile', withMin({ governance: { checkpoint: { everyEntries: 10 } } }), 'governance.checkpoint.keyFile', /required/],
  ['checkpoint everyEntries 0', withMin({ governance: { checkpoint: { keyFile: 'k.pem', everyEntries: 0 } } }), 'governance.checkpoint.everyEntries', />= 1/],
  ['logging level unknown', withMin({ logging: { level: 'trace' } }), 'logging.level', /error \| warn/],
  ['section not a mapping', withMin({ server: [1, 2] }), 'server', /object|expected/],
  ['empty file', '', '(root)', /empty/],
];

describe('problems with their key paths', () => {
  it.each(CASES)('%s', (_name, text, expectedPath, message) => {
    const ps = problems(text);
    const hit = ps.find((p) => p.path === expectedPath);
    expect(hit, `problems were:\n${formatProblems(ps)}`).toBeDefined();
    expect(hit!.message).toMatch(message);
  });

  it('unknown keys at several depths, each at its own path', () => {
    const ps = problems(
      withMin({
        extra: 1,
        server: { port: 1, prot: 2 },
        identity: { issuer: 'x', jwksFile: 'k', audiences: ['a'] },
        privacy: { groups: [{ id: 'hr', privateSince: 1, until: 2 }] },
        directory: { http: { url: 'https://d/{principal}', ttl: 5 } },
        activities: { builtinTags: { external: 'x' }, application: { path: 'a', equals: ['b'], not: 1 } },
        routes: [
          { path: '/a', kind: 'export', format: 'csv', columns: { user: 'U' } },
          { path: '/b', kind: 'deny', method: ['GET'] },
        ],
      }),
    );
    expect(paths(ps)).toEqual(
      expect.arrayContaining([
        'extra',
        'server.prot',
        'identity.audiences',
        'privacy.groups.0.until',
        'directory.http.ttl',
        'activities.builtinTags.external',
        'activities.application.not',
        'routes.0.columns.user',
        'routes.1.method',
      ]),
    );
    // a close known key is named (issue 21.5): `unknown key, did you mean audience?`
    for (const p of ps) expect(p.message).toMatch(/^unknown key(, did you mean \w+\?)?$/);
    expect(ps.find((p) => p.path === 'identity.audiences')?.message).toBe('unknown key, did you mean audience?');
  });

  it('reports every problem of a file, not just the first', () => {
    const text = [
      'server:',
      '  port: 70000',
      '  adminPrefix: admin/',
      'upstream:',
      '  url: ftp://nowhere',
      'identity:',
      '  issuer: x',
      '  algorithms: [HS256]',
      'privacy:',
      '  undecidable: maybe',
      '  permissions: [bob]',
      '  groups:',
      '    - {id: hr, privateSince: yesterday}',
      'routes:',
      '  - {path: api, kind: export}',
      '  - {path: /x, kind: bogus}',
      'logging: {level: loud}',
    ].join('\n');
    const ps = problems(text);
    expect(paths(ps)).toEqual(
      expect.arrayContaining([
        'server.port',
        'server.adminPrefix',
        'upstream.url',
        'identity.algorithms.0',
        'identity.jwksUrl',
        'privacy.undecidable',
        'privacy.permissions.0',
        'privacy.groups.0.privateSince',
        'routes.0.path',
        'routes.0.format',
        'routes.1.kind',
        'logging.level',
      ]),
    );
    expect(ps.length).toBeGreaterThanOrEqual(12);
  });

  it('YAML syntax errors carry line and column, all of them', () => {
    const ps = problems('upstream:\n  url: http://x\nserver: [1\nlogging: : x\n');
    expect(ps.length).toBeGreaterThanOrEqual(1);
    for (const p of ps) {
      expect(p.path).toBe('(yaml)');
      expect(p.message).toMatch(/^line \d+, column \d+: /);
    }
    expect(ps.some((p) => /^line 4,/.test(p.message))).toBe(true);
  });

  it('duplicate keys are a YAML problem', () => {
    const ps = problems('upstream:\n  url: http://x\nupstream:\n  url: http://y\n');
    expect(ps[0].path).toBe('(yaml)');
    expect(ps[0].message).toMatch(/line 3, column 1: .*unique/i);
  });
});

describe('expandEnv', () => {
  it('expands ${VAR} and ${VAR:-default}', () => {
    const r = expandEnv('a: ${A}\nb: ${B:-dflt}\nc: ${C:-dflt}\nd: ${D:-}\n', { A: 'one', C: 'three' });
    expect(r.problems).toEqual([]);
    expect(r.text).toBe('a: one\nb: dflt\nc: three\nd: \n');
  });

  it('uses the default when the variable is empty, but not for plain ${VAR}', () => {
    expect(expandEnv('${E:-d}|${E}', { E: '' })).toEqual({ text: 'd|', problems: [] });
  });

  it('$${ is a literal ${', () => {
    const r = expandEnv('a: $${HOME}\nb: $${X:-y} ${X:-z}\n', { HOME: '/root' });
    expect(r.problems).toEqual([]);
    expect(r.text).toBe('a: ${HOME}\nb: ${X:-y} z\n');
  });

  it('leaves lone dollars alone', () => {
    expect(expandEnv('p: a$b$$c$ {d}', {}).text).toBe('p: a$b$$c$ {d}');
  });

  it('an unset variable without default is a problem with its line and column', () => {
    const r = expandEnv('a: 1\nb: x${MISSING}y\n', {});
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ line: 2, column: 5 });
    expect(r.problems[0].message).toMatch(/MISSING is not set/);
    expect(r.text).toBe('a: 1\nb: xy\n');
  });

  it('a malformed reference is a problem', () => {
    const r = expandEnv('a: ${not valid}\nb: ${UNCLOSED\n', {});
    expect(r.problems.map((p) => p.line)).toEqual([1, 2]);
    for (const p of r.problems) expect(p.message).toMatch(/malformed/);
  });

  it('does not expand full-line comments', () => {
    const r = expandEnv('# uses ${NOPE}\n  # and ${NOPE2}\na: ${A}\n', { A: '1' });
    expect(r.problems).toEqual([]);
    expect(r.text).toBe('# uses ${NOPE}\n  # and ${NOPE2}\na: 1\n');
  });
});

describe('parseConfig with the environment', () => {
  it('expands before parsing, so a variable may carry YAML values', () => {
    const c = ok('upstream:\n  url: ${UP}\nserver:\n  port: ${PORT:-9000}\nlogging: {level: ${LVL:-warn}}\n', { UP: 'https://api.local' });
    expect(c.upstream.url).toBe('https://api.local');
    expect(c.server.port).toBe(9000);
    expect(c.logging.level).toBe('warn');
  });

  it('an unset variable is reported at its key path, once, with its line', () => {
    const ps = problems('server:\n  port: 1\nupstream:\n  url: ${UPSTREAM_URL}\n', {});
    expect(ps).toHaveLength(1);
    expect(ps[0].path).toBe('upstream.url');
    expect(ps[0].message).toMatch(/^line 4, column 8: .*UPSTREAM_URL/);
  });

  it('env problems and schema problems are reported together', () => {
    const ps = problems('upstream:\n  url: ${U}\nserver:\n  port: 99999\n', {});
    expect(paths(ps).sort()).toEqual(['server.port', 'upstream.url']);
  });

  it('an unset variable inside a list is reported at the list item', () => {
    const ps = problems('upstream: {url: http://x}\ndirectory:\n  groups:\n    hr:\n      - ${MEMBER}\n', {});
    expect(ps).toEqual([{ path: 'directory.groups.hr.0', message: expect.stringMatching(/^line 5, column 9: .*MEMBER/) }]);
  });

  it('accepts a byte-order mark and CRLF line endings', () => {
    const c = ok('\uFEFFupstream:\r\n  url: ${U:-http://x}\r\n# ${UNSET} in a comment\r\nlogging: {level: warn}\r\n');
    expect(c.upstream.url).toBe('http://x');
    expect(c.logging.level).toBe('warn');
  });

  it('defaults to process.env when no env is given', () => {
    process.env.APG_TEST_CONFIG_URL = 'http://from-process-env:1';
    try {
      expect(parseConfig('upstream: {url: "${APG_TEST_CONFIG_URL}"}').ok).toBe(true);
    } finally {
      delete process.env.APG_TEST_CONFIG_URL;
    }
  });
});

describe('files and helpers', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'apg-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loadConfigFile reads and validates', () => {
    const file = path.join(dir, 'ok.yaml');
    writeFileSync(file, MIN);
    const r = loadConfigFile(file, {});
    expect(r.ok).toBe(true);
  });

  it('an unreadable file is a problem at (file)', () => {
    const r = loadConfigFile(path.join(dir, 'missing.yaml'), {});
    expect(r).toEqual({ ok: false, problems: [{ path: '(file)', message: expect.stringMatching(/cannot read .*ENOENT/) }] });
  });

  it('resolveConfigPath: --config, else $APG_CONFIG, else config/gateway.yaml', () => {
    expect(resolveConfigPath('a.yaml', { APG_CONFIG: 'b.yaml' })).toBe('a.yaml');
    expect(resolveConfigPath(undefined, { APG_CONFIG: 'b.yaml' })).toBe('b.yaml');
    expect(resolveConfigPath(undefined, {})).toBe('config/gateway.yaml');
    expect(resolveConfigPath('', { APG_CONFIG: '' })).toBe('config/gateway.yaml');
  });

  it('formatProblems: one line each, key path first', () => {
    expect(
      formatProblems([
        { path: 'a.b', message: 'bad' },
        { path: 'routes.2.kind', message: 'worse' },
      ]),
    ).toBe('a.b: bad\nroutes.2.kind: worse');
    expect(formatProblems([])).toBe('');
  });
});

describe('shipped configuration files', () => {
  const load = (name: string, env: NodeJS.ProcessEnv = {}) => {
    const r = loadConfigFile(path.join(ROOT, 'config', name), env);
    if (!r.ok) throw new Error(`${name}:\n${formatProblems(r.problems)}`);
    return r.config;
  };

  it('gateway.example.yaml parses with the environment unset and shows the default routes', () => {
    const c = load('gateway.example.yaml');
    expect(c.routes).toEqual(ok(MIN).routes);
    expect(c.identity?.jwksFile).toBe('config/jwks.json');
  });

  it('gateway.yaml parses with the environment unset, and honours it when set', () => {
    const c = load('gateway.yaml');
    expect(c.upstream.url).toBe('http://127.0.0.1:8081');
    expect(c.identity?.jwksFile).toBe('config/jwks.json');
    expect(c.governance.file).toBe('data/governance.jsonl');
    expect(c.state.file).toBe('data/state.json');
    const e = load('gateway.yaml', { APG_UPSTREAM_URL: 'https://api.example', APG_JWKS_FILE: '/keys/jwks.json' });
    expect(e.upstream.url).toBe('https://api.example');
    expect(e.identity?.jwksFile).toBe('/keys/jwks.json');
  });

  it('demo.yaml follows the demo dataset conventions', () => {
    const c = load('demo.yaml');
    expect(c.upstream.url).toBe('http://127.0.0.1:8081');
    expect(c.identity).toMatchObject({
      issuer: 'https://demo-idp.local/',
      audience: 'activity-privacy-gateway',
      jwksFile: '.demo/jwks.json',
      adminRoles: ['SecurityAdministrator', 'GlobalAdministrator'],
    });
    expect(c.governance.file).toBe('.demo/data/governance.jsonl');
    expect(c.state.file).toBe('.demo/data/state.json');
    expect(c.privacy.managedDomains).toEqual(['contoso.com']);
    expect(c.privacy.permissions).toEqual(['alice@contoso.com']);
    expect(c.privacy.groups).toEqual([
      { id: 'hr', name: 'Human Resources', privateSince: Date.UTC(2026, 2, 1), privateUntil: null },
      { id: 'builtin:external-users', name: 'External users', privateSince: Date.UTC(2026, 5, 1), privateUntil: null },
      { id: 'legal', name: 'Legal', privateSince: Date.UTC(2026, 1, 1), privateUntil: Date.UTC(2026, 4, 1) },
    ]);
    expect(c.directory.groups).toEqual({ hr: ['bob@contoso.com', 'carol@contoso.com'], legal: ['heidi@contoso.com'] });
    expect(c.activities.application).toEqual({ path: 'actorType', equals: ['APPLICATION'] });
    expect(c.routes.map((r) => `${r.kind} ${r.path}`)).toEqual([
      'list /api/v1/activities/',
      'export /api/v1/activities/export/ndjson/',
      'export /api/v1/activities/export/json/',
      'export /api/v1/activities/export/cef/',
      'export /api/v1/activities/export/',
      'item /api/v1/activities/:id/',
      'passthrough /api/v1/**',
      'deny /**',
    ]);
    expect(c.routes[0]).toEqual({ path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data', total: 'total' });
    expect(c.routes[2]).toMatchObject({ format: 'json', items: 'data' });
    expect(c.routes[4]).toMatchObject({ format: 'csv' });
  });

  it('demo.yaml takes its paths from the APG_DEMO_* variables', () => {
    const c = load('demo.yaml', { APG_DEMO_UPSTREAM: 'http://127.0.0.1:9999', APG_DEMO_JWKS: '/tmp/j.json', APG_DEMO_DATA: '/tmp/d' });
    expect(c.upstream.url).toBe('http://127.0.0.1:9999');
    expect(c.identity?.jwksFile).toBe('/tmp/j.json');
    expect(c.governance.file).toBe('/tmp/d/governance.jsonl');
  });
});
