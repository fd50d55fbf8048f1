import type http from 'node:http';
import type { CompiledRoute } from '../routes/table.js';

/** Per-request facts gathered along the pipeline; feeds the access log line. */
export interface RequestContext {
  id: string;
  start: number;
  method: string;
  /** normalised path (or the raw one when normalisation failed; never logged for item routes) */
  path: string;
  query: string;
  route?: CompiledRoute;
  kind: string;
  removed: number;
  reveal: 'none' | 'granted' | 'ignored';
  principal?: string;
  /** SPEC §10: whether the reveal carried a reason (the access line never holds its text) */
  reason?: boolean;
  /** set once the request is answered, so late events do nothing */
  done: boolean;
  timer?: NodeJS.Timeout;
  proxyReq?: http.ClientRequest;
  upstreamStart?: number;
  note?: string;
}
