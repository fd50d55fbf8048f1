/**
 * External tools the bench prefers: wrk (load generator) and nginx (reference
 * proxy). When missing and running as root, they are installed from Debian's
 * packages (apt-get update once, then apt-get install -y …), saying so first.
 */
import { execFileSync, spawnSync } from 'node:child_process';

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : null;
}

let updated = false;

function aptInstall(pkgs: string[], log: (s: string) => void): boolean {
  if (process.getuid?.() !== 0 || !which('apt-get')) return false;
  try {
    if (!updated) {
      log('bench: running `apt-get update` (once) to install missing tools');
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 300_000 });
      updated = true;
    }
    for (const pkg of pkgs) {
      log(`bench: running \`apt-get install -y ${pkg}\``);
      const r = spawnSync('apt-get', ['install', '-y', '-qq', pkg], {
        stdio: 'ignore',
        timeout: 300_000,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      if (r.status === 0) return true;
    }
  } catch {
    /* fall through: not installable here */
  }
  return false;
}

/** Path of wrk, installing it when possible; null = use the built-in Node generator. */
export function ensureWrk(allowInstall: boolean, log: (s: string) => void): string | null {
  const found = which('wrk');
  if (found || !allowInstall) return found;
  return aptInstall(['wrk'], log) ? which('wrk') : null;
}

/** Path of nginx (also /usr/sbin, often not on a user's PATH); null = the nginx reference is skipped. */
export function ensureNginx(allowInstall: boolean, log: (s: string) => void): string | null {
  const look = () => which('nginx') ?? (which('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);
  const found = look();
  if (found || !allowInstall) return found;
  return aptInstall(['nginx-light', 'nginx'], log) ? look() : null;
}

export function nginxVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return (r.stderr || r.stdout).trim().replace(/^nginx version:\s*/, '');
}

export function wrkVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  const m = /wrk\s+(\S+)/.exec(r.stdout + r.stderr);
  return m ? m[1] : 'unknown';
}
