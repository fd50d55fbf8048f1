import { ERRORS, GatewayError } from '../errors.js';

/**
 * The upstream body cannot be filtered safely (malformed JSON, missing or
 * mistyped activity array, …). Callers answer 502 `upstream_body_invalid` and
 * send nothing of the body. Thrown by the scanners (wasmScan.ts, jsonScan.ts)
 * and by the filters built on them (rewrite/).
 *
 * `reason` is a short fixed description plus at most a byte offset: it never
 * carries body content, so it is safe to log.
 */
export class BodyInvalidError extends GatewayError {
  constructor(readonly reason: string) {
    super('upstream_body_invalid', `upstream body invalid: ${reason}`, { publicMessage: ERRORS.upstream_body_invalid.message });
  }
}
