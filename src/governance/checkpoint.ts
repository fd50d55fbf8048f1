/**
 * Signed checkpoints of the governance chain head (SPEC §12): a compact JWS,
 * alg EdDSA (Ed25519), kid = RFC 7638 thumbprint of the public key, payload
 * {"type":"apg.checkpoint","seq","hash","time","instance"}. Someone holding a
 * checkpoint outside the gateway can later prove the chain was not cut short
 * or rewritten up to its seq.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, CompactSign, exportJWK } from 'jose';

export const CHECKPOINT_TYPE = 'apg.checkpoint';

export interface CheckpointPayload {
  type: typeof CHECKPOINT_TYPE;
  seq: number;
  hash: string;
  time: string;
  instance: string;
}

export interface CheckpointSigner {
  /** RFC 7638 thumbprint of the public key */
  readonly kid: string;
  sign(head: { seq: number; hash: string }, time: Date): Promise<string>;
}

/** The key is not an Ed25519 private key (a configuration error). */
export class CheckpointKeyError extends Error {}

export async function createCheckpointSigner(pem: string, instance: string): Promise<CheckpointSigner> {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new CheckpointKeyError('checkpoint key is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new CheckpointKeyError(`checkpoint key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  const kid = await calculateJwkThumbprint(await exportJWK(createPublicKey(key)));
  return {
    kid,
    sign(head, time) {
      const payload: CheckpointPayload = { type: CHECKPOINT_TYPE, seq: head.seq, hash: head.hash, time: time.toISOString(), instance };
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: 'EdDSA', kid }).sign(key);
    },
  };
}

/** Errors name the key path, as a configuration problem would (`apg serve` prints them). */
export async function loadCheckpointSigner(keyFile: string, instance: string): Promise<CheckpointSigner> {
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (err) {
    throw new CheckpointKeyError(`governance.checkpoint.keyFile: cannot read ${keyFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return await createCheckpointSigner(pem, instance);
  } catch (err) {
    throw new CheckpointKeyError(`governance.checkpoint.keyFile: ${keyFile}: ${(err as Error).message}`);
  }
}
