/**
 * Bench child: the reference "bare" reverse proxy — http-proxy-3 with a
 * keep-alive upstream agent and nothing else (no filtering, logging, metrics).
 * Usage: node bareProxy.js <upstream url>. Prints `READY <url>`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProxyServer } from 'http-proxy-3';

const target = new URL(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 64, scheduling: 'lifo' });
const proxy = new ProxyServer({ target, agent, xfwd: false, ws: false, changeOrigin: true });
proxy.on('error', (_err, _req, res) => {
  const r = res as http.ServerResponse;
  if (!r.headersSent) {
    r.statusCode = 502;
    r.end();
  } else r.destroy();
});
const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => proxy.web(req, res));
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`READY http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
  agent.destroy();
});
