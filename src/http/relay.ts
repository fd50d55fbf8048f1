/**
 * Answers copied from the upstream without rewriting: passthrough routes
 * (copied by the proxy itself) and non-2xx answers on filtered routes (SPEC
 * §4.6: they pass unchanged, no governance entry). Either way the copy
 * switches from the upstream deadline to an idle timeout, and an upstream that
 * dies mid-answer cuts the client's response off instead of leaving it hanging.
 */
import type http from 'node:http';
import { pipeline } from 'node:stream';
import type { Exchange } from './exchange.js';
import { passthroughResponseHeaders } from './headers.js';

/** From the first byte on, only silence longer than the upstream timeout ends the answer. */
export function idleTimeout(ex: Exchange, upstream: http.IncomingMessage): void {
  ex.clearDeadline();
  upstream.setTimeout(ex.rt.config.upstream.timeoutMs, () => {
    upstream.destroy();
    ex.cutOff('upstream_idle');
  });
}

/** An upstream answer that ends before it is complete cuts the client's response off. */
export function cutOffWhenUpstreamDies(ex: Exchange, upstream: http.IncomingMessage): void {
  upstream.on('error', () => undefined); // reported through 'close'
  upstream.on('close', () => {
    if (upstream.complete || ex.answered) return;
    ex.cutOff('upstream_closed');
  });
}

/** Passthrough route: the proxy copies the answer; we only watch it. */
export function passThrough(ex: Exchange, upstream: http.IncomingMessage): void {
  cutOffWhenUpstreamDies(ex, upstream);
  idleTimeout(ex, upstream);
}

/** A non-2xx answer on a filtered route: status, headers and body unchanged. */
export function relayUnchanged(ex: Exchange, upstream: http.IncomingMessage): void {
  const { res } = ex;
  ex.clearDeadline();
  res.writeHead(upstream.statusCode ?? 502, upstream.statusMessage, passthroughResponseHeaders(upstream.headers));
  if (ex.headOnly) {
    upstream.destroy();
    res.end();
    return;
  }
  idleTimeout(ex, upstream);
  pipeline(upstream, res, (err) => {
    if (err) ex.note ??= 'cut_off';
  });
}
