/**
 * A local HTTPS server playing the Microsoft identity platform token endpoint and the parts
 * of Microsoft Graph the gateway uses, with a certificate from a throwaway test CA (the
 * gateway is told to trust it with `tls.caFile`). Programmable: users and their groups,
 * page size, throttling (429/503 + Retry-After), revoked tokens (401), non-JSON answers.
 */
import { createPublicKey, X509Certificate, createHash } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compactVerify, decodeProtectedHeader } from 'jose';
import type { TestCa } from './testCa.js';

export interface GraphDouble {
  /** https://127.0.0.1:port (authorityHost) */
  authority: string;
  /** https://127.0.0.1:port/v1.0 (graphUrl) */
  graphUrl: string;
  tenant: string;
  clientId: string;
  secret: string;
  /** upn (lower case) → group ids */
  users: Map<string, string[]>;
  /**
   * user objects with an object id, a UPN and mail addresses (v3). `/users/{key}` finds a user by
   * id or UPN (never by mail, as Graph); `/users?$filter=` by mail or proxy address. A UPN in
   * `users` without an account gets the id `id-<upn>`.
   */
  accounts: Array<{ id: string; userPrincipalName: string; mail?: string; proxyAddresses?: string[] }>;
  groups: Array<{ id: string; displayName: string }>;
  pageSize: number;
  /** the next N Graph answers are this status with this Retry-After */
  throttle: { remaining: number; status: 429 | 503; retryAfter?: string };
  /** Graph answers 200 with this non-JSON body when set */
  garbage: string | null;
  /** lifetime of issued tokens (expires_in) */
  expiresIn: number;
  /** tokens issued so far (and which are still accepted) */
  issued: string[];
  revoked: Set<string>;
  tokenRequests: Array<Record<string, string>>;
  graphRequests: string[];
  /** PEM certificate whose key may sign client assertions */
  clientCert: string | null;
  close(): Promise<void>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

const json = (res: ServerResponse, status: number, v: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
};

/** One page of a collection, `$skiptoken` paging with an `@odata.nextLink` while more remain. */
function pageOf(pageSize: number, res: ServerResponse, url: URL, items: object[]): void {
  const skip = Number(url.searchParams.get('$skiptoken') ?? '0');
  const slice = items.slice(skip, skip + pageSize);
  const out: Record<string, unknown> = { '@odata.context': 'x', value: slice };
  if (skip + pageSize < items.length) {
    const next = new URL(url);
    next.searchParams.set('$skiptoken', String(skip + pageSize));
    out['@odata.nextLink'] = next.toString();
  }
  json(res, 200, out);
}
type State = Omit<GraphDouble, 'authority' | 'graphUrl' | 'close'>;

/** The Graph part of the double: users (by id, UPN, the `('...')` form), user search, group members, groups. */
function graphRoutes(d: State): (method: string, url: URL, res: ServerResponse) => void {
  const page = (res: ServerResponse, url: URL, items: object[]) => pageOf(d.pageSize, res, url, items);

  const notFound = (res: ServerResponse) => json(res, 404, { error: { code: 'Request_ResourceNotFound' } });
  const badRequest = (res: ServerResponse) => json(res, 400, { error: { code: 'BadRequest' } });

  /** The UPN of a user addressed by id or UPN; undefined when there is none. */
  function userOf(key: string): string | undefined {
    const k = key.toLowerCase();
    const a = d.accounts.find((x) => x.id.toLowerCase() === k || x.userPrincipalName.toLowerCase() === k);
    if (a) return a.userPrincipalName.toLowerCase();
    if (d.users.has(k)) return k;
    for (const upn of d.users.keys()) if (`id-${upn}` === k) return upn;
    return undefined;
  }
  const idOf = (upn: string) => d.accounts.find((a) => a.userPrincipalName.toLowerCase() === upn)?.id ?? `id-${upn}`;

  /**
   * `/v1.0/users/{key}{rest}` or `/v1.0/users('{key}'){rest}`. Like Graph, the path form of a
   * key beginning with `$` is a 400 (`$` starts a system query segment): such a user must be
   * addressed as `/users('$key')`.
   */
  function userPath(pathname: string): { key: string; rest: string } | 'bad' | undefined {
    const quoted = /^\/v1\.0\/users\('((?:[^']|'')*)'\)(\/.*)?$/.exec(pathname);
    if (quoted) return { key: decodeURIComponent(quoted[1]).replace(/''/g, "'"), rest: quoted[2] ?? '' };
    const plain = /^\/v1\.0\/users\/([^/]+)(\/.*)?$/.exec(pathname);
    if (!plain) return undefined;
    const key = decodeURIComponent(plain[1]);
    return key.startsWith('$') ? 'bad' : { key, rest: plain[2] ?? '' };
  }

  function users(url: URL, res: ServerResponse): void {
    const filter = url.searchParams.get('$filter') ?? '';
    const m = /^mail eq '((?:[^']|'')*)' or proxyAddresses\/any\(x:x eq 'smtp:((?:[^']|'')*)'\)$/.exec(filter);
    if (!m || url.searchParams.get('$select') !== 'id') return badRequest(res);
    const mail = m[1].replace(/''/g, "'").toLowerCase();
    const found = d.accounts.filter((a) => a.mail?.toLowerCase() === mail || (a.proxyAddresses ?? []).some((p) => p.toLowerCase() === `smtp:${mail}`));
    json(res, 200, { value: found.map((a) => ({ id: a.id })) });
  }

  function members(url: URL, id: string, res: ServerResponse): void {
    if (!d.groups.some((g) => g.id === id)) return notFound(res);
    const upns = [...d.users].filter(([, ids]) => ids.includes(id)).map(([upn]) => upn);
    const items = upns.map((upn) => ({ '@odata.type': '#microsoft.graph.user', id: idOf(upn), userPrincipalName: upn, displayName: upn }));
    page(res, url, items);
  }

  function graph(method: string, url: URL, res: ServerResponse): void {
    if (method !== 'GET') return badRequest(res);
    const u = userPath(url.pathname);
    if (u === 'bad') return badRequest(res);
    if (u) {
      const upn = userOf(u.key);
      if (u.rest === '/transitiveMemberOf/microsoft.graph.group' && url.searchParams.get('$select') === 'id,displayName') {
        if (!upn) return notFound(res);
        const ids = d.users.get(upn) ?? [];
        return page(
          res,
          url,
          ids.map((id) => d.groups.find((g) => g.id === id) ?? { id, displayName: id }),
        );
      }
      if (u.rest === '' && url.searchParams.get('$select') === 'id') return upn ? json(res, 200, { id: idOf(upn) }) : notFound(res);
      return badRequest(res);
    }
    if (url.pathname === '/v1.0/users') return users(url, res);
    const gm = /^\/v1\.0\/groups\/([^/]+)\/members$/.exec(url.pathname);
    if (gm && url.searchParams.get('$select') === 'id,userPrincipalName') return members(url, decodeURIComponent(gm[1]), res);
    if (url.pathname === '/v1.0/groups' && url.searchParams.get('$select') === 'id,displayName') return page(res, url, d.groups);
    badRequest(res);
  }
  return graph;
}

