/**
 * The gateway under test: a config file (the demo's privacy settings, identity
 * from a JWKS file), a fresh ES256 signing key, and an admin token for reveals.
 * Everything lives in one temp directory; nothing is committed.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export const ISSUER = 'https://bench-idp.local/';
export const AUDIENCE = 'activity-privacy-gateway';

/** A port that was free a moment ago (the gateway child binds it itself). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export async function writeIdentity(dir: string): Promise<{ jwksFile: string; adminToken: string }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-key', alg: 'ES256', use: 'sig' };
  const jwksFile = path.join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  const adminToken = await new SignJWT({ upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench-key' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('2h')
    .setJti(crypto.randomUUID())
    .sign(privateKey);
  return { jwksFile, adminToken };
}

/** Writes the gateway config (JSON is YAML) and returns its path. */
export function writeGatewayConfig(
  dir: string,
  name: string,
  o: { port: number; upstream: string; jwksFile: string; logLevel?: string; pseudonymKeyFile?: string; workers?: number },
): string {
  // SPEC §14: with a key, hr pseudonymises instead of hiding (the pseudonymise scenarios)
  const hrMode = o.pseudonymKeyFile ? { mode: 'pseudonymise' } : {};
  const config = {
    // workers only when asked: a build from before server.workers (ablate --before) refuses the key
    server: { host: '127.0.0.1', port: o.port, adminPrefix: '/_gateway', ...(o.workers === undefined ? {} : { workers: o.workers }) },
    upstream: { url: o.upstream, timeoutMs: 60_000, maxBufferedBytes: 33_554_432 },
    identity: {
      header: 'authorization',
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksFile: o.jwksFile,
      algorithms: ['ES256'],
      clockToleranceSec: 30,
      principalClaims: ['upn'],
      rolesClaim: 'roles',
      adminRoles: ['SecurityAdministrator'],
      revealClaim: 'show_private_activities',
    },
    reveal: { header: 'x-show-private-activities', value: 'confirm' },
    privacy: {
      managedDomains: ['contoso.com'],
      undecidable: 'withhold',
      groups: [
        { id: 'hr', name: 'Human Resources', privateSince: '2026-03-01T00:00:00Z', ...hrMode },
        { id: 'builtin:external-users', name: 'External users', privateSince: '2026-06-01T00:00:00Z' },
        { id: 'legal', name: 'Legal', privateSince: '2026-02-01T00:00:00Z', privateUntil: '2026-05-01T00:00:00Z' },
      ],
      permissions: ['alice@contoso.com'],
    },
    directory: { groups: { hr: ['bob@contoso.com', 'carol@contoso.com'], legal: ['heidi@contoso.com'] } },
    activities: {
      id: '_id',
      timestamp: 'timestamp',
      actor: ['user.userName', 'failedUserData.userName'],
      groups: ['user.userTags', 'resolvedActor.tags'],
      application: { path: 'actorType', equals: ['APPLICATION'] },
      builtinTags: { 'external-users': '000000200000000000000000', application: '0000003b0000000000000000' },
    },
    routes: [
      { path: '/api/v1/activities/', methods: ['GET', 'POST'], kind: 'list', items: 'data', total: 'total' },
      { path: '/api/v1/activities/export/ndjson/', kind: 'export', format: 'ndjson' },
      { path: '/api/v1/activities/export/json/', kind: 'export', format: 'json', items: 'data' },
      { path: '/api/v1/activities/export/cef/', kind: 'export', format: 'cef' },
      { path: '/api/v1/activities/export/', kind: 'export', format: 'csv' },
      { path: '/api/v1/activities/:id/', methods: ['GET'], kind: 'item' },
      { path: '/api/v1/**', kind: 'passthrough' },
      { path: '/**', kind: 'deny' },
    ],
    governance: { sink: 'file', file: path.join(dir, `${name}-governance.jsonl`) },
    state: { store: 'file', file: path.join(dir, `${name}-state.json`) },
    // info: the access line per request is part of the measured cost (SPEC §8)
    logging: { level: o.logLevel ?? 'info' },
    ...(o.pseudonymKeyFile ? { pseudonyms: { keyFile: o.pseudonymKeyFile } } : {}),
  };
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}
