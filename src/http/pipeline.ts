/**
 * The proxy journey (SPEC §4), one stage per file, for an exchange the dispatcher
 * (dispatch.ts) already normalised and found outside the admin prefix:
 *
 *   route (routes/table.ts) → identity and reveal (reveal.ts, accountableReveal.ts)
 *   → upstream (upstream.ts) → rewrite (rewrite.ts, export.ts)
 *   → governance (governance.ts) → respond (respond.ts, relay.ts)
 *
 * Any error thrown by a stage ends in `fail` (fail.ts), the one mapping from a thrown
 * value to an answer; the end of the response is observed by the dispatcher.
 */
import type http from 'node:http';
import type { Clock } from '../clock.js';
import type { ListRoute, ItemRoute } from '../config/schema.js';
import type { KnownGroups } from '../directory/knownGroups.js';
import type { GovernanceSink } from '../governance/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { PrivacyEngine } from '../privacy/engine.js';
import { hideForReveal } from '../privacy/revealFilter.js';
import type { CompiledRoute } from '../routes/table.js';
import { createAbsentItems, type AbsentItems } from './absentItem.js';
import { authorizeReveal } from './accountableReveal.js';
import { underAdminPrefix, type ExchangeHandler } from './dispatch.js';
import { GatewayError } from './errors.js';
import type { Exchange } from './exchange.js';
import { streamExport } from './export.js';
import { failWith, type Fail } from './fail.js';
import { recordReveal } from './governance.js';
import { METHOD_OVERRIDE_HEADERS } from './headers.js';
import { passThrough, relayUnchanged } from './relay.js';
import { respondFiltered } from './respond.js';
import { decideReveal, identify } from './reveal.js';
import { readBody, rewriteBody } from './rewrite.js';
import { passThroughPool } from './passUpstream.js';
import { createUpstream, prepareUpstreamRequest, type Upstream } from './upstream.js';

export type { Runtime } from './runtime.js';

export interface PipelineDeps {
  engine: PrivacyEngine;
  governance: () => GovernanceSink | null;
  logger: Logger;
  metrics: Metrics;
  /** SPEC §10: scope groups must be in the catalogue */
  knownGroups: KnownGroups;
  /** the clock permissions expire by */
  clock: Clock;
}

export interface Pipeline extends ExchangeHandler {
  close(): void;
}

interface Stages {
  deps: PipelineDeps;
  upstream: Upstream;
  fail: Fail;
  /** what a private item answers: the upstream's answer for an absent one (SPEC §4 item, v3) */
  absent: AbsentItems;
}

export function createPipeline(deps: PipelineDeps): Pipeline {
  const fail = failWith(deps);
  const stages: Stages = {
    deps,
    fail,
    upstream: createUpstream({ metrics: deps.metrics, logger: deps.logger, fail }),
    absent: createAbsentItems({ clock: deps.clock, logger: deps.logger }),
  };
  return {
    handle: (ex) => void journey(stages, ex).catch((err: unknown) => fail(ex, err)),
    close: () => stages.upstream.close(),
  };
}

async function journey(s: Stages, ex: Exchange): Promise<void> {
  const route = routeOf(ex);
  const filtered = route.kind !== 'passthrough';
  if (filtered) await revealStage(s.deps, ex, route.kind);
  else await vouchForService(ex);

  // 5. upstream: no complete answer in time is 504 (streamed answers switch to an idle timeout)
  ex.headOnly = ex.method === 'HEAD' && (route.kind === 'list' || route.kind === 'item');
  prepareUpstreamRequest(ex, filtered);
  ex.setDeadline(ex.rt.config.upstream.timeoutMs, () => s.fail(ex, new GatewayError('upstream_timeout')));
  if (!filtered && ex.rt.pool) return await passThroughPool(s.deps, ex, ex.rt.pool);
  const answer = await s.upstream.forward(ex, filtered);
  if (ex.answered) return void answer.destroy();
  if (route.kind === 'passthrough') return passThrough(ex, answer);
  const status = answer.statusCode ?? 502;
  if (status < 200 || status > 299) return relayUnchanged(ex, answer);

  // 6. rewrite (exports stream to the end here)
  if (route.kind === 'export') return await streamExport(ex, route, answer, s.deps.engine.hideBatch());
  if (route.kind === 'list' || route.kind === 'item') await filterStage(s, ex, route, answer);
}

/** 2. route: first match wins; no route or a deny route is 403 `route_denied`. */
function routeOf(ex: Exchange): CompiledRoute {
  // a vouched request (the console's) is for a proxied route only, never back into the admin endpoints
  if (ex.vouched && underAdminPrefix(ex.path, ex.rt.config.server.adminPrefix)) throw new GatewayError('route_denied');
  for (const h of METHOD_OVERRIDE_HEADERS) delete ex.req.headers[h];
  const route = ex.rt.routes.match(ex.method, ex.path)?.route;
  ex.route = route;
  ex.kind = route?.kind ?? 'deny';
  if (!route || route.kind === 'deny') throw new GatewayError('route_denied');
  return route;
}

/** 3–4. identity and reveal on a filtered route; a refusal is thrown after it was recorded. */
async function revealStage(deps: PipelineDeps, ex: Exchange, routeKind: CompiledRoute['kind']): Promise<void> {
  const { req, rt } = ex;
  const accountable = {
    config: rt.config,
    permission: (p: string) => deps.engine.permission(p),
    revealRequest: (id: string) => deps.engine.revealRequest(id),
    now: () => deps.clock.now(),
    knownGroups: deps.knownGroups,
    governance: deps.governance,
    metrics: deps.metrics,
    logger: deps.logger,
  };
  ex.reveal = await decideReveal(
    { headers: req.headers, routeKind, reveal: rt.config.reveal, identity: rt.identity, vouched: ex.vouched },
    { authorize: (id, via) => authorizeReveal(accountable, ex, id, via), metrics: deps.metrics },
  );
  if (ex.reveal.identity?.isAdmin) ex.principal = ex.reveal.identity.principal;
  if (ex.reveal.refusal) throw ex.reveal.refusal;
}

/** A passthrough with upstream.serviceAuthorization: a verified caller is replaced by the service credential. */
async function vouchForService(ex: Exchange): Promise<void> {
  const { rt } = ex;
  if (!rt.config.upstream.serviceAuthorization || !rt.identity) return;
  const id = await identify(rt.identity, ex.req.headers);
  if (id.kind === 'verified') ex.reveal = { granted: false, requested: false, identity: id };
}

/** 6–8 for list and item routes: filter the body, record a granted reveal, answer. */
async function filterStage(s: Stages, ex: Exchange, route: CompiledRoute & (ListRoute | ItemRoute), answer: http.IncomingMessage): Promise<void> {
  const { deps } = s;
  const body = await readBody(ex, answer);
  if (ex.answered) return;
  // a granted reveal shows what its scope and permission allow, and withholds the rest as for anyone else
  const narrowed = ex.reveal.grant ? hideForReveal(deps.engine.revealBatch(ex.reveal.grant.limits)) : undefined;
  const rewritten = await rewriteBody(ex, route, body, narrowed ? narrowed.hide : deps.engine.hideBatch());

  // 7. governance
  const entry = narrowed ? await recordReveal(ex, narrowed.shown, { sink: deps.governance(), metrics: deps.metrics }) : undefined;
  if (ex.answered) return;
  // a withheld item (private, or outside the reveal's limits: after the entry that records the attempt)
  // answers exactly as the upstream answers a missing one
  if (rewritten.withheldItem) return s.absent.answer(ex, route);

  // 8. respond
  respondFiltered(ex, answer, rewritten, entry);
}
