/**
 * Bench child (issue 26 prototype): a bare reverse proxy whose upstream leg is an undici
 * `Pool` (`dispatch` with a streaming handler) instead of http-proxy-3's `http.request`
 * with a keep-alive agent: same server side, hop-by-hop headers dropped both ways, header
 * name case kept, Host set to the target (changeOrigin), status text kept, backpressure
 * from the client to the upstream, client abort → upstream abort, upstream error → 502.
 * It measures what the upstream leg could cost; the gateway does not use it.
 * Usage: node undiciProxy.js <upstream url>. Prints `READY <url>`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const target = new URL(process.argv[2]);
const pool = new Pool(target.origin, { connections: 512, pipelining: 1, keepAliveTimeout: 65_000 });
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function requestHeaders(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  out.push('host', target.host);
  return out;
}

function proxy(req: http.IncomingMessage, res: http.ServerResponse): void {
  const bodyless = req.method === 'GET' || req.method === 'HEAD';
  let resume: (() => void) | null = null;
  pool.dispatch(
    { method: req.method ?? 'GET', path: req.url ?? '/', headers: requestHeaders(req.rawHeaders), body: bodyless ? null : req },
    {
      onConnect(abort) {
        res.once('close', () => {
          if (!res.writableFinished) abort(new Error('client gone'));
        });
      },
      onHeaders(status, raw, res0, statusText) {
        resume = res0;
        const out: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i].toString('latin1');
          if (!HOP.has(name.toLowerCase())) out.push(name, raw[i + 1].toString('latin1'));
        }
        res.writeHead(status, statusText, out);
        return true;
      },
      onData(chunk) {
        const ok = res.write(chunk);
        if (!ok) res.once('drain', () => resume?.());
        return ok;
      },
      onComplete() {
        res.end();
      },
      onError() {
        if (!res.headersSent) {
          res.statusCode = 502;
          res.end();
        } else res.destroy();
      },
    },
  );
}

const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, proxy);
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`READY http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  void pool.destroy();
});
