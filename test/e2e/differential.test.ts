import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { openFileSink } from '../../src/governance/fileSink.js';
import { createMemoryStateStore } from '../../src/state/memoryStore.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { demoHides } from '../helpers/oracle.js';
import { activityArb, intervalArb, render, wsArb } from '../helpers/differential.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';

/**
 * The differential property: for generated datasets and policies, the gateway's
 * list answer equals the upstream answer with the private activities deleted —
 * ids, order, and the exact bytes of every kept activity.
 */
const GROUPS = ['hr', 'legal', 'ops', 'builtin:external-users', 'builtin:application'];
const DIRECTORY = { hr: ['bob@contoso.com', 'carol@contoso.com'], legal: ['heidi@contoso.com'], ops: ['ivan@eu.contoso.com'] };
const DIRECTORY_BY_PRINCIPAL: Record<string, string[]> = { 'bob@contoso.com': ['hr'], 'carol@contoso.com': ['hr'], 'heidi@contoso.com': ['legal'], 'ivan@eu.contoso.com': ['ops'] };
const ACTORS = ['bob@contoso.com', 'BOB@CONTOSO.COM', 'carol@contoso.com', 'heidi@contoso.com', 'ivan@eu.contoso.com', 'judy@contoso.com', 'mallory@fabrikam.com', 'eve@evilcontoso.com', 'x@contoso.com.evil.com', 'Microsoft Exchange Online'];
describe('differential property: gateway list = upstream list minus private activities', () => {
  let upstream: http.Server;
  let gw: Gateway;
  let cleanup: () => Promise<void>;
  let current: Buffer = Buffer.from('{"data":[]}');
  const state = createMemoryStateStore();

  beforeAll(async () => {
    upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(current.length) });
      res.end(current);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const t = await tempDir();
    cleanup = t.cleanup;
    const config = validConfig(demoLikeConfig(url, t.dir, { directory: { groups: DIRECTORY } }));
    const governance = await openFileSink({ file: path.join(t.dir, 'g.jsonl'), instance: 'diff' });
    gw = await startGateway(config, { port: 0, host: '127.0.0.1', stores: { state, governance }, logger: createLogger('error', 'diff') });
  });
  afterAll(async () => {
    await gw?.close(500);
    await new Promise((r) => upstream.close(r));
    await cleanup?.();
  });

  it('holds for at least 500 generated datasets and policies', async () => {
    let removedSomething = 0;
    let keptSomething = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(intervalArb(GROUPS), { maxLength: 4 }),
        fc.array(activityArb(ACTORS), { maxLength: 40 }),
        fc.array(wsArb, { minLength: 1, maxLength: 13 }),
        fc.boolean(),
        fc.nat({ max: 1000 }),
        async (ivs, activities, ws, pretty, extraTotal) => {
          const intervals = ivs.map((iv) => ({ id: iv.id, name: iv.id, privateSince: iv.since, privateUntil: iv.len === undefined ? null : iv.since + iv.len }));
          state.set({ groups: intervals, permissions: [] });
          const page = { data: activities, total: activities.length + extraTotal };
          const { body, elements } = render(page, ws, pretty);
          current = body;
          const r = await get(`${gw.url}/api/v1/activities/`);
          expect(r.status).toBe(200);

          const oracleIntervals = intervals.map((iv) => ({ id: iv.id, since: iv.privateSince, until: iv.privateUntil ?? Infinity }));
          const hidden = activities.map((a) => demoHides(a, oracleIntervals, DIRECTORY_BY_PRINCIPAL));
          const keptElements = elements.filter((_, i) => !hidden[i]);
          const out = JSON.parse(r.text);
          expect(out.data).toEqual(activities.filter((_, i) => !hidden[i]).map((a) => JSON.parse(JSON.stringify(a))));
          // the exact bytes of every kept activity, in order
          let pos = 0;
          for (const e of keptElements) {
            const at = r.text.indexOf(e, pos);
            expect(at).toBeGreaterThanOrEqual(0);
            pos = at + e.length;
          }
          const removed = hidden.filter(Boolean).length;
          expect(out.total).toBe(Math.max(keptElements.length, page.total - removed));
          expect(out.hasNext).toBe(true);
          expect(out.max).toBe(100);
          if (removed > 0) removedSomething++;
          if (keptElements.length > 0) keptSomething++;
        },
      ),
      { numRuns: 600 },
    );
    // the generator really exercises both outcomes
    expect(removedSomething).toBeGreaterThan(100);
    expect(keptSomething).toBeGreaterThan(100);
  }, 240_000);
});
