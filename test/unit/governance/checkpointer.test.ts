import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compactVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCheckpointSigner, CheckpointKeyError } from '../../../src/governance/checkpoint.js';
import { openFileSink, type FileGovernanceSink } from '../../../src/governance/fileSink.js';
import { Checkpointer } from '../../../src/governance/forward/checkpointer.js';
import { openFileForwardStore, type ForwardStore } from '../../../src/governance/forward/store.js';
import { appendMany, writeEd25519Key } from '../../helpers/forwarding.js';
import { tempDir } from '../../helpers/gateway.js';

describe('Checkpointer (injected clock, real file sink and store)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let sink: FileGovernanceSink;
  let store: ForwardStore;
  let clock: number;
  let cp: Checkpointer;
  let publicKeyFile: string;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('apg-cp-'));
    const file = path.join(dir, 'governance.jsonl');
    sink = await openFileSink({ file, instance: 'cp' });
    store = await openFileForwardStore(file);
    const keys = writeEd25519Key(dir);
    publicKeyFile = keys.publicKeyFile;
    const signer = await createCheckpointSigner(readFileSync(keys.keyFile, 'utf8'), 'gw-1');
    clock = Date.parse('2026-11-26T10:00:00.000Z');
    cp = new Checkpointer({ signer, source: sink, store, everyEntries: 10, everySec: 300, clock: { now: () => clock } });
  });
  afterEach(async () => {
    await store.close();
    await sink.close();
    await cleanup();
  });

  const seqs = async () => (await store.checkpointsAfter(0, 1000)).map((c) => c.seq);

  it('one after every everyEntries entries, at seq N, 2N, ...', async () => {
    await appendMany(sink, 25);
    expect(await cp.tick()).toBe(2);
    expect(await seqs()).toEqual([10, 20]);
    await appendMany(sink, 5, 26);
    expect(await cp.tick()).toBe(1);
    expect(await seqs()).toEqual([10, 20, 30]);
    expect(await cp.tick()).toBe(0);
  });

  it('every everySec seconds, only when entries were added since the last checkpoint', async () => {
    await appendMany(sink, 3);
    expect(await cp.tick()).toBe(0);
    clock += 299_999;
    expect(await cp.tick()).toBe(0);
    clock += 1;
    expect(await cp.tick()).toBe(1);
    expect(await seqs()).toEqual([3]);
    // nothing added: none after another period
    clock += 300_000;
    expect(await cp.tick()).toBe(0);
    await appendMany(sink, 2, 4);
    clock += 300_000;
    expect(await cp.tick()).toBe(1);
    expect(await seqs()).toEqual([3, 5]);
    // the payload carries the head and the injected time, signed with the key
    const [, second] = await store.checkpointsAfter(0, 10);
    const { payload } = await compactVerify(second.jws, createPublicKey(readFileSync(publicKeyFile, 'utf8')));
    const head = (await sink.read({ afterSeq: 4 })).entries[0];
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({
      type: 'apg.checkpoint',
      seq: 5,
      hash: head.hash,
      time: new Date(clock).toISOString(),
      instance: 'gw-1',
    });
  });

  it('the store survives a reopen; a torn last line is cut', async () => {
    await appendMany(sink, 20);
    await cp.tick();
    await store.close();
    const file = path.join(dir, 'governance.jsonl');
    const { appendFileSync } = await import('node:fs');
    appendFileSync(`${file}.checkpoints.jsonl`, '{"seq":30,"jws":"tor');
    store = await openFileForwardStore(file);
    expect(await seqs()).toEqual([10, 20]);
    expect(await store.lastCheckpointSeq()).toBe(20);
    await store.addCheckpoint({ seq: 25, jws: 'a.b.c' });
    expect(await seqs()).toEqual([10, 20, 25]);
    expect((await store.checkpointsAfter(10, 1)).map((c) => c.seq)).toEqual([20]);
  });

  it('a key that is not Ed25519 is refused with a clear error', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    await expect(createCheckpointSigner(String(rsa), 'x')).rejects.toThrow(CheckpointKeyError);
    await expect(createCheckpointSigner(String(rsa), 'x')).rejects.toThrow(/rsa, not Ed25519/);
    await expect(createCheckpointSigner('garbage', 'x')).rejects.toThrow(/not a PEM private key/);
  });
});
