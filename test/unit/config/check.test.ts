/**
 * Issue 21.5: `apg check-config` reports every problem in one run — schema problems and the
 * file problems of the parts that parsed, each with its key path — says "did you mean" for an
 * unknown key that is close to a known one, and warns (without failing) on an empty
 * `privacy.adminGroups` (SPEC §10: admin membership of grantees cannot be checked).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkConfigText } from '../../../src/config/check.js';
import { closestKey } from '../../../src/config/keys.js';
import { parseConfig } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'apg-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lines = (ps: ReadonlyArray<{ path: string; message: string }>) => ps.map((p) => `${p.path}: ${p.message}`);

const LDAP = (extra: string[] = []) => [
  'directory:',
  '  ldap:',
  '    url: ldap://127.0.0.1:389',
  `    tls: {caFile: ${path.join(dir, 'no-ca.pem')}}`,
  '    userBaseDN: ou=people,dc=contoso,dc=com',
  '    groupBaseDN: ou=groups,dc=contoso,dc=com',
  ...extra,
];
const base = [
  'upstream:',
  '  url: http://127.0.0.1:8081',
  `state: {file: ${path.join(dir, 'state.json')}}`,
  `governance: {file: ${path.join(dir, 'gov.jsonl')}}`,
];

describe('checkConfigText', () => {
  it('a schema problem elsewhere does not hide the unreadable caFile; each with its key path', () => {
    const r = checkConfigText([...base, 'server: {port: abc}', ...LDAP()].join('\n'), {});
    expect(lines(r.problems)).toEqual(['server.port: expected an integer', `directory.ldap.tls.caFile: cannot read ${path.join(dir, 'no-ca.pem')} (ENOENT)`]);
  });

  it('a schema problem in the same section does not hide it either; the file of a key that is itself wrong is not opened', () => {
    const r = checkConfigText(
      [
        ...base,
        ...LDAP(['    userFilter: "(mail={principal}"']),
        `identity: {issuer: x, jwksUrl: https://idp/jwks, jwksFile: ${path.join(dir, 'nope.json')}}`,
      ].join('\n'),
      {},
    );
    expect(lines(r.problems)).toEqual([
      'identity.jwksFile: set only one of jwksUrl / jwksFile, not both',
      'directory.ldap.userFilter: has unbalanced parentheses',
      `directory.ldap.tls.caFile: cannot read ${path.join(dir, 'no-ca.pem')} (ENOENT)`,
    ]);
  });

  it('files of sections that parsed are checked with their defaults: a state file that is not a state document', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(dir, 'state.json'), '{"not": "state"}');
    const r = checkConfigText([...base, 'bogus: 1'].join('\n'), {});
    expect(lines(r.problems)).toEqual(['bogus: unknown key', expect.stringMatching(/^state\.file: .*not a state document/)]);
    await writeFile(path.join(dir, 'state.json'), '');
  });

  it('warns when privacy.adminGroups is empty (valid or not), not when it lists groups', () => {
    const warned = checkConfigText(base.join('\n'), {});
    expect(warned.problems).toEqual([]);
    expect(lines(warned.warnings)).toEqual([expect.stringMatching(/^privacy\.adminGroups: is empty: admin membership of grantees cannot be checked/)]);
    expect(checkConfigText([...base, 'server: {port: abc}'].join('\n'), {}).warnings).toHaveLength(1);
    expect(checkConfigText([...base, 'privacy: {adminGroups: [admins]}'].join('\n'), {}).warnings).toEqual([]);
  });
});

describe('unknown keys: did you mean', () => {
  it('names the closest known key at that path: case, a typo, a plural', () => {
    const r = parseConfig(
      [
        'upstream: {url: "http://a", timeotMs: 5}',
        'server: {adminprefix: /x}',
        'directory: {ldap: {url: "ldap://a", userBaseDN: a, groupBaseDN: b, tls: {cafile: x}}}',
        'extra: 1',
      ].join('\n'),
      {},
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(lines(r.problems)).toEqual(
      expect.arrayContaining([
        'server.adminprefix: unknown key, did you mean adminPrefix?',
        'upstream.timeotMs: unknown key, did you mean timeoutMs?',
        'directory.ldap.tls.cafile: unknown key, did you mean caFile?',
        'extra: unknown key',
      ]),
    );
  });

  it('closestKey: nothing when nothing is close', () => {
    expect(closestKey('colour', ['url', 'userFilter'])).toBeUndefined();
    expect(closestKey('methd', ['methods', 'path'])).toBe('methods');
  });
});
