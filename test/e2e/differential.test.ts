import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../src/gateway.js';
import { openFileSink } from '../../src/governance/fileSink.js';
import { createMemoryStateStore } from '../../src/state/memoryStore.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { demoHides, demoPrivateGroups, demoShown } from '../helpers/oracle.js';
import { generateTestKey, signToken, startIdp, type TestIdp, type TestKey } from '../helpers/idp.js';
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
const DIRECTORY_BY_PRINCIPAL: Record<string, string[]> = {
  'bob@contoso.com': ['hr'],
  'carol@contoso.com': ['hr'],
  'heidi@contoso.com': ['legal'],
  'ivan@eu.contoso.com': ['ops'],
};
const ACTORS = [
  'bob@contoso.com',
  'BOB@CONTOSO.COM',
  'carol@contoso.com',
  'heidi@contoso.com',
  'ivan@eu.contoso.com',
  'judy@contoso.com',
  'mallory@fabrikam.com',
  'eve@evilcontoso.com',
  'x@contoso.com.evil.com',
  'Microsoft Exchange Online',
];
describe('differential property: gateway list = upstream list minus private activities', () => {
  let upstream: http.Server;
  let gw: Gateway;
  let idp: TestIdp;
  let key: TestKey;
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
    key = await generateTestKey('ES256');
    idp = await startIdp([key]);
    const config = validConfig(
      demoLikeConfig(url, t.dir, {
        directory: { groups: DIRECTORY },
        identity: { issuer: 'https://idp.example.com/', audience: 'activity-privacy-gateway', jwksUrl: idp.jwksUrl },
      }),
    );
    const governance = await openFileSink({ file: path.join(t.dir, 'g.jsonl'), instance: 'diff' });
    gw = await startGateway(config, { port: 0, host: '127.0.0.1', stores: { state, governance }, logger: createLogger('error', 'diff') });
  });
  afterAll(async () => {
    await gw?.close(500);
    await new Promise((r) => upstream.close(r));
    await idp?.close();
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
          const intervals = ivs.map((iv) => ({
            id: iv.id,
            name: iv.id,
            privateSince: iv.since,
            privateUntil: iv.len === undefined ? null : iv.since + iv.len,
          }));
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

  it('holds for scoped reveals: gateway list = upstream minus the private activities outside the scope and the permission', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await signToken(key, {
      iss: 'https://idp.example.com/',
      aud: 'activity-privacy-gateway',
      iat: now,
      exp: now + 3600,
      upn: 'alice@contoso.com',
      roles: ['SecurityAdministrator'],
    });
    const scopeArb = fc.option(
      fc
        .record({
          groups: fc.uniqueArray(fc.constantFrom(...GROUPS), { maxLength: 3 }),
          actors: fc.uniqueArray(fc.constantFrom(...ACTORS.filter((a) => a.includes('@'))), { maxLength: 2 }),
        })
        .filter((sc) => sc.groups.length + sc.actors.length > 0),
      { nil: undefined, freq: 4 },
    );
    const permArb = fc.option(fc.uniqueArray(fc.constantFrom(...GROUPS), { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 3 });
    let shownSome = 0;
    let withheldSome = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(intervalArb(GROUPS), { maxLength: 4 }),
        fc.array(activityArb(ACTORS), { maxLength: 30 }),
        fc.array(wsArb, { minLength: 1, maxLength: 13 }),
        fc.nat({ max: 1000 }),
        scopeArb,
        permArb,
        async (ivs, activities, ws, extraTotal, scope, permissionGroups) => {
          const intervals = ivs.map((iv) => ({
            id: iv.id,
            name: iv.id,
            privateSince: iv.since,
            privateUntil: iv.len === undefined ? null : iv.since + iv.len,
          }));
          const permission = {
            principal: 'alice@contoso.com',
            grantedAt: new Date().toISOString(),
            grantedBy: 'test',
            ...(permissionGroups ? { groups: permissionGroups } : {}),
          };
          state.set({ groups: intervals, permissions: [permission] });
          const page = { data: activities, total: activities.length + extraTotal };
          const { body, elements } = render(page, ws, false);
          current = body;
          const headers: Record<string, string> = {
            authorization: `Bearer ${token}`,
            'x-show-private-activities': 'confirm',
            'x-reveal-reason': 'differential test',
          };
          if (scope) headers['x-reveal-scope'] = [...scope.groups.map((g) => `group:${g}`), ...scope.actors.map((a) => `actor:${a}`)].join(', ');
          const before = (await gw.governance.read({ action: [] })).nextAfterSeq; // the head
          const r = await get(`${gw.url}/api/v1/activities/`, { headers });
          expect(r.status, r.text).toBe(200);

          const oracleIntervals = intervals.map((iv) => ({ id: iv.id, since: iv.privateSince, until: iv.privateUntil ?? Infinity }));
          const facts = activities.map((a) => demoPrivateGroups(a, oracleIntervals, DIRECTORY_BY_PRINCIPAL));
          const shown = facts.map((f) => demoShown(f, scope, permissionGroups));
          const removedFlags = facts.map((f, i) => f.hidden && !shown[i]);
          const out = JSON.parse(r.text);
          expect(out.data).toEqual(activities.filter((_, i) => !removedFlags[i]).map((a) => JSON.parse(JSON.stringify(a))));
          let pos = 0;
          for (const e of elements.filter((_, i) => !removedFlags[i])) {
            const at = r.text.indexOf(e, pos);
            expect(at).toBeGreaterThanOrEqual(0);
            pos = at + e.length;
          }
          const removed = removedFlags.filter(Boolean).length;
          expect(out.total).toBe(Math.max(activities.length - removed, page.total - removed));
          // the entry counts and lists only what was shown
          const entry = (await gw.governance.read({ afterSeq: before, action: 'private-activities.viewed' })).entries.find(
            (e) => e.id === r.headers.get('x-governance-entry'),
          );
          expect(entry?.privateActivities?.count).toBe(shown.filter(Boolean).length);
          expect(entry?.privateActivities?.ids).toEqual(activities.filter((_, i) => shown[i]).map((a) => a._id));
          expect(entry?.scope).toEqual(scope ? { groups: scope.groups, actors: [...new Set(scope.actors.map((a) => a.toLowerCase()))] } : undefined);
          expect(entry?.reason).toBe('differential test');
          shownSome += shown.filter(Boolean).length;
          withheldSome += removed;
        },
      ),
      { numRuns: 300 },
    );
    console.log(`[scoped differential] shown ${shownSome}, withheld ${withheldSome}`);
    // the generator really exercises both outcomes (typically ~80 shown and ~300 withheld)
    expect(shownSome).toBeGreaterThan(40);
    expect(withheldSome).toBeGreaterThan(100);
  }, 240_000);
});
