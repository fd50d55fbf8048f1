import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCheckpointSigner } from '../../../src/governance/checkpoint.js';
import { loadPublicKey, verifyCheckpoints } from '../../../src/governance/checkpointVerify.js';

const h = (n: number) => n.toString(16).padStart(64, '0');

async function* chain(n: number, hashOf = h, skip: number[] = []): AsyncGenerator<{ seq: number; hash: string }> {
  for (let s = 1; s <= n; s++) if (!skip.includes(s)) yield { seq: s, hash: hashOf(s) };
}

describe('verifyCheckpoints', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pem = String(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const pub = loadPublicKey(String(publicKey.export({ type: 'spki', format: 'pem' })));
  const at = new Date('2026-11-26T10:00:00Z');

  it('accepts checkpoints the chain still matches, including the empty chain', async () => {
    const signer = await createCheckpointSigner(pem, 'gw');
    const lines = [
      await signer.sign({ seq: 0, hash: h(0) }, at),
      await signer.sign({ seq: 5, hash: h(5) }, at),
      '',
      await signer.sign({ seq: 10, hash: h(10) }, at),
    ];
    expect(await verifyCheckpoints(lines, pub, chain(10))).toEqual({ checked: 3, found: 3, problems: [], chainEnd: 10 });
  });

  it('truncated, rewritten, removed, forged and foreign, each with its seq and line', async () => {
    const signer = await createCheckpointSigner(pem, 'gw');
    const other = await createCheckpointSigner(String(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })), 'x');
    const good7 = await signer.sign({ seq: 7, hash: h(7) }, at);
    const [hd, , sig] = good7.split('.');
    const forgedPayload = Buffer.from(JSON.stringify({ type: 'apg.checkpoint', seq: 8, hash: h(8), time: at.toISOString(), instance: 'gw' })).toString(
      'base64url',
    );
    const lines = [
      await signer.sign({ seq: 12, hash: h(12) }, at), // 1: beyond the end
      await signer.sign({ seq: 4, hash: h(4) }, at), // 2: rewritten below
      await signer.sign({ seq: 6, hash: h(6) }, at), // 3: removed from the chain
      `${hd}.${forgedPayload}.${sig}`, // 4: forged
      await other.sign({ seq: 3, hash: h(3) }, at), // 5: another key
      'garbage', // 6
    ];
    const r = await verifyCheckpoints(
      lines,
      pub,
      chain(10, (s) => (s === 4 ? h(999) : h(s)), [6]),
    );
    expect(r.chainEnd).toBe(10);
    expect(r.problems.map((p) => [p.line, p.seq, p.kind])).toEqual([
      [1, 12, 'truncated'],
      [2, 4, 'rewritten'],
      [3, 6, 'removed'],
      [4, 8, 'bad-signature'],
      [5, 3, 'bad-signature'],
      [6, null, 'malformed'],
    ]);
  });

  it('a public key that is not Ed25519 is refused', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' });
    expect(() => loadPublicKey(String(ec))).toThrow(/ec, not Ed25519/);
    expect(() => loadPublicKey('nope')).toThrow(/not a PEM key/);
  });
});
