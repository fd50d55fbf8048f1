/**
 * Stage 7 (SPEC §4.7): a granted reveal on a list or item route writes exactly
 * one durable governance entry before anything is sent, even when no private
 * activity was in the answer. No sink, or a sink that fails: 503
 * `governance_unavailable` and nothing private leaves.
 */
import { GovernanceUnavailableError, type GovernanceEntry, type GovernanceSink } from '../governance/types.js';
import type { Metrics } from '../metrics.js';
import type { Exchange } from './exchange.js';
import type { Rewritten } from './rewrite.js';

export interface GovernanceDeps {
  sink: GovernanceSink | null;
  metrics: Pick<Metrics, 'governanceLatency'>;
}

export async function recordReveal(ex: Exchange, rewritten: Rewritten, deps: GovernanceDeps): Promise<GovernanceEntry> {
  const identity = ex.reveal.identity;
  if (!deps.sink || !identity) throw new GovernanceUnavailableError('no governance sink');
  const { req } = ex;
  const t0 = performance.now();
  const ua = req.headers['user-agent'];
  const entry = await deps.sink.append({
    action: 'private-activities.viewed',
    principal: identity.principal,
    via: ex.reveal.via,
    request: {
      id: ex.id, method: ex.method, path: ex.path, query: ex.query,
      clientIp: req.socket.remoteAddress ?? '', userAgent: typeof ua === 'string' ? ua : '',
    },
    privateActivities: { count: rewritten.privateCount, ids: rewritten.privateIds },
    token: { iss: identity.iss, jti: identity.jti },
  });
  deps.metrics.governanceLatency.observe((performance.now() - t0) / 1000);
  return entry;
}
