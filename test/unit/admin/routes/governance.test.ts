import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { governanceRoutes } from '../../../../src/admin/routes/governance.js';
import type { AdminDeps } from '../../../../src/admin/deps.js';
import { call, mountRoute, type Mounted } from '../../../helpers/adminRoute.js';
import { makeParts, type Parts } from '../../../helpers/units.js';

const ADMIN = 'alice@contoso.com';
let parts: Parts;
let app: Mounted | undefined;

beforeEach(async () => {
  parts = await makeParts('http://127.0.0.1:9');
  for (const [action, principal] of [
    ['privacy-group.added', 'alice@contoso.com'],
    ['reveal-permission.granted', 'carol@contoso.com'],
    ['privacy-group.removed', 'alice@contoso.com'],
  ] as const) {
    await parts.fileSink.append({ action, principal, via: 'admin-api', target: 'hr' });
    parts.clock.advance(1000);
  }
});
afterEach(async () => {
  await app?.close();
  app = undefined;
  await parts.close();
});

async function mount(checkpoint: AdminDeps['checkpoint'] = () => null): Promise<Mounted> {
  app = await mountRoute(governanceRoutes(parts.adminDeps({ checkpoint })), parts);
  return app;
}

describe('GET /governance', () => {
  it('json: a page of entries with nextAfterSeq, filtered by action and principal', async () => {
    const { url } = await mount();
    const all = await call(url, '/governance', { as: ADMIN });
    expect(all.status).toBe(200);
    expect(all.json().entries.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3]);
    const page = await call(url, '/governance?limit=1&afterSeq=1', { as: ADMIN });
    expect(page.json().entries.map((e: { seq: number }) => e.seq)).toEqual([2]);
    expect(page.json().nextAfterSeq).toBe(2);
    const mine = await call(url, '/governance?principal=ALICE@contoso.com&action=privacy-group.removed', { as: ADMIN });
    expect(mine.json().entries.map((e: { seq: number }) => e.seq)).toEqual([3]);
  });

  it('ndjson: one entry a line, in seq order', async () => {
    const { url } = await mount();
    const r = await call(url, '/governance?format=ndjson', { as: ADMIN });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(r.headers.get('cache-control')).toBe('no-store');
    const lines = r.text.trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).action)).toEqual(['privacy-group.added', 'reveal-permission.granted', 'privacy-group.removed']);
    const capped = await call(url, '/governance?format=ndjson&limit=2', { as: ADMIN });
    expect(capped.text.trimEnd().split('\n')).toHaveLength(2);
  });

  it('csv: an attachment with a header row and one row an entry', async () => {
    const { url } = await mount();
    const r = await call(url, '/governance?format=csv&action=privacy-group.added', { as: ADMIN });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="governance.csv"');
    const rows = r.text.trimEnd().split(/\r?\n/);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^seq,/);
    expect(rows[1]).toContain('privacy-group.added');
  });

  it.each([['?format=xml'], ['?limit=0'], ['?limit=1001'], ['?action=nope'], ['?since=yesterday'], ['?colour=red'], ['?afterSeq=1&afterSeq=2']])(
    '400 bad_request for %s',
    async (q) => {
      const { url } = await mount();
      const r = await call(url, `/governance${q}`, { as: ADMIN });
      expect(r.status).toBe(400);
      expect(r.json().error.code).toBe('bad_request');
    },
  );

  it('503 governance_unavailable without a sink, for every format', async () => {
    const { url } = await mount();
    parts.sink = null;
    for (const q of ['', '?format=ndjson', '?format=csv']) {
      const r = await call(url, `/governance${q}`, { as: ADMIN });
      expect(r.status, q).toBe(503);
      expect(r.json().error.code).toBe('governance_unavailable');
    }
  });
});

describe('GET /governance/verify', () => {
  it('ok with the count; a changed entry breaks the chain at its seq', async () => {
    const { url } = await mount();
    expect((await call(url, '/governance/verify', { as: ADMIN })).json()).toEqual({ ok: true, count: 3 });
    const file = path.join(parts.dir, 'governance.jsonl');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('carol@contoso.com', 'carl@contoso.com'));
    const broken = (await call(url, '/governance/verify', { as: ADMIN })).json();
    expect(broken).toMatchObject({ ok: false, brokenAtSeq: 2 });
  });
});

describe('GET /governance/checkpoint', () => {
  it('404 not_found when no checkpoint key is configured', async () => {
    const { url } = await mount(() => null);
    const r = await call(url, '/governance/checkpoint', { as: ADMIN });
    expect(r.status).toBe(404);
    expect(r.json().error.message).toContain('governance.checkpoint');
  });

  it('200 with the checkpoint made now', async () => {
    let made = 0;
    const { url } = await mount(() => Promise.resolve(`checkpoint-${++made}`));
    expect((await call(url, '/governance/checkpoint', { as: ADMIN })).json()).toEqual({ checkpoint: 'checkpoint-1' });
    expect((await call(url, '/governance/checkpoint', { as: ADMIN })).json()).toEqual({ checkpoint: 'checkpoint-2' });
  });

  it('503 governance_unavailable when the head cannot be read', async () => {
    const { url } = await mount(() => Promise.reject(new Error('EIO /secret/path')));
    const r = await call(url, '/governance/checkpoint', { as: ADMIN });
    expect(r.status).toBe(503);
    expect(r.json().error.code).toBe('governance_unavailable');
    expect(r.text).not.toContain('/secret/path');
  });
});
