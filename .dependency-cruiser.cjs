/**
 * Dependency rules of src/ (docs/ARCHITECTURE.md), checked by `npm run lint`:
 * no import cycles (type-only imports included), and the layers below.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, not even through type-only imports.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'privacy-is-pure',
      severity: 'error',
      comment: 'The decision code does no I/O and knows nothing of HTTP, stores or the audit log.',
      from: { path: '^src/privacy/' },
      to: { path: '^src/(state|http|admin|governance|identity|rewrite|db|demo)/|^src/gateway\\.ts$' },
    },
    {
      name: 'leaf-modules-import-nothing',
      severity: 'error',
      comment: 'src/errors.ts and src/principal.ts are used by every layer.',
      from: { path: '^src/(errors|principal|clock)\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'rewrite-knows-no-http',
      severity: 'error',
      comment: 'Body rewriting works on bytes and facts; the HTTP journey calls it, not the reverse.',
      from: { path: '^src/rewrite/' },
      to: { path: '^src/(http|admin|state|governance|identity|db|demo)/|^src/gateway\\.ts$' },
    },
    {
      name: 'stores-know-no-http',
      severity: 'error',
      comment: 'State and governance stores are I/O edges; HTTP and admin code use them, not the reverse.',
      from: { path: '^src/(state|governance|db)/' },
      to: { path: '^src/(http|admin|rewrite|demo)/|^src/gateway\\.ts$' },
    },
    {
      name: 'directory-knows-no-config',
      severity: 'error',
      comment: 'The directory is below config, HTTP, admin and console: callers hand it its config slice as data (directory/types.ts).',
      from: { path: '^src/directory/' },
      to: { path: '^src/(config|http|admin|console)/|^src/gateway\\.ts$' },
    },
    {
      name: 'no-test-code-in-src',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|dist-bench|node_modules)/' },
  },
};
