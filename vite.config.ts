import { defineConfig } from 'vite';

/**
 * The admin console's single-page app (ui/ → dist/ui), served by the gateway under
 * {adminPrefix}/console/. Relative base: the prefix is configurable. Hashed file names under
 * assets/ (cached for a year); no inline script, so the CSP can forbid it.
 */
export default defineConfig({
  root: 'ui',
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
