/**
 * Governance queries (SPEC §7) give the same answers from the file sink and the
 * PostgreSQL sink, for paged reads and for streams; the SPEC §10 fields chain
 * like the old ones, and a log written by the previous version still verifies
 * and can be continued.
 */
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFileSink } from '../../../src/governance/fileSink.js';
import { openPostgresSink } from '../../../src/governance/postgresSink.js';
import { verifyPostgres } from '../../../src/governance/postgresVerify.js';
import { csvHeader, csvRow } from '../../../src/governance/query.js';
import type { GovernanceEntry, GovernanceEntryInput, GovernanceSink, QueryFilter, ReadOptions } from '../../../src/governance/types.js';
import { verifyFile } from '../../../src/governance/verify.js';
import { verifyChainFile } from '../../helpers/chainVerifier.js';
import { tempDir } from '../../helpers/gateway.js';
import { freshDatabase, sql } from '../../helpers/postgres.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/governance-v0.jsonl');
const db = await freshDatabase();
if (!db) console.warn('\n##### test/unit/governance/query.test.ts: no PostgreSQL, the PostgreSQL half is SKIPPED #####\n');

const req = (id: string) => ({ id, method: 'GET', path: '/api/v1/activities/', query: '', clientIp: '127.0.0.1', userAgent: 'test' });
const INPUTS: GovernanceEntryInput[] = [
  { action: 'privacy-group.added', principal: 'root@contoso.com', via: 'admin-api', target: 'hr', request: req('q1') },
  {
    action: 'reveal-permission.granted',
    principal: 'root@contoso.com',
    via: 'admin-api',
    target: 'alice@contoso.com',
    permission: { groups: ['hr'], expiresAt: '2026-12-31T00:00:00.000Z' },
    request: req('q2'),
  },
  {
    action: 'private-activities.viewed',
    principal: 'alice@contoso.com',
    via: 'header',
    request: req('q3'),
    privateActivities: { count: 2, ids: ['a1', 'a2'] },
    reason: '=HYPERLINK("x"), case "7"',
    scope: { groups: ['hr'], actors: ['bob@contoso.com'] },
    token: { iss: 'https://idp/' },
  },
  {
    action: 'private-activities.denied',
    principal: 'mallory@contoso.com',
    via: 'token',
    request: req('q4'),
    denial: { code: 'reveal_forbidden', message: 'not on the permission list' },
    token: { iss: 'https://idp/', jti: 'j' },
  },
  {
    action: 'private-activities.viewed',
    principal: 'Alice@Contoso.com',
    via: 'token',
    request: req('q5'),
    privateActivities: { count: 0, ids: [] },
    reason: 'Prüfung\u00e9',
  },
  { action: 'reveal-permission.revoked', principal: 'root@contoso.com', via: 'admin-api', target: 'alice@contoso.com', request: req('q6') },
];

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('governance queries: file and PostgreSQL sinks answer alike', () => {
  const sinks: Array<[string, GovernanceSink]> = [];
  const cleanups: Array<() => Promise<void>> = [];
  let written: GovernanceEntry[] = [];
  let file = '';

  beforeAll(async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    file = path.join(t.dir, 'g.jsonl');
    const fileSink = await openFileSink({ file, instance: 'q' });
    sinks.push(['file', fileSink]);
    if (db) sinks.push(['postgres', await openPostgresSink({ url: db.url, instance: 'q' })]);
    // the same entries in both, a few ms apart so time filters have something to split
    // twice, so seq reaches two digits (text and numeric order differ from 10 on)
    for (const input of [...INPUTS, ...INPUTS]) {
      const [e] = await Promise.all(sinks.map(([, s]) => s.append(input)));
      written.push(e);
      await new Promise((r) => setTimeout(r, 5));
    }
    written = (await fileSink.read({ limit: 1000 })).entries;
  });
  afterAll(async () => {
    for (const [, s] of sinks) await s.close();
    for (const c of cleanups) await c();
    await db?.drop();
  });

  const cases: Array<[string, ReadOptions, (e: GovernanceEntry) => boolean]> = [
    ['everything', {}, () => true],
    ['one action', { action: 'private-activities.viewed' }, (e) => e.action === 'private-activities.viewed'],
    [
      'several actions',
      { action: ['private-activities.denied', 'reveal-permission.revoked'] },
      (e) => e.action === 'private-activities.denied' || e.action === 'reveal-permission.revoked',
    ],
    ['no action at all', { action: [] }, () => false],
    ['principal, case-insensitively', { principal: 'ALICE@contoso.com' }, (e) => e.principal.toLowerCase() === 'alice@contoso.com'],
    ['afterSeq', { afterSeq: 3 }, (e) => e.seq > 3],
  ];

  it.each(cases)('read and stream agree with the filter: %s', async (_name, opts, want) => {
    const expected = written.filter(want).map((e) => e.seq);
    for (const [name, s] of sinks) {
      expect(
        (await s.read(opts)).entries.map((e) => e.seq),
        name,
      ).toEqual(expected);
      expect(
        (await all(s.stream(opts as QueryFilter))).map((e) => e.seq),
        name,
      ).toEqual(expected);
    }
  });

  it('since is inclusive and until exclusive, to the millisecond', async () => {
    for (const [name, s] of sinks) {
      // each sink stamped its own times
      const own = (await s.read({ limit: 1000 })).entries;
      const t3 = Date.parse(own[2].time);
      const t5 = Date.parse(own[4].time);
      const want = own.filter((e) => Date.parse(e.time) >= t3 && Date.parse(e.time) < t5).map((e) => e.seq);
      expect(want).toContain(3);
      expect(want).not.toContain(5);
      expect(
        (await s.read({ since: t3, until: t5 })).entries.map((e) => e.seq),
        name,
      ).toEqual(want);
      expect(
        (await all(s.stream({ since: t3, until: t5 }))).map((e) => e.seq),
        name,
      ).toEqual(want);
      expect(
        (await s.read({ since: t3 + 0.5 })).entries.map((e) => e.seq),
        name,
      ).not.toContain(3);
      expect(
        (await s.read({ until: t3 + 0.5, action: 'private-activities.viewed' })).entries.map((e) => e.seq),
        name,
      ).toEqual([3]);
    }
  });

  it('paging with filters: limit and nextAfterSeq walk every match exactly once', async () => {
    for (const [name, s] of sinks) {
      const seen: number[] = [];
      let after = 0;
      for (let i = 0; i < 10; i++) {
        const page = await s.read({ afterSeq: after, limit: 1, principal: 'root@contoso.com' });
        seen.push(...page.entries.map((e) => e.seq));
        if (page.entries.length === 0) break;
        after = page.nextAfterSeq;
      }
      expect(seen, name).toEqual(written.filter((e) => e.principal === 'root@contoso.com').map((e) => e.seq));
    }
  });

  it('the new fields are in the chained entry, absent when they do not apply, and verify', async () => {
    for (const [name, s] of sinks) {
      const { entries } = await s.read({});
      expect(entries[1].permission, name).toEqual({ groups: ['hr'], expiresAt: '2026-12-31T00:00:00.000Z' });
      expect(entries[2].reason, name).toBe('=HYPERLINK("x"), case "7"');
      expect(entries[2].scope, name).toEqual({ groups: ['hr'], actors: ['bob@contoso.com'] });
      expect(entries[3].denial, name).toEqual({ code: 'reveal_forbidden', message: 'not on the permission list' });
      for (const e of entries) {
        for (const v of Object.values(e)) expect(v).not.toBeNull();
        if (e.action !== 'private-activities.viewed') expect(e).not.toHaveProperty('reason');
        if (e.action !== 'private-activities.denied') expect(e).not.toHaveProperty('denial');
      }
      expect(await s.verify(), name).toEqual({ ok: true, count: 2 * INPUTS.length });
    }
    expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 2 * INPUTS.length });
  });

  it('CSV: the SPEC columns, RFC 4180 quoting, formulas defused', () => {
    expect(csvHeader()).toBe('seq,time,action,principal,via,target,count,reason,requestId,instance,hash\r\n');
    const row = csvRow(written[2]);
    expect(row).toBe(`3,${written[2].time},private-activities.viewed,alice@contoso.com,header,,2,"'=HYPERLINK(""x""), case ""7""",q3,q,${written[2].hash}\r\n`);
    expect(csvRow(written[1])).toBe(
      `2,${written[1].time},reveal-permission.granted,root@contoso.com,admin-api,alice@contoso.com,,,q2,q,${written[1].hash}\r\n`,
    );
  });
});

