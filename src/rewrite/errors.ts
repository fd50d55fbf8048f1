import { ERRORS, GatewayError } from '../errors.js';

/** The export cannot be filtered safely (malformed, truncated, oversized): the stream is cut off. */
export class ExportStructureError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('upstream_body_invalid', message, { ...options, publicMessage: ERRORS.upstream_body_invalid.message });
  }
}