export async function startGraphDouble(ca: TestCa): Promise<GraphDouble> {
  const d: State = {
    tenant: 'contoso.onmicrosoft.com',
    clientId: '11111111-2222-3333-4444-555555555555',
    secret: 'graph-secret',
    users: new Map(),
    accounts: [],
    groups: [],
    pageSize: 2,
    throttle: { remaining: 0, status: 429 },
    garbage: null,
    expiresIn: 3600,
    issued: [],
    revoked: new Set(),
    tokenRequests: [],
    graphRequests: [],
    clientCert: null,
  };
  let base = '';
  const routes = graphRoutes(d);

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = Object.fromEntries(new URLSearchParams(await body(req)));
    d.tokenRequests.push(form);
    const tokenUrl = `${base}/${d.tenant}/oauth2/v2.0/token`;
    if (form.grant_type !== 'client_credentials' || form.client_id !== d.clientId || form.scope !== `${base}/.default`) {
      return json(res, 400, { error: 'invalid_request' });
    }
    if (form.client_assertion !== undefined) {
      if (!d.clientCert || form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
        return json(res, 401, { error: 'invalid_client' });
      try {
        const x509 = new X509Certificate(d.clientCert);
        const header = decodeProtectedHeader(form.client_assertion);
        if (header.x5t !== createHash('sha1').update(x509.raw).digest('base64url')) throw new Error('x5t');
        const { payload } = await compactVerify(form.client_assertion, createPublicKey(d.clientCert));
        const claims = JSON.parse(Buffer.from(payload).toString()) as Record<string, unknown>;
        if (claims.aud !== tokenUrl || claims.iss !== d.clientId || claims.sub !== d.clientId || typeof claims.jti !== 'string') throw new Error('claims');
      } catch {
        return json(res, 401, { error: 'invalid_client' });
      }
    } else if (form.client_secret !== d.secret) {
      return json(res, 401, { error: 'invalid_client' });
    }
    const t = `token-${d.issued.length + 1}`;
    d.issued.push(t);
    json(res, 200, { token_type: 'Bearer', expires_in: d.expiresIn, access_token: t });
  }

  const server = https.createServer({ cert: ca.cert, key: ca.key }, (req, res) => {
    const url = new URL(req.url ?? '/', base);
    if (req.method === 'POST' && url.pathname === `/${d.tenant}/oauth2/v2.0/token`) return void token(req, res);
    d.graphRequests.push(`${url.pathname}${url.search}`);
    const auth = req.headers.authorization ?? '';
    const t = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!d.issued.includes(t) || d.revoked.has(t)) return json(res, 401, { error: { code: 'InvalidAuthenticationToken' } });
    if (d.throttle.remaining > 0) {
      d.throttle.remaining--;
      const h: Record<string, string> = { 'content-type': 'application/json' };
      if (d.throttle.retryAfter !== undefined) h['retry-after'] = d.throttle.retryAfter;
      return void res.writeHead(d.throttle.status, h).end('{"error":{"code":"TooManyRequests"}}');
    }
    if (d.garbage !== null) return void res.writeHead(200, { 'content-type': 'text/html' }).end(d.garbage);
    routes(req.method ?? 'GET', url, res);
  });

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(d, {
    authority: base,
    graphUrl: `${base}/v1.0`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  });
}
