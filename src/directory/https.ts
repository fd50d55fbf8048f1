/**
 * A small HTTPS client for the Graph source (node:https, so a configured CA file can be
 * trusted in addition to Node's built-in roots). HTTPS only; bodies are bounded; every
 * request honours an AbortSignal. Errors are DirectoryErrors with fixed messages.
 */
import https from 'node:https';
import tls from 'node:tls';
import type { IncomingHttpHeaders } from 'node:http';
import { systemClock } from '../clock.js';
import { DirectoryError } from './types.js';

export interface HttpsResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpsClient {
  request(
    url: string,
    init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string; signal: AbortSignal; maxBytes?: number },
  ): Promise<HttpsResponse>;
  close(): void;
}

const DEFAULT_MAX_BYTES = 16 << 20;

/** `ca`: extra PEM certificate(s) to trust besides Node's built-in roots. */
export function httpsClient(opts: { ca?: string } = {}): HttpsClient {
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 32,
    ...(opts.ca ? { ca: [...tls.rootCertificates, opts.ca] } : {}),
  });
  return {
    request(url, init) {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        return Promise.reject(new DirectoryError('bad URL'));
      }
      if (u.protocol !== 'https:') return Promise.reject(new DirectoryError('only https:// URLs are used'));
      const max = init.maxBytes ?? DEFAULT_MAX_BYTES;
      return new Promise<HttpsResponse>((resolve, reject) => {
        if (init.signal.aborted) return reject(new DirectoryError('timeout'));
        const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
        if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
        const req = https.request(u, { method: init.method ?? 'GET', headers, agent, signal: init.signal }, (res) => {
          const chunks: Buffer[] = [];
          let total = 0;
          res.on('data', (c: Buffer) => {
            total += c.length;
            if (total > max) {
              res.destroy();
              reject(new DirectoryError('answer too large'));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', () => reject(new DirectoryError(init.signal.aborted ? 'timeout' : 'connection failed')));
        });
        req.on('error', () => reject(new DirectoryError(init.signal.aborted ? 'timeout' : 'unreachable')));
        req.end(init.body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/**
 * Milliseconds to wait from a Retry-After header (delta-seconds or an HTTP date, measured
 * from `nowMs`, wall clock); undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | string[] | undefined, nowMs: number = systemClock.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}
