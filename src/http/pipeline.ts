/**
 * The request journey (SPEC §4), one stage per file:
 *
 *   normalise (normalize.ts) → route (routes/table.ts) → identity and reveal
 *   (reveal.ts) → upstream (upstream.ts) → rewrite (rewrite.ts, export.ts) →
 *   governance (governance.ts) → respond (respond.ts, relay.ts)
 *
 * Each request is one Exchange (exchange.ts); its end is observed in one place
 * (observeEnd → accessLog.ts). Any error thrown by a stage ends in `fail`, the
 * one mapping from a thrown value to an answer (errors.ts).
 */
import type http from 'node:http';
import type { KnownGroups } from '../directory/knownGroups.js';
import type { GovernanceSink } from '../governance/types.js';
import { GovernanceUnavailableError } from '../governance/types.js';
import { UnauthenticatedError } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { PrivacyEngine } from '../privacy/engine.js';
import { hideForReveal } from '../privacy/revealFilter.js';
import { authorizeReveal } from './accountableReveal.js';
import { recordEnd } from './accessLog.js';
import { GatewayError, isUnexpected, sendError, toGatewayError } from './errors.js';
import { Exchange, observeEnd } from './exchange.js';
import { streamExport } from './export.js';
import { recordReveal } from './governance.js';
import { METHOD_OVERRIDE_HEADERS } from './headers.js';
import { normalizePath, splitTarget } from './normalize.js';
import { passThrough, relayUnchanged } from './relay.js';
import { requestIdFrom } from './requestId.js';
import { respondFiltered } from './respond.js';
import { decideReveal, identify } from './reveal.js';
import { readBody, rewriteBody } from './rewrite.js';
import type { Runtime } from './runtime.js';
import type { VouchedIdentity } from './vouchedIdentity.js';
import { createUpstream, prepareUpstreamRequest } from './upstream.js';

export type { Runtime } from './runtime.js';

export interface PipelineDeps {
  runtime: () => Runtime;
  engine: PrivacyEngine;
  governance: () => GovernanceSink | null;
  logger: Logger;
  metrics: Metrics;
  instance: string;
  /** SPEC §10: scope groups must be in the catalogue */
  knownGroups: KnownGroups;
  /** the clock permissions expire by */
  now: () => number;
  /** answers requests under server.adminPrefix; `subPath` is the path below the prefix */
  admin: (ex: Exchange, subPath: string) => void;
}

