/**
 * Stage 8 (SPEC §4.8): the rewritten answer. Upstream headers that are wrong
 * for a rewritten body are dropped, Content-Length is recomputed, a HEAD gets
 * the headers its GET would get, and a reveal is marked as such.
 */
import type http from 'node:http';
import type { GovernanceEntry } from '../governance/types.js';
import type { Exchange } from './exchange.js';
import { appendVary, filteredResponseHeaders } from './headers.js';
import type { Rewritten } from './rewrite.js';

export function respondFiltered(ex: Exchange, upstream: http.IncomingMessage, rewritten: Rewritten, entry: GovernanceEntry | undefined): void {
  const { res, rt } = ex;
  res.statusCode = upstream.statusCode ?? 200;
  res.statusMessage = upstream.statusMessage ?? '';
  for (const [k, v] of Object.entries(filteredResponseHeaders(upstream.headers))) if (v !== undefined) res.setHeader(k, v);
  res.setHeader('content-length', rewritten.body.length);
  if (entry) {
    res.setHeader('cache-control', 'private, no-store');
    appendVary(res, [
      rt.config.identity?.header ?? 'authorization',
      rt.config.reveal.header,
      rt.config.reveal.scopeHeader,
      rt.config.reveal.reasonHeader,
      ...(rt.config.reveal.approval ? ['x-reveal-request'] : []),
    ]);
    res.setHeader('x-private-activities', 'shown');
    res.setHeader('x-governance-entry', entry.id);
    // lets a client read the entry back (GET api/governance?afterSeq=<seq - 1>&limit=1): the console marks exactly its ids
    res.setHeader('x-governance-entry-seq', String(entry.seq));
  }
  res.end(ex.headOnly ? undefined : rewritten.body);
}
