/**
 * Any string of an entry may hold any Unicode character, U+0000 included (an
 * upstream activity id may): both sinks store it, give it back unchanged, find it
 * by principal, and verify it — the chain is over the original strings.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileSink } from '../../../src/governance/fileSink.js';
import { openPostgresSink } from '../../../src/governance/postgresSink.js';
import { verifyPostgres } from '../../../src/governance/postgresVerify.js';
import type { GovernanceEntry, GovernanceEntryInput, GovernanceSink } from '../../../src/governance/types.js';
import { verifyFile } from '../../../src/governance/verify.js';
import { verifyChainFile } from '../../helpers/chainVerifier.js';
import { tempDir } from '../../helpers/gateway.js';
import { freshDatabase, sql } from '../../helpers/postgres.js';

const db = await freshDatabase();

const NUL_ID = 'act\u0000ive\u0000';
// U+FFFF next to U+0000 too: whatever a sink uses to stand in for U+0000 must not collide with it
const ODD_ID = '\uffff0\u0000\uffff';
const input = (principal: string): GovernanceEntryInput => ({
  action: 'private-activities.viewed',
  principal,
  via: 'header',
  request: { id: 'req\u0000', method: 'GET', path: '/api/v1/activities/', query: 'q=\u0000', clientIp: '127.0.0.1', userAgent: 'ua\u0000x' },
  privateActivities: { count: 3, ids: [NUL_ID, ODD_ID, 'plain'] },
  reason: 'case \u0000 4711',
});

async function all(sink: GovernanceSink, principal?: string): Promise<GovernanceEntry[]> {
  const out: GovernanceEntry[] = [];
  for await (const e of sink.stream(principal === undefined ? {} : { principal })) out.push(e);
  return out;
}

async function checkSink(sink: GovernanceSink): Promise<void> {
  const before = await sink.append(input('before@contoso.com'));
  const e = await sink.append(input('nul\u0000user@contoso.com'));
  const after = await sink.append(input('after@contoso.com'));
  expect(e.privateActivities!.ids).toEqual([NUL_ID, ODD_ID, 'plain']);
  const page = await sink.read({});
  expect(page.entries.map((x) => x.seq)).toEqual([before.seq, e.seq, after.seq]);
  expect(page.entries[1]).toEqual(e);
  expect(page.entries[1].privateActivities!.ids[0]).toBe(NUL_ID);
  expect(page.entries[1].reason).toBe('case \u0000 4711');
  expect(await all(sink)).toEqual(page.entries);
  // the principal filter finds it, exactly
  expect((await sink.read({ principal: 'NUL\u0000user@contoso.com' })).entries.map((x) => x.seq)).toEqual([e.seq]);
  expect((await all(sink, 'nul\u0000user@contoso.com')).map((x) => x.seq)).toEqual([e.seq]);
  expect((await sink.read({ principal: 'nul' })).entries).toEqual([]);
  const raw = await sink.readRange(0, 10);
  expect(JSON.parse(raw[1].line)).toEqual(e);
  expect(await sink.verify()).toMatchObject({ ok: true, count: 3 });
}

describe('U+0000 in entries', () => {
  it('file sink: stored, read back, filtered and verified', async () => {
    const { dir, cleanup } = await tempDir('apg-nul-');
    try {
      const file = path.join(dir, 'governance.jsonl');
      const sink = await openFileSink({ file, instance: 'nul' });
      try {
        await checkSink(sink);
      } finally {
        await sink.close();
      }
      expect(await verifyFile(file)).toMatchObject({ ok: true, count: 3 });
      expect(verifyChainFile(file)).toMatchObject({ ok: true });
    } finally {
      await cleanup();
    }
  });

  describe.skipIf(!db)('PostgreSQL sink', () => {
    afterAll(async () => {
      await db?.drop();
    });

    it('stores, reads back, filters and verifies an entry whose strings hold U+0000; tampering is still seen', async () => {
      const url = db!.url;
      const sink = await openPostgresSink({ url, instance: 'nul', probeIntervalMs: 0 });
      try {
        await checkSink(sink);
      } finally {
        await sink.close();
      }
      expect(await verifyPostgres(url)).toMatchObject({ ok: true, count: 3 });
      // the independent verifier agrees on the chained text
      const { dir, cleanup } = await tempDir('apg-nul-pg-');
      try {
        const rows = await sql<{ line: string }>(url, 'SELECT line FROM governance_log ORDER BY seq');
        const file = path.join(dir, 'chain.jsonl');
        (await import('node:fs')).writeFileSync(file, rows.map((r) => r.line + '\n').join(''));
        expect(verifyChainFile(file)).toMatchObject({ ok: true });
      } finally {
        await cleanup();
      }
      // the searchable copy is checked against the chained text: editing it is tampering
      await sql(url, `UPDATE governance_log SET entry = jsonb_set(entry, '{reason}', '"case 4711"') WHERE seq = 2`);
      expect(await verifyPostgres(url)).toMatchObject({ ok: false, brokenAtSeq: 2 });
    });
  });
});
