/**
 * `apg governance verify` says what it found and no more (issue 21.8, SPEC §12 v3):
 * a torn tail is reported (exit 0, exit 1 with --strict), an unparsable line before
 * a complete entry is a break, a checkpoints file with no checkpoint is an error,
 * the checkpoints file the gateway keeps beside the log is accepted, and a chain
 * rewritten after a deletion verifies on its own (the documented limit) but not
 * against checkpoints kept elsewhere.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileSink } from '../../src/governance/fileSink.js';
import { CLI, ensureBuilt } from '../helpers/build.js';
import { entryHash } from '../helpers/chainVerifier.js';
import { appendAndWake, appendMany, startRig, writeEd25519Key } from '../helpers/forwarding.js';
import { demoLikeConfig, tempDir } from '../helpers/gateway.js';

function cli(args: string[]): { code: number; out: string; err: string } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('APG_')));
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: clean, timeout: 60_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('apg governance verify', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let n = 0;

  /** a fresh folder with a governance file of `entries` entries and a config naming it */
  async function log(entries: number): Promise<{ sub: string; file: string; config: string }> {
    const sub = path.join(dir, `log-${++n}`);
    const file = path.join(sub, 'governance.jsonl');
    const sink = await openFileSink({ file, instance: 'verify-test' });
    await appendMany(sink, entries);
    await sink.close();
    const config = path.join(sub, 'gateway.json');
    writeFileSync(config, JSON.stringify(demoLikeConfig('http://127.0.0.1:9', sub, { governance: { sink: 'file', file } })));
    return { sub, file, config };
  }

  beforeAll(async () => {
    await ensureBuilt();
    ({ dir, cleanup } = await tempDir('apg-verify-'));
  }, 240_000);
  afterAll(async () => {
    await cleanup?.();
  });

  it('garbage after the last entry is a torn tail with its size and the seq before it: exit 0, exit 1 with --strict', async () => {
    const { file, config } = await log(5);
    const garbage = '{"seq":6,"id":"x","tim\nnot json at all\n';
    appendFileSync(file, garbage);
    const r = cli(['governance', 'verify', '--config', config]);
    expect(r.out).toContain('governance log OK: 5 entries');
    expect(r.out).toContain(`torn tail: ${Buffer.byteLength(garbage)} bytes after seq 5`);
    expect(r.code).toBe(0);
    const strict = cli(['governance', 'verify', '--strict', '--config', config]);
    expect(strict.out).toContain(`torn tail: ${Buffer.byteLength(garbage)} bytes after seq 5`);
    expect(strict.code).toBe(1);
    // without a final newline too (a crash mid-write)
    const { file: f2, config: c2 } = await log(3);
    appendFileSync(f2, '{"seq":4,"id":');
    const r2 = cli(['governance', 'verify', '--config', c2]);
    expect(r2.out).toContain('torn tail: 14 bytes after seq 3');
    expect(r2.code).toBe(0);
    // a clean log says nothing about a tail
    const { config: c3 } = await log(2);
    const r3 = cli(['governance', 'verify', '--strict', '--config', c3]);
    expect(r3.out).not.toContain('torn tail');
    expect(r3.code).toBe(0);
  });

  it('an unparsable line before a complete entry is a break, not a torn tail', async () => {
    const { file, config } = await log(5);
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.splice(3, 0, 'not json');
    writeFileSync(file, lines.join('\n'));
    const r = cli(['governance', 'verify', '--config', config]);
    expect(r.out).toMatch(/BROKEN at seq 4\b/);
    expect(r.out).not.toContain('torn tail');
    expect(r.code).toBe(1);
  });

  it('--checkpoints with a file holding no checkpoint: "no checkpoints", exit 1', async () => {
    const { sub, config } = await log(3);
    const { publicKeyFile } = writeEd25519Key(sub);
    for (const content of ['', '\n\n', 'hello\nworld\n']) {
      const cp = path.join(sub, 'empty.txt');
      writeFileSync(cp, content);
      const r = cli(['governance', 'verify', '--config', config, '--checkpoints', cp, '--public-key', publicKeyFile]);
      expect(r.out + r.err).toContain('no checkpoints');
      expect(r.out).not.toMatch(/checkpoints OK/);
      expect(r.code, JSON.stringify(content)).toBe(1);
    }
  });

  it('accepts the checkpoints file the gateway keeps beside the log; a truncation is said once, in plain words', async () => {
    const sub = path.join(dir, 'own');
    const { keyFile, publicKeyFile } = writeEd25519Key(path.join(dir));
    const rig = await startRig(path.join(dir), {
      // a target is needed for the gateway to make checkpoints; nothing listens there (UDP loses quietly)
      forward: [{ name: 'void', type: 'syslog', url: 'udp://127.0.0.1:9' }],
      checkpoint: { keyFile, everyEntries: 10, everySec: 3600 },
    });
    try {
      for (let i = 0; i < 3; i++) {
        await appendAndWake(rig, 10, i * 10 + 1);
        await rig.forwarding.tickCheckpoints();
      }
    } finally {
      await rig.close();
    }
    const own = `${rig.file}.checkpoints.jsonl`;
    expect(readFileSync(own, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(3);
    const config = path.join(dir, 'own.json');
    writeFileSync(config, JSON.stringify(demoLikeConfig('http://127.0.0.1:9', sub, { governance: { sink: 'file', file: rig.file } })));
    const ok = cli(['governance', 'verify', '--config', config, '--checkpoints', own, '--public-key', publicKeyFile]);
    expect(ok.out, ok.out + ok.err).toMatch(/checkpoints OK: 3 checked, chain ends at seq 30/);
    expect(ok.code).toBe(0);

    const lines = readFileSync(rig.file, 'utf8').trimEnd().split('\n');
    writeFileSync(rig.file, lines.slice(0, 22).join('\n') + '\n');
    const cut = cli(['governance', 'verify', '--config', config, '--checkpoints', own, '--public-key', publicKeyFile]);
    expect(cut.code).toBe(1);
    const line = cut.out.split('\n').find((l) => l.startsWith('checkpoint seq 30'))!;
    expect(line).toBeDefined();
    expect(line).toContain('truncated');
    // each thing once: no word said twice (e.g. "truncated: ... (22): truncated")
    const words = line.toLowerCase().match(/[a-z]+/g)!;
    for (const w of ['truncated', 'rewritten', 'removed', 'chain', 'end']) expect(words.filter((x) => x === w).length, line).toBeLessThanOrEqual(1);
  });

  it('an entry deleted and the file re-hashed: the chain alone verifies (the documented limit); checkpoints kept elsewhere catch it', async () => {
    const { sub, file, config } = await log(0);
    const { keyFile, publicKeyFile } = writeEd25519Key(sub);
    const rig = await startRig(sub, {
      forward: [{ name: 'void', type: 'syslog', url: 'udp://127.0.0.1:9' }],
      checkpoint: { keyFile, everyEntries: 10, everySec: 3600 },
    });
    const collected: string[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        await appendAndWake(rig, 10, i * 10 + 1);
        collected.push((await rig.forwarding.checkpoint())!); // what the SIEM holds: heads 10 and 20
      }
    } finally {
      await rig.close();
    }
    expect(rig.file).toBe(file);
    // someone who can write the file removes seq 5 and rewrites everything after it
    const entries = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    entries.splice(4, 1);
    let prev = '0'.repeat(64);
    for (const [i, e] of entries.entries()) {
      e.seq = i + 1;
      e.prevHash = prev;
      delete e.hash;
      e.hash = entryHash(prev, e);
      prev = e.hash as string;
    }
    writeFileSync(file, entries.map((e) => JSON.stringify(e) + '\n').join(''));

    const alone = cli(['governance', 'verify', '--config', config]);
    expect(alone.out).toContain('governance log OK: 19 entries');
    expect(alone.code).toBe(0);

    const held = path.join(sub, 'from-siem.txt');
    writeFileSync(held, collected.join('\n') + '\n');
    const withCps = cli(['governance', 'verify', '--config', config, '--checkpoints', held, '--public-key', publicKeyFile]);
    expect(withCps.code).toBe(1);
    expect(withCps.out).toMatch(/checkpoint seq 10 \(line 1\): rewritten/);
    expect(withCps.out).toMatch(/checkpoint seq 20 \(line 2\): truncated/);
  });
});
