/**
 * Stage 7 (SPEC §4.7, §10): a granted reveal on a list or item route writes
 * exactly one durable governance entry before anything is sent, even when no
 * private activity was in the answer. It records the reason and scope, and
 * counts and lists only the private activities shown. No sink, or a sink that
 * fails: 503 `governance_unavailable` and nothing private leaves.
 */
import { GovernanceUnavailableError, type GovernanceEntry, type GovernanceSink } from '../governance/types.js';
import type { Metrics } from '../metrics.js';
import type { ShownTally } from '../privacy/revealFilter.js';
import { viewedEntry } from '../governance/entries.js';
import { revealActor } from './accountableReveal.js';
import type { Exchange } from './exchange.js';

export interface GovernanceDeps {
  sink: GovernanceSink | null;
  metrics: Pick<Metrics, 'governanceLatency'>;
}

export async function recordReveal(ex: Exchange, shown: ShownTally, deps: GovernanceDeps): Promise<GovernanceEntry> {
  const { identity, via, grant } = ex.reveal;
  if (!deps.sink || !identity || !via || !grant) throw new GovernanceUnavailableError('no governance sink');
  const t0 = performance.now();
  const entry = await deps.sink.append(viewedEntry(revealActor(identity, via), ex, grant, shown));
  deps.metrics.governanceLatency.observe((performance.now() - t0) / 1000);
  return entry;
}
