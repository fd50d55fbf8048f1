/**
 * Stage 5 for passthrough routes (issue 26): the upstream leg through an undici `Pool`
 * (one per upstream origin, in the Runtime) instead of http-proxy-3's `http.request`.
 * The bench's bare proxies: ~43 µs CPU per small request through undici, ~80 through
 * http-proxy-3 (docs/benchmarks.md, third round).
 *
 * What the http-proxy-3 leg did, kept: the request as prepared by
 * `prepareUpstreamRequest` (method, normalised path and raw query, headers; Host is the
 * target's), the body streamed; the answer's status, status text and headers (names in
 * the upstream's case, the gateway's X-Request-Id) and body streamed with backpressure;
 * no complete head in time is the exchange deadline's 504; then only silence longer than
 * the upstream timeout ends the answer (`upstream_idle`); an upstream that dies
 * mid-answer cuts the client's response off (`upstream_closed`); a client that goes away
 * aborts the upstream request; an upstream that fails before its head is
 * `upstream_unavailable`. Hop-by-hop headers are dropped both ways (RFC 9110 §7.6.1):
 * the server side frames the answer itself. Trailers are not forwarded (neither were
 * they by the stream copy of http-proxy-3).
 */
import { errors, type Dispatcher } from 'undici';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { GatewayError } from './errors.js';
import type { Exchange } from './exchange.js';
import { HOP_BY_HOP } from './headers.js';

export interface PassDeps {
  metrics: Pick<Metrics, 'upstreamLatency'>;
  logger: Logger;
}

/** Request headers a proxy never forwards, plus those undici sets itself (it refuses them). */
const REQUEST_DROP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'host']);
/** Response headers of the upstream connection only (RFC 9110 §7.6.1): the one hop-by-hop list. */
const RESPONSE_DROP = HOP_BY_HOP;

/** The headers the upstream gets: the prepared request's, without hop-by-hop ones, Host the target's. */
export function passRequestHeaders(headers: NodeJS.Dict<string | string[]>, host: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || REQUEST_DROP.has(name)) continue;
    out[name] = value;
  }
  out.host = host;
  return out;
}

/**
 * The answer's headers as a flat [name, value, …] list in the upstream's case, for
 * `writeHead`; a repeated name is one entry with all its values (each still its own
 * header line, as Set-Cookie must be); X-Request-Id is the gateway's.
 */
export function passResponseHeaders(raw: Buffer[], requestId: string): (string | string[])[] {
  const out: (string | string[])[] = [];
  const at = new Map<string, number>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toString('latin1');
    const lower = name.toLowerCase();
    if (RESPONSE_DROP.has(lower)) continue;
    const value = lower === 'x-request-id' ? requestId : raw[i + 1].toString('latin1');
    const first = at.get(lower);
    if (first === undefined) {
      at.set(lower, out.length + 1);
      out.push(name, value);
    } else if (lower !== 'x-request-id') {
      const prev = out[first];
      out[first] = Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
  }
  return out;
}

/** A request with a body to stream (anything but an empty one). */
function hasBody(ex: Exchange): boolean {
  const h = ex.req.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

/**
 * Sends a prepared passthrough request through the pool; resolves once the answer's head
 * was written to the client, rejects with upstream_unavailable when the upstream fails
 * before it. The body is copied after that.
 */
export function passThroughPool(deps: PassDeps, ex: Exchange, pool: Dispatcher): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const { req, res, rt } = ex;
    const sentAt = performance.now();
    let head = false;
    let resume: (() => void) | undefined;
    const onDrain = (): void => resume?.();
    const handler: Dispatcher.DispatchHandler = {
      onConnect(abort) {
        ex.upstreamAbort = () => abort(new errors.RequestAbortedError());
        if (ex.ended) ex.upstreamAbort();
      },
      onHeaders(status, raw, resumeRead, statusText) {
        if (ex.answered) return false;
        head = true;
        resume = resumeRead;
        deps.metrics.upstreamLatency.observe({ kind: ex.kind }, (performance.now() - sentAt) / 1000);
        // from here on only the body timeout (silence between chunks) ends the answer
        ex.clearDeadline();
        res.writeHead(status, statusText, passResponseHeaders(raw, ex.id));
        resolve();
        return true;
      },
      onData(chunk) {
        if (res.write(chunk)) return true;
        res.once('drain', onDrain);
        return false;
      },
      onComplete() {
        res.end();
      },
      onError(err) {
        if (!head) {
          if (!ex.answered) deps.logger.warn({ msg: 'upstream error', requestId: ex.id, code: (err as NodeJS.ErrnoException).code });
          return reject(new GatewayError('upstream_unavailable'));
        }
        if (!ex.answered) ex.cutOff(err instanceof errors.BodyTimeoutError ? 'upstream_idle' : 'upstream_closed');
      },
    };
    pool.dispatch(
      {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: passRequestHeaders(req.headers, rt.target.host),
        body: hasBody(ex) ? req : null,
        headersTimeout: 0,
        bodyTimeout: rt.config.upstream.timeoutMs,
      },
      handler,
    );
  });
}
