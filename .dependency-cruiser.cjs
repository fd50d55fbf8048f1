/**
 * Dependency rules of src/ (docs/ARCHITECTURE.md "Dependency rules"), checked by `npm run lint`:
 * no import cycles (type-only imports included), the layers below, and what some layers
 * mean beyond their place in the order.
 * @type {import('dependency-cruiser').IConfiguration}
 */

/*
 * The layers, bottom-up. A module may import its own layer, any layer of a LOWER tier, and
 * the siblings its entry names; nothing of its own tier or above. no-circular alone cannot
 * see a cycle between folders (a → b in one file, b → a in another); this order can.
 * Every module of src/ belongs to exactly one layer.
 */
const LAYERS = [
  // tier 0: leaves, used by every layer; they import nothing of src/ but text.ts (the one
  // character rule, which principal.ts applies; text.ts itself imports nothing) and
  // metricSlots.ts (metrics.ts's per-request counters; it imports nothing of src/)
  { name: 'leaves', tier: 0, path: '^src/(errors|principal|clock|log|metrics|metricSlots|text)\\.ts$', also: ['^src/text\\.ts$', '^src/metricSlots\\.ts$'] },
  // tier 1: pure decision code and the scanning engine, side by side (neither knows the other)
  { name: 'privacy', tier: 1, path: '^src/privacy/' },
  { name: 'engine', tier: 1, path: '^src/engine/' },
  // tier 2: edges with no domain knowledge
  { name: 'db', tier: 2, path: '^src/db/' },
  { name: 'identity', tier: 2, path: '^src/identity/' },
  { name: 'notify', tier: 2, path: '^src/notify/' },
  // tier 3: state and directory sources (they speak privacy/'s interfaces)
  { name: 'directory', tier: 3, path: '^src/directory/' },
  { name: 'state', tier: 3, path: '^src/state/' },
  // tier 4: the configuration (its schema checks paths, filters, state files, JWKS files)
  { name: 'config', tier: 4, path: '^src/config/' },
  // tier 5: what the journey uses, each on its own: byte rewriting, the route table, the audit log
  { name: 'rewrite', tier: 5, path: '^src/rewrite/' },
  { name: 'routes', tier: 5, path: '^src/routes/' },
  { name: 'governance', tier: 5, path: '^src/governance/' },
  // tier 6: the HTTP journey
  { name: 'http', tier: 6, path: '^src/http/' },
  // tier 7: the console (served by the admin app)
  {
    name: 'console',
    tier: 7,
    path: '^src/console/',
  },
  // tier 8: the admin API
  { name: 'admin', tier: 8, path: '^src/admin/' },
  // tier 9: wiring
  { name: 'gateway', tier: 9, path: '^src/(gateway|gatewayParts|live)\\.ts$' },
  // tier 10: the processes of server.workers (a primary owning the stores, workers running the gateway)
  { name: 'cluster', tier: 10, path: '^src/cluster/' },
  // tier 11: entry points
  { name: 'cli', tier: 11, path: '^src/cli(Args)?\\.ts$' },
  { name: 'demo', tier: 11, path: '^src/demo/' },
];

for (const l of LAYERS)
  for (const p of l.pending ?? [])
    if (!LAYERS.some((x) => x.name === p)) throw new Error(`.dependency-cruiser.cjs: layer ${l.name} waits on an unknown layer ${p}`);

const layerRules = LAYERS.map((l) => ({
  name: `layer-${l.name}`,
  severity: 'error',
  comment:
    l.tier === 0
      ? `${l.name} import nothing of src/` + (l.also ? ` but ${l.also.join(', ')}` : '') + '.'
      : `${l.name} (tier ${l.tier}) imports only its own layer and lower tiers` + (l.pending ? ` (for now also: ${l.pending.join(', ')})` : '') + '.',
  from: { path: l.path },
  to: {
    path: '^src/',
    pathNot: [
      ...(l.tier === 0 ? [] : [l.path]),
      ...(l.also ?? []),
      ...LAYERS.filter((x) => x.tier < l.tier || (l.pending ?? []).includes(x.name)).map((x) => x.path),
    ],
  },
}));

const allLayers = LAYERS.map((l) => l.path);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles, not even through type-only imports.',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'every-module-has-a-layer',
      severity: 'error',
      comment: 'A new folder or root file of src/ gets its place in LAYERS (.dependency-cruiser.cjs) before it is imported.',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: allLayers },
    },
    {
      name: 'module-has-a-layer',
      severity: 'error',
      comment: 'A new folder or root file of src/ gets its place in LAYERS (.dependency-cruiser.cjs) before it imports.',
      from: { path: '^src/', pathNot: allLayers },
      to: { path: '^src/' },
    },
    {
      name: 'rewrite-knows-no-io',
      severity: 'error',
      comment: 'Body rewriting works on bytes and facts: below it in the order are edges (stores, directory, identity) it must not use either.',
      from: { path: '^src/rewrite/' },
      to: { path: '^src/(state|db|identity|directory|notify)/' },
    },
    {
      name: 'directory-knows-no-config',
      severity: 'error',
      comment:
        'The directory is below config, HTTP, admin, console and the wiring: callers hand it its config slice as data (DirectorySettings, directory/types.ts).',
      from: { path: '^src/directory/' },
      to: { path: '^src/(config|http|admin|console)/|^src/(gateway|gatewayParts|live)\\.ts$' },
    },
    {
      name: 'no-test-code-in-src',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
    // Up-arrows still in the code: give the layer `pending: ['<layer>']` in LAYERS and a TODO here.
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|dist-bench|node_modules)/' },
  },
};
