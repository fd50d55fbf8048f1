/**
 * Stage 5: the request to the activity-log API (SPEC §4.5). The request is
 * prepared (headers the upstream must not see, headers it must), sent through
 * http-proxy-3, and `forward` resolves with the upstream's answer once its
 * headers arrive. Passthrough answers are copied by the proxy itself; filtered
 * routes handle the answer themselves.
 */
import type http from 'node:http';
import { ProxyServer } from 'http-proxy-3';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { REVEAL_REQUEST_HEADER } from './accountableReveal.js';
import type { Exchange } from './exchange.js';
import { CONDITIONAL_REQUEST_HEADERS, CSRF_HEADER, decodableAcceptEncoding } from './headers.js';

export interface UpstreamDeps {
  metrics: Pick<Metrics, 'upstreamLatency'>;
  logger: Logger;
  /** answers an exchange whose upstream failed after `forward` resolved */
  fail(ex: Exchange, err: unknown): void;
}

export interface Upstream {
  /** Sends the request; resolves with the upstream's answer (headers in), rejects with upstream_unavailable. */
  forward(ex: Exchange, selfHandle: boolean): Promise<http.IncomingMessage>;
  close(): void;
}

/** Rewrites the incoming request into the one the upstream gets (SPEC §4.5). */
export function prepareUpstreamRequest(ex: Exchange, filtered: boolean): void {
  const { req, rt } = ex;
  // the upstream sees the gateway's request id, so its logs can be correlated with ours
  req.headers['x-request-id'] = ex.id;
  // The reveal headers are the gateway's own business (a reason may name people); the upstream never sees them.
  delete req.headers[rt.config.reveal.header.toLowerCase()];
  delete req.headers[rt.config.reveal.reasonHeader];
  delete req.headers[rt.config.reveal.scopeHeader];
  delete req.headers[REVEAL_REQUEST_HEADER];
  const idHeader = rt.config.identity?.header.toLowerCase() ?? 'authorization';
  if (ex.vouched) {
    // a console session is a credential for the admin prefix only: it never goes upstream
    delete req.headers.cookie;
    delete req.headers[CSRF_HEADER];
    delete req.headers[idHeader];
  }
  if (ex.reveal.identity && rt.config.upstream.serviceAuthorization) req.headers[idHeader] = rt.config.upstream.serviceAuthorization;
  req.url = ex.query ? `${ex.path}?${ex.query}` : ex.path;
  if (filtered) {
    for (const h of CONDITIONAL_REQUEST_HEADERS) delete req.headers[h];
    const ae = req.headers['accept-encoding'];
    req.headers['accept-encoding'] = decodableAcceptEncoding(Array.isArray(ae) ? ae.join(',') : ae);
  }
}

interface Pending {
  ex: Exchange;
  sentAt: number;
  resolve: (res: http.IncomingMessage) => void;
}

export function createUpstream(deps: UpstreamDeps): Upstream {
  const proxy = new ProxyServer({ xfwd: false, ws: false, changeOrigin: true, preserveHeaderKeyCase: true });
  const pending = new WeakMap<http.IncomingMessage, Pending>();

  proxy.on('proxyReq', (proxyReq, req) => {
    const p = pending.get(req);
    if (p) p.ex.upstreamRequest = proxyReq;
  });

  proxy.on('proxyRes', (proxyRes, req) => {
    const p = pending.get(req);
    if (!p) return;
    pending.delete(req);
    const { ex } = p;
    deps.metrics.upstreamLatency.observe({ kind: ex.kind }, (performance.now() - p.sentAt) / 1000);
    // the response carries the gateway's request id, whatever the upstream says
    proxyRes.headers['x-request-id'] = ex.id;
    ex.upstreamResponse = proxyRes;
    p.resolve(proxyRes);
  });

  return {
    forward(ex, selfHandle) {
      return new Promise<http.IncomingMessage>((resolve, reject) => {
        const { req, res, rt } = ex;
        pending.set(req, { ex, sentAt: performance.now(), resolve });
        proxy.web(
          req,
          res,
          {
            target: rt.target,
            agent: rt.agent,
            selfHandleResponse: selfHandle,
            // a HEAD on a filtered route gets what its GET would get, so the body must be fetched to be filtered
            method: ex.headOnly ? 'GET' : undefined,
          },
          (err) => {
            if (ex.answered) return;
            deps.logger.warn({ msg: 'upstream error', requestId: ex.id, code: (err as NodeJS.ErrnoException).code });
            const failure = new GatewayError('upstream_unavailable');
            if (pending.delete(req)) reject(failure);
            else if (res.headersSent) ex.cutOff('upstream_error');
            else deps.fail(ex, failure);
          },
        );
      });
    },
    close: () => proxy.close(),
  };
}
