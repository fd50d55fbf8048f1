/**
 * SPEC §4 route kind `item` (v3): a private item that is not revealed answers exactly what
 * the upstream answers for an id that does not exist — same status, same body bytes, same
 * Content-Type — so "private" cannot be told from "absent" (issue 21 item 7).
 *
 * The answer is learned by asking the upstream for an id that cannot exist (a random
 * UUID-like id in the route's `:id` position, the same method, query and headers as the
 * request went upstream, reveal headers already removed), and cached per route (and
 * Accept-Encoding, so a compressed answer never reaches a client that did not ask for it)
 * for five minutes. An answer older than that is still given for five more minutes while a
 * fresh one is learned beside the request, so only the first private item per route and
 * encoding waits for a probe (its time would tell it from an absent one; docs/security.md).
 * 2xx answers, failures, time-outs and bodies above 64 KiB teach nothing: then the gateway
 * answers its own 404 `not_found`. A 5xx answer is used for the request that asked but not
 * cached (it may be passing).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Clock } from '../clock.js';
import type { CompiledRoute } from '../routes/table.js';
import type { Logger } from '../log.js';
import { GatewayError } from './errors.js';
import type { Exchange } from './exchange.js';
import { passthroughResponseHeaders } from './headers.js';

/** How long a learned answer is trusted; for as long again it is given while a fresh one is learned. */
export const ABSENT_ANSWER_TTL_MS = 5 * 60_000;
/** A not-found answer larger than this teaches nothing. */
const MAX_ABSENT_BODY = 64 * 1024;
/** Headers never replayed to another caller, or set per response. */
const NOT_REPLAYED = new Set(['date', 'set-cookie', 'x-request-id', 'content-length']);
/** Request headers the probe does not copy (it has no body; the host is the upstream's). */
const NOT_PROBED = new Set(['host', 'content-length', 'transfer-encoding', 'expect', 'connection', 'keep-alive', 'upgrade']);

export interface AbsentAnswer {
  status: number;
  statusMessage: string;
  headers: http.OutgoingHttpHeaders;
  body: Buffer;
}

export interface AbsentItems {
  /** Answers `ex` as the upstream answers an item that does not exist (or the gateway's own 404). */
  answer(ex: Exchange, route: CompiledRoute): Promise<void>;
}

interface Cached {
  until: number;
  answer: AbsentAnswer;
}

export function createAbsentItems(deps: { clock: Clock; logger: Logger }): AbsentItems {
  // a reload compiles new route objects, so what was learned for the old table is dropped with it
  const cache = new WeakMap<CompiledRoute, Map<string, Cached>>();
  const inFlight = new WeakMap<CompiledRoute, Map<string, Promise<AbsentAnswer | null>>>();

  async function learn(ex: Exchange, route: CompiledRoute): Promise<AbsentAnswer | null> {
    const key = String(ex.req.headers['accept-encoding'] ?? '');
    const perRoute = cache.get(route) ?? new Map<string, Cached>();
    cache.set(route, perRoute);
    const hit = perRoute.get(key);
    const now = deps.clock.now();
    if (hit && hit.until > now) return hit.answer;
    if (hit && now - hit.until < ABSENT_ANSWER_TTL_MS) {
      void refresh(ex, route, perRoute, key);
      return hit.answer;
    }
    return refresh(ex, route, perRoute, key);
  }

  /** Probes once per route and key at a time; a usable answer is cached. Never rejects. */
  function refresh(ex: Exchange, route: CompiledRoute, perRoute: Map<string, Cached>, key: string): Promise<AbsentAnswer | null> {
    const pending = inFlight.get(route) ?? new Map<string, Promise<AbsentAnswer | null>>();
    inFlight.set(route, pending);
    const running = pending.get(key);
    if (running) return running;
    const probe = probeAbsent(ex, route)
      .then((answer) => {
        if (answer && answer.status < 500) perRoute.set(key, { until: deps.clock.now() + ABSENT_ANSWER_TTL_MS, answer });
        return answer;
      })
      .catch((err: unknown) => {
        deps.logger.warn({ msg: 'absent-item probe failed', requestId: ex.id, error: err instanceof Error ? err.message : String(err) });
        return null;
      })
      .finally(() => pending.delete(key));
    pending.set(key, probe);
    return probe;
  }

  return {
    async answer(ex, route) {
      const learned = await learn(ex, route);
      if (ex.answered) return;
      if (!learned) throw new GatewayError('not_found');
      const { res } = ex;
      res.writeHead(learned.status, learned.statusMessage, { ...learned.headers, 'content-length': learned.body.length, 'x-request-id': ex.id });
      res.end(ex.headOnly ? undefined : learned.body);
    },
  };
}

/**
 * The request path with the route's id segment replaced by an id that cannot exist: `:id`,
 * else the last `:name` of the pattern; null when the pattern has none.
 */
export function absentItemPath(pattern: string, path: string): string | null {
  const patternSegs = pattern.replace(/\/$/, '').split('/');
  let at = patternSegs.indexOf(':id');
  for (let i = patternSegs.length - 1; at < 0 && i >= 0; i--) if (patternSegs[i].startsWith(':')) at = i;
  if (at < 0 || patternSegs.slice(0, at).includes('**')) return null;
  const segs = path.split('/');
  if (at >= segs.length) return null;
  // UUID-like, with a prefix no real id carries: nothing the upstream stores can match it
  segs[at] = `apg-absent-${randomUUID()}`;
  return segs.join('/');
}

function probeAbsent(ex: Exchange, route: CompiledRoute): Promise<AbsentAnswer | null> {
  const probePath = absentItemPath(route.pattern, ex.path);
  if (probePath === null) return Promise.resolve(null);
  const { rt } = ex;
  const base = rt.target.pathname.replace(/\/$/, '');
  const headers: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(ex.req.headers)) if (v !== undefined && !NOT_PROBED.has(k)) headers[k] = v;
  const secure = rt.target.protocol === 'https:';
  const options: http.RequestOptions = {
    protocol: rt.target.protocol,
    hostname: rt.target.hostname,
    port: rt.target.port,
    method: ex.headOnly ? 'GET' : ex.method,
    path: base + probePath + (ex.query ? `?${ex.query}` : ''),
    headers,
    timeout: rt.config.upstream.timeoutMs,
    ...(secure ? {} : { agent: rt.agent }),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(options, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status <= 299) {
        res.destroy();
        return resolve(null);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ABSENT_BODY) return void res.destroy(new Error('not-found answer too large'));
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status, statusMessage: res.statusMessage ?? '', headers: replayable(res.headers), body: Buffer.concat(chunks, size) }));
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
    req.end();
  });
}

function replayable(upstream: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out = passthroughResponseHeaders(upstream);
  for (const h of NOT_REPLAYED) delete out[h];
  return out;
}
