/**
 * Issue 21.4, SPEC §9 "Checking the directory": `apg directory check --config <file>` as an
 * operator runs it, against a real slapd. Every private group (privacy.groups and the state's
 * groups) that the LDAP source lists has up to 20 members read from it, and each member's
 * principal is looked up as an actor is: a userFilter that cannot find the members is a FAIL
 * (exit 1) before any private activity is shown; the right one is ok (exit 0).
 */
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldapSource } from '../../src/directory/ldap.js';
import { CLI, ROOT, ensureBuilt } from '../helpers/build.js';
import { demoLikeConfig, tempDir } from '../helpers/gateway.js';
import { contosoLdapOptions, contosoLdapSettings, freePort, requireSlapd, startSlapd, type Slapd } from '../helpers/slapd.js';

const enabled = requireSlapd('e2e/directoryCheck.test.ts');

function apg(args: string[]) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('APG_')));
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env: clean, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!enabled)('apg directory check against slapd', () => {
  let slapd: Slapd;
  let dir: string;
  let cleanup: () => Promise<void>;
  const ids = new Map<string, string>();

  /** A config whose private groups are hr and staff (privacy.groups), legal (state only) and a group no source lists. */
  async function configFile(name: string, ldap: Record<string, unknown>): Promise<string> {
    const cfg = demoLikeConfig('http://127.0.0.1:9', dir, {
      privacy: {
        groups: [
          { id: ids.get('hr'), name: 'Human Resources', privateSince: '2026-01-01T00:00:00Z' },
          { id: ids.get('staff'), name: 'Staff', privateSince: '2026-01-01T00:00:00Z' },
          { id: 'local-only', name: 'Local', privateSince: '2026-01-01T00:00:00Z' },
        ],
      },
      directory: { ldap },
      state: { store: 'file', file: path.join(dir, 'state.json') },
    });
    const file = path.join(dir, `${name}.json`);
    await writeFile(file, JSON.stringify(cfg));
    return file;
  }
  const ldapConfig = (extra: Record<string, unknown> = {}) => {
    const { tls: _tls, ttlSec: _t, staleSec: _s, maxEntries: _m, ...rest } = contosoLdapSettings(slapd.url);
    return { ...rest, ...extra };
  };

  beforeAll(async () => {
    await ensureBuilt();
    ({ dir, cleanup } = await tempDir('apg-dircheck-'));
    slapd = await startSlapd();
    const s = ldapSource(contosoLdapOptions(slapd.url));
    for (const g of await s.listGroups!(AbortSignal.timeout(5000))) ids.set(g.name, g.id);
    s.close();
    // legal is private through the state store only (made private at run time)
    const state = { groups: [{ id: ids.get('legal'), name: 'Legal', privateSince: Date.parse('2026-02-01T00:00:00Z'), privateUntil: null }], permissions: [] };
    await writeFile(path.join(dir, 'state.json'), JSON.stringify(state));
  }, 240_000);
  afterAll(async () => {
    await slapd?.close();
    await cleanup?.();
  });

  it('a userFilter that does not find the members: FAIL naming the member, exit 1', async () => {
    const file = await configFile('wrong-filter', ldapConfig({ userFilter: '(uid={principal})' }));
    const r = apg(['directory', 'check', '--config', file]);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(`FAIL ${ids.get('hr')} Human Resources: bob@contoso.com does not resolve to it`);
    expect(lines).toContain(`FAIL ${ids.get('legal')} Legal: carol@contoso.com does not resolve to it`);
    expect(lines).toContain('skip local-only Local: no LDAP or Graph source lists it');
    expect(r.code).toBe(1);
  });

  it('the right userFilter: every private group ok, a group inside a group included; exit 0', async () => {
    const file = await configFile('right-filter', ldapConfig({ userFilter: '(mail={principal})' }));
    const r = apg(['directory', 'check', '--config', file]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual([
      `ok ${ids.get('hr')} Human Resources (1 members checked)`,
      `ok ${ids.get('staff')} Staff (1 members checked)`, // staff holds hr, which holds bob
      'skip local-only Local: no LDAP or Graph source lists it',
      `ok ${ids.get('legal')} Legal (1 members checked)`,
    ]);
    expect(r.code).toBe(0);
  });

  it('nested: false: the members of a group inside a private group are not read', async () => {
    const file = await configFile('not-nested', ldapConfig({ nested: false }));
    const r = apg(['directory', 'check', '--config', file]);
    expect(r.stdout).toContain(`ok ${ids.get('hr')} Human Resources (1 members checked)`);
    // not nested: staff's member hr has no mail, so no member is read from it
    expect(r.stdout).toContain(`ok ${ids.get('staff')} Staff (0 members checked)`);
    expect(r.code).toBe(0);
  });

  it('a directory that cannot be asked: FAIL, exit 1', async () => {
    const file = await configFile('unreachable', ldapConfig({ url: [`ldap://127.0.0.1:${await freePort()}`], timeoutMs: 500 }));
    const r = apg(['directory', 'check', '--config', file]);
    expect(r.stdout).toMatch(new RegExp(`^FAIL ${ids.get('hr')} Human Resources: the ldap directory cannot be asked \\(.+\\)$`, 'm'));
    expect(r.code).toBe(1);
  });
});
