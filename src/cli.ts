#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { reloadOnHangup, untilStopped } from './cluster/lifecycle.js';
import { runPrimary, workerCount } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { formatProblems, loadConfigFile, resolveConfigPath, type GatewayConfig } from './config/index.js';
import { checkConfigFile } from './config/check.js';
import { readArgs, USAGE, type Invocation, type Values } from './cliArgs.js';
import { checkDirectory, type PrivateGroup } from './directory/check.js';
import { createDirectory, localGroupNames } from './directory/index.js';
import { startGateway, type Gateway } from './gateway.js';
import { stateSeed } from './gatewayParts.js';
import { verifyFile } from './governance/verify.js';
import type { GroupInterval } from './privacy/types.js';
import { parseState } from './state/mutations.js';

function load(file: string): GatewayConfig | null {
  const r = loadConfigFile(file, process.env);
  if (r.ok) return r.config;
  process.stderr.write(`${file}: configuration has ${r.problems.length} problem(s):\n${formatProblems(r.problems)}\n`);
  return null;
}

async function serve(file: string): Promise<number> {
  const config = load(file);
  if (!config) return 1;
  // SPEC §8 v3: server.workers > 1 runs a primary (the stores' owner) and its workers (the journey)
  if (cluster.isWorker) return runWorker(config, file);
  const workers = workerCount(config.server.workers);
  if (workers > 1) return runPrimary(config, workers).catch(cannotStart);
  let gateway: Gateway;
  try {
    gateway = await startGateway(config);
  } catch (err) {
    return cannotStart(err);
  }
  reloadOnHangup(gateway, file);
  return untilStopped(gateway);
}

function cannotStart(err: unknown): number {
  process.stderr.write(`apg: cannot start: ${(err as Error).message}\n`);
  return 1;
}

/** `apg check-config`: schema and file problems in one run (exit 1 on any), then warnings (which do not fail). */
function checkConfig(file: string): number {
  const { problems, warnings } = checkConfigFile(file, process.env);
  if (problems.length > 0) process.stdout.write(`${formatProblems(problems)}\n`);
  for (const w of warnings) process.stdout.write(`warning: ${w.path}: ${w.message}\n`);
  if (problems.length === 0) {
    process.stdout.write(`${file}: OK\n`);
    return 0;
  }
  process.stderr.write(`${file}: ${problems.length} problem(s)\n`);
  return 1;
}

/** The state's group intervals, read without writing anything: the file as it is (none yet: none), or PostgreSQL. */
async function stateGroups(config: GatewayConfig): Promise<GroupInterval[]> {
  if (config.state.store === 'postgres') {
    const { openPostgresStateStore } = await import('./state/postgresStore.js');
    const store = await openPostgresStateStore({ url: config.state.postgresUrl!, seed: stateSeed(config), instance: 'apg-directory-check' });
    try {
      return store.current().groups;
    } finally {
      await store.close();
    }
  }
  let text: string;
  try {
    text = readFileSync(config.state.file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []; // not seeded yet: privacy.groups are all there is
    throw err;
  }
  return text.trim() === '' ? [] : parseState(JSON.parse(text)).groups;
}

/** Every group private now or later: privacy.groups and the state's groups, named as the catalogue names them locally. */
async function privateGroups(config: GatewayConfig, now = Date.now()): Promise<PrivateGroup[]> {
  const state = await stateGroups(config);
  const names = localGroupNames(config, state);
  const ids = new Set<string>();
  for (const g of [...config.privacy.groups, ...state]) if (g.privateUntil === null || g.privateUntil > now) ids.add(g.id);
  return [...ids].map((id) => ({ id, name: names.get(id) ?? id }));
}

/** `apg directory check` (SPEC §9): one line per private group; 1 when any group failed or a source could not be asked. */
async function directoryCheck(config: GatewayConfig): Promise<number> {
  const groups = await privateGroups(config);
  const directory = createDirectory(config.directory);
  try {
    const r = await checkDirectory(directory, groups);
    process.stdout.write(`${r.lines.join('\n')}\n`);
    return r.failed ? 1 : 0;
  } finally {
    directory.close();
  }
}

/** The package's version, from the package.json next to dist/. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** `apg governance verify`: the chain, then (with --checkpoints/--public-key) the checkpoints against it. */
async function governanceVerify(config: GatewayConfig, values: Values): Promise<number> {
  if ((values.checkpoints === undefined) !== (values['public-key'] === undefined)) {
    process.stderr.write('apg governance verify: --checkpoints and --public-key go together\n');
    return 2;
  }
  let code: number;
  if (config.governance.sink === 'postgres') {
    const { verifyPostgres } = await import('./governance/postgresVerify.js');
    code = report(await verifyPostgres(config.governance.postgresUrl!), values.strict === true);
  } else {
    code = report(await verifyFile(config.governance.file), values.strict === true);
  }
  if (values.checkpoints !== undefined && values['public-key'] !== undefined) {
    const { checkCheckpoints } = await import('./governance/checkpointCli.js');
    code = Math.max(code, await checkCheckpoints(config, values.checkpoints, values['public-key']));
  }
  return code;
}

/** `apg openapi`: the admin API's description, for the adminPrefix of --config when given. */
async function openapi(values: Values): Promise<number> {
  let prefix: string | undefined;
  if (values.config !== undefined) {
    const config = load(values.config);
    if (!config) return 1;
    prefix = config.server.adminPrefix;
  }
  const { openApiDocument } = await import('./admin/openapi.js');
  process.stdout.write(`${JSON.stringify(openApiDocument({ adminPrefix: prefix, version: version() }), null, 2)}\n`);
  return 0;
}

async function run(command: string, values: Values): Promise<number> {
  const file = resolveConfigPath(values.config, process.env);
  if (command === 'serve') return serve(file);
  if (command === 'check-config') return checkConfig(file);
  if (command === 'openapi') return openapi(values);
  const config = load(file);
  if (!config) return 1;
  return command === 'directory check' ? directoryCheck(config) : governanceVerify(config, values);
}

async function main(argv: string[]): Promise<number> {
  const what: Invocation = readArgs(argv);
  switch (what.kind) {
    case 'version':
      process.stdout.write(`apg ${version()}\n`);
      return 0;
    case 'help':
      process.stdout.write(what.command ? what.command.help : USAGE);
      return 0;
    case 'usage':
      process.stderr.write(`apg: ${what.message}\n\n${what.command ? what.command.help : USAGE}`);
      if (what.command) process.stderr.write('\nRun "apg help" for every command.\n');
      return 2;
    case 'run':
      return run(what.command, what.values);
  }
}

function report(r: { ok: boolean; count: number; brokenAtSeq?: number; tornTail?: { bytes: number; afterSeq: number } }, strict: boolean): number {
  if (!r.ok) {
    process.stdout.write(`governance log BROKEN at seq ${r.brokenAtSeq} (${r.count} entries read)\n`);
    return 1;
  }
  process.stdout.write(`governance log OK: ${r.count} entries\n`);
  if (!r.tornTail) return 0;
  // what a crash mid-write leaves (the gateway cuts it on start), or bytes someone appended
  process.stdout.write(`torn tail: ${r.tornTail.bytes} bytes after seq ${r.tornTail.afterSeq}${strict ? ' (--strict: fails)' : ''}\n`);
  return strict ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`apg: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
