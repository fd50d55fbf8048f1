/**
 * The differential property with directory-sourced membership: the gateway's list answer
 * equals the upstream answer minus the activities the naive oracle (test/helpers/oracle.ts)
 * calls private, where membership comes from a real OpenLDAP slapd (memberOf, nested groups,
 * a cycle, entryUUID ids) plus static `directory.groups` — generated policies and records.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ldapSource } from '../../src/directory/ldap.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { openFileSink } from '../../src/governance/fileSink.js';
import { createLogger } from '../../src/log.js';
import { createMemoryStateStore } from '../../src/state/memoryStore.js';
import { activityArb, intervalArb, render, wsArb } from '../helpers/differential.js';
import { demoLikeConfig, get, tempDir, validConfig } from '../helpers/gateway.js';
import { demoHides } from '../helpers/oracle.js';
import { requireSlapd, SERVICE_DN, SERVICE_PW, startSlapd, type Slapd, contosoLdapOptions } from '../helpers/slapd.js';

const enabled = requireSlapd('e2e/differentialDirectory.test.ts');
const ACTORS = [
  'bob@contoso.com',
  'BOB@CONTOSO.COM',
  'carol@contoso.com',
  'dave@contoso.com',
  'erin@contoso.com',
  'ivan@eu.contoso.com',
  'judy@contoso.com',
  'mallory@fabrikam.com',
  'Microsoft Exchange Online',
];

describe.skipIf(!enabled)('differential property with LDAP membership', () => {
  let slapd: Slapd;
  let upstream: http.Server;
  let gw: Gateway;
  let cleanup: () => Promise<void>;
  let current: Buffer = Buffer.from('{"data":[]}');
  const state = createMemoryStateStore();
  const id = new Map<string, string>();

  beforeAll(async () => {
    slapd = await startSlapd();
    const base = contosoLdapOptions(slapd.url);
    const lister = ldapSource(base);
    for (const g of await lister.listGroups!(AbortSignal.timeout(5000))) id.set(g.name, g.id);
    lister.close();
    upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(current.length) });
      res.end(current);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const t = await tempDir();
    cleanup = t.cleanup;
    const config = validConfig(
      demoLikeConfig(url, t.dir, {
        directory: {
          groups: { ops: ['ivan@eu.contoso.com'] },
          ldap: {
            url: base.urls,
            bindDN: SERVICE_DN,
            bindPassword: SERVICE_PW,
            userBaseDN: base.userBaseDN,
            userFilter: base.userFilter,
            groupBaseDN: base.groupBaseDN,
            groupFilter: base.groupFilter,
            ttlSec: 600,
            staleSec: 600,
          },
        },
      }),
    );
    const governance = await openFileSink({ file: path.join(t.dir, 'g.jsonl'), instance: 'diff-ldap' });
    gw = await startGateway(config, { port: 0, host: '127.0.0.1', stores: { state, governance }, logger: createLogger('error', 'diff-ldap') });
  }, 60_000);
  afterAll(async () => {
    await gw?.close(500);
    await new Promise((r) => upstream?.close(r));
    await cleanup?.();
    await slapd?.close();
  });

  it('holds for generated datasets and policies', async () => {
    // what slapd's test data says (helpers/slapd.ts), plus the static group
    const directory: Record<string, string[]> = {
      'bob@contoso.com': [id.get('hr')!, id.get('staff')!],
      'carol@contoso.com': [id.get('legal')!],
      'dave@contoso.com': [id.get('cycle-a')!, id.get('cycle-b')!],
      'erin@contoso.com': [id.get('finance')!],
      'ivan@eu.contoso.com': ['ops'],
    };
    const groups = [id.get('hr')!, id.get('staff')!, id.get('legal')!, id.get('cycle-b')!, 'ops', 'builtin:external-users', 'builtin:application'];
    const tags = [id.get('legal')!, 'ops', 'other', '000000200000000000000000', '0000003b0000000000000000'];
    let removed = 0;
    let kept = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(intervalArb(groups), { maxLength: 4 }),
        fc.array(activityArb(ACTORS, tags), { maxLength: 30 }),
        fc.array(wsArb, { minLength: 1, maxLength: 13 }),
        fc.boolean(),
        async (ivs, activities, ws, pretty) => {
          const intervals = ivs.map((iv) => ({
            id: iv.id,
            name: iv.id,
            privateSince: iv.since,
            privateUntil: iv.len === undefined ? null : iv.since + iv.len,
          }));
          state.set({ groups: intervals, permissions: [] });
          const { body, elements } = render({ data: activities, total: activities.length }, ws, pretty);
          current = body;
          const r = await get(`${gw.url}/api/v1/activities/`);
          expect(r.status).toBe(200);
          const hidden = activities.map((a) =>
            demoHides(
              a,
              intervals.map((iv) => ({ id: iv.id, since: iv.privateSince, until: iv.privateUntil ?? Infinity })),
              directory,
            ),
          );
          const out = JSON.parse(r.text);
          expect(out.data).toEqual(activities.filter((_, i) => !hidden[i]).map((a) => JSON.parse(JSON.stringify(a))));
          let pos = 0;
          for (const e of elements.filter((_, i) => !hidden[i])) {
            const at = r.text.indexOf(e, pos);
            expect(at).toBeGreaterThanOrEqual(0);
            pos = at + e.length;
          }
          removed += hidden.filter(Boolean).length > 0 ? 1 : 0;
          kept += hidden.some((h) => !h) ? 1 : 0;
        },
      ),
      { numRuns: 250 },
    );
    expect(removed).toBeGreaterThan(50);
    expect(kept).toBeGreaterThan(50);
  }, 240_000);
});
