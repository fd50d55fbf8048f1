import type http from 'node:http';

/**
 * An identity the gateway itself vouches for on a request it hands back into the pipeline:
 * the admin console's session (SPEC §13) calls the list route with it. It lives on a symbol
 * property of the request object, which nothing a client sends can set.
 */
export interface ForwardedIdentity {
  principal: string;
  roles: string[];
  isAdmin: boolean;
  iss: string;
  jti?: string;
  via: 'console';
}

const KEY = Symbol('apg.forwardedIdentity');
type Tagged = http.IncomingMessage & { [KEY]?: ForwardedIdentity };

export function setForwardedIdentity(req: http.IncomingMessage, identity: ForwardedIdentity): void {
  (req as Tagged)[KEY] = identity;
}

export function forwardedIdentityOf(req: http.IncomingMessage): ForwardedIdentity | undefined {
  return (req as Tagged)[KEY];
}
