import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSampleApi, type SampleApi } from '../../src/demo/sampleApi.js';
import { openFileSink } from '../../src/governance/fileSink.js';
import { CLI, ensureBuilt } from '../helpers/build.js';
import { verifyChainFile } from '../helpers/chainVerifier.js';
import { demoLikeConfig, tempDir } from '../helpers/gateway.js';
import { generateTestKey, signToken } from '../helpers/idp.js';

const ISS = 'https://idp.example.com/';
const AUD = 'activity-privacy-gateway';

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      const r = await fetch(`${url}/_gateway/readyz`);
      if (r.status === 200) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway not ready in 30 s');
}

describe('a gateway killed with SIGKILL mid-burst never loses an entry whose response was sent', () => {
  let api: SampleApi;
  let dir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    await ensureBuilt();
    api = createSampleApi();
    await api.listen(0, '127.0.0.1');
    const t = await tempDir();
    dir = t.dir;
    cleanup = t.cleanup;
  }, 180_000);
  afterAll(async () => {
    await api?.close();
    await cleanup?.();
  });

  it('every acknowledged X-Governance-Entry is in the recovered, valid chain', async () => {
    const key = await generateTestKey('ES256');
    const jwksFile = path.join(dir, 'jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
    const port = 20000 + Math.floor(Math.random() * 20000);
    const config = demoLikeConfig(api.url, dir, {
      server: { host: '127.0.0.1', port },
      identity: { issuer: ISS, audience: AUD, jwksFile },
    });
    const configFile = path.join(dir, 'gateway.yaml');
    await writeFile(configFile, JSON.stringify(config));
    const now = Math.floor(Date.now() / 1000);
    const token = await signToken(key, { iss: ISS, aud: AUD, exp: now + 600, upn: 'alice@contoso.com', roles: ['SecurityAdministrator'] });
    const url = `http://127.0.0.1:${port}`;

    const acknowledged: string[] = [];
    for (let round = 0; round < 2; round++) {
      const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, APG_INSTANCE: `crash-${round}` },
      });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      try {
        await waitReady(url, child);
      } catch (err) {
        child.kill('SIGKILL');
        throw new Error(`${(err as Error).message}\n${stderr}`, { cause: err });
      }
      const target = acknowledged.length + 150;
      let killed = false;
      const worker = async () => {
        while (!killed) {
          try {
            const r = await fetch(`${url}/api/v1/activities/?limit=20&skip=${Math.floor(Math.random() * 9000)}`, {
              headers: { authorization: `Bearer ${token}`, 'x-show-private-activities': 'confirm' },
            });
            const body = await r.arrayBuffer(); // the whole response arrived
            if (r.status === 200 && body.byteLength > 0) {
              acknowledged.push(r.headers.get('x-governance-entry')!);
              if (acknowledged.length >= target && !killed) {
                killed = true;
                child.kill('SIGKILL');
              }
            }
          } catch {
            if (killed) return;
          }
        }
      };
      await Promise.all(Array.from({ length: 24 }, worker));
      await new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
      expect(child.signalCode).toBe('SIGKILL');
    }

    // recovery (cutting a torn tail) is what the next start does; do it with the real sink
    const file = path.join(dir, 'governance.jsonl');
    const sink = await openFileSink({ file, instance: 'verify' });
    await sink.close();
    const chain = verifyChainFile(file);
    expect(chain.ok, chain.reason).toBe(true);
    expect(chain.entries.map((e: any) => e.seq)).toEqual(Array.from({ length: chain.count }, (_, i) => i + 1));
    const ids = new Set(chain.entries.map((e) => e.id));
    expect(acknowledged.length).toBeGreaterThanOrEqual(300);
    for (const id of acknowledged) expect(ids.has(id)).toBe(true);
  }, 180_000);
});
