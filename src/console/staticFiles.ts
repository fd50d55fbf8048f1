/**
 * The built single-page app (`npm run build` → dist/ui): index.html is never cached (it
 * names the current hashed bundles); files under assets/ carry a content hash in their
 * name and are cached for a year. Only names listed when the directory is read are served.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/ui beside the compiled server (dist/console/*.js) and for the sources (src/console/*.ts) alike. */
export const DEFAULT_UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/ui');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
};

export interface StaticFile {
  body: Buffer;
  type: string;
  immutable: boolean;
}

export interface StaticFiles {
  /** false when the app was not built */
  available: boolean;
  index(): StaticFile | undefined;
  asset(name: string): StaticFile | undefined;
}

export function loadStaticFiles(dir = DEFAULT_UI_DIR): StaticFiles {
  const cache = new Map<string, StaticFile>();
  const indexPath = path.join(dir, 'index.html');
  const assetsDir = path.join(dir, 'assets');
  let names: Set<string> | undefined;
  const assetNames = () => {
    names ??= new Set(existsSync(assetsDir) ? readdirSync(assetsDir) : []);
    return names;
  };
  return {
    available: existsSync(indexPath),
    index() {
      if (!existsSync(indexPath)) return undefined;
      let f = cache.get('index.html');
      if (!f) {
        f = { body: readFileSync(indexPath), type: TYPES['.html'], immutable: false };
        cache.set('index.html', f);
      }
      return f;
    },
    asset(name) {
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/.test(name) || !assetNames().has(name)) return undefined;
      const type = TYPES[path.extname(name)];
      if (type === undefined) return undefined;
      let f = cache.get(name);
      if (!f) {
        f = { body: readFileSync(path.join(assetsDir, name)), type, immutable: true };
        cache.set(name, f);
      }
      return f;
    },
  };
}
