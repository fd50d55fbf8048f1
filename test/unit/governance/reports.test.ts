import { describe, expect, it } from 'vitest';
import { bucketStart, subjectCsvRow, subjectLineHint, subjectReport, summaryReport } from '../../../src/governance/reports.js';
import type { GovernanceEntry } from '../../../src/governance/types.js';

const e = (seq: number, time: string, action: string, extra: Record<string, unknown> = {}) =>
  ({ seq, id: `id-${seq}`, time, action, principal: 'alice@contoso.com', instance: 't', prevHash: '', hash: '', ...extra }) as unknown as GovernanceEntry;
async function* from(list: GovernanceEntry[]): AsyncIterable<GovernanceEntry> {
  yield* list;
}
const pa = (actors: { principal: string; count: number }[] | undefined, truncated = false) => ({
  privateActivities: { count: 5, ids: [], idsTruncated: false, ...(actors ? { actors, actorsTruncated: truncated } : {}) },
});

describe('bucketStart', () => {
  it('UTC days, ISO weeks from Monday, calendar months', () => {
    const t = Date.parse('2027-01-03T23:59:59.999Z'); // a Sunday
    expect(new Date(bucketStart(t, 'day')).toISOString()).toBe('2027-01-03T00:00:00.000Z');
    expect(new Date(bucketStart(t, 'week')).toISOString()).toBe('2026-12-28T00:00:00.000Z');
    expect(new Date(bucketStart(Date.parse('2026-12-28T00:00:00Z'), 'week')).toISOString()).toBe('2026-12-28T00:00:00.000Z');
    expect(new Date(bucketStart(t, 'month')).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });
});

describe('subject report (pure)', () => {
  it('pseudonym resolutions by action name; truncated lists without the person and entries without actors are unattributable', async () => {
    const r = await subjectReport(
      from([
        e(1, '2026-12-01T00:00:00.000Z', 'private-activities.viewed', pa(undefined)),
        e(2, '2026-12-02T00:00:00.000Z', 'private-activities.viewed', pa([{ principal: 'x@contoso.com', count: 1 }], true)),
        e(3, '2026-12-03T00:00:00.000Z', 'private-activities.viewed', pa([{ principal: 'bob@contoso.com', count: 4 }], true)),
        e(4, '2026-12-04T00:00:00.000Z', 'pseudonym.looked-up', { target: 'BOB@contoso.com', reason: 'SIEM search' }),
        e(5, '2026-12-05T00:00:00.000Z', 'pseudonym.resolved', { target: 'p-abc@pseudonym.invalid', reason: 'Incident' }),
        e(6, '2026-12-06T00:00:00.000Z', 'pseudonym.resolved', { target: 'p-zzz@pseudonym.invalid' }),
        e(7, '2026-12-07T00:00:00.000Z', 'private-activities.viewed', pa([{ principal: 'carol@contoso.com', count: 1 }])),
      ]),
      { principal: 'bob@contoso.com', pseudonyms: new Set(['p-abc@pseudonym.invalid']), includeViewers: true },
    );
    expect(r).toEqual({
      principal: 'bob@contoso.com',
      views: [{ time: '2026-12-03T00:00:00.000Z', activities: 4, viewer: 'alice@contoso.com' }],
      resolutions: [
        { time: '2026-12-04T00:00:00.000Z', action: 'pseudonym.looked-up', reason: 'SIEM search', viewer: 'alice@contoso.com' },
        { time: '2026-12-05T00:00:00.000Z', action: 'pseudonym.resolved', reason: 'Incident', viewer: 'alice@contoso.com' },
      ],
      entriesWithoutActors: 2,
    });
  });
  it('CSV cells: a formula-looking reason is defused, commas quoted', () => {
    expect(subjectCsvRow({ time: 't', reason: '=HYPERLINK("x"), y', activities: 1 }, false)).toBe('t,"\'=HYPERLINK(""x""), y",,,1\r\n');
  });
});

describe('summary (pure)', () => {
  it('resolutions count by action name; other actions make no bucket', async () => {
    const s = await summaryReport(
      from([
        e(1, '2026-12-01T00:00:00.000Z', 'pseudonym.resolved', { target: 'p-a@x.invalid' }),
        e(2, '2026-12-01T01:00:00.000Z', 'pseudonym.looked-up', { target: 'bob@contoso.com' }),
        e(3, '2026-12-02T00:00:00.000Z', 'report.created', { target: 'bob@contoso.com' }),
        e(4, '2026-12-03T00:00:00.000Z', 'privacy-change.requested', { target: 'c1' }),
        e(5, '2026-12-03T00:00:00.000Z', 'reveal-request.expired', { target: 'r1' }),
        e(6, '2026-12-03T00:00:00.000Z', 'reveal-request.revoked', { target: 'r2' }),
      ]),
      'day',
    );
    expect(s.buckets.map((b) => [b.start, b.resolutions, b.requests.expired, b.requests.revoked])).toEqual([
      ['2026-12-01T00:00:00.000Z', 2, 0, 0],
      ['2026-12-03T00:00:00.000Z', 0, 1, 1],
    ]);
    expect(s.byViewer).toEqual([]);
  });
});

describe('subjectLineHint: a superset of the lines a subject report reads', () => {
  it('keeps lines naming the person or a pseudonym, lines without actors and cut lists; skips the rest', () => {
    const hint = subjectLineHint({ principal: 'zoë@contoso.com', pseudonyms: new Set(['p-abc@pseudonym.invalid']), includeViewers: false });
    const line = (o: unknown) => Buffer.from(JSON.stringify(o));
    const viewed = (actors: string[], truncated = false) =>
      line({
        action: 'private-activities.viewed',
        privateActivities: { count: 1, ids: [], actors: actors.map((principal) => ({ principal, count: 1 })), actorsTruncated: truncated },
      });
    expect(hint(viewed(['zoë@contoso.com']))).toBe(true);
    expect(hint(viewed(['bob@contoso.com']))).toBe(false);
    expect(hint(viewed(['bob@contoso.com'], true))).toBe(true);
    expect(hint(line({ action: 'private-activities.viewed', privateActivities: { count: 1, ids: [] } }))).toBe(true);
    expect(hint(line({ action: 'pseudonym.resolved', target: 'p-abc@pseudonym.invalid' }))).toBe(true);
    expect(hint(line({ action: 'pseudonym.looked-up', target: 'zoë@contoso.com' }))).toBe(true);
    expect(hint(line({ action: 'private-activities.denied', principal: 'bob@contoso.com' }))).toBe(false);
  });
});
