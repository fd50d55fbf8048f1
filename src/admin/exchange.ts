import type http from 'node:http';

/** What the admin API needs to know about the request (the pipeline's Exchange provides it). */
export interface AdminExchange {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  /** set once the admin token verified (access line) */
  principal?: string;
  /** why a sent token did not verify (access line) */
  tokenError?: string;
}
