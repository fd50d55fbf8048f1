import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { streamEntries } from '../../../src/admin/governanceStream.js';
import type { GovernanceEntry } from '../../../src/governance/types.js';

const N = 20_000;

async function* entries(): AsyncGenerator<GovernanceEntry> {
  for (let seq = 1; seq <= N; seq++) {
    yield {
      seq,
      id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
      time: '2026-12-01T00:00:00.000Z',
      action: 'privacy-group.added',
      principal: 'alice@contoso.com',
      target: 'hr',
      instance: 'gw-1',
      prevHash: '0'.repeat(64),
      hash: 'f'.repeat(64),
    };
  }
}

describe('streamEntries', () => {
  it('a slow reader makes it wait for drain many times without piling up listeners on the response', async () => {
    let maxListeners = 0;
    let waits = 0;
    const server = http.createServer((_req, res) => {
      const write = res.write.bind(res);
      res.write = ((chunk: string) => {
        const ok = write(chunk);
        if (!ok) waits += 1;
        maxListeners = Math.max(maxListeners, res.listenerCount('close'), res.listenerCount('error'), res.listenerCount('drain'));
        return ok;
      }) as typeof res.write;
      void streamEntries(res, entries(), 'ndjson');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = server.address() as AddressInfo;
      const lines = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
            let count = 0;
            // a slow reader: pause after every chunk, resume on the next tick, so the server sees backpressure
            res.on('data', (chunk: Buffer) => {
              for (const b of chunk) if (b === 0x0a) count++;
              res.pause();
              setImmediate(() => res.resume());
            });
            res.on('end', () => resolve(count));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      expect(lines).toBe(N);
      expect(waits).toBeGreaterThan(10);
      // node's own handlers plus one pair for the current wait; before the fix every wait left one behind
      expect(maxListeners).toBeLessThan(6);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
