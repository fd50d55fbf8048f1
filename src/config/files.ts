/**
 * The files a valid configuration names, opened the way the gateway will open
 * them (`apg check-config`): a config that passes here does not fail at start
 * because of a missing, unreadable or malformed file. Problems carry the key path.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { jwksFileProblem } from '../identity/index.js';
import { parseState } from '../state/mutations.js';
import type { ConfigProblem, GatewayConfig } from './schema.js';

/** A file the gateway appends to or rewrites: an existing regular file it may read and write, or a place it may create one. */
function writableFileProblem(file: string): string | undefined {
  try {
    const st = statSync(file);
    if (!st.isFile()) return `${file}: exists but is not a regular file`;
    accessSync(file, constants.R_OK | constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `${file}: cannot be read and written (${code ?? (err as Error).message})`;
  }
  // missing: the nearest existing ancestor must be a writable directory (the gateway creates the rest)
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    try {
      if (!statSync(dir).isDirectory()) return `${file}: ${dir} is not a directory`;
      accessSync(dir, constants.W_OK);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') return `${file}: cannot be created in ${dir} (${code ?? (err as Error).message})`;
      const up = path.dirname(dir);
      if (up === dir) return `${file}: no existing directory to create it in`;
      dir = up;
    }
  }
}

function stateFileProblem(file: string): string | undefined {
  const p = writableFileProblem(file);
  if (p) return p;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined; // not there yet: seeded at start
  }
  if (text.trim() === '') return undefined;
  try {
    parseState(JSON.parse(text));
    return undefined;
  } catch (err) {
    return `${file}: not a state document (${(err as Error).message.split('\n')[0]})`;
  }
}

export function checkConfigFiles(config: GatewayConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, message: string | undefined): void => {
    if (message !== undefined) problems.push({ path: key, message });
  };
  if (config.identity?.jwksFile) add('identity.jwksFile', jwksFileProblem(config.identity.jwksFile));
  if (config.governance.sink === 'file') add('governance.file', writableFileProblem(config.governance.file));
  if (config.state.store === 'file') add('state.file', stateFileProblem(config.state.file));
  return problems;
}
