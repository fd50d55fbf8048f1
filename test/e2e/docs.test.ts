/**
 * Every fenced block of the documentation opened with ```sh runnable <kind> is run, as a
 * reader would paste it, with bash -euo pipefail:
 *   cli            in the repository, against the built CLI;
 *   demo           against `npm run demo`'s stack, started here in a temporary directory
 *                  (on free ports: the documented 8080/8081/8082/8083 are replaced);
 *   demo-approval  against the same with --approval;
 *   demo-ldap      against the same with --ldap (skipped loudly without slapd).
 * The demo must be ready in under 10 seconds. curl and jq are needed (skipped loudly without).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, ensureBuilt } from '../helpers/build.js';
import { DOC_FILES, runnableBlocks, type RunnableBlock } from '../helpers/docs.js';
import { slapdAvailable } from '../helpers/slapd.js';

const blocks: RunnableBlock[] = DOC_FILES.flatMap(runnableBlocks);
const tools = ['curl', 'jq'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (tools.length > 0) console.warn(`\n*** docs.test.ts: ${tools.join(', ')} missing: the runnable documentation blocks are SKIPPED ***\n`);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Stack {
  dir: string;
  ports: Record<string, number>;
  child: ChildProcess;
  readyMs: number;
}

/** The demo in a fresh directory that sees the repository's config/, dist/ and node_modules/. */
async function startDemo(kind: string): Promise<Stack> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'apg-docs-'));
  for (const f of ['config', 'dist', 'node_modules', 'package.json']) await symlink(path.join(ROOT, f), path.join(dir, f));
  const ports = { '8080': await freePort(), '8081': await freePort(), '8082': await freePort(), '8083': await freePort(), '8389': await freePort() };
  const args = [
    '--port',
    ports['8080'],
    '--upstream-port',
    ports['8081'],
    '--idp-port',
    ports['8082'],
    '--receiver-port',
    ports['8083'],
    '--ldap-port',
    ports['8389'],
  ].map(String);
  if (kind === 'demo-approval') args.push('--approval');
  if (kind === 'demo-ldap') args.push('--ldap');
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'demo', 'main.js'), ...args], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo was not ready in 30 s:\n${out}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ctrl-C stops everything')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`the demo exited (${code}):\n${out}`)));
  });
  return { dir, ports, child, readyMs: performance.now() - started };
}

async function stop(stack: Stack | undefined): Promise<void> {
  if (!stack) return;
  if (stack.child.exitCode === null) {
    const exited = new Promise((r) => stack.child.once('exit', r));
    stack.child.kill('SIGTERM');
    await exited;
  }
  await rm(stack.dir, { recursive: true, force: true });
}

function run(block: RunnableBlock, cwd: string, ports: Record<string, number> = {}) {
  let script = block.script;
  for (const [documented, real] of Object.entries(ports)) script = script.replaceAll(`127.0.0.1:${documented}`, `127.0.0.1:${real}`);
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(tools.length > 0)('runnable documentation blocks', () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 300_000);

  it('there are blocks of every kind', () => {
    expect(new Set(blocks.map((b) => b.kind))).toEqual(new Set(['cli', 'demo', 'demo-approval', 'demo-ldap']));
  });

  it.each(blocks.filter((b) => b.kind === 'cli').map((b, i) => [`${b.file} #${i + 1}`, b] as const))('cli: %s', (_name, block) => {
    const r = run(block, ROOT);
    expect(r.out).not.toMatch(/command not found/);
    expect(r.code, r.out).toBe(0);
  });

  const ldap = slapdAvailable();
  if (!ldap) console.warn('\n*** docs.test.ts: slapd / ldap-utils missing: the demo-ldap blocks are SKIPPED ***\n');
  for (const kind of ['demo', 'demo-approval', 'demo-ldap'] as const) {
    describe.skipIf(kind === 'demo-ldap' && !ldap)(kind, () => {
      let stack: Stack | undefined;
      beforeAll(async () => {
        stack = await startDemo(kind);
      }, 60_000);
      afterAll(() => stop(stack), 30_000);

      it('the demo is ready in under 10 s', () => {
        console.log(`${kind}: ready in ${(stack!.readyMs / 1000).toFixed(1)} s`);
        expect(stack!.readyMs).toBeLessThan(10_000);
      });

      // in document order: README first, then docs/ alphabetically (each block sources the tokens itself)
      it.each(blocks.filter((b) => b.kind === kind).map((b, i) => [`${b.file} #${i + 1}`, b] as const))('%s', (_name, block) => {
        const r = run(block, stack!.dir, stack!.ports);
        expect(r.out).not.toMatch(/command not found|Connection refused|"error":\{"code":"(unauthenticated|bad_request)"/);
        expect(r.code, r.out).toBe(0);
      });
    });
  }
});
