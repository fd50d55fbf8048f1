/**
 * An identity the gateway itself vouches for on a request it hands back into the pipeline:
 * the admin console's session (SPEC §13) calls the list route with it. It is passed to the
 * pipeline as an argument (never read from anything a client sends).
 */
export interface VouchedIdentity {
  principal: string;
  roles: string[];
  isAdmin: boolean;
  iss: string;
  jti?: string;
  via: 'console';
}
