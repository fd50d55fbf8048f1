/**
 * The CLI as operators run it (`node dist/cli.js ...`): check-config exit codes and
 * key-path output, and `governance verify` on a good and a tampered log.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { exportJWK } from 'jose';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileSink } from '../../src/governance/fileSink.js';
import { CLI, ROOT, ensureBuilt } from '../helpers/build.js';
import { verifyChainFile } from '../helpers/chainVerifier.js';
import { demoLikeConfig, tempDir } from '../helpers/gateway.js';
import { generateTestKey } from '../helpers/idp.js';

/** Runs the CLI with APG_* variables removed, so the machine's environment cannot change the outcome. */
function apg(args: string[], env: Record<string, string> = {}, cwd = ROOT) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('APG_')));
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: { ...clean, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('apg CLI', () => {
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    await ensureBuilt();
    ({ dir, cleanup } = await tempDir('apg-cli-'));
  }, 240_000);
  afterAll(async () => {
    await cleanup?.();
  });

  it.each(['config/gateway.yaml', 'config/gateway.example.yaml', 'config/demo.yaml'])(
    'check-config accepts the shipped %s (exit 0) where the JWKS file it names exists',
    async (file) => {
      // a working directory like a deployment's: the shipped config/ plus the public JWKS it names
      const work = path.join(dir, `shipped-${path.basename(file, '.yaml')}`);
      await cp(path.join(ROOT, 'config'), path.join(work, 'config'), { recursive: true });
      const jwks = JSON.stringify({ keys: [(await generateTestKey('ES256')).publicJwk] });
      await writeFile(path.join(work, 'config', 'jwks.json'), jwks);
      await mkdir(path.join(work, '.demo'), { recursive: true });
      await writeFile(path.join(work, '.demo', 'jwks.json'), jwks);
      // the demo's checkpoint key (npm run demo generates it)
      await writeFile(path.join(work, '.demo', 'checkpoint.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const r = apg(['check-config', '--config', file], {}, work);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(`${file}: OK`);
      expect(r.code).toBe(0);
    },
  );

  it('check-config opens every file the config names: a missing or bad JWKS file, unusable store files, each with its key path', async () => {
    const work = path.join(dir, 'files');
    await mkdir(path.join(work, 'gov-is-a-dir'), { recursive: true });
    await writeFile(path.join(work, 'state.json'), '{"not": "a state document"}');
    const cfg = demoLikeConfig('http://127.0.0.1:9', work, {
      identity: { issuer: 'https://idp.example.com/', audience: 'apg', jwksFile: path.join(work, 'missing-jwks.json') },
      governance: { sink: 'file', file: path.join(work, 'gov-is-a-dir') },
      state: { store: 'file', file: path.join(work, 'state.json') },
    });
    const file = path.join(work, 'gateway.json');
    await writeFile(file, JSON.stringify(cfg));
    const r = apg(['check-config', '--config', file]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    for (const key of ['identity.jwksFile', 'governance.file', 'state.file']) {
      expect(
        lines.some((l) => l.startsWith(`${key}: `)),
        `${key} in\n${r.stdout}`,
      ).toBe(true);
    }
    expect(r.stdout).toContain('missing-jwks.json');
    expect(r.stderr).toMatch(/3 problem\(s\)/);

    // a JWKS holding private key material is refused the same way the gateway refuses it at start
    const key = await generateTestKey('ES256');
    const privateJwk = { ...(await exportJWK(key.privateKey)), kid: key.kid };
    await writeFile(path.join(work, 'private-jwks.json'), JSON.stringify({ keys: [privateJwk] }));
    const cfg2 = demoLikeConfig('http://127.0.0.1:9', work, {
      identity: { issuer: 'https://idp.example.com/', audience: 'apg', jwksFile: path.join(work, 'private-jwks.json') },
    });
    await writeFile(file, JSON.stringify(cfg2));
    const r2 = apg(['check-config', '--config', file]);
    expect(r2.code).toBe(1);
    expect(r2.stdout).toMatch(/^identity\.jwksFile: .*private or symmetric key material/m);
  });

  it('check-config without --config uses $APG_CONFIG', async () => {
    const bad = path.join(dir, 'env-bad.yaml');
    await writeFile(bad, 'bogus: 1\n');
    const r = apg(['check-config'], { APG_CONFIG: bad });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('bogus: unknown key');
  });

  it('check-config reports an unparseable LDAP filter and an unreadable CA file with their key paths', async () => {
    const file = path.join(dir, 'ldap-bad.yaml');
    await writeFile(
      file,
      [
        'upstream:',
        '  url: http://127.0.0.1:8081',
        'directory:',
        '  ldap:',
        '    url: ldap://127.0.0.1:389',
        '    startTLS: true',
        `    tls: {caFile: ${path.join(dir, 'no-such-ca.pem')}}`,
        '    userBaseDN: ou=people,dc=contoso,dc=com',
        '    userFilter: "(mail={principal}"',
        '    groupBaseDN: ou=groups,dc=contoso,dc=com',
      ].join('\n'),
    );
    const r = apg(['check-config', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('directory.ldap.userFilter: has unbalanced parentheses');
    const fixed = (await readFile(file, 'utf8')).replace('"(mail={principal}"', '"(mail={principal})"');
    await writeFile(file, fixed);
    const r2 = apg(['check-config', '--config', file]);
    expect(r2.code).toBe(1);
    expect(r2.stdout).toContain(`directory.ldap.tls.caFile: cannot read ${path.join(dir, 'no-such-ca.pem')} (ENOENT)`);
  });

  it('check-config reports schema problems and file problems in one run, says "did you mean", warns on empty adminGroups (issue 21.5)', async () => {
    const work = path.join(dir, 'all-at-once');
    await mkdir(work, { recursive: true });
    const file = path.join(work, 'gateway.yaml');
    await writeFile(
      file,
      [
        'server:',
        '  adminprefix: /_gw',
        'upstream:',
        '  url: http://127.0.0.1:8081',
        'identity:',
        '  issuer: https://idp.example.com/',
        `  jwksFile: ${path.join(work, 'missing-jwks.json')}`,
        'directory:',
        '  ldap:',
        '    url: ldap://127.0.0.1:389',
        '    startTLS: true',
        `    tls: {caFile: ${path.join(work, 'no-such-ca.pem')}}`,
        '    userBaseDN: ou=people,dc=contoso,dc=com',
        '    userFilter: "(mail={principal}"',
        '    groupBaseDN: ou=groups,dc=contoso,dc=com',
        'governance:',
        `  file: ${path.join(work, 'governance.jsonl')}`,
        'state:',
        `  file: ${path.join(work, 'state.json')}`,
        '',
      ].join('\n'),
    );
    const r = apg(['check-config', '--config', file]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain('server.adminprefix: unknown key, did you mean adminPrefix?');
    expect(lines).toContain('directory.ldap.userFilter: has unbalanced parentheses');
    expect(lines).toContain(`directory.ldap.tls.caFile: cannot read ${path.join(work, 'no-such-ca.pem')} (ENOENT)`);
    expect(lines.some((l) => l.startsWith('identity.jwksFile: ') && l.includes('missing-jwks.json'))).toBe(true);
    expect(lines.some((l) => /^warning: privacy\.adminGroups: .*admin membership of grantees cannot be checked/.test(l))).toBe(true);
    expect(r.stderr).toMatch(/4 problem\(s\)/);
  });

  it('check-config prints every problem with its key path and exits 1', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'server:',
        '  port: abc',
        'upstream:',
        '  timeoutMs: -5',
        'privacy:',
        '  undecidable: maybe',
        '  permissions: [not-a-principal]',
        'routes:',
        '  - path: /api/v1/activities/',
        '    kind: list',
        '  - path: /x',
        '    kind: nope',
        'surprise: true',
        '',
      ].join('\n'),
    );
    const r = apg(['check-config', '--config', file]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    for (const keyPath of ['server.port', 'upstream.url', 'upstream.timeoutMs', 'privacy.undecidable', 'privacy.permissions.0', 'routes.1.kind', 'surprise']) {
      expect(
        lines.some((l) => l.startsWith(`${keyPath}: `)),
        `${keyPath} in\n${r.stdout}`,
      ).toBe(true);
    }
    expect(r.stderr).toMatch(new RegExp(`${lines.length} problem\\(s\\)`));
  });

  it('check-config on a missing file and on broken YAML exits 1 with a message', async () => {
    const missing = apg(['check-config', '--config', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/ENOENT|cannot read/);
    const broken = path.join(dir, 'broken.yaml');
    await writeFile(broken, 'server: [unclosed\n');
    const b = apg(['check-config', '--config', broken]);
    expect(b.code).toBe(1);
    expect(b.stdout.length).toBeGreaterThan(0);
  });

  it('governance verify: OK with the entry count on a good log; BROKEN with the first bad seq after tampering', async () => {
    const gov = path.join(dir, 'governance.jsonl');
    const cfg = path.join(dir, 'gateway.yaml');
    await writeFile(cfg, JSON.stringify(demoLikeConfig('http://127.0.0.1:9', dir)));
    const sink = await openFileSink({ file: gov, instance: 'cli-test' });
    for (const target of ['g1', 'g2', 'g3', 'g4'])
      await sink.append({ action: 'privacy-group.added', principal: 'alice@contoso.com', via: 'admin-api', target });
    await sink.close();
    expect(verifyChainFile(gov)).toMatchObject({ ok: true, count: 4 });

    const good = apg(['governance', 'verify', '--config', cfg]);
    expect(good.stdout).toContain('governance log OK: 4 entries');
    expect(good.code).toBe(0);

    const lines = (await readFile(gov, 'utf8')).split('\n');
    lines[2] = lines[2].replace('"target":"g3"', '"target":"gX"');
    await writeFile(gov, lines.join('\n'));
    expect(verifyChainFile(gov).brokenAtSeq).toBe(3);
    const bad = apg(['governance', 'verify', '--config', cfg]);
    expect(bad.stdout).toMatch(/BROKEN at seq 3\b/);
    expect(bad.code).toBe(1);
  });

  it('an unknown command prints the usage and exits 2', () => {
    const r = apg(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage:');
    expect(apg(['serv']).stderr).toContain('unknown command "serv", did you mean serve?');
  });

  it('no command at all prints the usage and exits 2, without trying to serve (issue 25)', () => {
    const r = apg([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^apg: no command given\n\nActivity Privacy Gateway\n\nUsage:/);
    expect(r.stderr).not.toMatch(/jwks|cannot start/i);
    expect(r.stdout).toBe('');
  });

  it('--version and -v print the package version; --help and help print the usage (exit 0)', async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['-v'], ['serve', '--version']]) expect(apg(args)).toEqual({ code: 0, stdout: `apg ${version}\n`, stderr: '' });
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = apg(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage:');
      expect(r.stdout).toContain('apg openapi');
    }
  });

  it('help <command> and <command> --help print that command in detail', () => {
    const r = apg(['help', 'governance', 'verify']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^apg governance verify \[--config FILE\] \[--strict\]/);
    expect(r.stdout).toContain('torn tail');
    expect(apg(['check-config', '--help']).stdout).toMatch(/^apg check-config/);
    expect(apg(['help', 'directory', 'check']).stdout).toMatch(/^apg directory check/);
    const bad = apg(['help', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown command "nope"');
  });

  it.each([
    [['--frobnicate'], 'apg: unknown option --frobnicate\n'],
    [['--verison'], 'apg: unknown option --verison, did you mean --version?\n'],
    [['check-config', '--config'], 'apg: --config needs a value: --config FILE\n'],
    [['check-config', '-c'], 'apg: -c needs a value: -c FILE\n'],
    [['governance', 'verify', '--strict=yes'], 'apg: --strict takes no value\n'],
    [['check-config', '--strict'], 'apg: apg check-config does not take --strict\n'],
    [['governance'], 'apg: apg governance needs a subcommand: governance verify\n'],
    [['serve', 'now'], 'apg: unexpected argument "now" after apg serve\n'],
  ])("%j: a clear message instead of Node's argument error (exit 2)", (args, first) => {
    const r = apg(args);
    expect(r.code).toBe(2);
    expect(r.stderr.startsWith(first)).toBe(true);
    expect(r.stderr).not.toMatch(/ERR_PARSE_ARGS|TypeError|To specify a positional/);
  });

  it('openapi prints the OpenAPI 3.1 document, with the adminPrefix of --config', async () => {
    const r = apg(['openapi']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { openapi: string; servers: unknown };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: '/_gateway' }]);
    const cfg = path.join(dir, 'openapi.yaml');
    await writeFile(cfg, JSON.stringify(demoLikeConfig('http://127.0.0.1:9', dir, { server: { host: '127.0.0.1', port: 0, adminPrefix: '/admin' } })));
    expect((JSON.parse(apg(['openapi', '--config', cfg]).stdout) as { servers: unknown }).servers).toEqual([{ url: '/admin' }]);
  });
});
