/**
 * What the end of an exchange leaves behind: request metrics and one access
 * line. Called only by observeEnd (src/http/exchange.ts). Never a body, token,
 * reason text or private id: item routes log their pattern, not the path.
 */
import { fastInfo, type Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { EndFacts, Exchange } from './exchange.js';

export interface AccessLogDeps {
  logger: Logger;
  metrics: Pick<Metrics, 'requests' | 'removed' | 'exportCutoffs'>;
}

export function recordEnd(deps: AccessLogDeps): (ex: Exchange, end: EndFacts) => void {
  // the line every request writes: winston's bytes without its stream pipeline when the logger allows (log.ts)
  const write = fastInfo(deps.logger) ?? ((line: Record<string, unknown>) => deps.logger.info(line));
  return (ex, { completed, status }) => {
    deps.metrics.requests.inc({ kind: ex.kind, status: String(status) });
    if (ex.removed > 0) deps.metrics.removed.inc({ kind: ex.kind }, ex.removed);
    if (ex.kind === 'export' && !completed && status !== 0) deps.metrics.exportCutoffs.inc();
    const line: Record<string, unknown> = {
      msg: 'access',
      requestId: ex.id,
      method: ex.method,
      path: ex.route?.kind === 'item' ? ex.route.pattern : ex.path,
      kind: ex.kind,
      status,
      ms: Math.round((performance.now() - ex.started) * 10) / 10,
      removed: ex.removed,
      reveal: ex.reveal.granted ? 'granted' : ex.reveal.requested ? 'ignored' : 'none',
    };
    if (ex.principal) line.principal = ex.principal;
    if (ex.reason !== undefined) line.reason = ex.reason;
    if (ex.tokenError) line.tokenError = ex.tokenError;
    if (ex.note) line.note = ex.note;
    write(line);
  };
}
