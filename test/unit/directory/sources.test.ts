/** Building the remote sources from the directory's settings (data), without the config module. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { DirectoryConfig } from '../../../src/config/index.js';
import { buildSources, cacheOptions, graphOptions, ldapOptions, remoteList, remoteSources } from '../../../src/directory/sources.js';
import { NO_OBSERVER, type DirectorySettings, type DirectorySource, type GraphSettings, type LdapSettings } from '../../../src/directory/types.js';

const cache = { ttlSec: 60, staleSec: 120, maxEntries: 10, timeoutMs: 300 };

const ldap: LdapSettings = {
  ...cache,
  url: ['ldap://127.0.0.1:1'],
  bindDN: 'cn=apg',
  bindPassword: 'pw',
  startTLS: false,
  tls: { caFile: '/ca.pem', rejectUnauthorized: true },
  userBaseDN: 'ou=people',
  userFilter: '(mail={principal})',
  groupBaseDN: 'ou=groups',
  groupFilter: '(objectClass=groupOfNames)',
  groupIdAttribute: 'entryUUID',
  groupNameAttribute: 'cn',
  memberAttribute: 'member',
  memberOfAttribute: 'memberOf',
  nested: true,
};

const graph: GraphSettings = {
  ...cache,
  tenantId: 'contoso',
  clientId: 'app',
  clientSecret: 's3cret',
  certificate: null,
  authorityHost: 'https://login.example',
  graphUrl: 'https://graph.example/v1.0',
  tls: { caFile: null },
};

const files: Record<string, string> = { '/ca.pem': 'CA PEM', '/cert.pem': 'CERT', '/key.pem': 'KEY' };
const readText = (path: string): string => {
  const text = files[path];
  if (text === undefined) throw new Error(`no file ${path}`);
  return text;
};

describe('directory settings', () => {
  it('the validated config fits the directory settings (structural, no import from src/directory)', () => {
    expectTypeOf<DirectoryConfig>().toExtend<DirectorySettings>();
  });

  it('ldapOptions maps the settings and reads the CA file', () => {
    const warn = () => {};
    const o = ldapOptions(ldap, readText, warn);
    expect(o).toMatchObject({
      urls: ['ldap://127.0.0.1:1'],
      bindDN: 'cn=apg',
      ca: 'CA PEM',
      rejectUnauthorized: true,
      memberOfAttribute: 'memberOf',
      timeoutMs: 300,
    });
    expect(o.warn).toBe(warn);
    expect(ldapOptions({ ...ldap, tls: { caFile: null, rejectUnauthorized: false } }, readText).ca).toBeUndefined();
  });

  it('graphOptions reads the certificate pair and CA only when configured', () => {
    expect(graphOptions(graph, readText)).toMatchObject({ clientSecret: 's3cret', certificate: null, ca: undefined });
    const withCert = graphOptions(
      { ...graph, clientSecret: null, certificate: { certFile: '/cert.pem', keyFile: '/key.pem' }, tls: { caFile: '/ca.pem' } },
      readText,
    );
    expect(withCert).toMatchObject({ certificate: { cert: 'CERT', key: 'KEY' }, ca: 'CA PEM' });
  });

  it('graphOptions passes the wall clock on (token expiry, Retry-After dates)', () => {
    const clock = { now: () => 42 };
    expect(graphOptions(graph, readText, clock).clock).toBe(clock);
    expect(graphOptions(graph, readText).clock).toBeUndefined(); // graphSource then uses systemClock
  });

  it('cacheOptions keeps the cache knobs and adds the observer and clock', () => {
    const now = () => 7;
    expect(cacheOptions({ ...cache, extra: 1 } as typeof cache, { observer: NO_OBSERVER, now })).toEqual({ ...cache, observer: NO_OBSERVER, now });
  });

  it('remoteList lists with ten times the timeout, and only sources that list groups', async () => {
    const lister: DirectorySource = {
      name: 'http',
      knowsUsers: false,
      lookup: () => Promise.reject(new Error('unused')),
      listGroups: () => Promise.resolve([{ id: 'g', name: 'G' }]),
      close() {},
    };
    const list = remoteList(lister, cache)!;
    expect(list).toMatchObject({ name: 'http', ttlSec: 60, staleSec: 120, timeoutMs: 3000 });
    await expect(list.list(new AbortController().signal)).resolves.toEqual([{ id: 'g', name: 'G' }]);
    expect(remoteList({ ...lister, listGroups: undefined }, cache)).toBeUndefined();
  });

  it('remoteSources makes the configured sources in the order ldap, graph, http', () => {
    const made = remoteSources({ ldap, graph, http: { ...cache, url: 'http://dir.example/{principal}' } }, { readText });
    expect(made.map((m) => m.source.name)).toEqual(['ldap', 'graph', 'http']);
    for (const m of made) m.source.close();
    expect(remoteSources({})).toEqual([]);
  });

  it('buildSources puts each source behind a cache and lists those that list groups', () => {
    const built = buildSources(
      { ldap: null, graph, http: { ...cache, url: 'http://dir.example/{principal}', groupsUrl: null } },
      { observer: NO_OBSERVER, readText },
    );
    expect(built.sources.map((s) => s.source.name)).toEqual(['graph', 'http']);
    expect(built.remotes.map((r) => r.name)).toEqual(['graph']); // http without groupsUrl lists nothing
    for (const s of built.sources) s.close();
  });

  it('a missing file the settings name fails the build', () => {
    expect(() => buildSources({ ldap: { ...ldap, tls: { caFile: '/absent.pem', rejectUnauthorized: true } } }, { observer: NO_OBSERVER, readText })).toThrow(
      /absent\.pem/,
    );
  });
});
