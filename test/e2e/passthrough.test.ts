/** Passthrough routes through the undici pool (src/http/passUpstream.ts), against a real upstream over sockets. */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { demoLikeConfig, startTestGateway, tempDir } from '../helpers/gateway.js';

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Answer {
  status: number;
  statusMessage: string;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  complete: boolean;
}

function request(url: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      const done = (): void =>
        resolve({
          status: res.statusCode!,
          statusMessage: res.statusMessage!,
          rawHeaders: res.rawHeaders,
          headers: res.headers,
          body: Buffer.concat(chunks),
          complete: res.complete,
        });
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never happened: ${what}`);
}

describe('passthrough routes through the pool', () => {
  let upstream: http.Server;
  let upstreamHost: string;
  let gw: Gateway;
  let cleanup: () => Promise<void>;
  const cases = new Map<string, Behaviour>();
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      const name = new URL(req.url!, 'http://x').searchParams.get('case') ?? 'ok';
      (cases.get(name) ?? ((_q, s) => s.end()))(req, res);
    });
    upstream.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamHost = `127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
    const t = await tempDir();
    cleanup = t.cleanup;
    gw = await startTestGateway(demoLikeConfig(`http://${upstreamHost}`, t.dir, { upstream: { url: `http://${upstreamHost}`, timeoutMs: 800 } }));
  });
  afterAll(async () => {
    await gw?.close(500);
    for (const s of sockets) s.destroy();
    await new Promise((r) => upstream.close(r));
    await cleanup?.();
  });

  it('keeps status, status text, header names in the upstream case and repeated headers; X-Request-Id is the gateway’s', async () => {
    let seen: http.IncomingHttpHeaders = {};
    cases.set('heads', (q, s) => {
      seen = q.headers;
      s.writeHead(203, 'Quite Fine', [
        ['Content-Type', 'application/json'],
        ['X-Custom-Header', 'A'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
        ['X-Request-Id', 'upstream-made-this'],
        ['Keep-Alive', 'timeout=5'],
        ['Content-Length', '2'],
      ]);
      s.end('{}');
    });
    const r = await request(gw.url, '/api/v1/alerts/?case=heads&x=%2F', {
      headers: { 'x-request-id': 'caller-id-1', 'proxy-connection': 'keep-alive', 'keep-alive': '300', 'x-caller': 'c' },
    });
    expect(r.status).toBe(203);
    expect(r.statusMessage).toBe('Quite Fine');
    expect(r.body.toString()).toBe('{}');
    const names = r.rawHeaders.filter((_, i) => i % 2 === 0);
    expect(names).toContain('X-Custom-Header');
    expect(names).toContain('Content-Type');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(r.headers['x-request-id']).toBe('caller-id-1');
    // the upstream connection's own headers stay on that connection
    expect(r.headers['keep-alive']).not.toBe('timeout=5');
    expect(seen['x-request-id']).toBe('caller-id-1');
    expect(seen['x-caller']).toBe('c');
    expect(seen.host).toBe(upstreamHost);
    expect(seen['proxy-connection']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
  });

  it('streams a large chunked answer and a request body byte for byte', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 9)) & 0xff;
    let received = Buffer.alloc(0);
    cases.set('big', (q, s) => {
      const parts: Buffer[] = [];
      q.on('data', (c: Buffer) => parts.push(c));
      q.on('end', () => {
        received = Buffer.concat(parts);
        s.writeHead(200, { 'content-type': 'application/octet-stream' });
        for (let off = 0; off < big.length; off += 100_000) s.write(big.subarray(off, off + 100_000));
        s.end();
      });
    });
    const body = big.subarray(0, 700_001);
    const r = await request(gw.url, '/api/v1/blob/?case=big', { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    expect(r.body.equals(big)).toBe(true);
    expect(received.equals(body)).toBe(true);
  });

  it('HEAD gets the head without a body', async () => {
    cases.set('head', (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json', 'content-length': '1234' });
      s.end();
    });
    const r = await request(gw.url, '/api/v1/alerts/?case=head', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('1234');
    expect(r.body.length).toBe(0);
  });

  it('an upstream that fails before its head is 502 upstream_unavailable', async () => {
    cases.set('reset', (q) => q.socket.destroy());
    const r = await request(gw.url, '/api/v1/alerts/?case=reset');
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString()).error.code).toBe('upstream_unavailable');
  });

  it('no head in time is 504 upstream_timeout, and the upstream request is abandoned', async () => {
    let closed = false;
    cases.set('silent', (q) => q.socket.on('close', () => (closed = true)));
    const r = await request(gw.url, '/api/v1/alerts/?case=silent');
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body.toString()).error.code).toBe('upstream_timeout');
    await waitFor(() => closed, 'upstream connection closed');
  });

  it('silence after the head longer than the timeout cuts the answer off', async () => {
    cases.set('stall', (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      s.write('{"partial":');
    });
    const r = await request(gw.url, '/api/v1/alerts/?case=stall');
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.body.toString()).toBe('{"partial":');
  });

  it('a client that goes away aborts the upstream request', async () => {
    let upstreamGone = false;
    let sent = false;
    cases.set('endless', (_q, s) => {
      s.writeHead(200, { 'content-type': 'application/octet-stream' });
      const tick = (): void => {
        if (s.destroyed) return;
        s.write(Buffer.alloc(1024));
        sent = true;
        setTimeout(tick, 20);
      };
      s.on('close', () => (upstreamGone = true));
      tick();
    });
    const u = new URL(gw.url);
    const req = http.get({ host: u.hostname, port: u.port, path: '/api/v1/alerts/?case=endless', agent: false }, (res) => {
      res.once('data', () => req.destroy());
    });
    req.on('error', () => undefined);
    await waitFor(() => sent && upstreamGone, 'upstream response closed');
    expect(upstreamGone).toBe(true);
  });
});
