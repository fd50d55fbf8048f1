import type { VerifyResult } from './types.js';

/** Replaced by the PostgreSQL sink's verifier; until then the CLI says plainly it is missing. */
export async function verifyPostgres(_url: string): Promise<VerifyResult> {
  throw new Error('governance.sink postgres is not available in this build');
}
