/** The checkpoint part of `apg governance verify` (SPEC §12): prints one line per problem, answers the exit code. */
import { readFile } from 'node:fs/promises';
import type { GatewayConfig } from '../config/index.js';
import { loadPublicKey, verifyCheckpoints } from './checkpointVerify.js';
import { fileChainHeads } from './verify.js';

export async function checkCheckpoints(config: GatewayConfig, checkpointsFile: string, publicKeyFile: string): Promise<number> {
  let key;
  let text: string;
  try {
    key = loadPublicKey(await readFile(publicKeyFile, 'utf8'));
    text = await readFile(checkpointsFile, 'utf8');
  } catch (err) {
    process.stderr.write(`apg governance verify: ${(err as Error).message}\n`);
    return 1;
  }
  const chain =
    config.governance.sink === 'postgres'
      ? (await import('./postgresVerify.js')).postgresChainHeads(config.governance.postgresUrl!)
      : fileChainHeads(config.governance.file);
  const r = await verifyCheckpoints(text.split('\n'), key, chain);
  if (r.found === 0) {
    // nothing to check against is not a pass: a wrong or empty file must not read as OK
    for (const p of r.problems) process.stdout.write(`line ${p.line}: ${p.message}\n`);
    process.stdout.write(`no checkpoints: ${checkpointsFile} holds no signed checkpoint (one compact JWS a line)\n`);
    return 1;
  }
  for (const p of r.problems) {
    process.stdout.write(`checkpoint seq ${p.seq ?? '?'} (line ${p.line}): ${p.kind}: ${p.message}\n`);
  }
  if (r.problems.length === 0) {
    process.stdout.write(`checkpoints OK: ${r.checked} checked, chain ends at seq ${r.chainEnd}\n`);
    return 0;
  }
  process.stdout.write(`checkpoints FAILED: ${r.problems.length} of ${r.checked} do not match the chain (ends at seq ${r.chainEnd})\n`);
  return 1;
}
