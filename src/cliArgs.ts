/**
 * The commands of `apg`, their help texts, and reading the command line into one of them.
 * Node's own argument errors never reach the operator: every mistake (an unknown command or
 * option, a missing value, an option the command does not take) is one sentence saying what
 * was wrong, and the closest known name where there is one.
 */
import { parseArgs } from 'node:util';
import { closestKey } from './config/keys.js';

type OptionName = 'config' | 'help' | 'version' | 'checkpoints' | 'public-key' | 'strict';

const OPTIONS: Record<OptionName, { type: 'string' | 'boolean'; short?: string; value?: string }> = {
  config: { type: 'string', short: 'c', value: 'FILE' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  checkpoints: { type: 'string', value: 'FILE' },
  'public-key': { type: 'string', value: 'PEM' },
  strict: { type: 'boolean' },
};

export interface CommandHelp {
  /** the command's words, e.g. `governance verify` */
  name: string;
  /** the options it takes besides --help */
  options: readonly OptionName[];
  /** its usage line(s) in the overview */
  usage: string;
  /** `apg help <command>` */
  help: string;
}

const CONFIG_NOTE = 'Without --config: $APG_CONFIG, else config/gateway.yaml.';

export const COMMANDS: readonly CommandHelp[] = [
  {
    name: 'serve',
    options: ['config'],
    usage: 'apg serve [--config FILE]                 run the gateway',
    help: `apg serve [--config FILE]

Runs the gateway with the configuration FILE. SIGHUP re-reads and validates the file and
swaps it atomically (an invalid file keeps the running configuration and logs why);
SIGTERM / SIGINT stop accepting, let in-flight requests finish (up to 10 s) and exit 0.
Exit 1 when the configuration is invalid or the gateway cannot start (the reason is printed).
${CONFIG_NOTE}
`,
  },
  {
    name: 'check-config',
    options: ['config'],
    usage: 'apg check-config [--config FILE]          validate a configuration file (exit 1 on any problem)',
    help: `apg check-config [--config FILE]

Validates FILE and opens every file it names (JWKS, CA and key files, the governance and
state files): every problem on its own line with its key path, an unknown key with the
closest known one ("did you mean adminPrefix?"), then warnings, which do not fail.
Exit 0 when the file is usable, 1 on any problem.
${CONFIG_NOTE}
`,
  },
  {
    name: 'directory check',
    options: ['config'],
    usage: `apg directory check [--config FILE]       read up to 20 members of every private group from the LDAP /
                                            Graph source that lists it and look each up as an actor:
                                            one ok / FAIL line per group (exit 1 on any FAIL)`,
    help: `apg directory check [--config FILE]

For every private group (privacy.groups and the state), reads up to 20 members from the
LDAP or Graph source that lists it and looks each up exactly as an activity's actor is
looked up. One line a group: "ok <id> <name> (<n> members checked)", "FAIL <id> <name>:
<member> does not resolve to it", or "skip ..." for a group no LDAP or Graph source lists.
Exit 1 on any FAIL or when a source cannot be asked.
${CONFIG_NOTE}
`,
  },
  {
    name: 'governance verify',
    options: ['config', 'strict', 'checkpoints', 'public-key'],
    usage: `apg governance verify [--config FILE]     re-compute the governance hash chain (exit 1 if broken);
                                            bytes after the last entry are reported as a torn tail
        [--strict]                          a torn tail fails too (exit 1)
        [--checkpoints FILE --public-key PEM]  also check signed checkpoints (one JWS a line, any line
                                            format, e.g. the gateway's own <log>.checkpoints.jsonl)
                                            against the chain: bad signature, truncation, rewrite
                                            (exit 1; a file with no checkpoint is an error too)`,
    help: `apg governance verify [--config FILE] [--strict] [--checkpoints FILE --public-key PEM]

Re-computes the hash chain of the governance log the configuration names (file or
PostgreSQL): "governance log OK: <n> entries" (exit 0) or "governance log BROKEN at seq <s>"
(exit 1). Bytes after the last complete entry are reported as "torn tail: <n> bytes after
seq <s>" (exit 0, exit 1 with --strict).

--checkpoints FILE --public-key PEM (always together) also checks signed checkpoints, one
a line in any line format, against the chain: a bad signature, a checkpoint beyond the end
of the chain (truncated) or a different hash at its seq (rewritten) fails (exit 1); so does
a file holding no checkpoint at all.

The chain alone shows that entries fit together, not that none were removed: whoever can
rewrite the file can rewrite the chain. Checkpoints kept outside the gateway's reach show it.
${CONFIG_NOTE}
`,
  },
  {
    name: 'openapi',
    options: ['config'],
    usage: 'apg openapi [--config FILE]               print the OpenAPI 3.1 description of the admin API (JSON)',
    help: `apg openapi [--config FILE]

Prints the OpenAPI 3.1 description of the admin API as JSON, generated from the schemas
that validate the requests. The server URL is the adminPrefix of FILE when --config is
given, else the default /_gateway. A running gateway serves the same document at
{adminPrefix}/api/openapi.json.
`,
  },
  {
    name: 'help',
    options: [],
    usage: 'apg help [COMMAND]                        this overview, or one command in detail',
    help: `apg help [COMMAND]

Prints the overview of the commands, or the help of one command (e.g. apg help governance verify).
`,
  },
];

export const USAGE = `Activity Privacy Gateway

Usage:
${COMMANDS.map((c) => `  ${c.usage}`).join('\n')}
  apg --version                             the version

The chain alone shows that entries fit together, not that none were removed: whoever can
rewrite the file can rewrite the chain. Checkpoints kept outside the gateway's reach show it.

${CONFIG_NOTE}
`;

export interface Values {
  config?: string;
  checkpoints?: string;
  'public-key'?: string;
  strict?: boolean;
}

export type Invocation =
  | { kind: 'run'; command: string; values: Values }
  | { kind: 'help'; command?: CommandHelp }
  | { kind: 'version' }
  | { kind: 'usage'; message: string; command?: CommandHelp };

const NAMES = Object.keys(OPTIONS) as OptionName[];
const flag = (n: OptionName) => `--${n}`;

/** The mistake in one option token, or undefined when it is fine. */
function optionProblem(t: { name: string; rawName: string; value?: string; inlineValue?: boolean }): string | undefined {
  const spec = OPTIONS[t.name as OptionName] as (typeof OPTIONS)[OptionName] | undefined;
  if (!spec) {
    const meant = t.rawName.startsWith('--') ? closestKey(t.name, NAMES) : undefined;
    return `unknown option ${t.rawName}${meant ? `, did you mean --${meant}?` : ''}`;
  }
  if (spec.type === 'boolean') return t.value === undefined ? undefined : `${t.rawName} takes no value`;
  if (t.value === undefined || t.value === '' || (!t.inlineValue && t.value.startsWith('-'))) return `${t.rawName} needs a value: ${t.rawName} ${spec.value}`;
  return undefined;
}

/** The command named by the positionals (one or two words), or a message. */
function findCommand(words: string[]): { command: CommandHelp; rest: string[] } | { message: string } {
  const two = COMMANDS.find((c) => c.name === words.slice(0, 2).join(' '));
  const one = COMMANDS.find((c) => c.name === words[0]);
  const command = two ?? one;
  if (command) return { command, rest: words.slice(command.name.split(' ').length) };
  const group = COMMANDS.filter((c) => c.name.split(' ')[0] === words[0]);
  if (group.length > 0) return { message: `apg ${words[0]} needs a subcommand: ${group.map((c) => c.name).join(', ')}` };
  const meant = closestKey(words[0], [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]))]);
  return { message: `unknown command "${words[0]}"${meant ? `, did you mean ${meant}?` : ''}` };
}

