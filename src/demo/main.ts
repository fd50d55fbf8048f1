import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { loadConfigFile, formatProblems } from '../config/index.js';
import { startGateway } from '../gateway.js';
import { startOidcProvider } from './oidcProvider.js';
import { ldapAvailable, startDemoLdap } from './ldap.js';
import { createSampleApi } from './sampleApi.js';
import { tokensEnv } from './tokensEnv.js';

/**
 * `npm run demo`: the sample activity-log API, a freshly generated signing key
 * and JWKS (never committed), and the gateway in front with config/demo.yaml.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'upstream-port': { type: 'string' },
      'idp-port': { type: 'string' },
      'receiver-port': { type: 'string' },
      host: { type: 'string' },
      approval: { type: 'boolean' },
      ldap: { type: 'boolean' },
      'ldap-port': { type: 'string' },
    },
  });
  const started = performance.now();
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  const upstreamPort = Number(values['upstream-port'] ?? 8081);
  const idpPort = Number(values['idp-port'] ?? 8082);
  const receiverPort = Number(values['receiver-port'] ?? 8083);
  const approval = values.approval === true;
  const host = values.host ?? '127.0.0.1';
  const demoDir = path.resolve('.demo');
  await mkdir(demoDir, { recursive: true });

  // a few new activities a second, with current timestamps: a group made private at run time
  // visibly hides its members' new activities
  const api = createSampleApi({ live: { perSecond: 3 } });
  const upstreamUrl = await api.listen(upstreamPort, '127.0.0.1');

  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'demo-key', alg: 'ES256', use: 'sig' };
  const jwksFile = path.join(demoDir, 'jwks.json');
  await writeFile(jwksFile, JSON.stringify({ keys: [jwk] }, null, 2));

  // checkpoints are signed with a demo Ed25519 key (kept across runs, so earlier checkpoints still verify)
  const checkpointKey = path.join(demoDir, 'checkpoint.pem');
  const checkpointPub = path.join(demoDir, 'checkpoint.pub.pem');
  if (!existsSync(checkpointKey) || !existsSync(checkpointPub)) {
    const pair = generateKeyPairSync('ed25519');
    await writeFile(checkpointKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await writeFile(checkpointPub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  }
  const receiver = await startReceiver(path.join(demoDir, 'receiver'), receiverPort);
  if (values.ldap && !ldapAvailable()) throw new Error('--ldap needs OpenLDAP: apt-get install slapd ldap-utils');
  const ldap = values.ldap ? await startDemoLdap(path.join(demoDir, 'ldap'), Number(values['ldap-port'] ?? 8389)) : null;

  // the admin console signs in at a local OpenID Connect provider with the demo users
  const idp = await startOidcProvider({ port: idpPort, host: '127.0.0.1' });

  const env = {
    ...process.env,
    APG_DEMO_JWKS: jwksFile,
    APG_DEMO_UPSTREAM: upstreamUrl,
    APG_DEMO_DATA: path.join(demoDir, 'data'),
    APG_DEMO_OIDC_ISSUER: idp.issuer,
    APG_DEMO_CHECKPOINT_KEY: checkpointKey,
    APG_DEMO_RECEIVER: receiver.url,
    APG_DEMO_LDAP: ldap ? ldap.settings : 'null',
    APG_DEMO_APPROVAL: approval ? '{approvers: [dpo@contoso.com], maxDurationMin: 60}' : 'null',
  };
  const loaded = loadConfigFile('config/demo.yaml', env);
  if (!loaded.ok) throw new Error(`config/demo.yaml:\n${formatProblems(loaded.problems)}`);
  const config = loaded.config;
  const gateway = await startGateway(config, { port, host, instance: 'demo' });
  const consolePath = `${config.server.adminPrefix}/console/callback`;
  await idp.register({
    clientId: config.console!.oidc.clientId,
    redirectUris: [`${gateway.url}${consolePath}`, `http://localhost:${gateway.port}${consolePath}`],
  });

  const token = (upn: string, roles: string[], extra: Record<string, unknown> = {}) =>
    new SignJWT({ upn, roles, ...extra })
      .setProtectedHeader({ alg: 'ES256', kid: 'demo-key' })
      .setIssuer(config.identity!.issuer)
      .setAudience(config.identity!.audience)
      .setIssuedAt()
      .setExpirationTime('12h')
      .setJti(crypto.randomUUID())
      .sign(privateKey);
  const alice = await token('alice@contoso.com', ['SecurityAdministrator']);
  const aliceFlag = await token('alice@contoso.com', ['SecurityAdministrator'], { show_private_activities: true });
  const dave = await token('dave@contoso.com', ['GlobalAdministrator']);
  const erin = await token('erin@contoso.com', ['Reader']);
  const dpo = await token('dpo@contoso.com', ['GlobalAdministrator']);
  await writeFile(path.join(demoDir, 'tokens.env'), tokensEnv({ ALICE: alice, ALICE_FLAG: aliceFlag, DAVE: dave, ERIN: erin, DPO: dpo }), { mode: 0o600 });

  const story: Story = {
    g: gateway.url,
    p: config.server.adminPrefix,
    upstream: upstreamUrl,
    receiver: receiver.url,
    issuer: idp.issuer,
    activities: api.dataset.length,
  };
  const tokens = { ALICE: alice, ALICE_FLAG: aliceFlag, DAVE: dave, ERIN: erin, DPO: dpo };
  process.stdout.write(header(story, tokens, (performance.now() - started) / 1000));
  if (ldap) process.stdout.write(`  LDAP directory           ${ldap.url}   (OpenLDAP with the demo users and groups: directory.ldap, groups known by cn)\n`);
  process.stdout.write(approval ? approvalStory(story) : mainStory(story));
  process.stdout.write(consoleStory(story));

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.close(2_000);
    await api.close();
    await receiver.close();
    await ldap?.close();
    await idp.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

interface Story {
  g: string;
  p: string;
  upstream: string;
  receiver: string;
  issuer: string;
  activities: number;
}

/** The governance receiver: stands in for a SIEM; keeps what the gateway forwards (webhook) in `dir`. */
async function startReceiver(dir: string, port: number): Promise<{ url: string; close: () => Promise<void> }> {
  await mkdir(dir, { recursive: true });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8').replace(/\n/g, ' ');
      const file = body.startsWith('{"checkpoint"') ? 'checkpoints.jsonl' : 'entries.jsonl';
      appendFile(path.join(dir, file), `${body}\n`).then(
        () => res.writeHead(204).end(),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function header(s: Story, tokens: Record<string, string>, seconds: number): string {
  const t = (k: string, note: string) => `  export ${k}='${tokens[k]}'   # ${note}`;
  return `
Activity Privacy Gateway demo (ready in ${seconds.toFixed(1)} s)
  sample activity-log API  ${s.upstream}   (${s.activities} synthetic activities, 3 new a second)
  HTTP directory           ${s.upstream}/directory/groups   (the catalogue reads it; a user's groups: /directory/users/<upn>/groups)
  gateway                  ${s.g}   (config/demo.yaml; governance log and state in .demo/data/)
  governance receiver      ${s.receiver}   (every entry and signed checkpoint is forwarded here; kept in .demo/receiver/)
  identity provider        ${s.issuer}   (the console's sign-in)

Tokens (valid 12 h, signed by a key generated at start; "source .demo/tokens.env" sets them):
${t('ALICE', 'SecurityAdministrator, permitted to reveal')}
${t('ALICE_FLAG', 'same, with show_private_activities: true')}
${t('DAVE', 'GlobalAdministrator, NOT permitted')}
${t('ERIN', 'not an admin')}
${t('DPO', 'GlobalAdministrator, the approver with --approval')}
`;
}

const COUNT = `node -e 'let b="";process.stdin.on("data",d=>b+=d).on("end",()=>{const j=JSON.parse(b);console.log("shown",j.data.length,"total",j.total)})'`;
const HEADERS = `grep -i -E '^(HTTP|x-governance|x-private)'`;

function mainStory({ g, p, upstream }: Story): string {
  return `
Try (commands for a shell where "source .demo/tokens.env" ran):
  # 1. the directory: the catalogue admins choose from (built-ins, the HTTP directory, the static groups)
  curl -s '${g}${p}/api/directory/groups' -H "Authorization: Bearer $DAVE"; echo
  # 2. the upstream directly shows everything; the gateway removes private activities and corrects total
  curl -s '${upstream}/api/v1/activities/?limit=100' | ${COUNT}
  curl -s '${g}/api/v1/activities/?limit=100' | ${COUNT}
  # 3. make "finance" private (from the catalogue): ivan's and judy's new activities disappear from now on
  curl -s -X POST '${g}${p}/api/privacy/groups' -H "Authorization: Bearer $DAVE" -H 'content-type: application/json' -d '{"id":"finance"}'; echo
  #    a group that is not in the catalogue is refused, with suggestions
  curl -s -X POST '${g}${p}/api/privacy/groups' -H "Authorization: Bearer $DAVE" -H 'content-type: application/json' -d '{"id":"Finanse"}'; echo
  # 4. a permitted admin reveals (audited: see X-Governance-Entry), with a reason and a scope
  curl -si '${g}/api/v1/activities/?limit=100' -H "Authorization: Bearer $ALICE" -H 'X-Show-Private-Activities: confirm' | ${HEADERS}
  curl -si '${g}/api/v1/activities/?limit=100' -H "Authorization: Bearer $ALICE_FLAG" | ${HEADERS}
  curl -si '${g}/api/v1/activities/?limit=100' -H "Authorization: Bearer $ALICE" -H 'X-Show-Private-Activities: confirm' -H 'X-Reveal-Reason: Case%204711%20%E2%80%93%20complaint%20review' -H 'X-Reveal-Scope: group:hr, actor:heidi@contoso.com' | ${HEADERS}
  # 5. refused, and on the record: an admin without the permission, a non-admin; no token at all: 401
  curl -s '${g}/api/v1/activities/' -H "Authorization: Bearer $DAVE" -H 'X-Show-Private-Activities: confirm'; echo
  curl -s '${g}/api/v1/activities/' -H "Authorization: Bearer $ERIN" -H 'X-Show-Private-Activities: confirm'; echo
  curl -s '${g}/api/v1/activities/' -H 'X-Show-Private-Activities: confirm'; echo
  # 6. only members of privacy.adminGroups (security-admins) can be granted the permission: erin is not
  curl -s -X POST '${g}${p}/api/privacy/permissions' -H "Authorization: Bearer $DAVE" -H 'content-type: application/json' -d '{"principal":"erin@contoso.com"}'; echo
  # 7. exports never contain private activities, not even for admins
  curl -s '${g}/api/v1/activities/export/ndjson/?count=3'
  # 8. the governance log, its chain, and the signed checkpoints the receiver got (one every 5 entries)
  curl -s '${g}${p}/api/governance?limit=3' -H "Authorization: Bearer $DAVE"; echo
  curl -s '${g}${p}/api/governance/verify' -H "Authorization: Bearer $DAVE"; echo
  wc -l .demo/receiver/entries.jsonl .demo/receiver/checkpoints.jsonl
  node dist/cli.js governance verify --config config/demo.yaml --checkpoints .demo/receiver/checkpoints.jsonl --public-key .demo/checkpoint.pub.pem
  # 9. the admin API's OpenAPI description
  curl -s '${g}${p}/api/openapi.json' -H "Authorization: Bearer $DAVE" | head -c 300; echo

Four-eyes approval: stop and run "npm run demo -- --approval".
`;
}

function approvalStory({ g, p }: Story): string {
  const json = `-H 'content-type: application/json'`;
  return `
Four-eyes approval is ON (reveal.approval: approvers [dpo@contoso.com]). Try:
  # 1. alice reveals without an approved request: refused (403 approval_required), on the record
  curl -s '${g}/api/v1/activities/' -H "Authorization: Bearer $ALICE" -H 'X-Show-Private-Activities: confirm'; echo
  # 2. alice asks for a 30-minute window on hr, with a reason; the id goes into $REQ
  REQ=$(curl -s -X POST '${g}${p}/api/reveal-requests' -H "Authorization: Bearer $ALICE" ${json} -d '{"reason":"Case 4711 - complaint review","durationMin":30,"scope":{"groups":["hr"]}}' | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).id'); echo "$REQ"
  # 3. alice cannot approve her own request (403 self_approval); dave is no approver (403 forbidden)
  curl -s -X POST "${g}${p}/api/reveal-requests/$REQ/approve" -H "Authorization: Bearer $ALICE" ${json} -d '{}'; echo
  curl -s -X POST "${g}${p}/api/reveal-requests/$REQ/approve" -H "Authorization: Bearer $DAVE" ${json} -d '{}'; echo
  # 4. the DPO approves
  curl -s -X POST "${g}${p}/api/reveal-requests/$REQ/approve" -H "Authorization: Bearer $DPO" ${json} -d '{"comment":"ok for the case"}'; echo
  # 5. alice reveals inside the window, naming the request: only hr's private activities are shown
  curl -si '${g}/api/v1/activities/?limit=100' -H "Authorization: Bearer $ALICE" -H 'X-Show-Private-Activities: confirm' -H "X-Reveal-Request: $REQ" | ${HEADERS}
  # 6. ending a group's privacy now waits for a second person too (202, pending); the DPO decides
  CHG=$(curl -s -X DELETE '${g}${p}/api/privacy/groups/hr' -H "Authorization: Bearer $DAVE" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).change.id'); echo "$CHG"
  curl -s -X POST "${g}${p}/api/privacy/changes/$CHG/deny" -H "Authorization: Bearer $DPO" ${json} -d '{"comment":"hr stays private"}'; echo
  # 7. the requests and the log
  curl -s '${g}${p}/api/reveal-requests' -H "Authorization: Bearer $DPO"; echo
  curl -s '${g}${p}/api/governance/verify' -H "Authorization: Bearer $DPO"; echo
`;
}

function consoleStory({ g, p, issuer }: Story): string {
  return `
Admin console (a browser; sign-in at the demo identity provider ${issuer}):
  ${g}${p}/console/
  Click "Sign in", then pick the user on the provider's page:
    "Sign in as alice@contoso.com"   SecurityAdministrator, permitted to view private activities
    "Sign in as dave@contoso.com"    GlobalAdministrator, NOT permitted (the reveal is refused)
    "Sign in as erin@contoso.com"    not an admin: refused, with the reason
  To switch users: "Sign out", then "Sign in" (the provider remembers the last user for a
  while; ${g}${p}/console/login?prompt=login asks again).

Ctrl-C stops everything.
`;
}

main().catch((err) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(1);
});
