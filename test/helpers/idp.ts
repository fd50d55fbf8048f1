/**
 * Test identity provider: key pairs generated with jose, tokens signed with arbitrary
 * headers/claims (raw WebCrypto signing, so even headers jose refuses to produce — `crit`,
 * junk `kid` — can be built), and a JWKS served over a real loopback HTTP server whose
 * behaviour can be switched (ok / garbage / not-jwks / error / hang / stopped) and whose
 * requests are counted.
 */
import { createHmac, webcrypto } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK } from 'jose';

export type TestAlg = 'RS256' | 'PS256' | 'ES256' | 'EdDSA';

export interface TestKey {
  alg: TestAlg;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** public JWK with kid, alg and use: sig */
  publicJwk: JWK;
  /** SPKI PEM of the public key */
  publicPem: string;
}

let kidSeq = 0;

export async function generateTestKey(alg: TestAlg, kid = `${alg.toLowerCase()}-${++kidSeq}`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

export function b64url(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64url');
}

/** base64url(JSON) for objects; raw strings are encoded as they are (for non-JSON payloads). */
export function encodePart(part: unknown): string {
  return b64url(typeof part === 'string' ? part : JSON.stringify(part));
}

export function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function signParams(key: CryptoKey): AlgorithmIdentifier | RsaPssParams | EcdsaParams {
  switch (key.algorithm.name) {
    case 'RSA-PSS':
      return { name: 'RSA-PSS', saltLength: 32 };
    case 'ECDSA':
      return { name: 'ECDSA', hash: 'SHA-256' };
    default:
      return { name: key.algorithm.name };
  }
}

export interface SignOptions {
  /** merged over {alg, kid} of the key; a value of undefined removes that member */
  header?: Record<string, unknown>;
}

/** Signs any payload (object or raw string) with the key; the header is fully controllable. */
export async function signToken(key: TestKey, payload: unknown, opts: SignOptions = {}): Promise<string> {
  const header = JSON.parse(JSON.stringify({ alg: key.alg, kid: key.kid, ...opts.header })) as Record<string, unknown>;
  const input = `${encodePart(header)}.${encodePart(payload)}`;
  const sig = await webcrypto.subtle.sign(signParams(key.privateKey), key.privateKey, new TextEncoder().encode(input));
  return `${input}.${b64url(new Uint8Array(sig))}`;
}

/** HS256 token with any secret, even an empty one or a public key (algorithm-confusion attacks). */
export function hmacToken(header: Record<string, unknown>, payload: unknown, secret: string | Uint8Array): string {
  const input = `${encodePart({ alg: 'HS256', ...header })}.${encodePart(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** A token assembled from parts with a given (possibly empty) signature. */
export function rawToken(header: unknown, payload: unknown, signature = ''): string {
  return `${encodePart(header)}.${encodePart(payload)}.${signature}`;
}

export type JwksMode = 'ok' | 'garbage' | 'not-jwks' | 'error' | 'hang';

export interface TestIdp {
  readonly port: number;
  /** URL of the JWKS document */
  readonly jwksUrl: string;
  /** JWKS requests received (all modes) */
  readonly requests: number;
  mode: JwksMode;
  /** the keys published (mutable: push a key to rotate in, splice to remove) */
  keys: TestKey[];
  /** stop listening and drop open connections (connection refused afterwards) */
  stop(): Promise<void>;
  /** listen again on the same port */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startIdp(keys: TestKey[] = []): Promise<TestIdp> {
  let requests = 0;
  const state = { mode: 'ok' as JwksMode, keys };
  const server = http.createServer((_req, res) => {
    requests++;
    switch (state.mode) {
      case 'hang':
        return; // never answers; closed by stop()/close()
      case 'error':
        res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
        return;
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>not json');
        return;
      case 'not-jwks':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys": "nope"}');
        return;
      default:
        res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: state.keys.map((k) => k.publicJwk) }));
    }
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  let listening = true;
  const stop = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  };
  return {
    port,
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get requests() {
      return requests;
    },
    get mode() {
      return state.mode;
    },
    set mode(m: JwksMode) {
      state.mode = m;
    },
    get keys() {
      return state.keys;
    },
    set keys(k: TestKey[]) {
      state.keys = k;
    },
    stop,
    async start() {
      if (listening) return;
      await listen(port);
      listening = true;
    },
    close: stop,
  };
}
