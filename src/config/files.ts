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
import { parsePseudonymKey } from '../privacy/pseudonym.js';
import type { ConfigProblem } from './schema.js';

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

/** A PEM file the gateway reads: `judge` says what is wrong with its text. */
function pemFileProblem(file: string, judge: (text: string) => string | undefined): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `cannot read ${file}${code ? ` (${code})` : ''}`;
  }
  const problem = judge(text);
  return problem === undefined ? undefined : `${file} ${problem}`;
}

/** Why `pem` is not an Ed25519 private key (undefined = it is one). */
export function ed25519KeyProblem(pem: string): string | undefined {
  let type: string | undefined;
  try {
    type = createPrivateKey({ key: pem, format: 'pem' }).asymmetricKeyType;
  } catch {
    return 'is not a PEM private key (make one with: openssl genpkey -algorithm ed25519 -out checkpoint.pem)';
  }
  return type === 'ed25519' ? undefined : `is a ${type ?? 'unknown'} key; checkpoints need an Ed25519 key (openssl genpkey -algorithm ed25519)`;
}

function certProblem(pem: string): string | undefined {
  try {
    new X509Certificate(pem);
    return undefined;
  } catch {
    return 'is not a PEM certificate';
  }
}

function privateKeyProblem(pem: string): string | undefined {
  try {
    createPrivateKey({ key: pem, format: 'pem' });
    return undefined;
  } catch {
    return 'is not a PEM private key';
  }
}

/**
 * The parts of a configuration that name files. A valid GatewayConfig fits; so does the view
 * `apg check-config` builds of a configuration that did not validate (config/check.ts), holding
 * only what parsed, so every file problem is reported in the same run as the schema problems.
 */
export interface FileSettings {
  identity?: { jwksFile: string | null } | null;
  governance?: {
    sink: string;
    file?: string;
    checkpoint?: { keyFile: string } | null;
    forward?: ReadonlyArray<{ caFile: string | null; certFile: string | null; keyFile: string | null }>;
  };
  state?: { store: string; file?: string };
  pseudonyms?: { keyFile: string | null; previousKeyFiles: readonly string[] };
  directory?: {
    ldap?: { tls: { caFile: string | null } } | null;
    graph?: { tls: { caFile: string | null }; certificate?: { certFile: string; keyFile: string } | null } | null;
  };
}

/** Every file the configuration names, opened as the gateway opens it: problems with their key paths. */
export function checkConfigFiles(config: FileSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (key: string, message: string | undefined): void => {
    if (message !== undefined) problems.push({ path: key, message });
  };
  if (config.identity?.jwksFile) add('identity.jwksFile', jwksFileProblem(config.identity.jwksFile));
  const gov = config.governance;
  if (gov?.sink === 'file' && gov.file) add('governance.file', writableFileProblem(gov.file));
  if (config.state?.store === 'file' && config.state.file) add('state.file', stateFileProblem(config.state.file));
  // SPEC §12: the checkpoint signing key and the TLS material of forward targets
  const cp = gov?.checkpoint;
  if (cp) add('governance.checkpoint.keyFile', pemFileProblem(cp.keyFile, ed25519KeyProblem));
  (gov?.forward ?? []).forEach((t, i) => {
    if (t.caFile) add(`governance.forward.${i}.caFile`, pemFileProblem(t.caFile, certProblem));
    if (t.certFile) add(`governance.forward.${i}.certFile`, pemFileProblem(t.certFile, certProblem));
    if (t.keyFile) add(`governance.forward.${i}.keyFile`, pemFileProblem(t.keyFile, privateKeyProblem));
  });
  return [...problems, ...directoryFileProblems(config), ...pseudonymKeyProblems(config)];
}

/** SPEC §14: every pseudonym key must be readable and hold 32 bytes (raw or base64); problems by key path. */
export function pseudonymKeyProblems(config: Pick<FileSettings, 'pseudonyms'>): ConfigProblem[] {
  const p = config.pseudonyms;
  if (!p) return [];
  const files: Array<[string, string]> = [];
  if (p.keyFile) files.push(['pseudonyms.keyFile', p.keyFile]);
  p.previousKeyFiles.forEach((f, i) => files.push([`pseudonyms.previousKeyFiles.${i}`, f]));
  const out: ConfigProblem[] = [];
  for (const [key, file] of files) {
    try {
      readPseudonymKey(file);
    } catch (err) {
      out.push({ path: key, message: (err as Error).message });
    }
  }
  return out;
}

/** A pseudonym key file: 32 raw bytes, or their base64 (surrounding white space ignored). Throws with the reason. */
export function readPseudonymKey(file: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : 'unreadable';
    throw new Error(`cannot read ${file} (${code})`, { cause: err });
  }
  const key = parsePseudonymKey(bytes);
  if (key === undefined) throw new Error(`${file} does not hold a 32-byte key (raw or base64); it holds ${bytes.length} bytes`);
  return key;
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
export function directoryFileProblems(config: Pick<FileSettings, 'directory'>): ConfigProblem[] {
  const d = config.directory;
  const checks: Array<[string, string | null | undefined, PemKind]> = [
    ['directory.ldap.tls.caFile', d?.ldap?.tls.caFile, 'certificate'],
    ['directory.graph.tls.caFile', d?.graph?.tls.caFile, 'certificate'],
    ['directory.graph.certificate.certFile', d?.graph?.certificate?.certFile, 'certificate'],
    ['directory.graph.certificate.keyFile', d?.graph?.certificate?.keyFile, 'key'],
  ];
  const out: ConfigProblem[] = [];
  for (const [key, file, kind] of checks) {
    if (!file) continue;
    const message = pemProblem(file, kind);
    if (message) out.push({ path: key, message });
  }
  return out;
}
