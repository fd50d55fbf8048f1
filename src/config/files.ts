/**
 * The files a valid configuration names, opened the way the gateway will open
 * them (`apg check-config`): a config that passes here does not fail at start
 * because of a missing, unreadable or malformed file. Problems carry the key path.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
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

type PemKind = 'certificate' | 'key';

function pemProblem(file: string, kind: PemKind): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : 'unreadable';
    return `cannot read ${file} (${code})`;
  }
  try {
    if (kind === 'certificate') {
      if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate');
      new X509Certificate(text);
    } else {
      createPrivateKey(text);
    }
  } catch {
    return `${file} does not hold a PEM ${kind === 'certificate' ? 'certificate' : 'private key'}`;
  }
  return undefined;
}

/**
 * The directory's CA files and Graph certificate must be readable PEM (SPEC §9). Run by
 * loadConfigFile, so `serve` refuses them as `check-config` reports them.
 */
export function directoryFileProblems(config: GatewayConfig): ConfigProblem[] {
  const checks: Array<[string, string | null | undefined, PemKind]> = [
    ['directory.ldap.tls.caFile', config.directory.ldap?.tls.caFile, 'certificate'],
    ['directory.graph.tls.caFile', config.directory.graph?.tls.caFile, 'certificate'],
    ['directory.graph.certificate.certFile', config.directory.graph?.certificate?.certFile, 'certificate'],
    ['directory.graph.certificate.keyFile', config.directory.graph?.certificate?.keyFile, 'key'],
  ];
  const out: ConfigProblem[] = [];
  for (const [key, file, kind] of checks) {
    if (!file) continue;
    const message = pemProblem(file, kind);
    if (message) out.push({ path: key, message });
  }
  return out;
}
