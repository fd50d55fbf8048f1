/**
 * Crash safety with the real sink: a child process (the sink compiled with tsc
 * into a temp dir) appends in a burst and prints each acknowledged seq; it is
 * SIGKILLed mid-burst. Every acknowledged entry must survive, the chain must
 * verify, and appends must continue after reopening.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileSink } from '../../../src/governance/fileSink.js';
import type { GovernanceEntry } from '../../../src/governance/types.js';
import { verifyFile } from '../../../src/governance/verify.js';
import { verifyChainFile } from '../../helpers/chainVerifier.js';

let work = '';
let childScript = '';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'apg-gov-crash-'));
  const out = join(work, 'out');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const root = resolve(import.meta.dirname, '../../..');
  execFileSync(
    process.execPath,
    [
      tsc,
      '--outDir',
      out,
      '--rootDir',
      join(root, 'src'),
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--target',
      'ES2022',
      '--strict',
      '--skipLibCheck',
      '--types',
      'node',
      '--typeRoots',
      join(root, 'node_modules/@types'),
      join(root, 'src/governance/fileSink.ts'),
    ],
    { cwd: root, stdio: 'pipe' },
  );
  await writeFile(join(out, 'package.json'), '{"type":"module"}\n');
  childScript = join(work, 'child.mjs');
  await writeFile(
    childScript,
    `
import { openFileSink } from ${JSON.stringify(pathToFileURL(join(out, 'governance/fileSink.js')).href)};
const sink = await openFileSink({ file: process.argv[2], instance: 'child' });
let n = 0;
async function worker() {
  for (;;) {
    const i = n++;
    const e = await sink.append({ action: 'private-activities.viewed', principal: 'p@x', via: 'header',
      privateActivities: { count: 1, ids: ['act-' + i] } });
    process.stdout.write(e.seq + '\\n'); // synchronous on a pipe: printed means acknowledged
  }
}
for (let w = 0; w < 16; w++) worker();
`,
  );
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Runs the child until it has acknowledged at least `atLeast` entries, then SIGKILLs it. */
function burstAndKill(file: string, atLeast: number): Promise<number[]> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [childScript, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: number[] = [];
    let buf = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) acked.push(Number(l));
      if (!killed && acked.length >= atLeast) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own: ${stderr}`));
      else resolvePromise(acked);
    });
  });
}

async function readAll(file: string): Promise<GovernanceEntry[]> {
  const sink = await openFileSink({ file, instance: 'parent' });
  const all: GovernanceEntry[] = [];
  let afterSeq = 0;
  for (;;) {
    const page = await sink.read({ afterSeq, limit: 1000 });
    all.push(...page.entries);
    if (page.entries.length === 0) break;
    afterSeq = page.nextAfterSeq;
  }
  await sink.close();
  return all;
}

describe('crash safety (SIGKILL mid-burst)', () => {
  it('keeps every acknowledged entry, verifies, and continues after each of three crashes', async () => {
    const file = join(work, 'data', 'governance.log');
    let totalAcked = 0;
    for (let round = 0; round < 3; round++) {
      const acked = await burstAndKill(file, 150);
      expect(acked.length).toBeGreaterThanOrEqual(150);
      totalAcked += acked.length;
      const entries = await readAll(file); // opening also cuts any torn tail
      const seqs = new Set(entries.map((e) => e.seq));
      for (const s of acked) expect(seqs.has(s)).toBe(true);
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: entries.length }, (_, i) => i + 1));
      expect(entries.length).toBeGreaterThanOrEqual(totalAcked);
      expect(await verifyFile(file)).toEqual({ ok: true, count: entries.length });
      expect(verifyChainFile(file)).toMatchObject({ ok: true, count: entries.length });
    }
    const sink = await openFileSink({ file, instance: 'parent' });
    const before = (await sink.verify()).count;
    expect((await sink.append({ action: 'privacy-group.added', principal: 'admin@x', target: 'g' })).seq).toBe(before + 1);
    await sink.close();
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: before + 1 });
  });
});
