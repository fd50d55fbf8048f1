/**
 * The one way a thrown value becomes an answer, for the proxy pipeline and the admin
 * app alike: counted, logged when unexpected, the deadline cleared, the upstream
 * abandoned, then the SPEC §5 JSON error (errors.ts) — or a cut-off when the answer
 * was already under way.
 */
import { GovernanceUnavailableError } from '../governance/types.js';
import { UnauthenticatedError } from '../identity/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { isUnexpected, sendError, toGatewayError } from './errors.js';
import type { Exchange } from './exchange.js';

export type Fail = (ex: Exchange, thrown: unknown) => void;

export function failWith(deps: { metrics: Pick<Metrics, 'governanceFailures'>; logger: Logger }): Fail {
  return (ex, thrown) => {
    if (ex.answered) return;
    if (thrown instanceof GovernanceUnavailableError) deps.metrics.governanceFailures.inc();
    if (thrown instanceof UnauthenticatedError) ex.tokenError = thrown.why;
    const err = toGatewayError(thrown);
    if (isUnexpected(err)) deps.logger.error({ msg: 'request failed', requestId: ex.id, error: thrown instanceof Error ? thrown.message : String(thrown) });
    ex.clearDeadline();
    ex.abortUpstream();
    if (ex.res.headersSent) ex.note ??= `cut_off:${err.code}`;
    sendError(ex.res, err, ex.id);
  };
}
