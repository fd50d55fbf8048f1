/**
 * Checks of the files a valid configuration points at (SPEC §2 `apg check-config`): CA files
 * and the Graph certificate must be readable PEM. Reported with their key paths, like schema
 * problems; run by loadConfigFile after the schema, so `serve` refuses them too.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConfigProblem, GatewayConfig } from './schema.js';

type Kind = 'certificate' | 'key';

function check(path: string, file: string, kind: Kind): ConfigProblem | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : 'unreadable';
    return { path, message: `cannot read ${file} (${code})` };
  }
  try {
    if (kind === 'certificate') {
      if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate');
      new X509Certificate(text);
    } else {
      createPrivateKey(text);
    }
  } catch {
    return { path, message: `${file} does not hold a PEM ${kind === 'certificate' ? 'certificate' : 'private key'}` };
  }
  return undefined;
}

export function fileProblems(config: GatewayConfig): ConfigProblem[] {
  const checks: Array<[string, string | null | undefined, Kind]> = [
    ['directory.ldap.tls.caFile', config.directory.ldap?.tls.caFile, 'certificate'],
    ['directory.graph.tls.caFile', config.directory.graph?.tls.caFile, 'certificate'],
    ['directory.graph.certificate.certFile', config.directory.graph?.certificate?.certFile, 'certificate'],
    ['directory.graph.certificate.keyFile', config.directory.graph?.certificate?.keyFile, 'key'],
  ];
  const out: ConfigProblem[] = [];
  for (const [path, file, kind] of checks) {
    if (!file) continue;
    const p = check(path, file, kind);
    if (p) out.push(p);
  }
  return out;
}
