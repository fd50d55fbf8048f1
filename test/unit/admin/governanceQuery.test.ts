import { describe, expect, it } from 'vitest';
import { parseGovernanceQuery } from '../../../src/admin/governanceQuery.js';

const ok = (q: string) => {
  const r = parseGovernanceQuery(q);
  if (!r.ok) throw new Error(r.message);
  return r.query;
};
const bad = (q: string) => {
  const r = parseGovernanceQuery(q);
  if (r.ok) throw new Error(`accepted ${q}`);
  return r.message;
};

describe('GET api/governance parameters', () => {
  it('defaults: a JSON page of 100 from the start, no filter', () => {
    expect(ok('')).toEqual({ filter: {}, format: 'json', limit: 100 });
  });
  it('every filter, repeated action, principal lower-cased, times with offsets', () => {
    expect(
      ok(
        'afterSeq=7&limit=1000&action=private-activities.denied&action=reveal-permission.granted&action=private-activities.denied&principal=Dave@Contoso.com&since=2026-11-01T00:00:00%2B01:00&until=2026-12-01T00:00:00Z',
      ),
    ).toEqual({
      filter: {
        afterSeq: 7,
        action: ['private-activities.denied', 'reveal-permission.granted'],
        principal: 'dave@contoso.com',
        since: Date.parse('2026-10-31T23:00:00Z'),
        until: Date.parse('2026-12-01T00:00:00Z'),
      },
      format: 'json',
      limit: 1000,
    });
  });
  it('streams have no default limit and may cap above 1000', () => {
    expect(ok('format=csv')).toEqual({ filter: {}, format: 'csv' });
    expect(ok('format=ndjson&limit=50000').limit).toBe(50000);
  });
  it('an unknown, repeated or bad parameter is refused by name', () => {
    expect(bad('princpal=x')).toContain('"princpal"');
    expect(bad('afterSeq=1&afterSeq=2')).toContain('"afterSeq"');
    expect(bad('format=csv&format=ndjson')).toContain('"format"');
    expect(bad('limit=1001')).toContain('"limit"');
    expect(bad('limit=0')).toContain('"limit"');
    expect(bad('afterSeq=-1')).toContain('"afterSeq"');
    expect(bad('action=everything')).toContain('"action"');
    expect(bad('since=2026-11-01')).toContain('"since"');
    expect(bad('until=2026-11-01T00:00:00')).toContain('"until"');
    expect(bad('until=1700000000000')).toContain('"until"');
    expect(bad('format=xml')).toContain('"format"');
    expect(bad('principal=')).toContain('"principal"');
  });
});
