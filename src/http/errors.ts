/**
 * From a thrown value to the SPEC §5 JSON answer. The table and the base class
 * live in src/errors.ts (every layer may throw them); this module is the one
 * place that turns them into a response, for the proxy pipeline and the admin
 * API alike.
 */
import type http from 'node:http';
import { ERRORS, GatewayError, type ErrorCode, type GatewayErrorOptions } from '../errors.js';

export { ERRORS, GatewayError, type ErrorCode, type GatewayErrorOptions };

/**
 * Any thrown value as the error the client gets: a GatewayError (or subclass) as
 * it is, anything else as `internal_error` (the original kept as `cause`).
 */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal_error', undefined, { cause: err });
}

/** true when the error was not one the gateway expected (worth an error log line) */
export function isUnexpected(err: GatewayError): boolean {
  return err.code === 'internal_error';
}

export function errorBody(err: GatewayError, requestId: string): Buffer {
  const error: Record<string, unknown> = { code: err.code, message: err.publicMessage, requestId };
  if (err.details) error.details = err.details;
  return Buffer.from(JSON.stringify({ error }));
}

/**
 * Sends the SPEC's JSON error for `err` (any thrown value). A response whose
 * headers already left is cut off instead. Returns the error that was answered.
 */
export function sendError(res: http.ServerResponse, err: unknown, requestId: string): GatewayError {
  const e = toGatewayError(err);
  if (res.headersSent) {
    res.destroy();
    return e;
  }
  const body = errorBody(e, requestId);
  for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
  res.statusCode = e.status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', body.length);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-request-id', requestId);
  for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
  res.end(res.req?.method === 'HEAD' ? undefined : body);
  return e;
}
