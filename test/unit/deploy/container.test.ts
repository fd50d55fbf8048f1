/**
 * What can be checked of the container definition without a Docker engine: the
 * Dockerfile's stages, .dockerignore, docker-compose.yml (YAML, referenced files, the
 * inline postgres config validated by the real schema), and that the build output
 * runs with production dependencies only (npm ci --omit=dev into a temp dir).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig } from '../../../src/config/index.js';
import { ROOT, ensureBuilt } from '../../helpers/build.js';
import { generateTestKey } from '../../helpers/idp.js';

const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions (continuation lines joined, comments dropped), split into stages at FROM. */
function stages(text: string): Instruction[][] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const out: Instruction[][] = [];
  for (const line of joined.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*)$/.exec(t);
    if (!m) continue;
    const ins = { op: m[1].toUpperCase(), args: m[2].trim() };
    if (ins.op === 'FROM') out.push([]);
    out.at(-1)!.push(ins);
  }
  return out;
}

/** `dist/x.js` in a container command → the TypeScript source it is built from */
const sourceOf = (distPath: string) => path.join(ROOT, distPath.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'));

describe('Dockerfile', () => {
  const all = stages(read('Dockerfile'));
  const final = all.at(-1)!;
  const args = (op: string) => final.filter((i) => i.op === op).map((i) => i.args);

  it('is multi-stage on node:24-bookworm-slim and builds in the first stage', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const s of all) expect(s[0].args).toMatch(/^node:24-bookworm-slim(\s|$)/);
    const build = all[0]
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(build).toMatch(/npm ci\b/);
    expect(build).toMatch(/npm run build/);
    // the WebAssembly engine's sources reach the build stage (npm run build compiles them into dist/engine/)
    expect(all[0].filter((i) => i.op === 'COPY').some((i) => /^assembly\s+\.\/assembly$/.test(i.args))).toBe(true);
  });

  it('final stage: production dependencies only, copied build output, no build step', () => {
    const runs = args('RUN');
    const installs = runs.filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toMatch(/npm ci\b.*--omit=dev/);
    expect(installs[0]).toContain('--ignore-scripts');
    expect(runs.join('\n')).not.toMatch(/npm run build|tsc\b/);
    expect(args('COPY').some((c) => /--from=\S+\s+\/app\/dist\s+\.\/dist/.test(c))).toBe(true);
    expect(args('COPY').some((c) => /^config\s+\.\/config$/.test(c))).toBe(true);
    expect(args('COPY').some((c) => /\b(src|node_modules)\b/.test(c))).toBe(false);
  });

  it('final stage: non-root user, /app workdir, config path, data volume, port, healthcheck, command', () => {
    const users = args('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(users.at(-1)).toBe('node');
    // nothing after USER switches back or installs as root
    const lastUser = final.map((i) => i.op).lastIndexOf('USER');
    expect(final.slice(lastUser + 1).some((i) => i.op === 'RUN')).toBe(false);
    expect(args('WORKDIR')).toContain('/app');
    expect(args('ENV').join(' ')).toContain('APG_CONFIG=/app/config/gateway.yaml');
    expect(args('VOLUME').join(' ')).toContain('/app/data');
    expect(args('EXPOSE').join(' ')).toMatch(/\b8080\b/);
    const hc = args('HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0]).toContain('http://127.0.0.1:8080/_gateway/healthz');
    expect(hc[0]).toMatch(/CMD \["node"/);
    expect(JSON.parse(args('CMD').at(-1)!)).toEqual(['node', 'dist/cli.js', 'serve']);
    expect(existsSync(sourceOf('dist/cli.js'))).toBe(true);
  });

  it('.dockerignore keeps local builds, dependencies, data and keys out of the context', () => {
    const lines = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', 'data', '.demo', '.git', '**/*.pem']) expect(lines).toContain(p);
    // what the build needs is not ignored
    for (const p of ['src', 'assembly', 'config', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) expect(lines).not.toContain(p);
  });
});

describe('docker-compose.yml', () => {
  const doc = parseYaml(read('docker-compose.yml'), { merge: true });
  const services = doc.services as Record<string, any>;

  it('parses and defines the gateway, the sample API and a postgres profile', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['gateway', 'sample-api', 'postgres', 'gateway-postgres']));
    expect(services.postgres.image).toMatch(/^postgres:16\b/);
    expect(services.postgres.profiles).toEqual(['postgres']);
    expect(services['gateway-postgres'].profiles).toEqual(['postgres']);
    expect(services.gateway.profiles).toBeUndefined();
    expect(services['sample-api'].profiles).toBeUndefined();
    expect(services.gateway.ports).toContain('8080:8080');
    expect(services.gateway.environment.APG_UPSTREAM_URL).toBe('http://sample-api:8081');
    expect(services['gateway-postgres'].environment.DATABASE_URL).toMatch(/^\$\{DATABASE_URL/);
  });

  it('references files that exist', () => {
    for (const [name, s] of Object.entries(services)) {
      if (s.build) {
        const ctx = path.join(ROOT, s.build.context ?? s.build);
        expect(existsSync(path.join(ctx, s.build.dockerfile ?? 'Dockerfile')), name).toBe(true);
      }
      for (const v of (s.volumes ?? []) as string[]) {
        const host = v.split(':')[0];
        if (host.startsWith('.')) expect(existsSync(path.join(ROOT, host)), `${name}: ${v}`).toBe(true);
      }
      const cmd = (s.command ?? []) as string[];
      for (const a of cmd.filter((x) => /^dist\/.*\.js$/.test(x))) expect(existsSync(sourceOf(a)), `${name}: ${a}`).toBe(true);
      const cfg = s.environment?.APG_CONFIG as string | undefined;
      if (cfg?.startsWith('/app/config/')) expect(existsSync(path.join(ROOT, 'config', cfg.slice('/app/config/'.length))), `${name}: ${cfg}`).toBe(true);
      for (const c of (s.configs ?? []) as Array<{ source: string; target: string }>) {
        expect(doc.configs?.[c.source], `${name}: config ${c.source}`).toBeDefined();
        if (cfg && !cfg.startsWith('/app/config/')) expect(c.target).toBe(cfg);
      }
      for (const dep of Object.keys(s.depends_on ?? {})) expect(services[dep], `${name} depends on ${dep}`).toBeDefined();
    }
  });

  it('the postgres gateway config is valid and uses postgres for the governance log and the state', () => {
    // compose turns $$ into $; the gateway then expands ${...} from the container environment
    const text = (doc.configs['gateway-postgres-config'].content as string).replaceAll('$$', '$');
    const env = { ...services['gateway-postgres'].environment, DATABASE_URL: 'postgres://apg:pw@postgres:5432/apg' };
    const r = parseConfig(text, env);
    if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
    expect(r.config.governance).toMatchObject({ sink: 'postgres', postgresUrl: 'postgres://apg:pw@postgres:5432/apg' });
    expect(r.config.state).toMatchObject({ store: 'postgres', postgresUrl: 'postgres://apg:pw@postgres:5432/apg' });
    expect(r.config.upstream.url).toBe('http://sample-api:8081');
  });
});

describe('the build output with production dependencies only', () => {
  it('npm ci --omit=dev --ignore-scripts, then check-config on the shipped config', async (ctx) => {
    await ensureBuilt();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'apg-prod-'));
    try {
      for (const f of ['package.json', 'package-lock.json', 'dist', 'config']) await cp(path.join(ROOT, f), path.join(dir, f), { recursive: true });
      const install = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 150_000,
      });
      if (install.status !== 0) {
        const out = `${install.stdout}\n${install.stderr}\n${String(install.error ?? '')}`;
        if (/ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|network|ETIMEDOUT/i.test(out)) {
          console.warn(`[container] SKIPPED production-dependency run: npm ci could not reach the registry:\n${out.slice(-1000)}`);
          ctx.skip();
        }
        throw new Error(`npm ci --omit=dev failed:\n${out.slice(-3000)}`);
      }
      // dev dependencies really are absent
      for (const dev of ['typescript', 'vitest', 'fast-check', 'nock']) expect(existsSync(path.join(dir, 'node_modules', dev)), dev).toBe(false);
      expect(existsSync(path.join(dir, 'node_modules', 'express'))).toBe(true);
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('APG_')));
      // the shipped gateway.yaml names config/jwks.json: check-config opens it, as the gateway does at start
      await writeFile(path.join(dir, 'config', 'jwks.json'), JSON.stringify({ keys: [(await generateTestKey('ES256')).publicJwk] }));
      // cli.js imports the whole gateway statically, so a missing runtime dependency fails here
      const r = spawnSync(process.execPath, ['dist/cli.js', 'check-config', '--config', 'config/gateway.yaml'], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('config/gateway.yaml: OK');
      expect(r.status).toBe(0);
      // and the sample API entry point of docker-compose.yml starts and stops cleanly
      const api = spawn(process.execPath, ['dist/demo/upstreamMain.js', '--port', '0', '--host', '127.0.0.1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      api.stderr.on('data', (d) => {
        err += d;
      });
      const exited = new Promise<number | null>((resolve) => api.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        api.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve();
        });
        api.on('exit', () => reject(new Error(`sample API exited early: ${err}`)));
      });
      const line = JSON.parse(out.split('\n')[0]);
      expect(line).toMatchObject({ msg: 'sample API listening', url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
      const small = await fetch(`${line.url}/api/v1/small/`);
      expect(small.status).toBe(200);
      api.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(err).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
