import type http from 'node:http';

export type ErrorCode =
  | 'bad_path' | 'bad_reveal_header' | 'bad_request' | 'unauthenticated' | 'reveal_forbidden' | 'forbidden'
  | 'not_found' | 'route_denied' | 'conflict' | 'upstream_unavailable' | 'upstream_body_invalid'
  | 'upstream_body_too_large' | 'identity_unavailable' | 'governance_unavailable' | 'upstream_timeout'
  | 'method_not_allowed' | 'internal_error' | 'reason_required' | 'bad_reason' | 'bad_scope' | 'unknown_group'
  | 'directory_unavailable';

export const STATUS: Record<ErrorCode, number> = {
  bad_path: 400, bad_reveal_header: 400, bad_request: 400, unauthenticated: 401, reveal_forbidden: 403,
  forbidden: 403, not_found: 404, route_denied: 404, conflict: 409, method_not_allowed: 405,
  upstream_unavailable: 502, upstream_body_invalid: 502, upstream_body_too_large: 502,
  identity_unavailable: 503, governance_unavailable: 503, upstream_timeout: 504, internal_error: 500,
  reason_required: 400, bad_reason: 400, bad_scope: 400, unknown_group: 422, directory_unavailable: 503,
};

const DEFAULT_MESSAGES: Record<ErrorCode, string> = {
  bad_path: 'The request path is not acceptable (encoded separators, dot tricks or control characters). Send a plain path.',
  bad_reveal_header: 'X-Show-Private-Activities accepts only the configured confirmation value.',
  bad_request: 'The request body is not valid for this endpoint.',
  unauthenticated: 'Viewing private activities needs a valid admin bearer token.',
  reveal_forbidden: 'This principal is not permitted to view private activities. Ask an administrator for the permission.',
  forbidden: 'This endpoint needs a token with an admin role.',
  not_found: 'Not found.',
  route_denied: 'This path is not served by the gateway.',
  conflict: 'The change conflicts with the current state.',
  method_not_allowed: 'Method not allowed.',
  upstream_unavailable: 'The activity-log API could not be reached. Try again later.',
  upstream_body_invalid: 'The activity-log API answered with a body the gateway cannot filter; nothing was sent.',
  upstream_body_too_large: 'The activity-log API answered with a body larger than the gateway may buffer; nothing was sent. Ask for a smaller page.',
  identity_unavailable: "The identity provider's keys cannot be fetched; private activities cannot be revealed now.",
  governance_unavailable: 'The governance log cannot be written; private activities cannot be revealed now.',
  upstream_timeout: 'The activity-log API did not answer in time.',
  internal_error: 'The gateway failed to handle the request; nothing private was sent.',
  reason_required: 'Revealing private activities needs a reason.',
  bad_reason: 'The reason for revealing private activities is not acceptable.',
  bad_scope: 'The scope of the reveal is not acceptable.',
  unknown_group: 'The group is not in the directory catalogue.',
  directory_unavailable: 'The directory cannot be reached; the check that needs it cannot be made now.',
};

export class GatewayError extends Error {
  constructor(readonly code: ErrorCode, message?: string) {
    super(message ?? DEFAULT_MESSAGES[code]);
  }
}

export function errorBody(code: ErrorCode, requestId: string, message?: string): Buffer {
  return Buffer.from(JSON.stringify({ error: { code, message: message ?? DEFAULT_MESSAGES[code], requestId } }));
}

/** Sends the SPEC's JSON error. A response whose headers already left is cut off instead. */
export function sendError(res: http.ServerResponse, code: ErrorCode, requestId: string, message?: string, extraHeaders?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(code, requestId, message);
  for (const name of res.getHeaderNames()) if (name !== 'x-request-id') res.removeHeader(name);
  res.statusCode = STATUS[code];
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', body.length);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-request-id', requestId);
  if (extraHeaders) for (const [k, v] of Object.entries(extraHeaders)) res.setHeader(k, v);
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}