export function createPipeline(deps: PipelineDeps) {
  const { metrics, logger, engine } = deps;
  const upstream = createUpstream({ metrics, logger, fail });
  const onEnd = recordEnd({ logger, metrics });

  /** The one way a stage's error becomes an answer (or cuts off an answer already under way). */
  function fail(ex: Exchange, thrown: unknown): void {
    if (ex.answered) return;
    if (thrown instanceof GovernanceUnavailableError) metrics.governanceFailures.inc();
    if (thrown instanceof UnauthenticatedError) ex.tokenError = thrown.why;
    const err = toGatewayError(thrown);
    if (isUnexpected(err)) logger.error({ msg: 'request failed', requestId: ex.id, error: thrown instanceof Error ? thrown.message : String(thrown) });
    ex.clearDeadline();
    ex.abortUpstream();
    if (ex.res.headersSent) ex.note ??= `cut_off:${err.code}`;
    sendError(ex.res, err, ex.id);
  }

  async function journey(ex: Exchange): Promise<void> {
    const { req, rt } = ex;
    // 1. normalise
    const target = splitTarget(req.url ?? '/');
    ex.query = target.query;
    const norm = normalizePath(target.path);
    if (!norm.ok) {
      metrics.pathRejections.inc({ reason: norm.reason });
      ex.path = '(rejected)';
      throw new GatewayError('bad_path');
    }
    ex.path = norm.path;
    const prefix = rt.config.server.adminPrefix.toLowerCase();
    const lower = ex.path.toLowerCase();
    if (lower === prefix || lower.startsWith(prefix + '/')) {
      // a vouched request is for a proxied route only, never back into the admin endpoints
      if (ex.vouched) throw new GatewayError('route_denied');
      ex.kind = 'admin';
      return deps.admin(ex, ex.path.slice(prefix.length));
    }
    for (const h of METHOD_OVERRIDE_HEADERS) delete req.headers[h];

    // 2. route
    const route = rt.routes.match(ex.method, ex.path)?.route;
    if (!route || route.kind === 'deny') {
      ex.kind = 'deny';
      throw new GatewayError('route_denied');
    }
    ex.route = route;
    ex.kind = route.kind;
    const filtered = route.kind !== 'passthrough';

    // 3–4. identity and reveal
    if (filtered) {
      const accountable = {
        config: rt.config,
        permission: (p: string) => engine.permission(p),
        revealRequest: (id: string) => engine.revealRequest(id),
        now: deps.now,
        knownGroups: deps.knownGroups,
        governance: deps.governance,
        metrics,
        logger,
      };
      ex.reveal = await decideReveal(
        { headers: req.headers, routeKind: route.kind, reveal: rt.config.reveal, identity: rt.identity, vouched: ex.vouched },
        {
          authorize: (id, via) => authorizeReveal(accountable, ex, id, via),
          metrics,
        },
      );
      if (ex.reveal.identity?.isAdmin) ex.principal = ex.reveal.identity.principal;
      if (ex.reveal.refusal) throw ex.reveal.refusal;
    } else if (rt.config.upstream.serviceAuthorization && rt.identity) {
      const id = await identify(rt.identity, req.headers);
      if (id.kind === 'verified') ex.reveal = { granted: false, requested: false, identity: id };
    }

    // 5. upstream: no complete answer in time is 504 (streamed answers switch to an idle timeout)
    ex.headOnly = ex.method === 'HEAD' && (route.kind === 'list' || route.kind === 'item');
    prepareUpstreamRequest(ex, filtered);
    ex.setDeadline(rt.config.upstream.timeoutMs, () => fail(ex, new GatewayError('upstream_timeout')));
    const answer = await upstream.forward(ex, filtered);
    if (ex.answered) {
      answer.destroy();
      return;
    }
    if (route.kind === 'passthrough') return passThrough(ex, answer);
    const status = answer.statusCode ?? 502;
    if (status < 200 || status > 299) return relayUnchanged(ex, answer);

    // 6. rewrite
    if (route.kind === 'export') return await streamExport(ex, route, answer, engine.hideBatch());
    const body = await readBody(ex, answer);
    if (ex.answered) return;
    // a granted reveal shows what its scope and permission allow, and withholds the rest as for anyone else
    const narrowed = ex.reveal.grant ? hideForReveal(engine.revealBatch(ex.reveal.grant.limits)) : undefined;
    const rewritten = await rewriteBody(ex, body, narrowed ? narrowed.hide : engine.hideBatch());

    // 7. governance
    const entry = narrowed ? await recordReveal(ex, narrowed.shown, { sink: deps.governance(), metrics }) : undefined;
    if (ex.answered) return;
    // an item outside the reveal's limits: answered like a missing one, after the entry that records the attempt
    if (rewritten.withheldItem) throw new GatewayError('not_found');

    // 8. respond
    respondFiltered(ex, answer, rewritten, entry);
  }

  function start(req: http.IncomingMessage, res: http.ServerResponse, vouched?: VouchedIdentity): void {
    const ex = new Exchange(requestIdFrom(req.headers['x-request-id']), req, res, deps.runtime());
    if (vouched) ex.vouched = vouched;
    res.setHeader('x-request-id', ex.id);
    observeEnd(ex, onEnd);
    journey(ex).catch((err: unknown) => fail(ex, err));
  }

  return {
    handle(req: http.IncomingMessage, res: http.ServerResponse): void {
      start(req, res);
    },
    /** A request the gateway itself authenticated (the console's session, SPEC §13): the identity replaces the bearer token. */
    handleVouched(req: http.IncomingMessage, res: http.ServerResponse, identity: VouchedIdentity): void {
      start(req, res, identity);
    },
    close: () => upstream.close(),
  };
}
