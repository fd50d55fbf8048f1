/**
 * `npm run demo -- --ldap`: a private OpenLDAP (Debian's slapd and ldap-utils) on a loopback
 * port with the demo's users and groups, which the gateway then reads as `directory.ldap`
 * next to the HTTP directory. Groups are known by their cn (hr, legal, finance, ...), so the
 * LDAP ids are the ids the other sources use. Its data lives in `dir`, made anew each start.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import path from 'node:path';
import { HTTP_DIRECTORY_GROUPS } from './dataset.js';

const SLAPD = process.env.APG_SLAPD ?? '/usr/sbin/slapd';
const BASE = 'dc=contoso,dc=com';
const ADMIN = `cn=admin,${BASE}`;
const PASSWORD = 'demo-secret';

export const ldapAvailable = (): boolean => existsSync(SLAPD) && existsSync('/etc/ldap/schema/core.schema');

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = createConnection(port, '127.0.0.1');
    c.once('connect', () => resolve(c.destroy() !== undefined));
    c.once('error', () => resolve(false));
  });

function ldif(): string {
  const users = [...new Set(HTTP_DIRECTORY_GROUPS.flatMap((g) => g.members)).add('erin@contoso.com')];
  const uid = (mail: string) => mail.split('@')[0];
  return [
    `dn: ${BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: contoso\no: Contoso\n`,
    `dn: ou=people,${BASE}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${BASE}\nobjectClass: organizationalUnit\nou: groups\n`,
    ...users.map((m) => `dn: uid=${uid(m)},ou=people,${BASE}\nobjectClass: inetOrgPerson\nuid: ${uid(m)}\ncn: ${uid(m)}\nsn: ${uid(m)}\nmail: ${m}\n`),
    ...HTTP_DIRECTORY_GROUPS.map(
      (g) =>
        `dn: cn=${g.id},ou=groups,${BASE}\nobjectClass: groupOfNames\ncn: ${g.id}\ndescription: ${g.name}\n${g.members.map((m) => `member: uid=${uid(m)},ou=people,${BASE}`).join('\n')}\n`,
    ),
  ].join('\n');
}

/** Starts slapd on `port` and loads the demo data; `settings` is the `directory.ldap` section as a YAML flow mapping. */
export async function startDemoLdap(dir: string, port: number): Promise<{ url: string; settings: string; close: () => Promise<void> }> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(path.join(dir, 'db'), { recursive: true });
  const conf = path.join(dir, 'slapd.conf');
  const schema = ['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include /etc/ldap/schema/${s}.schema`).join('\n');
  await writeFile(
    conf,
    `${schema}\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload memberof\npidfile ${dir}/slapd.pid\nargsfile ${dir}/slapd.args\n\n` +
      `database mdb\nmaxsize 10485760\nsuffix "${BASE}"\nrootdn "${ADMIN}"\nrootpw ${PASSWORD}\ndirectory ${dir}/db\naccess to * by * read\n` +
      `overlay memberof\nmemberof-group-oc groupOfNames\nmemberof-member-ad member\nmemberof-memberof-ad memberOf\n`,
  );
  const url = `ldap://127.0.0.1:${port}`;
  const child = spawn(SLAPD, ['-f', conf, '-h', `${url}/`, '-d', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`slapd did not start: ${output.slice(-1000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise<void>((resolve, reject) => {
    const add = execFile('ldapadd', ['-x', '-H', url, '-D', ADMIN, '-w', PASSWORD], { timeout: 10_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`ldapadd: ${stderr || err.message}`)) : resolve(),
    );
    add.stdin?.end(ldif());
  });
  const settings =
    `{url: ["${url}"], bindDN: "${ADMIN}", bindPassword: "${PASSWORD}", userBaseDN: "ou=people,${BASE}", userFilter: "(mail={principal})", ` +
    `groupBaseDN: "ou=groups,${BASE}", groupFilter: "(objectClass=groupOfNames)", groupIdAttribute: cn, nested: true}`;
  return {
    url,
    settings,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
