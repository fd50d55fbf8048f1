import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { loadConfigFile, formatProblems } from '../config/index.js';
import { startGateway } from '../gateway.js';
import { startOidcProvider } from './oidcProvider.js';
import { createSampleApi } from './sampleApi.js';
import { tokensEnv } from './tokensEnv.js';

/**
 * `npm run demo`: the sample activity-log API, a freshly generated signing key
 * and JWKS (never committed), and the gateway in front with config/demo.yaml.
 */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, 'upstream-port': { type: 'string' }, 'idp-port': { type: 'string' }, host: { type: 'string' } },
  });
  const port = Number(values.port ?? process.env.PORT ?? 8080);
  const upstreamPort = Number(values['upstream-port'] ?? 8081);
  const idpPort = Number(values['idp-port'] ?? 8082);
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

  // the admin console signs in at a local OpenID Connect provider with the demo users
  const idp = await startOidcProvider({ port: idpPort, host: '127.0.0.1' });

  const env = {
    ...process.env,
    APG_DEMO_JWKS: jwksFile,
    APG_DEMO_UPSTREAM: upstreamUrl,
    APG_DEMO_DATA: path.join(demoDir, 'data'),
    APG_DEMO_OIDC_ISSUER: idp.issuer,
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
  await writeFile(path.join(demoDir, 'tokens.env'), tokensEnv({ ALICE: alice, ALICE_FLAG: aliceFlag, DAVE: dave, ERIN: erin }), { mode: 0o600 });

  const g = gateway.url;
  const p = config.server.adminPrefix;
  process.stdout.write(`
Activity Privacy Gateway demo
  sample activity-log API  ${upstreamUrl}   (${api.dataset.length} synthetic activities)
  gateway                  ${g}   (config/demo.yaml; governance log in .demo/data/)

Tokens (valid 12 h, signed by a key generated at start; "source .demo/tokens.env" sets them):
  export ALICE='${alice}'   # SecurityAdministrator, permitted to reveal
  export ALICE_FLAG='${aliceFlag}'   # same, with show_private_activities: true
  export DAVE='${dave}'   # GlobalAdministrator, NOT permitted
  export ERIN='${erin}'   # not an admin

Try:
  # the upstream directly: everything, including HR, Legal and external users' activities
  curl -s '${upstreamUrl}/api/v1/activities/?limit=5' | head -c 600; echo
  # through the gateway: private activities are gone, total is corrected for the page
  curl -s '${g}/api/v1/activities/?limit=100' | node -e 'let b="";process.stdin.on("data",d=>b+=d).on("end",()=>{const j=JSON.parse(b);console.log("shown",j.data.length,"total",j.total)})'
  curl -s '${upstreamUrl}/api/v1/activities/?limit=100' | node -e 'let b="";process.stdin.on("data",d=>b+=d).on("end",()=>{const j=JSON.parse(b);console.log("upstream",j.data.length,"total",j.total)})'
  # POST list, as the Defender for Cloud Apps API allows
  curl -s -X POST '${g}/api/v1/activities/' -H 'content-type: application/json' -d '{"skip":0,"limit":3}' | head -c 400; echo
  # a permitted admin reveals (audited: see X-Governance-Entry)
  curl -si '${g}/api/v1/activities/?limit=100' -H "Authorization: Bearer $ALICE" -H 'X-Show-Private-Activities: confirm' | grep -i -E '^(HTTP|x-governance|x-private)'
  curl -si '${g}/api/v1/activities/?limit=100' -H "Authorization: Bearer $ALICE_FLAG" | grep -i -E '^(HTTP|x-governance|x-private)'
  # ... with a reason (percent-encoded UTF-8) and a scope: only hr and heidi's private activities are shown
  curl -si '${g}/api/v1/activities/?limit=100' -H "Authorization: Bearer $ALICE" -H 'X-Show-Private-Activities: confirm' -H 'X-Reveal-Reason: Case%204711%20%E2%80%93%20complaint%20review' -H 'X-Reveal-Scope: group:hr, actor:heidi@contoso.com' | grep -i -E '^(HTTP|x-governance|x-private)'
  # an admin without the permission, and a non-admin: 403
  curl -s '${g}/api/v1/activities/' -H "Authorization: Bearer $DAVE" -H 'X-Show-Private-Activities: confirm'; echo
  curl -s '${g}/api/v1/activities/' -H "Authorization: Bearer $ERIN" -H 'X-Show-Private-Activities: confirm'; echo
  # no token at all: 401
  curl -s '${g}/api/v1/activities/' -H 'X-Show-Private-Activities: confirm'; echo
  # exports never contain private activities, not even for admins
  curl -s '${g}/api/v1/activities/export/ndjson/?count=5'
  curl -s '${g}/api/v1/activities/export/?count=5'
  # the governance log and the admin API
  curl -s '${g}${p}/api/governance?limit=5' -H "Authorization: Bearer $DAVE"; echo
  curl -s '${g}${p}/api/governance?format=csv&action=private-activities.viewed&action=private-activities.denied' -H "Authorization: Bearer $DAVE"
  curl -s '${g}${p}/api/governance/verify' -H "Authorization: Bearer $DAVE"; echo
  curl -s '${g}${p}/api/privacy/groups' -H "Authorization: Bearer $DAVE"; echo
  curl -s '${g}${p}/readyz'; echo

Admin console (a browser; sign-in at the demo identity provider ${idp.issuer}):
  ${g}${p}/console/
  Click "Sign in", then pick the user on the provider's page:
    "Sign in as alice@contoso.com"   SecurityAdministrator, permitted to view private activities
    "Sign in as dave@contoso.com"    GlobalAdministrator, NOT permitted (the reveal is refused)
    "Sign in as erin@contoso.com"    not an admin: refused, with the reason
  To switch users: "Sign out", then "Sign in" (the provider remembers the last user for a
  while; ${g}${p}/console/login?prompt=login asks again).

Ctrl-C stops everything.
`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.close(2_000);
    await api.close();
    await idp.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(1);
});
