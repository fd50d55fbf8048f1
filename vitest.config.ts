import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // builds the WebAssembly engine (dist/engine/scan.wasm) when missing or older than assembly/
    globalSetup: ['test/globalSetup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // lets the memory tests collect garbage before sampling, so they measure what is retained
    execArgv: ['--expose-gc'],
    reporters: ['default'],
  },
});
