/**
 * A real OpenLDAP server for the directory tests: Debian's slapd (package `slapd`) with
 * ldapadd/ldapmodify from `ldap-utils`, started on free loopback ports with its own
 * temporary slapd.conf, mdb databases, schema (core, cosine, inetorgperson, nis), TLS from a
 * throwaway CA (ldaps:// and StartTLS) and test data:
 *
 * dc=contoso,dc=com — memberof + refint overlays (the server maintains memberOf; without
 *   them with `startSlapd({ memberOf: false })`):
 *   people: alice (admin), bob, carol, dave, erin; service account cn=apg,ou=service
 *   groups: hr {bob}, legal {carol}, staff {cn=hr} (nested), admins {alice},
 *           cycle-a {cycle-b, dave}, cycle-b {cycle-a} (a cycle), finance {erin} (renamed in tests)
 * dc=fabrikam,dc=com — no memberOf: groups are found by searching `member`:
 *   people: frank, grace; groups: ops {frank}, all-ops {cn=ops} (nested), loop-1 {loop-2, grace}, loop-2 {loop-1}
 *
 * When slapd or ldap-utils are missing, `slapdAvailable()` is false and the suites skip
 * after a loud console.warn (never silently).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LdapOptions } from '../../src/directory/ldap.js';
import type { LdapSettings } from '../../src/directory/types.js';
import { makeTestCa, opensslAvailable, type TestCa } from './testCa.js';

export const SLAPD = process.env.APG_SLAPD ?? '/usr/sbin/slapd';
export const ADMIN_DN = 'cn=admin,dc=contoso,dc=com';
export const ADMIN_PW = 'admin-secret';
export const SERVICE_DN = 'cn=apg,ou=service,dc=contoso,dc=com';
export const SERVICE_PW = 'apg-secret';
export const FABRIKAM_ADMIN_DN = 'cn=admin,dc=fabrikam,dc=com';

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}

export function slapdAvailable(): boolean {
  return existsSync(SLAPD) && existsSync('/etc/ldap/schema/core.schema') && onPath('ldapadd') && onPath('ldapmodify') && opensslAvailable();
}

/** Says loudly why LDAP tests are skipped; returns true when they can run. */
export function requireSlapd(suite: string): boolean {
  if (slapdAvailable()) return true;
  console.warn(`\n*** ${suite}: OpenLDAP slapd / ldap-utils / openssl not installed: LDAP tests SKIPPED (apt-get install slapd ldap-utils openssl) ***\n`);
  return false;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

const SCHEMA = ['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`).join('\n');

/** What the started server maintains. */
export interface SlapdOptions {
  /** false: contoso runs without the memberof (and refint) overlay, like an OpenLDAP that never enabled it (default true) */
  memberOf?: boolean;
}

const MEMBEROF_OVERLAY = `overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE
overlay refint
refint_attributes member
`;

function slapdConf(dir: string, ca: TestCa, o: SlapdOptions = {}): string {
  return `${SCHEMA}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
moduleload refint
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
TLSCACertificateFile ${ca.caFile}
TLSCertificateFile ${ca.certFile}
TLSCertificateKeyFile ${ca.keyFile}
sizelimit unlimited

database mdb
maxsize 104857600
suffix "dc=contoso,dc=com"
rootdn "${ADMIN_DN}"
rootpw ${ADMIN_PW}
directory ${dir}/contoso
access to attrs=userPassword by self write by anonymous auth by * none
access to * by dn.exact="${SERVICE_DN}" read by * none
${o.memberOf === false ? '' : MEMBEROF_OVERLAY}
database mdb
maxsize 104857600
suffix "dc=fabrikam,dc=com"
rootdn "${FABRIKAM_ADMIN_DN}"
rootpw ${ADMIN_PW}
directory ${dir}/fabrikam
access to * by * read
`;
}

const person = (base: string, uid: string, extra = '') => `dn: uid=${uid},ou=people,${base}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${uid}
sn: ${uid}
mail: ${uid}@${base.startsWith('dc=contoso') ? 'contoso.com' : 'fabrikam.com'}
${extra}`;
const group = (base: string, cn: string, members: string[]) => `dn: cn=${cn},ou=groups,${base}
objectClass: groupOfNames
cn: ${cn}
${members.map((m) => `member: ${m}`).join('\n')}
`;
const ou = (base: string, name: string) => `dn: ou=${name},${base}\nobjectClass: organizationalUnit\nou: ${name}\n`;

const C = 'dc=contoso,dc=com';
const F = 'dc=fabrikam,dc=com';
/** LDAP source options for the contoso tree of a started slapd (service bind, groupOfNames, memberOf, nested). */
export function contosoLdapOptions(url: string, extra: Partial<LdapOptions> = {}): LdapOptions {
  return {
    urls: [url],
    bindDN: SERVICE_DN,
    bindPassword: SERVICE_PW,
    startTLS: false,
    rejectUnauthorized: true,
    userBaseDN: 'ou=people,dc=contoso,dc=com',
    userFilter: '(mail={principal})',
    groupBaseDN: 'ou=groups,dc=contoso,dc=com',
    groupFilter: '(objectClass=groupOfNames)',
    groupIdAttribute: 'entryUUID',
    groupNameAttribute: 'cn',
    memberAttribute: 'member',
    memberOfAttribute: 'memberOf',
    nested: true,
    timeoutMs: 3000,
    ...extra,
  };
}

/** `directory.ldap` settings (as the configuration gives them) for the contoso tree: the defaults of SPEC §9 plus the service bind. */
export function contosoLdapSettings(url: string, extra: Partial<LdapSettings> = {}): LdapSettings {
  return {
    url: [url],
    bindDN: SERVICE_DN,
    bindPassword: SERVICE_PW,
    startTLS: false,
    tls: { caFile: null, rejectUnauthorized: true },
    userBaseDN: 'ou=people,dc=contoso,dc=com',
    userFilter: '(|(userPrincipalName={principal})(mail={principal}))',
    groupBaseDN: 'ou=groups,dc=contoso,dc=com',
    groupFilter: '(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))',
    groupIdAttribute: 'entryUUID',
    groupNameAttribute: 'cn',
    memberAttribute: 'member',
    memberOfAttribute: 'memberOf',
    nested: true,
    timeoutMs: 3000,
    ttlSec: 300,
    staleSec: 3600,
    maxEntries: 1000,
    ...extra,
  };
}

export const userDn = (uid: string, base = C) => `uid=${uid},ou=people,${base}`;
export const groupDn = (cn: string, base = C) => `cn=${cn},ou=groups,${base}`;

function contosoLdif(): string {
  return [
    `dn: ${C}\nobjectClass: dcObject\nobjectClass: organization\ndc: contoso\no: Contoso\n`,
    ou(C, 'people'),
    ou(C, 'groups'),
    ou(C, 'service'),
    `dn: ${SERVICE_DN}\nobjectClass: simpleSecurityObject\nobjectClass: organizationalRole\ncn: apg\nuserPassword: ${SERVICE_PW}\n`,
    ...['alice', 'bob', 'carol', 'dave', 'erin'].map((u) => person(C, u)),
    // the cycle needs a placeholder member while the other half does not exist yet
    group(C, 'hr', [userDn('bob')]),
    group(C, 'legal', [userDn('carol')]),
    group(C, 'staff', [groupDn('hr')]),
    group(C, 'admins', [userDn('alice')]),
    group(C, 'cycle-a', [userDn('dave')]),
    group(C, 'cycle-b', [groupDn('cycle-a')]),
    group(C, 'finance', [userDn('erin')]),
  ].join('\n');
}

function fabrikamLdif(): string {
  return [
    `dn: ${F}\nobjectClass: dcObject\nobjectClass: organization\ndc: fabrikam\no: Fabrikam\n`,
    ou(F, 'people'),
    ou(F, 'groups'),
    ...['frank', 'grace'].map((u) => person(F, u)),
    group(F, 'ops', [userDn('frank', F)]),
    group(F, 'all-ops', [groupDn('ops', F)]),
    group(F, 'loop-1', [userDn('grace', F)]),
    group(F, 'loop-2', [groupDn('loop-1', F)]),
  ].join('\n');
}

export interface Slapd {
  /** ldap://127.0.0.1:port */
  url: string;
  /** ldaps://127.0.0.1:port */
  ldapsUrl: string;
  ca: TestCa;
  dir: string;
  /** ldapmodify with the contoso (or fabrikam) root DN */
  modify(ldif: string, base?: 'contoso' | 'fabrikam'): Promise<void>;
  /** stops the server (the data stays); start() brings it back on the same ports */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startSlapd(o: SlapdOptions = {}): Promise<Slapd> {
  const dir = mkdtempSync(join(tmpdir(), 'apg-slapd-'));
  mkdirSync(join(dir, 'contoso'));
  mkdirSync(join(dir, 'fabrikam'));
  const ca = makeTestCa(dir, 'apg-slapd');
  const conf = join(dir, 'slapd.conf');
  writeFileSync(conf, slapdConf(dir, ca, o));
  let port = await freePort();
  let tlsPort = await freePort();
  let url = `ldap://127.0.0.1:${port}`;
  let ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
  let child: ChildProcess | undefined;
  let output = '';

  async function start(): Promise<void> {
    output = '';
    // -d 0: stay in the foreground (the test owns the process); -h: only our loopback ports
    const c = spawn(SLAPD, ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-d', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    c.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const deadline = Date.now() + 15_000;
    while (!(await accepts(port))) {
      if (c.exitCode !== null || Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`slapd did not start (exit ${c.exitCode}): ${output.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function stop(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  }

  const ldap = (tool: string, ldif: string, rootDn: string) => run(tool, ['-x', '-H', url, '-D', rootDn, '-w', ADMIN_PW], ldif).then(() => undefined);

  // another process may take a port between freePort() and slapd's bind: try fresh ports
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (err) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      port = await freePort();
      tlsPort = await freePort();
      url = `ldap://127.0.0.1:${port}`;
      ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
    }
  }
  try {
    await ldap('ldapadd', contosoLdif(), ADMIN_DN);
    await ldap('ldapadd', fabrikamLdif(), FABRIKAM_ADMIN_DN);
    // close the cycle: cycle-a also holds cycle-b
    await ldap('ldapmodify', `dn: ${groupDn('cycle-a')}\nchangetype: modify\nadd: member\nmember: ${groupDn('cycle-b')}\n`, ADMIN_DN);
    await ldap('ldapmodify', `dn: ${groupDn('loop-1', F)}\nchangetype: modify\nadd: member\nmember: ${groupDn('loop-2', F)}\n`, FABRIKAM_ADMIN_DN);
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    url,
    ldapsUrl,
    ca,
    dir,
    modify: (ldif, base = 'contoso') => ldap('ldapmodify', ldif, base === 'contoso' ? ADMIN_DN : FABRIKAM_ADMIN_DN),
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
