/**
 * Every error the gateway answers with (SPEC §5), one row each: status, default
 * message and the extra headers that belong to the code. `ErrorCode` is derived
 * from the table, so a code cannot exist without its status and message.
 *
 * Domain errors (state, governance, rewrite, …) subclass `GatewayError` and carry
 * their code; `src/http/errors.ts` turns any thrown value into the JSON answer.
 * This module imports nothing, so every layer may depend on it.
 */

interface ErrorRow {
  readonly status: number;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export const ERRORS = {
  bad_path: { status: 400, message: 'The request path is not acceptable (encoded separators, dot tricks or control characters). Send a plain path.' },
  bad_reveal_header: { status: 400, message: 'X-Show-Private-Activities accepts only the configured confirmation value.' },
  bad_request: { status: 400, message: 'The request body is not valid for this endpoint.' },
  reason_required: { status: 400, message: 'Revealing private activities needs a reason.' },
  bad_reason: { status: 400, message: 'The reason for revealing private activities is not acceptable.' },
  bad_scope: { status: 400, message: 'The scope of the reveal is not acceptable.' },
  unauthenticated: { status: 401, message: 'Viewing private activities needs a valid admin bearer token.', headers: { 'www-authenticate': 'Bearer' } },
  reveal_forbidden: { status: 403, message: 'This principal is not permitted to view private activities. Ask an administrator for the permission.' },
  approval_required: { status: 403, message: 'Revealing these private activities needs an approved reveal request.' },
  forbidden: { status: 403, message: 'This endpoint needs a token with an admin role.' },
  self_grant: { status: 403, message: 'An administrator cannot grant a permission to themselves.' },
  self_approval: { status: 403, message: 'An administrator cannot approve their own reveal request.' },
  not_found: { status: 404, message: 'Not found.' },
  route_denied: { status: 404, message: 'This path is not served by the gateway.' },
  method_not_allowed: { status: 405, message: 'Method not allowed.' },
  conflict: { status: 409, message: 'The change conflicts with the current state.' },
  unknown_group: { status: 422, message: 'The group is not in the directory catalogue.' },
  unknown_principal: { status: 422, message: 'The principal is not known to the directory.' },
  not_an_admin: { status: 422, message: 'The principal does not hold an admin role.' },
  internal_error: { status: 500, message: 'The gateway failed to handle the request; nothing private was sent.' },
  upstream_unavailable: { status: 502, message: 'The activity-log API could not be reached. Try again later.' },
  upstream_body_invalid: { status: 502, message: 'The activity-log API answered with a body the gateway cannot filter; nothing was sent.' },
  upstream_body_too_large: {
    status: 502,
    message: 'The activity-log API answered with a body larger than the gateway may buffer; nothing was sent. Ask for a smaller page.',
  },
  identity_unavailable: { status: 503, message: "The identity provider's keys cannot be fetched; private activities cannot be revealed now." },
  governance_unavailable: { status: 503, message: 'The governance log cannot be written; private activities cannot be revealed now.' },
  state_unavailable: { status: 503, message: 'The privacy state cannot be written now; nothing changed.' },
  directory_unavailable: { status: 503, message: 'The directory cannot be reached; the check that needs it cannot be made now.' },
  upstream_timeout: { status: 504, message: 'The activity-log API did not answer in time.' },
} as const satisfies Record<string, ErrorRow>;

export type ErrorCode = keyof typeof ERRORS;

/** Whether a string is a code of the table (codes that cross a process boundary). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/** The row of a code, typed as a row (so optional fields read uniformly). */
export function errorRow(code: ErrorCode): ErrorRow {
  return ERRORS[code];
}

export interface GatewayErrorOptions {
  cause?: unknown;
  /** goes into the JSON body beside code, message and requestId (SPEC §5) */
  details?: Record<string, unknown>;
  /** added to (or overriding) the row's headers */
  headers?: Record<string, string>;
  /**
   * what the client reads; default: `message`, else the row's message. Errors whose
   * `message` is for operators only (it may name a file or a database fault) pass the
   * row's message here.
   */
  publicMessage?: string;
}

/**
 * Base of every error that carries its answer. `name` is the subclass name, so
 * logs say which error it was; code decides the answer, never the name.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly publicMessage: string;

  constructor(code: ErrorCode, message?: string, options: GatewayErrorOptions = {}) {
    super(message ?? ERRORS[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.details) this.details = options.details;
    this.headers = { ...errorRow(code).headers, ...options.headers };
    this.publicMessage = options.publicMessage ?? message ?? ERRORS[code].message;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }
}
