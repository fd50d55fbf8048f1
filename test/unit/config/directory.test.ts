/**
 * Configuration of the directory sources (SPEC §3, §9): defaults, key-path errors for bad
 * values, unparseable LDAP filters and unreadable CA / certificate files (what
 * `apg check-config` prints), and the commented ldap/graph examples of
 * config/gateway.example.yaml, which must stay valid.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig, type ConfigProblem, type GatewayConfig } from '../../../src/config/index.js';

const MIN = { upstream: { url: 'http://127.0.0.1:8081' } };
const LDAP = { url: 'ldaps://dc1.contoso.com:636', userBaseDN: 'ou=people,dc=contoso,dc=com', groupBaseDN: 'ou=groups,dc=contoso,dc=com' };
const GRAPH = { tenantId: 'contoso.onmicrosoft.com', clientId: 'app', clientSecret: 's3cret' };

function parse(extra: Record<string, unknown>): { config?: GatewayConfig; problems: ConfigProblem[] } {
  const r = parseConfig(JSON.stringify({ ...MIN, ...extra }), {});
  return r.ok ? { config: r.config, problems: [] } : { problems: r.problems };
}
const problemsOf = (directory: Record<string, unknown>, privacy?: Record<string, unknown>) =>
  parse({ directory, ...(privacy ? { privacy } : {}) }).problems.map((p) => `${p.path}: ${p.message}`);

const dir = mkdtempSync(join(tmpdir(), 'apg-cfg-dir-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('directory.ldap / graph / http / knownGroups', () => {
  it('ldap defaults (SPEC §9)', () => {
    const c = parse({ directory: { ldap: LDAP } }).config!;
    expect(c.directory.ldap).toEqual({
      url: ['ldaps://dc1.contoso.com:636'],
      bindDN: null,
      bindPassword: null,
      startTLS: false,
      tls: { caFile: null, rejectUnauthorized: true },
      userBaseDN: LDAP.userBaseDN,
      userFilter: '(|(userPrincipalName={principal})(mail={principal}))',
      groupBaseDN: LDAP.groupBaseDN,
      groupFilter: '(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))',
      groupIdAttribute: 'entryUUID',
      groupNameAttribute: 'cn',
      memberAttribute: 'member',
      memberOfAttribute: 'memberOf',
      nested: true,
      timeoutMs: 3000,
      ttlSec: 300,
      staleSec: 3600,
      maxEntries: 100000,
    });
    expect(parse({ directory: { ldap: { ...LDAP, memberOfAttribute: null } } }).config!.directory.ldap!.memberOfAttribute).toBeNull();
  });

  it('graph defaults', () => {
    expect(parse({ directory: { graph: GRAPH } }).config!.directory.graph).toEqual({
      ...GRAPH,
      certificate: null,
      authorityHost: 'https://login.microsoftonline.com',
      graphUrl: 'https://graph.microsoft.com/v1.0',
      tls: { caFile: null },
      timeoutMs: 5000,
      ttlSec: 300,
      staleSec: 3600,
      maxEntries: 100000,
    });
  });

  it('http headers and groupsUrl; knownGroups; privacy.adminGroups', () => {
    const c = parse({
      directory: {
        http: { url: 'https://d/u/{principal}', headers: { Authorization: 'Bearer x' }, groupsUrl: 'https://d/groups' },
        knownGroups: [{ id: 'tag-1', name: 'VIP' }, { id: 'tag-2' }],
      },
      privacy: { adminGroups: ['admins', 'admins'] },
    }).config!;
    expect(c.directory.http).toMatchObject({ headers: { Authorization: 'Bearer x' }, groupsUrl: 'https://d/groups' });
    expect(c.directory.knownGroups).toEqual([{ id: 'tag-1', name: 'VIP' }, { id: 'tag-2' }]);
    expect(c.privacy.adminGroups).toEqual(['admins']);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['ldap url scheme', { ldap: { ...LDAP, url: 'http://dc1' } }, 'directory.ldap.url.0: must be an ldap:// or ldaps:// URL'],
    ['ldap url with a path', { ldap: { ...LDAP, url: ['ldap://dc1/dc=x'] } }, 'directory.ldap.url.0: must be an ldap:// or ldaps:// URL'],
    ['ldap userBaseDN missing', { ldap: { url: LDAP.url, groupBaseDN: 'x' } }, 'directory.ldap.userBaseDN: is required'],
    ['unparseable userFilter', { ldap: { ...LDAP, userFilter: '(uid={local}' } }, 'directory.ldap.userFilter: has unbalanced parentheses'],
    ['userFilter not a filter', { ldap: { ...LDAP, userFilter: 'uid={local}' } }, 'directory.ldap.userFilter: must be an LDAP filter in parentheses'],
    ['userFilter garbage inside', { ldap: { ...LDAP, userFilter: '(&(uid={local})(=x))' } }, 'directory.ldap.userFilter: is not a valid LDAP filter'],
    ['userFilter without placeholder', { ldap: { ...LDAP, userFilter: '(uid=bob)' } }, 'directory.ldap.userFilter: must contain {principal} or {local}'],
    ['unparseable groupFilter', { ldap: { ...LDAP, groupFilter: '(objectClass=group' } }, 'directory.ldap.groupFilter: has unbalanced parentheses'],
    ['startTLS with ldaps', { ldap: { ...LDAP, startTLS: true } }, 'directory.ldap.startTLS: StartTLS is for ldap:// URLs'],
    ['bindDN without password', { ldap: { ...LDAP, bindDN: 'cn=apg' } }, 'directory.ldap.bindPassword: is required with bindDN'],
    ['bad attribute name', { ldap: { ...LDAP, groupIdAttribute: 'object GUID' } }, 'directory.ldap.groupIdAttribute: must be an LDAP attribute name'],
    ['unknown ldap key', { ldap: { ...LDAP, colour: 'red' } }, 'directory.ldap.colour: unknown key'],
    ['tls unknown key', { ldap: { ...LDAP, tls: { ca: 'x' } } }, 'directory.ldap.tls.ca: unknown key'],
    ['graph without credential', { graph: { tenantId: 't', clientId: 'c' } }, 'directory.graph.clientSecret: one of clientSecret / certificate is required'],
    [
      'graph with both',
      { graph: { ...GRAPH, certificate: { certFile: 'a', keyFile: 'b' } } },
      'directory.graph.certificate: set only one of clientSecret / certificate',
    ],
    ['graph over http', { graph: { ...GRAPH, graphUrl: 'http://graph.local/v1.0' } }, 'directory.graph.graphUrl: must be an https:// URL'],
    ['graph authority over http', { graph: { ...GRAPH, authorityHost: 'http://login.local' } }, 'directory.graph.authorityHost: must be an https:// URL'],
    ['graph tenant', { graph: { ...GRAPH, tenantId: 'a/b' } }, 'directory.graph.tenantId: must be a tenant id'],
    [
      'http header with newline',
      { http: { url: 'https://d/{principal}', headers: { 'X-A': 'a\r\nb' } } },
      'directory.http.headers.X-A: must not contain CR, LF or NUL',
    ],
    ['http groupsUrl', { http: { url: 'https://d/{principal}', groupsUrl: 'ftp://x' } }, 'directory.http.groupsUrl: must be an http(s) URL'],
    ['knownGroups id', { knownGroups: [{ name: 'x' }] }, 'directory.knownGroups.0.id: is required'],
    ['knownGroups builtin typo', { knownGroups: [{ id: 'builtin:apps' }] }, 'directory.knownGroups.0.id: unknown built-in group'],
  ])('%s', (_, directory, expected) => {
    const got = problemsOf(directory);
    expect(
      got.some((p) => p.startsWith(expected)),
      got.join('\n'),
    ).toBe(true);
  });

  it('privacy.adminGroups must be a list of ids', () => {
    expect(problemsOf({}, { adminGroups: 'admins' })).toContain('privacy.adminGroups: expected a list of group ids');
  });
});

describe('files a config points at (check-config, serve)', () => {
  const write = (name: string, obj: unknown) => {
    const f = join(dir, name);
    writeFileSync(f, JSON.stringify(obj));
    return f;
  };

  it('an unreadable CA file, a CA file that is no certificate and a missing key are reported with their key paths', () => {
    const notPem = join(dir, 'not-a-cert.pem');
    writeFileSync(notPem, 'hello');
    const f = write('files.json', {
      ...MIN,
      directory: {
        ldap: { ...LDAP, tls: { caFile: join(dir, 'missing-ca.pem') } },
        graph: { tenantId: 't', clientId: 'c', certificate: { certFile: notPem, keyFile: join(dir, 'missing.key') }, tls: { caFile: notPem } },
      },
    });
    const r = loadConfigFile(f, {});
    expect(r.ok).toBe(false);
    const lines = r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
    expect(lines).toEqual([
      `directory.ldap.tls.caFile: cannot read ${join(dir, 'missing-ca.pem')} (ENOENT)`,
      `directory.graph.tls.caFile: ${notPem} does not hold a PEM certificate`,
      `directory.graph.certificate.certFile: ${notPem} does not hold a PEM certificate`,
      `directory.graph.certificate.keyFile: cannot read ${join(dir, 'missing.key')} (ENOENT)`,
    ]);
  });

  it('config/gateway.example.yaml: the commented ldap and graph examples are valid when uncommented', () => {
    const text = readFileSync('config/gateway.example.yaml', 'utf8');
    const lines = text.split('\n');
    const out: string[] = [];
    let inBlock = false;
    for (const line of lines) {
      if (line === '  ldap: null' || line.startsWith('  ldap: null ') || line.startsWith('  graph: null ')) continue;
      if (line === '  # ldap:' || line === '  # graph:') {
        out.push(line.replace('  # ', '  '));
        inBlock = true;
        continue;
      }
      if (inBlock && line.startsWith('  #   ')) {
        out.push(`    ${line.slice(6)}`);
        continue;
      }
      inBlock = false;
      out.push(line);
    }
    const uncommented = out
      .join('\n')
      .replace('/etc/apg/contoso-ca.pem', 'null')
      .replace('{caFile: null, rejectUnauthorized: true}', '{caFile: null, rejectUnauthorized: true}');
    const r = parseConfig(uncommented, { APG_LDAP_PASSWORD: 'x', APG_GRAPH_SECRET: 'y', APG_JWKS_FILE: 'x' });
    expect(r.ok ? [] : r.problems).toEqual([]);
    if (r.ok) {
      expect(r.config.directory.ldap?.url).toHaveLength(2);
      expect(r.config.directory.graph?.clientSecret).toBe('y');
    }
  });
});
