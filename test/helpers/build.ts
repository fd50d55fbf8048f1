/**
 * Makes sure `dist/` is built from the current `src/` before a test spawns the real CLI.
 * Builds (npm run build) only when dist/cli.js is missing or older than the newest file
 * under src/. A lock directory keeps two test files (separate worker processes) from
 * building at once; whoever gets it second re-checks and usually finds nothing to do.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist', 'cli.js');

const LOCK = path.join(os.tmpdir(), `apg-build-${Buffer.from(ROOT).toString('hex').slice(-32)}.lock`);
/** a lock older than this belongs to a build that died */
const STALE_LOCK_MS = 5 * 60_000;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export function distIsFresh(): boolean {
  const newest = Math.max(newestMtime(path.join(ROOT, 'src')), newestMtime(path.join(ROOT, 'assembly')));
  return existsSync(CLI) && statSync(CLI).mtimeMs >= newest;
}

function tryLock(): boolean {
  try {
    mkdirSync(LOCK);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) rmSync(LOCK, { recursive: true, force: true });
    } catch {
      /* someone else removed it */
    }
    return false;
  }
}

function runBuild(): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

/** Resolves once dist/ is at least as new as src/. Give the calling hook a generous timeout (a build takes ~30 s under load). */
export async function ensureBuilt(): Promise<void> {
  for (;;) {
    if (distIsFresh()) return;
    if (tryLock()) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  try {
    if (distIsFresh()) return;
    const { code, output } = await runBuild();
    // tsc still emits when other modules have type errors mid-edit; the CLI is usable if it was written
    if (!existsSync(CLI)) throw new Error(`npm run build produced no dist/cli.js:\n${output.slice(-4000)}`);
    if (code !== 0) console.warn(`[build] npm run build exited ${code}; using the emitted dist/ anyway:\n${output.slice(-2000)}`);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Runs fn while holding the build lock (nothing else builds dist/ meanwhile). */
export async function withBuildLock<T>(fn: () => T | Promise<T>): Promise<T> {
  while (!tryLock()) await new Promise((r) => setTimeout(r, 200));
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