describe('a log written by the previous version', () => {
  it('verifies, and the file sink continues its chain with entries carrying the new fields', async () => {
    const t = await tempDir();
    try {
      const file = path.join(t.dir, 'old.jsonl');
      await copyFile(FIXTURE, file);
      expect(await verifyFile(file)).toEqual({ ok: true, count: 6 });
      const sink = await openFileSink({ file, instance: 'new' });
      await sink.append(INPUTS[2]);
      await sink.append(INPUTS[3]);
      expect(await sink.verify()).toEqual({ ok: true, count: 8 });
      await sink.close();
      expect(await verifyFile(file)).toEqual({ ok: true, count: 8 });
      expect(verifyChainFile(file)).toMatchObject({ ok: true, count: 8 });
    } finally {
      await t.cleanup();
    }
  });

  it.skipIf(!db)('verifies in PostgreSQL too, and the sink continues it', async () => {
    const fresh = await freshDatabase();
    try {
      const url = fresh!.url;
      const sink = await openPostgresSink({ url, instance: 'new' }); // migrates
      const lines = (await readFile(FIXTURE, 'utf8')).trim().split('\n');
      for (const line of lines) {
        const e = JSON.parse(line);
        await sql(url, 'INSERT INTO governance_log (seq, id, time, action, entry, line, prev_hash, hash) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)', [
          e.seq,
          e.id,
          e.time,
          e.action,
          line,
          line,
          e.prevHash,
          e.hash,
        ]);
      }
      expect(await verifyPostgres(url)).toMatchObject({ ok: true, count: 6 });
      await sink.append(INPUTS[3]);
      expect(await sink.verify()).toEqual({ ok: true, count: 7 });
      await sink.close();
    } finally {
      await fresh?.drop();
    }
  });
});
