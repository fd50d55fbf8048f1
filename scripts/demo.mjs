#!/usr/bin/env node
/**
 * `npm run demo [-- options]`: starts the demo from dist/, building first only when dist/ is
 * missing or older than the sources (a fresh `npm ci` has built it through `prepare`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['src', 'assembly', 'ui/src', 'ui/index.html'];

function newest(p) {
  if (!existsSync(p)) return 0;
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(p).map((e) => newest(path.join(p, e))));
}

const main = path.join(root, 'dist', 'demo', 'main.js');
const built = ['dist/cli.js', 'dist/demo/main.js', 'dist/engine/scan.wasm'].map((f) => path.join(root, f));
const oldestBuilt = Math.min(...built.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
const newestSource = Math.max(...SOURCES.map((s) => newest(path.join(root, s))));
if (oldestBuilt < newestSource) {
  process.stderr.write('demo: dist/ is missing or older than the sources; building (npm run build)\n');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
await import(pathToFileURL(main).href);
