/**
 * The server's one entry point. Every request becomes one Exchange whose end is observed
 * in one place (observeEnd → accessLog.ts); its target is normalised (normalize.ts); then
 * the admin prefix splits the two peers: the admin application or the proxy pipeline.
 * Neither calls the other back: the console's activity log reaches the proxy through the
 * explicit client it was given (admin/routes/console.ts).
 */
import type http from 'node:http';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { recordEnd } from './accessLog.js';
import { Exchange, observeEnd } from './exchange.js';
import { failWith } from './fail.js';
import { GatewayError } from './errors.js';
import { normalizePath, splitTarget } from './normalize.js';
import { requestIdFrom } from './requestId.js';
import type { Runtime } from './runtime.js';

/** One of the two peers: takes an exchange whose path is normalised and answers it. */
export interface ExchangeHandler {
  handle(ex: Exchange): void;
}

export interface DispatchDeps {
  runtime: () => Runtime;
  /** everything under server.adminPrefix */
  admin: ExchangeHandler;
  /** everything else: the proxy journey */
  proxy: ExchangeHandler;
  metrics: Metrics;
  logger: Logger;
}

/** true when the normalised path is the admin prefix or below it (case-insensitively) */
export function underAdminPrefix(path: string, adminPrefix: string): boolean {
  const prefix = adminPrefix.toLowerCase();
  const lower = path.toLowerCase();
  return lower === prefix || lower.startsWith(prefix + '/');
}

export function createDispatcher(deps: DispatchDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const onEnd = recordEnd({ logger: deps.logger, metrics: deps.metrics });
  const fail = failWith(deps);
  return (req, res) => {
    const ex = new Exchange(requestIdFrom(req.headers['x-request-id']), req, res, deps.runtime());
    res.setHeader('x-request-id', ex.id);
    observeEnd(ex, onEnd);
    try {
      normaliseTarget(ex, deps.metrics);
    } catch (err) {
      return fail(ex, err);
    }
    if (underAdminPrefix(ex.path, ex.rt.config.server.adminPrefix)) {
      ex.kind = 'admin';
      return deps.admin.handle(ex);
    }
    deps.proxy.handle(ex);
  };
}

/**
 * Stage 1 for an exchange: its raw query kept verbatim, its path normalised; a path that
 * cannot be normalised safely is 400 `bad_path` (counted by reason, logged as "(rejected)").
 */
export function normaliseTarget(ex: Exchange, metrics: Pick<Metrics, 'pathRejections'>): void {
  const target = splitTarget(ex.req.url ?? '/');
  ex.query = target.query;
  const norm = normalizePath(target.path);
  if (!norm.ok) {
    metrics.pathRejections.inc({ reason: norm.reason });
    ex.path = '(rejected)';
    throw new GatewayError('bad_path');
  }
  ex.path = norm.path;
}
