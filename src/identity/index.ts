/** Admin identity: JWT verification of gateway admin tokens (SPEC §3 identity, §4 step 3). */
export {
  createIdentityVerifier,
  extractBearer,
  jwksFileProblem,
  MAX_HEADER_BYTES,
  type IdentityOptions,
  type IdentityResult,
  type IdentityVerifier,
} from './verifier.js';
export { invalidTokenWhy, unauthenticated, UnauthenticatedError, type InvalidTokenWhy } from './challenge.js';