/** argv (without node and the script) as what to do. */
export function readArgs(argv: string[]): Invocation {
  const options = Object.fromEntries(Object.entries(OPTIONS).map(([k, v]) => [k, v.short ? { type: v.type, short: v.short } : { type: v.type }]));
  const { values, positionals, tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const problem = optionProblem(t);
    if (problem) return { kind: 'usage', message: problem };
  }
  if (values.version === true) return { kind: 'version' };
  if (positionals.length === 0) return values.help === true ? { kind: 'help' } : { kind: 'usage', message: 'no command given' };
  if (positionals[0] === 'help' && positionals.length > 1) {
    const found = findCommand(positionals.slice(1));
    if ('message' in found) return { kind: 'usage', message: found.message };
    return found.rest.length > 0 ? { kind: 'usage', message: `unexpected argument "${found.rest[0]}"` } : { kind: 'help', command: found.command };
  }
  const found = findCommand(positionals);
  if ('message' in found) return { kind: 'usage', message: found.message };
  const { command, rest } = found;
  if (command.name === 'help' || values.help === true) return { kind: 'help', ...(command.name === 'help' ? {} : { command }) };
  if (rest.length > 0) return { kind: 'usage', message: `unexpected argument "${rest[0]}" after apg ${command.name}`, command };
  for (const t of tokens) {
    if (t.kind === 'option' && !command.options.includes(t.name as OptionName) && t.name !== 'help')
      return { kind: 'usage', message: `apg ${command.name} does not take ${flag(t.name as OptionName)}`, command };
  }
  return { kind: 'run', command: command.name, values: values };
}
