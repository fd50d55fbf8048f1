/**
 * A local OpenID Connect provider (oidc-provider) with the demo's users, for `npm run demo`
 * and the console's browser tests. Its sign-in page lists the users as buttons: no
 * passwords, this is a demo identity provider on a loopback port, never a real one.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';

export interface DemoUser {
  /** the account id at the provider, e.g. alice */
  id: string;
  upn: string;
  name: string;
  roles: string[];
  /** what the user is for, shown on the sign-in page and printed by the demo */
  note: string;
}

export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'alice', upn: 'alice@contoso.com', name: 'Alice Adams', roles: ['SecurityAdministrator'], note: 'admin, permitted to view private activities' },
  { id: 'dave', upn: 'dave@contoso.com', name: 'Dave Dunn', roles: ['GlobalAdministrator'], note: 'admin without the permission' },
  { id: 'erin', upn: 'erin@contoso.com', name: 'Erin Eve', roles: ['Reader'], note: 'not an admin' },
];

export interface OidcClientRegistration {
  clientId: string;
  /** omitted: a public client (PKCE alone) */
  clientSecret?: string;
  redirectUris: string[];
}

export interface DemoOidcProvider {
  issuer: string;
  port: number;
  /** registers the console's client (the gateway's port may be known only after the provider listens) */
  register(client: OidcClientRegistration): Promise<void>;
  close(): Promise<void>;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

export async function startOidcProvider(opts: { port?: number; host?: string; users?: readonly DemoUser[] } = {}): Promise<DemoOidcProvider> {
  const users = opts.users ?? DEMO_USERS;
  const host = opts.host ?? '127.0.0.1';
  let provider: Provider | undefined;
  let providerHandler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;

  async function interaction(req: http.IncomingMessage, res: http.ServerResponse, uid: string, action: string): Promise<void> {
    const p = provider!;
    const details = await p.interactionDetails(req, res);
    if (details.uid !== uid) {
      res.writeHead(400).end('interaction mismatch');
      return;
    }
    if (details.prompt.name === 'consent') {
      // first-party demo client: every requested scope is granted without asking
      const grant = new p.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
      grant.addOIDCScope(typeof details.params.scope === 'string' ? details.params.scope : 'openid');
      const grantId = await grant.save();
      await p.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    if (req.method === 'POST' && action === 'login') {
      const form = await readForm(req);
      const user = users.find((u) => u.id === form.get('user'));
      if (!user) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('unknown user');
        return;
      }
      await p.interactionFinished(req, res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
      return;
    }
    const buttons = users
      .map(
        (u) =>
          `<li><button type="submit" name="user" value="${escapeHtml(u.id)}">Sign in as ${escapeHtml(u.upn)}</button> <span>${escapeHtml(u.name)}: ${escapeHtml(u.note)}</span></li>`,
      )
      .join('\n');
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo identity provider</title></head>
<body><main><h1>Demo identity provider</h1><p>Choose the demo user to sign in as (no password: a demo on a loopback port).</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/login"><ul>${buttons}</ul></form></main></body></html>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
  }

  const server = http.createServer((req, res) => {
    const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?$/.exec((req.url ?? '/').split('?')[0]);
    if (!provider || !providerHandler) {
      res.writeHead(503).end('no client registered yet');
      return;
    }
    if (m) {
      interaction(req, res, m[1], m[2] ?? '').catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' }).end(`interaction failed: ${(err as Error).message}`);
      });
      return;
    }
    providerHandler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${host}:${port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signingKey = { ...(await exportJWK(privateKey)), kid: 'demo-idp', alg: 'RS256', use: 'sig' };

  return {
    issuer,
    port,
    async register(c) {
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: c.clientId,
            ...(c.clientSecret ? { client_secret: c.clientSecret, token_endpoint_auth_method: 'client_secret_basic' } : { token_endpoint_auth_method: 'none' }),
            redirect_uris: c.redirectUris,
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        jwks: { keys: [signingKey] },
        cookies: { keys: [randomBytes(32).toString('base64url')] },
        pkce: { required: () => true },
        ttl: { Interaction: 600, Session: 8 * 3600, Grant: 8 * 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
        conformIdTokenClaims: false,
        claims: {
          openid: ['sub'],
          profile: ['name', 'preferred_username', 'upn', 'roles'],
          email: ['email', 'email_verified'],
        },
        features: { devInteractions: { enabled: false } },
        interactions: { url: (_ctx: KoaContextWithOIDC, i: { uid: string }) => `/interaction/${i.uid}` },
        async findAccount(_ctx: KoaContextWithOIDC, id: string) {
          const u = users.find((x) => x.id === id);
          if (!u) return undefined;
          return {
            accountId: u.id,
            async claims() {
              return { sub: u.id, name: u.name, preferred_username: u.upn, upn: u.upn, email: u.upn, email_verified: true, roles: u.roles };
            },
          };
        },
        async loadExistingGrant(ctx: KoaContextWithOIDC) {
          // first-party client: consent is implied, so the user only picks who to sign in as
          const session = ctx.oidc.session;
          const clientId = ctx.oidc.client?.clientId;
          if (!session?.accountId || !clientId) return undefined;
          const existing = session.grantIdFor(clientId);
          if (existing) {
            const found = await ctx.oidc.provider.Grant.find(existing);
            if (found) return found;
          }
          const grant = new ctx.oidc.provider.Grant({ clientId, accountId: session.accountId });
          grant.addOIDCScope('openid profile email');
          await grant.save();
          session.grantIdFor(clientId, grant.jti);
          return grant;
        },
      });
      const handler = provider.callback();
      providerHandler = (req, res) => void handler(req, res);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
