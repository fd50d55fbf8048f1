/**
 * Before any test: the WebAssembly engine (assembly/ → dist/engine/scan.wasm)
 * must be built from the current sources, since src/engine/wasmScan.ts loads
 * it (unit tests import src/ directly, without a full `npm run build`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WASM = path.join(ROOT, 'dist', 'engine', 'scan.wasm');
const ASSEMBLY = path.join(ROOT, 'assembly');

export default function setup(): void {
  const newest = Math.max(...readdirSync(ASSEMBLY).map((f) => statSync(path.join(ASSEMBLY, f)).mtimeMs));
  if (existsSync(WASM) && statSync(WASM).mtimeMs >= newest) return;
  execFileSync('npm', ['run', '--silent', 'build:wasm'], { cwd: ROOT, stdio: 'inherit' });
}
