#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { formatProblems, loadConfigFile, resolveConfigPath, type GatewayConfig } from './config/index.js';
import { checkConfigFiles } from './config/files.js';
import { startGateway, type Gateway } from './gateway.js';
import { verifyFile } from './governance/verify.js';

const USAGE = `Activity Privacy Gateway

Usage:
  apg serve [--config FILE]                 run the gateway
  apg check-config [--config FILE]          validate a configuration file (exit 1 on any problem)
  apg governance verify [--config FILE]     re-compute the governance hash chain (exit 1 if broken);
                                            bytes after the last entry are reported as a torn tail
        [--strict]                          a torn tail fails too (exit 1)
        [--checkpoints FILE --public-key PEM]  also check signed checkpoints (one JWS a line, any line
                                            format, e.g. the gateway's own <log>.checkpoints.jsonl)
                                            against the chain: bad signature, truncation, rewrite
                                            (exit 1; a file with no checkpoint is an error too)

The chain alone shows that entries fit together, not that none were removed: whoever can
rewrite the file can rewrite the chain. Checkpoints kept outside the gateway's reach show it.

Without --config: $APG_CONFIG, else config/gateway.yaml.
`;

function load(file: string): GatewayConfig | null {
  const r = loadConfigFile(file, process.env);
  if (r.ok) return r.config;
  process.stderr.write(`${file}: configuration has ${r.problems.length} problem(s):\n${formatProblems(r.problems)}\n`);
  return null;
}

async function serve(file: string): Promise<number> {
  const config = load(file);
  if (!config) return 1;
  let gateway: Gateway;
  try {
    gateway = await startGateway(config);
  } catch (err) {
    process.stderr.write(`apg: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  const log = gateway.logger;
  process.on('SIGHUP', () => {
    const r = loadConfigFile(file, process.env);
    if (!r.ok) {
      gateway.metrics.reloads.inc({ result: 'rejected' });
      log.error({ msg: 'config reload rejected; keeping the running config', problems: r.problems });
      return;
    }
    gateway.reload(r.config).catch((err) => {
      gateway.metrics.reloads.inc({ result: 'rejected' });
      log.error({ msg: 'config reload failed; keeping the running config', error: (err as Error).message });
    });
  });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ msg: 'shutting down', signal });
      gateway.close(10_000).then(
        () => resolve(0),
        (err) => {
          log.error({ msg: 'shutdown error', error: (err as Error).message });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      checkpoints: { type: 'string' },
      'public-key': { type: 'string' },
      strict: { type: 'boolean' },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const file = resolveConfigPath(values.config, process.env);
  const [cmd = 'serve', sub] = positionals;
  switch (cmd) {
    case 'serve':
      return serve(file);
    case 'check-config': {
      const r = loadConfigFile(file, process.env);
      // the files the config names are opened only once the config itself is valid
      const problems = r.ok ? checkConfigFiles(r.config) : r.problems;
      if (problems.length === 0) {
        process.stdout.write(`${file}: OK\n`);
        return 0;
      }
      process.stdout.write(`${formatProblems(problems)}\n`);
      process.stderr.write(`${file}: ${problems.length} problem(s)\n`);
      return 1;
    }
    case 'governance': {
      if (sub !== 'verify') break;
      const config = load(file);
      if (!config) return 1;
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
  }
  process.stderr.write(USAGE);
  return 2;
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
